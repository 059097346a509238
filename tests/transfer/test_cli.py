"""The export and import commands as a user meets them: one-line errors with their exit codes, the API key in
no output (not even where Iterable echoes it back), --sandbox, progress on stderr."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import iterbridge
from helpers import cli_env
from iterbridge.cli import main
from iterbridge.cli.progress import RowProgress
from iterbridge.sandbox import Sandbox

from .support import one_line_error, read_csv, write_csv


@pytest.fixture
def bare(tmp_path: Path) -> CliRunner:
    return CliRunner(env=cli_env(tmp_path))


def test_a_refused_key_is_one_line_and_never_printed(sandbox: Sandbox, tmp_path: Path) -> None:
    wrong = "wrong-key-1234567890"
    env = {"ITERABLE_API_KEY": wrong, "ITERABLE_BASE_URL": sandbox.url, "ITERBRIDGE_CONFIG": str(tmp_path / "c")}
    path = write_csv(tmp_path / "lists.csv", ["Name"], [["x"]])
    for args in (["export", "Lists"], ["import", "Lists", str(path)]):
        result = CliRunner().invoke(main, args, env=env)
        message = one_line_error(result)
        assert "BadApiKey" in message or "Invalid API key" in message
        assert result.exit_code == 4
        assert wrong not in result.output


@pytest.mark.parametrize("command", [["export", "Lists"], ["import", "Lists", "x.csv"]])
def test_no_key_is_a_configuration_error(bare: CliRunner, command: list[str], tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("Name\nx\n")
    result = bare.invoke(main, [c if c != "x.csv" else str(tmp_path / c) for c in command])
    assert "API key" in one_line_error(result)
    assert result.exit_code == 2


def test_a_key_iterable_echoes_back_is_redacted(cli: Callable[..., Result], sandbox: Sandbox, tmp_path: Path,
                                                conn: iterbridge.Connection) -> None:  # fmt: skip
    """Iterable's BadJsonBody message repeats the request headers, Api-Key included: the reason keeps Iterable's
    explanation, never the key."""
    campaign = next(row for row in conn.read("Campaigns", where={"MessageMedium": "InApp", "Type": "Triggered"}))
    path = write_csv(tmp_path / "inapp.csv", ["CampaignId", "Email", "DataFields"],
                     [[campaign["Id"], "elijah.young0@example.net", "[1, 2]"]])  # fmt: skip
    rejects = tmp_path / "rejects.csv"
    result = cli("import", "InAppMessages", str(path), "--rejects", str(rejects))  # the fixture checks the output
    assert result.exit_code == 1
    reason = read_csv(rejects)[0]["_reason"]
    assert "BadJsonBody" in reason
    assert "obj.dataFields" in reason
    assert "error.expected.jsobject" in reason
    assert sandbox.api_key not in rejects.read_text()


def test_usage_errors_exit_2(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("import", "Lists", str(tmp_path / "x.csv"), "--operation", "merge")
    assert result.exit_code == 2
    assert "Invalid value for '--operation'" in result.stderr
    result = cli("export", "Lists", "--line-terminator", "nl")
    assert result.exit_code == 2


def test_an_unknown_object_on_import(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", ["Name"], [["x"]])
    assert "unknown object 'Lsts'; did you mean Lists" in one_line_error(cli("import", "Lsts", str(path)))


def test_export_and_import_with_the_embedded_sandbox(bare: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "lists.csv"
    result = bare.invoke(main, ["export", "Lists", "--sandbox", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert len(read_csv(target)) >= 1
    result = bare.invoke(main, ["import", "Lists", str(target), "--sandbox"])
    assert result.exit_code == 0, result.output
    assert "ignored columns: Id, CreatedAt, ListType, IsGlobalSuppressionEnabled" in result.stderr


def test_progress_goes_to_stderr_with_rows_per_second(cli: Callable[..., Result]) -> None:
    result = cli("export", "Campaigns")
    assert result.exit_code == 0
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("24 rows × 23 columns → - (")
    assert line.endswith(" rows/s)")
    assert "rows/s" not in result.stdout


class _Limiter:
    waited_s = 2.0


class _Client:
    calls = 10
    limiter = _Limiter()


class _Conn:
    client = _Client()


def test_progress_of_a_rate_limited_export_counts_calls_and_waits(capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    conn: Any = _Conn()
    progress = RowProgress("export Events", conn)
    conn.client.calls = 14  # 4 calls made since
    conn.client.limiter.waited_s = 47.5
    monkeypatch.setattr(progress, "interval", 0.0)
    progress(5000)
    line = capsys.readouterr().err.strip()
    assert line.startswith("export Events: 5,000 rows, ")
    assert "rows/s" in line
    assert line.endswith(", 4 API calls (45.5 s waiting for the rate limits)")
    assert progress.finish().endswith(" rows/s")
