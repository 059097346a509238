"""A window's export lines parsed while they download, given out only once the download completed.

A read of batches through the C scanner (objects/events_arrow.py) used to spool a window whole, then parse it:
read time = download + parse. The scanner releases the GIL, so here a thread parses whole-line blocks as they
arrive while the download goes on, and writes the batches it makes into a spill (an Arrow IPC stream in a
temporary file: memory stays flat however large the window). The exports' rule is kept: nothing of a window is
given out, counted or quarantined before its stream completed. A dropped stream discards the spill, its counts
and its malformed lines (`PendingQuarantine`), and the window is read again.
"""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any, Union

from iterbridge.api.jsonlines import (
    SPOOL_BLOCK_BYTES,
    Counted,
    JsonLines,
    LineBlock,
    PendingQuarantine,
    spooled_blocks,
    spooled_lines,
)

WindowParse = Callable[[Iterator[LineBlock]], Iterator[Any]]  # a window's LineBlocks -> its Arrow batches
Spool = Union["ParsedWindow", IO[bytes]]
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
QUEUE_BLOCKS = 4  # blocks (~1 MB each) waiting for the parser: beyond, the download waits for it


class _Records:
    """The window's own count of records (LineBlock.counted), added to the reader's once it completed."""

    def __init__(self) -> None:
        self.records = 0


class ParsedWindow:
    """Written like a spool (`write` the download's chunks, `complete` at its end, `close` to discard); `items`
    then gives the batches `parse` made, in order, and commits the window's counts and malformed lines."""

    def __init__(self, parse: WindowParse, lines: JsonLines) -> None:
        self._lines = lines
        self._pending = PendingQuarantine()
        self._records = _Records()
        self._window_lines = JsonLines(self._pending)
        self._chunks: list[bytes] = []  # the download's chunks since the last whole-line block
        self._size = 0
        self._blocks: queue.Queue[bytes | None] = queue.Queue(QUEUE_BLOCKS)  # None: the end
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._written = False
        handle, self._path = tempfile.mkstemp(prefix="iterbridge-window-", suffix=".arrows")
        os.close(handle)  # written and read by path, through Arrow's own files (read back into its memory)
        self._thread = threading.Thread(target=self._run, args=(parse,), name="iterbridge-parse", daemon=True)
        self._thread.start()

    def write(self, chunk: bytes) -> None:
        """Part of the download: whole lines go to the parser a block (about a megabyte) at a time, copied once."""
        self._chunks.append(chunk)
        self._size += len(chunk)
        end = chunk.rfind(b"\n") + 1
        if self._size >= SPOOL_BLOCK_BYTES and end:
            rest = chunk[end:]
            self._chunks[-1] = chunk[:end]
            self._put(b"".join(self._chunks))
            self._chunks, self._size = [rest], len(rest)

    def complete(self) -> None:
        """The download completed: the last lines are parsed and the parser waited for (its error raised here)."""
        if self._size:
            self._put(b"".join(self._chunks))
            self._chunks, self._size = [], 0
        self._put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def items(self, counters: tuple[Counted, ...]) -> Iterator[Any]:
        """The window's batches, read back from the spill; its records counted into `counters` and its malformed
        lines kept (in `lines`' quarantine) first."""
        import pyarrow as pa  # type: ignore[import-untyped]

        self._pending.commit(self._lines)
        for stats in counters:
            stats.records += self._records.records
        if self._written:
            with pa.OSFile(self._path) as source, pa.ipc.open_stream(source) as reader:
                yield from reader

    def close(self) -> None:
        """Stop the parser and discard what it made (a dropped stream, an error, or the window given out)."""
        self._stop.set()
        self._put(None)
        self._thread.join()
        self._pending.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)

    def __enter__(self) -> ParsedWindow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _put(self, block: bytes | None) -> None:
        """Queue a block for the parser, unless it has ended (an error: `complete` raises it)."""
        while self._thread.is_alive():
            try:
                self._blocks.put(block, timeout=0.1)
                return
            except queue.Full:
                continue

    def _run(self, parse: WindowParse) -> None:
        import pyarrow as pa

        try:
            # appended to mkstemp's empty file, not truncated ("wb"): ext4 takes a truncation to zero for a file
            # being replaced and writes it to disk when it is closed; removing it then waits for that writing
            with pa.OSFile(self._path, mode="ab") as sink:
                writer = None
                for batch in parse(self._lineblocks()):
                    if self._stop.is_set():
                        return
                    if writer is None:
                        writer = pa.ipc.new_stream(sink, batch.schema)
                    writer.write_batch(batch)
                if writer is not None:
                    writer.close()
                    self._written = True
        except BaseException as error:  # raised by `complete`, in the reading thread
            self._error = error

    def _lineblocks(self) -> Iterator[LineBlock]:
        while (data := self._blocks.get()) is not None:
            if not self._stop.is_set():  # once stopped, blocks are only drained
                yield LineBlock(data, self._window_lines, (self._records,))


def spool(parse: WindowParse | None, lines: JsonLines) -> Spool:
    """Where a window's download goes: parsed as it comes (`parse`), or spooled (memory up to a few MB, then a
    temporary file) to be read once complete."""
    if parse is not None:
        return ParsedWindow(parse, lines)
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)


def completed(window: Spool) -> None:
    """The download into `window` completed: parsed to its end, or rewound for reading."""
    if isinstance(window, ParsedWindow):
        window.complete()
    else:
        window.seek(0)


def window_items(window: Spool, lines: JsonLines, counters: tuple[Counted, ...], blocks: bool) -> Iterator[Any]:
    """A completed window's batches (parsed), LineBlocks (`blocks`) or records, each record counted."""
    if isinstance(window, ParsedWindow):
        yield from window.items(counters)
    elif blocks:
        for block in spooled_blocks(window):
            yield LineBlock(block, lines, counters)
    else:
        for record in lines.records(spooled_lines(window)):
            for stats in counters:
                stats.records += 1
            yield record
