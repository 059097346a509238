"""Comparing a copy with the API's data (expected.py), and the API's data at two moments with each other."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from .copies import Copy

KEYS = {"Campaigns": ("Id",), "CampaignMetrics": ("CampaignId",), "Catalogs": ("Name",),
        "CatalogItems": ("CatalogName", "ItemId"), "Channels": ("Id",), "Lists": ("Id",),
        "ListUsers": ("ListId", "Email"), "MessageTypes": ("Id",), "Templates": ("Id",), "Users": ("Email",),
        "UserFields": ("Name",), "InAppMessages": ("MessageId",)}  # fmt: skip


def freeze(value: Any) -> Any:
    """A value as a hashable one with the same equality (numbers stay numbers: 1 == 1.0)."""
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def keyed(table: str, rows: list[dict[str, Any]], columns: list[str] | None = None,
          without: frozenset[str] = frozenset()) -> dict[tuple[Any, ...], dict[str, Any]]:  # fmt: skip
    """Rows by primary key, projected on `columns` (missing ones None) and without `without`."""
    found = {}
    for row in rows:
        names = columns if columns is not None else list(row)
        found[tuple(row[k] for k in KEYS[table])] = {c: row.get(c) for c in names if c not in without}
    return found


def assert_table(
    copy: Copy,
    table: str,
    wanted: list[dict[str, Any]],
    without: frozenset[str] = frozenset(),
    rows: list[dict[str, Any]] | None = None,
) -> None:
    """The copy's table (or its `rows`, read already) holds exactly these rows (by key; every column the API has
    must exist)."""
    rows = copy.rows(table) if rows is None else rows
    columns = list(rows[0]) if rows else [c.name for c in copy.columns(table)]
    if table != "CampaignMetrics":  # a metric without a column of its own is in Metrics only
        for row in wanted:
            assert set(row) <= set(columns), f"{table}: no column for {set(row) - set(columns)}"
    expected = keyed(table, wanted, columns, without)
    assert len(expected) == len(wanted), f"{table}: the API served a key twice"
    found = keyed(table, rows, columns, without)
    assert sorted(found.keys(), key=repr) == sorted(expected.keys(), key=repr), f"{table}: keys differ"
    for key, row in expected.items():
        assert found[key] == row, f"{table} {key}"


def event_rows(rows: list[dict[str, Any]]) -> Counter[Any]:
    """Event rows as a multiset, without their Id (the export gives none for most)."""
    return Counter(freeze({k: v for k, v in r.items() if k != "Id"}) for r in rows)


def assert_events(
    copy: Copy, table: str, wanted: list[dict[str, Any]], rows: list[dict[str, Any]] | None = None
) -> None:
    rows = copy.rows(table) if rows is None else rows
    assert event_rows(rows) == event_rows(wanted), table
    own_ids = Counter(r["Id"] for r in wanted if r["Id"])  # Iterable's id where the record has one
    assert own_ids <= Counter(r["Id"] for r in rows), table
    assert all(isinstance(r["Id"], str) and r["Id"] for r in rows), table


@dataclass(frozen=True)
class Changes:
    inserted: int
    updated: int
    deleted: int


def changes(table: str, before: list[dict[str, Any]], after: list[dict[str, Any]],
            without: frozenset[str] = frozenset()) -> Changes:  # fmt: skip
    """What a replication must do to go from the API's `before` to its `after`."""
    old, new = keyed(table, before, without=without), keyed(table, after, without=without)
    return Changes(
        inserted=len(new.keys() - old.keys()),
        updated=sum(1 for k in new.keys() & old.keys() if new[k] != old[k]),
        deleted=len(old.keys() - new.keys()),
    )
