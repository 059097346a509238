"""`iterbridge profile`: named connection settings in the config file (written with mode 0600)."""

from __future__ import annotations

import sys
from typing import Any

import click
from click.core import ParameterSource

from iterbridge.cli.common import connection_options, handle_errors, open_connection
from iterbridge.settings import check_base_url, check_profile_name, config_path, load_profiles, save_profile


@click.group("profile")
def profile_group() -> None:
    """Manage named Iterable projects (profiles) in the config file."""


@profile_group.command("save")
@click.argument("name")
@click.option("--region", default="us", show_default=True, type=click.Choice(["us", "eu"]))
@click.option("--base-url", default=None, help="Override the API base URL.")
@click.option("--insecure-http", is_flag=True, help="Allow a plain http:// base URL to another machine.")
@click.option(
    "--api-key-stdin",
    is_flag=True,
    help="Read the key from the first line of standard input (e.g. from a password manager's pipe).",
)
@click.option(
    "--api-key",
    default=None,
    envvar="ITERABLE_API_KEY",
    help="The key, also from ITERABLE_API_KEY. Given here it shows in the process list and the shell history: "
    "prefer the hidden prompt (the default when no key is given) or --api-key-stdin.",
)
@click.option("--rate-limits", default=None, metavar="real|off|xN", help="The server's pace (default real).")
@click.option(
    "--suppress-extended-requests/--no-suppress-extended-requests",
    default=None,
    help="Templates' extended columns read NULL (no GET per template).",
)
@handle_errors
def save(
    name: str,
    region: str,
    base_url: str | None,
    insecure_http: bool,
    api_key_stdin: bool,
    api_key: str | None,
    rate_limits: str | None,
    suppress_extended_requests: bool | None,
) -> None:
    """Save (or replace) profile NAME (ASCII letters, digits, '-', '_').

    The key is asked for at a hidden prompt, or read from stdin with --api-key-stdin, or taken from
    ITERABLE_API_KEY; --api-key KEY works too but leaves the key in the process list and shell history.
    """
    check_profile_name(name)  # before asking for a key
    if base_url:
        check_base_url(base_url, insecure_http)
    source = click.get_current_context().get_parameter_source("api_key")
    if api_key_stdin:
        if source is ParameterSource.COMMANDLINE:
            raise click.UsageError("give the key with --api-key or --api-key-stdin, not both")
        api_key = sys.stdin.readline().strip()
    elif api_key is None:
        api_key = str(click.prompt("API key", hide_input=True)).strip()
    path = save_profile(
        name,
        api_key=api_key,
        region=region,
        base_url=base_url,
        insecure_http=insecure_http,
        rate_limits=rate_limits,
        suppress_extended_requests=suppress_extended_requests,
    )
    click.echo(f"saved profile {name!r} in {path} (mode 0600)")
    if source is ParameterSource.COMMANDLINE:
        click.echo(
            "warning: --api-key leaves the key in the process list and shell history; "
            "next time use the prompt or --api-key-stdin",
            err=True,
        )


@profile_group.command("list")
@handle_errors
def list_profiles() -> None:
    """The profiles of the config file (never their keys)."""
    profiles = load_profiles()
    if not profiles:
        click.echo(f"no profiles in {config_path()}")
    for name, entry in profiles.items():
        shown = [f"region={entry.get('region', 'us')}"]
        shown += [
            f"{key}={entry[key]}"
            for key in ("base_url", "rate_limits", "suppress_extended_requests")
            if entry.get(key) not in (None, "")
        ]
        click.echo("\t".join([name, *shown]))


@profile_group.command("path")
def path() -> None:
    """Where the config file is."""
    click.echo(str(config_path()))


@click.command("check")
@connection_options
@handle_errors
def check_command(profile: str | None, region: str | None, base_url: str | None, sandbox: Any) -> None:
    """Verify the API key and report what it may read."""
    with open_connection(profile, region, base_url, sandbox) as conn:
        click.echo(conn.check().describe())
