"""Arrow batches as each target stores them, without a Python object per cell where the driver allows.

Replication hands the exported tables (Events per type, Users: the bulk of every run) to the targets as Arrow
batches typed from the catalog (objects/arrow.py). What a target stores from a batch is exactly what it stores
from the same rows as dicts (targets.py's converters); only the way there differs:

- `conform`: a batch with a table's columns, in order, typed as objects/arrow.py types them (a column the batch
  lacks is NULL, as a dict row without it);
- `distinct`: one row per key, the last read winning, at the place of the key's first row (`_distinct`'s rule
  for dict rows, with a group-by instead of a dict);
- `sqlite_write`: the rows written by stepping the upsert statement in C, each value bound from the columns'
  Arrow buffers as the SQLite target stores it (`sqlite_array`: timestamps cast to SQLAlchemy's text, booleans as
  integers); `sqlite_columns`, the same values as Python lists for one `executemany` over their `zip`, where the
  C extension is not built;
- `pg_binary`: the rows as the body of a binary COPY (PostgreSQL's own format: no text to parse on the server, no
  Python object per cell), written from the columns' Arrow buffers by the C extension (`_eventscan.pg_copy_rows`,
  GIL released), or built by Arrow compute and numpy where it is not built. Measured against psycopg's
  `write_row` over column lists and pyarrow's CSV writer into a `FORMAT csv` COPY: see the commit that added it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from iterbridge.objects import scanner
from iterbridge.objects.arrow import ARROW_TYPES, arrow_buffers, schema
from iterbridge.objects.base import Column, SqlType

_POSITION = "__iterbridge_position"  # a column of our own while rows are told apart by key


@contextlib.contextmanager
def system_memory() -> Iterator[None]:
    """Arrow allocates from the C library's allocator meanwhile (the process's default pool is given back after).
    pyarrow's default, mimalloc, keeps what the batches freed: measured at small scale, a replication's peak RSS
    was 55-70 MB higher with it than with dict rows, and the same with malloc."""
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


# The cyclic garbage collector's thresholds while a replication runs (Python's: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 20)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector runs less often meanwhile (its thresholds are given back after). A
    replication makes dicts by the hundred thousand (users, their list memberships) that live on in batches, so
    with Python's thresholds the collector ran every 700 of them and scanned them again and again, finding no
    cycle: 1.4 s of CPU in a medium PostgreSQL copy (py-spy). Medium copy, alternated, three runs each:
    PostgreSQL 16.8-17.7 s to 15.5-16.4 s, client CPU 8.9-9.0 s to 7.7-8.1 s, peak RSS the same."""
    previous = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def as_table(batch: Any) -> Any:
    """A RecordBatch, a Table or a list of either as one Table."""
    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, pa.RecordBatch):
        return pa.Table.from_batches([batch])
    return pa.concat_tables([as_table(b) for b in batch])


def conform(batch: Any, columns: Sequence[Column]) -> Any:
    """The batch with exactly these columns, in this order, each of its catalog type."""
    table = as_table(batch)
    arrays = []
    for column in columns:
        kind = ARROW_TYPES[column.type]
        if column.name not in table.column_names:
            arrays.append(pa.nulls(table.num_rows, kind))
            continue
        found = table.column(column.name)
        arrays.append(found if found.type == kind else found.cast(kind))
    return pa.Table.from_arrays(arrays, schema=schema(columns))


def distinct(table: Any, key: Sequence[str]) -> Any:
    """One row per key, the last one read winning, placed where the key's first row was (PostgreSQL and DuckDB
    refuse to upsert a key twice in one statement; identical events hash to one Id)."""
    rows = table.num_rows
    if rows < 2:
        return table
    if pc.count_distinct(_one_key(table, key), mode="all").as_py() == rows:
        return table  # the usual case, told without a group-by (one for ListUsers' memberships took 30 MB)
    positions = pa.array(np.arange(rows, dtype=np.int64))
    keys = pa.Table.from_arrays([table.column(k) for k in key] + [positions], names=[*key, _POSITION])
    groups = keys.group_by(list(key), use_threads=False).aggregate([(_POSITION, "min"), (_POSITION, "max")])
    if groups.num_rows == rows:
        return table
    first = groups.column(f"{_POSITION}_min")
    last = groups.column(f"{_POSITION}_max")
    return table.take(pc.take(last, pc.sort_indices(first)))


