"""Determinism and believability: one seed gives byte-identical answers; the generated project looks real."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx2
import orjson
import pytest

from helpers import ANCHOR, NO_TLS, FakeClock, make_config
from iterbridge.constants import CAMPAIGN_STATES, EXPORT_DATA_TYPES
from iterbridge.sandbox import Sandbox
from iterbridge.sandbox.data.users import CUSTOM_FIELDS

Serve = Callable[..., httpx2.Client]
MEDIUM_PATHS = {"Email": "email", "Push": "push", "SMS": "sms", "InApp": "inapp"}
EXPORT_TYPES = ("emailSend", "emailOpen", "emailClick", "pushSend", "inAppSend", "customEvent", "purchase")
# The month before the anchor (and the hours after it): exports of the whole history cost seconds on small.
LAST_MONTH = {"startDateTime": "2026-10-01 00:00:00", "endDateTime": "2026-11-02 00:00:00"}


def _ok(response: httpx2.Response) -> bytes:
    assert response.status_code == 200, (response.request.url, response.text[:200])
    return response.content


def _members(client: httpx2.Client) -> list[str]:
    emails: list[str] = []
    for lst in client.get("/api/lists").json()["lists"]:
        if lst["listType"] == "Standard":
            emails += client.get("/api/lists/getUsers", params={"listId": lst["id"]}).text.split()
    return sorted(set(emails))


def _sweep(client: httpx2.Client) -> dict[str, bytes]:
    """The bodies of a broad set of reads, keyed by request."""
    bodies: dict[str, bytes] = {}

    def get(path: str, **params: Any) -> bytes:
        key = f"{path}?{sorted(params.items())}"
        # Page links are absolute: they name this sandbox's own port.
        bodies[key] = _ok(client.get(path, params=params)).replace(str(client.base_url).rstrip("/").encode(), b"")
        return bodies[key]

    lists = orjson.loads(get("/api/lists"))["lists"]
    for lst in lists:
        get("/api/lists/getUsers", listId=lst["id"])
    get("/api/channels")
    get("/api/messageTypes")
    get("/api/users/getFields")
    campaigns = orjson.loads(get("/api/campaigns"))["campaigns"]
    get("/api/campaigns", page=2, pageSize=5, sort="-updatedAt")
    for campaign in campaigns[:4]:
        get(f"/api/campaigns/{campaign['id']}")
    get("/api/campaigns/metrics", campaignId=[c["id"] for c in campaigns[:5]])
    for template_type in ("Base", "Blast", "Triggered", "Workflow"):
        for medium, path in MEDIUM_PATHS.items():
            templates = orjson.loads(get("/api/templates", templateType=template_type, messageMedium=medium))
            for template in templates["templates"][:2]:
                get(f"/api/templates/{path}/get", templateId=template["templateId"])
    get("/api/catalogs")
    for catalog in ("products", "stores"):
        items = orjson.loads(get(f"/api/catalogs/{catalog}/items", pageSize=50))
        get(f"/api/catalogs/{catalog}/fieldMappings")
        for item in items["params"]["catalogItemsWithProperties"][:3]:
            get(f"/api/catalogs/{catalog}/items/{item['itemId']}")
    for email in _members(client)[:6]:
        user = orjson.loads(get(f"/api/users/{email}"))["user"]
        if "userId" in user:
            get(f"/api/users/byUserId/{user['userId']}")
        get(f"/api/events/{email}", limit=200)
        get("/api/inApp/getMessages", email=email, count=100)
        get("/api/export/userEvents", email=email, includeCustomEvents="true")
    for data_type in EXPORT_TYPES:
        get("/api/export/data.json", dataTypeName=data_type, **LAST_MONTH)
    get("/api/export/data.json", dataTypeName="purchase", range="All")
    get("/api/export/data.csv", dataTypeName="emailOpen", **LAST_MONTH)
    get("/api/export/data.json", dataTypeName="user", range="All")
    get("/api/export/data.csv", dataTypeName="user", range="All")
    return bodies


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_one_seed_gives_identical_bodies(serve: Serve, scale: str) -> None:
    first = _sweep(serve(FakeClock(), scale=scale, seed=7))
    second = _sweep(serve(FakeClock(), scale=scale, seed=7))
    assert list(first) == list(second)
    for key, body in first.items():
        assert second[key] == body, key
    assert len(first) > 80


RUN_IN_A_PROCESS = """
import hashlib
from datetime import UTC, datetime

import httpx2

from iterbridge.sandbox import Sandbox, SandboxConfig

