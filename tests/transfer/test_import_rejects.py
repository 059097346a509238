"""Rejected rows: cells that cannot become their column's type, rows missing a required field, rows Iterable
refuses — each in the rejects file with its line and reason, then its fields as they were; the rest imported;
the summary's counts; exit code 1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from click.testing import Result

import iterbridge
from iterbridge.transfer import ImportOptions

from .support import Stats, read_csv, write_csv, writes


def test_conversion_errors_name_the_column_and_the_reason(cli: Callable[..., Result], tmp_path: Path,
                                                          api: httpx2.Client) -> None:  # fmt: skip
    header = ["Email", "loyaltyPoints", "lifetimeValue", "isVip", "birthday", "address"]
    rows = [
        ["ok@example.com", "3", "1.5", "true", "2001-02-03", '{"city": "Rome"}'],
        ["p1@example.com", "many", "", "", "", ""],
        ["p2@example.com", "1", "cheap", "", "", ""],
        ["p3@example.com", "", "", "maybe", "", ""],
        ["p4@example.com", "", "", "", "31/31/2020", ""],
        ["p5@example.com", "", "", "", "", "{city: Rome"],
        ["p6@example.com", "2.5", "", "", "", ""],
    ]
    path = write_csv(tmp_path / "users.csv", header, rows)
    rejects = tmp_path / "rejects.csv"
    result = cli("import", "Users", str(path), "--rejects", str(rejects))
    assert result.exit_code == 1
    assert "Users insert: 7 rows read, 1 sent, 1 accepted, 6 rejected" in result.stderr
    assert f"rejected rows → {rejects}" in result.stderr
    found = read_csv(rejects)
    assert list(found[0]) == ["_line", "_reason", *header]
    assert [(row["_line"], row["_reason"]) for row in found] == [
        ("3", "loyaltyPoints: expected a whole number, found 'many'"),
        ("4", "lifetimeValue: expected a number, found 'cheap'"),
        ("5", "isVip: expected true/false (or yes/no, 1/0), found 'maybe'"),
        ("6", "birthday: expected a date (YYYY-MM-DD, YYYY-MM-DD HH:MM:SS or ISO-8601), found '31/31/2020'"),
        ("7", "address: expected JSON (an object {…} or an array [1,2,3]), found '{city: Rome'"),
        ("8", "loyaltyPoints: expected a whole number, found '2.5'"),
    ]
    assert [[row[name] for name in header] for row in found] == rows[1:]  # the original fields, unchanged
    for email in ("p1@example.com", "p6@example.com"):
        assert api.get(f"/api/users/{email}").json() == {}  # not sent
    assert api.get("/api/users/ok@example.com").json()["user"]["dataFields"]["loyaltyPoints"] == 3


def test_a_date_format_reads_dates_written_that_way(cli: Callable[..., Result], tmp_path: Path,
                                                    api: httpx2.Client) -> None:  # fmt: skip
    path = write_csv(tmp_path / "users.csv", ["Email", "birthday"], [["d1@example.com", "03/02/2001"],
                                                                     ["d2@example.com", "2001-02-03"]])  # fmt: skip
    result = cli("import", "Users", str(path), "--date-format", "%d/%m/%Y")
    assert result.exit_code == 1
    assert "line 3: birthday: expected a date like '31/01/2026', found '2001-02-03'" in result.stderr
    assert api.get("/api/users/d1@example.com").json()["user"]["dataFields"]["birthday"] == "2001-02-03 00:00:00 +00:00"


def test_a_new_field_takes_the_type_of_its_first_value(cli: Callable[..., Result], tmp_path: Path,
                                                       api: httpx2.Client) -> None:  # fmt: skip
    header = ["Email", "visits", "code", "vip", "score", "tags"]
    rows = [["n1@example.com", "3", "007", "true", "1.5", '["a"]'],
            ["n2@example.com", "x", "8", "no", "2", "[]"]]  # fmt: skip
    result = cli("import", "Users", str(write_csv(tmp_path / "users.csv", header, rows)))
    assert result.exit_code == 1
    assert "new fields: visits, code, vip, score, tags" in result.stderr
    assert ("line 3: visits: expected a whole number, found 'x' (a new field takes the type of its first value, "
            "line 2)") in result.stderr  # fmt: skip
    fields = api.get("/api/users/n1@example.com").json()["user"]["dataFields"]
    assert (fields["visits"], fields["code"], fields["vip"], fields["score"], fields["tags"]) == (3, "007", True, 1.5,
                                                                                                 ["a"])  # fmt: skip
    types = api.get("/api/users/getFields").json()["fields"]
    assert (types["visits"], types["code"], types["vip"], types["score"]) == ("long", "string", "boolean", "double")


def test_required_fields_are_checked_before_sending(cli: Callable[..., Result], tmp_path: Path, stats: Stats) -> None:
    header = ["EventName", "Email", "UserId", "CreatedAt"]
    rows = [["", "elijah.young0@example.net", "", ""], ["opened", "", "", ""], ["opened", "", "", "2026-10-01"]]
    rejects = tmp_path / "rejects.csv"
    with stats.counting() as made:
        result = cli("import", "Events", str(write_csv(tmp_path / "events.csv", header, rows)),
                     "--rejects", str(rejects))  # fmt: skip
    assert result.exit_code == 1
    assert "3 rows read, 0 sent, 0 accepted, 3 rejected" in result.stderr
    assert [row["_reason"] for row in read_csv(rejects)] == [
        "missing EventName",
        "missing Email or UserId",
        "missing Email or UserId",
    ]
    assert writes(made) == {}


def test_iterable_refusals_are_rejects_with_iterables_reason(cli: Callable[..., Result], tmp_path: Path,
                                                             api: httpx2.Client) -> None:  # fmt: skip
    users = write_csv(tmp_path / "users.csv", ["Email", "firstName"],
                      [["good@example.com", "Gus"], ["not-an-email", "Nat"], ["also@bad", "Al"]])  # fmt: skip
    rejects = tmp_path / "rejects.csv"
    result = cli("import", "Users", str(users), "--rejects", str(rejects))
    assert result.exit_code == 1
    assert "3 rows read, 3 sent, 1 accepted, 2 rejected" in result.stderr
    assert [(r["_line"], r["Email"], r["_reason"]) for r in read_csv(rejects)] == [
        ("3", "not-an-email", "invalid email"),
        ("4", "also@bad", "invalid email"),
    ]
    assert api.get("/api/users/good@example.com").json()["user"]["dataFields"]["firstName"] == "Gus"

    events = write_csv(tmp_path / "events.csv", ["EventName", "Email"], [["x", "bad-email"], ["x", "ok@example.com"]])
    result = cli("import", "Events", str(events))
    assert "2 rows read, 2 sent, 1 accepted, 1 rejected" in result.stderr
    assert "line 2: invalid email" in result.stderr

    members = write_csv(tmp_path / "members.csv", ["ListId", "Email"], [[0, "bad-email"]])
    list_id = api.post("/api/lists", json={"name": "R"}).json()["listId"]
    result = cli("import", "ListUsers", str(members), "--set", f"ListId={list_id}")
    assert "line 2: invalid email" in result.stderr


def test_a_type_iterable_refuses_is_its_reject(cli: Callable[..., Result], tmp_path: Path) -> None:
    """Values typed by hand in ExtraFields skip the import's conversion; Iterable refuses a mismatch itself."""
    path = write_csv(
        tmp_path / "users.csv",
        ["Email", "ExtraFields"],
        [["t1@example.com", '{"loyaltyPoints": "lots"}'], ["t2@example.com", '{"loyaltyPoints": 2}']],
    )
    result = cli("import", "Users", str(path))  # fmt: skip
    assert "2 rows read, 2 sent, 1 accepted, 1 rejected" in result.stderr
    assert "line 2: invalid data fields" in result.stderr


