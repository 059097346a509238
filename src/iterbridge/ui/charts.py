"""Events per day by type, for the console's chart: from a replicated copy, or from the API (its EXPLAIN first).

The object is found in the catalog, not named: the one copied as a table per value of a column (`split`) with
an incremental cursor. Read from the API it is one read-only SQL statement over that object (SQLite counts per
day of the cursor and per value), its range pushed to the export; read from a copy, each of the object's
tables the database's `_iterbridge_state` lists is counted per day of its cursor column, in the database.
Every name in SQL text comes from the catalog through `sqlnames.quote_name` (or the target's `quote`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from iterbridge.errors import QueryError
from iterbridge.objects import OBJECTS
from iterbridge.objects.base import ObjectDef
from iterbridge.objects.facts import TableSplit
from iterbridge.replicate.targets import sqlite_timestamp
from iterbridge.sqlnames import quote_name

MAX_DAYS = 366


def split_object() -> tuple[ObjectDef, TableSplit, str]:
    """The object whose rows are counted (copied one table per value of a column, with a cursor), its split
    and its cursor column."""
    for obj in OBJECTS.values():
        if obj.split is not None and obj.cursor is not None:
            return obj, obj.split, obj.cursor
    raise QueryError("the catalog has no object copied as one table per type")


def day_range(start: str, end: str) -> tuple[datetime, datetime]:
    """[start, end] as whole UTC days: the moments from the start of the first to the end of the last."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except (TypeError, ValueError):
        raise QueryError(f"expected days like 2026-10-01, not {start!r} and {end!r}") from None
    if last < first:
        raise QueryError("the range ends before it starts")
    if (last - first).days >= MAX_DAYS:
        raise QueryError(f"a range of at most {MAX_DAYS} days")
    return datetime.combine(first, time(), UTC), datetime.combine(last + timedelta(days=1), time(), UTC)


def api_sql() -> str:
    """The statement that counts the object's rows per day and value, over the API, for :start and :end."""
    obj, split, column = split_object()
    cursor, kind = quote_name(column), quote_name(split.column)
    return (
        f"SELECT date({cursor}) AS day, {kind} AS type, count(*) AS events FROM {quote_name(obj.name)} "
        f"WHERE {cursor} >= :start AND {cursor} < :end GROUP BY 1, 2 ORDER BY 1, 2"
    )


def api_params(start: datetime, end: datetime) -> dict[str, Any]:
    return {"start": start.strftime("%Y-%m-%d %H:%M:%S"), "end": end.strftime("%Y-%m-%d %H:%M:%S")}


def copy_counts(store: Any, start: datetime, end: datetime) -> Iterator[tuple[str, str, int]]:
    """(day, value, count) from a copy: each table of the object the copy's state lists, counted in the
    database. `store` is a `sync.store.SyncStore` opened read-only (its target and dialect)."""
    obj, split, cursor = split_object()
    tables = {split.table(obj.name, value): value for value in split.values}
    quote = store.target.quote
    column = quote(cursor)
    day = f"substr({column}, 1, 10)" if store.dialect == "sqlite" else f"CAST({column} AS DATE)"
    low, high = (sqlite_timestamp(start), sqlite_timestamp(end)) if store.dialect == "sqlite" else (start, end)
    for table in sorted(store.target.read_state()):
        if table not in tables:
            continue
        sql = f"SELECT {day}, count(*) FROM {quote(table)} WHERE {column} >= ? AND {column} < ? GROUP BY 1 ORDER BY 1"
        for found_day, count in store.query(sql, [low, high]):
            yield str(found_day)[:10], tables[table], int(count)
