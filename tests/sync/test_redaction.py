"""sync never shows a database password: not in its header ("Sync of … with URL"), its --json report, nor its
errors — whether the password is in the userinfo (even with an `@` in it) or a query parameter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from helpers import cli_env
from iterbridge.cli import main
from iterbridge.sandbox import Sandbox


def run(sandbox: Sandbox, tmp_path: Path, *args: str) -> Result:
    return CliRunner(env=cli_env(tmp_path, sandbox)).invoke(main, ["sync", "CatalogItems", "--catalog", "stores",
                                                                   *args])  # fmt: skip


def with_query_password(url: str) -> tuple[str, str]:
    scheme, rest = url.split("://", 1)
    userinfo, place = rest.rsplit("@", 1)
    user, password = userinfo.split(":", 1)
    return f"{scheme}://{user}@{place}?password={password}&sslmode=disable", password


def test_header_and_json_show_no_query_string_password(
    sandbox: Sandbox, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url, password = with_query_password(request.getfixturevalue("postgres_url"))
    shown = url.replace(f"password={password}", "password=***")
    header = run(sandbox, tmp_path, "--with", url)
    assert header.exit_code == 0, header.output
    assert f"Sync of CatalogItems:stores with {shown}" in header.stderr
    as_json = run(sandbox, tmp_path, "--with", url, "--json", "--dry-run")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["database"] == shown
    for result in (header, as_json):
        assert f"password={password}" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://me@127.0.0.1:1/db?password=Hunter2x", "postgresql://me@127.0.0.1:1/db?password=***"),
        ("postgresql://me:Hunter2@x@127.0.0.1:1/db", "postgresql://me:***@127.0.0.1:1/db"),
    ],
)
def test_errors_show_no_password(sandbox: Sandbox, tmp_path: Path, url: str, shown: str) -> None:
    result = run(sandbox, tmp_path, "--with", url)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: cannot open {shown}: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Hunter2" not in result.stderr
    assert "x@127" not in result.stderr
