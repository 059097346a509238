"""Fixtures for the replication tests: target databases (SQLite and DuckDB always; PostgreSQL when a server
answers, in a database created for the test and dropped after it), a small-scale sandbox per module, and the
expected side (the sandbox's data over plain HTTP, see expected.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from helpers import FakeClock, make_config, postgres_database
from iterbridge.sandbox import Sandbox

from .expected import Source

TARGETS = ["sqlite", "duckdb", "postgresql"]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own on the PostgreSQL server, dropped after the test (skipped, saying why, when no
    server answers)."""
    with postgres_database("replicate") as url:
        yield url


def target_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest, name: str = "copy") -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    if kind == "duckdb":
        return f"duckdb:///{tmp_path / f'{name}.duckdb'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh target database of each kind (one test per kind)."""
    return target_url(request.param, tmp_path, request)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'copy.db'}"


@pytest.fixture
def source(api: httpx2.Client) -> Source:
    return Source(api)


@pytest.fixture(scope="module")
def small() -> Iterator[tuple[Sandbox, FakeClock]]:
    """A small-scale sandbox (~1k users, ~30k events) of the module's own, on a frozen clock."""
    clock = FakeClock()
    with Sandbox(make_config(clock, scale="small")) as sandbox:
        yield sandbox, clock
