"""The two objects sync supports, each as an adapter: how to read both sides as keyed records, and how to
write a record to either side.

A record is a natural key, the content being synchronised (what is compared), the side's id, and when the
side last changed it. CatalogItems are keyed by ItemId (the Iterable id itself). Templates (Base templates
of the chosen media) are keyed by ClientTemplateId: on the first run a template matched by Name + medium
gets one on the side that lacks it, so both sides share a stable key from then on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from iterbridge.api.timestamps import parse_timestamp
from iterbridge.errors import ConfigurationError
from iterbridge.objects import get_object
from iterbridge.objects.base import Condition, ReadRequest, Row
from iterbridge.objects.templates import EXTENDED_FIELDS
from iterbridge.replicate.targets import TableSpec


@dataclass
class Record:
    key: str
    content: dict[str, Any] | None  # None: unchanged since the last sync and not read (templates' extended fields)
    iterable_id: str | None = None
    modified: datetime | None = None
    row: Row | None = None  # the database row, for database records

    @property
    def hash(self) -> str | None:
        return None if self.content is None else content_hash(self.content)


def content_hash(content: dict[str, Any]) -> str:
    canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()[:24]


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


class CatalogItemsSide:
    object_name = "CatalogItems"

    def __init__(self, conn: Any, catalog: str, table: str | None) -> None:
        if not catalog:
            raise ConfigurationError("sync CatalogItems needs --catalog NAME")
        self.conn = conn
        self.catalog = catalog
        obj = get_object("CatalogItems")
        self.spec = TableSpec(table or "CatalogItems", conn.columns(obj), obj.keys, "LastModified")
        self.stream = f"CatalogItems:{catalog}"

    def iterable_records(self, changed_since: datetime | None) -> Iterator[Record]:
        request = ReadRequest(self.spec.column_names(), {"CatalogName": [Condition("=", self.catalog)]})
        for row in self.conn.scan(get_object("CatalogItems"), request):
            yield Record(str(row["ItemId"]), dict(row["Value"] or {}), str(row["ItemId"]), row["LastModified"])

    def owns(self, row: Row) -> bool:
        return bool(row.get("CatalogName") == self.catalog)

    def database_record(self, row: Row) -> Record:
        return Record(str(row["ItemId"]), dict(_json(row.get("Value")) or {}), str(row["ItemId"]),
                      parse_timestamp(row.get("LastModified")), row)  # fmt: skip

    def database_row(self, record: Record, now: datetime) -> Row:
        value = record.content or {}
        return {
            "CatalogName": self.catalog,
            "ItemId": record.key,
            "LastModified": record.modified or now,
            "Size": len(orjson.dumps(value)),
            "Value": value,
        }

    def key_of_row(self, row: Row) -> tuple[Any, ...]:
        return (self.catalog, row["ItemId"])

    def write_iterable(self, upserts: list[Record], deletes: list[Record]) -> dict[str, str | None]:
        """Send writes; key → None when accepted, else Iterable's reason. (Catalog writes are async.)"""
        outcome: dict[str, str | None] = {}
        if upserts:
            rows = [{"CatalogName": self.catalog, "ItemId": r.key, "Value": r.content} for r in upserts]
            report = self.conn.insert("CatalogItems", rows)
            for result in report.results:
                outcome[upserts[result.index].key] = None if result.ok else result.error or "refused"
        if deletes:
            report = self.conn.delete("CatalogItems", [{"CatalogName": self.catalog, "ItemId": r.key} for r in deletes])
            for result in report.results:
                outcome[deletes[result.index].key] = None if result.ok else result.error or "refused"
        return outcome

    def created_id(self, record: Record, written: dict[str, Any]) -> str | None:
        return record.key


_SYNCED = ("Name", "MessageMedium", "MessageTypeId", *[c for c in EXTENDED_FIELDS if c != "Metadata"])


