"""Fixtures for the web console's tests: a console over a connection to the shared sandbox, and a Starlette
TestClient holding the session cookie and the CSRF header the page would send."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

import iterbridge
from iterbridge.ui import Console, Guard
from iterbridge.ui.app import create_app

from .support import HOST


@pytest.fixture
def console(conn: iterbridge.Connection) -> Iterator[Console]:
    console = Console(conn, sandbox=True)
    yield console
    console.close()


@pytest.fixture
def guard() -> Guard:
    return Guard()


@pytest.fixture
def anonymous(console: Console, guard: Guard) -> Iterator[TestClient]:
    """A client without the session: what another user of the machine, or a script, would be."""
    with TestClient(create_app(console, guard, lambda: {HOST}), base_url=f"http://{HOST}") as client:
        yield client


@pytest.fixture
def client(console: Console, guard: Guard) -> Iterator[TestClient]:
    """A client that opened the printed URL (so it holds the cookie) and sends the page's CSRF token."""
    with TestClient(create_app(console, guard, lambda: {HOST}), base_url=f"http://{HOST}") as client:
        opened = client.get(f"/?token={guard.token}", follow_redirects=False)
        assert opened.status_code == 303
        client.headers["X-Iterbridge-Csrf"] = guard.csrf
        yield client
