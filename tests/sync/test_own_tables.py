"""`sync --table` never names one of iterbridge's own tables (`_iterbridge_state`, the sync map, the change
log, …: any `_iterbridge_*`, in any case): syncing into one would overwrite the tool's bookkeeping. Refused
in one line, exit 2, before the database or Iterable is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import cli_env
from iterbridge.cli import main
from iterbridge.sandbox import Sandbox


@pytest.mark.parametrize("table", ["_iterbridge_state", "_iterbridge_sync_map", "_ITERBRIDGE_changes", "_iterbridge_x"])
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_sync_refuses_the_tools_own_tables(sandbox: Sandbox, tmp_path: Path, table: str, dry_run: list[str]) -> None:
    path = tmp_path / "sync.db"
    args = ["sync", "CatalogItems", "--catalog", "products", "--with", f"sqlite:///{path}", "--table", table]
    result = CliRunner(env=cli_env(tmp_path, sandbox)).invoke(main, [*args, *dry_run])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        f"error: --table {table!r}: tables named _iterbridge_… are iterbridge's own bookkeeping (state, sync map, "
        "change log); choose another name"
    ]
    assert not path.exists()


def test_other_names_starting_alike_are_allowed(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "sync.db"
    args = ["sync", "CatalogItems", "--catalog", "stores", "--with", f"sqlite:///{path}", "--table", "_iterbridgeish"]
    result = CliRunner(env=cli_env(tmp_path, sandbox)).invoke(main, args)
    assert result.exit_code == 0, result.output
