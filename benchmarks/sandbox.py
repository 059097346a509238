"""Sandbox benchmark: loopback latency of a small GET, export lines per second, server memory while streaming.

    python3 benchmarks/sandbox.py [--scale large] [--requests 2000] [--stream-seconds 20]

The sandbox runs in a separate process (`iterbridge sandbox`), so the client and the server do not share one
GIL; the client is httpx2 over one keep-alive connection. Measured, each against its target:

- small GET: N requests to /api/channels; median (target < 2 ms), p90, p99 and requests/s;
- data.json: lines/s streamed for dataTypeName=emailSend over the whole history (target ≥ 150,000 lines/s)
  and for dataTypeName=user; lines are counted (b"\\n" in the raw chunks), never parsed;
- server memory: the sandbox process's RSS sampled while streaming; "flat" means it grows by less than
  50 MB however many lines are streamed, and its peak over the second half of the stream is not above (by
  10 MB or more) its peak over the first half: RSS swings as each block is made and freed, and a swing is
  not growth (the lowest and highest RSS of the second half are printed too);
- at the medium and large scales: time from process start to the first answer, and per-user lookups
  (GET /api/users/{email}, GET /api/events/{email}).

It prints a report with PASS/FAIL per figure and measured/target ratios, and exits 0 either way: it is a
report, not a test.
"""

from __future__ import annotations

from support import MB, client, sample_emails, start_server

import argparse
import contextlib
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx2
import psutil  # type: ignore[import-untyped,unused-ignore]

from iterbridge.sandbox.config import SCALES

LATENCY_TARGET_MS = 2.0
EXPORT_TARGET_LPS = 150_000
MEMORY_GROWTH_LIMIT_MB = 50.0
SECOND_HALF_GROWTH_LIMIT_MB = 10.0
# Guides for the figures the issue gives no target for (what "starts quickly" and "stays fast" mean here).
STARTUP_GUIDE_S = 3.0
USER_LOOKUP_GUIDE_MS = 5.0
EVENTS_LOOKUP_GUIDE_MS = 50.0


# ---- measurements ---------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Latency:
    median_ms: float
    p90_ms: float
    p99_ms: float
    per_second: float
    count: int


def measure_latency(api: httpx2.Client, path: str, count: int, warmup: int = 200) -> Latency:
    for _ in range(warmup):
        api.get(path).raise_for_status()
    timings: list[float] = []
    began = time.perf_counter()
    for _ in range(count):
        start = time.perf_counter()
        response = api.get(path)
        timings.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    elapsed = time.perf_counter() - began
    return Latency(
        statistics.median(timings), percentile(timings, 0.9), percentile(timings, 0.99), count / elapsed, count
    )


@dataclass
class Memory:
    """The server's RSS, sampled every few milliseconds in a background thread."""

    pid: int
    interval_s: float = 0.02
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, RSS)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Memory:
        process = psutil.Process(self.pid)
        began = time.perf_counter()

        def sample() -> None:
            while not self._stop.is_set():
                with contextlib.suppress(psutil.Error):
                    self.samples.append((time.perf_counter() - began, process.memory_info().rss))
                self._stop.wait(self.interval_s)

        self.samples.append((0.0, process.memory_info().rss))
        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    @property
    def start_mb(self) -> float:
        return self.samples[0][1] / MB

    @property
    def peak_mb(self) -> float:
        return max(rss for _, rss in self.samples) / MB

    @property
    def end_mb(self) -> float:
        return self.samples[-1][1] / MB

    def _halves(self) -> tuple[list[int], list[int]]:
        middle = self.samples[-1][0] / 2
        first = [rss for moment, rss in self.samples if moment < middle]
        return first, [rss for moment, rss in self.samples if moment >= middle]

    def second_half_growth_mb(self) -> float:
        """Peak of the second half above the peak of the first: ~0 when memory is flat, even when it swings
        with each block made and freed; a memory that keeps growing shows its growth of the second half."""
        first, second = self._halves()
        return max(0.0, (max(second) - max(first)) / MB) if first and second else 0.0

    def second_half_swing_mb(self) -> tuple[float, float]:
        """(lowest, highest) RSS of the second half, to show the swing the growth above ignores."""
        _, second = self._halves()
        return (min(second) / MB, max(second) / MB) if second else (0.0, 0.0)


