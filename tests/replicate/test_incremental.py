"""Incremental runs: after writes in Iterable, a second run brings exactly those changes — the inserted, updated
and deleted counts of every table are the difference between the API's data before and after — with the API
calls it needs and no more; deletions of lists, templates, campaigns, catalog items, channels and message
types are applied; Users and Events are never swept."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from typing import Any

import httpx2

import iterbridge
from helpers import FakeClock, Stats
from iterbridge.objects.events import EVENT_TYPES
from iterbridge.sandbox import Sandbox

from .compare import assert_events, assert_table, changes
from .copies import Copy
from .expected import TEMPLATE_MEDIUMS, Source, expected_tables

# A membership change does not move a user's profileUpdatedAt (in the sandbox at least), so an incremental read
# of Users by that cursor cannot see a changed EmailListIds: Users are compared without it.
STALE = {"Users": frozenset({"EmailListIds"})}


def snapshot(source: Source) -> dict[str, Any]:
    tables: dict[str, Any] = expected_tables(source)
    tables["events"] = {t: source.events(t) for t in EVENT_TYPES}
    return tables


def targets(before: dict[str, Any], new_list: int) -> dict[str, Any]:
    """What write_changes touches, chosen from the API's data before it (`new_list`: a list made to be deleted)."""
    campaigns = {c["Id"]: c for c in before["Campaigns"]}
    return {
        "users": [{"email": u["Email"]} for u in before["Users"]],
        "templates": sorted((t["Id"], t["MessageMedium"]) for t in before["Templates"] if t["CampaignId"] is None),
        "list": new_list,
        "lists": sorted(lst["Id"] for lst in before["Lists"] if lst["Id"] != new_list),
        "items": sorted(i["ItemId"] for i in before["CatalogItems"] if i["CatalogName"] == "products"),
        "archivable": next(i for i, c in sorted(campaigns.items()) if c["CampaignState"] in ("Draft", "Finished")),
        "removable": max(campaigns),
    }


def write_changes(api: httpx2.Client, sandbox: Sandbox, clock: FakeClock, prepared: dict[str, Any]) -> dict[str, Any]:
    """Writes of every kind, an hour after the first run; returns what was touched."""
    clock.advance(3600)
    users = sorted(u["email"] for u in prepared["users"])
    api.post("/api/users/update", json={"email": "new.one@example.org", "dataFields": {"city": "Lyon"}})
    api.post("/api/users/update", json={"email": "new.two@example.org", "dataFields": {"city": "Oslo"}})
    api.post("/api/users/update", json={"email": users[0], "dataFields": {"city": "Changed City"}})
    # Templates: two changed, one deleted.
    changed = prepared["templates"][:2]
    for template, medium in changed:
        body = {"templateId": template, "name": f"Renamed {template}"}
        api.post(f"/api/templates/{TEMPLATE_MEDIUMS[medium]}/update", json=body).raise_for_status()
    gone = prepared["templates"][2][0]
    assert api.post("/api/templates/bulkDelete", json={"ids": [gone]}).json()["success"] == [gone]
    # New events, an hour after the first run.
    now_s = clock.now_ms // 1000
    events = [{"email": users[i], "eventName": "incrementalTest", "createdAt": now_s, "dataFields": {"n": i}}
              for i in range(3)]  # fmt: skip
    assert api.post("/api/events/trackBulk", json={"events": events}).json()["successCount"] == 3
    # Lists: the unused list created before the first run goes; a member joins another list.
    api.delete(f"/api/lists/{prepared['list']}").raise_for_status()
    api.post("/api/lists/subscribe", json={"listId": prepared["lists"][0], "subscribers": [{"email": users[5]}]})
    # Catalog items: one deleted, two new, one changed.
    items = prepared["items"]
    api.request("DELETE", "/api/catalogs/products/items", json={"itemIds": [items[0]]}).raise_for_status()
    documents = {"new-item-1": {"name": "New one", "price": 1.5}, "new-item-2": {"name": "New two", "price": 2.5},
                 items[1]: {"name": "Renamed"}}  # fmt: skip
    response = api.post(
        "/api/catalogs/products/items", json={"documents": documents, "replaceUploadedFieldsOnly": True}
    )
    response.raise_for_status()
    # Campaigns: one archived (a change), one gone; a channel and a message type gone (no API deletes them: the
    # sandbox's world is changed in place).
    world = sandbox.state.world
    assert api.post("/api/campaigns/archive", json={"campaignIds": [prepared["archivable"]]}).json()["success"]
    world.campaigns.records.pop(prepared["removable"])
    world.project.channels.pop()
    world.project.message_types.pop()
    return {"changed_templates": changed}


