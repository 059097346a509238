"""Iterable's documented rate limits, shared by the API client and the sandbox.

The one place both worlds agree on: the client plans its calls with this table and the sandbox enforces it,
so a job that respects the table never earns a 429 by its own fault. Keys are route templates
("METHOD /path/{param}"). Source: the "Rate limit" texts of Iterable's Swagger spec. Endpoints whose limit
Iterable does not state are absent: the sandbox does not limit them and the client applies `DEFAULT_LIMIT`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["project", "key", "organization"]


@dataclass(frozen=True)
class RateLimit:
    """`count` requests per `per_seconds`, counted per project, API key or organization (a leaky bucket)."""

    count: int
    per_seconds: float
    scope: Scope = "project"

    @property
    def per_second(self) -> float:
        return self.count / self.per_seconds

    def scaled(self, factor: float) -> RateLimit:
        """The same burst, refilled `factor` times faster (the sandbox's `--rate-limits xN`)."""
        return RateLimit(self.count, self.per_seconds / factor, self.scope)

    def describe(self) -> str:
        if self.per_seconds >= 60:
            return f"{self.count * 60 / self.per_seconds:.1f} per minute"
        return f"{self.count / self.per_seconds:.1f} per second"


def _per_second(count: int, scope: Scope = "project") -> RateLimit:
    return RateLimit(count, 1.0, scope)


def _per_minute(count: int, scope: Scope = "project") -> RateLimit:
    return RateLimit(count, 60.0, scope)


DEFAULT_LIMIT = _per_second(100)

_HUNDRED_PER_SECOND = (
    "GET /api/campaigns",
    "GET /api/campaigns/{id}",
    "GET /api/campaigns/recurring/{id}/childCampaigns",
    "GET /api/channels",
    "GET /api/messageTypes",
    "GET /api/lists",
    "GET /api/templates",
    "GET /api/templates/{medium}/get",
    "GET /api/templates/getByClientTemplateId",
    "GET /api/events/{email}",
    "GET /api/events/byUserId/{userId}",
    "GET /api/users/{email}",
    "GET /api/users/byUserId/{userId}",
    "GET /api/users/byUserId",
    "GET /api/users/getByEmail",
    "DELETE /api/users/{email}",
    "DELETE /api/users/byUserId/{userId}",
)

ENDPOINT_LIMITS: dict[str, RateLimit] = {
    **{endpoint: _per_second(100) for endpoint in _HUNDRED_PER_SECOND},
    "GET /api/catalogs": _per_second(100, "key"),
    "GET /api/catalogs/{catalogName}/items": _per_second(100, "key"),
    "POST /api/catalogs/{catalogName}/items": _per_second(100, "key"),
    "PUT /api/catalogs/{catalogName}/items/{itemId}": _per_second(1000, "key"),
    "POST /api/events/track": _per_second(2000),
    "POST /api/events/trackBulk": _per_second(10),
    "POST /api/users/update": _per_second(500),
    "POST /api/users/registerDeviceToken": _per_second(500),
    "POST /api/users/bulkUpdate": _per_second(5),
    "GET /api/users/getFields": _per_second(3),
    "GET /api/users/getSentMessages": _per_second(3),
    "POST /api/users/forget": _per_second(3),
    "POST /api/users/unforget": _per_second(3),
    "POST /api/users/merge": _per_second(50, "key"),
    "GET /api/export/data.json": _per_minute(4),
    "GET /api/export/data.csv": _per_minute(4),
    "POST /api/export/start": _per_second(1, "organization"),
    "GET /api/export/{jobId}/files": _per_second(1, "organization"),
    "DELETE /api/export/{jobId}": _per_second(1),
    "GET /api/lists/getUsers": _per_minute(5),
    "GET /api/lists/previewUsers": _per_minute(5),
    "GET /api/lists/{listId}/size": _per_minute(5),
    "GET /api/campaigns/metrics": _per_minute(10),
    "POST /api/campaigns/archive": _per_second(5, "key"),
}

# Async export jobs that may run at once per organization; more are queued.
MAX_CONCURRENT_EXPORT_JOBS = 4


def parse_rate_limits(text: str) -> float | None:
    """A server's pace as people write it — "real" → 1.0 (Iterable's documented limits), "off" → None (no
    limits: a sandbox started so), "xN" → N (a sandbox refilling N times faster); ValueError otherwise. One
    spelling for the sandbox's `--rate-limits` and every connected command's."""
    cleaned = text.strip().lower()
    if cleaned == "real":
        return 1.0
    if cleaned == "off":
        return None
    if cleaned.startswith("x"):
        try:
            factor = float(cleaned[1:])
        except ValueError:
            factor = 0.0
        if factor > 0 and factor != float("inf"):
            return factor
    raise ValueError(f"rate limits must be real, off or xN with N > 0 (e.g. x10), not {text.strip()!r}")


def describe_rate_limits(factor: float | None) -> str:
    """The text parse_rate_limits reads back as `factor`."""
    if factor is None:
        return "off"
    return "real" if factor == 1.0 else f"x{factor:g}"


def limit_for(endpoint: str) -> RateLimit | None:
    """The documented limit of a route template, or None when Iterable states none."""
    return ENDPOINT_LIMITS.get(endpoint)


# Request body limits of bulk endpoints (Iterable's Swagger spec: "Max size of request body: 4MB" on
# users/bulkUpdate). "4MB" read as 4,000,000 bytes: the smaller reading, so a body the client allows is
# accepted whichever Iterable means. The client cuts every bulk request to its endpoint's limit, or to
# DEFAULT_BODY_LIMIT where Iterable states none (an assumption: the one stated limit); a BatchTooLarge
# answer is still handled, by halving.
BODY_LIMITS: dict[str, int] = {"POST /api/users/bulkUpdate": 4_000_000}
DEFAULT_BODY_LIMIT = 4_000_000


def body_limit(endpoint: str) -> int:
    """The largest request body, in bytes, the client sends to a route template."""
    return BODY_LIMITS.get(endpoint, DEFAULT_BODY_LIMIT)
