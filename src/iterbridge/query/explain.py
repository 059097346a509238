"""EXPLAIN: per object, the endpoint chosen, what is pushed down, and an estimate of API calls and time
under the rate limits — from SQLite's query plan alone, without reading any data (metadata aside: the
custom user fields)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from iterbridge.api.exports import EXPORT_ENDPOINT
from iterbridge.objects import get_object
from iterbridge.objects.facts import Pushdown, ReadCost
from iterbridge.objects.reading import ASYNC_WORTH_IT_S
from iterbridge.query.vtable import Plan

if TYPE_CHECKING:
    from iterbridge.api.ratelimit import ClientRateLimiter
    from iterbridge.query.engine import Cursor, Engine, Params

_VIRTUAL = re.compile(r"VIRTUAL TABLE INDEX \d+:(\{.*\})")
JOB_START, JOB_FILES = "POST /api/export/start", "GET /api/export/{jobId}/files"
COLUMNS = ["object", "endpoint", "pushed down", "columns fetched", "api calls", "time under the rate limits"]


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


def _paced(found: ReadCost, limiter: ClientRateLimiter) -> tuple[ReadCost, str]:
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
    paced = ReadCost(
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
        found = obj.cost(Pushdown(pushed, used, plan.limit, extended=not connection.suppress_extended_requests))
        filters = ", ".join(f"{c} {op}" for c, op in constraints) or "none"
        if plan.limit:
            filters += ", LIMIT"
        found, time_taken = _paced(found, limiter)
        rows.append((obj.name, found.endpoint, filters, ", ".join(sorted(used)) or "-", found.calls, time_taken))
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
