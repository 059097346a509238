"""SQL over Iterable objects: apsw virtual tables, CALL, RETURNING, EXPLAIN (see engine.py)."""

from __future__ import annotations

from iterbridge.query.engine import Cursor, Engine

__all__ = ["Cursor", "Engine"]
