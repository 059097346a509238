"""What an object declaration is made of: columns, filters, a read strategy, write operations.

The SQL engine, CSV transfer, replication and sync all work from these declarations; an object module
declares, the strategies in `reading.py` and `writing.py` do the work.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson

from iterbridge.api.timestamps import parse_timestamp
from iterbridge.objects.facts import (
    FULL_SWEPT,
    ONE_REQUEST,
    Costing,
    Derivation,
    Replication,
    SkippedPart,
    TableSplit,
)

if TYPE_CHECKING:
    from iterbridge.api.async_export import AsyncExportStats
    from iterbridge.api.exports import ExportStats
    from iterbridge.objects.session import Session


class SqlType(StrEnum):
    TEXT = "TEXT"
    INTEGER = "INTEGER"
    REAL = "REAL"
    BOOLEAN = "BOOLEAN"
    TIMESTAMP = "TIMESTAMP"
    JSON = "JSON"


class Operation(StrEnum):
    """A write: what the catalog declares per object and what the jobs ask for (the text is what the user
    writes and reads). `upsert` is the import's: the write that creates or replaces by key, which is an insert
    or an update depending on the object."""

    INSERT = "insert"
    UPDATE = "update"
    UPSERT = "upsert"
    DELETE = "delete"

    @classmethod
    def named(cls, text: str) -> Operation | None:
        """The operation a text names (as a user writes it), or None: the caller says what it expected."""
        try:
            return cls(text)
        except ValueError:
            return None


_MISSING = object()


@dataclass(frozen=True)
class Column:
    """A column: its PascalCase name, SQL type, where its value comes from, and how it may be written.

    `source` is a dotted path into the API record ("metadata.name"); None for columns with no read source
    (import-only ones, which always read NULL).
    """

    name: str
    type: SqlType
    source: str | None = None
    key: bool = False
    read_only: bool = False
    import_only: bool = False
    description: str = ""
    # Read with one more request per record (Templates' extended columns): made only when the column is selected,
    # never under Suppress Extended Requests (then NULL).
    extended_request: bool = False

    def writable(self, operation: Operation) -> bool:
        """Whether a write of this kind takes the column: keys name the row an update changes (or a delete
        removes), and a delete also finds users by Email or UserId."""
        if operation is Operation.DELETE:
            return self.key or self.name in ("Email", "UserId")
        return not self.read_only or (self.key and operation is Operation.UPDATE)

    @functools.cached_property
    def path(self) -> tuple[str, ...]:
        """The dotted source split once, not once per cell read; () for columns that read NULL."""
        return () if self.source is None or self.import_only else tuple(self.source.split("."))

    def read(self, record: dict[str, Any]) -> Any:
        path = self.path
        if len(path) == 1:  # the usual column: one call, no walk
            value = record.get(path[0])
            return None if value is None else convert(value, self.type)
        value = self.raw(record)
        return None if value is None else convert(value, self.type)

    def raw(self, record: dict[str, Any]) -> Any:
        """The record's value at the column's source, not yet converted (Arrow batches convert whole columns)."""
        path = self.path
        if not path:
            return None
        if len(path) == 1:
            return record.get(path[0])
        value: Any = record
        for part in path:
            if not isinstance(value, dict):
                return None
            value = value.get(part, _MISSING)
            if value is _MISSING:
                # A flattened export key ("itblInternal.emailDomain") is one part, not two.
                return record.get(self.source or "")
        return value


def json_text(value: Any) -> str | None:
    """JSON as stored: compact, keys sorted (the same value always gives the same text, so unchanged rows
    compare equal)."""
    if value is None:
        return None
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):  # integers beyond 64 bits, odd types: the slow, lenient way
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def json_as_sent(value: Any) -> str:
    """JSON text with the keys in the order Iterable sent them, compact, non-ASCII kept (what a CSV export
    writes: a file keeps Iterable's order; a stored copy sorts them, json_text)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, keys that are not text
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def parsed_json(text: str | bytes) -> Any:
    """JSON text as values (orjson; the standard parser for what it refuses, such as NaN or huge integers);
    text that is not JSON stays as it is."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text


def from_sql(value: Any, sql_type: SqlType) -> Any:
    """A value from SQL → the catalog's Python form (JSON text becomes objects, 0/1 booleans; timestamps stay
    text, which every writer parses)."""
    if value is None:
        return None
    if sql_type is SqlType.JSON and isinstance(value, (str, bytes)):
        return parsed_json(value)
    if sql_type is SqlType.BOOLEAN and isinstance(value, (int, float)):
        return bool(value)
    return value


# An INTEGER column's range: every target stores it in 64 bits (a value beyond is no such integer: NULL).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def convert(value: Any, sql_type: SqlType) -> Any:
    """An API value → the column's Python type (datetime for timestamps; dict/list kept for JSON); a value the
    type cannot hold (not a number, an integer beyond 64 bits, an epoch beyond year 9999) is None."""
    if value is None:
        return None
    try:
        if sql_type is SqlType.TIMESTAMP:
            return parse_timestamp(value)
        if sql_type is SqlType.INTEGER:
            if isinstance(value, (list, dict)):
                return None
            number = int(value)
            return number if INT64_MIN <= number <= INT64_MAX else None
        if sql_type is SqlType.REAL:
            return float(value)
        if sql_type is SqlType.BOOLEAN:
            if isinstance(value, str):
                return value.strip().lower() in ("true", "1", "yes")
            return bool(value)
        if sql_type is SqlType.TEXT:
            return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError, OverflowError):  # OverflowError: an epoch beyond year 9999
        return None
    return value


@dataclass(frozen=True)
class Condition:
    """One pushed or local condition on a column: =, in, <, <=, >, >=."""

    op: str
    value: Any

    def predicate(self) -> Callable[[Any], bool]:
        """`matches` as a function for many rows, with a shortcut for the usual checks of a read (text equal
        to text, an aware datetime against an aware datetime) that gives what `matches` gives."""
        op, wanted, matches = self.op, self.value, self.matches
        if op == "=" and type(wanted) is str:
            return lambda actual: actual == wanted if type(actual) is str else matches(actual)
        compare = _ORDER.get(op)
        if compare is not None and type(wanted) is datetime and wanted.tzinfo is not None:

            def check(actual: Any) -> bool:
                if type(actual) is datetime and actual.tzinfo is not None:
                    return bool(compare(actual, wanted))
                return matches(actual)

            return check
        return matches

    def matches(self, actual: Any) -> bool:
        op, wanted = self.op, self.value
        if op == "in":
            return any(_equal(actual, v) for v in wanted)
        if actual is None:
            return False
        if op == "=":
            return _equal(actual, wanted)
        compare = _ORDER.get(op)
        if compare is None:
            raise ValueError(f"unknown operator {op!r}")
        if type(actual) is type(wanted):  # the usual case: compared as they are
            try:
                return bool(compare(actual, wanted))
            except TypeError:
                pass  # e.g. a naive datetime against an aware one: made comparable below
        left, right = _comparable(actual, wanted)
        if left is None or right is None:
            return False
        try:
            return bool(compare(left, right))
        except TypeError:  # values that have no order between them (text and a number): no match
            return False


_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _comparable(actual: Any, wanted: Any) -> tuple[Any, Any]:
    if isinstance(actual, datetime):
        try:
            return actual, parse_timestamp(wanted)  # text, epoch, or a naive datetime (taken as UTC)
        except ValueError:
            return None, None
    if isinstance(actual, (int, float)) and isinstance(wanted, str):
        try:
            return actual, float(wanted)
        except ValueError:
            return None, None
    return actual, wanted


def _distinct(values: list[Any]) -> list[Any]:
    """Values without repeats, in their order (`IN (1, 1)` asks once)."""
    kept: list[Any] = []
    for value in values:
        if not any(type(value) is type(seen) and value == seen for seen in kept):
            kept.append(value)
    return kept


def _equal(actual: Any, wanted: Any) -> bool:
    if actual is None or wanted is None:  # as in SQL, NULL equals nothing, not even NULL
        return False
    if type(actual) is type(wanted) and not (type(actual) is datetime and wanted.tzinfo is None):
        return bool(actual == wanted)
    if isinstance(actual, datetime):  # text, epoch or a naive datetime (taken as UTC)
        try:
            return actual == parse_timestamp(wanted)
        except ValueError:
            return False
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return bool(actual) == bool(wanted) and actual is not None and wanted is not None
    if isinstance(actual, (int, float)) and isinstance(wanted, str):
        try:
            return actual == float(wanted)
        except ValueError:
            return False
    if isinstance(actual, str) and isinstance(wanted, (int, float)):
        return actual == str(wanted)
    return bool(actual == wanted)


@dataclass(frozen=True)
class ReadHints:
    """What a caller tells the readers besides the rows it wants (replication's bookkeeping); each optional."""

    # "auto", "sync" (data.json) or "async" (export jobs) for readers that use the export API: the session's
    # `export_method` otherwise.
    export: str | None = None
    # The export readers' statistics are appended here (replication reports how each table was read).
    export_stats: list[ExportStats | AsyncExportStats] | None = None
    # Called after each completed export window (replication commits there).
    on_checkpoint: Callable[[datetime], None] | None = None
    # (Id, UpdatedAt as listed) → True when the caller's copy holds that version: Templates' extended fields
    # are then not read again.
    current: Callable[[Any, Any], bool] | None = None
    # Arrow batches' JSON columns: keys sorted (the stored text, json_text), or as Iterable sent them
    # (json_as_sent: what a CSV export writes).
    sort_json_keys: bool = True


@dataclass
class ReadRequest:
    """What a reader is asked for: columns, the conditions per column, a row limit (None: all)."""

    columns: list[str]
    where: dict[str, list[Condition]] = field(default_factory=dict)
    limit: int | None = None
    hints: ReadHints = field(default_factory=ReadHints)

    def values(self, column: str) -> list[Any] | None:
        """The values a column must equal (from = or IN), or None when unconstrained that way."""
        found: list[Any] | None = None
        for condition in self.where.get(column, []):
            values = (
                list(condition.value) if condition.op == "in" else [condition.value] if condition.op == "=" else None
            )
            if values is None:
                continue
            found = values if found is None else [v for v in found if any(_equal(v, w) for w in values)]
        return None if found is None else _distinct(found)

    def bounds(self, column: str) -> tuple[datetime | None, datetime | None]:
        """[lower, upper) of a timestamp column from its range conditions (inclusive lower, exclusive upper,
        widened to whole seconds so no boundary row is lost; the exact test happens locally)."""
        lower: datetime | None = None
        upper: datetime | None = None
        for condition in self.where.get(column, []):
            if condition.op not in (">", ">=", "<", "<=", "="):
                continue
            try:
                moment = parse_timestamp(condition.value)
            except ValueError:
                continue
            if moment is None:
                continue
            if condition.op in (">", ">=", "="):
                floor = moment.replace(microsecond=0)
                lower = floor if lower is None else max(lower, floor)
            if condition.op in ("<", "<=", "="):
                from datetime import timedelta

                ceiling = moment.replace(microsecond=0) + timedelta(seconds=1)
                upper = ceiling if upper is None else min(upper, ceiling)
        return lower, upper

    def wants(self, column: str) -> bool:
        return column in self.columns


Row = dict[str, Any]
Reader = Callable[["Session", "ObjectDef", ReadRequest], Iterator[Row]]
DEFAULT_BATCH_ROWS = 8_192  # ~30 MB of peak memory per batch of events (measured); larger gains no speed
# (session, object, request, rows per batch) → pyarrow RecordBatches of every column of `session.columns(obj)`,
# in order: the columnar read of an object that has one (objects/arrow.py builds the others' from rows).
BatchReader = Callable[["Session", "ObjectDef", ReadRequest, int], Iterator[Any]]


class RowStatus(StrEnum):
    """What became of one written row. Decisions read this, never the reason's text (which is for people)."""

    ACCEPTED = "accepted"  # Iterable took it
    REJECTED = "rejected"  # Iterable refused it (its answer names the row, or the request was refused)
    INVALID = "invalid"  # refused before any request: a missing or bad value — the input's fault
    FAILED = "failed"  # its request failed for want of Iterable (still erroring after retries): not processed
    NOT_SENT = "not sent"  # never sent: the API failed on an earlier request
    UNKNOWN = "unknown"  # its request failed after it was sent: Iterable may have processed it


@dataclass(frozen=True)
class RowResult:
    """The outcome of one written row: its position in the input, its status, the reason (for people), new
    keys."""

    index: int
    status: RowStatus
    error: str | None = None
    keys: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is RowStatus.ACCEPTED


@dataclass
class WriteReport:
    operation: Operation
    object: str
    results: list[RowResult] = field(default_factory=list)
    api_calls: int = 0

    @property
    def succeeded(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def failed(self) -> list[RowResult]:
        return [r for r in self.results if not r.ok]


Writer = Callable[["Session", "ObjectDef", Sequence[Row]], list[RowResult]]


@dataclass(frozen=True)
class Write:
    """A write operation: the columns every row needs (`required`, each entry a group of which one must
    be present) and the function that sends a batch of valid rows."""

    send: Writer
    required: tuple[tuple[str, ...], ...] = ()
    description: str = ""


@dataclass(frozen=True)
class ObjectDef:
    name: str
    description: str
    columns: tuple[Column, ...]
    reader: Reader
    batch_reader: BatchReader | None = None  # Arrow batches without a dict per row; None: built from the rows
    # `read` makes its dicts from the batches (conditions checked by Arrow, dicts made in C) where the C scanner
    # is built: for an object whose dict rows are made from the same batches anyway (Events)
    dicts_from_batches: bool = False
    filters: tuple[str, ...] = ()  # columns whose = / IN (or ranges, for cursors) the reader pushes to the API
    required_filters: tuple[str, ...] = ()  # at least one of these must be constrained by = / IN
    writes: dict[Operation, Write] = field(default_factory=dict)
    cursor: str | None = None
    dynamic_columns: Callable[[Session], tuple[Column, ...]] | None = None
    # What the jobs know of the object, declared here and never keyed by its name elsewhere (objects/facts.py):
    upsert: Operation | None = None  # the write that creates or replaces by key (import's "upsert"); None: no such key
    open_fields: str | None = None  # the JSON column that takes fields the object has no column for (custom fields)
    row_estimate: int = 1_000  # rough size for SQLite's planner: objects read through exports are costly
    cost: Costing = ONE_REQUEST  # how a read is made given its pushdown, and how many calls (EXPLAIN)
    exported: bool = False  # read through the export API unless filtered per user: windows from a cursor bound
    replication: Replication = FULL_SWEPT
    split: TableSplit | None = None  # replicated as one table per value of a column
    skipped_part: SkippedPart | None = None  # the rows a skipped slice covers: a sweep keeps them and runs
    derived: Derivation | None = None  # rows another object's complete read carries (replication reads fewer)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.key)

    def column(self, name: str) -> Column | None:
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)


def rows_from(records: Iterator[dict[str, Any]], columns: Sequence[Column]) -> Iterator[Row]:
    for record in records:
        yield {column.name: column.read(record) for column in columns}
