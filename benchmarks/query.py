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

import argparse
import collections
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx2

import iterbridge

API_KEY = "sandbox-api-key"
TARGET_RATIO = 1.3
SQL = "SELECT EventName, count(*) FROM Events GROUP BY 1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    log: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(scale: str, anchor: str, timeout_s: float = 120.0) -> Server:
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="iterbridge-bench-", suffix=".log", delete=False)  # noqa: SIM115
    command = [sys.executable, "-m", "iterbridge", "sandbox", "--scale", scale, "--rate-limits", "off"]
    command += ["--port", str(port), "--anchor", anchor]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or []], daemon=True).start()
    deadline = time.perf_counter() + timeout_s
    url = ""
    while not url:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.perf_counter()))
        except queue.Empty:
            process.kill()
            raise RuntimeError(f"no 'base URL:' line from the sandbox (log: {log.name})") from None
        if line.startswith("base URL:"):
            url = line.split(":", 1)[1].strip()
    while True:  # the URL is printed before the port is bound
        try:
            if httpx2.get(f"{url}/_sandbox/info", timeout=5).status_code == 200:
                break
        except httpx2.TransportError:
            pass
        if process.poll() is not None or time.perf_counter() > deadline:
            process.kill()
            raise RuntimeError(f"the sandbox did not answer (log: {log.name})")
        time.sleep(0.01)
    return Server(process, url, log.name)


def api_calls(url: str) -> int:
    return int(httpx2.get(f"{url}/_sandbox/stats", timeout=30).json()["total"])


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


def timed(url: str, conn: iterbridge.Connection, job: Callable[[iterbridge.Connection], dict[str | None, int]]) -> Pass:
    calls = api_calls(url)
    began, began_cpu = time.perf_counter(), time.process_time()
    result = job(conn)
    wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    return Pass(wall, cpu, result, api_calls(url) - calls)  # (the admin endpoint is not counted)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="medium", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--anchor", default="2026-11-01")
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()

    print(f"starting a {options.scale} sandbox (anchor {options.anchor}, rate limits off)…", flush=True)
    server = start_server(options.scale, options.anchor)
    try:
        with iterbridge.connect(api_key=API_KEY, base_url=server.url, rate_limit_factor=None) as conn:
            warm = timed(server.url, conn, via_read)
            expected = warm.counts
            rows = sum(expected.values())
            print(f"warm-up read: {rows:,} events in {warm.wall_s:.2f} s")
            sql_passes: list[Pass] = []
            read_passes: list[Pass] = []
            for round_number in range(1, options.rounds + 1):
                sql = timed(server.url, conn, via_sql)
                read = timed(server.url, conn, via_read)
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
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print()
    print(f"events:        {rows:,} ({len(expected)} event names)")
    print(f"(a) SQL:       {best_sql:.2f} s  ({rows / best_sql:,.0f} rows/s)   {SQL}")
    print(f"(b) conn.read: {best_read:.2f} s  ({rows / best_read:,.0f} rows/s)")
    print(f"ratio (a)/(b): {ratio:.2f}×  (target ≤ {TARGET_RATIO}×)  {verdict}")
    print(f"client CPU:    SQL {cpu_sql:.2f} s, read {cpu_read:.2f} s  ({cpu_sql / cpu_read:.2f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
