"""Faults: 429 storms, 500s, dropped streams, slow answers — the read still returns exactly the right rows, once
each; a list whose members always fail is skipped and reported."""

from __future__ import annotations

import logging
from typing import Any

import httpx2
import pytest

import iterbridge
from iterbridge.sandbox import Sandbox

from .readers import canon, list_ids
from .support import Calls, connect_to

EVENT_TYPES = ["emailSend", "emailOpen", "customEvent", "purchase", "pushSend"]
READS: list[tuple[str, dict[str, Any] | None]] = [
    ("Campaigns", None),
    ("Lists", None),
    ("Templates", {"MessageMedium": ["Email", "SMS"]}),
    ("CatalogItems", None),
    ("Users", None),
    ("Events", {"EventType": EVENT_TYPES}),
    ("ListUsers", None),
]


def read_all(conn: iterbridge.Connection, reads: list[tuple[str, dict[str, Any] | None]] = READS) -> dict[str, Any]:
    return {name: canon(conn.read(name, where=where)) for name, where in reads}


@pytest.fixture
def clean(sandbox: Sandbox) -> dict[str, Any]:
    with connect_to(sandbox) as conn:
        rows = read_all(conn)
    assert all(rows.values())
    return rows


def statuses(calls: Calls, status: int) -> int:
    return sum(counts.get(str(status), 0) for counts in calls.snapshot().values())


def test_a_429_storm(sandbox: Sandbox, calls: Calls, clean: dict[str, Any]) -> None:
    calls.faults(burst_429=30)
    with connect_to(sandbox) as conn:
        assert read_all(conn) == clean
        assert conn.skipped == []
    assert statuses(calls, 429) == 30


def test_a_429_storm_with_retry_after(sandbox: Sandbox, calls: Calls, clean: dict[str, Any]) -> None:
    calls.faults(burst_429=3, retry_after_s=0)
    with connect_to(sandbox) as conn:
        assert read_all(conn, READS[:2]) == {name: clean[name] for name, _ in READS[:2]}
    assert statuses(calls, 429) == 3


def test_random_500s(sandbox: Sandbox, calls: Calls, clean: dict[str, Any]) -> None:
    calls.faults(error_rate=0.3)
    with connect_to(sandbox) as conn:
        assert read_all(conn) == clean
        assert conn.skipped == []
    assert statuses(calls, 500) > 10


def test_503s_on_list_members(sandbox: Sandbox, calls: Calls, clean: dict[str, Any]) -> None:
    calls.faults(getusers_503=4)
    with connect_to(sandbox) as conn:
        assert canon(conn.read("ListUsers")) == clean["ListUsers"]
        assert conn.skipped == []
    assert calls.snapshot()["GET /api/lists/getUsers"]["503"] == 4


@pytest.mark.parametrize("streams", [1, 3, 8])
def test_streams_dropped_mid_export(sandbox: Sandbox, calls: Calls, clean: dict[str, Any], streams: int) -> None:
    calls.faults(drop_after_lines=7, drop_streams=streams)
    with connect_to(sandbox) as conn:
        assert read_all(conn) == clean
        assert conn.skipped == []
    assert calls.admin.get("/_sandbox/faults").json()["drop_streams"] == 0  # every drop happened


def test_every_long_stream_dropped(sandbox: Sandbox, calls: Calls, clean: dict[str, Any]) -> None:
    calls.faults(drop_after_lines=25, drop_streams=-1, error_endpoint="data.json")
    with connect_to(sandbox) as conn:
        events = canon(conn.read("Events", where={"EventType": EVENT_TYPES}))
        users = canon(conn.read("Users"))
    assert events == clean["Events"]
    assert users == clean["Users"]


def test_a_dropped_user_events_stream(sandbox: Sandbox, calls: Calls, conn: iterbridge.Connection) -> None:
    rows = list(conn.read("Events", where={"EventType": EVENT_TYPES}))
    email = max({row["Email"] for row in rows}, key=lambda e: sum(row["Email"] == e for row in rows))
    expected = canon(row for row in rows if row["Email"] == email)
    calls.faults(drop_after_lines=3, drop_streams=2)
    assert canon(conn.read("Events", where={"Email": email, "EventType": EVENT_TYPES})) == expected


def test_slow_answers(sandbox: Sandbox, calls: Calls, clean: dict[str, Any]) -> None:
    calls.faults(latency_ms=15)
    with connect_to(sandbox) as conn:
        assert read_all(conn, READS[:3]) == {name: clean[name] for name, _ in READS[:3]}


def test_everything_at_once(sandbox: Sandbox, calls: Calls, clean: dict[str, Any]) -> None:
    calls.faults(burst_429=5, error_rate=0.2, drop_after_lines=9, drop_streams=4, latency_ms=2)
    with connect_to(sandbox) as conn:
        assert read_all(conn) == clean


def test_a_list_whose_members_always_fail_is_skipped_and_reported(
    sandbox: Sandbox, api: httpx2.Client, calls: Calls, clean: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    ids = list_ids(api)
    bad = ids[2]
    calls.faults(error_lists=[bad])
    caplog.set_level(logging.WARNING, logger="iterbridge")
    with connect_to(sandbox) as conn:
        rows = list(conn.read("ListUsers"))
        (skipped,) = conn.skipped
    assert skipped.object == "ListUsers"
    assert skipped.slice == f"list {bad}"
    assert "500" in skipped.reason
    assert any(f"list {bad}" in record.getMessage() for record in caplog.records)
    assert {row["ListId"] for row in rows} == set(ids) - {bad}
    with connect_to(sandbox) as conn:
        expected = list(conn.read("ListUsers", where={"ListId": [i for i in ids if i != bad]}))
    assert canon(rows) == canon(expected)
    assert canon(rows) != clean["ListUsers"]


def test_a_skipped_list_is_reported_when_asked_for_by_id(sandbox: Sandbox, api: httpx2.Client, calls: Calls) -> None:
    bad = list_ids(api)[3]
    calls.faults(error_lists=[bad])
    with connect_to(sandbox) as conn:
        assert list(conn.read("ListUsers", where={"ListId": bad})) == []
        assert [s.slice for s in conn.skipped] == [f"list {bad}"]
