"""`iterbridge sandbox`: the check, option errors, help, and the standalone server in a real process."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner

from helpers import NO_TLS
from iterbridge.cli import main

WIDE = {"COLUMNS": "200"}  # rich wraps table cells to the terminal's width


def test_check_exits_zero_and_prints_the_table() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--check"], env=WIDE)
    assert result.exit_code == 0, result.output
    output = result.output
    assert "Iterable sandbox at http://127.0.0.1:" in output
    for label in ("channels", "list members", "campaigns", "catalog items", "export: emailSend (JSON)",
                  "create a list", "a wrong key is refused"):  # fmt: skip
        assert label in output
    assert "BadApiKey" in output
    assert "all answers as expected." in output
    assert "Traceback" not in output


def test_check_with_other_options() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--check", "--seed", "7", "--rate-limits", "x10", "--region", "eu"])
    assert result.exit_code == 0, result.output
    assert "(seed 7, scale tiny)" in result.output


@pytest.mark.parametrize("fault", ["error_rate=1.0", "drop_after_lines=1", "getusers_503=-1"])
def test_check_reports_unexpected_answers(fault: str) -> None:
    result = CliRunner().invoke(main, ["sandbox", "--check", "--fault", fault], env=WIDE)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "unexpected answers." in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate-limits", "fast"], "--rate-limits must be real, off or xN with N > 0 (e.g. x10), not 'fast'"),
        (["--rate-limits", "x0"], "--rate-limits must be real, off or xN"),
        (["--fault", "nonsense"], "--fault expects name=value, not 'nonsense'"),
        (["--fault", "nonsense=1"], "unknown fault 'nonsense'"),
        (["--fault", "latency_ms=slow"], "fault latency_ms: cannot use 'slow'"),
        (["--scale", "huge"], "'huge' is not one of 'empty', 'tiny', 'small', 'medium', 'large'"),
        (["--region", "mars"], "'mars' is not one of 'us', 'eu'"),
        (["--anchor", "next week"], "expected a date like 2026-11-01, not 'next week'"),
        (["--api-key", ""], "--api-key must not be empty"),
        (["--port", "http"], "'http' is not a valid integer"),
    ],
)
def test_bad_options_fail_with_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["sandbox", *args, "--check"])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert message in errors[0]
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_help() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--seed", "--scale", "--rate-limits", "--region", "--anchor", "--fault", "--check"):
        assert option in result.output
    assert CliRunner().invoke(main, ["sandbox", "-h"]).output == result.output
    assert "sandbox" in CliRunner().invoke(main, ["--help"]).output


# ---- the standalone server -------------------------------------------------------------------------------------


def _console_script() -> str:
    beside = Path(sys.executable).parent / "iterbridge"
    found = str(beside) if beside.exists() else shutil.which("iterbridge")
    assert found, "the iterbridge console script is not installed"
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server_process() -> Iterator[subprocess.Popen[str]]:
    port = _free_port()
    command = [_console_script(), "sandbox", "--port", str(port), "--seed", "5", "--api-key", "process-key"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=15)


def _read_base_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            continue
        if line.startswith("base URL:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("the sandbox printed no base URL")


def test_the_console_script_serves_until_terminated(server_process: subprocess.Popen[str]) -> None:
    url = _read_base_url(server_process)
    assert url.startswith("http://127.0.0.1:")
    assert server_process.stdout is not None
    assert server_process.stdout.readline().strip() == "API key:  process-key"
    assert server_process.stdout.readline().strip() == "To point iterbridge at it, paste into a shell:"
    pasted = [server_process.stdout.readline().strip() for _ in range(3)]
    assert pasted == [f"export ITERABLE_BASE_URL={url}", "export ITERABLE_API_KEY=process-key",
                      "export ITERBRIDGE_RATE_LIMITS=real"]  # fmt: skip
    with httpx2.Client(base_url=url, headers={"Api-Key": "process-key"}, timeout=10, verify=NO_TLS) as client:
        response = client.get("/api/lists")  # the URL is printed once the server listens: no retry needed
        assert response.status_code == 200
        assert response.json()["lists"]
        assert client.get("/api/lists", headers={"Api-Key": "sandbox-api-key"}).status_code == 401
        assert client.get("/_sandbox/info").json()["seed"] == 5
    server_process.terminate()
    assert server_process.wait(timeout=15) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once shut down
    assert server_process.stderr is not None
    assert "Traceback" not in server_process.stderr.read()


def test_port_zero_prints_the_port_it_got() -> None:
    command = [_console_script(), "sandbox", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            url = _read_base_url(process)
            port = int(url.rsplit(":", 1)[1])
            assert port != 0
            response = httpx2.get(f"{url}/api/channels", headers={"Api-Key": "sandbox-api-key"}, verify=NO_TLS)
            assert response.is_success
        finally:
            process.terminate()
            process.wait(timeout=15)


def test_a_busy_port_is_a_clean_failure() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [_console_script(), "sandbox", "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    assert done.returncode != 0
    assert "base URL" not in done.stdout
    assert "address already in use" in done.stderr
    assert "Traceback" not in done.stderr
