"""Where replication writes: SQLite and PostgreSQL through SQLAlchemy Core, DuckDB through its native API
with Arrow batches. Every target offers the same small interface: create or evolve a table, upsert rows
by primary key, delete keys, list keys, and keep the replication state in a table of its own — so the
copy carries its state and a write of rows and of their checkpoint commit together.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from iterbridge.errors import ConfigurationError
from iterbridge.objects.base import Column, Row, SqlType

STATE_TABLE = "_iterbridge_state"


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    cursor: str | None = None

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0


class Target(Protocol):
    description: str

    def prepare(self, spec: TableSpec, *, recreate: bool) -> list[str]: ...
    def upsert(self, spec: TableSpec, rows: Sequence[Row]) -> UpsertCounts: ...
    def delete(self, spec: TableSpec, keys: Sequence[tuple[Any, ...]]) -> int: ...
    def keys(self, spec: TableSpec) -> Iterator[tuple[Any, ...]]: ...
    def count(self, spec: TableSpec) -> int: ...
    def transaction(self) -> contextlib.AbstractContextManager[None]: ...
    def read_state(self) -> dict[str, dict[str, Any]]: ...
    def write_state(self, stream: str, state: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


def open_target(url: str) -> Target:
    """sqlite:///file.db (default), postgresql://…, duckdb:///file.duckdb; other SQLAlchemy URLs may work."""
    if url.startswith("duckdb://"):
        return DuckDbTarget(url)
    if "://" not in url:
        raise ConfigurationError(f"--to must be a database URL like sqlite:///iterable.db, not {url!r}")
    return SqlAlchemyTarget(url)


def redacted_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):([^@]+)@", r"//\1:***@", url)


