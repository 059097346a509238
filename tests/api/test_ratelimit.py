"""The client's leaky buckets: wait before sending rather than earn a 429."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2
import pytest

import iterbridge
from helpers import ANCHOR_MS, FakeClock
from iterbridge.api.client import RetryPolicy
from iterbridge.api.ratelimit import ClientRateLimiter
from iterbridge.errors import RateLimitError
from iterbridge.limits import DEFAULT_LIMIT

EXPORT = "GET /api/export/data.json"
GET_USERS = "GET /api/lists/getUsers"
FAST = RetryPolicy(attempts=3, rate_limited_attempts=3, wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0)
Serve = Callable[..., httpx2.Client]


@dataclass
class VirtualTime:
    """A clock and a sleep for the limiter: sleeping moves the clock (no real waiting)."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(factor: float | None = 1.0) -> tuple[ClientRateLimiter, VirtualTime]:
    time_ = VirtualTime()
    return ClientRateLimiter(factor, clock=time_.clock, sleep=time_.sleep), time_


def test_four_per_minute_admits_four_then_waits_about_fifteen_seconds() -> None:
    bucket, time_ = limiter()
    assert [bucket.acquire(EXPORT) for _ in range(4)] == [0.0] * 4
    assert time_.slept == []
    waited = bucket.acquire(EXPORT)
    assert waited == pytest.approx(15.0 / 0.98 + 0.05)  # the refill interval (drained 2 % slower), + the margin
    assert sum(time_.slept) == pytest.approx(waited)
    assert 15.0 <= bucket.acquire(EXPORT) <= 15.5  # then one call per interval
    assert bucket.waited_s == pytest.approx(sum(time_.slept))


def test_the_bucket_drains_while_idle() -> None:
    bucket, time_ = limiter()
    for _ in range(4):
        bucket.acquire(EXPORT)
    time_.now += 60 / 0.98  # a minute at the client's (2 % cautious) drain
    assert [bucket.acquire(EXPORT) for _ in range(4)] == [0.0] * 4


def test_endpoints_have_independent_buckets() -> None:
    bucket, time_ = limiter()
    for _ in range(4):
        bucket.acquire(EXPORT)
    assert [bucket.acquire(GET_USERS) for _ in range(5)] == [0.0] * 5  # 5 per minute, untouched by exports
    assert [bucket.acquire("GET /api/lists") for _ in range(100)] == [0.0] * 100
    assert time_.slept == []
    assert bucket.acquire(GET_USERS) >= 12.0
    assert bucket.acquire(EXPORT) >= 15.0 - 12.0 - 1  # the export bucket kept draining meanwhile


def test_endpoints_without_a_documented_limit_get_the_default() -> None:
    bucket, _ = limiter()
    assert bucket.limit("POST /api/lists/subscribe") == DEFAULT_LIMIT
    for _ in range(DEFAULT_LIMIT.count):
        assert bucket.acquire("POST /api/lists/subscribe") == 0.0
    assert bucket.acquire("POST /api/lists/subscribe") == pytest.approx(0.01 / 0.98 + 0.05)  # + the jitter margin


def test_the_factor_scales_the_refill_not_the_burst() -> None:
    bucket, _ = limiter(10.0)
    limit = bucket.limit(EXPORT)
    assert limit is not None
    assert (limit.count, limit.per_seconds) == (4, 6.0)
    assert bucket.seconds_per_call(EXPORT) == pytest.approx(1.5)
    assert [bucket.acquire(EXPORT) for _ in range(4)] == [0.0] * 4
    assert 1.5 <= bucket.acquire(EXPORT) <= 1.5 / 0.98 + 0.05


def test_none_disables_limiting() -> None:
    bucket, time_ = limiter(None)
    assert bucket.limit(EXPORT) is None
    assert bucket.seconds_per_call(EXPORT) == 0.0
    assert {bucket.acquire(EXPORT) for _ in range(1000)} == {0.0}
    bucket.penalise(EXPORT)
    assert bucket.acquire(EXPORT) == 0.0
    assert time_.slept == []


def test_a_429_fills_the_bucket() -> None:
    bucket, _ = limiter()
    bucket.penalise(EXPORT)  # someone else's traffic filled it
    assert bucket.acquire(EXPORT) >= 15.0


