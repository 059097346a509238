"""HTTP to Iterable: one pooled httpx2 client per connection, rate limits, retries, error classification.

Errors are classified by HTTP status, never by the body's `code` (the real API sends `code: "Success"` with
some 400s): 401/403 are authentication errors, other 4xx are fatal, 429, 5xx, timeouts and dropped
connections are retried with backoff — a 429's Retry-After when present, else the endpoint's own refill
interval. A request that is not safe to send twice (`idempotence`) is retried only when the failure proves
it was not processed; otherwise it fails as of unknown outcome. A refused connection to this machine (a
sandbox that is not running) fails after two quick tries. Every message that reaches an exception or a log
is redacted of the key.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx2
import orjson
import stamina

from iterbridge import __version__
from iterbridge.api.idempotence import safe_to_repeat
from iterbridge.api.ratelimit import ClientRateLimiter
from iterbridge.api.redaction import install_log_filter, redact, register_secret
from iterbridge.api.urls import fill_path, is_loopback
from iterbridge.errors import (
    ApiError,
    AuthenticationError,
    FatalApiError,
    RateLimitError,
    RetriableApiError,
    SkippableApiError,
    UnknownOutcomeError,
)

log = logging.getLogger("iterbridge.api")
# stamina logs each retry as a bare "stamina.retry_scheduled" record; the client logs its own line (endpoint,
# reason). A NullHandler keeps stamina's record off stderr when logging is not configured (Python's last-resort
# handler), and leaves it to whoever configures logging. stamina would send the record through structlog instead
# whenever structlog is installed (Dagster installs it), whose default configuration prints to stdout, into
# `--json` output: its hook is the standard logging one, whatever else is installed.
logging.getLogger("stamina").addHandler(logging.NullHandler())
stamina.instrumentation.set_on_retry_hooks([stamina.instrumentation.LoggingOnRetryHook])

_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)
# Tries for a refused connection to a loopback address: nothing listens there, and waiting will not change it.
LOOPBACK_REFUSED_ATTEMPTS = 2


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request (failures, and separately 429s — Iterable asking to slow down,
    not failing — which get more), total time per request, backoff bounds (seconds)."""

    attempts: int = 8
    rate_limited_attempts: int = 50
    timeout_s: float = 900.0
    wait_initial_s: float = 0.5
    wait_max_s: float = 60.0
    wait_jitter_s: float = 0.5


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 10.0
    read_s: float = 300.0  # long exports and huge list member bodies stream slowly


class TransportFailure(RetriableApiError):
    """No usable answer: connection refused or dropped, or a timeout. `sent` is False when the request
    provably never left (no connection could be made), so even a request unsafe to repeat may be retried."""

    def __init__(self, message: str, *, sent: bool = True, refused: bool = False, endpoint: str = "") -> None:
        super().__init__(message, endpoint=endpoint)
        self.sent = sent
        self.refused = refused


# Failures that happen before a request is written: nothing was sent.
_NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)


def not_processed(error: Exception) -> bool:
    """Whether a failure proves Iterable did not process the request: it was never sent (no connection),
    or Iterable refused it before doing anything (429 rate limited; 408 it did not receive it whole).
    A 5xx is not proof: Iterable documents no 5xx as "nothing was done", and a gateway's 502/504 may come
    after the work was done."""
    if isinstance(error, TransportFailure):
        return not error.sent
    return isinstance(error, RateLimitError) or (isinstance(error, ApiError) and error.status == 408)


