"""Paginators against the sandbox: page/pageSize until nextPageUrl disappears, nextMarker continuation."""

from __future__ import annotations

import httpx2
import pytest

from iterbridge.api.client import ApiClient
from iterbridge.api.paging import MarkerPaginator, PageNumberPaginator, records, unwrap
from iterbridge.sandbox.routes.metadata import PAGE_SIZE as METADATA_PAGE_SIZE


def test_unwrap_accepts_both_forms() -> None:
    assert unwrap({"msg": "", "code": "Success", "params": {"catalogNames": []}}) == {"catalogNames": []}
    assert unwrap({"catalogNames": []}) == {"catalogNames": []}
    assert unwrap({"msg": "x", "code": "Success", "params": None}) == {"msg": "x", "code": "Success", "params": None}


@pytest.mark.parametrize("size", [1, 5, 7, 1000])
def test_pages_until_next_page_url_disappears(client: ApiClient, api: httpx2.Client, size: int) -> None:
    everything = api.get("/api/campaigns", params={"pageSize": 1000}).json()["campaigns"]
    pages = list(PageNumberPaginator(size).pages(client, "GET /api/campaigns", "campaigns", params={"sort": "id"}))
    ids = [campaign["id"] for page in pages for campaign in page]
    assert sorted(ids) == sorted(c["id"] for c in everything)
    assert len(ids) == len(set(ids))
    assert all(len(page) <= size for page in pages)
    assert client.calls == -(-len(everything) // size)  # the last page has no nextPageUrl: no empty page asked


def test_wrapped_pages(client: ApiClient, api: httpx2.Client) -> None:
    served = api.get("/api/catalogs/products/items", params={"pageSize": 1000}).json()["params"]
    pages = PageNumberPaginator(4).pages(
        client, "GET /api/catalogs/{catalogName}/items", "catalogItemsWithProperties", path={"catalogName": "products"}
    )
    items = [item["itemId"] for item in records(pages)]
    assert items == [item["itemId"] for item in served["catalogItemsWithProperties"]]


def test_marker_continuation(client: ApiClient, api: httpx2.Client) -> None:
    keys = [f"key-{n:03d}" for n in range(METADATA_PAGE_SIZE * 2 + 3)]
    for key in keys:
        api.put(f"/api/metadata/bench/{key}", json={"value": {"n": key}}).raise_for_status()
    found = list(
        records(MarkerPaginator().pages(client, "GET /api/metadata/{table}", "results", path={"table": "bench"}))
    )
    assert [entry["key"] for entry in found] == keys
    assert client.calls == 3
