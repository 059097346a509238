"""Events and Users through the asynchronous export API (export/start → files → pre-signed downloads): the same
tables as through data.json; `auto` picks export jobs when the rate limits make data.json slow, and the report
says which was used; truncated jobs are split, and a window that stays truncated is read through data.json."""

from __future__ import annotations

from pathlib import Path

import pytest

import iterbridge
from helpers import Stats, connect_to
from iterbridge.api.async_export import AsyncExportReader, ExportTruncated
from iterbridge.api.exports import EXPORT_ENDPOINT
from iterbridge.sandbox import Sandbox

from .copies import Copy
from .expected import Source

# Users and the event types a tiny project has most of (the others are empty: their jobs prove nothing more).
EXPORTED = ["Users", "Events_emailSend", "Events_emailOpen", "Events_customEvent", "Events_purchase"]


def test_async_jobs_give_the_tables_of_data_json(conn: iterbridge.Connection, stats: Stats, tmp_path: Path) -> None:
    sync = Copy(f"sqlite:///{tmp_path / 'sync.db'}")
    jobs = Copy(f"duckdb:///{tmp_path / 'jobs.duckdb'}")
    first = conn.replicate(sync.url, EXPORTED, export_method="sync")
    with stats.counting() as calls:
        second = conn.replicate(jobs.url, EXPORTED, export_method="async")
    assert first.ok
    assert second.ok, second.failed
    assert jobs.snapshot() == sync.snapshot()
    assert sum(len(rows) for rows in sync.snapshot().values()) > 300
    assert calls["POST /api/export/start"] == len(EXPORTED)  # one job per data type: the whole history
    assert "GET /api/export/data.json" not in calls
    assert all(s.method == "async export jobs (1 job)" for s in second.streams)
    assert all(s.method == "data.json" for s in first.streams)
    # The state advanced the same way: at the window's end.
    assert jobs.state()["Users"]["cursor"] == sync.state()["Users"]["cursor"]


def test_auto_picks_jobs_once_data_json_would_wait(sandbox: Sandbox, tmp_path: Path) -> None:
    # Planned for Iterable's real limits (data.json: a burst of 4, then 4 calls a minute): while a data.json call
    # would not wait it is the cheapest (one call); once it would, auto takes export jobs.
    with connect_to(sandbox, rate_limit_factor=1.0) as paced:
        for _ in range(4):
            paced.client.limiter.acquire(EXPORT_ENDPOINT)  # the burst is spent: the next call would wait 15 s
        report = paced.replicate(f"sqlite:///{tmp_path / 'paced.db'}", ["Users", "Lists"])
    assert report.ok
    assert report.stream("Users").method.startswith("async export jobs")
    assert report.stream("Lists").method == "Lists"
    with connect_to(sandbox, rate_limit_factor=1.0) as fresh:
        report = fresh.replicate(f"sqlite:///{tmp_path / 'fresh.db'}", ["Users"])
    assert report.stream("Users").method == "data.json"
    # Without limits, data.json costs nothing to wait for.
    with connect_to(sandbox) as free:
        report = free.replicate(f"sqlite:///{tmp_path / 'free.db'}", ["Users"])
    assert report.stream("Users").method == "data.json"
    paced_users = Copy(f"sqlite:///{tmp_path / 'paced.db'}").snapshot()["Users"]
    assert paced_users
    assert paced_users == Copy(f"sqlite:///{tmp_path / 'free.db'}").snapshot()["Users"]
    assert paced_users == Copy(f"sqlite:///{tmp_path / 'fresh.db'}").snapshot()["Users"]


def test_truncated_jobs_are_split_then_read_through_data_json(
    conn: iterbridge.Connection, stats: Stats, tmp_path: Path
) -> None:
    chosen = ["Users", "Events_emailSend"]
    sync = Copy(f"sqlite:///{tmp_path / 'sync.db'}")
    assert conn.replicate(sync.url, chosen, export_method="sync").ok
    stats.faults(export_truncated=True)  # every job says its export was cut short
    truncated = Copy(f"sqlite:///{tmp_path / 'truncated.db'}")
    with stats.counting() as calls:
        report = conn.replicate(truncated.url, chosen, export_method="async")
    assert report.ok, report.failed
    assert truncated.snapshot() == sync.snapshot()
    # Each type: its window, halved three times over (1 + 2 + 4 + 8 jobs), the 8 last windows via data.json.
    assert calls["POST /api/export/start"] == 2 * 15
    assert calls["GET /api/export/data.json"] == 2 * 8
    for table in chosen:
        assert report.stream(table).method == "async export jobs (15 jobs, 15 truncated, 8 windows via data.json)"


def test_a_window_truncated_for_good_fails_without_a_fallback(
    conn: iterbridge.Connection, stats: Stats, source: Source
) -> None:
    stats.faults(export_truncated=True)
    reader = AsyncExportReader(conn.client, "emailSend", None, source.now(), max_splits=1)
    with pytest.raises(ExportTruncated, match="stays truncated"):
        list(reader)
    assert reader.stats.jobs == 2  # the window, then its first half (still truncated: the end)
    assert reader.stats.checkpoints == []  # nothing was given out as if it were complete
