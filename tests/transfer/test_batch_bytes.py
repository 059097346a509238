"""Bulk requests respect Iterable's body limit: batches are cut by bytes as well as by count, measured as the
body will be sent, and a BatchTooLarge answer is retried in halves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx2
import orjson

import iterbridge
from helpers import FAST_RETRY, Stats
from iterbridge.api.body import json_body
from iterbridge.limits import body_limit
from iterbridge.transfer import ImportOptions

from .support import write_csv

BULK_UPDATE = "POST /api/users/bulkUpdate"


def test_the_measured_body_is_the_body_sent() -> None:
    body = {"users": [{"email": "zoë@example.com", "dataFields": {"note": 'naïve ☃ "quoted"', "n": 1.5}}]}
    sent = httpx2.Client().build_request("POST", "http://localhost/api/users/bulkUpdate", json=body)
    assert json_body(body) == sent.content


def test_users_of_five_kilobytes_are_all_accepted_in_the_predicted_requests(
    conn: iterbridge.Connection, stats: Stats, tmp_path: Path
) -> None:
    count, bio = 1000, "x" * 4950
    emails = [f"big{i:05d}@example.com" for i in range(count)]
    path = write_csv(tmp_path / "users.csv", ["Email", "bio"], [[email, bio] for email in emails])
    # Every user is the same size, so the byte-splitting predicts the requests: as many users per request as
    # fit in the limit with the envelope {"users":[…]} and a comma between users.
    user = len(json_body({"dataFields": {"bio": bio}, "email": emails[0]}))
    envelope = len(json_body({"users": []}))
    per_request = (body_limit(BULK_UPDATE) - envelope + 1) // (user + 1)
    assert per_request < count  # the test would prove nothing if one request could hold them all
    with stats.counting() as made:
        summary = conn.import_csv("Users", path, ImportOptions(operation="upsert"))
    assert (summary.read, summary.sent, summary.accepted, summary.rejected) == (count, count, count, 0)
    assert made[BULK_UPDATE] == math.ceil(count / per_request)
    assert stats.count(BULK_UPDATE, 400) == 0
    assert next(iter(conn.read("Users", where={"Email": emails[-1]})))["bio"] == bio


def test_a_batch_too_large_is_halved_down_to_the_row_that_is() -> None:
    """The server refuses more than two events, and any body holding the huge one: halves are sent until each
    request passes; the huge event alone is refused, with Iterable's reason."""
    sizes: list[int] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        events: list[dict[str, Any]] = orjson.loads(request.content)["events"]
        sizes.append(len(events))
        if len(events) > 2 or any(e["email"] == "huge@example.com" for e in events):
            return httpx2.Response(400, json={"msg": "Request body is too large", "code": "BatchTooLarge"})
        return httpx2.Response(200, json={"successCount": len(events), "failCount": 0})

    emails = ["a@example.com", "b@example.com", "huge@example.com", "c@example.com", "d@example.com"]
    transport = httpx2.MockTransport(handler)
    with iterbridge.connect("k", transport=transport, rate_limit_factor=None, retry=FAST_RETRY) as conn:
        report = conn.insert("Events", [{"EventName": "e", "Email": email} for email in emails])
    assert sizes == [5, 2, 3, 1, 2]
    assert [r.ok for r in report.results] == [True, True, False, True, True]
    assert "BatchTooLarge" in (report.results[2].error or "")


def test_the_sandbox_enforces_the_shared_limit_to_the_byte(api: httpx2.Client) -> None:
    def body(size: int) -> bytes:
        head = b'{"users":[{"email":"limit@example.com","dataFields":{"pad":"'
        tail = b'"}}]}'
        return head + b"p" * (size - len(head) - len(tail)) + tail

    limit = body_limit(BULK_UPDATE)
    headers = {"Content-Type": "application/json"}
    assert api.post("/api/users/bulkUpdate", content=body(limit), headers=headers).json()["successCount"] == 1
    refused = api.post("/api/users/bulkUpdate", content=body(limit + 1), headers=headers)
    assert refused.status_code == 400
    assert refused.json()["code"] == "BatchTooLarge"
