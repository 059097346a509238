"""The database side of a sync: the data table, and the sync's own visible tables.

- `_iterbridge_sync_map`: per stream and key, the Iterable id and the content hash each side had at the
  last sync, plus a write still pending in Iterable (catalog writes land after a delay);
- `_iterbridge_sync_conflicts`: every conflict with both versions and how it was resolved;
- `_iterbridge_sync_retries`: records that failed to apply, with the reason, retried on the next run;
- `_iterbridge_changes`: the change log filled by triggers the sync installs (SQLite and PostgreSQL), which
  tells when a row changed — the database's side of the `newest` policy. DuckDB has no triggers: its
  changes are found by comparing row hashes, and its rows' own timestamps stand in for change times.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from iterbridge.api.timestamps import parse_timestamp
from iterbridge.objects.base import Row, SqlType
from iterbridge.replicate.targets import DuckDbTarget, SqlAlchemyTarget, TableSpec, Target, open_target

MAP, CONFLICTS, RETRIES, CHANGES, SESSION = (
    "_iterbridge_sync_map",
    "_iterbridge_sync_conflicts",
    "_iterbridge_sync_retries",
    "_iterbridge_changes",
    "_iterbridge_sync_session",
)


@dataclass
class MapEntry:
    key: str
    iterable_id: str | None
    iterable_hash: str | None
    database_hash: str | None
    iterable_modified: str | None
    pending_hash: str | None
    pending_at: str | None


class SyncStore:
    def __init__(self, url: str) -> None:
        self.target: Target = open_target(url)
        self.description = self.target.description
        if isinstance(self.target, DuckDbTarget):
            self.dialect = "duckdb"
        else:
            assert isinstance(self.target, SqlAlchemyTarget)
            self.dialect = self.target.dialect
        self.triggers = self.dialect in ("sqlite", "postgresql")
        self._create_tables()

    # ---- raw SQL over either driver ------------------------------------------------------------------

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        if isinstance(self.target, DuckDbTarget):
            self.target.db.execute(sql, params or [])
        else:
            assert isinstance(self.target, SqlAlchemyTarget)
            self.target.connection.exec_driver_sql(self._driver_sql(sql), tuple(params or ()))

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        if isinstance(self.target, DuckDbTarget):
            return [tuple(r) for r in self.target.db.execute(sql, params or []).fetchall()]
        assert isinstance(self.target, SqlAlchemyTarget)
        return [tuple(r) for r in self.target.connection.exec_driver_sql(self._driver_sql(sql), tuple(params or ()))]

    def _driver_sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def commit(self) -> None:
        if isinstance(self.target, SqlAlchemyTarget):
            self.target.connection.commit()

    def _create_tables(self) -> None:
        text = "VARCHAR" if self.dialect == "duckdb" else "TEXT"
        statements = [
            f"CREATE TABLE IF NOT EXISTS {MAP} (stream {text} NOT NULL, key {text} NOT NULL, iterable_id {text}, "
            f"iterable_hash {text}, database_hash {text}, iterable_modified {text}, pending_hash {text}, "
            f"pending_at {text}, synced_at {text}, PRIMARY KEY (stream, key))",
            f"CREATE TABLE IF NOT EXISTS {CONFLICTS} (stream {text}, key {text}, iterable_version {text}, "
            f"database_version {text}, resolution {text}, resolved_at {text})",
            f"CREATE TABLE IF NOT EXISTS {RETRIES} (stream {text} NOT NULL, key {text} NOT NULL, side {text}, "
            f"operation {text}, reason {text}, attempts INTEGER, first_failed_at {text}, last_failed_at {text}, "
            "PRIMARY KEY (stream, key))",
        ]
        if self.triggers:
            serial = "INTEGER PRIMARY KEY AUTOINCREMENT" if self.dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
            statements += [
                f"CREATE TABLE IF NOT EXISTS {CHANGES} (seq {serial}, tbl TEXT NOT NULL, key TEXT NOT NULL, "
                "operation TEXT NOT NULL, changed_at TEXT NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {SESSION} (active INTEGER NOT NULL)",
            ]
        for statement in statements:
            self.execute(statement)
        if self.triggers and not self.query(f"SELECT count(*) FROM {SESSION}")[0][0]:
            self.execute(f"INSERT INTO {SESSION} VALUES (0)")
        self.commit()

    # ---- the data table ------------------------------------------------------------------------------

    def prepare(self, spec: TableSpec) -> None:
        """Create the table if missing (the replication schema, keyed by the natural key); on a table that
        already existed with another primary key (made by replication), add a unique index on the key."""
        existed = self._exists(spec.name)
        self.target.prepare(spec, recreate=False)
        if existed:
            key = ", ".join(f'"{k}"' for k in spec.key)
            self.execute(f'CREATE UNIQUE INDEX IF NOT EXISTS "ux_{spec.name.lower()}_sync" ON "{spec.name}" ({key})')
        if self.triggers:
            self._install_triggers(spec)
        self.commit()

    def _exists(self, table: str) -> bool:
        if self.dialect == "sqlite":
            sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            sql = "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
        return bool(self.query(sql, [table])[0][0])

    def _install_triggers(self, spec: TableSpec) -> None:
        table = spec.name
        name = table.lower()
        if self.dialect == "sqlite":

            def key(alias: str) -> str:
                return "json_array(" + ", ".join(f'{alias}."{k}"' for k in spec.key) + ")"

            now = "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')"
            for event, alias in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                self.execute(
                    f'CREATE TRIGGER IF NOT EXISTS "_ib_{name}_{event.lower()}" AFTER {event} ON "{table}" '
                    f"WHEN (SELECT active FROM {SESSION}) = 0 BEGIN "
                    f"INSERT INTO {CHANGES}(tbl, key, operation, changed_at) "
                    f"VALUES ('{table}', {key(alias)}, '{event.lower()}', {now}); END"
                )
            return
        keys_new = "json_build_array(" + ", ".join(f'NEW."{k}"' for k in spec.key) + ")::text"
        keys_old = "json_build_array(" + ", ".join(f'OLD."{k}"' for k in spec.key) + ")::text"
        self.execute(
            f'CREATE OR REPLACE FUNCTION "_ib_{name}_log"() RETURNS trigger AS $$ BEGIN '
            f"IF (SELECT active FROM {SESSION} LIMIT 1) = 0 THEN "
            f"INSERT INTO {CHANGES}(tbl, key, operation, changed_at) VALUES ('{table}', "
            f"CASE WHEN TG_OP = 'DELETE' THEN {keys_old} ELSE {keys_new} END, lower(TG_OP), "
            "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')); "
            "END IF; RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        self.execute(f'DROP TRIGGER IF EXISTS "_ib_{name}_log" ON "{table}"')
        self.execute(f'CREATE TRIGGER "_ib_{name}_log" AFTER INSERT OR UPDATE OR DELETE ON "{table}" '
                     f'FOR EACH ROW EXECUTE FUNCTION "_ib_{name}_log"()')  # fmt: skip

    def rows(self, spec: TableSpec) -> Iterator[Row]:
        names = [c.name for c in spec.columns]
        quoted = ", ".join(f'"{n}"' for n in names)
        types = {c.name: c.type for c in spec.columns}
        for values in self.query(f'SELECT {quoted} FROM "{spec.name}"'):
            row = dict(zip(names, values, strict=True))
            for name, value in row.items():
                if value is None:
                    continue
                if types[name] is SqlType.JSON and isinstance(value, str):
                    with contextlib.suppress(json.JSONDecodeError):
                        row[name] = json.loads(value)
                elif types[name] is SqlType.TIMESTAMP:
                    row[name] = parse_timestamp(value)
            yield row

    def changes_since(self, table: str, seq: int) -> tuple[dict[str, datetime], int]:
        """Keys the change log saw since `seq` (their latest change time), and the newest seq."""
        if not self.triggers:
            return {}, seq
        found: dict[str, datetime] = {}
        newest = seq
        for number, key, changed_at in self.query(
            f"SELECT seq, key, changed_at FROM {CHANGES} WHERE tbl = ? AND seq > ? ORDER BY seq", [table, seq]
        ):
            moment = parse_timestamp(changed_at)
            if moment is not None:
                found[key] = moment
            newest = max(newest, int(number))
        return found, newest

    def set_session(self, active: bool) -> None:
        """While the sync writes the table, the triggers stay silent (its own writes are not user changes)."""
        if self.triggers:
            self.execute(f"UPDATE {SESSION} SET active = ?", [1 if active else 0])

    # ---- the map, the conflict log, the retries --------------------------------------------------------

    def load_map(self, stream: str) -> dict[str, MapEntry]:
        rows = self.query(
            f"SELECT key, iterable_id, iterable_hash, database_hash, iterable_modified, pending_hash, pending_at "
            f"FROM {MAP} WHERE stream = ?",
            [stream],
        )
        return {r[0]: MapEntry(*r) for r in rows}

    def save_entry(self, stream: str, entry: MapEntry) -> None:
        self.execute(f"DELETE FROM {MAP} WHERE stream = ? AND key = ?", [stream, entry.key])
        self.execute(
            f"INSERT INTO {MAP} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [stream, entry.key, entry.iterable_id, entry.iterable_hash, entry.database_hash, entry.iterable_modified,
             entry.pending_hash, entry.pending_at, _now()],
        )  # fmt: skip

    def drop_entry(self, stream: str, key: str) -> None:
        self.execute(f"DELETE FROM {MAP} WHERE stream = ? AND key = ?", [stream, key])

    def log_conflict(self, stream: str, key: str, iterable: Any, database: Any, resolution: str) -> None:
        self.execute(
            f"INSERT INTO {CONFLICTS} VALUES (?, ?, ?, ?, ?, ?)",
            [stream, key, json.dumps(iterable, default=str), json.dumps(database, default=str), resolution, _now()],
        )

    def retries(self, stream: str) -> dict[str, tuple[str, int]]:
        rows = self.query(f"SELECT key, reason, attempts FROM {RETRIES} WHERE stream = ?", [stream])
        return {r[0]: (r[1], int(r[2])) for r in rows}

    def record_failure(self, stream: str, key: str, side: str, operation: str, reason: str) -> None:
        previous = self.query(f"SELECT attempts, first_failed_at FROM {RETRIES} WHERE stream = ? AND key = ?",
                              [stream, key])  # fmt: skip
        attempts, first = (int(previous[0][0]) + 1, previous[0][1]) if previous else (1, _now())
        self.execute(f"DELETE FROM {RETRIES} WHERE stream = ? AND key = ?", [stream, key])
        self.execute(f"INSERT INTO {RETRIES} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [stream, key, side, operation, reason, attempts, first, _now()])  # fmt: skip

    def clear_failure(self, stream: str, key: str) -> None:
        self.execute(f"DELETE FROM {RETRIES} WHERE stream = ? AND key = ?", [stream, key])

    def state(self, stream: str) -> dict[str, Any]:
        return self.target.read_state().get(f"sync:{stream}", {})

    def save_state(self, stream: str, state: dict[str, Any]) -> None:
        self.target.write_state(f"sync:{stream}", state)

    def close(self) -> None:
        self.target.close()


def _now() -> str:
    return datetime.now(UTC).isoformat()
