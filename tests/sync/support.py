"""Helpers for the sync tests: the database as a user sees it (its own connection, plain SQL), Iterable as a
user changes it (the API), and the checks every scenario ends with."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import iterbridge
from iterbridge.sqlnames import for_driver, quote_name
from iterbridge.sync import SyncReport
from iterbridge.sync.sides import content_hash

CATALOG = "products"
STREAM = f"CatalogItems:{CATALOG}"
NOW_SQL = {"sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now')", "postgresql": "now()", "duckdb": "now()"}


@dataclass
class Db:
    """A database under sync, and a user's connection to it (not the sync's: the triggers log its writes)."""

    kind: str  # sqlite, postgresql, duckdb
    url: str
    path: Path | None = None  # the file (SQLite, DuckDB)
    _connection: Any = field(default=None, repr=False)

    @property
    def connection(self) -> Any:
        if self._connection is None:
            if self.kind == "sqlite":
                assert self.path is not None
                self._connection = sqlite3.connect(self.path, isolation_level=None)
            elif self.kind == "postgresql":
                import psycopg

                self._connection = psycopg.connect(self.url, autocommit=True)
            else:
                import duckdb

                assert self.path is not None
                self._connection = duckdb.connect(str(self.path))
        return self._connection

    def close(self) -> None:
        """Let go of the file (a DuckDB file can be open in one process only)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def sql(self, text: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.kind == "postgresql":
            text = for_driver(text, "pyformat")  # names and `?` as psycopg reads them
        cursor = self.connection.execute(text, params)
        if cursor.description is None:  # a statement without a result
            return []
        return [tuple(row) for row in cursor.fetchall()]

    def insert_items(self, items: dict[str, Any], catalog: str = CATALOG) -> None:
        """Many items at once, as an application's bulk load would (LastModified left empty)."""
        sql = 'INSERT INTO "CatalogItems" ("CatalogName", "ItemId", "Size", "Value") VALUES (?, ?, ?, ?)'
        if self.kind == "postgresql":
            sql = for_driver(sql, "pyformat")
        rows = [(catalog, item, len(json.dumps(value)), json.dumps(value)) for item, value in items.items()]
        if self.kind == "duckdb":  # its executemany is slow: an Arrow table instead
            import pyarrow as pa  # type: ignore[import-untyped]

            loaded = pa.table({name: [row[i] for row in rows] for i, name in enumerate("cisv")})
            self.connection.register("loaded", loaded)
            self.connection.execute('INSERT INTO "CatalogItems" ("CatalogName", "ItemId", "Size", "Value") '
                                    "SELECT c, i, s, v FROM loaded")  # fmt: skip
            self.connection.unregister("loaded")
            return
        cursor = self.connection.cursor()
        if self.kind == "sqlite":
            cursor.execute("BEGIN")
        cursor.executemany(sql, rows)
        if self.kind == "sqlite":
            cursor.execute("COMMIT")
        cursor.close()

    def exists(self, table: str) -> bool:
        if self.kind == "sqlite":
            return bool(self.sql("SELECT count(*) FROM sqlite_master WHERE name = ?", table)[0][0])
        sql = "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = current_schema()"
        return bool(self.sql(sql, table)[0][0])

    @property
    def now(self) -> str:
        return NOW_SQL[self.kind]

    # ---- CatalogItems ------------------------------------------------------------------------------------

    def items(self, catalog: str = CATALOG, table: str = "CatalogItems") -> dict[str, Any]:
        if not self.exists(table):
            return {}
        rows = self.sql(f'SELECT "ItemId", "Value" FROM {quote_name(table)} WHERE "CatalogName" = ?', catalog)
        return {item: json.loads(value) if isinstance(value, str) else value for item, value in rows}

    def put_item(self, item: str, value: Any, catalog: str = CATALOG, table: str = "CatalogItems") -> None:
        """Insert or update an item, stamping LastModified as an application would."""
        text = json.dumps(value)
        found = self.sql(
            f'SELECT count(*) FROM {quote_name(table)} WHERE "CatalogName" = ? AND "ItemId" = ?', catalog, item
        )
        if found[0][0]:
            self.sql(f'UPDATE {quote_name(table)} SET "Value" = ?, "LastModified" = {self.now} '
                     'WHERE "CatalogName" = ? AND "ItemId" = ?', text, catalog, item)  # fmt: skip
        else:
            self.sql(f'INSERT INTO {quote_name(table)} ("CatalogName", "ItemId", "LastModified", "Size", "Value") '
                     f"VALUES (?, ?, {self.now}, ?, ?)", catalog, item, len(text), text)  # fmt: skip

    def delete_item(self, item: str, catalog: str = CATALOG, table: str = "CatalogItems") -> None:
        self.sql(f'DELETE FROM {quote_name(table)} WHERE "CatalogName" = ? AND "ItemId" = ?', catalog, item)

    def create_items_table(self, rows: dict[str, Any], catalog: str = CATALOG, extra: str = "") -> None:
        """A table made by the user before any sync (the replication schema, plus `extra` SQL)."""
        kinds = {
            "sqlite": ("DATETIME", "JSON"),
            "postgresql": ("TIMESTAMPTZ", "JSONB"),
            "duckdb": ("TIMESTAMPTZ", "JSON"),
        }
        timestamp, json_type = kinds[self.kind]
        self.sql(f'CREATE TABLE "CatalogItems" ("CatalogName" TEXT NOT NULL, "ItemId" TEXT NOT NULL, '
                 f'"LastModified" {timestamp}, "Size" BIGINT, "Value" {json_type}{extra}, '
                 'PRIMARY KEY ("CatalogName", "ItemId"))')  # fmt: skip
        for item, value in rows.items():
            self.put_item(item, value, catalog)

    # ---- the sync's tables -------------------------------------------------------------------------------

    def map(self, stream: str = STREAM) -> dict[str, dict[str, Any]]:
        rows = self.sql(
            "SELECT key, iterable_id, iterable_hash, database_hash, pending_hash FROM _iterbridge_sync_map "
            "WHERE stream = ?",
            stream,
        )
        names = ("iterable_id", "iterable_hash", "database_hash", "pending_hash")
        return {r[0]: dict(zip(names, r[1:], strict=True)) for r in rows}

    def retries(self, stream: str = STREAM) -> dict[str, dict[str, Any]]:
        rows = self.sql("SELECT key, side, operation, reason, attempts FROM _iterbridge_sync_retries WHERE stream = ?",
                        stream)  # fmt: skip
        return {r[0]: {"side": r[1], "operation": r[2], "reason": r[3], "attempts": r[4]} for r in rows}

    def conflicts(self, stream: str = STREAM) -> list[dict[str, Any]]:
        rows = self.sql(
            "SELECT key, iterable_version, database_version, resolution FROM _iterbridge_sync_conflicts "
            "WHERE stream = ? ORDER BY resolved_at",
            stream,
        )
        return [{"key": r[0], "iterable": _loads(r[1]), "database": _loads(r[2]), "resolution": r[3]} for r in rows]

    def changes(self) -> list[tuple[str, tuple[Any, ...], str]]:
        """The change log: (table, the row's key, operation), oldest first."""
        if not self.exists("_iterbridge_changes"):
            return []
        found = []
        for table, key, operation in self.sql("SELECT tbl, key, operation FROM _iterbridge_changes ORDER BY seq"):
            if self.kind == "sqlite":  # hex() of each part
                decoded = tuple(bytes.fromhex(part).decode() for part in key.split(","))
            else:  # JSON
                decoded = tuple(json.loads(key))
            found.append((table, decoded, operation))
        return found


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Remote:
    """Iterable as a user changes it: item writes through the API (asynchronous, like Iterable's)."""

    def __init__(self, conn: iterbridge.Connection) -> None:
        self.conn = conn

    def items(self, catalog: str = CATALOG) -> dict[str, Any]:
        return {r["ItemId"]: r["Value"] for r in self.conn.read("CatalogItems", where={"CatalogName": catalog})}

    def put(self, item: str, value: Any, catalog: str = CATALOG) -> None:
        self.conn.client.request("PUT /api/catalogs/{catalogName}/items/{itemId}",
                                 path={"catalogName": catalog, "itemId": item}, json={"value": value})  # fmt: skip

    def delete(self, item: str, catalog: str = CATALOG) -> None:
        self.conn.client.request("DELETE /api/catalogs/{catalogName}/items/{itemId}",
                                 path={"catalogName": catalog, "itemId": item})  # fmt: skip

    def bulk(self, documents: dict[str, Any], catalog: str = CATALOG) -> None:
        names = list(documents)
        for start in range(0, len(names), 1000):
            chunk = {name: documents[name] for name in names[start : start + 1000]}
            self.conn.client.request("POST /api/catalogs/{catalogName}/items", path={"catalogName": catalog},
                                     json={"documents": chunk, "replaceUploadedFieldsOnly": False})  # fmt: skip

    def create_catalog(self, name: str) -> None:
        self.conn.client.request("POST /api/catalogs/{catalogName}", path={"catalogName": name})


def sync_items(conn: iterbridge.Connection, db: Db, **options: Any) -> SyncReport:
    options.setdefault("catalog", CATALOG)
    return conn.sync("CatalogItems", db.url, **options)


def totals(report: SyncReport) -> dict[str, int]:
    """The report's counts, flat (only the non-zero ones), to compare with what a scenario did."""
    found = {
        "iterable_creates": report.to_iterable.creates,
        "iterable_updates": report.to_iterable.updates,
        "iterable_deletes": report.to_iterable.deletes,
        "database_creates": report.to_database.creates,
        "database_updates": report.to_database.updates,
        "database_deletes": report.to_database.deletes,
        "matched": report.matched,
        "conflicts": report.conflicts,
        "failed": report.failed,
    }
    return {name: count for name, count in found.items() if count}


def assert_converged(remote: Remote, db: Db, catalog: str = CATALOG, stream: str = STREAM) -> dict[str, Any]:
    """Both sides hold the same items, and the map has exactly one agreeing entry per key."""
    iterable = remote.items(catalog)
    database = db.items(catalog)
    assert iterable == database, {
        "only in Iterable": sorted(set(iterable) - set(database)),
        "only in the database": sorted(set(database) - set(iterable)),
        "different": sorted(k for k in set(iterable) & set(database) if iterable[k] != database[k]),
    }
    entries = db.map(stream)
    assert set(entries) == set(iterable)
    for key, entry in entries.items():
        expected = content_hash(iterable[key])
        assert entry["iterable_hash"] == expected, key
        assert entry["database_hash"] == expected, key
        assert entry["iterable_id"] == key
        assert entry["pending_hash"] is None, key
    return iterable


# ---- Templates --------------------------------------------------------------------------------------------

SYNCED_TEMPLATE_FIELDS = ("Name", "MessageMedium", "MessageTypeId", "FromName", "FromEmail", "ReplyToEmail",
                          "Subject", "PreheaderText", "CcEmails", "BccEmails", "HTML", "PlainText", "Message",
                          "Title", "Locale", "DataFeedIds", "CacheDataFeed", "MergeDataFeedContext")  # fmt: skip
JSON_FIELDS = ("CcEmails", "BccEmails", "DataFeedIds")
BOOLEAN_FIELDS = ("CacheDataFeed", "MergeDataFeedContext")
TEMPLATE_MEDIUMS = ["Email", "Push"]
TEMPLATES_STREAM = "Templates:email,push"


def template_content(row: dict[str, Any]) -> dict[str, Any]:
    content = {}
    for name in SYNCED_TEMPLATE_FIELDS:
        value = row.get(name)
        if value is None:
            continue
        if name in JSON_FIELDS and isinstance(value, str):
            value = json.loads(value)
        if name in BOOLEAN_FIELDS:
            value = bool(value)
        content[name] = value
    return content


def iterable_templates(conn: iterbridge.Connection, mediums: list[str] = TEMPLATE_MEDIUMS) -> dict[int, dict[str, Any]]:
    """Base templates of the media, by Id: their synchronised content (and ClientTemplateId)."""
    rows = conn.read("Templates", where={"TemplateType": "Base", "MessageMedium": mediums})
    return {int(r["Id"]): {**template_content(r), "ClientTemplateId": r["ClientTemplateId"]} for r in rows}


def database_templates(db: Db, mediums: list[str] = TEMPLATE_MEDIUMS) -> dict[Any, dict[str, Any]]:
    """The table's Base templates of the media, by Id."""
    names = ", ".join(f'"{n}"' for n in ("Id", "ClientTemplateId", "TemplateType", *SYNCED_TEMPLATE_FIELDS))
    found = {}
    for values in db.sql(f'SELECT {names} FROM "Templates"'):
        row = dict(zip(("Id", "ClientTemplateId", "TemplateType", *SYNCED_TEMPLATE_FIELDS), values, strict=True))
        if row["TemplateType"] in (None, "Base") and row["MessageMedium"] in mediums:
            found[row["Id"]] = {**template_content(row), "ClientTemplateId": row["ClientTemplateId"]}
    return found


def sync_templates(conn: iterbridge.Connection, db: Db, **options: Any) -> SyncReport:
    options.setdefault("mediums", [m.lower() for m in TEMPLATE_MEDIUMS])
    return conn.sync("Templates", db.url, **options)


def assert_templates_converged(conn: iterbridge.Connection, db: Db) -> dict[int, dict[str, Any]]:
    """The same templates (by Id) with the same content on both sides, and one agreeing map entry each."""
    iterable = iterable_templates(conn)
    database = database_templates(db)
    strip = lambda found: {i: {k: v for k, v in c.items() if k != "ClientTemplateId"} for i, c in found.items()}  # noqa: E731
    assert strip(database) == strip(iterable)
    entries = db.map(TEMPLATES_STREAM)
    assert sorted(int(e["iterable_id"]) for e in entries.values()) == sorted(iterable)
    for key, entry in entries.items():
        content = {k: v for k, v in iterable[int(entry["iterable_id"])].items() if k != "ClientTemplateId"}
        assert entry["iterable_hash"] == content_hash(content), key
        assert entry["database_hash"] == content_hash(content), key
        assert entry["pending_hash"] is None, key
    for template_id, content in database.items():  # every row carries its key, or is found by its Id
        assert content["ClientTemplateId"] in entries or content["ClientTemplateId"] is None, template_id
    return iterable


def make_db(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Db:
    """An empty database of this kind for one test (PostgreSQL: the module's database, its schema emptied)."""
    if kind == "sqlite":
        path = tmp_path / "sync.db"
        return Db(kind, f"sqlite:///{path}", path)
    if kind == "duckdb":
        path = tmp_path / "sync.duckdb"
        return Db(kind, f"duckdb:///{path}", path)
    url = request.getfixturevalue("postgres_url")
    db = Db(kind, url)
    db.sql("DROP SCHEMA public CASCADE")  # a clean database for each test
    db.sql("CREATE SCHEMA public")
    return db
