"""InAppMessages can only be read per user: without Email or UserId the read fails before any API call."""

from __future__ import annotations

import httpx2
import pytest

import iterbridge
from iterbridge.errors import MissingRequiredFilter, QueryError
from iterbridge.objects.base import Condition

from .readers import canon, user_emails
from .support import Calls


@pytest.mark.parametrize(
    "where",
    [
        None,
        {},
        {"CampaignId": 1},
        {"MessageId": "x"},
        {"Email": [Condition(">", "a")]},
        {"UserId": [Condition("<", "z")]},
    ],
)
def test_without_a_user_the_read_fails_before_any_call(
    conn: iterbridge.Connection, calls: Calls, where: dict[str, object] | None
) -> None:
    before = calls.total()
    with pytest.raises(MissingRequiredFilter) as caught:
        conn.read("InAppMessages", where=where)
    assert calls.total() == before
    assert isinstance(caught.value, QueryError)
    message = str(caught.value)
    assert "InAppMessages" in message
    assert "Email = …" in message
    assert "UserId = …" in message


def test_one_call_per_user(conn: iterbridge.Connection, api: httpx2.Client, calls: Calls) -> None:
    emails = user_emails(api)[:4]
    with calls.counting() as made:
        rows = list(conn.read("InAppMessages", where={"Email": emails}))
    assert made == {"GET /api/inApp/getMessages": 4}
    served = [
        m["messageId"]
        for email in emails
        for m in api.get("/api/inApp/getMessages", params={"email": email, "count": 100}).json()["inAppMessages"]
    ]
    assert sorted(row["MessageId"] for row in rows) == sorted(served)
    assert {row["Email"] for row in rows} <= set(emails)


def test_by_user_id_gives_the_same_messages(conn: iterbridge.Connection) -> None:
    users = [row for row in conn.read("Users", columns=["Email", "UserId"]) if row["UserId"]]
    for user in users[:3]:
        by_email = list(conn.read("InAppMessages", where={"Email": user["Email"]}))
        by_id = list(conn.read("InAppMessages", where={"UserId": user["UserId"]}))
        assert canon({**row, "Email": None, "UserId": None} for row in by_email) == canon(
            {**row, "Email": None, "UserId": None} for row in by_id
        )
        assert all(row["UserId"] == user["UserId"] for row in by_id)


def test_unknown_users_have_no_messages(conn: iterbridge.Connection) -> None:
    assert list(conn.read("InAppMessages", where={"Email": ["nobody@example.com", "not an email"]})) == []
    assert list(conn.read("InAppMessages", where={"UserId": "nobody"})) == []
    assert list(conn.read("InAppMessages", where={"Email": []})) == []
