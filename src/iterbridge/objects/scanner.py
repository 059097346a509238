"""The C scanner of events' export lines (iterbridge._eventscan, docs/ARCHITECTURE.md "Events parsed in C"), when
`pip install` could build it; `scanner` is None otherwise and every read takes the Python path (the same rows).
The one place that says whether it is used: tests set `scanner` to None here to compare the two paths."""

from __future__ import annotations

from types import ModuleType

scanner: ModuleType | None
try:
    import iterbridge._eventscan as scanner
except ImportError:  # no C compiler at install, or no libcrypto
    scanner = None

END, FULL, ODD = 0, 1, 2  # how Builder.scan and Builder.rows stopped


def scanning() -> bool:
    """Whether export lines are parsed by the C scanner (then reads ask for LineBlocks, not records)."""
    return scanner is not None


def odd_line(data: bytes, position: int) -> tuple[bytes, int]:
    """The line the scanner handed back at `position`, and where the next one starts."""
    end = data.find(b"\n", position)
    end = len(data) if end < 0 else end
    return data[position:end], end + 1
