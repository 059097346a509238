"""Two-way synchronisation of CatalogItems and Templates with a database table (see engine.py)."""

from __future__ import annotations

from iterbridge.sync.engine import SyncReport, sync

__all__ = ["SyncReport", "sync"]
