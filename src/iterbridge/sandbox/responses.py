"""Response shapes of the real API: the {msg, code, params} envelope, its errors, and plain-text bodies.

Message texts are the ones recorded from the real API, so a client that parses them here
parses them in production.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
CSV_TYPE = "text/csv"


class ApiError(Exception):
    """Raised by a handler to answer with an Iterable error; the app turns it into the response."""

    def __init__(
        self,
        status: int,
        code: str,
        msg: str,
        params: dict[str, Any] | None = None,
        *,
        text: bool = False,
    ) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.params = params
        self.text = text  # some endpoints answer errors as text/plain, not JSON

    def response(self) -> Response:
        if self.text:
            return text_response(self.msg, self.status)
        return envelope(self.msg, self.code, self.params, status=self.status)


def json_response(payload: Any, status: int = 200, content_type: str = JSON_TYPE) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=None, headers={"content-type": content_type})


def envelope(
    msg: str = "", code: str = "Success", params: dict[str, Any] | None = None, *, status: int = 200
) -> Response:
    """Iterable's IterableApiResponse: {"msg": …, "code": …, "params": …}."""
    return json_response({"msg": msg, "code": code, "params": params}, status)


def text_response(body: str, status: int = 200, content_type: str = TEXT_TYPE) -> Response:
    return Response(body.encode(), status_code=status, media_type=None, headers={"content-type": content_type})


# ---- the recorded error shapes -------------------------------------------------------------------------


def bad_params(msg: str, params: dict[str, Any] | None = None) -> ApiError:
    return ApiError(400, "BadParams", msg, params)


def not_found(msg: str, params: dict[str, Any] | None = None) -> ApiError:
    return ApiError(404, "NotFound", msg, params)


def invalid_email(email: str) -> ApiError:
    return ApiError(400, "InvalidEmailAddressError", f"Invalid email: {email}")


def generic_error(msg: str = "", status: int = 500) -> ApiError:
    return ApiError(
        status,
        "GenericError",
        msg or "An error occurred. Please try again later. If problem persists, please contact your CSM",
    )


def bad_json_body(request: Request, body: bytes, errors: dict[str, str]) -> ApiError:
    """Play framework's validation error: msg echoes the path, the body and the headers, Api-Key included — as
    every recording of this `hdrs: List(...)` format does (2022; only the 2017 `ArrayBuffer(...)` ones left the
    key out), so clients must redact it; params maps JSON paths to error codes."""
    headers = ", ".join(
        f"({name.title() if name != 'api-key' else 'Api-Key'},{value})" for name, value in request.headers.items()
    )
    msg = f"[{request.url.path}] body: {body.decode(errors='replace')}, hdrs: List({headers})"
    params = {path: [{"msg": [code], "args": []}] for path, code in errors.items()}
    return ApiError(400, "BadJsonBody", msg, params)


def bad_api_key(request: Request) -> Response:
    client = request.client.host if request.client else "127.0.0.1"
    return envelope(
        "Invalid API key",
        "BadApiKey",
        {"ip": client, "endpoint": request.url.path},
        status=401,
    )


def insufficient_permissions(request: Request) -> Response:
    """A read-only key on an endpoint that needs a server-side key ([AB] saw 401 with this text)."""
    client = request.client.host if request.client else "127.0.0.1"
    return envelope(
        "Provided API Key has not sufficient permissions",
        "Unauthorized",
        {"ip": client, "endpoint": request.url.path},
        status=401,
    )


def rate_limited(limit_text: str, path: str, project_id: int, retry_after_s: int = 0) -> Response:
    response = envelope(
        f"Exceeded rate limit of {limit_text} for endpoint: {path}, project: {project_id} ",
        "RateLimitExceeded",
        {},
        status=429,
    )
    if retry_after_s:
        response.headers["retry-after"] = str(retry_after_s)
    return response


ACTION_NOT_FOUND_HTML = (
    '<!doctype html><html><head><meta charset="utf-8"><title>Action not found</title></head>'
    "<body><h1>Action not found</h1></body></html>"
)


def action_not_found() -> Response:
    """The Play framework page the real API returns for a path it does not route."""
    return text_response(ACTION_NOT_FOUND_HTML, 404, "text/html; charset=utf-8")
