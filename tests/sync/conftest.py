"""Fixtures for the sync tests: a connection to the shared sandbox, and a database of each kind.

PostgreSQL tests run when a server is reachable (see the root conftest's `postgres_server`); each test module
gets a database of its own, dropped when the module ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import iterbridge
from conftest import postgres_database

from .support import Db, Remote

KINDS = ["sqlite", "postgresql", "duckdb"]


@pytest.fixture
def remote(conn: iterbridge.Connection) -> Remote:
    return Remote(conn)


@pytest.fixture(scope="module")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of this module's own on the PostgreSQL server (skips, saying why, when there is none)."""
    with postgres_database(request.module.__name__.rsplit(".", 1)[-1]) as url:
        yield url


def make_db(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Db:
    if kind == "sqlite":
        path = tmp_path / "sync.db"
        return Db(kind, f"sqlite:///{path}", path)
    if kind == "duckdb":
        path = tmp_path / "sync.duckdb"
        return Db(kind, f"duckdb:///{path}", path)
    url = request.getfixturevalue("postgres_url")
    db = Db(kind, url)
    db.sql("DROP SCHEMA public CASCADE")  # a clean database for each test
    db.sql("CREATE SCHEMA public")
    return db


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
