"""Fixtures for the connector's tests: a connection to the shared sandbox, and the sandbox's call counts."""

from __future__ import annotations

import httpx2
import pytest

from iterbridge.sandbox import Sandbox

from .support import Calls


@pytest.fixture
def calls(sandbox: Sandbox, admin: httpx2.Client) -> Calls:
    return Calls(admin)