@dataclass
class Stream:
    lines: int
    bytes: int
    seconds: float
    complete: bool  # False when cut at the time limit

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.bytes / MB / self.seconds if self.seconds else 0.0


def measure_stream(api: httpx2.Client, params: dict[str, str], limit_s: float) -> Stream:
    """Stream data.json, counting lines in the raw chunks; stop after limit_s (the rate is what counts)."""
    lines = size = 0
    complete = True
    began = time.perf_counter()
    with api.stream("GET", "/api/export/data.json", params=params) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            lines += chunk.count(b"\n")
            size += len(chunk)
            if time.perf_counter() - began > limit_s:
                complete = False
                break
    return Stream(lines, size, time.perf_counter() - began, complete)


# ---- the report -----------------------------------------------------------------------------------------


@dataclass
class Report:
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def check(self, name: str, value: float, unit: str, target: float, *, higher_is_better: bool) -> None:
        """A figure with a target: measured, target, measured/target and PASS/FAIL."""
        passed = value >= target if higher_is_better else value < target
        sign = "≥" if higher_is_better else "<"
        ratio = value / target if target else float("nan")
        self.rows.append(
            (name, f"{value:,.2f} {unit}", f"{sign} {target:,.2f} {unit}", f"{ratio:.2f}", "PASS" if passed else "FAIL")
        )

    def info(self, name: str, text: str) -> None:
        self.rows.append((name, text, "", "", ""))

    def print(self) -> int:
        headers = ("figure", "measured", "target", "measured/target", "result")
        widths = [max(len(str(row[i])) for row in [headers, *self.rows]) for i in range(5)]
        print()
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for row in self.rows:
            print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        failed = [row[0] for row in self.rows if row[4] == "FAIL"]
        for note in self.notes:
            print(f"note: {note}")
        print()
        print(f"RESULT: {'FAIL — ' + ', '.join(failed) if failed else 'PASS — every figure meets its target'}")
        return len(failed)


def window_params(data_type: str, start_ms: int, end_ms: int) -> dict[str, str]:
    return {"dataTypeName": data_type, "startDateTime": str(start_ms), "endDateTime": str(end_ms)}


