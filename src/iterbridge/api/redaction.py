"""Keeping the API key out of every message, log line and repr.

Iterable itself echoes request headers — the key included — in its BadJsonBody messages, so every text
that came from the API passes through `redact` before it reaches an exception or a log.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

MASK = "<redacted>"

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str) -> None:
    """Remember a key so every later redaction hides it (keys shorter than 4 characters are not words)."""
    if len(secret) >= 4:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _scrub(record: logging.LogRecord) -> None:
    if not _secrets:
        return
    try:
        message = record.getMessage()
    except Exception:  # a malformed record: logging reports it, arguments included, when a handler formats it
        if isinstance(record.args, tuple):
            record.args = tuple(redact(str(arg)) for arg in record.args)
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None


_installed = False


def install_log_filter() -> None:
    """Redact every record of the `iterbridge` logger and of its descendants, present and future.

    A filter on the `iterbridge` logger would not do: filters do not apply to records that propagate up from
    child loggers (`iterbridge.api`, `iterbridge.api.exports`, …). So records are scrubbed where they are made.
    """
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            name = record.name or ""  # logging.makeLogRecord({}) makes a record without a name (Dagster does)
            if name == "iterbridge" or name.startswith("iterbridge."):
                _scrub(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
