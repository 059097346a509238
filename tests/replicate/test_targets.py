"""The targets on their own: upserts write only new or changed rows and count them, a key given twice in one
batch is written once (the last), NULL JSON is SQL NULL, the sweep deletes what was not seen but what it must
keep, the state table round-trips — the same in SQLite, PostgreSQL and DuckDB."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iterbridge.dburl import duckdb_path, redact_url
from iterbridge.errors import ConfigurationError
from iterbridge.objects.base import Column, SqlType
from iterbridge.replicate.targets import (
    DuckDbTarget,
    TableSpec,
    Target,
    UpsertCounts,
    open_target,
    sqlite_timestamp,
)

from .copies import Copy

SPEC = TableSpec(
    "Things",
    (
        Column("Id", SqlType.INTEGER, key=True),
        Column("Name", SqlType.TEXT),
        Column("At", SqlType.TIMESTAMP),
        Column("Score", SqlType.REAL),
        Column("Ok", SqlType.BOOLEAN),
        Column("Data", SqlType.JSON),
    ),
    ("Id",),
    "At",
)
PAIRS = TableSpec("Pairs", (Column("ListId", SqlType.INTEGER, key=True), Column("Email", SqlType.TEXT, key=True)),
                  ("ListId", "Email"))  # fmt: skip
MOMENT = datetime(2026, 10, 1, 12, 30, 15, 123000, tzinfo=UTC)


def thing(number: int, **changes: Any) -> dict[str, Any]:
    row = {"Id": number, "Name": f"thing {number}", "At": MOMENT, "Score": number / 4, "Ok": number % 2 == 0,
           "Data": {"n": number, "tags": ["a", "b"], "nested": {"x": None}}}  # fmt: skip
    row.update(changes)
    return row


def write(target: Target, spec: TableSpec, rows: list[dict[str, Any]]) -> UpsertCounts:
    with target.transaction():
        return target.upsert(spec, rows)


def test_upserts_count_and_write_only_changes(target: str) -> None:
    opened = open_target(target)
    try:
        prepared = opened.prepare(SPEC, recreate=False)
        assert (prepared.created, prepared.added) == (True, [])
        assert write(opened, SPEC, [thing(i) for i in range(1, 6)]) == UpsertCounts(5, 0, 0)
        assert write(opened, SPEC, [thing(i) for i in range(1, 6)]) == UpsertCounts(0, 0, 5)
        changed = [thing(1, Name="renamed"), thing(2, Data={"n": 2, "tags": ["a"]}), thing(3, At=None), thing(4),
                   thing(6, Data=None)]  # fmt: skip
        assert write(opened, SPEC, changed) == UpsertCounts(1, 3, 1)
        # The same key twice in a batch: written once, the last one wins (PostgreSQL and DuckDB refuse otherwise).
        assert write(opened, SPEC, [thing(7, Name="first"), thing(7, Name="last")]) == UpsertCounts(1, 0, 0)
        # A number a reader gave as text is stored as a number, not refused.
        assert write(opened, SPEC, [thing(8, Score="2.5")]) == UpsertCounts(1, 0, 0)
        assert opened.count(SPEC) == 8
        again = opened.prepare(SPEC, recreate=False)
        assert (again.created, again.added) == (False, [])
    finally:
        opened.close()
    rows = {r["Id"]: r for r in Copy(target).rows("Things")}
    assert rows[1]["Name"] == "renamed"
    assert rows[2]["Data"] == {"n": 2, "tags": ["a"]}
    assert rows[3]["At"] is None
    assert rows[4] == thing(4)  # every type round-trips: timestamp (UTC, microseconds), real, boolean, JSON
    assert rows[6]["Data"] is None  # SQL NULL, not JSON null
    assert rows[7]["Name"] == "last"
    assert rows[8]["Score"] == 2.5


def indexed(opened: Target, url: str, table: str) -> set[str]:
    """The columns some index of the table leads, seen by the target's own connection (DuckDB allows no other)."""
    if isinstance(opened, DuckDbTarget):
        rows = opened.db.execute("SELECT expressions FROM duckdb_indexes() WHERE table_name = ?", [table]).fetchall()
        return {str(expressions).strip("[]'\"") for (expressions,) in rows}
    return Copy(url).indexed_columns(table)


