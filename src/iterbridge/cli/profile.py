"""`iterbridge profile`: named connection settings in the config file (written with mode 0600)."""

from __future__ import annotations

from typing import Any

import click

from iterbridge.cli.common import connection_options, handle_errors, open_connection
from iterbridge.settings import config_path, load_profiles, save_profile


@click.group("profile")
def profile_group() -> None:
    """Manage named Iterable projects (profiles) in the config file."""


@profile_group.command("save")
@click.argument("name")
@click.option("--region", default="us", show_default=True, type=click.Choice(["us", "eu"]))
@click.option("--base-url", default=None, help="Override the API base URL.")
@click.option(
    "--api-key",
    prompt=True,
    hide_input=True,
    envvar="ITERABLE_API_KEY",
    help="The key (prompted for, hidden, when not in ITERABLE_API_KEY).",
)
@click.option("--rate-limits", default=None, metavar="real|off|xN", help="The server's pace (default real).")
@click.option("--suppress-extended-requests/--no-suppress-extended-requests", default=None,
              help="Templates' extended columns read NULL (no GET per template).")  # fmt: skip
@handle_errors
def save(name: str, region: str, base_url: str | None, api_key: str, rate_limits: str | None,
         suppress_extended_requests: bool | None) -> None:  # fmt: skip
    """Save (or replace) profile NAME."""
    path = save_profile(name, api_key=api_key, region=region, base_url=base_url, rate_limits=rate_limits,
                        suppress_extended_requests=suppress_extended_requests)  # fmt: skip
    click.echo(f"saved profile {name!r} in {path} (mode 0600)")


@profile_group.command("list")
@handle_errors
def list_profiles() -> None:
    """The profiles of the config file (never their keys)."""
    profiles = load_profiles()
    if not profiles:
        click.echo(f"no profiles in {config_path()}")
    for name, entry in profiles.items():
        shown = [f"region={entry.get('region', 'us')}"]
        shown += [f"{key}={entry[key]}" for key in ("base_url", "rate_limits", "suppress_extended_requests")
                  if entry.get(key) not in (None, "")]  # fmt: skip
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
