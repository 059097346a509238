"""`iterbridge sync` on the command line: the report (a table, or JSON), exit codes, one-line errors, and
neither the API key nor a database password in anything it prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from iterbridge.cli import main
from iterbridge.sandbox import Sandbox
from iterbridge.sync.store import SyncStore

from .support import Db


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> CliRunner:
    for name in ("ITERABLE_REGION", "ITERABLE_BASE_URL", "ITERBRIDGE_PROFILE", "ITERBRIDGE_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ITERBRIDGE_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("ITERABLE_API_KEY", sandbox.api_key)
    return CliRunner()


def run(runner: CliRunner, sandbox: Sandbox, *args: str) -> Result:
    result = runner.invoke(main, ["sync", *args, "--base-url", sandbox.url])
    assert sandbox.api_key not in result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr
    return result


def test_the_report_table(runner: CliRunner, sandbox: Sandbox, sqlite_db: Db) -> None:
    result = run(runner, sandbox, "CatalogItems", "--catalog", "products", "--with", sqlite_db.url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # the report is for people: stderr
    assert "Sync of CatalogItems:products with sqlite:///" in result.stderr
    database_row = next(line for line in result.stderr.splitlines() if "database" in line and "│" in line)
    assert [cell.strip() for cell in database_row.strip("│ ").split("│")] == ["database", "25", "0", "0", "0"]
    assert "matched: 0, conflicts: 0, failed: 0, left to retry: 0" in result.stderr


def test_json_report(runner: CliRunner, sandbox: Sandbox, sqlite_db: Db) -> None:
    sqlite_db.create_items_table({"sku-000001": {"name": "Mine"}, "mine-only": {"name": "Mine only"}})
    result = run(runner, sandbox, "CatalogItems", "--catalog", "products", "--with", sqlite_db.url, "--json",
                 "--conflict", "database")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["stream"] == "CatalogItems:products"
    assert report["to_iterable"] == {"creates": 1, "updates": 1, "deletes": 0, "conflicts": 1}
    assert report["to_database"] == {"creates": 24, "updates": 0, "deletes": 0, "conflicts": 0}
    assert report["conflicts"] == 1
    assert report["left_to_retry"] == 0
    assert report["api_calls"] >= 3
    plan = {(a["key"], a["target"], a["operation"]) for a in report["plan"]}
    assert ("mine-only", "iterable", "create") in plan
    assert ("sku-000001", "iterable", "update") in plan
    assert all("record" not in a for a in report["plan"])


def test_records_left_to_retry_exit_6(runner: CliRunner, sandbox: Sandbox, sqlite_db: Db) -> None:
    sqlite_db.create_items_table({"bad-item": {"dotted.name": 1}})
    args = ("CatalogItems", "--catalog", "products", "--with", sqlite_db.url)
    result = run(runner, sandbox, *args)
    assert result.exit_code == 6, result.stderr
    assert "left to retry: 1" in result.stderr
    assert "failed: create bad-item in iterable:" in result.stderr
    assert "dotted.name" in result.stderr
    again = run(runner, sandbox, *args, "--json")
    assert again.exit_code == 6
    assert json.loads(again.stdout)["failures"][0]["key"] == "bad-item"


def test_dry_run_prints_the_plan(runner: CliRunner, sandbox: Sandbox, sqlite_db: Db) -> None:
    result = run(runner, sandbox, "CatalogItems", "--catalog", "stores", "--with", sqlite_db.url, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "Plan of CatalogItems:stores" in result.stderr
    assert result.stderr.count("  would create ") == 5
    assert "dry run: nothing was changed" in result.stderr
    assert not sqlite_db.exists("CatalogItems")


def test_templates(runner: CliRunner, sandbox: Sandbox, sqlite_db: Db) -> None:
    result = run(runner, sandbox, "Templates", "--medium", "email", "--medium", "push", "--with", sqlite_db.url,
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["stream"] == "Templates:email,push"
    assert report["to_database"]["creates"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["CatalogItems", "--with", "sqlite:///x.db"], "needs --catalog"),
        (["CatalogItems", "--catalog", "no-such-catalog", "--with", "sqlite:///x.db"],
         "catalog 'no-such-catalog' does not exist in Iterable"),
        (["CatalogItems", "--catalog", "products", "--with", "not a url"], "--with must be a database URL"),
        (["Templates", "--medium", "fax", "--with", "sqlite:///x.db"], "--medium must be email, push, sms or inapp"),
    ],
)  # fmt: skip
def test_errors_are_one_line(
    runner: CliRunner, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(runner, sandbox, *args)
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert not (tmp_path / "x.db").exists()  # refused before the database is touched


def test_a_bad_policy_is_a_usage_error(runner: CliRunner, sandbox: Sandbox, sqlite_db: Db) -> None:
    result = run(runner, sandbox, "CatalogItems", "--catalog", "products", "--with", sqlite_db.url,
                 "--conflict", "loudest")  # fmt: skip
    assert result.exit_code == 2
    assert "loudest" in result.stderr


def test_no_database_password_in_output(runner: CliRunner, sandbox: Sandbox, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url")
    import psycopg

    secret = "Zx9-not-for-logs"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS iterbridge_sync_cli")
        admin.execute(f"CREATE ROLE iterbridge_sync_cli LOGIN PASSWORD '{secret}'")
        admin.execute("GRANT ALL ON SCHEMA public TO iterbridge_sync_cli")
        database = url.rsplit("/", 1)[1]
        admin.execute(f'GRANT ALL ON DATABASE "{database}" TO iterbridge_sync_cli')
    try:
        host = url.split("@", 1)[1]
        good = f"postgresql://iterbridge_sync_cli:{secret}@{host}"
        result = run(runner, sandbox, "CatalogItems", "--catalog", "stores", "--with", good, "--json")
        assert result.exit_code == 0, result.stderr
        assert secret not in result.output + result.stderr
        assert "//iterbridge_sync_cli:***@" in json.loads(result.stdout)["database"]
        wrong = f"postgresql://iterbridge_sync_cli:{secret}-wrong@{host}"
        failed = run(runner, sandbox, "CatalogItems", "--catalog", "stores", "--with", wrong)
        assert failed.exit_code == 2
        assert secret not in failed.output + failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("DROP OWNED BY iterbridge_sync_cli")
            admin.execute("DROP ROLE IF EXISTS iterbridge_sync_cli")


def test_database_errors_never_carry_the_password(request: pytest.FixtureRequest) -> None:
    """Errors the sync records (retry table, report) pass through the target's error text, which knows the
    URL's password — not a bare one-line form that does not."""
    url = request.getfixturevalue("postgres_url")
    password = url.split("//", 1)[1].split("@", 1)[0].split(":", 1)[1]
    store = SyncStore(url)
    try:
        text = store.error_text(RuntimeError(f'connection to "{url}" failed'))
    finally:
        store.close()
    # Not even as a word of its own (the test server's password, "postgres", is also a part of "postgresql").
    assert re.search(rf"(?<!\w){re.escape(password)}(?!\w)", text) is None, text
    assert text.startswith('connection to "postgresql://')
    assert text.endswith('" failed')
