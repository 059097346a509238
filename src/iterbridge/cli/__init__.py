"""The `iterbridge` command: one module per subcommand; parsing, printing and exit codes only."""

from __future__ import annotations

import click

from iterbridge import __version__
from iterbridge.cli.sandbox import sandbox


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="iterbridge")
def main() -> None:
    """Iterable ⇄ SQL, CSV and relational databases."""


main.add_command(sandbox)
