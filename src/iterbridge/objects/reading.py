"""Read strategies shared by object declarations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from iterbridge.api.exports import EXPORT_ENDPOINT, ExportReader
from iterbridge.api.paging import PageNumberPaginator, records, unwrap
from iterbridge.api.parsed_window import WindowParse
from iterbridge.errors import FatalApiError
from iterbridge.objects.base import ObjectDef, Reader, ReadRequest, Row, rows_from

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

# A data.json call that would wait longer than this for its slot (4 a minute at Iterable's pace) costs more than
# an export job (1 start, a few polls at 1 a second, downloads without limit): the job is taken instead.
ASYNC_WORTH_IT_S = 2.0
EXPORT_METHODS = ("auto", "sync", "async")


def listing(endpoint: str, records_key: str) -> Reader:
    """One GET answering every record (lists, channels, message types)."""

    def read(conn: Session, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
        body = unwrap(conn.client.json(endpoint))
        yield from rows_from(iter(body.get(records_key) or []), conn.columns(obj))

    return read


def paged(endpoint: str, records_key: str, page_size: int, params: dict[str, Any] | None = None) -> Reader:
    """page/pageSize paging until nextPageUrl disappears."""

    def read(conn: Session, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
        pages = PageNumberPaginator(page_size).pages(conn.client, endpoint, records_key, params=params)
        yield from rows_from(records(pages), conn.columns(obj))

    return read


def integers(values: list[Any]) -> list[int]:
    """The values that are integers (ids); any other value can match no row, so it is never sent."""
    found: dict[int, None] = {}
    for value in values:
        if isinstance(value, bool):
            continue
        try:
            number = int(value) if not isinstance(value, float) or value.is_integer() else None
        except (TypeError, ValueError):
            continue
        if number is not None:
            found[number] = None
    return list(found)


def unknown(error: FatalApiError) -> bool:
    """A per-user or per-id read refused because the user or id does not exist (or cannot): no rows."""
    return error.status in (400, 404)


def export_records(
    conn: Session,
    request: ReadRequest,
    data_type: str,
    since: datetime | None,
    until: datetime | None,
    *,
    only_fields: list[str] | None = None,
    campaign_id: int | None = None,
    blocks: bool = False,
    parse: WindowParse | None = None,
) -> Iterator[Any]:
    """Records of an export data type in [since, until), through data.json windows or asynchronous export
    jobs, whichever `export_method` says is cheaper; windows end no later than the server's now. Malformed
    lines are repaired or skipped and reported (Session.json_lines), never an error. `blocks`: the lines
    unparsed, as LineBlocks (api/jsonlines.py), for a reader that parses them itself; `parse`: the batches it
    makes of each window's LineBlocks while the window downloads (api/parsed_window.py)."""
    end = until or conn.server_now()
    checkpoint = request.hints.on_checkpoint
    stats = request.hints.export_stats
    with conn.json_lines("Users" if data_type == "user" else "Events", f"the {data_type} export") as lines:
        if export_method(conn, request, campaign_id) == "async":
            from iterbridge.api.async_export import AsyncExportReader

            def fallback(start: datetime, stop: datetime) -> Iterator[Any]:
                """A window an export job keeps truncating: data.json streams it whole."""
                yield from ExportReader(
                    conn.client,
                    data_type,
                    start,
                    stop,
                    only_fields=only_fields,
                    policy=conn.window_policy,
                    lines=lines,
                    blocks=blocks,
                    parse=parse,
                )

            jobs = AsyncExportReader(
                conn.client,
                data_type,
                since,
                end,
                on_checkpoint=checkpoint,
                fallback=fallback,
                lines=lines,
                blocks=blocks,
                parse=parse,
            )
            if stats is not None:
                stats.append(jobs.stats)
            yield from jobs
            return
        reader = ExportReader(
            conn.client,
            data_type,
            since,
            end,
            only_fields=only_fields,
            campaign_id=campaign_id,
            policy=conn.window_policy,
            on_checkpoint=checkpoint,
            lines=lines,
            blocks=blocks,
            parse=parse,
        )
        if stats is not None:
            stats.append(reader.stats)
        yield from reader


def export_method(conn: Session, request: ReadRequest, campaign_id: int | None = None) -> str:
    """How one data type is read: "sync" (data.json) or "async" (export jobs). Asked for by the request's
    `export` hint (replication's --export-method), else the connection's `export_method`; "auto" takes
    data.json while a call to it would not wait (one call, no polling: the fewest calls) and export jobs once
    the rate limit would make it wait (the same records, sooner). Every reader decides here: conn.read, the
    SQL engine, export and replication. A campaign filter needs data.json (jobs cannot narrow to one)."""
    asked = request.hints.export or conn.export_method
    if campaign_id is not None or asked == "sync":
        return "sync"
    if asked == "async":
        return "async"
    return "async" if conn.client.limiter.wait_s(EXPORT_ENDPOINT) > ASYNC_WORTH_IT_S else "sync"


def batched(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
