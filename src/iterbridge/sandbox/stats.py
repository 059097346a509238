"""Calls per endpoint and status, so tests and benchmarks can count what a job cost."""

from __future__ import annotations

from collections import defaultdict


class Stats:
    def __init__(self) -> None:
        self._calls: defaultdict[str, defaultdict[int, int]] = defaultdict(_status_counter)

    def record(self, endpoint: str, status: int) -> None:
        self._calls[endpoint][status] += 1

    def reset(self) -> None:
        self._calls.clear()

    def snapshot(self) -> dict[str, object]:
        endpoints = {
            endpoint: {str(status): count for status, count in sorted(statuses.items())}
            for endpoint, statuses in sorted(self._calls.items())
        }
        total = sum(sum(statuses.values()) for statuses in self._calls.values())
        return {"total": total, "endpoints": endpoints}

    def count(self, endpoint: str, status: int | None = None) -> int:
        statuses: dict[int, int] = self._calls.get(endpoint, {})
        if status is None:
            return sum(statuses.values())
        return statuses.get(status, 0)


def _status_counter() -> defaultdict[int, int]:
    return defaultdict(int)
