"""iterbridge as a dlt source: Iterable into any of dlt's destinations (warehouses, lakes, databases).

    import dlt
    from iterbridge.dlt import iterable_source

    pipeline = dlt.pipeline("iterable", destination="duckdb", dataset_name="iterable")
    pipeline.run(iterable_source())          # key: sources.iterable.api_key (.dlt/secrets.toml or environment)

One resource per table `iterbridge replicate` would write (replicate/plan.py decides them: one per object, one
per event type), built from the catalog with no per-object code: its primary key, its columns' types and
nullability as dlt hints, Arrow batches (`Connection.read_batches`) as its items. How each is kept current
follows the object's replication facts:

- exported objects (read through the export API): merged by key, read from a `dlt.sources.incremental` cursor
  less the lookback (Iterable's late data; the overlap is merged, never duplicated);
- objects whose read lists every key (swept by `replicate`): replaced by each run, so deletions in Iterable
  are deletions in the destination;
- anything else keyed: merged; unkeyed: appended.

Every resource reads through one connection: one rate limiter and one export budget for the whole source.
Slices a read could not get are logged and kept per table in the `SourceRun` that comes with the source.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import dlt
import pyarrow as pa  # type: ignore[import-untyped]
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.destination import Destination
from dlt.common.destination.exceptions import UnknownDestinationModule
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns, TWriteDisposition
from dlt.sources import DltResource, DltSource

from iterbridge.connection import Connection, connect
from iterbridge.errors import ConfigurationError, IterbridgeError
from iterbridge.objects.base import DEFAULT_BATCH_ROWS, Column, Condition, ObjectDef, SqlType
from iterbridge.objects.reading import EXPORT_METHODS
from iterbridge.objects.session import Skipped
from iterbridge.replicate.plan import DEFAULT_LOOKBACK, Stream, streams

if TYPE_CHECKING:
    from iterbridge.replicate import ReplicationReport, StreamReport
    from iterbridge.sandbox import SandboxConfig

SOURCE_NAME = "iterable"  # also the config section: sources.iterable.api_key
DLT_TYPES = {
    SqlType.TEXT: "text",
    SqlType.INTEGER: "bigint",
    SqlType.REAL: "double",
    SqlType.BOOLEAN: "bool",
    SqlType.TIMESTAMP: "timestamp",
    SqlType.JSON: "text",  # the JSON text, as read_batches gives it (destinations differ in their JSON types)
}


@dataclass
class SourceRun:
    """What the source's reads did, per table: rows read, API calls, seconds spent reading, slices skipped."""

    rows: dict[str, int] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, list[Skipped]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, table: str, rows: int, calls: int, seconds: float, skipped: list[Skipped]) -> None:
        with self._lock:
            self.rows[table] = self.rows.get(table, 0) + rows
            self.api_calls[table] = self.api_calls.get(table, 0) + calls
            self.seconds[table] = self.seconds.get(table, 0.0) + seconds
            self.skipped.setdefault(table, []).extend(skipped)


class _Shared:
    """The one connection every resource of a source reads through, opened at the first read (so a source can
    be built, e.g. by Dagster when it loads its definitions, without a key or a request). A connection the source
    opened itself (`owned`) is closed when the source is gone; a caller's stays the caller's to close."""

    def __init__(self, opener: Callable[[], Connection], export_method: str, owned: bool) -> None:
        self._opener = opener
        self._export_method = export_method
        self._owned = owned
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def get(self) -> Connection:
        with self._lock:
            if self._conn is None:
                self._conn = self._opener()
                self._conn.session.export_method = self._export_method
                if self._owned:
                    weakref.finalize(self, self._conn.close)
            return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def column_hints(columns: Sequence[Column]) -> TTableSchemaColumns:
    """dlt column hints from the catalog: type, nullability (keys are never null), primary key."""
    hints: TTableSchemaColumns = {}
    for column in columns:
        hint: TColumnSchema = {"name": column.name, "data_type": DLT_TYPES[column.type], "nullable": not column.key}  # type: ignore[typeddict-item]
        if column.type is SqlType.TIMESTAMP:
            hint["timezone"] = True
        if column.key:
            hint["primary_key"] = True
        hints[column.name] = hint
    return hints


def disposition(stream: Stream) -> TWriteDisposition:
    """How dlt writes a table: replaced when its read lists every key (deletions in Iterable become deletions),
    merged by key otherwise, appended when the object has no key."""
    if stream.policy.sweep and stream.condition is None:
        return "replace"
    return "merge" if stream.obj.keys else "append"


