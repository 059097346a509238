"""Property: any interleaving of creates, updates and deletes on both sides (Iterable through the API, the
database through SQL) and sync runs — with or without Iterable's write delay, under any policy — ends, once
the writes have landed, with both sides equal, a consistent map, and a sync with nothing left to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iterbridge
from helpers import FakeClock
from iterbridge.sync.engine import PENDING_GRACE

from .support import Db, Remote, assert_converged, sync_items

CATALOG = "empty-catalog"  # the sandbox's catalog without items: every key comes from the test
STREAM = f"CatalogItems:{CATALOG}"
KEYS = st.sampled_from(["k0", "k1", "k2", "k3"])
VALUES = st.fixed_dictionaries({"v": st.integers(0, 3)}, optional={"w": st.sampled_from(["x", "y"])})
STEPS = st.one_of(
    st.tuples(st.just("iterable put"), KEYS, VALUES),
    st.tuples(st.just("iterable delete"), KEYS),
    st.tuples(st.just("database put"), KEYS, VALUES),
    st.tuples(st.just("database delete"), KEYS),
    st.tuples(st.just("sync")),
    st.tuples(st.just("wait"), st.integers(1, 40)),
)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEPS, max_size=14), policy=st.sampled_from(["iterable", "database", "newest"]),
       delay=st.sampled_from([0, 30]))  # fmt: skip
def test_random_interleavings_converge(
    conn: iterbridge.Connection,
    admin: httpx2.Client,
    clock: FakeClock,
    tmp_path: Path,
    steps: list[tuple[Any, ...]],
    policy: str,
    delay: int,
) -> None:
    admin.post("/_sandbox/reset").raise_for_status()
    clock.now_ms = FakeClock().now_ms
    admin.post("/_sandbox/faults", json={"consistency_delay_s": delay}).raise_for_status()
    path = tmp_path / "property.db"
    path.unlink(missing_ok=True)
    db = Db("sqlite", f"sqlite:///{path}", path)
    remote = Remote(conn)
    try:
        sync_items(conn, db, catalog=CATALOG, conflict=policy)  # the table, empty
        for step in steps:
            if step[0] == "iterable put":
                remote.put(step[1], step[2], CATALOG)
            elif step[0] == "iterable delete":
                remote.delete(step[1], CATALOG)
            elif step[0] == "database put":
                db.put_item(step[1], step[2], CATALOG)
            elif step[0] == "database delete":
                db.delete_item(step[1], CATALOG)
            elif step[0] == "sync":
                assert sync_items(conn, db, catalog=CATALOG, conflict=policy).ok
            else:
                clock.advance(step[1])
        # Let every write land; past the grace period, a write of the sync's that Iterable does not show (it
        # may have been deleted there meanwhile: Iterable cannot tell) is sent again.
        clock.advance(PENDING_GRACE.total_seconds() + delay + 1)
        for _ in range(3):
            last = sync_items(conn, db, catalog=CATALOG, conflict=policy)
            assert last.ok
            clock.advance(delay + 1)
        assert last.plan == []
        assert_converged(remote, db, CATALOG, STREAM)
    finally:
        db.close()
