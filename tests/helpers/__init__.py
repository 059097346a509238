"""Helpers shared by every test directory: a clock the tests control, sandbox settings, the CLI's environment,
connections with quick retries, the sandbox's call counts, and databases of their own on the PostgreSQL server.

The fixtures built on them live in tests/conftest.py; tests import these helpers from here (`from helpers
import …`), never from a conftest."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest

import iterbridge
from iterbridge.api.client import RetryPolicy
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


# The sandbox speaks plain HTTP on loopback: clients skip loading the CA bundle (~45 ms per client).
NO_TLS = False


# ---- the CLI's environment, shared by every CLI test ------------------------------------------------------

# Settings the machine running the tests may have: unset for a CLI run unless the test gives them.
CLI_SETTINGS = ("ITERABLE_API_KEY", "ITERABLE_REGION", "ITERABLE_BASE_URL", "ITERBRIDGE_PROFILE", "ITERBRIDGE_DEBUG",
                "ITERBRIDGE_RATE_LIMITS", "ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS")  # fmt: skip


def cli_env(tmp_path: Path, sandbox: Sandbox | None = None) -> dict[str, str | None]:
    """A CLI run's environment (for CliRunner): none of the machine's settings, a config file of the test's
    own, and the sandbox's key and URL when one is given."""
    env: dict[str, str | None] = dict.fromkeys(CLI_SETTINGS)
    env["ITERBRIDGE_CONFIG"] = str(tmp_path / "config.toml")
    if sandbox is not None:
        env.update(ITERABLE_API_KEY=sandbox.api_key, ITERABLE_BASE_URL=sandbox.url)
    return env


# ---- connections and call counts, shared by the connector, query, transfer, replicate and sync tests -------

FAST_RETRY = RetryPolicy(wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0)


def connect_to(sandbox: Sandbox, **options: Any) -> iterbridge.Connection:
    """A connection to a sandbox with its limits off and tiny retry waits (options override)."""
    settings: dict[str, Any] = {"rate_limit_factor": None, "retry": FAST_RETRY}
    settings.update(options)
    return iterbridge.connect(api_key=sandbox.api_key, base_url=sandbox.url, **settings)


@dataclass
class Stats:
    """A sandbox's calls per endpoint and status (GET /_sandbox/stats), and its faults."""

    admin: httpx2.Client

    def snapshot(self) -> dict[str, dict[str, int]]:
        endpoints: dict[str, dict[str, int]] = self.admin.get("/_sandbox/stats").json()["endpoints"]
        return endpoints

    def total(self) -> int:
        return int(self.admin.get("/_sandbox/stats").json()["total"])

    def count(self, endpoint: str, status: int | None = None) -> int:
        statuses = self.snapshot().get(endpoint, {})
        return sum(statuses.values()) if status is None else statuses.get(str(status), 0)

    def by_endpoint(self) -> dict[str, int]:
        return {endpoint: sum(statuses.values()) for endpoint, statuses in self.snapshot().items()}

    @contextmanager
    def counting(self) -> Iterator[dict[str, int]]:
        """Calls per endpoint made inside the block (filled in when it ends)."""
        before = self.by_endpoint()
        made: dict[str, int] = {}
        yield made
        after = self.by_endpoint()
        made.update({e: n - before.get(e, 0) for e, n in after.items() if n != before.get(e, 0)})

    def faults(self, **settings: Any) -> None:
        self.admin.post("/_sandbox/faults", json=settings).raise_for_status()


# ---- PostgreSQL, shared by the replicate and sync tests ------------------------------------------------------

LOCAL_POSTGRES = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
_postgres: dict[str, str | None] = {}
_database_names = itertools.count()


def postgres_server() -> str:
    """The PostgreSQL server's URL (ITERBRIDGE_TEST_POSTGRES_URL, else the local default). Skips the test,
    saying why, when none answers; CI sets the variable, and there an unreachable server fails the test."""
    if "url" not in _postgres:
        import psycopg

        url = os.environ.get("ITERBRIDGE_TEST_POSTGRES_URL") or LOCAL_POSTGRES
        try:
            with psycopg.connect(url, connect_timeout=3):
                _postgres["url"] = url
        except psycopg.Error as error:
            _postgres["url"] = None
            _postgres["why"] = str(error).splitlines()[0] if str(error) else type(error).__name__
    server = _postgres["url"]
    if server is None:
        if os.environ.get("ITERBRIDGE_TEST_POSTGRES_URL"):
            pytest.fail(f"ITERBRIDGE_TEST_POSTGRES_URL is set but PostgreSQL does not answer: {_postgres['why']}")
        pytest.skip(
            f"PostgreSQL tests skipped: no server at {LOCAL_POSTGRES.split('@')[1]} ({_postgres['why']}); "
            "set ITERBRIDGE_TEST_POSTGRES_URL to run them"
        )
    return server


@contextmanager
def postgres_database(label: str) -> Iterator[str]:
    """A database of its own on the PostgreSQL server (its URL), dropped when the block ends."""
    import psycopg

    server = postgres_server()
    name = f"iterbridge_{label}_{os.getpid()}_{next(_database_names)}".lower()
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def python_path() -> Iterator[None]:
    """Reads without the C scanner of export lines, as where it could not be built."""
    from iterbridge.objects import scanner

    kept = scanner.scanner
    scanner.scanner = None
    try:
        yield
    finally:
        scanner.scanner = kept


class RecordCounter:
    """What a LineBlock counts its records into (a reader's stats)."""

    records = 0
