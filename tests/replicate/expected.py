"""The expected side: what every replicated table must hold, read from the sandbox over plain HTTP.

Nothing here goes through iterbridge's readers: each helper calls the documented endpoint with httpx2 and
maps fields to columns by hand (epoch milliseconds and "YYYY-MM-DD HH:MM:SS +00:00" strings to aware UTC
datetimes, JSON kept as parsed values). Events carry no id in the export: they are compared without their
Id column (as a multiset of rows), and their Ids are checked apart (Iterable's `id` when there is one).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TEMPLATE_TYPES = ("Base", "Blast", "Triggered", "Workflow")
TEMPLATE_MEDIUMS = {"Email": "email", "Push": "push", "SMS": "sms", "InApp": "inapp"}
EXTENDED = {
    "Metadata": "metadata",
    "FromName": "fromName",
    "FromEmail": "fromEmail",
    "ReplyToEmail": "replyToEmail",
    "Subject": "subject",
    "PreheaderText": "preheaderText",
    "CcEmails": "ccEmails",
    "BccEmails": "bccEmails",
    "HTML": "html",
    "PlainText": "plainText",
    "Message": "message",
    "Title": "title",
    "Locale": "locale",
    "DataFeedIds": "dataFeedIds",
    "CacheDataFeed": "cacheDataFeed",
    "MergeDataFeedContext": "mergeDataFeedContext",
}
USER_MANAGED = {
    "Email": "email",
    "UserId": "userId",
    "SignupDate": "signupDate",
    "SignupSource": "signupSource",
    "ProfileUpdatedAt": "profileUpdatedAt",
    "EmailListIds": "emailListIds",
    "UnsubscribedChannelIds": "unsubscribedChannelIds",
    "UnsubscribedMessageTypeIds": "unsubscribedMessageTypeIds",
    "SubscribedMessageTypeIds": "subscribedMessageTypeIds",
    "PhoneNumber": "phoneNumber",
    "Devices": "devices",
}
# Export event fields with a column of their own, or Iterable's bookkeeping; the rest is DataFields.
EVENT_OWN = {"id", "email", "userId", "createdAt", "eventName", "campaignId", "templateId", "messageId", "_type",
             "eventType", "itblInternal", "eventUpdatedAt", "dataFields"}  # fmt: skip
_STRING_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?\s*(?:Z|[+-]00:?00)?$")


def from_ms(value: Any) -> datetime | None:
    return None if value is None else EPOCH + timedelta(milliseconds=int(value))


def from_text(value: Any) -> datetime | None:
    """'YYYY-MM-DD HH:MM:SS +00:00', or a bare date, as Iterable writes them; anything else is no timestamp."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return from_ms(value)
    found = _STRING_TIME.match(str(value).strip())
    if not found:
        return None
    year, month, day, hour, minute, second, fraction = found.groups()
    moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=UTC)
    return moment + timedelta(microseconds=int((fraction or "0")[:6].ljust(6, "0")))


