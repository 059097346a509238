"""Dagster assets over the dlt source: one asset per table, partitioned per Iterable project, a daily schedule.

    # definitions.py of a Dagster code location (`dagster dev -f definitions.py`)
    from iterbridge.dagster import definitions

    defs = definitions(projects=["acme", "acme_eu"], destination="snowflake")

Each partition is one Iterable project (an organisation's projects each have their own key and rate limits):
its key is dlt's `sources.iterable.<project>.api_key` (falling back to `sources.iterable.api_key`), its data
goes to the dataset `iterable_<project>` through the pipeline `iterable_<project>`. A Dagster deployment runs
the partitions as separate runs, spread over its workers; the assets share one concurrency pool (`POOL`), whose
limit (`dagster instance concurrency set iterable_exports N`) keeps the export jobs started at once within
Iterable's per-organisation limit. The schedule asks for every project's partition each day.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dagster as dg
import dlt
from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.sources import DltSource

from iterbridge.dlt import SOURCE_NAME, iterable_source, make_pipeline, plain_name, resources

POOL = "iterable_exports"
DAILY = "0 3 * * *"  # 03:00 every day, in the schedule's timezone (UTC unless given)


def project_source(project: str, objects: Sequence[str] | None = None) -> DltSource:
    """The source of one project, configured from dlt's config section sources.iterable.<project>."""
    source: DltSource = iterable_source.clone(name=project)(objects=list(objects) if objects else None)
    return source


def project_pipeline(project: str, destination: Any, pipelines_dir: str | None = None) -> Any:
    """The dlt pipeline of one project: its own state and dataset."""
    return make_pipeline(f"{SOURCE_NAME}_{project}", destination, f"{SOURCE_NAME}_{project}", pipelines_dir)


class TableAssets(DagsterDltTranslator):
    """Asset keys iterable/<table> whatever the project (a partition), and no upstream assets: Iterable is the
    source, outside Dagster."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec: dg.AssetSpec = super().get_asset_spec(data)
        return spec.replace_attributes(key=dg.AssetKey([SOURCE_NAME, data.resource.name]), deps=[])


def _unopened() -> Any:
    raise RuntimeError("the asset specification's source is never read")


def definitions(
    projects: Sequence[str] = ("default",),
    destination: Any = "duckdb",
    *,
    objects: Sequence[str] | None = None,
    cron: str = DAILY,
    timezone: str = "UTC",
    source_for: Callable[[str], DltSource] | None = None,
    pipelines_dir: str | None = None,
) -> dg.Definitions:
    """Dagster Definitions: the tables' assets (partitioned per project, in the pool `POOL`), a job for them and a
    daily schedule of every partition. `source_for(project)` builds a project's source (default:
    `project_source`, from dlt's config); `destination` is a dlt destination name or object."""
    projects = [plain_name(project, "project") for project in projects]  # a pipeline folder, a config section
    build = source_for or (lambda project: project_source(project, objects))
    partitions = dg.StaticPartitionsDefinition(projects)
    # The assets' specification: the tables, without a connection (nothing is read to define them).
    made, _, _ = resources(_unopened, objects)
    spec = dlt.source(lambda: made, name=SOURCE_NAME, section=SOURCE_NAME)()
    template = project_pipeline(projects[0], destination, pipelines_dir)

    @dlt_assets(
        dlt_source=spec,
        dlt_pipeline=template,
        name=SOURCE_NAME,
        group_name=SOURCE_NAME,
        partitions_def=partitions,
        pool=POOL,
        dagster_dlt_translator=TableAssets(),
    )
    def iterable_assets(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        project = context.partition_key
        yield from dlt.run(
            context=context,
            dlt_source=build(project),
            dlt_pipeline=project_pipeline(project, destination, pipelines_dir),
            dagster_dlt_translator=TableAssets(),
        )

    job = dg.define_asset_job("iterable_daily", selection=[iterable_assets])

    @dg.schedule(cron_schedule=cron, job=job, execution_timezone=timezone, name="iterable_daily_schedule")
    def daily(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        moment = context.scheduled_execution_time.strftime("%Y-%m-%d")
        for project in projects:
            yield dg.RunRequest(run_key=f"{project}:{moment}", partition_key=project)

    return dg.Definitions(
        assets=[iterable_assets],
        jobs=[job],
        schedules=[daily],
        resources={"dlt": DagsterDltResource()},
    )
