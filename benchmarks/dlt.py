"""dlt benchmark: the iterbridge dlt source into duckdb and into Parquet files (dlt's filesystem destination)
against `iterbridge replicate` into DuckDB, in the same run, on the same sandbox.

    python3 benchmarks/dlt.py [--scale medium] [--workers 4]

The sandbox runs in its own process (rate limits off); each run is `iterbridge replicate --to TARGET --json` in a
process of its own (`dlt:duckdb` and `dlt:filesystem` go through a dlt pipeline, its folders in a temporary
directory, telemetry off). Measured per run: wall time, rows read, peak RSS (ru_maxrss) and the peak RSS of each
quarter of the run (flat memory: no upward trend), and the API calls the sandbox counted. Targets: a dlt run
within 1.5× the native one's time, peak memory under 300 MB, and the same API calls as the native run (both
derive Standard lists' members from Users on a first run; any difference is printed per endpoint).

It prints a report with PASS/FAIL per figure and exits 0 either way: it is a report, not a test.
"""

from __future__ import annotations

from support import Replication, Server, api_calls, replicate, start_server, verdict

import argparse
import json
import tempfile
from pathlib import Path

TIME_RATIO_TARGET = 1.5
MEMORY_TARGET_MB = 300.0


def run(
    server: Server, target: str, workers: int, env: dict[str, str] | None = None
) -> tuple[Replication, dict[str, int]]:
    """One replication and the API calls the sandbox counted during it, per endpoint."""
    before = api_calls(server)
    found = replicate(server, target, workers, env)
    after = api_calls(server)
    calls = {e: n - before.get(e, 0) for e, n in after.items() if n != before.get(e, 0)}
    return found, calls


def rows_read(found: Replication) -> int:
    try:
        return int(json.loads(found.output)["totals"]["rows_read"])
    except (ValueError, KeyError):
        return 0


def report(name: str, found: Replication, calls: dict[str, int], native: tuple[Replication, dict[str, int]]) -> None:
    rows = rows_read(found)
    rate = rows / found.seconds if found.seconds else 0.0
    print(f"\n{name}")
    print(f"  exit code            {found.exit_code}")
    print(f"  time                 {found.seconds:8.1f} s   ({rate:,.0f} rows/s, {rows:,} rows read)")
    if native[0] is not found:
        ratio = found.seconds / native[0].seconds if native[0].seconds else float("inf")
        print(f"  time / native        {ratio:8.2f}     target ≤ {TIME_RATIO_TARGET:.1f}  "
              f"{verdict(ratio <= TIME_RATIO_TARGET)}")  # fmt: skip
        print(f"  rows read = native's {verdict(rows == rows_read(native[0]))}")
    print(f"  peak memory          {found.peak_mb:8.0f} MB  target < {MEMORY_TARGET_MB:.0f}  "
          f"{verdict(found.peak_mb < MEMORY_TARGET_MB)}")  # fmt: skip
    print(f"  peak RSS by quarter  {', '.join(f'{mb:.0f}' for mb in found.quarters_mb())} MB")
    total = sum(calls.values())
    print(f"  API calls            {total:8,}")
    if native[0] is not found:
        theirs = native[1]
        print(f"  API calls = native's {verdict(calls == theirs)} (native {sum(theirs.values()):,})")
        for endpoint in sorted(set(calls) | set(theirs)):
            if calls.get(endpoint, 0) != theirs.get(endpoint, 0):
                print(f"    {endpoint}: {calls.get(endpoint, 0):,} (native {theirs.get(endpoint, 0):,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--anchor", default="2026-11-01")
    parser.add_argument("--workers", type=int, default=4)
    options = parser.parse_args()

    print(f"starting a {options.scale} sandbox (anchor {options.anchor}) …", flush=True)
    with (
        start_server(options.scale, options.anchor) as server,
        tempfile.TemporaryDirectory(prefix="iterbridge-dlt-") as tmp,
    ):
        folder = Path(tmp)
        dlt_env = {"DLT_DATA_DIR": str(folder / "dlt"), "RUNTIME__DLTHUB_TELEMETRY": "false"}
        native = run(server, f"duckdb:///{folder / 'native.duckdb'}", options.workers)
        report("replicate --to duckdb (native)", *native, native)
        duck_env = {**dlt_env, "DESTINATION__DUCKDB__CREDENTIALS": str(folder / "dlt.duckdb")}
        report("replicate --to dlt:duckdb", *run(server, "dlt:duckdb", options.workers, duck_env), native)
        lake_env = {**dlt_env, "DESTINATION__FILESYSTEM__BUCKET_URL": str(folder / "lake")}
        report(
            "replicate --to dlt:filesystem (Parquet)", *run(server, "dlt:filesystem", options.workers, lake_env), native
        )


if __name__ == "__main__":
    main()
