"""Tables written to a pipe or a file (click's CliRunner: not a terminal) are as wide as their content — rich
would squeeze them into 80 columns, folding operations and names over several lines and cutting a plan's
text. `objects`, `describe`, `query --explain`, `query --format table`; COLUMNS, when set, still wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from helpers import cli_env
from iterbridge.cli import main
from iterbridge.objects import OBJECTS
from iterbridge.objects.procedures import PROCEDURES
from iterbridge.sandbox import Sandbox


def invoke(tmp_path: Path, *args: str, sandbox: Sandbox | None = None, **env: str) -> Result:
    environment = {**cli_env(tmp_path, sandbox), "COLUMNS": None, **env}  # not the COLUMNS of the test's terminal
    result = CliRunner(env=environment).invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def line_with(output: str, text: str) -> str:
    lines = [line for line in output.splitlines() if text in line]
    assert lines, f"{text!r} is not whole on any line"
    return lines[0]


def test_objects_piped_keeps_every_row_on_one_line(tmp_path: Path) -> None:
    out = invoke(tmp_path, "objects").stdout
    assert max(len(line) for line in out.splitlines()) > 80
    for name, obj in OBJECTS.items():
        row = line_with(out, f" {name} ")
        assert ", ".join(["read", *obj.writes]) in row
        assert ", ".join(obj.keys) in row
    for procedure in PROCEDURES.values():
        assert procedure.description in line_with(out, f" {procedure.name} ")


def test_describe_piped_keeps_the_heading_and_notes_whole(tmp_path: Path) -> None:
    out = invoke(tmp_path, "describe", "Templates").stdout
    templates = OBJECTS["Templates"]
    assert out.splitlines()[0] == f"Templates — {templates.description}"
    for column in templates.columns:
        if column.description:
            assert column.description in line_with(out, f" {column.name} ")


def test_explain_piped_shows_the_plan_whole(tmp_path: Path, sandbox: Sandbox) -> None:
    sql = "SELECT * FROM Events WHERE EventType = 'emailOpen'"
    out = invoke(tmp_path, "query", "--explain", sql, sandbox=sandbox).stdout
    plan = json.loads(invoke(tmp_path, "query", "--explain", "--format", "json", sql, sandbox=sandbox).stdout)
    assert plan
    for step in plan:
        row = line_with(out, f" {step['object']} ")
        for value in step.values():
            assert str(value) in row


def test_a_table_of_rows_piped_is_not_squeezed(tmp_path: Path, sandbox: Sandbox) -> None:
    sql = "SELECT Id, Name, ListType, CreatedAt, Description FROM Lists ORDER BY Id"
    out = invoke(tmp_path, "query", sql, sandbox=sandbox).stdout
    rows = json.loads(invoke(tmp_path, "query", "--format", "json", sql, sandbox=sandbox).stdout)
    for row in rows:
        line = line_with(out, f" {row['Id']} ")
        assert row["Name"] in line
        assert row["CreatedAt"] in line


@pytest.mark.parametrize("width", [60, 100])
def test_columns_set_by_the_user_wins(tmp_path: Path, width: int) -> None:
    out = invoke(tmp_path, "objects", COLUMNS=str(width)).stdout
    assert max(len(line) for line in out.splitlines()) <= width
