"""Writes are visible to later reads: lists, users, events, campaigns, templates, catalogs, in-app, metadata."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import orjson

from helpers import FakeClock

SUCCESS = {"msg": "", "code": "Success", "params": None}


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S +00:00")


def _list_ids(api: httpx2.Client) -> list[int]:
    return [lst["id"] for lst in api.get("/api/lists").json()["lists"]]


def _members(api: httpx2.Client, list_id: int) -> list[str]:
    response = api.get("/api/lists/getUsers", params={"listId": list_id})
    assert response.status_code == 200, response.text
    return response.text.split()


def _standard_list(api: httpx2.Client) -> int:
    lists = api.get("/api/lists").json()["lists"]
    return next(lst["id"] for lst in lists if lst["listType"] == "Standard" and _members(api, lst["id"]))


def _member(api: httpx2.Client) -> str:
    return _members(api, _standard_list(api))[0]


def _user(api: httpx2.Client, email: str) -> dict[str, Any]:
    body = api.get(f"/api/users/{email}").json()
    fields: dict[str, Any] = body["user"]["dataFields"] if body else {}
    return fields


def _export(api: httpx2.Client, data_type: str, **params: Any) -> list[dict[str, Any]]:
    text = api.get("/api/export/data.json", params={"dataTypeName": data_type, **params}).text
    return [orjson.loads(line) for line in text.splitlines()]


def _campaign(api: httpx2.Client, **wanted: str) -> dict[str, Any]:
    campaigns = api.get("/api/campaigns").json()["campaigns"]
    return next(c for c in campaigns if all(c.get(k) == v for k, v in wanted.items()))


# ---- lists -----------------------------------------------------------------------------------------------


def test_create_and_delete_a_list(api: httpx2.Client, clock: FakeClock) -> None:
    response = api.post("/api/lists", json={"name": "Fresh list", "description": "made by a test"})
    list_id = response.json()["listId"]
    created = next(lst for lst in api.get("/api/lists").json()["lists"] if lst["id"] == list_id)
    assert created == {
        "id": list_id,
        "name": "Fresh list",
        "createdAt": clock.now_ms,
        "listType": "Standard",
        "description": "made by a test",
    }
    assert _members(api, list_id) == []
    assert api.get(f"/api/lists/{list_id}/size").text == "0"
    deleted = api.delete(f"/api/lists/{list_id}")
    assert deleted.json() == {
        "msg": f"List {list_id} in Project 9598 was successfully deleted.",
        "code": "Success",
        "params": None,
    }
    assert list_id not in _list_ids(api)
    assert api.get("/api/lists/getUsers", params={"listId": list_id}).status_code == 400
    assert api.delete(f"/api/lists/{list_id}").status_code == 400


def test_new_lists_get_new_ids(api: httpx2.Client) -> None:
    first = api.post("/api/lists", json={"name": "a"}).json()["listId"]
    second = api.post("/api/lists", json={"name": "a"}).json()["listId"]
    assert first != second
    assert {first, second} <= set(_list_ids(api))


def _busy_lists(api: httpx2.Client) -> set[int]:
    """Lists that a scheduled or sending campaign holds (they cannot be deleted)."""
    return {
        list_id
        for c in api.get("/api/campaigns").json()["campaigns"]
        if c["campaignState"] in ("Scheduled", "Running", "Starting", "Recurring")
        for list_id in c.get("listIds", []) + c.get("suppressionListIds", [])
    }


def test_deleting_a_generated_list_removes_it_from_users(api: httpx2.Client) -> None:
    busy = _busy_lists(api)
    list_id = next(i for i in _list_ids(api) if i not in busy and _members(api, i))
    member = _members(api, list_id)[0]
    assert list_id in _user(api, member)["emailListIds"]
    assert api.delete(f"/api/lists/{list_id}").status_code == 200
    assert list_id not in _user(api, member)["emailListIds"]


def test_subscribe_and_unsubscribe(api: httpx2.Client) -> None:
    list_id = api.post("/api/lists", json={"name": "subscribers"}).json()["listId"]
    existing = _member(api)
    before = _user(api, existing)
    subscribers = [{"email": existing}, {"email": "brand.new@example.com", "dataFields": {"source": "test"}}]
    response = api.post("/api/lists/subscribe", json={"listId": list_id, "subscribers": subscribers})
    assert response.json()["successCount"] == 2
    assert response.json()["failCount"] == 0
    assert _members(api, list_id) == [existing, "brand.new@example.com"]
    assert api.get(f"/api/lists/{list_id}/size").text == "2"
    assert list_id in _user(api, existing)["emailListIds"]
    assert {k: v for k, v in _user(api, existing).items() if k != "emailListIds"} == {
        k: v for k, v in before.items() if k != "emailListIds"
    }  # subscribing without dataFields changes nothing else
    created = _user(api, "brand.new@example.com")
    assert created["source"] == "test"
    assert created["signupSource"] == "ListAPI"
    assert created["emailListIds"] == [list_id]
    response = api.post("/api/lists/unsubscribe", json={"listId": list_id, "subscribers": [{"email": existing}]})
    assert response.json()["successCount"] == 1
    assert _members(api, list_id) == ["brand.new@example.com"]
    assert list_id not in _user(api, existing)["emailListIds"]


def test_unsubscribe_from_a_generated_list(api: httpx2.Client) -> None:
    list_id = _standard_list(api)
    members = _members(api, list_id)
    api.post("/api/lists/unsubscribe", json={"listId": list_id, "subscribers": [{"email": members[0]}]})
    assert _members(api, list_id) == members[1:]
    assert list_id not in _user(api, members[0])["emailListIds"]
    api.post("/api/lists/subscribe", json={"listId": list_id, "subscribers": [{"email": members[0]}]})
    assert sorted(_members(api, list_id)) == sorted(members)


def test_subscribe_by_user_id_and_failures(api: httpx2.Client) -> None:
    list_id = api.post("/api/lists", json={"name": "by id"}).json()["listId"]
    member, user_id = next(
        (email, user["userId"])
        for email in _members(api, _standard_list(api))
        if "userId" in (user := api.get(f"/api/users/{email}").json()["user"])
    )
    body = {
        "listId": list_id,
        "updateExistingUsersOnly": True,
        "subscribers": [{"userId": user_id}, {"userId": "nobody"}, {"email": "bad@"}, {"email": "new@example.com"}],
    }
    result = api.post("/api/lists/subscribe", json=body).json()
    assert result["successCount"] == 1
    assert result["failCount"] == 3
    assert result["failedUpdates"]["notFoundUserIds"] == ["nobody"]
    assert result["failedUpdates"]["invalidEmails"] == ["bad@"]
    assert result["failedUpdates"]["notFoundEmails"] == ["new@example.com"]
    assert _members(api, list_id) == [member]
    assert _user(api, "new@example.com") == {}


# ---- users ------------------------------------------------------------------------------------------------


def test_update_merges_top_level_fields(api: httpx2.Client, clock: FakeClock) -> None:
    email = _member(api)
    before = _user(api, email)
    clock.advance(120)
    response = api.post("/api/users/update", json={"email": email, "dataFields": {"city": "Lyon", "newField": 7}})
    assert response.json() == SUCCESS
    after = _user(api, email)
    assert after["city"] == "Lyon"
    assert after["newField"] == 7
    assert after["profileUpdatedAt"] == _stamp(clock.now_ms)
    assert after["signupDate"] == before["signupDate"]
    for name, value in before.items():
        if name not in ("city", "profileUpdatedAt", "itblInternal"):
            assert after[name] == value, name
    assert after["itblInternal"]["documentUpdatedAt"] == _stamp(clock.now_ms)
    assert api.get("/api/users/getFields").json()["fields"]["newField"] == "long"


def test_update_replaces_nested_objects_unless_merged(api: httpx2.Client) -> None:
    email = "nested@example.com"
    address = {"street": "1 Main St", "city": "Paris", "zip": "75001"}
    api.post("/api/users/update", json={"email": email, "dataFields": {"address": address}})
    api.post("/api/users/update", json={"email": email, "dataFields": {"address": {"city": "Nice"}}})
    assert _user(api, email)["address"] == {"city": "Nice"}
    api.post("/api/users/update", json={"email": email, "dataFields": {"address": address}})
    merged = {"email": email, "mergeNestedObjects": True, "dataFields": {"address": {"city": "Nice"}}}
    api.post("/api/users/update", json=merged)
    assert _user(api, email)["address"] == {**address, "city": "Nice"}


def test_update_creates_a_user(api: httpx2.Client, clock: FakeClock) -> None:
    response = api.post("/api/users/update", json={"email": "created@example.com", "dataFields": {"plan": "pro"}})
    assert response.status_code == 200
    user = api.get("/api/users/created@example.com").json()["user"]
    assert user["email"] == "created@example.com"
    fields = user["dataFields"]
    assert fields["plan"] == "pro"
    assert fields["signupDate"] == fields["profileUpdatedAt"] == _stamp(clock.now_ms)
    assert fields["signupSource"] == "API"
    assert fields["itblInternal"]["emailDomain"] == "example.com"
    assert "created@example.com" in {r["email"] for r in _export(api, "user", range="Today")}


def test_update_cannot_overwrite_managed_fields(api: httpx2.Client) -> None:
    email = _member(api)
    before = _user(api, email)
    api.post("/api/users/update", json={"email": email, "dataFields": {"signupDate": "2001-01-01", "email": "x@y.z"}})
    after = _user(api, email)
    assert after["signupDate"] == before["signupDate"]
    assert after["email"] == email


def test_update_by_user_id(api: httpx2.Client) -> None:
    api.post("/api/users/update", json={"email": "ided@example.com", "userId": "my-id-1", "dataFields": {"a": 1}})
    assert api.get("/api/users/byUserId/my-id-1").json()["user"]["email"] == "ided@example.com"
    api.post("/api/users/update", json={"userId": "my-id-1", "dataFields": {"b": 2}})
    fields = _user(api, "ided@example.com")
    assert (fields["a"], fields["b"], fields["userId"]) == (1, 2, "my-id-1")


def test_bulk_update(api: httpx2.Client) -> None:
    email = _member(api)
    users = [
        {"email": email, "dataFields": {"tier": "gold"}},
        {"email": "bulk.new@example.com", "dataFields": {"tier": "silver", "address": {"city": "Rome"}}},
        {"email": "bad@", "dataFields": {"tier": "none"}},
        {"email": "typed@example.com", "dataFields": {"totalOrders": "lots"}},
    ]
    result = api.post("/api/users/bulkUpdate", json={"users": users}).json()
    assert result["successCount"] == 2
    assert result["failCount"] == 2
    assert result["invalidEmails"] == ["bad@"]
    assert result["failedUpdates"]["invalidDataEmails"] == ["typed@example.com"]
    assert _user(api, email)["tier"] == "gold"
    assert _user(api, "bulk.new@example.com")["tier"] == "silver"
    assert _user(api, "typed@example.com") == {}
    merge = {"email": "bulk.new@example.com", "mergeNestedObjects": True, "dataFields": {"address": {"zip": "00100"}}}
    api.post("/api/users/bulkUpdate", json={"users": [merge]})
    assert _user(api, "bulk.new@example.com")["address"] == {"city": "Rome", "zip": "00100"}


def test_delete_a_user(api: httpx2.Client) -> None:
    list_id = _standard_list(api)
    email = _members(api, list_id)[0]
    api.post("/api/events/track", json={"email": email, "eventName": "beforeDeletion"})
    assert api.delete(f"/api/users/{email}").json() == SUCCESS
    assert api.get(f"/api/users/{email}").json() == {}
    assert email not in _members(api, list_id)
    assert email not in {r["email"] for r in _export(api, "user", range="All")}
    assert email not in {r["email"] for r in _export(api, "emailSend", range="All")}
    assert email not in {r["email"] for r in _export(api, "customEvent", range="All")}
    assert api.get(f"/api/events/{email}").json() == {"events": []}
    assert api.delete(f"/api/users/{email}").status_code == 400


def test_delete_by_user_id(api: httpx2.Client) -> None:
    api.post("/api/users/update", json={"email": "byid@example.com", "userId": "del-1", "dataFields": {}})
    response = api.delete("/api/users/byUserId/del-1")
    assert response.json()["msg"] == "All users associated with del-1 were successfully deleted"
    assert api.get("/api/users/byUserId/del-1").status_code == 400
    assert api.get("/api/users/byid@example.com").json() == {}


def test_a_deleted_user_can_come_back(api: httpx2.Client) -> None:
    email = _member(api)
    api.delete(f"/api/users/{email}")
    api.post("/api/users/update", json={"email": email, "dataFields": {"back": True}})
    fields = _user(api, email)
    assert fields["back"] is True
    assert "firstName" not in fields  # a new profile, not the deleted one


def test_update_email(api: httpx2.Client) -> None:
    list_id = _standard_list(api)
    old = _members(api, list_id)[0]
    before = _user(api, old)
    response = api.post("/api/users/updateEmail", json={"currentEmail": old, "newEmail": "moved@elsewhere.example"})
    assert response.json() == SUCCESS
    assert api.get(f"/api/users/{old}").json() == {}
    after = _user(api, "moved@elsewhere.example")
    assert after["email"] == "moved@elsewhere.example"
    assert after["firstName"] == before["firstName"]
    assert after["emailListIds"] == before["emailListIds"]
    assert after["itblInternal"]["emailDomain"] == "elsewhere.example"
    assert "moved@elsewhere.example" in _members(api, list_id)
    assert old not in _members(api, list_id)
    if "userId" in before:
        found = api.get(f"/api/users/byUserId/{before['userId']}").json()["user"]
        assert found["email"] == "moved@elsewhere.example"


def test_update_email_keeps_the_event_history(api: httpx2.Client) -> None:
    sends = _export(api, "emailSend", range="All")
    old = sends[0]["email"]
    history = api.get(f"/api/events/{old}", params={"limit": 200}).json()["events"]
    api.post("/api/events/track", json={"email": old, "eventName": "beforeMove"})
    api.post("/api/users/updateEmail", json={"currentEmail": old, "newEmail": "moved@example.com"})
    moved = api.get("/api/events/moved@example.com", params={"limit": 200}).json()["events"]
    assert len(moved) == len(history) + 1
    assert {e["email"] for e in moved} == {"moved@example.com"}
    assert "beforeMove" in {e.get("eventName") for e in moved}
    exported = [r for r in _export(api, "emailSend", range="All") if r["email"] == "moved@example.com"]
    assert len(exported) == sum(1 for r in sends if r["email"] == old)
    assert old not in {r["email"] for r in _export(api, "emailSend", range="All")}
    assert "beforeMove" in {r["eventName"] for r in _export(api, "customEvent") if r["email"] == "moved@example.com"}


# ---- events ------------------------------------------------------------------------------------------------


def test_track_is_visible_to_reads(api: httpx2.Client, clock: FakeClock) -> None:
    email = _member(api)
    moment = datetime.fromtimestamp(clock.now_ms / 1000, UTC) - timedelta(days=2)
    body = {"email": email, "eventName": "orderShipped", "createdAt": int(moment.timestamp()),
            "dataFields": {"carrier": "UPS", "parcels": 2}}  # fmt: skip
    response = api.post("/api/events/track", json=body)
    assert response.status_code == 200
    event_id = response.json()["params"]["id"]
    assert response.json()["msg"] == f"Event with id: {event_id} tracked."
    events = api.get(f"/api/events/{email}", params={"limit": 200}).json()["events"]
    mine = [e for e in events if e.get("eventName") == "orderShipped"]
    assert len(mine) == 1
    assert mine[0]["createdAt"] == moment.strftime("%Y-%m-%d %H:%M:%S +00:00")
    assert mine[0]["dataFields"] == {"carrier": "UPS", "parcels": 2}
    assert mine[0]["eventType"] == "customEvent"
    day = {"startDateTime": moment.strftime("%Y-%m-%d 00:00:00"), "endDateTime": (moment + timedelta(days=1))
           .strftime("%Y-%m-%d 00:00:00")}  # fmt: skip
    exported = [r for r in _export(api, "customEvent", **day) if r.get("eventName") == "orderShipped"]
    assert len(exported) == 1
    assert exported[0]["carrier"] == "UPS"  # custom fields at the top level of the export
    assert exported[0]["email"] == email
    assert not [r for r in _export(api, "customEvent", range="Today") if r.get("eventName") == "orderShipped"]


def test_track_without_created_at_is_now(api: httpx2.Client, clock: FakeClock) -> None:
    email = _member(api)
    api.post("/api/events/track", json={"email": email, "eventName": "justNow"})
    today = [r for r in _export(api, "customEvent", range="Today") if r["eventName"] == "justNow"]
    assert [r["createdAt"] for r in today] == [_stamp(clock.now_ms)]


def test_track_with_an_existing_id_replaces(api: httpx2.Client) -> None:
    email = _member(api)
    api.post("/api/events/track", json={"email": email, "eventName": "draft", "id": "evt-42", "dataFields": {"v": 1}})
    api.post("/api/events/track", json={"email": email, "eventName": "final", "id": "evt-42", "dataFields": {"v": 2}})
    names = [e.get("eventName") for e in api.get(f"/api/events/{email}", params={"limit": 200}).json()["events"]]
    assert names.count("final") == 1
    assert "draft" not in names
    exported = [r for r in _export(api, "customEvent") if r["email"] == email]
    assert [(r["eventName"], r["v"]) for r in exported] == [("final", 2)]


def test_track_creates_an_unknown_user(api: httpx2.Client) -> None:
    api.post("/api/events/track", json={"email": "tracked.first@example.com", "eventName": "visit"})
    assert _user(api, "tracked.first@example.com")["email"] == "tracked.first@example.com"
    assert [e["eventName"] for e in api.get("/api/events/tracked.first@example.com").json()["events"]] == ["visit"]


def test_track_bulk(api: httpx2.Client) -> None:
    email = _member(api)
    events = [
        {"email": email, "eventName": "bulkOne", "dataFields": {"n": 1}},
        {"email": email, "eventName": "bulkTwo", "dataFields": {"n": 2}},
        {"email": "bad@", "eventName": "bulkBad"},
        {"userId": "no-such-user", "eventName": "bulkUnknown"},
    ]
    result = api.post("/api/events/trackBulk", json={"events": events}).json()
    assert result["successCount"] == 2
    assert result["failCount"] == 2
    assert result["invalidEmails"] == ["bad@"]
    assert result["failedUpdates"]["notFoundUserIds"] == ["no-such-user"]
    exported = {r["eventName"]: r for r in _export(api, "customEvent") if r["email"] == email}
    assert set(exported) == {"bulkOne", "bulkTwo"}
    assert exported["bulkTwo"]["n"] == 2
    names = {e.get("eventName") for e in api.get(f"/api/events/{email}", params={"limit": 200}).json()["events"]}
    assert {"bulkOne", "bulkTwo"} <= names


# ---- campaigns --------------------------------------------------------------------------------------------


def _base_template(api: httpx2.Client, medium: str = "Email") -> int:
    templates = api.get("/api/templates", params={"templateType": "Base", "messageMedium": medium}).json()
    template_id: int = templates["templates"][0]["templateId"]
    return template_id


def test_create_a_blast_campaign(api: httpx2.Client, clock: FakeClock) -> None:
    template = _base_template(api)
    list_id = _standard_list(api)
    response = api.post("/api/campaigns/create", json={"name": "Launch", "templateId": template, "listIds": [list_id]})
    campaign_id = response.json()["campaignId"]
    campaign = api.get(f"/api/campaigns/{campaign_id}").json()
    assert campaign["name"] == "Launch"
    assert campaign["type"] == "Blast"
    assert campaign["campaignState"] == "Running"
    assert campaign["listIds"] == [list_id]
    assert campaign["createdAt"] == campaign["updatedAt"] == campaign["startAt"] == clock.now_ms
    assert campaign["sendSize"] == len(_members(api, list_id))
    assert campaign["messageMedium"] == "Email"
    assert campaign["templateId"] != template  # the campaign has its own copy
    copy = api.get("/api/templates/email/get", params={"templateId": campaign["templateId"]}).json()
    original = api.get("/api/templates/email/get", params={"templateId": template}).json()
    assert copy["campaignId"] == campaign_id
    assert copy["subject"] == original["subject"]
    assert campaign in api.get("/api/campaigns", params={"campaignState": "Running"}).json()["campaigns"]


def test_create_a_scheduled_campaign_and_cancel_it(api: httpx2.Client, clock: FakeClock) -> None:
    send_at = datetime.fromtimestamp(clock.now_ms / 1000, UTC) + timedelta(days=2)
    body = {"name": "Later", "templateId": _base_template(api, "Push"), "listIds": [_standard_list(api)],
            "sendAt": send_at.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
    campaign_id = api.post("/api/campaigns/create", json=body).json()["campaignId"]
    campaign = api.get(f"/api/campaigns/{campaign_id}").json()
    assert campaign["campaignState"] == "Scheduled"
    assert campaign["startAt"] == int(send_at.timestamp()) * 1000
    assert campaign["messageMedium"] == "Push"
    clock.advance(60)
    response = api.post("/api/campaigns/cancel", json={"campaignId": campaign_id})
    assert response.json()["msg"] == f"Canceled campaign. Id: {campaign_id}"
    cancelled = api.get(f"/api/campaigns/{campaign_id}").json()
    assert cancelled["campaignState"] == "Ready"
    assert "startAt" not in cancelled
    assert cancelled["updatedAt"] == clock.now_ms
    assert api.post("/api/campaigns/cancel", json={"campaignId": campaign_id}).status_code == 400


def test_create_a_triggered_campaign_and_trigger_it(api: httpx2.Client) -> None:
    campaign_id = api.post("/api/campaigns/create", json={"name": "On demand", "templateId": _base_template(api)})
    campaign = api.get(f"/api/campaigns/{campaign_id.json()['campaignId']}").json()
    assert campaign["type"] == "Triggered"
    assert campaign["campaignState"] == "Ready"
    assert "listIds" not in campaign
    assert "sendSize" not in campaign
    template = api.get("/api/templates/email/get", params={"templateId": campaign["templateId"]}).json()
    listed = api.get("/api/templates", params={"templateType": "Triggered", "messageMedium": "Email"}).json()
    assert template["templateId"] in [t["templateId"] for t in listed["templates"]]
    response = api.post("/api/campaigns/trigger", json={"campaignId": campaign["id"], "listIds": [_standard_list(api)]})
    assert response.json() == {"msg": "Campaign triggered", "code": "Success", "params": None}
    assert api.get(f"/api/campaigns/{campaign['id']}").json()["campaignState"] == "Running"


def test_abort_a_running_campaign(api: httpx2.Client, clock: FakeClock) -> None:
    running = _campaign(api, campaignState="Running")
    clock.advance(30)
    response = api.post("/api/campaigns/abort", json={"campaignId": running["id"]})
    assert response.json()["msg"] == f"Aborted campaign. Id: {running['id']}"
    aborted = api.get(f"/api/campaigns/{running['id']}").json()
    assert aborted["campaignState"] == "Aborted"
    assert aborted["endedAt"] == aborted["updatedAt"] == clock.now_ms
    assert running["id"] in [c["id"] for c in api.get("/api/campaigns", params={"campaignState": "Aborted"}).json()[
        "campaigns"]]  # fmt: skip
    assert api.post("/api/campaigns/abort", json={"campaignId": running["id"]}).status_code == 400


def test_archive_campaigns(api: httpx2.Client) -> None:
    finished = _campaign(api, campaignState="Finished")
    running = _campaign(api, campaignState="Running")
    result = api.post("/api/campaigns/archive", json={"campaignIds": [finished["id"], running["id"], 1]}).json()
    assert result == {"success": [finished["id"]], "failed": [running["id"], 1]}
    assert api.get(f"/api/campaigns/{finished['id']}").json()["campaignState"] == "Archived"


# ---- templates ----------------------------------------------------------------------------------------------


def _upserted_ids(response: httpx2.Response) -> list[int]:
    match = re.fullmatch(r"Upserted (\d+) templates with IDs: ([\d,]+)", response.json()["msg"])
    assert match, response.text
    ids = [int(i) for i in match.group(2).split(",")]
    assert len(ids) == int(match.group(1))
    return ids


def test_upsert_creates_then_updates(api: httpx2.Client, clock: FakeClock) -> None:
    body = {"clientTemplateId": "welcome-v1", "name": "Welcome", "subject": "Hello", "html": "<p>Hi</p>"}
    (template_id,) = _upserted_ids(api.post("/api/templates/email/upsert", json=body))
    detail = api.get("/api/templates/email/get", params={"templateId": template_id}).json()
    assert (detail["name"], detail["subject"], detail["html"]) == ("Welcome", "Hello", "<p>Hi</p>")
    assert detail["clientTemplateId"] == "welcome-v1"
    listed = api.get("/api/templates").json()["templates"]
    assert [t["name"] for t in listed if t["templateId"] == template_id] == ["Welcome"]
    count = len(listed)
    clock.advance(60)
    again = api.post("/api/templates/email/upsert", json={**body, "subject": "Hello again"})
    assert _upserted_ids(again) == [template_id]
    assert len(api.get("/api/templates").json()["templates"]) == count
    detail = api.get("/api/templates/email/get", params={"templateId": template_id}).json()
    assert detail["subject"] == "Hello again"
    assert detail["metadata"]["updatedAt"] == clock.now_ms
    by_client = api.get("/api/templates/getByClientTemplateId", params={"clientTemplateId": "welcome-v1"}).json()
    assert by_client == {"templates": [{"templateId": template_id, "locales": []}]}


def test_upsert_updates_every_template_with_the_client_id(api: httpx2.Client) -> None:
    listed = api.get("/api/templates", params={"templateType": "Base", "messageMedium": "Email"}).json()["templates"]
    first, second = listed[:2]
    client_id = first["clientTemplateId"]
    assert second.get("clientTemplateId") != client_id
    api.post("/api/templates/email/update", json={"templateId": second["templateId"], "clientTemplateId": client_id})
    ids = _upserted_ids(api.post("/api/templates/email/upsert", json={"clientTemplateId": client_id, "name": "New"}))
    assert sorted(ids) == sorted([first["templateId"], second["templateId"]])
    for template_id in ids:
        assert api.get("/api/templates/email/get", params={"templateId": template_id}).json()["name"] == "New"
    sms = _upserted_ids(api.post("/api/templates/sms/upsert", json={"clientTemplateId": client_id, "name": "Text"}))
    assert set(sms).isdisjoint(ids)  # the medium of the path decides which templates match


def test_update_a_template(api: httpx2.Client, clock: FakeClock) -> None:
    template = api.get("/api/templates", params={"templateType": "Base", "messageMedium": "SMS"}).json()
    template_id = template["templates"][0]["templateId"]
    clock.advance(5)
    response = api.post("/api/templates/sms/update", json={"templateId": template_id, "message": "New text",
                                                           "name": "Renamed"})  # fmt: skip
    assert response.json() == SUCCESS
    detail = api.get("/api/templates/sms/get", params={"templateId": template_id}).json()
    assert (detail["message"], detail["name"], detail["updatedAt"]) == ("New text", "Renamed", clock.now_ms)
    listed = api.get("/api/templates", params={"templateType": "Base", "messageMedium": "SMS"}).json()["templates"]
    summary = next(t for t in listed if t["templateId"] == template_id)
    assert (summary["name"], summary["updatedAt"]) == ("Renamed", clock.now_ms)
    sorted_by_update = api.get("/api/templates", params={"templateType": "Base", "messageMedium": "SMS",
                                                          "sort": "-updatedAt"}).json()  # fmt: skip
    assert sorted_by_update["templates"][0]["templateId"] == template_id


def test_bulk_delete_templates(api: httpx2.Client) -> None:
    base = _base_template(api)
    owned = _campaign(api, type="Blast")["templateId"]
    result = api.post("/api/templates/bulkDelete", json={"ids": [base, owned]}).json()
    assert result["success"] == [base]
    assert result["failed"] == [owned]
    assert api.get("/api/templates/email/get", params={"templateId": base}).status_code == 400
    assert base not in [t["templateId"] for t in api.get("/api/templates").json()["templates"]]


# ---- catalogs -----------------------------------------------------------------------------------------------


def test_create_and_delete_a_catalog(api: httpx2.Client) -> None:
    response = api.post("/api/catalogs/Wines")
    assert response.status_code == 201
    names = [c["name"] for c in api.get("/api/catalogs").json()["params"]["catalogNames"]]
    assert names[-1] == "Wines"
    assert api.get("/api/catalogs/wines/items").json()["params"]["totalItemsCount"] == 0  # names ignore case
    assert api.post("/api/catalogs/WINES").status_code == 400
    assert api.delete("/api/catalogs/Wines").status_code == 200
    assert "Wines" not in [c["name"] for c in api.get("/api/catalogs").json()["params"]["catalogNames"]]
    assert api.get("/api/catalogs/Wines/items").status_code == 404


def test_item_put_replaces_and_patch_merges(api: httpx2.Client, clock: FakeClock) -> None:
    path = "/api/catalogs/products/items/sku-000001"
    original = api.get(path).json()
    assert api.put(path, json={"value": {"name": "Replaced", "price": 1.5}}).status_code == 202
    replaced = api.get(path).json()
    assert replaced["value"] == {"name": "Replaced", "price": 1.5}
    assert replaced["lastModified"] == clock.now_ms
    assert replaced["size"] == len(orjson.dumps(replaced["value"]))
    assert replaced["lastModified"] != original["lastModified"]
    clock.advance(10)
    assert api.patch(path, json={"update": {"stock": 9}}).status_code == 202
    patched = api.get(path).json()
    assert patched["value"] == {"name": "Replaced", "price": 1.5, "stock": 9}
    assert patched["lastModified"] == clock.now_ms
    listed = api.get("/api/catalogs/products/items", params={"pageSize": 100}).json()["params"]
    assert patched in listed["catalogItemsWithProperties"]


def test_item_patch_creates_and_delete_removes(api: httpx2.Client) -> None:
    path = "/api/catalogs/stores/items/pop-up-1"
    assert api.get(path).status_code == 404
    api.patch(path, json={"update": {"name": "Pop-up"}})
    assert api.get(path).json()["value"] == {"name": "Pop-up"}
    before = api.get("/api/catalogs/stores/items").json()["params"]["totalItemsCount"]
    assert api.delete(path).status_code == 202
    assert api.get(path).status_code == 404
    assert api.get("/api/catalogs/stores/items").json()["params"]["totalItemsCount"] == before - 1


def test_bulk_item_writes(api: httpx2.Client) -> None:
    documents = {"bulk-1": {"name": "One", "price": 1.0}, "sku-000002": {"name": "Two"}}
    response = api.post("/api/catalogs/products/items", json={"documents": documents})
    assert response.status_code == 202
    assert api.get("/api/catalogs/products/items/bulk-1").json()["value"] == documents["bulk-1"]
    assert api.get("/api/catalogs/products/items/sku-000002").json()["value"] == {"name": "Two"}
    partial = {"documents": {"bulk-1": {"stock": 4}}, "replaceUploadedFieldsOnly": True}
    api.post("/api/catalogs/products/items", json=partial)
    assert api.get("/api/catalogs/products/items/bulk-1").json()["value"] == {"name": "One", "price": 1.0, "stock": 4}
    deleted = api.request("DELETE", "/api/catalogs/products/items", json={"itemIds": ["bulk-1", "sku-000002"]})
    assert deleted.status_code == 202
    assert api.get("/api/catalogs/products/items/bulk-1").status_code == 404
    assert api.get("/api/catalogs/products/items/sku-000002").status_code == 404
    assert api.get("/api/catalogs/products/items").json()["params"]["totalItemsCount"] == 24


def test_field_mappings(api: httpx2.Client) -> None:
    api.put("/api/catalogs/products/items/mapped-1", json={"value": {"color": "red"}})
    before = api.get("/api/catalogs/products/fieldMappings").json()["params"]
    assert "color" in before["undefinedFields"]
    update = {"mappingsUpdates": [{"fieldName": "color", "fieldType": "string"},
                                  {"fieldName": "specs", "fieldType": "object",
                                   "children": [{"fieldName": "weight", "fieldType": "double"}]}]}  # fmt: skip
    assert api.put("/api/catalogs/products/fieldMappings", json=update).status_code == 200
    after = api.get("/api/catalogs/products/fieldMappings").json()["params"]
    assert after["definedMappings"]["color"] == "string"
    assert after["definedMappings"]["specs"] == {"weight": "double"}
    assert after["definedMappings"]["price"] == "double"
    assert "color" not in after["undefinedFields"]
    ordered = api.get("/api/catalogs/products/items", params={"orderBy": "color"})
    assert ordered.status_code == 200
    assert ordered.json()["params"]["catalogItemsWithProperties"][0]["itemId"] == "mapped-1"


def test_field_mapping_types_cannot_change(api: httpx2.Client) -> None:
    update = {"mappingsUpdates": [{"fieldName": "price", "fieldType": "string"}]}
    response = api.put("/api/catalogs/products/fieldMappings", json=update)
    assert response.status_code == 400
    assert response.json()["msg"] == "The type of field price is double and cannot be changed"
    mixed = {"mappingsUpdates": [{"fieldName": "brandNew", "fieldType": "long"},
                                 {"fieldName": "dimensions", "fieldType": "string"}]}  # fmt: skip
    assert api.put("/api/catalogs/products/fieldMappings", json=mixed).status_code == 400
    mappings = api.get("/api/catalogs/products/fieldMappings").json()["params"]["definedMappings"]
    assert mappings["price"] == "double"
    assert "brandNew" not in mappings  # a refused update changes nothing
    same = {"mappingsUpdates": [{"fieldName": "price", "fieldType": "double"}]}
    assert api.put("/api/catalogs/products/fieldMappings", json=same).status_code == 200


# ---- in-app messages -----------------------------------------------------------------------------------------


def _inbox(api: httpx2.Client, email: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = api.get("/api/inApp/getMessages", params={"email": email, "count": 100}).json()[
        "inAppMessages"
    ]
    return messages


def test_in_app_target_now(api: httpx2.Client, clock: FakeClock) -> None:
    campaign = _campaign(api, messageMedium="InApp", type="Triggered")
    email = _member(api)
    before = _inbox(api, email)
    response = api.post("/api/inApp/target", json={"campaignId": campaign["id"], "recipientEmail": email,
                                                   "dataFields": {"offer": "10%"}})  # fmt: skip
    assert response.json() == {
        "msg": f"Campaign {campaign['id']} - Sent triggered message to: {email}",
        "code": "Success",
        "params": None,
    }
    after = _inbox(api, email)
    assert len(after) == len(before) + 1
    newest = after[0]
    assert newest["campaignId"] == campaign["id"]
    assert newest["createdAt"] == clock.now_ms
    assert newest["content"]["payload"]["offer"] == "10%"
    consumed = api.post("/api/events/inAppConsume", json={"email": email, "messageId": newest["messageId"]})
    assert consumed.status_code == 200
    assert _inbox(api, email) == before


def test_in_app_target_later(api: httpx2.Client, clock: FakeClock) -> None:
    campaign = _campaign(api, messageMedium="InApp", type="Triggered")
    email = _member(api)
    before = _inbox(api, email)
    send_at = datetime.fromtimestamp(clock.now_ms / 1000, UTC) + timedelta(hours=2)
    body = {"campaignId": campaign["id"], "recipientEmail": email, "sendAt": send_at.strftime("%Y-%m-%d %H:%M:%S")}
    response = api.post("/api/inApp/target", json=body).json()
    assert response["msg"] == (
        f"Campaign {campaign['id']} - Scheduled triggered message for: "
        f"{send_at.strftime('%Y-%m-%dT%H:%M:%S.000Z')} to: {email}"
    )
    assert isinstance(response["params"]["scheduledMessageId"], int)
    assert _inbox(api, email) == before
    clock.advance(2 * 3600 - 1)
    assert _inbox(api, email) == before
    clock.advance(1)
    after = _inbox(api, email)
    assert len(after) == len(before) + 1
    assert after[0]["createdAt"] == int(send_at.timestamp()) * 1000


def test_in_app_cancel(api: httpx2.Client, clock: FakeClock) -> None:
    campaign = _campaign(api, messageMedium="InApp", type="Triggered")
    email = _member(api)
    before = _inbox(api, email)
    send_at = (datetime.fromtimestamp(clock.now_ms / 1000, UTC) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    body = {"campaignId": campaign["id"], "recipientEmail": email, "sendAt": send_at}
    first = api.post("/api/inApp/target", json=body).json()["params"]["scheduledMessageId"]
    api.post("/api/inApp/target", json=body)
    cancelled = api.post("/api/inApp/cancel", json={"scheduledMessageId": first})
    assert cancelled.json()["msg"].startswith(
        f"Successfully cancelled scheduled messages with scheduledMessageId: {first}"
    )
    clock.advance(3600)
    assert len(_inbox(api, email)) == len(before) + 1  # the other one arrived
    api.post("/api/inApp/target", json={**body, "sendAt": "2027-01-01 00:00:00"})
    by_user = api.post("/api/inApp/cancel", json={"email": email, "campaignId": campaign["id"]})
    assert by_user.status_code == 200
    clock.advance(90 * 86_400)
    assert all(m["createdAt"] < 1_798_761_600_000 for m in _inbox(api, email))  # nothing from 2027-01-01
    assert api.post("/api/inApp/cancel", json={"scheduledMessageId": first}).status_code == 400


# ---- metadata ------------------------------------------------------------------------------------------------


def test_metadata_put_get_delete(api: httpx2.Client, clock: FakeClock) -> None:
    response = api.put("/api/metadata/settings/theme", json={"value": {"color": "teal", "size": 3}})
    assert response.json() == {"msg": "Successfully updated object theme in table settings", "code": "Success",
                               "params": None}  # fmt: skip
    value = {"color": "teal", "size": 3}
    assert api.get("/api/metadata/settings/theme").json() == {
        "table": "settings",
        "key": "theme",
        "size": len(orjson.dumps(value)),
        "lastModified": clock.now_ms,
        "value": value,
    }
    api.put("/api/metadata/settings/layout", json={"value": {"columns": 2}})
    assert api.get("/api/metadata").json() == {"results": [{"name": "settings"}]}
    keys = api.get("/api/metadata/settings").json()["results"]
    assert [k["key"] for k in keys] == ["layout", "theme"]
    clock.advance(5)
    api.put("/api/metadata/settings/theme", json={"value": {"color": "red"}})
    assert api.get("/api/metadata/settings/theme").json()["value"] == {"color": "red"}
    assert api.get("/api/metadata/settings/theme").json()["lastModified"] == clock.now_ms
    assert api.delete("/api/metadata/settings/theme").status_code == 200
    assert api.get("/api/metadata/settings/theme").status_code == 404
    assert api.delete("/api/metadata/settings/theme").status_code == 200  # even when it does not exist
    assert api.delete("/api/metadata/settings").status_code == 200
    assert api.get("/api/metadata").json() == {"results": []}
    assert api.get("/api/metadata/settings").json() == {"results": []}
