"""Exports paced for the server they talk to: against a sandbox with Iterable's real rate limits, `export Events`
reads through data.json while a call would not wait, then through export jobs (minutes of waiting saved, the
same rows); progress shows itself within a second, rows or not."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner, Result

from helpers import NO_TLS, FakeClock, Stats, cli_env, connect_to, make_config
from iterbridge.api.ratelimit import ClientRateLimiter
from iterbridge.cli import main
from iterbridge.cli import progress as progress_module
from iterbridge.limits import limit_for
from iterbridge.objects.events import EVENT_TYPES
from iterbridge.sandbox import Sandbox

from .support import read_csv

DATA_JSON = "GET /api/export/data.json"
START = "POST /api/export/start"
FILES = "GET /api/export/{jobId}/files"
BURST = limit_for(DATA_JSON).count  # type: ignore[union-attr]  # data.json calls that never wait: 4


@pytest.fixture
def project() -> Iterator[Callable[..., tuple[Sandbox, Stats, FakeClock]]]:
    """`project(rate_limit_factor)`: a tiny sandbox of its own, on a clock of its own, and its call counts."""
    with ExitStack() as stack:

        def start(rate_limit_factor: float | None) -> tuple[Sandbox, Stats, FakeClock]:
            clock = FakeClock()
            sandbox = stack.enter_context(Sandbox(make_config(clock, rate_limit_factor=rate_limit_factor)))
            admin = stack.enter_context(httpx2.Client(base_url=sandbox.url, timeout=30, verify=NO_TLS))
            return sandbox, Stats(admin), clock

        yield start


def _virtual_limiter(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    """The client's limiter waits on the sandbox's clock: minutes of pacing in no time, exactly as planned."""

    def sleep(seconds: float) -> None:
        clock.now_ms += math.ceil(seconds * 1000)

    def limiter(factor: float | None) -> ClientRateLimiter:
        return ClientRateLimiter(factor, clock=lambda: clock.now_ms / 1000, sleep=sleep)

    monkeypatch.setattr("iterbridge.connection.ClientRateLimiter", limiter)


def _export(sandbox: Sandbox, tmp_path: Path, target: Path, *options: str, what: str = "Events", **env: str) -> Result:
    environment = {**cli_env(tmp_path, sandbox), **env}
    args = ["export", what, "-o", str(target), *options]
    return CliRunner().invoke(main, args, env=environment, catch_exceptions=False)


def test_unfiltered_events_under_real_limits_go_through_export_jobs(
    project: Callable[..., tuple[Sandbox, Stats, FakeClock]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paced, paced_stats, clock = project(1.0)  # Iterable's limits: data.json 4 at once, then 4 a minute
    free, free_stats, _ = project(None)  # the same project, without limits
    _virtual_limiter(monkeypatch, clock)
    started_ms = clock.now_ms

    result = _export(paced, tmp_path, tmp_path / "paced.csv", "--rate-limits", "real")
    assert result.exit_code == 0, result.output
    made = paced_stats.by_endpoint()
    jobs = made[START]
    # Each event type read once, one way: data.json while a call would not wait (the burst, then a slot freed
    # now and then as the minutes pass), an export job when it would.
    assert made[DATA_JSON] + jobs == len(EVENT_TYPES)
    assert made[DATA_JSON] >= BURST
    assert jobs >= len(EVENT_TYPES) // 2
    assert jobs <= made[FILES] <= 3 * jobs  # a poll or two, and the empty page that ends the file list
    assert sum(made.values()) <= len(EVENT_TYPES) + 3 * jobs
    assert not any("429" in statuses for statuses in paced_stats.snapshot().values())  # paced, never refused
    # Through data.json alone, each call beyond the burst waits 15 s (12 min for 52 types, as the issue saw);
    # an export job's calls wait about a second each (1 a second per organization).
    waited_s = (clock.now_ms - started_ms) / 1000
    assert waited_s <= made[START] + made[FILES] + 15
    assert waited_s < (len(EVENT_TYPES) - BURST) * 15 / 4

    result = _export(free, tmp_path, tmp_path / "free.csv", ITERBRIDGE_RATE_LIMITS="off")
    assert result.exit_code == 0, result.output
    assert free_stats.by_endpoint()[DATA_JSON] == len(EVENT_TYPES)  # no limits: data.json, one call per type
    assert START not in free_stats.by_endpoint()

    # The same rows and columns, event type after event type in the same order.
    with_jobs, with_data_json = read_csv(tmp_path / "paced.csv"), read_csv(tmp_path / "free.csv")
    assert len(with_jobs) > 100
    assert list(with_jobs[0]) == list(with_data_json[0])
    assert [r["EventType"] for r in with_jobs] == [r["EventType"] for r in with_data_json]
    assert sorted(map(_key, with_jobs)) == sorted(map(_key, with_data_json))


def _key(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row.values())


def test_progress_shows_within_a_second_before_any_row(
    project: Callable[..., tuple[Sandbox, Stats, FakeClock]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, stats, _ = project(None)
    stats.faults(latency_ms=600, slow_endpoint=DATA_JSON)  # the first rows come late
    monkeypatch.setattr(progress_module, "FIRST_REPORT_S", 0.1)
    result = _export(sandbox, tmp_path, tmp_path / "users.csv", "--rate-limits", "off", what="Users")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("export Users: 0 rows, 0 rows/s, "), result.stderr
    assert " API call" in lines[0]
    assert lines[-1].startswith(f"{len(read_csv(tmp_path / 'users.csv')):,} rows × ")


def test_a_ticking_progress_reports_on_its_own(capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    monkeypatch.setattr(progress_module, "FIRST_REPORT_S", 0.01)
    with progress_module.RowProgress("export Users") as progress:
        progress(250)
        import time

        deadline = time.monotonic() + 5
        while "export Users" not in capsys.readouterr().err and time.monotonic() < deadline:
            time.sleep(0.01)
        assert time.monotonic() < deadline, "no line came by itself"
    assert progress.finish().endswith(" rows/s")


def test_explain_says_unfiltered_events_go_through_export_jobs_under_real_limits(tmp_path: Path) -> None:
    def plan(*options: str) -> dict[str, str]:
        args = ["query", "--sandbox", *options, "--explain", "--format", "json", "SELECT count(*) FROM Events"]
        result = CliRunner().invoke(main, args, env=cli_env(tmp_path))
        assert result.exit_code == 0, result.output
        row: dict[str, str] = json.loads(result.stdout)[0]
        return row

    paced = plan("--rate-limits", "real")
    assert "export jobs" in paced["endpoint"]
    assert paced["api calls"].endswith(f"{BURST} through data.json, {len(EVENT_TYPES) - BURST} export jobs "
                                       "(1 start + polls each)")  # fmt: skip
    free = plan("--rate-limits", "off")
    assert "export jobs" not in free["endpoint"]
    assert free["time under the rate limits"] == "no rate limit"


def test_sql_and_conn_read_choose_the_same_way(
    project: Callable[..., tuple[Sandbox, Stats, FakeClock]], monkeypatch: pytest.MonkeyPatch
) -> None:
    paced, paced_stats, clock = project(1.0)
    free, _, _ = project(None)
    _virtual_limiter(monkeypatch, clock)
    types = ", ".join(f"'{t}'" for t in EVENT_TYPES[: BURST + 2])
    sql = f"SELECT EventType, count(*), max(Id) FROM Events WHERE EventType IN ({types}) GROUP BY 1 ORDER BY 1"
    with connect_to(paced, rate_limit_factor=1.0) as conn, connect_to(free) as reference:
        assert conn.sql(sql).fetchall() == reference.sql(sql).fetchall()
        assert paced_stats.by_endpoint()[DATA_JSON] == BURST  # the burst, then export jobs
        assert paced_stats.by_endpoint()[START] == 2
        users = list(conn.read("Users", columns=["Email", "ProfileUpdatedAt"]))
        assert paced_stats.by_endpoint()[START] == 3  # data.json would still wait: a job
        assert users == list(reference.read("Users", columns=["Email", "ProfileUpdatedAt"]))
