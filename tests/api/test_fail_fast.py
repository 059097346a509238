"""A refused connection to this machine fails in seconds and says what was tried; retry warnings are one clean
line each."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import iterbridge
from helpers import cli_env
from iterbridge.cli import main
from iterbridge.errors import RetriableApiError

KEY = "fast-key-6d2e9a41"


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_refused_local_connection_fails_fast_and_says_what_was_tried(closed_port: int) -> None:
    started = time.monotonic()
    with iterbridge.connect(api_key=KEY, base_url=f"http://127.0.0.1:{closed_port}") as conn:  # default retries
        with pytest.raises(RetriableApiError) as caught:
            list(conn.read("Lists"))
        assert conn.client.calls == 2
    assert time.monotonic() - started < 3
    message = str(caught.value)
    assert f"2 attempts to http://127.0.0.1:{closed_port}" in message
    assert "connection failed" in message


def test_the_cli_says_it_in_one_line(closed_port: int, tmp_path: Path) -> None:
    env = {**cli_env(tmp_path), "ITERABLE_API_KEY": KEY, "ITERABLE_BASE_URL": f"http://localhost:{closed_port}"}
    started = time.monotonic()
    result = CliRunner().invoke(main, ["query", "SELECT Id FROM Lists"], env=env)
    assert time.monotonic() - started < 5
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: GET /api/lists: connection failed"), result.stderr
    assert f"attempts to http://localhost:{closed_port})" in lines[-1]
    assert KEY not in result.output


SCRIPT = """
import httpx2
from iterbridge.api.client import ApiClient, RetryPolicy
answers = [httpx2.Response(500, json={"msg": "An error occurred.", "code": "GenericError"}),
           httpx2.Response(200, json={"lists": []})]
transport = httpx2.MockTransport(lambda r: answers.pop(0))
client = ApiClient("https://api.iterable.test", "warn-key-1234", transport=transport,
                   retry=RetryPolicy(attempts=3, wait_initial_s=0.01, wait_max_s=0.01, wait_jitter_s=0))
client.json("GET /api/lists")
"""


def test_a_retry_is_one_line_naming_the_endpoint_once() -> None:
    # A process without logging configured, as the CLI is: Python's last-resort handler prints warnings.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "GET /api/lists → 500 GenericError: An error occurred.; retrying (attempt 2 of 3)"
    ]
