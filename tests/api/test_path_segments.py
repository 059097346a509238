"""Values as URL path segments: one function refuses what would address another resource; a dry run shows
the URL exactly as it would be sent."""

from __future__ import annotations

import httpx2
import pytest

from iterbridge.api.client import ApiClient
from iterbridge.api.ratelimit import ClientRateLimiter
from iterbridge.api.urls import path_segment
from iterbridge.errors import IterbridgeError, UnaddressableValue

UNSAFE = ["", " ", "\t", ".", "..", "a/b", "../items", "a\\b", "a\x00b", "a\nb", "a\x7fb"]
# Kept, and percent-encoded so that no client or server rewrites them.
SAFE = {
    "...": "...",
    "a.b": "a.b",
    "%2e": "%252e",
    "%2E%2E": "%252E%252E",
    ".%2e": ".%252e",
    "a?b#c": "a%3Fb%23c",
    " a ": "%20a%20",
    "ünï@x.com": "%C3%BCn%C3%AF@x.com",
    "a+b": "a+b",
}


@pytest.mark.parametrize("value", UNSAFE)
def test_a_value_that_cannot_be_a_segment_is_refused_in_words(value: str) -> None:
    with pytest.raises(UnaddressableValue, match=r"CatalogName .* cannot be sent in a URL path: ") as caught:
        path_segment("CatalogName", value)
    assert isinstance(caught.value, IterbridgeError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(("value", "segment"), SAFE.items())
def test_other_values_are_percent_encoded_and_sent_as_they_are(value: str, segment: str) -> None:
    assert path_segment("itemId", value) == segment
    sent: list[httpx2.Request] = []
    client = _client(sent)
    client.request("GET /api/catalogs/{catalogName}/items/{itemId}", path={"catalogName": "c", "itemId": value})
    assert sent[0].url.raw_path.decode() == f"/api/catalogs/c/items/{segment}"


def _client(sent: list[httpx2.Request]) -> ApiClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json={"msg": "", "code": "Success", "params": None})

    return ApiClient("https://api.iterable.test", "path-key-4c1d9e", transport=httpx2.MockTransport(handler),
                     limiter=ClientRateLimiter(None))  # fmt: skip


@pytest.mark.parametrize("value", [".", "..", "a/b", ""])
def test_the_client_sends_nothing_for_an_unaddressable_value(value: str) -> None:
    sent: list[httpx2.Request] = []
    client = _client(sent)
    with pytest.raises(UnaddressableValue):
        client.request("DELETE /api/catalogs/{catalogName}/items", path={"catalogName": value}, json={"itemIds": []})
    with pytest.raises(UnaddressableValue), client.recording() as recorded:
        client.request("DELETE /api/users/byUserId/{userId}", path={"userId": value})
    assert sent == []
    assert recorded == []
    assert client.calls == 0


def test_a_dry_run_records_the_url_exactly_as_it_would_be_sent() -> None:
    sent: list[httpx2.Request] = []
    client = _client(sent)
    path = {"catalogName": "my shop", "itemId": "ünï;1"}
    with client.recording() as recorded:
        client.request("PUT /api/catalogs/{catalogName}/items/{itemId}", path=path, json={"value": {}})
    client.request("PUT /api/catalogs/{catalogName}/items/{itemId}", path=path, json={"value": {}})
    assert recorded[0]["url"] == str(sent[0].url)
    assert recorded[0]["url"] == "https://api.iterable.test/api/catalogs/my%20shop/items/%C3%BCn%C3%AF%3B1"
