"""The Python API: `conn.replicate(to=…, objects=…)` returns the report; objects and single event tables can be
chosen; InAppMessages and Events are replicated for chosen users with a filter; mistakes fail before anything
is read, with one clear message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import iterbridge
from helpers import Stats
from iterbridge.errors import ConfigurationError
from iterbridge.objects.events import EVENT_TYPES
from iterbridge.replicate import ReplicationReport, StreamReport

from .compare import assert_table, event_rows
from .copies import Copy
from .expected import Source


def test_replicate_returns_the_report(conn: iterbridge.Connection, sqlite_url: str, source: Source) -> None:
    seen: list[str] = []
    report = conn.replicate(to=sqlite_url, objects=["Lists", "Channels"], progress=lambda s: seen.append(s.table))
    assert isinstance(report, ReplicationReport)
    assert report.ok
    assert report.target == sqlite_url
    assert [s.table for s in report.streams] == ["Lists", "Channels"]
    assert sorted(seen) == ["Channels", "Lists"]
    lists = report.stream("Lists")
    assert isinstance(lists, StreamReport)
    assert (lists.mode, lists.method) == ("incremental", "Lists")
    assert lists.rows_read == lists.inserted == len(source.lists())
    assert lists.api_calls == 1
    assert lists.seconds >= 0
    assert report.totals()["inserted"] == len(source.lists()) + len(source.channels())
    assert report.seconds > 0
    assert Copy(sqlite_url).data_tables() == ["Channels", "Lists"]


def test_the_default_target_is_iterable_db_here(
    conn: iterbridge.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert conn.replicate(objects=["Channels"]).ok
    assert Copy(f"sqlite:///{tmp_path / 'iterable.db'}").data_tables() == ["Channels"]


def test_single_event_tables_can_be_chosen(conn: iterbridge.Connection, sqlite_url: str, source: Source) -> None:
    report = conn.replicate(sqlite_url, ["Events_emailOpen", "events_purchase"])
    assert [s.table for s in report.streams] == ["Events_emailOpen", "Events_purchase"]
    assert report.stream("Events_purchase").inserted == len(source.events("purchase"))


def test_in_app_messages_and_events_for_chosen_users(
    conn: iterbridge.Connection, stats: Stats, sqlite_url: str, source: Source
) -> None:
    users = sorted(u["Email"] for u in source.users())
    chosen = [e for e in users if source.in_app_messages(e)][:2]
    assert len(chosen) == 2
    quoted = ", ".join(f"'{e}'" for e in chosen)
    with stats.counting() as calls:
        report = conn.replicate(
            sqlite_url, filters={"InAppMessages": f"Email IN ({quoted})", "Events": f"Email IN ({quoted})"}
        )
    assert report.ok, report.failed
    copy = Copy(sqlite_url)
    # Everything else as usual, plus the filtered objects.
    assert "Lists" in copy.data_tables()
    assert_table(copy, "InAppMessages", [m for e in chosen for m in source.in_app_messages(e)])
    assert report.stream("InAppMessages").method == "InAppMessages for chosen users"
    # The chosen users' events, each in its type's table; one userEvents call per user, not per type.
    for event_type in EVENT_TYPES:
        wanted = [e for e in source.events(event_type) if e["Email"] in chosen]
        assert event_rows(copy.rows(f"Events_{event_type}")) == event_rows(wanted), event_type
    assert sum(report.stream(f"Events_{t}").rows_read for t in EVENT_TYPES) > 10
    assert calls["GET /api/export/userEvents"] == len(chosen)
    assert calls["GET /api/inApp/getMessages"] == len(chosen)
    assert "GET /api/export/data.json" in calls  # Users still come through the export
    # A rerun writes nothing new.
    conditions = {"InAppMessages": f"Email IN ({quoted})", "Events": f"Email IN ({quoted})"}
    again = conn.replicate(sqlite_url, ["InAppMessages", "Events"], filters=conditions)
    assert again.totals()["inserted"] == again.totals()["updated"] == 0
    assert again.totals()["unchanged"] == again.totals()["rows_read"] > 0
    assert copy.state()["InAppMessages"]["filter"] == f"Email IN ({quoted})"


@pytest.mark.parametrize(
    ("objects", "filters", "message"),
    [
        (["Nope"], None, "--objects: no object 'Nope'"),
        (["InAppMessages"], None, 'add --filter InAppMessages:"Email IN (…)"'),
        (None, {"Events_emailOpen": "Email = 'x'"}, "--filter applies to whole objects"),
    ],
)
def test_mistakes_fail_before_any_call(
    conn: iterbridge.Connection,
    stats: Stats,
    sqlite_url: str,
    objects: list[str] | None,
    filters: dict[str, str] | None,
    message: str,
) -> None:
    with stats.counting() as calls, pytest.raises(ConfigurationError, match=re.escape(message)):
        conn.replicate(sqlite_url, objects, filters=filters)
    assert calls == {}
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_a_bad_filter_fails_its_tables_only(conn: iterbridge.Connection, sqlite_url: str) -> None:
    report = conn.replicate(sqlite_url, ["Lists", "InAppMessages"], filters={"InAppMessages": "Emial = 'x'"})
    assert report.stream("Lists").error is None
    error = report.stream("InAppMessages").error
    assert error is not None
    assert "Emial" in error
    assert [s.table for s in report.failed] == ["InAppMessages"]


def test_bad_targets_are_one_clear_error(conn: iterbridge.Connection, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="must be a database URL") as bad:
        conn.replicate("iterable.db", ["Lists"])
    assert "\n" not in str(bad.value)
    with pytest.raises(ConfigurationError, match="cannot open postgresql") as unreachable:
        conn.replicate("postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere", ["Lists"])
    assert "\n" not in str(unreachable.value)
    assert "s3cret-pw" not in str(unreachable.value)
    with pytest.raises(ConfigurationError, match="export_method"):
        conn.replicate(f"sqlite:///{tmp_path / 'x.db'}", ["Lists"], export_method="fast")
