"""One writing run at a time per target.

Two runs writing one copy at once would both create the state table, count each other's rows as their own
and sweep what the other just wrote. So a replication or sync takes the target's lock before its first
write and holds it until it closes the target; a second run fails at once (exit 2), saying who holds the
lock, rather than waiting an unknown time (a scheduler that starts runs too often learns it from the
message; waiting would pile runs up behind a long one).

- SQLite and DuckDB files: an exclusive `flock` on a file beside the database (`FILE-iterbridge-lock`,
  left in place: removing it would let a third run lock a new file while the second holds the old one),
  holding the holder's pid, host and start time. The operating system releases it when the process dies,
  so a killed run never leaves a stale lock.
- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on the target's connection; the holder
  is found in `pg_stat_activity`. It ends with the session.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import time
from datetime import UTC, datetime
from typing import Any

from iterbridge.errors import ConfigurationError

PG_LOCK_KEY = 0x69746272  # "itbr": the advisory lock every iterbridge run on a database takes
SUFFIX = "-iterbridge-lock"
DEAD_HOLDER_WAIT_S = 10.0  # how long a run waits for the lock of a killed run of this machine to be released
_APPLICATION = re.compile(r"iterbridge pid (\d+) on (.+)")  # application_name() below, parsed back


def me() -> dict[str, Any]:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": started}


def _holder_text(holder: dict[str, Any]) -> str:
    parts = [f"{key} {holder[key]}" for key in ("pid", "host", "started") if holder.get(key)]
    return ", ".join(parts) if parts else "holder unknown"


def busy(description: str, holder: str) -> ConfigurationError:
    return ConfigurationError(
        f"{description} is in use by another iterbridge run ({holder}): one run at a time per target; "
        "try again when it ends"
    )


class FileLock:
    """An exclusive lock on `path + SUFFIX`, taken at once or refused."""

    def __init__(self, path: str, description: str) -> None:
        self.path = path + SUFFIX
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise ConfigurationError(
                f"cannot write to {description}: {error.strerror or error} ({os.path.dirname(self.path) or '.'})"
            ) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another run holds it
            holder = self._read()
            os.close(self._fd)
            raise busy(description, holder) from None
        except OSError as error:  # a file system without locks: no run could be kept from another
            os.close(self._fd)
            raise ConfigurationError(f"cannot lock {description}: {error.strerror or error} ({self.path})") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps(me()).encode(), 0)

    def _read(self) -> str:
        try:
            text = os.pread(self._fd, 4096, 0).decode("utf-8", "replace")
            return _holder_text(json.loads(text))
        except (OSError, ValueError, AttributeError):
            return "holder unknown"

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)  # closing the descriptor releases the flock


def pg_lock(connection: Any, description: str) -> None:
    """The database's advisory lock on this connection's session (SQLAlchemy connection), or refused. A lock
    whose holder is a run of this machine that has died (killed: its server process has not noticed yet, e.g.
    in the middle of a statement) is waited for, a few seconds at most: it is being released."""
    deadline = time.monotonic() + DEAD_HOLDER_WAIT_S
    while True:
        taken = connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({PG_LOCK_KEY})").scalar()
        connection.commit()
        if taken:
            return
        found = _pg_holder(connection)
        if found is None or not _dead_here(found[1]) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if found is None:
        raise busy(description, "holder unknown")
    pid, application, client, started = found
    parts = [
        f"{application}" if application else "",
        f"server pid {pid}",
        f"from {client}" if client else "",
        f"connected {started.isoformat(timespec='seconds')}" if started else "",
    ]
    raise busy(description, ", ".join(p for p in parts if p))


def _dead_here(application: str | None) -> bool:
    """Whether the application name is an iterbridge run of this host whose process is gone."""
    match = _APPLICATION.fullmatch(application or "")
    if match is None or match.group(2) != socket.gethostname()[: len(match.group(2))]:
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (another user's): alive
        return False
    return False


def _pg_holder(connection: Any) -> Any:
    """(server pid, application name, client address, connected at) of the session holding the lock."""
    found = connection.exec_driver_sql(
        "SELECT a.pid, a.application_name, host(a.client_addr), a.backend_start FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
        f"AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        f"AND l.classid = 0 AND l.objid = {PG_LOCK_KEY} AND l.objsubid = 1"
    ).first()
    connection.commit()
    return found


def pg_unlock(connection: Any) -> None:
    """Release the advisory lock at once: a closed session releases it only when its server process has
    exited, which a run started right after may not see yet."""
    with contextlib.suppress(Exception):  # the session is gone (and its lock with it)
        connection.rollback()
        connection.exec_driver_sql(f"SELECT pg_advisory_unlock({PG_LOCK_KEY})")
        connection.commit()


def application_name() -> str:
    """What a PostgreSQL session of this run calls itself (shown to a run that finds the lock taken)."""
    holder = me()
    return f"iterbridge pid {holder['pid']} on {holder['host']}"[:63]
