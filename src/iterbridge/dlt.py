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

A table whose rows another's whole read carries (`ObjectDef.derived`: list members in the users' emailListIds) is
taken from that read when a run extracts both and the source is read whole (no incremental state), as `replicate`
takes it, so a full run makes replicate's API calls; see `_Link`.
"""

from __future__ import annotations

import logging
import re
import tempfile
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
from dlt.common.exceptions import DltException
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns, TWriteDisposition
from dlt.sources import DltResource, DltSource

from iterbridge.connection import Connection, connect
from iterbridge.errors import ConfigurationError, IterbridgeError
from iterbridge.objects.arrow import batch_from_rows, derivation_input
from iterbridge.objects.arrow import schema as arrow_schema
from iterbridge.objects.base import DEFAULT_BATCH_ROWS, Column, Condition, ObjectDef, SqlType
from iterbridge.objects.reading import EXPORT_METHODS
from iterbridge.objects.session import Skipped
from iterbridge.replicate.plan import DEFAULT_LOOKBACK, Stream, derivations, streams
from iterbridge.replicate.runner import DerivedParts

if TYPE_CHECKING:
    from iterbridge.replicate import ReplicationReport, StreamReport
    from iterbridge.sandbox import SandboxConfig

log = logging.getLogger("iterbridge.dlt")
_END = object()

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
    """What the source's reads did, per table: rows read, API calls, seconds spent reading, slices skipped, and
    for a table taken partly from another's read, which values of its key were derived and which were read."""

    rows: dict[str, int] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, list[Skipped]] = field(default_factory=dict)
    derived: dict[str, DerivedParts] = field(default_factory=dict)  # a table partly taken from another's read
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
        self._links: dict[tuple[str, int], tuple[Any, _Link]] = {}

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

    def link(self, table: str, run_state: Any) -> _Link:
        """The `_Link` of a derived table in one run: the same for both resources of that run, told apart from
        other runs by the run's state (a dict each pipeline run loads anew)."""
        with self._lock:
            key = (table, id(run_state))
            if key not in self._links:
                self._links[key] = (run_state, _Link())  # the state held: its id stays this run's
            return self._links[key][1]

    def unlink(self, table: str, run_state: Any) -> None:
        with self._lock:
            self._links.pop((table, id(run_state)), None)


class _Link:
    """A derived table's rows in one run (ObjectDef.derived: ListUsers of Standard lists in Users' emailListIds),
    as `replicate` takes them: from the source's read when that read is whole. The source's resource decides at its
    start (`decide`: its read is whole when it has no incremental state), spools the rows its batches carry to a
    temporary file (`feed`: flat memory, and nothing is given before the read is known complete) and says at its
    end whether it saw every record (`end`). The derived table's resource reads the values the source does not
    cover meanwhile, then gives the spooled rows, or reads the covered values too if the source's read skipped a
    slice (a spooled part would leave members out; dlt replaces the table, so nothing may be given twice)."""

    def __init__(self) -> None:
        self.decided = False
        self.ended = False
        self.complete = False
        self.parts: DerivedParts | None = None  # None: nothing is derived in this run
        self._covered: frozenset[Any] = frozenset()
        self._columns: list[Column] = []
        self._spool: Any = None
        self._writer: Any = None

    def decide(self, conn: Connection, derived: Stream, source: Stream, whole: bool, run: SourceRun) -> None:
        derivation = derived.obj.derived
        if whole and derivation is not None:
            began, calls = time.monotonic(), conn.client.calls_in_thread()
            try:
                covered, others = derivation.plan(conn.session)
            except IterbridgeError as error:
                log.warning("%s: read in full (%s)", derived.table, error)
            else:
                self.parts = DerivedParts(source.table, derivation.noun, sorted(covered), sorted(others))
                self._covered = frozenset(covered)
                self._columns = [c for c in conn.columns(derived.obj) if not c.import_only]
                self._spool = tempfile.TemporaryFile()  # noqa: SIM115 — closed by `close`, at the derived table's end
                self._writer = pa.ipc.new_stream(self._spool, arrow_schema(self._columns))
            finally:  # the plan's calls are the derived table's, as in replicate's report
                run.add(derived.table, 0, conn.client.calls_in_thread() - calls, time.monotonic() - began, [])
        self.decided = True

    def feed(self, batch: Any, derived: Stream, types: dict[str, SqlType]) -> None:
        derivation = derived.obj.derived
        if self._writer is None or derivation is None:
            return
        found = [r for row in derivation_input(batch, derivation, types) for r in derivation.rows(row, self._covered)]
        if found:
            self._writer.write_batch(batch_from_rows(found, self._columns))

    def end(self, complete: bool) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.complete = complete
        self.ended = True

    def spooled(self) -> Iterator[Any]:
        self._spool.seek(0)
        yield from pa.ipc.open_stream(self._spool)

    def close(self) -> None:
        """The spool gone (the derived table's read ended, whatever the end); later rows are no longer kept."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None


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


def _resource(
    shared: _Shared,
    stream: Stream,
    lookback: timedelta,
    run: SourceRun,
    batch_rows: int,
    feeds: Sequence[Stream] = (),
    fed_by: Stream | None = None,
) -> DltResource:
    """The resource of one table. `feeds`: the tables whose rows this one's whole read carries; `fed_by`: the
    table whose whole read carries some of this one's (replicate/plan.py `derivations`): when both are extracted
    in the same run, those rows are taken from that read (see `_Link`)."""
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
        selected, run_state = _this_run() if feeds or fed_by else (set(), None)
        if fed_by is not None and fed_by.table in selected:
            taken = _derived_batches(conn, shared.link(stream.table, run_state), stream, run, batch_rows)
            try:
                yield from _counted(conn, stream.table, run, taken)
            finally:
                shared.unlink(stream.table, run_state)
            return
        batches = _counted(conn, stream.table, run, _batches(conn, obj, where, batch_rows))
        links = [(d, shared.link(d.table, run_state)) for d in feeds if d.table in selected]
        if not links:
            yield from batches
            return
        for derived, link in links:
            link.decide(conn, derived, stream, start is None, run)
        types = {c.name: c.type for c in conn.columns(obj)}
        skipped = len(run.skipped.get(stream.table, []))
        read = False
        try:
            for batch in batches:
                for derived, link in links:
                    link.feed(batch, derived, types)
                yield batch
            read = True
        finally:
            complete = read and len(run.skipped.get(stream.table, [])) == skipped
            for _, link in links:
                link.end(complete)

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
    for batch in conn.read_batches(obj.name, where, names, batch_rows):
        yield _keyed(batch, obj)


def _keyed(batch: Any, obj: ObjectDef) -> Any:
    """A batch whose key columns are not nullable, as the column hints say."""
    schema = pa.schema([f.with_nullable(False) if f.name in obj.keys else f for f in batch.schema])
    return pa.RecordBatch.from_arrays(batch.columns, schema=schema)


def _this_run() -> tuple[set[str], Any]:
    """The resources the running extract takes (the source's selection: `with_resources`, Dagster's subsets) and
    what tells this run apart from others (its source state, loaded anew by each run); outside a run, none."""
    try:
        return set(dlt.current.source().resources.selected), dlt.current.source_state()
    except DltException:
        return set(), None


def _derived_batches(conn: Connection, link: _Link, stream: Stream, run: SourceRun, batch_rows: int) -> Iterator[Any]:
    """A derived table's batches in a run that also extracts its source (see `_Link`). While the source's resource
    has not decided, or not ended, this yields None: dlt's extract then goes on with its other resources (the
    source's among them) and comes back."""
    try:
        while not link.decided:
            yield None
        parts, derivation = link.parts, stream.obj.derived
        if parts is None or derivation is None:  # the source's read is incremental: every value is read here
            run.derived.pop(stream.table, None)
            yield from _batches(conn, stream.obj, {}, batch_rows)
            return
        run.derived[stream.table] = parts
        if parts.called:
            yield from _batches(conn, stream.obj, {derivation.column: Condition("in", parts.called)}, batch_rows)
        while not link.ended:
            yield None
        if link.complete:
            yield from (_keyed(batch, stream.obj) for batch in link.spooled())
        elif parts.derived:
            log.warning("%s: %s's read was not complete; read from Iterable instead", stream.table, parts.source)
            covered, parts.derived = parts.derived, []
            parts.called = sorted([*parts.called, *covered])
            yield from _batches(conn, stream.obj, {derivation.column: Condition("in", covered)}, batch_rows)
    finally:
        link.close()


