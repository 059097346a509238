"""The base URL is checked in one place: malformed → one line, exit 2; plain http to another machine would send
the key unencrypted → refused unless --insecure-http / ITERBRIDGE_INSECURE_HTTP=1; loopback stays allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import iterbridge
from helpers import cli_env
from iterbridge.cli import main
from iterbridge.errors import ConfigurationError
from iterbridge.settings import ENV_INSECURE_HTTP, resolve

KEY = "insecure-key-51e0a7"
REMOTE = "http://api.example.test"


@pytest.fixture(autouse=True)
def no_machine_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ITERABLE_BASE_URL", "ITERABLE_REGION", "ITERBRIDGE_PROFILE", ENV_INSECURE_HTTP):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ITERBRIDGE_CONFIG", str(tmp_path / "config.toml"))


@pytest.mark.parametrize("url", [REMOTE, "http://10.0.0.8:8080", "http://[2001:db8::1]", "http://localhost.evil.test"])
def test_plain_http_to_another_machine_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"plain http to another machine.*--insecure-http") as caught:
        resolve(KEY, base_url=url)
    assert caught.value.exit_code == 2
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://127.3.2.1", "http://[::1]:9000/", "http://localhost:1", "http://LOCALHOST"]
)
def test_plain_http_to_this_machine_is_allowed(url: str) -> None:
    assert resolve(KEY, base_url=url).base_url == url.rstrip("/")


def test_the_opt_in_allows_it_from_an_argument_the_environment_or_a_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert resolve(KEY, base_url=REMOTE, insecure_http=True).insecure_http
    monkeypatch.setenv(ENV_INSECURE_HTTP, "1")
    assert resolve(KEY, base_url=REMOTE).base_url == REMOTE
    monkeypatch.delenv(ENV_INSECURE_HTTP)
    config = tmp_path / "profiles.toml"
    config.write_text(f'[profiles.lab]\napi_key = "{KEY}"\nbase_url = "{REMOTE}"\ninsecure_http = true\n')
    assert resolve(profile="lab", config=config).base_url == REMOTE


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://[::1", "not a valid URL"),
        ("http://127.0.0.1:99999", "not a valid URL"),
        ("http://127.0.0.1:port", "not a valid URL"),
        ("https://", "needs a host"),
        ("https://api.iterable.com/ x", "no spaces"),
        ("ftp://api.iterable.com", "must start with http:// or https://"),
        ("https://user:secret@api.iterable.com", "no user"),
    ],
)
def test_a_malformed_base_url_is_a_configuration_error(url: str, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words) as caught:
        resolve(KEY, base_url=url)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--base-url", "http://[::1"], "is not a valid URL"),
        (["--base-url", REMOTE], "plain http to another machine"),
    ],
)
def test_the_cli_says_it_in_one_line_with_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    env = {**cli_env(tmp_path), "ITERABLE_API_KEY": KEY}
    for command in (["query", "SELECT * FROM Lists"], ["export", "Lists", "-o", str(tmp_path / "l.csv")], ["check"]):
        result = CliRunner().invoke(main, [*command, *args], env=env)
        assert result.exit_code == 2, (command, result.output)
        assert result.stderr.count("\n") == 1, result.stderr
        assert words in result.stderr
        assert KEY not in result.output


def test_every_connected_command_offers_the_opt_in(tmp_path: Path) -> None:
    # With the flag, the URL passes the check: the command then fails to connect (nothing listens there).
    env = {**cli_env(tmp_path), "ITERABLE_API_KEY": KEY}
    result = CliRunner().invoke(main, ["query", "SELECT 1", "--base-url", "http://192.0.2.1", "--insecure-http"],
                                env=env)  # fmt: skip
    assert "plain http" not in result.output
    for command in ("query", "export", "import", "replicate", "sync", "check", "describe"):
        help_text = CliRunner().invoke(main, [command, "--help"], env=env).output
        assert "--insecure-http" in help_text, command


def test_connect_refuses_it_too() -> None:
    with pytest.raises(ConfigurationError, match="plain http"):
        iterbridge.connect(api_key=KEY, base_url=REMOTE)


def test_profile_save_checks_the_url_and_keeps_the_opt_in(tmp_path: Path) -> None:
    env = {**cli_env(tmp_path), "ITERABLE_API_KEY": KEY}
    refused = CliRunner().invoke(main, ["profile", "save", "lab", "--base-url", REMOTE], env=env)
    assert refused.exit_code == 2
    assert "plain http to another machine" in refused.stderr
    assert not (tmp_path / "config.toml").exists()
    saved = CliRunner().invoke(main, ["profile", "save", "lab", "--base-url", REMOTE, "--insecure-http"], env=env)
    assert saved.exit_code == 0, saved.output
    assert resolve(profile="lab", config=tmp_path / "config.toml").insecure_http
