"""Rate limits: Iterable's documented per-endpoint leaky buckets, on a frozen clock."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest

from helpers import FakeClock
from iterbridge.limits import ENDPOINT_LIMITS

Serve = Callable[..., httpx2.Client]
PROJECT_ID = 1000 + (42 * 7919) % 9000
# A short window: these tests count calls, and a short export is a quick one.
EXPORT = {"dataTypeName": "emailSend", "startDateTime": "2026-10-01 00:00:00", "endDateTime": "2026-10-15 00:00:00"}


def _export(client: httpx2.Client, kind: str = "json") -> httpx2.Response:
    return client.get(f"/api/export/data.{kind}", params=EXPORT)


def _members(client: httpx2.Client) -> httpx2.Response:
    list_id = client.get("/api/lists").json()["lists"][2]["id"]
    return client.get("/api/lists/getUsers", params={"listId": list_id})


def _assert_limited(response: httpx2.Response, limit: str, path: str) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert "retry-after" not in response.headers  # Iterable sends none
    assert response.json() == {
        "msg": f"Exceeded rate limit of {limit} for endpoint: {path}, project: {PROJECT_ID} ",
        "code": "RateLimitExceeded",
        "params": {},
    }


def test_the_fifth_export_within_a_minute_is_refused(serve: Serve) -> None:
    client = serve(FakeClock(), rate_limit_factor=1.0)
    for _ in range(4):
        response = _export(client)
        assert response.status_code == 200
        assert response.text
    _assert_limited(_export(client), "4.0 per minute", "/api/export/data.json")


def test_the_bucket_drains_one_call_every_fifteen_seconds(serve: Serve) -> None:
    clock = FakeClock()
    client = serve(clock, rate_limit_factor=1.0)
    assert [_export(client).status_code for _ in range(5)] == [200, 200, 200, 200, 429]
    clock.advance(14.9)
    assert _export(client).status_code == 429
    clock.advance(0.1)
    assert _export(client).status_code == 200
    assert _export(client).status_code == 429  # a refused call takes no room
    clock.advance(15)
    assert _export(client).status_code == 200
    clock.advance(60)
    assert [_export(client).status_code for _ in range(5)] == [200, 200, 200, 200, 429]


def test_get_users_allows_five_per_minute(serve: Serve) -> None:
    clock = FakeClock()
    client = serve(clock, rate_limit_factor=1.0)
    for _ in range(5):
        assert _members(client).status_code == 200
    _assert_limited(_members(client), "5.0 per minute", "/api/lists/getUsers")
    clock.advance(12)
    assert _members(client).status_code == 200
    assert _members(client).status_code == 429


def test_per_second_limits(serve: Serve) -> None:
    clock = FakeClock()
    client = serve(clock, rate_limit_factor=1.0)
    body = {"users": [{"email": "a@example.com", "dataFields": {"n": 1}}]}
    assert [client.post("/api/users/bulkUpdate", json=body).status_code for _ in range(5)] == [200] * 5
    _assert_limited(client.post("/api/users/bulkUpdate", json=body), "5.0 per second", "/api/users/bulkUpdate")
    clock.advance(0.2)
    assert client.post("/api/users/bulkUpdate", json=body).status_code == 200


def test_faster_refill(serve: Serve) -> None:
    clock = FakeClock()
    client = serve(clock, rate_limit_factor=10.0)
    assert [_export(client).status_code for _ in range(5)] == [200, 200, 200, 200, 429]  # the same burst
    clock.advance(1.4)
    assert _export(client).status_code == 429
    clock.advance(0.1)  # 15 s / 10
    assert _export(client).status_code == 200
    assert _export(client).status_code == 429


def test_faster_refill_for_get_users(serve: Serve) -> None:
    clock = FakeClock()
    client = serve(clock, rate_limit_factor=60.0)
    assert [_members(client).status_code for _ in range(6)] == [200] * 5 + [429]
    clock.advance(0.2)  # 12 s / 60
    assert _members(client).status_code == 200


def test_off_means_no_limit(api: httpx2.Client) -> None:
    assert {_export(api).status_code for _ in range(12)} == {200}
    assert {_members(api).status_code for _ in range(12)} == {200}


def test_limits_are_per_endpoint(serve: Serve) -> None:
    client = serve(FakeClock(), rate_limit_factor=1.0)
    assert [_export(client, "json").status_code for _ in range(5)] == [200, 200, 200, 200, 429]
    assert [_export(client, "csv").status_code for _ in range(4)] == [200] * 4
    _assert_limited(_export(client, "csv"), "4.0 per minute", "/api/export/data.csv")
    assert _members(client).status_code == 200
    assert client.get("/api/lists").status_code == 200


def test_endpoints_without_a_documented_limit_are_not_limited(serve: Serve) -> None:
    client = serve(FakeClock(), rate_limit_factor=1.0)
    assert "POST /api/lists/subscribe" not in ENDPOINT_LIMITS
    list_id = client.get("/api/lists").json()["lists"][2]["id"]
    body = {"listId": list_id, "subscribers": [{"email": "a@example.com"}]}
    assert {client.post("/api/lists/subscribe", json=body).status_code for _ in range(30)} == {200}


def test_refused_keys_do_not_use_the_bucket(serve: Serve) -> None:
    client = serve(FakeClock(), rate_limit_factor=1.0)
    for _ in range(6):
        assert client.get("/api/export/data.json", params=EXPORT, headers={"Api-Key": "wrong"}).status_code == 401
    assert [_export(client).status_code for _ in range(5)] == [200, 200, 200, 200, 429]


def test_bad_requests_still_count(serve: Serve) -> None:
    """Iterable counts the call, not its outcome: a 400 uses the bucket like a 200."""
    client = serve(FakeClock(), rate_limit_factor=1.0)
    for _ in range(4):
        assert client.get("/api/export/data.json", params={"dataTypeName": "nonsense"}).status_code == 400
    assert _export(client).status_code == 429


def test_rate_limited_calls_are_counted_in_stats(serve: Serve) -> None:
    client = serve(FakeClock(), rate_limit_factor=1.0)
    statuses = [_export(client).status_code for _ in range(7)]
    assert statuses == [200] * 4 + [429] * 3
    stats = client.get("/_sandbox/stats").json()
    assert stats["endpoints"]["GET /api/export/data.json"] == {"200": 4, "429": 3}
    assert stats["total"] == 7


def test_reset_empties_the_buckets(serve: Serve) -> None:
    client = serve(FakeClock(), rate_limit_factor=1.0)
    assert [_export(client).status_code for _ in range(5)] == [200, 200, 200, 200, 429]
    assert client.post("/_sandbox/reset").status_code == 200
    assert _export(client).status_code == 200
    assert client.get("/_sandbox/stats").json()["endpoints"]["GET /api/export/data.json"] == {"200": 1}


@pytest.mark.parametrize("factor", [None, 1.0, 2.5])
def test_info_reports_the_limits(serve: Serve, factor: float | None) -> None:
    client = serve(FakeClock(), rate_limit_factor=factor)
    expected = "off" if factor is None else f"x{factor:g}"
    assert client.get("/_sandbox/info").json()["rate_limits"] == expected