def _resource(shared: _Shared, stream: Stream, lookback: timedelta, run: SourceRun, batch_rows: int) -> DltResource:
    obj = stream.obj
    cursor = stream.cursor if stream.exported else None
    # The cursor less the lookback is where the next read starts (the export API's time windows); the overlap
    # is merged by key.
    incremental: Any = (
        dlt.sources.incremental(cursor, lag=lookback.total_seconds(), range_start="closed") if cursor else None
    )

    def read(updated: Any = incremental) -> Iterator[Any]:
        conn = shared.get()
        where: dict[str, Any] = {}
        if stream.part is not None and obj.split is not None:
            where[obj.split.column] = stream.part
        start = getattr(updated, "start_value", None)
        if cursor is not None and start is not None:
            where[cursor] = Condition(">=", start)
        yield from _counted(conn, stream.table, run, _batches(conn, obj, where, batch_rows))

    return dlt.resource(
        read,
        name=stream.table,
        table_name=stream.table,
        primary_key=list(obj.keys),
        write_disposition=disposition(stream),
        columns=column_hints([c for c in obj.columns if not c.import_only]),
    )


def _batches(conn: Connection, obj: ObjectDef, where: dict[str, Any], batch_rows: int) -> Iterator[Any]:
    """The object's Arrow batches with every column it has now (Users' custom fields included), its keys not
    nullable (as the hints say)."""
    names = [c.name for c in conn.columns(obj) if not c.import_only]
    schema = None
    for batch in conn.read_batches(obj.name, where, names, batch_rows):
        if schema is None:
            schema = pa.schema([f.with_nullable(False) if f.name in obj.keys else f for f in batch.schema])
        yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)


def _counted(conn: Connection, table: str, run: SourceRun, batches: Iterator[Any]) -> Iterator[Any]:
    """The batches, with the rows, API calls, time and skipped slices of each step added to the table's record.
    Counted per step, in the thread that runs it: dlt interleaves resources (and may run them in threads), so
    only what happens inside a step is this table's."""
    session = conn.session
    while True:
        began, calls, skipped = time.monotonic(), conn.client.calls_in_thread(), len(session.skipped_in_thread())
        batch = None
        try:
            batch = next(batches, None)
        finally:
            rows = 0 if batch is None else batch.num_rows
            seconds = time.monotonic() - began
            run.add(table, rows, conn.client.calls_in_thread() - calls, seconds, session.skipped_in_thread()[skipped:])
        if batch is None:
            return
        yield batch


def resources(
    opener: Callable[[], Connection],
    objects: Sequence[str] | None = None,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    export_method: str = "auto",
    batch_rows: int = DEFAULT_BATCH_ROWS,
    owned: bool = False,
) -> tuple[list[DltResource], SourceRun, Callable[[], None]]:
    """The resources for a connection `opener()` makes at the first read, their run record, and a function that
    closes that connection. `objects` as `replicate --objects` takes them (default: every object readable
    without a filter); `owned`: the connection is the source's own, closed when the source is gone."""
    if export_method not in EXPORT_METHODS:
        raise ConfigurationError(f"export_method must be auto, sync or async, not {export_method!r}")
    chosen = [s for s in streams(list(objects) if objects else None) if s.condition is None]
    shared = _Shared(opener, export_method, owned)
    run = SourceRun()
    return [_resource(shared, stream, lookback, run, batch_rows) for stream in chosen], run, shared.close


def source_from(
    opener: Callable[[], Connection],
    objects: Sequence[str] | None = None,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    export_method: str = "auto",
    name: str = SOURCE_NAME,
) -> tuple[DltSource, SourceRun, Callable[[], None]]:
    """`resources` as one dlt source named `name`: a source for a connection of the caller's (or a sandbox's)."""
    made, run, close = resources(opener, objects, lookback=lookback, export_method=export_method)

    def iterable() -> list[DltResource]:
        return made

    source = dlt.source(iterable, name=name, section=SOURCE_NAME, max_table_nesting=0)()
    return source, run, close


