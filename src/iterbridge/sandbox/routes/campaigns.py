"""/api/campaigns: list, get, create, trigger, abort, cancel, archive, metrics."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from iterbridge.constants import CAMPAIGN_STATES
from iterbridge.sandbox.data.timefmt import DAY_MS, parse_input
from iterbridge.sandbox.responses import (
    ApiError,
    bad_params,
    envelope,
    json_response,
    not_found,
    text_response,
)
from iterbridge.sandbox.routes.paging import page_bounds, page_links, sort_records, wants_paging
from iterbridge.sandbox.routing import Context, Routes, require_fields
from iterbridge.sandbox.world.campaigns import ABORTABLE, CANCELLABLE

routes = Routes()

SORT_FIELDS = ("id", "name", "createdAt", "updatedAt", "startAt")
MAX_PAGE_SIZE = 1000
MAX_SEND_AT_DAYS = 21


def _campaign_list(ctx: Context, records: list[dict[str, Any]]) -> Response:
    states = ctx.query_list("campaignState")
    unknown = [s for s in states if s not in CAMPAIGN_STATES]
    if unknown:
        raise bad_params(f"Invalid campaignState: {', '.join(unknown)}")
    if states:
        records = [c for c in records if c["campaignState"] in states]
    # Unsorted requests come newest first, as the recorded (legacy) responses do.
    sort = ctx.query.get("sort") or "-id"
    records = sort_records(records, sort, SORT_FIELDS, lambda c, f: c.get(f))
    if not wants_paging(ctx):
        return json_response({"campaigns": records})
    page, size = page_bounds(ctx, 20, MAX_PAGE_SIZE)
    body: dict[str, Any] = {"campaigns": records[(page - 1) * size : page * size]}
    body.update(page_links(ctx, page, size, len(records)))
    body["totalCampaignsCount"] = len(records)
    return json_response(body)


@routes.get("/api/campaigns", read_only_key=True)
async def list_campaigns(ctx: Context) -> Response:
    return _campaign_list(ctx, ctx.world.campaigns.all())


@routes.get("/api/campaigns/metrics", read_only_key=True)
async def metrics(ctx: Context) -> Response:
    ids = []
    for raw in ctx.query_list("campaignId"):
        if not raw.lstrip("-").isdigit():
            raise bad_params(f"Invalid campaignId: {raw}")
        ids.append(int(raw))
    start_raw = ctx.query.get("startDateTime") or ctx.query.get("startTime")
    end_raw = ctx.query.get("endDateTime") or ctx.query.get("endTime")
    start = parse_input(start_raw) if start_raw else None
    end = parse_input(end_raw) if end_raw else None
    if (start_raw and start is None) or (end_raw and end is None):
        raise bad_params("startDateTime and endDateTime must be dates (YYYY-MM-DD or ISO-8601)")
    return text_response(ctx.world.campaigns.metrics_csv(ids, start, end))


@routes.get("/api/campaigns/recurring/{id}/childCampaigns", read_only_key=True)
async def child_campaigns(ctx: Context) -> Response:
    campaign_id = _int_param(ctx.params["id"], "id")
    campaign = ctx.world.campaigns.get(campaign_id)
    if campaign is None or campaign["campaignState"] != "Recurring":
        raise bad_params(f"Campaign {campaign_id} is not a recurring campaign")
    return _campaign_list(ctx, ctx.world.campaigns.children(campaign_id))


@routes.get("/api/campaigns/{id}", read_only_key=True)
async def get_campaign(ctx: Context) -> Response:
    campaign_id = _int_param(ctx.params["id"], "id")
    campaign = ctx.world.campaigns.get(campaign_id)
    if campaign is None:
        raise not_found(f"Campaign {campaign_id} does not exist")
    return json_response(campaign)


def _int_param(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise bad_params(f"Invalid {name}: {raw}") from None


def _known_lists(ctx: Context, list_ids: list[Any]) -> None:
    for list_id in list_ids:
        if not isinstance(list_id, int) or ctx.world.lists.get(list_id) is None:
            raise ApiError(
                400,
                "BadParams",
                f"error.lists.invalidListId({list_id})",
                {"projectId": ctx.state.config.project_id, "listId": list_id},
            )


@routes.post("/api/campaigns/create")
async def create_campaign(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(
        body,
        "name",
        "templateId",
        kinds={
            "name": str,
            "templateId": int,
            "listIds": list,
            "suppressionListIds": list,
            "sendAt": str,
            "dataFields": dict,
            "campaignDataFields": dict,
            "scheduleSend": bool,
        },
    )
    if errors:
        raise await ctx.bad_body(errors)
    if "listIds" in body and not body["listIds"]:
        raise bad_params("The listIds field must be specified")
    if not body["name"]:
        raise bad_params("The name field must be specified")
    template = ctx.world.templates.get(body["templateId"])
    if template is None:
        raise bad_params(f"Template ID: {body['templateId']} does not exist for this project")
    list_ids = body.get("listIds")
    _known_lists(ctx, (list_ids or []) + (body.get("suppressionListIds") or []))
    send_at = None
    if body.get("sendAt"):
        send_at = parse_input(body["sendAt"])
        now = ctx.world.now()
        if send_at is None or send_at < now or send_at > now + MAX_SEND_AT_DAYS * DAY_MS:
            raise bad_params(f"sendAt must be a time in the next {MAX_SEND_AT_DAYS} days (YYYY-MM-DD HH:MM:SS UTC)")
    for mode in ("sendMode",):
        if body.get(mode) not in (None, "ProjectTimeZone", "RecipientTimeZone"):
            raise bad_params(f"Invalid {mode}: {body[mode]}")
    campaign_id = ctx.world.campaigns.create(
        body["name"],
        template,
        list_ids,
        body.get("suppressionListIds") or [],
        send_at,
        body.get("scheduleSend", True),
    )
    return json_response({"campaignId": campaign_id})


async def _campaign_from_body(ctx: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    body = await ctx.json()
    errors = require_fields(body, "campaignId", kinds={"campaignId": int})
    if errors:
        raise await ctx.bad_body(errors)
    campaign = ctx.world.campaigns.get(body["campaignId"])
    if campaign is None:
        raise bad_params(f"Invalid campaignId: {body['campaignId']}", {"campaignId": str(body["campaignId"])})
    return body, campaign


@routes.post("/api/campaigns/trigger")
async def trigger(ctx: Context) -> Response:
    body, campaign = await _campaign_from_body(ctx)
    if campaign["type"] != "Triggered":
        raise bad_params("Campaign is not a triggered campaign")
    list_ids = body.get("listIds")
    if not isinstance(list_ids, list) or not list_ids:
        raise bad_params("The listIds field must be specified")
    suppression = body.get("suppressionListIds") or []
    _known_lists(ctx, list_ids + suppression)
    if campaign["campaignState"] not in ("Ready", "Running"):
        raise bad_params(f"Campaign {campaign['id']} cannot be triggered in state {campaign['campaignState']}")
    world = ctx.world
    world.campaigns.triggers.append(
        {
            "campaignId": campaign["id"],
            "listIds": list_ids,
            "suppressionListIds": suppression,
            "dataFields": body.get("dataFields") or {},
            "allowRepeatMarketingSends": body.get("allowRepeatMarketingSends", True),
            "at": world.now(),
        }
    )
    world.campaigns.touch(campaign, campaignState="Running")
    return envelope("Campaign triggered")


@routes.post("/api/campaigns/abort")
async def abort(ctx: Context) -> Response:
    _, campaign = await _campaign_from_body(ctx)
    if campaign["campaignState"] not in ABORTABLE:
        raise ApiError(400, "GenericError", f"Campaign abort failed. Id: {campaign['id']}")
    now = ctx.world.now()
    ctx.world.campaigns.touch(campaign, campaignState="Aborted", endedAt=now)
    return envelope(f"Aborted campaign. Id: {campaign['id']}")


@routes.post("/api/campaigns/cancel")
async def cancel(ctx: Context) -> Response:
    _, campaign = await _campaign_from_body(ctx)
    if campaign["campaignState"] not in CANCELLABLE:
        raise ApiError(400, "GenericError", f"Campaign cancel failed. Id: {campaign['id']}")
    campaign.pop("startAt", None)
    ctx.world.campaigns.touch(
        campaign, campaignState="Ready" if campaign["campaignState"] == "Scheduled" else "Finished"
    )
    return envelope(f"Canceled campaign. Id: {campaign['id']}")


@routes.post("/api/campaigns/archive")
async def archive(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "campaignIds", kinds={"campaignIds": list})
    if errors:
        raise await ctx.bad_body(errors)
    success, failed = [], []
    for campaign_id in body["campaignIds"]:
        campaign = ctx.world.campaigns.get(campaign_id) if isinstance(campaign_id, int) else None
        if campaign is None or campaign["campaignState"] in ("Running", "Starting"):
            failed.append(campaign_id)
        else:
            ctx.world.campaigns.touch(campaign, campaignState="Archived")
            success.append(campaign_id)
    return json_response({"success": success, "failed": failed})


@routes.post("/api/campaigns/activateTriggered")
async def activate(ctx: Context) -> Response:
    _, campaign = await _campaign_from_body(ctx)
    if campaign["type"] != "Triggered":
        raise bad_params("Campaign is not a triggered campaign")
    ctx.world.campaigns.touch(campaign, campaignState="Running")
    return envelope(f"Activated campaign. Id: {campaign['id']}")


@routes.post("/api/campaigns/deactivateTriggered")
async def deactivate(ctx: Context) -> Response:
    _, campaign = await _campaign_from_body(ctx)
    if campaign["type"] != "Triggered":
        raise bad_params("Campaign is not a triggered campaign")
    ctx.world.campaigns.touch(campaign, campaignState="Ready")
    return envelope(f"Deactivated campaign. Id: {campaign['id']}")