def _one_key(table: Any, key: Sequence[str]) -> Any:
    """The key as one column: itself, or its columns' texts joined. Two keys that join to one text (a separator
    in a value, NULLs) only send `distinct` to its group-by: distinct texts are distinct keys."""
    if len(key) == 1:
        return table.column(key[0])
    texts = [pc.cast(table.column(k), pa.string()) for k in key]
    return pc.binary_join_element_wise(*texts, "\x1f")


def key_tuples(table: Any, key: Sequence[str]) -> list[tuple[Any, ...]]:
    """The rows' keys as tuples (the sweep's seen keys, as dict rows give them)."""
    return list(zip(*(table.column(k).to_pylist() for k in key), strict=True))


# ---- SQLite ---------------------------------------------------------------------------------------------


def sqlite_array(values: Any, kind: SqlType) -> Any:
    """A column as the SQLite target stores it, still an Arrow array: `sqlite_timestamp`'s text, `_boolean_int`'s
    integers, JSON as its text (objects/arrow.py holds it so), everything else as it is."""
    if kind is SqlType.TIMESTAMP:
        return sqlite_timestamps(values)
    if kind is SqlType.BOOLEAN:
        return pc.cast(values, pa.int64())
    return values


def sqlite_write(connection: Any, statement: str, table: Any, columns: Sequence[Column]) -> int | None:
    """Run `statement` (one `?` per column) for every row of a conformed table on a sqlite3 connection, in its open
    transaction, binding each value from the columns' Arrow buffers in C (`_eventscan.sqlite_write`, GIL
    released): no Python object per value, no GIL taken back per row. The rows changed, as executemany's
    rowcount; None where the C extension, or SQLite's library, cannot be reached (then: executemany)."""
    if scanner.scanner is None or not _sqlite_library():
        return None
    if not connection.in_transaction:
        connection.execute("BEGIN")  # what pysqlite does before an executemany of its own
    changed = 0
    for batch in table.to_batches():
        given = []
        for column in columns:
            values = sqlite_array(batch.column(column.name), column.type)  # text, integers or reals
            stored = _SQLITE_STORED.get(column.type, SqlType.TEXT)
            given.append(arrow_buffers(values, stored))
        changed += scanner.scanner.sqlite_write(connection, statement, given, batch.num_rows)
    return changed


# How `sqlite_array` holds each catalog type, as the C writer binds it.
_SQLITE_STORED = {SqlType.INTEGER: SqlType.INTEGER, SqlType.BOOLEAN: SqlType.INTEGER, SqlType.REAL: SqlType.REAL}


@functools.cache
def _sqlite_library() -> bool:
    """Whether `sqlite_write` can bind: the C extension, given the library Python's own _sqlite3 module uses (never
    another copy of SQLite: the connection's handle is that library's)."""
    if scanner.scanner is None:
        return False
    import _sqlite3
    import sqlite3

    path = getattr(_sqlite3, "__file__", None)  # None: SQLite built into the interpreter
    if not path:
        return False
    found = scanner.scanner.sqlite_bind_library(
        path, sqlite3.Connection, sqlite3.IntegrityError, sqlite3.OperationalError
    )
    return bool(found)


def sqlite_column(values: Any, kind: SqlType) -> list[Any]:
    """A column's values as the SQLite target stores them (`sqlite_array`), as Python values."""
    found: list[Any] = sqlite_array(values, kind).to_pylist()
    return found


def sqlite_timestamps(values: Any) -> Any:
    """`targets.sqlite_timestamp`'s text for a timestamp column: its UTC clock in microseconds without the zone,
    cast to text ("YYYY-MM-DD HH:MM:SS.ffffff", whatever the unit). ~8× faster than strftime, which took 1 µs a
    cell (the largest part of a medium SQLite copy's conversions) and wrote no fraction for seconds."""
    return values.cast(pa.timestamp("us"), safe=False).cast(pa.string())


def sqlite_columns(table: Any, columns: Sequence[Column]) -> list[list[Any]]:
    return [sqlite_column(table.column(c.name), c.type) for c in columns]


