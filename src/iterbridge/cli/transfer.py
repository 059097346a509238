"""`iterbridge export` and `iterbridge import`: CSV out and in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from iterbridge.cli.common import (
    FAILED_EXIT,
    connection_options,
    echo_request,
    fail,
    handle_errors,
    open_connection,
    report_reads,
)
from iterbridge.cli.progress import RowProgress
from iterbridge.transfer import CsvOptions, ImportOptions, exportable
from iterbridge.transfer.importer import OPERATIONS, load_mapping_file
from iterbridge.transfer.output import check_directory
from iterbridge.wording import plural

if TYPE_CHECKING:
    from iterbridge.connection import Connection

F = TypeVar("F", bound=Callable[..., Any])
DRY_RUN_SHOWN = 20


def csv_options(function: F) -> F:
    decorators = [
        click.option(
            "--delimiter",
            default="comma",
            show_default=True,
            help="comma, semicolon, tab, pipe, or any single character.",
        ),
        click.option("--quote-char", default='"', show_default=True),
        click.option("--encoding", default="utf-8", show_default=True),
        click.option("--null", "null", default="", help="Text that stands for NULL (default: empty)."),
        click.option(
            "--date-format",
            default="%Y-%m-%d %H:%M:%S",
            show_default=True,
            help="strftime pattern, or iso, or epoch-ms.",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


@click.command("export")
@click.argument("object_name", metavar="OBJECT", required=False)
@click.option("-o", "--output", default=None, help="File (or directory with --all); '-' or absent: stdout.")
@click.option("--columns", default=None, help="Comma-separated columns (default: all, from the catalog).")
@click.option("--where", default=None, help="A SQL condition, e.g. \"CampaignState = 'Running'\".")
@click.option("--query", default=None, help="Export the result of a SELECT instead of an object.")
@click.option("--all", "export_all", is_flag=True, help="Every object readable without a required filter, to DIR.")
@click.option(
    "--quoting", default="minimal", show_default=True, type=click.Choice(["minimal", "all", "nonnumeric", "none"])
)
@click.option("--line-terminator", default="crlf", show_default=True, type=click.Choice(["crlf", "lf", "cr"]))
@click.option("--bom/--no-bom", default=False, help="Start the file with a UTF-8 byte order mark.")
@click.option("--header/--no-header", default=True, show_default=True)
@click.option("--flatten", is_flag=True, help="Nested objects as dotted columns instead of JSON text.")
@click.option(
    "--formula-guard/--no-formula-guard",
    default=True,
    show_default=True,
    help="Prefix ' to text cells starting with = + - @ tab or CR, so spreadsheets never run them as "
    "formulas (plain numbers are left alone; import removes the prefix).",
)
@csv_options
@connection_options
@handle_errors
def export_command(
    object_name: str | None,
    output: str | None,
    columns: str | None,
    where: str | None,
    query: str | None,
    export_all: bool,
    quoting: str,
    line_terminator: str,
    bom: bool,
    header: bool,
    flatten: bool,
    formula_guard: bool,
    delimiter: str,
    quote_char: str,
    encoding: str,
    null: str,
    date_format: str,
    profile: str | None,
    region: str | None,
    base_url: str | None,
    sandbox: Any,
) -> None:
    """Export an object (or a query) to CSV, streamed, written atomically.

    \b
    Examples:
      iterbridge export Campaigns -o campaigns.csv
      iterbridge export Users --columns Email,firstName --where "ProfileUpdatedAt >= '2026-01-01'"
      iterbridge export --query "SELECT EventType, count(*) n FROM Events GROUP BY 1" --delimiter tab
      iterbridge export --all -o iterable-dump/
    """
    options = CsvOptions.build(
        delimiter=delimiter,
        quote_char=quote_char,
        quoting=quoting,
        line_terminator=line_terminator,
        encoding=encoding,
        bom=bom,
        header=header,
        null=null,
        date_format=date_format,
        flatten=flatten,
        formula_guard=formula_guard,
    )
    if export_all:
        if not output or output == "-":
            fail("--all needs -o DIR", 2)
        if object_name or query:
            fail("--all exports every object: give no OBJECT and no --query", 2)
        if columns or where:
            fail("--all exports every column of every object: --columns and --where need an OBJECT", 2)
    elif not object_name and not query:
        fail("give an OBJECT, --query or --all", 2)
    elif object_name and query:
        fail("give an OBJECT or --query, not both (a --query names its objects itself)", 2)
    elif query and (columns or where):
        fail("--columns and --where apply to an OBJECT; a --query chooses its columns and rows itself", 2)
    path = None if export_all or output in (None, "-") else Path(output)
    if path is not None and path.is_dir():
        fail(f"{path} is a directory: give a file name (or --all to write one file per object into it)", 2)
    if export_all:
        check_directory(Path(output or "."))
    with open_connection(profile, region, base_url, sandbox) as conn:
        if export_all:
            directory = Path(output or ".")
            for name in exportable():
                _export_one(conn, name, directory / f"{name}.csv", options, None, None, None)
            report_reads(conn)
            return
        chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
        _export_one(conn, object_name, path, options, chosen, where, query)
        report_reads(conn)


def _export_one(
    conn: Connection,
    name: str | None,
    path: Path | None,
    options: CsvOptions,
    columns: list[str] | None,
    where: str | None,
    query: str | None,
) -> None:
    progress = RowProgress(f"export {name or 'query'}", conn)
    with progress:  # a line within a second, even while the first rows wait for the rate limits
        result = conn.export(name, path, options, columns=columns, where=where, query=query, progress=progress)
    timing = progress.finish()
    click.echo(
        f"{plural(result.rows, 'row')} × {plural(len(result.columns), 'column')} → {result.destination} ({timing})",
        err=True,
    )


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        left, sep, right = value.partition("=")
        if not sep or not left.strip():
            raise click.BadParameter(f"expected A=B, not {value!r}", param_hint=option)
        pairs[left.strip()] = right
    return pairs


@click.command("import")
@click.argument("object_name", metavar="OBJECT")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--operation", default="insert", show_default=True, type=click.Choice(list(OPERATIONS)))
@click.option("--map", "maps", multiple=True, metavar="CSVCOLUMN=FIELD", help="Map a CSV column to a field.")
@click.option("--map-file", type=click.Path(exists=True, path_type=Path), help="JSON object or two-column CSV.")
@click.option("--set", "constants", multiple=True, metavar="FIELD=VALUE", help="A value for every row.")
@click.option("--batch-size", default=1000, show_default=True, type=int)
@click.option("--dry-run", is_flag=True, help="Read, convert and validate every row; send nothing.")
@click.option("--rejects", type=click.Path(path_type=Path), help="Write rejected rows (line, reason) here.")
@click.option(
    "--formula-guard/--no-formula-guard",
    default=True,
    show_default=True,
    help="Read '=…, '+…, '-…, '@… (as export's formula guard writes them) as =…, +…, -…, @….",
)
@csv_options
@connection_options
@handle_errors
def import_command(
    object_name: str,
    file: Path,
    operation: str,
    maps: tuple[str, ...],
    map_file: Path | None,
    constants: tuple[str, ...],
    batch_size: int,
    dry_run: bool,
    rejects: Path | None,
    formula_guard: bool,
    delimiter: str,
    quote_char: str,
    encoding: str,
    null: str,
    date_format: str,
    profile: str | None,
    region: str | None,
    base_url: str | None,
    sandbox: Any,
) -> None:
    """Import CSV rows into an object (insert, update, upsert or delete), with a rejects report.

    Columns match the object's by name (case-insensitively), by --map / --map-file, or as dotted names inside
    a JSON column (Value.price); a Users column the project does not know yet becomes a custom field, an Events
    one a field of DataFields. Rows that cannot be converted, lack a required field or are refused by Iterable
    go to --rejects (line, reason, then the original fields); the rest is imported. Exit code 1 when any row
    was rejected.

    \b
    Re-running an interrupted import duplicates nothing where Iterable has a key: Users (Email/UserId),
    CatalogItems (CatalogName+ItemId), ListUsers (membership), Templates (ClientTemplateId), Events that
    carry an Id, and every delete. Lists, Campaigns, InAppMessages and Events without an Id are created again.

    \b
    Examples:
      iterbridge import Users people.csv --operation upsert --rejects rejected.csv
      iterbridge import Events events.csv --map when=CreatedAt --set EventName=signedUp --dry-run
    """
    mapping = load_mapping_file(map_file) if map_file else {}
    mapping.update(_pairs(maps, "--map"))
    options = ImportOptions(
        operation=operation,
        mapping=mapping,
        constants=_pairs(constants, "--set"),
        batch_size=batch_size,
        dry_run=dry_run,
        rejects=rejects,
        csv=CsvOptions.build(
            delimiter=delimiter,
            quote_char=quote_char,
            encoding=encoding,
            null=null,
            date_format=date_format,
            formula_guard=formula_guard,
        ),
    )
    with open_connection(profile, region, base_url, sandbox) as conn:
        progress = RowProgress(f"import {object_name}")
        summary = conn.import_csv(object_name, file, options, progress=lambda s: progress(s.read))
        timing = progress.finish()
    if dry_run:
        for request in summary.requests[:DRY_RUN_SHOWN]:
            echo_request(request, indent=None, limit=2000)
        if summary.request_count > DRY_RUN_SHOWN:
            click.echo(f"… and {plural(summary.request_count - DRY_RUN_SHOWN, 'more request')}")
    click.echo(f"{summary.describe()} ({timing})", err=True)
    if summary.rejected:
        if rejects:
            click.echo(f"rejected rows → {rejects}", err=True)
        else:
            for line, reason in summary.samples:
                click.echo(f"  line {line}: {reason}", err=True)
            if summary.rejected > len(summary.samples):
                click.echo(
                    f"  … and {summary.rejected - len(summary.samples):,} more (--rejects FILE keeps them all)",
                    err=True,
                )
        raise SystemExit(FAILED_EXIT)
