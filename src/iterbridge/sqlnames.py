"""The one way a name becomes an SQL identifier: quoted, with its closing quotes doubled — and the one way SQL
text holding such names reaches a DB-API driver that reads placeholders in it.

A column or table name can come from Iterable (a user field anyone with access can create, e.g. `we"ird` or
`50% off?`) or from a user: pasted into SQL unquoted or half-quoted it breaks the statement or changes its
meaning. Every place that builds SQL text from a name (the query engine's table declarations, the
conditions' SELECTs, the replication targets, the sync's store) quotes it here; SQLite, PostgreSQL and DuckDB
all read the standard form (double quotes).

A quoted name is the name and nothing else: no driver's escaping is in it (a quoted name is also passed as
data, e.g. to PostgreSQL's `to_regclass`). What a driver needs is done to the whole statement, once, as it is
sent (`for_driver`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from iterbridge.errors import QueryError

STANDARD = '""'  # the quote marks SQLite, PostgreSQL and DuckDB read (opening, closing)


def quote_name(name: str, marks: str = STANDARD) -> str:
    """An SQL identifier: `name` between the `marks` (another database's, e.g. MySQL's backticks), any closing
    mark in it doubled."""
    if "\x00" in name:
        raise QueryError(f"{name!r} cannot be an SQL name: it contains a NUL character")
    return marks[0] + name.replace(marks[1], marks[1] * 2) + marks[1]


def quote_names(names: Iterable[str]) -> str:
    """Names as a comma-separated list of identifiers."""
    return ", ".join(quote_name(name) for name in names)


def for_driver(sql: str, paramstyle: str, marks: str = STANDARD) -> str:
    """Our SQL text (names from `quote_name`, `?` as the placeholder) as a DB-API driver of `paramstyle` reads
    it when it parses the statement for placeholders. A `qmark` driver (sqlite3) reads it as written. A
    `format`/`pyformat` driver (psycopg) takes every `%` for a placeholder's start — in quoted names and string
    literals too, as it does not read SQL — so each is doubled, and each `?` outside names and literals
    becomes `%s` (a `?` in a name such as `what?` stays). `$1` or `:name` in a name is nothing to either.
    Only for statements the driver parses: psycopg parses a statement given parameters (even none, as
    SQLAlchemy's `exec_driver_sql` always does), not a `COPY` without parameters, which goes as written."""
    if paramstyle not in ("format", "pyformat"):
        return sql
    return _lexer(marks).sub(_format_token, sql)


@functools.cache
def _lexer(marks: str) -> re.Pattern[str]:
    """A quoted name, a string literal, a `?`, or a `%` — whichever comes first (so a `'` in a name, or a `"`
    in a literal, is read as part of it)."""
    opening, closing = re.escape(marks[0]), re.escape(marks[1])
    return re.compile(rf"{opening}(?:(?!{closing}).|{closing}{closing})*{closing}|'(?:[^']|'')*'|\?|%", re.DOTALL)


def _format_token(match: re.Match[str]) -> str:
    text = match.group()
    return "%s" if text == "?" else text.replace("%", "%%")
