"""Campaigns: the generated ones plus those created, triggered, aborted and cancelled by API."""

from __future__ import annotations

import copy
import csv
import io
from typing import TYPE_CHECKING, Any

from iterbridge.sandbox.data.project import Template
from iterbridge.sandbox.data.rand import Rng, derive
from iterbridge.sandbox.data.timefmt import DAY_MS

if TYPE_CHECKING:
    from iterbridge.sandbox.world import World

K_METRICS = 60

_COMMON_METRICS = (
    "Average Custom Conversion Value", "Average Order Value", "Revenue", "Sum of Custom Conversions",
    "Total Custom Conversions", "Total Purchases", "Total Unsubscribes", "Unique Custom Conversions",
    "Unique Purchases", "Unique Unsubscribes",
)  # fmt: skip
_MEDIUM_METRICS = {
    "Email": (
        "Purchases / M (Email)", "Revenue / M (Email)", "Total Complaints", "Total Email Holdout",
        "Total Email Opens", "Total Email Opens (filtered)", "Total Email Send Skips", "Total Email Sends",
        "Total Emails Bounced", "Total Emails Clicked", "Total Emails Delivered", "Unique Email Clicks",
        "Unique Email Opens", "Unique Email Opens (filtered)", "Unique Email Opens Or Clicks",
        "Unique Email Sends", "Unique Emails Bounced", "Unique Emails Delivered",
    ),
    "Push": (
        "Purchases / M (Push)", "Revenue / M (Push)", "Total App Uninstalls", "Total Push Holdout",
        "Total Push Send Skips", "Total Pushes Bounced", "Total Pushes Delivered", "Total Pushes Opened",
        "Total Pushes Sent", "Unique Pushes Bounced", "Unique Pushes Delivered", "Unique Pushes Opened",
        "Unique Pushes Sent",
    ),
    "SMS": (
        "Purchases / M (SMS)", "Revenue / M (SMS)", "Total SMS Bounced", "Total SMS Clicks",
        "Total SMS Delivered", "Total SMS Holdout", "Total SMS Received", "Total SMS Send Skips",
        "Total SMS Sent", "Unique SMS Clicks", "Unique SMS Delivered", "Unique SMS Sent",
    ),
    "InApp": (
        "Purchases / M (InApp)", "Revenue / M (InApp)", "Total In-app Clicks", "Total In-app Closes",
        "Total In-app Deletes", "Total In-app Holdout", "Total In-app Opens", "Total In-app Send Skips",
        "Total In-apps Delivered", "Total In-apps Sent", "Unique In-app Clicks", "Unique In-app Opens",
        "Unique In-apps Sent",
    ),
}  # fmt: skip

ABORTABLE = ("Running", "Starting", "Scheduled", "Recurring")
CANCELLABLE = ("Scheduled", "Recurring")


