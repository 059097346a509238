"""Helpers shared by the SQL tests."""

from __future__ import annotations

from typing import Any

import iterbridge
from iterbridge.api.client import RetryPolicy
from iterbridge.sandbox import Sandbox

FAST_RETRY = RetryPolicy(wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0)


def connect_to(sandbox: Sandbox, **options: Any) -> iterbridge.Connection:
    settings: dict[str, Any] = {"rate_limit_factor": None, "retry": FAST_RETRY}
    settings.update(options)
    return iterbridge.connect(api_key=sandbox.api_key, base_url=sandbox.url, **settings)


def rows(conn: iterbridge.Connection, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    return list(conn.sql(sql, params))


def column(conn: iterbridge.Connection, sql: str, params: Any = None) -> list[Any]:
    return [row[0] for row in conn.sql(sql, params)]