class ApiClient:
    """Send requests to one Iterable project. `endpoint` is a route template: "GET /api/users/{email}"."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx2.BaseTransport | None = None,
        limiter: ClientRateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        register_secret(api_key)
        install_log_filter()
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        # Where requests go, for messages: no user info, query or fragment.
        self.shown_url = f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"
        self.loopback = is_loopback(parts.hostname or "")
        self.limiter = limiter or ClientRateLimiter()
        self.retry = retry or RetryPolicy()
        timeouts = timeouts or Timeouts()
        self._http = httpx2.Client(
            base_url=self.base_url,
            headers={"Api-Key": api_key, "User-Agent": f"iterbridge/{__version__}"},
            transport=transport,
            timeout=httpx2.Timeout(timeouts.read_s, connect=timeouts.connect_s),
            # Plain HTTP (a sandbox) needs no certificates: loading the CA bundle costs ~50 ms per client.
            verify=self.base_url.startswith("https://"),
        )
        self.calls = 0
        self._thread = threading.local()
        self._server_offset_s: float | None = None  # server Date minus local clock, once an answer told us
        # When a list, writes are recorded here and answered as Iterable would, not sent (--dry-run).
        self.recorder: list[dict[str, Any]] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"ApiClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._closed = True  # a request failing in another thread now is the closing, not a server to retry
        self._http.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # ---- requests --------------------------------------------------------------------------------------

    def request(
        self,
        endpoint: str,
        *,
        path: Mapping[str, object] | None = None,
        params: Any = None,
        json: Any = None,
        skippable: bool = False,
        idempotent: bool | None = None,
    ) -> httpx2.Response:
        """Send with rate limiting and retries; return the successful response (body read).

        `idempotent` overrides the endpoint's declaration (`idempotence.safe_to_repeat`) for this body."""
        safe = safe_to_repeat(endpoint) if idempotent is None else idempotent
        with self._attempts(endpoint, skippable, safe) as attempts:
            for attempt in attempts:
                with attempt:
                    return self._send(endpoint, path, params, json, stream=False)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    def json(self, endpoint: str, **kwargs: Any) -> Any:
        response = self.request(endpoint, **kwargs)
        try:
            return orjson.loads(response.content) if response.content.strip() else {}
        except orjson.JSONDecodeError:
            raise FatalApiError(
                f"Iterable answered {endpoint} with something that is not JSON: {_snippet(response)}",
                status=response.status_code,
                endpoint=endpoint,
            ) from None

    @contextlib.contextmanager
    def stream(
        self,
        endpoint: str,
        *,
        path: Mapping[str, object] | None = None,
        params: Any = None,
        skippable: bool = False,
    ) -> Iterator[httpx2.Response]:
        """A streamed response whose status was checked (with retries); the body is the caller's to read.

        A connection dropped while the body streams is the caller's to handle (an export re-reads its window).
        """
        with self._attempts(endpoint, skippable, safe_to_repeat(endpoint)) as attempts:
            for attempt in attempts:
                with attempt:
                    response = self._send(endpoint, path, params, None, stream=True)
        try:
            yield response
        finally:
            response.close()

    # ---- internals ---------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _attempts(self, endpoint: str, skippable: bool, safe: bool) -> Iterator[Any]:
        policy = self.retry
        failures = {"error": 0, "rate limited": 0}
        tries = [0]

        def backoff(error: Exception) -> bool | float:
            tries[0] += 1
            if not isinstance(error, RetriableApiError) or self.closed:
                return False
            if not safe and not not_processed(error):
                return False  # it may have been processed: sending it again could duplicate it
            kind = "rate limited" if isinstance(error, RateLimitError) else "error"
            failures[kind] += 1
            limit = policy.rate_limited_attempts if kind == "rate limited" else policy.attempts
            if isinstance(error, TransportFailure) and error.refused and self.loopback:
                limit = min(limit, LOOPBACK_REFUSED_ATTEMPTS)
            if failures[kind] >= limit:
                return False
            if isinstance(error, RateLimitError):
                self.limiter.penalise(endpoint)
                wait = error.retry_after or self.limiter.seconds_per_call(endpoint)
                if wait:
                    log.warning("%s: rate limited by Iterable; waiting %.1f s", endpoint, wait)
                    return float(wait)
            log.warning("%s; retrying (attempt %d of %d)", error, failures[kind] + 1, limit)
            return True

        attempts = stamina.retry_context(
            on=backoff,
            attempts=None,  # counted per kind in `backoff`
            timeout=policy.timeout_s,
            wait_initial=policy.wait_initial_s,
            wait_max=policy.wait_max_s,
            wait_jitter=policy.wait_jitter_s,
        )
        try:
            yield attempts
        except RetriableApiError as error:
            if not safe and not not_processed(error):
                raise UnknownOutcomeError(
                    str(error),
                    status=error.status,
                    code=error.code,
                    endpoint=endpoint,
                ) from None
            if isinstance(error, TransportFailure):
                error = TransportFailure(
                    f"{error} ({tries[0]} attempt{'s' if tries[0] != 1 else ''} to {self.shown_url})",
                    sent=error.sent,
                    refused=error.refused,
                    endpoint=endpoint,
                )
            if skippable and (error.status >= 500 or isinstance(error, TransportFailure)):
                raise SkippableApiError(str(error), status=error.status, code=error.code, endpoint=endpoint) from None
            raise error from None

    def build(
        self, endpoint: str, path: Mapping[str, object] | None = None, params: Any = None, json: Any = None
    ) -> httpx2.Request:
        """The request a route template makes: every path value checked (`urls.fill_path`), the URL as the
        HTTP client will send it. Sending and --dry-run both build here, so a dry run shows the real URL."""
        method, template = endpoint.split(" ", 1)
        return self._http.build_request(method, fill_path(template, path), params=params, json=json)

    def _send(
        self, endpoint: str, path: Mapping[str, object] | None, params: Any, json: Any, *, stream: bool
    ) -> httpx2.Response:
        request = self.build(endpoint, path, params, json)
        if self.recorder is not None and request.method != "GET":
            return self._dry_run(endpoint, request, params, json)
        self.limiter.acquire(endpoint)
        started = time.perf_counter()
        self.calls += 1
        self._thread.calls = getattr(self._thread, "calls", 0) + 1
        try:
            response = self._http.send(request, stream=stream)
        except httpx2.TimeoutException as error:
            raise TransportFailure(
                f"{endpoint}: timed out ({type(error).__name__})",
                sent=not isinstance(error, _NOT_SENT),
                endpoint=endpoint,
            ) from None
        except httpx2.TransportError as error:
            raise TransportFailure(
                f"{endpoint}: connection failed ({redact(str(error)) or type(error).__name__})",
                sent=not isinstance(error, _NOT_SENT),
                refused=isinstance(error, httpx2.ConnectError),
                endpoint=endpoint,
            ) from None
        self._note_server_date(response)
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug("%s → %d in %.0f ms", endpoint, response.status_code, elapsed_ms)
        if response.is_success:
            return response
        if stream:
            response.read()
            response.close()
        raise classify(endpoint, response)

    def calls_in_thread(self) -> int:
        """Requests sent from the calling thread (replication counts them per table)."""
        return int(getattr(self._thread, "calls", 0))

    def _note_server_date(self, response: httpx2.Response) -> None:
        date = response.headers.get("date")
        if date:
            with contextlib.suppress(TypeError, ValueError, IndexError):
                self._server_offset_s = parsedate_to_datetime(date).timestamp() - time.time()

    def server_now(self) -> datetime:
        """Now on the server's clock (from its Date headers; the local clock until one was seen)."""
        return datetime.fromtimestamp(time.time() + (self._server_offset_s or 0.0), UTC)

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[dict[str, Any]]]:
        """Writes made inside the block are recorded (method, url, params, json) instead of sent: --dry-run."""
        self.recorder = []
        try:
            yield self.recorder
        finally:
            self.recorder = None

    def _dry_run(self, endpoint: str, request: httpx2.Request, params: Any, json: Any) -> httpx2.Response:
        """Record a write instead of sending it — its URL exactly as it would be sent — and answer with the
        success Iterable would give."""
        assert self.recorder is not None
        self.recorder.append({"method": request.method, "url": str(request.url), "params": params, "json": json})
        return httpx2.Response(200, json=_dry_answer(endpoint, json), request=request)