class CampaignStore:
    def __init__(self, world: World) -> None:
        self.world = world
        self.records: dict[int, dict[str, Any]] = {c["id"]: copy.deepcopy(c) for c in world.project.campaigns}
        self._next_id = max(self.records, default=1_000_000) + 13
        self.triggers: list[dict[str, Any]] = []

    def get(self, campaign_id: int) -> dict[str, Any] | None:
        return self.records.get(campaign_id)

    def all(self) -> list[dict[str, Any]]:
        return list(self.records.values())

    def children(self, parent_id: int) -> list[dict[str, Any]]:
        return [c for c in self.records.values() if c.get("recurringCampaignId") == parent_id]

    def create(
        self,
        name: str,
        template: Template,
        list_ids: list[int] | None,
        suppression_list_ids: list[int],
        send_at_ms: int | None,
        schedule_send: bool,
    ) -> int:
        """campaigns/create: a blast when lists are given, else triggered; the template is copied."""
        now = self.world.now()
        campaign_id = self._next_id
        self._next_id += 7
        blast = bool(list_ids)
        template_id = self.world.templates.copy_for_campaign(template, campaign_id, "Blast" if blast else "Triggered")
        record: dict[str, Any] = {
            "id": campaign_id,
            "createdAt": now,
            "updatedAt": now,
            "name": name,
            "templateId": template_id,
            "messageMedium": template.medium,
            "createdByUserId": "api@brand.example",
        }
        if blast:
            if send_at_ms is not None and schedule_send:
                state = "Scheduled"
            elif schedule_send:
                state = "Running"
            else:
                state = "Ready"
        else:
            state = "Ready"
        record["campaignState"] = state
        if blast:
            record["listIds"] = list(list_ids or [])
        record["suppressionListIds"] = list(suppression_list_ids)
        if state == "Scheduled":
            record["startAt"] = send_at_ms
        elif state == "Running":
            record["startAt"] = now
            record["sendSize"] = sum(1 for lst in list_ids or [] for _ in self.world.lists.members(lst))
        record["labels"] = []
        record["type"] = "Blast" if blast else "Triggered"
        self.records[campaign_id] = record
        return campaign_id

    def touch(self, record: dict[str, Any], **changes: Any) -> None:
        record.update(changes)
        record["updatedAt"] = self.world.now()
        record["updatedByUserId"] = "api@brand.example"

    def metrics_csv(self, campaign_ids: list[int], start_ms: int | None, end_ms: int | None) -> str:
        """campaigns/metrics: a CSV header of every metric asked for, one row per known campaign."""
        found = [self.records[i] for i in campaign_ids if i in self.records]
        columns: list[str] = []
        for campaign in found:
            for name in _COMMON_METRICS + _MEDIUM_METRICS.get(campaign["messageMedium"], ()):
                if name not in columns:
                    columns.append(name)
        columns.sort()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", *columns] if columns else ["id", ""])
        for campaign in found:
            values = self._metric_values(campaign, start_ms, end_ms)
            writer.writerow([campaign["id"], *(values.get(c, "") for c in columns)])
        return out.getvalue()

    def _metric_values(self, campaign: dict[str, Any], start_ms: int | None, end_ms: int | None) -> dict[str, Any]:
        rng = Rng(derive(self.world.project.seed, K_METRICS, campaign["id"]))
        sends = campaign.get("sendSize") or rng.below(5000)
        if start_ms is not None or end_ms is not None:
            span = (end_ms or self.world.now()) - (start_ms or campaign["createdAt"])
            sends = int(sends * max(0.0, min(1.0, span / (30 * DAY_MS))))
        delivered = int(sends * 0.97)
        opens = int(delivered * (0.2 + rng.random() * 0.3))
        clicks = int(opens * rng.random() * 0.3)
        purchases = int(clicks * rng.random() * 0.2)
        revenue = round(purchases * (20 + rng.random() * 80), 2)
        per_thousand = round(purchases * 1000 / sends, 4) if sends else 0
        values: dict[str, Any] = {
            "Average Custom Conversion Value": 0,
            "Average Order Value": round(revenue / purchases, 2) if purchases else 0,
            "Revenue": revenue,
            "Sum of Custom Conversions": 0,
            "Total Custom Conversions": 0,
            "Total Purchases": purchases,
            "Total Unsubscribes": int(delivered * 0.002),
            "Unique Custom Conversions": 0,
            "Unique Purchases": purchases,
            "Unique Unsubscribes": int(delivered * 0.002),
        }
        medium_values = [sends, delivered, opens, clicks, int(sends * 0.03), int(sends * 0.01)]
        for position, name in enumerate(_MEDIUM_METRICS.get(campaign["messageMedium"], ())):
            if name.startswith("Purchases / M"):
                values[name] = per_thousand
            elif name.startswith("Revenue / M"):
                values[name] = round(revenue * 1000 / sends, 4) if sends else 0
            else:
                values[name] = medium_values[position % len(medium_values)]
        return values
