"""CSV benchmark: `export` of medium-scale Events against `conn.read` and `conn.read_batches` of the same rows,
and `import` of 100,000 events against the sandbox's own time to accept the same trackBulk calls.

    python3 benchmarks/csv.py [--scale medium] [--event-type emailSend] [--events 100000] [--rounds 2]

The sandbox runs in a separate process (`iterbridge sandbox --scale medium --rate-limits off --port <free>
--anchor 2026-11-01`), so it does not share this process's GIL. Measured in one run, alternating for
`--rounds` rounds; a ratio is the median of the rounds' pairs (best against best is shown too):

- export: `export(conn, "Events", file, where="EventType = '…' AND CreatedAt …")` — the same read, then every
  row formatted and written to a CSV file (atomically) — against `conn.read` of the same rows, consumed and
  thrown away. Target: export time ≤ 1.5× the read's. Peak memory of this process while exporting (RSS, and its
  growth over the export): target flat, under 200 MB. The process's first columnar read (its threads, Arrow's
  and the scanner's first buffers: memory the allocators keep for the reads after it) is made before the
  rounds and printed: in the peak, not in the growth.
- export vs read_batches (issue 14): the same export (columnar: batches formatted a column at a time) against
  `conn.read_batches` of the same rows, consumed and thrown away. Target: ≤ 1.3×. The export forced through
  the row path (dict rows, a cell at a time: what export did before) is measured beside it.
- import: `import_csv` of a 100,000-row events file (read, mapped, converted, validated, batched into trackBulk
  calls of 1,000, each answer checked row by row) against the same trackBulk bodies posted directly with httpx2 —
  the sandbox's own time to accept them. The bodies are the import's own, captured by a dry run first.

It prints the figures with PASS/FAIL and exits 0 either way: it is a report, not a test.
"""

from __future__ import annotations

from support import MB, Run, Server, client, connect, sample_emails, start_server, timed, verdict

import argparse
import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from iterbridge.objects.base import Condition
from iterbridge.transfer import CsvOptions, ImportOptions, export
from iterbridge.transfer import importer as importer_module

EXPORT_RATIO_TARGET = 1.5
BATCH_RATIO_TARGET = 1.3
MEMORY_TARGET_MB = 200.0
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
SEED = 42


# ---- export ------------------------------------------------------------------------------------------------


def read_rows(server: Server, event_type: str, start: datetime, end: datetime) -> Run:
    where = {"EventType": event_type, "CreatedAt": [Condition(">=", start), Condition("<", end)]}
    with connect(server) as conn:
        return timed(lambda: sum(1 for _ in conn.read("Events", where=where)))


def read_batches(server: Server, event_type: str, start: datetime, end: datetime) -> Run:
    where = {"EventType": event_type, "CreatedAt": [Condition(">=", start), Condition("<", end)]}
    with connect(server) as conn:
        return timed(lambda: sum(batch.num_rows for batch in conn.read_batches("Events", where=where)))


def export_rows(server: Server, event_type: str, start: datetime, end: datetime, target: Path,
                options: CsvOptions, batches: bool | None = None) -> Run:  # fmt: skip
    condition = f"EventType = '{event_type}' AND CreatedAt >= '{start:%Y-%m-%d %H:%M:%S}' " \
                f"AND CreatedAt < '{end:%Y-%m-%d %H:%M:%S}'"  # fmt: skip
    with connect(server) as conn:
        return timed(lambda: export(conn, "Events", target, options, where=condition, batches=batches).rows)


# ---- import ------------------------------------------------------------------------------------------------


