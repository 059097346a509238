"""Progress on stderr: rows, rows/s, and the API calls made and the time spent waiting for the rate limits."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from iterbridge.connection import Connection

TTY_INTERVAL_S = 0.5
LOG_INTERVAL_S = 5.0
# The first line comes this soon, rows or not: a read paced by the rate limits may give none for minutes.
FIRST_REPORT_S = 1.0


class RowProgress:
    """Call with the row count as it grows; prints a line now and then (a live line on a terminal). Used as a
    context manager it also reports on a timer, so a read that waits (rate limits, export jobs) shows itself
    within a second instead of after its first rows."""

    def __init__(self, label: str, conn: Connection | None = None) -> None:
        self.label = label
        self.conn = conn
        self.started = time.monotonic()
        self.last = self.started
        self.tty = sys.stderr.isatty()
        self.interval = TTY_INTERVAL_S if self.tty else LOG_INTERVAL_S
        self.rows = 0
        self.calls_before = conn.client.calls if conn is not None else 0
        self.waited_before = conn.client.limiter.waited_s if conn is not None else 0.0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> RowProgress:
        self._ticker = threading.Thread(target=self._tick, name="iterbridge-progress", daemon=True)
        self._ticker.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self._clear()  # an error message then starts on a clean line

    def __call__(self, rows: int) -> None:
        self.rows = rows
        if self._ticker is not None:
            return  # the timer prints
        now = time.monotonic()
        if now - self.last >= self.interval:
            self._print()

    def _tick(self) -> None:
        wait = FIRST_REPORT_S
        while not self._stop.wait(wait):
            self._print()
            wait = self.interval

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        text = f"{self.label}: {self.rows:,} rows, {self.rows / elapsed:,.0f} rows/s, {elapsed:,.1f} s"
        if self.conn is not None:
            calls = self.conn.client.calls - self.calls_before
            waited = self.conn.client.limiter.waited_s - self.waited_before
            text += f", {calls:,} API call{'s' if calls != 1 else ''}"
            if waited >= 0.05:
                text += f" ({waited:,.1f} s waiting for the rate limits)"
        return text

    def _print(self) -> None:
        with self._lock:
            self.last = time.monotonic()
            end = "\r" if self.tty else "\n"
            click.echo(self._line().ljust(100 if self.tty else 0) + end, err=True, nl=False)

    def _clear(self) -> None:
        """Rub out the live line of a terminal, once."""
        if self.tty and self.last > self.started:
            click.echo("\r" + " " * 100 + "\r", err=True, nl=False)
            self.last = self.started

    def finish(self) -> str:
        """Clear the live line; return the final figures for the caller's summary."""
        self._clear()
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return f"{elapsed:,.1f} s, {self.rows / elapsed:,.0f} rows/s"
