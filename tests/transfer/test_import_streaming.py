"""A large file is read as a stream: a 200,000-row, ~125 MB file imported with --dry-run (every row read,
converted, validated and batched into requests) while the process's memory stays flat."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil

import iterbridge
from iterbridge.transfer import ImportOptions

from .support import Stats, writes

ROWS = 200_000
NOTE = "x" * 600  # an ignored column, so the file is larger than the memory the import may use


def test_a_large_file_streams_in_flat_memory(conn: iterbridge.Connection, stats: Stats, tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("ListId,Email,Note\n")
        handle.writelines(f"{100 + i % 7},member{i}@example.com,{NOTE}\n" for i in range(ROWS))
    assert path.stat().st_size > 120_000_000

    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with stats.counting() as made:
            summary = conn.import_csv("ListUsers", path, ImportOptions(dry_run=True))
    finally:
        done.set()
        sampler.join()
    assert (summary.read, summary.sent, summary.rejected) == (ROWS, ROWS, 0)
    assert summary.request_count == 7 * (ROWS // 1000)  # one subscribe per list per batch of 1,000
    assert len(summary.requests) == 20  # the first ones, kept to show
    assert writes(made) == {}
    growth_mb = (peak - baseline) / 1e6
    assert growth_mb < 100, f"memory grew by {growth_mb:.0f} MB while streaming"
