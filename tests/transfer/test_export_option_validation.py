"""CSV options that contradict each other or cannot work are refused before anything is read or written:
one line naming the option, exit code 2 — for export and import alike; and the sandbox's --port."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from iterbridge.cli import main
from iterbridge.sandbox import Sandbox, SandboxConfig, server
from iterbridge.sandbox.config import ConfigError

from .support import one_line_error, write_csv


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--delimiter", '"'], "--quote-char"),  # the default quote char
        (["--quote-char", ","], "--quote-char"),  # the default delimiter
        (["--delimiter", "semicolon", "--quote-char", ";"], "--quote-char"),
        (["--delimiter", "\n"], "--delimiter"),  # the line terminator
        (["--delimiter", "\r"], "--delimiter"),
        (["--quote-char", "\n"], "--quote-char"),
        (["--delimiter", ""], "--delimiter"),
        (["--delimiter", ";;"], "--delimiter"),
        (["--quote-char", ""], "--quote-char"),
        (["--quote-char", "''"], "--quote-char"),
        (["--quoting", "none", "--delimiter", "\\"], "--quoting none"),
        (["--date-format", "%Q"], "--date-format"),
        (["--date-format", "%Y-%m-%d %"], "--date-format"),
        (["--date-format", "%Y-%m-%d %-H"], "--date-format"),
        (["--date-format", "YYYY-MM-DD"], "--date-format"),
    ],
)
def test_a_contradictory_or_invalid_option_is_one_line_and_exit_2(
    cli: Callable[..., Result], tmp_path: Path, options: list[str], named: str
) -> None:
    target = tmp_path / "lists.csv"
    result = cli("export", "Lists", "-o", str(target), *options)
    assert named in one_line_error(result)
    assert result.exit_code == 2
    assert not target.exists()


def test_import_refuses_the_same_options(cli: Callable[..., Result], tmp_path: Path) -> None:
    source = write_csv(tmp_path / "lists.csv", ["Name"], [["VIP"]])
    result = cli("import", "Lists", str(source), "--quote-char", ",")
    assert "--quote-char" in one_line_error(result)
    assert result.exit_code == 2
    result = cli("import", "Lists", str(source), "--date-format", "%Q")
    assert "%Q is not a strftime directive" in one_line_error(result)
    assert result.exit_code == 2


@pytest.mark.parametrize("pattern", ["%d/%m/%Y %H:%M", "%Y%m%dT%H%M%S%z", "%a %d %b %Y, %I %p", "100%% %Y"])
def test_valid_date_formats_still_work(cli: Callable[..., Result], pattern: str) -> None:
    result = cli("export", "Lists", "--date-format", pattern)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_a_sandbox_port_out_of_range_is_one_line_and_exit_2(port: str, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[int] = []  # (were it accepted, the command must not serve forever in a test)
    monkeypatch.setattr(server, "serve_forever", lambda config, host, port, on_ready=None: served.append(port))
    result = CliRunner().invoke(main, ["sandbox", "--port", port])
    assert served == []
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"error: --port must be between 0 and 65535 (0: any free port), not {port}"
    assert result.stdout == ""  # it never listened (no base URL printed)


def test_the_python_sandbox_refuses_a_port_out_of_range() -> None:
    with pytest.raises(ConfigError, match="--port must be between 0 and 65535"):
        Sandbox(SandboxConfig(scale="empty"), port=70000)
