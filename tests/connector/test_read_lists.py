"""Lists, list members, channels, message types, catalogs and their items: values as Iterable serves them."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx2
import pytest

import iterbridge

from .readers import list_ids
from .support import Calls


def _ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def test_lists_are_iterables_lists(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    served = api.get("/api/lists").json()["lists"]
    rows = list(conn.read("Lists"))
    assert rows == [
        {
            "Id": record["id"],
            "Name": record["name"],
            "CreatedAt": _ms(record["createdAt"]),
            "ListType": record["listType"],
            "Description": record.get("description"),
            "IsGlobalSuppressionEnabled": record.get("isGlobalSuppressionEnabled"),
        }
        for record in served
    ]


@pytest.mark.parametrize(
    ("name", "path", "key", "fields"),
    [
        ("Channels", "/api/channels", "channels", {"Id": "id", "Name": "name", "ChannelType": "channelType"}),
        ("MessageTypes", "/api/messageTypes", "messageTypes", {"Id": "id", "ChannelId": "channelId"}),
    ],
)
def test_metadata_objects(
    conn: iterbridge.Connection, api: httpx2.Client, name: str, path: str, key: str, fields: dict[str, str]
) -> None:
    served = api.get(path).json()[key]
    rows = list(conn.read(name))
    assert [{c: row[c] for c in fields} for row in rows] == [{c: r[f] for c, f in fields.items()} for r in served]


def test_list_members_one_call_per_list(conn: iterbridge.Connection, api: httpx2.Client, calls: Calls) -> None:
    ids = list_ids(api)
    with calls.counting() as made:
        rows = list(conn.read("ListUsers"))
    assert made == {"GET /api/lists": 1, "GET /api/lists/getUsers": len(ids)}
    for list_id in ids:
        served = [line for line in api.get("/api/lists/getUsers", params={"listId": list_id}).text.splitlines() if line]
        assert sorted(row["Email"] for row in rows if row["ListId"] == list_id) == sorted(served)


def test_members_of_given_lists(conn: iterbridge.Connection, api: httpx2.Client, calls: Calls) -> None:
    ids = list_ids(api)
    with calls.counting() as made:
        rows = list(conn.read("ListUsers", where={"ListId": [ids[2], str(ids[3]), 123456789]}))
    assert made == {"GET /api/lists/getUsers": 3}
    assert {row["ListId"] for row in rows} == {ids[2], ids[3]}  # a list that does not exist has no members
    assert conn.skipped == []


def test_catalog_items_are_iterables_items(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    served = api.get("/api/catalogs/products/items", params={"pageSize": 1000}).json()["params"]
    rows = list(conn.read("CatalogItems", where={"CatalogName": "products"}))
    assert [row["ItemId"] for row in rows] == [item["itemId"] for item in served["catalogItemsWithProperties"]]
    for row, item in zip(rows, served["catalogItemsWithProperties"], strict=True):
        assert row["Value"] == item["value"]
        assert row["LastModified"] == _ms(item["lastModified"])
        assert row["Size"] == item["size"]
        assert row["CatalogName"] == "products"


def test_catalog_items_by_id_are_one_call_each(conn: iterbridge.Connection, calls: Calls) -> None:
    items = list(conn.read("CatalogItems", where={"CatalogName": "products"}, limit=3))
    with calls.counting() as made:
        rows = list(
            conn.read(
                "CatalogItems", where={"CatalogName": "products", "ItemId": [i["ItemId"] for i in items] + ["nope"]}
            )
        )
    assert rows == items
    assert made == {"GET /api/catalogs/{catalogName}/items/{itemId}": 4}


def test_empty_and_unknown_catalogs_have_no_items(conn: iterbridge.Connection) -> None:
    assert list(conn.read("CatalogItems", where={"CatalogName": ["empty-catalog", "no-such-catalog"]})) == []
    assert {row["Name"] for row in conn.read("Catalogs")} >= {"empty-catalog", "products"}
