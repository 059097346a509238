"""One writing run at a time per target: while a replication holds a target (SQLite file: a flock beside it;
PostgreSQL: an advisory lock), a second run — another process, or another thread of this one — fails at once
with exit 2 and one line naming the holder (pid, host, start time), and writes nothing; the first run ends
with the same tables as a run alone. Before the lock, two runs into one SQLite file failed with "table
_iterbridge_state already exists" and reported "-12 updated"."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import iterbridge
from helpers import connect_to
from iterbridge.errors import ConfigurationError
from iterbridge.replicate import ReplicationReport, StreamReport
from iterbridge.sandbox import Sandbox

from .copies import Copy
from .expected import Source

OBJECTS = ["Lists", "Channels", "MessageTypes"]


class Holder:
    """A replication in a thread of its own, paused (holding its target) after its first table is written."""

    def __init__(self, sandbox: Sandbox, url: str) -> None:
        self.paused = threading.Event()
        self.resume = threading.Event()
        self.report: ReplicationReport | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(sandbox, url), daemon=True)

    def _run(self, sandbox: Sandbox, url: str) -> None:
        def progress(stream: StreamReport) -> None:
            if not self.paused.is_set():
                self.paused.set()
                assert self.resume.wait(30), "the test never let the first run go on"

        try:
            with connect_to(sandbox) as conn:
                self.report = conn.replicate(url, OBJECTS, progress=progress, workers=1)
        except BaseException as error:
            self.error = error

    def __enter__(self) -> Holder:
        self._thread.start()
        assert self.paused.wait(30), "the first run did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.resume.set()
        self._thread.join(30)
        assert not self._thread.is_alive()


def second_run_by_cli(sandbox: Sandbox, url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ITERABLE_", "ITERBRIDGE_"))}
    env.update(ITERABLE_API_KEY=sandbox.api_key, ITERABLE_BASE_URL=sandbox.url,
               ITERBRIDGE_CONFIG=str(tmp_path / "config.toml"))  # fmt: skip
    command = [sys.executable, "-m", "iterbridge", "replicate", "--rate-limits", "off", "--to", url,
               "--objects", ",".join(OBJECTS)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


def assert_refused_naming_the_holder(result: subprocess.CompletedProcess[str], holder: str) -> None:
    assert result.returncode == 2, result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1, result.stderr
    assert "in use by another iterbridge run" in error[0]
    assert holder in error[0]
    assert "Traceback" not in result.stderr


def assert_copied_once(url: str, source: Source, report: ReplicationReport | None) -> None:
    assert report is not None
    assert report.ok, report.failed
    copy = Copy(url)
    assert sorted(r["Id"] for r in copy.rows("Lists")) == sorted(r["Id"] for r in source.lists())
    for stream in report.streams:  # each row once: a run alone's counts
        assert (stream.updated, stream.deleted, stream.unchanged) == (0, 0, 0)
        assert stream.inserted == stream.rows_read == len(copy.rows(stream.table))


def test_a_second_process_is_refused_while_a_sqlite_file_is_held(
    sandbox: Sandbox, sqlite_url: str, source: Source, tmp_path: Path
) -> None:
    with Holder(sandbox, sqlite_url) as first:
        second = second_run_by_cli(sandbox, sqlite_url, tmp_path)
        assert_refused_naming_the_holder(second, f"pid {os.getpid()}, host {socket.gethostname()}, started 20")
    assert first.error is None
    assert_copied_once(sqlite_url, source, first.report)
    again = second_run_by_cli(sandbox, sqlite_url, tmp_path)  # the lock went with the first run
    assert again.returncode == 0, again.stderr


def test_a_second_thread_is_refused_too(
    sandbox: Sandbox, conn: iterbridge.Connection, sqlite_url: str, source: Source
) -> None:
    busy = f"in use by another iterbridge run \\(pid {os.getpid()}"
    with Holder(sandbox, sqlite_url) as first, pytest.raises(ConfigurationError, match=busy):
        conn.replicate(sqlite_url, OBJECTS)
    assert_copied_once(sqlite_url, source, first.report)


def test_a_sync_is_refused_while_a_replication_holds_the_file(
    sandbox: Sandbox, conn: iterbridge.Connection, sqlite_url: str
) -> None:
    with Holder(sandbox, sqlite_url), pytest.raises(ConfigurationError, match="in use by another iterbridge run"):
        conn.sync("CatalogItems", sqlite_url, catalog="products")


def test_a_second_process_is_refused_while_a_postgresql_database_is_held(
    sandbox: Sandbox, postgres_url: str, source: Source, tmp_path: Path
) -> None:
    with Holder(sandbox, postgres_url) as first:
        second = second_run_by_cli(sandbox, postgres_url, tmp_path)
        assert_refused_naming_the_holder(second, f"iterbridge pid {os.getpid()} on {socket.gethostname()}")
        assert "connected 20" in second.stderr
    assert first.error is None
    assert_copied_once(postgres_url, source, first.report)
    again = second_run_by_cli(sandbox, postgres_url, tmp_path)
    assert again.returncode == 0, again.stderr


def test_runs_one_after_another_never_find_the_lock_taken(conn: iterbridge.Connection, postgres_url: str) -> None:
    """A run releases PostgreSQL's advisory lock as it closes (a closed session's lock lasts until its server
    process has exited, which the next run, started at once, may not see yet)."""
    for _ in range(3):  # event tables: ~50 temporary staging tables, which a closing session drops first
        assert conn.replicate(postgres_url, ["Events", "Lists"]).ok


def test_the_lock_of_a_killed_run_of_this_machine_is_waited_for(conn: iterbridge.Connection, postgres_url: str) -> None:
    """A killed run's session can hold the advisory lock until its server process notices (it may be in the
    middle of a statement): a run of this machine whose process is gone is waited for, a few seconds at most."""
    import psycopg

    from iterbridge.replicate.lock import PG_LOCK_KEY

    dead = subprocess.Popen([sys.executable, "-c", "pass"])  # a pid that no longer runs
    dead.wait()
    name = f"iterbridge pid {dead.pid} on {socket.gethostname()}"
    holder = psycopg.connect(postgres_url, autocommit=True, application_name=name)
    holder.execute(f"SELECT pg_advisory_lock({PG_LOCK_KEY})")
    threading.Timer(1.0, holder.close).start()  # the server notices the dead client a second later
    assert conn.replicate(postgres_url, ["Lists"]).ok

    alive = psycopg.connect(postgres_url, autocommit=True, application_name=f"iterbridge pid {os.getpid()} on x")
    alive.execute(f"SELECT pg_advisory_lock({PG_LOCK_KEY})")
    try:
        with pytest.raises(ConfigurationError, match="in use by another iterbridge run"):
            conn.replicate(postgres_url, ["Lists"])  # a live holder: refused at once, as before
    finally:
        alive.close()
