"""Fixtures for the SQL tests: a connection to the shared sandbox, its call counts, and the expected side
(the sandbox's data read over plain HTTP, see source.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx2
import pytest

import iterbridge
from iterbridge.sandbox import Sandbox

from .source import Source
from .support import connect_to


@pytest.fixture
def conn(sandbox: Sandbox) -> Iterator[iterbridge.Connection]:
    with connect_to(sandbox) as connection:
        yield connection


@pytest.fixture
def source(api: httpx2.Client) -> Source:
    return Source(api)


@dataclass
class Stats:
    """The sandbox's calls per endpoint (GET /_sandbox/stats)."""

    admin: httpx2.Client

    def by_endpoint(self) -> dict[str, int]:
        endpoints: dict[str, dict[str, int]] = self.admin.get("/_sandbox/stats").json()["endpoints"]
        return {endpoint: sum(statuses.values()) for endpoint, statuses in endpoints.items()}

    @contextmanager
    def counting(self) -> Iterator[dict[str, int]]:
        """The calls per endpoint made inside the block (filled in when it ends)."""
        before = self.by_endpoint()
        made: dict[str, int] = {}
        yield made
        after = self.by_endpoint()
        made.update({e: n - before.get(e, 0) for e, n in after.items() if n != before.get(e, 0)})


@pytest.fixture
def stats(sandbox: Sandbox, admin: httpx2.Client) -> Stats:
    return Stats(admin)