def _dry_answer(endpoint: str, body: Any) -> dict[str, Any]:
    """A plausible success for a write endpoint (ids are 0: nothing was created)."""
    count = 0
    if isinstance(body, dict):
        for key in ("events", "users", "subscribers"):
            if isinstance(body.get(key), list):
                count = len(body[key])
    answers: dict[str, dict[str, Any]] = {
        "POST /api/lists": {"listId": 0},
        "POST /api/campaigns/create": {"campaignId": 0},
        "POST /api/export/start": {"jobId": 0},
    }
    if endpoint in answers:
        return answers[endpoint]
    if endpoint in (
        "POST /api/events/trackBulk",
        "POST /api/users/bulkUpdate",
        "POST /api/lists/subscribe",
        "POST /api/lists/unsubscribe",
    ):
        return {"successCount": count, "failCount": 0, "invalidEmails": [], "invalidUserIds": [], "failedUpdates": {}}
    return {"msg": "dry run: not sent", "code": "Success", "params": None}


def classify(endpoint: str, response: httpx2.Response) -> ApiError:
    """The error an unsuccessful response stands for — by status, never by the body's code."""
    status = response.status_code
    code, message = _error_text(response)
    text = redact(f"{endpoint} → {status}{f' {code}' if code else ''}: {message}")
    kwargs: dict[str, Any] = {"status": status, "code": code, "endpoint": endpoint}
    if status == 429:
        retry_after = response.headers.get("retry-after")
        seconds = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None
        return RateLimitError(text, retry_after=seconds, **kwargs)
    if status in (401, 403):
        return AuthenticationError(text, **kwargs)
    if status >= 500 or status == 408:
        return RetriableApiError(text, **kwargs)
    return FatalApiError(text, **kwargs)


def _error_text(response: httpx2.Response) -> tuple[str | None, str]:
    body = response.content
    if body.strip().startswith(b"{"):
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(body)
            if isinstance(parsed, dict):
                msg = str(parsed.get("msg") or "")
                code = parsed.get("code")
                if code == "BadJsonBody" and parsed.get("params"):
                    # The msg echoes the request; the params say what was wrong.
                    msg = f"invalid JSON body: {orjson.dumps(parsed['params']).decode()}"
                return (str(code) if code else None), msg[:500]
    return None, _snippet(response)


def _snippet(response: httpx2.Response) -> str:
    text = response.text
    title = _TITLE.search(text)
    if title:
        return title.group(1).strip()
    return " ".join(text.split())[:300]
