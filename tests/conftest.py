"""Shared fixtures: a sandbox on a real socket with a clock the tests control, connections and call counts.
The helpers they are built on (and that tests import) live in the `helpers` package next to this file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx2
import pytest

import iterbridge
from helpers import NO_TLS, FakeClock, Stats, connect_to, make_config
from iterbridge.sandbox import Sandbox


@pytest.fixture(scope="session")
def session_sandbox() -> Iterator[tuple[Sandbox, FakeClock]]:
    clock = FakeClock()
    with Sandbox(make_config(clock)) as sandbox:
        yield sandbox, clock


@pytest.fixture(scope="session")
def admin(session_sandbox: tuple[Sandbox, FakeClock]) -> Iterator[httpx2.Client]:
    """A keyless client for the shared sandbox (its /_sandbox admin surface, or requests without a key)."""
    with httpx2.Client(base_url=session_sandbox[0].url, timeout=30, verify=NO_TLS) as client:
        yield client


@pytest.fixture
def clock(session_sandbox: tuple[Sandbox, FakeClock]) -> FakeClock:
    return session_sandbox[1]


@pytest.fixture
def sandbox(session_sandbox: tuple[Sandbox, FakeClock], admin: httpx2.Client) -> Sandbox:
    """The shared sandbox, reset to its generated state (and the clock to its start) for each test."""
    sandbox, clock = session_sandbox
    clock.now_ms = FakeClock().now_ms
    admin.post("/_sandbox/reset").raise_for_status()
    return sandbox


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx2.Client]:
    """An HTTP client for the sandbox with the right key."""
    with httpx2.Client(base_url=sandbox.url, headers={"Api-Key": sandbox.api_key}, timeout=30, verify=NO_TLS) as client:
        yield client


@pytest.fixture
def serve() -> Iterator[Callable[..., httpx2.Client]]:
    """`serve(clock, **overrides)` starts a sandbox of its own (make_config settings: other limits, faults,
    scale…) and returns a client for it with the right key; each one stops when the test ends."""
    with ExitStack() as stack:

        def start(clock: FakeClock | None = None, **overrides: object) -> httpx2.Client:
            sandbox = stack.enter_context(Sandbox(make_config(clock or FakeClock(), **overrides)))
            return stack.enter_context(
                httpx2.Client(base_url=sandbox.url, headers={"Api-Key": sandbox.api_key}, timeout=30, verify=NO_TLS)
            )

        yield start


@pytest.fixture
def conn(sandbox: Sandbox) -> Iterator[iterbridge.Connection]:
    """A fresh connection to the shared sandbox (reset for this test)."""
    with connect_to(sandbox) as connection:
        yield connection


@pytest.fixture
def stats(sandbox: Sandbox, admin: httpx2.Client) -> Stats:
    return Stats(admin)
