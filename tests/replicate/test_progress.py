"""Progress while tables are read: `watch` sees the tables still running every few seconds, with how far an
export has got in its time range and an estimate of the time left; `iterbridge replicate` prints it on stderr
(`--progress-every`), never with --json."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx2
from click.testing import CliRunner

from helpers import FakeClock, Stats, cli_env, connect_to
from iterbridge.api.exports import WindowPolicy
from iterbridge.cli import main
from iterbridge.replicate import StreamProgress, StreamReport
from iterbridge.sandbox import Sandbox


def test_watch_sees_running_tables_and_how_far_they_have_got(small: tuple[Sandbox, FakeClock], tmp_path: Path) -> None:
    # Two event types read in 30-day windows, each answered 40 ms late: a look every 20 ms falls while an
    # export is half read, however fast or busy the machine.
    events: list[tuple[str, object]] = []

    def watch(running: list[StreamProgress]) -> None:
        events.append(("watch", running))

    def progress(report: StreamReport) -> None:
        events.append(("done", report.table))

    windows = WindowPolicy(initial=timedelta(days=30), maximum=timedelta(days=30))
    tables = ["Events_emailSend", "Events_emailOpen", "Lists"]
    with httpx2.Client(base_url=small[0].url, timeout=30) as admin:
        admin.post("/_sandbox/faults", json={"latency_ms": 40, "slow_endpoint": "GET /api/export/data.json"})
        try:
            with connect_to(small[0], window_policy=windows) as conn:
                report = conn.replicate(f"sqlite:///{tmp_path / 'copy.db'}", tables, workers=2, watch=watch,
                                        watch_every_s=0.02, progress=progress)  # fmt: skip
        finally:
            admin.post("/_sandbox/faults", json={"latency_ms": 0, "slow_endpoint": ""}).raise_for_status()
    assert report.ok
    snapshots = [p for kind, running in events if kind == "watch" for p in running]  # type: ignore[attr-defined]
    assert snapshots, "the run was long enough for several looks"
    finished: set[str] = set()
    last_rows: dict[str, int] = {}
    for kind, value in events:
        if kind == "done":
            finished.add(str(value))
            continue
        for seen in value:  # type: ignore[attr-defined]
            assert seen.table not in finished  # a finished table is no longer shown
            assert seen.rows_read >= last_rows.get(seen.table, 0)  # counts only grow
            assert seen.rows_read <= report.stream(seen.table).rows_read
            last_rows[seen.table] = seen.rows_read
            assert seen.fraction is None or 0.0 <= seen.fraction <= 1.0
            assert seen.eta_s is None or seen.eta_s >= 0
    # Some export was caught half-way, with an estimate of what is left.
    halfway = [s for s in snapshots if s.fraction is not None and 0.05 < s.fraction < 0.95 and s.eta_s is not None]
    assert halfway, [(s.table, s.fraction) for s in snapshots]
    assert all(s.table.startswith("Events_") for s in halfway)  # only exports have a time range
    assert any(s.rows_read < report.stream(s.table).rows_read for s in halfway)  # caught while reading


def test_the_cli_prints_progress_lines_unless_told_not_to(sandbox: Sandbox, stats: Stats, tmp_path: Path) -> None:
    stats.faults(latency_ms=40)  # every call a little slow: the run lasts several looks
    environment = cli_env(tmp_path, sandbox)
    base = ["replicate", "--rate-limits", "off", "--objects", "Lists,ListUsers,Events_emailSend"]

    def run(*extra: str, name: str) -> tuple[int, str, str]:
        args = [*base, "--to", f"sqlite:///{tmp_path / name}", *extra]
        result = CliRunner().invoke(main, args, env=environment)
        return result.exit_code, result.stdout, result.stderr

    code, _, shown = run("--progress-every", "0.01", name="a.db")
    assert code == 0, shown
    lines = [line for line in shown.splitlines() if line.startswith("  … ")]
    assert lines, shown
    assert all(" rows (" in line for line in lines)
    assert sandbox.api_key not in shown

    code, _, quiet = run("--progress-every", "0", name="b.db")
    assert code == 0
    assert "  … " not in quiet

    code, report, quiet = run("--progress-every", "0.01", "--json", name="c.db")
    assert code == 0
    assert "  … " not in quiet + report
