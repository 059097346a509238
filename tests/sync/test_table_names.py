"""Any `--table` name works on every database: quotes and `$$` stay data (in the change-log triggers too), and
a name longer than PostgreSQL's 63 bytes is mapped by the target's one identifier function, the same on every
run, so a second run finds its table, its triggers and its index again."""

from __future__ import annotations

import pytest

import iterbridge
from iterbridge.replicate.targets import PG_IDENTIFIER_BYTES, identifier

from .support import Db, Remote, sync_items, totals

NAMES = [
    "it's a $$ table",
    "50% off? yes",
    "catalog_items_of_the_spring_and_summer_collection_2026_édition_for_the_shops",
]


@pytest.mark.parametrize("table", NAMES)
def test_any_table_name_syncs_both_ways(conn: iterbridge.Connection, remote: Remote, db: Db, table: str) -> None:
    first = sync_items(conn, db, table=table)
    assert totals(first) == {"database_creates": 25}
    stored = identifier(table, PG_IDENTIFIER_BYTES if db.kind == "postgresql" else None)
    assert len(db.items(table=stored)) == 25

    db.put_item("sku-000001", {"name": "Edited in the database"}, table=stored)
    if db.kind != "duckdb":  # the trigger logs the user's edit under the table's name
        assert db.changes() == [(table, ("products", "sku-000001"), "update")]
    second = sync_items(conn, db, table=table)
    assert totals(second) == {"iterable_updates": 1}
    assert remote.items()["sku-000001"] == {"name": "Edited in the database"}
    assert db.changes() == []  # used, then forgotten
    assert totals(sync_items(conn, db, table=table)) == {}
