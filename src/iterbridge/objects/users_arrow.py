"""Users' export records built into Arrow columns: each column's values gathered unconverted, then typed per
column (one kernel for the exports' timestamps, Arrow's own conversion for numbers and flags, the catalog's
`convert` only for a column holding a value of another type), so no typed row dict is made per user.

What stays per record: the JSON parse (api/jsonlines.py: repaired or quarantined lines, as the dict rows),
the export's dotted keys folded back into objects (users.unflatten) and ExtraFields, the fields no column holds,
as their JSON text (the dict rows' rule, users.profile_row, so the text is the same).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from iterbridge.objects.arrow import array, schema
from iterbridge.objects.base import Column, json_as_sent, json_text
from iterbridge.objects.users import EXTRA, MANAGED_FIELDS, unflatten


def user_batches(
    records: Iterable[dict[str, Any]], columns: Sequence[Column], batch_rows: int, *, sort_keys: bool = True
) -> Iterator[Any]:
    """Batches of at most `batch_rows` users, with every column of `columns`, in order; JSON columns' keys
    sorted (the stored text) or as Iterable sent them (`sort_keys=False`, what a CSV export writes)."""
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
