"""The first run with both sides non-empty and overlapping: equal content is matched, different content is a
conflict resolved by the policy, a key on one side only is created on the other; the map then holds every
key with its Iterable id."""

from __future__ import annotations

import pytest

import iterbridge

from .support import CATALOG, Db, Remote, assert_converged, sync_items, totals


@pytest.mark.parametrize("policy", ["iterable", "database", "newest"])
def test_overlapping_sides_are_matched_not_copied(
    conn: iterbridge.Connection, remote: Remote, db: Db, policy: str
) -> None:
    before = remote.items()
    assert len(before) == 25
    database_version = {"name": "Edited in the database", "price": 1.5}
    db.create_items_table({
        "sku-000001": before["sku-000001"],  # the same content: matched
        "sku-000002": database_version,  # different: a conflict
        "db-only-1": {"name": "Only in the database", "tags": ["a", "b"]},
        "db-only-2": {"name": "Also only in the database", "nested": {"x": 1}},
    })  # fmt: skip

    report = sync_items(conn, db, conflict=policy)

    database_wins = policy in ("database", "newest")  # newest: the row was stamped now, Iterable's long ago
    expected = {"iterable_creates": 2, "database_creates": 23, "matched": 1, "conflicts": 1}
    expected["iterable_updates" if database_wins else "database_updates"] = 1
    assert totals(report) == expected
    assert report.ok
    assert report.left_to_retry == 0
    (conflict,) = db.conflicts()
    assert conflict["key"] == "sku-000002"
    assert conflict["iterable"] == before["sku-000002"]
    assert conflict["database"] == database_version
    assert ("database wins" if database_wins else "iterable wins") in conflict["resolution"]

    # The writes to Iterable are confirmed by the next run; nothing else happens.
    second = sync_items(conn, db, conflict=policy)
    assert totals(second) == {}
    assert {(a.operation, a.target) for a in second.plan} <= {("confirm", "map")}
    assert totals(sync_items(conn, db, conflict=policy)) == {}
    items = assert_converged(remote, db)
    assert len(items) == 27
    assert items["sku-000002"] == (database_version if database_wins else before["sku-000002"])
    assert items["db-only-1"] == {"name": "Only in the database", "tags": ["a", "b"]}
    assert len(db.conflicts()) == 1


def test_a_new_table_is_created_with_the_replication_schema(
    conn: iterbridge.Connection, remote: Remote, db: Db
) -> None:
    report = sync_items(conn, db)
    assert totals(report) == {"database_creates": 25}
    assert db.exists("CatalogItems")
    assert db.exists("_iterbridge_sync_map")
    assert db.exists("_iterbridge_sync_conflicts")
    assert db.exists("_iterbridge_sync_retries")
    assert db.exists("_iterbridge_changes") == (db.kind != "duckdb")  # DuckDB has no triggers
    columns = {
        r[0]
        for r in db.sql('SELECT "CatalogName", "ItemId", "Size" FROM "CatalogItems" WHERE "LastModified" IS NOT NULL')
    }
    assert columns == {CATALOG}
    assert_converged(remote, db)
    assert db.changes() == []  # the sync's own writes are not logged as user changes


def test_a_table_made_by_replication_is_synced_in_place(conn: iterbridge.Connection, remote: Remote, db: Db) -> None:
    replicated = conn.replicate(db.url, ["CatalogItems"])
    assert not replicated.failed
    copied = db.items()
    assert len(copied) == 25
    assert len(db.items("stores")) == 5  # every catalog's items: the sync of one leaves the others alone
    db.put_item("sku-000003", {"name": "Edited after replication"})

    report = sync_items(conn, db, conflict="database")
    assert totals(report) == {"matched": 24, "conflicts": 1, "iterable_updates": 1}
    sync_items(conn, db)
    assert_converged(remote, db)
    assert len(db.items("stores")) == 5


def test_other_catalogs_are_not_touched(conn: iterbridge.Connection, remote: Remote, db: Db) -> None:
    sync_items(conn, db)
    stores = sync_items(conn, db, catalog="stores")
    assert totals(stores) == {"database_creates": 5}
    db.delete_item("sku-000004")
    assert totals(sync_items(conn, db, catalog="stores")) == {}  # not its catalog
    assert "sku-000004" in remote.items()
    assert totals(sync_items(conn, db)) == {"iterable_deletes": 1}
