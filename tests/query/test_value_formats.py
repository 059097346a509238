"""One representation of a value per format, whichever command writes it: a BOOLEAN column is true/false in
`query --format csv|json|jsonl|table` as in `export` (SQLite keeps 0/1: the column's declared type says it is a
boolean), and `export --query` writes a column of an object as `export OBJECT` does (booleans, dates in
--date-format). An expression is SQLite's own value (SQLite has no boolean type)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from helpers import cli_env
from iterbridge.cli import main
from iterbridge.sandbox import Sandbox

from .source import Source

SQL = "SELECT Id, IsGlobalSuppressionEnabled, IsGlobalSuppressionEnabled + 0 AS n FROM Lists ORDER BY Id"


@pytest.fixture
def run(sandbox: Sandbox, tmp_path: Path) -> Any:
    env = cli_env(tmp_path, sandbox)

    def invoke(*args: str) -> Result:
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    return invoke


def expected(source: Source) -> list[tuple[int, bool | None]]:
    lists = sorted(source.get("/api/lists")["lists"], key=lambda item: item["id"])
    flags = [(item["id"], item.get("isGlobalSuppressionEnabled")) for item in lists]
    assert {flag for _, flag in flags} >= {True, False}, "the tiny project has lists of both kinds"
    return flags


def text(flag: bool | None) -> str:
    return "" if flag is None else "true" if flag else "false"


def test_query_csv_writes_booleans_as_export_does(run: Any, source: Source) -> None:
    flags = expected(source)
    rows = list(csv.reader(io.StringIO(run("query", "--format", "csv", SQL).stdout)))
    assert rows[0] == ["Id", "IsGlobalSuppressionEnabled", "n"]
    assert rows[1:] == [[str(i), text(flag), "" if flag is None else str(int(flag))] for i, flag in flags]
    exported = list(csv.DictReader(io.StringIO(run("export", "Lists").stdout)))
    assert {r["Id"]: r["IsGlobalSuppressionEnabled"] for r in exported} == {r[0]: r[1] for r in rows[1:]}


@pytest.mark.parametrize("output_format", ["json", "jsonl"])
def test_query_json_writes_json_booleans(run: Any, source: Source, output_format: str) -> None:
    flags = expected(source)
    out = run("query", "--format", output_format, SQL).stdout
    rows = json.loads(out) if output_format == "json" else [json.loads(line) for line in out.splitlines()]
    assert [(r["Id"], r["IsGlobalSuppressionEnabled"]) for r in rows] == flags
    assert {type(r["IsGlobalSuppressionEnabled"]) for r in rows} <= {bool, type(None)}  # not 0/1 (== False/True)
    assert [r["n"] for r in rows] == [None if flag is None else int(flag) for _, flag in flags]  # an expression


def test_query_table_writes_true_and_false(run: Any, source: Source) -> None:
    expected(source)
    out = run("query", "SELECT IsGlobalSuppressionEnabled FROM Lists").stdout
    assert "true" in out
    assert "false" in out


def test_export_query_writes_object_columns_as_export_does(run: Any, source: Source) -> None:
    flags = expected(source)
    query = "SELECT Id, IsGlobalSuppressionEnabled, CreatedAt FROM Lists ORDER BY Id"
    by_query = list(csv.reader(io.StringIO(run("export", "--query", query, "--date-format", "iso").stdout)))
    by_object = list(
        csv.reader(
            io.StringIO(
                run("export", "Lists", "--columns", "Id,IsGlobalSuppressionEnabled,CreatedAt",
                    "--date-format", "iso").stdout
            )
        )
    )  # fmt: skip
    assert [row[1] for row in by_query[1:]] == [text(flag) for _, flag in flags]
    assert by_query[1][2].endswith("Z")  # the date format applies to a query's dates too
    # The same cells, up to the milliseconds SQL text does not keep.
    assert [[i, b, c[:19]] for i, b, c in by_query] == [[i, b, c[:19]] for i, b, c in by_object]