def test_a_bulk_table_made_now_is_indexed_on_its_cursor_once_its_rows_are_in(target: str) -> None:
    """SQLite and PostgreSQL build a new bulk table's cursor index at `flush` (the stream's end), from its rows,
    instead of keeping it up row by row; a table that exists gets it at `prepare` (a run that ended before its
    flush left none). DuckDB indexes at `prepare`."""
    bulk = dataclasses.replace(SPEC, bulk=True)
    deferred = not target.startswith("duckdb")
    opened = open_target(target)
    try:
        opened.prepare(bulk, recreate=False)
        assert write(opened, bulk, [thing(i) for i in range(1, 4)]) == UpsertCounts(3, 0, 0)
        assert ("At" in indexed(opened, target, "Things")) is not deferred
        with contextlib.suppress(RuntimeError), opened.transaction():  # a group that failed: rolled back (where
            opened.flush(bulk)  # DDL is transactional: PostgreSQL; pysqlite commits DDL that no write preceded)
            raise RuntimeError("refused")
        with opened.transaction():  # written again: indexed then
            opened.flush(bulk)
        assert "At" in indexed(opened, target, "Things")
        opened.prepare(bulk, recreate=True)  # made again: no index until its flush
        assert ("At" in indexed(opened, target, "Things")) is not deferred
    finally:
        opened.close()
    again = open_target(target)  # a run that ended before its flush: the next one's prepare makes the index
    try:
        again.prepare(bulk, recreate=False)
        assert "At" in indexed(again, target, "Things")
    finally:
        again.close()


@pytest.mark.parametrize(
    "made_by_hand",
    [
        None,  # iterbridge's own table: new rows are counted past the last rowid
        '"Id" INTEGER PRIMARY KEY',  # the rowid is the key itself: new rows are counted by key
        '"Id" INTEGER NOT NULL, PRIMARY KEY ("Id")) WITHOUT ROWID --',  # no rowid at all: by key too
    ],
)
def test_sqlite_counts_inserts_whatever_the_tables_rowid(tmp_path: Path, made_by_hand: str | None) -> None:
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    if made_by_hand:
        with sqlite3.connect(tmp_path / "copy.db") as db:
            columns = '"Name" TEXT, "At" DATETIME, "Score" FLOAT, "Ok" BOOLEAN, "Data" JSON'
            db.execute(f'CREATE TABLE "Things" ({columns}, {made_by_hand})')
    opened = open_target(url)
    try:
        opened.prepare(SPEC, recreate=False)
        assert write(opened, SPEC, [thing(i) for i in (5, 1, 9)]) == UpsertCounts(3, 0, 0)
        assert write(opened, SPEC, [thing(1), thing(2), thing(9, Name="renamed"), thing(3)]) == UpsertCounts(2, 1, 1)
        assert write(opened, SPEC, [thing(i) for i in (1, 2, 3, 5, 9)]) == UpsertCounts(0, 1, 4)  # 9: named back
        assert opened.count(SPEC) == 5
    finally:
        opened.close()


