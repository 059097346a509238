"""EXPLAIN: per object, the endpoint chosen, what is pushed down, and an estimate of API calls and time
under the rate limits — from SQLite's query plan alone, without reading any data (metadata aside: the
custom user fields)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iterbridge.api.exports import EXPORT_ENDPOINT
from iterbridge.constants import TEMPLATE_MEDIUMS, TEMPLATE_TYPES
from iterbridge.objects import campaigns as campaigns_object
from iterbridge.objects import catalog_items as catalog_items_object
from iterbridge.objects import catalogs as catalogs_object
from iterbridge.objects import get_object
from iterbridge.objects.campaign_metrics import IDS_PER_CALL
from iterbridge.objects.events import EVENT_TYPES
from iterbridge.objects.reading import ASYNC_WORTH_IT_S
from iterbridge.objects.templates import EXTENDED_COLUMNS
from iterbridge.query.vtable import Plan

if TYPE_CHECKING:
    from iterbridge.api.ratelimit import ClientRateLimiter
    from iterbridge.query.engine import Cursor, Engine, Params

_VIRTUAL = re.compile(r"VIRTUAL TABLE INDEX \d+:(\{.*\})")
_LISTINGS = {
    "Lists": "GET /api/lists",
    "Channels": "GET /api/channels",
    "MessageTypes": "GET /api/messageTypes",
    "UserFields": "GET /api/users/getFields",
}
JOB_START, JOB_FILES = "POST /api/export/start", "GET /api/export/{jobId}/files"
COLUMNS = ["object", "endpoint", "pushed down", "columns fetched", "api calls", "time under the rate limits"]


@dataclass(frozen=True)
class Strategy:
    endpoint: str  # what is called, in words
    calls: str  # how many calls, in words
    limited: str  # the endpoint whose rate limit paces the calls
    count: int | None = None  # the number of calls when the plan alone tells it


def _by_value(pushed: dict[str, str], *columns: str) -> str | None:
    """The first column pushed as = or IN, if any."""
    return next((c for c in columns if pushed.get(c) in ("=", "in")), None)


def _per_value(pushed: dict[str, str], column: str) -> tuple[str, int | None]:
    return ("1", 1) if pushed.get(column) == "=" else ("1 per value", None)


def strategy(name: str, pushed: dict[str, str], used: set[str], *, limit: bool, extended: bool) -> Strategy:
    """How an object is read given its pushed constraints and the columns used."""
    if name == "Users":
        column = _by_value(pushed, "Email", "UserId")
        if column:
            calls, count = _per_value(pushed, column)
            endpoint = "GET /api/users/{email}" if column == "Email" else "GET /api/users/byUserId/{userId}"
            return Strategy(endpoint, calls, endpoint, count)
        return Strategy(
            "GET /api/export/data.json?dataTypeName=user (by ProfileUpdatedAt window)",
            "1 per window (1 unless a stream drops)",
            "GET /api/export/data.json",
            1,
        )
    if name == "Events":
        column = _by_value(pushed, "Email", "UserId")
        if column:
            calls, count = _per_value(pushed, column)
            return Strategy("GET /api/export/userEvents per user", calls, "GET /api/export/userEvents", count)
        if pushed.get("EventType") == "=":
            types, count = "1 event type", 1
        elif pushed.get("EventType") == "in":
            types, count = "1 per EventType value", None
        else:
            types, count = f"{len(EVENT_TYPES)} event types", len(EVENT_TYPES)
        return Strategy(
            "GET /api/export/data.json per event type (by CreatedAt window)",
            f"{types} × 1 window",
            "GET /api/export/data.json",
            count,
        )
    if name == "Templates":
        combinations: int | None = 1
        for column, choices in (("TemplateType", len(TEMPLATE_TYPES)), ("MessageMedium", len(TEMPLATE_MEDIUMS))):
            if pushed.get(column) == "in":
                combinations = None
            elif pushed.get(column) != "=" and combinations is not None:
                combinations *= choices
        wants_detail = extended and bool(used & EXTENDED_COLUMNS)
        listing = f"{combinations} list calls" if combinations is not None else "1 list call per type × medium"
        return Strategy(
            "GET /api/templates per type × medium" + (" + GET /api/templates/{medium}/get" if wants_detail else ""),
            listing + (" + 1 per template (extended columns)" if wants_detail else ""),
            "GET /api/templates",
            None if wants_detail else combinations,
        )
    if name == "ListUsers":
        calls, count = _per_value(pushed, "ListId") if pushed.get("ListId") in ("=", "in") else ("1 per list", None)
        if count is None and "ListId" not in pushed:
            calls += " + GET /api/lists"
        return Strategy("GET /api/lists/getUsers (plain text)", calls, "GET /api/lists/getUsers", count)
    if name == "CampaignMetrics":
        ids = "" if pushed.get("CampaignId") in ("=", "in") else " + GET /api/campaigns"
        return Strategy(
            "GET /api/campaigns/metrics (CSV)", f"1 per {IDS_PER_CALL} campaigns" + ids, "GET /api/campaigns/metrics",
            1 if pushed.get("CampaignId") == "=" else None,
        )  # fmt: skip
    if name == "Campaigns":
        if pushed.get("Id") in ("=", "in"):
            calls, count = _per_value(pushed, "Id")
            return Strategy("GET /api/campaigns/{id}", calls, "GET /api/campaigns/{id}", count)
        if limit:
            return Strategy("GET /api/campaigns (one page of LIMIT rows)", "1", "GET /api/campaigns", 1)
        size = campaigns_object.PAGE_SIZE
        return Strategy(
            f"GET /api/campaigns (pages of {size}, newest updates first)", f"1 per {size} campaigns",
            "GET /api/campaigns",
        )  # fmt: skip
    if name == "CatalogItems":
        if pushed.get("ItemId") in ("=", "in"):
            return Strategy(
                "GET /api/catalogs/{catalogName}/items/{itemId}",
                "1 per item and catalog",
                "GET /api/catalogs/{catalogName}/items/{itemId}",
                1 if pushed.get("ItemId") == "=" and pushed.get("CatalogName") == "=" else None,
            )
        catalogs = "" if pushed.get("CatalogName") in ("=", "in") else " + GET /api/catalogs"
        size = catalog_items_object.PAGE_SIZE
        return Strategy(
            f"GET /api/catalogs/{{catalogName}}/items (pages of {size})",
            f"1 per {size} items per catalog" + catalogs,
            "GET /api/catalogs/{catalogName}/items",
        )
    if name == "Catalogs":
        size = catalogs_object.PAGE_SIZE
        return Strategy(f"GET /api/catalogs (pages of {size})", f"1 per {size} catalogs", "GET /api/catalogs")
    if name == "InAppMessages":
        column = _by_value(pushed, "Email", "UserId") or "Email"
        calls, count = _per_value(pushed, column)
        return Strategy("GET /api/inApp/getMessages per user", calls, "GET /api/inApp/getMessages", count)
    endpoint = _LISTINGS.get(name, "GET")
    return Strategy(endpoint, "1", endpoint, 1)


def duration(limiter: ClientRateLimiter, endpoint: str, count: int | None) -> str:
    """The time `count` calls take under the connection's limits (a leaky bucket: a burst, then the rate)."""
    limit = limiter.limit(endpoint)
    if limit is None:
        return "no rate limit"
    pace = f"{limit.describe()}"
    if count is None:
        return f"{1 / limit.per_second:.2f} s per call ({pace})"
    seconds = max(0, count - limit.count) / limit.per_second
    if seconds < 1:
        return f"immediate ({pace})"
    shown = f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"
    return f"≈ {shown} ({pace})"


