"""Whole queries: joins across objects, aggregates grouped by date, ORDER BY + LIMIT, subqueries, window
functions, CTEs and bound parameters — each checked against the sandbox's own data (source.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

import iterbridge
from iterbridge.errors import QueryError

from .source import Source, str_text
from .support import column, rows


def test_campaigns_join_templates_and_lists_through_json_each(conn: iterbridge.Connection, source: Source) -> None:
    templates = {t["Id"]: t for t in source.templates()}
    lists = {item["Id"]: item["Name"] for item in source.lists()}
    expected = sorted(
        (c["Id"], templates[c["TemplateId"]]["Name"], templates[c["TemplateId"]]["TemplateType"], lists[list_id])
        for c in source.campaigns()
        if c["TemplateId"] in templates
        for list_id in c["ListIds"] or []
        if list_id in lists
    )
    assert len(expected) > 10
    got = rows(
        conn,
        """
        SELECT c.Id, t.Name, t.TemplateType, l.Name
        FROM Campaigns AS c
        JOIN Templates AS t ON t.Id = c.TemplateId
        JOIN json_each(c.ListIds) AS j
        JOIN Lists AS l ON l.Id = j.value
        ORDER BY 1, 2, 3, 4
        """,
    )
    assert got == expected


def test_left_join_keeps_campaigns_without_lists(conn: iterbridge.Connection, source: Source) -> None:
    campaigns = source.campaigns()
    expected = Counter({c["Id"]: len(c["ListIds"] or []) for c in campaigns})
    got = rows(
        conn,
        "SELECT c.Id, count(l.Id) FROM Campaigns c LEFT JOIN json_each(c.ListIds) j "
        "LEFT JOIN Lists l ON l.Id = j.value GROUP BY c.Id",
    )
    assert dict(got) == dict(expected)


def test_users_join_events(conn: iterbridge.Connection, source: Source) -> None:
    """Per user of one city, their events by type — the join pushes each user's Email to the Events read."""
    users = [u for u in source.users() if u.get("city") == "New York"]
    emails = {u["email"] for u in users}
    assert 1 < len(emails) < 20
    expected: Counter[tuple[str, str]] = Counter()
    for event in source.events():
        if event.get("email") in emails:
            expected[(event["email"], event["_type"])] += 1
    assert expected
    got = rows(
        conn,
        "SELECT u.Email, e.EventType, count(*) FROM Users u JOIN Events e ON e.Email = u.Email "
        "WHERE u.city = 'New York' GROUP BY 1, 2",
    )
    assert {(email, kind): n for email, kind, n in got} == dict(expected)


def test_aggregates_grouped_by_date(conn: iterbridge.Connection, source: Source) -> None:
    sends = source.events("emailSend")
    by_day = Counter(str_text(e["createdAt"])[:10] for e in sends)  # type: ignore[index]
    got = rows(
        conn,
        "SELECT date(CreatedAt) AS day, count(*) FROM Events WHERE EventType = 'emailSend' GROUP BY day ORDER BY day",
    )
    assert got == sorted(by_day.items())

    users = source.users()
    by_month = Counter(str_text(u["signupDate"])[:7] for u in users)  # type: ignore[index]
    got_months = rows(conn, "SELECT strftime('%Y-%m', SignupDate) m, count(*) n FROM Users GROUP BY m ORDER BY m")
    assert got_months == sorted(by_month.items())
    value = defaultdict(float)
    for u in users:
        if u.get("lifetimeValue") is not None:
            value[str_text(u["signupDate"])[:4]] += u["lifetimeValue"]  # type: ignore[index]
    got_value = rows(conn, "SELECT strftime('%Y', SignupDate), round(sum(lifetimeValue), 2) FROM Users GROUP BY 1")
    assert dict(got_value) == {year: round(v, 2) for year, v in value.items()}


def test_group_by_having(conn: iterbridge.Connection, source: Source) -> None:
    per_medium = Counter(c["MessageMedium"] for c in source.campaigns())
    wanted = {m: n for m, n in per_medium.items() if n >= 5}
    got = rows(conn, "SELECT MessageMedium, count(*) FROM Campaigns GROUP BY MessageMedium HAVING count(*) >= 5")
    assert dict(got) == wanted
    assert 0 < len(wanted) < len(per_medium)


def test_order_by_with_limit_and_offset(conn: iterbridge.Connection, source: Source) -> None:
    campaigns = sorted(source.campaigns(), key=lambda c: (c["CreatedAt"], c["Id"]))
    oldest = [(c["Id"], c["Name"]) for c in campaigns[:3]]
    assert rows(conn, "SELECT Id, Name FROM Campaigns ORDER BY CreatedAt, Id LIMIT 3") == oldest
    newest = [c["Id"] for c in reversed(campaigns)][2:6]
    assert column(conn, "SELECT Id FROM Campaigns ORDER BY CreatedAt DESC, Id DESC LIMIT 4 OFFSET 2") == newest
    users = sorted(source.users(), key=lambda u: -(u.get("lifetimeValue") or 0))
    top = [u["email"] for u in users[:5]]
    assert column(conn, "SELECT Email FROM Users ORDER BY coalesce(lifetimeValue, 0) DESC LIMIT 5") == top


