"""What reaches the API: the sandbox's per-endpoint call counts (GET /_sandbox/stats) for the pushdown
cases — one batched read for an IN set, one page for a pushed LIMIT, no LIMIT pushed under ORDER BY, only
the columns used, required filters checked before any call."""

from __future__ import annotations

import httpx2
import pytest

import iterbridge
from iterbridge.errors import MissingRequiredFilter
from iterbridge.sandbox import Sandbox

from .source import Source
from .support import Stats, column, connect_to, rows

USERS_BY_EMAIL = "GET /api/users/{email}"
EXPORT = "GET /api/export/data.json"


@pytest.fixture
def sent(conn: iterbridge.Connection) -> list[httpx2.Request]:
    """The HTTP requests the connection sends (an httpx2 event hook on its client)."""
    requests: list[httpx2.Request] = []
    http = conn.client._http
    http.event_hooks = {**http.event_hooks, "request": [*http.event_hooks["request"], requests.append]}
    return requests


def test_users_email_in_three_values_is_three_lookups_and_no_export(
    conn: iterbridge.Connection, source: Source, stats: Stats
) -> None:
    emails = sorted(u["email"] for u in source.users())[:3]
    conn.columns("Users")  # the custom fields (users/getFields) are metadata, asked once per connection
    with stats.counting() as made:
        cursor = conn.sql("SELECT * FROM Users WHERE Email IN (?, ?, ?) ORDER BY Email", emails)
        got = cursor.fetchall()
    assert made == {USERS_BY_EMAIL: 3}
    assert EXPORT not in made
    names = [d[0] for d in cursor.description]
    assert [(row[names.index("Email")], row[names.index("firstName")]) for row in got] == [
        (e, source.user(e)["dataFields"]["firstName"]) for e in emails
    ]


