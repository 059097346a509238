"""The two objects sync supports, each as an adapter: how to read both sides as keyed records, and how to
write a record to either side.

A record is a key, the content being synchronised (what is compared), the Iterable id, when the side last
changed it, and the row it was read from.

- CatalogItems (of one catalog) are keyed by ItemId, which is also their Iterable id.
- Templates (Base templates of the chosen media) are keyed by ClientTemplateId, else by Name + medium
  ("Name|Medium"). A key, once in the map, stays the template's key: a template the map knows is found by
  its Iterable id, so renaming a template without a ClientTemplateId (on either side) is an update, not a
  delete and a create. The database's key column is ClientTemplateId: a template written to the database
  gets its key there; a template created in Iterable from the database gets the row's ClientTemplateId,
  and its new Id is written back to the row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from iterbridge.api.timestamps import timestamp_or_none
from iterbridge.constants import TEMPLATE_MEDIUMS
from iterbridge.errors import ConfigurationError, FatalApiError
from iterbridge.objects.base import Condition, Operation, ReadRequest, Row, RowStatus, SqlType, WriteReport, parsed_json
from iterbridge.objects.catalog_items import CATALOG_ITEMS
from iterbridge.objects.catalogs import CATALOGS
from iterbridge.objects.templates import EXTENDED_FIELDS, TEMPLATES
from iterbridge.replicate.targets import TableSpec
from iterbridge.sync.store import MapEntry

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

Outcome = dict[str, str | None]  # key → None when Iterable accepted the write, else its reason
SYNCED_OBJECTS = (CATALOG_ITEMS.name, TEMPLATES.name)  # the objects with a side below


@dataclass
class Record:
    key: str
    content: Any  # what is synchronised (a dict of fields); None: not read (a template unchanged since the last run)
    iterable_id: str | None = None
    modified: datetime | None = None
    row: Row | None = None  # the row as read, from Iterable or from the database

    @property
    def hash(self) -> str | None:
        return None if self.content is None else content_hash(self.content)


def content_hash(content: Any) -> str:
    canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()[:24]


def _reasons(report: WriteReport, count: int) -> list[str | None]:
    return [reason for reason, _ in _outcomes(report, count)]


def _outcomes(report: WriteReport, count: int) -> list[tuple[str | None, RowStatus]]:
    """Each row's reason (None: accepted, or no answer for it) and status, by position."""
    outcomes: list[tuple[str | None, RowStatus]] = [(None, RowStatus.ACCEPTED)] * count
    for result in report.results:
        outcomes[result.index] = (None if result.ok else result.error or "refused", result.status)
    return outcomes


