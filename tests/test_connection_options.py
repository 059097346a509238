"""Connection settings every connected command shares, declared once: the pace of the server (--rate-limits,
ITERBRIDGE_RATE_LIMITS, a profile's rate_limits) and Suppress Extended Requests (--suppress-extended-requests,
ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS, a profile's suppress_extended_requests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx2
import pytest
from click.testing import CliRunner

from helpers import Stats, cli_env
from iterbridge.cli import main
from iterbridge.errors import ConfigurationError
from iterbridge.objects.templates import EXTENDED_COLUMNS
from iterbridge.sandbox import Sandbox
from iterbridge.settings import resolve, save_profile

DETAIL = "GET /api/templates/{medium}/get"
# What each connected command needs to get as far as its connection.
ARGUMENTS = {
    "query": ["SELECT 1"],
    "export": ["Lists"],
    "import": ["Lists", "lists.csv"],
    "replicate": ["--to", "sqlite:///copy.db"],
    "sync": ["CatalogItems", "--catalog", "c", "--with", "sqlite:///sync.db"],
    "check": [],
    "describe": ["Users"],
}


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def _connected() -> dict[str, click.Command]:
    """The commands that talk to Iterable: those with the connection options (--base-url among them)."""
    return {
        " ".join(path): command
        for path, command in _commands(main)
        if any("--base-url" in p.opts for p in command.params)
    }


def test_every_connected_command_takes_the_pacing_options() -> None:
    connected = _connected()
    assert set(ARGUMENTS) <= set(connected)  # the walk finds them all (more may come; they are checked too)
    for name, command in connected.items():
        options = {opt for p in command.params for opt in p.opts}
        assert {"--rate-limits", "--suppress-extended-requests"} <= options, name


@pytest.mark.parametrize("name", sorted(ARGUMENTS))
def test_each_connected_command_passes_them_to_its_connection(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def connect(**settings: Any) -> Any:
        seen.update(settings)
        raise SystemExit(42)  # no further: what reached the connection is what is tested

    monkeypatch.setattr("iterbridge.connection.connect", connect)
    monkeypatch.chdir(tmp_path)
    args = [name, *ARGUMENTS[name], "--rate-limits", "x7", "--suppress-extended-requests"]
    result = CliRunner().invoke(main, args, env=cli_env(tmp_path))
    assert result.exit_code == 42, result.output
    assert seen["rate_limit_factor"] == 7.0
    assert seen["suppress_extended_requests"] is True

    result = CliRunner().invoke(main, [name, *ARGUMENTS[name], "--rate-limits", "fast"], env=cli_env(tmp_path))
    assert result.exit_code == 2
    assert "expected real, off or xN (e.g. x10), not 'fast'" in result.stderr


def test_settings_come_from_the_argument_then_the_environment_then_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    monkeypatch.setenv("ITERBRIDGE_CONFIG", str(config))
    for name in ("ITERABLE_API_KEY", "ITERBRIDGE_RATE_LIMITS", "ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS"):
        monkeypatch.delenv(name, raising=False)
    save_profile("default", api_key="k" * 32, rate_limits="X10", suppress_extended_requests=True)
    from_profile = resolve()
    assert (from_profile.rate_limit_factor, from_profile.suppress_extended_requests) == (10.0, True)
    monkeypatch.setenv("ITERBRIDGE_RATE_LIMITS", "off")
    monkeypatch.setenv("ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS", "false")
    from_environment = resolve()
    assert (from_environment.rate_limit_factor, from_environment.suppress_extended_requests) == (None, False)
    given = resolve(rate_limits="real", suppress_extended_requests=True)
    assert (given.rate_limit_factor, given.suppress_extended_requests) == (1.0, True)
    monkeypatch.setenv("ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS", "maybe")
    with pytest.raises(ConfigurationError, match="ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS must be true or false"):
        resolve()
    monkeypatch.setenv("ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS", "1")
    monkeypatch.setenv("ITERBRIDGE_RATE_LIMITS", "fast")
    with pytest.raises(ConfigurationError, match="ITERBRIDGE_RATE_LIMITS: rate limits must be real, off or xN"):
        resolve()


def test_the_environment_paces_a_command(sandbox: Sandbox, tmp_path: Path) -> None:
    explain = ["query", "--explain", "--format", "json", "SELECT Name FROM Lists"]

    def pace(**env: str) -> str:
        result = CliRunner().invoke(main, explain, env={**cli_env(tmp_path, sandbox), **env})
        assert result.exit_code == 0, result.output
        return str(json.loads(result.stdout)[0]["time under the rate limits"])

    assert pace() == "immediate (100.0 per second)"  # Iterable's limits unless told
    assert pace(ITERBRIDGE_RATE_LIMITS="off") == "no rate limit"
    assert pace(ITERBRIDGE_RATE_LIMITS="x10") == "immediate (1000.0 per second)"


def test_suppress_extended_requests_from_the_command_line(sandbox: Sandbox, stats: Stats, tmp_path: Path) -> None:
    sql = "SELECT Id, Subject FROM Templates WHERE MessageMedium = 'Email'"
    env = {**cli_env(tmp_path, sandbox), "ITERBRIDGE_RATE_LIMITS": "off"}

    def query(*options: str, **extra: str) -> list[dict[str, Any]]:
        result = CliRunner().invoke(main, ["query", "--format", "json", sql, *options], env={**env, **extra})
        assert result.exit_code == 0, result.output
        rows: list[dict[str, Any]] = json.loads(result.stdout)
        return rows

    with stats.counting() as made:
        suppressed = query("--suppress-extended-requests")
    assert suppressed
    assert all(row["Subject"] is None for row in suppressed)
    assert DETAIL not in made  # not one GET per template
    with stats.counting() as made:
        assert all(row["Subject"] is None for row in query(ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS="true"))
    assert DETAIL not in made
    with stats.counting() as made:
        full = query()
    assert made[DETAIL] == len(full)
    assert any(row["Subject"] for row in full)
    with stats.counting() as made:  # the command line overrides the environment both ways
        assert any(row["Subject"] for row in query("--no-suppress-extended-requests",
                                                   ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS="1"))  # fmt: skip
    assert made[DETAIL] == len(full)


def test_describe_marks_the_columns_that_cost_a_request_each(tmp_path: Path) -> None:
    runner = CliRunner(env=cli_env(tmp_path))
    described = json.loads(runner.invoke(main, ["describe", "Templates", "--json"]).stdout)
    marked = {c["name"] for c in described["columns"] if c["extended_request"]}
    assert marked == set(EXTENDED_COLUMNS)
    assert {"Id", "Name", "UpdatedAt"}.isdisjoint(marked)
    shown = runner.invoke(main, ["describe", "Templates"], terminal_width=200)
    assert shown.exit_code == 0
    for line in shown.stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) > 2 and cells[1] in {c["name"] for c in described["columns"]}:
            assert ("+1 GET each" in cells) == (cells[1] in EXTENDED_COLUMNS), line
    assert "--suppress-extended-requests" in " ".join(shown.stdout.split())
    lists = json.loads(runner.invoke(main, ["describe", "Lists", "--json"]).stdout)
    assert not any(c["extended_request"] for c in lists["columns"])


def test_the_sandbox_prints_the_lines_to_paste(sandbox: Sandbox, tmp_path: Path) -> None:
    from iterbridge.cli.sandbox import env_lines

    lines = env_lines("http://127.0.0.1:8765", "a key", 10.0)
    assert lines == [
        "export ITERABLE_BASE_URL=http://127.0.0.1:8765",
        "export ITERABLE_API_KEY='a key'",
        "export ITERBRIDGE_RATE_LIMITS=x10",
    ]
    assert env_lines("u", "k", None)[-1] == "export ITERBRIDGE_RATE_LIMITS=off"
    assert env_lines("u", "k", 1.0)[-1] == "export ITERBRIDGE_RATE_LIMITS=real"
    # What they say is what a command then uses.
    pasted = dict(line.removeprefix("export ").split("=", 1) for line in env_lines(sandbox.url, sandbox.api_key, None))
    result = CliRunner().invoke(main, ["check"], env={**cli_env(tmp_path), **pasted})
    assert result.exit_code == 0, result.output
    with httpx2.Client(base_url=sandbox.url, timeout=10) as admin:
        assert admin.get("/_sandbox/stats").json()["total"] > 0
