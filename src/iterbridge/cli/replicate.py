"""`iterbridge replicate`: copy Iterable into SQLite (default), PostgreSQL or DuckDB, incrementally."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import click
from rich.console import Console
from rich.table import Table

from iterbridge.cli.common import connection_options, handle_errors, open_connection
from iterbridge.replicate import ReplicationReport, StreamReport, replicate
from iterbridge.replicate.targets import default_url, redacted_url

SKIPPED_EXIT = 5


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date like 2026-01-31 or 2026-01-31T12:00, not {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _filters(values: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for value in values:
        name, sep, condition = value.partition(":")
        if not sep or not name.strip() or not condition.strip():
            raise click.BadParameter(f'expected OBJECT:"condition", not {value!r}', param_hint="--filter")
        found[name.strip()] = condition.strip()
    return found


def _print_report(report: ReplicationReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"target": report.target, "seconds": report.seconds,
                               "streams": [asdict(s) for s in report.streams]}, indent=2, default=str))  # fmt: skip
        return
    table = Table(title=f"Replication into {report.target} ({report.seconds:,.1f} s)")
    for heading in ("table", "mode", "read via", "rows read", "inserted", "updated", "deleted", "API calls", "time"):
        table.add_column(heading, justify="right" if heading not in ("table", "mode", "read via") else "left")
    for s in sorted(report.streams, key=lambda s: s.table):
        if not (s.rows_read or s.inserted or s.updated or s.deleted or s.error or s.skipped) and s.table.startswith(
            "Events_"
        ):
            continue  # event types this project never had
        table.add_row(s.table, s.mode, s.method, f"{s.rows_read:,}", f"{s.inserted:,}", f"{s.updated:,}",
                      f"{s.deleted:,}", f"{s.api_calls:,}", f"{s.seconds:,.1f} s")  # fmt: skip
    console = Console(stderr=True)
    console.print(table)
    empty = sum(1 for s in report.streams if s.table.startswith("Events_") and not s.rows_read and not s.error)
    if empty:
        console.print(f"{empty} event types had no events (their tables exist, empty).")
    totals = report.totals()
    console.print(f"total: {totals['rows_read']:,} rows read, {totals['inserted']:,} inserted, "
                  f"{totals['updated']:,} updated, {totals['deleted']:,} deleted, {totals['api_calls']:,} API calls")  # fmt: skip
    for s in report.streams:
        for part in s.skipped:
            console.print(f"[yellow]skipped[/] {s.table} {part}")
        if s.error:
            console.print(f"[red]failed[/] {s.table}: {s.error}")


@click.command("replicate")
@click.option("--to", "to", default=None, help=f"Target database URL (default {default_url()}); "
              "postgresql://user:pass@host/db, duckdb:///file.duckdb.")  # fmt: skip
@click.option("--objects", default=None, help="Comma-separated objects (default: all readable without a filter).")
@click.option("--full", is_flag=True, help="Recreate the tables and read everything again.")
@click.option("--since", default=None, help="Read changes since this date instead of the stored cursors.")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar='OBJECT:"CONDITION"',
    help="A SQL condition for one object, e.g. InAppMessages:\"Email IN ('a@x.com')\".",
)
@click.option("--lookback", default=360, show_default=True, type=int, help="Minutes re-read for late data.")
@click.option("--workers", default=4, show_default=True, type=int, help="Objects read at once.")
@click.option(
    "--export-method",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "sync", "async"]),
    help="Events and Users through data.json (sync), export jobs (async), or whichever is faster.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (stdout).")
@connection_options
@handle_errors
def replicate_command(to: str | None, objects: str | None, full: bool, since: str | None, filters: tuple[str, ...],
                      lookback: int, workers: int, export_method: str, as_json: bool, profile: str | None,
                      region: str | None, base_url: str | None, sandbox: bool) -> None:  # fmt: skip
    """Copy Iterable objects into a database, then keep it current (incremental after the first run).

    Exit code 5 when a slice was skipped (e.g. a list whose members Iterable cannot serve), 1 when a table
    failed.
    """
    chosen = [name.strip() for name in objects.split(",") if name.strip()] if objects else None
    url = to or default_url()
    console = Console(stderr=True)

    def progress(stream: StreamReport) -> None:
        if not as_json and (stream.rows_read or stream.error or not stream.table.startswith("Events_")):
            console.print(f"  {stream.table}: {stream.rows_read:,} rows ({stream.seconds:,.1f} s)")

    console.print(f"replicating into {redacted_url(url)} …")
    with open_connection(profile, region, base_url, sandbox) as conn:
        report = replicate(conn, url, chosen, full=full, since=_since(since), filters=_filters(filters),
                           lookback=timedelta(minutes=lookback), workers=workers, export_method=export_method,
                           progress=progress)  # fmt: skip
    _print_report(report, as_json)
    if report.failed:
        raise SystemExit(1)
    if report.skipped:
        raise SystemExit(SKIPPED_EXIT)
