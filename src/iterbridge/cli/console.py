"""The rich Console every command prints tables with: the terminal's width at a terminal; piped, redirected or
captured, as wide as the content needs — rich would otherwise squeeze every table into 80 columns, folding
names and cutting text a script (or a person reading a log) then cannot use."""

from __future__ import annotations

import os
from typing import Any, TextIO

from rich.console import Console

# Wide enough for any table iterbridge prints (its cells are cut at CELL_WIDTH), so nothing wraps or folds;
# a table is only as wide as its columns, so nothing is padded to it.
PIPED_WIDTH = 10_000


def make_console(file: TextIO | None = None, *, stderr: bool = False, **options: Any) -> Console:
    """A Console on `file` (stdout, or stderr), full width when it is not a terminal (COLUMNS, when set, wins)."""
    terminal = Console(file=file, stderr=stderr, **options)
    if terminal.is_terminal or "COLUMNS" in os.environ:
        return terminal
    return Console(file=file, stderr=stderr, width=PIPED_WIDTH, **options)
