"""Helpers for the connector's tests: connections with quick retries, and the sandbox's call counter (called
`Calls` here, the `calls` fixture's type)."""

from __future__ import annotations

from helpers import FAST_RETRY, Stats, connect_to

__all__ = ["FAST_RETRY", "Calls", "connect_to"]

Calls = Stats
