"""The catalog commands: objects, describe, check, profile — and errors as one line, never a traceback."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import cli_env
from iterbridge.cli import main
from iterbridge.objects import OBJECTS
from iterbridge.objects.procedures import PROCEDURES
from iterbridge.sandbox import Sandbox


@pytest.fixture
def runner(tmp_path: Path) -> CliRunner:
    return CliRunner(env=cli_env(tmp_path))


def test_objects_lists_every_object(runner: CliRunner) -> None:
    result = runner.invoke(main, ["objects"])
    assert result.exit_code == 0, result.output
    for name in OBJECTS:
        assert name in result.stdout
    for name in PROCEDURES:
        assert name in result.stdout
    assert result.stderr == ""


def test_objects_json_lists_every_object_with_its_operations(runner: CliRunner) -> None:
    result = runner.invoke(main, ["objects", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    objects = {o["name"]: o for o in listing["objects"]}
    assert list(objects) == list(OBJECTS)
    for name, obj in OBJECTS.items():
        assert objects[name]["operations"] == ["read", *obj.writes]
        assert objects[name]["keys"] == list(obj.keys)
        assert objects[name]["required_filters"] == list(obj.required_filters)
    assert objects["InAppMessages"]["required_filters"] == ["Email", "UserId"]
    assert objects["Users"]["operations"] == ["read", "insert", "update", "delete"]
    assert objects["Channels"]["operations"] == ["read"]
    trigger = next(p for p in listing["procedures"] if p["name"] == "TriggerCampaign")
    assert [(p["name"], p["required"]) for p in trigger["params"]][:2] == [("campaignId", True), ("listIds", True)]


def test_describe_an_object(runner: CliRunner) -> None:
    result = runner.invoke(main, ["describe", "campaigns"])
    assert result.exit_code == 0, result.output
    for column in OBJECTS["Campaigns"].columns:
        assert column.name in result.stdout
    assert "import only" in result.stdout
    assert "operations: read, insert" in result.stdout
    assert "incremental cursor: UpdatedAt" in result.stdout


def test_describe_json(runner: CliRunner) -> None:
    result = runner.invoke(main, ["describe", "InAppMessages", "--json"])
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert described["name"] == "InAppMessages"
    assert described["required_filters"] == ["Email", "UserId"]
    assert [c["name"] for c in described["columns"]] == [c.name for c in OBJECTS["InAppMessages"].columns]
    send_at = next(c for c in described["columns"] if c["name"] == "SendAt")
    assert send_at == {
        "name": "SendAt",
        "type": "TIMESTAMP",
        "key": False,
        "read_only": False,
        "import_only": True,
        "extended_request": False,
        "description": "Schedule the message (UTC)",
    }


def test_describe_users_without_a_key_explains_the_custom_fields(runner: CliRunner) -> None:
    result = runner.invoke(main, ["describe", "Users", "--json"])
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert "users/getFields" in described["note"]
    assert "firstName" not in [c["name"] for c in described["columns"]]


def test_describe_users_with_the_sandbox_includes_custom_fields(runner: CliRunner) -> None:
    result = runner.invoke(main, ["describe", "Users", "--sandbox", "--json"])
    assert result.exit_code == 0, result.output
    columns = {c["name"]: c["type"] for c in json.loads(result.stdout)["columns"]}
    assert columns["firstName"] == "TEXT"
    assert columns["loyaltyPoints"] == "INTEGER"
    assert columns["isVip"] == "BOOLEAN"
    assert columns["ExtraFields"] == "JSON"
    table = runner.invoke(main, ["describe", "Users", "--base-url", "http://127.0.0.1:1"], env={"ITERABLE_API_KEY": ""})
    assert "custom fields are added" in table.stdout


def test_describe_users_against_a_project(runner: CliRunner, sandbox: Sandbox) -> None:
    env = {"ITERABLE_API_KEY": sandbox.api_key, "ITERABLE_BASE_URL": sandbox.url}
    result = runner.invoke(main, ["describe", "Users"], env=env)
    assert result.exit_code == 0, result.output
    assert "lifetimeValue" in result.stdout
    assert "REAL" in result.stdout


def test_check_with_the_sandbox(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", "--sandbox"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("key accepted by http://127.0.0.1:")
    assert "server-side key" in result.stdout


def test_the_embedded_sandbox_can_be_bigger(runner: CliRunner) -> None:
    tiny = runner.invoke(main, ["query", "--sandbox", "--format", "csv", "SELECT count(*) FROM Users"])
    small = runner.invoke(
        main, ["query", "--sandbox", "--sandbox-scale", "small", "--format", "csv", "SELECT count(*) FROM Users"]
    )
    assert (tiny.exit_code, small.exit_code) == (0, 0), tiny.output + small.output
    assert int(small.stdout.splitlines()[1]) > 10 * int(tiny.stdout.splitlines()[1])


def test_a_sandbox_scale_without_the_sandbox_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", "--sandbox-scale", "small"])
    assert result.exit_code == 2
    assert "--sandbox-scale needs --sandbox" in result.output


def test_check_a_read_only_key(runner: CliRunner, sandbox: Sandbox) -> None:
    env = {"ITERABLE_API_KEY": "sandbox-read-only-key", "ITERABLE_BASE_URL": sandbox.url}
    result = runner.invoke(main, ["check"], env=env)
    assert result.exit_code == 0, result.output
    assert "read-only key" in result.stdout
    assert "no exports" in result.stdout


def test_profile_save_list_path(runner: CliRunner, tmp_path: Path, sandbox: Sandbox) -> None:
    config = tmp_path / "config.toml"
    assert runner.invoke(main, ["profile", "path"]).stdout.strip() == str(config)
    empty = runner.invoke(main, ["profile", "list"])
    assert empty.exit_code == 0
    assert "no profiles" in empty.stdout
    saved = runner.invoke(
        main, ["profile", "save", "local", "--base-url", sandbox.url], env={"ITERABLE_API_KEY": sandbox.api_key}
    )
    assert saved.exit_code == 0, saved.output
    assert "mode 0600" in saved.stdout
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    prompted = runner.invoke(main, ["profile", "save", "eu-store", "--region", "eu"], input="k-eu\n")
    assert prompted.exit_code == 0, prompted.output
    listed = runner.invoke(main, ["profile", "list"])
    assert listed.stdout.splitlines() == [f"local\tregion=us\tbase_url={sandbox.url}", "eu-store\tregion=eu"]
    assert sandbox.api_key not in listed.stdout
    assert "k-eu" not in listed.stdout
    checked = runner.invoke(main, ["check", "--profile", "local"])
    assert checked.exit_code == 0, checked.output
    assert sandbox.url in checked.stdout


@pytest.mark.parametrize(
    ("arguments", "env", "code", "message"),
    [
        (["check"], {}, 2, "error: no Iterable API key"),
        (["check", "--profile", "nope"], {}, 2, "error: no profile 'nope'"),
        (["check", "--base-url", "ftp://x"], {"ITERABLE_API_KEY": "k"}, 2, "error: base URL must start with http"),
        (["describe", "Campain"], {}, 2, "error: unknown object 'Campain'; did you mean Campaigns"),
        (
            ["profile", "save", "x", "--region", "eu"],
            {"ITERABLE_API_KEY": "k", "ITERBRIDGE_CONFIG": "/proc/x/y"},
            2,
            "error: cannot write the config file /proc/x/y: ",
        ),
    ],
)
def test_errors_are_one_line_with_an_exit_code(
    runner: CliRunner, arguments: list[str], env: dict[str, str], code: int, message: str
) -> None:
    result = runner.invoke(main, arguments, env=env)
    assert result.exit_code == code, result.output
    assert result.stderr.startswith(message or "error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_a_refused_key_is_one_line(runner: CliRunner, sandbox: Sandbox) -> None:
    result = runner.invoke(main, ["check"], env={"ITERABLE_API_KEY": "wrong", "ITERABLE_BASE_URL": sandbox.url})
    assert result.exit_code == 4
    assert result.stderr.strip() == "error: GET /api/channels → 401 BadApiKey: Invalid API key"


def test_an_unexpected_error_is_one_line(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    import iterbridge.cli.objects

    def broken(name: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(iterbridge.cli.objects, "get_object", broken)
    result = runner.invoke(main, ["describe", "Lists"])
    assert result.exit_code == 70
    assert result.stderr.startswith("error: internal error (RuntimeError): boom")
    assert "ITERBRIDGE_DEBUG=1" in result.stderr
    debug = runner.invoke(main, ["describe", "Lists"], env={"ITERBRIDGE_DEBUG": "1"})
    assert isinstance(debug.exception, RuntimeError)


def test_profile_save_reads_the_key_from_stdin_or_a_hidden_prompt(runner: CliRunner, tmp_path: Path) -> None:
    piped = runner.invoke(main, ["profile", "save", "piped", "--api-key-stdin"], input="k-piped\n")
    assert piped.exit_code == 0, piped.output
    assert "k-piped" not in piped.output
    prompted = runner.invoke(main, ["profile", "save", "prompted"], input="k-prompted\n")
    assert prompted.exit_code == 0, prompted.output
    assert "k-prompted" not in prompted.output  # hidden: not echoed
    argument = runner.invoke(main, ["profile", "save", "argument", "--api-key", "k-argument"])
    assert argument.exit_code == 0, argument.output
    assert "process list" in argument.stderr  # saved, with a word about where the key was seen
    text = (tmp_path / "config.toml").read_text()
    assert all(f'api_key = "k-{name}"' in text for name in ("piped", "prompted", "argument"))
    both = runner.invoke(main, ["profile", "save", "x", "--api-key", "k", "--api-key-stdin"], input="k\n")
    assert both.exit_code == 2
    help_text = runner.invoke(main, ["profile", "save", "--help"]).stdout
    assert "--api-key-stdin" in help_text
    assert "process list" in help_text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["café"], "error: profile name 'café'"),
        (["ok", "--base-url", "http://127.0.0.1:9/\nx"], "error: base URL"),
        (["ok", "--api-key-stdin"], "error: the API key is empty"),
    ],
)
def test_profile_save_refuses_what_it_could_not_read_back(
    runner: CliRunner, tmp_path: Path, arguments: list[str], message: str
) -> None:
    result = runner.invoke(main, ["profile", "save", *arguments], input="\n", env={"ITERABLE_API_KEY": "k"})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "config.toml").exists()


def test_a_broken_config_file_blocks_only_commands_that_need_it(
    runner: CliRunner, tmp_path: Path, sandbox: Sandbox
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.default]\napi_key = "k"\n[profiles.caf\xe9]\n')
    from_env = runner.invoke(
        main, ["check"], env={"ITERABLE_API_KEY": sandbox.api_key, "ITERABLE_BASE_URL": sandbox.url}
    )
    assert from_env.exit_code == 0, from_env.output
    embedded = runner.invoke(main, ["check", "--sandbox"])
    assert embedded.exit_code == 0, embedded.output
    named = runner.invoke(main, ["check", "--profile", "default"], env={"ITERABLE_API_KEY": sandbox.api_key})
    assert named.exit_code == 2
    assert named.stderr.startswith(f"error: cannot read the config file {config}: ")
    assert named.stderr.strip().endswith("(at line 3, column 14)")


def test_a_sandbox_command_says_first_that_its_project_is_discarded(runner: CliRunner, sandbox: Sandbox) -> None:
    embedded = runner.invoke(main, ["check", "--sandbox"])
    assert embedded.exit_code == 0, embedded.output
    first = embedded.stderr.splitlines()[0]
    assert first.startswith("sandbox: a fresh simulated project, discarded when this command ends")
    assert "`iterbridge sandbox`" in first
    assert "ITERABLE_BASE_URL" in first
    served = runner.invoke(main, ["check"], env={"ITERABLE_API_KEY": sandbox.api_key, "ITERABLE_BASE_URL": sandbox.url})
    assert served.exit_code == 0, served.output
    assert "discarded" not in served.stderr  # a served sandbox (or Iterable) keeps what is written
    assert "discarded when the command ends" in " ".join(runner.invoke(main, ["query", "--help"]).stdout.split())
