"""How endpoint modules declare their routes, and what a handler receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from iterbridge.sandbox.responses import JSON_TYPE, ApiError, bad_json_body

if TYPE_CHECKING:
    from iterbridge.sandbox.app import SandboxState
    from iterbridge.sandbox.world import World

Handler = Callable[["Context"], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the route template, also the rate-limit and stats key
    handler: Handler
    read_only_key: bool  # whether a read-only API key may call it
    json_type: str  # the Content-Type of its JSON answers: newer endpoints omit the charset

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Routes:
    """A module's endpoints, declared with decorators: `@routes.get("/api/lists", read_only_key=True)`."""

    endpoints: list[Endpoint] = field(default_factory=list)

    def _add(self, method: str, path: str, read_only_key: bool, json_type: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(Endpoint(method, path, handler, read_only_key, json_type))
            return handler

        return register

    def get(
        self, path: str, *, read_only_key: bool = False, json_type: str = JSON_TYPE
    ) -> Callable[[Handler], Handler]:
        return self._add("GET", path, read_only_key, json_type)

    def post(self, path: str, *, json_type: str = JSON_TYPE) -> Callable[[Handler], Handler]:
        return self._add("POST", path, False, json_type)

    def put(self, path: str) -> Callable[[Handler], Handler]:
        return self._add("PUT", path, False, JSON_TYPE)

    def patch(self, path: str) -> Callable[[Handler], Handler]:
        return self._add("PATCH", path, False, JSON_TYPE)

    def delete(self, path: str) -> Callable[[Handler], Handler]:
        return self._add("DELETE", path, False, JSON_TYPE)


class Context:
    """What a handler needs: the request, its path parameters, the world, and body helpers."""

    def __init__(self, request: Request, state: SandboxState, endpoint: Endpoint) -> None:
        self.request = request
        self.state = state
        self.endpoint = endpoint
        self.world: World = state.world
        self.params: dict[str, str] = request.path_params
        self.query = request.query_params
        self._body: bytes | None = None

    async def body(self) -> bytes:
        if self._body is None:
            self._body = await self.request.body()
        return self._body

    async def json(self) -> dict[str, Any]:
        """The JSON object body; malformed JSON is Play's BadJsonBody, like the real API."""
        raw = await self.body()
        try:
            parsed = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            raise bad_json_body(self.request, raw, {"obj": "error.expected.jsobject"}) from None
        if not isinstance(parsed, dict):
            raise bad_json_body(self.request, raw, {"obj": "error.expected.jsobject"})
        return parsed

    async def bad_body(self, errors: dict[str, str]) -> ApiError:
        return bad_json_body(self.request, await self.body(), errors)

    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")

    def query_int(self, name: str, default: int | None = None) -> int | None:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise ApiError(400, "BadParams", f"Invalid value for {name}: {raw}") from None

    def query_list(self, name: str) -> list[str]:
        """A repeatable parameter, also accepting comma-separated values (onlyFields=a,b)."""
        values: list[str] = []
        for raw in self.query.getlist(name):
            values.extend(part for part in raw.split(",") if part)
        return values


def require_fields(
    body: dict[str, Any], *names: str, kinds: dict[str, type | tuple[type, ...]] | None = None
) -> dict[str, str]:
    """Play-style validation of a JSON body: {"obj.field": error code} for missing or mistyped fields."""
    errors: dict[str, str] = {}
    kinds = kinds or {}
    for name in names:
        if name not in body:
            errors[f"obj.{name}"] = "error.path.missing"
    for name, kind in kinds.items():
        value = body.get(name)
        mistyped = value is not None and not _is_kind(value, kind)
        required_null = name in names and name in body and value is None
        if mistyped or required_null:
            errors[f"obj.{name}"] = _expected(kind)
    return errors


def _is_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        return False
    return isinstance(value, kind)


def _expected(kind: type | tuple[type, ...]) -> str:
    if kind is str:
        return "error.expected.jsstring"
    if kind in (int, float, (int, float)):
        return "error.expected.jsnumber"
    if kind is list:
        return "error.expected.jsarray"
    if kind is bool:
        return "error.expected.jsboolean"
    return "error.expected.jsobject"
