"""JSON lines from Iterable's exports (data.json, export job files, userEvents), read so that a malformed line
never ends a read.

Iterable has served lines that are not JSON: a data.json answer recorded from the real API lacks
the comma after every `transactionalData` value — `"transactionalData":"{\\"data\\":[]}""contentId":852858`.
That one defect is repaired, and only where the repair is unambiguous: the value is one whole JSON string
directly followed by the next key's quote, and the repaired line must then parse. Any other line that is not a
JSON object is skipped, counted, and kept verbatim (append-only) in the run's quarantine file.

Valid lines cost nothing more than `orjson.loads`: the repair and the quarantine run only on its exception path.
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson
import platformdirs

from iterbridge.errors import ConfigurationError

QUARANTINE_DIR_ENV = "ITERBRIDGE_QUARANTINE_DIR"

# `"transactionalData":` then one complete JSON string (escapes included), then — where a comma must be — the
# quote that opens the next key. Valid JSON can never have a string directly followed by a quote.
_MISSING_COMMA = re.compile(rb'("transactionalData":"(?:[^"\\]|\\.)*")(?=")')
_names = itertools.count(1)


def repair(line: bytes) -> dict[str, Any] | None:
    """The record of a line whose only defect is Iterable's missing comma after `transactionalData`, or None."""
    fixed, count = _MISSING_COMMA.subn(rb"\1,", line)
    if not count:
        return None
    try:
        record = orjson.loads(fixed)
    except orjson.JSONDecodeError:
        return None
    return record if type(record) is dict else None


def default_directory() -> Path:
    """Where quarantine files go: $ITERBRIDGE_QUARANTINE_DIR, else the user's state directory (kept across
    reboots, unlike a temporary directory)."""
    chosen = os.environ.get(QUARANTINE_DIR_ENV)
    return Path(chosen) if chosen else platformdirs.user_state_path("iterbridge") / "quarantine"


class Quarantine:
    """One run's lines that could not be read, kept verbatim, one per line, in a file made at the first one
    (opened for appending and closed again for each line: nothing is held open, nothing is lost), with the run's
    counts of repaired and kept lines. Thread-safe: a replication's readers share it."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.path: Path | None = None
        self.repaired = 0
        self.kept = 0
        self._lock = threading.Lock()

    def keep(self, line: bytes) -> Path:
        """Append a line (a ConfigurationError when it cannot be kept: a line is never dropped unseen)."""
        with self._lock:
            directory = self.directory or default_directory()
            try:
                if self.path is None:
                    directory.mkdir(parents=True, exist_ok=True)
                    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                    self.path = directory / f"malformed-lines-{stamp}-{os.getpid()}-{next(_names)}.jsonl"
                with self.path.open("ab") as file:
                    file.write(line if line.endswith(b"\n") else line + b"\n")
            except OSError as error:
                raise ConfigurationError(
                    f"cannot keep a malformed export line in {self.path or directory} ({error.strerror or error}); "
                    f"set {QUARANTINE_DIR_ENV} to a writable directory"
                ) from None
            self.kept += 1
            return self.path

    def note_repaired(self) -> None:
        with self._lock:
            self.repaired += 1

    def summary(self) -> list[str]:
        return summary(self.repaired, self.kept, self.path)


def summary(repaired: int, kept: int, path: Path | str | None) -> list[str]:
    """Lines for a command's report of its malformed export lines: none when every line was valid JSON."""
    found = []
    if repaired:
        found.append(
            f"{repaired:,} export line(s) repaired (Iterable's known defect: the comma missing after transactionalData)"
        )
    if kept:
        found.append(f"{kept:,} malformed export line(s) skipped, kept verbatim in {path}")
    return found


SPOOL_BLOCK_BYTES = 1024 * 1024


def spooled_lines(spool: IO[bytes]) -> Iterator[bytes]:
    """A spool's lines (without their newline), read a megabyte at a time. Iterating a file line by line reads
    8 KB at a time, handing the GIL over at each read: with a replication's readers running at once, waiting for
    it again was most of a read's time."""
    rest = b""
    while block := spool.read(SPOOL_BLOCK_BYTES):
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


def spooled_blocks(spool: IO[bytes]) -> Iterator[bytes]:
    """A spool's lines in blocks of about a megabyte, each ending with a whole line (the last may lack its
    newline): for a parser that splits the lines itself."""
    rest = b""
    while block := spool.read(SPOOL_BLOCK_BYTES):
        block = rest + block
        end = block.rfind(b"\n") + 1
        rest = block[end:]
        if end:
            yield block[:end]
    if rest:
        yield rest


class Counted(Protocol):
    records: int


@dataclass(frozen=True, slots=True)
class LineBlock:
    """Whole lines of an export, unparsed, given instead of records to a reader that parses them itself
    (objects/events_arrow.py's C scanner). It counts the records it reads into `counters` (the export readers'
    stats) and hands each line it does not take to `lines.record`, which reads, repairs or quarantines it exactly
    as `JsonLines.records` does."""

    data: bytes
    lines: JsonLines
    counters: tuple[Counted, ...]

    def counted(self, records: int) -> None:
        for stats in self.counters:
            stats.records += records


class Keeper(Protocol):
    def keep(self, line: bytes) -> Any: ...
    def note_repaired(self) -> None: ...


class PendingQuarantine:
    """A window's malformed lines, held (in a spool: a window of them keeps memory flat) until the window
    completed: only then are they kept in the run's Quarantine and counted (`commit`). A window whose stream
    dropped is read again, so its lines are dropped with it (`close`): never kept twice."""

    def __init__(self) -> None:
        self.repaired = 0
        self._lines: IO[bytes] | None = None

    def keep(self, line: bytes) -> None:
        if self._lines is None:
            self._lines = tempfile.SpooledTemporaryFile(max_size=SPOOL_BLOCK_BYTES)  # noqa: SIM115 - closed by close
        self._lines.write(len(line).to_bytes(8, "little") + line)

    def note_repaired(self) -> None:
        self.repaired += 1

    def commit(self, lines: JsonLines) -> None:
        """Keep and count in `lines` what this window found (a ConfigurationError when a line cannot be kept)."""
        for _ in range(self.repaired):
            lines.quarantine.note_repaired()
        lines.repaired += self.repaired
        if self._lines is not None:
            self._lines.seek(0)
            while size := self._lines.read(8):
                lines.quarantine.keep(self._lines.read(int.from_bytes(size, "little")))
                lines.skipped += 1
        self.close()

    def close(self) -> None:
        if self._lines is not None:
            self._lines.close()
        self.repaired, self._lines = 0, None


class JsonLines:
    """The records of one read's JSON lines; `repaired` and `skipped` count its lines that were not valid."""

    def __init__(self, quarantine: Keeper) -> None:
        self.quarantine = quarantine
        self.repaired = 0
        self.skipped = 0

    def records(self, lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        for line in lines:
            try:
                record = loads(line)
            except decode_error:
                record = None
            if type(record) is not dict:
                record = self._salvage(line)
                if record is None:
                    continue
            yield record

    def record(self, line: bytes) -> dict[str, Any] | None:
        """One line's record, as `records` reads it (None: blank, or quarantined)."""
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            record = None
        return record if type(record) is dict else self._salvage(line)

    def _salvage(self, line: bytes) -> dict[str, Any] | None:
        """A bad line's record when it can be repaired; otherwise it is quarantined (blank lines are ignored)."""
        if not line.strip():
            return None
        record = repair(line)
        if record is not None:
            self.repaired += 1
            self.quarantine.note_repaired()
            return record
        self.skipped += 1
        self.quarantine.keep(line)
        return None
