"""Every error iterbridge raises, as one tree. The CLI turns each into a one-line message and an exit code.

    IterbridgeError
    ├── ConfigurationError            settings, profiles, a missing API key
    ├── ApiError                      Iterable answered with an error, or could not be reached
    │   ├── FatalApiError             retrying cannot help: bad key, bad parameters, not found
    │   │   └── AuthenticationError   401/403: the key is wrong, or lacks the permission
    │   ├── RetriableApiError         429, 5xx, timeouts, dropped connections — still failing after retries
    │   │   └── RateLimitError        429 after every retry
    │   ├── SkippableApiError         a known-bad slice (a list whose members always fail): reported, skipped
    │   ├── UnknownOutcomeError       a request not safe to repeat failed after it was sent: maybe processed
    │   └── WriteRefused              rows of a SQL write that Iterable refused (or did not answer for)
    ├── QueryError                    a request the catalog cannot serve
    │   ├── QuerySyntaxError          SQL that does not parse
    │   ├── UnknownObject             no such object (the closest names are suggested)
    │   ├── UnknownColumn             no such column of an object
    │   ├── MissingRequiredFilter     e.g. InAppMessages without an Email or UserId filter
    │   └── UnsupportedOperation      e.g. DELETE on Campaigns (the supported operations are named)
    ├── TransferError                 a bad input file, row or option of an import or export
    │   └── OutputError               a local file that cannot (or must not) be written: exit 2
    └── UnaddressableValue            a value that cannot be a URL path segment (`.`, `..`, `/`, blank):
                                      never sent; a write reports its row, a read fails

Messages never contain the API key: errors carrying Iterable's text are redacted when built.
"""

from __future__ import annotations

from collections.abc import Iterable


class IterbridgeError(Exception):
    """The root of every error iterbridge raises on purpose."""

    exit_code = 1


class ConfigurationError(IterbridgeError):
    exit_code = 2


class ApiError(IterbridgeError):
    """Iterable answered with an error (or did not answer). `status` is the HTTP status, 0 for no answer."""

    exit_code = 3

    def __init__(self, message: str, *, status: int = 0, code: str | None = None, endpoint: str = "") -> None:
        from iterbridge.api.redaction import redact  # at the source: Iterable echoes the key in some answers

        super().__init__(redact(message))
        self.status = status
        self.code = code
        self.endpoint = endpoint


class FatalApiError(ApiError):
    pass


class AuthenticationError(FatalApiError):
    exit_code = 4


class RetriableApiError(ApiError):
    pass


class RateLimitError(RetriableApiError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class SkippableApiError(ApiError):
    """A slice of data Iterable cannot serve; the job reports it and goes on."""


class UnknownOutcomeError(ApiError):
    """A request that is not safe to send twice (a create without a key) failed after it was sent — a
    timeout, a dropped connection, a server error: Iterable may have processed it. Not retried; the rows are
    reported so that the user checks before re-sending. `failure` is what happened, without the advice."""

    def __init__(self, failure: str, **kwargs: object) -> None:
        super().__init__(
            f"{failure} — the request may have been processed; it was not sent again, as that could duplicate it: "
            "check in Iterable before re-sending",
            **kwargs,  # type: ignore[arg-type]
        )
        from iterbridge.api.redaction import redact

        self.failure = redact(failure)


class WriteRefused(ApiError):
    """Iterable refused rows of a write (or did not answer for them); the message names the rows and reasons.
    Rows refused before any request (bad values) are a QueryError: the input's fault."""


class QueryError(IterbridgeError):
    exit_code = 2


class QuerySyntaxError(QueryError):
    pass


class UnknownObject(QueryError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        suggestions = closest(name, known)
        hint = f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown object {name!r}{hint}")
        self.name = name


class UnknownColumn(QueryError):
    def __init__(self, object_name: str, column: str, known: Iterable[str]) -> None:
        suggestions = closest(column, known)
        hint = f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"{object_name} has no column {column!r}{hint}")
        self.object_name = object_name
        self.column = column


class MissingRequiredFilter(QueryError):
    def __init__(self, object_name: str, filters: Iterable[str]) -> None:
        wanted = " or ".join(f"{name} = …" for name in filters)
        super().__init__(f"{object_name} can only be read for given users: add a filter on {wanted}")
        self.object_name = object_name


class UnsupportedOperation(QueryError):
    def __init__(self, object_name: str, operation: str, supported: Iterable[str]) -> None:
        allowed = ", ".join(supported) or "none (read only)"
        super().__init__(f"{object_name} does not support {operation}; it supports: {allowed}")
        self.object_name = object_name
        self.operation = operation


class TransferError(IterbridgeError):
    """A bad input file, row or option of an import or export: the input's fault, like a bad query."""

    exit_code = 2


class UnaddressableValue(IterbridgeError, ValueError):
    """A value Iterable cannot address in a URL path. A ValueError too: writers report it as the row's
    bad value, like any value a request cannot be made of."""

    exit_code = 2


class OutputError(TransferError):
    """An output path refused before anything is written (a directory, a device that is not a stream, a
    directory that cannot be written into): a bad target, so exit 2."""

    exit_code = 2


def closest(name: str, known: Iterable[str], limit: int = 2) -> list[str]:
    import difflib

    candidates = {k.lower(): k for k in known}
    found = difflib.get_close_matches(name.lower(), list(candidates), n=limit, cutoff=0.6)
    return [candidates[match] for match in found]
