"""--dry-run: the plan (creates, updates, deletes, conflicts per side), and nothing changed on either side —
no write call to Iterable, no row, map entry or log entry in the database."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx2

import iterbridge
from helpers import FakeClock

from .support import Db, Remote, sync_items, totals


def writes_made(admin: httpx2.Client) -> dict[str, int]:
    endpoints = admin.get("/_sandbox/stats").json()["endpoints"]
    return {e: sum(s.values()) for e, s in endpoints.items() if not e.startswith("GET ")}


def database_state(db: Db) -> dict[str, Any]:
    return {
        "items": db.items(),
        "map": db.map(),
        "conflicts": db.conflicts(),
        "retries": db.retries(),
        "changes": db.changes(),
        "state": db.sql("SELECT stream, state FROM _iterbridge_state ORDER BY stream"),
    }


def test_the_plan_changes_nothing(
    conn: iterbridge.Connection, remote: Remote, db: Db, admin: httpx2.Client, clock: FakeClock
) -> None:
    sync_items(conn, db)
    db.put_item("sku-000001", {"name": "Edited in the database"})
    db.put_item("new-in-db", {"name": "Created in the database"})
    db.delete_item("sku-000002")
    remote.put("sku-000003", {"name": "Edited in Iterable"})
    remote.put("new-in-iterable", {"name": "Created in Iterable"})
    remote.delete("sku-000004")
    remote.put("sku-000005", {"name": "Iterable's side of a conflict"})
    clock.advance(60)
    db.put_item("sku-000005", {"name": "The database's side of a conflict"})
    iterable_before = remote.items()
    database_before = database_state(db)
    writes_before = writes_made(admin)

    plan = sync_items(conn, db, dry_run=True)

    assert plan.dry_run
    expected = {
        "iterable_updates": 2,  # sku-000001, and sku-000005 (the database's edit is the newer)
        "iterable_creates": 1,
        "iterable_deletes": 1,
        "database_updates": 1,
        "database_creates": 1,
        "database_deletes": 1,
        "conflicts": 1,
    }
    assert totals(plan) == expected
    assert (plan.to_iterable.conflicts, plan.to_database.conflicts) == (1, 0)
    assert {(a.key, a.target, a.operation) for a in plan.plan} == {
        ("sku-000001", "iterable", "update"),
        ("new-in-db", "iterable", "create"),
        ("sku-000002", "iterable", "delete"),
        ("sku-000005", "iterable", "update"),
        ("sku-000003", "database", "update"),
        ("new-in-iterable", "database", "create"),
        ("sku-000004", "database", "delete"),
    }
    assert writes_made(admin) == writes_before  # reads only
    assert remote.items() == iterable_before
    assert database_state(db) == database_before

    done = sync_items(conn, db)  # the real run does what the plan said
    assert totals(done) == expected
    assert {(a.key, a.target, a.operation) for a in done.plan} == {(a.key, a.target, a.operation) for a in plan.plan}


def test_a_dry_run_on_an_empty_database_creates_nothing(conn: iterbridge.Connection, db: Db) -> None:
    plan = sync_items(conn, db, dry_run=True)
    assert totals(plan) == {"database_creates": 25}
    for table in ("CatalogItems", "_iterbridge_sync_map", "_iterbridge_sync_conflicts", "_iterbridge_sync_retries",
                  "_iterbridge_changes"):  # fmt: skip
        assert not db.exists(table), table


def test_a_dry_run_on_a_new_database_creates_no_file_and_no_table(conn: iterbridge.Connection, db: Db) -> None:
    """Not even the state table, the lock file or (SQLite, DuckDB) the database file itself."""
    plan = sync_items(conn, db, dry_run=True)
    assert totals(plan) == {"database_creates": 25}
    if db.path is not None:
        assert sorted(p.name for p in db.path.parent.iterdir() if p.name.startswith(db.path.name)) == []
    else:
        here = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        assert db.sql(here) == []


def test_a_dry_run_leaves_an_existing_sqlite_database_as_it_was(conn: iterbridge.Connection, sqlite_db: Db) -> None:
    sync_items(conn, sqlite_db)
    sqlite_db.put_item("sku-000001", {"name": "Edited in the database"})
    sqlite_db.close()
    assert sqlite_db.path is not None

    def dump() -> list[str]:
        with sqlite3.connect(f"file:{sqlite_db.path}?mode=ro", uri=True) as reader:
            return list(reader.iterdump())

    before = dump()
    plan = sync_items(conn, sqlite_db, dry_run=True)
    assert totals(plan) == {"iterable_updates": 1}
    assert dump() == before
