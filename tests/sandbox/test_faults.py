"""Faults on demand: each one in `faults.py`, set at run time through /_sandbox/faults or up front (`--fault`)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx2
import orjson
import pytest

from helpers import FakeClock
from iterbridge.sandbox import FaultError, Faults

Serve = Callable[..., httpx2.Client]
GENERIC = {
    "msg": "An error occurred. Please try again later. If problem persists, please contact your CSM",
    "code": "GenericError",
    "params": None,
}
EXPORT = {"dataTypeName": "emailSend", "range": "All"}


def _set(api: httpx2.Client, **faults: Any) -> dict[str, Any]:
    response = api.post("/_sandbox/faults", json=faults)
    assert response.status_code == 200, response.text
    settings: dict[str, Any] = response.json()
    return settings


def _lists(api: httpx2.Client, list_type: str = "Standard") -> list[int]:
    return [lst["id"] for lst in api.get("/api/lists").json()["lists"] if lst["listType"] == list_type]


def _members(api: httpx2.Client, list_id: int) -> httpx2.Response:
    return api.get("/api/lists/getUsers", params={"listId": list_id})


# ---- the admin endpoint ---------------------------------------------------------------------------------


def test_faults_start_healthy(api: httpx2.Client) -> None:
    assert api.get("/_sandbox/faults").json() == Faults().as_dict()


def test_setting_faults_answers_every_setting(api: httpx2.Client) -> None:
    settings = _set(api, error_lists=[1, 2], latency_ms=5, export_truncated=True)
    assert settings == {**Faults().as_dict(), "error_lists": [1, 2], "latency_ms": 5.0, "export_truncated": True}
    assert api.get("/_sandbox/faults").json() == settings


def test_values_are_coerced_to_the_setting_type(api: httpx2.Client) -> None:
    settings = _set(api, error_lists="3,4", error_rate="0.25", getusers_503="2", export_truncated="yes")
    assert settings["error_lists"] == [3, 4]
    assert settings["error_rate"] == 0.25
    assert settings["getusers_503"] == 2
    assert settings["export_truncated"] is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"no_such_fault": 1}', "unknown fault 'no_such_fault'"),
        (b'{"error_rate": "lots"}', "fault error_rate: cannot use 'lots'"),
        (b'{"error_lists": "a,b"}', "fault error_lists: cannot use 'a,b'"),
        (b"[1, 2]", "the body must be a JSON object"),
        (b"{not json", ""),
    ],
)
def test_bad_fault_settings_are_refused(api: httpx2.Client, body: bytes, message: str) -> None:
    response = api.post("/_sandbox/faults", content=body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert api.get("/_sandbox/faults").json() == Faults().as_dict()


def test_unknown_fault_names_the_known_ones(api: httpx2.Client) -> None:
    error = api.post("/_sandbox/faults", json={"nonsense": 1}).json()["error"]
    assert error == f"unknown fault 'nonsense'; known: {', '.join(sorted(Faults().as_dict()))}"


def test_a_refused_update_changes_nothing(api: httpx2.Client) -> None:
    response = api.post("/_sandbox/faults", json={"error_rate": 1.0, "getusers_503": -1, "nonsense": 1})
    assert response.status_code == 400
    assert api.get("/_sandbox/faults").json() == Faults().as_dict()
    assert api.get("/api/lists").status_code == 200


def test_reset_heals(api: httpx2.Client) -> None:
    _set(api, getusers_503=-1, latency_ms=1)
    api.post("/_sandbox/reset")
    assert api.get("/_sandbox/faults").json() == Faults().as_dict()
    assert _members(api, _lists(api)[0]).status_code == 200


# ---- faults set up front (--fault) -------------------------------------------------------------------------


def test_faults_parse_cli_assignments() -> None:
    faults = Faults.parse(["error_lists=12, 34", "getusers_503=2", "error_rate=0.5", "export_truncated=true"])
    assert faults.error_lists == [12, 34]
    assert faults.getusers_503 == 2
    assert faults.error_rate == 0.5
    assert faults.export_truncated is True
    assert Faults.parse([]) == Faults()


@pytest.mark.parametrize("assignment", ["nonsense=1", "error_rate", "latency_ms=slow", "error_lists=x"])
def test_faults_parse_refuses_bad_assignments(assignment: str) -> None:
    with pytest.raises(FaultError):
        Faults.parse([assignment])


def test_faults_given_at_start(serve: Serve) -> None:
    probe = serve(FakeClock())
    bad, good = _lists(probe)[:2]
    client = serve(FakeClock(), faults=Faults.parse([f"error_lists={bad}", "getusers_503=1"]))
    assert client.get("/_sandbox/faults").json()["error_lists"] == [bad]
    assert _members(client, good).status_code == 503  # the one 503
    assert _members(client, good).status_code == 200
    assert _members(client, bad).status_code == 500
    client.post("/_sandbox/faults", json={"error_lists": []})
    assert _members(client, bad).status_code == 200
    client.post("/_sandbox/reset")  # back to the faults it started with
    assert client.get("/_sandbox/faults").json()["error_lists"] == [bad]
    assert _members(client, bad).status_code == 500


# ---- error_lists --------------------------------------------------------------------------------------------


def test_error_lists_fail_only_those_lists(api: httpx2.Client) -> None:
    bad, *good = _lists(api)
    _set(api, error_lists=[bad])
    for _ in range(3):  # every time, not once
        response = _members(api, bad)
        assert response.status_code == 500
        assert response.json() == GENERIC
    assert api.get(f"/api/lists/{bad}/size").status_code == 500
    for list_id in good:
        assert _members(api, list_id).status_code == 200
    assert api.get("/api/lists").status_code == 200


# ---- error_rate -----------------------------------------------------------------------------------------------


def test_error_rate_one_fails_every_matching_request(api: httpx2.Client) -> None:
    _set(api, error_rate=1.0, error_endpoint="/api/campaigns")
    for path in ("/api/campaigns", "/api/campaigns/recurring/1/childCampaigns"):
        response = api.get(path)
        assert response.status_code == 500
        assert response.json() == GENERIC
    assert api.get("/api/lists").status_code == 200
    assert api.get("/api/templates").status_code == 200


def test_error_rate_without_an_endpoint_fails_every_api_request(api: httpx2.Client) -> None:
    _set(api, error_rate=1.0)
    assert api.get("/api/lists").status_code == 500
    assert api.post("/api/lists", json={"name": "x"}).status_code == 500
    assert api.get("/_sandbox/info").status_code == 200  # the admin surface is not the API
    _set(api, error_rate=0.0)
    assert all(lst["name"] != "x" for lst in api.get("/api/lists").json()["lists"])  # the write never happened


def test_a_partial_error_rate_is_deterministic(api: httpx2.Client) -> None:
    def pattern() -> list[int]:
        _set(api, error_rate=0.5)
        return [api.get("/api/channels").status_code for _ in range(40)]

    first = pattern()
    assert 5 < first.count(500) < 35
    assert set(first) == {200, 500}
    api.post("/_sandbox/reset")
    assert pattern() == first


# ---- getusers_503 -------------------------------------------------------------------------------------------


def test_getusers_503_counts_down(api: httpx2.Client) -> None:
    list_id = _lists(api)[0]
    _set(api, getusers_503=2)
    for _ in range(2):
        response = _members(api, list_id)
        assert response.status_code == 503
        assert response.json() == {"msg": "Request timeout. Try again later.", "code": "GenericError", "params": None}
    assert api.get("/_sandbox/faults").json()["getusers_503"] == 0
    assert _members(api, list_id).status_code == 200


def test_getusers_503_forever(api: httpx2.Client) -> None:
    list_id = _lists(api)[0]
    _set(api, getusers_503=-1)
    assert {_members(api, list_id).status_code for _ in range(5)} == {503}
    assert api.get("/api/lists").status_code == 200


# ---- burst_429 ------------------------------------------------------------------------------------------------


def test_burst_429(api: httpx2.Client) -> None:
    _set(api, burst_429=2, burst_endpoint="/api/lists/getUsers")
    list_id = _lists(api)[0]
    for _ in range(2):
        response = _members(api, list_id)
        assert response.status_code == 429
        assert "retry-after" not in response.headers
        assert response.json() == {
            "msg": "Exceeded rate limit of 5.0 per minute for endpoint: /api/lists/getUsers, project: 9598 ",
            "code": "RateLimitExceeded",
            "params": {},
        }
    assert api.get("/api/lists").status_code == 200  # another endpoint is not touched
    assert _members(api, list_id).status_code == 200
    assert api.get("/_sandbox/faults").json()["burst_429"] == 0


def test_burst_429_on_any_endpoint_with_retry_after(api: httpx2.Client) -> None:
    _set(api, burst_429=1, retry_after_s=30)
    response = api.get("/api/channels")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert response.json()["msg"].startswith("Exceeded rate limit of 100.0 per second for endpoint: /api/channels")
    assert api.get("/api/channels").status_code == 200
    assert api.get("/_sandbox/stats").json()["endpoints"]["GET /api/channels"] == {"200": 1, "429": 1}


def test_retry_after_applies_to_real_limits(serve: Serve) -> None:
    client = serve(FakeClock(), rate_limit_factor=1.0, faults=Faults(retry_after_s=15))
    responses = [client.get("/api/export/data.json", params=EXPORT) for _ in range(5)]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    assert responses[-1].headers["retry-after"] == "15"


# ---- latency ----------------------------------------------------------------------------------------------------


def _timed(api: httpx2.Client, path: str) -> float:
    started = time.perf_counter()
    assert api.get(path).status_code == 200
    return time.perf_counter() - started


def test_latency(api: httpx2.Client) -> None:
    _timed(api, "/api/channels")  # warm the connection
    _set(api, latency_ms=250, slow_endpoint="/api/channels")
    assert _timed(api, "/api/channels") >= 0.25
    assert _timed(api, "/api/messageTypes") < 0.2  # loose: a loaded machine is slow, but not 250 ms slow
    _set(api, slow_endpoint="")
    assert _timed(api, "/api/messageTypes") >= 0.25
    _set(api, latency_ms=0)
    assert _timed(api, "/api/channels") < 0.2


# ---- dropped streams ----------------------------------------------------------------------------------------------


def _received(api: httpx2.Client, path: str, params: dict[str, Any]) -> tuple[bytes, Exception | None]:
    """The bytes a streaming client got before the connection closed, and the error it saw (if any)."""
    received = bytearray()
    try:
        with api.stream("GET", path, params=params) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                received.extend(chunk)
    except (httpx2.RemoteProtocolError, httpx2.ReadError) as error:
        return bytes(received), error
    return bytes(received), None


def test_drop_after_lines_cuts_the_export_stream(api: httpx2.Client) -> None:
    full = api.get("/api/export/data.json", params=EXPORT).content.splitlines(keepends=True)
    assert len(full) > 20
    _set(api, drop_after_lines=7, drop_streams=1)
    received, error = _received(api, "/api/export/data.json", EXPORT)
    assert error is not None
    lines = received.splitlines(keepends=True)
    assert lines == full[:7]  # exactly seven complete lines, then nothing
    assert all(orjson.loads(line) for line in lines)
    assert api.get("/_sandbox/faults").json()["drop_streams"] == 0
    again, error = _received(api, "/api/export/data.json", EXPORT)
    assert error is None
    assert again.splitlines(keepends=True) == full


def test_a_non_streaming_client_sees_the_drop_too(api: httpx2.Client) -> None:
    _set(api, drop_after_lines=3, drop_streams=1)
    with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
        api.get("/api/export/data.json", params=EXPORT)


def test_drop_streams_counts_down(api: httpx2.Client) -> None:
    _set(api, drop_after_lines=5, drop_streams=2)
    for remaining in (1, 0):
        received, error = _received(api, "/api/export/data.csv", EXPORT)
        assert error is not None
        assert received.count(b"\n") == 5  # the header and four rows
        assert received.startswith(b"email,")
        assert api.get("/_sandbox/faults").json()["drop_streams"] == remaining
    received, error = _received(api, "/api/export/data.csv", EXPORT)
    assert error is None
    assert received.count(b"\n") > 5


def test_drop_every_stream(api: httpx2.Client) -> None:
    _set(api, drop_after_lines=2)  # drop_streams defaults to -1: every stream
    list_id = _lists(api)[0]
    for _ in range(3):
        received, error = _received(api, "/api/lists/getUsers", {"listId": list_id})
        assert error is not None
        assert received.count(b"\n") == 2
    assert api.get("/_sandbox/faults").json()["drop_streams"] == -1
    assert api.get("/api/lists").status_code == 200  # plain answers are whole


def test_the_server_survives_dropped_streams(api: httpx2.Client) -> None:
    _set(api, drop_after_lines=1)
    for _ in range(5):
        assert _received(api, "/api/export/data.json", EXPORT)[1] is not None
    _set(api, drop_after_lines=0)
    assert _received(api, "/api/export/data.json", EXPORT)[1] is None


# ---- eventual consistency -----------------------------------------------------------------------------------------


def test_a_created_list_appears_after_the_delay(api: httpx2.Client, clock: FakeClock) -> None:
    _set(api, consistency_delay_s=30)
    list_id = api.post("/api/lists", json={"name": "eventually"}).json()["listId"]
    assert list_id not in [lst["id"] for lst in api.get("/api/lists").json()["lists"]]
    subscribe = api.post("/api/lists/subscribe", json={"listId": list_id, "subscribers": [{"email": "a@example.com"}]})
    assert subscribe.status_code == 400
    assert subscribe.json()["msg"] == f"error.lists.invalidListId({list_id})"  # the quirk, for real
    clock.advance(29.9)
    assert list_id not in [lst["id"] for lst in api.get("/api/lists").json()["lists"]]
    clock.advance(0.1)
    assert list_id in [lst["id"] for lst in api.get("/api/lists").json()["lists"]]
    subscribe = api.post("/api/lists/subscribe", json={"listId": list_id, "subscribers": [{"email": "a@example.com"}]})
    assert subscribe.status_code == 200


def test_a_catalog_item_appears_after_the_delay(api: httpx2.Client, clock: FakeClock) -> None:
    _set(api, consistency_delay_s=90)
    written = api.put("/api/catalogs/products/items/late-item", json={"value": {"name": "late"}})
    assert written.status_code == 202
    assert api.get("/api/catalogs/products/items/late-item").status_code == 404
    clock.advance(60)
    assert api.get("/api/catalogs/products/items/late-item").status_code == 404
    clock.advance(30)
    assert api.get("/api/catalogs/products/items/late-item").json()["value"] == {"name": "late"}


def test_a_user_update_appears_after_the_delay(api: httpx2.Client, clock: FakeClock) -> None:
    list_id = _lists(api)[0]
    email = _members(api, list_id).text.split("\n")[0]
    before = api.get(f"/api/users/{email}").json()
    _set(api, consistency_delay_s=60)
    assert api.post("/api/users/update", json={"email": email, "dataFields": {"city": "Lyon"}}).status_code == 200
    assert api.post("/api/users/update", json={"email": "new@example.com", "dataFields": {"a": 1}}).status_code == 200
    assert api.get(f"/api/users/{email}").json() == before
    assert api.get("/api/users/new@example.com").json() == {}
    clock.advance(60)
    assert api.get(f"/api/users/{email}").json()["user"]["dataFields"]["city"] == "Lyon"
    assert api.get("/api/users/new@example.com").json()["user"]["dataFields"]["a"] == 1


def test_writes_before_the_fault_are_immediate(api: httpx2.Client) -> None:
    list_id = api.post("/api/lists", json={"name": "at once"}).json()["listId"]
    _set(api, consistency_delay_s=60)
    assert list_id in [lst["id"] for lst in api.get("/api/lists").json()["lists"]]


# ---- exportTruncated ------------------------------------------------------------------------------------------------


def test_export_truncated(api: httpx2.Client) -> None:
    job = api.post("/api/export/start", json={"dataTypeName": "emailSend", "outputFormat": "text/csv"}).json()
    assert api.get(f"/api/export/{job['jobId']}/files").json()["exportTruncated"] is False
    _set(api, export_truncated=True)
    assert api.get(f"/api/export/{job['jobId']}/files").json()["exportTruncated"] is True


# ---- malformed export lines ---------------------------------------------------------------------------------------

# The defect recorded in cassettes/Iterable_JsonExporter: no comma between transactionalData's value and the next key.
RECORDED_DEFECT = re.compile(rb'"transactionalData":"(?:[^"\\]|\\.)*""[A-Za-z]')


def _served(api: httpx2.Client, source: str) -> list[bytes]:
    """The emailSend export's lines of the whole history: from data.json, or the one file of an export job."""
    if source == "data.json":
        return api.get("/api/export/data.json", params=EXPORT).content.splitlines()
    body = {"dataTypeName": "emailSend", "outputFormat": "application/x-json-stream"}
    job_id = api.post("/api/export/start", json=body).json()["jobId"]
    for _ in range(400):
        page = api.get(f"/api/export/{job_id}/files").json()
        if page["jobState"] == "completed":
            (entry,) = page["files"]
            return httpx2.get(entry["url"]).content.splitlines()
        time.sleep(0.01)
    raise AssertionError("the export job did not complete")


