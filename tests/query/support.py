"""Helpers shared by the SQL tests."""

from __future__ import annotations

from typing import Any

import iterbridge
from helpers import Stats, connect_to

__all__ = ["Stats", "column", "connect_to", "rows"]


def rows(conn: iterbridge.Connection, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    return list(conn.sql(sql, params))


def column(conn: iterbridge.Connection, sql: str, params: Any = None) -> list[Any]:
    return [row[0] for row in conn.sql(sql, params)]