def test_subqueries(conn: iterbridge.Connection, source: Source) -> None:
    lists = source.lists()
    list_id = next(item["Id"] for item in lists if item["Name"] == "Beta testers")
    members = sorted(source.members(list_id))
    assert members
    # IN (subquery) on Users.Email: the members are pushed to the user lookups (one at a time: a subquery
    # may return no rows, and apsw cannot hand an empty set to the table).
    got = column(
        conn,
        "SELECT Email FROM Users WHERE Email IN (SELECT Email FROM ListUsers WHERE ListId = ?) ORDER BY Email",
        (list_id,),
    )
    assert got == members
    # A correlated scalar subquery, and EXISTS.
    member_counts = {item["Id"]: len(source.members(item["Id"])) for item in lists}
    got_counts = rows(conn, "SELECT Id, (SELECT count(*) FROM ListUsers m WHERE m.ListId = l.Id) FROM Lists l")
    assert dict(got_counts) == member_counts
    above = sorted(c["Id"] for c in source.campaigns() if c["Id"] > min(x["Id"] for x in source.campaigns()))
    got_above = column(conn, "SELECT Id FROM Campaigns WHERE Id > (SELECT min(Id) FROM Campaigns) ORDER BY Id")
    assert got_above == above


def test_window_functions(conn: iterbridge.Connection, source: Source) -> None:
    campaigns = source.campaigns()
    by_medium: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in campaigns:
        by_medium[c["MessageMedium"]].append(c)
    expected = {}
    for group in by_medium.values():
        for position, c in enumerate(sorted(group, key=lambda c: (c["CreatedAt"], c["Id"])), start=1):
            expected[c["Id"]] = (position, len(group))
    got = rows(
        conn,
        "SELECT Id, row_number() OVER w, count(*) OVER (PARTITION BY MessageMedium) FROM Campaigns "
        "WINDOW w AS (PARTITION BY MessageMedium ORDER BY CreatedAt, Id)",
    )
    assert {i: (n, total) for i, n, total in got} == expected

    users = [u for u in source.users() if u.get("lifetimeValue") is not None]
    ordered = sorted(users, key=lambda u: (u["lifetimeValue"], u["email"]))
    running = []
    total = 0.0
    for u in ordered:
        total += u["lifetimeValue"]
        running.append((u["email"], round(total, 2)))
    got_running = rows(
        conn,
        "SELECT Email, round(sum(lifetimeValue) OVER (ORDER BY lifetimeValue, Email), 2) FROM Users "
        "WHERE lifetimeValue IS NOT NULL ORDER BY lifetimeValue, Email",
    )
    assert got_running == running


def test_ctes_plain_and_recursive(conn: iterbridge.Connection, source: Source) -> None:
    campaigns = source.campaigns()
    states = Counter(c["CampaignState"] for c in campaigns)
    top_state = max(states.items(), key=lambda kv: (kv[1], kv[0]))
    got = rows(
        conn,
        """
        WITH per_state AS (SELECT CampaignState AS state, count(*) AS n FROM Campaigns GROUP BY 1)
        SELECT state, n FROM per_state ORDER BY n DESC, state DESC LIMIT 1
        """,
    )
    assert got == [top_state]
    # A recursive series joined to the data: campaigns created per month of 2026, zero-filled.
    per_month = Counter(c["CreatedAt"][:7] for c in campaigns if c["CreatedAt"].startswith("2026"))
    expected = [(f"2026-{m:02d}", per_month.get(f"2026-{m:02d}", 0)) for m in range(1, 13)]
    got_months = rows(
        conn,
        """
        WITH RECURSIVE months(m) AS (SELECT 1 UNION ALL SELECT m + 1 FROM months WHERE m < 12)
        SELECT printf('2026-%02d', m) AS month,
               (SELECT count(*) FROM Campaigns WHERE strftime('%Y-%m', CreatedAt) = printf('2026-%02d', m))
        FROM months ORDER BY month
        """,
    )
    assert got_months == expected


def test_bound_parameters_named_and_positional(conn: iterbridge.Connection, source: Source) -> None:
    campaigns = source.campaigns()
    state, medium = "Running", "Email"
    expected = sorted(c["Id"] for c in campaigns if c["CampaignState"] == state and c["MessageMedium"] == medium)
    assert expected
    sql_named = "SELECT Id FROM Campaigns WHERE CampaignState = :state AND MessageMedium = :medium ORDER BY Id"
    assert column(conn, sql_named, {"state": state, "medium": medium}) == expected
    sql_dollar = "SELECT Id FROM Campaigns WHERE CampaignState = $state AND MessageMedium = @medium ORDER BY Id"
    assert column(conn, sql_dollar, {"state": state, "medium": medium}) == expected
    sql_positional = "SELECT Id FROM Campaigns WHERE CampaignState = ? AND MessageMedium = ? ORDER BY Id"
    assert column(conn, sql_positional, (state, medium)) == expected
    assert column(conn, "SELECT Id FROM Campaigns WHERE CampaignState = ?1 AND MessageMedium = ?2 ORDER BY Id",
                  [state, medium]) == expected  # fmt: skip
    # The same text with other values: the plan is reused, the values are not (apsw runs
    # BestIndex once per cached statement text, Filter every time).
    assert column(conn, sql_positional, ("Draft", "Email")) == sorted(
        c["Id"] for c in campaigns if c["CampaignState"] == "Draft" and c["MessageMedium"] == "Email"
    )
    with pytest.raises(QueryError):
        conn.sql(sql_named, {"state": state})


def test_cursor_is_db_api_like(conn: iterbridge.Connection, source: Source) -> None:
    lists = sorted(source.lists(), key=lambda item: item["Id"])
    cursor = conn.sql("SELECT Id, Name AS list_name FROM Lists ORDER BY Id")
    assert [d[0] for d in cursor.description] == ["Id", "list_name"]
    assert all(len(d) == 7 for d in cursor.description)
    assert cursor.fetchone() == (lists[0]["Id"], lists[0]["Name"])
    assert cursor.fetchall() == [(item["Id"], item["Name"]) for item in lists[1:]]
    assert cursor.fetchone() is None
