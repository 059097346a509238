"""Iterable applies catalog writes after a delay (the sandbox's `consistency_delay_s`): the run after a write
must not take Iterable's old content for a remote change, and once the writes land both sides agree."""

from __future__ import annotations

from datetime import timedelta

import httpx2

import iterbridge
from helpers import FakeClock

from .support import Db, Remote, assert_converged, sync_items, totals


def delay_writes(admin: httpx2.Client, seconds: float) -> None:
    admin.post("/_sandbox/faults", json={"consistency_delay_s": seconds}).raise_for_status()


def test_pending_writes_are_not_taken_for_remote_changes(
    conn: iterbridge.Connection, remote: Remote, db: Db, admin: httpx2.Client, clock: FakeClock
) -> None:
    sync_items(conn, db)
    before = remote.items()
    delay_writes(admin, 30)
    db.put_item("sku-000001", {"name": "Edited in the database"})
    db.put_item("new-1", {"name": "Created in the database"})
    db.delete_item("sku-000002")

    sent = sync_items(conn, db)
    assert totals(sent) == {"iterable_updates": 1, "iterable_creates": 1, "iterable_deletes": 1}
    assert remote.items() == before  # accepted, not applied yet
    pending = db.map()
    assert pending["sku-000001"]["pending_hash"] == pending["sku-000001"]["database_hash"]
    assert pending["sku-000002"]["pending_hash"] == "<deleted>"

    # Iterable still shows the old item, no new one, the deleted one: none of it is a remote change.
    for _ in range(2):
        clock.advance(10)
        quiet = sync_items(conn, db)
        assert totals(quiet) == {}
        assert quiet.plan == []
    items = db.items()
    assert items["sku-000001"] == {"name": "Edited in the database"}
    assert items["new-1"] == {"name": "Created in the database"}
    assert "sku-000002" not in items

    clock.advance(15)  # past the delay: the writes land
    landed = sync_items(conn, db)
    assert totals(landed) == {}
    assert sorted((a.key, a.operation) for a in landed.plan) == [
        ("new-1", "confirm"), ("sku-000001", "confirm"), ("sku-000002", "forget")
    ]  # fmt: skip
    assert sync_items(conn, db).plan == []
    assert_converged(remote, db)


def test_a_remote_edit_while_our_write_is_pending_still_counts(
    conn: iterbridge.Connection, remote: Remote, db: Db, admin: httpx2.Client, clock: FakeClock
) -> None:
    sync_items(conn, db)
    delay_writes(admin, 30)
    db.put_item("sku-000003", {"name": "Ours, pending"})
    sync_items(conn, db)
    clock.advance(5)
    remote.put("sku-000003", {"name": "Theirs, after ours"})  # lands 5 s after ours
    remote.put("sku-000004", {"name": "Theirs, elsewhere"})
    clock.advance(40)

    report = sync_items(conn, db)

    assert totals(report) == {"database_updates": 2}
    assert db.items()["sku-000003"] == {"name": "Theirs, after ours"}
    assert sync_items(conn, db).plan == []
    assert_converged(remote, db)


def test_a_write_that_does_not_land_in_time_is_sent_again(
    conn: iterbridge.Connection, remote: Remote, db: Db, admin: httpx2.Client, clock: FakeClock
) -> None:
    grace = timedelta(minutes=5)
    sync_items(conn, db, grace=grace)
    delay_writes(admin, 600)  # longer than the grace period
    db.put_item("sku-000005", {"name": "Slow to land"})
    db.delete_item("sku-000006")
    db.put_item("new-2", {"name": "Slow to appear"})
    assert totals(sync_items(conn, db, grace=grace)) == {"iterable_updates": 1, "iterable_deletes": 1,
                                                         "iterable_creates": 1}  # fmt: skip
    clock.advance(60)
    assert sync_items(conn, db, grace=grace).plan == []  # within the grace period: waiting

    clock.advance(300)
    again = sync_items(conn, db, grace=grace)
    assert totals(again) == {"iterable_updates": 1, "iterable_deletes": 1, "iterable_creates": 1}
    assert all(a.note.startswith("re-sent") for a in again.plan)
    assert len(db.items()) == 25  # the database kept its version throughout: nothing flipped back

    clock.advance(1000)  # both sendings land
    sync_items(conn, db, grace=grace)
    assert sync_items(conn, db, grace=grace).plan == []
    items = assert_converged(remote, db)
    assert items["sku-000005"] == {"name": "Slow to land"}
    assert "sku-000006" not in items