def lookup_timings(api: httpx2.Client, paths: list[str]) -> list[float]:
    timings = []
    for path in paths:
        start = time.perf_counter()
        api.get(path).raise_for_status()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="large", choices=list(SCALES), help="the scale streamed (default large)")
    parser.add_argument("--anchor", default="2026-11-01", help="end of the generated history")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--requests", type=int, default=2000, help="small GETs timed")
    parser.add_argument("--stream-seconds", type=float, default=20.0, help="cut each stream after this long")
    parser.add_argument("--lookups", type=int, default=50, help="users looked up per scale")
    parser.add_argument("--skip-scales", action="store_true", help="skip the medium/large start and lookup checks")
    args = parser.parse_args()
    anchor = datetime.fromisoformat(args.anchor).replace(tzinfo=UTC)
    anchor_ms = int(anchor.timestamp() * 1000)
    history_start_ms = anchor_ms - SCALES[args.scale].history_days * 86_400_000
    report = Report()
    print(f"sandbox benchmark: scale {args.scale}, anchor {args.anchor}, {os.cpu_count()} CPUs, pid {os.getpid()}")

    server = start_server(args.scale, args.anchor, args.seed)
    try:
        print(f"  sandbox pid {server.pid} at {server.url}, answering {server.started_s:.2f} s after spawn")
        with client(server) as api:
            print(f"  timing {args.requests} GET /api/channels …", flush=True)
            latency = measure_latency(api, "/api/channels", args.requests)
            report.check("GET /api/channels median", latency.median_ms, "ms", LATENCY_TARGET_MS, higher_is_better=False)
            report.info("GET /api/channels p90 / p99", f"{latency.p90_ms:.3f} / {latency.p99_ms:.3f} ms")
            report.info("GET /api/channels throughput", f"{latency.per_second:,.0f} requests/s (1 connection)")

            streams = {
                "emailSend": window_params("emailSend", history_start_ms, anchor_ms),
                "user": window_params("user", 0, anchor_ms + 86_400_000),
            }
            for data_type, params in streams.items():
                print(f"  streaming data.json {data_type} (up to {args.stream_seconds:g} s) …", flush=True)
                with Memory(server.pid) as memory:
                    server_cpu, client_cpu = memory.cpu_seconds(), time.process_time()
                    stream = measure_stream(api, params, args.stream_seconds)
                    server_cpu = memory.cpu_seconds() - server_cpu
                    client_cpu = time.process_time() - client_cpu
                cut = "" if stream.complete else f", cut at {args.stream_seconds:g} s"
                name = f"data.json {data_type}"
                report.check(
                    f"{name} lines/s", stream.lines_per_second, "lines/s", EXPORT_TARGET_LPS, higher_is_better=True
                )
                report.info(
                    f"{name} streamed",
                    f"{stream.lines:,} lines, {stream.bytes / MB:,.0f} MB in {stream.seconds:.1f} s"
                    f" ({stream.mb_per_second:.0f} MB/s{cut})",
                )
                report.info(
                    f"{name} CPU",
                    f"server {server_cpu / stream.seconds:.0%} of a core ({stream.lines / server_cpu:,.0f} lines per"
                    f" server CPU-second), client {client_cpu / stream.seconds:.0%}",
                )
                report.info(
                    f"{name} server RSS", f"start {memory.start_mb:.0f} MB, peak {memory.peak_mb:.0f} MB, "
                    f"end {memory.end_mb:.0f} MB"
                )  # fmt: skip
                report.check(
                    f"{name} RSS growth",
                    memory.peak_mb - memory.start_mb,
                    "MB",
                    MEMORY_GROWTH_LIMIT_MB,
                    higher_is_better=False,
                )
                report.check(
                    f"{name} RSS growth, 2nd half",
                    memory.second_half_growth_mb(),
                    "MB",
                    SECOND_HALF_GROWTH_LIMIT_MB,
                    higher_is_better=False,
                )
                low, high = memory.second_half_swing_mb()
                report.info(f"{name} RSS in the 2nd half", f"{low:.0f}–{high:.0f} MB (blocks made and freed)")
    finally:
        server.stop()

    if not args.skip_scales:
        for scale in ("medium", "large"):
            print(f"  starting the {scale} scale and looking up {args.lookups} users …", flush=True)
            server = start_server(scale, args.anchor, args.seed)
            try:
                report.check(
                    f"{scale}: spawn → first answer", server.started_s, "s", STARTUP_GUIDE_S, higher_is_better=False
                )
                emails = list(sample_emails(scale, args.seed, anchor, args.lookups))
                with client(server) as api:
                    api.get("/api/channels").raise_for_status()
                    users = lookup_timings(api, [f"/api/users/{email}" for email in emails])
                    events = lookup_timings(api, [f"/api/events/{email}?limit=200" for email in emails])
                for what, timings, guide in (
                    ("GET /api/users/{email}", users, USER_LOOKUP_GUIDE_MS),
                    ("GET /api/events/{email}", events, EVENTS_LOOKUP_GUIDE_MS),
                ):
                    report.check(
                        f"{scale}: {what} median", statistics.median(timings), "ms", guide, higher_is_better=False
                    )
                    report.info(f"{scale}: {what} p90 / max", f"{percentile(timings, 0.9):.2f} / {max(timings):.2f} ms")
            finally:
                server.stop()
        report.notes.append(
            f"start and lookup targets are guides (start < {STARTUP_GUIDE_S:g} s, user < {USER_LOOKUP_GUIDE_MS:g} ms,"
            f" events < {EVENTS_LOOKUP_GUIDE_MS:g} ms); the issue sets only latency, export rate and flat memory"
        )
    report.notes.append(
        f"flat memory: RSS growth under {MEMORY_GROWTH_LIMIT_MB:g} MB over the whole stream, and the second half's"
        f" peak less than {SECOND_HALF_GROWTH_LIMIT_MB:g} MB above the first half's, however many lines are streamed"
    )
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
