"""Item values of every JSON kind survive the trip through each database (SQLite's JSON text, PostgreSQL's
JSONB, DuckDB's JSON) both ways, and read back equal: no false change on the next run."""

from __future__ import annotations

from typing import Any

import iterbridge
from helpers import FakeClock

from .support import Db, Remote, assert_converged, sync_items, totals

VALUES: dict[str, Any] = {
    "kinds": {"text": "naïve café ✓ \"quoted\" \\ back", "int": 42, "big": 2**53 + 1, "negative": -7,
              "float": 155.77, "tiny": 1e-7, "whole-float": 2.0, "yes": True, "no": False, "nothing": None},
    "nested": {"a": {"b": {"c": [1, {"d": []}, "x"]}}, "list": [[], {}, [1, 2.5, "3"]]},
    "empty": {},
    "keys-in-any-order": {"z": 1, "a": 2, "m": {"y": 1, "b": 2}},
}  # fmt: skip


def test_values_survive_both_ways(conn: iterbridge.Connection, remote: Remote, db: Db, clock: FakeClock) -> None:
    for item, value in VALUES.items():
        remote.put(f"from-iterable-{item}", value)
    clock.advance(1)
    assert totals(sync_items(conn, db)) == {"database_creates": 25 + len(VALUES)}
    for item, value in VALUES.items():
        db.put_item(f"from-db-{item}", value)
    assert totals(sync_items(conn, db)) == {"iterable_creates": len(VALUES)}
    sync_items(conn, db)
    assert sync_items(conn, db).plan == []  # read back, everything hashes as it did
    items = assert_converged(remote, db)
    for item, value in VALUES.items():
        assert items[f"from-iterable-{item}"] == value
        assert items[f"from-db-{item}"] == value
