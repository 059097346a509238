"""Campaigns: paged GET /api/campaigns (newest updates first), GET /api/campaigns/{id}; create.

`SendAt, SendMode, StartTimeZone, DefaultTimeZone, DataFields` exist only to create a campaign: Iterable
never returns them, so they always read NULL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from iterbridge.api.paging import PageNumberPaginator
from iterbridge.api.timestamps import parse_timestamp
from iterbridge.constants import CAMPAIGN_STATES
from iterbridge.errors import FatalApiError
from iterbridge.objects.base import Column, ObjectDef, Operation, ReadRequest, Row, SqlType, Write, rows_from
from iterbridge.objects.facts import Pushdown, ReadCost, Replication
from iterbridge.objects.reading import integers
from iterbridge.objects.writing import per_row, present, time_param

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

PAGE_SIZE = 1000


def _read(conn: Session, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
    columns = conn.columns(obj)
    ids = request.values("Id")
    if ids is not None:
        for campaign_id in integers(ids):
            try:
                record = conn.client.json("GET /api/campaigns/{id}", path={"id": campaign_id})
            except FatalApiError as error:
                if error.status == 404:
                    continue
                raise
            yield from rows_from(iter([record]), columns)
        return
    params: dict[str, Any] = {"sort": "-updatedAt"}
    states = request.values("CampaignState")
    if states is not None:
        # Iterable refuses an unknown state (400): such a value matches no campaign.
        params["campaignState"] = [str(s) for s in states if s in CAMPAIGN_STATES]
        if not params["campaignState"]:
            return
    since, _ = request.bounds("UpdatedAt")
    page_size = min(PAGE_SIZE, request.limit) if request.limit else PAGE_SIZE
    pages = PageNumberPaginator(page_size).pages(conn.client, "GET /api/campaigns", "campaigns", params=params)
    produced = 0
    for page in pages:
        yield from rows_from(iter(page), columns)
        produced += len(page)
        if request.limit is not None and produced >= request.limit:
            return
        # Sorted by updatedAt descending: once a page reaches past the lower bound, no later page matters.
        if since is not None and page and (parse_timestamp(page[-1].get("updatedAt")) or since) < since:
            return


def _create(conn: Session, row: Row) -> dict[str, Any]:
    body: dict[str, Any] = {"name": row["Name"], "templateId": int(row["TemplateId"])}
    for column, field in (("ListIds", "listIds"), ("SuppressionListIds", "suppressionListIds")):
        if present(row, column):
            body[field] = [int(v) for v in _as_list(row[column])]
    if present(row, "SendAt"):
        body["sendAt"] = time_param(row["SendAt"])
    for column, field in (
        ("SendMode", "sendMode"),
        ("StartTimeZone", "startTimeZone"),
        ("DefaultTimeZone", "defaultTimeZone"),
    ):
        if present(row, column):
            body[field] = row[column]
    if present(row, "DataFields"):
        body["dataFields"] = _as_object(row["DataFields"])
    return {"Id": conn.client.json("POST /api/campaigns/create", json=body)["campaignId"]}


def _as_list(value: Any) -> list[Any]:
    import json

    if isinstance(value, str):
        value = json.loads(value)
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _as_object(value: Any) -> dict[str, Any]:
    import json

    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict):
        raise ValueError("DataFields must be a JSON object")
    return value


def _cost(pushdown: Pushdown) -> ReadCost:
    if pushdown.by_value("Id"):
        calls, count = pushdown.per_value("Id")
        return ReadCost("GET /api/campaigns/{id}", calls, "GET /api/campaigns/{id}", count)
    if pushdown.limit:
        return ReadCost("GET /api/campaigns (one page of LIMIT rows)", "1", "GET /api/campaigns", 1)
    return ReadCost(
        f"GET /api/campaigns (pages of {PAGE_SIZE}, newest updates first)",
        f"1 per {PAGE_SIZE} campaigns",
        "GET /api/campaigns",
    )


CAMPAIGNS = ObjectDef(
    name="Campaigns",
    description="Blast and triggered campaigns of every medium and state.",
    columns=(
        Column("Id", SqlType.INTEGER, "id", key=True, read_only=True),
        Column("Name", SqlType.TEXT, "name"),
        Column("TemplateId", SqlType.INTEGER, "templateId"),
        Column("MessageMedium", SqlType.TEXT, "messageMedium", read_only=True),
        Column("CampaignState", SqlType.TEXT, "campaignState", read_only=True),
        Column("Type", SqlType.TEXT, "type", read_only=True),
        Column("CreatedAt", SqlType.TIMESTAMP, "createdAt", read_only=True),
        Column("UpdatedAt", SqlType.TIMESTAMP, "updatedAt", read_only=True),
        Column("StartAt", SqlType.TIMESTAMP, "startAt", read_only=True),
        Column("EndedAt", SqlType.TIMESTAMP, "endedAt", read_only=True),
        Column("CreatedByUserId", SqlType.TEXT, "createdByUserId", read_only=True),
        Column("UpdatedByUserId", SqlType.TEXT, "updatedByUserId", read_only=True),
        Column("ListIds", SqlType.JSON, "listIds"),
        Column("SuppressionListIds", SqlType.JSON, "suppressionListIds"),
        Column("SendSize", SqlType.INTEGER, "sendSize", read_only=True),
        Column("Labels", SqlType.JSON, "labels", read_only=True),
        Column("RecurringCampaignId", SqlType.INTEGER, "recurringCampaignId", read_only=True),
        Column("WorkflowId", SqlType.INTEGER, "workflowId", read_only=True),
        Column("SendAt", SqlType.TIMESTAMP, import_only=True, description="When to send (UTC, ≤ 21 days ahead)"),
        Column("SendMode", SqlType.TEXT, import_only=True, description="ProjectTimeZone or RecipientTimeZone"),
        Column("StartTimeZone", SqlType.TEXT, import_only=True),
        Column("DefaultTimeZone", SqlType.TEXT, import_only=True),
        Column("DataFields", SqlType.JSON, import_only=True, description="Rendered into the template copy"),
    ),
    reader=_read,
    filters=("Id", "CampaignState", "UpdatedAt"),
    writes={
        Operation.INSERT: Write(
            per_row(_create),
            required=(("Name",), ("TemplateId",)),
            description="POST /api/campaigns/create (ListIds given: blast; else triggered)",
        ),
    },
    cursor="UpdatedAt",
    cost=_cost,
    replication=Replication("incremental", sweep=True),
)
