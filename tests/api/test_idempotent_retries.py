"""A request that is not safe to send twice is retried only when the failure proves it was not processed;
otherwise it fails as of unknown outcome and its rows say so."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

import iterbridge
from helpers import FAST_RETRY, Stats, connect_to
from iterbridge.api.client import ApiClient
from iterbridge.api.idempotence import safe_to_repeat
from iterbridge.api.ratelimit import ClientRateLimiter
from iterbridge.errors import RetriableApiError, UnknownOutcomeError
from iterbridge.sandbox import Sandbox

KEY = "idem-key-93b1c7e2"
SUCCESS = {"msg": "", "code": "Success", "params": None, "listId": 7, "campaignId": 8}

# Creates without a key: a second send may duplicate them (or send messages twice).
UNSAFE: list[tuple[str, dict[str, Any], Any]] = [
    ("POST /api/lists", {}, {"name": "VIP"}),
    ("POST /api/campaigns/create", {}, {"name": "c", "templateId": 1, "listIds": [1]}),
    ("POST /api/catalogs/{catalogName}", {"catalogName": "shoes"}, None),
    ("POST /api/inApp/target", {}, {"campaignId": 1, "recipientEmail": "a@example.com"}),
    ("POST /api/campaigns/trigger", {}, {"campaignId": 1, "listIds": [1]}),
    ("POST /api/events/track", {}, {"eventName": "e", "email": "a@example.com"}),
    ("POST /api/events/trackBulk", {}, {"events": [{"eventName": "e", "email": "a@example.com"}]}),
]
# Reads, deletes and upserts keyed by an id: the same request twice leaves the same state.
SAFE: list[tuple[str, dict[str, Any], Any]] = [
    ("GET /api/lists", {}, None),
    ("DELETE /api/lists/{listId}", {"listId": 3}, None),
    ("POST /api/users/bulkUpdate", {}, {"users": [{"email": "a@example.com"}]}),
    ("POST /api/catalogs/{catalogName}/items", {"catalogName": "c"}, {"documents": {"1": {}}}),
    ("POST /api/lists/subscribe", {}, {"listId": 1, "subscribers": [{"email": "a@example.com"}]}),
    ("PUT /api/catalogs/{catalogName}/items/{itemId}", {"catalogName": "c", "itemId": "1"}, {"value": {}}),
]


class Counting:
    """A transport that fails with `failure` (after the request was sent, for a timeout), then succeeds."""

    def __init__(self, failure: Exception | httpx2.Response, times: int = 1) -> None:
        self.failure, self.times, self.calls = failure, times, 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        if self.calls <= self.times:
            if isinstance(self.failure, Exception):
                raise self.failure
            return self.failure
        return httpx2.Response(200, json=SUCCESS)


def client_for(transport: Counting) -> ApiClient:
    return ApiClient("https://api.iterable.test", KEY, transport=httpx2.MockTransport(transport),
                     limiter=ClientRateLimiter(None), retry=FAST_RETRY)  # fmt: skip


AMBIGUOUS = [
    httpx2.ReadTimeout("timed out"),
    httpx2.RemoteProtocolError("Server disconnected without sending a response"),
    httpx2.ReadError("connection reset by peer"),
    httpx2.WriteTimeout("timed out"),
    httpx2.Response(500, json={"msg": "An error occurred. Please try again later.", "code": "GenericError"}),
    httpx2.Response(502, text="<title>502 Bad Gateway</title>"),
    httpx2.Response(504, text="<title>504 Gateway Time-out</title>"),
]


@pytest.mark.parametrize(("endpoint", "path", "body"), UNSAFE)
@pytest.mark.parametrize("failure", AMBIGUOUS, ids=lambda f: type(f).__name__ + str(getattr(f, "status_code", "")))
def test_an_unsafe_request_is_not_resent_after_an_ambiguous_failure(
    endpoint: str, path: dict[str, Any], body: Any, failure: Exception | httpx2.Response
) -> None:
    transport = Counting(failure)
    with pytest.raises(UnknownOutcomeError, match=r"may have been processed.*check in Iterable before re-sending"):
        client_for(transport).request(endpoint, path=path, json=body)
    assert transport.calls == 1
    assert not safe_to_repeat(endpoint)


@pytest.mark.parametrize(("endpoint", "path", "body"), UNSAFE)
@pytest.mark.parametrize(
    "failure",
    [
        httpx2.ConnectError("[Errno 111] Connection refused"),
        httpx2.ConnectTimeout("timed out"),
        httpx2.Response(429, json={"msg": "Exceeded rate limit", "code": "RateLimitExceeded", "params": {}}),
    ],
    ids=["refused", "connect-timeout", "429"],
)
def test_an_unsafe_request_is_retried_when_it_provably_was_not_processed(
    endpoint: str, path: dict[str, Any], body: Any, failure: Exception | httpx2.Response
) -> None:
    transport = Counting(failure)
    client_for(transport).request(endpoint, path=path, json=body)
    assert transport.calls == 2


@pytest.mark.parametrize(("endpoint", "path", "body"), SAFE)
def test_a_safe_request_is_retried_after_a_timeout(endpoint: str, path: dict[str, Any], body: Any) -> None:
    transport = Counting(httpx2.ReadTimeout("timed out"), times=2)
    client_for(transport).request(endpoint, path=path, json=body)
    assert transport.calls == 3
    assert safe_to_repeat(endpoint)


def test_events_are_safe_to_resend_when_each_carries_an_id() -> None:
    transport = Counting(httpx2.ReadTimeout("timed out"))
    body = {"events": [{"eventName": "e", "email": "a@example.com", "id": "e-1"}]}
    client_for(transport).request("POST /api/events/trackBulk", json=body, idempotent=True)
    assert transport.calls == 2


def test_an_unknown_outcome_is_not_a_retriable_error() -> None:
    # Callers that treat a retriable error as "not sent" must not mistake an unknown outcome for one.
    with pytest.raises(UnknownOutcomeError) as caught:
        client_for(Counting(httpx2.ReadTimeout("timed out"))).request("POST /api/lists", json={"name": "x"})
    assert not isinstance(caught.value, RetriableApiError)
    assert caught.value.exit_code == 3


def test_rows_of_an_unsafe_write_report_an_unknown_outcome() -> None:
    transport = Counting(httpx2.ReadTimeout("timed out"), times=99)
    with iterbridge.connect(api_key=KEY, base_url="https://api.iterable.test", rate_limit_factor=None,
                            retry=FAST_RETRY, transport=httpx2.MockTransport(transport)) as conn:  # fmt: skip
        report = conn.insert("Lists", [{"Name": "A"}, {"Name": "B"}])
        events = conn.insert("Events", [{"EventName": "e", "Email": "a@example.com"}])
    assert transport.calls == 2  # one list, one trackBulk: neither re-sent
    first, second = report.results
    assert not first.ok
    assert (first.error or "").startswith("unknown outcome: POST /api/lists: timed out")
    assert "check in Iterable before re-sending" in (first.error or "")
    assert not second.ok
    assert (second.error or "").startswith("not sent: ")
    assert (events.results[0].error or "").startswith("unknown outcome: ")


def test_a_server_error_on_list_creation_is_not_resent_against_the_sandbox(sandbox: Sandbox, stats: Stats) -> None:
    stats.faults(error_rate=1.0, error_endpoint="POST /api/lists")
    with connect_to(sandbox) as conn, stats.counting() as made:
        report = conn.insert("Lists", [{"Name": "Once"}])
    assert made.get("POST /api/lists") == 1
    assert (report.results[0].error or "").startswith("unknown outcome: POST /api/lists → 500")


def test_events_written_with_ids_are_resent_through_the_bulk_writer() -> None:
    # The writer, not only the client: a trackBulk whose every event has an id says it is safe to repeat.
    transport = Counting(httpx2.ReadTimeout("timed out"))
    with iterbridge.connect(api_key=KEY, base_url="https://api.iterable.test", rate_limit_factor=None,
                            retry=FAST_RETRY, transport=httpx2.MockTransport(transport)) as conn:  # fmt: skip
        report = conn.insert("Events", [{"EventName": "e", "Email": "a@example.com", "Id": "e-1"}])
    assert transport.calls == 2
    assert report.results[0].ok
