"""CSV cells from Arrow columns: what `CsvOptions.formatter` and the writers make of each value, made a column at
a time (Arrow compute kernels) so an export from `read_batches` has no Python object per row.

Each function gives exactly the cells of the row path (export.write_csv), by construction where a kernel's text
could differ from Python's: numbers of a REAL column, dates in a format or a year the kernels do not write as
`datetime.strftime` does, and the formula guard's last word (`guard_formula`) go through the same Python
functions, but only for the values that need it (the guard's candidates are found by their first byte first).
Where a kernel is slow per cell (a regular expression over every cell of every column), the column's own
buffers are read instead: a numpy gather of each cell's first byte (`_data`) says which cells the guard could
change, and the C extension (`_eventscan.csv_records`) writes the batch's records in one pass, quoting the cells
that need it, into a bytearray the export reuses. Without the extension, or for a quote or delimiter of more
than one byte, a memchr over the column's bytes says whether any cell needs quotes at all, kernels quote them and
join the records.

- `text_cells`: --quoting minimal. Every cell as text (NULL the --null text), guarded, quoted as `MinimalWriter`
  quotes (a quote, the delimiter or a line break in it), then joined into the batch's text in one piece.
- `value_cells`: the other quoting modes, written by the csv module's C writer: numbers stay numbers (its
  quoting tells them from text), every other cell is text, guarded as `GuardedWriter` guards.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from iterbridge.objects import scanner
from iterbridge.objects.arrow import arrow_buffers
from iterbridge.objects.base import SqlType
from iterbridge.transfer.csvformat import DEFAULT_DATE_FORMAT, GUARDED_STARTS, TERMINATORS, CsvOptions, guard_formula

# strftime directives Arrow's kernel writes as Python's does (for years 1000-9999; others are formatted in Python).
KERNEL_DIRECTIVES = frozenset("YmdHMS%")
_GUARD_START = r"^'*[=+\-@\t\r]"  # what guard_formula looks at first; it decides the rest per candidate
# The first bytes guard_formula looks at (GUARDED_STARTS, all ASCII), as a mask over bytes: a kernel-free test.
_GUARD_FIRST = np.isin(np.arange(256), [ord(c) for c in GUARDED_STARTS])
_SECOND = pa.timestamp("s", tz="UTC")
_WALL_CLOCK = pa.timestamp("s")
# The characters a column of these types can write (--date-format's built-in forms for timestamps).
_CHARACTERS = {
    SqlType.INTEGER: frozenset("-0123456789"),
    SqlType.BOOLEAN: frozenset("truefals"),
    SqlType.TIMESTAMP: frozenset("-0123456789 :.TZ"),
}
_DIRECTIVE = re.compile(r"%(.)", re.DOTALL)
_NO_BYTES = np.zeros(0, dtype=np.uint8)


def text_cells(batch: Any, types: list[SqlType], options: CsvOptions, scratch: bytearray | None = None) -> list[Any]:
    """The batch's records as the minimal writer writes them (cells, delimiters, line terminators), in UTF-8:
    chunks of bytes (memoryviews, nothing copied) written as they are into a UTF-8 file, decoded for any other
    encoding. Where the C extension is built, the records are written in one pass into `scratch` (a bytearray
    an export gives every batch: the caller releases the view before the next call), else joined by kernels."""
    texts = [_text(batch.column(i), kind, options) for i, kind in enumerate(types)]
    terminator = TERMINATORS[options.line_terminator]
    quote, delimiter = options.quote_char, options.delimiter
    if (
        scanner.scanner is not None
        and _ascii_byte(quote)
        and _ascii_byte(delimiter)
        and all(text.type == pa.string() and not text.null_count for text in texts)
    ):
        if not len(batch):
            return []
        given = tuple(arrow_buffers(text, SqlType.TEXT) for text in texts)
        quoted = bytes(not _plain(kind, options) for kind in types)
        into = bytearray() if scratch is None else scratch
        size = scanner.scanner.csv_records(
            given, quoted, len(batch), ord(quote), ord(delimiter), terminator.encode(), into
        )
        return [memoryview(into)[:size]]
    columns = [
        text if _plain(kind, options) else _quoted(text, options) for text, kind in zip(texts, types, strict=True)
    ]
    if len(columns) == 1:  # a record of one empty field is not a blank line
        only = columns[0]
        columns = [pc.if_else(pc.equal(only, ""), options.quote_char * 2, only)]
    # Each record's terminator goes before it (on its first cell: a short copy), so the records are the values
    # of one join, laid end to end in its buffer: the text is that buffer from the first terminator's end, and
    # one terminator at the end.
    columns[0] = pc.binary_join_element_wise(terminator, columns[0], "")
    lines = pc.binary_join_element_wise(*columns, options.delimiter) if len(columns) > 1 else columns[0]
    return [_joined(lines)[len(terminator) :], memoryview(terminator.encode())] if len(lines) else []


def value_cells(batch: Any, types: list[SqlType], options: CsvOptions) -> list[list[Any]]:
    """The batch's cells, column by column, as the csv module's writer takes them under options.quoting."""
    return [_values(batch.column(i), kind, options) for i, kind in enumerate(types)]


def _text(column: Any, kind: SqlType, options: CsvOptions) -> Any:
    """A column as the text of its cells (nulls still null), guarded when it could hold a formula."""
    if kind is SqlType.INTEGER or kind is SqlType.BOOLEAN:  # digits, a sign then digits, true/false: never guarded
        return _filled(column.cast(pa.string()), options.null)
    if kind is SqlType.REAL:
        texts = pa.array([None if v is None else str(v) for v in column.to_pylist()], type=pa.string())
    elif kind is SqlType.TIMESTAMP:
        texts = _dates(column, options)
        if pa.types.is_integer(texts.type):
            return _filled(texts.cast(pa.string()), options.null)
    else:
        texts = column
    return _filled(_guarded(texts, options), options.null)


def _filled(texts: Any, null: str) -> Any:
    """NULL cells as the --null text (a column without any is left as it is: no copy)."""
    return pc.fill_null(texts, null) if texts.null_count else texts


def _values(column: Any, kind: SqlType, options: CsvOptions) -> list[Any]:
    """A column's cells as Python values: numbers as numbers, the rest as text (NULL the --null text)."""
    if kind is SqlType.BOOLEAN:
        found = column.cast(pa.string())
    elif kind is SqlType.TIMESTAMP:
        found = _dates(column, options)
        if not pa.types.is_integer(found.type):
            found = _guarded(found, options)
    elif kind is SqlType.INTEGER or kind is SqlType.REAL:
        found = column
    else:
        found = _guarded(column, options)
    values = found.to_pylist()
    if found.null_count:
        null = options.null
        return [null if v is None else v for v in values]
    return list(values)


