"""Replication benchmark: `iterbridge replicate` against a medium sandbox, compared with downloading the same
export bytes in the same run.

    python3 benchmarks/replicate.py [--scale medium] [--workers 4] [--postgres URL] [--skip-postgres]
                                    [--targets duckdb,postgresql,sqlite]

The sandbox runs in a separate process (`iterbridge sandbox --scale medium --rate-limits off --anchor
2026-11-01`), and so does each replication (`iterbridge replicate`, a fresh target, the default objects),
whose peak memory is its own (ru_maxrss from wait4). Measured:

- download: every export data type (each event type and users) over the whole history, through data.json
  with as many concurrent streams as replication's workers, bytes read and thrown away — the floor any
  replication of those bytes stands on;
- replication into DuckDB, PostgreSQL when one is reachable (ITERBRIDGE_TEST_POSTGRES_URL or --postgres; a
  database is created for the run and dropped after) and SQLite: wall time, rows written per second, time /
  download time (targets: DuckDB ≤ 1.5, PostgreSQL ≤ 2.0, SQLite ≤ 3.0), and the peak RSS of the replicating
  process (target < 300 MB);
- memory flatness: the replicating process's RSS sampled every 0.2 s, its peak printed for each quarter of
  the run (flat: no upward trend from quarter to quarter, whatever the volume; the level depends on which
  streams happen to run at once, each holding at most its batches and an 8 MB spool);
- the CPU of each run: the client's (its rusage), the sandbox's, and the rest of the machine's busy time (a
  PostgreSQL server's, on a quiet machine). The sandbox and a database server share the machine with the client,
  where Iterable's servers would not: their sum over the cores is the least time that work can take here
  ("least time / download"), a floor no client change moves but by spending less CPU. The download's own CPU is
  printed too: the sandbox serving alone, the client barely working.

It prints a report with PASS/FAIL per figure and exits 0 either way: it is a report, not a test.
"""

from __future__ import annotations

from support import (
    LOCAL_POSTGRES,
    MB,
    CpuBudget,
    CpuMeter,
    Replication,
    Server,
    client,
    postgres_database,
    replicate,
    start_server,
    verdict,
)

import argparse
import contextlib
import os
import sqlite3
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TIME_RATIO_TARGETS = {"duckdb": 1.5, "postgresql": 2.0, "sqlite": 3.0}  # replication time / download time
MEMORY_TARGET_MB = 300.0
EARLIEST = "2013-01-01 00:00:00"


# ---- the download floor ---------------------------------------------------------------------------------


def data_types() -> list[str]:
    from iterbridge.constants import EXPORT_DATA_TYPES

    return list(EXPORT_DATA_TYPES)


def server_now(server: Server) -> str:
    from email.utils import parsedate_to_datetime

    with client(server) as api:
        response = api.get("/api/channels")
    moment = parsedate_to_datetime(response.headers["date"])
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def download(server: Server, workers: int) -> tuple[CpuBudget, int, int]:
    """Every data type's data.json over the whole history, `workers` at a time: (its time and CPU, bytes, lines)."""
    end = server_now(server)

    def one(data_type: str) -> tuple[int, int]:
        params = {"dataTypeName": data_type, "startDateTime": EARLIEST, "endDateTime": end}
        size = lines = 0
        with (
            client(server, timeout_s=600) as api,
            api.stream("GET", "/api/export/data.json", params=params) as response,
        ):
            response.raise_for_status()
            for chunk in response.iter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
        return size, lines

    with CpuMeter(server) as meter, ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, data_types()))
    return meter.budget, sum(r[0] for r in results), sum(r[1] for r in results)


# ---- counting rows ------------------------------------------------------------------------------------------


