"""Property: pushdown never changes an answer. For generated WHERE clauses over pushable and non-pushable
columns (=, IN, IS, <, <=, >, >=, LIKE, IS NULL, combined with AND; OR and NOT around them), the engine's
rows equal those of the same WHERE run by SQLite over a plain in-memory copy of the full table (read once,
with no WHERE, so nothing was pushed down)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iterbridge

from .support import rows


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    extra_values: dict[str, tuple[Any, ...]]  # values beyond those in the data: edge cases per column


# Pushable columns (ObjectDef.filters) mixed with local-only ones; extra values probe affinity and formats.
TABLES = {
    "Campaigns": Table(
        "Campaigns",
        ("Id", "CampaignState", "UpdatedAt", "TemplateId", "MessageMedium", "CreatedAt", "Type"),
        {
            "Id": ("7953300", 1.5, 7953246.0, None, "abc"),
            "CampaignState": ("running", "Nope", None, 5),
            "UpdatedAt": ("2026-08", "2026-08-01", "2026-08-01T00:00:00Z", "2026-09-15 12", 0, None, "zzz"),
            "TemplateId": (0, "2707566"),
            "CreatedAt": ("2026-07-01", "2026-07-01 00:00:00"),
        },
    ),
    "Templates": Table(
        "Templates",
        ("Id", "TemplateType", "MessageMedium", "CreatedAt", "Name", "CampaignId"),
        {
            "TemplateType": ("base", "Nope", None),
            "MessageMedium": ("email", "WebPush", None),
            "CreatedAt": ("2026-05", "2026-05-01", "2026-05-01T12:00:00", "2026-10-01 00:00:00.5", None),
            "Name": ("%template", "Win%"),
        },
    ),
    "Users": Table(
        "Users",
        ("Email", "UserId", "ProfileUpdatedAt", "SignupDate", "city", "loyaltyPoints", "lifetimeValue", "isVip"),
        {
            "Email": ("nobody@example.com", "ELIJAH.YOUNG0@EXAMPLE.NET", None, 42),
            "UserId": ("u9999999", None, 2),
            "ProfileUpdatedAt": ("2026-01", "2026-01-01", "2026-03-01T00:00:00+02:00", None),
            "loyaltyPoints": (1000, "1000", 999.5),
            "lifetimeValue": (500, 500.25, "500"),
            "isVip": (0, 1, True),
        },
    ),
}
EXAMPLES = {"Campaigns": 60, "Templates": 30, "Users": 60}
OPERATORS = ("=", "in", "is", "<", "<=", ">", ">=", "like", "is null", "is not null")


@dataclass
class Copy:
    """The whole table read through the engine with no WHERE (so nothing pushed down), in a plain SQLite
    table of the same declared types."""

    db: sqlite3.Connection
    data: list[tuple[Any, ...]]
    values: dict[str, list[Any]]  # each column's distinct values, plus the table's edge cases


def plain_copy(conn: iterbridge.Connection, table: Table) -> Copy:
    declared = {c.name: c.type.value for c in conn.columns(table.name)}
    quoted = ", ".join(f'"{c}"' for c in table.columns)
    data = rows(conn, f"SELECT {quoted} FROM {table.name}")
    assert data, f"{table.name} has rows"
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE TABLE {table.name} ({', '.join(f'{c!r} {declared[c]}' for c in table.columns)})")
    db.executemany(f"INSERT INTO {table.name} VALUES ({', '.join('?' for _ in table.columns)})", data)
    values = {
        name: sorted({row[i] for row in data}, key=repr) + list(table.extra_values.get(name, ()))
        for i, name in enumerate(table.columns)
    }
    return Copy(db, data, values)


@st.composite
def where_clauses(draw: st.DrawFn, table: Table, copy: Copy) -> tuple[str, list[Any]]:
    # Most constants come from one row, so branches of an OR and terms of an AND often meet on it.
    focus = draw(st.sampled_from(copy.data))

    def constant(name: str) -> Any:
        if draw(st.booleans()):
            return focus[table.columns.index(name)]
        return draw(st.sampled_from(copy.values[name]))

    def atom() -> tuple[str, list[Any]]:
        name = draw(st.sampled_from(table.columns))
        op = draw(st.sampled_from(OPERATORS))
        column = f'"{name}"'
        if op == "in":
            chosen = [constant(name) for _ in range(draw(st.integers(min_value=1, max_value=3)))]
            return f"{column} IN ({', '.join('?' for _ in chosen)})", chosen
        if op in ("is null", "is not null"):
            return f"{column} {op.upper()}", []
        if op == "like":
            return f"{column} LIKE ?", [f"%{str(constant(name))[1:4]}%"]
        return f"{column} {op.upper()} ?", [constant(name)]

    def term() -> tuple[str, list[Any]]:
        shape = draw(st.sampled_from(("atom", "atom", "atom", "not", "or")))
        text, params = atom()
        if shape == "not":
            return f"NOT ({text})", params
        if shape == "or":
            other, more = atom()
            return f"({text} OR {other})", params + more
        return text, params

    terms = [term() for _ in range(draw(st.integers(min_value=1, max_value=3)))]
    return " AND ".join(t for t, _ in terms), [p for _, ps in terms for p in ps]


def ordered(found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(found, key=repr)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_pushdown_gives_the_rows_of_a_full_scan_filtered_by_sqlite(conn: iterbridge.Connection, name: str) -> None:
    table = TABLES[name]
    copy = plain_copy(conn, table)
    quoted = ", ".join(f'"{c}"' for c in table.columns)
    checked: list[str] = []

    @settings(max_examples=EXAMPLES[name], deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(clause=where_clauses(table, copy))
    def check(clause: tuple[str, list[Any]]) -> None:
        where, params = clause
        sql = f"SELECT {quoted} FROM {table.name} WHERE {where}"
        expected = ordered(copy.db.execute(sql, params).fetchall())
        got = ordered(rows(conn, sql, params))
        assert got == expected, f"{sql} with {params!r}"
        checked.append(where)

    check()
    assert len(checked) >= 20


def _newest(copy: Copy, table: Table, column: str) -> tuple[Any, ...]:
    position = table.columns.index(column)
    return max(copy.data, key=lambda row: row[position] or "")


@pytest.mark.parametrize(
    ("name", "where", "params"),
    [
        # A timestamp with an offset: SQLite compares the text, the API would compare the instant.
        ("Campaigns", '"UpdatedAt" >= ?', lambda row: [f"{row[2][:10]} {int(row[2][11:13]) - 1:02d}:00:00-05:00"]),
        # 'T' sorts after ' ': as text, every row of that day is before it.
        ("Templates", '"CreatedAt" < ?', lambda row: [f"{row[3][:10]}T00:00:01"]),
        ("Templates", '"CreatedAt" <= ? AND "CreatedAt" > ?', lambda row: [row[3][:10], "2026-01"]),
        # Affinity: text and real constants against INTEGER columns, integers against TEXT ones.
        ("Campaigns", '"Id" = ?', lambda row: [str(row[0])]),
        ("Campaigns", '"Id" IN (?, ?, ?)', lambda row: [float(row[0]), "x", None]),
        ("Campaigns", '"Id" IN (?, ?)', lambda row: [row[0] + 0.5, row[0]]),
        ("Users", '"UserId" IN (?, ?)', lambda row: [None, row[1]]),
        ("Users", '"UserId" IS ?', lambda row: [None]),
        ("Users", '"Email" = ? COLLATE NOCASE', lambda row: [row[0].upper()]),
        ("Users", '"Email" = ? OR "UserId" = ?', lambda row: [row[0], row[1]]),
        ("Users", 'NOT ("Email" <> ?)', lambda row: [row[0]]),
        ("Templates", '"MessageMedium" = ? COLLATE NOCASE AND "TemplateType" IS ?', lambda row: ["email", "Base"]),
    ],
)
def test_pushdown_edge_cases(
    conn: iterbridge.Connection, name: str, where: str, params: Callable[[tuple[Any, ...]], list[Any]]
) -> None:
    table = TABLES[name]
    copy = plain_copy(conn, table)
    anchor_column = {"Campaigns": "UpdatedAt", "Templates": "CreatedAt", "Users": "UserId"}[name]
    values = params(_newest(copy, table, anchor_column))
    quoted = ", ".join(f'"{c}"' for c in table.columns)
    sql = f"SELECT {quoted} FROM {table.name} WHERE {where}"
    expected = ordered(copy.db.execute(sql, values).fetchall())
    assert expected, f"the case selects something: {sql} {values!r}"
    assert ordered(rows(conn, sql, values)) == expected
