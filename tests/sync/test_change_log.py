"""The change log (SQLite, PostgreSQL): triggers log every connection's writes but the sync's own — marked on
its connection, not in a shared table, so a user writing while a sync runs is logged, and a killed sync leaves
nothing behind. A row a user changes while the sync is writing it is left for the next run, not overwritten."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import iterbridge
from iterbridge.objects import get_object
from iterbridge.replicate.targets import TableSpec
from iterbridge.sync.store import SyncStore

from .support import Db, Remote, assert_converged, sync_items, totals


@pytest.fixture(params=["sqlite", "postgresql"])
def logged_db(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    from .support import make_db

    database = make_db(request.param, tmp_path, request)
    yield database
    database.close()


def items_spec(conn: iterbridge.Connection) -> TableSpec:
    obj = get_object("CatalogItems")
    return TableSpec("CatalogItems", conn.columns(obj), obj.keys, "LastModified")


def row(item: str) -> dict[str, Any]:
    return {"CatalogName": "products", "ItemId": item, "Size": 2, "Value": {}}


def test_only_other_connections_writes_are_logged(conn: iterbridge.Connection, logged_db: Db) -> None:
    db = logged_db
    if db.kind == "sqlite":
        db.sql("PRAGMA trusted_schema = OFF")  # as careful applications set it: the triggers must still work
    store = SyncStore(db.url)
    try:
        spec = items_spec(conn)
        store.prepare(spec)
        with store.transaction():
            store.upsert(spec, [row("by-the-sync")])
        # A user, while the sync's connection is open (between two of its transactions):
        db.sql('UPDATE "CatalogItems" SET "Size" = 3 WHERE "ItemId" = ?', "by-the-sync")
        db.put_item("by-a-user", {"a": 1})
        with store.transaction():
            store.delete(spec, [{"CatalogName": "products", "ItemId": "by-a-user"}])
        assert db.changes() == [
            ("CatalogItems", ("products", "by-the-sync"), "update"),
            ("CatalogItems", ("products", "by-a-user"), "insert"),
        ]
    finally:
        store.close()


def test_a_killed_sync_leaves_the_triggers_working(conn: iterbridge.Connection, logged_db: Db) -> None:
    db = logged_db
    sync_items(conn, db, catalog="stores")
    killed = subprocess.run(
        [sys.executable, "-c", "import os, signal\nfrom iterbridge.sync.store import SyncStore\n"
         f"store = SyncStore({db.url!r})\nstore.execute('DELETE FROM \"CatalogItems\"')\n"
         "os.kill(os.getpid(), signal.SIGKILL)"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert killed.returncode == -9
    assert len(db.items("stores")) == 5  # the killed transaction was not committed
    db.put_item("store-000001", {"name": "A user's edit after the crash"}, catalog="stores")
    assert db.changes() == [("CatalogItems", ("stores", "store-000001"), "update")]


def test_a_row_changed_during_the_sync_is_not_overwritten(
    conn: iterbridge.Connection, remote: Remote, logged_db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = logged_db
    sync_items(conn, db)
    remote.put("sku-000001", {"name": "Iterable's edit"})
    remote.put("sku-000002", {"name": "Another edit in Iterable"})
    upsert = SyncStore.upsert

    def user_writes_first(store: SyncStore, spec: TableSpec, rows: Any) -> None:
        if not getattr(user_writes_first, "done", False):
            user_writes_first.done = True  # type: ignore[attr-defined]
            db.put_item("sku-000001", {"name": "A user's edit during the sync"})
        upsert(store, spec, rows)

    monkeypatch.setattr(SyncStore, "upsert", user_writes_first)
    report = sync_items(conn, db)
    monkeypatch.undo()

    assert totals(report) == {"database_updates": 1}  # sku-000002 only
    assert report.skipped == ["sku-000001: changed in the database during the sync; synced next run"]
    assert db.items()["sku-000001"] == {"name": "A user's edit during the sync"}
    assert db.items()["sku-000002"] == {"name": "Another edit in Iterable"}

    following = sync_items(conn, db, conflict="database")  # both changed: the policy decides, nothing lost
    assert totals(following) == {"iterable_updates": 1, "conflicts": 1}
    sync_items(conn, db)
    assert assert_converged(remote, db)["sku-000001"] == {"name": "A user's edit during the sync"}


def test_used_entries_leave_the_log(conn: iterbridge.Connection, remote: Remote, logged_db: Db) -> None:
    db = logged_db
    sync_items(conn, db)
    sync_items(conn, db, catalog="stores")
    db.put_item("sku-000003", {"name": "Edited"})
    db.put_item("store-000002", {"name": "Edited"}, catalog="stores")
    db.put_item("bad-one", {"x.y": 1})
    assert len(db.changes()) == 3
    sync_items(conn, db)
    # The other catalog's entry waits for its own sync; the failed one for its retry.
    assert [key for _, key, _ in db.changes()] == [("stores", "store-000002"), ("products", "bad-one")]