def test_a_second_run_brings_exactly_the_changes(
    conn: iterbridge.Connection, api: httpx2.Client, stats: Stats, sandbox: Sandbox, clock: FakeClock,
    source: Source, target: str,
) -> None:  # fmt: skip
    # Before the first run: an unused list (to delete later) with a new member.
    new_list = api.post("/api/lists", json={"name": "Soon gone"}).json()["listId"]
    api.post("/api/lists/subscribe", json={"listId": new_list, "subscribers": [{"email": "member@example.org"}]})
    first = conn.replicate(target)
    assert first.ok
    copy = Copy(target)
    state = copy.state()
    before = snapshot(source)
    touched = write_changes(api, sandbox, clock, targets(before, new_list))
    after = snapshot(source)

    with stats.counting() as calls:
        second = conn.replicate(target)
    assert second.ok, (second.failed, second.skipped)

    # Every table holds what the API serves now.
    everything = copy.tables_rows(copy.data_tables())
    for table in sorted(set(after) - {"events"}):
        assert_table(copy, table, after[table], STALE.get(table, frozenset()), rows=everything[table])
    for event_type in EVENT_TYPES:
        table = f"Events_{event_type}"
        assert_events(copy, table, after["events"][event_type], rows=everything[table])

    # …and the report says exactly what changed.
    for table in sorted(set(after) - {"events"}):
        wanted = changes(table, before[table], after[table])
        if table == "Users":  # the users the run reads are those in its window: their changes, all of them
            since = datetime.fromisoformat(state["Users"]["cursor"]) - timedelta(hours=6)
            window = {u["email"] for u in source.export("user", since.replace(microsecond=0))}
            old = {u["Email"]: u for u in before[table]}
            updated = sum(
                1 for u in after[table] if u["Email"] in old and u["Email"] in window and u != old[u["Email"]]
            )
            wanted = dataclasses.replace(wanted, updated=updated)
        report = second.stream(table)
        assert (report.inserted, report.updated, report.deleted) == (wanted.inserted, wanted.updated,
                                                                     wanted.deleted), table  # fmt: skip
    for event_type in EVENT_TYPES:
        report = second.stream(f"Events_{event_type}")
        new = len(after["events"][event_type]) - len(before["events"][event_type])
        assert (report.inserted, report.updated, report.deleted) == (new, 0, 0), event_type
    assert second.stream("Events_customEvent").inserted >= 3
    # The writes above, as counts.
    assert second.stream("Users").inserted == 2
    assert second.stream("Users").updated >= 1
    assert second.stream("Lists").deleted == 1
    assert second.stream("Templates").deleted == 1
    assert second.stream("Templates").updated == 2
    assert second.stream("CatalogItems").inserted == 2
    assert second.stream("CatalogItems").deleted == 1
    assert second.stream("CatalogItems").updated == 1
    assert (second.stream("Campaigns").updated, second.stream("Campaigns").deleted) == (1, 1)
    assert second.stream("Channels").deleted == 1
    assert second.stream("MessageTypes").deleted == 1
    assert second.stream("ListUsers").deleted >= 1  # the deleted list's member, at least
    assert second.stream("ListUsers").inserted >= 1

    # The calls it needed, and no more.
    lists = len(after["Lists"])
    catalogs = len(after["Catalogs"])
    assert calls == {
        "GET /api/users/getFields": 1,
        "GET /api/export/data.json": len(EVENT_TYPES) + 1,  # one window per event type, one for users
        "GET /api/templates": 16,  # 4 types × 4 mediums
        "GET /api/templates/{medium}/get": len(touched["changed_templates"]),  # only the changed ones
        "GET /api/lists": 2,  # Lists, and ListUsers' list of lists
        "GET /api/lists/getUsers": lists,
        "GET /api/campaigns": 2,  # Campaigns, and CampaignMetrics' campaign ids
        "GET /api/campaigns/metrics": math.ceil(len(after["Campaigns"]) / 400),
        "GET /api/catalogs": 2,  # Catalogs, and CatalogItems' catalog names
        "GET /api/catalogs/{catalogName}/items": catalogs,
        "GET /api/channels": 1,
        "GET /api/messageTypes": 1,
    }
    assert second.stream("Templates").api_calls == 16 + 2

    # Events and Users read only the lookback window since the first run's cursor, in one call each.
    exported: list[tuple[str, str, list[dict[str, Any]]]] = [
        ("Events_emailSend", "emailSend", after["events"]["emailSend"]),
        ("Events_customEvent", "customEvent", after["events"]["customEvent"]),
        ("Users", "user", after["Users"]),
    ]
    for table, data_type, whole in exported:
        since = datetime.fromisoformat(state[table]["cursor"]) - timedelta(hours=6)
        read = source.export(data_type, since.replace(microsecond=0), source.now() + timedelta(seconds=1))
        assert second.stream(table).rows_read == len(read), table
        assert len(read) < len(whole), table
        assert second.stream(table).api_calls == (2 if table == "Users" else 1), table  # Users: and getFields


def test_users_and_events_are_never_swept(
    conn: iterbridge.Connection, api: httpx2.Client, sqlite_url: str, clock: FakeClock
) -> None:
    assert conn.replicate(sqlite_url, ["Users", "Events_emailSend"]).ok
    copy = Copy(sqlite_url)
    users = copy.rows("Users")
    sends = copy.rows("Events_emailSend")
    gone = sorted(u["Email"] for u in users)[0]
    api.delete(f"/api/users/{gone}").raise_for_status()  # its events leave the export too
    clock.advance(60)
    report = conn.replicate(sqlite_url, ["Users", "Events_emailSend"], full=False)
    assert report.ok
    assert report.stream("Users").deleted == 0
    assert report.stream("Events_emailSend").deleted == 0
    assert gone in {u["Email"] for u in copy.rows("Users")}
    assert len(copy.rows("Events_emailSend")) >= len(sends)


def test_a_rerun_with_nothing_new_changes_nothing_and_reads_no_details(
    conn: iterbridge.Connection, stats: Stats, sqlite_url: str
) -> None:
    assert conn.replicate(sqlite_url).ok
    copy = Copy(sqlite_url)
    tables = copy.snapshot()
    with stats.counting() as calls:
        again = conn.replicate(sqlite_url)
    assert again.ok
    totals = again.totals()
    assert (totals["inserted"], totals["updated"], totals["deleted"]) == (0, 0, 0)
    assert totals["unchanged"] == totals["rows_read"]
    assert copy.snapshot() == tables
    assert "GET /api/templates/{medium}/get" not in calls
