"""read_ahead: an export's batches produced by a thread while the caller writes the ones before — the same
items in the same order, an error raised where it came, a stop that stops the thread and closes the source."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from iterbridge.transfer.ahead import read_ahead


def test_the_same_items_in_order_produced_ahead_in_another_thread() -> None:
    producers: list[str] = []

    def items() -> Iterator[int]:
        for number in range(100):
            producers.append(threading.current_thread().name)
            yield number

    assert list(read_ahead(items())) == list(range(100))
    assert set(producers) == {"iterbridge-read-ahead"}


def test_at_most_depth_items_wait_for_the_caller() -> None:
    made: list[int] = []

    def items() -> Iterator[int]:
        for number in range(10):
            made.append(number)
            yield number

    ahead = read_ahead(items(), depth=1)
    assert next(ahead) == 0
    time.sleep(0.3)
    assert len(made) <= 3  # the one taken, one waiting, one the thread holds until there is room
    ahead.close()


def test_an_error_is_raised_where_it_came() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("the read failed at the third item")

    ahead = read_ahead(items())
    assert [next(ahead), next(ahead)] == [1, 2]
    with pytest.raises(ValueError, match="third item"):
        next(ahead)


def test_a_caller_that_stops_stops_the_thread_and_the_source_is_closed() -> None:
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            number = 0
            while True:
                yield number
                number += 1
        finally:
            closed.set()

    ahead = read_ahead(items())
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()
    assert closed.wait(5)
    deadline = time.monotonic() + 5
    while any(t.name == "iterbridge-read-ahead" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "iterbridge-read-ahead" for t in threading.enumerate())
