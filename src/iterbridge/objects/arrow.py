"""Arrow batches typed from the catalog: the schema of a read (known before the first byte), batches built
from dict rows (the fallback of objects without a columnar reader: correct, not fast), the local re-check
of a read's conditions as Arrow compute filters, and batches back to dict rows.

The mapping, one Arrow type per SqlType (README, "Arrow batches"):
TEXT → string, INTEGER → int64, REAL → float64, BOOLEAN → bool, TIMESTAMP → timestamp[us, UTC] (microseconds:
every moment a dict row can hold, losslessly), JSON → string holding the JSON text (compact, keys sorted:
`json_text`, the text replication stores).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from iterbridge.objects import scanner
from iterbridge.objects.base import Column, Condition, Row, SqlType, convert, json_as_sent, json_text, parsed_json

if TYPE_CHECKING:
    from iterbridge.objects.facts import Derivation

TIMESTAMP = pa.timestamp("us", tz="UTC")
_WALL_SECONDS = pa.timestamp("s")  # a UTC moment cast to text without its zone: "YYYY-MM-DD HH:MM:SS"
EXPORT_FORMAT = "%Y-%m-%d %H:%M:%S %z"  # every export record's timestamps: "2026-05-05 04:22:12 +00:00"
ARROW_TYPES: dict[SqlType, Any] = {
    SqlType.TEXT: pa.string(),
    SqlType.INTEGER: pa.int64(),
    SqlType.REAL: pa.float64(),
    SqlType.BOOLEAN: pa.bool_(),
    SqlType.TIMESTAMP: TIMESTAMP,
    SqlType.JSON: pa.string(),
}


def owned_buffer(data: bytes) -> Any:
    """A copy of the bytes in a buffer Arrow allocated (aligned and padded as Arrow allocates). Arrays over the
    bytes objects themselves (`pa.py_buffer`, no copy) passed Arrow's full validation, yet a large DuckDB copy
    (24 M rows) made from them failed: "Corrupted uncompressed string segment: dictionary is outside the
    segment", then a segmentation fault in a merge, twice in two runs; the same copy over Arrow's own buffers
    completed. One memcpy per buffer (~5 MB a batch)."""
    buffer = pa.allocate_buffer(len(data))
    memoryview(buffer).cast("B")[:] = data
    return buffer


def schema(columns: Sequence[Column]) -> Any:
    """The Arrow schema of rows with these columns, in this order."""
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in columns])


def array(values: list[Any], sql_type: SqlType, *, sort_keys: bool = True) -> Any:
    """A column's dict-row values as its Arrow array. A value the type cannot hold as it is (a text id in an
    INTEGER column) goes through the catalog's own conversion, as a target would store it. JSON: the text with
    the keys sorted, json_text, as every target stores it (a text value is a JSON string); or, `sort_keys=False`,
    as a CSV export writes the cell: a text value as it is, anything else as Iterable sent it (json_as_sent)."""
    if sql_type is SqlType.JSON:
        if sort_keys:
            return pa.array([None if v is None else json_text(v) for v in values], type=pa.string())
        return pa.array([v if v is None or type(v) is str else json_as_sent(v) for v in values], type=pa.string())
    kind = ARROW_TYPES[sql_type]
    if sql_type is SqlType.TIMESTAMP and any(type(v) is str for v in values):
        parsed = export_timestamps(values)
        if parsed is not None:
            return parsed
    if sql_type is SqlType.TIMESTAMP and not all(v is None or isinstance(v, datetime) for v in values):
        # Arrow reads a number as microseconds; the catalog as epoch seconds or milliseconds (from_epoch)
        return pa.array([convert(v, sql_type) for v in values], type=kind)
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([convert(v, sql_type) for v in values], type=kind)


def export_timestamps(texts: list[Any], *, checked: bool = False) -> Any:
    """Texts of the exports' form ("2026-05-05 04:22:12 +00:00") or None, parsed by one kernel, or None when
    any value is of another form (then each is parsed as a dict row parses it). `checked`: the caller has
    seen every text is of that form."""
    if not checked and not all(
        v is None or (type(v) is str and len(v) == 26 and v[10] == " " and v.endswith(" +00:00")) for v in texts
    ):
        return None
    given = pa.array(texts, type=pa.string())
    try:
        parsed = pc.strptime(given, format=EXPORT_FORMAT, unit="us").cast(TIMESTAMP)
    except pa.ArrowInvalid:  # no real date (a 13th month): the catalog's conversion says what it becomes
        return None
    # strptime rolls what is past the end over (February 30 becomes March 2, 23:59:60 the next day) where
    # Python refuses it: a text whose moment is not written back as it was is no real date either
    written = parsed.cast(_WALL_SECONDS).cast(pa.string())
    if not pc.all(pc.equal(pc.utf8_slice_codeunits(given, 0, 19), written)).as_py():
        return None
    return parsed


def batch_from_rows(rows: Sequence[Row], columns: Sequence[Column], *, sort_keys: bool = True) -> Any:
    return pa.RecordBatch.from_arrays(
        [array([row.get(c.name) for row in rows], c.type, sort_keys=sort_keys) for c in columns],
        schema=schema(columns),
    )


def batches_from_rows(
    rows: Iterable[Row], columns: Sequence[Column], batch_rows: int, *, sort_keys: bool = True
) -> Iterator[Any]:
    """Dict rows cut into batches of at most `batch_rows` (flat memory: one batch of rows held at a time)."""
    pending: list[Row] = []
    for row in rows:
        pending.append(row)
        if len(pending) >= batch_rows:
            yield batch_from_rows(pending, columns, sort_keys=sort_keys)
            pending = []
    if pending:
        yield batch_from_rows(pending, columns, sort_keys=sort_keys)


def values(column: Any, sql_type: SqlType) -> list[Any]:
    """An Arrow column's values as a dict row holds them (JSON text parsed back into objects)."""
    found = column.to_pylist()
    if sql_type is SqlType.JSON:
        return [None if v is None else parsed_json(v) for v in found]
    if sql_type is SqlType.TIMESTAMP:  # in UTC as datetime.timezone.utc, as every reader gives it (not a ZoneInfo)
        return [None if v is None else v.astimezone(UTC) for v in found]
    return list(found)


