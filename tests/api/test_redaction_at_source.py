"""Errors from the Python API are redacted where they are made, not only by the CLI."""

from __future__ import annotations

import httpx2
import pytest

from iterbridge.api.client import ApiClient
from iterbridge.api.ratelimit import ClientRateLimiter
from iterbridge.errors import ApiError, FatalApiError

KEY = "source-key-0c4f8b2d6a"


def answering(response: httpx2.Response) -> ApiClient:
    return ApiClient("https://api.iterable.test", KEY, transport=httpx2.MockTransport(lambda request: response),
                     limiter=ClientRateLimiter(None))  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        f"<html><body>maintenance; your request had Api-Key: {KEY}</body></html>",
        f"<html><head><title>Proxy error for key {KEY}</title></head></html>",
        f"Api-Key={KEY} not understood",
    ],
)
def test_a_success_that_is_not_json_and_echoes_the_key_is_redacted(body: str) -> None:
    with pytest.raises(FatalApiError, match="not JSON") as caught:
        answering(httpx2.Response(200, content=body.encode())).json("GET /api/lists")
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)
    assert "<redacted>" in str(caught.value)


def test_every_api_error_is_redacted_when_made() -> None:
    answering(httpx2.Response(200))  # registers the key, as every client does
    assert KEY not in str(ApiError(f"anything with {KEY} in it", endpoint="GET /api/lists"))
