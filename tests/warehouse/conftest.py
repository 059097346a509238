"""Fixtures for the dlt and Dagster tests: dlt's and Dagster's homes in the test's own folder (never the
machine's ~/.dlt or ~/.dagster), their telemetry off, and a PostgreSQL database of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import postgres_database


@pytest.fixture(autouse=True)
def dlt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """dlt's data and pipelines folders, its project folder (.dlt config) and Dagster's home under tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    monkeypatch.setenv("DLT_DATA_DIR", str(home / "dlt"))
    monkeypatch.setenv("DLT_PROJECT_DIR", str(home))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database("dlt") as url:
        yield url
