"""CSV cells from Arrow columns: what `CsvOptions.formatter` and the writers make of each value, made a column at
a time (Arrow compute kernels) so an export from `read_batches` has no Python object per row.

Each function gives exactly the cells of the row path (export.write_csv), by construction where a kernel's text
could differ from Python's: numbers of a REAL column, dates in a format or a year the kernels do not write as
`datetime.strftime` does, and the formula guard's last word (`guard_formula`) go through the same Python
functions, but only for the values that need it (the guard's candidates are found by a kernel first).

- `text_cells`: --quoting minimal. Every cell as text (NULL the --null text), guarded, quoted as `MinimalWriter`
  quotes (a quote, the delimiter or a line break in it), then joined into the batch's text in one piece.
- `value_cells`: the other quoting modes, written by the csv module's C writer: numbers stay numbers (its
  quoting tells them from text), every other cell is text, guarded as `GuardedWriter` guards.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from iterbridge.objects.base import SqlType
from iterbridge.transfer.csvformat import DEFAULT_DATE_FORMAT, TERMINATORS, CsvOptions, guard_formula

# strftime directives Arrow's kernel writes as Python's does (for years 1000-9999; others are formatted in Python).
KERNEL_DIRECTIVES = frozenset("YmdHMS%")
_GUARD_START = r"^'*[=+\-@\t\r]"  # what guard_formula looks at first; it decides the rest per candidate
_SECOND = pa.timestamp("s", tz="UTC")
_WALL_CLOCK = pa.timestamp("s")
# The characters a column of these types can write (--date-format's built-in forms for timestamps).
_CHARACTERS = {
    SqlType.INTEGER: frozenset("-0123456789"),
    SqlType.BOOLEAN: frozenset("truefals"),
    SqlType.TIMESTAMP: frozenset("-0123456789 :.TZ"),
}
_DIRECTIVE = re.compile(r"%(.)", re.DOTALL)


def text_cells(batch: Any, types: list[SqlType], options: CsvOptions) -> str:
    """The batch's records as the minimal writer writes them (cells, delimiters, line terminators), one text."""
    columns = [
        _text(batch.column(i), kind, options)
        if _plain(kind, options)
        else _quoted(_text(batch.column(i), kind, options), options)
        for i, kind in enumerate(types)
    ]
    if len(columns) == 1:  # a record of one empty field is not a blank line
        only = columns[0]
        columns = [pc.if_else(pc.equal(only, ""), options.quote_char * 2, only)]
    lines = pc.binary_join_element_wise(*columns, options.delimiter) if len(columns) > 1 else columns[0]
    return _joined(pc.binary_join_element_wise(lines, TERMINATORS[options.line_terminator], ""))


def value_cells(batch: Any, types: list[SqlType], options: CsvOptions) -> list[list[Any]]:
    """The batch's cells, column by column, as the csv module's writer takes them under options.quoting."""
    return [_values(batch.column(i), kind, options) for i, kind in enumerate(types)]


def _text(column: Any, kind: SqlType, options: CsvOptions) -> Any:
    """A column as the text of its cells (nulls still null), guarded when it could hold a formula."""
    if kind is SqlType.INTEGER or kind is SqlType.BOOLEAN:  # digits, a sign then digits, true/false: never guarded
        return pc.fill_null(column.cast(pa.string()), options.null)
    if kind is SqlType.REAL:
        texts = pa.array([None if v is None else str(v) for v in column.to_pylist()], type=pa.string())
    elif kind is SqlType.TIMESTAMP:
        texts = _dates(column, options)
        if pa.types.is_integer(texts.type):
            return pc.fill_null(texts.cast(pa.string()), options.null)
    else:
        texts = column
    return pc.fill_null(_guarded(texts, options), options.null)


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
    """Text cells through the formula guard: a kernel finds the cells it could change, guard_formula decides."""
    if not options.formula_guard:
        return texts
    candidates = pc.match_substring_regex(texts, _GUARD_START)
    if not pc.any(candidates).as_py():
        return texts
    null = options.null
    values = texts.to_pylist()
    for index in pc.indices_nonzero(candidates).to_pylist():
        values[index] = guard_formula(values[index], null)
    return pa.array(values, type=pa.string())


def _quoted(texts: Any, options: CsvOptions) -> Any:
    """Cells quoted as MinimalWriter quotes them: with a quote (doubled inside), the delimiter or a line break."""
    quote = options.quote_char
    specials = "".join(f"\\x{{{ord(c):x}}}" for c in dict.fromkeys((quote, options.delimiter, "\n", "\r")))
    needs = pc.match_substring_regex(texts, f"[{specials}]")  # one scan for the four characters
    if not pc.any(needs).as_py():
        return texts
    doubled = pc.replace_substring(texts, quote, quote * 2)
    return pc.if_else(needs, pc.binary_join_element_wise(quote, doubled, quote, ""), texts)


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
    years = pc.min(pc.year(column)).as_py()
    if (years is not None and years < 1000) or not _kernel_pattern(pattern):
        fmt = options.formatter()  # Python's own formatting, value by value, as the row path does
        return pa.array([None if v is None else fmt(v.astimezone(UTC)) for v in column.to_pylist()], type=pa.string())
    seconds = pc.floor_temporal(column, unit="second")  # whole seconds: a fraction is cut, not rounded
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


def _kernel_pattern(pattern: str) -> bool:
    """Whether Arrow's strftime writes this pattern as Python's does (only known directives in it)."""
    return set(_DIRECTIVE.findall(pattern)) <= KERNEL_DIRECTIVES


def _joined(lines: Any) -> str:
    """A string column's values end to end, as one Python text (one kernel, one copy)."""
    if len(lines) == 0:
        return ""
    offsets = pa.array([0, len(lines)], type=pa.int32())
    return str(pc.binary_join(pa.ListArray.from_arrays(offsets, lines), "")[0].as_py())