def test_refusals_of_per_row_endpoints_carry_iterables_message(cli: Callable[..., Result], tmp_path: Path) -> None:
    templates = write_csv(tmp_path / "templates.csv", ["Id", "MessageMedium", "Subject"], [[999, "Email", "x"]])
    result = cli("import", "Templates", str(templates), "--operation", "update")
    assert result.exit_code == 1
    assert "line 2: " in result.stderr
    assert "Template ID: 999 does not exist for this project" in result.stderr
    campaigns = write_csv(tmp_path / "campaigns.csv", ["Name", "TemplateId"], [["c", 999]])
    result = cli("import", "Campaigns", str(campaigns))
    assert "1 row read, 1 sent, 0 accepted, 1 rejected" in result.stderr
    assert "Template ID: 999 does not exist" in result.stderr


def test_the_summary_counts_read_sent_accepted_rejected(cli: Callable[..., Result], tmp_path: Path) -> None:
    header = ["EventName", "Email", "CreatedAt"]
    rows = [
        ["a", "s1@example.com", ""],  # accepted
        ["b", "s2@example.com", "2026-10-01 12:00:00"],  # accepted
        ["c", "s3@example.com", "yesterday"],  # not a date: rejected before sending
        ["", "s4@example.com", ""],  # no EventName: rejected before sending
        ["e", "s5 at example.com", ""],  # refused by Iterable
    ]
    result = cli("import", "Events", str(write_csv(tmp_path / "events.csv", header, rows)))
    assert result.exit_code == 1
    assert "Events insert: 5 rows read, 3 sent, 2 accepted, 3 rejected" in result.stderr
    assert "line 4: CreatedAt: expected a date" in result.stderr
    assert "line 5: missing EventName" in result.stderr
    assert "line 6: invalid email" in result.stderr


