"""Targets that cannot keep a copy: one line, exit 2, nothing read or written.

- `--to ''` is a mistake, not the default iterable.db; an in-memory database (sqlite://, sqlite:///:memory:,
  duckdb://, duckdb:///:memory:) would keep nothing once the command ends.
- A SQLite database that cannot be written. The tests run as root, for whom chmod stops no write, so they use
  what fails for root too: SQLite's own read-only open (`?mode=ro&uri=true`: the first write fails exactly as
  on a read-only file system, SQLITE_READONLY), and a path whose parent is a regular file (ENOTDIR). Both
  used to end in "internal error" (exit 70) for the first case.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import iterbridge.api.client
from helpers import Stats, cli_env
from iterbridge.api.client import RetryPolicy
from iterbridge.cli import main
from iterbridge.sandbox import Sandbox

IN_MEMORY = ["sqlite://", "sqlite:///:memory:", "sqlite:///", "duckdb://", "duckdb:///:memory:"]


@pytest.fixture
def run(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    fast = functools.partial(RetryPolicy, wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0)
    monkeypatch.setattr(iterbridge.api.client, "RetryPolicy", fast)
    monkeypatch.chdir(tmp_path)  # where iterable.db would appear

    def invoke(*args: str) -> Result:
        return CliRunner(env=cli_env(tmp_path, sandbox)).invoke(main, list(args))

    return invoke


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def read_only_sqlite(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "readonly.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE mine (a)")
    return f"sqlite:///file:{path}?mode=ro&uri=true", path


@pytest.mark.parametrize("url", ["", *IN_MEMORY])
def test_replicate_refuses_an_empty_or_in_memory_target(
    run: Callable[..., Result], stats: Stats, tmp_path: Path, url: str
) -> None:
    with stats.counting() as calls:
        line = one_line_error(run("replicate", "--rate-limits", "off", "--objects", "Lists", "--to", url))
    assert ("--to is empty" if url == "" else f"--to {url} is an in-memory database") in line
    assert calls == {}  # refused before anything is read
    assert not (tmp_path / "iterable.db").exists()


@pytest.mark.parametrize("url", ["", *IN_MEMORY])
def test_sync_refuses_an_empty_or_in_memory_database(run: Callable[..., Result], tmp_path: Path, url: str) -> None:
    line = one_line_error(run("sync", "CatalogItems", "--catalog", "products", "--with", url))
    assert ("--with is empty" if url == "" else f"--with {url} is an in-memory database") in line
    assert not (tmp_path / "iterable.db").exists()


def test_replicate_into_a_read_only_sqlite_database(run: Callable[..., Result], tmp_path: Path) -> None:
    url, path = read_only_sqlite(tmp_path)
    before = path.read_bytes()
    line = one_line_error(run("replicate", "--rate-limits", "off", "--objects", "Lists", "--to", url))
    assert line.startswith(f"error: cannot write to {url}: ")
    assert "readonly database" in line
    assert path.read_bytes() == before


def test_sync_with_a_read_only_sqlite_database(run: Callable[..., Result], tmp_path: Path) -> None:
    url, path = read_only_sqlite(tmp_path)
    before = path.read_bytes()
    line = one_line_error(run("sync", "CatalogItems", "--catalog", "products", "--with", url))
    assert line.startswith(f"error: cannot write to {url}: ")
    assert path.read_bytes() == before


@pytest.mark.parametrize("command", ["replicate", "sync"])
def test_a_database_under_a_regular_file(run: Callable[..., Result], tmp_path: Path, command: str) -> None:
    (tmp_path / "plain-file").write_text("not a directory")
    url = f"sqlite:///{tmp_path / 'plain-file' / 'copy.db'}"
    if command == "replicate":
        result = run("replicate", "--rate-limits", "off", "--objects", "Lists", "--to", url)
    else:
        result = run("sync", "CatalogItems", "--catalog", "products", "--with", url)
    line = one_line_error(result)
    assert line.startswith(f"error: cannot write to {url}: Not a directory")


@pytest.mark.parametrize("command", ["replicate", "sync"])
def test_a_duckdb_setting_not_taken(run: Callable[..., Result], stats: Stats, tmp_path: Path, command: str) -> None:
    url = f"duckdb:///{tmp_path / 'copy.duckdb'}?memory_limit=2GB&preserve_insertion_order=false"
    with stats.counting() as calls:
        if command == "replicate":
            result = run("replicate", "--rate-limits", "off", "--objects", "Lists", "--to", url)
        else:
            result = run("sync", "CatalogItems", "--catalog", "products", "--with", url)
    line = one_line_error(result)
    assert (
        line
        == f"error: {url}: 'preserve_insertion_order' is no DuckDB setting iterbridge takes (memory_limit and threads)"
    )
    assert calls == {}  # refused before anything is read
    assert list(tmp_path.glob("copy.duckdb*")) == []
