"""Exporting objects (or query results) to CSV: streamed, header from the catalog, written atomically.

A file is written under a temporary name beside the target and renamed only once complete, so an
interrupted export never leaves a truncated file that looks finished (`transfer.output` opens every output:
a FIFO or a device is streamed into, never replaced).
"""

from __future__ import annotations

import codecs
import csv
import io
import operator
import queue
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from iterbridge.api.timestamps import parse_timestamp
from iterbridge.errors import QueryError, TransferError
from iterbridge.objects.base import Column, ObjectDef, SqlType, from_sql
from iterbridge.query.sqltext import select_where
from iterbridge.transfer.ahead import read_ahead
from iterbridge.transfer.csvformat import CsvOptions, flatten
from iterbridge.transfer.output import output_text
from iterbridge.transfer.where import simple_where

if TYPE_CHECKING:
    from iterbridge.connection import Connection

Progress = Callable[[int], None]
PROGRESS_ROWS = 100  # rows between progress calls: fresh counts for slow reads, nothing measurable for fast ones


@dataclass(frozen=True)
class ExportResult:
    destination: str
    columns: list[str]
    rows: int


@dataclass(frozen=True)
class Selection:
    """What an export of an object reads: its name, the header, each column's type, and how --where is answered
    (`conditions` for a condition the read takes as it is, `sql` for one only the SQL engine can answer)."""

    name: str
    header: list[str]
    types: dict[str, SqlType]
    conditions: dict[str, Any] | None = None
    sql: str | None = None


def selection(conn: Connection, obj: str, columns: list[str] | None, where: str | None) -> Selection:
    definition = conn.object(obj)
    available = conn.columns(definition)
    header = (
        [conn.session.column_name(definition, available, c) for c in columns]
        if columns
        else [c.name for c in available]
    )
    types = {c.name: c.type for c in available}
    if where is None:
        return Selection(definition.name, header, types)
    conditions = simple_where(where)
    if conditions is not None and all(_known(conn, definition, available, name) for name in conditions):
        # Pushed down like SQL would, but the values come straight from the reader (milliseconds kept).
        return Selection(definition.name, header, types, conditions=conditions)
    return Selection(definition.name, header, types, sql=select_where(definition.name, header, where, "--where"))


def source_rows(
    conn: Connection,
    obj: str | None,
    *,
    columns: list[str] | None = None,
    where: str | None = None,
    query: str | None = None,
) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """(header, rows) of an object, an object filtered by a SQL condition, or a query."""
    if query is not None:
        cursor = conn.sql(query, read_only=True)  # an export only reads, whatever the query says
        header = list(cursor.columns)
        # A column of an object keeps its type (booleans true/false, dates in --date-format, JSON as JSON).
        kinds = {name: kind for name, kind in zip(header, cursor.types, strict=False) if kind is not None}
        if not kinds:
            return header, (dict(zip(header, row, strict=False)) for row in cursor)
        return header, (typed(dict(zip(header, row, strict=False)), kinds) for row in cursor)
    if obj is None:
        raise QueryError("export needs an OBJECT or --query")
    return object_rows(conn, selection(conn, obj, columns, where))


def object_rows(conn: Connection, chosen: Selection) -> tuple[list[str], Iterator[dict[str, Any]]]:
    header = chosen.header
    if chosen.sql is None:
        return header, conn.read(chosen.name, where=chosen.conditions, columns=header)
    cursor = conn.sql(chosen.sql, read_only=True)
    return header, (typed(dict(zip(header, row, strict=False)), chosen.types) for row in cursor)


def _known(conn: Connection, definition: ObjectDef, available: tuple[Column, ...], name: str) -> bool:
    """A column the fast path can test exactly as SQL would (JSON is compared as text in SQL: left to it)."""
    try:
        canonical = conn.session.column_name(definition, available, name)
    except QueryError:
        return False  # SQL says what is wrong with it
    return next(c.type for c in available if c.name == canonical) is not SqlType.JSON


def typed(row: dict[str, Any], types: dict[str, SqlType]) -> dict[str, Any]:
    """SQL text back to values, so dates and JSON follow the CSV options like a plain export's."""
    for name, value in row.items():
        kind = types.get(name)
        if kind is SqlType.TIMESTAMP:
            row[name] = parse_timestamp(value)
        elif kind is not None:
            row[name] = from_sql(value, kind)
    return row