class CatalogItemsSide:
    def __init__(self, conn: Session, catalog: str, table: str | None) -> None:
        if not catalog:
            raise ConfigurationError(f"sync {CATALOG_ITEMS.name} needs --catalog NAME")
        self.conn = conn
        self.catalog = catalog
        obj = CATALOG_ITEMS
        self.spec = TableSpec(table or obj.name, conn.columns(obj), obj.keys, "LastModified")
        self.stream = f"{obj.name}:{catalog}"

    def check(self) -> None:
        """The catalog must exist: reading an unknown catalog gives no items, which would look like deletes."""
        try:
            self.conn.client.json("GET /api/catalogs/{catalogName}/fieldMappings", path={"catalogName": self.catalog})
        except FatalApiError as error:
            if error.status == 404:
                raise ConfigurationError(
                    f"catalog {self.catalog!r} does not exist in Iterable (create it first, e.g. "
                    f"iterbridge query \"INSERT INTO {CATALOGS.name} (Name) VALUES ('{self.catalog}')\")"
                ) from None
            raise

    # ---- reading ------------------------------------------------------------------------------------------

    def iterable_records(self, changed_since: datetime | None) -> Iterator[Record]:
        """Every item (the list holds the values: no per-item request, so every run compares them all)."""
        request = ReadRequest(self.spec.column_names(), {"CatalogName": [Condition("=", self.catalog)]})
        for row in self.conn.scan(CATALOG_ITEMS, request):
            yield Record(str(row["ItemId"]), dict(row["Value"] or {}), str(row["ItemId"]), row["LastModified"], row)

    def complete(self, records: list[Record]) -> None:
        """Items are always read whole."""

    def owns(self, row: Row) -> bool:
        return bool(row.get("CatalogName") == self.catalog)

    def database_record(self, row: Row) -> Record:
        value = row.get("Value")
        value = parsed_json(value) if isinstance(value, str) else value  # not an object: Iterable will refuse it
        return Record(
            str(row["ItemId"]),
            {} if value is None else value,
            str(row["ItemId"]),
            timestamp_or_none(row.get("LastModified")),
            row,
        )

    def rekey(self, iterable: list[Record], database: list[Record], mapping: dict[str, MapEntry]) -> None:
        """ItemId is the key on both sides."""

    def key_of_log(self, key: tuple[Any, ...]) -> str | None:
        return str(key[1]) if len(key) == 2 and key[0] == self.catalog else None

    # ---- writing the database -----------------------------------------------------------------------------

    def database_row(self, record: Record, now: datetime) -> Row:
        value = record.content or {}
        row = dict(record.row or {})
        return {
            "CatalogName": self.catalog,
            "ItemId": record.key,
            "LastModified": row.get("LastModified") or record.modified or now,
            "Size": row.get("Size") or len(orjson.dumps(value)),
            "Value": value,
        }

    def key_of_row(self, row: Row) -> tuple[Any, ...]:
        return (self.catalog, row["ItemId"])

    def identity(self, row: Row) -> dict[str, Any]:
        return {"CatalogName": self.catalog, "ItemId": row["ItemId"]}

    def id_columns(self, iterable_id: str) -> dict[str, Any]:
        return {}

    # ---- writing Iterable ---------------------------------------------------------------------------------

    def write_iterable(self, upserts: list[Record], deletes: list[Record]) -> Outcome:
        """Send writes (accepted now, applied by Iterable after a delay). A batch Iterable refuses as a whole
        (one item with a bad field name sinks its batch of 1000) is split until the refused items are found."""
        outcome: Outcome = {}
        rows = [{"CatalogName": self.catalog, "ItemId": r.key, "Value": r.content} for r in upserts]
        for record, reason in zip(upserts, self._isolating(Operation.INSERT, rows), strict=True):
            outcome[record.key] = reason
            record.iterable_id = record.key  # the ItemId is the item's id in Iterable
        keys = [{"CatalogName": self.catalog, "ItemId": r.key} for r in deletes]
        for record, reason in zip(deletes, self._isolating(Operation.DELETE, keys), strict=True):
            outcome[record.key] = reason
        return outcome

    def _isolating(self, operation: Operation, rows: list[Row]) -> list[str | None]:
        if not rows:
            return []
        outcomes = _outcomes(self.conn.write(operation, CATALOG_ITEMS.name, rows), len(rows))
        reasons = [reason for reason, _ in outcomes]
        failed = [i for i, reason in enumerate(reasons) if reason]
        refused_whole = (
            len(failed) > 1
            and len({reasons[i] for i in failed}) == 1
            and outcomes[failed[0]][1] is RowStatus.REJECTED  # refused by Iterable; unreachable: no use splitting
        )
        if refused_whole:
            half = len(failed) // 2
            for part in (failed[:half], failed[half:]):
                for position, reason in zip(part, self._isolating(operation, [rows[i] for i in part]), strict=True):
                    reasons[position] = reason
        return reasons


_SYNCED = ("Name", "MessageMedium", "MessageTypeId", *[c for c in EXTENDED_FIELDS if c != "Metadata"])
_JSON_FIELDS = {c.name for c in TEMPLATES.columns if c.type is SqlType.JSON and c.name in _SYNCED}


