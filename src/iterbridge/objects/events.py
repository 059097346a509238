"""Events: a user's events from GET /api/export/userEvents when filtered by Email or UserId; otherwise the
export API (data.json) per event type, by CreatedAt window. Insert tracks custom events in bulk
(POST /api/events/trackBulk).

Iterable's export records carry no event id: Id is Iterable's `id` where a record has one, otherwise a
stable hash of the record, so the same event always gets the same Id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import orjson

from iterbridge.api.parsed_window import WindowParse
from iterbridge.api.timestamps import parse_timestamp, to_epoch_ms
from iterbridge.constants import EXPORT_DATA_TYPES
from iterbridge.errors import FatalApiError
from iterbridge.objects import scanner
from iterbridge.objects.base import (
    DEFAULT_BATCH_ROWS,
    Column,
    ObjectDef,
    Operation,
    ReadRequest,
    Row,
    RowResult,
    SqlType,
    Write,
    convert,
)
from iterbridge.objects.facts import Pushdown, ReadCost, Replication, TableSplit
from iterbridge.objects.reading import export_records, integers, unknown
from iterbridge.objects.writing import Bulk, Part, bulk, present, user_outcomes

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

EVENT_TYPES = tuple(t for t in EXPORT_DATA_TYPES if t != "user")
BULK_SIZE = 1000
# Fields with a column of their own, or Iterable's bookkeeping: everything else goes to DataFields.
OWN_FIELDS = {
    "id",
    "email",
    "userId",
    "createdAt",
    "eventName",
    "campaignId",
    "templateId",
    "messageId",
    "_type",
    "eventType",
    "itblInternal",
    "eventUpdatedAt",
    "dataFields",
}


# The fields of a record taken into columns (split_record gives them in this order); the rest of OWN_FIELDS is
# left out of DataFields.
TAKEN_FIELDS = ("eventName", "email", "userId", "createdAt", "campaignId", "templateId", "messageId", "id")
_LEFT_OUT = tuple(sorted(OWN_FIELDS - {*TAKEN_FIELDS, "dataFields"}))


def split_record(record: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A record's TAKEN_FIELDS values and its DataFields: every field without a column of its own, the
    record's `dataFields` object merged over them (the one definition, for dict rows and Arrow batches). The
    record itself is left as it was: the fields are taken out of a copy (cheaper than filtering the items)."""
    data = record.copy()
    pop = data.pop
    taken = (
        pop("eventName", None),
        pop("email", None),
        pop("userId", None),
        pop("createdAt", None),
        pop("campaignId", None),
        pop("templateId", None),
        pop("messageId", None),
        pop("id", None),
    )
    fields = pop("dataFields", None)
    for name in _LEFT_OUT:
        pop(name, None)
    if isinstance(fields, dict):
        data.update(fields)
    return taken, data


def to_row(record: dict[str, Any], event_type: str) -> Row:
    """An export or userEvents record → a row, its keys in the columns' order (the hot path of a read)."""
    (name, email, user_id, created, campaign, template, message, event_id), data = split_record(record)
    row: Row = {
        "Id": None,
        "EventType": event_type,
        "EventName": name,
        "Email": email,
        "UserId": None if user_id is None else str(user_id),
        "CreatedAt": parse_timestamp(created),
        "CampaignId": campaign,
        "TemplateId": template,
        "MessageId": message,
        "DataFields": data,
    }
    row["Id"] = str(event_id) if event_id else stable_id(row, created)  # hashed from the values as sent
    for column, sql_type, kind in _TYPED:  # a value of another type, as its batch column holds it (arrow.array)
        value = row[column]
        if value is not None and type(value) is not kind:
            row[column] = convert(value, sql_type)
    return row


_TYPED = (
    ("EventName", SqlType.TEXT, str),
    ("Email", SqlType.TEXT, str),
    ("CampaignId", SqlType.INTEGER, int),
    ("TemplateId", SqlType.INTEGER, int),
    ("MessageId", SqlType.TEXT, str),
)


def stable_id(row: Row, created_text: Any = None) -> str:
    """A hash of everything the event says. `created_text`: the record's own createdAt, whose
    "YYYY-MM-DD HH:MM:SS +00:00" gives the CreatedAt's isoformat() by moving characters (3× faster)."""
    created = row["CreatedAt"]
    iso = export_iso(created_text) if created else None
    if iso is None and created:
        iso = created.isoformat()
    return identity_hash(
        [
            row["EventType"],
            iso,
            row["Email"],
            row["UserId"],
            row["EventName"],
            row["CampaignId"],
            row["TemplateId"],
            row["MessageId"],
            row["DataFields"],
        ]
    )


