"""CampaignMetrics: GET /api/campaigns/metrics, CSV, at most 400 campaign ids per call.

Metric names vary with the medium; the common ones are typed columns, and every metric — known or not —
is also in the Metrics JSON column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from iterbridge.objects.base import Column, ObjectDef, ReadRequest, Row, SqlType
from iterbridge.objects.facts import Pushdown, ReadCost
from iterbridge.objects.reading import batched, integers

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

IDS_PER_CALL = 400
METRIC_NAMES = (
    "Revenue",
    "Average Order Value",
    "Total Purchases",
    "Unique Purchases",
    "Total Unsubscribes",
    "Unique Unsubscribes",
    "Total Custom Conversions",
    "Unique Custom Conversions",
    "Total Email Sends",
    "Unique Email Sends",
    "Total Emails Delivered",
    "Unique Emails Delivered",
    "Total Email Opens",
    "Unique Email Opens",
    "Total Emails Clicked",
    "Unique Email Clicks",
    "Total Emails Bounced",
    "Unique Emails Bounced",
    "Total Complaints",
    "Total Pushes Sent",
    "Unique Pushes Sent",
    "Total Pushes Opened",
    "Unique Pushes Opened",
    "Total Pushes Bounced",
    "Total App Uninstalls",
    "Total SMS Sent",
    "Total SMS Delivered",
    "Total SMS Clicks",
    "Total In-apps Sent",
    "Total In-app Opens",
    "Total In-app Clicks",
)


def column_name(metric: str) -> str:
    """ "Total In-app Opens" → "TotalInAppOpens"; "Purchases / M (Email)" → "PurchasesPerMEmail"."""
    words = re.split(r"[^A-Za-z0-9]+", metric.replace("/", " Per "))
    return "".join(word[:1].upper() + word[1:] for word in words if word)


def _number(text: str) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def _read(conn: Session, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
    ids = request.values("CampaignId")
    if ids is None:
        ids = [row["Id"] for row in conn.read("Campaigns", columns=["Id"])]
    columns = conn.columns(obj)
    for batch in batched(integers(ids), IDS_PER_CALL):
        response = conn.client.request("GET /api/campaigns/metrics", params=[("campaignId", i) for i in batch])
        reader = csv.reader(io.StringIO(response.text))
        header = next(reader, [])
        for cells in reader:
            if not cells or not cells[0].strip():
                continue
            metrics: dict[str, Any] = {}
            for name, cell in zip(header[1:], cells[1:], strict=False):
                # An empty cell is a metric of another medium (the header is the batch's union): left out, so
                # a campaign's metrics do not depend on which campaigns were asked with it.
                value = _number(cell)
                if name and value is not None and name not in metrics:
                    metrics[name] = value
            record = {"campaignId": int(cells[0]), "metrics": metrics, **metrics}
            yield {c.name: c.read(record) for c in columns}


def _cost(pushdown: Pushdown) -> ReadCost:
    ids = "" if pushdown.by_value("CampaignId") else " + GET /api/campaigns"
    return ReadCost(
        "GET /api/campaigns/metrics (CSV)",
        f"1 per {IDS_PER_CALL} campaigns" + ids,
        "GET /api/campaigns/metrics",
        1 if pushdown.pushed.get("CampaignId") == "=" else None,
    )


CAMPAIGN_METRICS = ObjectDef(
    name="CampaignMetrics",
    description="Lifetime metrics per campaign (sends, opens, clicks, purchases, revenue…).",
    columns=(
        Column("CampaignId", SqlType.INTEGER, "campaignId", key=True, read_only=True),
        *(
            Column(
                column_name(m), SqlType.REAL if "Revenue" in m or "Average" in m else SqlType.INTEGER, m, read_only=True
            )
            for m in METRIC_NAMES
        ),
        Column("Metrics", SqlType.JSON, "metrics", read_only=True, description="Every metric Iterable returned"),
    ),
    reader=_read,
    filters=("CampaignId",),
    row_estimate=1_000,
    cost=_cost,
)
