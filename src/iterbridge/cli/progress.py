"""Progress on stderr: rows, rows/s and — for rate-limited reads — an ETA from the endpoint's limit."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

TTY_INTERVAL_S = 0.5
LOG_INTERVAL_S = 5.0


class RowProgress:
    """Call with the row count as it grows; prints a line now and then (a live line on a terminal)."""

    def __init__(self, label: str, conn: Any = None, planned_calls: int = 0, endpoint: str = "") -> None:
        self.label = label
        self.conn = conn
        self.started = time.monotonic()
        self.last = self.started
        self.tty = sys.stderr.isatty()
        self.rows = 0
        self.calls_before = conn.client.calls if conn is not None else 0
        self.planned = planned_calls
        self.interval = conn.client.limiter.seconds_per_call(endpoint) if conn is not None and endpoint else 0.0

    def __call__(self, rows: int) -> None:
        self.rows = rows
        now = time.monotonic()
        if now - self.last >= (TTY_INTERVAL_S if self.tty else LOG_INTERVAL_S):
            self.last = now
            self._print(end="\r" if self.tty else "\n")

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        text = f"{self.label}: {self.rows:,} rows, {self.rows / elapsed:,.0f} rows/s, {elapsed:,.1f} s"
        if self.planned and self.interval and self.conn is not None:
            done = self.conn.client.calls - self.calls_before
            remaining = max(0, self.planned - done) * self.interval
            text += f", ETA ≥ {remaining:,.0f} s under the rate limit ({done}/{self.planned} calls)"
        return text

    def _print(self, end: str) -> None:
        click.echo(self._line().ljust(100 if self.tty else 0), err=True, nl=False)
        click.echo(end, err=True, nl=False)

    def finish(self) -> str:
        """Clear the live line; return the final figures for the caller's summary."""
        if self.tty and self.last > self.started:
            click.echo("\r" + " " * 100 + "\r", err=True, nl=False)
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return f"{elapsed:,.1f} s, {self.rows / elapsed:,.0f} rows/s"