def _paced(found: Strategy, limiter: ClientRateLimiter) -> tuple[Strategy, str]:
    """A strategy and its time, as objects.reading.export_method will read it: data.json calls beyond its
    burst would wait longer than an export job takes, so those data types go through export jobs."""
    limit = limiter.limit(EXPORT_ENDPOINT)
    if (
        found.limited != EXPORT_ENDPOINT
        or found.count is None
        or limit is None
        or found.count <= limit.count
        or limiter.seconds_per_call(EXPORT_ENDPOINT) <= ASYNC_WORTH_IT_S
    ):
        return found, duration(limiter, found.limited, found.count)
    jobs = found.count - limit.count
    per_job = limiter.seconds_per_call(JOB_START) + 2 * limiter.seconds_per_call(JOB_FILES)  # a start, ~2 polls
    seconds = jobs * per_job
    shown = f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"
    paced = Strategy(
        f"{found.endpoint}; export jobs (POST /api/export/start) once data.json would wait",
        f"{found.calls}: {limit.count} through data.json, {jobs} export jobs (1 start + polls each)",
        found.limited,
        found.count,
    )
    return paced, f"≈ {shown} (data.json {limit.describe()}; export jobs instead of waiting)"


def explain(engine: Engine, sql: str, params: Params) -> Cursor:

    from iterbridge.query.engine import Cursor

    text = f"EXPLAIN QUERY PLAN {sql}"
    engine.new_statement(text)
    cursor, _ = engine.start(text, params)
    with engine.sql_errors(text):
        plan_rows = list(cursor)
    connection = engine.connection
    limiter = connection.client.limiter
    rows: list[tuple[Any, ...]] = []
    for _, _, _, detail in plan_rows:
        match = _VIRTUAL.search(detail)
        if not match:
            continue
        plan = Plan.decode(match.group(1))
        obj = get_object(plan.object)
        columns = connection.columns(obj)
        used = {columns[i].name for i in plan.used}
        constraints = [(c, "=" if op == "is" else op) for c, op in plan.constraints]
        pushed = dict(constraints)
        found = strategy(obj.name, pushed, used, limit=plan.limit, extended=not connection.suppress_extended_requests)
        filters = ", ".join(f"{c} {op}" for c, op in constraints) or "none"
        if plan.limit:
            filters += ", LIMIT"
        found, time_taken = _paced(found, limiter)
        rows.append(
            (obj.name, found.endpoint, filters, ", ".join(sorted(used)) or "-", found.calls, time_taken)
        )  # fmt: skip
    for name, operation in engine.statement.written.items():
        write = get_object(name).writes[operation]
        rows.append((name, write.description, "-", "-", f"{operation.upper()}: 1 per row or per batch, at commit", "-"))
    return Cursor(list(COLUMNS), iter(rows), [])


def explain_call(engine: Engine, name: str) -> Cursor:
    """EXPLAIN CALL: the one request a stored procedure sends."""
    from iterbridge.objects.procedures import get_procedure
    from iterbridge.query.engine import Cursor

    procedure = get_procedure(name)
    arguments = ", ".join(p.name + ("" if p.required else f" = {p.default!r}") for p in procedure.params)
    pace = duration(engine.connection.client.limiter, procedure.endpoint, 1)
    row = (procedure.name, procedure.endpoint, f"arguments: {arguments}", "-", "1", pace)
    return Cursor(list(COLUMNS), iter([row]), [])
