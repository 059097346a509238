"""`iterbridge replicate --to dlt:DESTINATION`: the same report and exit codes as a database target, the
destination's settings from dlt's own config (here its environment variables), counts equal to the API's, and
one-line errors for an unknown destination or a missing setting."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner, Result

import iterbridge
from helpers import cli_env
from iterbridge.cli import main
from iterbridge.sandbox import Sandbox
from replicate.expected import Source

from .support import Landed

OBJECTS = "Lists,Campaigns,Users,Events_emailOpen"


def replicate(sandbox: Sandbox, tmp_path: Path, *args: str, **dlt_env: str) -> Result:
    env = {**cli_env(tmp_path, sandbox), **dlt_env}
    return CliRunner(env=env).invoke(main, ["replicate", "--rate-limits", "off", *args])


@pytest.mark.parametrize("kind", ["duckdb", "filesystem"])
def test_replicate_to_a_dlt_destination(sandbox: Sandbox, api: httpx2.Client, tmp_path: Path, kind: str) -> None:
    setting = {
        "duckdb": {"DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "copy.duckdb")},
        "filesystem": {"DESTINATION__FILESYSTEM__BUCKET_URL": str(tmp_path / "lake")},
    }[kind]
    result = replicate(sandbox, tmp_path, "--to", f"dlt:{kind}", "--objects", OBJECTS, "--json", **setting)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    source = Source(api)
    expected = {"Lists": source.lists(), "Campaigns": source.campaigns(), "Users": source.users(),
                "Events_emailOpen": source.events("emailOpen")}  # fmt: skip
    read = {s["table"]: s["rows_read"] for s in report["streams"]}
    assert read == {table: len(rows) for table, rows in expected.items()}
    assert report["ok"] is True
    assert report["totals"]["api_calls"] >= 4
    where = setting[next(iter(setting))]
    with iterbridge.connect(api_key=sandbox.api_key, base_url=sandbox.url, rate_limit_factor=None) as conn:
        landed = Landed(conn, kind, where, "iterable")
        for table, rows in expected.items():
            assert len(landed.rows(table)) == len(rows), table
    assert sandbox.api_key not in result.output


def test_an_unknown_destination_is_one_line(sandbox: Sandbox, tmp_path: Path) -> None:
    result = replicate(sandbox, tmp_path, "--to", "dlt:nowhere", "--objects", "Lists")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --to dlt:nowhere: dlt has no destination")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["os.path", "dlt.destinations.duckdb", "../duckdb", "DuckDB"])
def test_a_destination_is_a_plain_name_never_a_module(sandbox: Sandbox, tmp_path: Path, name: str) -> None:
    """dlt imports a dotted destination reference as a module: the text after dlt: is never imported or used as
    a folder name unless it is a plain lower-case name."""
    result = replicate(sandbox, tmp_path, "--to", f"dlt:{name}", "--objects", "Lists")
    assert result.exit_code == 2
    assert "a dlt destination is a plain name" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.output


def test_a_missing_destination_setting_is_one_line(sandbox: Sandbox, tmp_path: Path) -> None:
    result = replicate(sandbox, tmp_path, "--to", "dlt:filesystem", "--objects", "Lists")
    assert result.exit_code == 2, result.output
    assert "bucket_url" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.output


def test_the_core_install_does_not_import_dlt_or_dagster() -> None:
    """Neither the package, its CLI nor a replication into a database loads dlt or Dagster; they are extras."""
    code = (
        "import sys, iterbridge, iterbridge.cli, iterbridge.replicate, iterbridge.replicate.targets; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dlt', 'dagster', 'dagster_dlt')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = " ".join(project["dependencies"]).lower()
    assert "dlt" not in core
    assert "dagster" not in core
    assert any(r.startswith("dlt[") for r in project["optional-dependencies"]["dlt"])


def test_a_refused_key_exits_as_for_a_database_target(sandbox: Sandbox, tmp_path: Path) -> None:
    env = {**cli_env(tmp_path, sandbox), "ITERABLE_API_KEY": "not-the-key",
           "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "copy.duckdb")}  # fmt: skip
    result = CliRunner(env=env).invoke(main, ["replicate", "--to", "dlt:duckdb", "--objects", "Lists"])
    assert result.exit_code == 4, result.output
    assert "not-the-key" not in result.output
    assert "Traceback" not in result.output


def test_the_report_says_which_lists_were_derived(sandbox: Sandbox, api: httpx2.Client, tmp_path: Path) -> None:
    lists = api.get("/api/lists").json()["lists"]
    standard = sorted(lst["id"] for lst in lists if lst["listType"] == "Standard")
    others = sorted(lst["id"] for lst in lists if lst["listType"] != "Standard")
    setting = {"DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "copy.duckdb")}
    args = ["--to", "dlt:duckdb", "--objects", "Users,ListUsers"]
    result = replicate(sandbox, tmp_path, *args, "--json", **setting)
    assert result.exit_code == 0, result.output
    streams = {s["table"]: s for s in json.loads(result.stdout)["streams"]}
    assert streams["ListUsers"]["derived"] == {"source": "Users", "noun": "list", "derived": standard,
                                               "called": others}  # fmt: skip
    # The next run reads users from their cursor: every list through getUsers, and no such line.
    again = replicate(sandbox, tmp_path, *args, **setting)
    assert again.exit_code == 0, again.output
    assert "derived from" not in again.output
