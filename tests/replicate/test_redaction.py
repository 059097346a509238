"""Database passwords never shown: a target URL is redacted by parsing it (the userinfo's password, whole even
with an `@` in it, and password-like query parameters), by one function used wherever a URL is shown — the
"replicating into" line, the report (table and --json), and every error — and a short password does not
garble the rest of a message."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import iterbridge.api.client
from helpers import cli_env, postgres_database
from iterbridge.api.client import RetryPolicy
from iterbridge.cli import main
from iterbridge.dburl import redact_text, redact_url, url_secrets
from iterbridge.replicate.targets import one_line
from iterbridge.sandbox import Sandbox


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://me:pw@host/db", "postgresql://me:***@host/db"),
        ("postgresql://me:p@ss@host/db", "postgresql://me:***@host/db"),  # an `@` in the password
        ("postgresql://me:a/b:c@host:5432/db", "postgresql://me:***@host:5432/db"),
        ("postgresql://me@host/db?password=pw&sslmode=require", "postgresql://me@host/db?password=***&sslmode=require"),
        (
            "postgresql://h/db?sslpassword=k&PWD=x&api_token=t&secret=s&pass=p",
            "postgresql://h/db?sslpassword=***&PWD=***&api_token=***&secret=***&pass=***",
        ),
        ("postgresql://h/db?application_name=a@b", "postgresql://h/db?application_name=a@b"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("duckdb:///x.duckdb?motherduck_token=abc", "duckdb:///x.duckdb?motherduck_token=***"),
    ],
)
def test_redact_url_parses_the_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_short_password_does_not_garble_messages() -> None:
    error = RuntimeError("psycopg.OperationalError: connection failed for postgresql://u:p@h/db: password p refused")
    text = one_line(error, url_secrets("postgresql://u:p@h/db"))
    assert text == "psycopg.OperationalError: connection failed for postgresql://u:***@h/db: password *** refused"
    assert redact_text("see postgresql://u@h/db?password=hunter2, then retry") == (
        "see postgresql://u@h/db?password=***, then retry"
    )


@pytest.fixture
def run(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    fast = functools.partial(RetryPolicy, wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0)
    monkeypatch.setattr(iterbridge.api.client, "RetryPolicy", fast)

    def invoke(*args: str) -> Result:
        return CliRunner(env=cli_env(tmp_path, sandbox)).invoke(main, list(args))

    return invoke


@pytest.fixture
def query_password_url() -> Iterator[tuple[str, str]]:
    """A database of its own, its password moved from the userinfo to `?password=` (and that password)."""
    with postgres_database("redaction") as url:
        scheme, rest = url.split("://", 1)
        userinfo, place = rest.rsplit("@", 1)
        user, password = userinfo.split(":", 1)
        yield f"{scheme}://{user}@{place}?password={password}", password


def test_replicate_shows_no_password_from_the_query_string(
    run: Callable[..., Result], query_password_url: tuple[str, str]
) -> None:
    url, password = query_password_url
    table = run("replicate", "--rate-limits", "off", "--to", url, "--objects", "Lists")
    assert table.exit_code == 0, table.output
    as_json = run("replicate", "--rate-limits", "off", "--to", url, "--objects", "Lists", "--json")
    assert as_json.exit_code == 0, as_json.output
    for result in (table, as_json):
        assert f"password={password}" not in result.stdout + result.stderr
    assert f"replicating into {url.replace(f'password={password}', 'password=***')} …" in table.stderr
    assert json.loads(as_json.stdout)["target"].endswith("?password=***")


@pytest.mark.parametrize(
    ("url", "secret", "shown"),
    [
        ("postgresql://me@127.0.0.1:1/db?password=Hunter2x", "Hunter2x", "postgresql://me@127.0.0.1:1/db?password=***"),
        ("postgresql://me:Hunter2@x@127.0.0.1:1/db", "Hunter2", "postgresql://me:***@127.0.0.1:1/db"),
        ("postgresql://me:p@127.0.0.1:1/db", "***syco", "postgresql://me:***@127.0.0.1:1/db"),  # short: no garbling
    ],
)
def test_errors_show_no_password(run: Callable[..., Result], url: str, secret: str, shown: str) -> None:
    result = run("replicate", "--rate-limits", "off", "--to", url, "--objects", "Lists")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1  # the error alone: "replicating into" is said once the target is open
    assert lines[0].startswith(f"error: cannot open {shown}: ")
    assert secret not in result.stderr
    assert "@x@" not in result.stderr
    assert "x@127" not in result.stderr


def test_an_unexpected_error_naming_a_url_shows_no_password(
    run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The CLI's last line of defence: any error text passes through the same redaction."""
    import iterbridge.connection

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("lost postgresql://me:Hunter2@x@db.example/copy?sslpassword=k3y-Secret midway")

    monkeypatch.setattr(iterbridge.connection.Connection, "replicate", broken)
    result = run("replicate", "--rate-limits", "off", "--to", f"sqlite:///{tmp_path / 'c.db'}")
    assert result.exit_code == 70
    assert "lost postgresql://me:***@db.example/copy?sslpassword=*** midway" in result.stderr
    assert "Hunter2" not in result.stderr
    assert "k3y-Secret" not in result.stderr