def test_exit_code_is_zero_only_when_nothing_was_rejected(cli: Callable[..., Result], tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", ["Email"], [["z1@example.com"]])
    assert cli("import", "Users", str(good)).exit_code == 0
    bad = write_csv(tmp_path / "bad.csv", ["Email"], [["z1@example.com"], ["nope"]])
    assert cli("import", "Users", str(bad)).exit_code == 1


def test_without_a_rejects_file_the_first_reasons_are_shown(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "users.csv", ["Email", "loyaltyPoints"],
                     [[f"r{i}@example.com", "x"] for i in range(14)])  # fmt: skip
    result = cli("import", "Users", str(path))
    assert result.exit_code == 1
    shown = [line for line in result.stderr.splitlines() if line.startswith("  line ")]
    assert len(shown) == 10
    assert shown[0] == "  line 2: loyaltyPoints: expected a whole number, found 'x'"
    assert "… and 4 more (--rejects FILE keeps them all)" in result.stderr


def test_the_python_api_reports_the_same(conn: iterbridge.Connection, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "users.csv", ["Email", "loyaltyPoints"], [["a@example.com", "1"], ["b", "2"]])
    summary = conn.import_csv("users", path, ImportOptions(operation="upsert", rejects=tmp_path / "r.csv"))
    assert (summary.object, summary.operation) == ("Users", "upsert")
    assert (summary.read, summary.sent, summary.accepted, summary.rejected) == (2, 2, 1, 1)
    assert summary.samples == [(3, "invalid email")]
    assert summary.api_calls == 1


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_the_rejects_file_uses_the_input_dialect(cli: Callable[..., Result], tmp_path: Path, delimiter: str) -> None:
    path = write_csv(tmp_path / "users.csv", ["Email", "loyaltyPoints"], [["a;b@example.com", "x"]],
                     delimiter=delimiter)  # fmt: skip
    rejects = tmp_path / "rejects.csv"
    cli("import", "Users", str(path), "--delimiter", delimiter, "--rejects", str(rejects))
    assert read_csv(rejects, delimiter=delimiter)[0]["Email"] == "a;b@example.com"
