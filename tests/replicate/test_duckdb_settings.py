"""DuckDB settings in a target's URL (`duckdb:///copy.duckdb?memory_limit=2GB&threads=2`, dburl.duckdb_settings):
only the names iterbridge takes, each value matched by its pattern before it is written into a SET statement
(which takes no parameters), and the URL's limit kept whatever tables the run writes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from helpers import connect_to
from iterbridge.dburl import duckdb_path, duckdb_settings
from iterbridge.errors import ConfigurationError
from iterbridge.replicate import targets
from iterbridge.replicate.targets import DuckDbTarget, TableSpec, open_target
from iterbridge.sandbox import Sandbox

from .test_batches import COLUMNS
from .test_duckdb_stage import LimitRecorder, shown_limit
from .test_runner import run_with

BULK = TableSpec("Bulk", COLUMNS[:4], ("Id",), bulk=True)


def setting(target: DuckDbTarget, name: str) -> str:
    return str(target.db.execute(f"SELECT current_setting('{name}')").fetchone()[0])


def test_a_url_gives_its_settings_and_the_path_without_them() -> None:
    url = "duckdb:////data/copy.duckdb?memory_limit=2GB&THREADS=3"
    assert duckdb_path(url) == "/data/copy.duckdb"
    assert duckdb_settings(url) == {"memory_limit": "2GB", "threads": "3"}
    assert duckdb_settings("duckdb:///copy.duckdb?memory_limit=1.5%20GiB") == {"memory_limit": "1.5 GiB"}
    assert duckdb_settings("duckdb:///copy.duckdb") == {}
    assert duckdb_path("duckdb:///:memory:?threads=1") == ":memory:"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("access_mode=READ_WRITE", "'access_mode' is no DuckDB setting iterbridge takes (memory_limit and threads)"),
        ("memory_limit=2GB'; ATTACH 'x", "memory_limit=\"2GB'; ATTACH 'x\" must be a size like 2GB or 512MB"),
        ("memory_limit=lots", "memory_limit='lots' must be a size like 2GB or 512MB"),
        ("memory_limit", "memory_limit='' must be a size like 2GB or 512MB"),
        ("threads=0", "threads='0' must be a number of threads like 4"),
        ("threads=2;", "threads='2;' must be a number of threads like 4"),
    ],
)
def test_a_setting_not_taken_is_refused_by_name(query: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        duckdb_settings(f"duckdb:///copy.duckdb?{query}")
    assert str(refused.value).endswith(message)


def test_the_urls_settings_are_the_connections(tmp_path: Path) -> None:
    target = open_target(f"duckdb:///{tmp_path / 'set.duckdb'}?memory_limit=1GB&threads=1")
    assert isinstance(target, DuckDbTarget)
    try:
        target.prepare(BULK, recreate=False)  # a bulk table: without a limit of its own, 256 MB
        assert setting(target, "memory_limit") == shown_limit("1GB")
        assert setting(target, "threads") == "1"
        assert setting(target, "checkpoint_threshold") == shown_wal(targets.DUCKDB_CHECKPOINT_WAL)
    finally:
        target.close()
    assert (tmp_path / "set.duckdb").exists()
    assert not list(tmp_path.glob("*memory_limit*"))  # the settings are no part of the file's name


def shown_wal(size: str) -> str:
    with duckdb.connect() as db:
        db.execute(f"SET checkpoint_threshold = '{size}'")
        return str(db.execute("SELECT current_setting('checkpoint_threshold')").fetchone()[0])


def test_a_replication_writes_under_the_urls_limit(sandbox: Sandbox, tmp_path: Path) -> None:
    """A run writing bulk tables only holds DuckDB's cache to 256 MB, unless the URL says otherwise."""
    limits: list[str] = []
    with connect_to(sandbox) as conn:
        for url in (f"duckdb:///{tmp_path / 'ours.duckdb'}", f"duckdb:///{tmp_path / 'own.duckdb'}?memory_limit=3GB"):
            report = run_with(conn, LimitRecorder(open_target(url), limits), ["Events_emailOpen"])
            assert report.ok
            assert report.stream("Events_emailOpen").inserted > 10
    assert limits == [shown_limit(targets.DUCKDB_MEMORY_LIMIT), shown_limit("3GB")]
