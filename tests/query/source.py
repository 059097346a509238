"""The sandbox's data read straight over HTTP, without iterbridge: the expected side of the SQL tests.

Every helper here talks to the sandbox with a plain httpx2 client and converts values by hand (epoch
milliseconds and "YYYY-MM-DD HH:MM:SS +00:00" strings to the SQL text form), so an expected result never
goes through the code under test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from iterbridge.constants import EXPORT_DATA_TYPES

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TEMPLATE_TYPES = ("Base", "Blast", "Triggered", "Workflow")
TEMPLATE_MEDIUMS = {"Email": "email", "Push": "push", "SMS": "sms", "InApp": "inapp"}
# Every event dataTypeName of the export API (its Swagger enum, shared with the sandbox as plain data).
EVENT_TYPES = tuple(t for t in EXPORT_DATA_TYPES if t != "user")


def ms_text(value: Any) -> str | None:
    """Epoch milliseconds → 'YYYY-MM-DD HH:MM:SS' (UTC)."""
    if value is None:
        return None
    return (EPOCH + timedelta(milliseconds=int(value))).strftime("%Y-%m-%d %H:%M:%S")


def str_text(value: Any) -> str | None:
    """'YYYY-MM-DD HH:MM:SS +00:00' (or a bare date) → 'YYYY-MM-DD HH:MM:SS'."""
    if value is None:
        return None
    text = str(value)
    return text[:19] if len(text) >= 19 else f"{text[:10]} 00:00:00"


def as_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


class Source:
    """Reads of the sandbox as a test would do them by hand."""

    def __init__(self, api: httpx2.Client) -> None:
        self.api = api

    def get(self, path: str, **params: Any) -> Any:
        response = self.api.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def lines(self, path: str, **params: Any) -> list[str]:
        response = self.api.get(path, params=params)
        response.raise_for_status()
        return [line for line in response.text.splitlines() if line.strip()]

    # ---- objects ---------------------------------------------------------------------------------------

    def lists(self) -> list[dict[str, Any]]:
        return [
            {
                "Id": item["id"],
                "Name": item["name"],
                "CreatedAt": ms_text(item.get("createdAt")),
                "ListType": item.get("listType"),
                "Description": item.get("description"),
            }
            for item in self.get("/api/lists")["lists"]
        ]

    def campaigns(self) -> list[dict[str, Any]]:
        return [
            {
                "Id": c["id"],
                "Name": c["name"],
                "TemplateId": c.get("templateId"),
                "MessageMedium": c.get("messageMedium"),
                "CampaignState": c.get("campaignState"),
                "Type": c.get("type"),
                "CreatedAt": ms_text(c.get("createdAt")),
                "UpdatedAt": ms_text(c.get("updatedAt")),
                "StartAt": ms_text(c.get("startAt")),
                "ListIds": c.get("listIds"),
                "SuppressionListIds": c.get("suppressionListIds"),
                "Labels": c.get("labels"),
                "SendSize": c.get("sendSize"),
            }
            for c in self.get("/api/campaigns")["campaigns"]
        ]

    def templates(self) -> list[dict[str, Any]]:
        found = []
        for template_type in TEMPLATE_TYPES:
            for medium in TEMPLATE_MEDIUMS:
                body = self.get("/api/templates", templateType=template_type, messageMedium=medium)
                for t in body["templates"]:
                    found.append(
                        {
                            "Id": t["templateId"],
                            "Name": t.get("name"),
                            "TemplateType": template_type,
                            "MessageMedium": medium,
                            "CreatedAt": ms_text(t.get("createdAt")),
                            "UpdatedAt": ms_text(t.get("updatedAt")),
                            "CampaignId": t.get("campaignId"),
                            "ClientTemplateId": t.get("clientTemplateId"),
                        }
                    )
        return found

    def template_detail(self, medium: str, template_id: int) -> dict[str, Any]:
        detail: dict[str, Any] = self.get(f"/api/templates/{TEMPLATE_MEDIUMS[medium]}/get", templateId=template_id)
        return detail

    def users(self) -> list[dict[str, Any]]:
        """Every profile from the user export (dotted keys as the export gives them)."""
        return [json.loads(line) for line in self.lines("/api/export/data.json", dataTypeName="user", range="All")]

    def user(self, email: str) -> dict[str, Any]:
        user: dict[str, Any] = self.get(f"/api/users/{email}").get("user") or {}
        return user

    def events(self, *types: str) -> list[dict[str, Any]]:
        """Every event of the given types (all types by default), with its type in "_type"."""
        found = []
        for event_type in types or EVENT_TYPES:
            for line in self.lines("/api/export/data.json", dataTypeName=event_type, range="All"):
                found.append({**json.loads(line), "_type": event_type})
        return found

    def members(self, list_id: int) -> list[str]:
        return self.lines("/api/lists/getUsers", listId=list_id)

    def catalog_items(self, catalog: str) -> list[dict[str, Any]]:
        body = self.get(f"/api/catalogs/{catalog}/items", pageSize=1000)
        items: list[dict[str, Any]] = body["params"]["catalogItemsWithProperties"]
        return items

    def in_app_messages(self, email: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.get("/api/inApp/getMessages", email=email, count=100)["inAppMessages"]
        return messages