def test_one_bucket_is_shared_by_every_thread() -> None:
    """16 threads acquiring at once never exceed the leaky bucket: burst + rate × elapsed."""
    bucket = ClientRateLimiter(1200.0)  # exports: a burst of 4, then one per 12.5 ms
    admitted: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def work() -> None:
        start.wait()
        for _ in range(2):
            bucket.acquire(EXPORT)
            with lock:
                admitted.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    admitted.sort()
    first = admitted[0]
    rate = 4 / 60 * 1200
    for count, moment in enumerate(admitted, start=1):
        assert count <= 4 + (moment - first) * rate + 1e-6
    assert admitted[-1] - first >= (32 - 4) / rate * 0.99


# ---- against a sandbox enforcing Iterable's real limits --------------------------------------------------


def _virtual_sleep(clock: FakeClock) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        clock.now_ms += math.ceil(seconds * 1000)

    return sleep


def _job(client: httpx2.Client, limiter: ClientRateLimiter | None) -> iterbridge.Connection:
    conn = iterbridge.connect(
        api_key=client.headers["Api-Key"], base_url=str(client.base_url), rate_limit_factor=1.0, retry=FAST
    )
    if limiter is not None:
        conn.client.limiter = limiter
    return conn


EVENT_TYPES = ["emailSend", "emailOpen", "emailClick", "emailBounce", "pushSend", "pushOpen", "smsSend"]


def test_a_job_of_many_exports_never_earns_a_429(serve: Serve) -> None:
    clock = FakeClock()
    client = serve(clock, rate_limit_factor=1.0)  # Iterable's limits: exports 4 per minute, getUsers 5
    shared = ClientRateLimiter(1.0, clock=lambda: clock.now_ms / 1000, sleep=_virtual_sleep(clock))
    with _job(client, shared) as conn:
        conn.session.export_method = "sync"  # data.json only, however long it waits: its pacing is what is tested here
        events = list(conn.read("Events", where={"EventType": EVENT_TYPES}))
        members = list(conn.read("ListUsers"))
        users = list(conn.read("Users"))
    stats = client.get("/_sandbox/stats").json()["endpoints"]
    lists = len(client.get("/api/lists").json()["lists"])
    assert stats[EXPORT] == {"200": len(EVENT_TYPES) + 1}
    assert stats[GET_USERS] == {"200": lists}
    assert events
    assert members
    assert users
    assert conn.skipped == []
    # The client waited (on the sandbox's clock) instead: ≥ 15 s per export and 12 s per list beyond the bursts.
    waited = (clock.now_ms - ANCHOR_MS - 6 * 3_600_000) / 1000
    assert waited >= (len(EVENT_TYPES) + 1 - 4) * 15 + (lists - 5) * 12 - 15


def test_without_the_client_limiter_the_same_job_is_refused(serve: Serve) -> None:
    client = serve(FakeClock(), rate_limit_factor=1.0)
    with _job(client, ClientRateLimiter(None)) as conn, pytest.raises(RateLimitError):
        list(conn.read("Events", where={"EventType": EVENT_TYPES}))
    assert client.get("/_sandbox/stats").json()["endpoints"][EXPORT]["429"] >= FAST.attempts


class WallClock(FakeClock):
    """The sandbox's clock following real time, from the usual start."""

    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()

    def __call__(self) -> int:
        return self.now_ms + int((time.monotonic() - self.started) * 1000)


def test_in_real_time_with_a_faster_sandbox(serve: Serve) -> None:
    client = serve(WallClock(), rate_limit_factor=120.0)  # exports: 4, then one per 125 ms
    conn = iterbridge.connect(
        api_key=client.headers["Api-Key"], base_url=str(client.base_url), rate_limit_factor=120.0, retry=FAST
    )
    started = time.monotonic()
    with conn:
        rows = list(conn.read("Events", where={"EventType": EVENT_TYPES}))
    elapsed = time.monotonic() - started
    assert rows
    assert client.get("/_sandbox/stats").json()["endpoints"][EXPORT] == {"200": len(EVENT_TYPES)}
    assert elapsed >= (len(EVENT_TYPES) - 4) * 0.125  # downloads and waits together
    assert conn.client.limiter.waited_s > 0
