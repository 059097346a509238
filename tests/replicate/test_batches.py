"""The columnar path: exported tables go from Iterable's exports to every target as Arrow batches, and store
exactly what the dict rows store. Each target is compared with itself, the same rows written both ways: value
for value (as the database holds them, read back as text), upsert counts included, with what is hard to store
(NUL characters, unicode, quotes, extreme timestamps and numbers, user fields with odd names) and keys given twice
in one batch. A whole replication is then run both ways against the same sandbox, twice (with changes between),
and a crash in the middle of a columnar run resumes to the tables of an uninterrupted one."""

from __future__ import annotations

import contextlib
import math
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx2
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import FakeClock, connect_to, postgres_database
from iterbridge.api.exports import WindowPolicy
from iterbridge.objects import scanner
from iterbridge.objects.arrow import batch_from_rows
from iterbridge.objects.base import Column, SqlType
from iterbridge.replicate import batches as writing
from iterbridge.replicate import runner
from iterbridge.replicate.runner import ReplicationReport, replicate
from iterbridge.replicate.targets import (
    STATE_TABLE,
    DuckDbTarget,
    SqlAlchemyTarget,
    TableSpec,
    Target,
    UpsertCounts,
    open_target,
)
from iterbridge.sandbox import Sandbox
from iterbridge.sqlnames import quote_name

from .copies import Copy
from .test_runner import Crash, CrashingTarget, run_with

