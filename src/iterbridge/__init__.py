"""iterbridge: Iterable to SQL, CSV files and relational databases.

The public API is what `__all__` lists; everything else is private and may change.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from iterbridge.connection import Connection, KeyCheck, connect
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
from iterbridge.objects.session import Skipped

if TYPE_CHECKING:
    from iterbridge.query.engine import Cursor
    from iterbridge.replicate import ReplicationReport, StreamProgress, StreamReport
    from iterbridge.sync import SyncReport
    from iterbridge.transfer import CsvOptions, ExportResult, ImportOptions, ImportSummary

# What the jobs take and return (Connection.sql, replicate, sync, export, import_csv), imported at first use:
# `import iterbridge` (and every CLI command) does not load the database drivers or the SQL engine for them.
_LAZY = {
    "CsvOptions": "iterbridge.transfer",
    "Cursor": "iterbridge.query.engine",
    "ExportResult": "iterbridge.transfer",
    "ImportOptions": "iterbridge.transfer",
    "ImportSummary": "iterbridge.transfer",
    "ReplicationReport": "iterbridge.replicate",
    "StreamProgress": "iterbridge.replicate",
    "StreamReport": "iterbridge.replicate",
    "SyncReport": "iterbridge.sync",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'iterbridge' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "ApiError",
    "AuthenticationError",
    "Condition",
    "ConfigurationError",
    "Connection",
    "CsvOptions",
    "Cursor",
    "ExportResult",
    "FatalApiError",
    "ImportOptions",
    "ImportSummary",
    "IterbridgeError",
    "KeyCheck",
    "MissingRequiredFilter",
    "QueryError",
    "RateLimitError",
    "ReplicationReport",
    "RetriableApiError",
    "RowResult",
    "SkippableApiError",
    "Skipped",
    "StreamProgress",
    "StreamReport",
    "SyncReport",
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
