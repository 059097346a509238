"""/_sandbox: the simulator's own surface — info, stats, reset, faults, and export file downloads.

Not part of Iterable's API and not authenticated (the sandbox binds to loopback).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from iterbridge.sandbox.faults import FaultError
from iterbridge.sandbox.responses import json_response, text_response

if TYPE_CHECKING:
    from iterbridge.sandbox.app import SandboxState

EXPIRED_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>Request has expired</Message></Error>"
)


def admin_routes(state: SandboxState) -> list[BaseRoute]:
    def endpoint(fn: Callable[[Request], Awaitable[Response]], path: str, method: str) -> Route:
        return Route(path, fn, methods=[method])

    async def info(request: Request) -> Response:
        world = state.world
        project = world.project
        return json_response(
            {
                "projectId": state.config.project_id,
                **state.config.describe(),
                "counts": {
                    "users": world.user_generator.count,
                    "lists": len(world.lists.records),
                    "campaigns": len(world.campaigns.records),
                    "templates": len(world.templates.records),
                    "catalogs": len(world.catalogs.catalogs),
                    "channels": len(project.channels),
                    "messageTypes": len(project.message_types),
                    "eventsTarget": project.size.events,
                },
                "historyStart": project.history_start_ms,
                "anchor": project.anchor_ms,
                "now": world.now(),
            }
        )

    async def stats(request: Request) -> Response:
        return json_response(state.stats.snapshot())

    async def reset(request: Request) -> Response:
        state.reset()
        return json_response({"reset": True})

    async def get_faults(request: Request) -> Response:
        return json_response(state.faults.faults.as_dict())

    async def set_faults(request: Request) -> Response:
        try:
            changes = orjson.loads(await request.body() or b"{}")
            if not isinstance(changes, dict):
                raise FaultError("the body must be a JSON object of fault settings")
            state.faults.faults.update(changes)
        except (orjson.JSONDecodeError, FaultError) as error:
            return json_response({"error": str(error)}, 400)
        return json_response(state.faults.faults.as_dict())

    async def download(request: Request) -> Response:
        exports = state.world.exports
        job = exports.jobs.get(int(request.path_params["job"]))
        name = request.path_params["name"]
        path = exports.file_path(job, name) if job else None
        try:
            expires = int(request.query_params.get("expires", "0"))
        except ValueError:
            expires = 0
        if (
            job is None
            or path is None
            or request.query_params.get("signature") != exports.signature(job.id, name, expires)
        ):
            return text_response(EXPIRED_XML.replace("Request has expired", "Access Denied"), 403, "application/xml")
        if state.world.now() > expires:
            return text_response(EXPIRED_XML, 403, "application/xml")
        media = "text/csv" if name.endswith(".csv") else "application/x-json-stream"
        return FileResponse(path, media_type=media)

    return [
        endpoint(info, "/_sandbox/info", "GET"),
        endpoint(stats, "/_sandbox/stats", "GET"),
        endpoint(reset, "/_sandbox/reset", "POST"),
        endpoint(get_faults, "/_sandbox/faults", "GET"),
        endpoint(set_faults, "/_sandbox/faults", "POST"),
        Route("/_sandbox/files/{job:int}/{name}", download, methods=["GET"]),
    ]
