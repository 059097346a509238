"""Templates: GET /api/templates over every type × medium; GET /api/templates/{medium}/get per template for
the extended fields — only when a selected column needs them, never with `suppress_extended_requests`
(the fields then read as NULL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from iterbridge.api.paging import PageNumberPaginator
from iterbridge.api.timestamps import iterable_format, parse_timestamp
from iterbridge.constants import TEMPLATE_MEDIUMS, TEMPLATE_TYPES
from iterbridge.errors import FatalApiError
from iterbridge.objects.base import Column, ObjectDef, Operation, ReadRequest, Row, RowResult, SqlType, Write
from iterbridge.objects.facts import Pushdown, ReadCost, Replication
from iterbridge.objects.reading import integers
from iterbridge.objects.writing import Bulk, Part, accepted_unless, bulk, per_row, present

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

PAGE_SIZE = 1000
DELETE_SIZE = 100  # ids per POST /api/templates/bulkDelete
_UPSERTED = re.compile(r"IDs?:\s*([\d,\s]+)")

_BASE = (
    Column("Id", SqlType.INTEGER, "templateId", key=True, read_only=True),
    Column("Name", SqlType.TEXT, "name"),
    Column("TemplateType", SqlType.TEXT, "templateType", read_only=True),
    Column("MessageMedium", SqlType.TEXT, "messageMedium"),
    Column("CreatedAt", SqlType.TIMESTAMP, "createdAt", read_only=True),
    Column("UpdatedAt", SqlType.TIMESTAMP, "updatedAt", read_only=True),
    Column("CreatorUserId", SqlType.TEXT, "creatorUserId"),
    Column("MessageTypeId", SqlType.INTEGER, "messageTypeId"),
    Column("CampaignId", SqlType.INTEGER, "campaignId", read_only=True),
    Column("ClientTemplateId", SqlType.TEXT, "clientTemplateId"),
)
# Column → field of the per-medium /get body (and of upsert/update requests).
EXTENDED_FIELDS = {
    "Metadata": ("metadata", SqlType.JSON),
    "FromName": ("fromName", SqlType.TEXT),
    "FromEmail": ("fromEmail", SqlType.TEXT),
    "ReplyToEmail": ("replyToEmail", SqlType.TEXT),
    "Subject": ("subject", SqlType.TEXT),
    "PreheaderText": ("preheaderText", SqlType.TEXT),
    "CcEmails": ("ccEmails", SqlType.JSON),
    "BccEmails": ("bccEmails", SqlType.JSON),
    "HTML": ("html", SqlType.TEXT),
    "PlainText": ("plainText", SqlType.TEXT),
    "Message": ("message", SqlType.TEXT),
    "Title": ("title", SqlType.TEXT),
    "Locale": ("locale", SqlType.TEXT),
    "DataFeedIds": ("dataFeedIds", SqlType.JSON),
    "CacheDataFeed": ("cacheDataFeed", SqlType.BOOLEAN),
    "MergeDataFeedContext": ("mergeDataFeedContext", SqlType.BOOLEAN),
}
_EXTENDED = tuple(
    Column(name, kind, f"detail.{field}", extended_request=True) for name, (field, kind) in EXTENDED_FIELDS.items()
)
EXTENDED_COLUMNS = frozenset(EXTENDED_FIELDS)


def _read(conn: Session, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
    columns = conn.columns(obj)
    types = request.values("TemplateType") or list(TEMPLATE_TYPES)
    mediums = request.values("MessageMedium") or list(TEMPLATE_MEDIUMS)
    extended = not conn.suppress_extended_requests and any(request.wants(c) for c in EXTENDED_COLUMNS)
    since, until = request.bounds("CreatedAt")
    params: dict[str, Any] = {}
    if since:
        params["startDateTime"] = iterable_format(since)
    if until:
        params["endDateTime"] = iterable_format(until)
    # Templates not updated since this bound keep their extended fields unread (rows still listed, so a
    # caller can see every key; they fail the UpdatedAt condition and are filtered out as usual).
    changed_since, _ = request.bounds("UpdatedAt")
    # Replication knows which versions its copy holds: (Id, UpdatedAt) → True when the copy is current, and
    # then the extended fields are not read again (the row comes with them NULL, for the caller to skip).
    current = request.hints.current
    ids = request.values("Id")
    wanted_ids = None if ids is None else set(integers(ids))
    if wanted_ids is not None and not wanted_ids:
        return
    for template_type in types:
        for medium in mediums:
            if template_type not in TEMPLATE_TYPES or medium not in TEMPLATE_MEDIUMS:
                continue
            query = {**params, "templateType": template_type, "messageMedium": medium}
            pages = PageNumberPaginator(PAGE_SIZE).pages(conn.client, "GET /api/templates", "templates", params=query)
            for page in pages:
                for summary in page:
                    if wanted_ids is not None and summary.get("templateId") not in wanted_ids:
                        continue
                    record = {**summary, "templateType": template_type, "messageMedium": medium}
                    if (
                        extended
                        and (changed_since is None or _updated(summary) >= changed_since)
                        and not (current and current(summary.get("templateId"), summary.get("updatedAt")))
                    ):
                        record["detail"] = _detail(conn, medium, summary["templateId"])
                    yield {c.name: c.read(record) for c in columns}


def _updated(summary: dict[str, Any]) -> datetime:
    return parse_timestamp(summary.get("updatedAt")) or datetime.max.replace(tzinfo=UTC)


def _detail(conn: Session, medium: str, template_id: int) -> dict[str, Any]:
    try:
        detail = conn.client.json(
            "GET /api/templates/{medium}/get",
            path={"medium": TEMPLATE_MEDIUMS[medium]},
            params={"templateId": template_id},
        )
    except FatalApiError as error:
        if error.status in (400, 404):  # deleted meanwhile, or no content for the default locale
            return {}
        raise
    return detail if isinstance(detail, dict) else {}


def _fields(row: Row) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for column, field in (
        ("Name", "name"),
        ("CreatorUserId", "creatorUserId"),
        ("MessageTypeId", "messageTypeId"),
        ("ClientTemplateId", "clientTemplateId"),
    ):
        if present(row, column):
            body[field] = row[column]
    for column, (field, kind) in EXTENDED_FIELDS.items():
        if column in row and column != "Metadata" and row[column] is not None:
            value = row[column]
            if kind is SqlType.JSON and isinstance(value, str):
                import json

                value = json.loads(value)
            body[field] = value
    return body


def _medium_path(row: Row) -> str:
    medium = str(row["MessageMedium"])
    for name, path in TEMPLATE_MEDIUMS.items():
        if medium.lower() in (name.lower(), path):
            return path
    raise FatalApiError(f"MessageMedium must be one of {', '.join(TEMPLATE_MEDIUMS)}, not {medium!r}")


def _upsert(conn: Session, row: Row) -> dict[str, Any]:
    answer = conn.client.json(
        "POST /api/templates/{medium}/upsert", path={"medium": _medium_path(row)}, json=_fields(row)
    )
    found = _UPSERTED.search(str(answer.get("msg", "")))
    ids = [int(part) for part in found.group(1).replace(" ", "").split(",") if part] if found else []
    return {"Id": ids[0] if len(ids) == 1 else ids}


def _update(conn: Session, row: Row) -> dict[str, Any]:
    body = {"templateId": int(row["Id"]), **_fields(row)}
    conn.client.json("POST /api/templates/{medium}/update", path={"medium": _medium_path(row)}, json=body)
    return {"Id": int(row["Id"])}


def _template_id(row: Row) -> int:
    value = row["Id"]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ValueError(f"Id must be a template id (an integer), not {value!r}")


def _deleted(answer: Any, parts: list[Part]) -> list[RowResult]:
    """Iterable names the ids it refused (a template a campaign uses, an unknown id) and says why once for all."""
    failed = {str(i) for i in answer.get("failed") or []}
    reason = str(answer.get("failureReason") or "Iterable refused to delete it")
    return [accepted_unless(position, reason if str(i) in failed else None, {"Id": i}) for position, _, i in parts]


_DELETE = Bulk(
    "POST /api/templates/bulkDelete",
    part=lambda conn, row: _template_id(row),
    body=lambda _, ids: {"ids": ids},
    outcomes=_deleted,
    max_rows=DELETE_SIZE,
)


def _cost(pushdown: Pushdown) -> ReadCost:
    combinations: int | None = 1
    for column, choices in (("TemplateType", len(TEMPLATE_TYPES)), ("MessageMedium", len(TEMPLATE_MEDIUMS))):
        if pushdown.pushed.get(column) == "in":
            combinations = None
        elif pushdown.pushed.get(column) != "=" and combinations is not None:
            combinations *= choices
    wants_detail = pushdown.extended and bool(EXTENDED_COLUMNS.intersection(pushdown.used))
    listing = f"{combinations} list calls" if combinations is not None else "1 list call per type × medium"
    return ReadCost(
        "GET /api/templates per type × medium" + (" + GET /api/templates/{medium}/get" if wants_detail else ""),
        listing + (" + 1 per template (extended columns)" if wants_detail else ""),
        "GET /api/templates",
        None if wants_detail else combinations,
    )


TEMPLATES = ObjectDef(
    name="Templates",
    description="Message templates of every type and medium; extended columns cost one request per template.",
    columns=_BASE + _EXTENDED,
    reader=_read,
    filters=("TemplateType", "MessageMedium", "CreatedAt"),
    writes={
        Operation.INSERT: Write(
            per_row(_upsert),
            required=(("ClientTemplateId",), ("MessageMedium",)),
            description="POST /api/templates/{medium}/upsert (by ClientTemplateId)",
        ),
        Operation.UPDATE: Write(
            per_row(_update), required=(("Id",), ("MessageMedium",)), description="POST /api/templates/{medium}/update"
        ),
        Operation.DELETE: Write(bulk(_DELETE), required=(("Id",),), description="POST /api/templates/bulkDelete"),
    },
    cursor="UpdatedAt",
    upsert=Operation.INSERT,
    row_estimate=5_000,
    cost=_cost,
    replication=Replication("incremental", sweep=True, skip_current=True),
)