def test_events_email_in_is_one_user_read_per_value(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    emails = sorted({e["email"] for e in source.events("emailSend")})[:2]
    expected = sorted((e["email"], e["_type"]) for e in source.events() if e.get("email") in emails)
    with stats.counting() as made:
        got = sorted(rows(conn, "SELECT Email, EventType FROM Events WHERE Email IN (?, ?)", emails))
    assert got == expected
    assert made == {"GET /api/export/userEvents": 2}


def test_limit_without_order_by_reads_one_page(
    conn: iterbridge.Connection, source: Source, stats: Stats, sent: list[httpx2.Request]
) -> None:
    newest_first = [c["Id"] for c in sorted(source.campaigns(), key=lambda c: c["UpdatedAt"], reverse=True)]
    with stats.counting() as made:
        got = column(conn, "SELECT Id, Name FROM Campaigns LIMIT 10")
    assert made == {"GET /api/campaigns": 1}
    assert len(got) == 10
    assert set(got) <= set(newest_first)
    (request,) = sent
    assert request.url.params["pageSize"] == "10"


def test_limit_with_order_by_is_not_pushed(
    conn: iterbridge.Connection, source: Source, stats: Stats, sent: list[httpx2.Request]
) -> None:
    campaigns = source.campaigns()
    oldest = [c["Id"] for c in sorted(campaigns, key=lambda c: (c["CreatedAt"], c["Id"]))[:3]]
    with stats.counting() as made:
        got = column(conn, "SELECT Id FROM Campaigns ORDER BY CreatedAt, Id LIMIT 3")
    assert got == oldest
    assert made == {"GET /api/campaigns": 1}
    assert sent[0].url.params["pageSize"] == "1000"  # the whole listing, not 3 rows of it


def test_limit_with_a_local_filter_is_not_pushed(conn: iterbridge.Connection, source: Source) -> None:
    email = [c["Id"] for c in source.campaigns() if c["MessageMedium"] == "Email"]
    assert len(email) > 3
    got = column(conn, "SELECT Id FROM Campaigns WHERE MessageMedium = 'Email' LIMIT 3")
    assert len(got) == 3
    assert set(got) <= set(email)
    assert column(conn, "SELECT count(*) FROM (SELECT Id FROM Campaigns LIMIT 1000)") == [len(source.campaigns())]
    # DISTINCT and GROUP BY come before LIMIT: a limit must not cut the rows they work on.
    media = {c["MessageMedium"] for c in source.campaigns()}
    assert len(media) > 3
    distinct = column(conn, "SELECT DISTINCT MessageMedium FROM Campaigns LIMIT 3")
    assert len(set(distinct)) == 3
    assert column(conn, "SELECT count(*) FROM (SELECT MessageMedium FROM Campaigns GROUP BY 1 LIMIT 10)") == [
        len(media)
    ]


def test_only_used_columns_cost_extended_requests(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    templates = source.templates()
    with stats.counting() as made:
        got = rows(conn, "SELECT Id, Name FROM Templates")
    assert "GET /api/templates/{medium}/get" not in made
    assert made == {"GET /api/templates": 16}  # 4 types × 4 media
    assert sorted(got) == sorted((t["Id"], t["Name"]) for t in templates)

    with stats.counting() as made:
        subjects = rows(conn, "SELECT Id, Subject FROM Templates")
    assert made["GET /api/templates/{medium}/get"] == len(templates)
    expected = {t["Id"]: source.template_detail(t["MessageMedium"], t["Id"]).get("subject") for t in templates}
    assert dict(subjects) == expected
    assert any(expected.values())


def test_suppress_extended_requests_reads_them_as_null(sandbox: Sandbox, stats: Stats) -> None:
    with connect_to(sandbox, suppress_extended_requests=True) as conn, stats.counting() as made:
        got = rows(conn, "SELECT DISTINCT Subject, HTML FROM Templates")
    assert got == [(None, None)]
    assert "GET /api/templates/{medium}/get" not in made


def test_pushed_filters_narrow_the_endpoint(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    campaigns = source.campaigns()
    ids = [c["Id"] for c in campaigns[:2]]
    with stats.counting() as made:
        assert sorted(column(conn, "SELECT Id FROM Campaigns WHERE Id IN (?, ?)", ids)) == sorted(ids)
    assert made == {"GET /api/campaigns/{id}": 2}

    list_id = source.lists()[2]["Id"]
    with stats.counting() as made:
        got = column(conn, "SELECT Email FROM ListUsers WHERE ListId = ?", (list_id,))
    assert sorted(got) == sorted(source.members(list_id))
    assert made == {"GET /api/lists/getUsers": 1}

    with stats.counting() as made:
        got = column(conn, "SELECT Id FROM Templates WHERE TemplateType = 'Base' AND MessageMedium IN ('Email', 'SMS')")
    assert sorted(got) == sorted(
        t["Id"] for t in source.templates() if t["TemplateType"] == "Base" and t["MessageMedium"] in ("Email", "SMS")
    )
    assert made == {"GET /api/templates": 2}


def test_a_value_no_row_can_match_makes_no_call(conn: iterbridge.Connection, stats: Stats) -> None:
    conn.columns("Users")
    with stats.counting() as made:
        assert column(conn, "SELECT count(*) FROM Campaigns WHERE Id = NULL") == [0]
        assert column(conn, "SELECT count(*) FROM Campaigns WHERE Id = 1.5") == [0]
        assert column(conn, "SELECT count(*) FROM Users WHERE Email IN (NULL)") == [0]
    assert made == {}


def test_a_join_reads_each_side_once(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    """The inner side of a nested loop repeats the same scan: it is served from the first one."""
    with stats.counting() as made:
        got = rows(conn, "SELECT c.Id, t.Name FROM Campaigns c JOIN Templates t ON t.Id = c.TemplateId")
    templates = {t["Id"]: t["Name"] for t in source.templates()}
    expected = [(c["Id"], templates[c["TemplateId"]]) for c in source.campaigns() if c["TemplateId"] in templates]
    assert sorted(got) == sorted(expected)
    assert made == {"GET /api/campaigns": 1, "GET /api/templates": 16}


def test_in_app_messages_need_a_user_filter_before_any_call(conn: iterbridge.Connection, stats: Stats) -> None:
    for sql in (
        "SELECT * FROM InAppMessages",
        "SELECT MessageId FROM InAppMessages WHERE Email LIKE 'a%'",
        "SELECT MessageId FROM InAppMessages WHERE CampaignId = 1",
    ):
        with stats.counting() as made, pytest.raises(MissingRequiredFilter) as raised:
            conn.sql(sql).fetchall()
        assert made == {}
        assert "InAppMessages" in str(raised.value)
        assert "Email" in str(raised.value)
        assert "UserId" in str(raised.value)


def test_a_join_can_supply_the_required_filter(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    emails = sorted(u["email"] for u in source.users())
    expected = sorted(
        (email, m["messageId"], m["campaignId"]) for email in emails for m in source.in_app_messages(email)
    )
    assert expected
    with stats.counting() as made:
        got = rows(
            conn,
            "SELECT u.Email, m.MessageId, m.CampaignId FROM Users u JOIN InAppMessages m ON m.Email = u.Email",
        )
    assert sorted(got) == expected
    assert made["GET /api/inApp/getMessages"] == len(emails)
    assert made[EXPORT] == 1
    one = expected[0][0]
    got_one = rows(conn, "SELECT Email, MessageId, CampaignId FROM InAppMessages WHERE Email = ?", (one,))
    assert sorted(got_one) == [row for row in expected if row[0] == one]


def test_or_branches_are_merged_without_duplicates(conn: iterbridge.Connection, source: Source) -> None:
    """SQLite may read each OR branch separately (multi-index OR) and merge by rowid: a row that matches
    both branches must come once."""
    user = next(u for u in source.users() if u.get("userId"))
    got = rows(conn, "SELECT Email FROM Users WHERE Email = ? OR UserId = ?", (user["email"], user["userId"]))
    assert got == [(user["email"],)]
    other = next(u for u in source.users() if u.get("userId") and u["email"] != user["email"])
    got_two = column(conn, "SELECT Email FROM Users WHERE Email = ? OR UserId = ?", (user["email"], other["userId"]))
    assert sorted(got_two) == sorted([user["email"], other["email"]])
