"""/api/events and /api/commerce: tracking events and reading a user's events."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from iterbridge.sandbox.data.events import api_event
from iterbridge.sandbox.data.rand import Rng, derive
from iterbridge.sandbox.data.timefmt import iterable_time
from iterbridge.sandbox.responses import ApiError, bad_params, envelope, invalid_email, json_response
from iterbridge.sandbox.routes.users import email_or_user
from iterbridge.sandbox.routing import Context, Routes, require_fields
from iterbridge.sandbox.world.users import valid_email

routes = Routes()

_EVENT_ID = re.compile(r"^[A-Za-z0-9-]{1,512}$")
MAX_EVENTS_LIMIT = 200


def _created_ms(ctx: Context, value: Any) -> int:
    """events/track's createdAt is Unix seconds; milliseconds are recognised by their size."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value if value > 10**11 else value * 1000)
    return ctx.world.now()


def _generated_id(ctx: Context) -> str:
    # Numbered per project (not by object identity), so one seed and the same calls give the same ids.
    ctx.world.events.ids_generated += 1
    return Rng(derive(ctx.world.project.seed, 90, ctx.world.now(), ctx.world.events.ids_generated)).hex(30)


def _record_event(ctx: Context, event: dict[str, Any], email: str, user_id: str | None) -> str:
    """Store a custom event for a (possibly new) user; returns its id."""
    world = ctx.world
    if not world.users.exists(email):
        world.users.upsert(email, {}, user_id=user_id)
    created = _created_ms(ctx, event.get("createdAt"))
    event_id = str(event["id"]) if event.get("id") is not None else _generated_id(ctx)
    fields: dict[str, Any] = {"eventName": event["eventName"]}
    for name in ("campaignId", "templateId"):
        if event.get(name) is not None:
            fields[name] = event[name]
    fields["dataFields"] = dict(event.get("dataFields") or {})
    fields["eventUpdatedAt"] = iterable_time(world.now())
    world.events.track("customEvent", email, user_id or world.users.user_id_of(email), created, fields, event_id)
    return event_id


def _identity(ctx: Context, event: dict[str, Any]) -> str:
    if event.get("email") is None and event.get("userId") is None:
        raise bad_params("Either email or userId must be specified in a track call")
    email = email_or_user(ctx, event.get("email"), event.get("userId"), create_by_user_id=True)
    assert email is not None
    return email


