"""WHERE on every column kind — text, integer, real, boolean, timestamp, JSON — with LIKE and NULLs; the
expected rows come from the sandbox's own answers (source.py), never from the engine."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import iterbridge

from .source import Source, str_text
from .support import column, rows


def test_text_equality_and_in(conn: iterbridge.Connection, source: Source) -> None:
    lists = source.lists()
    standard = sorted(item["Id"] for item in lists if item["ListType"] == "Standard")
    assert standard, "the project has Standard lists"
    assert column(conn, "SELECT Id FROM Lists WHERE ListType = 'Standard' ORDER BY Id") == standard

    campaigns = source.campaigns()
    wanted = {"Running", "Draft"}
    expected = sorted(c["Id"] for c in campaigns if c["CampaignState"] in wanted)
    got = column(conn, "SELECT Id FROM Campaigns WHERE CampaignState IN ('Running', 'Draft') ORDER BY Id")
    assert got == expected
    assert len(expected) < len(campaigns)


def test_text_comparison_is_case_sensitive_and_collate_nocase_is_not(
    conn: iterbridge.Connection, source: Source
) -> None:
    running = sorted(c["Id"] for c in source.campaigns() if c["CampaignState"] == "Running")
    assert column(conn, "SELECT Id FROM Campaigns WHERE CampaignState = 'running'") == []
    got = column(conn, "SELECT Id FROM Campaigns WHERE CampaignState = 'running' COLLATE NOCASE ORDER BY Id")
    assert got == running


def test_like_is_case_insensitive_for_ascii(conn: iterbridge.Connection, source: Source) -> None:
    expected = sorted(c["Id"] for c in source.campaigns() if c["Name"].lower().endswith("— email"))
    assert expected
    assert column(conn, "SELECT Id FROM Campaigns WHERE Name LIKE '%— EMAIL' ORDER BY Id") == expected
    base = sorted(t["Id"] for t in source.templates() if "base template" in t["Name"])
    assert column(conn, "SELECT Id FROM Templates WHERE Name LIKE '%base_template' ORDER BY Id") == base
    assert column(conn, "SELECT Id FROM Templates WHERE Name GLOB '*Base*'") == []


def test_integer_filters(conn: iterbridge.Connection, source: Source) -> None:
    campaigns = source.campaigns()
    template_id = campaigns[0]["TemplateId"]
    assert column(conn, "SELECT Id FROM Campaigns WHERE TemplateId = ?", (template_id,)) == [
        c["Id"] for c in campaigns if c["TemplateId"] == template_id
    ]
    middle = sorted(c["Id"] for c in campaigns)[len(campaigns) // 2]
    expected = sorted(c["Id"] for c in campaigns if c["Id"] >= middle)
    assert column(conn, "SELECT Id FROM Campaigns WHERE Id >= ? ORDER BY Id", (middle,)) == expected

    users = source.users()
    loyal = sorted(u["email"] for u in users if (u.get("loyaltyPoints") or 0) > 1000)
    assert loyal
    assert len(loyal) < len(users)
    assert column(conn, "SELECT Email FROM Users WHERE loyaltyPoints > 1000 ORDER BY Email") == loyal


def test_real_filters_and_arithmetic(conn: iterbridge.Connection, source: Source) -> None:
    users = source.users()
    expected = sorted(
        (u["email"], round(u["lifetimeValue"] / u["totalOrders"], 2))
        for u in users
        if u.get("lifetimeValue") is not None and 100 <= u["lifetimeValue"] <= 1000 and u.get("totalOrders")
    )
    assert expected
    got = rows(
        conn,
        "SELECT Email, round(lifetimeValue / totalOrders, 2) FROM Users "
        "WHERE lifetimeValue BETWEEN 100 AND 1000 AND totalOrders > 0 ORDER BY Email",
    )
    assert got == expected
    total = sum(u["lifetimeValue"] for u in users if u.get("lifetimeValue") is not None)
    (got_total,) = column(conn, "SELECT sum(lifetimeValue) FROM Users")
    assert abs(got_total - total) < 1e-6


def test_boolean_filters(conn: iterbridge.Connection, source: Source) -> None:
    users = source.users()
    vip = sorted(u["email"] for u in users if u.get("isVip") is True)
    not_vip = sorted(u["email"] for u in users if u.get("isVip") is False)
    unknown = sorted(u["email"] for u in users if u.get("isVip") is None)
    assert vip
    assert not_vip
    assert column(conn, "SELECT Email FROM Users WHERE isVip ORDER BY Email") == vip
    assert column(conn, "SELECT Email FROM Users WHERE isVip = true ORDER BY Email") == vip
    assert column(conn, "SELECT Email FROM Users WHERE NOT isVip ORDER BY Email") == not_vip
    assert column(conn, "SELECT Email FROM Users WHERE isVip IS NULL ORDER BY Email") == unknown
    assert set(column(conn, "SELECT DISTINCT typeof(isVip) FROM Users")) <= {"integer", "null"}


def test_timestamps_with_date_and_strftime(conn: iterbridge.Connection, source: Source) -> None:
    campaigns = source.campaigns()
    assert all(c["CreatedAt"] for c in campaigns)
    # The SQL text form of every timestamp is 'YYYY-MM-DD HH:MM:SS' in UTC.
    got = dict(rows(conn, "SELECT Id, CreatedAt FROM Campaigns"))
    assert got == {c["Id"]: c["CreatedAt"] for c in campaigns}

    august = sorted(c["Id"] for c in campaigns if c["CreatedAt"].startswith("2026-08"))
    assert august
    assert column(conn, "SELECT Id FROM Campaigns WHERE strftime('%Y-%m', CreatedAt) = '2026-08' ORDER BY Id") == august
    since = sorted(c["Id"] for c in campaigns if c["CreatedAt"][:10] >= "2026-09-01")
    assert column(conn, "SELECT Id FROM Campaigns WHERE date(CreatedAt) >= '2026-09-01' ORDER BY Id") == since
    weekday = Counter(date.fromisoformat(c["CreatedAt"][:10]).isoweekday() % 7 for c in campaigns)
    got_weekday = dict(
        rows(conn, "SELECT CAST(strftime('%w', CreatedAt) AS INTEGER), count(*) FROM Campaigns GROUP BY 1")
    )
    assert got_weekday == dict(weekday)

    users = source.users()
    signed_2025 = sorted(u["email"] for u in users if str_text(u["signupDate"]) < "2026-01-01 00:00:00")
    assert signed_2025
    assert column(conn, "SELECT Email FROM Users WHERE SignupDate < '2026-01-01' ORDER BY Email") == signed_2025
    ages = {u["email"]: u["birthday"][:10] for u in users if u.get("birthday")}  # a 'date' field: midnight of that day
    got_birthdays = dict(rows(conn, "SELECT Email, date(birthday) FROM Users WHERE birthday IS NOT NULL"))
    assert got_birthdays == ages


def test_timestamp_ranges_pushed_to_the_api_give_the_same_rows(conn: iterbridge.Connection, source: Source) -> None:
    campaigns = source.campaigns()
    lower, upper = "2026-06-01 00:00:00", "2026-09-01"
    expected = sorted(c["Id"] for c in campaigns if lower <= c["UpdatedAt"] and c["UpdatedAt"] < upper)
    assert expected
    got = column(conn, "SELECT Id FROM Campaigns WHERE UpdatedAt >= ? AND UpdatedAt < ? ORDER BY Id", (lower, upper))
    assert got == expected

    templates = source.templates()
    expected_t = sorted(t["Id"] for t in templates if t["CreatedAt"] > "2026-07-01")
    assert expected_t
    got_t = column(conn, "SELECT Id FROM Templates WHERE CreatedAt > '2026-07-01' ORDER BY Id")
    assert got_t == expected_t


def test_json_columns_with_json_extract_and_json_each(conn: iterbridge.Connection, source: Source) -> None:
    campaigns = source.campaigns()
    q4 = sorted(c["Id"] for c in campaigns if "q4" in (c["Labels"] or []))
    assert q4
    got = column(
        conn,
        "SELECT Id FROM Campaigns WHERE EXISTS (SELECT 1 FROM json_each(Labels) WHERE value = 'q4') ORDER BY Id",
    )
    assert got == q4
    first_label = {c["Id"]: (c["Labels"] or [None])[0] for c in campaigns}
    assert dict(rows(conn, "SELECT Id, json_extract(Labels, '$[0]') FROM Campaigns")) == first_label
    list_count = {c["Id"]: len(c["ListIds"]) for c in campaigns if c["ListIds"] is not None}
    assert dict(rows(conn, "SELECT Id, json_array_length(ListIds) FROM Campaigns WHERE ListIds IS NOT NULL")) == (
        list_count
    )

    users = source.users()
    toronto = sorted(u["email"] for u in users if u.get("address.city") == "Toronto")
    got_users = column(conn, "SELECT Email FROM Users WHERE json_extract(address, '$.city') = 'Toronto' ORDER BY Email")
    assert got_users == toronto

    items = source.catalog_items("products")
    expensive = sorted(i["itemId"] for i in items if i["value"]["price"] > 100)
    assert expensive
    assert len(expensive) < len(items)
    got_items = column(
        conn,
        "SELECT ItemId FROM CatalogItems WHERE CatalogName = 'products' "
        "AND json_extract(Value, '$.price') > 100 ORDER BY ItemId",
    )
    assert got_items == expensive
    (text,) = column(
        conn, "SELECT Value FROM CatalogItems WHERE CatalogName = 'products' AND ItemId = ?", (items[0]["itemId"],)
    )
    assert json.loads(text) == items[0]["value"]


def test_nulls(conn: iterbridge.Connection, source: Source) -> None:
    campaigns = source.campaigns()
    triggered = sorted(c["Id"] for c in campaigns if c["ListIds"] is None)
    assert triggered
    assert column(conn, "SELECT Id FROM Campaigns WHERE ListIds IS NULL ORDER BY Id") == triggered
    # = NULL is never true, IS NULL is; count(column) skips NULLs.
    assert column(conn, "SELECT count(*) FROM Campaigns WHERE ListIds = NULL") == [0]
    (with_lists, everything) = rows(conn, "SELECT count(ListIds), count(*) FROM Campaigns")[0]
    assert (with_lists, everything) == (len(campaigns) - len(triggered), len(campaigns))
    # Import-only columns always read NULL.
    assert rows(conn, "SELECT DISTINCT SendAt, SendMode, DataFields FROM Campaigns") == [(None, None, None)]

    users = source.users()
    no_user_id = sorted(u["email"] for u in users if u.get("userId") is None)
    assert no_user_id
    assert len(no_user_id) < len(users)
    assert column(conn, "SELECT Email FROM Users WHERE UserId IS NULL ORDER BY Email") == no_user_id
    assert column(conn, "SELECT Email FROM Users WHERE UserId IS ? ORDER BY Email", (None,)) == no_user_id
    assert column(conn, "SELECT count(*) FROM Users WHERE UserId = ?", (None,)) == [0]
    lists = source.lists()
    described = {item["Id"]: item["Description"] or "(none)" for item in lists}
    assert dict(rows(conn, "SELECT Id, coalesce(Description, '(none)') FROM Lists")) == described
