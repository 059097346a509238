"""Later runs: edits and deletes on one side, on the other, on both (each conflict policy; with `newest` the
later change wins, timed by Iterable's LastModified and the database's change log or row timestamps)."""

from __future__ import annotations

import pytest

import iterbridge
from helpers import FakeClock

from .support import Db, Remote, assert_converged, sync_items, totals


@pytest.fixture
def synced(conn: iterbridge.Connection, remote: Remote, db: Db) -> Db:
    """Both sides in step: the database filled by a first run."""
    assert totals(sync_items(conn, db)) == {"database_creates": 25}
    return db


def settle(conn: iterbridge.Connection, db: Db, **options: object) -> None:
    """Runs until nothing is left to do (writes to Iterable are confirmed by the run after them)."""
    for _ in range(3):
        report = sync_items(conn, db, **options)
        if not report.plan:
            return
    raise AssertionError(f"the sync does not settle: {report.plan}")


def test_database_edits_go_to_iterable(conn: iterbridge.Connection, remote: Remote, synced: Db) -> None:
    synced.put_item("sku-000002", {"name": "Renamed in the database"})
    synced.put_item("new-in-db", {"name": "Added in the database", "price": 3})
    synced.delete_item("sku-000003")

    report = sync_items(conn, synced)

    assert totals(report) == {"iterable_updates": 1, "iterable_creates": 1, "iterable_deletes": 1}
    items = remote.items()
    assert items["sku-000002"] == {"name": "Renamed in the database"}
    assert items["new-in-db"] == {"name": "Added in the database", "price": 3}
    assert "sku-000003" not in items
    settle(conn, synced)
    assert_converged(remote, synced)


def test_iterable_edits_come_to_the_database(
    conn: iterbridge.Connection, remote: Remote, synced: Db, clock: FakeClock
) -> None:
    remote.put("sku-000004", {"name": "Renamed in Iterable"})
    remote.put("new-in-iterable", {"name": "Added in Iterable"})
    remote.delete("sku-000005")
    clock.advance(60)

    report = sync_items(conn, synced)

    assert totals(report) == {"database_updates": 1, "database_creates": 1, "database_deletes": 1}
    items = synced.items()
    assert items["sku-000004"] == {"name": "Renamed in Iterable"}
    assert items["new-in-iterable"] == {"name": "Added in Iterable"}
    assert "sku-000005" not in items
    assert "sku-000005" not in synced.map()
    assert totals(sync_items(conn, synced)) == {}
    assert_converged(remote, synced)


def test_a_key_deleted_on_both_sides_is_forgotten(conn: iterbridge.Connection, remote: Remote, synced: Db) -> None:
    synced.delete_item("sku-000006")
    remote.delete("sku-000006")
    report = sync_items(conn, synced)
    assert totals(report) == {}  # nothing to write on either side
    assert [(a.key, a.operation) for a in report.plan] == [("sku-000006", "forget")]
    assert "sku-000006" not in synced.map()
    assert_converged(remote, synced)


def test_edits_on_both_sides_alike_are_matched(conn: iterbridge.Connection, remote: Remote, synced: Db) -> None:
    same = {"name": "The same edit on both sides"}
    synced.put_item("sku-000007", same)
    remote.put("sku-000007", same)
    assert totals(sync_items(conn, synced)) == {"matched": 1}
    assert synced.conflicts() == []
    assert_converged(remote, synced)


@pytest.mark.parametrize("policy", ["iterable", "database", "newest"])
def test_conflicts_follow_the_policy(
    conn: iterbridge.Connection, remote: Remote, synced: Db, clock: FakeClock, policy: str
) -> None:
    remote.put("sku-000008", {"name": "Iterable's edit"})  # edited on both sides (the database's later)
    remote.delete("sku-000011")  # deleted in Iterable, edited in the database
    synced.delete_item("sku-000012")  # deleted in the database, edited in Iterable
    remote.put("sku-000012", {"name": "Edited in Iterable"})
    clock.advance(60)
    synced.put_item("sku-000008", {"name": "The database's edit"})
    synced.put_item("sku-000011", {"name": "Edited in the database"})

    report = sync_items(conn, synced, conflict=policy)

    expected = {
        "iterable": {"database_updates": 1, "database_deletes": 1, "database_creates": 1},  # Iterable's state
        "database": {"iterable_updates": 1, "iterable_creates": 1, "iterable_deletes": 1},  # the database's
        "newest": {"iterable_updates": 1, "iterable_creates": 1, "database_creates": 1},  # a change beats a delete
    }[policy]
    assert totals(report) == {**expected, "conflicts": 3}
    conflicts = {c["key"]: c for c in synced.conflicts()}
    assert set(conflicts) == {"sku-000008", "sku-000011", "sku-000012"}
    assert conflicts["sku-000008"]["iterable"] == {"name": "Iterable's edit"}
    assert conflicts["sku-000008"]["database"] == {"name": "The database's edit"}
    assert conflicts["sku-000011"]["iterable"] is None
    assert conflicts["sku-000012"]["database"] is None
    if policy != "newest":
        assert conflicts["sku-000008"]["resolution"] == f"conflict: {policy} wins (--conflict {policy})"
    settle(conn, synced, conflict=policy)
    items = assert_converged(remote, synced)
    assert items.get("sku-000008") == {"name": "Iterable's edit" if policy == "iterable" else "The database's edit"}
    assert items.get("sku-000011") == (None if policy == "iterable" else {"name": "Edited in the database"})
    assert items.get("sku-000012") == (None if policy == "database" else {"name": "Edited in Iterable"})
    assert len(synced.conflicts()) == 3  # each conflict logged once


def test_newest_lets_the_later_edit_win(
    conn: iterbridge.Connection, remote: Remote, synced: Db, clock: FakeClock
) -> None:
    remote.put("sku-000009", {"name": "Iterable, first"})
    synced.put_item("sku-000010", {"name": "Database, first"})
    clock.advance(60)  # a minute later on both clocks (Iterable's is the sandbox's, moved by the test)
    remote.put("sku-000010", {"name": "Iterable, later"})
    synced.put_item("sku-000009", {"name": "Database, later"})

    report = sync_items(conn, synced, conflict="newest")

    assert totals(report) == {"iterable_updates": 1, "database_updates": 1, "conflicts": 2}
    resolutions = {c["key"]: c["resolution"] for c in synced.conflicts()}
    assert resolutions["sku-000009"].startswith("conflict: database wins (newest")
    assert resolutions["sku-000010"].startswith("conflict: iterable wins (newest")
    settle(conn, synced)
    items = assert_converged(remote, synced)
    assert items["sku-000009"] == {"name": "Database, later"}
    assert items["sku-000010"] == {"name": "Iterable, later"}