def sqlite_rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return sum(int(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables)


# ---- report -------------------------------------------------------------------------------------------------


def report(kind: str, run: Replication, download_s: float) -> None:
    ratio = run.seconds / download_s if download_s else float("inf")
    rate = run.rows / run.seconds if run.seconds else 0.0
    target = TIME_RATIO_TARGETS[kind]
    quarters = run.quarters_mb()
    print(f"\n{kind}: {run.target.split('@')[-1]}")
    print(f"  exit code            {run.exit_code}")
    print(f"  time                 {run.seconds:8.1f} s   ({rate:,.0f} rows/s, {run.rows:,} rows)")
    timely = ratio <= target and not run.exit_code
    print(f"  time / download      {ratio:8.2f}     target ≤ {target:.1f}  {verdict(timely)}")
    print(f"  peak memory          {run.peak_mb:8.0f} MB  target < {MEMORY_TARGET_MB:.0f}  "
          f"{verdict(run.peak_mb < MEMORY_TARGET_MB)}")  # fmt: skip
    print(f"  peak RSS by quarter  {', '.join(f'{mb:.0f}' for mb in quarters)} MB  target < {MEMORY_TARGET_MB:.0f} "
          f"each  {verdict(bool(quarters) and max(quarters) < MEMORY_TARGET_MB)}")  # fmt: skip
    print(f"  CPU                  {cpu_line(run.cpu, 'database server and the rest')}")
    least = run.cpu.least_s / download_s if download_s else float("inf")
    print(f"  least time / download {least:7.2f}     the CPU above spread perfectly over {run.cpu.cores} cores: "
          f"this machine's floor for this run's work")  # fmt: skip


def cpu_line(cpu: CpuBudget, rest: str) -> str:
    """Where the run's CPU went, and how busy it kept the machine's cores."""
    return (f"client {cpu.client_s:.1f} s, sandbox {cpu.sandbox_s:.1f} s, {rest} {cpu.rest_s:.1f} s: "
            f"{cpu.total_s:.1f} s on {cpu.cores} cores, busy {cpu.busy:.0%} of the run")  # fmt: skip


def summary(results: list[tuple[str, Replication]], download_s: float) -> None:
    """One line per target: the figures the issue asks for, side by side."""
    print("\ntarget       time/download  target  verdict   peak MB  by quarter       least/download  cores busy")
    for kind, run in results:
        ratio = run.seconds / download_s if download_s else float("inf")
        least = run.cpu.least_s / download_s if download_s else float("inf")
        target = TIME_RATIO_TARGETS[kind]
        quarters = "/".join(f"{mb:.0f}" for mb in run.quarters_mb())
        ok = ratio <= target and run.peak_mb < MEMORY_TARGET_MB and not run.exit_code
        print(f"{kind:<12} {ratio:13.2f}  ≤ {target:.1f}   {verdict(ok):<8} {run.peak_mb:8.0f}  {quarters:<16} "
              f"{least:14.2f}  {run.cpu.busy:10.0%}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--anchor", default="2026-11-01")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("ITERBRIDGE_TEST_POSTGRES_URL", LOCAL_POSTGRES))
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--targets", default="duckdb,postgresql,sqlite", help="which targets, comma-separated")
    options = parser.parse_args()
    kinds = [k.strip() for k in options.targets.split(",") if k.strip()]
    if options.skip_postgres and "postgresql" in kinds:
        kinds.remove("postgresql")
    unknown = set(kinds) - set(TIME_RATIO_TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))} (duckdb, postgresql, sqlite)")

    print(f"starting a {options.scale} sandbox (anchor {options.anchor}) …", flush=True)
    with start_server(options.scale, options.anchor) as server:
        download(server, options.workers)  # warm-up: the sandbox's caches, the OS's
        floor, size, lines = download(server, options.workers)
        download_s = floor.seconds
        print(flush=True)
        print(f"download: {lines:,} records, {size / MB:,.0f} MB in {download_s:.1f} s "
              f"({lines / download_s:,.0f} records/s, {options.workers} streams at once)")  # fmt: skip
        print(f"  CPU                  {cpu_line(floor, 'the rest of the machine')}")
        results: list[tuple[str, Replication]] = []
        for kind in kinds:
            with tempfile.TemporaryDirectory(prefix="iterbridge-bench-") as folder:
                if kind == "postgresql":
                    with postgres_database(options.postgres, "replicate") as url:
                        if not url:
                            continue
                        run = replicate(server, url, options.workers)
                elif kind == "duckdb":
                    run = replicate(server, f"duckdb:///{Path(folder) / 'copy.duckdb'}", options.workers)
                else:
                    path = Path(folder) / "copy.db"
                    run = replicate(server, f"sqlite:///{path}", options.workers)
                    run.rows = run.rows or sqlite_rows(path)
            report(kind, run, download_s)
            results.append((kind, run))
        summary(results, download_s)


if __name__ == "__main__":
    main()
