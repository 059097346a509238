"""Crash safety: `iterbridge replicate` killed with SIGKILL at random points, several times, then run to the end,
leaves exactly the tables of an uninterrupted run.

The sandbox is started apart from the replicating process (in this test's process, on a real socket) so that it
survives the kills, and on a frozen clock: a sandbox process on real time would keep receiving events (some of
them late) between the uninterrupted run and the last resumed one, and the two copies could only be compared
on rows fixed in time — which would leave out exactly the newest windows, where a resumed run goes wrong if it
ever does. Frozen, every table can be compared whole.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import FakeClock, connect_to
from iterbridge.sandbox import Sandbox

from .copies import Copy

KILLS = 5


def command(sandbox: Sandbox, url: str) -> tuple[list[str], dict[str, str]]:
    environment = {**os.environ, "ITERABLE_API_KEY": sandbox.api_key, "ITERABLE_BASE_URL": sandbox.url}
    environment.pop("ITERBRIDGE_DEBUG", None)
    return [sys.executable, "-m", "iterbridge", "replicate", "--to", url, "--rate-limits", "off", "--json"], environment


def streams_done(path: Path) -> int:
    """Streams whose state the copy holds so far (0 before the state table exists)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2)) as db:
            return int(db.execute("SELECT count(*) FROM _iterbridge_state").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_killed_runs_resume_to_the_tables_of_an_uninterrupted_run(
    small: tuple[Sandbox, FakeClock], tmp_path: Path
) -> None:
    sandbox = small[0]
    clean = Copy(f"sqlite:///{tmp_path / 'clean.db'}")
    started = time.monotonic()
    with connect_to(sandbox) as conn:
        assert conn.replicate(clean.url).ok
    duration = time.monotonic() - started
    total = len(clean.state())

    path = tmp_path / "killed.db"
    killed = Copy(f"sqlite:///{path}")
    args, environment = command(sandbox, killed.url)
    chance = random.Random(20261127)
    progress_at_kill = []
    for attempt in range(KILLS):
        process = subprocess.Popen(args, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if attempt == 0:  # at a random moment (imports and table creation included)
                time.sleep(chance.uniform(0.3, 1.0 + duration / 2))
            else:  # just after a checkpoint was committed (where a state ahead of its rows would show)
                wanted = streams_done(path) + chance.randint(1, 10)
                deadline = time.monotonic() + 3 * duration + 10
                while streams_done(path) < min(wanted, total - 1) and time.monotonic() < deadline:
                    if process.poll() is not None:
                        break
                    time.sleep(0.02)
                time.sleep(chance.uniform(0, 0.15))
        finally:
            still_running = process.poll() is None
            process.send_signal(signal.SIGKILL)
            process.wait()
        progress_at_kill.append((still_running, streams_done(path)))
    # At least some kills hit a run at work, with part of the work committed.
    assert any(running and 0 < done < total for running, done in progress_at_kill), progress_at_kill

    finished = subprocess.run(args, env=environment, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert len(killed.state()) == total
    clean_tables = clean.snapshot()
    killed_tables = killed.snapshot()
    assert killed_tables.keys() == clean_tables.keys()
    for table in clean_tables:
        assert killed_tables[table] == clean_tables[table], table
    assert sum(len(rows) for rows in clean_tables.values()) > 30_000


def test_sigterm_stops_a_run_cleanly_and_the_next_run_completes_it(
    small: tuple[Sandbox, FakeClock], tmp_path: Path
) -> None:
    """A stopping container or service sends SIGTERM: the run unwinds like Ctrl-C (its open transaction rolled
    back), says so in one line, exits 143, and the next run finishes the copy."""
    sandbox = small[0]
    path = tmp_path / "stopped.db"
    args, environment = command(sandbox, f"sqlite:///{path}")
    process = subprocess.Popen(args, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while streams_done(path) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the run had ended before it could be stopped"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == "error: terminated"
    assert "Traceback" not in stderr
    stopped_at = streams_done(path)
    assert stopped_at >= 1

    finished = subprocess.run(args, env=environment, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert streams_done(path) > stopped_at
