"""Every catalog object as an apsw virtual table (an eponymous module per object).

SQLite does the SQL; the table pushes to the API what it can answer: = and IN on the object's filter
columns (an IN arrives as one set — one batched read, not one per value), ranges on them, LIMIT only when no
other constraint and no ORDER BY exists (a LIMIT the API applies before SQLite orders returns the wrong
rows), and only the columns used. Nothing pushed is omitted:
SQLite re-checks every row, so pushdown can only narrow what is fetched, never change the answer. A value
whose SQL comparison the API could not reproduce exactly (a NULL for IS, a non-canonical timestamp, text
under a non-binary collation) is not pushed: that constraint is left to SQLite alone.

Within one statement, a scan repeated with the same request (the inner side of a join) is served from
the rows of the first one (up to `SCAN_CACHE_ROWS`), so a join costs the calls of each side once.

Writes are buffered per transaction and sent in `Sync` (errors abort the commit) and dropped in `Rollback`;
`UpdateInsertRow` returns an int even for WITHOUT ROWID tables, whose changes arrive by primary key.
A row's rowid is derived from its key, so the same row has the same rowid in every scan: SQLite's multi-index
OR (one scan per OR branch, merged by rowid) then neither duplicates nor loses rows. During a write the keys
behind the rowids are remembered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import apsw
import orjson

from iterbridge.api.timestamps import sql_text
from iterbridge.errors import MissingRequiredFilter, QueryError, WriteRefused
from iterbridge.objects.base import (
    Column,
    Condition,
    ObjectDef,
    Operation,
    ReadRequest,
    Row,
    RowStatus,
    SqlType,
    WriteReport,
    from_sql,
)
from iterbridge.sqlnames import quote_name

if TYPE_CHECKING:
    from iterbridge.query.engine import Engine

_OPS = {
    apsw.SQLITE_INDEX_CONSTRAINT_EQ: "=",
    apsw.SQLITE_INDEX_CONSTRAINT_IS: "is",
    apsw.SQLITE_INDEX_CONSTRAINT_GT: ">",
    apsw.SQLITE_INDEX_CONSTRAINT_GE: ">=",
    apsw.SQLITE_INDEX_CONSTRAINT_LT: "<",
    apsw.SQLITE_INDEX_CONSTRAINT_LE: "<=",
}
_LIMIT = apsw.SQLITE_INDEX_CONSTRAINT_LIMIT
_OFFSET = apsw.SQLITE_INDEX_CONSTRAINT_OFFSET
_UNREACHABLE_COST = 1e30
# colUsed reports every column from 63 on as column 63 (SQLite's 64-bit mask).
_LAST_MASK_COLUMN = 63
# Timestamps SQLite compares as text exactly as the API compares instants: 'YYYY-MM-DD[ HH[:MM[:SS[.fff]]]]'.
_CANONICAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}(?: \d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?$")
_NUMERIC_TEXT = re.compile(r"^\s*[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?\s*$")
SCAN_CACHE_ROWS = 10_000  # rows kept per statement for repeated scans (a bound on the memory they take)


class _Verdict:
    """What a pushed value means for the API request."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEVER = _Verdict("NEVER")  # no row can satisfy the comparison: nothing to fetch
UNPUSHABLE = _Verdict("UNPUSHABLE")  # the API cannot answer it exactly: SQLite alone filters


def pushable_value(column: Column, op: str, value: Any) -> Any:
    """A constraint value as the API should get it, or NEVER / UNPUSHABLE (SQLite's comparison rules)."""
    if value is None:
        return UNPUSHABLE if op == "is" else NEVER  # x IS NULL keeps NULLs; x = NULL, x < NULL keep nothing
    if isinstance(value, bytes):
        return UNPUSHABLE
    kind = column.type
    if kind is SqlType.TIMESTAMP:
        return value if isinstance(value, str) and _CANONICAL_TIME.match(value) else UNPUSHABLE
    if kind in (SqlType.INTEGER, SqlType.REAL):
        number: Any = value
        if isinstance(value, str):
            if not _NUMERIC_TEXT.match(value):
                return UNPUSHABLE
            number = float(value) if any(c in value for c in ".eE") else int(value)
        if kind is SqlType.INTEGER and isinstance(number, float):
            if op in ("=", "is"):
                return int(number) if number.is_integer() else NEVER
            return UNPUSHABLE
        return number
    if kind is SqlType.TEXT:
        if isinstance(value, str):
            return value
        return str(value) if isinstance(value, int) else UNPUSHABLE
    return UNPUSHABLE