anchor = datetime(2026, 11, 1, tzinfo=UTC)
now = int(anchor.timestamp() * 1000) + 6 * 3_600_000
digest = hashlib.sha256()
with (
    Sandbox(SandboxConfig(seed=11, scale="tiny", anchor=anchor, clock=lambda: now)) as sandbox,
    httpx2.Client(base_url=sandbox.url, headers={"Api-Key": sandbox.api_key}, verify=False) as client,
):
    lists = client.get("/api/lists").json()["lists"]
    member = client.get("/api/lists/getUsers", params={"listId": lists[2]["id"]}).text.split()[0]
    answers = [
        client.get("/api/campaigns", params={"pageSize": 5}),
        client.get("/api/templates", params={"templateType": "Blast", "messageMedium": "Email"}),
        client.get("/api/catalogs/products/items", params={"pageSize": 100}),
        client.get(f"/api/users/{member}"),
        client.get(f"/api/events/{member}", params={"limit": 200}),
        client.get("/api/export/data.json", params={"dataTypeName": "emailSend", "range": "All"}),
        client.get("/api/export/data.csv", params={"dataTypeName": "user", "range": "All"}),
        client.post("/api/events/track", json={"email": member, "eventName": "x"}),
    ]
    for answer in answers:
        digest.update(answer.content.replace(sandbox.url.encode(), b""))
