"""Progress while tables are read: `watch` sees the tables still running every few seconds, with how far an
export has got in its time range and an estimate of the time left; `iterbridge replicate` prints it on stderr
(`--progress-every`), never with --json."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from helpers import FakeClock, Stats, cli_env, connect_to
from iterbridge.cli import main
from iterbridge.replicate import StreamProgress, StreamReport
from iterbridge.sandbox import Sandbox


def test_watch_sees_running_tables_and_how_far_they_have_got(small: tuple[Sandbox, FakeClock], tmp_path: Path) -> None:
    # Whether a look falls while an export is half read depends on the machine's pace: every run must keep
    # the invariants, and one of (at most) three runs must catch an export half-way.
    caught: list[StreamProgress] = []
    for attempt in range(3):
        caught = _watched_run(small[0], tmp_path / f"copy{attempt}.db")
        if caught:
            break
    assert caught, "no look caught an export half-way in three runs"


def _watched_run(sandbox: Sandbox, path: Path) -> list[StreamProgress]:
    """One replication watched every 20 ms: the invariants of what the looks show are asserted; the looks that
    caught an export half-way, with an estimate of what is left and rows still to come, are returned."""
    events: list[tuple[str, object]] = []

    def watch(running: list[StreamProgress]) -> None:
        events.append(("watch", running))

    def progress(report: StreamReport) -> None:
        events.append(("done", report.table))

    with connect_to(sandbox) as conn:
        report = conn.replicate(f"sqlite:///{path}", ["Events", "Lists"], workers=2, watch=watch,
                                watch_every_s=0.02, progress=progress)  # fmt: skip
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
    halfway = [s for s in snapshots if s.fraction is not None and 0.05 < s.fraction < 0.95 and s.eta_s is not None]
    assert all(s.table.startswith("Events_") for s in halfway)  # only exports have a time range
    return [s for s in halfway if s.rows_read < report.stream(s.table).rows_read]  # caught while reading


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
