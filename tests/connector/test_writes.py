"""Writes: exactly the operations each object declares, each visible in a later read, with per-row results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

import iterbridge
from helpers import ANCHOR
from iterbridge.errors import QueryError, UnsupportedOperation
from iterbridge.objects import OBJECTS

from .readers import list_ids, user_emails
from .support import Calls

DECLARED = {
    "Catalogs": {"insert", "delete"},
    "Lists": {"insert", "delete"},
    "Events": {"insert"},
    "Campaigns": {"insert"},
    "InAppMessages": {"insert"},
    "CatalogItems": {"insert", "update", "delete"},
    "Templates": {"insert", "update", "delete"},
    "ListUsers": {"insert", "delete"},
    "Users": {"insert", "update", "delete"},
}


def test_objects_declare_exactly_the_documented_operations() -> None:
    assert {name: set(obj.writes) for name, obj in OBJECTS.items() if obj.writes} == DECLARED


@pytest.mark.parametrize(
    ("name", "operation"),
    [(name, op) for name in OBJECTS for op in ("insert", "update", "delete") if op not in DECLARED.get(name, set())],
)
def test_any_other_operation_is_unsupported(
    conn: iterbridge.Connection, calls: Calls, name: str, operation: str
) -> None:
    before = calls.total()
    with pytest.raises(UnsupportedOperation) as caught:
        getattr(conn, operation)(name, [{"Id": 1}])
    message = str(caught.value)
    assert name in message
    assert operation in message
    supported = sorted(DECLARED.get(name, set()))
    assert (", ".join(op for op in OBJECTS[name].writes) if supported else "none (read only)") in message
    assert calls.total() == before


def test_a_read_only_column_cannot_be_written(conn: iterbridge.Connection, calls: Calls) -> None:
    with calls.counting() as made:
        with pytest.raises(QueryError, match=r"Lists\.CreatedAt is read-only; writable columns: Name, Description"):
            conn.insert("Lists", [{"Name": "x", "CreatedAt": "2026-01-01"}])
        with pytest.raises(QueryError, match=r"Campaigns\.CampaignState is read-only"):
            conn.insert("Campaigns", [{"Name": "x", "TemplateId": 1, "CampaignState": "Running"}])
        with pytest.raises(QueryError, match=r"Users\.SignupDate is read-only"):
            conn.update("Users", [{"Email": "a@example.com", "SignupDate": "2026-01-01"}])
    assert made == {"GET /api/users/getFields": 1}  # Users' columns are learned; nothing is written


def test_unknown_columns_are_refused(conn: iterbridge.Connection) -> None:
    with pytest.raises(QueryError, match="Lists has no column 'Nmae'; did you mean Name"):
        conn.insert("Lists", [{"Nmae": "x"}])


# ---- each object ------------------------------------------------------------------------------------------


def test_lists_insert_returns_the_id_and_delete_removes(conn: iterbridge.Connection) -> None:
    report = conn.insert("Lists", [{"Name": "VIP", "Description": "the best"}, {"Name": "Churned"}])
    assert report.succeeded == 2
    assert report.failed == []
    ids = [result.keys["Id"] for result in report.results]
    assert all(isinstance(i, int) for i in ids)
    rows = {row["Id"]: row for row in conn.read("Lists")}
    assert rows[ids[0]]["Name"] == "VIP"
    assert rows[ids[0]]["Description"] == "the best"
    assert rows[ids[1]]["ListType"] == "Standard"
    deleted = conn.delete("Lists", [{"Id": ids[0]}, {"Id": 999999}])
    assert [r.ok for r in deleted.results] == [True, False]
    assert "does not exist" in (deleted.results[1].error or "")
    assert ids[0] not in {row["Id"] for row in conn.read("Lists")}


def test_catalogs_insert_and_delete(conn: iterbridge.Connection) -> None:
    assert conn.insert("Catalogs", [{"Name": "articles"}]).succeeded == 1
    assert "articles" in {row["Name"] for row in conn.read("Catalogs")}
    again = conn.insert("Catalogs", [{"Name": "articles"}])
    assert again.failed
    assert again.failed[0].error
    assert conn.delete("Catalogs", [{"Name": "articles"}]).succeeded == 1
    assert "articles" not in {row["Name"] for row in conn.read("Catalogs")}


def test_catalog_items_insert_update_delete(conn: iterbridge.Connection) -> None:
    key = {"CatalogName": "products", "ItemId": "sku-new-1"}
    inserted = conn.insert("CatalogItems", [{**key, "Value": {"name": "Lamp", "price": 10.5}}])
    assert inserted.results[0].ok
    assert inserted.results[0].keys == key
    (row,) = conn.read("CatalogItems", where=key)
    assert row["Value"] == {"name": "Lamp", "price": 10.5}
    assert conn.update("CatalogItems", [{**key, "Value": '{"price": 12}'}]).succeeded == 1  # JSON text works too
    (row,) = conn.read("CatalogItems", where=key)
    assert row["Value"] == {"name": "Lamp", "price": 12}  # merged
    assert conn.delete("CatalogItems", [key]).succeeded == 1
    assert list(conn.read("CatalogItems", where=key)) == []


def test_catalog_items_with_a_bad_value_fail_alone(conn: iterbridge.Connection) -> None:
    report = conn.insert(
        "CatalogItems",
        [
            {"CatalogName": "products", "ItemId": "ok-1", "Value": {"name": "A"}},
            {"CatalogName": "products", "ItemId": "bad-1", "Value": "[1, 2]"},
            {"CatalogName": "products", "ItemId": "no-value"},
        ],
    )
    assert [r.ok for r in report.results] == [True, False, False]
    assert "Value" in (report.results[1].error or "")
    assert "missing Value" in (report.results[2].error or "")


def test_templates_upsert_returns_the_id_and_update_changes(conn: iterbridge.Connection, calls: Calls) -> None:
    row = {
        "ClientTemplateId": "welcome-v2",
        "MessageMedium": "Email",
        "Name": "Welcome",
        "Subject": "Hi",
        "HTML": "<p>",
    }
    report = conn.insert("Templates", [row])
    assert report.succeeded == 1
    template_id = report.results[0].keys["Id"]
    assert isinstance(template_id, int)
    (read,) = conn.read("Templates", where={"Id": template_id}, columns=["Id", "Name", "Subject", "ClientTemplateId"])
    assert read == {"Id": template_id, "Name": "Welcome", "Subject": "Hi", "ClientTemplateId": "welcome-v2"}
    updated = conn.update("Templates", [{"Id": template_id, "MessageMedium": "Email", "Subject": "Hello"}])
    assert updated.results[0].ok
    assert updated.results[0].keys == {"Id": template_id}
    (read,) = conn.read("Templates", where={"Id": template_id}, columns=["Name", "Subject"])
    assert read == {"Name": "Welcome", "Subject": "Hello"}
    again = conn.insert("Templates", [{**row, "Subject": "Upserted"}])  # same ClientTemplateId: the same template
    assert again.results[0].keys["Id"] == template_id
    bad = conn.update("Templates", [{"Id": 1, "MessageMedium": "Email", "Subject": "x"}])
    assert not bad.results[0].ok
    assert "does not exist" in (bad.results[0].error or "")


def test_templates_delete_in_one_bulk_call_and_refusals_are_per_row(conn: iterbridge.Connection, calls: Calls) -> None:
    """POST /api/templates/bulkDelete: Iterable names the ids it refuses (a campaign's template, an unknown id)."""
    made = conn.insert("Templates", [{"ClientTemplateId": f"gone-{n}", "MessageMedium": "Email", "Name": f"Gone {n}"}
                                     for n in range(3)])  # fmt: skip
    ids = [result.keys["Id"] for result in made.results]
    campaigns = [r["Id"] for r in conn.read("Templates", columns=["Id", "CampaignId"]) if r["CampaignId"]]
    assert campaigns, "the project has templates of campaigns"
    with calls.counting() as sent:
        report = conn.delete("Templates", [{"Id": ids[0]}, {"Id": campaigns[0]}, {"Id": "nope"}, {"Id": ids[1]},
                                           {"Id": 999_999_999}])  # fmt: skip
    assert sent == {"POST /api/templates/bulkDelete": 1}
    assert [r.ok for r in report.results] == [True, False, False, True, False]
    assert "belong to a campaign" in (report.results[1].error or "")
    assert "Id" in (report.results[2].error or "")  # no number: refused before sending
    left = {r["Id"] for r in conn.read("Templates", columns=["Id"])}
    assert ids[0] not in left
    assert ids[1] not in left
    assert {ids[2], campaigns[0]} <= left


def test_templates_of_an_unknown_medium_fail_with_the_reason(conn: iterbridge.Connection) -> None:
    report = conn.insert("Templates", [{"ClientTemplateId": "x", "MessageMedium": "Fax", "Name": "x"}])
    assert not report.results[0].ok
    assert "MessageMedium must be one of" in (report.results[0].error or "")


def _template_of(conn: iterbridge.Connection, medium: str) -> int:
    (row,) = conn.read("Templates", where={"MessageMedium": medium, "TemplateType": "Base"}, columns=["Id"], limit=1)
    return int(row["Id"])


def test_campaigns_insert_returns_the_id(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    template = _template_of(conn, "Email")
    lists = list_ids(api)
    send_at = ANCHOR + timedelta(days=3)  # within 21 days of the sandbox's clock
    report = conn.insert(
        "Campaigns",
        [
            {
                "Name": "Blast it",
                "TemplateId": template,
                "ListIds": [lists[2]],
                "SendAt": send_at,
                "DataFields": {"a": 1},
            },
            {"Name": "Triggered one", "TemplateId": template},
            {"Name": "No template"},
        ],
    )
    assert [r.ok for r in report.results] == [True, True, False]
    assert report.results[2].error == "missing TemplateId"
    blast, triggered = (r.keys["Id"] for r in report.results[:2])
    rows = {row["Id"]: row for row in conn.read("Campaigns", where={"Id": [blast, triggered]})}
    assert rows[blast]["Name"] == "Blast it"
    assert rows[blast]["ListIds"] == [lists[2]]
    assert rows[blast]["Type"] == "Blast"
    assert rows[triggered]["Type"] == "Triggered"
    assert rows[blast]["SendAt"] is None  # import-only: written, never read back


def test_events_insert_is_visible_and_failures_are_per_row(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    email = user_emails(api)[0]
    now = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
    rows: list[dict[str, Any]] = [
        {"EventName": "wishlistAdd", "Email": email, "CreatedAt": now, "DataFields": {"sku": "a-1"}, "Id": "evt-1"},
        {"Email": email, "DataFields": {"sku": "missing-name"}},
        {"EventName": "wishlistAdd", "Email": "not-an-email"},
        {"EventName": "wishlistAdd"},
        {"EventName": "wishlistAdd", "UserId": "no-such-user-id"},
        {"EventName": "appOpen", "Email": email, "DataFields": '{"screen": "home"}'},
    ]
    report = conn.insert("Events", rows)
    assert [r.ok for r in report.results] == [True, False, False, False, False, True]
    assert report.results[1].error == "missing EventName"
    assert report.results[2].error == "invalid email"  # Iterable's reason
    assert report.results[3].error == "missing Email or UserId"
    assert report.results[4].error == "no such user"
    assert report.api_calls == 1
    mine = list(conn.read("Events", where={"Email": email, "EventType": "customEvent"}))
    wishlist = [row for row in mine if row["EventName"] == "wishlistAdd"]
    assert len(wishlist) == 1
    assert wishlist[0]["CreatedAt"] == now
    assert wishlist[0]["DataFields"] == {"sku": "a-1"}
    assert any(row["EventName"] == "appOpen" and row["DataFields"] == {"screen": "home"} for row in mine)


def test_an_event_sent_again_with_its_id_replaces_it(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    email = user_emails(api)[2]
    event = {"EventName": "cartUpdate", "Email": email, "Id": "cart-7", "DataFields": {"items": 1}}
    assert conn.insert("Events", [event]).succeeded == 1
    assert conn.insert("Events", [{**event, "DataFields": {"items": 2}}]).succeeded == 1
    mine = [
        r
        for r in conn.read("Events", where={"Email": email, "EventType": "customEvent"})
        if r["EventName"] == "cartUpdate"
    ]
    assert [row["DataFields"] for row in mine] == [{"items": 2}]


def test_five_thousand_events_are_a_handful_of_bulk_calls(
    conn: iterbridge.Connection, api: httpx2.Client, calls: Calls
) -> None:
    emails = user_emails(api)
    rows = [{"EventName": "bulkTest", "Email": emails[i % len(emails)], "DataFields": {"n": i}} for i in range(5000)]
    with calls.counting() as made:
        report = conn.insert("Events", rows)
    assert report.succeeded == 5000
    assert made == {"POST /api/events/trackBulk": 5}
    assert report.api_calls == 5
    found = [row for row in conn.read("Events", where={"EventType": "customEvent"}) if row["EventName"] == "bulkTest"]
    assert sorted(row["DataFields"]["n"] for row in found) == list(range(5000))


def test_inapp_insert_targets_a_user(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    campaigns = api.get("/api/campaigns", params={"pageSize": 1000}).json()["campaigns"]
    campaign = next(c["id"] for c in campaigns if c["messageMedium"] == "InApp" and c["type"] == "Triggered")
    email = user_emails(api)[5]
    before = {row["MessageId"] for row in conn.read("InAppMessages", where={"Email": email})}
    report = conn.insert(
        "InAppMessages",
        [{"CampaignId": campaign, "Email": email, "DataFields": {"offer": "10%"}}, {"CampaignId": 1, "Email": email}],
    )
    assert [r.ok for r in report.results] == [True, False]
    assert report.results[1].error
    after = list(conn.read("InAppMessages", where={"Email": email}))
    new = [row for row in after if row["MessageId"] not in before]
    assert [row["CampaignId"] for row in new] == [campaign]


def test_list_users_insert_and_delete(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    list_id = list_ids(api)[4]
    new = ["new.member1@example.com", "new.member2@example.com"]
    report = conn.insert("ListUsers", [{"ListId": list_id, "Email": e} for e in [*new, "bad-email"]])
    assert [r.ok for r in report.results] == [True, True, False]
    assert report.results[2].error == "invalid email"
    members = {row["Email"] for row in conn.read("ListUsers", where={"ListId": list_id})}
    assert set(new) <= members
    assert conn.delete("ListUsers", [{"ListId": list_id, "Email": new[0]}]).succeeded == 1
    members = {row["Email"] for row in conn.read("ListUsers", where={"ListId": list_id})}
    assert new[0] not in members
    assert new[1] in members


def test_users_insert_update_delete(conn: iterbridge.Connection) -> None:
    email = "new.person@example.com"
    report = conn.insert(
        "Users",
        [{"Email": email, "firstName": "Nova", "loyaltyPoints": 5, "birthday": "1990-02-03"}, {"Email": "bad@"}],
    )
    assert [r.ok for r in report.results] == [True, False]
    assert report.results[1].error == "invalid email"
    (row,) = conn.read("Users", where={"Email": email})
    assert (row["firstName"], row["loyaltyPoints"]) == ("Nova", 5)
    assert row["birthday"] == datetime(1990, 2, 3, tzinfo=UTC)
    assert (
        conn.update("Users", [{"Email": email, "firstName": "Nora", "ExtraFields": {"nickname": "N"}}]).succeeded == 1
    )
    (row,) = conn.read("Users", where={"Email": email})
    assert (row["firstName"], row["loyaltyPoints"]) == ("Nora", 5)  # merged: fields not given are kept
    assert conn.delete("Users", [{"Email": email}]).succeeded == 1
    assert list(conn.read("Users", where={"Email": email})) == []


def test_deleting_an_unknown_user_reports_it(conn: iterbridge.Connection) -> None:
    report = conn.delete("Users", [{"UserId": "no-such-user"}, {}])
    assert [r.ok for r in report.results] == [False, False]
    assert report.results[1].error == "missing Email or UserId"


@pytest.mark.parametrize(
    ("name", "bad", "good"),
    [
        ("Campaigns", {"Name": "x", "TemplateId": "not a number"}, None),
        ("Campaigns", {"Name": "x", "TemplateId": 1, "ListIds": "[1, oops"}, None),
        (
            "Events",
            {"EventName": "e", "Email": "a@example.com", "CampaignId": "abc"},
            {"EventName": "e", "Email": "a@example.com"},
        ),
        (
            "Events",
            {"EventName": "e", "Email": "a@example.com", "DataFields": "{not json"},
            {"EventName": "e", "Email": "b@example.com"},
        ),
        ("Users", {"Email": "a@example.com", "address": "{not json"}, {"Email": "b@example.com", "firstName": "B"}),
        ("Users", {"Email": "a@example.com", "birthday": "someday"}, {"Email": "c@example.com", "firstName": "C"}),
        ("ListUsers", {"ListId": "abc", "Email": "a@example.com"}, None),
        ("InAppMessages", {"CampaignId": "abc", "Email": "a@example.com"}, None),
    ],
)
def test_a_row_that_cannot_be_sent_fails_alone(
    conn: iterbridge.Connection, name: str, bad: dict[str, Any], good: dict[str, Any] | None
) -> None:
    rows = [bad] if good is None else [bad, good]
    report = conn.insert(name, rows)
    assert not report.results[0].ok
    assert report.results[0].error
    if good is not None:
        assert report.results[1].ok, report.results[1].error
