"""Fixtures for the connector's tests: a connection to the shared sandbox, and the sandbox's call counts."""

from __future__ import annotations

import httpx2
import pytest

from conftest import FAST_RETRY, Stats, connect_to
from iterbridge.sandbox import Sandbox

__all__ = ["FAST_RETRY", "Calls", "connect_to"]

# The shared helpers live in the root conftest; the connector tests call the call counter `calls`.
Calls = Stats


@pytest.fixture
def calls(sandbox: Sandbox, admin: httpx2.Client) -> Calls:
    return Calls(admin)
