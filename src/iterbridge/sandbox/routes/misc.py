"""/api/channels and /api/messageTypes (both unpaged lists)."""

from __future__ import annotations

from starlette.responses import Response

from iterbridge.sandbox.responses import json_response
from iterbridge.sandbox.routing import Context, Routes

routes = Routes()


@routes.get("/api/channels", read_only_key=True)
async def channels(ctx: Context) -> Response:
    return json_response({"channels": ctx.world.project.channels})


@routes.get("/api/messageTypes", read_only_key=True)
async def message_types(ctx: Context) -> Response:
    return json_response({"messageTypes": ctx.world.project.message_types})
