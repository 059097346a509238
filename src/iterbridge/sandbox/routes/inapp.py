"""/api/inApp/getMessages: a user's in-app messages; targeting lives in messaging."""

from __future__ import annotations

from starlette.responses import Response

from iterbridge.sandbox.responses import bad_params, json_response
from iterbridge.sandbox.routes.users import email_or_user
from iterbridge.sandbox.routing import Context, Routes

routes = Routes()

PLAIN_JSON = "application/json"


async def _messages(ctx: Context, limit_one: bool = False) -> Response:
    count = 1 if limit_one else ctx.query_int("count")
    if count is None or count < 0:
        raise bad_params("count is required and must be a non-negative number")
    email = ctx.query.get("email")
    user_id = ctx.query.get("userId")
    if email is None and user_id is None:
        raise bad_params("Either email or userId must be specified")
    if email is None and user_id is not None:
        email = ctx.world.users.email_of_user_id(user_id)
        messages = ctx.world.inapp.messages(email) if email else []
    else:
        found = email_or_user(ctx, email, None)
        messages = ctx.world.inapp.messages(found) if found else []
    return json_response({"inAppMessages": messages[:count]}, content_type=PLAIN_JSON)


@routes.get("/api/inApp/getMessages", json_type=PLAIN_JSON)
async def get_messages(ctx: Context) -> Response:
    return await _messages(ctx)


@routes.get("/api/inApp/getPriorityMessage", json_type=PLAIN_JSON)
async def get_priority_message(ctx: Context) -> Response:
    return await _messages(ctx, limit_one=True)
