"""What every command shares: connection options, one-line errors with exit codes, output helpers."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

from iterbridge.api.redaction import redact
from iterbridge.dburl import redact_text
from iterbridge.errors import IterbridgeError
from iterbridge.settings import ENV_RATE_LIMITS, ENV_SUPPRESS_EXTENDED

if TYPE_CHECKING:
    from iterbridge.connection import Connection

F = TypeVar("F", bound=Callable[..., Any])

# Exit codes, one table for every command (listed in the README, under Commands).
FAILED_EXIT = 1  # the job failed (a table, rows rejected by the import)
SKIPPED_EXIT = 5  # a slice Iterable could not serve was skipped (reported)
RETRY_EXIT = 6  # sync: records wait in the retry table
INTERNAL_ERROR = 70  # EX_SOFTWARE
INTERRUPTED_EXIT = 130  # Ctrl-C (128 + SIGINT)
TERMINATED_EXIT = 143  # SIGTERM (128 + SIGTERM)


# The first line of every --sandbox command: its writes do not outlive it.
SANDBOX_NOTICE = (
    "sandbox: a fresh simulated project, discarded when this command ends (for one that lives across commands, "
    "run `iterbridge sandbox` and set ITERABLE_BASE_URL and ITERABLE_API_KEY to what it prints)"
)


def connection_options(function: F) -> F:
    """--profile, --region, --base-url, --insecure-http, --rate-limits, --suppress-extended-requests, --sandbox and
    --sandbox-scale, declared once for every command that talks to Iterable; the key comes from
    ITERABLE_API_KEY or the profile. The command sees `sandbox` as False, True, or the embedded sandbox's
    SandboxConfig; the pace, Suppress Extended Requests and --insecure-http reach `open_connection` through
    click's context."""

    @functools.wraps(function)
    def with_connection_settings(
        *args: Any,
        sandbox_scale: str | None = None,
        rate_limits: str | None = None,
        suppress_extended_requests: bool | None = None,
        insecure_http: bool = False,
        **kwargs: Any,
    ) -> Any:
        if sandbox_scale is not None and not kwargs.get("sandbox"):
            raise click.UsageError("--sandbox-scale needs --sandbox")
        factor = _rate_limit_factor(rate_limits)
        if kwargs.get("sandbox") and (sandbox_scale is not None or rate_limits is not None):
            from iterbridge.sandbox import SandboxConfig

            config = SandboxConfig() if sandbox_scale is None else SandboxConfig(scale=sandbox_scale)
            if rate_limits is not None:  # the embedded sandbox is started with the limits asked for
                config.rate_limit_factor = factor
            kwargs["sandbox"] = config
        settings: dict[str, Any] = {
            "rate_limit_factor": factor,
            "suppress_extended_requests": suppress_extended_requests,
        }
        if insecure_http:
            settings["insecure_http"] = True
        click.get_current_context().meta[_SETTINGS] = settings
        if kwargs.get("sandbox"):
            click.echo(SANDBOX_NOTICE, err=True)
        return function(*args, **kwargs)

    decorators = [
        click.option("--profile", default=None, help="A profile of the config file (see `iterbridge profile`)."),
        click.option("--region", default=None, type=click.Choice(["us", "eu"]), help="Iterable data centre."),
        click.option("--base-url", default=None, help="Override the API base URL."),
        click.option(
            "--insecure-http",
            is_flag=True,
            help="Allow a plain http:// base URL to another machine (the API key then travels unencrypted; "
            "also ITERBRIDGE_INSECURE_HTTP=1). Loopback needs no flag.",
        ),
        click.option(
            "--rate-limits",
            "rate_limits",
            default=None,
            metavar="real|off|xN",
            callback=_checked_rate_limits,
            help="The server's rate limits, paced for: real (Iterable's, the default), or a sandbox's setting "
            f"(off, xN); also {ENV_RATE_LIMITS} or a profile's rate_limits. With --sandbox: the embedded "
            "sandbox's limits (default off).",
        ),
        click.option(
            "--suppress-extended-requests/--no-suppress-extended-requests",
            "suppress_extended_requests",
            default=None,
            help="Never make the one GET per template that Templates' extended columns (Subject, HTML, …) cost: "
            f"they read NULL. Also {ENV_SUPPRESS_EXTENDED}=true or a profile's suppress_extended_requests.",
        ),
        click.option(
            "--sandbox",
            is_flag=True,
            help="Run against an embedded sandbox (no account needed): a fresh project, discarded when the command "
            "ends; `iterbridge sandbox` serves one that lives across commands.",
        ),
        click.option(
            "--sandbox-scale",
            default=None,
            type=click.Choice(["tiny", "small", "medium", "large"]),
            help="The embedded sandbox's size (default tiny; small: ~1k users, medium: ~100k users).",
        ),
    ]
    wrapped: Any = with_connection_settings
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return wrapped  # type: ignore[no-any-return]


