"""The shell reading piped input is a script: `printf 'SELEC 1;\\n' | iterbridge query` used
to print the error and exit 0. Now the first failed statement (or dot command) ends the run with its exit code
from the README's table, and nothing after it runs; at a terminal errors are shown and the shell goes on."""

from __future__ import annotations

import os
import pty
import select
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


@pytest.fixture
def piped(sandbox: Sandbox, tmp_path: Path) -> Any:
    env = {**cli_env(tmp_path, sandbox), "XDG_DATA_HOME": str(tmp_path / "data")}

    def invoke(script: str) -> Result:
        return CliRunner().invoke(main, ["query", "--format", "csv"], env=env, input=script, catch_exceptions=False)

    return invoke


def test_a_bad_query_exits_2(piped: Any) -> None:
    result = piped("SELEC 1;\n")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith('error: near "SELEC": syntax error')


def test_the_first_failure_ends_the_script(piped: Any, source: Source) -> None:
    before = len(source.lists())
    result = piped("SELECT 1 AS first;\nSELECT * FROM Nope;\nINSERT INTO Lists (Name) VALUES ('after');\n")
    assert result.exit_code == 2
    assert result.stdout.splitlines() == ["first", "1"]
    assert "error: unknown object 'Nope'" in result.stderr
    assert len(source.lists()) == before  # the write after the failure never ran


@pytest.mark.parametrize(("script", "text"), [(".schema Nope\n", "unknown object 'Nope'"),
                                              (".frobnicate\n", "unknown command '.frobnicate'")])  # fmt: skip
def test_a_failed_dot_command_exits_2(piped: Any, script: str, text: str) -> None:
    result = piped(script + "SELECT 'never reached';\n")
    assert result.exit_code == 2
    assert text in result.stderr
    assert "never reached" not in result.output


def test_a_script_without_failures_exits_0(piped: Any) -> None:
    result = piped("SELECT 1 AS a;\nSELECT 2 AS b\n")  # the last statement may omit its ;
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["a", "1", "b", "2"]


def test_at_a_terminal_errors_are_shown_and_the_shell_goes_on(sandbox: Sandbox, tmp_path: Path) -> None:
    """A person at a terminal (a pty here): a bad statement shows its error, Ctrl-C stops a long statement,
    and the prompt comes back each time; .quit ends with 0."""
    env = {k: v for k, v in {**os.environ, **cli_env(tmp_path, sandbox)}.items() if v is not None}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    master, slave = pty.openpty()
    shell = subprocess.Popen([sys.executable, "-m", "iterbridge", "query", "--format", "csv"], env=env,
                             stdin=slave, stdout=slave, stderr=slave)  # fmt: skip
    os.close(slave)

    def until_prompt() -> str:
        seen = b""
        deadline = time.monotonic() + 15
        while not seen.endswith(b"iterable> ") and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 4096)
        assert seen.endswith(b"iterable> "), seen
        return seen.decode()

    try:
        until_prompt()
        os.write(master, b"SELEC 1;\n")
        assert 'error: near "SELEC": syntax error' in until_prompt()
        os.write(master, b"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;\n")
        time.sleep(0.5)
        shell.send_signal(signal.SIGINT)
        assert "interrupted" in until_prompt()
        os.write(master, b"SELECT 2 AS b;\n")
        assert "b\r\n2\r\n" in until_prompt()
        os.write(master, b".quit\n")
        assert shell.wait(timeout=10) == 0
    finally:
        shell.kill()
        shell.wait()
        os.close(master)
