"""Per-endpoint leaky buckets with Iterable's documented limits (`iterbridge.limits`)."""

from __future__ import annotations

from dataclasses import dataclass

from iterbridge.limits import RateLimit, limit_for


@dataclass
class _Bucket:
    limit: RateLimit
    level: float = 0.0
    updated_ms: int = 0


class RateLimiter:
    """One bucket per endpoint template: a request fits when the bucket has room for one more drop.

    The bucket drains at the limit's rate, so "4 per minute" admits a burst of 4 and then one call every
    15 s — the 5th export within a minute gets a 429. `factor` speeds the drain (`--rate-limits xN`).
    """

    def __init__(self, factor: float | None) -> None:
        self.factor = factor
        self._buckets: dict[str, _Bucket] = {}

    def reset(self, factor: float | None) -> None:
        self.factor = factor
        self._buckets.clear()

    def limit(self, endpoint: str) -> RateLimit | None:
        if self.factor is None:
            return None
        documented = limit_for(endpoint)
        return documented.scaled(self.factor) if documented else None

    def admit(self, endpoint: str, now_ms: int) -> RateLimit | None:
        """Count the request; return the limit it exceeded, or None when admitted."""
        limit = self.limit(endpoint)
        if limit is None:
            return None
        bucket = self._buckets.get(endpoint)
        if bucket is None:
            bucket = self._buckets[endpoint] = _Bucket(limit, updated_ms=now_ms)
        drained = (now_ms - bucket.updated_ms) / 1000 * limit.per_second
        bucket.level = max(0.0, bucket.level - drained)
        bucket.updated_ms = now_ms
        if bucket.level + 1 > limit.count + 1e-9:
            return limit
        bucket.level += 1
        return None
