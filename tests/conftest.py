"""Shared fixtures: a sandbox on a real socket with a clock the tests control."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx2
import pytest

from iterbridge.sandbox import Sandbox, SandboxConfig

# A fixed end of history, so generated data is the same on every run and every day.
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
ANCHOR_MS = int(ANCHOR.timestamp() * 1000)


@dataclass
class FakeClock:
    """Epoch milliseconds that move only when a test says so."""

    now_ms: int = ANCHOR_MS + 6 * 3_600_000

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, seconds: float) -> None:
        self.now_ms += int(seconds * 1000)


def make_config(clock: FakeClock | None = None, **overrides: object) -> SandboxConfig:
    """A tiny, deterministic sandbox project; keyword arguments override any SandboxConfig field."""
    settings: dict[str, object] = {
        "seed": 42,
        "scale": "tiny",
        "anchor": ANCHOR,
        "clock": clock or FakeClock(),
    }
    settings.update(overrides)
    return SandboxConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def session_sandbox() -> Iterator[tuple[Sandbox, FakeClock]]:
    clock = FakeClock()
    with Sandbox(make_config(clock)) as sandbox:
        yield sandbox, clock


@pytest.fixture
def clock(session_sandbox: tuple[Sandbox, FakeClock]) -> FakeClock:
    return session_sandbox[1]


@pytest.fixture
def sandbox(session_sandbox: tuple[Sandbox, FakeClock]) -> Sandbox:
    """The shared sandbox, reset to its generated state (and the clock to its start) for each test."""
    sandbox, clock = session_sandbox
    clock.now_ms = FakeClock().now_ms
    httpx2.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()
    return sandbox


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx2.Client]:
    """An HTTP client for the sandbox with the right key."""
    with httpx2.Client(base_url=sandbox.url, headers={"Api-Key": sandbox.api_key}, timeout=30) as client:
        yield client