@dlt.source(name=SOURCE_NAME, section=SOURCE_NAME, max_table_nesting=0)
def iterable_source(
    api_key: str = dlt.secrets.value,
    region: str | None = None,
    base_url: str | None = None,
    objects: list[str] | None = None,
    lookback_minutes: int = int(DEFAULT_LOOKBACK.total_seconds() // 60),
    export_method: str = "auto",
) -> Any:
    """Iterable as a dlt source (see the module's docstring). Configured the dlt way: `sources.iterable.api_key`
    in .dlt/secrets.toml or SOURCES__ITERABLE__API_KEY; `region` ("us", "eu") or `base_url` in config."""
    made, _, _ = resources(
        lambda: connect(api_key, region=region, base_url=base_url),
        objects,
        lookback=timedelta(minutes=lookback_minutes),
        export_method=export_method,
        owned=True,
    )
    return made


@dataclass
class SandboxSource:
    """A source reading an embedded sandbox (what `--sandbox` is to the CLI): `stop()` ends the sandbox."""

    source: DltSource
    run: SourceRun
    conn: Connection

    def stop(self) -> None:
        self.conn.close()

    def __enter__(self) -> SandboxSource:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def sandbox_source(
    config: SandboxConfig | None = None,
    objects: Sequence[str] | None = None,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    export_method: str = "auto",
) -> SandboxSource:
    """A source over a sandbox started for it (default: a fresh tiny project), to try dlt without an account:

    with sandbox_source() as trial:
        dlt.pipeline("try", destination="duckdb").run(trial.source)
    """
    conn = connect(sandbox=config or True)
    source, run, _ = source_from(lambda: conn, objects, lookback=lookback, export_method=export_method)
    return SandboxSource(source, run, conn)


# ---- `iterbridge replicate --to dlt:DESTINATION` ---------------------------------------------------------------

PIPELINE_NAME = "iterbridge"  # + "_" + the destination: one pipeline (state, local files) per destination
DATASET_NAME = "iterable"


def destination_of(target: str) -> str:
    """The dlt destination of a `--to dlt:NAME` target (bigquery, snowflake, filesystem, duckdb…), checked."""
    name = target.split(":", 1)[1].strip() if ":" in target else ""
    if not name:
        raise ConfigurationError("--to dlt: names no destination; e.g. --to dlt:duckdb or --to dlt:bigquery")
    try:
        Destination.from_reference(name)
    except (UnknownDestinationModule, ImportError, ConfigurationException):
        raise ConfigurationError(
            f"--to {target}: dlt has no destination {name!r} (e.g. dlt:duckdb, dlt:postgres, dlt:filesystem, "
            "dlt:bigquery, dlt:snowflake)"
        ) from None
    return name


def make_pipeline(name: str, destination: Any, dataset: str, pipelines_dir: str | None = None) -> Any:
    """A dlt pipeline (its state, schemas and pending packages in `pipelines_dir`, default dlt's own folder)."""
    return dlt.pipeline(name, destination=destination, dataset_name=dataset, pipelines_dir=pipelines_dir)  # type: ignore[arg-type]


def replicate_to(
    conn: Connection,
    target: str,
    objects: Sequence[str] | None = None,
    *,
    full: bool = False,
    lookback: timedelta | None = None,
    export_method: str = "auto",
    pipeline_name: str | None = None,
    dataset_name: str = DATASET_NAME,
    pipelines_dir: str | None = None,
    progress: Callable[[StreamReport], None] | None = None,
    started: Callable[[], None] | None = None,
) -> ReplicationReport:
    """Run the source into a dlt destination through a pipeline (its state and credentials are dlt's: the
    destination's config sections, `.dlt/`); the report is replicate's: rows read, API calls, time per table,
    skipped slices, a table failed when dlt's load of it failed."""
    from iterbridge.replicate import ReplicationReport, StreamReport

    destination = destination_of(target)
    source, run, _ = source_from(
        lambda: conn, objects, lookback=DEFAULT_LOOKBACK if lookback is None else lookback, export_method=export_method
    )
    began = time.monotonic()
    try:
        pipeline = make_pipeline(
            pipeline_name or f"{PIPELINE_NAME}_{destination}", destination, dataset_name, pipelines_dir
        )
    except ConfigurationException as error:
        raise ConfigurationError(f"--to {target}: {error}".splitlines()[0]) from None
    if started is not None:
        started()
    failure = _run(pipeline, source, full)
    report = ReplicationReport(f"dlt:{destination} (dataset {dataset_name})", seconds=time.monotonic() - began)
    for resource in source.resources.values():
        table = resource.name
        stream = StreamReport(table, str(resource.write_disposition))
        stream.method = "dlt"
        stream.rows_read = run.rows.get(table, 0)
        stream.api_calls = run.api_calls.get(table, 0)
        stream.seconds = run.seconds.get(table, 0.0)
        stream.skipped = [f"{s.slice}: {s.reason}" for s in run.skipped.get(table, [])]
        stream.error = failure
        report.streams.append(stream)
        if progress is not None:
            progress(stream)
    return report


def _run(pipeline: Any, source: DltSource, full: bool) -> str | None:
    """Run the pipeline; the failure's first line when it failed (every table then counts as failed: a dlt
    load is one package), None when it loaded. A missing setting is a configuration error, and an error of
    iterbridge's (a refused key…) is raised as itself, for its exit code."""
    from dlt.pipeline.exceptions import PipelineStepFailed

    try:
        pipeline.run(source, refresh="drop_resources" if full else None)
    except PipelineStepFailed as failed:
        cause = cause_of(failed)
        if isinstance(cause, ConfigurationException):
            raise ConfigurationError(f"dlt {failed.step}: {cause}".splitlines()[0]) from None
        if isinstance(cause, IterbridgeError):
            raise cause from None
        return f"dlt {failed.step}: {cause}".splitlines()[0]
    return None


def cause_of(error: BaseException) -> BaseException:
    """The error at the bottom of what dlt wraps (a step failed ← a resource failed ← iterbridge's error)."""
    seen = {id(error)}
    while (inner := error.__cause__ or error.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        error = inner
    return error
