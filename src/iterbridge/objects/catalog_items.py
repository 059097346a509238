"""CatalogItems: GET /api/catalogs/{name}/items (paged, wrapped); bulk create, partial update and delete.
Catalog writes are asynchronous in Iterable: visible to reads after a delay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from iterbridge.api.paging import PageNumberPaginator, records, unwrap
from iterbridge.api.urls import path_segment
from iterbridge.errors import FatalApiError
from iterbridge.objects.base import (
    Column,
    ObjectDef,
    Operation,
    ReadRequest,
    Row,
    RowResult,
    RowStatus,
    SqlType,
    Write,
    rows_from,
)
from iterbridge.objects.facts import Pushdown, ReadCost, Replication
from iterbridge.objects.writing import Bulk, Part, bulk

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

PAGE_SIZE = 1000
BULK_SIZE = 1000


def _read(conn: Session, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
    columns = conn.columns(obj)
    catalogs = request.values("CatalogName")
    if catalogs is None:
        catalogs = [row["Name"] for row in conn.read("Catalogs")]
    item_ids = request.values("ItemId")
    for catalog in catalogs:
        if item_ids is not None:
            for item_id in item_ids:
                try:
                    record = unwrap(
                        conn.client.json(
                            "GET /api/catalogs/{catalogName}/items/{itemId}",
                            path={"catalogName": catalog, "itemId": item_id},
                        )
                    )
                except FatalApiError as error:
                    if error.status == 404:
                        continue
                    raise
                yield from rows_from(iter([record]), columns)
            continue
        try:
            pages = PageNumberPaginator(PAGE_SIZE).pages(
                conn.client,
                "GET /api/catalogs/{catalogName}/items",
                "catalogItemsWithProperties",
                path={"catalogName": catalog},
            )
            yield from rows_from(records(pages), columns)
        except FatalApiError as error:
            if error.status != 404:  # an unknown catalog has no items
                raise


def _value(row: Row) -> dict[str, Any]:
    value = row.get("Value")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"Value is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise ValueError("Value must be a JSON object")
    return value


def _accepted(answer: Any, parts: list[Part]) -> list[RowResult]:
    """Catalog writes are asynchronous: Iterable's 2xx accepts every item of the request."""
    return [
        RowResult(p, RowStatus.ACCEPTED, keys={"CatalogName": str(r["CatalogName"]), "ItemId": str(r["ItemId"])})
        for p, r, _ in parts
    ]


def _catalog(row: Row) -> str:
    """The row's catalog, checked as the path segment it becomes: a name no URL can address (`.`, `..`, `/`…)
    refuses the row with the reason (an UnaddressableValue is a ValueError), as its request would reach
    another resource."""
    catalog = str(row["CatalogName"])
    path_segment("CatalogName", catalog)
    return catalog


def _upload(replace_uploaded_fields_only: bool) -> Bulk:
    """One request per catalog (the catalog is in the path): a catalog Iterable refuses fails its rows only."""
    return Bulk(
        "POST /api/catalogs/{catalogName}/items",
        part=lambda conn, row: (str(row["ItemId"]), _value(row)),
        body=lambda _, documents: {
            "documents": dict(documents),
            "replaceUploadedFieldsOnly": replace_uploaded_fields_only,
        },
        outcomes=_accepted,
        group=_catalog,
        path=lambda catalog: {"catalogName": catalog},
        max_rows=BULK_SIZE,
    )


_DELETE = Bulk(
    "DELETE /api/catalogs/{catalogName}/items",
    part=lambda conn, row: str(row["ItemId"]),
    body=lambda _, item_ids: {"itemIds": item_ids},
    outcomes=lambda answer, parts: [RowResult(p, RowStatus.ACCEPTED) for p, _, _ in parts],
    group=_catalog,
    path=lambda catalog: {"catalogName": catalog},
    max_rows=BULK_SIZE,
)


def _cost(pushdown: Pushdown) -> ReadCost:
    pushed = pushdown.pushed
    if pushed.get("ItemId") in ("=", "in"):
        return ReadCost(
            "GET /api/catalogs/{catalogName}/items/{itemId}",
            "1 per item and catalog",
            "GET /api/catalogs/{catalogName}/items/{itemId}",
            1 if pushed.get("ItemId") == "=" and pushed.get("CatalogName") == "=" else None,
        )
    catalogs = "" if pushed.get("CatalogName") in ("=", "in") else " + GET /api/catalogs"
    return ReadCost(
        f"GET /api/catalogs/{{catalogName}}/items (pages of {PAGE_SIZE})",
        f"1 per {PAGE_SIZE} items per catalog" + catalogs,
        "GET /api/catalogs/{catalogName}/items",
    )


CATALOG_ITEMS = ObjectDef(
    name="CatalogItems",
    description="Items of every catalog; Value holds the item's fields as JSON.",
    columns=(
        Column("CatalogName", SqlType.TEXT, "catalogName", key=True),
        Column("ItemId", SqlType.TEXT, "itemId", key=True),
        Column("LastModified", SqlType.TIMESTAMP, "lastModified", read_only=True),
        Column("Size", SqlType.INTEGER, "size", read_only=True),
        Column("Value", SqlType.JSON, "value"),
    ),
    reader=_read,
    filters=("CatalogName", "ItemId"),
    writes={
        Operation.INSERT: Write(
            bulk(_upload(False)),
            required=(("CatalogName",), ("ItemId",), ("Value",)),
            description="POST /api/catalogs/{catalogName}/items (whole items)",
        ),
        Operation.UPDATE: Write(
            bulk(_upload(True)),
            required=(("CatalogName",), ("ItemId",), ("Value",)),
            description="POST /api/catalogs/{catalogName}/items (fields given are merged)",
        ),
        Operation.DELETE: Write(
            bulk(_DELETE),
            required=(("CatalogName",), ("ItemId",)),
            description="DELETE /api/catalogs/{catalogName}/items",
        ),
    },
    cursor="LastModified",
    upsert=Operation.INSERT,
    row_estimate=100_000,
    cost=_cost,
    replication=Replication("incremental", sweep=True),
)
