"""Fixtures for the sync tests: a connection to the shared sandbox, and a database of each kind.

PostgreSQL tests run when a server is reachable (see `postgres_server` in tests/helpers); each test module
gets a database of its own, dropped when the module ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import iterbridge
from helpers import postgres_database

from .support import Db, Remote, make_db

KINDS = ["sqlite", "postgresql", "duckdb"]


@pytest.fixture
def remote(conn: iterbridge.Connection) -> Remote:
    return Remote(conn)


@pytest.fixture(scope="module")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of this module's own on the PostgreSQL server (skips, saying why, when there is none)."""
    with postgres_database(request.module.__name__.rsplit(".", 1)[-1]) as url:
        yield url


@pytest.fixture(params=KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A database of each kind (the test runs once per kind)."""
    database = make_db(request.param, tmp_path, request)
    yield database
    database.close()


@pytest.fixture
def sqlite_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    database = make_db("sqlite", tmp_path, request)
    yield database
    database.close()
