"""Records that fail to apply — Iterable refuses them, or a database constraint does — go to the retry table
with the reason, are retried on the next run even if nothing changed, and leave it once fixed."""

from __future__ import annotations

import httpx2

import iterbridge
from helpers import FakeClock

from .support import Db, Remote, assert_converged, sync_items, totals


def calls_to(admin: httpx2.Client, endpoint: str) -> int:
    return sum(admin.get("/_sandbox/stats").json()["endpoints"].get(endpoint, {}).values())


def test_a_record_iterable_refuses_is_retried_until_fixed(
    conn: iterbridge.Connection, remote: Remote, db: Db, admin: httpx2.Client
) -> None:
    assert totals(sync_items(conn, db)) == {"database_creates": 25}
    db.put_item("good-1", {"name": "Fine"})
    db.put_item("bad-1", {"name": "Refused", "size.cm": 12})  # Iterable refuses field names with a period
    db.put_item("good-2", {"name": "Fine too"})
    db.put_item("sku-000001", {"name": "An edit in the same batch"})

    first = sync_items(conn, db)

    # The refused item sank its batch; the batch was split until the culprit was found: the rest went through.
    assert totals(first) == {"iterable_creates": 2, "iterable_updates": 1, "failed": 1}
    assert not first.ok
    assert first.left_to_retry == 1
    (failure,) = first.failures
    assert (failure.key, failure.side, failure.operation) == ("bad-1", "iterable", "create")
    assert "periods" in failure.reason
    retry = db.retries()
    assert list(retry) == ["bad-1"]
    assert retry["bad-1"]["side"] == "iterable"
    assert "size.cm" in retry["bad-1"]["reason"]
    assert retry["bad-1"]["attempts"] == 1
    items = remote.items()
    assert {"good-1", "good-2"} <= set(items)
    assert "bad-1" not in items
    assert "bad-1" not in db.map()

    # Nothing changed: it is sent again (and refused again).
    writes_before = calls_to(admin, "POST /api/catalogs/{catalogName}/items")
    second = sync_items(conn, db)
    assert calls_to(admin, "POST /api/catalogs/{catalogName}/items") == writes_before + 1
    assert totals(second) == {"failed": 1}
    assert db.retries()["bad-1"]["attempts"] == 2
    assert not second.ok

    # Fixed in the database: it goes through and leaves the retry table.
    db.put_item("bad-1", {"name": "Accepted now", "size_cm": 12})
    third = sync_items(conn, db)
    assert totals(third) == {"iterable_creates": 1}
    assert third.ok
    assert db.retries() == {}
    sync_items(conn, db)
    assert_converged(remote, db)


def test_a_database_constraint_failure_is_retried_until_fixed(
    conn: iterbridge.Connection, remote: Remote, db: Db, clock: FakeClock
) -> None:
    db.create_items_table({}, extra=' CHECK ("Size" < 1000)')  # the user's own rule: no big items
    assert totals(sync_items(conn, db)) == {"database_creates": 25}
    remote.put("big-item", {"name": "Too big for the database", "notes": "x" * 2000})
    remote.put("sku-000002", {"name": "A fine edit"})
    clock.advance(60)

    first = sync_items(conn, db)

    assert totals(first) == {"database_updates": 1, "failed": 1}  # the batch failed, then went item by item
    assert db.items()["sku-000002"] == {"name": "A fine edit"}
    retry = db.retries()
    assert list(retry) == ["big-item"]
    assert (retry["big-item"]["side"], retry["big-item"]["operation"]) == ("database", "create")
    assert retry["big-item"]["reason"]
    assert "big-item" not in db.items()

    second = sync_items(conn, db)  # unchanged on both sides: tried again
    assert totals(second) == {"failed": 1}
    assert db.retries()["big-item"]["attempts"] == 2

    remote.put("big-item", {"name": "Small enough now"})
    clock.advance(60)
    third = sync_items(conn, db)
    assert totals(third) == {"database_creates": 1}
    assert third.ok
    assert db.retries() == {}
    assert_converged(remote, db)


def test_a_failure_that_goes_away_by_itself_leaves_the_retry_table(
    conn: iterbridge.Connection, remote: Remote, sqlite_db: Db
) -> None:
    db = sqlite_db
    sync_items(conn, db)
    db.put_item("bad-2", {"a.b": 1})
    assert not sync_items(conn, db).ok
    db.delete_item("bad-2")  # the user gave up on it: nothing left to apply
    report = sync_items(conn, db)
    assert report.ok
    assert totals(report) == {}
    assert db.retries() == {}
    assert_converged(remote, db)