def _counted(conn: Connection, table: str, run: SourceRun, batches: Iterator[Any]) -> Iterator[Any]:
    """The batches, with the rows, API calls, time and skipped slices of each step added to the table's record.
    Counted per step, in the thread that runs it: dlt interleaves resources (and may run them in threads), so
    only what happens inside a step is this table's. A None (nothing yet: see `_derived_batches`) is passed on."""
    session = conn.session
    while True:
        began, calls, skipped = time.monotonic(), conn.client.calls_in_thread(), len(session.skipped_in_thread())
        batch: Any = _END
        try:
            batch = next(batches, _END)
        finally:
            rows = 0 if batch is None or batch is _END else batch.num_rows
            seconds = time.monotonic() - began
            run.add(table, rows, conn.client.calls_in_thread() - calls, seconds, session.skipped_in_thread()[skipped:])
        if batch is _END:
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
    pairs = derivations(chosen)
    made = [
        _resource(
            shared,
            stream,
            lookback,
            run,
            batch_rows,
            feeds=[derived for derived, source in pairs if source is stream],
            fed_by=next((source for derived, source in pairs if derived is stream), None),
        )
        for stream in chosen
    ]
    return made, run, shared.close


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


PLAIN_NAME = re.compile(r"[a-z][a-z0-9_]*")  # a dlt destination, a project: names that become folders and config


def plain_name(text: str, what: str) -> str:
    """`text` when it is a plain lower-case name (letters, digits, _), else a one-line ConfigurationError."""
    if not PLAIN_NAME.fullmatch(text):
        raise ConfigurationError(f"{what} {text!r} is not a plain name (a-z, 0-9, _; starting with a letter)")
    return text


def destination_of(target: str) -> str:
    """The dlt destination of a `--to dlt:NAME` target (bigquery, snowflake, filesystem, duckdb…), checked."""
    name = target.split(":", 1)[1].strip() if ":" in target else ""
    if not name:
        raise ConfigurationError("--to dlt: names no destination; e.g. --to dlt:duckdb or --to dlt:bigquery")
    if not PLAIN_NAME.fullmatch(name):  # dlt would import a dotted name as a module; it also names a folder
        raise ConfigurationError(
            f"--to {target}: a dlt destination is a plain name (letters, digits, _), e.g. dlt:duckdb or dlt:bigquery"
        )
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
        stream.derived = run.derived.get(table)
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
