"""Per-row outcomes of writers that send one request per group (a list, a catalog): a group Iterable refuses
fails its own rows only, and the other groups' rows are reported as they truly went."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx2
import pytest

import iterbridge
from iterbridge.objects.writing import refusal, refusals, user_outcomes
from iterbridge.transfer import ImportOptions

from .readers import list_ids
from .support import Calls

UNKNOWN_LIST = 987654321


def _members(conn: iterbridge.Connection, list_id: int) -> set[str]:
    return {row["Email"] for row in conn.read("ListUsers", where={"ListId": list_id})}


def test_an_unknown_list_fails_its_rows_only(conn: iterbridge.Connection, api: httpx2.Client, calls: Calls) -> None:
    list_id = list_ids(api)[3]
    rows = [
        {"ListId": list_id, "Email": "kept.one@example.com"},
        {"ListId": UNKNOWN_LIST, "Email": "lost@example.com"},
        {"ListId": list_id, "Email": "kept.two@example.com"},
        {"ListId": list_id, "Email": "not-an-email"},
    ]
    with calls.counting() as made:
        report = conn.insert("ListUsers", rows)
    assert made == {"POST /api/lists/subscribe": 2}  # one request per list
    assert [r.ok for r in report.results] == [True, False, True, False]
    assert f"error.lists.invalidListId({UNKNOWN_LIST})" in (report.results[1].error or "")
    assert report.results[3].error == "invalid email"
    assert {"kept.one@example.com", "kept.two@example.com"} <= _members(conn, list_id)

    removed = conn.delete("ListUsers", [{"ListId": UNKNOWN_LIST, "Email": "a@example.com"}, rows[0]])
    assert [r.ok for r in removed.results] == [False, True]
    assert f"error.lists.invalidListId({UNKNOWN_LIST})" in (removed.results[0].error or "")
    assert "kept.one@example.com" not in _members(conn, list_id)


def test_an_import_counts_each_row_as_it_went(conn: iterbridge.Connection, api: httpx2.Client, tmp_path: Path) -> None:
    list_id = list_ids(api)[3]
    path = tmp_path / "members.csv"
    path.write_text(f"ListId,Email\n{list_id},in.one@example.com\n{UNKNOWN_LIST},x@example.com\n"
                    f"{list_id},in.two@example.com\n")  # fmt: skip
    summary = conn.import_csv("ListUsers", path, ImportOptions(rejects=tmp_path / "rejects.csv"))
    assert (summary.read, summary.sent, summary.accepted, summary.rejected) == (3, 3, 2, 1)
    assert [line for line, _ in summary.samples] == [3]
    assert {"in.one@example.com", "in.two@example.com"} <= _members(conn, list_id)


def test_an_unknown_catalog_fails_its_rows_only(conn: iterbridge.Connection) -> None:
    rows = [
        {"CatalogName": "products", "ItemId": "grouped-1", "Value": {"name": "A"}},
        {"CatalogName": "no-such-catalog", "ItemId": "grouped-2", "Value": {"name": "B"}},
    ]
    report = conn.insert("CatalogItems", rows)
    assert [r.ok for r in report.results] == [True, False]
    assert "no-such-catalog" in (report.results[1].error or "")
    assert [r["ItemId"] for r in conn.read("CatalogItems", where={"CatalogName": "products", "ItemId": "grouped-1"})]
    deleted = conn.delete("CatalogItems", [{"CatalogName": "no-such-catalog", "ItemId": "x"},
                                           {"CatalogName": "products", "ItemId": "grouped-1"}])  # fmt: skip
    assert [r.ok for r in deleted.results] == [False, True]


def test_every_failure_kind_of_a_bulk_answer_names_its_row() -> None:
    """UserBulkUpdateListResponse: failedUpdates by email and by userId, and the older lists."""
    answer = {
        "successCount": 1,
        "failCount": 5,
        "invalidEmails": ["bad@"],
        "invalidUserIds": ["u-invalid"],
        "failedUpdates": {
            "forgottenUserIds": ["u-forgotten"],
            "conflictEmails": ["c@example.com"],
            "notFoundUserIds": ["u-missing"],
        },
    }
    reasons = refusals(answer)
    rows = [
        {"Email": "ok@example.com"},
        {"Email": "bad@"},
        {"UserId": "u-invalid"},
        {"UserId": "u-forgotten"},
        {"Email": "c@example.com", "UserId": "u-1"},
        {"UserId": "u-missing"},
    ]
    errors = [refusal(reasons, row) for row in rows]
    assert errors == [
        None,
        "invalid email",
        "invalid userId",
        "user was forgotten (GDPR)",
        "conflicting user",
        "no such user",
    ]
    assert sum(error is not None for error in errors) == answer["failCount"]


def test_failures_counted_but_not_named_are_said(caplog: pytest.LogCaptureFixture) -> None:
    answer = {"successCount": 1, "failCount": 2, "invalidEmails": ["bad@"]}
    parts = [(0, {"Email": "a@example.com"}, {}), (1, {"Email": "bad@"}, {}), (2, {"Email": "b@example.com"}, {})]
    with caplog.at_level(logging.WARNING, logger="iterbridge"):
        results = user_outcomes(answer, parts)
    assert [r.ok for r in results] == [True, False, True]
    assert "Iterable counted 2 failures among 3 rows but named 1" in caplog.text
