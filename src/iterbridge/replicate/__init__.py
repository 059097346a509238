"""Replication of Iterable into SQLite, PostgreSQL or DuckDB, incremental and resumable (see runner.py)."""

from __future__ import annotations

from iterbridge.replicate.runner import ReplicationReport, StreamProgress, StreamReport, replicate

__all__ = ["ReplicationReport", "StreamProgress", "StreamReport", "replicate"]
