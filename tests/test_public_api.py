"""The public API is exactly the curated list of `iterbridge.__all__`, and every name in it is importable."""

from __future__ import annotations

import importlib

import iterbridge

CURATED = [
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


def test_all_is_the_curated_list() -> None:
    assert sorted(iterbridge.__all__) == sorted(CURATED)
    assert len(set(iterbridge.__all__)) == len(iterbridge.__all__)


def test_every_public_name_is_importable() -> None:
    module = importlib.import_module("iterbridge")
    for name in iterbridge.__all__:
        assert getattr(module, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from iterbridge import *", namespace)  # the star import users may write
    assert set(CURATED) - {"__version__"} <= set(namespace)


def test_errors_form_one_tree() -> None:
    errors = [getattr(iterbridge, name) for name in CURATED if name.endswith(("Error", "Object", "Column", "Filter"))]
    errors += [iterbridge.UnsupportedOperation, iterbridge.UnaddressableValue]
    assert all(issubclass(error, iterbridge.IterbridgeError) for error in errors)
    assert issubclass(iterbridge.AuthenticationError, iterbridge.FatalApiError)
    assert issubclass(iterbridge.RateLimitError, iterbridge.RetriableApiError)
    assert issubclass(iterbridge.MissingRequiredFilter, iterbridge.QueryError)
    assert issubclass(iterbridge.WriteRefused, iterbridge.ApiError)
    assert issubclass(iterbridge.SkippableApiError, iterbridge.ApiError)
    assert issubclass(iterbridge.UnknownOutcomeError, iterbridge.ApiError)
    assert not issubclass(iterbridge.UnknownOutcomeError, iterbridge.RetriableApiError)


def test_the_version_is_the_package_version() -> None:
    from importlib.metadata import version

    assert iterbridge.__version__ == version("iterbridge")
