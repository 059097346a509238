"""`iterbridge query`: run SQL over Iterable objects, or open an interactive shell when no SQL is given."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click
import platformdirs
from rich.table import Table

from iterbridge.cli.common import (
    Terminated,
    connection_options,
    echo_request,
    fail,
    handle_errors,
    open_connection,
    report_reads,
)
from iterbridge.cli.console import make_console
from iterbridge.errors import IterbridgeError, QueryError
from iterbridge.objects import OBJECTS, get_object
from iterbridge.query import sqltext
from iterbridge.transfer.csvformat import CsvOptions
from iterbridge.wording import past_tense, plural

if TYPE_CHECKING:
    from iterbridge.connection import Connection

FORMATS = ("table", "csv", "json", "jsonl")
CELL_WIDTH = 60


def parse_param(text: str) -> tuple[str, Any]:
    """-p name=value: numbers and JSON are typed, anything else is text."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected name=value, not {text!r}", param_hint="-p")
    value: Any = raw
    try:
        value = json.loads(raw)
        if isinstance(value, (list, dict)):
            value = raw  # SQL takes JSON as text; CALL parses it
    except json.JSONDecodeError:
        value = raw
    return name.strip().lstrip(":"), value


def write_rows(
    columns: list[str],
    rows: Iterable[tuple[Any, ...]],
    output_format: str,
    out: TextIO,
    *,
    guard: bool = True,
    cell_width: int | None = CELL_WIDTH,
) -> int:
    """Rows in a format; CSV as `export` writes it (LF line ends), with its formula guard unless `guard` is off;
    a table's cells cut at `cell_width` (None: whole, wrapped at a terminal, e.g. an --explain plan)."""
    count = 0
    if output_format == "csv":
        options = CsvOptions(line_terminator="lf", formula_guard=guard)
        writer = options.writer(out)
        fmt = options.formatter()
        writer.writerow(columns)
        for row in rows:
            writer.writerow([fmt(v) for v in row])
            count += 1
    elif output_format == "jsonl":
        for row in rows:
            out.write(json.dumps(dict(zip(columns, row, strict=False)), ensure_ascii=False) + "\n")
            count += 1
    elif output_format == "json":
        out.write("[")
        for row in rows:
            out.write(
                ("," if count else "") + "\n  " + json.dumps(dict(zip(columns, row, strict=False)), ensure_ascii=False)
            )
            count += 1
        out.write("\n]\n" if count else "]\n")
    else:
        table = Table(show_lines=False)
        for column in columns:
            table.add_column(column, overflow="ellipsis" if cell_width else "fold", max_width=cell_width)
        for row in rows:
            table.add_row(*(_cell(v, cell_width) for v in row))
            count += 1
        make_console(out).print(table)
    return count


def _cell(value: Any, width: int | None = CELL_WIDTH) -> str:
    if value is None:
        return "[dim]NULL[/dim]"
    if type(value) is bool:
        return "true" if value else "false"
    text = str(value).replace("\n", "⏎")
    text = text if width is None or len(text) <= width else text[: width - 1] + "…"
    return text.replace("[", "\\[")


def run_statement(
    conn: Connection,
    sql: str,
    params: dict[str, Any],
    output_format: str,
    dry_run: bool,
    *,
    guard: bool = True,
    local_files: bool = False,
) -> None:
    if dry_run:
        with conn.client.recording() as requests:
            list(conn.sql(sql, params or None, allow_local_files=local_files))
        click.echo(f"dry run: {plural(len(requests), 'request')} would be sent, none was:", err=True)
        for request in requests:
            echo_request(request)
        return
    cursor = conn.sql(sql, params or None, allow_local_files=local_files)
    if cursor.columns:
        plan = sqltext.first_word(sql) == "EXPLAIN"  # a plan is shown whole; data cells are cut
        count = write_rows(
            cursor.columns,
            cursor.typed(),
            output_format,
            sys.stdout,
            guard=guard,
            cell_width=None if plan else CELL_WIDTH,
        )
        if output_format == "table":
            click.echo(plural(count, "row"), err=True)
    for report in cursor.reports:
        click.echo(
            f"{plural(report.succeeded, 'row')} {past_tense(report.operation)} in {report.object} "
            f"({plural(report.api_calls, 'API call')})",
            err=True,
        )
    if cursor.message:
        click.echo(cursor.message)


