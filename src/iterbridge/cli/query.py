"""`iterbridge query`: run SQL over Iterable objects, or open an interactive shell when no SQL is given."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import click
import platformdirs
from rich.table import Table

from iterbridge.cli.common import Terminated, connection_options, echo_request, fail, handle_errors, open_connection
from iterbridge.cli.console import make_console
from iterbridge.errors import IterbridgeError
from iterbridge.objects import OBJECTS, get_object
from iterbridge.query import sqltext
from iterbridge.transfer.csvformat import CsvOptions

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


def write_rows(columns: list[str], rows: Iterable[tuple[Any, ...]], output_format: str, out: TextIO, *,
               guard: bool = True, cell_width: int | None = CELL_WIDTH) -> int:  # fmt: skip
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
    conn: Any, sql: str, params: dict[str, Any], output_format: str, dry_run: bool, guard: bool = True
) -> None:
    if dry_run:
        with conn.client.recording() as requests:
            list(conn.sql(sql, params or None))
        click.echo(f"dry run: {len(requests)} request(s) would be sent, none was:", err=True)
        for request in requests:
            echo_request(request)
        return
    cursor = conn.sql(sql, params or None)
    if cursor.columns:
        plan = sqltext.first_word(sql) == "EXPLAIN"  # a plan is shown whole; data cells are cut
        count = write_rows(cursor.columns, cursor.typed(), output_format, sys.stdout, guard=guard,
                           cell_width=None if plan else CELL_WIDTH)  # fmt: skip
        if output_format == "table":
            click.echo(f"{count} row{'s' if count != 1 else ''}", err=True)
    for report in cursor.reports:
        click.echo(f"{report.succeeded} row(s) {report.operation}ed in {report.object} "
                   f"({report.api_calls} API call(s))", err=True)  # fmt: skip
    if cursor.message:
        click.echo(cursor.message)


@click.command("query")
@click.argument("sql", required=False)
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Bind :NAME (repeatable).")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--explain", is_flag=True, help="Show the endpoints, pushdown and API-call estimate; read nothing.")
@click.option("--dry-run", is_flag=True, help="For INSERT/UPDATE/DELETE/CALL: show the writes, send none.")
@click.option("--formula-guard/--no-formula-guard", default=True, show_default=True,
              help="--format csv: prefix ' to text cells starting with = + - @ tab or CR, as export does.")  # fmt: skip
@connection_options
@handle_errors
def query_command(sql: str | None, params: tuple[str, ...], output_format: str, explain: bool, dry_run: bool,
                  formula_guard: bool, profile: str | None, region: str | None, base_url: str | None,
                  sandbox: Any) -> None:  # fmt: skip
    """Run SQL over Iterable objects (SQLite dialect). Without SQL: an interactive shell.

    \b
    Examples:
      iterbridge query "SELECT Name, CampaignState FROM Campaigns ORDER BY UpdatedAt DESC LIMIT 10"
      iterbridge query "SELECT * FROM Users WHERE Email = :email" -p email=jane@example.com
      iterbridge query "CALL TriggerCampaign(:id, [101, 102])" -p id=123 --dry-run
    """
    bound = dict(parse_param(p) for p in params)
    with open_connection(profile, region, base_url, sandbox) as conn:
        if sql is None:
            Shell(conn, output_format, formula_guard).run()
            return
        statements = sqltext.split_statements(sql)
        if not statements:
            fail("no SQL statement given", 2)
        for statement in statements:
            run_statement(conn, f"EXPLAIN {statement}" if explain else statement, bound, output_format, dry_run,
                          formula_guard)  # fmt: skip


class Shell:
    """A prompt with history, multi-line statements (ended by ;) and dot commands."""

    HELP = (
        ".tables             list the objects\n"
        ".schema OBJECT      columns of an object\n"
        ".format FORMAT      table, csv, json or jsonl\n"
        ".quit               leave (also Ctrl-D)"
    )

    def __init__(self, conn: Any, output_format: str, guard: bool = True) -> None:
        self.conn = conn
        self.output_format = output_format
        self.guard = guard

    def run(self) -> None:
        # Prompts and history only for a person at a terminal; piped input gives clean output.
        interactive = sys.stdin.isatty()
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
                run_statement(self.conn, statement, {}, self.output_format, False, self.guard)
            except IterbridgeError as error:
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
                click.echo(f"error: {error}", err=True)
                return True
            for column in self.conn.columns(obj):
                flags = [f for f, on in (("key", column.key), ("read-only", column.read_only),
                                         ("import-only", column.import_only)) if on]  # fmt: skip
                click.echo(f"  {column.name} {column.type.value}" + (f"  ({', '.join(flags)})" if flags else ""))
        elif name == ".format" and argument in FORMATS:
            self.output_format = argument
        else:
            click.echo(f"unknown command {line!r}; .help lists them", err=True)
        return True
