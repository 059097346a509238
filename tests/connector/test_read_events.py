"""Events: the export per event type, or a user's events when filtered by Email/UserId; stable ids."""

from __future__ import annotations

from collections import Counter

import httpx2
import orjson
import pytest

import iterbridge
from iterbridge.objects.events import EVENT_TYPES, to_row

from .readers import canon
from .support import Calls

EXPORT = "GET /api/export/data.json"
USER_EVENTS = "GET /api/export/userEvents"


def test_a_full_read_is_one_export_per_event_type(conn: iterbridge.Connection, calls: Calls) -> None:
    with calls.counting() as made:
        rows = list(conn.read("Events", columns=["Id", "EventType"]))
    assert made == {EXPORT: len(EVENT_TYPES)}
    assert len({row["Id"] for row in rows}) == len(rows)


def test_event_types_are_pushed(conn: iterbridge.Connection, calls: Calls) -> None:
    with calls.counting() as made:
        rows = list(conn.read("Events", where={"EventType": ["emailSend", "purchase", "noSuchType"]}))
    assert made == {EXPORT: 2}
    assert {row["EventType"] for row in rows} == {"emailSend", "purchase"}


def test_rows_carry_the_export_record(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    params = {"dataTypeName": "emailSend", "range": "All"}
    records = [orjson.loads(line) for line in api.get(EXPORT.split(" ")[1], params=params).content.splitlines()]
    rows = list(conn.read("Events", where={"EventType": "emailSend"}))
    assert len(rows) == len(records)
    by_message = {row["MessageId"]: row for row in rows}
    for record in records:
        row = by_message[record["messageId"]]
        assert row["Email"] == record["email"]
        assert row["CampaignId"] == record["campaignId"]
        assert row["TemplateId"] == record["templateId"]
        assert row["CreatedAt"].strftime("%Y-%m-%d %H:%M:%S +00:00") == record["createdAt"]
        assert row["DataFields"]["messageTypeId"] == record["messageTypeId"]  # everything else is kept
        assert "createdAt" not in row["DataFields"]
        assert "email" not in row["DataFields"]


def test_custom_events_keep_their_name_and_fields(conn: iterbridge.Connection) -> None:
    rows = list(conn.read("Events", where={"EventType": "customEvent"}))
    assert rows
    assert all(row["EventName"] for row in rows)
    assert any(row["DataFields"] for row in rows)


def test_ids_are_stable_across_reads_and_endpoints(conn: iterbridge.Connection, calls: Calls) -> None:
    first = list(conn.read("Events", where={"EventType": ["emailSend", "customEvent"]}))
    second = list(conn.read("Events", where={"EventType": ["emailSend", "customEvent"]}))
    assert canon(first) == canon(second)
    email = Counter(row["Email"] for row in first).most_common(1)[0][0]
    with calls.counting() as made:
        by_user = list(conn.read("Events", where={"Email": email, "EventType": ["emailSend", "customEvent"]}))
    assert made == {USER_EVENTS: 1}
    assert canon(by_user) == canon(row for row in first if row["Email"] == email)


def test_events_by_user_id(conn: iterbridge.Connection, calls: Calls) -> None:
    rows = list(conn.read("Events", where={"EventType": ["emailSend", "emailOpen", "purchase"]}))
    user_id = next(row["UserId"] for row in rows if row["UserId"])
    with calls.counting() as made:
        mine = list(conn.read("Events", where={"UserId": user_id, "EventType": ["emailSend", "emailOpen", "purchase"]}))
    assert made == {USER_EVENTS: 1}
    assert canon(mine) == canon(row for row in rows if row["UserId"] == user_id)


def test_unknown_users_have_no_events(conn: iterbridge.Connection) -> None:
    assert list(conn.read("Events", where={"Email": ["nobody@example.com", "not an email"]})) == []
    assert list(conn.read("Events", where={"UserId": "nobody"})) == []


def test_a_campaign_id_that_is_no_number_matches_nothing(conn: iterbridge.Connection, calls: Calls) -> None:
    """As for Campaigns' Id: a value that cannot be an id gives no rows and no call, not an error."""
    with calls.counting() as made:
        assert list(conn.read("Events", where={"CampaignId": "abc"})) == []
    assert made == {}
    campaign = next(r["CampaignId"] for r in conn.read("Events", where={"EventType": "emailSend"}) if r["CampaignId"])
    mixed = list(conn.read("Events", where={"EventType": "emailSend", "CampaignId": ["abc", str(campaign)]}))
    assert mixed
    assert {r["CampaignId"] for r in mixed} == {campaign}


@pytest.mark.parametrize(
    "created_at",
    ["2026-05-05 00:01:32 +00:00", "2026-05-05T00:01:32Z", "2026-05-05 02:01:32 +02:00", 1777939292000],
)
def test_an_events_id_is_the_same_hash_whatever_its_timestamps_form(created_at: object) -> None:
    """Replicated tables key events by this Id: its value must never change between versions."""
    record = {"email": "a@example.com", "userId": "u1", "campaignId": 5, "templateId": 7, "messageId": "m1",
              "messageTypeId": 3, "createdAt": created_at, "itblInternal": {"documentCreatedAt": "x"}}  # fmt: skip
    assert to_row(record, "emailSend")["Id"] == "85d61f80adba196cb80f4237ddd546a1"
    assert to_row({**record, "messageTypeId": 4}, "emailSend")["Id"] != "85d61f80adba196cb80f4237ddd546a1"
