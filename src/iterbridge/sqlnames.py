"""The one way a name becomes an SQL identifier: double-quoted with its quotes doubled.

A column or table name can come from Iterable (a user field anyone with access can create, e.g. `we"ird`) or
from a user: pasted into SQL unquoted or half-quoted it breaks the statement or changes its meaning. Every
place that builds SQL text from a name (the query engine's table declarations, the conditions' SELECTs, the
replication targets) quotes it here; SQLite, PostgreSQL and DuckDB all read the standard form.
"""

from __future__ import annotations

from collections.abc import Iterable

from iterbridge.errors import QueryError


def quote_name(name: str) -> str:
    """An SQL identifier, double-quoted (the standard form SQLite, PostgreSQL and DuckDB all read)."""
    if "\x00" in name:
        raise QueryError(f"{name!r} cannot be an SQL name: it contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


def quote_names(names: Iterable[str]) -> str:
    """Names as a comma-separated list of identifiers."""
    return ", ".join(quote_name(name) for name in names)
