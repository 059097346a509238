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
from iterbridge.objects.arrow import ARROW_TYPES, C_KINDS, array, owned_buffer, schema
from iterbridge.objects.base import Column, SqlType, json_as_sent, json_text
from iterbridge.objects.users import EXTRA, covered_fields, unflatten


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
    covered = covered_fields(columns)
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
    return scanner.scanning() and all(len(c.path) <= 2 and all(c.path) for c in _held(columns))


def user_builder(columns: Sequence[Column], sort_keys: bool) -> Any:
    """A UserBuilder for `columns`: each held column's path as the builder walks it (a field, and the field in it
    for "itblInternal.emailDomain"; none for a column that reads NULL) and its kind; the fields ExtraFields leaves
    out."""
    assert scanner.scanner is not None
    plan = []
    for column in _held(columns):
        field, inner = (*column.path, None, None)[:2]
        plan.append((field, inner, C_KINDS[column.type]))
    return scanner.scanner.UserBuilder(tuple(plan), tuple(sorted(covered_fields(columns))), sort_keys)


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
        built[column.name] = pa.Array.from_buffers(ARROW_TYPES[column.type], rows, [_owned(b) for b in buffers])
    built[EXTRA.name] = pa.Array.from_buffers(pa.string(), rows, [_owned(b) for b in extra])
    return pa.RecordBatch.from_arrays([built[c.name] for c in columns], schema=schema(columns))


def _owned(data: bytes | None) -> Any:
    return None if data is None else owned_buffer(data)
