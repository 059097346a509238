"""Sending to one user: /api/{email,push,sms,inApp,webPush}/target and /cancel, and workflow triggers.

Shapes from the 2022 recordings: a scheduled send answers with its scheduledMessageId; cancel by id, or
by user and campaign; the medium of the path must match the campaign's.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from iterbridge.sandbox.data.timefmt import iso_millis, parse_input
from iterbridge.sandbox.responses import ApiError, bad_params, envelope, generic_error, invalid_email
from iterbridge.sandbox.routes.users import email_or_user
from iterbridge.sandbox.routing import Context, Routes, require_fields

routes = Routes()

PLAIN_JSON = "application/json"
MEDIUM_PATHS = {"email": "Email", "push": "Push", "sms": "SMS", "inApp": "InApp", "webPush": "WebPush"}
MAX_SCHEDULE_DAYS = 365


def _campaign(ctx: Context, medium: str, raw: Any) -> dict[str, Any]:
    campaign = ctx.world.campaigns.get(raw) if isinstance(raw, int) else None
    if campaign is None or campaign["messageMedium"] != medium or campaign["type"] != "Triggered":
        # The email endpoint words it differently from the newer ones (both recorded).
        message = "Invalid campaignId" if medium == "Email" else "Invalid Campaign Id"
        raise bad_params(message, {"campaignId": str(raw)})
    return campaign


def _target(path_medium: str) -> Any:
    medium = MEDIUM_PATHS[path_medium]

    async def target(ctx: Context) -> Response:
        body = await ctx.json()
        errors = require_fields(body, "campaignId", kinds={"campaignId": int, "dataFields": dict})
        if errors:
            raise await ctx.bad_body(errors)
        if body.get("recipientEmail") is not None or body.get("recipientUserId") is None:
            email = body.get("recipientEmail")
            if not isinstance(email, str) or not _valid(email):
                raise invalid_email(str(email or ""))
        else:
            found = ctx.world.users.email_of_user_id(str(body["recipientUserId"]))
            if found is None:
                raise ApiError(400, "UnknownUserIdError", f"No user exists with userId {body['recipientUserId']}")
            email = found
        campaign = _campaign(ctx, medium, body["campaignId"])
        world = ctx.world
        data_fields = body.get("dataFields")
        send_at = parse_input(str(body["sendAt"])) if body.get("sendAt") else None
        if body.get("sendAt") and send_at is None:
            raise bad_params(f"Invalid sendAt: {body['sendAt']}")
        if send_at is not None and send_at > world.now():
            if send_at > world.now() + MAX_SCHEDULE_DAYS * 86_400_000:
                raise bad_params(f"sendAt must be within {MAX_SCHEDULE_DAYS} days")
            scheduled_id = world.inapp.schedule(campaign, email, send_at, data_fields)
            return envelope(
                f"Campaign {campaign['id']} - Scheduled triggered message for: {iso_millis(send_at)} to: {email}",
                params={"scheduledMessageId": scheduled_id},
            )
        if medium == "InApp":
            world.inapp.target(campaign, email, data_fields)
        return envelope(f"Campaign {campaign['id']} - Sent triggered message to: {email}")

    return target


def _cancel(path_medium: str) -> Any:
    async def cancel(ctx: Context) -> Response:
        body = await ctx.json()
        world = ctx.world
        project = ctx.state.config.project_id
        if body.get("scheduledMessageId") is not None:
            ids = [body["scheduledMessageId"]] if body["scheduledMessageId"] in world.inapp.scheduled else []
        else:
            email = email_or_user(ctx, body.get("email"), body.get("userId"))
            ids = world.inapp.pending_for(email or "", body.get("campaignId", -1))
        if not ids:
            raise bad_params("No scheduled messages found- Invalid email and campaignId combination")
        world.inapp.cancel(ids)
        joined = ",".join(str(i) for i in ids)
        return envelope(
            f"Successfully cancelled scheduled messages with scheduledMessageId: {joined} from project: {project}"
        )

    return cancel


def _valid(email: str) -> bool:
    from iterbridge.sandbox.world.users import valid_email

    return valid_email(email)


for _path, _medium in MEDIUM_PATHS.items():
    routes.post(f"/api/{_path}/target", json_type=PLAIN_JSON)(_target(_path))
    routes.post(f"/api/{_path}/cancel", json_type=PLAIN_JSON)(_cancel(_path))


@routes.post("/api/workflows/triggerWorkflow")
async def trigger_workflow(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "workflowId", kinds={"workflowId": int})
    if errors:
        raise await ctx.bad_body(errors)
    if body.get("email") is None and body.get("listId") is None:
        raise generic_error("Must provide either an email or list id", status=400)
    if body.get("listId") is not None and ctx.world.lists.get(body["listId"]) is None:
        raise bad_params(f"error.lists.invalidListId({body['listId']})")
    if body.get("email") is not None:
        email_or_user(ctx, body["email"], None)
    return envelope()
