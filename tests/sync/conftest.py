"""Fixtures for the sync tests: a connection to the shared sandbox, and a database of each kind.

PostgreSQL tests run when a server is reachable at ITERBRIDGE_TEST_POSTGRES_URL (default: the local one CI
starts); each test module gets a database of its own, dropped when the module ends."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import iterbridge

from .support import Db, Remote

POSTGRES_URL = os.environ.get("ITERBRIDGE_TEST_POSTGRES_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres")
KINDS = ["sqlite", "postgresql", "duckdb"]


@pytest.fixture
def remote(conn: iterbridge.Connection) -> Remote:
    return Remote(conn)


@pytest.fixture(scope="module")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of this module's own on the PostgreSQL server (skips, saying why, when there is none)."""
    import psycopg

    shown = re.sub(r"//([^:/@]*):([^@]*)@", r"//\1:***@", POSTGRES_URL)
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {shown} (set ITERBRIDGE_TEST_POSTGRES_URL): {error}")
    name = f"iterbridge_{request.module.__name__.rsplit('.', 1)[-1]}_{os.getpid()}".lower()
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


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
