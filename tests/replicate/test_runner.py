"""The runner's guarantees, each provoked on purpose: a write the database refuses fails its table only (and
nobody stays blocked on the full queue); a read that fails halfway deletes nothing and keeps the state; an
interrupted writer stops the readers; a crash at any transaction never leaves a state ahead of its rows, and
the next run completes the copy; a killed --full run is not resumed as if the old state still held."""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

import iterbridge
from helpers import connect_to
from iterbridge.api.exports import WindowPolicy
from iterbridge.errors import RetriableApiError
from iterbridge.objects.base import ReadRequest, Row
from iterbridge.replicate import runner
from iterbridge.replicate.batches import GC_THRESHOLDS
from iterbridge.replicate.plan import streams
from iterbridge.replicate.runner import Replication
from iterbridge.replicate.targets import TableSpec, Target, UpsertCounts, open_target
from iterbridge.sandbox import Sandbox

from .compare import event_rows
from .copies import Copy
from .expected import Source


class Crash(BaseException):
    """The process dies here (nothing after it is committed)."""


class Proxy:
    """A target that behaves like another, but for what a test changes."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.description = target.description

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


class RefusingTarget(Proxy):
    """The database refuses every write of one table."""

    def __init__(self, target: Target, table: str) -> None:
        super().__init__(target)
        self.table = table

    def upsert(self, spec: TableSpec, rows: Sequence[Row]) -> UpsertCounts:
        if spec.name == self.table:
            raise RuntimeError(f'value too long for column "Name" of {spec.name}')
        return self.target.upsert(spec, rows)


class CrashingTarget(Proxy):
    """The process dies at its n-th transaction (before it commits)."""

    def __init__(self, target: Target, at: int) -> None:
        super().__init__(target)
        self.at = at
        self.transactions = 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.transactions += 1
        with self.target.transaction():
            yield
            if self.transactions == self.at:
                raise Crash


def replication_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("replicate")]


def run_with(conn: iterbridge.Connection, target: Target, objects: list[str], **options: Any) -> Any:
    try:
        return Replication(conn.session, target, streams(objects), **options).run()
    finally:
        target.close()


def test_a_refused_write_fails_its_table_only_and_nothing_hangs(
    conn: iterbridge.Connection, sqlite_url: str, source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny batches and a tiny queue: the refused table's reader would block on the full queue if it were not told.
    monkeypatch.setattr(runner, "BATCH_ROWS", 5)
    monkeypatch.setattr(runner, "QUEUE_BATCHES", 2)
    monkeypatch.setattr(runner, "GROUP_MESSAGES", 3)
    objects = ["Events_emailSend", "Events_emailOpen", "Lists", "Users"]
    started = time.monotonic()
    report = run_with(conn, RefusingTarget(open_target(sqlite_url), "Events_emailOpen"), objects)
    assert time.monotonic() - started < 30
    failed = report.stream("Events_emailOpen")
    assert failed.error == 'writing failed: value too long for column "Name" of Events_emailOpen'
    assert [s.table for s in report.failed] == ["Events_emailOpen"]
    copy = Copy(sqlite_url)
    assert "Events_emailOpen" not in copy.state()  # its state never advanced
    assert copy.rows("Events_emailOpen") == []
    # The other tables were written whole, although their messages shared transactions with the refused ones.
    assert event_rows(copy.rows("Events_emailSend")) == event_rows(source.events("emailSend"))
    assert len(copy.rows("Users")) == len(source.users())
    assert {"Events_emailSend", "Lists", "Users"} <= set(copy.state())
    time.sleep(0.3)
    assert replication_threads() == []


def test_a_read_failing_halfway_deletes_nothing_and_keeps_the_state(
    conn: iterbridge.Connection, api: httpx2.Client, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert conn.replicate(sqlite_url, ["CatalogItems"]).ok
    copy = Copy(sqlite_url)
    items = copy.rows("CatalogItems")
    state = copy.state()["CatalogItems"]
    gone = sorted(i["ItemId"] for i in items if i["CatalogName"] == "products")[:3]
    api.request("DELETE", "/api/catalogs/products/items", json={"itemIds": gone}).raise_for_status()

    scan = conn.session.scan

    def failing(obj: Any, request: ReadRequest) -> Iterator[Row]:
        for number, row in enumerate(scan(obj, request)):
            if number == 5:
                raise RetriableApiError("GET /api/catalogs/{catalogName}/items → 500: boom")
            yield row

    monkeypatch.setattr(conn.session, "scan", failing)
    report = conn.replicate(sqlite_url, ["CatalogItems"])
    assert report.stream("CatalogItems").error == "GET /api/catalogs/{catalogName}/items → 500: boom"
    assert report.stream("CatalogItems").deleted == 0
    assert len(copy.rows("CatalogItems")) == len(items)  # what was not read is not deleted
    assert copy.state()["CatalogItems"] == state

    monkeypatch.setattr(conn.session, "scan", scan)
    assert conn.replicate(sqlite_url, ["CatalogItems"]).stream("CatalogItems").deleted == 3


def test_an_interrupted_writer_stops_the_readers(conn: iterbridge.Connection, sqlite_url: str) -> None:
    def interrupt(stream: Any) -> None:
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        conn.replicate(sqlite_url, progress=interrupt)
    deadline = time.monotonic() + 10
    while replication_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert replication_threads() == []
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("when", [0.05, 0.25, 0.5, 0.75, 0.95])
def test_a_crash_never_leaves_a_state_ahead_of_its_rows(
    sandbox: Sandbox, source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: float
) -> None:
    # One message per transaction, small batches: many transactions, rows and checkpoints in separate ones.
    monkeypatch.setattr(runner, "BATCH_ROWS", 40)
    monkeypatch.setattr(runner, "GROUP_MESSAGES", 1)
    objects = ["Events_emailSend", "Events_emailOpen", "Users", "Lists", "ListUsers"]
    # Windows of 30 days over the last 200 days: several checkpoints per stream.
    since = source.now() - timedelta(days=200)
    policy = WindowPolicy(initial=timedelta(days=30), grow_after=100)
    clean = f"sqlite:///{tmp_path / 'clean.db'}"
    with connect_to(sandbox, window_policy=policy) as conn:
        counting = CrashingTarget(open_target(clean), 0)
        assert run_with(conn, counting, objects, since=since, workers=2).ok
    crash_at = max(1, int(counting.transactions * when))
    assert counting.transactions > 30

    url = f"sqlite:///{tmp_path / 'copy.db'}"
    with connect_to(sandbox, window_policy=policy) as conn, pytest.raises(Crash):
        run_with(conn, CrashingTarget(open_target(url), crash_at), objects, since=since, workers=2)
    copy = Copy(url)
    checked = 0
    for table, state in copy.state().items():
        if "cursor" not in state or not table.startswith(("Events_", "Users")):
            continue
        cursor = datetime.fromisoformat(state["cursor"])
        if table == "Users":
            emails = {u["email"] for u in source.export("user", since.replace(microsecond=0), cursor)}
            assert emails <= {u["Email"] for u in copy.rows("Users")}, table
        else:
            event_type = table.split("_", 1)[1]
            start = since.replace(microsecond=0)
            wanted = [e for e in source.events(event_type) if start <= e["CreatedAt"] < cursor]
            found = [e for e in copy.rows(table) if e["CreatedAt"] < cursor]
            assert event_rows(found) >= event_rows(wanted), table
        checked += 1
    if when > 0.2:
        assert checked  # some checkpoint was committed before the crash
    # The next run completes the copy: the same tables as an uninterrupted one.
    with connect_to(sandbox, window_policy=policy) as conn:
        assert conn.replicate(url, objects, since=since).ok
    assert copy.snapshot() == Copy(clean).snapshot()


def test_a_killed_full_run_restarts_in_full(sandbox: Sandbox, source: Source, sqlite_url: str) -> None:
    objects = ["Events_emailSend", "Lists"]
    with connect_to(sandbox) as conn:
        assert conn.replicate(sqlite_url, objects).ok
        # --full dies just after it forgot the state (its first transaction) and dropped the tables.
        with pytest.raises(Crash):
            run_with(conn, CrashingTarget(open_target(sqlite_url), 2), objects, full=True)
        # A plain run now must not resume from the old cursor: the tables it finds are empty.
        report = conn.replicate(sqlite_url, objects)
    assert report.ok
    copy = Copy(sqlite_url)
    assert event_rows(copy.rows("Events_emailSend")) == event_rows(source.events("emailSend"))
    assert len(copy.rows("Lists")) == len(source.lists())


def test_the_state_is_written_with_utc_cursors(conn: iterbridge.Connection, sqlite_url: str) -> None:
    assert conn.replicate(sqlite_url, ["Events_emailSend", "Templates"]).ok
    state = Copy(sqlite_url).state()
    for table in ("Events_emailSend", "Templates"):
        cursor = datetime.fromisoformat(state[table]["cursor"])
        assert cursor.utcoffset() == timedelta(0)
        assert cursor < datetime.now(UTC) + timedelta(days=365)
        assert state[table]["rows"] > 0
        assert datetime.fromisoformat(state[table]["last_run"]).tzinfo is not None


class SweepWatchingTarget(Proxy):
    """Records the tables whose keys are kept for a deletion sweep, and the tables swept."""

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.kept: set[str] = set()
        self.swept: set[str] = set()

    def start_sweep(self, spec: TableSpec) -> None:
        self.kept.add(spec.name)
        self.target.start_sweep(spec)

    def mark_seen(self, spec: TableSpec, keys: Sequence[tuple[Any, ...]]) -> None:
        self.kept.add(spec.name)
        self.target.mark_seen(spec, keys)

    def sweep(self, spec: TableSpec, keep: dict[str, list[Any]] | None = None) -> int:
        self.swept.add(spec.name)
        return self.target.sweep(spec, keep)


def test_a_table_the_run_creates_keeps_no_keys_and_the_next_run_sweeps_it(
    conn: iterbridge.Connection, api: httpx2.Client, sqlite_url: str
) -> None:
    """A table created by the run is empty when its read begins: every row it holds at the end was read, so no key
    is kept for a sweep (a first copy's cost). Once it exists, its keys are kept and what Iterable deleted goes."""
    objects = ["Lists", "ListUsers", "Users", "Templates"]
    gone = api.post("/api/lists", json={"name": "to be deleted"}).raise_for_status().json()["listId"]
    first = SweepWatchingTarget(open_target(sqlite_url))
    assert run_with(conn, first, objects).ok
    assert first.kept == set()
    assert first.swept == set()
    assert gone in {row["Id"] for row in Copy(sqlite_url).rows("Lists")}
    api.request("DELETE", f"/api/lists/{gone}").raise_for_status()

    second = SweepWatchingTarget(open_target(sqlite_url))
    report = run_with(conn, second, objects)
    swept = {"Lists", "ListUsers", "Templates"}
    assert swept <= second.kept
    assert swept <= second.swept
    assert "Users" not in second.kept  # never swept (exported by time), whatever the run
    assert report.stream("Lists").deleted == 1
    assert gone not in {row["Id"] for row in Copy(sqlite_url).rows("Lists")}

    full = SweepWatchingTarget(open_target(sqlite_url))
    assert run_with(conn, full, ["Lists"], full=True).ok  # --full recreates the table: nothing to sweep again
    assert full.kept == set()


class ThresholdRecorder(Proxy):
    """Notes the garbage collector's thresholds as each table is prepared."""

    def __init__(self, target: Target, seen: list[tuple[int, ...]]) -> None:
        super().__init__(target)
        self.seen = seen

    def prepare(self, spec: TableSpec, *, recreate: bool) -> Any:
        self.seen.append(gc.get_threshold())
        return self.target.prepare(spec, recreate=recreate)


def test_a_replication_collects_garbage_less_often_and_gives_the_thresholds_back(
    conn: iterbridge.Connection, sqlite_url: str
) -> None:
    before = gc.get_threshold()
    assert before != GC_THRESHOLDS
    seen: list[tuple[int, ...]] = []
    assert run_with(conn, ThresholdRecorder(open_target(sqlite_url), seen), ["Lists", "Channels"]).ok
    assert set(seen) == {GC_THRESHOLDS}  # not empty: a set of one
    assert gc.get_threshold() == before
    with pytest.raises(Crash):  # a run that dies gives them back too
        run_with(conn, CrashingTarget(ThresholdRecorder(open_target(sqlite_url), seen), 1), ["Lists"])
    assert gc.get_threshold() == before
