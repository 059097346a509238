"""`iterbridge replicate`: the report table (stderr) or --json (stdout), exit codes (0 copied, 5 something
skipped, 1 a table failed, 2 a bad option or target), --objects, --since, --filter, errors as one line, and
neither the API key nor a database password in any output."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner, Result

import iterbridge.api.client
from helpers import Stats, cli_env
from iterbridge.api.client import RetryPolicy
from iterbridge.api.jsonlines import QUARANTINE_DIR_ENV
from iterbridge.cli import main
from iterbridge.sandbox import Sandbox

from .copies import Copy
from .expected import Source


@pytest.fixture
def run(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """`iterbridge replicate ARGS` against the shared sandbox (its limits are off), quick to retry."""
    fast = functools.partial(RetryPolicy, wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0)
    monkeypatch.setattr(iterbridge.api.client, "RetryPolicy", fast)

    def invoke(*args: str) -> Result:
        return CliRunner(env=cli_env(tmp_path, sandbox)).invoke(main, ["replicate", "--rate-limits", "off", *args])

    return invoke


def no_secrets(result: Result, *secrets: str) -> None:
    for secret in ("sandbox-api-key", *secrets):
        assert secret not in result.stdout
        assert secret not in result.stderr


def test_the_report_table(run: Callable[..., Result], sqlite_url: str, source: Source) -> None:
    result = run("--to", sqlite_url, "--objects", "Lists,Channels,Events_emailOpen")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the report is for people: stderr
    for heading in ("table", "read via", "inserted", "updated", "deleted", "API calls"):
        assert heading in result.stderr
    assert "Lists" in result.stderr
    assert "Events_emailOpen" in result.stderr
    assert f"{len(source.lists())} inserted" not in result.stderr  # the totals line sums every table
    assert "total:" in result.stderr
    assert Copy(sqlite_url).data_tables() == ["Channels", "Events_emailOpen", "Lists"]
    no_secrets(result)


def test_json_report_and_exit_code_0(run: Callable[..., Result], sqlite_url: str, source: Source) -> None:
    result = run("--to", sqlite_url, "--objects", "Lists", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["target"] == sqlite_url
    assert [s["table"] for s in report["streams"]] == ["Lists"]
    assert report["streams"][0]["inserted"] == len(source.lists())
    assert report["totals"]["api_calls"] == 1
    assert report["skipped"] == []
    no_secrets(result)


def test_a_skipped_list_exits_5_and_is_reported(
    run: Callable[..., Result], sqlite_url: str, source: Source, stats: Stats
) -> None:
    failing = source.lists()[0]["Id"]
    stats.faults(error_lists=[failing])
    result = run("--to", sqlite_url, "--objects", "Lists,ListUsers")
    assert result.exit_code == 5, result.output
    assert f"skipped ListUsers list {failing}" in " ".join(result.stderr.split())
    as_json = run("--to", sqlite_url, "--objects", "ListUsers", "--json")
    assert as_json.exit_code == 5
    assert json.loads(as_json.stdout)["skipped"][0].startswith(f"ListUsers: list {failing}: ")


def test_a_failed_table_exits_1(run: Callable[..., Result], sqlite_url: str) -> None:
    result = run("--to", sqlite_url, "--objects", "Lists,InAppMessages", "--filter", "InAppMessages:Emial = 'x'")
    assert result.exit_code == 1, result.output
    assert "failed InAppMessages" in result.stderr
    assert "Emial" in result.stderr
    assert "Traceback" not in result.output
    assert Copy(sqlite_url).rows("Lists")


def test_filter_in_app_messages_for_chosen_users(run: Callable[..., Result], sqlite_url: str, source: Source) -> None:
    users = sorted(u["Email"] for u in source.users())
    chosen = [e for e in users if source.in_app_messages(e)][:2]
    condition = "InAppMessages:Email IN (" + ", ".join(f"'{e}'" for e in chosen) + ")"
    result = run("--to", sqlite_url, "--objects", "InAppMessages", "--filter", condition, "--json")
    assert result.exit_code == 0, result.output
    rows = Copy(sqlite_url).rows("InAppMessages")
    assert sorted(r["MessageId"] for r in rows) == sorted(
        m["MessageId"] for e in chosen for m in source.in_app_messages(e)
    )
    assert {r["Email"] for r in rows} == set(chosen)


def test_since_reads_the_exports_from_that_date(run: Callable[..., Result], sqlite_url: str, source: Source) -> None:
    since = (source.now() - timedelta(days=30)).date().isoformat()
    result = run("--to", sqlite_url, "--objects", "Events_emailSend,Users", "--since", since, "--json")
    assert result.exit_code == 0, result.output
    streams = {s["table"]: s for s in json.loads(result.stdout)["streams"]}
    start = datetime.fromisoformat(since).replace(tzinfo=UTC)
    assert streams["Events_emailSend"]["rows_read"] == len(source.export("emailSend", start))
    assert 0 < streams["Events_emailSend"]["rows_read"] < len(source.export("emailSend"))
    assert streams["Users"]["rows_read"] == len(source.export("user", start))


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--to", "iterable.db"], 2, "must be a database URL"),
        (["--to", "postgresql://me:s3cret-pw@127.0.0.1:1/db"], 2, "cannot open postgresql://me:***@127.0.0.1:1/db"),
        (["--objects", "Nope"], 2, "no object 'Nope'"),
        (["--since", "yesterday"], 2, "expected a date like 2026-01-31"),
        (["--rate-limits", "fast"], 2, "expected real, off or xN"),
        (["--filter", "nocolon"], 2, 'expected OBJECT:"condition"'),
        # A filter for an object left out of --objects would be ignored without a word.
        (["--objects", "Lists", "--filter", "Events:Email = 'a@x.com'"], 2,
         "--filter Events: Events is not among --objects (Lists); add it to --objects or drop the filter"),
        (["--filter", "Users:Email = 'x'; INSERT INTO Lists(Name) VALUES ('x')"], 2,
         "--filter Users must be one expression"),
    ],
)  # fmt: skip
def test_errors_are_one_line(run: Callable[..., Result], args: list[str], code: int, message: str) -> None:
    result = run(*args)
    assert result.exit_code == code, result.output
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error", "Error"))]
    assert len(lines) == 1
    assert "replicating into" not in result.stderr  # said only once the options and the target are good
    no_secrets(result, "s3cret-pw")


def test_postgresql_password_never_shows(run: Callable[..., Result], postgres_url: str) -> None:
    result = run("--to", postgres_url, "--objects", "Lists", "--json")
    assert result.exit_code == 0, result.output
    password = postgres_url.split("@", 1)[0].rsplit(":", 1)[1]
    shown = json.loads(result.stdout)["target"]
    assert ":***@" in shown
    assert f":{password}@" not in result.stdout + result.stderr


def test_the_readme_first_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`iterbridge replicate --sandbox` (README's quick start): the embedded sandbox copied into ./iterable.db."""
    monkeypatch.chdir(tmp_path)
    arguments = ["replicate", "--sandbox", "--objects", "Campaigns,Lists,Events_emailOpen"]
    result = CliRunner(env=cli_env(tmp_path)).invoke(main, arguments)
    assert result.exit_code == 0, result.output
    import sqlite3

    with contextlib.closing(sqlite3.connect(tmp_path / "iterable.db")) as db:
        states = dict(db.execute("SELECT CampaignState, count(*) FROM Campaigns GROUP BY 1").fetchall())
        assert sum(states.values()) > 0
        assert db.execute("SELECT count(*) FROM Events_emailOpen").fetchone()[0] > 0
        # SQLite's date functions work on the stored timestamps (UTC text).
        assert db.execute("SELECT date(max(CreatedAt)) FROM Campaigns").fetchone()[0] is not None