def write_csv(
    header: list[str],
    rows: Iterable[dict[str, Any]],
    path: Path | None,
    options: CsvOptions,
    progress: Progress | None = None,
) -> int:
    """Stream rows into a CSV file (atomically) or stdout; with `flatten`, nested objects become dotted
    columns, found in a first pass over a spool on disk so memory stays flat."""
    if options.flatten:
        header, rows = _flattened(header, rows, options)
    count = 0
    with output_text(path, encoding=options.python_encoding) as handle:
        writer = options.writer(handle)
        if options.header:
            _write(writer, header, header, 0, options)
        fmt = options.formatter()
        null = options.null
        write = writer.writerow
        values = operator.itemgetter(*header) if len(header) > 1 else None
        for row in rows:
            try:
                # Text is its own cell and NULL the null text: only the other values pay for a call.
                cells = (
                    [v if type(v) is str else null if v is None else fmt(v) for v in values(row)]
                    if values
                    else [fmt(row.get(header[0]))]
                )
            except KeyError:  # a row without some column (a flattened key it lacks): NULL there
                cells = [fmt(row.get(name)) for name in header]
            try:
                write(cells)
            except (UnicodeEncodeError, csv.Error):
                _write(writer, cells, header, count + 1, options)  # raises the error a person can act on
            count += 1
            if progress is not None and count % PROGRESS_ROWS == 0:
                progress(count)
    if progress is not None:
        progress(count)
    return count


def _write(writer: Any, cells: list[Any], header: list[str], number: int, options: CsvOptions) -> None:
    """Write one record; a cell the encoding or the quoting cannot hold is named in a TransferError."""
    try:
        writer.writerow(cells)
        return
    except UnicodeEncodeError:
        pass
    except csv.Error as error:
        where = "the header" if number == 0 else f"row {number:,}"
        raise TransferError(f"{where} cannot be written with --quoting {options.quoting}: {error}") from None
    where = "the header" if number == 0 else f"row {number:,}"
    for name, cell in zip(header, cells, strict=False):
        text = cell if isinstance(cell, str) else str(cell)
        try:
            text.encode(options.python_encoding)
        except UnicodeEncodeError as error:
            character = text[error.start]
            raise TransferError(
                f"{where}, column {name}: {character!r} cannot be written in {options.encoding}; "
                "choose another --encoding (e.g. utf-8)"
            ) from None
    raise TransferError(f"{where} cannot be written in {options.encoding}; choose another --encoding (e.g. utf-8)")


def _flattened(
    header: list[str], rows: Iterable[dict[str, Any]], options: CsvOptions
) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Every row flattened into a spool on disk, and the header of every dotted key any row has: a column's
    nested keys in the order first seen, in the column's place; the column itself too when some row has a
    value there that is not an object."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - read back by the generator below
    try:
        plain: set[str] = set()
        nested: dict[str, dict[str, None]] = {name: {} for name in header}
        fmt = options.formatter()
        for row in rows:
            flat: dict[str, Any] = {}
            for name in header:
                value = row.get(name)
                if isinstance(value, dict) and value:
                    keys = nested[name]
                    for key, inner in flatten(value).items():
                        dotted = f"{name}.{key}"
                        if dotted not in keys:
                            keys[dotted] = None
                        flat[dotted] = fmt(inner)
                else:
                    if value is not None:
                        plain.add(name)
                    flat[name] = fmt(value)
            spool.write(orjson.dumps(flat) + b"\n")
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    columns: list[str] = []
    for name in header:
        if name in plain or not nested[name]:
            columns.append(name)
        columns.extend(nested[name])

    def replay() -> Iterator[dict[str, Any]]:
        with spool:
            for line in spool:
                yield orjson.loads(line)

    return columns, replay()


_SCRATCHES = 3  # an export's batch texts at once: one written, one made, one waiting between them


