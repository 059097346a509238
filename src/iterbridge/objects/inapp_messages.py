"""InAppMessages: GET /api/inApp/getMessages, per user only; insert targets a user with a triggered in-app
campaign (POST /api/inApp/target)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from iterbridge.errors import FatalApiError
from iterbridge.objects.base import Column, ObjectDef, Operation, ReadRequest, Row, SqlType, Write
from iterbridge.objects.facts import Pushdown, ReadCost, Replication
from iterbridge.objects.reading import unknown
from iterbridge.objects.writing import per_row, present, time_param

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

MAX_COUNT = 100


def _read(conn: Session, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
    columns = conn.columns(obj)
    for param, column in (("email", "Email"), ("userId", "UserId")):
        for value in request.values(column) or []:
            try:
                body = conn.client.json("GET /api/inApp/getMessages", params={param: str(value), "count": MAX_COUNT})
            except FatalApiError as error:
                if unknown(error):  # a malformed email, or no user with that id: no messages
                    continue
                raise
            for message in body.get("inAppMessages") or []:
                record = {**message, param: value}
                yield {c.name: c.read(record) for c in columns}


def _target(conn: Session, row: Row) -> dict[str, Any]:
    body: dict[str, Any] = {"campaignId": int(row["CampaignId"])}
    if present(row, "Email"):
        body["recipientEmail"] = row["Email"]
    else:
        body["recipientUserId"] = str(row["UserId"])
    if present(row, "DataFields"):
        import json

        fields = row["DataFields"]
        body["dataFields"] = json.loads(fields) if isinstance(fields, str) else fields
    if present(row, "SendAt"):
        body["sendAt"] = time_param(row["SendAt"])
    answer = conn.client.json("POST /api/inApp/target", json=body)
    scheduled = (answer.get("params") or {}).get("scheduledMessageId")
    return {"ScheduledMessageId": scheduled} if scheduled else {}


def _cost(pushdown: Pushdown) -> ReadCost:
    calls, count = pushdown.per_value(pushdown.by_value("Email", "UserId") or "Email")
    return ReadCost("GET /api/inApp/getMessages per user", calls, "GET /api/inApp/getMessages", count)


INAPP_MESSAGES = ObjectDef(
    name="InAppMessages",
    description="In-app messages waiting for a user; readable only per user (filter on Email or UserId).",
    columns=(
        Column("MessageId", SqlType.TEXT, "messageId", key=True, read_only=True),
        Column("Email", SqlType.TEXT, "email"),
        Column("UserId", SqlType.TEXT, "userId"),
        Column("CampaignId", SqlType.INTEGER, "campaignId"),
        Column("CreatedAt", SqlType.TIMESTAMP, "createdAt", read_only=True),
        Column("ExpiresAt", SqlType.TIMESTAMP, "expiresAt", read_only=True),
        Column("Content", SqlType.JSON, "content", read_only=True),
        Column("CustomPayload", SqlType.JSON, "customPayload", read_only=True),
        Column("Trigger", SqlType.JSON, "trigger", read_only=True),
        Column("SaveToInbox", SqlType.BOOLEAN, "saveToInbox", read_only=True),
        Column("InboxMetadata", SqlType.JSON, "inboxMetadata", read_only=True),
        Column("PriorityLevel", SqlType.REAL, "priorityLevel", read_only=True),
        Column("Read", SqlType.BOOLEAN, "read", read_only=True),
        Column("DataFields", SqlType.JSON, import_only=True, description="Personalisation for the message"),
        Column("SendAt", SqlType.TIMESTAMP, import_only=True, description="Schedule the message (UTC)"),
    ),
    reader=_read,
    filters=("Email", "UserId"),
    required_filters=("Email", "UserId"),
    writes={
        Operation.INSERT: Write(
            per_row(_target), required=(("CampaignId",), ("Email", "UserId")), description="POST /api/inApp/target"
        ),
    },
    cursor="CreatedAt",
    row_estimate=100,
    cost=_cost,
    replication=Replication("full", sweep=False),
)
