"""Each written row carries its outcome as a status, set where the outcome is known, so that callers (the
import, the SQL writer, sync) decide on it, never on the reason's text — which stays as people read it."""

from __future__ import annotations

from pathlib import Path

import pytest

import iterbridge
from helpers import FAST_RETRY, Stats, connect_to
from iterbridge.errors import UnsupportedOperation
from iterbridge.objects.base import Operation, RowStatus
from iterbridge.sandbox import Sandbox
from iterbridge.sync.engine import sync
from iterbridge.sync.kinds import ActionKind, Policy, Side


def test_an_accepted_row(conn: iterbridge.Connection) -> None:
    (result,) = conn.insert("Lists", [{"Name": "status-accepted"}]).results
    assert result.status is RowStatus.ACCEPTED
    assert result.ok
    assert result.error is None
    assert isinstance(result.keys.get("Id"), int)


def test_rows_iterable_refuses_one_by_one_and_in_bulk(conn: iterbridge.Connection, stats: Stats) -> None:
    created = conn.insert("Lists", [{"Name": "status-refused"}]).results[0].keys["Id"]
    with stats.counting() as made:
        single = conn.delete("Lists", [{"Id": 999_999_999}, {"Id": created}])  # per row: 404, then accepted
        bulk = conn.delete("Users", [{"UserId": "no-such-user"}])  # bulk: the answer names the user
    assert made.get("DELETE /api/lists/{listId}") == 2
    assert [r.status for r in single.results] == [RowStatus.REJECTED, RowStatus.ACCEPTED]
    assert [r.status for r in bulk.results] == [RowStatus.REJECTED]
    assert all(r.error and not r.error.startswith(("not sent", "unknown outcome")) for r in bulk.results)


def test_rows_refused_before_any_request_are_invalid(conn: iterbridge.Connection, stats: Stats) -> None:
    rows = [
        {"CatalogName": "products", "ItemId": "status-ok", "Value": {"name": "A"}},
        {"CatalogName": "products", "ItemId": "status-bad", "Value": "[1, 2]"},  # a bad value
        {"CatalogName": "products", "ItemId": "status-none"},  # a missing one
    ]
    report = conn.insert("CatalogItems", rows)
    assert [r.status for r in report.results] == [RowStatus.ACCEPTED, RowStatus.INVALID, RowStatus.INVALID]
    assert (report.results[1].error or "").startswith("bad value: ")
    assert report.results[2].error == "missing Value"
    with stats.counting() as made:
        unaddressable = conn.delete("Lists", [{"Id": ".."}])
    assert not made
    assert [r.status for r in unaddressable.results] == [RowStatus.INVALID]


def test_an_unsafe_request_that_failed_is_unknown_and_the_rest_not_sent(sandbox: Sandbox, stats: Stats) -> None:
    stats.faults(error_rate=1.0, error_endpoint="POST /api/lists")
    with connect_to(sandbox) as conn, stats.counting() as made:
        report = conn.insert("Lists", [{"Name": "A"}, {"Name": "B"}])
    assert made.get("POST /api/lists") == 1
    assert [r.status for r in report.results] == [RowStatus.UNKNOWN, RowStatus.NOT_SENT]
    assert [r.ok for r in report.results] == [False, False]


def test_a_safe_request_still_failing_after_retries_failed_and_the_rest_not_sent(
    sandbox: Sandbox, stats: Stats
) -> None:
    stats.faults(error_rate=1.0, error_endpoint="DELETE /api/lists/{listId}")
    with connect_to(sandbox) as conn:
        report = conn.delete("Lists", [{"Id": 1}, {"Id": 2}])
        users = conn.update("Users", [{"Email": "a@example.com", "firstName": "A"}])
    assert [r.status for r in report.results] == [RowStatus.FAILED, RowStatus.NOT_SENT]
    assert [r.status for r in users.results] == [RowStatus.ACCEPTED]  # other endpoints unaffected


def test_a_bulk_request_still_failing_after_retries_failed_and_the_next_ones_not_sent(
    sandbox: Sandbox, stats: Stats
) -> None:
    # One request per list: the first list's rows were sent (and failed), the second list's never were.
    stats.faults(error_rate=1.0, error_endpoint="POST /api/lists/subscribe")
    rows = [{"ListId": 1, "Email": "a@example.com"}, {"ListId": 2, "Email": "b@example.com"}]
    with connect_to(sandbox) as conn, stats.counting() as made:
        report = conn.insert("ListUsers", rows)
    assert made.get("POST /api/lists/subscribe") == FAST_RETRY.attempts  # the first list, retried; no second
    assert [r.status for r in report.results] == [RowStatus.FAILED, RowStatus.NOT_SENT]
    failed, unsent = report.results
    assert not (failed.error or "").startswith("not sent")
    assert (unsent.error or "").startswith("not sent: ")


# ---- operations and sync's values: enums whose text is what users write and read ---------------------------


def test_operations_are_given_as_enums_or_their_text(conn: iterbridge.Connection) -> None:
    by_text = conn.write("insert", "Lists", [{"Name": "status-text"}])
    by_value = conn.write(Operation.INSERT, "Lists", [{"Name": "status-enum"}])
    assert by_text.operation is Operation.INSERT
    assert by_value.operation is Operation.INSERT
    assert f"{by_text.operation}" == "insert"
    for unknown in ("upsert", "Insert", "drop"):
        with pytest.raises(
            UnsupportedOperation, match=f"Lists does not support {unknown}; it supports: insert, delete"
        ):
            conn.write(unknown, "Lists", [{"Name": "never"}])


def test_sync_values_keep_their_text() -> None:
    assert [p.value for p in Policy] == ["iterable", "database", "newest"]
    assert {s.value for s in Side} == {"iterable", "database", "map"}
    assert {k.value for k in ActionKind} == {"create", "update", "delete", "match", "confirm", "forget"}


def test_an_unknown_conflict_policy_is_refused(conn: iterbridge.Connection, tmp_path: Path) -> None:
    with pytest.raises(iterbridge.ConfigurationError, match="--conflict must be one of iterable, database, newest"):
        sync(conn, "CatalogItems", f"sqlite:///{tmp_path}/s.db", catalog="products", conflict="oldest")
