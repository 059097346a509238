"""`iterbridge ui`: a local web console over the same connection and jobs as the CLI (docs/ARCHITECTURE.md)."""

from __future__ import annotations

from iterbridge.ui.auth import Guard
from iterbridge.ui.console import Console
from iterbridge.ui.server import ConsoleServer

__all__ = ["Console", "ConsoleServer", "Guard"]