def _guarded(texts: Any, options: CsvOptions) -> Any:
    """Text cells through the formula guard: their first bytes say which it could change, guard_formula decides."""
    if not options.formula_guard:
        return texts
    candidates = _guard_candidates(texts)
    if not candidates.any():
        return texts
    null = options.null
    values = texts.to_pylist()
    for index in np.flatnonzero(candidates).tolist():
        values[index] = guard_formula(values[index], null)
    return pa.array(values, type=pa.string())


def _quoted(texts: Any, options: CsvOptions) -> Any:
    """Cells quoted as MinimalWriter quotes them, by kernels: with a quote (doubled inside), the delimiter or a
    line break."""
    quote, delimiter = options.quote_char, options.delimiter
    characters = dict.fromkeys((quote, delimiter, "\n", "\r"))
    found = _data(texts)
    cells = None if found is None else found[1].tobytes()  # copied once, searched for each character
    if cells is not None and not any(c.encode() in cells for c in characters):
        return texts  # none in the whole column (one memchr each): the usual case
    specials = "".join(f"\\x{{{ord(c):x}}}" for c in characters)
    needs = pc.match_substring_regex(texts, f"[{specials}]")  # one scan of each cell for the four characters
    if not pc.any(needs).as_py():
        return texts
    quoted = pc.binary_join_element_wise(quote, pc.replace_substring(texts, quote, quote * 2), quote, "")
    return quoted if pc.all(needs).as_py() else pc.if_else(needs, quoted, texts)  # all: a JSON column's cells


def _ascii_byte(text: str) -> bool:
    return len(text) == 1 and text.isascii()


def _offsets(texts: Any) -> Any:
    """Where each cell of a string column starts and ends in its data buffer (a numpy view, nothing copied)."""
    return np.frombuffer(texts.buffers()[1], dtype=np.int32, count=len(texts) + 1, offset=texts.offset * 4)


