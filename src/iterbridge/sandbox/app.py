"""The sandbox ASGI app: every /api request passes auth, rate limits and faults before its handler.

Order of checks follows the real API: an unknown key is a 401 before anything else, a request over the
endpoint's limit a 429, then the handler answers. `/_sandbox/*` is the simulator's own admin surface
(stats, reset, faults, export file downloads) and needs no key.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iterbridge.constants import REGION_BASE_URLS
from iterbridge.limits import DEFAULT_LIMIT, limit_for
from iterbridge.sandbox.config import SandboxConfig
from iterbridge.sandbox.faults import FaultInjector, Faults
from iterbridge.sandbox.ratelimit import RateLimiter
from iterbridge.sandbox.responses import (
    JSON_TYPE,
    ApiError,
    action_not_found,
    bad_api_key,
    generic_error,
    insufficient_permissions,
    rate_limited,
)
from iterbridge.sandbox.routing import Context, Endpoint
from iterbridge.sandbox.stats import Stats
from iterbridge.sandbox.world import World


@dataclass
class SandboxState:
    config: SandboxConfig
    world: World
    limiter: RateLimiter
    faults: FaultInjector
    stats: Stats
    initial_faults: Faults

    def reset(self) -> None:
        """Back to the generated project: writes, stats, rate-limit buckets and faults are forgotten."""
        self.world.close()
        faults = copy.deepcopy(self.initial_faults)
        self.config.faults = faults
        self.world = World(self.config, faults)
        self.faults.reset(faults)
        self.limiter.reset(self.config.rate_limit_factor)
        self.stats.reset()


def all_endpoints() -> list[Endpoint]:
    from iterbridge.sandbox.routes import ROUTE_MODULES

    return [endpoint for module in ROUTE_MODULES for endpoint in module.routes.endpoints]


def create_app(config: SandboxConfig | None = None) -> Starlette:
    """The sandbox as an ASGI app (for uvicorn, or httpx2's ASGITransport in tests)."""
    from iterbridge.sandbox.routes import admin

    config = config or SandboxConfig()
    initial = copy.deepcopy(config.faults)
    state = SandboxState(
        config=config,
        world=World(config, config.faults),
        limiter=RateLimiter(config.rate_limit_factor),
        faults=FaultInjector(config.faults, config.seed),
        stats=Stats(),
        initial_faults=initial,
    )
    routes: list[BaseRoute] = [
        Route(e.path, _api_endpoint(state, e), methods=[e.method], name=e.name) for e in _sorted(all_endpoints())
    ]
    routes += admin.admin_routes(state)
    routes.append(Route("/{path:path}", _unrouted(state), methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
    app = Starlette(routes=routes)
    app.state.sandbox = state
    return app


def _sorted(endpoints: list[Endpoint]) -> list[Endpoint]:
    """Literal paths before templated ones, so /api/users/getFields wins over /api/users/{email}."""
    return sorted(endpoints, key=lambda e: (e.path.count("{"), -e.path.count("/"), e.path))


def _presented_key(request: Request) -> str | None:
    headers = request.headers
    return headers.get("api-key") or headers.get("api_key") or request.query_params.get("api_key")


def _wrong_region(request: Request, region: str) -> bool:
    host = request.headers.get("host", "").split(":")[0]
    other = REGION_BASE_URLS["eu" if region == "us" else "us"].removeprefix("https://")
    return host == other


def _api_endpoint(state: SandboxState, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        response = await _dispatch(state, endpoint, request)
        if endpoint.json_type != JSON_TYPE and response.headers.get("content-type") == JSON_TYPE:
            response.headers["content-type"] = endpoint.json_type
        state.stats.record(endpoint.name, response.status_code)
        # The server's clock is the sandbox's clock (clients time export windows by it).
        response.headers["date"] = formatdate(state.world.now() / 1000, usegmt=True)
        return response

    return handle


async def _dispatch(state: SandboxState, endpoint: Endpoint, request: Request) -> Response:
    config = state.config
    world = state.world
    key = _presented_key(request)
    if key not in (config.api_key, config.read_only_api_key) or _wrong_region(request, config.region):
        return bad_api_key(request)
    if key != config.api_key and not endpoint.read_only_key:
        return insufficient_permissions(request)
    world.settle()
    now = world.now()
    faults = state.faults
    retry_after = faults.faults.retry_after_s
    if faults.take_burst_429(endpoint.name):
        documented = limit_for(endpoint.name) or DEFAULT_LIMIT
        return rate_limited(documented.describe(), request.url.path, config.project_id, retry_after)
    exceeded = state.limiter.admit(endpoint.name, now)
    if exceeded is not None:
        return rate_limited(exceeded.describe(), request.url.path, config.project_id, retry_after)
    delay = faults.latency_s(endpoint.name)
    if delay:
        await asyncio.sleep(delay)
    if faults.random_500(endpoint.name):
        return generic_error().response()
    try:
        return await endpoint.handler(Context(request, state, endpoint))
    except ApiError as error:
        return error.response()


def _unrouted(state: SandboxState) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        state.stats.record(f"{request.method} (unrouted)", 404)
        return action_not_found()

    return handle