@pytest.mark.parametrize("source", ["data.json", "export job file"])
def test_missing_comma_every_serves_the_recorded_defect(api: httpx2.Client, source: str) -> None:
    healthy = _served(api, source)
    _set(api, missing_comma_every=2)
    spoiled = _served(api, source)
    assert len(spoiled) == len(healthy)
    with_data = [i for i, line in enumerate(healthy) if b'"transactionalData":"' in line]
    assert len(with_data) > 4
    for count, i in enumerate(with_data, start=1):
        if count % 2:
            assert spoiled[i] == healthy[i]
        else:
            assert RECORDED_DEFECT.search(spoiled[i]), spoiled[i]
            assert spoiled[i].count(b",") == healthy[i].count(b",") - 1  # only that comma is gone
    others = set(range(len(healthy))) - set(with_data)
    assert all(spoiled[i] == healthy[i] for i in others)


@pytest.mark.parametrize("source", ["data.json", "export job file"])
def test_garbage_every_cuts_or_replaces_every_nth_line(api: httpx2.Client, source: str) -> None:
    healthy = _served(api, source)
    _set(api, garbage_every=5)
    spoiled = _served(api, source)
    assert len(spoiled) == len(healthy) > 10
    for number, (good, bad) in enumerate(zip(healthy, spoiled, strict=True), start=1):
        if number % 5:
            assert bad == good
            continue
        if number % 10:  # the first, third… spoiled line: cut in half
            assert bad == good[: (len(good) + 1) // 2]
        else:
            assert bad.startswith(b"<html>")
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(bad)


def test_malformed_lines_reach_user_events_and_spare_csv(api: httpx2.Client) -> None:
    email = api.get("/api/export/data.json", params=EXPORT).content.splitlines()[0]
    user = orjson.loads(email)["email"]
    events = {"email": user, "includeCustomEvents": "true"}
    healthy = api.get("/api/export/userEvents", params=events).content.splitlines()
    assert healthy
    csv_before = api.get("/api/export/data.csv", params=EXPORT).content
    _set(api, garbage_every=1)
    assert all(line.startswith(b"<html>") or line not in healthy
               for line in api.get("/api/export/userEvents", params=events).content.splitlines())  # fmt: skip
    assert api.get("/api/export/data.csv", params=EXPORT).content == csv_before