ODD = 'odd "name" %s; --'  # quotes, a placeholder, SQL punctuation
COLUMNS = (
    Column("Id", SqlType.TEXT, "Id", key=True),
    Column("Text", SqlType.TEXT, "Text"),
    Column("Count", SqlType.INTEGER, "Count"),
    Column("Score", SqlType.REAL, "Score"),
    Column("Flag", SqlType.BOOLEAN, "Flag"),
    Column("At", SqlType.TIMESTAMP, "At"),
    Column("Data", SqlType.JSON, "Data"),
    Column(ODD, SqlType.TEXT, ODD),
    Column("ünïcødé 100%", SqlType.INTEGER, "ünïcødé 100%"),
)
TRICKY_TEXT = [
    "",
    "a\x00b",
    "\\u0000",
    "ünï 中文 🎉",
    "quote \" and ' comma, \n newline \\ backslash",
    "\t",
    "NULL",
    "\\N",
]
TRICKY_AT = [
    datetime(2026, 11, 1, 6, 0, 0, 123456, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # just before PostgreSQL's zero
    datetime(2000, 1, 1, tzinfo=UTC),
]
TRICKY_NUMBERS = [0, 1, -1, 2**63 - 1, -(2**63), 10**15 + 1]
TRICKY_SCORES = [0.0, -0.0, 0.1, 1e-300, 1.7976931348623157e308, -2.5, 1 / 3, math.pi]
TRICKY_DATA: list[Any] = [{}, [], {"a": "\x00", "é": [1, 2.5, None, True]}, {"nested": {"deep": ["x"]}}, 42, "text",
                          {"escaped": "\\u0000 is text, \x00 is not", "twice": "\\\\u0000\x00\x00"}]  # fmt: skip


def tricky_rows(count: int, seed: int) -> list[dict[str, Any]]:
    """Rows whose every column cycles through values hard to store, NULL included."""

    def pick(n: int, values: list[Any], step: int = 1) -> Any:
        place = (n * step) % (len(values) + 1)
        return None if place == len(values) else values[place]

    rows = []
    for i in range(count):
        n = i + seed
        rows.append(
            {
                "Id": f"id-{i:04d}",
                "Text": pick(n, TRICKY_TEXT),
                "Count": pick(n, TRICKY_NUMBERS, 3),
                "Score": pick(n, TRICKY_SCORES, 5),
                "Flag": pick(n, [True, False], 7),
                "At": pick(n, TRICKY_AT, 11),
                "Data": pick(n, TRICKY_DATA, 13),
                ODD: pick(n, TRICKY_TEXT, 17),
                "ünïcødé 100%": pick(n, TRICKY_NUMBERS, 19),
            }
        )
    return rows


def held(target: Target, table: str) -> list[str]:
    """Every row of a table as the database holds it, as text, in key order."""
    name = quote_name(target.stored_name(table))
    if isinstance(target, DuckDbTarget):
        return [str(r[0]) for r in target.db.execute(f'SELECT t::VARCHAR FROM {name} t ORDER BY "Id"').fetchall()]
    assert isinstance(target, SqlAlchemyTarget)
    text = f"SELECT t::text FROM {name} t" if target.dialect == "postgresql" else f"SELECT * FROM {name} t"
    with target.transaction():
        found = target.execute(f'{text} ORDER BY "Id"').all()
    return [repr(tuple(row)) for row in found]  # SQLite: the values with their storage classes


def test_a_batch_stores_what_its_rows_store(target: str) -> None:
    kind = target.split(":", 1)[0]
    opened = open_target(target)
    try:
        specs = {way: TableSpec(f"Stored_{way}", COLUMNS, ("Id",), "At") for way in ("rows", "batch")}
        for spec in specs.values():
            opened.prepare(spec, recreate=False)

        def write(rows: list[dict[str, Any]]) -> tuple[UpsertCounts, UpsertCounts]:
            with opened.transaction():
                by_rows = opened.upsert(specs["rows"], rows)
                by_batch = opened.upsert(specs["batch"], batch_from_rows(rows, COLUMNS))
            return by_rows, by_batch

        first = tricky_rows(60, 0)
        first += [{**first[3], "Text": "given twice: the last wins"}, {**first[4]}]  # keys twice in one batch
        by_rows, by_batch = write(first)
        assert by_rows == by_batch == UpsertCounts(60, 0, 0)
        stored = held(opened, "Stored_rows")
        assert held(opened, "Stored_batch") == stored
        assert len(stored) == 60
        assert any("given twice: the last wins" in row for row in stored)
        if kind == "postgresql":  # NULs cannot be stored: they go, and only they (a text's "\\u0000" stays)
            assert isinstance(opened, SqlAlchemyTarget)
            with opened.transaction():
                found = opened.execute(
                    """SELECT DISTINCT "Data"->>'escaped', "Data"->>'twice' FROM "Stored_batch" """
                    """WHERE "Data"->>'escaped' IS NOT NULL"""
                ).all()
            assert [tuple(row) for row in found] == [("\\u0000 is text,  is not", "\\\\u0000")]

        # A second write: some rows changed, some the same, some new (and again a key twice).
        second = tricky_rows(40, 1)[:30] + first[30:50] + tricky_rows(80, 0)[60:80] + [tricky_rows(80, 5)[79]]
        by_rows, by_batch = write(second)
        assert by_rows == by_batch
        assert by_rows.inserted == 20
        assert by_rows.updated >= 25
        assert by_rows.unchanged >= 15
        assert held(opened, "Stored_batch") == held(opened, "Stored_rows")
        assert write(second) == (UpsertCounts(0, 0, 70), UpsertCounts(0, 0, 70))  # nothing changed
    finally:
        opened.close()


# ---- whole replications ----------------------------------------------------------------------------------


@contextlib.contextmanager
def two_targets(kind: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two fresh targets of a kind: one for the columnar run, one for the rows."""
    if kind != "postgresql":
        suffix = "db" if kind == "sqlite" else "duckdb"
        yield f"{kind}:///{tmp_path / f'batches.{suffix}'}", f"{kind}:///{tmp_path / f'rows.{suffix}'}"
        return
    with postgres_database("batches") as batches, postgres_database("rows") as rows:
        yield batches, rows


def tables(url: str) -> dict[str, list[str]]:
    """Every table of a copy (but the state, whose times differ) as the database holds it, rows as text."""
    kind = url.split(":", 1)[0]
    found: dict[str, list[str]] = {}
    if kind == "sqlite":
        with contextlib.closing(sqlite3.connect(url.split("sqlite:///", 1)[1])) as db:
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for name in names:
                found[name] = sorted(repr(r) for r in db.execute(f"SELECT * FROM {quote_name(name)}"))
    elif kind == "duckdb":
        with duckdb.connect(url.split("duckdb:///", 1)[1], read_only=True) as db:
            db.execute("SET TimeZone = 'UTC'")
            names = [r[0] for r in db.execute("SELECT table_name FROM information_schema.tables").fetchall()]
            for name in names:
                found[name] = sorted(
                    str(r[0]) for r in db.execute(f"SELECT t::VARCHAR FROM {quote_name(name)} t").fetchall()
                )
    else:
        with psycopg.connect(url) as db:
            names = [r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            for name in names:
                found[name] = sorted(str(r[0]) for r in db.execute(f"SELECT t::text FROM {quote_name(name)} t"))
    found.pop(STATE_TABLE, None)
    return found


def counts(report: ReplicationReport) -> dict[str, tuple[int, int, int, int, int, str | None]]:
    return {s.table: (s.rows_read, s.inserted, s.updated, s.unchanged, s.deleted, s.error) for s in report.streams}


OBJECTS = ["Users", "Lists", "ListUsers", "Events"]


def same_copies(first: ReplicationReport, first_url: str, second: ReplicationReport, second_url: str) -> None:
    """Both runs succeeded, with the same counts, into the same tables (holding more than a few rows)."""
    assert first.ok, first.failed
    assert second.ok, second.failed
    assert counts(first) == counts(second)
    copied = tables(first_url)
    assert copied == tables(second_url)
    assert sum(map(len, copied.values())) > 400


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_a_replication_stores_from_batches_what_it_stores_from_rows(
    kind: str, sandbox: Sandbox, api: httpx2.Client, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with two_targets(kind, tmp_path) as (batches, rows), connect_to(sandbox) as conn:
        scanned: list[str] = []  # the objects read as batches
        scan_batches = conn.session.scan_batches

        def counted(obj: Any, request: Any, batch_rows: int) -> Any:
            scanned.append(obj.name)
            return scan_batches(obj, request, batch_rows)

        monkeypatch.setattr(conn.session, "scan_batches", counted)

        def both() -> tuple[ReplicationReport, ReplicationReport]:
            scanned.clear()
            by_batch = replicate(conn.session, batches, OBJECTS)
            assert sorted(set(scanned)) == ["Events", "Users"]
            assert len(scanned) > 10
            read = len(scanned)
            by_rows = replicate(conn.session, rows, OBJECTS, columnar=False)
            assert len(scanned) == read  # the rows path reads no batch
            same_copies(by_batch, batches, by_rows, rows)
            return by_batch, by_rows

        first, _ = both()
        assert first.stream("ListUsers").derived is not None  # fed from the users' batches

        # Changes: new user fields with odd names (the Users table is read in full again, ListUsers derived and
        # swept), text hard to store, events given twice with one id, a member leaving a list.
        clock.advance(3600)
        users = sorted(r["Email"] for r in Copy(rows).rows("Users"))
        fields = {ODD: "a\x00b ünï 🎉", "Ünïcødé 100%": 7, "naïve.dotted": {"x": 1}, "UPPER lower": True}
        api.post("/api/users/update", json={"email": users[0], "dataFields": fields}).raise_for_status()
        api.post("/api/users/update", json={"email": "new@example.org", "dataFields": {"UPPER lower": False}})
        now_s = clock.now_ms // 1000
        events = [
            {"email": users[i % 3], "eventName": "batchTest", "id": f"twice-{i // 2}", "createdAt": now_s,
             "dataFields": {"n": i, "text": "nul \x00 and \\u0000 ünï"}}
            for i in range(6)
        ]  # fmt: skip
        assert api.post("/api/events/trackBulk", json={"events": events}).json()["successCount"] == 6
        members = list(Copy(rows).rows("ListUsers"))
        leaving = {"listId": members[0]["ListId"], "subscribers": [{"email": members[0]["Email"]}]}
        assert api.post("/api/lists/unsubscribe", json=leaving).json()["successCount"] == 1
        clock.advance(60)

        second, _ = both()
        assert second.stream("Users").columns_added
        assert second.stream("Users").updated >= 1
        assert second.stream("Users").inserted == 1
        assert second.stream("ListUsers").derived is not None
        assert second.stream("ListUsers").deleted >= 1
        assert sum(s.inserted for s in second.streams if s.table.startswith("Events_")) >= 3


CRASH_OBJECTS = ["Events_emailSend", "Events_emailOpen", "Users", "ListUsers"]


def small_steps(monkeypatch: pytest.MonkeyPatch) -> tuple[WindowPolicy, datetime]:
    """Small batches, each message committed on its own, several checkpoints per stream: a crash can fall
    between any two of them. Returns the window policy and the `since` to run with."""
    monkeypatch.setattr(runner, "BATCH_ROWS", 40)
    monkeypatch.setattr(runner, "GROUP_MESSAGES", 1)  # rows and checkpoints in transactions of their own
    policy = WindowPolicy(initial=timedelta(days=30), grow_after=100)
    return policy, datetime.fromtimestamp(FakeClock().now_ms / 1000, UTC) - timedelta(days=200)


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_a_crash_in_a_columnar_run_resumes_to_an_uninterrupted_copy(
    kind: str, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's case is test_runner's (and test_crash's, killed for real): the columnar path is the default."""
    policy, since = small_steps(monkeypatch)
    objects = CRASH_OBJECTS
    with two_targets(kind, tmp_path) as (crashed, clean), connect_to(sandbox, window_policy=policy) as conn:
        counting = CrashingTarget(open_target(clean), 0)
        assert run_with(conn, counting, objects, since=since, workers=2).ok
        for when in (0.3, 0.7):
            crashing = CrashingTarget(open_target(crashed), max(1, int(counting.transactions * when)))
            with pytest.raises(Crash):
                run_with(conn, crashing, objects, since=since, workers=2)
        assert Copy(crashed).state()  # the crashes left part of the work committed
        assert run_with(conn, open_target(crashed), objects, since=since, workers=2).ok
        assert tables(crashed) == tables(clean)


def test_a_postgresql_column_of_another_type_takes_batches_too(postgres_url: str) -> None:
    """A column that kept an older type (a user field once text, now long): a binary COPY, whose format is the
    column type's, would be refused; the batch goes through a text COPY and stores what the rows store."""
    target = open_target(postgres_url)
    try:
        assert isinstance(target, SqlAlchemyTarget)
        specs = {way: TableSpec(f"Changed_{way}", COLUMNS[:3], ("Id",)) for way in ("rows", "batch")}
        for spec in specs.values():
            target.prepare(spec, recreate=False)
            with target.transaction():
                target.execute(f'ALTER TABLE {quote_name(spec.name)} ALTER COLUMN "Count" TYPE TEXT')
            target.prepare(spec, recreate=False)  # the next run
        rows = [{"Id": "a", "Text": "x", "Count": 42}, {"Id": "b", "Text": None, "Count": None}]
        with target.transaction():
            assert target.upsert(specs["rows"], rows) == UpsertCounts(2, 0, 0)
            assert target.upsert(specs["batch"], batch_from_rows(rows, COLUMNS[:3])) == UpsertCounts(2, 0, 0)
        assert held(target, "Changed_batch") == held(target, "Changed_rows") == ["('(a,x,42)',)", "('(b,,)',)"]
    finally:
        target.close()


def test_the_postgresql_stage_does_not_grow_with_the_batches_of_a_transaction(postgres_url: str) -> None:
    """The COPY stage is emptied by TRUNCATE after each upsert: a DELETE left its rows dead, and as a run's
    transaction holds many batches, every later upsert scanned all the earlier ones again."""
    target = open_target(postgres_url)
    try:
        assert isinstance(target, SqlAlchemyTarget)
        spec = TableSpec("Staged_pg", COLUMNS[:3], ("Id",))
        target.prepare(spec, recreate=False)
        sizes = []
        with target.transaction():
            for batch in range(6):
                rows = [{"Id": f"{batch}-{i}", "Text": "x" * 50, "Count": i} for i in range(2000)]
                assert target.upsert(spec, batch_from_rows(rows, spec.columns)) == UpsertCounts(2000, 0, 0)
                found = target.execute("""SELECT pg_relation_size('"_stage_Staged_pg"')""").scalar()
                sizes.append(int(found))
        assert sizes == [0] * 6  # emptied, not holding the dead rows of the batches before
        assert target.count(spec) == 12_000
    finally:
        target.close()


def test_sqlite_batches_written_without_the_c_writer_store_the_same(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the C extension cannot bind (not built, or SQLite built into the interpreter), a batch's values go to
    executemany as Python objects: the same tables and counts as the values bound in C."""
    in_c, by_executemany = (f"sqlite:///{tmp_path / name}" for name in ("c.db", "executemany.db"))
    written: list[int | None] = []
    sqlite_write = writing.sqlite_write

    def recorded(*given: Any) -> int | None:
        written.append(sqlite_write(*given))
        return written[-1]

    monkeypatch.setattr(writing, "sqlite_write", recorded)
    with connect_to(sandbox) as conn:
        by_c = replicate(conn.session, in_c, OBJECTS)
        assert written
        assert None not in written  # every batch bound in C
        written.clear()
        monkeypatch.setattr(scanner, "scanner", None)
        by_python = replicate(conn.session, by_executemany, OBJECTS)
        assert set(written) == {None}  # every batch through executemany (not empty: a set of one)
    same_copies(by_c, in_c, by_python, by_executemany)


@settings(max_examples=300, deadline=None)
@given(
    keys=st.lists(
        st.tuples(st.none() | st.integers(0, 3), st.none() | st.sampled_from(["a", "b", "a\x1fb", "", "\x1fb"])),
        max_size=12,
    )
)
def test_distinct_keeps_the_last_row_of_each_key_where_its_first_was(keys: list[tuple[Any, Any]]) -> None:
    """`distinct` over a key of two columns (ListUsers' ListId and Email): told apart without a group-by when
    every key's joined text is new, by the group-by when one repeats, whatever the values hold (the separator,
    empty texts, NULLs): the last row of each key, at the place of its first."""
    import pyarrow as pa

    table = pa.table(
        {
            "ListId": pa.array([k[0] for k in keys], pa.int64()),
            "Email": pa.array([k[1] for k in keys], pa.string()),
            "n": pa.array(range(len(keys)), pa.int64()),
        }
    )
    wanted: dict[tuple[Any, Any], int] = {}
    for n, key in enumerate(keys):
        wanted[key] = n  # a key seen again keeps its first place, takes the later row
    got = writing.distinct(table, ["ListId", "Email"])
    assert got.column("n").to_pylist() == list(wanted.values())