class TemplatesSide:
    def __init__(self, conn: Session, mediums: list[str] | None, table: str | None) -> None:
        self.conn = conn
        wanted = mediums or list(TEMPLATE_MEDIUMS)
        lookup = {m.lower(): m for m in TEMPLATE_MEDIUMS} | {p: m for m, p in TEMPLATE_MEDIUMS.items()}
        unknown = [m for m in wanted if m.lower() not in lookup]
        if unknown:
            raise ConfigurationError(f"--medium must be email, push, sms or inapp, not {', '.join(unknown)}")
        self.mediums = sorted({lookup[m.lower()] for m in wanted})
        obj = TEMPLATES
        self.spec = TableSpec(table or obj.name, conn.columns(obj), ("ClientTemplateId",), "UpdatedAt")
        self.stream = f"{obj.name}:{','.join(m.lower() for m in self.mediums)}"

    def check(self) -> None:
        """Nothing to check: every project has templates."""

    @staticmethod
    def content(row: Row) -> dict[str, Any]:
        """The synced fields; JSON columns as values (text columns stay text, even "2024" or "true")."""
        found = {name: row.get(name) for name in _SYNCED if row.get(name) is not None}
        for name in _JSON_FIELDS.intersection(found):
            value = found[name]
            if isinstance(value, str):
                found[name] = parsed_json(value)
        return found

    @staticmethod
    def natural(row: Row) -> str:
        """The key of a template without a ClientTemplateId: Name + medium."""
        return f"{row.get('Name')}|{row.get('MessageMedium')}"

    # ---- reading ------------------------------------------------------------------------------------------

    def _request(self, where: dict[str, list[Condition]]) -> ReadRequest:
        scope = {"TemplateType": [Condition("=", "Base")], "MessageMedium": [Condition("in", self.mediums)]}
        return ReadRequest(self.spec.column_names(), scope | where)

    def iterable_records(self, changed_since: datetime | None) -> Iterator[Record]:
        """Every Base template of the media (the list is cheap); the extended fields — one request per
        template — only for those updated since `changed_since` (None: all)."""
        where = {} if changed_since is None else {"UpdatedAt": [Condition(">=", changed_since)]}
        for row in self.conn.scan(TEMPLATES, self._request(where)):
            changed = changed_since is None or (row["UpdatedAt"] is not None and row["UpdatedAt"] >= changed_since)
            yield self._record(row, changed)

    def _record(self, row: Row, read: bool) -> Record:
        key = row.get("ClientTemplateId") or self.natural(row)
        return Record(str(key), self.content(row) if read else None, str(row["Id"]), row["UpdatedAt"], row)

    def complete(self, records: list[Record]) -> None:
        """Read the extended fields of templates listed without them (ones the sync must compare)."""
        wanted = {int(r.iterable_id): r for r in records if r.content is None and r.iterable_id}
        if not wanted:
            return
        request = self._request({"Id": [Condition("in", sorted(wanted))]})
        for row in self.conn.scan(TEMPLATES, request):
            record = wanted.get(int(row["Id"]))
            if record is not None:
                record.content, record.row, record.modified = self.content(row), row, row["UpdatedAt"]

    def owns(self, row: Row) -> bool:
        return row.get("MessageMedium") in self.mediums and row.get("TemplateType") in (None, "Base")

    def database_record(self, row: Row) -> Record:
        key = row.get("ClientTemplateId") or self.natural(row)
        return Record(
            str(key),
            self.content(row),
            None if row.get("Id") is None else str(row["Id"]),
            timestamp_or_none(row.get("UpdatedAt")),
            row,
        )

    def rekey(self, iterable: list[Record], database: list[Record], mapping: dict[str, MapEntry]) -> None:
        """Keys that stay: a template the map knows keeps its key (found by Iterable id), and on first sight a
        template without a ClientTemplateId in Iterable matches a database row by Name + medium."""
        by_id = {entry.iterable_id: key for key, entry in mapping.items() if entry.iterable_id}
        for record in iterable:
            record.key = by_id.get(record.iterable_id or "", record.key)
        for record in database:
            if record.row is not None and not record.row.get("ClientTemplateId"):
                record.key = by_id.get(record.iterable_id or "", record.key)
        taken = {r.key for r in iterable}
        unmatched = {self.natural(r.row): r for r in database if r.row and r.key not in mapping and r.key not in taken}
        for record in iterable:
            if record.key in mapping or record.row is None or record.row.get("ClientTemplateId"):
                continue
            partner = unmatched.pop(record.key, None)  # the key is Name|Medium here
            if partner is not None:
                record.key = partner.key

    def key_of_log(self, key: tuple[Any, ...]) -> str | None:
        return None if len(key) != 1 or key[0] is None else str(key[0])

    # ---- writing the database -----------------------------------------------------------------------------

    def database_row(self, record: Record, now: datetime) -> Row:
        row: Row = {**(record.row or {}), **(record.content or {})}
        row["ClientTemplateId"] = record.key
        row["TemplateType"] = "Base"
        row["UpdatedAt"] = record.modified or now
        if record.iterable_id is not None:
            row["Id"] = int(record.iterable_id)
        return row

    def key_of_row(self, row: Row) -> tuple[Any, ...]:
        return (row["ClientTemplateId"],)

    def identity(self, row: Row) -> dict[str, Any]:
        if row.get("ClientTemplateId"):
            return {"ClientTemplateId": row["ClientTemplateId"]}
        return {} if row.get("Id") is None else {"Id": row["Id"]}

    def id_columns(self, iterable_id: str) -> dict[str, Any]:
        return {"Id": int(iterable_id)}

    # ---- writing Iterable ---------------------------------------------------------------------------------

    def write_iterable(self, upserts: list[Record], deletes: list[Record]) -> Outcome:
        """Creates (upsert by ClientTemplateId: the key), updates (by Id), deletes (bulk, by Id). Template
        writes are synchronous. A created template's new Id is set on its record."""
        outcome: Outcome = {}
        creates = [r for r in upserts if r.iterable_id is None]
        updates = [r for r in upserts if r.iterable_id is not None]
        if creates:
            report = self.conn.insert(
                TEMPLATES.name, [{**(r.content or {}), "ClientTemplateId": r.key} for r in creates]
            )
            for record, reason in zip(creates, _reasons(report, len(creates)), strict=True):
                outcome[record.key] = reason
            for result in report.results:
                if result.ok and isinstance(result.keys.get("Id"), int):
                    creates[result.index].iterable_id = str(result.keys["Id"])
        if updates:
            report = self.conn.update(
                TEMPLATES.name, [{**(r.content or {}), "Id": int(r.iterable_id or 0)} for r in updates]
            )
            for record, reason in zip(updates, _reasons(report, len(updates)), strict=True):
                outcome[record.key] = reason
        known = [r for r in deletes if r.iterable_id]
        for record in deletes:
            outcome[record.key] = None  # one Iterable never had: nothing to delete
        if known:
            report = self.conn.delete(TEMPLATES.name, [{"Id": int(r.iterable_id or 0)} for r in known])
            for record, reason in zip(known, _reasons(report, len(known)), strict=True):
                outcome[record.key] = reason
        return outcome
