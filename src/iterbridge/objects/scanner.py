"""The C scanner of events' export lines (iterbridge._eventscan, docs/ARCHITECTURE.md "Events parsed in C"), when
`pip install` could build it; `scanner` is None otherwise and every read takes the Python path (the same rows).
The one place that says whether it is used: tests set `scanner` to None here to compare the two paths."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any

from iterbridge.api.jsonlines import LineBlock

scanner: ModuleType | None
try:
    import iterbridge._eventscan as scanner
except ImportError:  # no C compiler at install, or no libcrypto
    scanner = None

END, ODD = 0, 2  # how Builder.scan stopped (1: its max_rows reached)


def scanning() -> bool:
    """Whether export lines are parsed by the C scanner (then reads ask for LineBlocks, not records)."""
    return scanner is not None


def handed_back(block: LineBlock, position: int) -> tuple[dict[str, Any] | None, int]:
    """The record of the line the scanner handed back at `position` (read, repaired or quarantined by the
    block's JsonLines, and counted), or None; and where the next line starts."""
    end = block.data.find(b"\n", position)
    end = len(block.data) if end < 0 else end
    record = block.lines.record(block.data[position:end])
    if record is not None:
        block.counted(1)
    return record, end + 1


def scanned_batches(
    builder: Any,
    items: Iterable[Any],
    batch_rows: int,
    *,
    take: Callable[[], Any],
    append: Callable[[dict[str, Any]], None],
) -> Iterator[Any]:
    """Batches of at most `batch_rows` rows from LineBlocks parsed by a C builder (the GIL released while it
    parses; `take` makes a batch of what it holds); a line it hands back (anything it cannot be sure to read
    exactly as the Python path does) is read by the Python path and `append`ed, in its place. Records given as
    dicts go the Python path too; batches already made (a window parsed while it downloaded) are given as they
    are, in their place."""
    import pyarrow as pa  # type: ignore[import-untyped]  # here: the CLI imports this module, not pyarrow

    for item in items:
        if type(item) is pa.RecordBatch:
            if builder.rows:
                yield take()
            yield item
            continue
        if type(item) is not LineBlock:
            append(item)
            if builder.rows >= batch_rows:
                yield take()
            continue
        data, position = item.data, 0
        while True:
            position, status, rows = builder.scan(data, position, batch_rows)
            item.counted(rows)
            if status == ODD:
                record, position = handed_back(item, position)
                if record is not None:
                    append(record)
            if builder.rows >= batch_rows:
                yield take()
            if status == END:
                break
    if builder.rows:
        yield take()
