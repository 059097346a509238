"""A bulk table a run makes is written by appending (PostgreSQL: COPY straight into it, its primary key made when
its stream ends; DuckDB: no stage, no merge, its keys checked at the end). Whatever the path, the table ends as an
upsert would have left it — one row per key, the one written last — and the counts are an upsert's: these tests
hold every target to that, through a settle rolled back, a run killed before its stream ended, and keys repeated
across batches and within one transaction."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

import duckdb
import pytest

from iterbridge.dburl import duckdb_path
from iterbridge.objects.arrow import batch_from_rows
from iterbridge.replicate.targets import (
    FRESH_COMMENT,
    DuckDbTarget,
    SqlAlchemyTarget,
    Target,
    UpsertCounts,
    open_target,
)

from .copies import Copy
from .test_targets import SPEC, thing

BULK = dataclasses.replace(SPEC, bulk=True)


def stored(target: Target) -> list[tuple[Any, ...]]:
    if isinstance(target, DuckDbTarget):
        return target.db.execute('SELECT "Id", "Name" FROM "Things" ORDER BY "Id"').fetchall()
    assert isinstance(target, SqlAlchemyTarget)
    with target.transaction():
        return [tuple(r) for r in target.execute('SELECT "Id", "Name" FROM "Things" ORDER BY "Id"').all()]


def unsettled(target: Target) -> bool:
    """Whether the table is still being appended to: DuckDB's comment on it, PostgreSQL's missing primary key.
    (SQLite's tables are made with their key.)"""
    if isinstance(target, DuckDbTarget):
        found = target.db.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'Things'").fetchall()
        return bool(found[0][0] == FRESH_COMMENT)
    assert isinstance(target, SqlAlchemyTarget)
    with target.transaction():
        keyed = target.execute(
            "SELECT count(*) FROM information_schema.table_constraints WHERE table_name = 'Things' "
            "AND constraint_type = 'PRIMARY KEY'"
            if target.dialect == "postgresql"
            else "SELECT count(*) FROM pragma_table_info('Things') WHERE pk > 0"
        ).scalar_one()
    return not keyed


def as_given(kind: str) -> Callable[[list[dict[str, Any]]], Any]:
    """The rows as the runner hands them: an Arrow batch, or dict rows (objects read row by row)."""
    return (lambda rows: batch_from_rows(rows, BULK.columns)) if kind == "batch" else list


def groups(target: Target, given: Callable[[list[dict[str, Any]]], Any]) -> UpsertCounts:
    """Four groups, keys repeated across them: 2 changed once, 3 written again unchanged; then the stream ends."""
    counts = UpsertCounts()
    for rows in (
        [thing(1), thing(2)],
        [thing(2, Name="renamed"), thing(3)],
        [thing(3), thing(4)],
    ):
        with target.transaction():
            counts += target.upsert(BULK, given(rows))
    with target.transaction():
        counts += target.flush(BULK)
    return counts


EXPECTED = [(1, "thing 1"), (2, "renamed"), (3, "thing 3"), (4, "thing 4")]


@pytest.mark.parametrize("kind", ["batch", "rows"])
def test_a_table_made_now_ends_as_an_upsert_leaves_it(target: str, kind: str) -> None:
    opened = open_target(target)
    try:
        assert opened.prepare(BULK, recreate=False).created
        assert unsettled(opened) is not target.startswith("sqlite")
        assert groups(opened, as_given(kind)) == UpsertCounts(4, 1, 1)
        assert stored(opened) == EXPECTED
        assert not unsettled(opened)
        # Settled: later rows are upserts again (counted and stored as such).
        with opened.transaction():
            assert opened.upsert(BULK, as_given(kind)([thing(4), thing(5)])) + opened.flush(BULK) == UpsertCounts(
                1, 0, 1
            )
        assert opened.count(BULK) == 5
    finally:
        opened.close()


def test_a_table_that_exists_counts_and_stores_the_same(target: str) -> None:
    """The same groups into a table an earlier run made (upserted through its key, or staged and merged: a row
    a later staged row of its key replaced before the merge counts as unchanged there)."""
    made = open_target(target)
    made.prepare(BULK, recreate=False)
    made.close()
    opened = open_target(target)
    try:
        assert not opened.prepare(BULK, recreate=False).created
        assert not unsettled(opened)
        staged = target.startswith("duckdb")
        assert groups(opened, as_given("batch")) == (UpsertCounts(4, 0, 2) if staged else UpsertCounts(4, 1, 1))
        assert stored(opened) == EXPECTED
    finally:
        opened.close()


def test_a_key_written_twice_in_one_transaction_keeps_the_later(target: str) -> None:
    """Two upserts of one key in one transaction (a derived table and its own stream in one group): PostgreSQL
    orders them by command within the transaction."""
    opened = open_target(target)
    try:
        opened.prepare(BULK, recreate=False)
        with opened.transaction():
            first = opened.upsert(BULK, batch_from_rows([thing(1), thing(2)], BULK.columns))
            second = opened.upsert(BULK, [thing(2, Name="later"), thing(1)])
            settled = opened.flush(BULK)
        assert first + second + settled == UpsertCounts(2, 1, 1)
        assert stored(opened) == [(1, "thing 1"), (2, "later")]
    finally:
        opened.close()


def test_a_settle_rolled_back_is_made_again(target: str) -> None:
    """The transaction that settled the table failed: the table takes appends again, and the next flush settles
    it, counting what the rolled-back one would have."""
    opened = open_target(target)
    try:
        opened.prepare(BULK, recreate=False)
        with opened.transaction():
            opened.upsert(BULK, [thing(1), thing(2)])
        with contextlib.suppress(RuntimeError), opened.transaction():
            opened.upsert(BULK, [thing(2, Name="lost")])
            opened.flush(BULK)
            raise RuntimeError("refused")
        assert unsettled(opened) is not target.startswith("sqlite")
        counts = UpsertCounts()
        with opened.transaction():
            counts += opened.upsert(BULK, batch_from_rows([thing(2, Name="renamed")], BULK.columns))
        with opened.transaction():
            counts += opened.flush(BULK)
        assert counts == UpsertCounts(0, 1, 0)
        assert stored(opened) == [(1, "thing 1"), (2, "renamed")]
        assert not unsettled(opened)
    finally:
        opened.close()


def test_a_run_killed_before_its_stream_ended_is_settled_by_the_next(target: str) -> None:
    """Appended rows were committed (with their checkpoints), the flush never came: the next run's `prepare`
    keeps one row per key, the later, and gives the table its key before anything is written."""
    killed = open_target(target)
    killed.prepare(BULK, recreate=False)
    for rows in ([thing(1), thing(2)], [thing(2, Name="renamed"), thing(3)]):
        with killed.transaction():
            killed.upsert(BULK, batch_from_rows(rows, BULK.columns))
    killed.close()  # no flush
    again = open_target(target)
    try:
        assert not again.prepare(BULK, recreate=False).created
        assert not unsettled(again)
        assert stored(again) == [(1, "thing 1"), (2, "renamed"), (3, "thing 3")]
        with again.transaction():
            assert again.upsert(BULK, [thing(3), thing(4)]) + again.flush(BULK) == UpsertCounts(1, 0, 1)
        assert again.count(BULK) == 4
    finally:
        again.close()


def test_a_table_without_a_key_made_otherwise_is_left_as_it_is(target: str) -> None:
    """Only a table a run marked as it made it (FRESH_COMMENT) is settled by a later `prepare`: one made by hand
    without a key keeps every row it holds, duplicates included."""
    statements = [
        'CREATE TABLE "Things" ("Id" BIGINT, "Name" TEXT)',
        """INSERT INTO "Things" VALUES (1, 'a'), (1, 'b')""",
    ]
    if target.startswith("duckdb"):
        with duckdb.connect(duckdb_path(target)) as db:
            for statement in statements:
                db.execute(statement)
    else:
        with Copy(target).engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    opened = open_target(target)
    try:
        assert not opened.prepare(BULK, recreate=False).created
        assert opened.count(BULK) == 2
    finally:
        opened.close()
    assert Copy(target).primary_key("Things") == []