_SETTINGS = "iterbridge.connection_settings"  # click context meta: what connection_options read


def _checked_rate_limits(context: click.Context, parameter: click.Parameter, value: str | None) -> str | None:
    """--rate-limits refused as it is parsed (before a missing argument or a connection)."""
    _rate_limit_factor(value)
    return value


def _rate_limit_factor(value: str | None) -> Any:
    """--rate-limits as a factor (None: off), or UNSET when not given (then the environment or profile)."""
    from iterbridge.connection import UNSET
    from iterbridge.limits import parse_rate_limits

    if value is None:
        return UNSET
    try:
        return parse_rate_limits(value)
    except ValueError:
        raise click.BadParameter(
            f"expected real, off or xN (e.g. x10), not {value!r}", param_hint="--rate-limits"
        ) from None


def open_connection(profile: str | None, region: str | None, base_url: str | None, sandbox: Any) -> Connection:
    """The connection a command asked for, with the pace and Suppress Extended Requests its options gave
    (an embedded sandbox knows its own limits)."""
    from iterbridge.connection import connect

    context = click.get_current_context(silent=True)
    settings = dict(context.meta.get(_SETTINGS, {})) if context is not None else {}
    return connect(profile=profile, region=region, base_url=base_url, sandbox=sandbox, **settings)


def echo_request(request: dict[str, Any], *, indent: int | None = 2, limit: int | None = None) -> None:
    """A request --dry-run recorded instead of sending: method and URL, then its JSON body."""
    click.echo(f"{request['method']} {request['url']}")
    if request.get("json") is not None:
        click.echo(json.dumps(request["json"], indent=indent, ensure_ascii=False, default=str)[:limit])


def report_reads(conn: Connection) -> None:
    """After a command's reads: its repaired and quarantined export lines, then every skipped slice, which
    ends the command with SKIPPED_EXIT (what could be read was delivered)."""
    for line in conn.quarantine.summary():
        click.echo(line, err=True)
    if conn.skipped:
        for skipped in conn.skipped:
            click.echo(f"skipped {skipped.object} {skipped.slice}: {skipped.reason}", err=True)
        raise SystemExit(SKIPPED_EXIT)


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {redact(redact_text(message))}", err=True)  # no API key, no database URL's password
    sys.exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a `timeout`, a stopping container or service), raised where the command is, so it unwinds as
    Ctrl-C does: transactions rolled back, temporary files removed, state left where its rows are."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # signals reach only the main thread
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def handle_errors(function: F) -> F:
    """Expected errors → one line on stderr and their exit code; anything else → one line too (with
    ITERBRIDGE_DEBUG=1 the traceback is shown, for bug reports). SIGTERM unwinds like Ctrl-C."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with terminate_as_interrupt():
                return function(*args, **kwargs)
        except IterbridgeError as error:
            fail(str(error), error.exit_code)
        except Terminated:
            fail("terminated", TERMINATED_EXIT)
        except KeyboardInterrupt:
            fail("interrupted", INTERRUPTED_EXIT)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as error:
            if os.environ.get("ITERBRIDGE_DEBUG"):
                raise
            fail(
                f"internal error ({type(error).__name__}): {error} — rerun with ITERBRIDGE_DEBUG=1 to report it",
                INTERNAL_ERROR,
            )
        return None

    return wrapper  # type: ignore[return-value]