def rows(table: Any, types: dict[str, SqlType]) -> Iterator[Row]:
    """A table's (or batch's) rows as dicts, typed as `conn.read` types them: made one at a time by the C
    extension from the columns' buffers (`arrow_dicts`) where it is built and every column has its catalog type,
    else from `to_pylist`."""
    names = tuple(table.schema.names)
    typed = scanner.scanner is not None and all(field.type == ARROW_TYPES[types[field.name]] for field in table.schema)
    if not typed:
        columns = [values(table.column(name), types[name]) for name in names]
        for cells in zip(*columns, strict=True):
            yield dict(zip(names, cells, strict=True))
        return
    assert scanner.scanner is not None
    batches = table.to_batches() if isinstance(table, pa.Table) else [table]
    for batch in batches:
        given = tuple(arrow_buffers(batch.column(name), types[name]) for name in names)
        yield from scanner.scanner.arrow_dicts(names, given, batch.num_rows, parsed_json)


C_KINDS = {  # the C extension's kinds of column (_eventscan.c: KIND_TEXT …)
    SqlType.TEXT: 0,
    SqlType.JSON: 1,
    SqlType.INTEGER: 2,
    SqlType.REAL: 3,
    SqlType.BOOLEAN: 4,
    SqlType.TIMESTAMP: 5,
}


def arrow_buffers(values: Any, kind: SqlType) -> tuple[int, Any, Any, Any, int]:
    """A column of its catalog type as the C extension takes it (`pg_copy_rows`, `sqlite_write`, `arrow_dicts`):
    kind, validity, offsets, data, offset."""
    buffers = values.buffers()
    validity = buffers[0] if values.null_count else None
    data = buffers[-1] if buffers[-1] is not None else b""  # a column of NULLs only may have none
    offsets = buffers[1] if kind in (SqlType.TEXT, SqlType.JSON) else None
    return C_KINDS[kind], validity, offsets, data, values.offset


def derivation_input(batch: Any, derivation: Derivation, types: dict[str, SqlType]) -> Iterator[Row]:
    """A batch of a derivation's source as the dicts `Derivation.rows` takes: of only the columns it reads."""
    return rows(batch.select(list(derivation.reads or batch.schema.names)), types)


def keep(batch: Any, conditions: dict[str, list[Condition]], types: dict[str, SqlType]) -> Any:
    """The rows of a batch that meet every condition, with `Condition.predicate`'s semantics: a compute kernel
    where the value's type is the column's (the usual case), the predicate over the column's values otherwise.
    A batch whose every row meets them is given as it is (what the export's own window mostly sends), not
    copied by a filter."""
    mask = None
    for name, found in conditions.items():
        for condition in found:
            hit = _mask(batch.column(name), types[name], condition)
            mask = hit if mask is None else pc.and_(mask, hit)
    return batch if mask is None or mask.true_count == batch.num_rows else batch.filter(mask)


_KERNELS = {"=": pc.equal, "<": pc.less, "<=": pc.less_equal, ">": pc.greater, ">=": pc.greater_equal}


def _native(value: Any, sql_type: SqlType) -> bool:
    """Whether a condition's value compares in Arrow exactly as `Condition.matches` compares it in Python."""
    kind = type(value)
    if sql_type is SqlType.TEXT:
        return kind is str
    if sql_type is SqlType.INTEGER:
        return kind is int
    if sql_type is SqlType.TIMESTAMP:
        return kind is datetime and value.tzinfo is not None
    return False


def _mask(column: Any, sql_type: SqlType, condition: Condition) -> Any:
    op, wanted = condition.op, condition.value
    if op == "in" and wanted and all(_native(v, sql_type) for v in wanted):
        return pc.fill_null(pc.is_in(column, value_set=pa.array(wanted, type=column.type)), False)
    if op in _KERNELS and _native(wanted, sql_type):
        return pc.fill_null(_KERNELS[op](column, pa.scalar(wanted, type=column.type)), False)
    check = condition.predicate()
    return pa.array([check(v) for v in values(column, sql_type)], type=pa.bool_())
