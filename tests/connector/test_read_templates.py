"""Templates: extended fields cost one GET per template — made only for a selected extended column, never when
suppressed."""

from __future__ import annotations

import httpx2

import iterbridge
from iterbridge.objects.templates import EXTENDED_COLUMNS
from iterbridge.sandbox import Sandbox

from .support import Calls, connect_to

DETAIL = "GET /api/templates/{medium}/get"
LISTING = "GET /api/templates"


def test_no_extended_column_means_no_per_template_call(conn: iterbridge.Connection, calls: Calls) -> None:
    basic = [c.name for c in conn.columns("Templates") if c.name not in EXTENDED_COLUMNS]
    with calls.counting() as made:
        rows = list(conn.read("Templates", columns=basic))
    assert rows
    assert made == {LISTING: 16}  # 4 types × 4 media, one page each


def test_an_extended_column_means_one_call_per_template(conn: iterbridge.Connection, calls: Calls) -> None:
    with calls.counting() as made:
        rows = list(conn.read("Templates", columns=["Id", "Subject"]))
    assert made == {LISTING: 16, DETAIL: len(rows)}
    with calls.counting() as filtered:
        emails = list(conn.read("Templates", where={"MessageMedium": "Email"}, columns=["Subject"]))
    assert filtered == {LISTING: 4, DETAIL: len(emails)}
    assert all(row["Subject"] for row in emails)


def test_a_full_read_includes_the_extended_columns(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    rows = {row["Id"]: row for row in conn.read("Templates", where={"MessageMedium": ["Email", "Push"]})}
    for template_id, row in rows.items():
        medium = row["MessageMedium"].lower()
        detail = api.get(f"/api/templates/{medium}/get", params={"templateId": template_id}).json()
        if medium == "email":
            assert row["Subject"] == detail["subject"]
            assert row["FromEmail"] == detail["fromEmail"]
            assert row["HTML"] == detail["html"]
            assert row["Metadata"] == detail["metadata"]
            assert isinstance(row["CcEmails"], list)
        else:
            assert row["Message"] == detail["message"]
            assert row["Title"] == detail["title"]
            assert row["Subject"] is None


def test_suppressed_extended_requests_are_never_made(sandbox: Sandbox, calls: Calls) -> None:
    with connect_to(sandbox, suppress_extended_requests=True) as conn, calls.counting() as made:
        rows = list(conn.read("Templates"))
        rows += list(conn.read("Templates", columns=["Id", "Subject", "HTML"]))
        rows += list(conn.read("Templates", where={"Subject": None}))
    assert DETAIL not in made
    assert rows
    assert all(row.get(column) is None for row in rows for column in EXTENDED_COLUMNS)
    with connect_to(sandbox, suppress_extended_requests=True) as conn:
        basic = list(conn.read("Templates", columns=["Id", "Name"]))
    with connect_to(sandbox) as conn:
        assert basic == list(conn.read("Templates", columns=["Id", "Name"]))


def test_a_filter_on_an_extended_column_needs_the_extended_call(conn: iterbridge.Connection, calls: Calls) -> None:
    (one,) = conn.read("Templates", where={"MessageMedium": "Email"}, columns=["Subject"], limit=1)
    with calls.counting() as made:
        rows = list(conn.read("Templates", where={"Subject": one["Subject"]}, columns=["Id"]))
    assert rows
    assert made.get(DETAIL, 0) > 0


def test_templates_by_id(conn: iterbridge.Connection) -> None:
    everything = list(conn.read("Templates", columns=["Id", "Name", "MessageMedium"]))
    wanted = [everything[0]["Id"], everything[-1]["Id"]]
    rows = list(conn.read("Templates", where={"Id": wanted}, columns=["Id", "Name", "MessageMedium"]))
    assert sorted(row["Id"] for row in rows) == sorted(wanted)