class TemplatesSide:
    object_name = "Templates"

    def __init__(self, conn: Any, mediums: list[str] | None, table: str | None) -> None:
        from iterbridge.constants import TEMPLATE_MEDIUMS

        self.conn = conn
        wanted = mediums or list(TEMPLATE_MEDIUMS)
        lookup = {m.lower(): m for m in TEMPLATE_MEDIUMS} | {p: m for m, p in TEMPLATE_MEDIUMS.items()}
        unknown = [m for m in wanted if m.lower() not in lookup]
        if unknown:
            raise ConfigurationError(f"--medium must be email, push, sms or inapp, not {', '.join(unknown)}")
        self.mediums = sorted({lookup[m.lower()] for m in wanted})
        obj = get_object("Templates")
        self.spec = TableSpec(table or "Templates", conn.columns(obj), ("ClientTemplateId",), "UpdatedAt")
        self.stream = f"Templates:{','.join(m.lower() for m in self.mediums)}"

    @staticmethod
    def content(row: Row) -> dict[str, Any]:
        return {name: _json(row.get(name)) for name in _SYNCED if row.get(name) is not None}

    def iterable_records(self, changed_since: datetime | None) -> Iterator[Record]:
        where: dict[str, list[Condition]] = {
            "TemplateType": [Condition("=", "Base")],
            "MessageMedium": [Condition("in", self.mediums)],
        }
        if changed_since is not None:
            where["UpdatedAt"] = [Condition(">=", changed_since)]
        request = ReadRequest(self.spec.column_names(), where)
        for row in self.conn.scan(get_object("Templates"), request):
            changed = changed_since is None or (row["UpdatedAt"] is not None and row["UpdatedAt"] >= changed_since)
            content = self.content(row) if changed else None
            key = row.get("ClientTemplateId") or self.natural(row)
            yield Record(str(key), content, str(row["Id"]), row["UpdatedAt"], row)

    @staticmethod
    def natural(row: Row) -> str:
        """The key of a template without a ClientTemplateId: Name + medium (matched on the first run)."""
        return f"{row.get('Name')}|{row.get('MessageMedium')}"

    def owns(self, row: Row) -> bool:
        return row.get("MessageMedium") in self.mediums

    def database_record(self, row: Row) -> Record:
        key = row.get("ClientTemplateId") or self.natural(row)
        return Record(str(key), self.content(row), None if row.get("Id") is None else str(row["Id"]),
                      parse_timestamp(row.get("UpdatedAt")), row)  # fmt: skip

    def database_row(self, record: Record, now: datetime) -> Row:
        row: Row = dict(record.content or {})
        row["ClientTemplateId"] = record.key
        row["TemplateType"] = "Base"
        row["UpdatedAt"] = record.modified or now
        if record.iterable_id is not None:
            row["Id"] = int(record.iterable_id)
        return row

    def key_of_row(self, row: Row) -> tuple[Any, ...]:
        return (row["ClientTemplateId"],)

    def write_iterable(self, upserts: list[Record], deletes: list[Record]) -> dict[str, str | None]:
        outcome: dict[str, str | None] = {}
        creates = [r for r in upserts if r.iterable_id is None]
        updates = [r for r in upserts if r.iterable_id is not None]
        if creates:
            rows = [{**(r.content or {}), "ClientTemplateId": r.key} for r in creates]
            report = self.conn.insert("Templates", rows)
            for result in report.results:
                record = creates[result.index]
                outcome[record.key] = None if result.ok else result.error or "refused"
                if result.ok and isinstance(result.keys.get("Id"), int):
                    record.iterable_id = str(result.keys["Id"])
        if updates:
            rows = [{**(r.content or {}), "Id": int(r.iterable_id or 0), "ClientTemplateId": r.key} for r in updates]
            report = self.conn.update("Templates", rows)
            for result in report.results:
                outcome[updates[result.index].key] = None if result.ok else result.error or "refused"
        if deletes:
            ids = [int(r.iterable_id) for r in deletes if r.iterable_id]
            answer = self.conn.client.json("POST /api/templates/bulkDelete", json={"ids": ids}) if ids else {}
            failed = {str(i) for i in answer.get("failed") or []}
            reason = str(answer.get("failureReason") or "Iterable refused to delete it")
            for record in deletes:
                outcome[record.key] = reason if record.iterable_id in failed else None
        return outcome