def _naive_utc(value: Any) -> Any:
    """SQLite keeps no time zone (DESIGN trap 7): store UTC, without tzinfo."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


# ---- SQLAlchemy (SQLite, PostgreSQL) -------------------------------------------------------------------


class SqlAlchemyTarget:
    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        self.description = redacted_url(url)
        try:
            self.engine = sa.create_engine(url, future=True)
            self.connection = self.engine.connect()
        except Exception as error:  # driver or server problems, named once
            raise ConfigurationError(f"cannot open {self.description}: {type(error).__name__}: {error}") from None
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            self.connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            self.connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
            self.connection.commit()
        self.metadata = sa.MetaData()
        self._tables: dict[str, Any] = {}
        self._state = self._state_table()

    def _sa_type(self, kind: SqlType) -> Any:
        import sqlalchemy as sa
        from sqlalchemy.dialects import postgresql

        if kind is SqlType.INTEGER:
            return sa.BigInteger()
        if kind is SqlType.REAL:
            return sa.Float(precision=53)
        if kind is SqlType.BOOLEAN:
            return sa.Boolean()
        if kind is SqlType.TIMESTAMP:
            return sa.DateTime(timezone=self.dialect != "sqlite")
        if kind is SqlType.JSON:
            return postgresql.JSONB() if self.dialect == "postgresql" else sa.JSON()
        return sa.Text()

    def _state_table(self) -> Any:
        import sqlalchemy as sa

        table = sa.Table(
            STATE_TABLE,
            self.metadata,
            sa.Column("stream", sa.Text(), primary_key=True),
            sa.Column("state", sa.Text(), nullable=False),
            sa.Column("updated_at", sa.Text(), nullable=False),
        )
        table.create(self.connection, checkfirst=True)
        self.connection.commit()
        return table

    def prepare(self, spec: TableSpec, *, recreate: bool) -> list[str]:
        import sqlalchemy as sa

        inspector = sa.inspect(self.connection)
        exists = inspector.has_table(spec.name)
        if exists and recreate:
            self.connection.exec_driver_sql(f"DROP TABLE {self._quote(spec.name)}")
            exists = False
        columns = [sa.Column(c.name, self._sa_type(c.type), primary_key=c.name in spec.key, nullable=c.name not in spec.key)
                   for c in spec.columns]  # fmt: skip
        added: list[str] = []
        if exists:
            present = {c["name"] for c in inspector.get_columns(spec.name)}
            for column in columns:
                if column.name not in present:
                    kind = column.type.compile(dialect=self.engine.dialect)
                    self.connection.exec_driver_sql(
                        f"ALTER TABLE {self._quote(spec.name)} ADD COLUMN {self._quote(column.name)} {kind}"
                    )
                    added.append(column.name)
            columns = [c for c in columns if c.name in present or c.name in added]
        table = sa.Table(spec.name, sa.MetaData(), *columns)
        if not exists:
            table.create(self.connection)
            if spec.cursor:
                sa.Index(f"ix_{spec.name}_{spec.cursor}".lower(), table.c[spec.cursor]).create(self.connection)
        self.connection.commit()
        self._tables[spec.name] = table
        return added

    def _quote(self, name: str) -> str:
        return str(self.engine.dialect.identifier_preparer.quote(name))

    def upsert(self, spec: TableSpec, rows: Sequence[Row]) -> UpsertCounts:
        if not rows:
            return UpsertCounts()
        table = self._tables[spec.name]
        existing = self._existing(spec, rows)
        if self.dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            statement: Any = postgresql.insert(table)
        elif self.dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            statement = sqlite.insert(table)
        else:
            return self._generic_upsert(spec, rows, existing)
        updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in spec.key}
        statement = (
            statement.on_conflict_do_update(index_elements=list(spec.key), set_=updates)
            if updates
            else statement.on_conflict_do_nothing(index_elements=list(spec.key))
        )
        values = [self._values(table, row) for row in rows]
        self.connection.execute(statement, values)
        updated = sum(1 for row in rows if tuple(row.get(k) for k in spec.key) in existing)
        return UpsertCounts(len(rows) - updated, updated)

    def _values(self, table: Any, row: Row) -> dict[str, Any]:
        return {
            c.name: _naive_utc(row.get(c.name)) if self.dialect == "sqlite" else row.get(c.name) for c in table.columns
        }

    def _existing(self, spec: TableSpec, rows: Sequence[Row]) -> set[tuple[Any, ...]]:
        import sqlalchemy as sa

        table = self._tables[spec.name]
        found: set[tuple[Any, ...]] = set()
        keys = list({tuple(row.get(k) for k in spec.key) for row in rows})
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            if len(spec.key) == 1:
                condition = table.c[spec.key[0]].in_([k[0] for k in chunk])
            else:
                condition = sa.tuple_(*(table.c[k] for k in spec.key)).in_(chunk)
            query = sa.select(*(table.c[k] for k in spec.key)).where(condition)
            found.update(tuple(r) for r in self.connection.execute(query))
        return found

    def _generic_upsert(self, spec: TableSpec, rows: Sequence[Row], existing: set[tuple[Any, ...]]) -> UpsertCounts:
        import sqlalchemy as sa

        table = self._tables[spec.name]
        counts = UpsertCounts()
        for row in rows:
            key = tuple(row.get(k) for k in spec.key)
            values = self._values(table, row)
            if key in existing:
                condition = sa.and_(*(table.c[k] == row.get(k) for k in spec.key))
                self.connection.execute(sa.update(table).where(condition).values(values))
                counts.updated += 1
            else:
                self.connection.execute(sa.insert(table).values(values))
                counts.inserted += 1
        return counts

    def delete(self, spec: TableSpec, keys: Sequence[tuple[Any, ...]]) -> int:
        import sqlalchemy as sa

        table = self._tables[spec.name]
        removed = 0
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            if len(spec.key) == 1:
                condition = table.c[spec.key[0]].in_([k[0] for k in chunk])
            else:
                condition = sa.tuple_(*(table.c[k] for k in spec.key)).in_(chunk)
            removed += self.connection.execute(sa.delete(table).where(condition)).rowcount or 0
        return removed

    def keys(self, spec: TableSpec) -> Iterator[tuple[Any, ...]]:
        import sqlalchemy as sa

        table = self._tables[spec.name]
        for row in self.connection.execute(sa.select(*(table.c[k] for k in spec.key))):
            yield tuple(row)

    def count(self, spec: TableSpec) -> int:
        import sqlalchemy as sa

        return int(
            self.connection.execute(sa.select(sa.func.count()).select_from(self._tables[spec.name])).scalar_one()
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self.connection.rollback()
            raise
        self.connection.commit()

    def read_state(self) -> dict[str, dict[str, Any]]:
        import sqlalchemy as sa

        rows = self.connection.execute(sa.select(self._state.c.stream, self._state.c.state)).all()
        self.connection.commit()
        return {stream: json.loads(state) for stream, state in rows}

    def write_state(self, stream: str, state: dict[str, Any]) -> None:
        import sqlalchemy as sa

        values = {
            "stream": stream,
            "state": json.dumps(state, default=str),
            "updated_at": datetime.now(UTC).isoformat(),
        }
        updated = self.connection.execute(
            sa.update(self._state).where(self._state.c.stream == stream).values(values)
        ).rowcount
        if not updated:
            self.connection.execute(sa.insert(self._state).values(values))

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


# ---- DuckDB (native API, Arrow batches) ----------------------------------------------------------------

_DUCK_TYPES = {
    SqlType.TEXT: "VARCHAR",
    SqlType.INTEGER: "BIGINT",
    SqlType.REAL: "DOUBLE",
    SqlType.BOOLEAN: "BOOLEAN",
    SqlType.TIMESTAMP: "TIMESTAMPTZ",
    SqlType.JSON: "JSON",
}


class DuckDbTarget:
    def __init__(self, url: str) -> None:
        import duckdb

        path = url.split("://", 1)[1].lstrip("/") if url.count("/") >= 3 else ""
        path = "/" + path if url.startswith("duckdb:////") else path
        self.description = url
        try:
            self.db = duckdb.connect(path or ":memory:")
        except Exception as error:
            raise ConfigurationError(f"cannot open {url}: {error}") from None
        self.db.execute("SET TimeZone = 'UTC'")
        self.db.execute(f'CREATE TABLE IF NOT EXISTS "{STATE_TABLE}" (stream VARCHAR PRIMARY KEY, state VARCHAR, '
                        "updated_at VARCHAR)")  # fmt: skip
        self._specs: dict[str, TableSpec] = {}
        self._in_transaction = False

    def prepare(self, spec: TableSpec, *, recreate: bool) -> list[str]:
        exists = bool(self.db.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [spec.name]).fetchone()[0])  # type: ignore[index]  # fmt: skip
        if exists and recreate:
            self.db.execute(f'DROP TABLE "{spec.name}"')
            exists = False
        added: list[str] = []
        if not exists:
            parts = [f'"{c.name}" {_DUCK_TYPES[c.type]}' for c in spec.columns]
            keys = ", ".join(f'"{k}"' for k in spec.key)
            self.db.execute(f'CREATE TABLE "{spec.name}" ({", ".join(parts)}, PRIMARY KEY ({keys}))')
        else:
            present = {r[0] for r in self.db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [spec.name]).fetchall()}  # fmt: skip
            for column in spec.columns:
                if column.name not in present:
                    self.db.execute(f'ALTER TABLE "{spec.name}" ADD COLUMN "{column.name}" {_DUCK_TYPES[column.type]}')
                    added.append(column.name)
        self._specs[spec.name] = spec
        return added

    def _arrow(self, spec: TableSpec, rows: Sequence[Row]) -> Any:
        import pyarrow as pa  # type: ignore[import-untyped]

        arrays = {}
        for column in spec.columns:
            values = [row.get(column.name) for row in rows]
            if column.type is SqlType.INTEGER:
                arrays[column.name] = pa.array(values, type=pa.int64())
            elif column.type is SqlType.REAL:
                arrays[column.name] = pa.array([None if v is None else float(v) for v in values], type=pa.float64())
            elif column.type is SqlType.BOOLEAN:
                arrays[column.name] = pa.array(values, type=pa.bool_())
            elif column.type is SqlType.TIMESTAMP:
                arrays[column.name] = pa.array(values, type=pa.timestamp("us", tz="UTC"))
            elif column.type is SqlType.JSON:
                arrays[column.name] = pa.array([None if v is None else json.dumps(v) for v in values], type=pa.string())
            else:
                arrays[column.name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
        return pa.table(arrays)

    def upsert(self, spec: TableSpec, rows: Sequence[Row]) -> UpsertCounts:
        if not rows:
            return UpsertCounts()
        batch = self._arrow(spec, rows)
        self.db.register("_batch", batch)
        try:
            on = " AND ".join(f't."{k}" = b."{k}"' for k in spec.key)
            updated = self.db.execute(
                f'SELECT count(DISTINCT ({", ".join(f"b.{chr(34)}{k}{chr(34)}" for k in spec.key)})) '
                f'FROM "{spec.name}" t JOIN _batch b ON {on}').fetchone()[0]  # type: ignore[index]  # fmt: skip
            names = ", ".join(f'"{c.name}"' for c in spec.columns)
            self.db.execute(f'INSERT OR REPLACE INTO "{spec.name}" ({names}) SELECT {names} FROM _batch')
        finally:
            self.db.unregister("_batch")
        distinct = len({tuple(row.get(k) for k in spec.key) for row in rows})
        return UpsertCounts(distinct - int(updated), int(updated))

    def delete(self, spec: TableSpec, keys: Sequence[tuple[Any, ...]]) -> int:
        removed = 0
        condition = " AND ".join(f'"{k}" = ?' for k in spec.key)
        for key in keys:
            self.db.execute(f'DELETE FROM "{spec.name}" WHERE {condition}', list(key))
            removed += 1
        return removed

    def keys(self, spec: TableSpec) -> Iterator[tuple[Any, ...]]:
        names = ", ".join(f'"{k}"' for k in spec.key)
        cursor = self.db.execute(f'SELECT {names} FROM "{spec.name}"')
        while True:
            chunk = cursor.fetchmany(10_000)
            if not chunk:
                return
            yield from (tuple(r) for r in chunk)

    def count(self, spec: TableSpec) -> int:
        return int(self.db.execute(f'SELECT count(*) FROM "{spec.name}"').fetchone()[0])  # type: ignore[index]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def read_state(self) -> dict[str, dict[str, Any]]:
        rows = self.db.execute(f'SELECT stream, state FROM "{STATE_TABLE}"').fetchall()
        return {stream: json.loads(state) for stream, state in rows}

    def write_state(self, stream: str, state: dict[str, Any]) -> None:
        self.db.execute(f'INSERT OR REPLACE INTO "{STATE_TABLE}" VALUES (?, ?, ?)',
                        [stream, json.dumps(state, default=str), datetime.now(UTC).isoformat()])  # fmt: skip

    def close(self) -> None:
        self.db.close()


def default_url() -> str:
    return f"sqlite:///{Path('iterable.db')}"
