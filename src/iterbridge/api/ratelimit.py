"""The client's side of Iterable's rate limits: wait before sending rather than earn a 429.

One limiter per connection, shared by every thread reading through it, with one leaky bucket per endpoint
— the algorithm Iterable documents and the sandbox enforces — so a job that waits here is never refused
for its own traffic. (pyrate-limiter, first chosen, keeps a sliding log behind a background thread and
cannot share this exact bucket nor take a test clock; forty lines do both.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from iterbridge.limits import DEFAULT_LIMIT, RateLimit, limit_for

# Drain our buckets 2% slower than the server's, so clock skew never tips a call over the limit; and once a
# call has to wait, wait a little longer: the bucket then keeps that much slack, absorbing the jitter between our
# admitting a call and its arrival at the server (the sustained rate is unchanged).
_SAFETY = 0.98
_MARGIN_S = 0.05


@dataclass
class _Bucket:
    limit: RateLimit
    level: float = 0.0
    updated: float = 0.0


class ClientRateLimiter:
    """`acquire(endpoint)` returns once the endpoint's bucket has room, after sleeping as long as needed.

    `factor` matches the sandbox's `--rate-limits xN`; None disables limiting (a sandbox with limits off).
    """

    def __init__(
        self,
        factor: float | None = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.factor = factor
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def limit(self, endpoint: str) -> RateLimit | None:
        if self.factor is None:
            return None
        return (limit_for(endpoint) or DEFAULT_LIMIT).scaled(self.factor)

    def seconds_per_call(self, endpoint: str) -> float:
        """The sustained interval between calls to an endpoint (0 when unlimited): for ETAs."""
        limit = self.limit(endpoint)
        return 0.0 if limit is None else 1 / limit.per_second

    def wait_s(self, endpoint: str) -> float:
        """How long a call to the endpoint would wait now (without taking a slot): to choose between ways."""
        limit = self.limit(endpoint)
        if limit is None:
            return 0.0
        drain = limit.per_second * _SAFETY
        with self._lock:
            bucket = self._buckets.get(endpoint)
            if bucket is None:
                return 0.0
            level = max(0.0, bucket.level - (self._clock() - bucket.updated) * drain)
        return 0.0 if level + 1 <= limit.count + 1e-9 else (level + 1 - limit.count) / drain

    def acquire(self, endpoint: str) -> float:
        """Take one slot of the endpoint's bucket; returns the seconds spent waiting."""
        limit = self.limit(endpoint)
        if limit is None:
            return 0.0
        drain = limit.per_second * _SAFETY
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                bucket = self._buckets.get(endpoint)
                if bucket is None:
                    bucket = self._buckets[endpoint] = _Bucket(limit, updated=now)
                bucket.level = max(0.0, bucket.level - (now - bucket.updated) * drain)
                bucket.updated = now
                if bucket.level + 1 <= limit.count + 1e-9:  # float drift must not cost another pause
                    bucket.level += 1
                    self.waited_s += waited
                    return waited
                pause = (bucket.level + 1 - limit.count) / drain + _MARGIN_S
            self._sleep(pause)
            waited += pause

    def penalise(self, endpoint: str) -> None:
        """After a 429 someone else's traffic filled the bucket: treat ours as full."""
        limit = self.limit(endpoint)
        if limit is None:
            return
        with self._lock:
            bucket = self._buckets.setdefault(endpoint, _Bucket(limit, updated=self._clock()))
            bucket.level = float(limit.count)
            bucket.updated = self._clock()
