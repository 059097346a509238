"""`iterbridge ui` through click's CliRunner: the URL it prints, the browser it opens (or not), and a console
that really serves while the command runs. Only the wait for Ctrl-C is replaced: by real requests to the
console, made while it serves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner

from helpers import cli_env
from iterbridge.cli import main
from iterbridge.sandbox import Sandbox
from iterbridge.ui import ConsoleServer

URL = re.compile(r"iterbridge console: (http://127\.0\.0\.1:(\d+)/\?token=([\w-]+))")


@pytest.fixture
def visits(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """While the command serves, requests to it, as a browser without and then with the printed URL."""
    seen: list[dict[str, Any]] = []

    def visit(server: ConsoleServer) -> None:
        with httpx2.Client(base_url=server.base, follow_redirects=True) as browser:
            refused = browser.get("/api/connection")
            browser.get(server.url)  # the printed URL: the session cookie
            seen.append(
                {"url": server.url, "refused": refused.status_code, "info": browser.get("/api/connection").json()}
            )

    monkeypatch.setattr(ConsoleServer, "wait", visit)
    return seen


def test_help_names_the_options() -> None:
    result = CliRunner().invoke(main, ["ui", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--no-browser", "--sandbox", "--profile"):
        assert option in result.output
    assert "127.0.0.1" in result.output


def test_no_browser_prints_the_url_of_a_console_that_serves(
    sandbox: Sandbox, tmp_path: Path, visits: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    result = CliRunner().invoke(main, ["ui", "--no-browser"], env=cli_env(tmp_path, sandbox))
    assert result.exit_code == 0, result.output
    found = URL.search(result.stdout)
    assert found, result.stdout
    assert opened == []
    assert visits[0]["url"] == found.group(1)
    assert visits[0]["refused"] == 403
    assert visits[0]["info"]["base_url"] == sandbox.url
    assert len(found.group(3)) >= 40  # secrets.token_urlsafe(32)
    assert sandbox.api_key not in result.output


def test_without_the_flag_the_browser_is_opened_at_the_url(
    sandbox: Sandbox, tmp_path: Path, visits: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    result = CliRunner().invoke(main, ["ui"], env=cli_env(tmp_path, sandbox))
    assert result.exit_code == 0, result.output
    assert opened == [visits[0]["url"]]


def test_each_run_has_its_own_token_and_the_sandbox_option_works(tmp_path: Path, visits: list[dict[str, Any]]) -> None:
    first = CliRunner().invoke(main, ["ui", "--sandbox", "--no-browser"], env=cli_env(tmp_path))
    second = CliRunner().invoke(main, ["ui", "--sandbox", "--no-browser"], env=cli_env(tmp_path))
    assert first.exit_code == second.exit_code == 0, first.output
    assert visits[0]["info"]["sandbox"] is True
    assert visits[0]["url"] != visits[1]["url"]


def test_a_taken_port_is_one_line_error(sandbox: Sandbox, tmp_path: Path) -> None:
    taken = sandbox.url.rsplit(":", 1)[1]
    result = CliRunner().invoke(main, ["ui", "--no-browser", "--port", taken], env=cli_env(tmp_path, sandbox))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: the console could not listen on 127.0.0.1:")
    assert "Traceback" not in result.output


def test_a_bad_port_is_refused_by_click(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ui", "--port", "99999"], env=cli_env(tmp_path))
    assert result.exit_code == 2
    assert "--port" in result.output