_DECLARED = {
    SqlType.TEXT: "TEXT",
    SqlType.INTEGER: "INTEGER",
    SqlType.REAL: "REAL",
    SqlType.BOOLEAN: "BOOLEAN",
    SqlType.TIMESTAMP: "TIMESTAMP",
    SqlType.JSON: "JSON",
}


_DECLARED_TYPES = {text: kind for kind, text in _DECLARED.items()}


def declared_type(declared: str | None) -> SqlType | None:
    """The catalog type of a result column from its declared type (None for an expression: SQLite gives none)."""
    return None if declared is None else _DECLARED_TYPES.get(declared.upper())


def to_sql(value: Any) -> Any:
    """A row value → what SQLite stores: timestamps as 'YYYY-MM-DD HH:MM:SS' text, JSON as text, bool as 0/1."""
    if value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool)):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return sql_text(value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


class ObjectModule:
    """The module behind one object's eponymous table."""

    def __init__(self, engine: Engine, obj: ObjectDef) -> None:
        self.engine = engine
        self.obj = obj

    def Connect(self, db: apsw.Connection, modname: str, dbname: str, tablename: str, *args: str) -> tuple[str, Any]:
        table = ObjectTable(self.engine, self.obj)
        return table.schema(), table


@dataclass
class Plan:
    """What BestIndex chose: the pushed constraints in argv order, the columns used, a pushed LIMIT."""

    object: str
    constraints: list[tuple[str, str]] = field(default_factory=list)
    used: list[int] = field(default_factory=list)
    limit: bool = False

    def encode(self) -> str:
        data = {"o": self.object, "c": self.constraints, "u": self.used, "l": self.limit}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(str(data["o"]), [(str(c[0]), str(c[1])) for c in data["c"]], list(data["u"]), bool(data["l"]))


class ObjectTable:
    def __init__(self, engine: Engine, obj: ObjectDef) -> None:
        self.engine = engine
        self.obj = obj
        self.columns = engine.connection.columns(obj)
        self.names = [c.name for c in self.columns]
        self.pushable = set(obj.filters)
        self.key_positions = [i for i, c in enumerate(self.columns) if c.key]
        self.key_names = [self.names[i] for i in self.key_positions]
        update = obj.writes.get(Operation.UPDATE)
        # Columns an update request must carry even when not assigned (Templates' MessageMedium).
        self._update_needs = {name for group in update.required for name in group} if update else set()
        self._keys_by_rowid: dict[int, dict[str, Any]] = {}
        self._next_rowid = 1 << 62  # keyless rows: far from where key hashes cluster by chance
        self.writing = False
        self._inserts: list[Row] = []
        self._updates: list[Row] = []
        self._deletes: list[Row] = []

    def schema(self) -> str:
        parts = [f"{quote_name(c.name)} {_DECLARED[c.type]}" for c in self.columns]
        return f"CREATE TABLE x({', '.join(parts)})"

    # ---- planning ----------------------------------------------------------------------------------------

    def BestIndexObject(self, info: apsw.IndexInfo) -> bool:
        used = set(info.colUsed)
        if _LAST_MASK_COLUMN in used:
            used.update(range(_LAST_MASK_COLUMN, len(self.columns)))
        plan = Plan(self.obj.name, used=sorted(i for i in used if 0 <= i < len(self.columns)))
        argv = 1
        pushed_equalities: set[str] = set()
        other_constraints = False
        limit_index: int | None = None
        required_seen = False
        for i in range(info.nConstraint):
            op = info.get_aConstraint_op(i)
            column = info.get_aConstraint_iColumn(i)
            name = self.names[column] if 0 <= column < len(self.names) else None
            if op in (_LIMIT, _OFFSET):
                if op == _LIMIT and info.get_aConstraint_usable(i):
                    limit_index = i
                else:
                    other_constraints = True
                continue
            other_constraints = True
            if name in self.obj.required_filters and op in (
                apsw.SQLITE_INDEX_CONSTRAINT_EQ,
                apsw.SQLITE_INDEX_CONSTRAINT_IS,
            ):
                required_seen = True
            if not info.get_aConstraint_usable(i) or name is None or name not in self.pushable or op not in _OPS:
                continue
            symbol = _OPS[op]
            kind = self.columns[column].type
            if symbol not in ("=", "is") and kind not in (SqlType.TIMESTAMP, SqlType.INTEGER, SqlType.REAL):
                continue
            if kind is SqlType.TEXT and info.get_aConstraint_collation(i).upper() != "BINARY":
                continue  # the API compares exactly; NOCASE/RTRIM comparisons are SQLite's
            if symbol == "=" and info.get_aConstraintUsage_in(i) and not self.engine.statement.sets_from_queries:
                # The whole list at once (one batched read). Not when the values come from a subquery: apsw
                # cannot hand over an empty set (it fails with a message-less "<NULL>" error before Filter),
                # so SQLite gives them one at a time, and an empty subquery reads nothing.
                info.set_aConstraintUsage_in(i, True)
                symbol = "in"
            info.set_aConstraintUsage_argvIndex(i, argv)
            argv += 1
            plan.constraints.append((name, symbol))
            if symbol in ("=", "in", "is"):
                pushed_equalities.add(name)
        if limit_index is not None and not other_constraints and info.nOrderBy == 0:
            info.set_aConstraintUsage_argvIndex(limit_index, argv)
            plan.limit = True
        if self.obj.required_filters:
            if not required_seen:
                raise MissingRequiredFilter(self.obj.name, self.obj.required_filters)
            if not pushed_equalities & set(self.obj.required_filters):
                info.estimatedCost = _UNREACHABLE_COST
                info.idxStr = plan.encode()
                return True
        rows = float(self.obj.row_estimate)
        for _ in pushed_equalities:
            rows = max(1.0, rows / 1000)
        info.estimatedRows = int(rows)
        info.estimatedCost = rows * 10
        info.idxStr = plan.encode()
        return True

    def Open(self) -> ObjectCursor:
        return ObjectCursor(self)

    def Disconnect(self) -> None:
        pass

    Destroy = Disconnect

    # ---- reading -----------------------------------------------------------------------------------------

    def scan(self, plan: Plan, args: tuple[Any, ...]) -> Iterator[Row]:
        key = (plan.encode(), _freeze(args))
        cached = None if self.writing else self.engine.cached_scan(self.obj.name, key)
        if cached is not None:
            return iter(cached)
        request = self.request(plan, args)
        if request is None:  # a pushed comparison no row can satisfy
            return iter(())
        rows: Iterator[Row] = self.engine.scan(self.obj, request)
        return rows if self.writing else self._caching(key, rows)

    def request(self, plan: Plan, args: tuple[Any, ...]) -> ReadRequest | None:
        """The API request for a plan and its values; None when no row can match."""
        where: dict[str, list[Condition]] = {}
        by_name = {c.name: c for c in self.columns}
        for (name, symbol), value in zip(plan.constraints, args, strict=False):
            column = by_name[name]
            if symbol == "in":
                values = [pushable_value(column, "=", v) for v in value]
                if any(v is UNPUSHABLE for v in values):
                    continue
                kept = sorted({v for v in values if v is not NEVER}, key=repr)
                if not kept:
                    return None
                where.setdefault(name, []).append(Condition("in", kept))
                continue
            pushed = pushable_value(column, symbol, value)
            if pushed is NEVER:
                return None
            if pushed is UNPUSHABLE:
                continue
            where.setdefault(name, []).append(Condition("=" if symbol == "is" else symbol, pushed))
        limit: int | None = None
        if plan.limit and len(args) > len(plan.constraints):
            try:
                limit = int(args[len(plan.constraints)])
            except (TypeError, ValueError):
                limit = None
            if limit is not None and limit < 0:
                limit = None  # LIMIT -1: no limit
            elif limit == 0:
                return None
        # Keys always: they make the rowids (and, during a write, identify the rows to change).
        columns = list(dict.fromkeys([*(self.names[i] for i in plan.used), *self.key_names]))
        return ReadRequest(columns, where, limit)

    def _caching(self, key: tuple[str, Any], rows: Iterator[Row]) -> Iterator[Row]:
        """Give the rows through, keeping them for a repeat of the same scan if it ends and is small."""
        kept: list[Row] = []
        keep = kept.append
        try:
            for row in rows:
                keep(row)
                yield row
                if len(kept) >= SCAN_CACHE_ROWS:
                    del kept[:]  # too many to keep: the rest goes straight through
                    yield from rows
                    return
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()
        self.engine.cache_scan(self.obj.name, key, kept)

    def remember(self, row: Row) -> int:
        """The row's rowid: a hash of its key (stable across scans), or a fresh number for a keyless row."""
        key = tuple(row.get(name) for name in self.key_names)
        if key and None not in key:
            rowid = hash(key)
        else:
            rowid = self._next_rowid
            self._next_rowid += 1
        if self.writing:
            self._keys_by_rowid[rowid] = dict(zip(self.key_names, key, strict=True))
        return rowid

    # ---- writing -----------------------------------------------------------------------------------------

    def Begin(self) -> None:
        self.writing = True

    def UpdateInsertRow(self, rowid: int | None, fields: tuple[Any, ...]) -> int:
        row = {c.name: from_sql(v, c.type) for c, v in zip(self.columns, fields, strict=True) if v is not None}
        refused = [c.name for c in self.columns if c.read_only and not c.import_only and c.name in row]
        if refused:
            writable = [c.name for c in self.columns if not c.read_only or c.import_only]
            raise QueryError(
                f"{self.obj.name}.{refused[0]} is read-only and cannot be inserted; "
                f"insertable columns: {', '.join(writable)}"
            )
        self._inserts.append(row)
        return self.remember(row)

    def UpdateDeleteRow(self, rowid: int) -> None:
        self._deletes.append(dict(self._keys_by_rowid[rowid]))

    def UpdateChangeRow(self, rowid: int, newrowid: int, fields: tuple[Any, ...]) -> None:
        keys = self._keys_by_rowid[rowid]
        assigned = self.engine.assigned_columns(self.obj.name)
        row: Row = dict(keys)
        for column, value in zip(self.columns, fields, strict=True):
            if column.key and column.name in keys and value != to_sql(keys[column.name]):
                raise QueryError(f"{self.obj.name}.{column.name} is a key and cannot be changed")
            if column.name in assigned or column.name in self._update_needs:
                row[column.name] = from_sql(value, column.type)
        self._updates.append(row)

    def Sync(self) -> None:
        """Send the transaction's writes; a refused row fails the commit with Iterable's reasons."""
        writes = (
            (Operation.DELETE, self._deletes),
            (Operation.UPDATE, self._updates),
            (Operation.INSERT, self._inserts),
        )
        for operation, rows in writes:
            if not rows:
                continue
            report = self.engine.write(operation, self.obj.name, rows)
            self.engine.forget_scans()
            if report.failed:
                refused_here = all(r.status is RowStatus.INVALID for r in report.failed)
                raise (QueryError if refused_here else WriteRefused)(_failure_text(report))
        self._clear()

    def Commit(self) -> None:
        self._clear()

    def Rollback(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self._inserts, self._updates, self._deletes = [], [], []
        self._keys_by_rowid.clear()
        self.writing = False


def _freeze(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Filter arguments as a cache key (an IN set becomes a sorted tuple)."""
    return tuple(
        ("in", tuple(sorted(a, key=lambda v: (type(v).__name__, repr(v))))) if isinstance(a, (set, frozenset)) else a
        for a in args
    )


def _failure_text(report: WriteReport) -> str:
    failures = report.failed
    shown = "; ".join(f"row {r.index + 1}: {r.error}" for r in failures[:5])
    more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
    done = report.succeeded
    return (
        f"{report.object} {report.operation}: {len(failures)} of {len(report.results)} rows refused, "
        f"{done} written — {shown}{more}"
    )


class ObjectCursor:
    """One scan. Values are converted only when SQLite asks for them (Column), rowids only when it needs
    them (Rowid: multi-index OR, writes): an aggregate over one column converts just that column."""

    def __init__(self, table: ObjectTable) -> None:
        self.table = table
        self.names = table.names
        self.rows: Iterator[Row] = iter(())
        self.row: Row = {}
        self.rowid: int | None = None
        self.done = True

    def Filter(self, index_number: int, index_string: str, args: tuple[Any, ...]) -> None:
        self.Close()  # a nested loop filters the same cursor again: end the previous read first
        self.rows = self.table.scan(Plan.decode(index_string), args)
        self.Next()

    def Next(self) -> None:
        self.rowid = None
        row = next(self.rows, None)
        if row is None:
            self.row = {}
            self.done = True
        else:
            self.row = row
            self.done = False

    def Eof(self) -> bool:
        return self.done

    def Column(self, number: int) -> Any:
        if number < 0:
            return self.Rowid()
        value = self.row.get(self.names[number])
        kind = type(value)
        if kind is str or kind is int or kind is float or value is None:
            return value
        return to_sql(value)

    def Rowid(self) -> int:
        if self.rowid is None:
            self.rowid = self.table.remember(self.row)
        return self.rowid

    def Close(self) -> None:
        close = getattr(self.rows, "close", None)
        if close is not None:
            close()
        self.rows = iter(())