def export_iso(text: Any) -> str | None:
    """The isoformat() of an export's createdAt text ("2026-05-05 04:22:12 +00:00"), made by moving characters
    (3× faster than parsing and formatting); None for text of any other form."""
    if text.__class__ is str and len(text) == 26 and text.endswith(" +00:00") and text[4] == text[7] == "-":
        return f"{text[:10]}T{text[11:19]}+00:00"
    return None


def identity_hash(identity: list[Any]) -> str:
    """The Id of an event without one: [type, CreatedAt's isoformat, Email, UserId, EventName, CampaignId,
    TemplateId, MessageId, DataFields] hashed (the dict rows' and the Arrow batches' one definition)."""
    return hashlib.sha256(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def _read(conn: Session, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
    wanted_types = request.values("EventType")
    for param, column in (("email", "Email"), ("userId", "UserId")):
        users = request.values(column)
        if users is None:
            continue
        for user in users:
            try:
                response = conn.client.request(
                    "GET /api/export/userEvents", params={param: str(user), "includeCustomEvents": "true"}
                )
            except FatalApiError as error:
                if unknown(error):  # a malformed email, or no user with that id: no events
                    continue
                raise
            with conn.json_lines("Events", f"the userEvents export of {column} {user}") as lines:
                for record in lines.records(response.content.splitlines()):
                    event_type = str(record.get("_type") or record.get("eventType") or "")
                    if wanted_types is None or event_type in wanted_types:
                        yield to_row(record, event_type)
        return
    if scanner.scanning():  # parsed in C while each window downloads, then made dicts in C from the batches
        from iterbridge.objects.arrow import rows

        types = {c.name: c.type for c in conn.columns(obj)}
        for batch in _exported_batches(conn, obj, request, DEFAULT_BATCH_ROWS, sort_keys=False):
            yield from rows(batch, types)
        return
    for event_type, records in exported(conn, request):
        yield from (to_row(record, event_type) for record in records)


def by_user(request: ReadRequest) -> bool:
    """Whether a read is answered per user (userEvents) rather than by the export API."""
    return request.values("Email") is not None or request.values("UserId") is not None


def exported(
    conn: Session,
    request: ReadRequest,
    *,
    blocks: bool = False,
    parse: Callable[[str], WindowParse] | None = None,
) -> Iterator[tuple[str, Iterator[Any]]]:
    """The export API's records of each event type a read asks for (the dict rows' and the batches' source);
    `blocks`: their lines unparsed (LineBlocks), for the C scanner; `parse(event_type)`: what makes each window's
    batches while it downloads (api/parsed_window.py)."""
    since, until = request.bounds("CreatedAt")
    campaigns = request.values("CampaignId")
    ids = None if campaigns is None else integers(campaigns)
    if ids == []:
        return  # no value that could be a campaign id: nothing matches
    campaign_id = ids[0] if ids is not None and len(ids) == 1 else None
    end = until or conn.server_now()
    for event_type in request.values("EventType") or EVENT_TYPES:
        if event_type not in EVENT_TYPES:
            continue
        yield (
            str(event_type),
            export_records(
                conn,
                request,
                str(event_type),
                since,
                end,
                campaign_id=campaign_id,
                blocks=blocks,
                parse=None if parse is None else parse(str(event_type)),
            ),
        )


def _batches(conn: Session, obj: ObjectDef, request: ReadRequest, batch_rows: int) -> Iterator[Any]:
    """Arrow batches: export records built into columns (objects/events_arrow.py); per user, from the rows."""
    from iterbridge.objects.arrow import batches_from_rows

    sort_keys = request.hints.sort_json_keys
    if by_user(request):
        yield from batches_from_rows(_read(conn, obj, request), conn.columns(obj), batch_rows, sort_keys=sort_keys)
        return
    yield from _exported_batches(conn, obj, request, batch_rows, sort_keys=sort_keys)


def _exported_batches(
    conn: Session, obj: ObjectDef, request: ReadRequest, batch_rows: int, *, sort_keys: bool
) -> Iterator[Any]:
    """The export API's events as batches, each window parsed while it downloads where the C scanner is built."""
    from iterbridge.objects.events_arrow import event_batches, window_parse

    columns = conn.columns(obj)
    parse = None
    if scanner.scanning():  # parsed while it downloads: the scanner releases the GIL

        def parse(event_type: str) -> WindowParse:
            return window_parse(event_type, columns, batch_rows, sort_keys)

    for event_type, records in exported(conn, request, blocks=scanner.scanning(), parse=parse):
        yield from event_batches(records, event_type, columns, batch_rows, sort_keys=sort_keys)


def _event(row: Row) -> dict[str, Any]:
    """One row as a trackBulk event (ValueError/TypeError when a value cannot be one)."""
    event: dict[str, Any] = {"eventName": str(row["EventName"])}
    if present(row, "Email"):
        event["email"] = row["Email"]
    if present(row, "UserId"):
        event["userId"] = str(row["UserId"])
    if present(row, "Id"):
        event["id"] = str(row["Id"])
    if present(row, "CreatedAt"):
        moment = parse_timestamp(row["CreatedAt"])
        if moment is not None:
            event["createdAt"] = to_epoch_ms(moment) // 1000
    for column, field in (("CampaignId", "campaignId"), ("TemplateId", "templateId")):
        if present(row, column):
            event[field] = int(row[column])
    if present(row, "DataFields"):
        fields = row["DataFields"]
        event["dataFields"] = json.loads(fields) if isinstance(fields, str) else fields
        if not isinstance(event["dataFields"], dict):
            raise ValueError("DataFields must be a JSON object")
    return event


def _outcomes(answer: Any, parts: list[Part]) -> list[RowResult]:
    named = answer.get("disallowedEventNames") if isinstance(answer, dict) else None
    disallowed = {str(name) for name in named or []}

    def not_allowed(row: Row) -> str | None:
        return "event name not allowed by the project" if str(row.get("EventName")) in disallowed else None

    return user_outcomes(answer, parts, also=not_allowed)


_TRACK = Bulk(
    "POST /api/events/trackBulk",
    part=lambda conn, row: _event(row),
    body=lambda _, events: {"events": events},
    outcomes=_outcomes,
    # With an id on every event, Iterable replaces rather than adds: only then is a re-send harmless.
    idempotent=lambda events: all("id" in event for event in events),
    max_rows=BULK_SIZE,
)


def _cost(pushdown: Pushdown) -> ReadCost:
    column = pushdown.by_value("Email", "UserId")
    if column:
        calls, count = pushdown.per_value(column)
        return ReadCost("GET /api/export/userEvents per user", calls, "GET /api/export/userEvents", count)
    if pushdown.pushed.get("EventType") == "=":
        types, count = "1 event type", 1
    elif pushdown.pushed.get("EventType") == "in":
        types, count = "1 per EventType value", None
    else:
        types, count = f"{len(EVENT_TYPES)} event types", len(EVENT_TYPES)
    return ReadCost(
        "GET /api/export/data.json per event type (by CreatedAt window)",
        f"{types} × 1 window",
        "GET /api/export/data.json",
        count,
    )


EVENTS = ObjectDef(
    name="Events",
    description="Custom and system events (sends, opens, clicks, purchases…); insert tracks custom events.",
    columns=(
        Column("Id", SqlType.TEXT, "Id", key=True),
        Column("EventType", SqlType.TEXT, "EventType", read_only=True),
        Column("EventName", SqlType.TEXT, "EventName"),
        Column("Email", SqlType.TEXT, "Email"),
        Column("UserId", SqlType.TEXT, "UserId"),
        Column("CreatedAt", SqlType.TIMESTAMP, "CreatedAt"),
        Column("CampaignId", SqlType.INTEGER, "CampaignId"),
        Column("TemplateId", SqlType.INTEGER, "TemplateId"),
        Column("MessageId", SqlType.TEXT, "MessageId", read_only=True),
        Column("DataFields", SqlType.JSON, "DataFields"),
    ),
    reader=_read,
    batch_reader=_batches,
    dicts_from_batches=True,
    filters=("Email", "UserId", "EventType", "CreatedAt", "CampaignId"),
    writes={
        Operation.INSERT: Write(
            bulk(_TRACK),
            required=(("EventName",), ("Email", "UserId")),
            description="POST /api/events/trackBulk (custom events; an Id makes a re-send replace)",
        ),
    },
    cursor="CreatedAt",
    upsert=Operation.INSERT,
    open_fields="DataFields",
    row_estimate=10_000_000,
    cost=_cost,
    exported=True,
    replication=Replication("incremental", sweep=False),
    split=TableSplit("EventType", EVENT_TYPES, noun="event", example="emailOpen"),
)
