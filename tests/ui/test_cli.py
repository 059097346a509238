"""`iterbridge ui` through click's CliRunner: the URL it prints, the browser it opens (or not), and a console
that really serves while the command runs. Only the wait for Ctrl-C is replaced: by real requests to the
console, made while it serves."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner

import iterbridge
from helpers import CLI_SETTINGS, cli_env
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


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_the_console_cleanly(tmp_path: Path, signal_number: int) -> None:
    """A real process: it prints the URL, serves, and ends with exit code 0 when told to stop."""
    environment = {**os.environ, **{k: v for k, v in cli_env(tmp_path).items() if v is not None}}
    for name in CLI_SETTINGS:
        environment.pop(name, None)
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(iterbridge.__file__).parents[1]), os.environ.get("PYTHONPATH")) if p
    )
    environment["PYTHONFAULTHANDLER"] = "1"  # a crash at exit (seen once: -11 after "console stopped") says where
    process = subprocess.Popen(
        [sys.executable, "-m", "iterbridge", "ui", "--sandbox", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        found = URL.search(process.stdout.readline())
        assert found
        with httpx2.Client(follow_redirects=True) as browser:
            browser.get(found.group(1))
            assert browser.get(f"http://127.0.0.1:{found.group(2)}/api/connection").json()["sandbox"] is True
        process.send_signal(signal_number)
        _, errors = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, errors
    assert errors.strip().splitlines()[-1] == "console stopped"
    assert "Traceback" not in errors
