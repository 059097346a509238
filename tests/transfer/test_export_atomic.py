"""An interrupted export leaves no file that looks complete: not the target, not a stray temporary file, and an
older file of the same name stays as it was."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import iterbridge
from helpers import Stats, connect_to
from iterbridge.api.exports import WindowPolicy
from iterbridge.errors import RetriableApiError
from iterbridge.sandbox import Sandbox
from iterbridge.transfer import CsvOptions, export

from .support import one_line_error

OLD = b"an older export\r\n"


def failing_read(conn: iterbridge.Connection, directory: Path, error: BaseException, after: int = 25) -> list[int]:
    """Make the connection's reads (rows, and batches cut into one-row batches) give `after` rows, then fail;
    records how many rows were given."""
    read, read_batches = conn.read, conn.read_batches
    given: list[int] = []

    def failing(rows: Iterator[Any]) -> Iterator[Any]:
        for number, row in enumerate(rows, start=1):
            yield row
            given.append(number)
            if number == after:
                # Mid-export: the rows so far sit in a temporary file beside the target, not in the target.
                assert [p.name for p in directory.iterdir() if p.name.endswith(".part")], "a temporary file"
                raise error

    def patched(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return failing(read(*args, **kwargs))

    def patched_batches(*args: Any, **kwargs: Any) -> Iterator[Any]:
        batches = read_batches(*args, **kwargs)
        return failing(batch.slice(i, 1) for batch in batches for i in range(batch.num_rows))

    conn.read = patched  # type: ignore[method-assign]
    conn.read_batches = patched_batches  # type: ignore[method-assign]
    return given


@pytest.mark.parametrize(
    "error",
    [RetriableApiError("GET /api/export/data.json: connection dropped"), KeyboardInterrupt(), MemoryError()],
    ids=["api-error", "ctrl-c", "crash"],
)
def test_an_interrupted_export_leaves_no_file(conn: iterbridge.Connection, tmp_path: Path,
                                              error: BaseException) -> None:  # fmt: skip
    target = tmp_path / "events.csv"
    given = failing_read(conn, tmp_path, error)
    with pytest.raises(type(error)):
        export(conn, "Events", target, CsvOptions())
    assert given[-1] == 25
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_export_leaves_an_older_file_untouched(conn: iterbridge.Connection, tmp_path: Path) -> None:
    target = tmp_path / "events.csv"
    target.write_bytes(OLD)
    failing_read(conn, tmp_path, RetriableApiError("dropped"))
    with pytest.raises(RetriableApiError):
        export(conn, "Events", target, CsvOptions())
    assert target.read_bytes() == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["events.csv"]


def test_a_completed_export_replaces_the_older_file_with_normal_permissions(conn: iterbridge.Connection,
                                                                             tmp_path: Path) -> None:  # fmt: skip
    target = tmp_path / "lists.csv"
    target.write_bytes(OLD)
    result = export(conn, "Lists", target, CsvOptions())
    assert target.read_bytes().startswith(b"Id,Name,")
    assert result.rows == target.read_bytes().count(b"\r\n") - 1
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["lists.csv"]


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_streams_that_keep_dropping_fail_the_export_without_a_file(
    fresh: Callable[..., tuple[Sandbox, Stats]], tmp_path: Path
) -> None:
    """The sandbox cuts every export stream after 20 lines; windows shrink to their floor, then the reader
    gives up — after some event types were already written."""
    source, stats = fresh("tiny")
    target = tmp_path / "events.csv"
    target.write_bytes(OLD)
    stats.faults(drop_after_lines=20, drop_streams=-1)
    policy = WindowPolicy(minimum=timedelta(days=60), max_drops_at_minimum=1)
    with (
        connect_to(source, window_policy=policy) as conn,
        stats.counting() as made,
        pytest.raises(RetriableApiError, match="stream dropped"),
    ):
        export(conn, "Events", target, CsvOptions())
    assert made["GET /api/export/data.json"] > 2
    assert target.read_bytes() == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["events.csv"]


def test_the_cli_reports_the_failure_in_one_line_and_leaves_no_file(
    cli: Callable[..., Result], stats: Stats, tmp_path: Path
) -> None:
    stats.faults(error_rate=1.0, error_endpoint="/api/export/data.json")
    target = tmp_path / "out" / "users.csv"
    target.parent.mkdir()
    result = cli("export", "Users", "-o", str(target))
    message = one_line_error(result)
    assert "GET /api/export/data.json" in message
    assert result.exit_code == 3
    assert list(target.parent.iterdir()) == []


def test_a_terminated_export_process_removes_its_temporary_file(sandbox: Sandbox, tmp_path: Path) -> None:
    """SIGTERM (a `timeout`, a container stopping) mid-export: the command cleans up like on Ctrl-C. With
    Iterable's real rate limits the Events export waits between event types, rows of the first ones written."""
    import os
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "events.csv"
    env = {**os.environ, "ITERABLE_API_KEY": sandbox.api_key, "ITERABLE_BASE_URL": sandbox.url,
           "ITERBRIDGE_CONFIG": str(tmp_path / "none.toml")}  # fmt: skip
    env.pop("ITERBRIDGE_DEBUG", None)
    command = [sys.executable, "-c", "from iterbridge.cli import main; main()", "export", "Events", "-o", str(target)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            parts = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
            if parts and parts[0].stat().st_size > 1000:
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        else:
            pytest.fail("the export never started writing")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143  # 128 + SIGTERM; Ctrl-C is 130
    assert "error: terminated" in stderr.decode().splitlines()
    assert "Traceback" not in stderr.decode()
    assert list(tmp_path.iterdir()) == []
