"""Users: one call per email, custom fields as typed columns from users/getFields, unknown fields in ExtraFields."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx2
import pytest

import iterbridge
from iterbridge.objects.base import SqlType
from iterbridge.sandbox import Sandbox

from .readers import canon, user_emails
from .support import Calls, connect_to

BY_EMAIL = "GET /api/users/{email}"
FIELDS = "GET /api/users/getFields"


def test_users_by_email_is_one_call(conn: iterbridge.Connection, api: httpx2.Client, calls: Calls) -> None:
    email = user_emails(api)[3]
    with calls.counting() as first:
        rows = list(conn.read("Users", where={"Email": email}))
    assert [row["Email"] for row in rows] == [email]
    # The first read of Users on a connection also learns the custom fields (once per connection) ...
    assert first == {BY_EMAIL: 1, FIELDS: 1}
    # ... after which a read by email is exactly one call.
    with calls.counting() as second:
        assert list(conn.read("Users", where={"Email": email}, columns=["Email", "firstName"]))
    assert second == {BY_EMAIL: 1}


def test_users_by_emails_is_one_call_each(conn: iterbridge.Connection, api: httpx2.Client, calls: Calls) -> None:
    emails = user_emails(api)[:5]
    conn.columns("Users")
    with calls.counting() as made:
        rows = list(conn.read("Users", where={"Email": [*emails, emails[0], "nobody@example.com"]}))
    assert sorted(row["Email"] for row in rows) == sorted(emails)
    assert made == {BY_EMAIL: 6}


def test_users_by_user_id(conn: iterbridge.Connection, calls: Calls) -> None:
    with_ids = [row for row in conn.read("Users") if row["UserId"]]
    assert with_ids
    conn.columns("Users")
    with calls.counting() as made:
        rows = list(conn.read("Users", where={"UserId": with_ids[0]["UserId"]}))
    assert canon(rows) == canon([with_ids[0]])
    assert made == {"GET /api/users/byUserId/{userId}": 1}


def test_unknown_and_malformed_users_read_nothing(conn: iterbridge.Connection) -> None:
    assert list(conn.read("Users", where={"Email": ["nobody@example.com", "not an email"]})) == []
    assert list(conn.read("Users", where={"UserId": "no-such-id"})) == []


def test_without_a_user_filter_users_come_from_the_export(conn: iterbridge.Connection, calls: Calls) -> None:
    with calls.counting() as made:
        rows = list(conn.read("Users", columns=["Email"]))
    assert len(rows) == 40
    assert made == {FIELDS: 1, "GET /api/export/data.json": 1}


def test_custom_fields_are_typed_columns(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    fields = api.get("/api/users/getFields").json()["fields"]
    columns = {c.name: c.type for c in conn.columns("Users")}
    expected = {
        "firstName": SqlType.TEXT,
        "loyaltyPoints": SqlType.INTEGER,
        "lifetimeValue": SqlType.REAL,
        "isVip": SqlType.BOOLEAN,
        "birthday": SqlType.TIMESTAMP,
        "address": SqlType.JSON,
        "homeLocation": SqlType.JSON,
    }
    assert {name: columns.get(name) for name in expected} == expected
    top_level_custom = {n for n in fields if "." not in n} - {
        "email", "userId", "signupDate", "signupSource", "profileUpdatedAt", "emailListIds", "unsubscribedChannelIds",
        "unsubscribedMessageTypeIds", "subscribedMessageTypeIds", "phoneNumber", "itblInternal", "devices",
    }  # fmt: skip
    assert top_level_custom <= set(columns)
    assert columns["ExtraFields"] is SqlType.JSON


def test_custom_values_are_typed(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    email = user_emails(api)[0]
    profile = api.get(f"/api/users/{email}").json()["user"]["dataFields"]
    (by_email,) = conn.read("Users", where={"Email": email})
    (exported,) = (row for row in conn.read("Users") if row["Email"] == email)
    assert by_email == exported  # the same row whichever endpoint served it
    assert by_email["firstName"] == profile["firstName"]
    assert by_email["loyaltyPoints"] == profile["loyaltyPoints"]
    assert by_email["SignupDate"] == datetime.strptime(profile["signupDate"], "%Y-%m-%d %H:%M:%S %z").astimezone(UTC)
    if "address" in profile:
        assert by_email["address"] == profile["address"]
    assert by_email["EmailDomain"] == profile["itblInternal"]["emailDomain"]
    assert by_email["ExtraFields"] is None


def test_new_fields_land_in_extra_fields_then_become_columns(sandbox: Sandbox, api: httpx2.Client) -> None:
    email = user_emails(api)[1]
    with connect_to(sandbox) as conn:
        conn.columns("Users")  # the connection learned the fields before the new ones existed
        new = {"shoeSize": 42, "prefs": {"color": "red", "sizes": [1, 2]}}
        api.post("/api/users/update", json={"email": email, "dataFields": new}).raise_for_status()
        for where in ({"Email": email}, None):
            (row,) = (r for r in conn.read("Users", where=where) if r["Email"] == email)
            assert row["ExtraFields"] == new  # kept, never dropped
            assert "shoeSize" not in row
    with connect_to(sandbox) as fresh:  # a new connection asks getFields again: now they are columns
        columns = {c.name: c.type for c in fresh.columns("Users")}
        assert columns["shoeSize"] is SqlType.INTEGER
        assert columns["prefs"] is SqlType.JSON
        (row,) = fresh.read("Users", where={"Email": email})
        assert row["shoeSize"] == 42
        assert row["prefs"] == new["prefs"]
        assert row["ExtraFields"] is None


def test_an_email_with_a_slash_is_read_by_query(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    email = "first/last@example.com"
    api.post("/api/users/update", json={"email": email, "dataFields": {"firstName": "Slash"}}).raise_for_status()
    rows = list(conn.read("Users", where={"Email": email}, columns=["Email", "firstName"]))
    assert rows == [{"Email": email, "firstName": "Slash"}]


@pytest.mark.parametrize("column", ["Email", "ProfileUpdatedAt", "firstName"])
def test_user_fields_lists_what_users_has(conn: iterbridge.Connection, column: str) -> None:
    names = {row["Name"] for row in conn.read("UserFields")}
    source = next(c.source for c in conn.columns("Users") if c.name == column)
    assert source in names


def test_a_projection_asks_the_export_only_for_its_fields(conn: iterbridge.Connection) -> None:
    sent: list[httpx2.Request] = []
    conn.client._http.event_hooks["request"].append(sent.append)
    everything = list(conn.read("Users"))
    columns = ["Email", "firstName", "address", "EmailDomain", "ProfileUpdatedAt"]
    projected = list(conn.read("Users", columns=columns))
    assert projected == [{c: row[c] for c in columns} for row in everything]
    first, second = (request.url.params.get_list("onlyFields") for request in sent if "export" in request.url.path)
    assert first == []  # a full read takes every field (ExtraFields holds the ones without a column)
    assert set(second) == {"email", "firstName", "address", "itblInternal.emailDomain", "profileUpdatedAt"} | {
        "address.street",
        "address.city",
        "address.zip",
        "address.country",
    }
    with_extra = list(conn.read("Users", columns=["Email", "ExtraFields"]))
    assert with_extra == [{"Email": row["Email"], "ExtraFields": row["ExtraFields"]} for row in everything]