@routes.post("/api/events/track")
async def track(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(
        body,
        "eventName",
        kinds={"eventName": str, "email": str, "userId": str, "dataFields": dict, "id": str},
    )
    if errors:
        raise await ctx.bad_body(errors)
    if body.get("id") is not None and not _EVENT_ID.match(str(body["id"])):
        raise bad_params("The id may only contain alphanumeric characters and hyphens, up to 512 bytes")
    email = _identity(ctx, body)
    event_id = _record_event(ctx, body, email, body.get("userId"))
    return envelope(f"Event with id: {event_id} tracked.", params={"id": event_id})


@routes.post("/api/events/trackBulk", json_type="application/json")
async def track_bulk(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "events", kinds={"events": list})
    if not errors:
        for position, event in enumerate(body["events"]):
            if not isinstance(event, dict):
                errors[f"obj.events[{position}]"] = "error.expected.jsobject"
            elif not isinstance(event.get("eventName"), str):
                missing = "eventName" not in event
                errors[f"obj.events[{position}].eventName"] = (
                    "error.path.missing" if missing else "error.expected.jsstring"
                )
    if errors:
        raise await ctx.bad_body(errors)
    invalid_emails: list[str] = []
    invalid_user_ids: list[str] = []
    not_found_user_ids: list[str] = []
    success = 0
    for event in body["events"]:
        email = event.get("email")
        user_id = event.get("userId")
        if email is not None or user_id is None:
            if not valid_email(email):
                invalid_emails.append(str(email or ""))
                continue
        else:
            email = ctx.world.users.email_of_user_id(str(user_id))
            if email is None:
                not_found_user_ids.append(str(user_id))
                continue
        _record_event(ctx, event, str(email), user_id)
        success += 1
    failed = len(invalid_emails) + len(invalid_user_ids) + len(not_found_user_ids)
    return json_response(
        {
            "successCount": success,
            "failCount": failed,
            "invalidEmails": invalid_emails,
            "invalidUserIds": invalid_user_ids + not_found_user_ids,
            "disallowedEventNames": [],
            "failedUpdates": {
                "invalidEmails": invalid_emails,
                "invalidUserIds": invalid_user_ids,
                "notFoundEmails": [],
                "notFoundUserIds": not_found_user_ids,
                "forgottenEmails": [],
                "forgottenUserIds": [],
            },
        }
    )


def _events_of(ctx: Context, email: str | None) -> Response:
    limit = ctx.query_int("limit", 30) or 30
    if not 1 <= limit <= MAX_EVENTS_LIMIT:
        raise bad_params(f"limit must be between 1 and {MAX_EVENTS_LIMIT}")
    if email is None or not ctx.world.users.exists(email):
        return json_response({"events": []})
    located = ctx.world.events.of_user(email)[-limit:]
    events = [api_event(e.event, e.email, e.user_id) for e in reversed(located)]
    return json_response({"events": events})


@routes.get("/api/events/byUserId/{userId}")
async def events_by_user_id(ctx: Context) -> Response:
    return _events_of(ctx, ctx.world.users.email_of_user_id(ctx.params["userId"]))


@routes.get("/api/events/{email}")
async def events_by_email(ctx: Context) -> Response:
    email = ctx.params["email"]
    if not valid_email(email):
        raise invalid_email(email)
    return _events_of(ctx, email)


@routes.post("/api/events/trackPushOpen")
async def track_push_open(ctx: Context) -> Response:
    body = await ctx.json()
    if body.get("email") is None and body.get("userId") is None:
        params: dict[str, Any] = {name: body[name] for name in ("campaignId", "messageId") if name in body}
        raise bad_params("Either email or userId must be specified in a track call", params)
    email = _identity(ctx, body)
    fields = {
        "campaignId": body.get("campaignId"),
        "templateId": body.get("templateId"),
        "messageId": body.get("messageId"),
        "appAlreadyRunning": bool(body.get("appAlreadyRunning")),
    }
    ctx.world.events.track(
        "pushOpen", email, ctx.world.users.user_id_of(email), _created_ms(ctx, body.get("createdAt")), fields
    )
    return envelope()


@routes.post("/api/events/inAppConsume")
async def inapp_consume(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "messageId", kinds={"messageId": str})
    if errors:
        raise await ctx.bad_body(errors)
    _identity(ctx, body)
    ctx.world.inapp.consume(body["messageId"])
    return envelope()


def _commerce_user(ctx: Context, body: dict[str, Any]) -> str:
    user = body.get("user")
    if not isinstance(user, dict):
        raise ApiError(400, "BadParams", "A user with an email or userId is required")
    email = _identity(ctx, user)
    if not ctx.world.users.exists(email) or user.get("dataFields"):
        ctx.world.users.upsert(email, user.get("dataFields") or {}, user_id=user.get("userId"))
    return email


def _cart_items(items: list[Any]) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)]


@routes.post("/api/commerce/trackPurchase")
async def track_purchase(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "user", "items", "total", kinds={"items": list, "total": (int, float)})
    if errors:
        raise await ctx.bad_body(errors)
    email = _commerce_user(ctx, body)
    purchase_id = str(body.get("id") or _generated_id(ctx))
    fields: dict[str, Any] = {
        "id": purchase_id,
        "total": body["total"],
        "shoppingCartItems": _cart_items(body["items"]),
    }
    for name in ("campaignId", "templateId"):
        if body.get(name) is not None:
            fields[name] = body[name]
    if body.get("dataFields"):
        fields["dataFields"] = body["dataFields"]
    ctx.world.events.track(
        "purchase",
        email,
        ctx.world.users.user_id_of(email),
        _created_ms(ctx, body.get("createdAt")),
        fields,
        f"purchase-{purchase_id}",
    )
    ctx.world.users.upsert(email, {"shoppingCartItems": []})
    return envelope()


@routes.post("/api/commerce/updateCart")
async def update_cart(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "user", "items", kinds={"items": list})
    if errors:
        raise await ctx.bad_body(errors)
    email = _commerce_user(ctx, body)
    ctx.world.users.upsert(email, {"shoppingCartItems": _cart_items(body["items"])})
    return envelope()
