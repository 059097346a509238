"""Fixtures for the CSV transfer tests: connections to the shared sandbox (or to fresh ones), its call counts,
and the CLI run in-process against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner, Result

import iterbridge
from helpers import FAST_RETRY, NO_TLS, FakeClock, Stats, cli_env, make_config
from iterbridge.cli import main
from iterbridge.cli import transfer as transfer_cli
from iterbridge.sandbox import Sandbox


@pytest.fixture
def fresh() -> Iterator[Callable[..., tuple[Sandbox, Stats]]]:
    """`fresh(scale="empty", **overrides)` starts a sandbox of its own (stopped when the test ends)."""
    with ExitStack() as stack:

        def start(scale: str = "empty", **overrides: Any) -> tuple[Sandbox, Stats]:
            sandbox = stack.enter_context(Sandbox(make_config(FakeClock(), scale=scale, **overrides)))
            admin = stack.enter_context(httpx2.Client(base_url=sandbox.url, timeout=30, verify=NO_TLS))
            return sandbox, Stats(admin)

        yield start


@pytest.fixture
def cli(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """`cli("export", "Lists", ..., target=sandbox)`: the iterbridge command in-process, its key and URL from the
    environment as a user would give them; the connection has the sandbox's limits (off) and quick retries."""
    original = transfer_cli.open_connection

    def open_connection(profile: str | None, region: str | None, base_url: str | None, sandbox_flag: bool) -> Any:
        if sandbox_flag:
            return original(profile, region, base_url, sandbox_flag)
        return iterbridge.connect(
            profile=profile, region=region, base_url=base_url, rate_limit_factor=None, retry=FAST_RETRY
        )

    monkeypatch.setattr(transfer_cli, "open_connection", open_connection)

    def invoke(*args: str, target: Sandbox | None = None, stdin: str | bytes | None = None) -> Result:
        chosen = target or sandbox
        env = cli_env(tmp_path, chosen)
        result = CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)
        assert chosen.api_key not in result.output, "the API key must never be printed"
        return result

    return invoke
