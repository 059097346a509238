"""Read benchmark: rows/s of `conn.read("Events", …)` and `conn.read_batches` against merely downloading the same
export bytes.

    python3 benchmarks/read.py [--scale medium] [--event-type emailSend] [--rounds 2]

The sandbox runs in a separate process (`iterbridge sandbox --rate-limits off`), so it does not share the reading
process's GIL. Measured in one run, alternating, best of `--rounds` each:

- the floor: GET /api/export/data.json for one event type over the generated history with httpx2, streamed and
  thrown away (bytes and lines counted, nothing parsed) — what any client pays for the bytes;
- the connector: `conn.read("Events", where={"EventType": …, "CreatedAt": [>= start, < end]})`, every row
  consumed: the same request, then spooling, parsing, typing (UTC datetimes, JSON columns), stable ids and the
  local check of the conditions;
- the Arrow path: `conn.read_batches` of the same read (batches typed from the catalog, every batch consumed);
- the ratio read time / floor time (target: ≤ 2.5×; batches: ≤ 1.3×), and the client's own CPU per row beyond
  the download (independent of how fast the sandbox serves; batches: target ≤ 2 µs);
- the reading process's peak RSS growth while it reads (flat memory: the export is spooled to disk per window,
  never held; target: under 50 MB however many rows).

It prints the figures with PASS/FAIL and exits 0 either way: it is a report, not a test.
"""

from __future__ import annotations

from support import MB, Run, Server, client, connect, start_server, timed, verdict

import argparse
import time
from datetime import UTC, datetime, timedelta

from iterbridge.api.timestamps import iterable_format
from iterbridge.objects.base import Condition

RATIO_TARGET = 2.5
BATCHES_RATIO_TARGET = 1.3
BATCHES_CPU_TARGET_US = 2.0
MEMORY_TARGET_MB = 50.0
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)


def floor(server: Server, event_type: str, start: datetime, end: datetime) -> Run:
    params = {"dataTypeName": event_type, "startDateTime": iterable_format(start), "endDateTime": iterable_format(end)}
    with client(server, timeout_s=600) as api:
        began, cpu = time.perf_counter(), time.process_time()
        size = lines = 0
        with api.stream("GET", "/api/export/data.json", params=params) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
        return Run(lines, time.perf_counter() - began, time.process_time() - cpu, bytes=size)


def where(event_type: str, start: datetime, end: datetime) -> dict[str, object]:
    return {"EventType": event_type, "CreatedAt": [Condition(">=", start), Condition("<", end)]}


def read(server: Server, event_type: str, start: datetime, end: datetime) -> Run:
    with connect(server) as conn:
        return timed(lambda: sum(1 for _ in conn.read("Events", where=where(event_type, start, end))))


def batches(server: Server, event_type: str, start: datetime, end: datetime) -> Run:
    with connect(server) as conn:
        return timed(lambda: sum(b.num_rows for b in conn.read_batches("Events", where=where(event_type, start, end))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--event-type", default="emailSend")
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    start, end = ANCHOR - timedelta(days=200), ANCHOR
    print(f"starting `iterbridge sandbox --scale {options.scale} --rate-limits off` …", flush=True)
    server = start_server(options.scale, ANCHOR.date().isoformat(), seed=42, timeout_s=300)
    try:
        print(f"sandbox up in {server.started_s:.1f} s at {server.url}")
        floors: list[Run] = []
        reads: list[Run] = []
        arrows: list[Run] = []
        for _ in range(options.rounds):
            floors.append(floor(server, options.event_type, start, end))
            reads.append(read(server, options.event_type, start, end))
            arrows.append(batches(server, options.event_type, start, end))
    finally:
        server.stop()
    best_floor = min(floors, key=lambda run: run.seconds)
    best_read = min(reads, key=lambda run: run.seconds)
    ratio = best_read.seconds / best_floor.seconds
    growth = max(run.growth_mb for run in reads)
    print(f"\nEvents of type {options.event_type}, {start:%Y-%m-%d} → {end:%Y-%m-%d}, scale {options.scale}:")
    print(
        f"  floor (download only)   {best_floor.rows:>9,} rows  {best_floor.seconds:6.2f} s"
        f"  {best_floor.rows_per_second:>10,.0f} rows/s  {best_floor.bytes / MB / best_floor.seconds:6.1f} MB/s"
    )
    print(
        f"  conn.read               {best_read.rows:>9,} rows  {best_read.seconds:6.2f} s"
        f"  {best_read.rows_per_second:>10,.0f} rows/s"
    )
    overhead_us = (best_read.cpu_seconds - best_floor.cpu_seconds) / best_read.rows * 1e6
    print(
        f"  client CPU              floor {best_floor.cpu_seconds:.2f} s, read {best_read.cpu_seconds:.2f} s: "
        f"{overhead_us:.1f} µs per row on top of the download (the server's time is not in it)"
    )
    same = best_read.rows == best_floor.rows
    print(f"  same rows               {verdict(same)}  ({best_read.rows:,} read, {best_floor.rows:,} downloaded)")
    print(f"  ratio read / floor      {ratio:6.2f}×  (target ≤ {RATIO_TARGET:g}×)  {verdict(ratio <= RATIO_TARGET)}")
    print(
        f"  peak RSS growth         {growth:6.1f} MB  (target < {MEMORY_TARGET_MB:g} MB for "
        f"{best_floor.bytes / MB:.0f} MB of export)  {verdict(growth < MEMORY_TARGET_MB)}"
    )
    best_arrow = min(arrows, key=lambda run: run.seconds)
    arrow_ratio = best_arrow.seconds / best_floor.seconds
    arrow_us = (best_arrow.cpu_seconds - best_floor.cpu_seconds) / best_arrow.rows * 1e6
    arrow_growth = max(run.growth_mb for run in arrows)
    print(
        f"  conn.read_batches       {best_arrow.rows:>9,} rows  {best_arrow.seconds:6.2f} s"
        f"  {best_arrow.rows_per_second:>10,.0f} rows/s"
    )
    print(f"  same rows               {verdict(best_arrow.rows == best_floor.rows)}  ({best_arrow.rows:,} in batches)")
    print(
        f"  ratio batches / floor   {arrow_ratio:6.2f}×  (target ≤ {BATCHES_RATIO_TARGET:g}×)  "
        f"{verdict(arrow_ratio <= BATCHES_RATIO_TARGET)}"
    )
    print(
        f"  batches client CPU      {arrow_us:.1f} µs per row on top of the download (target ≤ "
        f"{BATCHES_CPU_TARGET_US:g} µs)  {verdict(arrow_us <= BATCHES_CPU_TARGET_US)}"
    )
    print(f"  batches peak RSS growth {arrow_growth:6.1f} MB  {verdict(arrow_growth < MEMORY_TARGET_MB)}")
    rounds = ", ".join(
        f"{f.seconds:.2f}/{r.seconds:.2f}/{a.seconds:.2f}" for f, r, a in zip(floors, reads, arrows, strict=True)
    )
    print(f"  rounds (floor/read/batches s)  {rounds}")


if __name__ == "__main__":
    main()