def _data(texts: Any) -> tuple[Any, Any] | None:
    """A string column's offsets (from 0, int64) and the bytes of its cells end to end (a numpy view of its
    buffer: nothing copied); None for a column of another layout (large strings, views)."""
    if texts.type != pa.string():
        return None
    offsets, data = _offsets(texts), texts.buffers()[2]
    start, end = int(offsets[0]), int(offsets[-1])
    cells = np.frombuffer(data, dtype=np.uint8)[start:end] if data is not None and end > start else _NO_BYTES
    return offsets.astype(np.int64) - start, cells


def _guard_candidates(texts: Any) -> Any:
    """A numpy mask of the cells guard_formula could change: those whose first byte is one of GUARDED_STARTS,
    read from the column's buffers (a null or empty cell is none)."""
    found = _data(texts)
    if found is None:  # another layout: the guard's own test, a cell at a time
        mask = pc.fill_null(pc.match_substring_regex(texts, _GUARD_START), False)
        return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
    offsets, data = found
    starts, ends = offsets[:-1], offsets[1:]
    if not len(data):
        return np.zeros(len(starts), dtype=bool)
    first = data[np.minimum(starts, len(data) - 1)]
    return _GUARD_FIRST[first] & (ends > starts)


def _plain(kind: SqlType, options: CsvOptions) -> bool:
    """Whether a column's cells can never need quotes: numbers, flags and the built-in date forms, when the
    delimiter, the quote and the --null text are none of their characters."""
    if kind is SqlType.TIMESTAMP and options.date_format not in (DEFAULT_DATE_FORMAT, "iso", "epoch-ms"):
        return False
    written = _CHARACTERS.get(kind)
    specials = {options.quote_char, options.delimiter, "\n", "\r"}
    return written is not None and not specials & written and not specials & set(options.null)


def _dates(column: Any, options: CsvOptions) -> Any:
    """A timestamp column in --date-format: text (nulls kept), or epoch milliseconds as int64."""
    date_format = options.date_format
    if date_format == "epoch-ms":  # to_epoch_ms: milliseconds rounded down
        floored = pc.floor_temporal(column, unit="millisecond").cast(pa.timestamp("ms", tz="UTC"))
        return floored.cast(pa.int64())
    pattern = "%Y-%m-%dT%H:%M:%S" if date_format == "iso" else date_format
    earliest = pc.min(column).as_py()
    if (earliest is not None and earliest.year < 1000) or not _kernel_pattern(pattern):
        fmt = options.formatter()  # Python's own formatting, value by value, as the row path does
        return pa.array([None if v is None else fmt(v.astimezone(UTC)) for v in column.to_pylist()], type=pa.string())
    # whole seconds: a fraction is cut, not rounded (exports' timestamps have none: nothing to cut)
    seconds = column if _whole_seconds(column) else pc.floor_temporal(column, unit="second")
    if date_format not in (DEFAULT_DATE_FORMAT, "iso"):
        return pc.strftime(seconds.cast(_SECOND), format=pattern)
    # A cast of the UTC clock without its zone writes "YYYY-MM-DD HH:MM:SS", ~30× faster than strftime.
    texts = seconds.cast(_WALL_CLOCK).cast(pa.string())
    if date_format != "iso":
        return texts
    texts = pc.utf8_replace_slice(texts, start=10, stop=11, replacement="T")
    # isoformat(): ".ffffff" only when there is a fraction, and the zone as Z.
    fraction = pc.subtract(column.cast(pa.int64()), seconds.cast(pa.int64()))
    digits = pc.utf8_lpad(fraction.cast(pa.string()), width=6, padding="0")
    tail = pc.if_else(pc.equal(fraction, 0), "", pc.binary_join_element_wise(".", digits, ""))
    return pc.binary_join_element_wise(texts, tail, "Z", "")


def _whole_seconds(column: Any) -> bool:
    """Whether every microsecond timestamp of the column (NULL slots too) is a whole second."""
    if column.type.unit != "us" or len(column) == 0:
        return False
    micros = np.frombuffer(column.buffers()[1], dtype=np.int64, count=len(column), offset=column.offset * 8)
    return not np.any(micros % 1_000_000)


def _kernel_pattern(pattern: str) -> bool:
    """Whether Arrow's strftime writes this pattern as Python's does (only known directives in it)."""
    return set(_DIRECTIVE.findall(pattern)) <= KERNEL_DIRECTIVES


def _joined(lines: Any) -> memoryview:
    """The records of a batch (a string column, every cell filled) end to end, in UTF-8: its bytes where they
    lie, nothing copied."""
    bounds, data = _offsets(lines), lines.buffers()[2]
    return memoryview(data)[int(bounds[0]) : int(bounds[-1])] if data is not None else memoryview(b"")
