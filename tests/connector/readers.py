"""What the sandbox serves for each object, read straight from its API (the reference the connector is held to),
and helpers to compare rows."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import httpx2
import orjson

from iterbridge.constants import EXPORT_DATA_TYPES, TEMPLATE_MEDIUMS, TEMPLATE_TYPES

Row = dict[str, Any]


def canon(rows: Iterable[Row]) -> Counter[bytes]:
    """Rows as a multiset, comparable whatever their order (datetimes, dicts and lists included)."""
    return Counter(orjson.dumps(row, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS) for row in rows)


def _unwrap(body: Any) -> Any:
    return body["params"] if isinstance(body, dict) and isinstance(body.get("params"), dict) else body


def _pages(api: httpx2.Client, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        body = _unwrap(api.get(path, params={**params, "page": page, "pageSize": 100}).raise_for_status().json())
        found.extend(body.get(key) or [])
        if not body.get("nextPageUrl"):
            return found
        page += 1


def _lines(api: httpx2.Client, path: str, **params: Any) -> list[str]:
    return [line for line in api.get(path, params=params).raise_for_status().text.splitlines() if line.strip()]


def campaign_ids(api: httpx2.Client) -> list[int]:
    return [c["id"] for c in _pages(api, "/api/campaigns", "campaigns")]


def user_emails(api: httpx2.Client) -> list[str]:
    return [
        orjson.loads(line)["email"] for line in _lines(api, "/api/export/data.json", dataTypeName="user", range="All")
    ]


def list_ids(api: httpx2.Client) -> list[int]:
    return [lst["id"] for lst in api.get("/api/lists").raise_for_status().json()["lists"]]


def catalog_names(api: httpx2.Client) -> list[str]:
    return [c["name"] for c in _pages(api, "/api/catalogs", "catalogNames")]


def _campaign_metrics(api: httpx2.Client) -> Counter[Any]:
    text = api.get("/api/campaigns/metrics", params=[("campaignId", i) for i in campaign_ids(api)]).text
    return Counter(int(cells[0]) for cells in list(csv.reader(io.StringIO(text)))[1:] if cells)


def _catalog_items(api: httpx2.Client) -> Counter[Any]:
    return Counter(
        (name, item["itemId"])
        for name in catalog_names(api)
        for item in _pages(api, f"/api/catalogs/{name}/items", "catalogItemsWithProperties")
    )


def _events(api: httpx2.Client) -> Counter[Any]:
    found: Counter[Any] = Counter()
    for data_type in EXPORT_DATA_TYPES:
        if data_type != "user":
            for line in _lines(api, "/api/export/data.json", dataTypeName=data_type, range="All"):
                record = orjson.loads(line)
                found[(data_type, record.get("email"), record["createdAt"])] += 1
    return found


def _inapp(api: httpx2.Client) -> Counter[Any]:
    return Counter(
        message["messageId"]
        for email in user_emails(api)
        for message in api.get("/api/inApp/getMessages", params={"email": email, "count": 100}).json()["inAppMessages"]
    )


def _list_users(api: httpx2.Client) -> Counter[Any]:
    return Counter((i, email) for i in list_ids(api) for email in _lines(api, "/api/lists/getUsers", listId=i))


def _templates(api: httpx2.Client) -> Counter[Any]:
    return Counter(
        t["templateId"]
        for kind in TEMPLATE_TYPES
        for medium in TEMPLATE_MEDIUMS
        for t in _pages(api, "/api/templates", "templates", templateType=kind, messageMedium=medium)
    )


def _listing(path: str, key: str) -> Callable[[httpx2.Client], Counter[Any]]:
    return lambda api: Counter(r["id"] for r in api.get(path).raise_for_status().json()[key])


# Per object: the sandbox's records, as the multiset of what identifies them ...
SERVED: dict[str, Callable[[httpx2.Client], Counter[Any]]] = {
    "Campaigns": lambda api: Counter(campaign_ids(api)),
    "CampaignMetrics": _campaign_metrics,
    "Catalogs": lambda api: Counter(catalog_names(api)),
    "CatalogItems": _catalog_items,
    "Channels": _listing("/api/channels", "channels"),
    "Events": _events,
    "InAppMessages": _inapp,
    "Lists": _listing("/api/lists", "lists"),
    "ListUsers": _list_users,
    "MessageTypes": _listing("/api/messageTypes", "messageTypes"),
    "Templates": _templates,
    "Users": lambda api: Counter(user_emails(api)),
    "UserFields": lambda api: Counter(list(api.get("/api/users/getFields").json()["fields"])),
}

# ... and the same identity taken from the connector's rows.
IDENTITY: dict[str, Callable[[Row], Any]] = {
    "Campaigns": lambda r: r["Id"],
    "CampaignMetrics": lambda r: r["CampaignId"],
    "Catalogs": lambda r: r["Name"],
    "CatalogItems": lambda r: (r["CatalogName"], r["ItemId"]),
    "Channels": lambda r: r["Id"],
    "Events": lambda r: (r["EventType"], r["Email"], r["CreatedAt"].strftime("%Y-%m-%d %H:%M:%S +00:00")),
    "InAppMessages": lambda r: r["MessageId"],
    "Lists": lambda r: r["Id"],
    "ListUsers": lambda r: (r["ListId"], r["Email"]),
    "MessageTypes": lambda r: r["Id"],
    "Templates": lambda r: r["Id"],
    "Users": lambda r: r["Email"],
    "UserFields": lambda r: r["Name"],
}
