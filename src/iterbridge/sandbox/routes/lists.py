"""/api/lists: lists, their members (plain text, 5/min) and subscriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response, StreamingResponse

from iterbridge.sandbox.responses import (
    TEXT_TYPE,
    ApiError,
    bad_params,
    generic_error,
    json_response,
    text_response,
)
from iterbridge.sandbox.routing import Context, Routes, require_fields
from iterbridge.sandbox.streams import chunked
from iterbridge.sandbox.world.users import valid_email

if TYPE_CHECKING:
    from iterbridge.sandbox.world import World

routes = Routes()


@routes.get("/api/lists", read_only_key=True)
async def get_lists(ctx: Context) -> Response:
    return json_response({"lists": ctx.world.lists.all()})


@routes.post("/api/lists")
async def create_list(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "name", kinds={"name": str, "description": str})
    if errors:
        raise await ctx.bad_body(errors)
    return json_response({"listId": ctx.world.lists.create(body["name"], body.get("description"))})


def _list_id(ctx: Context, raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        raise bad_params(f"Invalid list id: {raw}") from None


@routes.delete("/api/lists/{listId}")
async def delete_list(ctx: Context) -> Response:
    list_id = _list_id(ctx, ctx.params["listId"])
    project_id = ctx.state.config.project_id
    if ctx.world.lists.get(list_id) is None:
        raise bad_params(f"Unable to delete list {list_id} in Project {project_id}, which does not exist.")
    for campaign in ctx.world.campaigns.all():
        if campaign["campaignState"] in ("Scheduled", "Running", "Starting", "Recurring") and list_id in (
            campaign.get("listIds", []) + campaign.get("suppressionListIds", [])
        ):
            raise ApiError(409, "BadParams", f"List {list_id} is in use by campaign {campaign['id']}")
    ctx.world.lists.delete(list_id)
    return _success(f"List {list_id} in Project {project_id} was successfully deleted.")


def _success(msg: str) -> Response:
    return json_response({"msg": msg, "code": "Success", "params": None})


def _members_list(ctx: Context) -> int:
    """The listId of a members request, checked like the real API (and its injected faults)."""
    list_id = _list_id(ctx, ctx.query.get("listId") or ctx.params.get("listId"))
    if ctx.world.lists.get(list_id) is None:
        raise bad_params(
            "Invalid email list id", {"projectId": str(ctx.state.config.project_id), "listId": str(list_id)}
        )
    if list_id in ctx.state.faults.faults.error_lists:
        raise generic_error()
    if ctx.state.faults.take_getusers_503():
        raise ApiError(503, "GenericError", "Request timeout. Try again later.")
    return list_id


@routes.get("/api/lists/getUsers")
async def get_users(ctx: Context) -> Response:
    list_id = _members_list(ctx)
    prefer_user_id = ctx.query.get("preferUserId", "false").lower() == "true"
    world = ctx.world

    def lines() -> Any:
        for email in world.lists.members(list_id):
            if prefer_user_id:
                profile_id = world.users.user_id_of(email)
                yield f"{profile_id or email}\n".encode()
            else:
                yield f"{email}\n".encode()

    drop = ctx.state.faults.stream_line_limit()
    return StreamingResponse(chunked(lines(), drop), headers={"content-type": TEXT_TYPE})


@routes.get("/api/lists/previewUsers")
async def preview_users(ctx: Context) -> Response:
    list_id = _members_list(ctx)
    size = min(5000, max(1, ctx.query_int("size", 1000) or 1000))
    members = []
    for email in ctx.world.lists.members(list_id):
        members.append(email)
        if len(members) >= size:
            break
    return text_response("".join(f"{email}\n" for email in members))


@routes.get("/api/lists/{listId}/size")
async def list_size(ctx: Context) -> Response:
    list_id = _members_list(ctx)
    return text_response(str(sum(1 for _ in ctx.world.lists.members(list_id))))


def _subscription_errors(body: dict[str, Any]) -> dict[str, str]:
    errors = require_fields(body, "listId", "subscribers", kinds={"listId": int, "subscribers": list})
    if not errors:
        for position, subscriber in enumerate(body["subscribers"]):
            if not isinstance(subscriber, dict):
                errors[f"obj.subscribers[{position}]"] = "error.expected.jsobject"
    return errors


def _invalid_list(ctx: Context, list_id: int) -> ApiError:
    """The quirk of a list that does not exist (yet): a 400 whose code says Success."""
    return ApiError(
        400,
        "Success",
        f"error.lists.invalidListId({list_id})",
        {"projectId": ctx.state.config.project_id, "listId": list_id},
    )


@routes.post("/api/lists/subscribe")
async def subscribe(ctx: Context) -> Response:
    body = await ctx.json()
    errors = _subscription_errors(body)
    if errors:
        raise await ctx.bad_body(errors)
    world = ctx.world
    list_id = body["listId"]
    if world.lists.get(list_id) is None:
        raise _invalid_list(ctx, list_id)
    result = BulkResult()
    existing_only = bool(body.get("updateExistingUsersOnly"))
    for subscriber in body["subscribers"]:
        email = result.resolve(world, subscriber, create=not existing_only)
        if email is None:
            continue
        data_fields = subscriber.get("dataFields") or {}
        if not world.users.exists(email) or data_fields:
            world.users.upsert(
                email,
                data_fields,
                user_id=subscriber.get("userId"),
                merge_nested=bool(subscriber.get("mergeNestedObjects")),
                source="ListAPI",
            )
        world.lists.subscribe(list_id, email)
        result.success_count += 1
    return json_response(result.body())


@routes.post("/api/lists/unsubscribe")
async def unsubscribe(ctx: Context) -> Response:
    body = await ctx.json()
    errors = _subscription_errors(body)
    if errors:
        raise await ctx.bad_body(errors)
    world = ctx.world
    list_id = body["listId"]
    if world.lists.get(list_id) is None:
        raise _invalid_list(ctx, list_id)
    result = BulkResult()
    for subscriber in body["subscribers"]:
        email = result.resolve(world, subscriber, create=True)
        if email is None:
            continue
        world.lists.unsubscribe(list_id, email)
        result.success_count += 1
    return json_response(result.body())


class BulkResult:
    """UserBulkUpdateListResponse: counts, the deprecated invalid lists, and failedUpdates."""

    def __init__(self) -> None:
        self.success_count = 0
        self.fail_count = 0
        self.failed: dict[str, list[str]] = {
            name: []
            for name in (
                "conflictEmails", "conflictUserIds", "forgottenEmails", "forgottenUserIds", "invalidDataEmails",
                "invalidDataUserIds", "invalidEmails", "invalidUserIds", "notFoundEmails", "notFoundUserIds",
            )
        }  # fmt: skip

    def fail(self, kind: str, value: str) -> None:
        self.fail_count += 1
        self.failed[kind].append(value)

    def resolve(self, world: World, subscriber: dict[str, Any], *, create: bool) -> str | None:
        """The email a subscriber entry names, or None after recording why it failed."""
        email = subscriber.get("email")
        user_id = subscriber.get("userId")
        if email is not None or user_id is None:
            if not valid_email(email):
                self.fail("invalidEmails", str(email or ""))
                return None
            address = str(email)
            if address in world.users.forgotten:
                self.fail("forgottenEmails", address)
                return None
            if not create and not world.users.exists(address):
                self.fail("notFoundEmails", address)
                return None
            return address
        found: str | None = world.users.email_of_user_id(str(user_id))
        if found is None:
            self.fail("notFoundUserIds", str(user_id))
        return found

    def body(self) -> dict[str, Any]:
        return {
            "successCount": self.success_count,
            "failCount": self.fail_count,
            "invalidEmails": self.failed["invalidEmails"],
            "invalidUserIds": self.failed["invalidUserIds"] + self.failed["notFoundUserIds"],
            "failedUpdates": self.failed,
        }
