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
from typing import Any, TypeVar

import click

from iterbridge.api.redaction import redact
from iterbridge.dburl import redact_text
from iterbridge.errors import IterbridgeError

F = TypeVar("F", bound=Callable[..., Any])

# Exit codes, one table for every command (listed in the README, under Commands).
FAILED_EXIT = 1  # the job failed (a table, rows rejected by the import)
SKIPPED_EXIT = 5  # a slice Iterable could not serve was skipped (reported)
RETRY_EXIT = 6  # sync: records wait in the retry table
INTERNAL_ERROR = 70  # EX_SOFTWARE
INTERRUPTED_EXIT = 130  # Ctrl-C (128 + SIGINT)
TERMINATED_EXIT = 143  # SIGTERM (128 + SIGTERM)


def connection_options(function: F) -> F:
    """--profile, --region, --base-url, --sandbox and --sandbox-scale; the key comes from ITERABLE_API_KEY or
    the profile. The command sees `sandbox` as False, True, or the embedded sandbox's SandboxConfig."""

    @functools.wraps(function)
    def with_sandbox_scale(*args: Any, sandbox_scale: str | None = None, **kwargs: Any) -> Any:
        if sandbox_scale is not None:
            if not kwargs.get("sandbox"):
                raise click.UsageError("--sandbox-scale needs --sandbox")
            from iterbridge.sandbox import SandboxConfig

            kwargs["sandbox"] = SandboxConfig(scale=sandbox_scale)
        return function(*args, **kwargs)

    decorators = [
        click.option("--profile", default=None, help="A profile of the config file (see `iterbridge profile`)."),
        click.option("--region", default=None, type=click.Choice(["us", "eu"]), help="Iterable data centre."),
        click.option("--base-url", default=None, help="Override the API base URL."),
        click.option("--sandbox", is_flag=True, help="Run against an embedded sandbox (no account needed)."),
        click.option(
            "--sandbox-scale",
            default=None,
            type=click.Choice(["tiny", "small", "medium", "large"]),
            help="The embedded sandbox's size (default tiny; small: ~1k users, medium: ~100k users).",
        ),
    ]
    wrapped: Any = with_sandbox_scale
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return wrapped  # type: ignore[no-any-return]


def open_connection(
    profile: str | None, region: str | None, base_url: str | None, sandbox: Any, rate_limit_factor: float | None = 1.0
) -> Any:
    """The connection a command asked for; `rate_limit_factor` paces for the server (an embedded sandbox knows
    its own limits and overrides it)."""
    from iterbridge.connection import connect

    return connect(profile=profile, region=region, base_url=base_url, sandbox=sandbox,
                   rate_limit_factor=rate_limit_factor)  # fmt: skip


def echo_request(request: dict[str, Any], *, indent: int | None = 2, limit: int | None = None) -> None:
    """A request --dry-run recorded instead of sending: method and URL, then its JSON body."""
    click.echo(f"{request['method']} {request['url']}")
    if request.get("json") is not None:
        click.echo(json.dumps(request["json"], indent=indent, ensure_ascii=False, default=str)[:limit])


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
