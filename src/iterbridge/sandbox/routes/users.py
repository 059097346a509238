"""/api/users: profiles by email or userId, updates, deletions, fields."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from iterbridge.limits import BODY_LIMITS
from iterbridge.sandbox.data.timefmt import iterable_time, parse_input
from iterbridge.sandbox.data.users import user_document
from iterbridge.sandbox.responses import (
    ApiError,
    bad_params,
    envelope,
    generic_error,
    invalid_email,
    json_response,
    text_response,
)
from iterbridge.sandbox.routes.lists import BulkResult
from iterbridge.sandbox.routing import Context, Routes, require_fields
from iterbridge.sandbox.world.users import TypeMismatch, valid_email

routes = Routes()

BULK_BODY_LIMIT = BODY_LIMITS["POST /api/users/bulkUpdate"]  # shared with the client (iterbridge.limits)


def _profile_response(ctx: Context, email: str | None) -> Response:
    profile = ctx.world.users.profile(email) if email else None
    return json_response(user_document(profile) if profile else {})


@routes.get("/api/users/getFields", read_only_key=True)
async def get_fields(ctx: Context) -> Response:
    return json_response({"fields": dict(ctx.world.users.fields)})


@routes.get("/api/users/getByEmail")
async def get_by_email(ctx: Context) -> Response:
    email = ctx.query.get("email", "")
    if not valid_email(email):
        raise invalid_email(email)
    return _profile_response(ctx, email)


@routes.get("/api/users/byUserId")
async def get_by_user_id_query(ctx: Context) -> Response:
    return _by_user_id(ctx, ctx.query.get("userId", ""))


@routes.get("/api/users/byUserId/{userId}")
async def get_by_user_id(ctx: Context) -> Response:
    return _by_user_id(ctx, ctx.params["userId"])


def _by_user_id(ctx: Context, user_id: str) -> Response:
    email = ctx.world.users.email_of_user_id(user_id)
    if email is None:
        return text_response("No user with that id exists!", 400)
    return _profile_response(ctx, email)


@routes.get("/api/users/getSentMessages")
async def get_sent_messages(ctx: Context) -> Response:
    email = email_or_user(ctx, ctx.query.get("email"), ctx.query.get("userId"))
    limit = min(1000, ctx.query_int("limit", 10) or 10)
    campaign_ids = {int(c) for c in ctx.query_list("campaignIds") if c.isdigit()}
    start = parse_input(ctx.query.get("startDateTime", "")) or 0
    end = parse_input(ctx.query.get("endDateTime", "")) or 2**62
    medium = ctx.query.get("messageMedium")
    sends = {"emailSend": "Email", "pushSend": "Push", "smsSend": "SMS", "inAppSend": "InApp"}
    messages: list[dict[str, Any]] = []
    for located in reversed(ctx.world.events.of_user(email) if email else []):
        event = located.event
        if event.type not in sends or (medium and sends[event.type] != medium):
            continue
        if campaign_ids and event.fields.get("campaignId") not in campaign_ids:
            continue
        if not start <= event.created_ms < end:
            continue
        messages.append(
            {
                "messageId": event.fields["messageId"],
                "campaignId": event.fields["campaignId"],
                "templateId": event.fields["templateId"],
                "createdAt": iterable_time(event.created_ms),
            }
        )
        if len(messages) >= limit:
            break
    return json_response({"messages": messages})


@routes.get("/api/users/{email}")
async def get_user(ctx: Context) -> Response:
    email = ctx.params["email"]
    if not valid_email(email):
        raise invalid_email(email)
    return _profile_response(ctx, email)


def email_or_user(ctx: Context, email: Any, user_id: Any, *, create_by_user_id: bool = False) -> str | None:
    """The email a request names by email or userId; errors as the real API words them."""
    if email is not None or user_id is None:
        if not valid_email(email):
            raise invalid_email(str(email or ""))
        return str(email)
    found = ctx.world.users.email_of_user_id(str(user_id))
    if found is None and create_by_user_id:
        return ctx.world.users.placeholder_email(str(user_id))
    if found is None:
        raise ApiError(400, "UnknownUserIdError", f"No user exists with userId {user_id}")
    return found


def _type_mismatch(ctx: Context, error: TypeMismatch) -> ApiError:
    project = ctx.state.config.project_id
    return ApiError(
        400,
        "RequestFieldsTypesMismatched",
        f"Fields type mismatch: {error.field} expected {error.expected}",
        {
            "validationErrors": {
                f"{project}:::{error.field}": {
                    "incomingTypes": [error.incoming],
                    "expectedType": error.expected,
                    "category": "user",
                    "offendingValue": str(error.value),
                    "_type": "UnexpectedType",
                }
            }
        },
    )


@routes.post("/api/users/update")
async def update_user(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, kinds={"email": str, "userId": str, "dataFields": dict})
    if errors:
        raise await ctx.bad_body(errors)
    if body.get("email") is None and body.get("userId") is None:
        raise bad_params("Either email or userId must be specified")
    users = ctx.world.users
    email = email_or_user(ctx, body.get("email"), body.get("userId"), create_by_user_id=True)
    assert email is not None
    if email in users.forgotten:
        raise ApiError(409, "ForgottenUserError", f"User {email} has been forgotten")
    data_fields = body.get("dataFields") or {}
    try:
        users.check_types(data_fields)
    except TypeMismatch as error:
        raise _type_mismatch(ctx, error) from None
    users.upsert(email, data_fields, user_id=body.get("userId"), merge_nested=bool(body.get("mergeNestedObjects")))
    return envelope()


@routes.post("/api/users/bulkUpdate")
async def bulk_update(ctx: Context) -> Response:
    raw = await ctx.body()
    if len(raw) > BULK_BODY_LIMIT:
        raise ApiError(400, "BatchTooLarge", f"Request body is larger than {BULK_BODY_LIMIT} bytes")
    body = await ctx.json()
    errors = require_fields(body, "users", kinds={"users": list})
    if errors:
        raise await ctx.bad_body(errors)
    if not body["users"]:
        raise ApiError(400, "InvalidEmailAddressError", "Emails invalid: ")
    users = ctx.world.users
    result = BulkResult()
    for entry in body["users"]:
        if not isinstance(entry, dict):
            result.fail("invalidEmails", str(entry))
            continue
        if entry.get("email") is None and entry.get("userId") is not None and entry.get("preferUserId"):
            email: str | None = users.email_of_user_id(str(entry["userId"])) or users.placeholder_email(
                str(entry["userId"])
            )
        else:
            email = result.resolve(ctx.world, entry, create=True)
        if email is None:
            continue
        data_fields = entry.get("dataFields") or {}
        try:
            users.check_types(data_fields)
        except TypeMismatch:
            result.fail("invalidDataEmails", email)
            continue
        users.upsert(
            email,
            data_fields,
            user_id=entry.get("userId"),
            merge_nested=bool(entry.get("mergeNestedObjects")),
        )
        result.success_count += 1
    return json_response(result.body())


@routes.delete("/api/users/byUserId/{userId}")
async def delete_by_user_id(ctx: Context) -> Response:
    user_id = ctx.params["userId"]
    email = ctx.world.users.email_of_user_id(user_id)
    if email is None:
        raise bad_params(f"No users with userId {user_id} exist")
    ctx.world.users.delete(email)
    return envelope(f"All users associated with {user_id} were successfully deleted")


@routes.delete("/api/users/{email}")
async def delete_user(ctx: Context) -> Response:
    email = ctx.params["email"]
    if not valid_email(email):
        raise invalid_email(email)
    if not ctx.world.users.delete(email):
        raise bad_params(f"No users with email {email} exist")
    return envelope()


@routes.post("/api/users/updateEmail")
async def update_email(ctx: Context) -> Response:
    body = await ctx.json()
    current = email_or_user(ctx, body.get("currentEmail"), body.get("currentUserId"))
    new = body.get("newEmail")
    if not valid_email(new):
        raise invalid_email(str(new or ""))
    users = ctx.world.users
    if current is None or not users.exists(current):
        raise ApiError(400, "UnknownEmailError", f"No user exists with email {current}")
    if users.exists(str(new)) or new in users.forgotten:
        raise ApiError(409, "EmailAlreadyExists", f"A user with email {new} already exists")
    users.rename(current, str(new))
    return envelope()


_SUBSCRIPTION_ARRAYS = ("unsubscribedChannelIds", "unsubscribedMessageTypeIds", "subscribedMessageTypeIds")


def _update_subscriptions(ctx: Context, request: dict[str, Any]) -> str:
    email = email_or_user(ctx, request.get("email"), request.get("userId"))
    assert email is not None
    world = ctx.world
    if not world.users.exists(email):
        world.users.upsert(email, {})
    fields = {name: request[name] for name in _SUBSCRIPTION_ARRAYS if isinstance(request.get(name), list)}
    if fields:
        world.users.upsert(email, fields)
    if isinstance(request.get("emailListIds"), list):
        wanted = set(request["emailListIds"])
        current = set(world.lists.lists_of(email, world.users.index_of(email)))
        for list_id in wanted - current:
            if world.lists.get(list_id) is not None:
                world.lists.subscribe(list_id, email)
        for list_id in current - wanted:
            world.lists.unsubscribe(list_id, email)
    return email


@routes.post("/api/users/updateSubscriptions")
async def update_subscriptions(ctx: Context) -> Response:
    _update_subscriptions(ctx, await ctx.json())
    return envelope()


@routes.post("/api/users/bulkUpdateSubscriptions")
async def bulk_update_subscriptions(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "updateSubscriptionsRequests", kinds={"updateSubscriptionsRequests": list})
    if errors:
        raise await ctx.bad_body(errors)
    success, invalid_emails, invalid_user_ids = 0, [], []
    for request in body["updateSubscriptionsRequests"]:
        try:
            _update_subscriptions(ctx, request if isinstance(request, dict) else {})
            success += 1
        except ApiError as error:
            if error.code == "UnknownUserIdError":
                invalid_user_ids.append(str(request.get("userId")))
            else:
                invalid_emails.append(str(request.get("email") or ""))
    return json_response(
        {
            "successCount": success,
            "failCount": len(invalid_emails) + len(invalid_user_ids),
            "invalidEmails": invalid_emails,
            "invalidUserIds": invalid_user_ids,
            "validEmailFailures": [],
            "validUserIdFailures": [],
        }
    )


@routes.post("/api/users/forget", json_type="application/json")
async def forget(ctx: Context) -> Response:
    body = await ctx.json()
    email = email_or_user(ctx, body.get("email"), body.get("userId"))
    assert email is not None
    ctx.world.users.delete(email)
    ctx.world.users.forgotten.add(email)
    return envelope()


@routes.post("/api/users/registerDeviceToken")
async def register_device_token(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "device", kinds={"device": dict})
    if errors:
        raise await ctx.bad_body(errors)
    email = email_or_user(ctx, body.get("email"), body.get("userId"))
    device = body["device"]
    if not device.get("token"):
        raise generic_error(f"Unable to register token to user Some({email})")
    world = ctx.world
    profile = world.users.profile(email or "") or {}
    devices = [d for d in profile.get("devices", []) if d.get("token") != device["token"]]
    devices.append(
        {
            "token": device["token"],
            "platform": device.get("platform", "APNS"),
            "applicationName": device.get("applicationName", ""),
            "endpointEnabled": True,
            "dataFields": device.get("dataFields") or {},
        }
    )
    world.users.upsert(email or "", {"devices": devices})
    return envelope()


@routes.post("/api/users/disableDevice")
async def disable_device(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "token", kinds={"token": str})
    if errors:
        raise await ctx.bad_body(errors)
    return envelope()


@routes.post("/api/users/registerBrowserToken")
async def register_browser_token(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "browserToken", kinds={"browserToken": str})
    if errors:
        raise await ctx.bad_body(errors)
    email = email_or_user(ctx, body.get("email"), body.get("userId"))
    ctx.world.users.upsert(email or "", {"browserTokens": [body["browserToken"]]})
    return envelope()
