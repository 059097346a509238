"""What is at an output path decides how it is written: a new path or a regular file atomically, a symlink
through to its target, a FIFO or a character device streamed into — never replaced — and anything else, or a
place nothing can be written, refused in one line with exit code 2."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import iterbridge
from iterbridge.errors import OutputError
from iterbridge.transfer import CsvOptions, export
from iterbridge.transfer import output as output_module

from .support import one_line_error, write_csv

HEADER = b"Id,Name,ChannelType,MessageMedium\r\n"


def read_fifo(descriptor: int) -> bytes:
    """Everything written into a FIFO whose read end the test holds open (non-blocking: no writer → EOF)."""
    chunks = []
    while True:
        try:
            chunk = os.read(descriptor, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_fifo_is_streamed_into_not_replaced(conn: iterbridge.Connection, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader waiting, as `cat pipe.csv` would be
    try:
        result = export(conn, "Channels", fifo, CsvOptions())
        received = read_fifo(reader)
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO must still be a FIFO"
    assert received.startswith(HEADER)
    assert received.count(b"\r\n") == result.rows + 1
    assert [p.name for p in tmp_path.iterdir()] == ["pipe.csv"]  # no temporary file left beside it


def test_a_symlink_to_a_character_device_streams_into_the_device(conn: iterbridge.Connection, tmp_path: Path) -> None:
    """`-o link` where link → /dev/null: the data goes into the device; the link and the device stay."""
    link = tmp_path / "discard.csv"
    link.symlink_to(os.devnull)
    export(conn, "Channels", link, CsvOptions())
    assert link.is_symlink()
    assert os.readlink(link) == os.devnull
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["discard.csv"]


def test_a_symlink_to_a_file_writes_the_file_and_keeps_the_link(conn: iterbridge.Connection, tmp_path: Path) -> None:
    elsewhere = tmp_path / "data"
    elsewhere.mkdir()
    target = elsewhere / "channels.csv"
    target.write_bytes(b"older\r\n")
    target.chmod(0o640)
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    export(conn, "Channels", link, CsvOptions())
    assert link.is_symlink()
    assert link.resolve() == target
    assert target.read_bytes().startswith(HEADER)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the file replaced keeps its permissions
    assert sorted(p.name for p in elsewhere.iterdir()) == ["channels.csv"]  # written atomically beside it


def test_a_dangling_symlink_creates_its_target(conn: iterbridge.Connection, tmp_path: Path) -> None:
    link = tmp_path / "latest.csv"
    link.symlink_to(tmp_path / "new.csv")
    export(conn, "Channels", link, CsvOptions())
    assert link.is_symlink()
    assert (tmp_path / "new.csv").read_bytes().startswith(HEADER)


def test_a_block_device_is_refused_before_anything_is_written(
    conn: iterbridge.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(No real device node: the path is a regular file that the output code is told is a block device.)"""
    disk = tmp_path / "sdz"
    disk.write_bytes(b"the disk's blocks")
    real_stat = os.stat

    def fake_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        result = real_stat(path, *args, **kwargs)
        if Path(path) == disk:
            return os.stat_result((stat.S_IFBLK | 0o660, *tuple(result)[1:]))
        return result

    monkeypatch.setattr(output_module.os, "stat", fake_stat)
    with pytest.raises(OutputError, match="a block device, not a file"):
        export(conn, "Channels", disk, CsvOptions())
    assert disk.read_bytes() == b"the disk's blocks"
    assert [p.name for p in tmp_path.iterdir()] == ["sdz"]


def test_the_cli_streams_into_a_fifo(cli: Callable[..., Result], tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        result = cli("export", "Channels", "-o", str(fifo))
        received = read_fifo(reader)
    finally:
        os.close(reader)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received.startswith(HEADER)


def test_all_into_an_existing_file_is_one_line_and_exit_2(cli: Callable[..., Result], tmp_path: Path) -> None:
    existing = tmp_path / "dump"
    existing.write_bytes(b"keep me")
    result = cli("export", "--all", "-o", str(existing))
    assert "is not a directory" in one_line_error(result)
    assert result.exit_code == 2
    assert existing.read_bytes() == b"keep me"


def test_a_directory_nothing_can_be_written_into_is_one_line_and_exit_2(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only directory (simulated: the tests may run as root, whom permissions do not stop)."""

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(output_module.tempfile, "mkstemp", refused)
    result = cli("export", "Channels", "-o", str(tmp_path / "channels.csv"))
    message = one_line_error(result)
    assert result.exit_code == 2
    assert "-o" in message
    assert "channels.csv: Permission denied" in message
    assert list(tmp_path.iterdir()) == []


def test_a_missing_parent_directory_is_one_line_and_exit_2(cli: Callable[..., Result], tmp_path: Path) -> None:
    """A typo in a path does not become a tree of new directories; --all -o DIR creates DIR, not its parents."""
    result = cli("export", "Channels", "-o", str(tmp_path / "typo" / "channels.csv"))
    assert "does not exist: create it first" in one_line_error(result)
    assert result.exit_code == 2
    result = cli("export", "--all", "-o", str(tmp_path / "typo" / "dump"))
    assert "cannot create the directory: No such file or directory" in one_line_error(result)
    assert result.exit_code == 2
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    result = cli("export", "Channels", "-o", str(blocker / "channels.csv"))
    assert "Not a directory" in one_line_error(result)
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_the_rejects_file_follows_the_same_rules(cli: Callable[..., Result], tmp_path: Path) -> None:
    """import --rejects opens its file the same way: a FIFO is streamed into, a symlink written through."""
    source = write_csv(tmp_path / "lists.csv", ["Name", "ListType"], [["", "Standard"]])
    fifo = tmp_path / "rejects.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        result = cli("import", "Lists", str(source), "--rejects", str(fifo))
        received = read_fifo(reader)
    finally:
        os.close(reader)
    assert result.exit_code == 1, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received.startswith(b"_line,_reason,Name,ListType")
    real = tmp_path / "kept.csv"
    link = tmp_path / "rejects.csv"
    link.symlink_to(real)
    result = cli("import", "Lists", str(source), "--rejects", str(link))
    assert result.exit_code == 1, result.output
    assert link.is_symlink()
    assert real.read_text().startswith("_line,_reason,Name,ListType")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_a_rejects_path_that_is_a_directory_is_one_line_and_exit_2(cli: Callable[..., Result], tmp_path: Path) -> None:
    source = write_csv(tmp_path / "lists.csv", ["Name", "ListType"], [["", "Standard"]])
    result = cli("import", "Lists", str(source), "--rejects", str(tmp_path))
    assert "--rejects" in one_line_error(result)
    assert "a directory" in result.stderr
    assert result.exit_code == 2
