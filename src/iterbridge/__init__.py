"""iterbridge: Iterable to SQL, CSV files and relational databases.

The public API is what `__all__` lists; everything else is private and may change.
"""

from __future__ import annotations

__version__ = "0.1.0"

from iterbridge.connection import Connection, KeyCheck, Skipped, connect
from iterbridge.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    FatalApiError,
    IterbridgeError,
    MissingRequiredFilter,
    QueryError,
    RateLimitError,
    RetriableApiError,
    SkippableApiError,
    TransferError,
    UnaddressableValue,
    UnknownColumn,
    UnknownObject,
    UnknownOutcomeError,
    UnsupportedOperation,
    WriteRefused,
)
from iterbridge.objects.base import Condition, RowResult, WriteReport

__all__ = [
    "ApiError",
    "AuthenticationError",
    "Condition",
    "ConfigurationError",
    "Connection",
    "FatalApiError",
    "IterbridgeError",
    "KeyCheck",
    "MissingRequiredFilter",
    "QueryError",
    "RateLimitError",
    "RetriableApiError",
    "RowResult",
    "SkippableApiError",
    "Skipped",
    "TransferError",
    "UnaddressableValue",
    "UnknownColumn",
    "UnknownObject",
    "UnknownOutcomeError",
    "UnsupportedOperation",
    "WriteRefused",
    "WriteReport",
    "__version__",
    "connect",
]
