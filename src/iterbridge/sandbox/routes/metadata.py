"""/api/metadata: key-value tables."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from iterbridge.sandbox.responses import envelope, json_response, not_found, text_response
from iterbridge.sandbox.routing import Context, Routes

routes = Routes()

MAX_VALUE_BYTES = 30 * 1024
PAGE_SIZE = 100


@routes.get("/api/metadata", read_only_key=True)
async def list_tables(ctx: Context) -> Response:
    return json_response({"results": [{"name": name} for name, keys in ctx.world.metadata.tables.items() if keys]})


@routes.get("/api/metadata/{table}", read_only_key=True)
async def list_keys(ctx: Context) -> Response:
    store = ctx.world.metadata
    table = ctx.params["table"]
    keys = sorted(store.tables.get(table, {}).items())
    marker = ctx.query.get("nextMarker")
    if marker:
        keys = [(k, v) for k, v in keys if k > marker]
    page = keys[:PAGE_SIZE]
    body: dict[str, object] = {"results": [store.entry(table, k, value, ms) for k, (value, ms) in page]}
    if len(keys) > PAGE_SIZE:
        body["nextMarker"] = page[-1][0]
    return json_response(body)


@routes.get("/api/metadata/{table}/{key}", read_only_key=True)
async def get_key(ctx: Context) -> Response:
    store = ctx.world.metadata
    table, key = ctx.params["table"], ctx.params["key"]
    found = store.tables.get(table, {}).get(key)
    if found is None:
        raise not_found(f"No metadata found in table {table} with key {key}")
    value, modified = found
    return json_response({**store.entry(table, key, value, modified), "value": value})


@routes.put("/api/metadata/{table}/{key}")
async def put_key(ctx: Context) -> Response:
    raw = await ctx.body()
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        body = None
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, dict):
        # This endpoint answers bad bodies in plain text (recorded).
        error = {"obj.value": [{"msg": "error.expected.jsobject", "args": []}]}
        return text_response(f"Json error: {orjson.dumps(error).decode()}\n {raw.decode(errors='replace')}", 400)
    if len(orjson.dumps(value)) > MAX_VALUE_BYTES:
        return text_response(f"Value is larger than {MAX_VALUE_BYTES} bytes", 400)
    table, key = ctx.params["table"], ctx.params["key"]
    ctx.world.metadata.put(table, key, value)
    return envelope(f"Successfully updated object {key} in table {table}")


@routes.delete("/api/metadata/{table}/{key}")
async def delete_key(ctx: Context) -> Response:
    table, key = ctx.params["table"], ctx.params["key"]
    ctx.world.metadata.tables.get(table, {}).pop(key, None)
    return envelope(f"Successfully deleted metadata by key {key} in table {table}")


@routes.delete("/api/metadata/{table}")
async def delete_table(ctx: Context) -> Response:
    table = ctx.params["table"]
    ctx.world.metadata.tables.pop(table, None)
    return envelope(f"Successfully deleted table {table}")
