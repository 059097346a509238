"""`iterbridge objects` and `iterbridge describe OBJECT`: the catalog, for people (tables) and machines (--json)."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from iterbridge.cli.common import connection_options, handle_errors, open_connection
from iterbridge.cli.console import make_console
from iterbridge.errors import ConfigurationError
from iterbridge.objects import OBJECTS, get_object
from iterbridge.objects.base import Column, ObjectDef
from iterbridge.objects.procedures import PROCEDURES


def _operations(obj: ObjectDef) -> list[str]:
    return ["read", *(operation.value for operation in obj.writes)]


def object_summary(obj: ObjectDef) -> dict[str, Any]:
    return {
        "name": obj.name,
        "description": obj.description,
        "operations": _operations(obj),
        "keys": list(obj.keys),
        "required_filters": list(obj.required_filters),
        "pushed_filters": list(obj.filters),
        "cursor": obj.cursor,
    }


def column_summary(column: Column) -> dict[str, Any]:
    return {
        "name": column.name,
        "type": column.type.value,
        "key": column.key,
        "read_only": column.read_only,
        "import_only": column.import_only,
        "extended_request": column.extended_request,
        "description": column.description,
    }


def catalog_summary() -> dict[str, Any]:
    """Every object and stored procedure as data: `objects --json` prints it, the web console shows it."""
    listing = [
        {
            "name": p.name,
            "description": p.description,
            "params": [{"name": a.name, "type": a.kind, "required": a.required} for a in p.params],
        }
        for p in PROCEDURES.values()
    ]
    return {"objects": [object_summary(o) for o in OBJECTS.values()], "procedures": listing}


@click.command("objects")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def objects_command(as_json: bool) -> None:
    """List the Iterable objects, what can be done with each, and the stored procedures."""
    if as_json:
        click.echo(json.dumps(catalog_summary(), indent=2))
        return
    table = Table(title="Iterable objects")
    for heading in ("object", "operations", "key", "required filter", "cursor"):
        table.add_column(heading, no_wrap=heading == "object", overflow="fold")
    for obj in OBJECTS.values():
        table.add_row(
            obj.name,
            ", ".join(_operations(obj)),
            ", ".join(obj.keys),
            " or ".join(obj.required_filters) or "—",
            obj.cursor or "—",
        )
    out = make_console()
    out.print(table)
    procedures = Table(title="Stored procedures (CALL)")
    procedures.add_column("procedure", no_wrap=True)  # names are never cut: they are what one types
    procedures.add_column("arguments", overflow="fold")
    procedures.add_column("description", overflow="fold")
    for procedure in PROCEDURES.values():
        arguments = ", ".join(a.name if a.required else f"{a.name}={json.dumps(a.default)}" for a in procedure.params)
        procedures.add_row(procedure.name, arguments, procedure.description)
    out.print(procedures)


@click.command("describe")
@click.argument("object_name", metavar="OBJECT")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@connection_options
@handle_errors
def describe_command(
    object_name: str, as_json: bool, profile: str | None, region: str | None, base_url: str | None, sandbox: Any
) -> None:
    """Columns, keys, filters and operations of one object.

    Users' custom fields come from the project: they are listed when a key is configured (or --sandbox).
    """
    obj = get_object(object_name)
    columns = list(obj.columns)
    note = ""
    if obj.dynamic_columns is not None:
        try:
            with open_connection(profile, region, base_url, sandbox) as conn:
                columns = list(conn.columns(obj))
        except ConfigurationError:
            note = "custom fields are added from the project's users/getFields once a key is configured"
    if as_json:
        click.echo(
            json.dumps(
                {**object_summary(obj), "columns": [column_summary(c) for c in columns], "note": note or None},
                indent=2,
            )
        )
        return
    table = Table()  # the heading on a line of its own: a title would wrap at the table's width
    extended = any(c.extended_request for c in columns)
    headings = ("column", "type", "key", "writable", *(("extended",) if extended else ()), "notes")
    for heading in headings:
        table.add_column(heading, no_wrap=heading == "column", overflow="fold")
    for column in columns:
        writable = "import only" if column.import_only else ("no" if column.read_only else "yes")
        notes = column.description or ("pushed to the API" if column.name in obj.filters else "")
        cost = ("+1 GET each" if column.extended_request else "",) if extended else ()
        table.add_row(column.name, column.type.value, "✓" if column.key else "", writable, *cost, notes)
    console = make_console()
    console.print(f"{obj.name} — {obj.description}", markup=False, highlight=False)
    console.print(table)
    console.print(f"operations: {', '.join(_operations(obj))}")
    if obj.required_filters:
        console.print(f"required filter: {' or '.join(obj.required_filters)}")
    if obj.cursor:
        console.print(f"incremental cursor: {obj.cursor}")
    if extended:
        console.print(
            "extended: selecting one of these columns costs one more GET per record (an extended request); "
            "with --suppress-extended-requests (or ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS=true) they read NULL"
        )
    if note:
        console.print(note)
