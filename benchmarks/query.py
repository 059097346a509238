"""SQL benchmark: what the virtual-table layer adds to fetching the data.

    python3 benchmarks/query.py [--scale medium] [--rounds 2] [--anchor 2026-11-01]

A sandbox runs in a separate process (`iterbridge sandbox --rate-limits off`), so the client and the server
do not share one GIL. In one run, over the same Events (every event type, the whole history), it measures:

- (a) SQL: `SELECT EventName, count(*) FROM Events GROUP BY 1` through `conn.sql` (apsw virtual table,
  SQLite aggregates);
- (b) plain read: iterating the same rows through `conn.read("Events", columns=["EventName"])` and
  counting them in Python.

Both read the same export windows (the API calls are counted) and must give the same counts — up to the
few events that arrive between two reads (past its anchor the sandbox's clock is the real one).
Rounds alternate (a) and (b) after one warm-up read; the best time of each is compared. Target: (a) costs
at most 1.3× (b). It prints the figures and the ratio and exits 0 either way: a report, not a test.
"""

from __future__ import annotations

from support import Server, api_calls, connect, start_server, verdict

import argparse
import collections
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import iterbridge

TARGET_RATIO = 1.3
SQL = "SELECT EventName, count(*) FROM Events GROUP BY 1"


def total_calls(server: Server) -> int:
    return sum(api_calls(server).values())


def via_sql(conn: iterbridge.Connection) -> dict[str | None, int]:
    return dict(conn.sql(SQL))


def via_read(conn: iterbridge.Connection) -> dict[str | None, int]:
    counts: collections.Counter[str | None] = collections.Counter()
    for row in conn.read("Events", columns=["EventName"]):
        counts[row["EventName"]] += 1
    return dict(counts)


def compare(earlier: dict[str | None, int], later: dict[str | None, int]) -> str | None:
    """Counts of two consecutive reads must agree, except for events that arrived in between: past its
    anchor the sandbox's clock is the real one, and events keep arriving as on the real platform."""
    names = set(earlier) | set(later)
    fewer = {
        name: (earlier.get(name, 0), later.get(name, 0)) for name in names if later.get(name, 0) < earlier.get(name, 0)
    }
    if fewer:
        return f"a later read counted fewer events: {fewer}"
    arrived = sum(later.values()) - sum(earlier.values())
    if arrived > max(1000, sum(earlier.values()) // 100):
        return f"{arrived:,} more events in a later read: more than late arrivals explain"
    return None


@dataclass
class Pass:
    wall_s: float
    cpu_s: float  # this process only: the client's own work, whatever the server and the machine do
    counts: dict[str | None, int]
    calls: int


Counts = dict[str | None, int]


def timed(server: Server, conn: iterbridge.Connection, job: Callable[[iterbridge.Connection], Counts]) -> Pass:
    calls = total_calls(server)
    began, began_cpu = time.perf_counter(), time.process_time()
    result = job(conn)
    wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    return Pass(wall, cpu, result, total_calls(server) - calls)  # (the admin endpoint is not counted)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="medium", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--anchor", default="2026-11-01")
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()

    print(f"starting a {options.scale} sandbox (anchor {options.anchor}, rate limits off)…", flush=True)
    server = start_server(options.scale, options.anchor)
    try:
        with connect(server) as conn:
            warm = timed(server, conn, via_read)
            expected = warm.counts
            rows = sum(expected.values())
            print(f"warm-up read: {rows:,} events in {warm.wall_s:.2f} s")
            sql_passes: list[Pass] = []
            read_passes: list[Pass] = []
            for round_number in range(1, options.rounds + 1):
                sql = timed(server, conn, via_sql)
                read = timed(server, conn, via_read)
                print(
                    f"round {round_number}: SQL {sql.wall_s:.2f} s (client CPU {sql.cpu_s:.2f} s, {sql.calls} API "
                    f"calls, {sum(sql.counts.values()):,} rows), read {read.wall_s:.2f} s (client CPU "
                    f"{read.cpu_s:.2f} s, {read.calls} API calls, {sum(read.counts.values()):,} rows)"
                )
                problem = compare(expected, sql.counts) or compare(sql.counts, read.counts)
                if problem:
                    print(f"FAIL: {problem}", file=sys.stderr)
                    return 1
                expected = read.counts
                sql_passes.append(sql)
                read_passes.append(read)
    finally:
        server.stop()

    best_sql = min(p.wall_s for p in sql_passes)
    best_read = min(p.wall_s for p in read_passes)
    cpu_sql = min(p.cpu_s for p in sql_passes)
    cpu_read = min(p.cpu_s for p in read_passes)
    ratio = best_sql / best_read
    print()
    print(f"events:        {rows:,} ({len(expected)} event names)")
    print(f"(a) SQL:       {best_sql:.2f} s  ({rows / best_sql:,.0f} rows/s)   {SQL}")
    print(f"(b) conn.read: {best_read:.2f} s  ({rows / best_read:,.0f} rows/s)")
    print(f"ratio (a)/(b): {ratio:.2f}×  (target ≤ {TARGET_RATIO}×)  {verdict(ratio <= TARGET_RATIO)}")
    print(f"client CPU:    SQL {cpu_sql:.2f} s, read {cpu_read:.2f} s  ({cpu_sql / cpu_read:.2f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
