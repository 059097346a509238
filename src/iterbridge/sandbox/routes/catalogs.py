"""/api/catalogs: catalogs, items (asynchronous writes) and field mappings.

List, items and fieldMappings answers are wrapped in the envelope's `params`, as the real API does
(the Swagger spec shows them bare).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.responses import Response

from iterbridge.constants import CATALOG_FIELD_TYPES
from iterbridge.sandbox.responses import ApiError, bad_params, envelope, json_response, not_found
from iterbridge.sandbox.routes.paging import page_bounds, page_links
from iterbridge.sandbox.routing import Context, Routes, require_fields
from iterbridge.sandbox.world.catalogs import Catalog

routes = Routes()

_NAME = re.compile(r"^[A-Za-z0-9-]{1,255}$")
_ITEM_ID = re.compile(r"^[A-Za-z0-9-]{1,255}$")
MAX_ITEM_BYTES = 30 * 1024
MAX_BULK_ITEMS = 1000
MAX_ITEMS_PAGE = 1000


def _catalog(ctx: Context) -> Catalog:
    catalog = ctx.world.catalogs.get(ctx.params["catalogName"])
    if catalog is None:
        raise not_found(f"Catalog {ctx.params['catalogName']} does not exist")
    return catalog


def _accepted(msg: str) -> Response:
    return envelope(msg, status=202)


@routes.get("/api/catalogs", read_only_key=True)
async def list_catalogs(ctx: Context) -> Response:
    names = ctx.world.catalogs.names()
    page, size = page_bounds(ctx, 10, 100)
    payload: dict[str, Any] = {"catalogNames": [{"name": n} for n in names[(page - 1) * size : page * size]]}
    payload["totalCatalogsCount"] = len(names)
    payload.update(page_links(ctx, page, size, len(names)))
    return envelope(params=payload)


@routes.post("/api/catalogs/{catalogName}")
async def create_catalog(ctx: Context) -> Response:
    name = ctx.params["catalogName"]
    if not _NAME.match(name):
        raise bad_params(f"Unable to create a catalog named {name}: use letters, digits and dashes only")
    if ctx.world.catalogs.get(name) is not None:
        raise bad_params(f"Unable to create a catalog named {name}: a catalog with that name already exists")
    ctx.world.catalogs.create(name)
    return envelope(params={"name": name, "url": f"/api/catalogs/{name}"}, status=201)


@routes.delete("/api/catalogs/{catalogName}")
async def delete_catalog(ctx: Context) -> Response:
    catalog = _catalog(ctx)
    ctx.world.catalogs.delete(catalog.name)
    return envelope(f"Successfully deleted catalog {catalog.name}")


@routes.get("/api/catalogs/{catalogName}/items", read_only_key=True)
async def list_items(ctx: Context) -> Response:
    catalog = _catalog(ctx)
    store = ctx.world.catalogs
    page, size = page_bounds(ctx, 10, MAX_ITEMS_PAGE)
    order_by = ctx.query.get("orderBy")
    ascending = ctx.query.get("sortAscending", "false").lower() == "true"
    total = store.count(catalog)
    if order_by:
        if order_by not in catalog.mappings or isinstance(catalog.mappings[order_by], dict):
            raise bad_params(f"Cannot order by {order_by}: the field has no defined type")
        items = sorted(
            store.items(catalog),
            key=lambda item: (item["value"].get(order_by) is None, item["value"].get(order_by)),
        )
        if not ascending:
            present = [i for i in items if i["value"].get(order_by) is not None][::-1]
            items = present + [i for i in items if i["value"].get(order_by) is None]
        selected = items[(page - 1) * size : page * size]
    else:
        selected = []
        for identifier in store.item_ids(catalog, (page - 1) * size, page * size):
            record = store.item(catalog, identifier)
            if record is not None:
                selected.append(record)
    payload: dict[str, Any] = {"catalogItemsWithProperties": selected, "totalItemsCount": total}
    payload.update(page_links(ctx, page, size, total))
    return envelope(params=payload)


def _check_value(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_params("The item value must be a JSON object")
    if len(orjson.dumps(value)) > MAX_ITEM_BYTES:
        raise bad_params(f"Catalog items must be at most {MAX_ITEM_BYTES} bytes")
    for name in _field_names(value):
        if "." in name:
            raise bad_params(f"Field names may not contain periods: {name}")
    return value


def _field_names(value: dict[str, Any]) -> list[str]:
    names = []
    for name, inner in value.items():
        names.append(name)
        if isinstance(inner, dict):
            names.extend(_field_names(inner))
    return names


def _item_id(ctx: Context) -> str:
    identifier = ctx.params["itemId"]
    if not _ITEM_ID.match(identifier):
        raise bad_params(f"Invalid itemId {identifier}: use letters, digits and dashes (at most 255)")
    return identifier


@routes.get("/api/catalogs/{catalogName}/items/{itemId}", read_only_key=True)
async def get_item(ctx: Context) -> Response:
    catalog = _catalog(ctx)
    record = ctx.world.catalogs.item(catalog, ctx.params["itemId"])
    if record is None:
        raise not_found(f"Catalog item {ctx.params['itemId']} not found in catalog {catalog.name}")
    return json_response(record)


@routes.put("/api/catalogs/{catalogName}/items/{itemId}")
async def put_item(ctx: Context) -> Response:
    catalog = _catalog(ctx)
    identifier = _item_id(ctx)
    body = await ctx.json()
    errors = require_fields(body, "value", kinds={"value": dict})
    if errors:
        raise await ctx.bad_body(errors)
    ctx.world.catalogs.put(catalog, identifier, _check_value(body["value"]), merge=False)
    return _accepted(f"Request to create or replace catalog item {identifier} accepted; use GET to verify")


@routes.patch("/api/catalogs/{catalogName}/items/{itemId}")
async def patch_item(ctx: Context) -> Response:
    catalog = _catalog(ctx)
    identifier = _item_id(ctx)
    body = await ctx.json()
    errors = require_fields(body, "update", kinds={"update": dict})
    if errors:
        raise await ctx.bad_body(errors)
    ctx.world.catalogs.put(catalog, identifier, _check_value(body["update"]), merge=True)
    return _accepted(f"Request to update catalog item {identifier} accepted; use GET to verify")


@routes.delete("/api/catalogs/{catalogName}/items/{itemId}")
async def delete_item(ctx: Context) -> Response:
    catalog = _catalog(ctx)
    identifier = _item_id(ctx)
    ctx.world.catalogs.remove(catalog, identifier)
    return _accepted(f"Request to delete catalog item {identifier} accepted; use GET to verify")


@routes.post("/api/catalogs/{catalogName}/items")
async def bulk_create(ctx: Context) -> Response:
    catalog = _catalog(ctx)
    body = await ctx.json()
    errors = require_fields(body, "documents", kinds={"documents": dict, "replaceUploadedFieldsOnly": bool})
    if errors:
        raise await ctx.bad_body(errors)
    documents = body["documents"]
    if len(documents) > MAX_BULK_ITEMS:
        raise ApiError(400, "BatchTooLarge", f"At most {MAX_BULK_ITEMS} documents per request")
    for identifier, value in documents.items():
        if not _ITEM_ID.match(identifier):
            raise bad_params(f"Invalid itemId {identifier}: use letters, digits and dashes (at most 255)")
        _check_value(value)
    merge = bool(body.get("replaceUploadedFieldsOnly"))
    for identifier, value in documents.items():
        ctx.world.catalogs.put(catalog, identifier, value, merge=merge)
    return _accepted(f"Request to bulk upload {len(documents)} catalog items accepted; use GET to verify")


@routes.delete("/api/catalogs/{catalogName}/items")
async def bulk_delete(ctx: Context) -> Response:
    catalog = _catalog(ctx)
    body = await ctx.json()
    errors = require_fields(body, "itemIds", kinds={"itemIds": list})
    if errors:
        raise await ctx.bad_body(errors)
    if len(body["itemIds"]) > MAX_BULK_ITEMS:
        raise ApiError(400, "BatchTooLarge", f"At most {MAX_BULK_ITEMS} item ids per request")
    for identifier in body["itemIds"]:
        ctx.world.catalogs.remove(catalog, str(identifier))
    return _accepted(f"Request to bulk delete {len(body['itemIds'])} catalog items accepted; use GET to verify")


@routes.get("/api/catalogs/{catalogName}/fieldMappings", read_only_key=True)
async def get_mappings(ctx: Context) -> Response:
    catalog = _catalog(ctx)
    payload = {
        "definedMappings": catalog.mappings,
        "undefinedFields": ctx.world.catalogs.undefined_fields(catalog),
    }
    return envelope(params=payload)


@routes.put("/api/catalogs/{catalogName}/fieldMappings")
async def put_mappings(ctx: Context) -> Response:
    catalog = _catalog(ctx)
    body = await ctx.json()
    errors = require_fields(body, "mappingsUpdates", kinds={"mappingsUpdates": list})
    if errors:
        raise await ctx.bad_body(errors)
    updates = [_mapping(update, catalog.mappings) for update in body["mappingsUpdates"]]
    for name, value in updates:
        catalog.mappings[name] = value
    return envelope("Successfully updated field mappings")


def _mapping(update: Any, current: dict[str, Any]) -> tuple[str, Any]:
    if not isinstance(update, dict) or not isinstance(update.get("fieldName"), str):
        raise bad_params("Each mapping update needs a fieldName and a fieldType")
    name, kind = update["fieldName"], update.get("fieldType")
    if kind not in CATALOG_FIELD_TYPES:
        raise bad_params(f"Invalid fieldType {kind} for {name}. Valid types: {', '.join(CATALOG_FIELD_TYPES)}")
    value: Any = kind
    if kind == "object":
        children = dict(_mapping(child, {}) for child in update.get("children") or [])
        earlier = current.get(name)
        value = {**(earlier if isinstance(earlier, dict) else {}), **children}
    existing = current.get(name)
    if existing is not None and (
        isinstance(existing, dict) != isinstance(value, dict) or (not isinstance(existing, dict) and existing != value)
    ):
        raise bad_params(
            f"The type of field {name} is {existing if isinstance(existing, str) else 'object'} and cannot be changed"
        )
    return name, value
