"""Reading ahead in a thread: an export's reads (download, then the C scanner with the GIL released) go on while
the caller formats the batches before (Arrow kernels, which release it too), on a second core."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()
_POLL_S = 0.1


def read_ahead(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """`items` in order, produced by a thread at most `depth` ahead of the caller (memory: `depth` items more).
    An error the items raise is raised here, where the item would have come. When the caller stops early (an
    error, Ctrl-C, a closed generator), the thread stops before its next item and closes `items` itself (the
    thread that runs a generator is the one that may close it); it is a daemon, so a read it is still inside never
    keeps the process alive."""
    handed: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                handed.put((item, error), timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put(item):
                    return
            put(_END)
        except BaseException as error:  # raised in the caller, at its place
            put(None, error)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="iterbridge-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = handed.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
