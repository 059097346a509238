"""What `iterbridge export` reads: --columns, --where (pushed to the API), --query, --all, stdout; the header
from the catalog (Users' custom fields from users/getFields), never from the first rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from click.testing import Result

import iterbridge
from iterbridge.transfer import CsvOptions, export, exportable

from .support import Stats, one_line_error, parse, read_csv


def rows_of(result: Result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout, newline="")))


def test_columns_choose_and_order_case_insensitively(cli: Callable[..., Result], api: httpx2.Client) -> None:
    result = cli("export", "Lists", "--columns", "name, ID", "-o", "-")
    served = api.get("/api/lists").json()["lists"]
    assert parse(result.stdout) == [["Name", "Id"], *([item["name"], str(item["id"])] for item in served)]


def test_an_unknown_column_is_a_one_line_error_with_a_suggestion(cli: Callable[..., Result]) -> None:
    message = one_line_error(cli("export", "Lists", "--columns", "Id,Nmae"))
    assert "Lists has no column 'Nmae'; did you mean Name?" in message


def test_an_unknown_object_is_a_one_line_error(cli: Callable[..., Result]) -> None:
    assert "unknown object 'Listz'; did you mean Lists" in one_line_error(cli("export", "Listz"))


def test_where_on_email_is_one_user_lookup(cli: Callable[..., Result], stats: Stats, api: httpx2.Client) -> None:
    email = "elijah.young0@example.net"
    with stats.counting() as made:
        result = cli("export", "Users", "--where", f"Email = '{email}'", "--columns", "Email,firstName,loyaltyPoints")
    rows = rows_of(result)
    profile = api.get(f"/api/users/{email}").json()["user"]["dataFields"]
    assert rows == [{"Email": email, "firstName": profile["firstName"], "loyaltyPoints": str(profile["loyaltyPoints"])}]
    assert made == {"GET /api/users/getFields": 1, "GET /api/users/{email}": 1}  # no export of every user


def test_where_on_a_user_reads_only_their_events(cli: Callable[..., Result], stats: Stats) -> None:
    email = "elijah.young0@example.net"
    with stats.counting() as made:
        rows = rows_of(cli("export", "Events", "--where", f"Email = '{email}' AND EventType = 'emailSend'"))
    assert rows
    assert {(row["Email"], row["EventType"]) for row in rows} == {(email, "emailSend")}
    assert made == {"GET /api/export/userEvents": 1}


def test_where_on_the_cursor_narrows_the_export_window(cli: Callable[..., Result], stats: Stats,
                                                       conn: iterbridge.Connection) -> None:  # fmt: skip
    everything = list(conn.read("Events", where={"EventType": "emailOpen"}))
    since = sorted(row["CreatedAt"] for row in everything)[len(everything) // 2]
    condition = f"EventType = 'emailOpen' AND CreatedAt >= '{since:%Y-%m-%d %H:%M:%S}'"
    with stats.counting() as made:
        rows = rows_of(cli("export", "Events", "--where", condition, "--columns", "Id,CreatedAt"))
    assert sorted(row["Id"] for row in rows) == sorted(r["Id"] for r in everything if r["CreatedAt"] >= since)
    assert made == {"GET /api/export/data.json": 1}  # one type, one window


def test_where_keeps_the_date_format_and_json(cli: Callable[..., Result], conn: iterbridge.Connection) -> None:
    result = cli("export", "Campaigns", "--where", "Type = 'Blast'", "--date-format", "epoch-ms",
                 "--columns", "Id,CreatedAt,ListIds", "-o", "-")  # fmt: skip
    expected = {
        str(row["Id"]): (str(int(row["CreatedAt"].timestamp() * 1000)), row["ListIds"])
        for row in conn.read("Campaigns", where={"Type": "Blast"})
    }
    found = {row["Id"]: (row["CreatedAt"], row["ListIds"]) for row in rows_of(result)}
    assert found.keys() == expected.keys()
    for key, (stamp, list_ids) in found.items():
        assert stamp == expected[key][0]
        assert list_ids == ("[" + ",".join(str(i) for i in expected[key][1]) + "]" if expected[key][1] else "")


def test_a_bad_where_is_a_one_line_error(cli: Callable[..., Result]) -> None:
    message = one_line_error(cli("export", "Lists", "--where", "Nmae = 'x'"))
    assert "Nmae" in message


def test_query(cli: Callable[..., Result], api: httpx2.Client) -> None:
    result = cli("export", "--query", "SELECT ListType, count(*) AS n FROM Lists GROUP BY ListType ORDER BY 1",
                 "--delimiter", "semicolon")  # fmt: skip
    served = api.get("/api/lists").json()["lists"]
    counts: dict[str, int] = {}
    for item in served:
        counts[item["listType"]] = counts.get(item["listType"], 0) + 1
    assert result.exit_code == 0, result.output
    assert parse(result.stdout, delimiter=";") == [["ListType", "n"], *([k, str(v)] for k, v in sorted(counts.items()))]
    assert "rows × 2 columns → -" in result.stderr


def test_query_with_no_rows_still_writes_its_header(cli: Callable[..., Result]) -> None:
    result = cli("export", "--query", "SELECT Id, Name FROM Lists WHERE Name = 'no such list'")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b"Id,Name\r\n"


def test_object_and_query_together_are_refused(cli: Callable[..., Result]) -> None:
    assert "not both" in one_line_error(cli("export", "Lists", "--query", "SELECT 1"))


def test_nothing_to_export_is_a_usage_error(cli: Callable[..., Result]) -> None:
    result = cli("export")
    assert "give an OBJECT, --query or --all" in one_line_error(result)
    assert result.exit_code == 2


def test_all_needs_a_directory_and_no_object(cli: Callable[..., Result]) -> None:
    assert "--all needs -o DIR" in one_line_error(cli("export", "--all"))
    assert "--all needs -o DIR" in one_line_error(cli("export", "--all", "-o", "-"))
    assert "give no OBJECT" in one_line_error(cli("export", "--all", "Lists", "-o", "x"))


def test_all_writes_one_file_per_readable_object(cli: Callable[..., Result], tmp_path: Path,
                                                 conn: iterbridge.Connection) -> None:  # fmt: skip
    target = tmp_path / "dump"
    result = cli("export", "--all", "-o", str(target), "--delimiter", "tab", "--line-terminator", "lf")
    assert result.exit_code == 0, result.output
    names = exportable()
    assert "InAppMessages" not in names  # it needs an Email or UserId filter
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{name}.csv" for name in names)
    for name in names:
        assert f"→ {target / name}.csv" in result.stderr
        header = (target / f"{name}.csv").read_text().split("\n", 1)[0].split("\t")
        assert header == [c.name for c in conn.columns(name)]
    lists = read_csv(target / "Lists.csv", delimiter="\t")
    assert [row["Name"] for row in lists] == [row["Name"] for row in conn.read("Lists")]
    assert result.stdout == ""


@pytest.mark.parametrize("output", [None, "-"])
def test_stdout_holds_only_the_data(cli: Callable[..., Result], output: str | None) -> None:
    result = cli("export", "Channels", *(["-o", output] if output else []))
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"Id,Name,ChannelType,MessageMedium\r\n")
    assert "rows × 4 columns → -" in result.stderr
    assert "rows" not in result.stdout


# ---- the header comes from the catalog ---------------------------------------------------------------------


def test_the_users_header_has_every_custom_field_even_those_the_first_rows_lack(
    cli: Callable[..., Result], api: httpx2.Client, tmp_path: Path
) -> None:
    fields = api.get("/api/users/getFields").json()["fields"]
    custom = [name for name in fields if "." not in name and name[0].islower()
              and name not in ("email", "userId", "signupDate", "signupSource", "profileUpdatedAt", "emailListIds",
                               "unsubscribedChannelIds", "unsubscribedMessageTypeIds", "subscribedMessageTypeIds",
                               "phoneNumber", "itblInternal", "devices")]  # fmt: skip
    target = tmp_path / "users.csv"
    assert cli("export", "Users", "-o", str(target)).exit_code == 0
    header = target.read_text().splitlines()[0].split(",")
    assert [name for name in header if name in custom] == custom
    rows = read_csv(target)
    first = rows[0]
    missing_at_first = [name for name in custom if first[name] == ""]
    assert missing_at_first, "the first row lacks some fields, yet the header has them"
    for name in missing_at_first:
        assert any(row[name] for row in rows), name


def test_a_field_that_appears_only_in_the_last_row_is_not_lost(cli: Callable[..., Result], api: httpx2.Client,
                                                               tmp_path: Path) -> None:  # fmt: skip
    email = "zz.late@example.com"
    api.post("/api/users/update", json={"email": email, "dataFields": {"lateField": "only here"}}).raise_for_status()
    target = tmp_path / "users.csv"
    assert cli("export", "Users", "-o", str(target)).exit_code == 0
    rows = read_csv(target)
    assert rows[-1]["Email"] == email
    assert rows[-1]["lateField"] == "only here"
    assert all(row["lateField"] == "" for row in rows[:-1])


def test_a_field_unknown_to_the_catalog_lands_in_extra_fields(sandbox: object, conn: iterbridge.Connection,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              api: httpx2.Client) -> None:  # fmt: skip
    """A field created after the export asked users/getFields is kept, in ExtraFields."""
    known = dict(conn.session.user_fields())
    known.pop("favoriteCategory")
    monkeypatch.setattr(conn.session, "_user_fields", known)
    target = tmp_path / "users.csv"
    result = export(conn, "Users", target, CsvOptions())
    assert "favoriteCategory" not in result.columns
    rows = read_csv(target)
    served = {}
    for row in rows:
        profile = api.get(f"/api/users/{row['Email']}").json()["user"]["dataFields"]
        served[row["Email"]] = profile.get("favoriteCategory")
    import json

    assert {row["Email"]: json.loads(row["ExtraFields"] or "{}").get("favoriteCategory") for row in rows} == served
    assert any(served.values())


def test_a_where_only_sql_can_answer_still_pushes_down(cli: Callable[..., Result], stats: Stats) -> None:
    emails = ["elijah.young0@example.net", "felix.rodriguez1@example.org"]
    condition = f"Email IN ('{emails[0]}', '{emails[1]}') AND (firstName LIKE 'E%' OR loyaltyPoints < 0)"
    with stats.counting() as made:
        rows = rows_of(cli("export", "Users", "--where", condition, "--columns", "Email,firstName,birthday,address"))
    assert [row["Email"] for row in rows] == [emails[0]]
    assert made == {"GET /api/users/getFields": 1, "GET /api/users/{email}": 2}
    # Through SQL too, dates follow the CSV options and objects stay JSON.
    direct = rows_of(cli("export", "Users", "--where", f"Email = '{emails[0]}'",
                         "--columns", "Email,firstName,birthday,address"))  # fmt: skip
    assert rows == direct
    assert rows[0]["address"].startswith('{"street":')


def test_sql_and_direct_where_give_the_same_file(cli: Callable[..., Result]) -> None:
    direct = cli("export", "Campaigns", "--where", "Type = 'Blast'", "--date-format", "%Y-%m-%d %H:%M:%S")
    through_sql = cli("export", "Campaigns", "--where", "Type = 'Blast' OR Type LIKE 'no such%'")
    assert direct.exit_code == through_sql.exit_code == 0
    assert direct.stdout_bytes == through_sql.stdout_bytes
    assert direct.stdout.count("\n") > 2


def test_options_that_do_not_go_together(cli: Callable[..., Result], tmp_path: Path) -> None:
    assert "--columns and --where need an OBJECT" in one_line_error(
        cli("export", "--all", "-o", str(tmp_path / "d"), "--columns", "Id")
    )
    assert "a --query chooses its columns and rows itself" in one_line_error(
        cli("export", "--query", "SELECT 1", "--where", "1 = 1")
    )
    assert "is a directory: give a file name" in one_line_error(cli("export", "Lists", "-o", str(tmp_path)))
    assert "--date-format must be a strftime pattern" in one_line_error(
        cli("export", "Lists", "--date-format", "YYYY-MM-DD")
    )


def test_an_object_that_needs_a_filter(cli: Callable[..., Result], stats: Stats) -> None:
    message = one_line_error(cli("export", "InAppMessages"))
    assert "InAppMessages can only be read for given users: add a filter on Email = … or UserId = …" in message
    email = "elijah.young0@example.net"
    with stats.counting() as made:
        result = cli("export", "InAppMessages", "--where", f"Email = '{email}'", "--columns", "MessageId,Email")
    assert {row["Email"] for row in rows_of(result)} <= {email}
    assert made == {"GET /api/inApp/getMessages": 1}


def test_a_skipped_slice_is_reported_and_the_exit_code_says_so(
    cli: Callable[..., Result], stats: Stats, conn: iterbridge.Connection, tmp_path: Path
) -> None:
    lists = [row["Id"] for row in conn.read("Lists")]
    stats.faults(error_lists=[lists[0]])
    target = tmp_path / "members.csv"
    result = cli("export", "ListUsers", "-o", str(target))
    assert result.exit_code == 5
    assert f"skipped ListUsers list {lists[0]}: " in result.stderr
    members = read_csv(target)
    assert members
    assert str(lists[0]) not in {row["ListId"] for row in members}
