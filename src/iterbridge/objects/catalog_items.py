"""CatalogItems: GET /api/catalogs/{name}/items (paged, wrapped); bulk create, partial update and delete
(API-NOTES §3). Catalog writes are asynchronous in Iterable: visible to reads after a delay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from iterbridge.api.paging import PageNumberPaginator, records, unwrap
from iterbridge.errors import FatalApiError
from iterbridge.objects.base import Column, ObjectDef, ReadRequest, Row, RowResult, SqlType, Write, rows_from
from iterbridge.objects.writing import bulk

if TYPE_CHECKING:
    from iterbridge.connection import Connection

PAGE_SIZE = 1000
BULK_SIZE = 1000


def _read(conn: Connection, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
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
        value = json.loads(value)
    if not isinstance(value, dict):
        raise ValueError("Value must be a JSON object")
    return value


def _by_catalog(batch: list[tuple[int, Row]]) -> dict[str, list[tuple[int, Row]]]:
    grouped: dict[str, list[tuple[int, Row]]] = {}
    for position, row in batch:
        grouped.setdefault(str(row["CatalogName"]), []).append((position, row))
    return grouped


def _upload(replace_uploaded_fields_only: bool) -> Any:
    def send(conn: Connection, batch: list[tuple[int, Row]]) -> list[RowResult]:
        results: list[RowResult] = []
        for catalog, rows in _by_catalog(batch).items():
            documents: dict[str, Any] = {}
            for position, row in rows:
                try:
                    documents[str(row["ItemId"])] = _value(row)
                except (ValueError, json.JSONDecodeError) as error:
                    results.append(RowResult(position, False, f"Value: {error}", invalid=True))
            if documents:
                conn.client.request(
                    "POST /api/catalogs/{catalogName}/items",
                    path={"catalogName": catalog},
                    json={"documents": documents, "replaceUploadedFieldsOnly": replace_uploaded_fields_only},
                )
            done = {r.index for r in results}
            results.extend(
                RowResult(p, True, keys={"CatalogName": catalog, "ItemId": str(r["ItemId"])})
                for p, r in rows
                if p not in done
            )
        return results

    return send


def _delete(conn: Connection, batch: list[tuple[int, Row]]) -> list[RowResult]:
    results: list[RowResult] = []
    for catalog, rows in _by_catalog(batch).items():
        conn.client.request(
            "DELETE /api/catalogs/{catalogName}/items",
            path={"catalogName": catalog},
            json={"itemIds": [str(r["ItemId"]) for _, r in rows]},
        )
        results.extend(RowResult(p, True) for p, _ in rows)
    return results


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
        "insert": Write(
            bulk(_upload(False), BULK_SIZE),
            required=(("CatalogName",), ("ItemId",), ("Value",)),
            description="POST /api/catalogs/{catalogName}/items (whole items)",
        ),
        "update": Write(
            bulk(_upload(True), BULK_SIZE),
            required=(("CatalogName",), ("ItemId",), ("Value",)),
            description="POST /api/catalogs/{catalogName}/items (fields given are merged)",
        ),
        "delete": Write(
            bulk(_delete, BULK_SIZE),
            required=(("CatalogName",), ("ItemId",)),
            description="DELETE /api/catalogs/{catalogName}/items",
        ),
    },
    cursor="LastModified",
)
