"""Fixtures for the connector's tests: a connection to the shared sandbox, and the sandbox's call counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

import iterbridge
from iterbridge.api.client import RetryPolicy
from iterbridge.sandbox import Sandbox

FAST_RETRY = RetryPolicy(wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0)


def connect_to(sandbox: Sandbox, **options: Any) -> iterbridge.Connection:
    """A connection to a sandbox with its limits off and tiny retry waits."""
    settings: dict[str, Any] = {"rate_limit_factor": None, "retry": FAST_RETRY}
    settings.update(options)
    return iterbridge.connect(api_key=sandbox.api_key, base_url=sandbox.url, **settings)


@pytest.fixture
def conn(sandbox: Sandbox) -> Iterator[iterbridge.Connection]:
    """A fresh connection to the shared sandbox (reset for this test)."""
    with connect_to(sandbox) as connection:
        yield connection


@dataclass
class Calls:
    """The sandbox's per-endpoint call counts (GET /_sandbox/stats)."""

    admin: httpx2.Client

    def snapshot(self) -> dict[str, dict[str, int]]:
        endpoints: dict[str, dict[str, int]] = self.admin.get("/_sandbox/stats").json()["endpoints"]
        return endpoints

    def total(self) -> int:
        return int(self.admin.get("/_sandbox/stats").json()["total"])

    def count(self, endpoint: str, status: int | None = None) -> int:
        statuses = self.snapshot().get(endpoint, {})
        return sum(statuses.values()) if status is None else statuses.get(str(status), 0)

    def by_endpoint(self) -> dict[str, int]:
        return {endpoint: sum(statuses.values()) for endpoint, statuses in self.snapshot().items()}

    @contextmanager
    def counting(self) -> Iterator[dict[str, int]]:
        """Calls per endpoint made inside the block (filled in when it ends)."""
        before = self.by_endpoint()
        made: dict[str, int] = {}
        yield made
        after = self.by_endpoint()
        made.update({e: n - before.get(e, 0) for e, n in after.items() if n != before.get(e, 0)})

    def faults(self, **settings: Any) -> None:
        self.admin.post("/_sandbox/faults", json=settings).raise_for_status()


@pytest.fixture
def calls(sandbox: Sandbox, admin: httpx2.Client) -> Calls:
    return Calls(admin)
