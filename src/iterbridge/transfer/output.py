"""The one way iterbridge opens a local file to write (export's -o, import's --rejects): never replaces what
is not a regular file.

- a new path or a regular file: written under a temporary name beside it and renamed over it once complete
  (an interrupted write leaves the older file as it was, and no file that looks finished);
- a symlink: followed, as the shell's `>` does — the file it points to is written (atomically, in its own
  directory, when it is regular or new) and the link stays a link;
- a FIFO or a character device (`/dev/null`, `/dev/stdout`, a terminal): streamed into directly, never
  renamed over (it cannot be atomic: a reader of a pipe sees the rows as they come);
- a directory, a block device, a socket, a path in a directory that does not exist, or one that cannot be
  written: refused in one line (exit 2).
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TypeVar

from iterbridge.errors import OutputError

T = TypeVar("T")


class Output:
    """An open output: `handle` to write text into, then `commit()` (keep it) or `discard()` (an atomic
    target keeps its older content; a stream has had what was written)."""

    def __init__(self, path: Path | None, *, encoding: str, errors: str = "strict", option: str = "-o") -> None:
        self.path = path
        self._temporary: str | None = None
        self._target: Path | None = None
        self._stdout: io.TextIOWrapper | None = None
        if path is None:  # stdout's bytes in this encoding; detached at the end, never closed
            self._stdout = io.TextIOWrapper(sys.stdout.buffer, encoding=encoding, errors=errors, newline="")
            self.handle: IO[str] = self._stdout
            return
        target = _resolved(path, option)
        try:
            mode = os.stat(target).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as error:
            raise OutputError(f"{option} {path}: {error.strerror or error}") from None
        if mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
            stream = lambda: open(target, "w", encoding=encoding, errors=errors, newline="")  # noqa: E731, SIM115
            self.handle = _opened(path, option, stream)  # closed by commit/discard
            return
        if mode is not None and not stat.S_ISREG(mode):
            raise OutputError(f"{option} {path}: {_kind(mode)}, not a file: nothing was written")
        directory = target.parent
        if not directory.is_dir():  # a typo in a path does not become a tree of new directories
            raise OutputError(
                f"{option} {path}: No such file or directory ({directory} does not exist: create it first)"
            )
        descriptor, self._temporary = _opened(
            path, option, lambda: tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
        )
        self._target = target
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # a normal file, not mkstemp's private 0600
        os.chmod(self._temporary, stat.S_IMODE(mode))  # a file replaced keeps its permissions
        self.handle = os.fdopen(descriptor, "w", encoding=encoding, errors=errors, newline="")

    def commit(self) -> None:
        """Flush and close; an atomic target takes the temporary file's place."""
        try:
            self._close()
            if self._temporary is not None and self._target is not None:
                os.replace(self._temporary, self._target)
                self._temporary = None
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Close, and remove the temporary file of an atomic target (its older content stays)."""
        with contextlib.suppress(OSError, ValueError):
            self._close()
        if self._temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._temporary)
            self._temporary = None

    def _close(self) -> None:
        stdout, self._stdout = self._stdout, None
        if stdout is not None:
            try:
                stdout.flush()
            finally:
                stdout.detach()
            return
        self.handle.close()


@contextlib.contextmanager
def output_text(path: Path | None, *, encoding: str, option: str = "-o") -> Iterator[IO[str]]:
    """A text handle (newline="" for the csv module) on `path` (stdout when None), kept only when the block
    completes."""
    output = Output(path, encoding=encoding, option=option)
    try:
        yield output.handle
    except BaseException:
        output.discard()
        raise
    output.commit()


def check_directory(path: Path, option: str = "-o") -> None:
    """A directory that files can be written into (created when missing, in a directory that exists), or a
    one-line OutputError."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {path}: exists and is not a directory (one file per object goes into a directory)")
    try:
        path.mkdir(exist_ok=True)
    except OSError as error:
        raise OutputError(f"{option} {path}: cannot create the directory: {error.strerror or error}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: the directory is not writable: nothing was written")


def _resolved(path: Path, option: str) -> Path:
    """The path with every symlink followed (a dangling link: the path it names), so a link is written through."""
    try:
        return Path(os.path.realpath(path, strict=False))
    except OSError as error:  # a symlink loop
        raise OutputError(f"{option} {path}: {error.strerror or error}") from None


def _opened(path: Path, option: str, opening: Callable[[], T]) -> T:
    try:
        return opening()
    except OSError as error:
        raise OutputError(f"{option} {path}: {error.strerror or error}") from None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"
