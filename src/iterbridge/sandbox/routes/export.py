"""/api/export: synchronous data.json / data.csv streams, asynchronous jobs, and userEvents."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response, StreamingResponse

from iterbridge.sandbox.data.events import user_event_line
from iterbridge.sandbox.data.timefmt import parse_input
from iterbridge.sandbox.faults import spoil
from iterbridge.sandbox.responses import CSV_TYPE, TEXT_TYPE, bad_params, envelope, json_response, not_found
from iterbridge.sandbox.routes.users import email_or_user
from iterbridge.sandbox.routing import Context, Routes, require_fields
from iterbridge.sandbox.streams import chunked
from iterbridge.sandbox.world.exports import (
    CSV_FORMAT,
    DATA_TYPES,
    JSON_FORMAT,
    ExportJob,
    ExportQuery,
    lines,
    range_window,
)

routes = Routes()

FILES_PER_PAGE = 10
JOB_STATES = ("enqueued", "running", "completed", "failed", "cancelling", "cancelled")


def _query(ctx: Context, source: dict[str, Any], *, allow_range: bool) -> ExportQuery:
    """An export request's parameters (query string or job body), validated as the real API does."""
    raw_type = source.get("dataTypeName")
    if not raw_type:
        raise bad_params("dataTypeName is required")
    data_type = DATA_TYPES.get(str(raw_type).lower())
    if data_type is None:
        raise bad_params(f"Invalid dataTypeName: {raw_type}")
    now = ctx.world.now()
    start_raw, end_raw = source.get("startDateTime"), source.get("endDateTime")
    if start_raw or end_raw:
        start = parse_input(str(start_raw)) if start_raw else 0
        end = parse_input(str(end_raw)) if end_raw else now + 1
        if start is None or end is None:
            raise bad_params("startDateTime and endDateTime must be formatted yyyy-MM-dd HH:mm:ss ZZ")
        if start >= end:
            raise bad_params("startDateTime must be before endDateTime")
    elif allow_range:
        window = range_window(str(source.get("range") or "Today"), now)
        if window is None:
            raise bad_params(f"Invalid range: {source.get('range')}. Valid values: Today, Yesterday, BeforeToday, All")
        start, end = window
    else:
        start, end = 0, now + 1
    only = source.get("onlyFields") or []
    omit = source.get("omitFields") or []
    if only and omit:
        raise bad_params("Only one of onlyFields and omitFields may be given")
    campaign = source.get("campaignId")
    try:
        campaign_id = int(campaign) if campaign not in (None, "") else None
    except (TypeError, ValueError):
        raise bad_params(f"Invalid campaignId: {campaign}") from None
    delimiter = str(source.get("delimiter") or ",")
    return ExportQuery(data_type, start, end, tuple(only), frozenset(omit), campaign_id, delimiter)


def _query_params(ctx: Context) -> dict[str, Any]:
    params: dict[str, Any] = {name: ctx.query.get(name) for name in ctx.query}
    params["onlyFields"] = ctx.query_list("onlyFields")
    params["omitFields"] = ctx.query_list("omitFields")
    return params


def _stream(ctx: Context, query: ExportQuery, output_format: str, content_type: str) -> Response:
    drop = ctx.state.faults.stream_line_limit()
    blocks = lines(ctx.world, query, output_format)
    if output_format == JSON_FORMAT:
        blocks = spoil(ctx.state.faults.faults, blocks)
    body = chunked(blocks, drop)
    return StreamingResponse(body, headers={"content-type": content_type})


@routes.get("/api/export/data.json")
async def data_json(ctx: Context) -> Response:
    query = _query(ctx, _query_params(ctx), allow_range=True)
    return _stream(ctx, query, JSON_FORMAT, TEXT_TYPE)


@routes.get("/api/export/data.csv")
async def data_csv(ctx: Context) -> Response:
    query = _query(ctx, _query_params(ctx), allow_range=True)
    return _stream(ctx, query, CSV_FORMAT, CSV_TYPE)


@routes.get("/api/export/userEvents")
async def user_events(ctx: Context) -> Response:
    email = email_or_user(ctx, ctx.query.get("email"), ctx.query.get("userId"))
    include_custom = ctx.query.get("includeCustomEvents", "false").lower() == "true"
    world = ctx.world
    located = world.events.of_user(email) if email and world.users.exists(email) else []

    def body() -> Any:
        import orjson

        for item in located:
            if item.event.type == "customEvent" and not include_custom:
                continue
            yield orjson.dumps(user_event_line(item.event, item.email, item.user_id)) + b"\n"

    blocks = spoil(ctx.state.faults.faults, body())
    return StreamingResponse(chunked(blocks, ctx.state.faults.stream_line_limit()), headers={"content-type": TEXT_TYPE})


@routes.post("/api/export/start")
async def start_job(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "dataTypeName", "outputFormat", kinds={"dataTypeName": str, "outputFormat": str})
    if errors:
        raise await ctx.bad_body(errors)
    if body["outputFormat"] not in (CSV_FORMAT, JSON_FORMAT):
        raise bad_params(f"Invalid outputFormat: {body['outputFormat']}. Valid values: {CSV_FORMAT}, {JSON_FORMAT}")
    for name in ("onlyFields", "omitFields"):
        if isinstance(body.get(name), str):
            body[name] = [part for part in body[name].split(",") if part]
    job = ctx.world.exports.start(_query(ctx, body, allow_range=False), body["outputFormat"])
    return json_response({"jobId": job.id})


def _job(ctx: Context) -> ExportJob:
    try:
        job_id = int(ctx.params["jobId"])
    except ValueError:
        raise bad_params(f"Invalid jobId: {ctx.params['jobId']}") from None
    job = ctx.world.exports.jobs.get(job_id)
    if job is None:
        raise not_found(f"Export job {job_id} not found")
    return job


@routes.get("/api/export/jobs")
async def list_jobs(ctx: Context) -> Response:
    state = ctx.query.get("jobState")
    if state and state.lower() not in JOB_STATES:
        raise bad_params(f"Invalid jobState: {state}. Valid values: {', '.join(JOB_STATES)}")
    jobs = [j.listing() for j in ctx.world.exports.jobs.values() if not state or j.state == state.lower()]
    return json_response({"jobs": jobs})


@routes.get("/api/export/{jobId}/files")
async def job_files(ctx: Context) -> Response:
    job = _job(ctx)
    exports = ctx.world.exports
    files = list(job.files)
    start_after = ctx.query.get("startAfter")
    if start_after:
        files = [name for name in files if name > start_after]
    expires = ctx.world.now() + int(ctx.state.config.export_file_url_ttl_s * 1000)
    page = [
        {
            "file": name,
            "url": f"{ctx.base_url()}/_sandbox/files/{job.id}/{name}"
            f"?expires={expires}&signature={exports.signature(job.id, name, expires)}",
        }
        for name in files[:FILES_PER_PAGE]
    ]
    return json_response(
        {
            "jobId": job.id,
            "jobState": job.state,
            "exportTruncated": bool(ctx.state.faults.faults.export_truncated),
            "files": page,
        }
    )


@routes.delete("/api/export/{jobId}")
async def cancel_job(ctx: Context) -> Response:
    job = _job(ctx)
    ctx.world.exports.cancel(job)
    return envelope(f"Cancelling export job {job.id}")
