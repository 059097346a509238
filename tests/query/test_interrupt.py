"""Ctrl-C and SIGTERM stop a long pure-SQLite statement: a `WITH RECURSIVE` count reads no
table, so no Python ran while SQLite worked and the signal waited for the statement's end (for ever here).
The engine's progress handler lets the signal in; the command ends promptly with one line and 130 / 143."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import cli_env
from iterbridge.sandbox import Sandbox

ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c WHERE x < 0"


@pytest.mark.parametrize(
    ("sent", "code", "line"),
    [(signal.SIGINT, 130, "error: interrupted"), (signal.SIGTERM, 143, "error: terminated")],
)
def test_a_signal_stops_a_long_statement(
    sandbox: Sandbox, tmp_path: Path, sent: signal.Signals, code: int, line: str
) -> None:
    env = {k: v for k, v in {**os.environ, **cli_env(tmp_path, sandbox)}.items() if v is not None}
    env["PYTHONUNBUFFERED"] = "1"  # the "ready" row reaches the test as soon as it is printed
    command = [sys.executable, "-m", "iterbridge", "query", "--format", "csv", f"SELECT 1 AS ready; {ENDLESS}"]
    process = subprocess.Popen(command, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    try:
        assert [process.stdout.readline(), process.stdout.readline()] == ["ready\n", "1\n"]
        time.sleep(0.3)  # well into the endless statement
        sent_at = time.monotonic()
        process.send_signal(sent)
        _, stderr = process.communicate(timeout=10)
        took = time.monotonic() - sent_at
    finally:
        process.kill()
        process.wait()
    assert process.returncode == code
    assert stderr.strip().splitlines() == [line]
    assert took < 3
