"""Deterministic pseudo-randomness addressed by key, not by sequence.

Every generated record is a pure function of (seed, what, index), so any record can be produced on its
own — user 731,204 without users 0…731,203 — and the same seed always gives the same bytes. splitmix64 is
used instead of `random.Random` because seeding a Random costs ~7 µs, ten times one splitmix step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_TO_UNIT = 2.0**-53


def mix64(x: int) -> int:
    """splitmix64's finalizer: a well-spread 64-bit value from any 64-bit input."""
    x = (x + GOLDEN_GAMMA) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def text_key(text: str) -> int:
    """A stable 64-bit key for a string (Python's own str hash is randomised per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def derive(*parts: int) -> int:
    """Combine integers into one key: derive(seed, KIND, index)."""
    key = 0
    for part in parts:
        key = mix64(key ^ (part & MASK64))
    return key


def unit(key: int) -> float:
    """A float in [0, 1) from a key."""
    return (mix64(key) >> 11) * _TO_UNIT


class Rng:
    """A small stream of values from one key; cheap to create per record."""

    __slots__ = ("_state",)

    def __init__(self, key: int) -> None:
        self._state = key & MASK64

    def bits(self) -> int:
        self._state = (self._state + GOLDEN_GAMMA) & MASK64
        x = self._state
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
        return x ^ (x >> 31)

    def random(self) -> float:
        return (self.bits() >> 11) * _TO_UNIT

    def below(self, n: int) -> int:
        return self.bits() % n

    def between(self, low: int, high: int) -> int:
        """An int in [low, high]."""
        return low + self.bits() % (high - low + 1)

    def chance(self, probability: float) -> bool:
        return self.random() < probability

    def choice(self, items: Sequence[T]) -> T:
        return items[self.bits() % len(items)]

    def weighted(self, items: Sequence[T], cumulative: Sequence[float]) -> T:
        """Pick from items whose cumulative weights (ending at 1.0) are given."""
        r = self.random()
        for item, edge in zip(items, cumulative, strict=True):
            if r < edge:
                return item
        return items[-1]

    def sample(self, items: Sequence[T], k: int) -> list[T]:
        pool = list(items)
        picked: list[T] = []
        for _ in range(min(k, len(pool))):
            picked.append(pool.pop(self.bits() % len(pool)))
        return picked

    def hex(self, length: int = 32) -> str:
        # One 16-digit step per 16 digits (the common lengths take no loop).
        if 0 < length <= 16:
            return self.bits().to_bytes(8, "big").hex()[:length]  # = f"{bits:016x}"[:length], 3× faster
        if length == 32:
            return "%016x%016x" % (self.bits(), self.bits())  # noqa: UP031 (faster than an f-string)
        digits = ""
        while len(digits) < length:
            digits += f"{self.bits():016x}"
        return digits[:length]


def cumulative(weights: Sequence[float]) -> list[float]:
    """Normalised running sums of weights, for Rng.weighted."""
    total = float(sum(weights))
    running = 0.0
    edges = []
    for weight in weights:
        running += weight
        edges.append(running / total)
    edges[-1] = 1.0
    return edges
