"""Where replication writes: SQLite and PostgreSQL through SQLAlchemy Core, DuckDB through its native API
with Arrow batches. Every target offers the same small interface: create or evolve a table, upsert rows
by primary key (writing only rows that are new or changed, and counting which), sweep away the rows whose
keys a full read did not see (the keys seen wait in a temporary table, not in memory), and keep the
replication state in a table of its own — so the copy carries its state.

Transactions are explicit: every write the runner makes happens inside `transaction()`, which commits
when its block ends and rolls back only that block when it fails. Nothing is ever left pending between
two blocks, so a failed write can never take other tables' rows with it (and leave their checkpoints
ahead of their rows).

Bulk paths: SQLite gets one driver-level `executemany` of `INSERT … ON CONFLICT DO UPDATE … WHERE changed`
per batch; PostgreSQL a COPY into a temporary staging table and one `INSERT … SELECT … ON CONFLICT DO
UPDATE … WHERE … IS DISTINCT FROM …`; DuckDB appends batches to a stage table merged into a table without a
primary key (see `DuckDbTarget._stage_batch` and docs/ARCHITECTURE.md, "DuckDB's bulk tables"). A bulk table
the run makes (PostgreSQL, DuckDB) is appended to instead, and settled when its stream ends: one row per key, the
key made (docs/ARCHITECTURE.md, "A table the run makes is appended to"). Other SQLAlchemy dialects take a slower
generic path (untested).

Rows come to `upsert` as dicts or as an Arrow batch typed from the catalog (the exported tables, see
batches.py): the same rows store the same values either way. From a batch, DuckDB scans the Arrow table
itself, PostgreSQL's COPY is binary and built by Arrow compute, SQLite's `executemany` takes the columns'
values already converted by Arrow kernels.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import operator
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from iterbridge.api.timestamps import iso_text, timestamp_or_none, utc_text
from iterbridge.dburl import (
    check_target_url,
    driver_url,
    duckdb_path,
    duckdb_settings,
    redact_text,
    redact_url,
    sqlite_path,
    url_secrets,
)
from iterbridge.errors import ConfigurationError
from iterbridge.objects.base import Column, Row, SqlType, json_text
from iterbridge.replicate.lock import FileLock, application_name, pg_lock, pg_unlock
from iterbridge.sqlnames import for_driver, quote_name

STATE_TABLE = "_iterbridge_state"
STAGE_SCHEMA = "_iterbridge_stage"  # DuckDB: where a bulk table's batches wait for their merge
SQLITE_CACHE_KIB = 32 * 1024  # a writing SQLite connection's page cache
SQLITE_PAGE_BYTES = 16_384  # a new SQLite copy's page size (SQLite's default: 4 KB)
SQLITE_WAL_BYTES = 64 * 1024 * 1024  # WAL written before SQLite copies it into the database file
# The comment on a bulk table made by a run while its rows are appended (PostgreSQL, DuckDB), until its stream ends:
# a table that carries it when a run begins was left by a killed run, and is settled (never a table made otherwise)
FRESH_COMMENT = "iterbridge: being copied; keys not checked yet"
STAGE_ROWS = 262_144  # rows staged before a merge (one scan of the table's keys per merge)
DUCKDB_MEMORY_LIMIT = "256MB"  # DuckDB's cache while it writes bulk tables only (see DuckDbTarget._bound_memory)
# The write-ahead log DuckDB lets grow before it checkpoints (its default: 16 MB). Each checkpoint compresses and
# writes out what changed, so with the default a medium copy checkpointed after almost every commit (measured: 256 MB
# made it 12 % faster, memory the same; 512 MB and 1 GB no faster).
DUCKDB_CHECKPOINT_WAL = "256MB"
PG_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1: longer names are cut (see `identifier`)
# Keys per existence query in SQLite (its limit is 32,766 parameters): few queries, as each one gives the GIL
# away and waits to get it back from the reader threads.
_SQLITE_KEYS = 8000


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    cursor: str | None = None
    # Written in bulk by replication: a DuckDB table made for it has no primary key (its index grows in memory
    # and in time with the table); the merge keeps one row per key instead (DuckDbTarget._stage_batch).
    bulk: bool = False

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class Prepared:
    created: bool  # the table did not exist (or was recreated)
    added: list[str]  # columns added to an existing table


Batch = Any  # a pyarrow Table or RecordBatch with a table's columns (pyarrow has no type stubs)


def is_batch(rows: Sequence[Row] | Batch) -> bool:
    """Whether `upsert` was given an Arrow batch rather than dict rows."""
    return hasattr(rows, "schema") and hasattr(rows, "num_rows")


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0  # rows whose values changed
    unchanged: int = 0  # rows already in the copy exactly as read

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged
        )


class Target(Protocol):
    description: str  # the URL as it may be shown (no secrets)
    read_only: bool

    def prepare(self, spec: TableSpec, *, recreate: bool) -> Prepared: ...
    def upsert(self, spec: TableSpec, rows: Sequence[Row] | Batch) -> UpsertCounts: ...
    def flush(self, spec: TableSpec) -> UpsertCounts: ...
    def keys(self, spec: TableSpec) -> Iterator[tuple[Any, ...]]: ...
    def start_sweep(self, spec: TableSpec) -> None: ...
    def mark_seen(self, spec: TableSpec, keys: Sequence[tuple[Any, ...]]) -> None: ...
    def sweep(self, spec: TableSpec, keep: dict[str, list[Any]] | None = None) -> int: ...
    def cursors(self, spec: TableSpec) -> dict[tuple[Any, ...], datetime | None]: ...
    def count(self, spec: TableSpec) -> int: ...
    def transaction(self) -> contextlib.AbstractContextManager[None]: ...
    def read_state(self) -> dict[str, dict[str, Any]]: ...
    def write_state(self, stream: str, state: dict[str, Any]) -> None: ...
    def clear_state(self, streams: Sequence[str]) -> None: ...
    def error_text(self, error: BaseException) -> str: ...
    def quote(self, name: str) -> str: ...
    def stored_name(self, name: str) -> str: ...
    def close(self) -> None: ...


def open_target(url: str, option: str = "--to", *, read_only: bool = False) -> Target:
    """sqlite:///file.db (default), postgresql://…, duckdb:///file.duckdb; other SQLAlchemy URLs may work.
    `option` names where the URL came from in the error. A database in memory is refused (nothing would be
    kept). A writing target is locked for this run (see lock.py); `read_only` (a dry run) takes no lock and
    changes nothing: not even a missing file is created (it reads as empty)."""
    check_target_url(url, option)
    if url.lower().startswith("duckdb:"):
        return DuckDbTarget(url, read_only=read_only)
    return SqlAlchemyTarget(url, read_only=read_only)


def identifier(name: str, limit: int | None = None) -> str:
    """The name a table, column or index gets in a database that cuts identifiers at `limit` bytes of UTF-8
    (PostgreSQL: 63): the name itself when it fits, else a prefix cut at a character boundary, `_` and eight
    hex digits of the full name's SHA-1. Deterministic (every run maps a name alike) and distinct names stay
    distinct, where the database's own truncation would make two long names with a common prefix one."""
    encoded = name.encode()
    if limit is None or len(encoded) <= limit:
        return name
    digest = hashlib.sha1(encoded).hexdigest()[:8]
    return f"{encoded[: limit - 9].decode('utf-8', 'ignore')}_{digest}"


def one_line(error: BaseException, secrets: Sequence[str] = ()) -> str:
    """A driver's error as one line, without SQLAlchemy's background links, any database URL's secrets, or
    the given secrets (where they stand as words of their own)."""
    text = " ".join(str(error).split())
    text = re.sub(r"\s*\(Background on this error at: [^)]*\)", "", text)
    text = re.sub(r"\[SQL: .*", "", text).strip()
    return redact_text(text, list(secrets))[:500] or type(error).__name__


def seen_table(spec: TableSpec) -> str:
    """The temporary table of the keys a sweep stream's read saw (a killed run forgets it, harmlessly)."""
    return f"_iterbridge_seen_{spec.name}"


