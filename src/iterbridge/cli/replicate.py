"""`iterbridge replicate`: copy Iterable into SQLite (default), PostgreSQL or DuckDB, incrementally."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from iterbridge.api.jsonlines import summary
from iterbridge.cli.common import FAILED_EXIT, SKIPPED_EXIT, connection_options, handle_errors, open_connection
from iterbridge.cli.console import make_console
from iterbridge.dburl import check_target_url, redact_url
from iterbridge.replicate.targets import default_url

if TYPE_CHECKING:
    from iterbridge.replicate import ReplicationReport, StreamProgress, StreamReport


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"expected a date like 2026-01-31 or 2026-01-31T12:00, not {value!r}", param_hint="--since"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def progress_line(stream: StreamProgress) -> str:
    """ "Events_emailSend: 120,000 rows (6,000/s), 45% of its time range, about 25 s left"."""
    rate = stream.rows_read / stream.seconds if stream.seconds else 0.0
    text = f"{stream.table}: {stream.rows_read:,} rows ({rate:,.0f}/s)"
    if stream.fraction is not None:
        text += f", {stream.fraction:.0%} of its time range"
    if stream.eta_s is not None:
        text += f", about {_duration(stream.eta_s)} left"
    elif not stream.rows_read:
        text += f", waiting for its first rows ({_duration(stream.seconds)})"
    return text


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _filters(values: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for value in values:
        name, sep, condition = value.partition(":")
        if not sep or not name.strip() or not condition.strip():
            raise click.BadParameter(f'expected OBJECT:"condition", not {value!r}', param_hint="--filter")
        found[name.strip()] = condition.strip()
    return found


def _shown(stream: StreamReport) -> bool:
    """Event tables of types this project never had are summed up in one line, not listed."""
    busy = stream.rows_read or stream.inserted or stream.updated or stream.deleted or stream.error or stream.skipped
    return bool(busy) or not stream.table.startswith("Events_")


def report_dict(report: ReplicationReport) -> dict[str, Any]:
    """The report as data: `--json` prints it, the web console shows it."""
    return {
        "target": report.target,
        "seconds": round(report.seconds, 3),
        "ok": report.ok,
        "totals": report.totals(),
        "skipped": report.skipped,
        "repaired_lines": report.repaired_lines,
        "malformed_lines": report.malformed_lines,
        "quarantine": report.quarantine,
        "streams": [asdict(s) for s in report.streams],
    }


def report_json(report: ReplicationReport) -> str:
    return json.dumps(report_dict(report), indent=2, default=str)


def _print_report(report: ReplicationReport, as_json: bool) -> None:
    if as_json:
        click.echo(report_json(report))
        return
    table = Table(title=Text(f"Replication into {report.target} ({report.seconds:,.1f} s)"))  # a URL is no markup
    headings = ("table", "mode", "read via", "rows read", "inserted", "updated", "unchanged", "deleted", "API calls",
                "time")  # fmt: skip
    for heading in headings:
        table.add_column(heading, justify="left" if heading in ("table", "mode", "read via") else "right")
    for s in sorted(report.streams, key=lambda s: s.table):
        if _shown(s):
            table.add_row(s.table, s.mode, s.method, f"{s.rows_read:,}", f"{s.inserted:,}", f"{s.updated:,}",
                          f"{s.unchanged:,}", f"{s.deleted:,}", f"{s.api_calls:,}", f"{s.seconds:,.1f} s")  # fmt: skip
    console = make_console(stderr=True)
    console.print(table)
    empty = sum(1 for s in report.streams if not _shown(s))
    if empty:
        console.print(f"{empty} event types had no events (their tables exist, empty).")
    totals = report.totals()
    console.print(
        f"total: {totals['rows_read']:,} rows read, {totals['inserted']:,} inserted, {totals['updated']:,} updated, "
        f"{totals['deleted']:,} deleted, {totals['api_calls']:,} API calls"
    )
    for s in report.streams:
        for added in s.columns_added:
            console.print(f"new column {s.table}.{added}")
        if s.derived is not None:
            console.print(s.derived.line(s.table), markup=False, soft_wrap=True)
        for part in s.skipped:
            console.print(f"[yellow]skipped[/] {s.table} {escape(part)}", markup=True, highlight=False)
        if s.error:
            console.print(f"[red]failed[/] {s.table}: {escape(s.error)}", markup=True, highlight=False)
    for line in summary(report.repaired_lines, report.malformed_lines, report.quarantine):
        console.print(line, markup=False, soft_wrap=True)


@click.command("replicate")
@click.option(
    "--to",
    "to",
    default=None,
    help=f"Target database URL (default {default_url()}); postgresql://user:pass@host/db, duckdb:///file.duckdb; or "
    "dlt:DESTINATION (dlt:bigquery, dlt:snowflake, dlt:filesystem…, credentials from dlt's config).",
)
@click.option(
    "--objects",
    default=None,
    help="Comma-separated objects, or single event tables such as "
    "Events_emailOpen (default: all readable without a filter).",
)
@click.option("--full", is_flag=True, help="Recreate the tables and read everything again.")
@click.option("--since", default=None, help="Read changes since this date instead of the stored cursors.")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar='OBJECT:"CONDITION"',
    help="A SQL condition for one object, e.g. InAppMessages:\"Email IN ('a@x.com')\" (InAppMessages and Events "
    "for chosen users).",
)
@click.option(
    "--lookback",
    default=360,
    show_default=True,
    type=click.IntRange(min=0),
    help="Minutes of events and users re-read for Iterable's late data.",
)
@click.option("--workers", default=4, show_default=True, type=click.IntRange(min=1), help="Objects read at once.")
@click.option(
    "--export-method",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "sync", "async"]),
    help="Events and Users through data.json (sync), export jobs (async), or whichever is faster under the limits.",
)
@click.option(
    "--progress-every",
    "progress_every",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds between progress lines for the tables being read (0: only as each table ends).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (stdout).")
@connection_options
@handle_errors
def replicate_command(
    to: str | None,
    objects: str | None,
    full: bool,
    since: str | None,
    filters: tuple[str, ...],
    lookback: int,
    workers: int,
    export_method: str,
    progress_every: float,
    as_json: bool,
    profile: str | None,
    region: str | None,
    base_url: str | None,
    sandbox: Any,
) -> None:
    """Copy Iterable objects into a database, then keep it current (incremental after the first run).

    Exit codes: 0 when everything was copied, 5 when a slice was skipped (e.g. a list whose members Iterable
    cannot serve, whose rows in the copy are kept; or export lines that are not JSON, kept in the quarantine file
    the report names), 1 when a table failed, 2 for a bad option, an unusable target (in memory, read-only) or a
    target another run is writing (one run at a time per target).
    """
    chosen = [name.strip() for name in objects.split(",") if name.strip()] if objects else None
    url = default_url() if to is None else to  # --to '' is a mistake, not the default
    check_target_url(url, "--to")  # before anything is read
    moment = _since(since)
    conditions = _filters(filters)
    console = Console(stderr=True, highlight=False)

    def progress(stream: StreamReport) -> None:
        if not as_json and _shown(stream):
            rate = stream.rows_read / stream.seconds if stream.seconds else 0.0
            status = "failed" if stream.error else f"{stream.rows_read:,} rows ({rate:,.0f}/s)"
            console.print(f"  {stream.table}: {status} in {stream.seconds:,.1f} s", soft_wrap=True)

    def watch(running: list[StreamProgress]) -> None:
        for stream in running:
            console.print(f"  … {progress_line(stream)}", soft_wrap=True)

    def started() -> None:  # once the options are checked and the target is open: an error is then alone
        console.print(f"replicating into {redact_url(url)} …", soft_wrap=True, markup=False)

    with open_connection(profile, region, base_url, sandbox) as conn:
        report = conn.replicate(
            url,
            chosen,
            full=full,
            since=moment,
            filters=conditions,
            lookback=timedelta(minutes=lookback),
            workers=workers,
            export_method=export_method,
            progress=progress,
            watch=None if as_json or not progress_every else watch,
            watch_every_s=progress_every or 5.0,
            started=started,
        )
    _print_report(report, as_json)
    if report.failed:
        raise SystemExit(FAILED_EXIT)
    if report.skipped:
        raise SystemExit(SKIPPED_EXIT)
