"""The database side of a sync: the data table, and the sync's own visible tables.

- `_iterbridge_sync_map`: per stream and key, the Iterable id and the content hash each side had at the
  last sync, plus a write still pending in Iterable (catalog writes land after a delay);
- `_iterbridge_sync_conflicts`: every conflict resolved, with both versions and how;
- `_iterbridge_sync_retries`: the records the latest run failed to apply, with the reason (retried next run);
- `_iterbridge_changes`: the change log filled by triggers the sync installs (SQLite and PostgreSQL), which
  tells when a row changed — the database's side of the `newest` policy. Entries are removed once the sync
  has used them. DuckDB has no triggers: its changes are found by comparing row hashes (as everywhere), and
  its rows' own timestamps (LastModified, UpdatedAt) stand in for change times.

The change log holds the changes of every connection but the sync's own: the sync marks its own connection
(on SQLite a TEMP trigger that drops the log entries its writes make, on PostgreSQL the session setting
`iterbridge.sync` the triggers check), so a user writing while a sync runs is still logged, and a killed sync
leaves nothing behind (a flag in a shared table would silence everyone's changes for the run's length, and
for good if the sync died with it set).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from iterbridge.api.timestamps import iso_text, timestamp_or_none
from iterbridge.errors import ConfigurationError
from iterbridge.objects.base import Row, SqlType, json_text, parsed_json
from iterbridge.replicate.targets import (
    DuckDbTarget,
    SqlAlchemyTarget,
    TableSpec,
    Target,
    open_target,
)
from iterbridge.sync.kinds import ActionKind, Side

MAP, CONFLICTS, RETRIES, CHANGES = (
    "_iterbridge_sync_map",
    "_iterbridge_sync_conflicts",
    "_iterbridge_sync_retries",
    "_iterbridge_changes",
)
# Now as ISO text on each database's clock: the change log's times (written by the triggers) and now() must
# be the same expression, or the clock offset used by the `newest` policy goes wrong.
_SQLITE_NOW = "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')"
_POSTGRES_NOW = "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
MAP_COLUMNS = (
    "stream",
    "key",
    "iterable_id",
    "iterable_hash",
    "database_hash",
    "iterable_modified",
    "pending_hash",
    "pending_at",
    "synced_at",
)
CONFLICT_COLUMNS = ("stream", "key", "iterable_version", "database_version", "resolution", "resolved_at")
RETRY_COLUMNS = ("stream", "key", "side", "operation", "reason", "attempts", "first_failed_at", "last_failed_at")
MARK = "_iterbridge_sync_quiet"  # SQLite: the TEMP trigger that keeps the sync's own writes out of the log
PG_MARK = "iterbridge.sync"  # PostgreSQL: the session setting that does
CHUNK = 500
_HERE = "table_schema = current_schema()"


@dataclass
class MapEntry:
    key: str
    iterable_id: str | None
    iterable_hash: str | None
    database_hash: str | None
    iterable_modified: str | None
    pending_hash: str | None
    pending_at: str | None


@dataclass
class Change:
    """One entry of the change log: a row of the table changed (by anyone but the sync) at `at`."""

    seq: int
    key: tuple[Any, ...]
    at: datetime


@dataclass
class Failure:
    key: str
    side: Side
    operation: ActionKind
    reason: str


class SyncStore:
    """`create=False` (a dry run) creates nothing: missing tables read as empty."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        # A dry run opens the database read-only: no lock, no file or table created, nothing changed.
        self.target: Target = open_target(url, "--with", read_only=not create)
        self._quote = self.target.quote  # every name, as the target names it (PostgreSQL: at most 63 bytes)
        self.create = create
        self.present: dict[str, set[str]] = {}  # the columns each data table has
        self.other_keys: dict[str, bool] = {}  # whether a table has unique keys besides the natural key
        self.description = self.target.description
        if isinstance(self.target, DuckDbTarget):
            self.dialect = "duckdb"
        else:
            assert isinstance(self.target, SqlAlchemyTarget)
            self.dialect = self.target.dialect
        self.triggers = self.dialect in ("sqlite", "postgresql")
        try:
            if create:
                self._create_tables()
            self._mark_connection()
        except ConfigurationError:
            raise
        except Exception as error:
            raise ConfigurationError(f"cannot use {self.description}: {self.error_text(error)}") from None

    def error_text(self, error: BaseException) -> str:
        """A database error as one line, without the URL's password (the target knows it)."""
        return self.target.error_text(error)

    # ---- raw SQL over either driver ------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        if isinstance(self.target, DuckDbTarget):
            self.target.db.execute(sql, list(params or []))
        else:
            assert isinstance(self.target, SqlAlchemyTarget)
            self.target.execute(sql, params or ())

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if isinstance(self.target, DuckDbTarget):
            self.target.db.executemany(sql, [list(r) for r in rows])
        else:
            assert isinstance(self.target, SqlAlchemyTarget)
            self.target.execute_many(sql, rows)

    def insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], replace: Sequence[str] = ()
    ) -> None:
        """Many rows into a table (DuckDB: as one Arrow batch — its executemany costs ~1 ms a row); with
        `replace`, the key columns whose rows they replace."""
        if not rows:
            return
        names = ", ".join(self._quote(c) for c in columns)
        if self.dialect == "duckdb":
            with self._staged(rows, len(columns)) as staged:
                verb = "INSERT OR REPLACE" if replace else "INSERT"
                self.execute(f"{verb} INTO {self._quote(table)} ({names}) SELECT * FROM {staged}")
            return
        marks = ", ".join("?" for _ in columns)
        conflict = ""
        if replace:
            sets = ", ".join(f"{self._quote(c)} = excluded.{self._quote(c)}" for c in columns if c not in replace)
            conflict = f" ON CONFLICT ({', '.join(self._quote(c) for c in replace)}) DO UPDATE SET {sets}"
        self.execute_many(f"INSERT INTO {self._quote(table)} ({names}) VALUES ({marks}){conflict}", rows)

    @contextlib.contextmanager
    def _staged(self, rows: Sequence[Sequence[Any]], width: int) -> Iterator[str]:
        """DuckDB: rows as a registered Arrow table (columns c0, c1, …), for one statement."""
        import pyarrow as pa  # type: ignore[import-untyped]

        assert isinstance(self.target, DuckDbTarget)
        table = pa.table({f"c{i}": pa.array([row[i] for row in rows]) for i in range(width)})
        self.target.db.register("_ib_staged", table)
        try:
            yield "_ib_staged"
        finally:
            self.target.db.unregister("_ib_staged")

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        if isinstance(self.target, DuckDbTarget):
            return [tuple(r) for r in self.target.db.execute(sql, list(params or [])).fetchall()]
        assert isinstance(self.target, SqlAlchemyTarget)
        return [tuple(r) for r in self.target.execute(sql, params or ()).fetchall()]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One unit of work, committed when the block ends, rolled back (alone) when it fails."""
        with self.target.transaction():
            yield

    def _mark_connection(self) -> None:
        """Make this connection's writes the sync's own: the change log leaves them out. On SQLite, a TEMP
        trigger (it exists on this connection only) drops the log entries this connection's writes make —
        a condition in the table's triggers would have to read connection state, which SQLite offers only
        through virtual tables, refused in triggers when a user's connection sets trusted_schema off."""
        if self.dialect == "sqlite" and self._exists(CHANGES):
            self.execute(
                f"CREATE TEMP TRIGGER IF NOT EXISTS {MARK} BEFORE INSERT ON {CHANGES} BEGIN SELECT RAISE(IGNORE); END"
            )
        elif self.dialect == "postgresql":
            with self.transaction():
                self.execute(f"SELECT set_config('{PG_MARK}', 'on', false)")

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
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {CHANGES} (seq {serial}, tbl TEXT NOT NULL, key TEXT NOT NULL, "
                "operation TEXT NOT NULL, changed_at TEXT NOT NULL)"
            )
        with self.transaction():
            for statement in statements:
                self.execute(statement)

    # ---- the data table ------------------------------------------------------------------------------

    def prepare(self, spec: TableSpec) -> None:
        """Create the table if missing (the replication schema, keyed by the natural key); on a table that
        already existed with another key (made by replication), add a unique index on the natural key."""
        if not self.create:
            self.present[spec.name] = self._present(spec)
            return
        try:
            existed = not self.target.prepare(spec, recreate=False).created
            with self.transaction():
                natural = {self._stored(k) for k in spec.key}
                keys = self._unique_keys(spec.name) if existed else [list(natural)]
                self.other_keys[spec.name] = any(set(k) != natural for k in keys)
                if not any(set(k) == natural for k in keys):
                    key = ", ".join(self._quote(k) for k in spec.key)
                    index = self._quote(f"ux_{spec.name.lower()}_sync")
                    self.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {self._quote(spec.name)} ({key})")
                if self.triggers:
                    self._install_triggers(spec)
        except Exception as error:
            raise ConfigurationError(f"cannot prepare {spec.name} for sync: {self.error_text(error)}") from None
        self.present[spec.name] = self._present(spec)

    def _stored(self, name: str) -> str:
        """A name as the database stores it (PostgreSQL cuts long names: the target maps them)."""
        return self.target.stored_name(name)

    def _present(self, spec: TableSpec) -> set[str]:
        """The spec's columns the table has (by their names in the spec)."""
        stored = self._columns(spec.name)
        return {c.name for c in spec.columns if self._stored(c.name) in stored}

    def _columns(self, table: str) -> set[str]:
        if self.dialect == "sqlite":
            return {str(r[1]) for r in self.query("SELECT * FROM pragma_table_info(?)", [table])}
        if self.dialect == "postgresql":  # the catalog is much faster than information_schema
            sql = "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped"
            return {str(r[0]) for r in self.query(sql, [self._quote(table)])}
        sql = f"SELECT column_name FROM information_schema.columns WHERE table_name = ? AND {_HERE}"
        return {str(r[0]) for r in self.query(sql, [table])}

    def _exists(self, table: str) -> bool:
        if self.dialect == "sqlite":
            sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
        elif self.dialect == "postgresql":
            return bool(self.query("SELECT to_regclass(?) IS NOT NULL", [self._quote(table)])[0][0])
        else:
            sql = f"SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND {_HERE}"
        return bool(self.query(sql, [table])[0][0])

    def _unique_keys(self, table: str) -> list[list[str]]:
        """The columns of each primary key, unique constraint and unique index of the table."""
        if self.dialect == "sqlite":
            sql = (
                "SELECT json_group_array(c.name) FROM pragma_index_list(?) AS i, pragma_index_info(i.name) AS c "
                'WHERE i."unique" = 1 GROUP BY i.name'
            )
            keys = [json.loads(r[0]) for r in self.query(sql, [table])]
        elif self.dialect == "postgresql":
            sql = (
                "SELECT array_agg(a.attname::text) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(?) AND i.indisunique GROUP BY i.indexrelid"
            )
            keys = [r[0] for r in self.query(sql, [self._quote(table)])]
        else:
            sql = (
                "SELECT constraint_column_names FROM duckdb_constraints() WHERE table_name = ? "
                "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
            )
            keys = [r[0] for r in self.query(sql, [table])]
            for (expressions,) in self.query(
                "SELECT expressions FROM duckdb_indexes() WHERE table_name = ? AND is_unique", [table]
            ):
                keys.append(expressions.strip("[]").split(", ") if isinstance(expressions, str) else expressions)
        return [_unquoted(k) for k in keys]

    def _install_triggers(self, spec: TableSpec) -> None:
        """The change-log triggers, (re)created only when missing or different (creating one locks the table)."""
        table = spec.name
        name = table.lower()
        if self.dialect == "sqlite":
            # The key as hex() of each part: JSON functions (like virtual tables) are refused in triggers on a
            # user's connection with trusted_schema off, and the user's writes with them.
            def key(alias: str) -> str:
                return " || ',' || ".join(f"hex({alias}.{self._quote(k)})" for k in spec.key)

            for event, alias in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                trigger = self._quote(f"_ib_{name}_{event.lower()}")
                sql = (
                    f"CREATE TRIGGER {trigger} AFTER {event} ON {self._quote(table)} BEGIN "
                    f"INSERT INTO {CHANGES}(tbl, key, operation, changed_at) "
                    f"VALUES ({_literal(table)}, {key(alias)}, '{event.lower()}', {_SQLITE_NOW}); END"
                )
                found = self.query(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", [f"_ib_{name}_{event.lower()}"]
                )
                if not found or found[0][0] != sql:
                    self.execute(f"DROP TRIGGER IF EXISTS {trigger}")
                    self.execute(sql)
            return
        keys_new = "json_build_array(" + ", ".join(f"NEW.{self._quote(k)}" for k in spec.key) + ")::text"
        keys_old = "json_build_array(" + ", ".join(f"OLD.{self._quote(k)}" for k in spec.key) + ")::text"
        function = f"_ib_{name}_log"
        body = (
            f" BEGIN IF coalesce(current_setting('{PG_MARK}', true), '') <> 'on' THEN "
            f"INSERT INTO {CHANGES}(tbl, key, operation, changed_at) VALUES ({_literal(table)}, "
            f"CASE WHEN TG_OP = 'DELETE' THEN {keys_old} ELSE {keys_new} END, lower(TG_OP), {_POSTGRES_NOW}); "
            "END IF; RETURN NULL; END "
        )
        installed = self.query(
            "SELECT p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE t.tgname = ? AND t.tgrelid = to_regclass(?)",
            [self._stored(function), self._quote(table)],
        )
        if installed and installed[0][0] == body:
            return
        self.execute(
            f"CREATE OR REPLACE FUNCTION {self._quote(function)}() RETURNS trigger AS {_literal(body)} LANGUAGE plpgsql"
        )
        self.execute(f"DROP TRIGGER IF EXISTS {self._quote(function)} ON {self._quote(table)}")
        self.execute(
            f"CREATE TRIGGER {self._quote(function)} AFTER INSERT OR UPDATE OR DELETE ON {self._quote(table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {self._quote(function)}()"
        )

    def _select(self, spec: TableSpec) -> tuple[list[str], str]:
        """The column names and the SELECT list that reads them as plain Python values (NULL for a column
        the table lacks: only in a dry run, which adds none)."""
        names = [c.name for c in spec.columns]
        parts = []
        present = self.present.get(spec.name, set())
        for column in spec.columns:
            quoted = self._quote(column.name)
            if column.name not in present:
                parts.append("NULL")
            elif self.dialect == "duckdb" and column.type is SqlType.TIMESTAMP:
                parts.append(f"epoch_us({quoted})")  # TIMESTAMPTZ objects would need pytz
            elif self.dialect == "duckdb" and column.type is SqlType.JSON:
                parts.append(f"{quoted}::VARCHAR")
            else:
                parts.append(quoted)
        return names, ", ".join(parts)

    def rows(self, spec: TableSpec) -> Iterator[Row]:
        """Every row of the table, with values normalised (JSON parsed, booleans as bool) so that the same
        content always hashes the same on every database. Timestamps are left as read (parsed when needed)."""
        if not self.present.get(spec.name):
            return  # no table yet (a dry run)
        names, selected = self._select(spec)
        for values in self.query(f"SELECT {selected} FROM {self._quote(spec.name)}"):
            yield self._normalised(spec, dict(zip(names, values, strict=True)))

    def rows_with_keys(self, spec: TableSpec, keys: Sequence[tuple[Any, ...]]) -> list[Row]:
        """The rows with these natural keys, normalised (to hash what is really stored)."""
        names, selected = self._select(spec)
        found: list[Row] = []
        if self.dialect == "duckdb" and keys:
            columns = ", ".join(self._quote(k) for k in spec.key)
            picked = ", ".join(f"c{i}" for i in range(len(spec.key)))
            with self._staged(keys, len(spec.key)) as staged:
                table = self._quote(spec.name)
                sql = f"SELECT {selected} FROM {table} WHERE ({columns}) IN (SELECT {picked} FROM {staged})"
                return [self._normalised(spec, dict(zip(names, v, strict=True))) for v in self.query(sql)]
        columns = ", ".join(self._quote(k) for k in spec.key)
        one = "(" + ", ".join("?" for _ in spec.key) + ")"
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            wanted = ", ".join(one for _ in chunk)
            sql = f"SELECT {selected} FROM {self._quote(spec.name)} WHERE ({columns}) IN (VALUES {wanted})"
            params = [value for key in chunk for value in key]
            found += [self._normalised(spec, dict(zip(names, v, strict=True))) for v in self.query(sql, params)]
        return found

    def _normalised(self, spec: TableSpec, row: Row) -> Row:
        for column in spec.columns:
            value = row[column.name]
            if value is None:
                continue
            if column.type is SqlType.JSON and isinstance(value, (str, bytes)):
                row[column.name] = parsed_json(value)
            elif column.type is SqlType.TIMESTAMP and self.dialect == "duckdb":  # epoch microseconds
                row[column.name] = datetime.fromtimestamp(int(value) / 1_000_000, UTC)
            elif column.type is SqlType.BOOLEAN and not isinstance(value, bool):
                row[column.name] = bool(value)
            elif column.type is SqlType.INTEGER and isinstance(value, float) and value.is_integer():
                row[column.name] = int(value)
        return row

    def upsert(self, spec: TableSpec, rows: Sequence[Row]) -> None:
        if self.dialect == "duckdb" and self.other_keys.get(spec.name):
            self._replace(spec, rows)
        else:
            self.target.upsert(spec, rows)

    def _replace(self, spec: TableSpec, rows: Sequence[Row]) -> None:
        """Delete and insert: DuckDB cannot upsert into a table with a second unique key (a Templates table
        made by replication is keyed by Id; the sync's key, ClientTemplateId, has a unique index of its own)."""
        self.delete(spec, [{k: row.get(k) for k in spec.key} for row in rows])
        columns = [c for c in spec.columns if c.name in self.present.get(spec.name, set())]

        def value(kind: SqlType, cell: Any) -> Any:
            return json_text(cell) if kind is SqlType.JSON else cell

        values = [[value(c.type, row.get(c.name)) for c in columns] for row in rows]
        self.insert_many(spec.name, [c.name for c in columns], values)

    def delete(self, spec: TableSpec, identities: Sequence[dict[str, Any]]) -> None:
        """Delete rows, each named by columns that identify it (its key, or its Id when it has no key)."""
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for identity in identities:
            groups.setdefault(tuple(identity), []).append(tuple(identity.values()))
        for columns, values in groups.items():
            if self.dialect == "duckdb":
                with self._staged(values, len(columns)) as staged:
                    on = " AND ".join(
                        f"{self._quote(spec.name)}.{self._quote(c)} = s.c{i}" for i, c in enumerate(columns)
                    )
                    self.execute(f"DELETE FROM {self._quote(spec.name)} USING {staged} AS s WHERE {on}")
                continue
            condition = " AND ".join(f"{self._quote(c)} = ?" for c in columns)
            self.execute_many(f"DELETE FROM {self._quote(spec.name)} WHERE {condition}", values)

    def update(self, spec: TableSpec, identity: dict[str, Any], values: dict[str, Any]) -> None:
        """Set some columns of the one row `identity` names (e.g. give a keyless row its key)."""
        sets = ", ".join(f"{self._quote(c)} = ?" for c in values)
        condition = " AND ".join(f"{self._quote(c)} = ?" for c in identity)
        self.execute(
            f"UPDATE {self._quote(spec.name)} SET {sets} WHERE {condition}", [*values.values(), *identity.values()]
        )

    def now(self) -> datetime:
        """Now on the database's clock (change-log times are on it)."""
        if self.dialect == "sqlite":
            text = self.query(f"SELECT {_SQLITE_NOW}")[0][0]
        elif self.dialect == "postgresql":
            text = self.query(f"SELECT {_POSTGRES_NOW}")[0][0]
        else:
            micros = self.query("SELECT epoch_us(current_timestamp)")[0][0]
            return datetime.fromtimestamp(int(micros) / 1_000_000, UTC)
        return timestamp_or_none(text) or datetime.now(UTC)

    # ---- the change log --------------------------------------------------------------------------------

    def changes(self, table: str, after: int = 0) -> list[Change]:
        """The change log's entries for a table (after a sequence number), oldest first."""
        if not self.triggers or not self._exists(CHANGES):
            return []
        found: list[Change] = []
        for seq, key, changed_at in self.query(
            f"SELECT seq, key, changed_at FROM {CHANGES} WHERE tbl = ? AND seq > ? ORDER BY seq", [table, after]
        ):
            moment = timestamp_or_none(changed_at)
            decoded = self._log_key(str(key))
            if moment is not None and decoded is not None:
                found.append(Change(int(seq), decoded, moment))
        return found

    def _log_key(self, text: str) -> tuple[Any, ...] | None:
        """A row's key as the triggers log it: JSON on PostgreSQL, hex of each part on SQLite ('' for NULL)."""
        try:
            if self.dialect == "sqlite":
                return tuple(bytes.fromhex(part).decode() if part else None for part in text.split(","))
            decoded = json.loads(text)
        except (ValueError, TypeError):
            return None
        return tuple(decoded) if isinstance(decoded, list) else None

    def forget_changes(self, seqs: Iterable[int]) -> None:
        ordered = sorted(seqs)
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start : start + CHUNK]
            self.execute(f"DELETE FROM {CHANGES} WHERE seq IN ({', '.join('?' for _ in chunk)})", chunk)

    # ---- the map, the conflict log, the retries --------------------------------------------------------

    def load_map(self, stream: str) -> dict[str, MapEntry]:
        if not self.create and not self._exists(MAP):
            return {}
        rows = self.query(
            f"SELECT key, iterable_id, iterable_hash, database_hash, iterable_modified, pending_hash, pending_at "
            f"FROM {MAP} WHERE stream = ?",
            [stream],
        )
        return {r[0]: MapEntry(*r) for r in rows}

    def save_entries(self, stream: str, entries: Sequence[MapEntry]) -> None:
        if not entries:
            return
        now = _now()
        rows = [
            (
                stream,
                e.key,
                e.iterable_id,
                e.iterable_hash,
                e.database_hash,
                e.iterable_modified,
                e.pending_hash,
                e.pending_at,
                now,
            )
            for e in entries
        ]
        self.insert_many(MAP, MAP_COLUMNS, rows, replace=("stream", "key"))

    def drop_entries(self, stream: str, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), CHUNK):
            chunk = list(keys[start : start + CHUNK])
            self.execute(
                f"DELETE FROM {MAP} WHERE stream = ? AND key IN ({', '.join('?' for _ in chunk)})", [stream, *chunk]
            )

    def log_conflicts(self, stream: str, conflicts: Sequence[tuple[str, Any, Any, str]]) -> None:
        """(key, Iterable's version, the database's version, the resolution) per conflict."""
        now = _now()
        rows = [
            (stream, key, json_text(iterable), json_text(database), resolution, now)
            for key, iterable, database, resolution in conflicts
        ]
        self.insert_many(CONFLICTS, CONFLICT_COLUMNS, rows)

    def retries(self, stream: str) -> dict[str, str]:
        if not self.create and not self._exists(RETRIES):
            return {}
        return {
            str(r[0]): str(r[1]) for r in self.query(f"SELECT key, reason FROM {RETRIES} WHERE stream = ?", [stream])
        }

    def replace_retries(self, stream: str, failures: Sequence[Failure]) -> None:
        """The retry table holds exactly the records the latest run failed to apply (attempts counted on)."""
        previous = {
            r[0]: (int(r[1] or 0), r[2])
            for r in self.query(f"SELECT key, attempts, first_failed_at FROM {RETRIES} WHERE stream = ?", [stream])
        }
        self.execute(f"DELETE FROM {RETRIES} WHERE stream = ?", [stream])
        now = _now()
        rows = []
        for failure in failures:
            attempts, first = previous.get(failure.key, (0, now))
            rows.append(
                (
                    stream,
                    failure.key,
                    failure.side.value,
                    failure.operation.value,
                    failure.reason,
                    attempts + 1,
                    first,
                    now,
                )
            )
        self.insert_many(RETRIES, RETRY_COLUMNS, rows)

    def state(self, stream: str) -> dict[str, Any]:
        return self.target.read_state().get(f"sync:{stream}", {})

    def save_state(self, stream: str, state: dict[str, Any]) -> None:
        self.target.write_state(f"sync:{stream}", state)

    def close(self) -> None:
        self.target.close()


def _literal(text: str) -> str:
    """Text as an SQL string literal (a table's name in a trigger, a trigger's body): data, never code."""
    return "'" + text.replace("'", "''") + "'"


def _unquoted(names: Sequence[str]) -> list[str]:
    return [n[1:-1].replace('""', '"') if n.startswith('"') and n.endswith('"') else n for n in names]


def _now() -> str:
    return iso_text(datetime.now(UTC))
