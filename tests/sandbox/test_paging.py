"""page/pageSize paging: campaigns and templates (bare bodies), catalogs and items (wrapped in params)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest

from iterbridge.sandbox import Sandbox


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def _follow(api: httpx2.Client, path: str, params: dict[str, Any], key: str, *, wrapped: bool = False) -> list[Any]:
    """Every record reached by following nextPageUrl from the first page."""
    records: list[Any] = []
    url: str | None = path
    pages = 0
    while url is not None:
        response = api.get(url, params=params if pages == 0 else None)
        assert response.status_code == 200, response.text
        body = response.json()["params"] if wrapped else response.json()
        records.extend(body[key])
        url = body.get("nextPageUrl")
        pages += 1
        assert pages < 100
    return records


# ---- campaigns -----------------------------------------------------------------------------------------


def test_campaigns_without_paging_params_are_all_served_bare(api: httpx2.Client) -> None:
    body = api.get("/api/campaigns").json()
    assert set(body) == {"campaigns"}
    info = api.get("/_sandbox/info").json()
    assert len(body["campaigns"]) == info["counts"]["campaigns"]


def test_a_campaigns_page(sandbox: Sandbox, api: httpx2.Client) -> None:
    everything = api.get("/api/campaigns").json()["campaigns"]
    body = api.get("/api/campaigns", params={"page": 2, "pageSize": 5}).json()
    assert body["campaigns"] == everything[5:10]
    assert body["totalCampaignsCount"] == len(everything)
    assert body["nextPageUrl"].startswith(f"{sandbox.url}/api/campaigns?")
    assert _query(body["nextPageUrl"]) == [("page", "3"), ("pageSize", "5")]
    assert _query(body["previousPageUrl"]) == [("page", "1"), ("pageSize", "5")]
    assert sandbox.api_key not in body["nextPageUrl"]


def test_first_and_last_campaign_pages(api: httpx2.Client) -> None:
    total = len(api.get("/api/campaigns").json()["campaigns"])
    first = api.get("/api/campaigns", params={"page": 1, "pageSize": 5}).json()
    assert "previousPageUrl" not in first
    assert "nextPageUrl" in first
    last_page = (total + 4) // 5
    last = api.get("/api/campaigns", params={"page": last_page, "pageSize": 5}).json()
    assert "nextPageUrl" not in last
    assert len(last["campaigns"]) == total - 5 * (last_page - 1)
    beyond = api.get("/api/campaigns", params={"page": last_page + 1, "pageSize": 5}).json()
    assert beyond["campaigns"] == []
    assert "nextPageUrl" not in beyond
    assert beyond["totalCampaignsCount"] == total


def test_page_size_alone_starts_paging_with_the_default_page(api: httpx2.Client) -> None:
    body = api.get("/api/campaigns", params={"pageSize": 3}).json()
    assert len(body["campaigns"]) == 3
    assert _query(body["nextPageUrl"]) == [("page", "2"), ("pageSize", "3")]
    default = api.get("/api/campaigns", params={"page": 1}).json()
    assert len(default["campaigns"]) == min(20, default["totalCampaignsCount"])


@pytest.mark.parametrize("page_size", [1, 4, 7, 1000])
def test_following_next_page_url_visits_every_campaign_once(api: httpx2.Client, page_size: int) -> None:
    everything = api.get("/api/campaigns").json()["campaigns"]
    visited = _follow(api, "/api/campaigns", {"pageSize": page_size}, "campaigns")
    assert [c["id"] for c in visited] == [c["id"] for c in everything]
    assert len({c["id"] for c in visited}) == len(visited)


def test_next_page_url_keeps_filters_and_sort(api: httpx2.Client) -> None:
    params = {"campaignState": ["Running", "Finished"], "sort": "name", "pageSize": 2}
    first = api.get("/api/campaigns", params=params).json()
    assert _query(first["nextPageUrl"]) == [
        ("campaignState", "Running"),
        ("campaignState", "Finished"),
        ("sort", "name"),
        ("page", "2"),
        ("pageSize", "2"),
    ]
    visited = _follow(api, "/api/campaigns", params, "campaigns")
    unpaged = api.get("/api/campaigns", params={"campaignState": ["Running", "Finished"], "sort": "name"}).json()
    assert visited == unpaged["campaigns"]
    assert first["totalCampaignsCount"] == len(visited)
    assert {c["campaignState"] for c in visited} == {"Running", "Finished"}


def test_paging_sees_created_campaigns(api: httpx2.Client) -> None:
    before = api.get("/api/campaigns", params={"pageSize": 1}).json()["totalCampaignsCount"]
    template = api.get("/api/templates").json()["templates"][0]["templateId"]
    created = api.post("/api/campaigns/create", json={"name": "new one", "templateId": template}).json()
    body = api.get("/api/campaigns", params={"pageSize": 1}).json()
    assert body["totalCampaignsCount"] == before + 1
    assert body["campaigns"][0]["id"] == created["campaignId"]  # newest first by default


# ---- templates ----------------------------------------------------------------------------------------


def test_templates_without_paging_params_are_all_served_bare(api: httpx2.Client) -> None:
    body = api.get("/api/templates", params={"templateType": "Blast", "messageMedium": "Email"}).json()
    assert set(body) == {"templates"}
    assert len(body["templates"]) > 2


def test_a_templates_page(api: httpx2.Client) -> None:
    filters = {"templateType": "Blast", "messageMedium": "Email"}
    everything = api.get("/api/templates", params=filters).json()["templates"]
    body = api.get("/api/templates", params={**filters, "page": 2, "pageSize": 2}).json()
    assert body["templates"] == everything[2:4]
    assert body["totalTemplatesCount"] == len(everything)
    assert _query(body["nextPageUrl"]) == [*filters.items(), ("page", "3"), ("pageSize", "2")]
    assert _query(body["previousPageUrl"]) == [*filters.items(), ("page", "1"), ("pageSize", "2")]


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_following_next_page_url_visits_every_template_once(api: httpx2.Client, page_size: int) -> None:
    filters = {"templateType": "Blast", "messageMedium": "Email"}
    everything = api.get("/api/templates", params=filters).json()["templates"]
    visited = _follow(api, "/api/templates", {**filters, "pageSize": page_size}, "templates")
    assert visited == everything
    assert len({t["templateId"] for t in visited}) == len(everything)


def test_templates_page_beyond_the_end(api: httpx2.Client) -> None:
    body = api.get("/api/templates", params={"page": 50, "pageSize": 20}).json()
    assert body["templates"] == []
    assert "nextPageUrl" not in body
    assert body["totalTemplatesCount"] > 0


# ---- catalogs and items -------------------------------------------------------------------------------------


def test_catalogs_are_paged_in_params(api: httpx2.Client) -> None:
    body = api.get("/api/catalogs").json()
    assert body["msg"] == ""
    assert body["code"] == "Success"
    payload = body["params"]
    assert payload["totalCatalogsCount"] == 3
    assert [c["name"] for c in payload["catalogNames"]] == ["products", "stores", "empty-catalog"]
    assert "nextPageUrl" not in payload


def test_a_catalogs_page(api: httpx2.Client) -> None:
    first = api.get("/api/catalogs", params={"pageSize": 2}).json()["params"]
    assert first["catalogNames"] == [{"name": "products"}, {"name": "stores"}]
    assert _query(first["nextPageUrl"]) == [("page", "2"), ("pageSize", "2")]
    second = api.get(first["nextPageUrl"]).json()["params"]
    assert second["catalogNames"] == [{"name": "empty-catalog"}]
    assert "nextPageUrl" not in second
    assert _query(second["previousPageUrl"]) == [("page", "1"), ("pageSize", "2")]
    assert second["totalCatalogsCount"] == 3


def test_catalog_items_default_to_pages_of_ten(api: httpx2.Client) -> None:
    body = api.get("/api/catalogs/products/items").json()
    assert body["code"] == "Success"
    payload = body["params"]
    assert len(payload["catalogItemsWithProperties"]) == 10
    assert payload["totalItemsCount"] == 25
    assert _query(payload["nextPageUrl"]) == [("page", "2"), ("pageSize", "10")]
    assert "previousPageUrl" not in payload
    item = payload["catalogItemsWithProperties"][0]
    assert set(item) == {"catalogName", "itemId", "lastModified", "size", "value"}


@pytest.mark.parametrize("page_size", [None, 1, 7, 25, 1000])
def test_following_item_pages_visits_every_item_once(api: httpx2.Client, page_size: int | None) -> None:
    params = {} if page_size is None else {"pageSize": page_size}
    items = _follow(api, "/api/catalogs/products/items", params, "catalogItemsWithProperties", wrapped=True)
    ids = [item["itemId"] for item in items]
    assert len(ids) == 25
    assert len(set(ids)) == 25
    for item_id in ids[:3]:
        assert api.get(f"/api/catalogs/products/items/{item_id}").json() in items


def test_item_pages_follow_writes(api: httpx2.Client) -> None:
    api.put("/api/catalogs/products/items/added-1", json={"value": {"name": "added"}})
    api.delete("/api/catalogs/products/items/sku-000003")
    items = _follow(api, "/api/catalogs/products/items", {"pageSize": 10}, "catalogItemsWithProperties", wrapped=True)
    ids = [item["itemId"] for item in items]
    assert len(ids) == 25
    assert "added-1" in ids
    assert "sku-000003" not in ids
    total = api.get("/api/catalogs/products/items").json()["params"]["totalItemsCount"]
    assert total == 25


def test_an_empty_catalog_has_no_items(api: httpx2.Client) -> None:
    payload = api.get("/api/catalogs/empty-catalog/items").json()["params"]
    assert payload == {"catalogItemsWithProperties": [], "totalItemsCount": 0}


# ---- bounds -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "msg"),
    [
        ("/api/campaigns", {"pageSize": 1001}, "pageSize must be between 1 and 1000, not 1001"),
        ("/api/campaigns", {"pageSize": 0}, "pageSize must be between 1 and 1000, not 0"),
        ("/api/campaigns", {"pageSize": -5}, "pageSize must be between 1 and 1000, not -5"),
        ("/api/campaigns", {"page": 0}, "page must be at least 1, not 0"),
        ("/api/campaigns", {"page": "two"}, "Invalid value for page: two"),
        ("/api/templates", {"pageSize": 1001}, "pageSize must be between 1 and 1000, not 1001"),
        ("/api/templates", {"pageSize": 0}, "pageSize must be between 1 and 1000, not 0"),
        ("/api/catalogs", {"pageSize": 101}, "pageSize must be between 1 and 100, not 101"),
        ("/api/catalogs", {"pageSize": 0}, "pageSize must be between 1 and 100, not 0"),
        ("/api/catalogs/products/items", {"pageSize": 1001}, "pageSize must be between 1 and 1000, not 1001"),
        ("/api/catalogs/products/items", {"page": 0}, "page must be at least 1, not 0"),
    ],
)
def test_page_bounds(api: httpx2.Client, path: str, params: dict[str, Any], msg: str) -> None:
    response = api.get(path, params=params)
    assert response.status_code == 400
    assert response.json() == {"msg": msg, "code": "BadParams", "params": None}


@pytest.mark.parametrize(("path", "size"), [("/api/campaigns", 1000), ("/api/catalogs", 100),
                                            ("/api/catalogs/products/items", 1000)])  # fmt: skip
def test_largest_page_size_is_allowed(api: httpx2.Client, path: str, size: int) -> None:
    assert api.get(path, params={"pageSize": size}).status_code == 200
