"""DuckDB's bulk tables: no primary key, batches staged and merged (targets.DuckDbTarget._stage_batch).

A replication's DuckDB tables are made without a primary key (an ART index that grows in memory and in time with
the table); batches wait in a stage table and are merged STAGE_ROWS at a time and when their stream ends, one
row per key, the last staged winning. These tests hold that to what the eager merge (and the rows path) stores,
through a killed run, and on a table an older version made with its primary key. The stage is for a table that
exists before the run: one the run makes is appended to (test_fresh_tables.py), so these tests make theirs
first."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from helpers import connect_to
from iterbridge.objects.arrow import batch_from_rows
from iterbridge.replicate import runner, targets
from iterbridge.replicate.runner import replicate
from iterbridge.replicate.targets import STAGE_SCHEMA, DuckDbTarget, TableSpec, Target, UpsertCounts, open_target
from iterbridge.sandbox import Sandbox

from .copies import Copy
from .test_batches import COLUMNS, CRASH_OBJECTS, OBJECTS, counts, small_steps, tables
from .test_runner import Crash, CrashingTarget, Proxy, run_with

SPEC = TableSpec("Staged", COLUMNS[:4], ("Id",), bulk=True)


def staged_rows(path: Path) -> dict[str, int]:
    """Rows waiting in each stage table of a DuckDB file."""
    with duckdb.connect(str(path), read_only=True) as db:
        names = [
            r[0]
            for r in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [STAGE_SCHEMA]
            ).fetchall()
        ]
        return {n: db.execute(f'SELECT count(*) FROM "{STAGE_SCHEMA}"."{n}"').fetchone()[0] for n in names}


def existing(path: Path, spec: TableSpec = SPEC) -> DuckDbTarget:
    """A target on a file where an earlier run made the table (its rows are staged, not appended)."""
    made = open_target(f"duckdb:///{path}")
    made.prepare(spec, recreate=False)
    made.close()
    target = open_target(f"duckdb:///{path}")
    assert isinstance(target, DuckDbTarget)
    return target


def stored(target: DuckDbTarget, table: str = "Staged") -> list[tuple[object, ...]]:
    return target.db.execute(f'SELECT "Id", "Text", "Count" FROM "{table}" ORDER BY "Id"').fetchall()


def test_staged_batches_count_and_store_once_merged(tmp_path: Path) -> None:
    target = existing(tmp_path / "staged.duckdb")
    try:
        assert not target.prepare(SPEC, recreate=False).created
        first = [{"Id": "a", "Text": "1", "Count": 1}, {"Id": "b", "Text": "1", "Count": 2}]
        again = [{"Id": "b", "Text": "2", "Count": 2}, {"Id": "c", "Text": None, "Count": None}]
        with target.transaction():
            assert target.upsert(SPEC, batch_from_rows(first, SPEC.columns)) == UpsertCounts()  # staged
            assert target.upsert(SPEC, batch_from_rows(again, SPEC.columns)) == UpsertCounts()
            assert stored(target) == []  # nothing merged yet
            # Four rows staged, three keys: "b" twice, the later one stored.
            assert target.flush(SPEC) == UpsertCounts(3, 0, 1)
        assert stored(target) == [("a", "1", 1), ("b", "2", 2), ("c", None, None)]
        assert target.flush(SPEC) == UpsertCounts()  # nothing waits
        with target.transaction():
            changed = [{"Id": "a", "Text": "1", "Count": 1}, {"Id": "c", "Text": "3", "Count": None}]
            target.upsert(SPEC, batch_from_rows(changed, SPEC.columns))
            # Dict rows are merged at once, after what was staged before them (older rows first).
            assert target.upsert(SPEC, [{"Id": "c", "Text": "4", "Count": 4}]) == UpsertCounts(0, 2, 1)
        assert stored(target) == [("a", "1", 1), ("b", "2", 2), ("c", "4", 4)]
        with pytest.raises(duckdb.ConstraintException):  # a key is never NULL: refused as it is staged
            target.upsert(SPEC, batch_from_rows([{"Id": None, "Text": "x"}], SPEC.columns))
        assert target.flush(SPEC) == UpsertCounts()
        assert len(stored(target)) == 3
    finally:
        target.close()
    assert staged_rows(tmp_path / "staged.duckdb") == {}  # empty stages are dropped at the end


def test_a_stage_a_merge_emptied_is_checkpointed_before_anything_more_is_staged(tmp_path: Path) -> None:
    """DuckDB keeps a deleted row group until a checkpoint: the stage's emptied groups are gone before the next
    transaction stages into it (large copies corrupted DuckDB's storage without it: ARCHITECTURE.md)."""
    target = existing(tmp_path / "staged.duckdb")

    def stage_groups() -> int:
        found = target.db.execute(
            f"SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('{STAGE_SCHEMA}.Staged')"
        ).fetchall()
        return int(found[0][0])

    try:
        target.prepare(SPEC, recreate=False)
        rows = [{"Id": str(n), "Text": "x" * 40, "Count": n} for n in range(5000)]
        with target.transaction():
            target.upsert(SPEC, batch_from_rows(rows, SPEC.columns))
        target.db.execute("CHECKPOINT")  # the staged rows written out: row groups in the stage's storage
        assert stage_groups() > 0
        with target.transaction():
            assert target.flush(SPEC) == UpsertCounts(5000, 0, 0)  # merged, the stage emptied
        assert stage_groups() > 0  # deleted, still stored
        with target.transaction():
            assert stage_groups() == 0  # checkpointed first
            target.upsert(SPEC, batch_from_rows(rows[:10], SPEC.columns))
        with target.transaction():
            assert stage_groups() > 0  # nothing emptied since: no checkpoint
        assert len(stored(target)) == 5000
    finally:
        target.close()


def test_a_replication_merging_many_times_stores_what_the_rows_path_stores(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Merges by STAGE_ROWS (here every 100 rows) and at each stream's end, twice over the same data: the same
    tables and counts as dict rows merged batch by batch."""
    monkeypatch.setattr(runner, "BATCH_ROWS", 40)
    monkeypatch.setattr(targets, "STAGE_ROWS", 100)
    staged, rows = (f"duckdb:///{tmp_path / name}" for name in ("staged.duckdb", "rows.duckdb"))
    with connect_to(sandbox) as conn:
        for run in range(2):
            by_batch = replicate(conn.session, staged, OBJECTS)
            by_rows = replicate(conn.session, rows, OBJECTS, columnar=False)
            assert by_batch.ok
            assert by_rows.ok
            assert counts(by_batch) == counts(by_rows)
            inserted = sum(s.inserted for s in by_batch.streams)
            assert inserted > 400 if run == 0 else inserted == 0
    copied = tables(staged)
    assert copied == tables(rows)
    assert sum(map(len, copied.values())) > 400
    assert staged_rows(tmp_path / "staged.duckdb") == {}


def test_rows_a_killed_run_staged_are_merged_by_the_next(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy, since = small_steps(monkeypatch)
    objects = CRASH_OBJECTS
    crashed, clean = tmp_path / "crashed.duckdb", tmp_path / "clean.duckdb"
    with connect_to(sandbox, window_policy=policy) as conn:
        counting = CrashingTarget(open_target(f"duckdb:///{clean}"), 0)
        assert run_with(conn, counting, objects, since=since, workers=2).ok
        with pytest.raises(Crash):  # the tables made, empty: the next run stages their rows
            run_with(conn, CrashingTarget(open_target(f"duckdb:///{crashed}"), 1), objects, since=since)
        crashing = CrashingTarget(open_target(f"duckdb:///{crashed}"), counting.transactions // 2)
        with pytest.raises(Crash):
            run_with(conn, crashing, objects, since=since, workers=2)
        waiting = staged_rows(crashed)
        assert sum(waiting.values()) > 0, waiting  # committed with their checkpoints, not merged yet
        assert Copy(f"duckdb:///{crashed}").state()
        assert run_with(conn, open_target(f"duckdb:///{crashed}"), objects, since=since, workers=2).ok
    assert tables(f"duckdb:///{crashed}") == tables(f"duckdb:///{clean}")
    assert staged_rows(crashed) == {}


def shown_limit(setting: str | None) -> str:
    """The memory limit as DuckDB shows it: DuckDB's default, or `setting`."""
    with duckdb.connect() as db:
        if setting:
            db.execute(f"SET memory_limit = '{setting}'")
        return str(db.execute("SELECT current_setting('memory_limit')").fetchone()[0])


class LimitRecorder(Proxy):
    """Notes the memory limit the run wrote under, as the target is closed."""

    def __init__(self, target: Target, limits: list[str]) -> None:
        super().__init__(target)
        self.limits = limits

    def close(self) -> None:
        assert isinstance(self.target, DuckDbTarget)
        self.limits.append(str(self.target.db.execute("SELECT current_setting('memory_limit')").fetchone()[0]))
        self.target.close()


def test_a_table_made_with_a_primary_key_keeps_it_and_is_written_at_once(sandbox: Sandbox, tmp_path: Path) -> None:
    """A copy an older version made (a primary key on every table) is written through its key's index, as
    before: nothing staged, the key kept, the same rows as a copy made now."""
    old, new = tmp_path / "old.duckdb", tmp_path / "new.duckdb"
    with connect_to(sandbox) as conn:
        columns = tuple(c for c in conn.columns("Events") if not c.import_only)
        made = open_target(f"duckdb:///{old}")
        made.prepare(TableSpec("Events_emailOpen", columns, ("Id",), "CreatedAt"), recreate=False)
        made.close()
        limits: list[str] = []
        for path in (old, new):
            report = run_with(conn, LimitRecorder(open_target(f"duckdb:///{path}"), limits), ["Events_emailOpen"])
            assert report.ok
            assert report.stream("Events_emailOpen").inserted > 10
    assert Copy(f"duckdb:///{old}").primary_key("Events_emailOpen") == ["Id"]
    # The new copy's cache is bounded; the old one's cannot be (its key's index is pinned to check the key).
    assert limits == [shown_limit(None), shown_limit(targets.DUCKDB_MEMORY_LIMIT)]
    assert Copy(f"duckdb:///{new}").primary_key("Events_emailOpen") == []
    assert tables(f"duckdb:///{old}") == tables(f"duckdb:///{new}")
