"""SQL that reads or writes local files: ATTACH DATABASE and VACUUM INTO are refused by
default, from the CLI and from Python; `--allow-local-files` / `allow_local_files=True` allow them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import iterbridge
from helpers import cli_env
from iterbridge.cli import main
from iterbridge.errors import QueryError
from iterbridge.sandbox import Sandbox


@pytest.fixture
def run(sandbox: Sandbox, tmp_path: Path) -> Any:
    env = cli_env(tmp_path, sandbox)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, ["query", *args], env=env, catch_exceptions=False)

    return invoke


@pytest.mark.parametrize("statement", ["ATTACH DATABASE '{path}' AS other", "VACUUM INTO '{path}'"])
def test_local_files_are_refused_by_default(run: Any, conn: iterbridge.Connection, tmp_path: Path,
                                            statement: str) -> None:  # fmt: skip
    path = tmp_path / "written.db"
    result = run(statement.format(path=path))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "local files: refused" in lines[0]
    assert "--allow-local-files" in lines[0]
    with pytest.raises(QueryError, match="local files: refused"):
        conn.sql(statement.format(path=path))
    assert not path.exists()


def test_allow_local_files(run: Any, conn: iterbridge.Connection, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    result = run("--allow-local-files", f"VACUUM INTO '{copy}'")
    assert result.exit_code == 0, result.output
    assert copy.exists()
    other = tmp_path / "other.db"
    conn.sql(f"ATTACH DATABASE '{other}' AS other", allow_local_files=True)
    conn.sql("CREATE TABLE other.kept AS SELECT Name FROM Channels", allow_local_files=True)
    assert other.exists()
    # An attached database stays refused to a statement not allowed local files.
    with pytest.raises(QueryError, match="local files: refused"):
        conn.sql("SELECT count(*) FROM other.kept")
    assert conn.sql("SELECT count(*) FROM other.kept", allow_local_files=True).fetchone() == (6,)
