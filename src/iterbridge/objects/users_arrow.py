"""Users' export records built into Arrow columns: each column's values gathered unconverted, then typed per
column (one kernel for the exports' timestamps, Arrow's own conversion for numbers and flags, the catalog's
`convert` only for a column holding a value of another type), so no typed row dict is made per user.

What stays per record: the JSON parse (api/jsonlines.py: repaired or quarantined lines, as the dict rows),
the export's dotted keys folded back into objects (users.unflatten) and ExtraFields, the fields no column holds,
as their JSON text (the dict rows' rule, users.profile_row, so the text is the same).

Where the C extension is built, export lines are read by its UserBuilder instead (no Python object per user,
the GIL released), which takes a line only when certain to give exactly what the Python path gives, and hands
any other back to it (`user_scanning`; _eventscan.c, "users' export lines").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from iterbridge.api.jsonlines import LineBlock
from iterbridge.api.parsed_window import WindowParse
from iterbridge.objects import scanner
from iterbridge.objects.arrow import ARROW_TYPES, TIMESTAMP, array, owned_buffer, schema
from iterbridge.objects.base import Column, SqlType, json_as_sent, json_text
from iterbridge.objects.users import EXTRA, MANAGED_FIELDS, unflatten

# UserBuilder's column kinds (_eventscan.c: K_TEXT …)
_KINDS = {
    SqlType.TEXT: 0,
    SqlType.INTEGER: 1,
    SqlType.REAL: 2,
    SqlType.BOOLEAN: 3,
    SqlType.TIMESTAMP: 4,
    SqlType.JSON: 5,
}


def user_batches(
    records: Iterable[dict[str, Any]], columns: Sequence[Column], batch_rows: int, *, sort_keys: bool = True
) -> Iterator[Any]:
    """Batches of at most `batch_rows` users, with every column of `columns`, in order; JSON columns' keys
    sorted (the stored text) or as Iterable sent them (`sort_keys=False`, what a CSV export writes). `records`
    may be LineBlocks (or batches a window's parse made) when `user_scanning(columns)`."""
    if user_scanning(columns):
        yield from _scanned_batches(records, columns, batch_rows, sort_keys)
        return
    source = iter(records)
    while (batch := user_batch(itertools.islice(source, batch_rows), columns, sort_keys)) is not None:
        yield batch


def user_batch(records: Iterable[dict[str, Any]], columns: Sequence[Column], sort_keys: bool = True) -> Any:
    """One batch of the records (consumed one at a time, never held: only the columns' values are), or None
    when there are none. A record's top-level columns are read by one C-level `map` of `dict.get` into a tuple
    (the tuples turned into columns once, by `zip`), the few nested ones walked by `Column.raw`."""
    held = [c for c in columns if c.name != EXTRA.name]
    flat = [c for c in held if c.source and "." not in c.source and not c.import_only]
    nested = [c for c in held if c not in flat]
    flat_keys = [str(c.source) for c in flat]
    covered = {c.source.split(".")[0] for c in columns if c.source} | MANAGED_FIELDS
    flat_cells: list[tuple[Any, ...]] = []
    nested_cells: list[list[Any]] = [[] for _ in nested]
    extras: list[str | None] = []
    text = json_text if sort_keys else json_as_sent
    for record in records:
        profile = unflatten(record)
        flat_cells.append(tuple(map(profile.get, flat_keys)))
        for found, column in zip(nested_cells, nested, strict=True):
            found.append(column.raw(profile))
        others = profile.keys() - covered
        extras.append(text({k: profile[k] for k in profile if k in others}) if others else None)
    if not extras:
        return None
    by_column = zip(*flat_cells, strict=True) if flat else iter(())
    built = {c.name: array(list(found), c.type, sort_keys=sort_keys) for found, c in zip(by_column, flat, strict=True)}
    built.update(
        {c.name: array(found, c.type, sort_keys=sort_keys) for found, c in zip(nested_cells, nested, strict=True)}
    )
    built[EXTRA.name] = pa.array(extras, type=pa.string())
    return pa.RecordBatch.from_arrays([built[c.name] for c in columns], schema=schema(columns))


def _held(columns: Sequence[Column]) -> list[Column]:
    return [c for c in columns if c.name != EXTRA.name]


def user_scanning(columns: Sequence[Column]) -> bool:
    """Whether the C scanner reads these columns' export lines (then a read asks for LineBlocks): it is built,
    and every column's source is a field or a field of a field ("itblInternal.emailDomain")."""
    return scanner.scanning() and all(
        c.source is None or (c.source.count(".") <= 1 and all(c.source.split("."))) for c in _held(columns)
    )


def user_builder(columns: Sequence[Column], sort_keys: bool) -> Any:
    """A UserBuilder for `columns`: each held column's source split in two and its kind; the top-level names
    that stay out of ExtraFields (user_batch's `covered`, the same set)."""
    assert scanner.scanner is not None
    plan = tuple((*_parts(c.source), _KINDS[c.type]) for c in _held(columns))
    covered = tuple(sorted({c.source.split(".")[0] for c in columns if c.source} | MANAGED_FIELDS))
    return scanner.scanner.UserBuilder(plan, covered, sort_keys)


def _parts(source: str | None) -> tuple[str | None, str | None]:
    """A source as the builder walks it: its field and, for "itblInternal.emailDomain", the field in it."""
    if source is None:
        return None, None
    field, _, inner = source.partition(".")
    return field, inner if inner else None


def window_parse(columns: Sequence[Column], batch_rows: int, sort_keys: bool) -> WindowParse:
    """What parses one window's LineBlocks into batches while it downloads (api/parsed_window.py)."""

    def parse(blocks: Iterator[LineBlock]) -> Iterator[Any]:
        return _scanned_batches(blocks, columns, batch_rows, sort_keys)

    return parse


def _scanned_batches(
    items: Iterable[Any], columns: Sequence[Column], batch_rows: int, sort_keys: bool
) -> Iterator[Any]:
    builder = user_builder(columns, sort_keys)
    return scanner.scanned_batches(
        builder,
        items,
        batch_rows,
        take=lambda: user_builder_batch(builder, columns),
        append=lambda record: _append_read(builder, record, columns, sort_keys),
    )


def _append_read(builder: Any, record: dict[str, Any], columns: Sequence[Column], sort_keys: bool) -> None:
    """One record read by the Python path (user_batch: the same values and types), appended."""
    full = [*_held(columns), EXTRA]
    batch = user_batch([record], full, sort_keys)
    values = []
    for column in full:
        found = batch.column(column.name)
        if column.type is SqlType.TIMESTAMP:
            found = found.cast(pa.int64())
        values.append(found[0].as_py())
    builder.append(tuple(values))


def user_builder_batch(builder: Any, columns: Sequence[Column]) -> Any:
    """The builder's rows as a batch of `columns`, each buffer copied into Arrow's own memory (owned_buffer)."""
    rows, held, extra = builder.take()
    built = {}
    for column, buffers in zip(_held(columns), held, strict=True):
        kind = TIMESTAMP if column.type is SqlType.TIMESTAMP else ARROW_TYPES[column.type]
        built[column.name] = pa.Array.from_buffers(kind, rows, [_owned(b) for b in buffers])
    built[EXTRA.name] = pa.Array.from_buffers(pa.string(), rows, [_owned(b) for b in extra])
    return pa.RecordBatch.from_arrays([built[c.name] for c in columns], schema=schema(columns))


def _owned(data: bytes | None) -> Any:
    return None if data is None else owned_buffer(data)
