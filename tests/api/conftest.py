"""An ApiClient on the shared sandbox: its limits off, tiny retry waits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers import FAST_RETRY
from iterbridge.api.client import ApiClient
from iterbridge.api.ratelimit import ClientRateLimiter
from iterbridge.sandbox import Sandbox


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[ApiClient]:
    api_client = ApiClient(sandbox.url, sandbox.api_key, limiter=ClientRateLimiter(None), retry=FAST_RETRY)
    yield api_client
    api_client.close()
