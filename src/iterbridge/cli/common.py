"""What every command shares: connection options, one-line errors with exit codes, output helpers."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from iterbridge.api.redaction import redact
from iterbridge.errors import IterbridgeError

F = TypeVar("F", bound=Callable[..., Any])

INTERNAL_ERROR = 70  # EX_SOFTWARE


def connection_options(function: F) -> F:
    """--profile, --region, --base-url and --sandbox; the key comes from ITERABLE_API_KEY or the profile."""
    decorators = [
        click.option("--profile", default=None, help="A profile of the config file (see `iterbridge profile`)."),
        click.option("--region", default=None, type=click.Choice(["us", "eu"]), help="Iterable data centre."),
        click.option("--base-url", default=None, help="Override the API base URL."),
        click.option("--sandbox", is_flag=True, help="Run against an embedded sandbox (no account needed)."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def open_connection(profile: str | None, region: str | None, base_url: str | None, sandbox: bool) -> Any:
    from iterbridge.connection import connect

    return connect(profile=profile, region=region, base_url=base_url, sandbox=sandbox)


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {redact(message)}", err=True)
    sys.exit(code)


def handle_errors(function: F) -> F:
    """Expected errors → one line on stderr and their exit code; anything else → one line too (with
    ITERBRIDGE_DEBUG=1 the traceback is shown, for bug reports)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except IterbridgeError as error:
            fail(str(error), error.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)
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