# ---- PostgreSQL binary COPY -----------------------------------------------------------------------------

# The type (its OID) whose binary format `pg_binary` writes for each catalog type: text, int8, float8, bool,
# timestamptz, jsonb.
PG_TYPES = {
    SqlType.TEXT: 25,
    SqlType.INTEGER: 20,
    SqlType.REAL: 701,
    SqlType.BOOLEAN: 16,
    SqlType.TIMESTAMP: 1184,
    SqlType.JSON: 3802,
}
PG_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # the signature, no flags, no header extension
PG_TRAILER = b"\xff\xff"
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC, PostgreSQL's zero, in Unix microseconds
_NULL = b"\xff\xff\xff\xff"  # a field's length of -1
_JSONB_VERSION = b"\x01"


def _fixed(raw: np.ndarray[Any, Any], width: int) -> Any:
    """Big-endian values of `width` bytes each as a binary array."""
    buffer = pa.py_buffer(np.ascontiguousarray(raw).tobytes())
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(raw), [None, buffer]).cast(pa.binary())


def _pg_field(values: Any, kind: SqlType) -> Any:
    """Every row's field of one column: its length (4 bytes, big-endian; -1 for NULL) and its bytes in
    PostgreSQL's binary format of the stage table's type."""
    if kind in (SqlType.TEXT, SqlType.JSON):
        steps = _PG_JSON_STEPS if kind is SqlType.JSON else _PG_TEXT_STEPS
        for pattern, replacement in steps:
            values = pc.replace_substring(values, pattern, replacement)
        payload = values.cast(pa.binary())
        if kind is SqlType.JSON:
            payload = pc.binary_join_element_wise(pa.scalar(_JSONB_VERSION), payload, b"")
        lengths = pc.fill_null(pc.binary_length(payload), 0).to_numpy().astype(">i4")
        field = pc.binary_join_element_wise(_fixed(lengths, 4), payload, b"")
    else:
        if kind is SqlType.BOOLEAN:
            raw, width = pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype("u1"), 1
        elif kind is SqlType.REAL:
            raw, width = pc.fill_null(values, 0.0).to_numpy().astype(">f8"), 8
        elif kind is SqlType.TIMESTAMP:
            micros = pc.fill_null(values.cast(pa.int64()), 0).to_numpy()
            raw, width = (micros - _PG_EPOCH_US).astype(">i8"), 8
        else:
            raw, width = pc.fill_null(values, 0).to_numpy().astype(">i8"), 8
        length = pa.scalar(np.array([width], dtype=">i4").tobytes())
        field = pc.binary_join_element_wise(length, _fixed(raw, width), b"")
    return pc.if_else(pc.is_valid(values), field, pa.scalar(_NULL)) if values.null_count else field


# What PostgreSQL cannot hold, taken out as the dict rows' converters do: NUL in text (`_no_nul`), the escaped
# NUL in JSON text with escaped backslashes set aside meanwhile (`_pg_json`).
_PG_TEXT_STEPS = (("\x00", ""),)
_PG_JSON_STEPS = (("\\\\", "\x00"), ("\\u0000", ""), ("\x00", "\\\\"))


def pg_binary(table: Any, columns: Sequence[Column]) -> Iterator[memoryview]:
    """The rows of a conformed table as the tuples of a binary COPY (without the signature and trailer), a few
    megabytes at a time: written by the C extension from the columns' buffers (medium emailSend, 344 k rows:
    0.11 s against 0.30 s by Arrow compute), by Arrow compute where it is not built."""
    if not table.num_rows:
        return
    count = pa.scalar(np.array([len(columns)], dtype=">i2").tobytes())
    for batch in table.to_batches(max_chunksize=20_000):
        if scanner.scanner is not None:
            given = [arrow_buffers(batch.column(c.name), c.type) for c in columns]
            yield memoryview(scanner.scanner.pg_copy_rows(given, batch.num_rows))
            continue
        fields = [_pg_field(batch.column(c.name), c.type) for c in columns]
        rows = pc.binary_join_element_wise(count, *fields, b"")
        offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=len(rows) + 1, offset=rows.offset * 4)
        yield memoryview(rows.buffers()[2])[int(offsets[0]) : int(offsets[-1])]
