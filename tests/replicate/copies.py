"""The replicated side: every table of a target read back as Python values, whatever the database.

Values are normalised so copies in different databases compare equal: timestamps as aware UTC datetimes,
JSON as parsed values, booleans as bool. SQLite and PostgreSQL are read through SQLAlchemy's reflection;
DuckDB through its own API (timestamps as epoch microseconds: fetching TIMESTAMPTZ objects needs pytz).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import sqlalchemy as sa

from iterbridge.sqlnames import quote_name

STATE_TABLE = "_iterbridge_state"


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str  # as the database names it (lower case)
    nullable: bool


def _sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") else url


def duckdb_path(url: str) -> str:
    return url.split("duckdb:///", 1)[1]


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _duckdb_columns(db: duckdb.DuckDBPyConnection, table: str) -> list[ColumnInfo]:
    rows = db.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [ColumnInfo(n, str(t).lower(), nullable == "YES") for n, t, nullable in rows]


def _duckdb_rows(db: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    columns = _duckdb_columns(db, table)
    selected = []
    for column in columns:
        quoted = quote_name(column.name)
        if column.type.startswith("timestamp"):
            selected.append(f"epoch_us({quoted})")
        elif column.type == "json":
            selected.append(f"{quoted}::VARCHAR")
        else:
            selected.append(quoted)
    found = []
    for values in db.execute(f"SELECT {', '.join(selected)} FROM {quote_name(table)}").fetchall():
        row: dict[str, Any] = {}
        for column, value in zip(columns, values, strict=True):
            if value is not None and column.type.startswith("timestamp"):
                value = datetime.fromtimestamp(value / 1_000_000, UTC)
            elif value is not None and column.type == "json":
                value = json.loads(value)
            row[column.name] = value
        found.append(row)
    return found


class Copy:
    """A target database, read-only, for assertions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.kind = url.split(":", 1)[0].split("+")[0]
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        """One engine per copy, without a pool: no connection outlives its use (nor its database)."""
        if self._engine is None:
            self._engine = sa.create_engine(_sqlalchemy_url(self.url), poolclass=sa.pool.NullPool)
        return self._engine

    def _duckdb(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(duckdb_path(self.url), read_only=True)

    # ---- schema ------------------------------------------------------------------------------------------

    def tables(self) -> list[str]:
        if self.kind == "duckdb":
            with self._duckdb() as db:
                return sorted(r[0] for r in db.execute("SELECT table_name FROM information_schema.tables").fetchall())
        with self.engine.connect() as connection:
            return sorted(sa.inspect(connection).get_table_names())

    def columns(self, table: str) -> list[ColumnInfo]:
        if self.kind == "duckdb":
            with self._duckdb() as db:
                return _duckdb_columns(db, table)
        with self.engine.connect() as connection:
            if self.kind == "postgresql":
                rows = connection.execute(
                    sa.text(
                        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                        "WHERE table_name = :t AND table_schema = current_schema() ORDER BY ordinal_position"
                    ),
                    {"t": table},
                ).all()
                return [ColumnInfo(n, str(t).lower(), nullable == "YES") for n, t, nullable in rows]
            found = sa.inspect(connection).get_columns(table)
            return [ColumnInfo(c["name"], str(c["type"]).lower(), bool(c["nullable"])) for c in found]

    def primary_key(self, table: str) -> list[str]:
        if self.kind == "duckdb":
            with self._duckdb() as db:
                rows = db.execute(
                    "SELECT constraint_column_names FROM duckdb_constraints() WHERE table_name = ? "
                    "AND constraint_type = 'PRIMARY KEY'",
                    [table],
                ).fetchall()
            return list(rows[0][0]) if rows else []
        with self.engine.connect() as connection:
            return list(sa.inspect(connection).get_pk_constraint(table)["constrained_columns"])

    def indexed_columns(self, table: str) -> set[str]:
        """Columns that lead some index other than the primary key's."""
        if self.kind == "duckdb":
            with self._duckdb() as db:
                rows = db.execute("SELECT expressions FROM duckdb_indexes() WHERE table_name = ?", [table]).fetchall()
            return {str(r[0]).strip("[]'\" ").strip('"') for r in rows}
        with self.engine.connect() as connection:
            indexes = sa.inspect(connection).get_indexes(table)
        return {str(index["column_names"][0]) for index in indexes if index["column_names"]}

    # ---- data ----------------------------------------------------------------------------------------------

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row, values normalised (see the module's docstring)."""
        return self.tables_rows([table])[table]

    def tables_rows(self, tables: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Every row of several tables, read through one connection."""
        if self.kind == "duckdb":
            with self._duckdb() as db:
                return {table: _duckdb_rows(db, table) for table in tables}
        found: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as connection:
            for table in tables:
                reflected = sa.Table(table, sa.MetaData(), autoload_with=connection)
                json_columns = {c.name for c in reflected.columns if isinstance(c.type, sa.JSON)}
                rows = []
                for row in connection.execute(sa.select(reflected)).mappings():
                    values = {k: _utc(v) for k, v in row.items()}
                    for name in json_columns:  # SQLite's JSON comes back parsed; a text fallback, just in case
                        if isinstance(values.get(name), str):
                            values[name] = json.loads(values[name])
                    rows.append(values)
                found[table] = rows
        return found

    def count(self, table: str) -> int:
        return len(self.rows(table))

    def state(self) -> dict[str, dict[str, Any]]:
        return {row["stream"]: json.loads(row["state"]) for row in self.rows(STATE_TABLE)}

    def data_tables(self) -> list[str]:
        return [t for t in self.tables() if not t.startswith("_iterbridge")]

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every data table as a sorted list of rows (for comparing two copies)."""
        everything = self.tables_rows(self.data_tables())
        return {table: sorted((canonical(row) for row in rows), key=repr) for table, rows in everything.items()}


def canonical(row: dict[str, Any]) -> tuple[Any, ...]:
    """A row as a hashable, order-independent value (JSON values as sorted text)."""
    return tuple(sorted((k, json.dumps(v, sort_keys=True, default=str)) for k, v in row.items()))