print(digest.hexdigest())
"""


def test_two_processes_with_one_seed_agree() -> None:
    """Two runs of the sandbox, with different string-hash seeds, serve the same bytes."""
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", RUN_IN_A_PROCESS],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
        )
        for hash_seed in (1, 2)
    ]
    digests = []
    for run in runs:
        with run:
            out, err = run.communicate(timeout=90)
        assert run.returncode == 0, err
        digests.append(out.strip())
    assert len(digests[0]) == 64
    assert digests[0] == digests[1]


def test_identical_bodies_after_a_reset(api: httpx2.Client) -> None:
    before = _sweep(api)
    api.post("/api/lists", json={"name": "scratch"})
    api.post("/_sandbox/reset")
    assert _sweep(api) == before


def test_a_different_seed_gives_a_different_project(serve: Serve) -> None:
    seven = serve(FakeClock(), seed=7)
    first = _sweep(seven)
    other = serve(FakeClock(), seed=8)
    assert _ok(other.get("/api/lists")) != first["/api/lists?[]"]
    assert _ok(other.get("/api/campaigns")) != first["/api/campaigns?[]"]
    params = {"dataTypeName": "emailSend", **LAST_MONTH}
    assert (
        _ok(other.get("/api/export/data.json", params=params))
        != first[f"/api/export/data.json?{sorted(params.items())}"]
    )
    assert _members(other) != _members(seven)
    assert _ok(other.get("/api/channels")) != first["/api/channels?[]"]  # even the ids


def test_the_anchor_moves_the_history(serve: Serve) -> None:
    later = ANCHOR.replace(year=ANCHOR.year + 1)
    shifted = serve(FakeClock(FakeClock().now_ms + 365 * 86_400_000), anchor=later)
    here = serve(FakeClock())
    assert _ok(here.get("/api/campaigns")) != _ok(shifted.get("/api/campaigns"))
    assert shifted.get("/_sandbox/info").json()["anchor"] == int(later.timestamp() * 1000)


def test_the_same_writes_give_the_same_answers(serve: Serve) -> None:
    def scenario(client: httpx2.Client) -> list[bytes]:
        email = _members(client)[0]
        return [
            _ok(client.post("/api/lists", json={"name": "same"})),
            _ok(client.post("/api/events/track", json={"email": email, "eventName": "x"})),
            _ok(client.post("/api/campaigns/create", json={"name": "c", "templateId": _template(client)})),
            _ok(client.get(f"/api/events/{email}")),
            _ok(client.get("/api/export/data.json", params={"dataTypeName": "customEvent", "range": "Today"})),
        ]

    assert scenario(serve(FakeClock(), seed=3)) == scenario(serve(FakeClock(), seed=3))


def _template(client: httpx2.Client) -> int:
    template_id: int = client.get("/api/templates").json()["templates"][0]["templateId"]
    return template_id


# ---- a believable project ----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["tiny", "small"])
def project(request: pytest.FixtureRequest) -> Iterator[httpx2.Client]:
    """A generated project per scale, shared by the tests below: they only read."""
    with (
        Sandbox(make_config(FakeClock(), scale=request.param)) as sandbox,
        httpx2.Client(base_url=sandbox.url, headers={"Api-Key": sandbox.api_key}, timeout=60, verify=NO_TLS) as client,
    ):
        yield client


def test_every_campaign_state_and_type(project: httpx2.Client) -> None:
    campaigns = project.get("/api/campaigns").json()["campaigns"]
    assert {c["campaignState"] for c in campaigns} == set(CAMPAIGN_STATES)
    assert {c["type"] for c in campaigns} == {"Blast", "Triggered"}
    assert {c["messageMedium"] for c in campaigns} == set(MEDIUM_PATHS)
    lists = {lst["id"] for lst in project.get("/api/lists").json()["lists"]}
    for campaign in campaigns:
        assert isinstance(campaign["createdAt"], int)
        assert campaign["updatedAt"] >= campaign["createdAt"]
        assert set(campaign.get("listIds", [])) <= lists
        if campaign["type"] == "Triggered":
            assert "listIds" not in campaign
            assert "sendSize" not in campaign
    recurring = next(c for c in campaigns if c["campaignState"] == "Recurring")
    children = project.get(f"/api/campaigns/recurring/{recurring['id']}/childCampaigns").json()["campaigns"]
    assert children
    assert all(child["recurringCampaignId"] == recurring["id"] for child in children)


def test_templates_of_every_medium_and_type(project: httpx2.Client) -> None:
    found: Counter[tuple[str, str]] = Counter()
    for template_type in ("Base", "Blast", "Triggered", "Workflow"):
        for medium in MEDIUM_PATHS:
            params = {"templateType": template_type, "messageMedium": medium}
            found[template_type, medium] = len(project.get("/api/templates", params=params).json()["templates"])
    assert {medium for (_, medium), count in found.items() if count} == set(MEDIUM_PATHS)
    assert {kind for (kind, _), count in found.items() if count} == {"Base", "Blast", "Triggered", "Workflow"}
    email = project.get("/api/templates", params={"templateType": "Base", "messageMedium": "Email"}).json()
    detail = project.get("/api/templates/email/get", params={"templateId": email["templates"][0]["templateId"]}).json()
    assert {"subject", "html", "fromEmail", "metadata"} <= set(detail)


def test_lists_of_every_type_with_members(project: httpx2.Client) -> None:
    lists = project.get("/api/lists").json()["lists"]
    assert {lst["listType"] for lst in lists} >= {"Standard", "Dynamic", "Suppression"}
    assert sum(1 for lst in lists if lst.get("isGlobalSuppressionEnabled")) == 1
    sizes = [len(project.get("/api/lists/getUsers", params={"listId": lst["id"]}).text.split()) for lst in lists]
    assert sum(1 for size in sizes if size) >= len(lists) // 2
    standard = next(lst for lst, size in zip(lists, sizes, strict=True) if lst["listType"] == "Standard" and size)
    member = project.get("/api/lists/getUsers", params={"listId": standard["id"]}).text.split()[0]
    assert standard["id"] in project.get(f"/api/users/{member}").json()["user"]["dataFields"]["emailListIds"]


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, dict):
        return "geo_location" if set(value) == {"lat", "lon"} else "object"
    if isinstance(value, list):
        return _value_type(value[0]) if value else "empty"
    if len(value) >= 10 and value[4] == "-" and value[7] == "-":
        return "date"
    return "string"


def test_user_fields_of_every_type(project: httpx2.Client) -> None:
    fields = project.get("/api/users/getFields").json()["fields"]
    assert set(fields.values()) >= {"string", "long", "double", "boolean", "date", "object", "geo_location"}
    seen: dict[str, set[str]] = {}
    for email in _members(project)[:40]:
        data = project.get(f"/api/users/{email}").json()["user"]["dataFields"]
        for name, kind in CUSTOM_FIELDS.items():
            if "." not in name and name in data:
                seen.setdefault(name, set()).add(_value_type(data[name]))
                assert _value_type(data[name]) == kind, (name, data[name])
    assert {CUSTOM_FIELDS[name] for name in seen} == {
        "string", "long", "double", "boolean", "date", "object", "geo_location"
    }  # fmt: skip


def test_users_are_consistent(project: httpx2.Client) -> None:
    users = [orjson.loads(line) for line in project.get("/api/export/data.json", params={
        "dataTypeName": "user", "range": "All"}).text.splitlines()]  # fmt: skip
    info = project.get("/_sandbox/info").json()
    assert len(users) == info["counts"]["users"]
    emails = [u["email"] for u in users]
    assert len(set(emails)) == len(emails)
    assert len({u["userId"] for u in users if "userId" in u}) == sum(1 for u in users if "userId" in u)
    assert all(u["signupDate"] <= u["profileUpdatedAt"] for u in users)
    assert Counter(u["signupSource"] for u in users).most_common(1)[0][0] == "API"
    assert 0.6 < sum(1 for u in users if "userId" in u) / len(users) < 1


def _event_counts(client: httpx2.Client, window: dict[str, str]) -> dict[str, int]:
    counts = {}
    for data_type in EXPORT_DATA_TYPES:
        if data_type != "user":
            params = {"dataTypeName": data_type, **window}
            counts[data_type] = len(_ok(client.get("/api/export/data.json", params=params)).splitlines())
    return counts


def test_events_of_many_types(serve: Serve) -> None:
    tiny, small = serve(FakeClock()), serve(FakeClock(), scale="small")
    whole = _event_counts(tiny, {"range": "All"})
    recent = _event_counts(small, LAST_MONTH)
    for counts, at_least in ((whole, 16), (recent, 25)):
        present = {name for name, count in counts.items() if count}
        assert present >= {"emailSend", "emailOpen", "emailClick", "pushSend", "smsSend", "inAppSend", "customEvent",
                           "purchase", "emailSubscribe", "emailUnSubscribe"}  # fmt: skip
        assert len(present) >= at_least
        assert counts["emailSend"] > counts["emailOpen"] > counts["emailClick"] > 0  # a funnel, not noise
    # The history holds about as many events as the scale promises (a month of small: a sixth of it, growing).
    target = tiny.get("/_sandbox/info").json()["counts"]["eventsTarget"]
    assert 0.75 * target < sum(whole.values()) < 1.25 * target
    target = small.get("/_sandbox/info").json()["counts"]["eventsTarget"]
    assert 0.12 * target < sum(recent.values()) < 0.35 * target


def test_events_reference_the_project(project: httpx2.Client) -> None:
    campaigns = {c["id"]: c for c in project.get("/api/campaigns").json()["campaigns"]}
    users = {record["email"] for record in _records(project, "user", {"range": "All"})}
    for data_type in ("emailSend", "pushSend", "emailClick"):
        events = _records(project, data_type, LAST_MONTH)
        assert events
        for event in events:
            assert event["email"] in users
            campaign = campaigns[event["campaignId"]]
            assert campaign["messageMedium"] == ("Push" if data_type == "pushSend" else "Email")
            assert campaign["createdAt"] <= _epoch_ms(event["createdAt"])


def _records(client: httpx2.Client, data_type: str, window: dict[str, str]) -> list[dict[str, Any]]:
    body = _ok(client.get("/api/export/data.json", params={"dataTypeName": data_type, **window}))
    return [orjson.loads(line) for line in body.splitlines()]


def _epoch_ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z").timestamp() * 1000)


def test_a_users_events_match_the_export(project: httpx2.Client) -> None:
    exported = _records(project, "emailSend", LAST_MONTH)
    email = Counter(e["email"] for e in exported).most_common(1)[0][0]
    mine = project.get(f"/api/events/{email}", params={"limit": 200}).json()["events"]
    start, end = LAST_MONTH["startDateTime"], LAST_MONTH["endDateTime"]
    sends = [e["createdAt"] for e in mine if e["eventType"] == "emailSend" and start <= e["createdAt"][:19] < end]
    assert sorted(sends) == sorted(e["createdAt"] for e in exported if e["email"] == email)
    created = [e["createdAt"] for e in mine]
    assert created == sorted(created, reverse=True)  # newest first


def test_the_empty_scale_is_a_new_project() -> None:
    """A brand-new project: Iterable's default channels and message types, nothing else, until written."""
    with (
        Sandbox(make_config(FakeClock(), scale="empty")) as sandbox,
        httpx2.Client(base_url=sandbox.url, headers={"Api-Key": sandbox.api_key}) as api,
    ):
        assert api.get("/api/lists").json() == {"lists": []}
        assert api.get("/api/campaigns").json() == {"campaigns": []}
        assert api.get("/api/catalogs").json()["params"]["catalogNames"] == []
        assert api.get("/api/channels").json()["channels"]
        assert "firstName" not in api.get("/api/users/getFields").json()["fields"]
        events = api.get("/api/export/data.json", params={"dataTypeName": "emailSend", "range": "All"})
        assert events.text == ""
        api.post("/api/users/update", json={"email": "new@example.com", "dataFields": {"plan": "gold"}})
        assert api.get("/api/users/getFields").json()["fields"]["plan"] == "string"
