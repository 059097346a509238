"""`iterbridge ui`: serve the web console on loopback and open it in the browser (or print its URL)."""

from __future__ import annotations

import webbrowser
from typing import Any

import click

from iterbridge.cli.common import connection_options, handle_errors, open_connection


@click.command("ui")
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="Port on 127.0.0.1 (default: any free one).")
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
@connection_options
@handle_errors
def ui_command(
    port: int, no_browser: bool, profile: str | None, region: str | None, base_url: str | None, sandbox: Any
) -> None:
    """A web console on this machine: connection, objects, SQL with EXPLAIN, replicate and sync, import.

    It listens on 127.0.0.1 only. The URL it prints carries a random token: whoever has it can use the
    console with this connection's key until the command ends (Ctrl-C). Nothing is served to another machine
    and the page loads nothing from the internet.
    """
    from iterbridge.ui import Console, ConsoleServer

    conn = open_connection(profile, region, base_url, sandbox)
    console = Console(conn, sandbox=bool(sandbox))
    try:
        with ConsoleServer(console, port=port) as server:
            click.echo(f"iterbridge console: {server.url}")
            click.echo("(the token in this URL is the key to the console; Ctrl-C stops it)", err=True)
            if not no_browser:
                webbrowser.open(server.url)
            try:
                server.wait()
            except KeyboardInterrupt:  # Ctrl-C (or SIGTERM) is how a console is stopped: no error
                click.echo("console stopped", err=True)
    finally:
        console.close()
