"""Keeping the API key out of every message, log line and repr.

Iterable itself echoes request headers — the key included — in its BadJsonBody messages, so every text
that came from the API passes through `redact` before it reaches an exception or a log.
"""

from __future__ import annotations

import logging
import threading

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


class RedactingFilter(logging.Filter):
    """Installed on the `iterbridge` logger: rewrites any record that would print a known key."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_filter() -> None:
    logger = logging.getLogger("iterbridge")
    if not any(isinstance(existing, RedactingFilter) for existing in logger.filters):
        logger.addFilter(RedactingFilter())
