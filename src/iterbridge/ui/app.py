"""The console's routes: the page, its assets, and the JSON API the page calls.

Routes parse and check what the page sent (one line of error, status 400, never a stack trace) and hand
the work to `console.Console`. Everything sits behind `auth.GuardMiddleware` (token cookie on every request,
CSRF token and Origin on every request that changes something). Values from the page reach the catalog as
object names looked up in it (`get_object`), databases as URLs checked by `dburl.check_target_url`, and SQL
only as the statement the person typed, run by the engine in read-only mode unless confirmed as a write."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from iterbridge.dburl import check_target_url
from iterbridge.errors import IterbridgeError
from iterbridge.objects.base import Operation
from iterbridge.ui.auth import Guard, GuardMiddleware
from iterbridge.ui.console import MAX_PREVIEW, MAX_ROWS, Console, chunks, error_view

MAX_UPLOAD_BYTES = 1 << 30  # a CSV larger than 1 GB is better imported with `iterbridge import`
DOWNLOAD_FORMATS = {"csv": "text/csv", "json": "application/json"}
CONFLICT_POLICIES = ("newest", "iterable", "database")
STATIC = resources.files("iterbridge.ui") / "static"
ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}


class BadRequest(Exception):
    """What the page sent cannot be used: answered 400 with this message."""


def json_response(data: Any, status: int = 200) -> Response:
    body = orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, status, media_type="application/json", headers={"cache-control": "no-store"})


Handler = Callable[[Request], Awaitable[Response]]


def api(function: Callable[[Request], Awaitable[Any]]) -> Handler:
    """A JSON endpoint: its return value as JSON; a bad request or an iterbridge error as {"error": …}."""

    async def endpoint(request: Request) -> Response:
        try:
            result = await function(request)
        except BadRequest as error:
            return json_response({"error": str(error)}, 400)
        except IterbridgeError as error:
            return json_response(error_view(error), 400)
        except Exception as error:  # a bug: one line for the page, never a traceback
            return json_response(error_view(error), 500)
        return result if isinstance(result, Response) else json_response(result)

    return endpoint


async def body_json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the request body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    return data


def text_field(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest(f"{name} is missing")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be text")
    return value


def required(data: dict[str, Any], name: str) -> str:
    value = text_field(data, name)
    if value is None:  # text_field refuses it first
        raise BadRequest(f"{name} is missing")
    return value


def number(value: Any, name: str, default: int, highest: int) -> int:
    if value is None or value == "":
        return default
    try:
        found = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be a whole number, not {value!r}") from None
    if not 1 <= found <= highest:
        raise BadRequest(f"{name} must be between 1 and {highest:,}")
    return found


def sql_request(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    sql = required(data, "sql")
    params = data.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise BadRequest("params must be an object of name → value")
    return sql, params


def target_url(data: dict[str, Any], name: str = "to") -> str:
    url = required(data, name)
    check_target_url(url, name)
    return url


def create_app(console: Console, guard: Guard, hosts: Callable[[], set[str]]) -> Any:
    """The console's ASGI app: routes over `console`, guarded by `guard` for the given Host values."""

    async def page(request: Request) -> Response:
        html = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{csrf}}", guard.csrf)
        headers = {"cache-control": "no-store", "content-security-policy": _CSP, "x-frame-options": "DENY"}
        return Response(html, media_type="text/html", headers=headers)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return json_response({"error": "no such asset"}, 404)
        return Response((STATIC / name).read_bytes(), media_type=ASSETS[name])

    @api
    async def connection(request: Request) -> Any:
        return console.connection()

    @api
    async def check(request: Request) -> Any:
        return await run_in_threadpool(console.check)

    @api
    async def switch_profile(request: Request) -> Any:
        return await run_in_threadpool(console.switch, required(await body_json(request), "profile"))

    @api
    async def objects(request: Request) -> Any:
        return console.objects()

    @api
    async def describe(request: Request) -> Any:
        return await run_in_threadpool(console.describe, request.path_params["name"])

    @api
    async def preview(request: Request) -> Any:
        limit = number(request.query_params.get("limit"), "limit", 20, MAX_PREVIEW)
        run = request.query_params.get("run") == "1"
        return await run_in_threadpool(console.preview, request.path_params["name"], limit, run)

    @api
    async def query(request: Request) -> Any:
        data = await body_json(request)
        sql, params = sql_request(data)
        limit = number(data.get("limit"), "limit", 1000, MAX_ROWS)
        if console.writes(console.one_statement(sql)):  # a write: its dry run first, then a confirmation
            planned = await run_in_threadpool(console.dry_run, sql, params)
            return {"confirm": True, **planned}
        return await run_in_threadpool(console.query, sql, params, limit)

    @api
    async def explain(request: Request) -> Any:
        sql, params = sql_request(await body_json(request))
        return await run_in_threadpool(console.explain, sql, params)

    @api
    async def execute(request: Request) -> Any:
        data = await body_json(request)
        sql, params = sql_request(data)
        if data.get("confirmed") is not True:
            raise BadRequest("a write runs only once confirmed (confirmed: true) after its dry run")
        return await run_in_threadpool(console.execute, sql, params)

    @api
    async def download(request: Request) -> Any:
        data = await body_json(request)
        sql, params = sql_request(data)
        output_format = data.get("format", "csv")
        if output_format not in DOWNLOAD_FORMATS:
            raise BadRequest(f"format must be one of {', '.join(DOWNLOAD_FORMATS)}")
        path = await run_in_threadpool(console.download, sql, params, output_format)
        return FileResponse(
            path,
            media_type=DOWNLOAD_FORMATS[output_format],
            filename=f"query.{output_format}",
            background=BackgroundTask(path.unlink, missing_ok=True),
        )

    @api
    async def import_csv(request: Request) -> Any:
        arguments = request.query_params
        obj = console.conn.object(arguments.get("object") or "")
        operation = arguments.get("operation") or "insert"
        if Operation.named(operation) is None:
            raise BadRequest(f"operation must be one of {', '.join(o.value for o in Operation)}")
        try:
            mapping = json.loads(arguments.get("map") or "{}")
        except ValueError:
            raise BadRequest("map must be a JSON object of CSV column → field") from None
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise BadRequest("map must be a JSON object of CSV column → field")
        path = await _received(request, console.new_file(".csv"))
        try:
            number_ = await run_in_threadpool(
                console.import_csv, obj.name, path, operation, mapping, arguments.get("dry_run") == "1"
            )
        finally:
            path.unlink(missing_ok=True)
        return {"id": number_, **console.imports[number_].summary}

    async def rejects(request: Request) -> Response:
        found = console.imports.get(request.path_params["id"])
        if found is None or not found.rejects.exists():
            return json_response({"error": "no rejects for this import"}, 404)
        return StreamingResponse(
            chunks(found.rejects),
            media_type="text/csv",
            headers={"content-disposition": 'attachment; filename="rejects.csv"'},
        )

    @api
    async def replicate(request: Request) -> Any:
        data = await body_json(request)
        url = target_url(data)
        chosen = data.get("objects") or None
        if chosen is not None and (not isinstance(chosen, list) or not all(isinstance(o, str) for o in chosen)):
            raise BadRequest("objects must be a list of object or table names")
        job = console.replicate(url, chosen, bool(data.get("full")))
        return job.view()

    @api
    async def sync(request: Request) -> Any:
        data = await body_json(request)
        url = target_url(data)
        obj = console.conn.object(required(data, "object"))
        conflict = data.get("conflict") or "newest"
        if conflict not in CONFLICT_POLICIES:
            raise BadRequest(f"conflict must be one of {', '.join(CONFLICT_POLICIES)}")
        catalog = text_field(data, "catalog", required=False)
        return console.sync(obj.name, url, catalog, conflict, bool(data.get("dry_run"))).view()

    @api
    async def jobs(request: Request) -> Any:
        return {"jobs": [job.view() for job in console.jobs.all()]}

    @api
    async def job(request: Request) -> Any:
        found = console.jobs.get(request.path_params["id"])
        if found is None:
            return json_response({"error": "no such job"}, 404)
        return found.view()

    @api
    async def freshness(request: Request) -> Any:
        url = target_url(dict(request.query_params))
        return await run_in_threadpool(console.freshness, url)

    @api
    async def events_chart(request: Request) -> Any:
        data = await body_json(request)
        source = data.get("source")
        if source not in ("api", "copy"):
            raise BadRequest("source must be api or copy")
        url = target_url(data) if source == "copy" else None
        start, end = required(data, "start"), required(data, "end")
        return await run_in_threadpool(console.events_per_day, source, url, start, end, data.get("run") is True)

    routes = [
        Route("/", page),
        Route("/static/{name}", asset),
        Route("/api/connection", connection),
        Route("/api/connection/check", check),
        Route("/api/connection/profile", switch_profile, methods=["POST"]),
        Route("/api/objects", objects),
        Route("/api/objects/{name}", describe),
        Route("/api/objects/{name}/preview", preview),
        Route("/api/query", query, methods=["POST"]),
        Route("/api/explain", explain, methods=["POST"]),
        Route("/api/execute", execute, methods=["POST"]),
        Route("/api/download", download, methods=["POST"]),
        Route("/api/import", import_csv, methods=["POST"]),
        Route("/api/import/{id:int}/rejects", rejects),
        Route("/api/replicate", replicate, methods=["POST"]),
        Route("/api/sync", sync, methods=["POST"]),
        Route("/api/jobs", jobs),
        Route("/api/jobs/{id:int}", job),
        Route("/api/freshness", freshness),
        Route("/api/chart/events", events_chart, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    return GuardMiddleware(app, guard, hosts)


# The page runs only its own script and style: no inline script, nothing from elsewhere.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)


async def _received(request: Request, path: Path) -> Path:
    """The request's body (an uploaded CSV) streamed into a file of the console's, refused past the limit."""
    size = 0
    with path.open("wb") as handle:
        async for block in request.stream():
            size += len(block)
            if size > MAX_UPLOAD_BYTES:
                handle.close()
                path.unlink(missing_ok=True)
                raise BadRequest("the file is larger than 1 GB: import it with `iterbridge import`")
            handle.write(block)
    if size == 0:
        path.unlink(missing_ok=True)
        raise BadRequest("no file was sent")
    return path
