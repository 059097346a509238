"""The API client at its unit seam (httpx2 MockTransport): classification, retries, waits, redaction, paths."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx2
import orjson
import pytest
import stamina.instrumentation

from iterbridge.api.client import ApiClient, RetryPolicy
from iterbridge.api.ratelimit import ClientRateLimiter
from iterbridge.errors import (
    AuthenticationError,
    FatalApiError,
    RateLimitError,
    RetriableApiError,
    SkippableApiError,
)

KEY = "unit-key-7f3a9c1e5b"
FAST = RetryPolicy(attempts=4, rate_limited_attempts=12, wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0)
Handler = Callable[[httpx2.Request], httpx2.Response]


def reply(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx2.Response:
    content = orjson.dumps(body if body is not None else {"msg": "", "code": "Success", "params": None})
    return httpx2.Response(status, content=content, headers={"content-type": "application/json", **(headers or {})})


class Script:
    """Answers requests from a list of responses (or exceptions to raise), recording every request."""

    def __init__(self, *answers: httpx2.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def client_for(handler: Handler, *, factor: float | None = None, retry: RetryPolicy = FAST) -> ApiClient:
    return ApiClient(
        "https://api.iterable.test",
        KEY,
        transport=httpx2.MockTransport(handler),
        limiter=ClientRateLimiter(factor),
        retry=retry,
    )


@pytest.fixture
def waits() -> Iterator[list[float]]:
    """The wait stamina scheduled before each retry."""
    scheduled: list[float] = []
    previous = stamina.instrumentation.get_on_retry_hooks()  # the client's choice (api/client.py), restored after
    stamina.instrumentation.set_on_retry_hooks([lambda details: scheduled.append(details.wait_for)])
    yield scheduled
    stamina.instrumentation.set_on_retry_hooks(previous)


def test_success_returns_the_body_and_sends_the_key_only_in_the_header() -> None:
    script = Script(reply(200, {"lists": [{"id": 1}]}))
    client = client_for(script)
    assert client.json("GET /api/lists") == {"lists": [{"id": 1}]}
    (request,) = script.requests
    assert request.headers["Api-Key"] == KEY
    assert KEY not in str(request.url)
    assert request.headers["User-Agent"].startswith("iterbridge/")
    assert client.calls == 1


def test_an_empty_body_is_an_empty_object() -> None:
    assert client_for(Script(httpx2.Response(200, content=b""))).json("GET /api/lists") == {}


def test_a_400_with_code_success_is_fatal_and_not_retried() -> None:
    body = {"msg": "error.lists.invalidListId(999)", "code": "Success", "params": {"listId": 999}}
    script = Script(reply(400, body))
    with pytest.raises(FatalApiError) as caught:
        client_for(script).json("POST /api/lists/subscribe", json={"listId": 999, "subscribers": []})
    assert not isinstance(caught.value, RetriableApiError)
    assert caught.value.status == 400
    assert caught.value.code == "Success"
    assert "error.lists.invalidListId(999)" in str(caught.value)
    assert len(script.requests) == 1


def test_a_200_with_an_error_code_is_a_success() -> None:
    # Classification is by status: the body's code alone never makes an error.
    body = {"msg": "odd", "code": "GenericError", "params": None}
    assert client_for(Script(reply(200, body))).json("GET /api/channels") == body


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_authentication_errors(status: int) -> None:
    script = Script(reply(status, {"msg": "Invalid API key", "code": "BadApiKey", "params": {"ip": "127.0.0.1"}}))
    with pytest.raises(AuthenticationError, match="Invalid API key") as caught:
        client_for(script).json("GET /api/lists")
    assert caught.value.status == status
    assert caught.value.endpoint == "GET /api/lists"
    assert len(script.requests) == 1


@pytest.mark.parametrize("status", [400, 404, 409])
def test_other_4xx_are_fatal(status: int) -> None:
    script = Script(reply(status, {"msg": "nope", "code": "BadParams", "params": None}))
    with pytest.raises(FatalApiError, match="nope"):
        client_for(script).json("GET /api/campaigns/{id}", path={"id": 1})
    assert len(script.requests) == 1


def test_a_text_or_html_error_keeps_its_message() -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    text = httpx2.Response(400, content=b"No user with that id exists!", headers={"content-type": "text/plain"})
    with pytest.raises(FatalApiError, match="No user with that id exists!"):
        client_for(Script(text)).json("GET /api/users/byUserId/{userId}", path={"userId": "42"})
    gateway = httpx2.Response(502, content=html, headers={"content-type": "text/html"})
    with pytest.raises(RetriableApiError, match="502 Bad Gateway"):
        client_for(Script(gateway)).json("GET /api/lists")


def test_a_success_that_is_not_json_is_fatal() -> None:
    with pytest.raises(FatalApiError, match="not JSON"):
        client_for(Script(httpx2.Response(200, content=b"<html>maintenance</html>"))).json("GET /api/lists")


def test_429_with_retry_after_waits_that_long(waits: list[float]) -> None:
    limited = reply(
        429, {"msg": "Exceeded rate limit", "code": "RateLimitExceeded", "params": {}}, {"Retry-After": "0.2"}
    )
    script = Script(limited, reply(200, {"lists": []}))
    assert client_for(script).json("GET /api/lists") == {"lists": []}
    assert waits == [0.2]
    assert len(script.requests) == 2


def test_429_without_retry_after_waits_one_refill_of_the_endpoint(waits: list[float]) -> None:
    limited = reply(429, {"msg": "Exceeded rate limit", "code": "RateLimitExceeded", "params": {}})
    script = Script(limited, limited, reply(200, {}))
    # export/data.json allows 4 per minute; ×6000 → one call per 2.5 ms: the wait is that refill interval.
    client = client_for(script, factor=6000.0)
    client.json("GET /api/export/data.json", params={"dataTypeName": "emailSend"})
    assert waits == [pytest.approx(60 / 4 / 6000), pytest.approx(60 / 4 / 6000)]
    assert len(script.requests) == 3


def test_429_without_retry_after_and_no_limits_backs_off_exponentially(waits: list[float]) -> None:
    limited = reply(429, {"msg": "Exceeded rate limit", "code": "RateLimitExceeded", "params": {}})
    script = Script(limited, limited, limited, reply(200, {}))
    client_for(script).json("GET /api/lists")
    assert waits == [pytest.approx(0.01), pytest.approx(0.02), pytest.approx(0.04)]


def test_429_after_every_attempt_is_a_rate_limit_error() -> None:
    limited = reply(
        429, {"msg": "Exceeded rate limit", "code": "RateLimitExceeded", "params": {}}, {"Retry-After": "0"}
    )
    script = Script(limited)
    with pytest.raises(RateLimitError) as caught:
        client_for(script).json("GET /api/lists")
    assert isinstance(caught.value, RetriableApiError)
    assert caught.value.status == 429
    assert len(script.requests) == FAST.rate_limited_attempts


def test_429s_have_their_own_attempts() -> None:
    # A storm of 429s (someone else's traffic on the project's quota) outlasts the attempts for failures;
    # failures still count on their own.
    limited = reply(
        429, {"msg": "Exceeded rate limit", "code": "RateLimitExceeded", "params": {}}, {"Retry-After": "0"}
    )
    failing = reply(500, {"msg": "An error occurred.", "code": "GenericError"})
    script = Script(*[limited] * 10, *[failing] * (FAST.attempts - 1), reply(200, {"lists": []}))
    assert client_for(script).json("GET /api/lists") == {"lists": []}
    script = Script(*[limited] * 10, *[failing] * FAST.attempts, reply(200, {"lists": []}))
    with pytest.raises(RetriableApiError, match="An error occurred"):
        client_for(script).json("GET /api/lists")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_then_succeeds(status: int, waits: list[float]) -> None:
    failing = reply(status, {"msg": "An error occurred. Please try again later.", "code": "GenericError"})
    script = Script(failing, failing, reply(200, {"channels": []}))
    assert client_for(script).json("GET /api/channels") == {"channels": []}
    assert len(script.requests) == 3
    assert len(waits) == 2


def test_retries_exhausted_raise_a_retriable_error() -> None:
    script = Script(reply(500, {"msg": "An error occurred.", "code": "GenericError", "params": None}))
    with pytest.raises(RetriableApiError, match="An error occurred") as caught:
        client_for(script).json("GET /api/channels")
    assert caught.value.status == 500
    assert not isinstance(caught.value, SkippableApiError)
    assert len(script.requests) == FAST.attempts


@pytest.mark.parametrize(
    "failure",
    [
        httpx2.ReadTimeout("timed out"),
        httpx2.ConnectTimeout("timed out"),
        httpx2.ConnectError("refused"),
        httpx2.RemoteProtocolError("peer closed connection"),
        httpx2.ReadError("connection reset"),
    ],
)
def test_timeouts_and_connection_errors_are_retried(failure: Exception) -> None:
    script = Script(failure, reply(200, {"lists": []}))
    assert client_for(script).json("GET /api/lists") == {"lists": []}
    assert len(script.requests) == 2


def test_a_connection_that_never_works_is_retriable_with_status_zero() -> None:
    script = Script(httpx2.ConnectError("refused"))
    with pytest.raises(RetriableApiError, match="connection failed") as caught:
        client_for(script).json("GET /api/lists")
    assert caught.value.status == 0
    assert len(script.requests) == FAST.attempts


def test_skippable_turns_a_persistent_500_into_a_skippable_error() -> None:
    script = Script(reply(500, {"msg": "An error occurred.", "code": "GenericError", "params": None}))
    with pytest.raises(SkippableApiError, match="An error occurred") as caught:
        client_for(script).request("GET /api/lists/getUsers", params={"listId": 7}, skippable=True)
    assert caught.value.status == 500
    assert len(script.requests) == FAST.attempts  # retried first: only a persistent failure is skipped


def test_skippable_still_fails_fatal_errors() -> None:
    script = Script(reply(400, {"msg": "Invalid email list id", "code": "BadParams", "params": None}))
    with pytest.raises(FatalApiError, match="Invalid email list id"):
        client_for(script).request("GET /api/lists/getUsers", params={"listId": 7}, skippable=True)


def test_a_streamed_request_is_retried_before_its_body_is_given() -> None:
    script = Script(
        reply(503, {"msg": "Request timeout.", "code": "GenericError"}), httpx2.Response(200, content=b"a\nb\n")
    )
    with client_for(script).stream("GET /api/lists/getUsers", params={"listId": 1}) as response:
        assert response.read() == b"a\nb\n"
    assert len(script.requests) == 2


def test_bad_json_body_messages_that_echo_the_key_are_redacted() -> None:
    # Iterable's BadJsonBody msg echoes the request, headers included.
    echo = f"Could not parse body: POST /api/events/track Headers: Api-Key: {KEY}, Content-Type: application/json"
    with_params = {"msg": echo, "code": "BadJsonBody", "params": {"obj.eventName": [{"msg": "error.path.missing"}]}}
    without_params = {"msg": echo, "code": "BadJsonBody", "params": None}
    for body in (with_params, without_params):
        with pytest.raises(FatalApiError) as caught:
            client_for(Script(reply(400, body))).json("POST /api/events/track", json={})
        assert KEY not in str(caught.value)
        assert KEY not in repr(caught.value)
        assert caught.value.code == "BadJsonBody"
    with pytest.raises(FatalApiError, match=r"obj\.eventName"):
        client_for(Script(reply(400, with_params))).json("POST /api/events/track", json={})
    with pytest.raises(FatalApiError, match="<redacted>"):
        client_for(Script(reply(400, without_params))).json("POST /api/events/track", json={})


def test_plain_text_errors_that_echo_the_key_are_redacted() -> None:
    text = httpx2.Response(400, content=f"Json error: bad header Api-Key={KEY}".encode())
    with pytest.raises(FatalApiError) as caught:
        client_for(Script(text)).json("PUT /api/metadata/{table}/{key}", path={"table": "t", "key": "k"})
    assert KEY not in str(caught.value)


def test_repr_never_shows_the_key() -> None:
    client = client_for(Script(reply(200)))
    assert KEY not in repr(client)
    assert "api.iterable.test" in repr(client)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("ann@example.com", "/api/users/ann@example.com"),
        ("ann+tag@example.com", "/api/users/ann+tag@example.com"),
        ("a b;c?d#e%f@example.com", "/api/users/a%20b%3Bc%3Fd%23e%25f@example.com"),
        ("ünï@example.com", "/api/users/%C3%BCn%C3%AF@example.com"),
    ],
)
def test_path_parameters_are_url_quoted(value: str, path: str) -> None:
    script = Script(reply(200, {}))
    client_for(script).json("GET /api/users/{email}", path={"email": value})
    (request,) = script.requests
    assert request.url.raw_path.decode() == path
    assert request.url.query == b""


def test_query_parameters_repeat_and_are_encoded() -> None:
    script = Script(reply(200, {"campaigns": []}))
    client_for(script).json("GET /api/campaigns", params={"campaignState": ["Running", "Ready"], "q": "a&b"})
    (request,) = script.requests
    assert request.url.params.get_list("campaignState") == ["Running", "Ready"]
    assert request.url.params["q"] == "a&b"
