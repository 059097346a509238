"""`iterbridge sync`: keep CatalogItems or Templates and a database table in step, both ways."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click
from rich.table import Table

from iterbridge.cli.common import RETRY_EXIT, connection_options, handle_errors, open_connection
from iterbridge.cli.console import make_console
from iterbridge.dburl import check_target_url
from iterbridge.replicate.targets import default_url
from iterbridge.sync import SyncReport
from iterbridge.sync.engine import POLICIES
from iterbridge.sync.kinds import Side
from iterbridge.sync.sides import SYNCED_OBJECTS


def _print(report: SyncReport, as_json: bool) -> None:
    if as_json:
        data = asdict(report)
        data["plan"] = [{k: v for k, v in asdict(a).items() if k != "record"} for a in report.plan]
        data["ok"] = report.ok
        click.echo(json.dumps(data, indent=2, default=str))
        return
    console = make_console(stderr=True)
    console.print(
        f"{'Plan' if report.dry_run else 'Sync'} of {report.stream} with {report.database}",
        markup=False,
        soft_wrap=True,
    )
    table = Table()
    for heading in ("side written", "creates", "updates", "deletes", "conflicts"):
        table.add_column(heading)
    for label, counts in (("Iterable", report.to_iterable), ("database", report.to_database)):
        table.add_row(label, str(counts.creates), str(counts.updates), str(counts.deletes), str(counts.conflicts))
    console.print(table)
    console.print(
        f"matched: {report.matched}, conflicts: {report.conflicts}, failed: {report.failed}, "
        f"left to retry: {report.left_to_retry}, API calls: {report.api_calls}",
        soft_wrap=True,
    )
    if report.dry_run:
        for action in report.plan:
            if action.target is not Side.MAP:
                note = f" ({action.note})" if action.note else ""
                console.print(
                    f"  would {action.operation} {action.key} in {action.target}{note}", markup=False, soft_wrap=True
                )
        console.print("dry run: nothing was changed")
    for failure in report.failures:
        console.print(
            f"failed: {failure.operation} {failure.key} in {failure.side}: {failure.reason}",
            markup=False,
            soft_wrap=True,
        )
    for skipped in report.skipped:
        console.print(f"skipped: {skipped}", markup=False, soft_wrap=True)


@click.command("sync")
@click.argument("object_name", metavar="OBJECT", type=click.Choice(SYNCED_OBJECTS, case_sensitive=False))
@click.option("--with", "with_url", default=None, help=f"Database URL (default {default_url()}).")
@click.option("--catalog", default=None, help="The catalog to sync (CatalogItems).")
@click.option("--medium", "mediums", multiple=True, help="email, push, sms or inapp (Templates; default all).")
@click.option("--table", default=None, help="Table name (default: the object's name; not _iterbridge_*).")
@click.option("--conflict", default="newest", show_default=True, type=click.Choice(POLICIES))
@click.option(
    "--dry-run", is_flag=True, help="Print the plan; change nothing on either side (not even create the database file)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (stdout).")
@connection_options
@handle_errors
def sync_command(
    object_name: str,
    with_url: str | None,
    catalog: str | None,
    mediums: tuple[str, ...],
    table: str | None,
    conflict: str,
    dry_run: bool,
    as_json: bool,
    profile: str | None,
    region: str | None,
    base_url: str | None,
    sandbox: Any,
) -> None:
    """Synchronise a catalog's items, or Base templates, with a database table — both ways.

    \b
    Examples:
      iterbridge sync CatalogItems --catalog products --with postgresql://…/shop
      iterbridge sync Templates --medium email --with sqlite:///templates.db --conflict database --dry-run

    Exit code 6 when records are left in the retry table (they are retried on the next run); 2 for a bad
    option, an unusable database, or one another run is writing (one run at a time per database).
    """
    url = default_url() if with_url is None else with_url  # --with '' is a mistake, not the default
    check_target_url(url, "--with")  # before anything is read
    with open_connection(profile, region, base_url, sandbox) as conn:
        report = conn.sync(
            object_name,
            url,
            catalog=catalog,
            mediums=list(mediums) or None,
            table=table,
            conflict=conflict,
            dry_run=dry_run,
        )
    _print(report, as_json)
    if not report.ok:
        raise SystemExit(RETRY_EXIT)