@click.command("query")
@click.argument("sql", required=False)
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Bind :NAME (repeatable).")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--explain", is_flag=True, help="Show the endpoints, pushdown and API-call estimate; read nothing.")
@click.option("--dry-run", is_flag=True, help="For INSERT/UPDATE/DELETE/CALL: show the writes, send none.")
@click.option(
    "--formula-guard/--no-formula-guard",
    default=True,
    show_default=True,
    help="--format csv: prefix ' to text cells starting with = + - @ tab or CR, as export does.",
)
@click.option(
    "--allow-local-files",
    is_flag=True,
    help="Allow ATTACH and VACUUM INTO, which read and write database files on this machine (refused by default).",
)
@connection_options
@handle_errors
def query_command(
    sql: str | None,
    params: tuple[str, ...],
    output_format: str,
    explain: bool,
    dry_run: bool,
    formula_guard: bool,
    allow_local_files: bool,
    profile: str | None,
    region: str | None,
    base_url: str | None,
    sandbox: Any,
) -> None:
    """Run SQL over Iterable objects (SQLite dialect). Without SQL: an interactive shell.

    Several statements separated by ; run one after the other and stop at the first that fails (its exit
    code). The shell reading piped input does the same; at a terminal it shows the error and goes on.

    \b
    Examples:
      iterbridge query "SELECT Name, CampaignState FROM Campaigns ORDER BY UpdatedAt DESC LIMIT 10"
      iterbridge query "SELECT * FROM Users WHERE Email = :email" -p email=jane@example.com
      iterbridge query "CALL TriggerCampaign(:id, [101, 102])" -p id=123 --dry-run
    """
    bound = dict(parse_param(p) for p in params)
    with open_connection(profile, region, base_url, sandbox) as conn:
        if sql is None:
            Shell(conn, output_format, local_files=allow_local_files, guard=formula_guard).run()
        else:
            statements = sqltext.split_statements(sql)
            if not statements:
                fail("no SQL statement given", 2)
            for statement in statements:  # each runs alone: the engine refuses a statement with a tail
                run_statement(
                    conn,
                    f"EXPLAIN {statement}" if explain else statement,
                    bound,
                    output_format,
                    dry_run,
                    guard=formula_guard,
                    local_files=allow_local_files,
                )
        report_reads(conn)


class Shell:
    """A prompt with history, multi-line statements (ended by ;) and dot commands.

    At a terminal a failed statement (or Ctrl-C during one) shows its error and the prompt comes back. Reading
    piped input it is a script: the first failure ends the run with its exit code (README's table), as
    `iterbridge query "a; b"` does; Ctrl-C while a statement is being typed drops it in both."""

    HELP = (
        ".tables             list the objects\n"
        ".schema OBJECT      columns of an object\n"
        ".format FORMAT      table, csv, json or jsonl\n"
        ".quit               leave (also Ctrl-D)"
    )

    def __init__(self, conn: Connection, output_format: str, *, local_files: bool = False, guard: bool = True) -> None:
        self.conn = conn
        self.output_format = output_format
        self.local_files = local_files
        self.guard = guard
        self.interactive = sys.stdin.isatty()

    def run(self) -> None:
        # Prompts and history only for a person at a terminal; piped input gives clean output.
        interactive = self.interactive
        history = Path(platformdirs.user_data_dir("iterbridge")) / "history"
        readline: Any = None
        if interactive:
            try:
                import readline

                history.parent.mkdir(parents=True, exist_ok=True)
                if history.exists():
                    readline.read_history_file(history)
            except (ImportError, OSError):
                readline = None
            click.echo("iterbridge SQL shell — statements end with ;  .help for commands", err=True)
        buffer: list[str] = []
        while True:
            try:
                line = input(("   ...> " if buffer else "iterable> ") if interactive else "")
            except EOFError:
                if interactive:
                    click.echo("", err=True)
                self.execute("\n".join(buffer))  # a last statement without its ;
                break
            except KeyboardInterrupt as interrupt:
                if isinstance(interrupt, Terminated):  # SIGTERM ends the shell; Ctrl-C only the statement typed
                    raise
                buffer = []
                click.echo("", err=True)
                continue
            if not buffer and line.strip().startswith("."):
                if not self.command(line.strip()):
                    break
                continue
            buffer.append(line)
            text = "\n".join(buffer)
            if not text.strip().endswith(";"):
                continue
            buffer = []
            self.execute(text)
        if readline is not None:
            with contextlib.suppress(OSError):
                readline.write_history_file(history)

    def execute(self, text: str) -> None:
        for statement in sqltext.split_statements(text):
            try:
                run_statement(
                    self.conn, statement, {}, self.output_format, False, guard=self.guard, local_files=self.local_files
                )
            except IterbridgeError as error:
                self.failed(error)
            except KeyboardInterrupt as interrupt:
                if isinstance(interrupt, Terminated) or not self.interactive:
                    raise
                click.echo("interrupted", err=True)  # Ctrl-C at a terminal stops the statement, not the shell
                return

    def failed(self, error: IterbridgeError) -> None:
        """At a terminal: show the error and go on. Piped input: end with the error's exit code."""
        if not self.interactive:
            raise error
        click.echo(f"error: {error}", err=True)

    def command(self, line: str) -> bool:
        name, _, argument = line.partition(" ")
        argument = argument.strip()
        if name in (".quit", ".exit"):
            return False
        if name == ".help":
            click.echo(self.HELP)
        elif name == ".tables":
            click.echo("  ".join(OBJECTS))
        elif name == ".schema":
            try:
                obj = get_object(argument)
            except IterbridgeError as error:
                self.failed(error)
                return True
            for column in self.conn.columns(obj):
                marks = (("key", column.key), ("read-only", column.read_only), ("import-only", column.import_only))
                flags = [f for f, on in marks if on]
                click.echo(f"  {column.name} {column.type.value}" + (f"  ({', '.join(flags)})" if flags else ""))
        elif name == ".format" and argument in FORMATS:
            self.output_format = argument
        else:
            self.failed(QueryError(f"unknown command {line!r}; .help lists them"))
        return True