def test_sql_null_for_missing_json(target: str) -> None:
    opened = open_target(target)
    try:
        opened.prepare(SPEC, recreate=False)
        write(opened, SPEC, [thing(1, Data=None), thing(2)])
    finally:
        opened.close()
    copy = Copy(target)
    if copy.kind == "duckdb":
        import duckdb

        with duckdb.connect(duckdb_path(target), read_only=True) as db:
            nulls = db.execute('SELECT count(*) FROM "Things" WHERE "Data" IS NULL').fetchone()
    else:
        import sqlalchemy as sa

        engine = sa.create_engine(target.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as db:
            nulls = db.execute(sa.text('SELECT count(*) FROM "Things" WHERE "Data" IS NULL')).fetchone()
        engine.dispose()
    assert nulls is not None
    assert nulls[0] == 1


def test_the_sweep_deletes_what_was_not_seen_but_what_it_keeps(target: str) -> None:
    opened = open_target(target)
    try:
        opened.prepare(PAIRS, recreate=False)
        write(opened, PAIRS, [{"ListId": lid, "Email": f"u{n}@x"} for lid in (1, 2, 3) for n in range(3)])
        opened.start_sweep(PAIRS)
        with opened.transaction():
            opened.mark_seen(PAIRS, [(1, "u0@x"), (1, "u1@x"), (2, "u0@x")])
            opened.mark_seen(PAIRS, [(2, "u1@x"), (2, "u1@x")])  # seen twice: harmless
        with opened.transaction():
            deleted = opened.sweep(PAIRS, {"ListId": [3]})  # list 3 could not be read: kept whole
        assert deleted == 2  # (1, u2) and (2, u2)
        assert sorted(opened.keys(PAIRS)) == [(1, "u0@x"), (1, "u1@x"), (2, "u0@x"), (2, "u1@x"),
                                              (3, "u0@x"), (3, "u1@x"), (3, "u2@x")]  # fmt: skip
        # The seen keys are forgotten after a sweep: the next one starts from nothing.
        opened.start_sweep(PAIRS)
        with opened.transaction():
            assert opened.sweep(PAIRS) == 7
    finally:
        opened.close()


def test_state_round_trips_and_clears(target: str) -> None:
    opened = open_target(target)
    try:
        with opened.transaction():
            opened.write_state("A", {"cursor": MOMENT.isoformat(), "rows": 3})
            opened.write_state("B", {"mode": "full"})
            opened.write_state("A", {"cursor": "later", "rows": 4})
        assert opened.read_state() == {"A": {"cursor": "later", "rows": 4}, "B": {"mode": "full"}}
        with opened.transaction():
            opened.clear_state(["A"])
        assert opened.read_state() == {"B": {"mode": "full"}}
    finally:
        opened.close()


def refused(target: Target) -> None:
    with target.transaction():
        target.upsert(SPEC, [thing(1)])
        target.write_state("Things", {"cursor": "x"})
        raise RuntimeError("the database refused something")


def test_a_failed_transaction_leaves_nothing(target: str) -> None:
    opened = open_target(target)
    try:
        opened.prepare(SPEC, recreate=False)
        with pytest.raises(RuntimeError):
            refused(opened)
        assert opened.count(SPEC) == 0
        assert opened.read_state() == {}
        write(opened, SPEC, [thing(2)])  # and the next transaction works
        assert opened.count(SPEC) == 1
    finally:
        opened.close()


def test_urls() -> None:
    assert redact_url("postgresql://me:pw@host/db") == "postgresql://me:***@host/db"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"
    assert duckdb_path("duckdb:///rel.duckdb") == "rel.duckdb"
    assert duckdb_path("duckdb:////abs/x.duckdb") == "/abs/x.duckdb"
    assert duckdb_path("duckdb:///:memory:") == ":memory:"
    with pytest.raises(ConfigurationError, match="cannot open"):
        open_target("nosuchdialect://x/y")


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)))
def test_sqlite_timestamps_are_sqlalchemys_storage_format(moment: datetime) -> None:
    """What SQLAlchemy's DateTime reads back: UTC, microseconds always, no offset (made from tables, so
    checked against the library's own text)."""
    assert sqlite_timestamp(moment) == moment.isoformat(" ", "microseconds")[:-6]
    assert sqlite_timestamp(moment.replace(tzinfo=None)) == moment.isoformat(" ", "microseconds")[:-6]


@given(
    st.lists(
        st.none() | st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC))
    ),
    st.sampled_from(["s", "ms", "us"]),
)
def test_batches_timestamps_are_the_rows_text(moments: list[datetime | None], unit: str) -> None:
    """A batch's timestamps (cast for microseconds, strftime otherwise) are what a dict row's are stored as."""
    import pyarrow as pa

    from iterbridge.replicate.batches import sqlite_timestamps

    column = pa.array(moments, pa.timestamp("us", tz="UTC"))
    if unit != "us":
        column = column.cast(pa.timestamp(unit, tz="UTC"), safe=False)
        moments = column.to_pylist()
    wanted = [None if m is None else sqlite_timestamp(m) for m in moments]
    assert sqlite_timestamps(column).to_pylist() == wanted


def test_a_new_sqlite_copy_has_16_kb_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    """SQLite takes a page size in a new file only; the WAL is copied into the file every 64 MB either way."""
    from iterbridge.replicate.targets import SQLITE_PAGE_BYTES, SQLITE_WAL_BYTES

    with sqlite3.connect(tmp_path / "old.db") as old:
        old.execute("PRAGMA page_size=4096")
        old.execute("CREATE TABLE kept (x)")
    for name, page_bytes in (("new.db", SQLITE_PAGE_BYTES), ("old.db", 4096)):
        opened = open_target(f"sqlite:///{tmp_path / name}")
        try:
            pragmas = opened._dbapi().cursor()  # type: ignore[attr-defined]
            assert pragmas.execute("PRAGMA page_size").fetchone()[0] == page_bytes, name
            assert pragmas.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == SQLITE_WAL_BYTES // page_bytes
            opened.prepare(SPEC, recreate=False)
        finally:
            opened.close()
    assert SQLITE_PAGE_BYTES == 16384


def test_a_writing_sqlite_connection_has_the_bulk_page_cache_and_wal(tmp_path: Path) -> None:
    """A copy's primary keys take rows in hash order: the writing connection keeps SQLITE_CACHE_KIB of pages."""
    from iterbridge.replicate.targets import SQLITE_CACHE_KIB

    opened = open_target(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        pragmas = opened._dbapi().cursor()  # type: ignore[attr-defined]
        assert pragmas.execute("PRAGMA cache_size").fetchone()[0] == -SQLITE_CACHE_KIB
        assert pragmas.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        opened.close()
