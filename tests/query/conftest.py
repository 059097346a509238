"""Fixtures for the SQL tests: the expected side, read from the sandbox over plain HTTP (see source.py).

The connection (`conn`) and the call counter (`stats`) are fixtures of the root conftest."""

from __future__ import annotations

import httpx2
import pytest

from .source import Source


@pytest.fixture
def source(api: httpx2.Client) -> Source:
    return Source(api)