@pytest.mark.parametrize("method", ["sync", "async"])
def test_malformed_export_lines_are_skipped_kept_and_reported(
    run: Callable[..., Result], api: httpx2.Client, stats: Stats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    method: str,
) -> None:  # fmt: skip
    """Iterable's missing comma is repaired; other bad lines go to the quarantine file the report names; every
    good row is copied; exit code 5. Through data.json and through export job files alike."""
    quarantine = tmp_path / "quarantine"
    monkeypatch.setenv(QUARANTINE_DIR_ENV, str(quarantine))
    objects = ["--objects", "Users,Events_emailSend", "--export-method", method]
    clean_url, spoiled_url = f"sqlite:///{tmp_path / 'clean.db'}", f"sqlite:///{tmp_path / 'spoiled.db'}"
    assert run("--to", clean_url, *objects).exit_code == 0
    stats.faults(missing_comma_every=2, garbage_every=9)
    served = {t: api.get("/api/export/data.json", params={"dataTypeName": t, "range": "All"}).content.splitlines()
              for t in ("user", "emailSend")}  # fmt: skip
    bad = {t: lines[8::9] for t, lines in served.items()}
    result = run("--to", spoiled_url, *objects)
    assert result.exit_code == 5, result.output
    (path,) = quarantine.iterdir()
    assert sorted(path.read_bytes().splitlines()) == sorted(bad["user"] + bad["emailSend"])
    assert f"malformed export line(s) skipped, kept verbatim in {path}" in result.stderr
    assert "export line(s) repaired (Iterable's known defect" in result.stderr
    clean, spoiled = Copy(clean_url), Copy(spoiled_url)
    for table, data_type in (("Users", "user"), ("Events_emailSend", "emailSend")):
        rows = spoiled.rows(table)
        assert len(rows) == len(clean.rows(table)) - len(bad[data_type]) > 10
        assert all(row in clean.rows(table) for row in rows)


def test_full_reports_mode_full(run: Callable[..., Result], sqlite_url: str) -> None:
    first = run("--to", sqlite_url, "--objects", "Lists,Channels", "--json")
    assert {s["table"]: s["mode"] for s in json.loads(first.stdout)["streams"]} == {
        "Lists": "incremental",
        "Channels": "full",
    }
    full = run("--to", sqlite_url, "--objects", "Lists,Channels", "--full", "--json")
    assert full.exit_code == 0, full.output
    assert {s["mode"] for s in json.loads(full.stdout)["streams"]} == {"full"}
    table = run("--to", sqlite_url, "--objects", "Lists", "--full")
    row = next(line for line in table.stderr.splitlines() if line.startswith("│ Lists"))
    assert [cell.strip() for cell in row.strip("│").split("│")][:2] == ["Lists", "full"]
