"""Replication of Iterable into SQLite, PostgreSQL or DuckDB, incremental and resumable (see runner.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iterbridge.replicate.runner import ReplicationReport, StreamProgress, StreamReport, replicate

__all__ = ["ReplicationReport", "StreamProgress", "StreamReport", "replicate"]


def __getattr__(name: str) -> Any:
    """The runner is imported when first used (it brings pyarrow): importing `replicate.targets` does not."""
    if name not in __all__:
        raise AttributeError(f"module 'iterbridge.replicate' has no attribute {name!r}")
    from iterbridge.replicate import runner

    return getattr(runner, name)
