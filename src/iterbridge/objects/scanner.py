"""The C scanner of events' export lines (iterbridge._eventscan, docs/ARCHITECTURE.md "Events parsed in C"), when
`pip install` could build it; `scanner` is None otherwise and every read takes the Python path (the same rows).
The one place that says whether it is used: tests set `scanner` to None here to compare the two paths."""

from __future__ import annotations

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
