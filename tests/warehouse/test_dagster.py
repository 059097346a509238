"""iterbridge.dagster: the Definitions load, the daily schedule asks for every project's partition, and
`materialize()` of two partitions (two projects) in-process against the sandbox lands the API's row counts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import dlt
import duckdb
import httpx2
import pytest
from dagster_dlt import DagsterDltResource

from helpers import connect_to
from iterbridge.dagster import POOL, definitions
from iterbridge.dlt import source_from
from iterbridge.sandbox import Sandbox
from replicate.expected import Source

# Dagster 1.13 reads its resources' fields through pydantic's deprecated `__fields__` (pydantic 2.x warns).
pytestmark = pytest.mark.filterwarnings("ignore:The `__fields__` attribute is deprecated:DeprecationWarning")

OBJECTS = ["Lists", "Campaigns", "Events_emailOpen"]
PROJECTS = ["acme", "acme_eu"]


def test_two_partitions_materialize_the_api_rows(sandbox: Sandbox, api: httpx2.Client, tmp_path: Path) -> None:
    opened = []

    def source_for(project: str) -> dlt.sources.DltSource:
        conn = connect_to(sandbox)
        opened.append((project, conn))
        return source_from(lambda: conn, OBJECTS, name=project)[0]

    lake = dlt.destinations.duckdb(str(tmp_path / "projects.duckdb"))
    defs = definitions(PROJECTS, lake, objects=OBJECTS, source_for=source_for)
    source = Source(api)
    expected = {"Lists": len(source.lists()), "Campaigns": len(source.campaigns()),
                "Events_emailOpen": len(source.events("emailOpen"))}  # fmt: skip
    assets = list(defs.assets or [])
    with dg.instance_for_test(overrides={"telemetry": {"enabled": False}}) as instance:
        for project in PROJECTS:
            result = dg.materialize(assets, partition_key=project, instance=instance,
                                    resources={"dlt": DagsterDltResource()})  # fmt: skip
            assert result.success
            loaded = {
                m.asset_key.path[-1]: m.metadata["rows_loaded"].value
                for m in result.asset_materializations_for_node("iterable")
            }
            assert loaded == expected, project
    assert [p for p, _ in opened] == PROJECTS
    for _, conn in opened:
        conn.close()
    with duckdb.connect(str(tmp_path / "projects.duckdb"), read_only=True) as db:
        schemas = {r[0] for r in db.sql("SELECT schema_name FROM information_schema.schemata").fetchall()}
    assert {"iterable_acme", "iterable_acme_eu"} <= schemas


def test_the_definitions_and_their_schedule() -> None:
    defs = definitions(PROJECTS, "duckdb", objects=OBJECTS)
    dg.Definitions.validate_loadable(defs)
    keys = {spec.key.to_user_string() for spec in defs.resolve_all_asset_specs()}
    assert keys == {f"iterable/{name}" for name in OBJECTS}
    assets = defs.resolve_assets_def(dg.AssetKey(["iterable", "Lists"]))
    assert assets.partitions_def == dg.StaticPartitionsDefinition(PROJECTS)
    assert assets.op.pool == POOL
    schedule = defs.resolve_schedule_def("iterable_daily_schedule")
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.job_name == "iterable_daily"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 12, 6, 3, tzinfo=UTC), repository_def=defs.get_repository_def()
    )
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [(r.partition_key, r.run_key) for r in requests] == [(p, f"{p}:2026-12-06") for p in PROJECTS]


@pytest.mark.parametrize("project", ["../acme", "acme.eu", "Acme", ""])
def test_a_project_is_a_plain_name(project: str) -> None:
    """A project names a pipeline folder and a config section: only a plain lower-case name is taken."""
    from iterbridge.dagster import definitions
    from iterbridge.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="not a plain name"):
        definitions(projects=["acme", project])