def write_batches(
    header: list[str],
    types: list[SqlType],
    batches: Iterable[Any],
    path: Path | None,
    options: CsvOptions,
    progress: Progress | None = None,
) -> int:
    """Stream Arrow batches into a CSV file (atomically) or stdout, a batch at a time: the bytes write_csv writes
    for the same rows, each column formatted by Arrow kernels (transfer/cells.py), each batch written by one call
    (--quoting minimal: its text, written by the C extension or joined by kernels, made in the reading thread
    while the batch before is written; the other modes: the csv module's C writer)."""
    from iterbridge.transfer.cells import text_cells, value_cells  # pyarrow: not at the CLI's start-up

    count = 0
    minimal = options.quoting == "minimal"
    with output_text(path, encoding=options.python_encoding) as handle:
        if options.header:
            _write(options.writer(handle), header, header, 0, options)
        raw = options.writer(handle, raw=True)  # the cells come guarded already
        # UTF-8 text goes to the file's bytes as it is (no decoding and encoding again), after what the text
        # handle holds; a UTF-8 BOM is the text handle's to write, at its first write.
        handle.flush()
        utf8 = getattr(handle, "buffer", None) if codecs.lookup(options.python_encoding).name == "utf-8" else None

        # --quoting minimal: each batch's text is made ahead, in the reading thread, into one of a few bytearrays
        # the writing gives back (their pages reused batch after batch); the writing overlaps the next batch's
        scratches: queue.Queue[bytearray] = queue.Queue()
        for _ in range(_SCRATCHES):
            scratches.put(bytearray())

        def formatted(batches: Iterable[Any]) -> Iterator[tuple[Any, list[Any] | None, bytearray | None]]:
            for batch in batches:
                if not minimal:
                    yield batch, None, None
                    continue
                scratch = scratches.get()
                yield batch, text_cells(batch, types, options, scratch), scratch

        try:
            for batch, chunks, scratch in read_ahead(formatted(batches)):
                try:
                    if chunks is not None and scratch is not None:
                        for chunk in chunks:
                            with chunk:  # released at once: the scratch may be grown for a later batch
                                if utf8 is not None:
                                    utf8.write(chunk)
                                else:
                                    handle.write(bytes(chunk).decode("utf-8"))
                        scratches.put(scratch)
                    else:
                        raw.writerows(zip(*value_cells(batch, types, options), strict=True))
                except (UnicodeEncodeError, csv.Error):
                    _diagnose(batch, types, header, count, options)
                    raise
                count += batch.num_rows
                if progress is not None:
                    progress(count)
        finally:  # a reading thread waiting for a scratch when the writing stopped is let go
            for _ in range(_SCRATCHES):
                scratches.put(bytearray())
    if progress is not None:
        progress(count)
    return count


def _diagnose(batch: Any, types: list[SqlType], header: list[str], before: int, options: CsvOptions) -> None:
    """Raise the TransferError write_csv raises for the batch's first record the output cannot hold (each record
    tried on a scratch output in the same encoding, so nothing is written twice)."""
    from iterbridge.transfer.cells import value_cells

    cells = value_cells(batch, types, options)
    scratch = io.TextIOWrapper(io.BytesIO(), encoding=options.python_encoding, newline="")
    writer = options.writer(scratch, raw=True)
    for number, record in enumerate(zip(*cells, strict=True), start=before + 1):
        _write(writer, list(record), header, number, options)


def export(
    conn: Connection,
    obj: str | None,
    path: Path | None,
    options: CsvOptions,
    *,
    columns: list[str] | None = None,
    where: str | None = None,
    query: str | None = None,
    progress: Progress | None = None,
    batches: bool | None = None,
) -> ExportResult:
    """Write an object (or a query's rows) to CSV. An object's rows come as Arrow batches (`conn.read_batches`,
    JSON in Iterable's key order) formatted a column at a time, unless an option needs the row path: --query or
    a --where only SQL answers (the SQL engine gives rows), or --flatten (keys found row by row). `batches`
    overrides that choice: False, the row path always; True, batches where the choice would be rows."""
    if query is None and obj is not None:
        chosen = selection(conn, obj, columns, where)
        types = [chosen.types[name] for name in chosen.header]
        by_rows = batches is False or options.flatten or chosen.sql is not None
        if batches or not by_rows:
            found = conn.read_batches(chosen.name, where=chosen.conditions, columns=chosen.header, sort_json_keys=False)
            count = write_batches(chosen.header, types, found, path, options, progress)
            return ExportResult(str(path) if path else "-", chosen.header, count)
        header, rows = object_rows(conn, chosen)
    else:
        header, rows = source_rows(conn, obj, columns=columns, where=where, query=query)
    count = write_csv(header, rows, path, options, progress)
    return ExportResult(str(path) if path else "-", header, count)


def exportable() -> list[str]:
    """Objects that can be read without a required filter (what `export --all` writes)."""
    from iterbridge.objects import OBJECTS

    return [name for name, obj in OBJECTS.items() if not obj.required_filters]
