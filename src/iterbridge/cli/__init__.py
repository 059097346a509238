"""The `iterbridge` command: one module per subcommand; parsing, printing and exit codes only."""

from __future__ import annotations

import click

from iterbridge import __version__
from iterbridge.cli.objects import describe_command, objects_command
from iterbridge.cli.profile import check_command, profile_group
from iterbridge.cli.query import query_command
from iterbridge.cli.replicate import replicate_command
from iterbridge.cli.sandbox import sandbox
from iterbridge.cli.sync import sync_command
from iterbridge.cli.transfer import export_command, import_command
from iterbridge.cli.ui import ui_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="iterbridge")
def main() -> None:
    """Iterable ⇄ SQL, CSV and relational databases."""


for command in (
    replicate_command,
    sync_command,
    query_command,
    export_command,
    import_command,
    sandbox,
    objects_command,
    describe_command,
    check_command,
    profile_group,
    ui_command,
):
    main.add_command(command)
