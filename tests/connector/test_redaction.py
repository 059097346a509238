"""The API key never appears in a log line, an exception (message, repr, traceback) or the CLI's output."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import httpx2
import pytest
from click.testing import CliRunner

import iterbridge
from helpers import FakeClock
from iterbridge.api.redaction import MASK, redact
from iterbridge.cli import main
from iterbridge.errors import AuthenticationError, FatalApiError, IterbridgeError

from .support import FAST_RETRY

SECRET = "zq-SECRET-4f9c2a71d8e3b6"  # distinctive: any appearance is a leak
Serve = Callable[..., httpx2.Client]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger: iterbridge's, httpx2's, stamina's
    return caplog


@pytest.fixture
def project(serve: Serve) -> httpx2.Client:
    """A sandbox whose (valid) key is the secret."""
    return serve(FakeClock(), api_key=SECRET)


def _connect(base_url: str, key: str = SECRET) -> iterbridge.Connection:
    return iterbridge.connect(api_key=key, base_url=base_url, rate_limit_factor=None, retry=FAST_RETRY)


def assert_clean(error: BaseException | None, logs: pytest.LogCaptureFixture, *texts: str) -> None:
    seen = [*texts, *(record.getMessage() for record in logs.records), logs.text]
    seen += [record.exc_text or "" for record in logs.records]
    if error is not None:
        seen += [str(error), repr(error), "".join(traceback.format_exception(error)), str(error.args)]
    leaks = [text for text in seen if SECRET in text]
    assert leaks == []


def test_a_wrong_key(serve: Serve, logs: pytest.LogCaptureFixture) -> None:
    client = serve(FakeClock())  # its key is another one
    with _connect(str(client.base_url)) as conn, pytest.raises(AuthenticationError) as caught:
        list(conn.read("Lists"))
    assert "Invalid API key" in str(caught.value)
    assert_clean(caught.value, logs, repr(conn), repr(conn.client), repr(conn.settings))


def test_a_bad_json_body_that_echoes_the_key(project: httpx2.Client, logs: pytest.LogCaptureFixture) -> None:
    with _connect(str(project.base_url)) as conn:
        with pytest.raises(FatalApiError) as caught:
            conn.client.json("POST /api/events/track", json={"email": "a@example.com"})
        assert caught.value.code == "BadJsonBody"
        assert "eventName" in str(caught.value)
        report = conn.insert("Lists", [{"Name": 12345}])  # not a string: Iterable answers BadJsonBody
    raw = project.post("/api/events/track", json={"email": "a@example.com"}).json()["msg"]
    assert SECRET in raw  # the sandbox echoes it, like Iterable
    assert not report.results[0].ok
    assert_clean(caught.value, logs, report.results[0].error or "")


def test_a_message_that_is_only_the_echo_is_masked(project: httpx2.Client, logs: pytest.LogCaptureFixture) -> None:
    with _connect(str(project.base_url)):  # a connection registers its key for redaction
        logging.getLogger("iterbridge.api").warning("headers were %s", f"Api-Key: {SECRET}")
        logging.getLogger("iterbridge.objects.deep").error("and %s", SECRET)
    assert_clean(None, logs)
    assert MASK in logs.text
    assert redact(f"x{SECRET}y") == f"x{MASK}y"


def test_a_fatal_400(project: httpx2.Client, logs: pytest.LogCaptureFixture) -> None:
    with _connect(str(project.base_url)) as conn:
        blast = next(r for r in conn.read("Campaigns", columns=["Id", "Type"]) if r["Type"] == "Blast")
        with pytest.raises(FatalApiError, match="not a triggered campaign") as caught:
            conn.call("TriggerCampaign", blast["Id"], [1])
        deleted = conn.delete("Lists", [{"Id": 424242}])
    assert_clean(caught.value, logs, deleted.results[0].error or "")


def test_retries_and_skips(project: httpx2.Client, logs: pytest.LogCaptureFixture) -> None:
    lists = [lst["id"] for lst in project.get("/api/lists").json()["lists"]]
    project.post("/_sandbox/faults", json={"error_lists": [lists[0]], "burst_429": 2, "drop_after_lines": 3})
    with _connect(str(project.base_url)) as conn:
        rows = list(conn.read("ListUsers"))
        skipped = [s.reason for s in conn.skipped]
    assert rows
    assert skipped
    assert any("retrying" in record.getMessage() for record in logs.records)
    assert_clean(None, logs, *skipped)


def test_a_failing_cli_command(
    serve: Serve, project: httpx2.Client, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture
) -> None:
    other = serve(FakeClock())  # a project that does not know the secret
    monkeypatch.setenv("ITERABLE_API_KEY", SECRET)
    runner = CliRunner()
    for arguments in (
        ["check", "--base-url", str(other.base_url)],
        ["describe", "Users", "--base-url", str(other.base_url)],
        ["describe", "Users", "--json", "--base-url", str(other.base_url)],
    ):
        result = runner.invoke(main, arguments)
        assert result.exit_code == AuthenticationError.exit_code, result.output
        assert result.stderr.startswith("error: ")
        assert "Invalid API key" in result.stderr
        assert "Traceback" not in result.output
        assert_clean(result.exception if not isinstance(result.exception, SystemExit) else None, logs, result.output)
    result = runner.invoke(main, ["check", "--base-url", str(project.base_url)])  # the secret is right here
    assert result.exit_code == 0, result.output
    assert_clean(None, logs, result.output)


def test_profiles_never_print_keys(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITERBRIDGE_CONFIG", f"{tmp_path}/config.toml")
    runner = CliRunner()
    saved = runner.invoke(main, ["profile", "save", "work", "--region", "eu"], input=f"{SECRET}\n")
    assert saved.exit_code == 0, saved.output
    listed = runner.invoke(main, ["profile", "list"])
    assert "work\tregion=eu" in listed.stdout
    assert SECRET not in saved.output
    assert SECRET not in listed.output


def test_every_error_message_is_redacted_when_built() -> None:
    from iterbridge.api.redaction import register_secret

    register_secret(SECRET)
    error: IterbridgeError = FatalApiError(redact(f"bad: {SECRET}"), status=400)
    assert SECRET not in str(error)
