"""`iterbridge query` end to end (click's CliRunner) against the shared sandbox, reached through the
environment (ITERABLE_API_KEY / ITERABLE_BASE_URL) so its call counts can be checked; one run uses
`--sandbox`. Output formats, -p parameters, --explain, --dry-run, one-line errors, and the shell."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from helpers import cli_env
from iterbridge.cli import main
from iterbridge.sandbox import Sandbox

from .source import Source
from .support import Stats


@pytest.fixture
def run(sandbox: Sandbox, tmp_path: Path) -> Any:
    env = {**cli_env(tmp_path, sandbox), "XDG_DATA_HOME": str(tmp_path / "data")}

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(main, ["query", *args], env=env, input=stdin, catch_exceptions=False)

    return invoke


def one_line_error(result: Result) -> str:
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_csv_is_exact(run: Any, source: Source) -> None:
    lists = sorted(source.lists(), key=lambda item: item["Id"])
    result = run("SELECT Id, Name, Description, CreatedAt FROM Lists ORDER BY Id", "--format", "csv")
    assert result.exit_code == 0, result.output
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Id", "Name", "Description", "CreatedAt"])
    for item in lists:
        writer.writerow([item["Id"], item["Name"], item["Description"] or "", item["CreatedAt"]])
    assert result.stdout == buffer.getvalue()
    assert any(item["Description"] is None for item in lists)
    assert any(item["Description"] for item in lists)


def test_json_and_jsonl_are_exact(run: Any, source: Source) -> None:
    lists = sorted(source.lists(), key=lambda item: item["Id"])
    expected = [{"Id": i["Id"], "Name": i["Name"], "Description": i["Description"]} for i in lists]
    result = run("SELECT Id, Name, Description FROM Lists ORDER BY Id", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected
    assert "—" in result.stdout  # non-ASCII stays as is
    result = run("SELECT Id, Name, Description FROM Lists ORDER BY Id", "--format", "jsonl")
    assert [json.loads(line) for line in result.stdout.splitlines()] == expected
    empty = run("SELECT Id FROM Lists WHERE Id < 0", "--format", "json")
    assert json.loads(empty.stdout) == []


def test_table_shows_null_and_truncates_long_text(run: Any, source: Source) -> None:
    template = next(t for t in source.templates() if t["MessageMedium"] == "Email")
    html = source.template_detail("Email", template["Id"])["html"]
    assert len(html) > 100
    result = run(f"SELECT Id, HTML, CampaignId FROM Templates WHERE Id = {template['Id']}")
    assert result.exit_code == 0, result.output
    assert str(template["Id"]) in result.stdout
    assert "NULL" in result.stdout  # a base template has no campaign
    assert html[:20] in result.stdout
    assert html not in result.stdout
    assert "…" in result.stdout
    assert "1 row" in result.stderr


def test_parameters_are_typed(run: Any, source: Source) -> None:
    campaigns = source.campaigns()
    expected = sorted(c["Id"] for c in campaigns if c["CampaignState"] == "Running" and c["Id"] > 7953300)
    result = run(
        "SELECT Id FROM Campaigns WHERE CampaignState = :state AND Id > :above ORDER BY Id",
        "-p", "state=Running", "-p", "above=7953300", "--format", "csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [int(v) for v in result.stdout.split()[1:]] == expected
    typed = run("SELECT typeof(:n), typeof(:x), typeof(:s), :j", "-p", "n=3", "-p", "x=1.5", "-p", "s=abc",
                "-p", "j=[1, 2]", "--format", "csv")  # fmt: skip
    assert typed.stdout.splitlines()[1] == 'integer,real,text,"[1, 2]"'
    bad = run("SELECT 1", "-p", "novalue")
    assert bad.exit_code == 2
    assert "expected name=value" in bad.output


def test_explain_lists_the_plan_and_reads_no_data(run: Any, stats: Stats) -> None:
    with stats.counting() as made:
        result = run(
            "--explain", "--format", "json",
            "SELECT u.Email, e.EventName FROM Users u JOIN Events e ON e.Email = u.Email "
            "WHERE u.Email IN ('a@example.com', 'b@example.com')",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = {row["object"]: row for row in json.loads(result.stdout)}
    assert plan["Users"]["endpoint"] == "GET /api/users/{email}"
    assert plan["Users"]["pushed down"] == "Email in"
    assert plan["Users"]["api calls"] == "1 per value"
    assert plan["Events"]["pushed down"] == "Email ="
    assert "userEvents" in plan["Events"]["endpoint"]
    assert set(made) <= {"GET /api/users/getFields"}  # metadata only

    with stats.counting() as made:
        result = run("--explain", "--format", "json", "SELECT EventName, count(*) FROM Events GROUP BY 1")
    [row] = json.loads(result.stdout)
    assert row["pushed down"] == "none"
    assert row["columns fetched"] == "EventName"
    assert row["api calls"].startswith("52 event types")
    assert "4.0 per minute" in row["time under the rate limits"]
    assert "min" in row["time under the rate limits"]
    assert made == {}

    with stats.counting() as made:
        result = run("--explain", "--format", "json", "CALL AbortCampaign(:id)", "-p", "id=1")
    [row] = json.loads(result.stdout)
    assert (row["object"], row["endpoint"], row["api calls"]) == ("AbortCampaign", "POST /api/campaigns/abort", "1")
    assert made == {}

    result = run("--explain", "--format", "json", "SELECT Subject FROM Templates WHERE TemplateType = 'Base' LIMIT 3")
    [row] = json.loads(result.stdout)
    assert row["pushed down"] == "TemplateType ="
    assert "+ 1 per template" in row["api calls"]


def test_dry_run_prints_the_writes_and_sends_none(run: Any, source: Source, stats: Stats, sandbox: Sandbox) -> None:
    lists = source.lists()
    with stats.counting() as made:
        result = run("--dry-run", "INSERT INTO Lists (Name, Description) VALUES ('Dry', 'run')")
    assert result.exit_code == 0, result.output
    assert made == {}
    assert result.stdout.splitlines()[0] == f"POST {sandbox.url}/api/lists"
    assert json.loads(result.stdout.split("\n", 1)[1]) == {"name": "Dry", "description": "run"}
    assert "1 request would be sent" in result.stderr
    assert source.lists() == lists

    victim = lists[-1]["Id"]
    with stats.counting() as made:
        result = run("--dry-run", f"DELETE FROM Lists WHERE Id = {victim}")
    assert result.stdout.strip() == f"DELETE {sandbox.url}/api/lists/{victim}"
    assert made == {"GET /api/lists": 1}  # reading which rows to delete is not a write
    assert source.lists() == lists

    campaign = next(c for c in source.campaigns() if c["Type"] == "Triggered" and c["CampaignState"] == "Running")
    with stats.counting() as made:
        result = run("--dry-run", f"CALL TriggerCampaign({campaign['Id']}, [{lists[2]['Id']}])")
    assert made == {}
    assert "campaigns/trigger" in result.stdout
    assert '"allowRepeatMarketingSends": true' in result.stdout


@pytest.mark.parametrize(
    ("sql", "code", "texts"),
    [
        ("SELEC Id FROM Lists", 2, ['near "SELEC": syntax error', "line 1, column 1"]),
        ("SELECT Id FROM Lists\nWHERE Id = = 1", 2, ["syntax error", "line 2, column 12"]),
        ("SELECT Id FROM Lists WHERE", 2, ["incomplete input"]),
        ("SELECT * FROM Lsts", 2, ["unknown object 'Lsts'", "did you mean Lists"]),
        ("SELECT Nmae FROM Lists", 2, ["Lists has no column 'Nmae'", "did you mean Name"]),
        ("SELECT * FROM InAppMessages", 2, ["InAppMessages", "Email = …"]),
        ("UPDATE Campaigns SET Name = 'x'", 2, ["Campaigns does not support UPDATE", "INSERT"]),
        ("CALL Nothing(1)", 2, ["unknown object 'Nothing'"]),
        ("INSERT INTO Campaigns (Name, TemplateId) VALUES ('x', 999)", 3,
         ["1 of 1 rows refused", "Template ID: 999 does not exist"]),
    ],
)  # fmt: skip
def test_errors_are_one_line(run: Any, sql: str, code: int, texts: list[str]) -> None:
    line = one_line_error(run(sql))
    for text in texts:
        assert text in line
    assert run(sql).exit_code == code


def test_iterables_refusal_of_an_action(run: Any, source: Source) -> None:
    finished = next(c for c in source.campaigns() if c["CampaignState"] == "Finished")
    result = run(f"CALL AbortCampaign({finished['Id']})")
    line = one_line_error(result)
    assert f"Campaign abort failed. Id: {finished['Id']}" in line
    assert result.exit_code == 3


def test_several_statements_in_one_run(run: Any, source: Source) -> None:
    result = run("INSERT INTO Lists (Name) VALUES ('multi'); SELECT count(*) FROM Lists", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["count(*)", str(len(source.lists()))]
    assert "1 row inserted in Lists (1 API call)" in result.stderr


def test_shell_runs_multi_line_statements_and_dot_commands(run: Any, source: Source) -> None:
    lists = sorted(source.lists(), key=lambda item: item["Id"])
    script = "\n".join(
        [
            "SELECT Id,",
            "       Name",
            "FROM Lists",
            "ORDER BY Id;",
            ".tables",
            ".schema Users",
            ".format json",
            "SELECT count(*) AS n FROM Lists;",
            "SELECT * FROM Nope;",  # piped input is a script: the first failure ends it, with its exit code
            ".quit",
            "SELECT 'never reached';",
        ]
    )
    result = run("--format", "csv", stdin=script + "\n")
    assert result.exit_code == 2, result.output
    out = result.stdout.splitlines()
    assert out[: len(lists) + 1] == ["Id,Name", *(f"{i['Id']},{i['Name']}" for i in lists)]
    tables = out[len(lists) + 1].split()
    assert {"Campaigns", "Users", "Events", "InAppMessages"} <= set(tables)
    schema = "\n".join(out)
    assert "  Email TEXT  (key)" in schema
    assert "  SignupDate TIMESTAMP  (read-only)" in schema
    assert "  loyaltyPoints INTEGER" in schema  # a custom field of the project
    assert json.loads("\n".join(out[out.index("[") :])) == [{"n": len(lists)}]
    assert "error: unknown object 'Nope'" in result.stderr
    assert "never reached" not in result.output


def test_embedded_sandbox_option(tmp_path: Path) -> None:
    env = {"ITERBRIDGE_CONFIG": str(tmp_path / "none.toml"), "ITERABLE_API_KEY": None, "ITERABLE_BASE_URL": None}
    result = CliRunner().invoke(
        main, ["query", "--sandbox", "--format", "csv", "SELECT count(*), min(Name) FROM Channels"], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["count(*),min(Name)", "6,Default WebPush channel"]


def test_shell_ctrl_c_drops_the_statement_and_sigterm_ends_the_shell(sandbox: Sandbox, tmp_path: Path) -> None:
    """Ctrl-C in the shell forgets what was typed and goes on; SIGTERM (a closing terminal, a stopping
    container) ends it with one line and exit code 143."""
    env = {k: v for k, v in {**os.environ, **cli_env(tmp_path, sandbox)}.items() if v is not None}
    shell = subprocess.Popen([sys.executable, "-m", "iterbridge", "query", "--format", "csv"], env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert shell.stdin is not None
    assert shell.stdout is not None
    try:
        shell.stdin.write("SELECT 1 AS first;\n")
        shell.stdin.flush()
        assert [shell.stdout.readline(), shell.stdout.readline()] == ["first\n", "1\n"]
        shell.stdin.write("SELECT 'dropped'\n")  # no ; yet: a statement being typed
        shell.stdin.flush()
        time.sleep(0.3)
        shell.send_signal(signal.SIGINT)
        time.sleep(0.3)
        shell.stdin.write("SELECT 2 AS second;\n")
        shell.stdin.flush()
        assert [shell.stdout.readline(), shell.stdout.readline()] == ["second\n", "2\n"]
        shell.send_signal(signal.SIGTERM)
        _, stderr = shell.communicate(timeout=30)
    finally:
        shell.kill()
    assert shell.returncode == 143
    assert stderr.strip().splitlines()[-1] == "error: terminated"
    assert "Traceback" not in stderr
    assert "dropped" not in stderr
