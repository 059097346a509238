"""`iterbridge sandbox`: serve the Iterable simulator, or `--check` it once and print what it serves."""

from __future__ import annotations

import shlex
import sys
from datetime import UTC, datetime

import click

from iterbridge.cli.common import fail
from iterbridge.limits import describe_rate_limits
from iterbridge.sandbox import ConfigError, FaultError, Faults, SandboxConfig, parse_rate_limits
from iterbridge.sandbox.config import DEFAULT_API_KEY, SCALES, check_port
from iterbridge.settings import ENV_BASE_URL, ENV_KEY, ENV_RATE_LIMITS


def _anchor(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date like 2026-11-01, not {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def env_lines(url: str, api_key: str, rate_limit_factor: float | None) -> list[str]:
    """The settings a shell needs so every command talks to this sandbox at its pace (and not to a profile's
    project, nor at Iterable's pace when the sandbox runs without limits or faster)."""
    settings = {
        ENV_BASE_URL: url,
        ENV_KEY: api_key,
        ENV_RATE_LIMITS: describe_rate_limits(rate_limit_factor),
    }
    return [f"export {name}={shlex.quote(value)}" for name, value in settings.items()]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default).")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on (0: any free port).")
@click.option("--seed", default=42, show_default=True, type=int, help="Same seed, same project, same bytes.")
@click.option(
    "--scale",
    default="tiny",
    show_default=True,
    type=click.Choice(list(SCALES)),
    help="empty: a new project (channels and message types only); tiny: tens of records; "
    "small: ~1k users; medium: ~100k users, ~1M events; large: ~1M users, ~10M events.",
)
@click.option("--api-key", default=DEFAULT_API_KEY, show_default=True, help="The key clients must send.")
@click.option(
    "--rate-limits",
    "rate_limits",
    default="real",
    show_default=True,
    help="real: Iterable's documented limits; off; or xN to refill N times faster.",
)
@click.option("--region", default="us", show_default=True, type=click.Choice(["us", "eu"]))
@click.option("--anchor", default=None, help="End of the generated history (default: start of today, UTC).")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME=VALUE",
    help="Inject a fault, e.g. error_lists=123,456 or drop_after_lines=500 (see /_sandbox/faults).",
)
@click.option("--check", is_flag=True, help="Start on a free port, exercise every endpoint family, print a report.")
def sandbox(
    host: str,
    port: int,
    seed: int,
    scale: str,
    api_key: str,
    rate_limits: str,
    region: str,
    anchor: str | None,
    faults: tuple[str, ...],
    check: bool,
) -> None:
    """A faithful local simulator of the Iterable API.

    Serves until interrupted and prints its base URL, API key, and the lines to paste into a shell so other
    commands use it at its pace (ITERABLE_BASE_URL, ITERABLE_API_KEY, ITERBRIDGE_RATE_LIMITS); or use --sandbox
    on other commands.
    """
    try:
        check_port(port)
    except ConfigError as error:
        fail(str(error), 2)
    try:
        config = SandboxConfig(
            seed=seed,
            scale=scale,
            api_key=api_key,
            rate_limit_factor=parse_rate_limits(rate_limits),
            region=region,
            faults=Faults.parse(list(faults)),
        )
        if anchor is not None:
            config.anchor = _anchor(anchor) or config.anchor
    except (ConfigError, FaultError) as error:
        raise click.UsageError(str(error)) from None
    if check:
        from iterbridge.cli.sandbox_check import run_check

        sys.exit(run_check(config))
    from iterbridge.sandbox.server import serve_forever

    click.echo(f"Iterable sandbox ({scale}, seed {seed}, region {region}, rate limits {rate_limits})", err=True)

    def ready(url: str) -> None:  # once it listens: the real port (--port 0), and no race for a script reading it
        click.echo(f"base URL: {url}")
        click.echo(f"API key:  {api_key}")
        click.echo("To point iterbridge at it, paste into a shell:")
        for line in env_lines(url, api_key, config.rate_limit_factor):
            click.echo(f"  {line}")
        click.echo("Press Ctrl+C to stop.", err=True)

    try:
        serve_forever(config, host, port, on_ready=ready)
    except OSError as error:
        raise click.ClickException(f"cannot serve on {host}:{port}: {error.strerror or error}") from None