def events_file(path: Path, emails: list[str], count: int) -> None:
    """Custom events of existing users (so the sandbox does the same work each time: no user is created)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("EventName,Email,CreatedAt,DataFields,amount,sku\n")
        for i in range(count):
            day = 1 + i % 28
            handle.write(
                f"productViewed,{emails[i % len(emails)]},2026-10-{day:02d} {i % 24:02d}:{i % 60:02d}:00,"
                f'"{{""source"": ""csv"", ""position"": {i % 50}}}",{i % 300}.25,sku-{i % 20000:06d}\n'
            )


def captured_bodies(server: Server, path: Path) -> list[Any]:
    """The trackBulk bodies the import sends, from a dry run that keeps every request."""
    keep = importer_module.KEEP_REQUESTS
    importer_module.KEEP_REQUESTS = 10**9
    try:
        with connect(server) as conn:
            summary = conn.import_csv("Events", path, ImportOptions(dry_run=True))
    finally:
        importer_module.KEEP_REQUESTS = keep
    assert summary.rejected == 0, summary.describe()
    return [request["json"] for request in summary.requests]


def post_directly(server: Server, bodies: list[Any]) -> Run:
    def send() -> int:
        accepted = 0
        with client(server, timeout_s=600) as api:
            for body in bodies:
                response = api.post("/api/events/trackBulk", json=body)
                response.raise_for_status()
                accepted += response.json()["successCount"]
        return accepted

    return timed(send)


def import_rows(server: Server, path: Path) -> Run:
    def run() -> int:
        with connect(server) as conn:
            summary = conn.import_csv("Events", path, ImportOptions())
        assert summary.rejected == 0, summary.describe()
        return summary.accepted

    return timed(run)


# ---- report ------------------------------------------------------------------------------------------------


def line(label: str, run: Run) -> str:
    return (f"  {label:<24}{run.rows:>9,} rows  {run.seconds:7.2f} s  {run.rows_per_second:>9,.0f} rows/s  "
            f"client CPU {run.cpu_seconds:6.2f} s  peak RSS {run.peak_mb:5.0f} MB (+{run.growth_mb:.0f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--event-type", default="emailSend")
    parser.add_argument("--events", type=int, default=100_000, help="rows of the import file")
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    start, end = ANCHOR - timedelta(days=200), ANCHOR
    print(f"starting `iterbridge sandbox --scale {options.scale} --rate-limits off` …", flush=True)
    server = start_server(options.scale, ANCHOR.date().isoformat(), seed=SEED, timeout_s=300)
    reads: list[Run] = []
    exports: list[Run] = []
    batch_reads: list[Run] = []
    row_exports: list[Run] = []
    flattened: list[Run] = []
    directs: list[Run] = []
    imports: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="iterbridge-csv-bench-") as scratch:
        work = Path(scratch)
        try:
            print(f"sandbox up in {server.started_s:.1f} s at {server.url}", flush=True)
            warm_up = read_batches(server, options.event_type, start, end)
            for _ in range(options.rounds):
                reads.append(read_rows(server, options.event_type, start, end))
                exports.append(export_rows(server, options.event_type, start, end, work / "events.csv",
                                           CsvOptions()))  # fmt: skip
                batch_reads.append(read_batches(server, options.event_type, start, end))
                row_exports.append(export_rows(server, options.event_type, start, end, work / "rows.csv",
                                               CsvOptions(), batches=False))  # fmt: skip
            size_mb = (work / "events.csv").stat().st_size / MB
            flattened.append(export_rows(server, options.event_type, start, end, work / "flat.csv",
                                         CsvOptions(flatten=True)))  # fmt: skip
            emails = list(sample_emails(options.scale, SEED, ANCHOR, 5_000))
            source = work / "import.csv"
            events_file(source, emails, options.events)
            bodies = captured_bodies(server, source)
            for _ in range(options.rounds):
                directs.append(post_directly(server, bodies))
                imports.append(import_rows(server, source))
        finally:
            server.stop()

    best_read = min(reads, key=lambda run: run.seconds)
    best_export = min(exports, key=lambda run: run.seconds)
    # Each round reads then exports back to back: the median of those pairs is what a busy machine skews least.
    ratio = statistics.median(e.seconds / r.seconds for r, e in zip(reads, exports, strict=True))
    peak = max(run.peak_mb for run in exports + flattened + row_exports)
    growth = max(run.growth_mb for run in exports + flattened + row_exports)
    print(f"\nExport: Events of type {options.event_type}, {start:%Y-%m-%d} → {end:%Y-%m-%d}, scale {options.scale}"
          f" ({size_mb:,.0f} MB of CSV):")  # fmt: skip
    print(line("conn.read", best_read))
    print(line("export → CSV", best_export))
    print(line("export --flatten → CSV", flattened[0]))
    print(line("conn.read_batches", min(batch_reads, key=lambda run: run.seconds)))
    print(line("export by rows (before)", min(row_exports, key=lambda run: run.seconds)))
    print(f"  same rows               {verdict(best_read.rows == best_export.rows)}")
    per_row_us = (best_export.cpu_seconds - best_read.cpu_seconds) / best_export.rows * 1e6
    print(f"  CSV writing costs       {per_row_us:.1f} µs of client CPU per row on top of the read")
    print(f"  ratio export / read     {ratio:6.2f}×  median of the rounds; best/best "
          f"{best_export.seconds / best_read.seconds:.2f}×  (target ≤ {EXPORT_RATIO_TARGET:g}×)  "
          f"{verdict(ratio <= EXPORT_RATIO_TARGET)}")  # fmt: skip
    print(
        f"  peak memory             {peak:6.0f} MB RSS, +{growth:.0f} MB while exporting  "
        f"(target: flat, under {MEMORY_TARGET_MB:g} MB)  {verdict(peak < MEMORY_TARGET_MB and growth < 50)}"
    )
    print(f"  (the process's first columnar read, before the rounds: +{warm_up.growth_mb:.0f} MB to "
          f"{warm_up.peak_mb:.0f} MB, kept by the allocators for the reads after it: in their peaks, "
          "not in the growth)")  # fmt: skip
    rounds = ", ".join(f"{r.seconds:.2f}/{e.seconds:.2f}" for r, e in zip(reads, exports, strict=True))
    print(f"  rounds (read/export s)  {rounds}")
    print(f"  same rows, both paths   {verdict(best_read.rows == batch_reads[0].rows == row_exports[0].rows)}")
    paired = statistics.median(e.seconds / r.seconds for r, e in zip(batch_reads, exports, strict=True))
    print(f"  export / read_batches   {paired:6.2f}×  median of the rounds  "
          f"(target ≤ {BATCH_RATIO_TARGET:g}×)  {verdict(paired <= BATCH_RATIO_TARGET)}")  # fmt: skip
    by_rows = statistics.median(e.seconds / r.seconds for r, e in zip(batch_reads, row_exports, strict=True))
    print(f"  by rows / read_batches  {by_rows:6.2f}×  (the row path, for comparison)")
    rounds = ", ".join(
        f"{r.seconds:.2f}/{e.seconds:.2f}/{w.seconds:.2f}"
        for r, e, w in zip(batch_reads, exports, row_exports, strict=True)
    )
    print(f"  rounds (read_batches/export/by rows s)  {rounds}")

    best_direct = min(directs, key=lambda run: run.seconds)
    best_import = min(imports, key=lambda run: run.seconds)
    print(f"\nImport: {options.events:,} custom events, {len(bodies)} trackBulk calls of ≤ 1,000:")
    print(line("trackBulk bodies direct", best_direct))
    print(line("import CSV", best_import))
    print(f"  same rows accepted      {verdict(best_direct.rows == best_import.rows == options.events)}")
    client_us = (best_import.cpu_seconds - best_direct.cpu_seconds) / options.events * 1e6
    print(f"  import's own work       {client_us:.1f} µs of client CPU per row (file, conversion, validation, "
          f"answers) on top of sending")  # fmt: skip
    paired = statistics.median(i.seconds / d.seconds for d, i in zip(directs, imports, strict=True))
    print(
        f"  ratio import / direct   {paired:6.2f}×  median of the rounds; best/best "
        f"{best_import.seconds / best_direct.seconds:.2f}×  (the sandbox's time to accept the calls is the floor)"
    )
    rounds = ", ".join(f"{d.seconds:.2f}/{i.seconds:.2f}" for d, i in zip(directs, imports, strict=True))
    print(f"  rounds (direct/import s) {rounds}")


if __name__ == "__main__":
    main()