def text(value: Any) -> str | None:
    """A TEXT column: strings as they are, anything else as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


class Source:
    """The sandbox read by hand."""

    def __init__(self, api: httpx2.Client) -> None:
        self.api = api

    def get(self, path: str, params: Any = None) -> Any:
        response = self.api.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def lines(self, path: str, params: Any = None) -> list[str]:
        response = self.api.get(path, params=params)
        response.raise_for_status()
        return [line for line in response.text.splitlines() if line.strip()]

    def now(self) -> datetime:
        return from_ms(self.get("/_sandbox/info")["now"]) or EPOCH

    # ---- listings ------------------------------------------------------------------------------------------

    def lists(self) -> list[dict[str, Any]]:
        return [
            {
                "Id": item["id"],
                "Name": item.get("name"),
                "CreatedAt": from_ms(item.get("createdAt")),
                "ListType": item.get("listType"),
                "Description": item.get("description"),
                "IsGlobalSuppressionEnabled": item.get("isGlobalSuppressionEnabled"),
            }
            for item in self.get("/api/lists")["lists"]
        ]

    def channels(self) -> list[dict[str, Any]]:
        return [
            {
                "Id": c["id"],
                "Name": c.get("name"),
                "ChannelType": c.get("channelType"),
                "MessageMedium": c.get("messageMedium"),
            }
            for c in self.get("/api/channels")["channels"]
        ]

    def message_types(self) -> list[dict[str, Any]]:
        return [
            {
                "Id": m["id"],
                "Name": m.get("name"),
                "ChannelId": m.get("channelId"),
                "CreatedAt": from_ms(m.get("createdAt")),
                "UpdatedAt": from_ms(m.get("updatedAt")),
                "SubscriptionPolicy": m.get("subscriptionPolicy"),
                "RateLimitPerMinute": m.get("rateLimitPerMinute"),
                "FrequencyCap": m.get("frequencyCap"),
            }
            for m in self.get("/api/messageTypes")["messageTypes"]
        ]

    def _pages(self, path: str, key: str, wrapped: bool = False, size: int = 1000) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = self.get(path, params={"page": page, "pageSize": size})
            body = body.get("params") or {} if wrapped else body
            yield from body.get(key) or []
            if not body.get("nextPageUrl"):
                return
            page += 1

    def campaigns(self) -> list[dict[str, Any]]:
        return [
            {
                "Id": c["id"],
                "Name": c.get("name"),
                "TemplateId": c.get("templateId"),
                "MessageMedium": c.get("messageMedium"),
                "CampaignState": c.get("campaignState"),
                "Type": c.get("type"),
                "CreatedAt": from_ms(c.get("createdAt")),
                "UpdatedAt": from_ms(c.get("updatedAt")),
                "StartAt": from_ms(c.get("startAt")),
                "EndedAt": from_ms(c.get("endedAt")),
                "CreatedByUserId": c.get("createdByUserId"),
                "UpdatedByUserId": c.get("updatedByUserId"),
                "ListIds": c.get("listIds"),
                "SuppressionListIds": c.get("suppressionListIds"),
                "SendSize": c.get("sendSize"),
                "Labels": c.get("labels"),
                "RecurringCampaignId": c.get("recurringCampaignId"),
                "WorkflowId": c.get("workflowId"),
            }
            for c in self._pages("/api/campaigns", "campaigns")
        ]

    def campaign_metrics(self) -> list[dict[str, Any]]:
        ids = [c["Id"] for c in self.campaigns()]
        response = self.api.get("/api/campaigns/metrics", params=[("campaignId", i) for i in ids])
        response.raise_for_status()
        reader = csv.reader(io.StringIO(response.text))
        header = next(reader)
        found = []
        for cells in reader:
            metrics = {name: _number(cell) for name, cell in zip(header[1:], cells[1:], strict=True) if cell.strip()}
            row: dict[str, Any] = {"CampaignId": int(cells[0]), "Metrics": metrics}
            for name, value in metrics.items():
                row[_metric_column(name)] = value
            found.append(row)
        return found

    def templates(self) -> list[dict[str, Any]]:
        found = []
        for template_type in TEMPLATE_TYPES:
            for medium, path in TEMPLATE_MEDIUMS.items():
                body = self.get("/api/templates", params={"templateType": template_type, "messageMedium": medium})
                for t in body["templates"]:
                    detail = self.get(f"/api/templates/{path}/get", params={"templateId": t["templateId"]})
                    row = {
                        "Id": t["templateId"],
                        "Name": t.get("name"),
                        "TemplateType": template_type,
                        "MessageMedium": medium,
                        "CreatedAt": from_ms(t.get("createdAt")),
                        "UpdatedAt": from_ms(t.get("updatedAt")),
                        "CreatorUserId": t.get("creatorUserId"),
                        "MessageTypeId": t.get("messageTypeId"),
                        "CampaignId": t.get("campaignId"),
                        "ClientTemplateId": t.get("clientTemplateId"),
                    }
                    for column, field in EXTENDED.items():
                        row[column] = detail.get(field)
                    found.append(row)
        return found

    def catalogs(self) -> list[dict[str, Any]]:
        return [{"Name": c["name"]} for c in self._pages("/api/catalogs", "catalogNames", wrapped=True, size=100)]

    def catalog_items(self) -> list[dict[str, Any]]:
        found = []
        for catalog in self.catalogs():
            for item in self._pages(f"/api/catalogs/{catalog['Name']}/items", "catalogItemsWithProperties", True):
                found.append(
                    {
                        "CatalogName": item.get("catalogName", catalog["Name"]),
                        "ItemId": str(item["itemId"]),
                        "LastModified": from_ms(item.get("lastModified")),
                        "Size": item.get("size"),
                        "Value": item.get("value"),
                    }
                )
        return found

    def list_users(self) -> list[dict[str, Any]]:
        found = []
        for item in self.lists():
            for email in self.lines("/api/lists/getUsers", params={"listId": item["Id"]}):
                found.append({"ListId": item["Id"], "Email": email.strip()})
        return found

    def user_fields(self) -> list[dict[str, Any]]:
        return [{"Name": name, "Type": kind} for name, kind in self.get("/api/users/getFields")["fields"].items()]

    # ---- exports -----------------------------------------------------------------------------------------

    def export(
        self, data_type: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[dict[str, Any]]:
        """data.json records of a type in [start, end) (default: all history up to the sandbox's now)."""
        stop = end or self.now() + timedelta(seconds=1)
        params = {
            "dataTypeName": data_type,
            "startDateTime": (start or datetime(2013, 1, 1, tzinfo=UTC)).strftime("%Y-%m-%d %H:%M:%S"),
            "endDateTime": stop.strftime("%Y-%m-%d %H:%M:%S"),
        }
        return [json.loads(line) for line in self.lines("/api/export/data.json", params=params)]

    def users(self) -> list[dict[str, Any]]:
        fields = self.get("/api/users/getFields")["fields"]
        custom = {
            name: kind
            for name, kind in fields.items()
            if "." not in name and name not in set(USER_MANAGED.values()) | {"itblInternal"}
        }
        found = []
        for record in self.export("user"):
            profile = _unflatten(record)
            row: dict[str, Any] = {}
            for column, field in USER_MANAGED.items():
                value = profile.get(field)
                if column in ("SignupDate", "ProfileUpdatedAt"):
                    value = from_text(value)
                elif column in ("UserId", "PhoneNumber", "SignupSource", "Email"):
                    value = text(value)
                row[column] = value
            row["EmailDomain"] = text((profile.get("itblInternal") or {}).get("emailDomain"))
            for name, kind in custom.items():
                row[name] = _typed(profile.get(name), kind)
            covered = set(USER_MANAGED.values()) | {"itblInternal"} | set(custom)
            extra = {k: v for k, v in profile.items() if k not in covered}
            row["ExtraFields"] = extra or None
            found.append(row)
        return found

    def events(self, event_type: str) -> list[dict[str, Any]]:
        """Rows of one event type's table, with "Id" the record's own id when it has one (else None)."""
        found = []
        for record in self.export(event_type):
            data = {k: v for k, v in record.items() if k not in EVENT_OWN}
            if isinstance(record.get("dataFields"), dict):
                data.update(record["dataFields"])
            found.append(
                {
                    "Id": str(record["id"]) if record.get("id") else None,
                    "EventType": event_type,
                    "EventName": record.get("eventName"),
                    "Email": record.get("email"),
                    "UserId": None if record.get("userId") is None else str(record["userId"]),
                    "CreatedAt": from_text(record.get("createdAt")),
                    "CampaignId": record.get("campaignId"),
                    "TemplateId": record.get("templateId"),
                    "MessageId": record.get("messageId"),
                    "DataFields": data,
                }
            )
        return found

    def in_app_messages(self, email: str) -> list[dict[str, Any]]:
        body = self.get("/api/inApp/getMessages", params={"email": email, "count": 1000})
        return [
            {
                "MessageId": m["messageId"],
                "Email": email,
                "UserId": m.get("userId"),
                "CampaignId": m.get("campaignId"),
                "CreatedAt": from_ms(m.get("createdAt")),
                "ExpiresAt": from_ms(m.get("expiresAt")),
                "Content": m.get("content"),
                "CustomPayload": m.get("customPayload"),
                "Trigger": m.get("trigger"),
                "SaveToInbox": m.get("saveToInbox"),
                "InboxMetadata": m.get("inboxMetadata"),
                "PriorityLevel": m.get("priorityLevel"),
                "Read": m.get("read"),
            }
            for m in body.get("inAppMessages") or []
        ]


def _number(cell: str) -> int | float:
    try:
        return int(cell)
    except ValueError:
        return float(cell)


def _metric_column(metric: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", metric.replace("/", " Per "))
    return "".join(word[:1].upper() + word[1:] for word in words if word)


def _unflatten(record: dict[str, Any]) -> dict[str, Any]:
    profile: dict[str, Any] = {}
    for key, value in record.items():
        parts = key.split(".")
        target = profile
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return profile


def _typed(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "string":
        return text(value)
    if kind == "long":
        return int(value)
    if kind == "double":
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes")
    if kind == "date":
        return from_text(value)
    return value  # object, nested, geo_location…: JSON


def expected_tables(source: Source) -> dict[str, list[dict[str, Any]]]:
    """Every non-event table of a default replication, as the API serves it."""
    return {
        "Campaigns": source.campaigns(),
        "CampaignMetrics": source.campaign_metrics(),
        "Catalogs": source.catalogs(),
        "CatalogItems": source.catalog_items(),
        "Channels": source.channels(),
        "Lists": source.lists(),
        "ListUsers": source.list_users(),
        "MessageTypes": source.message_types(),
        "Templates": source.templates(),
        "Users": source.users(),
        "UserFields": source.user_fields(),
    }