def state_row(state: dict[str, Any]) -> str:
    return json.dumps(state, default=str, sort_keys=True)


# ---- values --------------------------------------------------------------------------------------------


def sqlite_timestamp(value: Any) -> str | None:
    """SQLite keeps no time zone (it drops tzinfo from `DateTime(timezone=True)`): UTC, in
    SQLAlchemy's own storage format so it reads back as a datetime, and so SQLite's date functions work on it."""
    if type(value) is datetime and value.tzinfo is UTC:  # what readers give: the fast way (from tables)
        return f"{utc_text(value)}.{value.microsecond:06d}"
    moment = timestamp_or_none(value)
    return None if moment is None else moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def _boolean_int(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def _integer(value: Any) -> int | None:
    """An INTEGER column's value, leniently (a reader's "42" is 42; what is no integer is NULL, not a failure)."""
    if value is None or type(value) is int:
        return value
    try:
        number = float(value) if not isinstance(value, (int, str)) else int(value)
    except (TypeError, ValueError):
        return None
    return int(number) if float(number).is_integer() else None


def _real(value: Any) -> float | None:
    if value is None or type(value) is float:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _no_nul(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL characters."""
    return value.replace("\x00", "") if isinstance(value, str) and "\x00" in value else value


def _pg_json(value: Any) -> str | None:
    """JSON text without its escaped NULs (PostgreSQL's JSONB refuses them): the escapes only, not a backslash of
    the text followed by "u0000" (escaped backslashes are set aside meanwhile, as NUL: JSON text holds none)."""
    text = json_text(value)
    if text is None or "\\u0000" not in text:
        return text
    return text.replace("\\\\", "\x00").replace("\\u0000", "").replace("\x00", "\\\\")


Converter = Callable[[Any], Any] | None


@dataclass
class _Plan:
    """How one table is written: its columns present in the target, in order, with their converters."""

    table: Any
    names: list[str]
    converters: list[Converter]
    key: tuple[str, ...]
    statements: dict[str, str] = field(default_factory=dict)
    # SQLite: whether new rows get rowids past the largest (a rowid table whose rowid is no column); None: not
    # looked at yet.
    rowids_grow: bool | None = None
    # PostgreSQL: whether every column has the catalog's type (a binary COPY's format is the column type's); a
    # table made when a user field had another type keeps it, and is written through a text COPY.
    binary: bool = False

    def tuples(self, rows: Sequence[Row]) -> Iterator[list[Any]]:
        """The rows as value lists in column order, converted, one at a time (the writer's hot path: values are
        picked in C)."""
        converted = [(i, c) for i, c in enumerate(self.converters) if c is not None]
        pick = operator.itemgetter(*self.names) if len(self.names) > 1 else None
        for row in rows:
            if pick is None:
                listed = [row.get(self.names[0])]
            else:
                try:
                    listed = list(pick(row))
                except KeyError:  # a row without some column: NULL there
                    listed = [row.get(n) for n in self.names]
            for position, convert in converted:
                listed[position] = convert(listed[position])
            yield listed


def _distinct(rows: Sequence[Row], key: tuple[str, ...]) -> list[Row]:
    """One row per key, the last one read winning (PostgreSQL and DuckDB refuse to upsert a key twice in one
    statement; identical events hash to one Id)."""
    if len(key) == 1:
        name = key[0]
        found: dict[Any, Row] = {row.get(name): row for row in rows}
    else:
        found = {tuple([row.get(k) for k in key]): row for row in rows}
    return list(found.values()) if len(found) != len(rows) else list(rows)


def _changed_from_previous(values: Sequence[str]) -> str:
    """SQL true where a row differs from the row before it in the window `w` (its key's rows in the order they
    were written), in any of the `values` (quoted column expressions)."""
    return " OR ".join(f"lag({v}) OVER w IS DISTINCT FROM {v}" for v in values) or "false"


def _superseded(updated: int, unchanged: int) -> UpsertCounts:
    """The correction for rows a settle found written again under a key: counted new by the appends, each is an
    update of the row before it (or unchanged, if equal to it), as an upsert would have counted it."""
    return UpsertCounts(-updated - unchanged, updated, unchanged)


class _FreshTables:
    """The bulk tables a run made and appends to until their stream's `flush` settles them (docs/ARCHITECTURE.md,
    "A table the run makes is appended to"). A settle holds once its transaction commits: rolled back, the table
    is appended to and settled again."""

    def __init__(self) -> None:
        self._tables: set[str] = set()
        self._settling: set[str] = set()  # settled in the open transaction

    def add(self, name: str) -> None:
        self._tables.add(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tables and name not in self._settling

    def settle(self, name: str, settle: Callable[[], UpsertCounts]) -> UpsertCounts:
        """`settle()`'s counts when the table is fresh (it is then settled in the open transaction), else none."""
        if name not in self:
            return UpsertCounts()
        counts = settle()
        self._settling.add(name)
        return counts

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Around a target's transaction, commit included: the tables it settled leave only if it commits."""
        try:
            yield
        finally:
            settled, self._settling = self._settling, set()
        self._tables -= settled


# ---- SQLAlchemy (SQLite, PostgreSQL) -------------------------------------------------------------------


class SqlAlchemyTarget:
    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.description = redact_url(url)
        self._secrets = url_secrets(url)
        self.read_only = read_only
        self._lock: FileLock | None = None
        self._pg_locked = False
        self._plans: dict[str, _Plan] = {}
        self._unindexed: set[str] = set()  # bulk tables made by this run: `flush` indexes them
        self._fresh = _FreshTables()  # PostgreSQL: appended to without their key until `flush` (see `_settle`)
        options: dict[str, Any] = {}
        path = sqlite_path(url) if url.lower().startswith("sqlite") else None
        url = driver_url(url)
        if url.lower().startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        if url.lower().startswith("postgresql+psycopg://"):
            options["json_deserializer"] = orjson.loads  # JSONB read back (sync compares every row): ~5× json's
            if "application_name=" not in url:
                options["connect_args"] = {"application_name": application_name()}
        if path is not None and read_only:
            url, options = _sqlite_read_only(path)
        elif path is not None:
            self._lock = FileLock(path, self.description)  # before the file is created
        try:
            self._open(url, options)
        except BaseException:
            self.close()
            raise

    def _open(self, url: str, options: dict[str, Any]) -> None:
        """Connect; then, for a writing run, lock the database and make it ready (WAL, the state table) — a
        database that refuses (a read-only file, directory or role) is said on one line."""
        import sqlalchemy as sa

        try:
            self.engine = sa.create_engine(url, **options)
            self.connection = self.engine.connect()
        except Exception as error:  # driver or server problems, named once, on one line
            raise ConfigurationError(f"cannot open {self.description}: {self.error_text(error)}") from None
        self.dialect = self.engine.dialect.name
        self._limit = PG_IDENTIFIER_BYTES if self.dialect == "postgresql" else None
        preparer = self.engine.dialect.identifier_preparer
        self._marks = f"{preparer.initial_quote}{preparer.final_quote}"  # "" but for a few (MySQL: ``)
        self._state = sa.Table(
            STATE_TABLE,
            sa.MetaData(),
            sa.Column("stream", sa.Text(), primary_key=True),
            sa.Column("state", sa.Text(), nullable=False),
            sa.Column("updated_at", sa.Text(), nullable=False),
        )
        try:
            if self.read_only:
                if self.dialect == "postgresql":
                    self.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                    self.connection.commit()
                return
            if self.dialect == "postgresql":
                pg_lock(self.connection, self.description)
                self._pg_locked = True
            if self.dialect == "sqlite":
                # WAL: readers of the copy never block the replication; NORMAL: a killed process loses nothing
                # committed (only a power loss may lose the last transactions, never consistency).
                # 16 KB pages in a new file (SQLite ignores it for one that has tables, or is in WAL mode): the keys'
                # b-trees take random keys, and each commit writes every page they changed, one write a page;
                # a quarter as many pages, a quarter as many writes (medium copy, alternated: 20.9-21.6 s at
                # 4 KB, 18.4-19.5 s at 16 KB, 18.4-19.4 s at 64 KB; a file 3 % smaller).
                self.execute(f"PRAGMA page_size={SQLITE_PAGE_BYTES}")
                self.execute("PRAGMA journal_mode=WAL")
                self.execute("PRAGMA synchronous=NORMAL")
                # The primary keys' b-trees take rows in hash order: with SQLite's 2 MB page cache their pages were
                # evicted and written again and again (medium copy, measured: 40.8-42.2 s with 2 MB, 32.8-37.6 s
                # with 32 MB, 32.3 s with 64 MB at a 293 MB peak: 32 MB keeps the copy well under 300 MB).
                self.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
                # The WAL copied into the file every 64 MB, not every 1,000 pages: a page the keys' b-trees write
                # again and again is copied once per checkpoint, and each checkpoint syncs the files (NORMAL).
                # Medium copy, alternated, 4 KB pages: 31.5, 31.6 s at 1,000 pages; 30.1, 30.4 s at 64 MB.
                (page_bytes,) = self.execute("PRAGMA page_size").one()
                self.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_BYTES // int(page_bytes)}")
                self.connection.commit()
            with self.transaction():
                self._state.create(self.connection, checkfirst=True)
        except ConfigurationError:
            raise
        except Exception as error:
            raise ConfigurationError(f"cannot write to {self.description}: {self.error_text(error)}") from None

    # ---- schema ---------------------------------------------------------------------------------------

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
            return postgresql.JSONB(none_as_null=True) if self.dialect == "postgresql" else sa.JSON(none_as_null=True)
        return sa.Text()

    def _converter(self, kind: SqlType) -> Converter:
        if self.dialect == "sqlite":
            return {SqlType.TIMESTAMP: sqlite_timestamp, SqlType.JSON: json_text, SqlType.BOOLEAN: _boolean_int}.get(
                kind
            )
        if self.dialect == "postgresql":
            converters: dict[SqlType, Converter] = {
                SqlType.TIMESTAMP: timestamp_or_none,
                SqlType.JSON: _pg_json,
                SqlType.TEXT: _no_nul,
                SqlType.INTEGER: _integer,
                SqlType.REAL: _real,
            }
            return converters.get(kind)
        return None

    def prepare(self, spec: TableSpec, *, recreate: bool) -> Prepared:
        """Create the table (typed columns, primary key, an index on the cursor), or add the columns it lacks."""
        import sqlalchemy as sa

        added: list[str] = []
        with self.transaction():
            inspector = sa.inspect(self.connection)
            exists = inspector.has_table(self._name(spec.name))
            if exists and recreate:
                self.execute(f"DROP TABLE {self._quote(spec.name)}")
                exists = False
            keys = set(spec.key)
            # PostgreSQL: a bulk table made now takes its rows by COPY alone, its key made when its stream ends
            fresh = not exists and spec.bulk and self.dialect == "postgresql" and not self.read_only
            columns = [
                sa.Column(
                    self._name(c.name),
                    self._sa_type(c.type),
                    primary_key=c.name in keys and not fresh,
                    nullable=c.name not in keys,
                )
                for c in spec.columns
            ]
            if exists:
                present = {c["name"] for c in inspector.get_columns(self._name(spec.name))}
                for logical, column in zip(spec.column_names(), columns, strict=True):
                    if column.name not in present:
                        kind = column.type.compile(dialect=self.engine.dialect)
                        self.execute(
                            f"ALTER TABLE {self._quote(spec.name)} ADD COLUMN {self._quote(column.name)} {kind}"
                        )
                        added.append(logical)
            table = sa.Table(self._name(spec.name), sa.MetaData(), *columns)
            if not exists:
                table.create(self.connection)
                if fresh:
                    self.execute(f"COMMENT ON TABLE {self._quote(spec.name)} IS '{FRESH_COMMENT}'")
            elif self._unsettled(inspector, spec):
                self._settle(spec)  # a run killed before its stream ended left it without its key
            if fresh:
                self._fresh.add(spec.name)
            if spec.cursor and (exists or not spec.bulk):
                # Also when the table exists: a run that ended before `flush` made it (or an older one) left none.
                self._create_index(spec, table)
            elif spec.cursor:
                self._unindexed.add(spec.name)  # made by `flush`, once the table holds its rows
        types = {c.name: c.type for c in spec.columns}
        self._plans[spec.name] = plan = _Plan(
            table, spec.column_names(), [self._converter(types[n]) for n in spec.column_names()], spec.key
        )
        if self.dialect == "postgresql":
            self._pg_stage(plan, [types[n] for n in spec.column_names()])
        return Prepared(not exists, added)

    def _quote(self, name: str) -> str:
        return self.quote(name)

    def _name(self, name: str) -> str:
        return self.stored_name(name)

    def _column(self, table: Any, name: str) -> Any:
        return table.c[self._name(name)]

    def _quoted(self, names: Sequence[str]) -> str:
        return ", ".join(self._quote(n) for n in names)

    # ---- writing --------------------------------------------------------------------------------------

    def upsert(self, spec: TableSpec, rows: Sequence[Row] | Batch) -> UpsertCounts:
        if is_batch(rows):
            return self._upsert_batch(spec, rows)
        if not rows:
            return UpsertCounts()
        plan = self._plans[spec.name]
        rows = _distinct(rows, plan.key)
        if self.dialect == "sqlite":
            keys = [[row.get(k) for row in rows] for k in plan.key]
            return self._sqlite_upsert(plan, plan.tuples(rows), len(rows), lambda: keys)
        if self.dialect == "postgresql":
            return self._pg_upsert(spec, plan, rows)
        return self._generic_upsert(plan, rows)

    def flush(self, spec: TableSpec) -> UpsertCounts:
        """Nothing waits: SQLite's upserts go through the key's index batch by batch, PostgreSQL's too once a
        table has its key. A bulk table made by this run gets its key (PostgreSQL, `_settle`) and its cursor's
        index now, built from its rows in one sort rather than kept up row by row (medium copy: SQLite
        21.4-22.0 s to 20.2-20.5 s). Asked again if the transaction holding them was rolled back (the runner
        writes a failed group's messages again one by one)."""
        counts = self._fresh.settle(spec.name, lambda: self._settle(spec))
        if spec.name in self._unindexed:
            self._create_index(spec, self._plans[spec.name].table)
        return counts

    def _unsettled(self, inspector: Any, spec: TableSpec) -> bool:
        """An existing PostgreSQL bulk table appended to by a run killed before its stream ended: it carries
        FRESH_COMMENT (a table without a key made otherwise is left as it is)."""
        if not spec.bulk or self.dialect != "postgresql" or self.read_only:
            return False
        return bool(inspector.get_table_comment(self._name(spec.name))["text"] == FRESH_COMMENT)

    def _settle(self, spec: TableSpec) -> UpsertCounts:
        """Give a table appended to without its key (PostgreSQL) its primary key, built in one sort. Should two
        of its rows have one key (a user exported by two windows), the later is kept, as an upsert would have
        kept it; the counts returned correct what the appends counted (the earlier rows were no new rows)."""
        import sqlalchemy as sa

        add = f"ALTER TABLE {self._quote(spec.name)} ADD PRIMARY KEY ({self._quoted(spec.key)})"
        counts = UpsertCounts()
        try:
            with self.connection.begin_nested():
                self.execute(add)
        except sa.exc.IntegrityError:  # rows sharing a key: the savepoint took the failed statement back
            counts = self._pg_drop_duplicates(spec)
            self.execute(add)
        self.execute(f"COMMENT ON TABLE {self._quote(spec.name)} IS NULL")
        return counts

    def _pg_drop_duplicates(self, spec: TableSpec) -> UpsertCounts:
        """Keep the row written last of each key, the order the appends wrote them in: by transaction, then by
        command in it (one COPY never holds a key twice). Each later row of a key counts as an upsert would
        have counted it: updated when it differs from the row before it, unchanged when it does not."""
        table = self._quote(spec.name)
        keys = self._quoted(spec.key)
        changed = _changed_from_previous([self._quote(n) for n in spec.column_names() if n not in spec.key])
        updated, unchanged = self.execute(
            f"WITH ranked AS (SELECT ctid AS place, row_number() OVER w AS n, "
            f"count(*) OVER (PARTITION BY {keys}) AS k, ({changed}) AS changed FROM {table} "
            f"WINDOW w AS (PARTITION BY {keys} ORDER BY age(xmin) DESC, cmin::text::bigint)), "
            f"gone AS (DELETE FROM {table} WHERE ctid IN (SELECT place FROM ranked WHERE n < k)) "
            "SELECT count(*) FILTER (WHERE n > 1 AND changed), count(*) FILTER (WHERE n > 1 AND NOT changed) "
            "FROM ranked"
        ).one()
        return _superseded(int(updated), int(unchanged))

    def _create_index(self, spec: TableSpec, table: Any) -> None:
        import sqlalchemy as sa

        assert spec.cursor is not None
        index = sa.Index(self._name(_index_name(spec)), self._column(table, spec.cursor))
        index.create(self.connection, checkfirst=True)

    def _upsert_batch(self, spec: TableSpec, batch: Batch) -> UpsertCounts:
        """`upsert` of an Arrow batch: the same values stored, no dict per row."""
        from iterbridge.replicate.batches import conform, distinct, pg_binary, sqlite_column

        table = distinct(conform(batch, spec.columns), spec.key)
        if not table.num_rows:
            return UpsertCounts()
        plan = self._plans[spec.name]
        if self.dialect == "sqlite":
            types = {c.name: c.type for c in spec.columns}

            def keys() -> list[list[Any]]:  # only asked for a table whose new rows are counted by key
                return [sqlite_column(table.column(k), types[k]) for k in plan.key]

            return self._sqlite_upsert(plan, table, table.num_rows, keys, spec.columns)
        if self.dialect == "postgresql" and plan.binary:
            data = pg_binary(table, spec.columns)
            return self._pg_copy_upsert(plan, data, table.num_rows, binary=True, fresh=spec.name in self._fresh)
        from iterbridge.objects.arrow import rows

        found = list(rows(table, {c.name: c.type for c in spec.columns}))
        if self.dialect == "postgresql":
            return self._pg_upsert(spec, plan, found)
        return self._generic_upsert(plan, found)

    def _dbapi(self) -> Any:
        return self.connection.connection.dbapi_connection

    def _changed(self, plan: _Plan, left: str, right: str, operator: str) -> str:
        values = [n for n in plan.names if n not in plan.key]
        return " OR ".join(f"{left}.{self._quote(n)} {operator} {right}.{self._quote(n)}" for n in values)

    def _sqlite_upsert(
        self,
        plan: _Plan,
        values: Iterable[Sequence[Any]] | Batch,
        count: int,
        keys: Callable[[], list[list[Any]]],
        columns: Sequence[Column] | None = None,
    ) -> UpsertCounts:
        """`count` rows given as `values` (in the plan's column order, converted), whose key columns' values are
        `keys()`: one executemany. Given `columns`, `values` is a conformed Arrow table, its values bound from
        their buffers in C (batches.sqlite_write; medium copy, alternated: 19.7-19.8 s to 16.5-16.6 s), or
        converted for executemany where it cannot."""
        statement = plan.statements.get("upsert")
        if statement is None:
            table = self._quote(plan.table.name)
            names = self._quoted(plan.names)
            marks = ", ".join("?" for _ in plan.names)
            sets = ", ".join(f"{self._quote(n)} = excluded.{self._quote(n)}" for n in plan.names if n not in plan.key)
            action = (
                f"DO UPDATE SET {sets} WHERE {self._changed(plan, table, 'excluded', 'IS NOT')}"
                if sets
                else "DO NOTHING"
            )
            statement = (
                f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ({self._quoted(plan.key)}) {action}"
            )
            plan.statements["upsert"] = statement
        cursor = self._dbapi().cursor()
        try:
            table = self._quote(plan.table.name)
            last = self._sqlite_last_rowid(cursor, plan)
            existing = None if last is not None else self._sqlite_existing(cursor, plan, keys())
            from iterbridge.replicate.batches import sqlite_columns, sqlite_write

            written = None if columns is None else sqlite_write(self._dbapi(), self._driver(statement), values, columns)
            if written is None:
                rows = values if columns is None else zip(*sqlite_columns(values, columns), strict=True)
                cursor.executemany(self._driver(statement), rows)
                written = max(cursor.rowcount, 0)
            if existing is None:  # the rows added are those past the last rowid: a range, counted in the b-tree
                counted = cursor.execute(self._driver(f"SELECT count(*) FROM {table} WHERE rowid > ?"), (last,))
                added = counted.fetchone()[0]
                existing = count - int(added)
        finally:
            cursor.close()
        inserted = count - existing
        return UpsertCounts(inserted, written - inserted, existing - (written - inserted))

    def _sqlite_last_rowid(self, cursor: Any, plan: _Plan) -> int | None:
        """The table's largest rowid, when new rows are sure to get larger ones: a rowid table whose rowid is
        no column (not one INTEGER PRIMARY KEY) and far from the largest rowid (where SQLite picks at random).
        None: count the rows that exist the slow way, by key."""
        name = plan.table.name
        if plan.rowids_grow is None:
            keys = [kind for kind, pk in cursor.execute("SELECT type, pk FROM pragma_table_info(?)", (name,)) if pk]
            (without_rowid,) = cursor.execute(
                "SELECT sql LIKE '%WITHOUT ROWID%' FROM sqlite_master WHERE name = ?", (name,)
            ).fetchone()
            aliased = len(keys) == 1 and str(keys[0]).upper() == "INTEGER"
            plan.rowids_grow = not aliased and not without_rowid
        if not plan.rowids_grow:
            return None
        last = cursor.execute(self._driver(f"SELECT max(rowid) FROM {self._quote(name)}"), ()).fetchone()[0] or 0
        return int(last) if last < 2**62 else None

    def _sqlite_existing(self, cursor: Any, plan: _Plan, keys: list[list[Any]]) -> int:
        """How many of the keys (one list of values per key column) the table holds."""
        table = self._quote(plan.table.name)
        found = 0
        step = _SQLITE_KEYS // len(plan.key)
        for start in range(0, len(keys[0]), step):
            chunk = [values[start : start + step] for values in keys]
            if len(plan.key) == 1:
                marks = ", ".join("?" for _ in chunk[0])
                sql = f"SELECT count(*) FROM {table} WHERE {self._quote(plan.key[0])} IN ({marks})"
                params: list[Any] = chunk[0]
            else:  # a join, not `(a, b) IN (VALUES …)`: SQLite scans the whole table for that one
                group = "(" + ", ".join("?" for _ in plan.key) + ")"
                match = " AND ".join(f"t.{self._quote(k)} = v.column{i + 1}" for i, k in enumerate(plan.key))
                sql = f"SELECT count(*) FROM (VALUES {', '.join(group for _ in chunk[0])}) v JOIN {table} t ON {match}"
                params = [value for key in zip(*chunk, strict=True) for value in key]
            cursor.execute(self._driver(sql), params)
            found += int(cursor.fetchone()[0])
        return found

    def _pg_stage(self, plan: _Plan, kinds: list[SqlType]) -> None:
        """A temporary staging table shaped like the target (COPY goes there, then one upsert statement)."""
        from iterbridge.replicate.batches import PG_TYPES

        stage = self._quote(f"_stage_{plan.table.name}")
        table = self._quote(plan.table.name)
        with self.transaction():
            self.execute(f"DROP TABLE IF EXISTS {stage}")
            self.execute(
                f"CREATE TEMPORARY TABLE {stage} AS SELECT {self._quoted(plan.names)} "
                f"FROM {self._quote(plan.table.name)} WITH NO DATA"
            )
            with self._dbapi().cursor() as cursor:
                cursor.execute(self._driver(f"SELECT {self._quoted(plan.names)} FROM {stage} LIMIT 0"), ())
                plan.binary = [c.type_code for c in cursor.description] == [PG_TYPES[k] for k in kinds]
        names = self._quoted(plan.names)
        sets = ", ".join(f"{self._quote(n)} = EXCLUDED.{self._quote(n)}" for n in plan.names if n not in plan.key)
        action = f"DO UPDATE SET {sets} WHERE {self._changed(plan, table, 'EXCLUDED', 'IS DISTINCT FROM')}"
        plan.statements["copy"] = f"COPY {stage} ({names}) FROM STDIN"  # sent as written: see _copy
        plan.statements["copy binary"] = f"COPY {stage} ({names}) FROM STDIN (FORMAT BINARY)"
        plan.statements["fresh copy"] = f"COPY {table} ({names}) FROM STDIN"
        plan.statements["fresh copy binary"] = f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)"
        plan.statements["upsert"] = (
            f"WITH written AS (INSERT INTO {table} ({names}) SELECT {names} FROM {stage} "
            f"ON CONFLICT ({self._quoted(plan.key)}) {action if sets else 'DO NOTHING'} RETURNING (xmax = 0) AS new) "
            "SELECT count(*) FILTER (WHERE new), count(*) FILTER (WHERE NOT new) FROM written"
        )
        plan.statements["clear"] = f"TRUNCATE {stage}"

    def _pg_upsert(self, spec: TableSpec, plan: _Plan, rows: list[Row]) -> UpsertCounts:
        return self._pg_copy_upsert(plan, plan.tuples(rows), len(rows), binary=False, fresh=spec.name in self._fresh)

    def _pg_copy_upsert(
        self, plan: _Plan, data: Iterable[Any], count: int, *, binary: bool, fresh: bool
    ) -> UpsertCounts:
        """COPY `count` rows into the stage table — `data`: value lists (text COPY, a row each), or the tuples of
        a binary COPY (batches.pg_binary) — then one upsert from it. Into a `fresh` table (`_settle`) the COPY
        goes straight, every row counted new (medium emailSend: 1.3 s against 3.2 s through the stage)."""
        statement = ("fresh " if fresh else "") + ("copy binary" if binary else "copy")
        with self._dbapi().cursor() as cursor:
            with self._copy(cursor, plan.statements[statement]) as copy:
                if binary:
                    from iterbridge.replicate.batches import PG_SIGNATURE, PG_TRAILER

                    copy.write(PG_SIGNATURE)
                    for chunk in data:
                        copy.write(chunk)
                    copy.write(PG_TRAILER)
                else:
                    for values in data:
                        copy.write_row(values)
            if fresh:
                return UpsertCounts(count)
            cursor.execute(self._driver(plan.statements["upsert"]), ())
            inserted, updated = cursor.fetchone()
            cursor.execute(self._driver(plan.statements["clear"]), ())
        return UpsertCounts(int(inserted), int(updated), count - int(inserted) - int(updated))

    def _generic_upsert(self, plan: _Plan, rows: list[Row]) -> UpsertCounts:
        import sqlalchemy as sa

        table = plan.table
        counts = UpsertCounts()
        for row in rows:
            condition = sa.and_(*(self._column(table, k) == row.get(k) for k in plan.key))
            values = {self._name(n): row.get(n) for n in plan.names}
            selected = [self._column(table, n) for n in plan.names]
            current = self.connection.execute(sa.select(*selected).where(condition)).first()
            if current is None:
                self.connection.execute(sa.insert(table).values(values))
                counts.inserted += 1
            elif tuple(current) != tuple(values.values()):
                self.connection.execute(sa.update(table).where(condition).values(values))
                counts.updated += 1
            else:
                counts.unchanged += 1
        return counts

    def keys(self, spec: TableSpec) -> Iterator[tuple[Any, ...]]:
        import sqlalchemy as sa

        table = self._plans[spec.name].table
        selected = [self._column(table, k) for k in spec.key]
        result = self.connection.execute(sa.select(*selected).execution_options(yield_per=10_000))
        for row in result:
            yield tuple(row)

    # ---- the deletion sweep ------------------------------------------------------------------------------

    def start_sweep(self, spec: TableSpec) -> None:
        plan = self._plans[spec.name]
        seen = self._quote(seen_table(spec))
        types = {k: self._column(plan.table, k).type.compile(dialect=self.engine.dialect) for k in spec.key}
        columns = ", ".join(f"{self._quote(k)} {types[k]}" for k in spec.key)
        primary = f", PRIMARY KEY ({self._quoted(spec.key)})" if self.dialect != "postgresql" else ""
        with self.transaction():
            self.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {seen} ({columns}{primary})")
            self.execute(f"DELETE FROM {seen}")
        if self.dialect == "postgresql":
            plan.statements["seen"] = f"COPY {seen} ({self._quoted(spec.key)}) FROM STDIN"
        elif self.dialect == "sqlite":
            plan.statements["seen"] = f"INSERT OR IGNORE INTO {seen} VALUES ({', '.join('?' for _ in spec.key)})"

    def mark_seen(self, spec: TableSpec, keys: Sequence[tuple[Any, ...]]) -> None:
        if not keys:
            return
        statement = self._plans[spec.name].statements.get("seen")
        if self.dialect == "postgresql" and statement:
            with self._dbapi().cursor() as cursor, self._copy(cursor, statement) as copy:
                for key in keys:
                    copy.write_row(key)
        elif statement:
            cursor = self._dbapi().cursor()
            try:
                cursor.executemany(self._driver(statement), [tuple(key) for key in keys])
            finally:
                cursor.close()
        else:
            marks = ", ".join("?" for _ in spec.key)
            self.execute_many(f"INSERT INTO {self._quote(seen_table(spec))} VALUES ({marks})", keys)

    def sweep(self, spec: TableSpec, keep: dict[str, list[Any]] | None = None) -> int:
        """Delete the rows whose key the read did not see (but those `keep` names); returns how many."""
        table = self._quote(spec.name)
        seen = self._quote(seen_table(spec))
        match = " AND ".join(f"s.{self._quote(k)} = {table}.{self._quote(k)}" for k in spec.key)
        condition = f"NOT EXISTS (SELECT 1 FROM {seen} s WHERE {match})"
        parameters: list[Any] = []
        for column, values in (keep or {}).items():
            if values:
                condition += f" AND {self._quote(column)} NOT IN ({', '.join('?' for _ in values)})"
                parameters += list(values)
        if self.dialect == "postgresql":
            self.execute(f"ANALYZE {seen}")
        removed = self.execute(f"DELETE FROM {table} WHERE {condition}", parameters).rowcount or 0
        self.execute(f"DELETE FROM {seen}")
        return int(removed)

    def cursors(self, spec: TableSpec) -> dict[tuple[Any, ...], datetime | None]:
        import sqlalchemy as sa

        if not spec.cursor:
            return {}
        table = self._plans[spec.name].table
        with self.transaction():
            selected = [self._column(table, k) for k in (*spec.key, spec.cursor)]
            rows = self.connection.execute(sa.select(*selected)).all()
        return {tuple(row[:-1]): timestamp_or_none(row[-1]) for row in rows}

    def count(self, spec: TableSpec) -> int:
        import sqlalchemy as sa

        table = self._plans[spec.name].table
        return int(self.connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One explicit transaction: committed when the block ends, rolled back (alone) when it fails. The fresh
        tables it settled are settled once it commits (rolled back, they are fresh again)."""
        if self.connection.in_transaction():  # an autobegun read (reflection): nothing of ours is pending
            self.connection.commit()
        with self._fresh.transaction(), self.connection.begin():
            yield

    def read_state(self) -> dict[str, dict[str, Any]]:
        import sqlalchemy as sa

        if self.read_only and not sa.inspect(self.connection).has_table(STATE_TABLE):
            return {}  # a dry run on a database no run has written yet
        with self.transaction():
            rows = self.connection.execute(sa.select(self._state.c.stream, self._state.c.state)).all()
        return {stream: json.loads(state) for stream, state in rows}

    def write_state(self, stream: str, state: dict[str, Any]) -> None:
        import sqlalchemy as sa

        values = {"stream": stream, "state": state_row(state), "updated_at": iso_text(datetime.now(UTC))}
        updated = self.connection.execute(
            sa.update(self._state).where(self._state.c.stream == stream).values(values)
        ).rowcount
        if not updated:
            self.connection.execute(sa.insert(self._state).values(values))

    def clear_state(self, streams: Sequence[str]) -> None:
        import sqlalchemy as sa

        if streams:
            self.connection.execute(sa.delete(self._state).where(self._state.c.stream.in_(list(streams))))

    def error_text(self, error: BaseException) -> str:
        return one_line(error, self._secrets)

    def stored_name(self, name: str) -> str:
        """The name a table, column or index has in this database: mapped by `identifier` where the database
        cuts names (PostgreSQL). SQLAlchemy's schema objects (the table, its index, the state table) are given
        it unquoted: they quote it themselves, to the same stored name."""
        return identifier(name, self._limit)

    def quote(self, name: str) -> str:
        """A table, column or index name as SQL text of ours gives it: the stored name, quoted by `quote_name`,
        nothing else (not SQLAlchemy's preparer: for psycopg it doubles `%`, right only in a statement the
        driver parses, wrong in a COPY or a name passed as data). Every name in SQL text goes through here."""
        return quote_name(self.stored_name(name), self._marks)

    def _driver(self, sql: str) -> str:
        """SQL text of ours (names from `quote`, `?` placeholders) as this driver reads a statement it parses
        for placeholders (see `for_driver`). Every statement holding a name is sent through here, with
        parameters (maybe none), so the driver always parses it — but COPY (see `_copy`)."""
        return for_driver(sql, self.engine.dialect.paramstyle, self._marks)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement of our SQL text; SQLAlchemy hands the driver parameters even when there are
        none (so psycopg parses it)."""
        return self.connection.exec_driver_sql(self._driver(sql), tuple(params))

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.connection.exec_driver_sql(self._driver(sql), [tuple(row) for row in rows])

    def _copy(self, cursor: Any, sql: str) -> Any:
        """psycopg's COPY of our SQL text: without parameters it is not parsed, so it goes as written."""
        return cursor.copy(sql)

    def close(self) -> None:
        if hasattr(self, "connection"):
            if self._pg_locked:
                pg_unlock(self.connection)
                self._pg_locked = False
            with contextlib.suppress(Exception):
                self.connection.close()
        if hasattr(self, "engine"):
            self.engine.dispose()
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _sqlite_read_only(path: str) -> tuple[str, dict[str, Any]]:
    """A dry run's view of a SQLite file: opened read-only (nothing can change it, not even its journal mode),
    or, when there is no file yet, an empty database in memory (so none is created)."""
    import sqlite3
    from urllib.parse import quote

    if not os.path.exists(path):
        return "sqlite://", {}
    uri = f"file:{quote(os.path.abspath(path))}?mode=ro"
    return "sqlite://", {"creator": lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)}


def _index_name(spec: TableSpec) -> str:
    return f"ix_{spec.name}_{spec.cursor}".lower()


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
    """DuckDB keeps names whole (no identifier limit): `quote_name` is its one quoting function."""

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        import duckdb

        path = duckdb_path(url)
        self.description = redact_url(url)
        self._secrets = url_secrets(url)
        self.read_only = read_only
        self._lock = None if read_only else FileLock(path, self.description)
        self._keyed: dict[str, bool] = {}  # table -> it has a unique key (made before bulk tables, or by sync)
        self._staged: dict[str, int] = {}  # bulk table -> rows staged since its last merge (a rollback may undo some)
        self._emptied = False  # a stage was emptied: checkpointed before the next transaction (see `transaction`)
        self._fresh = _FreshTables()  # bulk tables made now: appended to, no stage, until `flush` (see `_settle`)
        self._settings = duckdb_settings(url)  # the URL's own (`?memory_limit=2GB`) win over ours
        try:
            # A dry run: a missing file is not created (an empty database in memory stands for it); an existing
            # one is only read (opened as usual: DuckDB refuses a read-only connection beside a writing one in
            # the same process).
            self.db = duckdb.connect(":memory:" if read_only and not os.path.exists(path) else path)
            self.db.execute("SET TimeZone = 'UTC'")
            for name, value in self._settings.items():  # names and values checked by duckdb_settings
                self.db.execute(f"SET {name} = '{value}'")
            if not read_only:
                self.db.execute(f"SET checkpoint_threshold = '{DUCKDB_CHECKPOINT_WAL}'")
                self.db.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.quote(STATE_TABLE)} "
                    "(stream VARCHAR PRIMARY KEY, state VARCHAR, updated_at VARCHAR)"
                )
        except Exception as error:
            self.close()
            raise ConfigurationError(f"cannot open {self.description}: {self.error_text(error)}") from None

    def quote(self, name: str) -> str:
        """Every name in this target's SQL text goes through here."""
        return quote_name(name)

    def stored_name(self, name: str) -> str:
        return name

    def prepare(self, spec: TableSpec, *, recreate: bool) -> Prepared:
        table = self.quote(spec.name)
        found = self.db.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = current_schema()",
            [spec.name],
        ).fetchone()
        exists = bool(found and found[0])
        if exists and recreate:
            self.db.execute(f"DROP TABLE {table}")
            exists = False
        # Known before anything is written: a table made now has a key unless it is a bulk one.
        self._keyed[spec.name] = self._has_unique_key(spec) if exists else not spec.bulk
        if spec.bulk and not self.read_only:
            self._recover_stage(spec, merge=exists)
        added: list[str] = []
        if not exists:
            keys = ", ".join(self.quote(k) for k in spec.key)
            required = set(spec.key) if spec.bulk else set()  # as a primary key's columns are
            parts = [
                f"{self.quote(c.name)} {_DUCK_TYPES[c.type]}" + (" NOT NULL" if c.name in required else "")
                for c in spec.columns
            ]
            constraint = "" if spec.bulk else f", PRIMARY KEY ({keys})"
            self.db.execute(f"CREATE TABLE {table} ({', '.join(parts)}{constraint})")
            if spec.bulk and not self.read_only:
                self.db.execute(f"COMMENT ON TABLE {table} IS '{FRESH_COMMENT}'")
                self._fresh.add(spec.name)
        else:
            present = {
                r[0]
                for r in self.db.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "AND table_schema = current_schema()",
                    [spec.name],
                ).fetchall()
            }
            for column in spec.columns:
                if column.name not in present:
                    self.db.execute(
                        f"ALTER TABLE {table} ADD COLUMN {self.quote(column.name)} {_DUCK_TYPES[column.type]}"
                    )
                    added.append(column.name)
            if spec.bulk and not self.read_only and self._comment(spec.name) == FRESH_COMMENT:
                with self.transaction():  # a run killed before its stream ended
                    self._settle(spec)
        if spec.cursor:
            self.db.execute(
                f"CREATE INDEX IF NOT EXISTS {self.quote(_index_name(spec))} ON {table} ({self.quote(spec.cursor)})"
            )
        if not self.read_only:
            self._bound_memory()
        if spec.bulk and not self.read_only and not self._keyed[spec.name]:
            names = ", ".join(self.quote(c.name) for c in spec.columns)
            stage = self._stage(spec.name)
            self.db.execute(f"CREATE TABLE {stage} AS SELECT {names} FROM {table} LIMIT 0")
            for key in spec.key:  # a NULL key is refused when staged, as a primary key refuses it: never merged
                self.db.execute(f"ALTER TABLE {stage} ALTER COLUMN {self.quote(key)} SET NOT NULL")
            self._staged[spec.name] = 0
        return Prepared(not exists, added)

    def _bound_memory(self) -> None:
        """DuckDB caches what it writes up to 80 % of the machine's memory (a 24 M-row copy grew to 3.3 GB).
        While every table prepared is a bulk one, its cache is held to DUCKDB_MEMORY_LIMIT (data and the cursors'
        indexes are evicted, measured: 9.8 M indexed rows, 207 MB instead of 433, no slower). A unique key's index
        cannot be: DuckDB pins it to check the key, and commits fail under a limit it outgrows (measured), so a
        run writing a keyed table (made by an older version, or given a key by sync) keeps DuckDB's default.
        A limit the URL gives (`?memory_limit=`) is kept whatever the tables."""
        if "memory_limit" in self._settings:
            return
        if any(self._keyed.values()):
            self.db.execute("RESET memory_limit")
        else:
            self.db.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")

    def _has_unique_key(self, spec: TableSpec) -> bool:
        """A primary key (tables made before bulk ones, and sync's) or a unique index (sync adds one)."""
        here = "table_name = ? AND schema_name = current_schema()"
        found = self.db.execute(
            f"SELECT (SELECT count(*) FROM duckdb_constraints() WHERE {here} "
            "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')) "
            f"+ (SELECT count(*) FROM duckdb_indexes() WHERE {here} AND is_unique)",
            [spec.name, spec.name],
        ).fetchone()
        return bool(found and found[0])

    def _comment(self, table: str) -> str | None:
        found = self.db.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = ? AND schema_name = current_schema()", [table]
        ).fetchall()
        return found[0][0] if found else None

    def _settle(self, spec: TableSpec) -> UpsertCounts:
        """A bulk table made by this run takes its rows appended, not staged and merged: it was empty when its
        stream began, so there is nothing to merge with (medium copy, alternated: 21.4-21.9 s to 16.9-17.2 s).
        When the stream ends its keys are checked: should two rows have one key (a user exported by two
        windows), the later (by rowid) is kept, as an upsert would have kept it, and the counts returned correct
        what the appends counted (an upsert's counts: see SqlAlchemyTarget._pg_drop_duplicates). The comment that
        marked the table goes with it, so a run killed before this settles the table at its next `prepare`."""
        table = self.quote(spec.name)
        keys = ", ".join(self.quote(k) for k in spec.key)
        counts = UpsertCounts()
        found = self.db.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY {keys} HAVING count(*) > 1)"
        ).fetchall()
        if found[0][0]:
            changed = _changed_from_previous(
                [
                    self.quote(c.name) + ("::VARCHAR" if c.type is SqlType.JSON else "")
                    for c in spec.columns
                    if c.name not in spec.key
                ]
            )
            updated, unchanged = self.db.execute(
                f"SELECT count(*) FILTER (WHERE n > 1 AND changed), count(*) FILTER (WHERE n > 1 AND NOT changed) "
                f"FROM (SELECT row_number() OVER w AS n, ({changed}) AS changed FROM {table} "
                f"WINDOW w AS (PARTITION BY {keys} ORDER BY rowid))"
            ).fetchall()[0]
            self.db.execute(
                f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} "
                f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY rowid DESC) > 1)"
            )
            self._emptied = True  # rows deleted: checkpointed before more are written (see `transaction`)
            counts = _superseded(int(updated), int(unchanged))
        self.db.execute(f"COMMENT ON TABLE {table} IS NULL")
        return counts

    def _drop_empty_stages(self) -> None:
        """Stages are made by each run's `prepare`: empty ones go at the end (one that holds rows waits for the
        next run, which merges them)."""
        for name in list(self._staged):
            stage = self._stage(name)
            found = self.db.execute(f"SELECT count(*) FROM {stage}").fetchone()
            if found and not found[0]:
                self.db.execute(f"DROP TABLE {stage}")
        if self._staged:
            self.db.execute(f"DROP SCHEMA IF EXISTS {self.quote(STAGE_SCHEMA)}")  # refused while a stage holds rows
        self._staged.clear()

    def _stage(self, table: str) -> str:
        return f"{self.quote(STAGE_SCHEMA)}.{self.quote(table)}"

    def _recover_stage(self, spec: TableSpec, *, merge: bool) -> None:
        """Rows a killed run staged were committed with their checkpoints: they are merged now (`merge`), before
        the table evolves, or dropped with a table made anew; the stage is then made again from the table."""
        self.db.execute(f"CREATE SCHEMA IF NOT EXISTS {self.quote(STAGE_SCHEMA)}")
        stage = self._stage(spec.name)
        found = self.db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [STAGE_SCHEMA, spec.name],
        ).fetchall()
        if found and merge:
            staged = {r[0] for r in found}
            with self.transaction():
                self._merge_stage(replace(spec, columns=tuple(c for c in spec.columns if c.name in staged)))
        self.db.execute(f"DROP TABLE IF EXISTS {stage}")

    def _arrow(self, spec: TableSpec, rows: Sequence[Row]) -> Any:
        import pyarrow as pa  # type: ignore[import-untyped]

        arrays = {}
        for column in spec.columns:
            values = [row.get(column.name) for row in rows]
            if column.type is SqlType.INTEGER:
                arrays[column.name] = pa.array([_integer(v) for v in values], type=pa.int64())
            elif column.type is SqlType.REAL:
                arrays[column.name] = pa.array([_real(v) for v in values], type=pa.float64())
            elif column.type is SqlType.BOOLEAN:
                arrays[column.name] = pa.array([None if v is None else bool(v) for v in values], type=pa.bool_())
            elif column.type is SqlType.TIMESTAMP:
                moments = [timestamp_or_none(v) for v in values]
                arrays[column.name] = pa.array(moments, type=pa.timestamp("us", tz="UTC"))
            elif column.type is SqlType.JSON:
                arrays[column.name] = pa.array([json_text(v) for v in values], type=pa.string())
            else:
                arrays[column.name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
        return pa.table(arrays)

    def upsert(self, spec: TableSpec, rows: Sequence[Row] | Batch) -> UpsertCounts:
        """Dict rows become an Arrow table first; an Arrow batch is scanned by DuckDB as it is. A bulk table's
        batches are staged (see `_stage_batch`): their counts come with the merge."""
        if is_batch(rows) and spec.name in self._staged and spec.name not in self._fresh:
            return self._stage_batch(spec, rows)
        if is_batch(rows):
            from iterbridge.replicate.batches import conform, distinct

            table = distinct(conform(rows, spec.columns), spec.key)
        elif rows:
            table = self._arrow(spec, _distinct(rows, spec.key))
        else:
            return UpsertCounts()
        if not table.num_rows:
            return UpsertCounts()
        if spec.name in self._fresh:  # one row per key, appended: all new until `_settle` says otherwise
            self._insert(self.quote(spec.name), spec, table)
            return UpsertCounts(table.num_rows)
        earlier = self.flush(spec)  # rows staged before these are older: merged first
        self.db.register("_batch", table)
        try:
            return earlier + self._merge(spec, "_batch", table.num_rows, latest=False)
        finally:
            self.db.unregister("_batch")

    def _stage_batch(self, spec: TableSpec, batch: Batch) -> UpsertCounts:
        """A bulk table's batch waits in its stage (appended: no index, no join) until STAGE_ROWS are there or the
        stream ends (`flush`), then all are merged at once: a table's keys are scanned once per merge, not once
        per batch. The stage is a table, committed with the checkpoints: a killed run's rows are merged by the
        next run's `prepare`. Counts come with the merge (zero until then)."""
        from iterbridge.replicate.batches import conform

        table = conform(batch, spec.columns)
        self._insert(self._stage(spec.name), spec, table)
        self._staged[spec.name] += table.num_rows
        return self.flush(spec) if self._staged[spec.name] >= STAGE_ROWS else UpsertCounts()

    def _insert(self, into: str, spec: TableSpec, table: Any) -> None:
        """Append an Arrow table with `spec`'s columns to `into` (a quoted name), scanned by DuckDB as it is."""
        names = ", ".join(self.quote(c.name) for c in spec.columns)
        self.db.register("_batch", table)
        try:
            self.db.execute(f"INSERT INTO {into} ({names}) SELECT {names} FROM _batch")
        finally:
            self.db.unregister("_batch")

    def flush(self, spec: TableSpec) -> UpsertCounts:
        """Settle a fresh table (`_settle`); merge what waits in a bulk table's stage (the last row staged of each
        key wins), then empty it."""
        if spec.name in self._fresh:
            return self._fresh.settle(spec.name, lambda: self._settle(spec))
        return self._merge_stage(spec) if spec.name in self._staged else UpsertCounts()

    def _merge_stage(self, spec: TableSpec) -> UpsertCounts:
        stage = self._stage(spec.name)
        # fetchall: a result left unfinished makes DuckDB refuse the next `register` on this connection
        staged = int(self.db.execute(f"SELECT count(*) FROM {stage}").fetchall()[0][0])
        if not staged:  # counted in the database: a rolled-back merge left its rows staged, a rollback took others
            return UpsertCounts()
        counts = self._merge(spec, stage, staged, latest=True)
        self.db.execute(f"DELETE FROM {stage}")
        self._emptied = True
        if spec.name in self._staged:
            self._staged[spec.name] = 0
        return counts

    def _merge(self, spec: TableSpec, source: str, rows: int, *, latest: bool) -> UpsertCounts:
        """Write the rows of `source` (`rows` of them; one per key, or the last one of each key by rowid when
        `latest`) that are new or changed.

        A keyed table takes new keys through its primary key's index (INSERT OR IGNORE), and is joined with the
        batch only when some key was there already (a first copy never pays it); its changed rows are replaced
        (DuckDB refuses to UPDATE a row whose key its index saw in the same transaction). A bulk table has no
        index: new rows are those no row of the table matches (a hash join that scans the table's keys once),
        changed rows are updated in place."""
        table = self.quote(spec.name)
        names = ", ".join(self.quote(c.name) for c in spec.columns)
        keys = ", ".join(self.quote(k) for k in spec.key)
        on = " AND ".join(f"t.{self.quote(k)} = b.{self.quote(k)}" for k in spec.key)
        changes = " OR ".join(
            f"b.{self.quote(c.name)} IS DISTINCT FROM t.{self.quote(c.name)}"
            + ("::VARCHAR" if c.type is SqlType.JSON else "")
            for c in spec.columns
            if c.name not in spec.key
        )
        if latest:
            last = f"row_number() OVER (PARTITION BY {keys} ORDER BY rowid DESC) = 1"
            source = f"(SELECT {names} FROM {source} QUALIFY {last})"

        def count(sql: str) -> int:
            found = self.db.execute(sql).fetchone()
            return int(found[0]) if found else 0

        if self._keyed.get(spec.name, True):
            inserted = count(f"INSERT OR IGNORE INTO {table} ({names}) SELECT {names} FROM {source}")
            if inserted == rows or not changes:
                return UpsertCounts(inserted, 0, rows - inserted)
            selected = ", ".join(f"b.{self.quote(c.name)}" for c in spec.columns)
            updated = count(
                f"INSERT OR REPLACE INTO {table} ({names}) SELECT {selected} FROM {source} b "
                f"JOIN {table} t ON {on} WHERE {changes}"
            )
            return UpsertCounts(inserted, updated, rows - inserted - updated)
        inserted = count(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {source} b "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {on})"
        )
        if inserted == rows or not changes:
            return UpsertCounts(inserted, 0, rows - inserted)
        sets = ", ".join(f"{self.quote(n)} = b.{self.quote(n)}" for n in spec.column_names() if n not in spec.key)
        updated = count(f"UPDATE {table} AS t SET {sets} FROM {source} AS b WHERE {on} AND ({changes})")
        return UpsertCounts(inserted, updated, rows - inserted - updated)

    def keys(self, spec: TableSpec) -> Iterator[tuple[Any, ...]]:
        names = ", ".join(self.quote(k) for k in spec.key)
        yield from (tuple(r) for r in self.db.execute(f"SELECT {names} FROM {self.quote(spec.name)}").fetchall())

    def start_sweep(self, spec: TableSpec) -> None:
        types = {c.name: _DUCK_TYPES[c.type] for c in spec.columns}
        columns = ", ".join(f"{self.quote(k)} {types[k]}" for k in spec.key)
        seen = self.quote(seen_table(spec))
        self.db.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {seen} ({columns})")
        self.db.execute(f"DELETE FROM {seen}")

    def mark_seen(self, spec: TableSpec, keys: Sequence[tuple[Any, ...]]) -> None:
        if not keys:
            return
        import pyarrow as pa

        types = {c.name: c.type for c in spec.columns}
        arrays = {}
        for position, name in enumerate(spec.key):
            values = [key[position] for key in keys]
            if types[name] is SqlType.INTEGER:
                arrays[name] = pa.array(values, type=pa.int64())
            else:
                arrays[name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
        self.db.register("_keys", pa.table(arrays))
        try:
            self.db.execute(f"INSERT INTO {self.quote(seen_table(spec))} SELECT * FROM _keys")
        finally:
            self.db.unregister("_keys")

    def sweep(self, spec: TableSpec, keep: dict[str, list[Any]] | None = None) -> int:
        table = self.quote(spec.name)
        seen = self.quote(seen_table(spec))
        match = " AND ".join(f"s.{self.quote(k)} = {table}.{self.quote(k)}" for k in spec.key)
        condition = f"NOT EXISTS (SELECT 1 FROM {seen} s WHERE {match})"
        parameters: list[Any] = []
        for column, values in (keep or {}).items():
            if values:
                condition += f" AND {self.quote(column)} NOT IN ({', '.join('?' for _ in values)})"
                parameters += list(values)
        found = self.db.execute(f"DELETE FROM {table} WHERE {condition}", parameters).fetchone()
        self.db.execute(f"DELETE FROM {seen}")
        return int(found[0]) if found else 0

    def cursors(self, spec: TableSpec) -> dict[tuple[Any, ...], datetime | None]:
        if not spec.cursor:
            return {}
        names = ", ".join(self.quote(k) for k in spec.key)
        # Epoch microseconds: fetching TIMESTAMPTZ as Python objects would need pytz.
        rows = self.db.execute(
            f"SELECT {names}, epoch_us({self.quote(spec.cursor)}) FROM {self.quote(spec.name)}"
        ).fetchall()
        return {
            tuple(row[:-1]): None if row[-1] is None else datetime.fromtimestamp(row[-1] / 1_000_000, UTC)
            for row in rows
        }

    def count(self, spec: TableSpec) -> int:
        found = self.db.execute(f"SELECT count(*) FROM {self.quote(spec.name)}").fetchone()
        return int(found[0]) if found else 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One explicit transaction. DuckDB checks constraints at COMMIT: a COMMIT that fails leaves the
        transaction open, so it is rolled back too.

        After a merge emptied a stage, a CHECKPOINT comes first, before anything more is staged (its error, if
        any, is this transaction's, which has written nothing yet). Without it, large copies whose batches end
        at each export window (24 M rows) corrupted DuckDB 2.0.0's storage, 8 runs of 9: "Corrupted
        uncompressed string segment" at a checkpoint, or a segmentation fault in a merge; with it the same run
        completed (docs/ARCHITECTURE.md, "A stage a merge emptied is checkpointed", and why a narrower guard is
        not proven)."""
        if self._emptied:
            self._emptied = False
            self.db.execute("CHECKPOINT")
        with self._fresh.transaction():
            self.db.execute("BEGIN TRANSACTION")
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):  # already ended by the failure, or the connection is gone
                    self.db.execute("ROLLBACK")
                raise

    def read_state(self) -> dict[str, dict[str, Any]]:
        here = "table_schema = current_schema()"
        found = self.db.execute(
            f"SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND {here}", [STATE_TABLE]
        ).fetchone()
        if self.read_only and not (found and found[0]):
            return {}  # a dry run on a database no run has written yet
        rows = self.db.execute(f"SELECT stream, state FROM {self.quote(STATE_TABLE)}").fetchall()
        return {stream: json.loads(state) for stream, state in rows}

    def write_state(self, stream: str, state: dict[str, Any]) -> None:
        self.db.execute(
            f"INSERT OR REPLACE INTO {self.quote(STATE_TABLE)} VALUES (?, ?, ?)",
            [stream, state_row(state), iso_text(datetime.now(UTC))],
        )

    def clear_state(self, streams: Sequence[str]) -> None:
        for stream in streams:
            self.db.execute(f"DELETE FROM {self.quote(STATE_TABLE)} WHERE stream = ?", [stream])

    def error_text(self, error: BaseException) -> str:
        return one_line(error, self._secrets)

    def close(self) -> None:
        if hasattr(self, "db"):
            with contextlib.suppress(Exception):
                self._drop_empty_stages()
            with contextlib.suppress(Exception):
                self.db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def default_url() -> str:
    return f"sqlite:///{Path('iterable.db')}"
