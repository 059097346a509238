"""A connection to one Iterable project: the API client, the object catalog, reads, writes and actions.

import iterbridge

with iterbridge.connect() as conn:                 # key from argument, environment or profile
    for row in conn.read("Campaigns", where={"CampaignState": "Running"}, columns=["Id", "Name"]):
        ...
    report = conn.insert("Lists", [{"Name": "VIP"}])
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx2

from iterbridge.api.client import ApiClient, RetryPolicy
from iterbridge.api.exports import WindowPolicy
from iterbridge.api.jsonlines import JsonLines, Quarantine
from iterbridge.api.ratelimit import ClientRateLimiter
from iterbridge.api.timestamps import parse_timestamp
from iterbridge.dburl import DLT_PREFIX
from iterbridge.errors import (
    AuthenticationError,
    ConfigurationError,
    FatalApiError,
    MissingRequiredFilter,
    QueryError,
    UnknownColumn,
)
from iterbridge.objects import OBJECTS, get_object, scanner
from iterbridge.objects.base import (
    DEFAULT_BATCH_ROWS,
    Column,
    Condition,
    ObjectDef,
    Operation,
    ReadRequest,
    Row,
    RowResult,
    RowStatus,
    SqlType,
    WriteReport,
)
from iterbridge.objects.procedures import get_procedure
from iterbridge.objects.session import Skipped
from iterbridge.settings import Settings, resolve

if TYPE_CHECKING:
    from pathlib import Path

    from iterbridge.query.engine import Cursor, Engine, Params
    from iterbridge.replicate import ReplicationReport, StreamProgress, StreamReport
    from iterbridge.sandbox import Sandbox, SandboxConfig
    from iterbridge.sync import SyncReport
    from iterbridge.transfer import CsvOptions, ExportResult, ImportOptions, ImportSummary

log = logging.getLogger("iterbridge")

_OPERATORS = {"=", "==", "in", "<", "<=", ">", ">="}


@dataclass(frozen=True)
class KeyCheck:
    region: str
    base_url: str
    read_only: bool

    @property
    def can_export(self) -> bool:
        return not self.read_only

    def describe(self) -> str:
        kind = (
            "read-only key: metadata only (no exports, no list members, no writes)"
            if self.read_only
            else ("server-side key: every object can be read and written")
        )
        return f"key accepted by {self.base_url} ({self.region}); {kind}"


def _require_filters(obj: ObjectDef, request: ReadRequest) -> None:
    """A read of an object that needs one of its filters (CatalogItems: a catalog) is refused before any request."""
    if obj.required_filters and all(request.values(f) is None for f in obj.required_filters):
        raise MissingRequiredFilter(obj.name, obj.required_filters)


@dataclass
class ApiSession:
    """The Session (objects.session) of a connection: the API client, the catalog's columns, what reads skipped,
    the export settings, reads and writes. Readers, writers and jobs get this; users get `Connection`."""

    client: ApiClient
    suppress_extended_requests: bool = False
    # Events and Users without a user filter: "auto" (data.json while it would not wait for the rate limit,
    # export jobs once it would), "sync" or "async" (objects.reading.export_method).
    export_method: str = "auto"
    window_policy: WindowPolicy = field(default_factory=WindowPolicy)
    skipped: list[Skipped] = field(default_factory=list)
    # Export lines that were not JSON: how many were repaired, and the file the others are kept in.
    quarantine: Quarantine = field(default_factory=Quarantine)
    _columns: dict[str, tuple[Column, ...]] = field(default_factory=dict)
    _user_fields: dict[str, str] | None = None
    # Per thread, what its reads skipped (replication reports it per table); per connection, not per process.
    _thread: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    # ---- the catalog -------------------------------------------------------------------------------------

    def object(self, name: str) -> ObjectDef:
        return get_object(name)

    def columns(self, obj: ObjectDef | str) -> tuple[Column, ...]:
        """An object's columns; for Users, with the project's custom fields (asked once per connection)."""
        obj = self.object(obj) if isinstance(obj, str) else obj
        if obj.name not in self._columns:
            extra = obj.dynamic_columns(self) if obj.dynamic_columns else ()
            self._columns[obj.name] = obj.columns + extra
        return self._columns[obj.name]

    def forget_user_fields(self) -> None:
        """Ask users/getFields again at the next use (replication does at each run, so a custom field created
        since becomes a column)."""
        self._user_fields = None
        for name, obj in OBJECTS.items():
            if obj.dynamic_columns is not None:  # columns from the project's fields
                self._columns.pop(name, None)

    def user_fields(self) -> dict[str, str]:
        if self._user_fields is None:
            self._user_fields = dict(self.client.json("GET /api/users/getFields").get("fields") or {})
        return self._user_fields

    def skip(self, obj: str, part: str, reason: str) -> None:
        log.warning("%s: skipped %s: %s", obj, part, reason)
        skipped = Skipped(obj, part, reason)
        self.skipped.append(skipped)
        found = getattr(self._thread, "skipped", None)
        if found is None:
            found = self._thread.skipped = []
        found.append(skipped)

    @contextlib.contextmanager
    def json_lines(self, obj: str, source: str) -> Iterator[JsonLines]:
        """The parser of one read's JSON lines (e.g. source "the emailSend export"). When the read ends, the
        lines it had to skip are reported as one skipped slice (the quarantine, `self.quarantine.path`, keeps them)."""
        lines = JsonLines(self.quarantine)
        try:
            yield lines
        finally:
            if lines.skipped:
                self.skip(
                    obj,
                    f"{lines.skipped:,} malformed line(s) of {source}",
                    "not JSON; kept verbatim in the quarantine file",
                )

    def skipped_in_thread(self) -> list[Skipped]:
        """What this thread's reads skipped (replication reports it per table)."""
        return list(getattr(self._thread, "skipped", []))

    def server_now(self) -> datetime:
        """Now on Iterable's clock, as its Date headers tell: where export windows end."""
        return self.client.server_now()

    def read(
        self,
        obj: str,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[Row]:
        """Rows of an object, as dicts keyed by column, matching every condition of `where`.

        `where` maps a column to a value (=), a list/tuple/set (IN), a Condition, or a list of Conditions
        (e.g. [Condition(">=", start), Condition("<", end)]). What the API can answer is pushed to it;
        everything is also checked locally, so pushdown never changes the result.
        """
        definition, selected, request = self._request(obj, where, columns, limit)
        if definition.dicts_from_batches and scanner.scanning():
            return self._dicts_of_batches(definition, selected, request, limit)
        return self._filtered(self.scan(definition, request), request.where, selected, limit)

    def _dicts_of_batches(
        self, definition: ObjectDef, selected: list[str], request: ReadRequest, limit: int | None
    ) -> Iterator[Row]:
        """`read`'s rows made from the object's batches: conditions checked and columns selected by Arrow, each
        dict made in C (objects/arrow.rows); JSON in Iterable's key order, as the dict rows hold it."""
        from iterbridge.objects.arrow import rows

        request.hints = replace(request.hints, sort_json_keys=False)
        types = {c.name: c.type for c in self.columns(definition)}
        batches = self._kept(self.scan_batches(definition, request, DEFAULT_BATCH_ROWS), definition, selected, request)
        found = (row for batch in batches for row in rows(batch, types))
        return itertools.islice(found, max(limit, 0)) if limit is not None else found

    def _request(
        self, obj: str, where: Mapping[str, Any] | None, columns: Sequence[str] | None, limit: int | None
    ) -> tuple[ObjectDef, list[str], ReadRequest]:
        """A public read's object, selected columns (own names, in order) and the reader's request."""
        definition = self.object(obj)
        available = self.columns(definition)
        selected = (
            [self.column_name(definition, available, name) for name in columns]
            if columns
            else [c.name for c in available]
        )
        conditions = self._conditions(definition, available, where or {})
        # A reader may stop early at the limit only when nothing is left to filter after it.
        pushed_limit = limit if not conditions else None
        request = ReadRequest(list(dict.fromkeys([*selected, *definition.keys, *conditions])), conditions, pushed_limit)
        return definition, selected, request

    def read_batches(
        self,
        obj: str,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        *,
        sort_json_keys: bool = True,
    ) -> Iterator[Any]:
        """`read`'s rows as pyarrow RecordBatches typed from the catalog (objects/arrow.py), at most `batch_rows`
        each: the object's columnar reader where it has one, else batches of its dict rows. The conditions are
        re-checked per batch by Arrow compute filters with `read`'s semantics. Like `read`, a bad object, column,
        condition or missing filter is raised by the call itself, before any request."""
        definition, selected, request = self._request(obj, where, columns, None)
        request.hints = replace(request.hints, sort_json_keys=sort_json_keys)
        if batch_rows < 1:
            raise QueryError(f"batch_rows must be at least 1, not {batch_rows}")
        batches = self.scan_batches(definition, request, batch_rows)  # refuses a missing filter now, not later
        return self._kept(batches, definition, selected, request)

    def _kept(
        self, batches: Iterator[Any], definition: ObjectDef, selected: list[str], request: ReadRequest
    ) -> Iterator[Any]:
        from iterbridge.objects.arrow import keep

        types = {c.name: c.type for c in self.columns(definition)}
        for batch in batches:
            kept = keep(batch, request.where, types).select(selected)
            if kept.num_rows:
                yield kept

    def scan(self, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
        """The reader's rows for a request, with only what the API narrowed (the SQL engine filters the rest)."""
        _require_filters(obj, request)
        return obj.reader(self, obj, request)

    def scan_batches(self, obj: ObjectDef, request: ReadRequest, batch_rows: int) -> Iterator[Any]:
        """`scan` as Arrow batches of every column (objects/arrow.py): the object's columnar reader where it has
        one, else batches of its dict rows."""
        from iterbridge.objects.arrow import batches_from_rows

        _require_filters(obj, request)
        if obj.batch_reader is not None:
            return obj.batch_reader(self, obj, request, batch_rows)
        rows = obj.reader(self, obj, request)
        return batches_from_rows(rows, self.columns(obj), batch_rows, sort_keys=request.hints.sort_json_keys)

    @staticmethod
    def _filtered(
        rows: Iterator[Row], conditions: dict[str, list[Condition]], selected: list[str], limit: int | None
    ) -> Iterator[Row]:
        produced = 0
        if limit is not None and limit <= 0:
            return
        checks = [(name, condition.predicate()) for name, found in conditions.items() for condition in found]
        for row in rows:
            for name, matches in checks:
                if not matches(row.get(name)):
                    break
            else:
                # A reader's row that is already exactly the selection (every column, in order) is given as is.
                yield row if list(row) == selected else {name: row.get(name) for name in selected}
                produced += 1
                if limit is not None and produced >= limit:
                    return

    @staticmethod
    def column_name(obj: ObjectDef, available: tuple[Column, ...], name: str) -> str:
        """A column's own name for a name in any case; UnknownColumn when the object has none such."""
        lowered = name.lower()
        for column in available:
            if column.name.lower() == lowered:
                return column.name
        raise UnknownColumn(obj.name, name, [c.name for c in available])

    def _conditions(
        self, obj: ObjectDef, available: tuple[Column, ...], where: Mapping[str, Any]
    ) -> dict[str, list[Condition]]:
        conditions: dict[str, list[Condition]] = {}
        types = {c.name: c.type for c in available}
        for name, value in where.items():
            column = self.column_name(obj, available, name)
            items = (
                value if isinstance(value, list) and value and all(isinstance(v, Condition) for v in value) else [value]
            )
            for item in items:
                if isinstance(item, Condition):
                    if item.op not in _OPERATORS:
                        raise QueryError(f"unsupported operator {item.op!r} on {obj.name}.{column}")
                    condition = Condition("=" if item.op == "==" else item.op, item.value)
                elif isinstance(item, (list, tuple, set, frozenset)):
                    condition = Condition("in", list(item))
                else:
                    condition = Condition("=", item)
                if types[column] is SqlType.TIMESTAMP:
                    condition = self._timestamp_condition(obj, column, condition)
                conditions.setdefault(column, []).append(condition)
        return conditions

    @staticmethod
    def _timestamp_condition(obj: ObjectDef, column: str, condition: Condition) -> Condition:
        """Text, epoch and naive values of a timestamp condition as UTC datetimes: parsed once, not per row,
        and a value that is no timestamp is refused here rather than matching nothing."""

        def moment(value: Any) -> datetime | None:
            try:
                return parse_timestamp(value)
            except ValueError:
                raise QueryError(f"{obj.name}.{column} is a timestamp; {value!r} is not one") from None

        if condition.op == "in":
            return Condition("in", [moment(v) for v in condition.value])
        return Condition(condition.op, moment(condition.value))

    # ---- writing -----------------------------------------------------------------------------------------

    def insert(self, obj: str, rows: Iterable[Mapping[str, Any]]) -> WriteReport:
        return self.write(Operation.INSERT, obj, rows)

    def update(self, obj: str, rows: Iterable[Mapping[str, Any]]) -> WriteReport:
        return self.write(Operation.UPDATE, obj, rows)

    def delete(self, obj: str, keys: Iterable[Mapping[str, Any]]) -> WriteReport:
        return self.write(Operation.DELETE, obj, keys)

    def write(self, operation: Operation | str, obj: str, rows: Iterable[Mapping[str, Any]]) -> WriteReport:
        """Write rows with one of the object's operations ("insert", "update", "delete", or an `Operation`):
        what `insert`, `update` and `delete` do, for callers that hold the operation as a value."""
        from iterbridge.errors import UnsupportedOperation

        definition = self.object(obj)
        known = Operation.named(operation)
        write = None if known is None else definition.writes.get(known)
        if known is None or write is None:
            raise UnsupportedOperation(definition.name, str(operation), list(definition.writes))
        operation = known
        available = self.columns(definition)
        by_name = {c.name: c for c in available}
        prepared: list[Row] = []
        for row in rows:
            if all(name in by_name for name in row):  # already the columns' own names (e.g. an import's rows)
                canonical = dict(row)
            else:
                canonical = {self.column_name(definition, available, name): value for name, value in row.items()}
            if operation is not Operation.DELETE:
                for name, value in canonical.items():
                    column = by_name[name]
                    if value is not None and not column.writable(operation):
                        raise QueryError(
                            f"{definition.name}.{name} is read-only; writable columns: "
                            + ", ".join(c.name for c in available if not c.read_only)
                        )
            prepared.append(canonical)
        report = WriteReport(operation, definition.name)
        valid: list[tuple[int, Row]] = []
        for position, row in enumerate(prepared):
            missing = [group for group in write.required if not any(_given(row.get(c)) for c in group)]
            if missing:
                wanted = "; ".join(" or ".join(group) for group in missing)
                report.results.append(RowResult(position, RowStatus.INVALID, f"missing {wanted}"))
            else:
                valid.append((position, row))
        calls_before = self.client.calls
        if valid:
            sent = write.send(self, definition, [row for _, row in valid])
            for result in sent:
                original = valid[result.index][0]
                report.results.append(dataclasses.replace(result, index=original))
        report.results.sort(key=lambda r: r.index)
        report.api_calls = self.client.calls - calls_before
        return report

    # ---- actions -----------------------------------------------------------------------------------------

    def call(self, procedure: str, *args: Any, **kwargs: Any) -> str:
        """Run a stored procedure (TriggerCampaign, AbortCampaign, CancelScheduledOrRecurringCampaign);
        returns Iterable's message."""
        return get_procedure(procedure).run(self, args, kwargs)


@dataclass
class Connection:
    """A connection to one Iterable project: the public API (see the module's docstring). Every method
    delegates to the job that does the work; readers and writers get `session`, the seam they are typed
    against (objects.session.Session)."""

    settings: Settings
    session: ApiSession
    sandbox: Sandbox | None = None
    _engine: Engine | None = None

    def __repr__(self) -> str:
        return f"Connection(base_url={self.settings.base_url!r}, region={self.settings.region!r})"

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the SQL engine, the HTTP client and the embedded sandbox (if one was started)."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self.client.close()
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # ---- what the session keeps --------------------------------------------------------------------------

    @property
    def client(self) -> ApiClient:
        """The API client (raw calls: `conn.client.json("GET /api/channels")`; `.calls` counts them)."""
        return self.session.client

    @property
    def skipped(self) -> list[Skipped]:
        """Every slice this connection's reads could not get (e.g. a list whose members fail), with the reason."""
        return self.session.skipped

    @property
    def quarantine(self) -> Quarantine:
        """Export lines that were not JSON: how many were repaired (`.repaired`), kept (`.kept`), and where
        (`.path`)."""
        return self.session.quarantine

    # ---- the catalog -------------------------------------------------------------------------------------

    @property
    def objects(self) -> list[str]:
        """The names of the catalog's objects."""
        return list(OBJECTS)

    def object(self, name: str) -> ObjectDef:
        """An object's declaration (columns, filters, writes), by name in any case; UnknownObject otherwise."""
        return self.session.object(name)

    def columns(self, obj: ObjectDef | str) -> tuple[Column, ...]:
        """An object's columns; for Users, with the project's custom fields (asked once per connection)."""
        return self.session.columns(obj)

    # ---- reading and writing -----------------------------------------------------------------------------

    def read(
        self,
        obj: str,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[Row]:
        """Rows of an object, as dicts keyed by column, matching every condition of `where`.

        :param obj: the object's name (e.g. "Campaigns")
        :param where: a column → a value (=), a list/tuple/set (IN), a Condition, or a list of Conditions
            (e.g. [Condition(">=", start), Condition("<", end)]). What the API can answer is pushed to it;
            everything is also checked locally, so pushdown never changes the result.
        :param columns: the columns to return, in this order (default: every column)
        :param limit: at most this many rows
        """
        return self.session.read(obj, where, columns, limit)

    def read_batches(
        self,
        obj: str,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        *,
        sort_json_keys: bool = True,
    ) -> Iterator[Any]:
        """The rows `read` gives, as pyarrow RecordBatches of at most `batch_rows` rows (flat memory), typed
        from the catalog: TEXT string, INTEGER int64, REAL float64, BOOLEAN bool, TIMESTAMP timestamp[us, UTC],
        JSON the JSON text (string: compact, keys sorted; `sort_json_keys=False` keeps Iterable's order, as
        `export` writes it). Events and Users read through the export API are built into columns without a
        dict per row; other objects' batches are built from their rows."""
        return self.session.read_batches(obj, where, columns, batch_rows, sort_json_keys=sort_json_keys)

    def read_arrow(self, obj: str, where: Mapping[str, Any] | None = None, columns: Sequence[str] | None = None) -> Any:
        """The rows `read` gives as one pyarrow Table (`.to_pandas()`, `polars.from_arrow(table)`); its schema is
        the catalog's even when no row matches. For a large read, `read_batches` keeps memory flat."""
        import pyarrow as pa  # type: ignore[import-untyped]

        from iterbridge.objects.arrow import schema

        definition = self.object(obj)
        available = {c.name: c for c in self.columns(definition)}
        names = [self.session.column_name(definition, tuple(available.values()), n) for n in columns or available]
        return pa.Table.from_batches(
            list(self.read_batches(obj, where, columns)), schema=schema([available[n] for n in names])
        )

    def insert(self, obj: str, rows: Iterable[Mapping[str, Any]]) -> WriteReport:
        """Create rows (dicts keyed by column, in any case); returns each row's outcome and the new keys."""
        return self.session.insert(obj, rows)

    def update(self, obj: str, rows: Iterable[Mapping[str, Any]]) -> WriteReport:
        """Change rows, each naming its row by the object's keys; returns each row's outcome."""
        return self.session.update(obj, rows)

    def delete(self, obj: str, keys: Iterable[Mapping[str, Any]]) -> WriteReport:
        """Delete rows named by their keys (Users: by Email or UserId); returns each row's outcome."""
        return self.session.delete(obj, keys)

    def write(self, operation: Operation | str, obj: str, rows: Iterable[Mapping[str, Any]]) -> WriteReport:
        """Any write by its operation ("insert", "update", "delete" or an `Operation`): what `insert`, `update`
        and `delete` do, for callers that hold the operation as data."""
        return self.session.write(operation, obj, rows)

    def call(self, procedure: str, *args: Any, **kwargs: Any) -> str:
        """Run a stored procedure (TriggerCampaign, AbortCampaign, CancelScheduledOrRecurringCampaign);
        returns Iterable's message."""
        return self.session.call(procedure, *args, **kwargs)

    def sql(
        self, text: str, params: Params = None, *, read_only: bool = False, allow_local_files: bool = False
    ) -> Cursor:
        """Run ONE SQL statement over the catalog (text with a second statement is refused before anything
        runs); returns a cursor (description, iteration, fetchall).

        :param text: one statement (SELECT, INSERT, UPDATE, DELETE, CALL, EXPLAIN …)
        :param params: values for its ? or :name placeholders (a sequence or a mapping)
        :param read_only: refuse anything but a read (INSERT, UPDATE, DELETE, CALL, DDL): for text you did not
            write
        :param allow_local_files: allow ATTACH and VACUUM INTO, which read and write files on this machine
            (refused by default)
        """
        if self._engine is None:
            from iterbridge.query.engine import Engine

            self._engine = Engine(self.session)
        return self._engine.execute(text, params, read_only=read_only, allow_local_files=allow_local_files)

    # ---- jobs --------------------------------------------------------------------------------------------

    def replicate(
        self,
        to: str | None = None,
        objects: Sequence[str] | None = None,
        *,
        full: bool = False,
        since: datetime | None = None,
        filters: Mapping[str, str] | None = None,
        lookback: timedelta | None = None,
        workers: int = 4,
        export_method: str = "auto",
        progress: Callable[[StreamReport], None] | None = None,
        watch: Callable[[list[StreamProgress]], None] | None = None,
        watch_every_s: float = 5.0,
        started: Callable[[], None] | None = None,
    ) -> ReplicationReport:
        """Copy objects into a database, incrementally after the first run; returns the report per table.

        :param to: the database URL (default sqlite:///iterable.db; postgresql://…, duckdb:///file.duckdb), or
            dlt:DESTINATION (dlt:bigquery, dlt:filesystem…: through a dlt pipeline, see iterbridge.dlt)
        :param objects: objects or single event tables such as Events_emailOpen (default: every object)
        :param full: read every table in full, whatever its policy
        :param since: leave rows older than this as they are
        :param filters: an object → a SQL condition (InAppMessages and Events for chosen users)
        :param lookback: how far before its last cursor an incremental read starts again
        :param workers: tables read at once
        :param export_method: "auto", "sync" (data.json) or "async" (export jobs) for exported objects
        :param progress: called as each table ends
        :param watch: called every `watch_every_s` seconds with the tables still being read
        :param started: called once the options are checked and the target is open, before anything is read
        """
        if to is not None and to.lower().startswith(DLT_PREFIX):
            try:
                from iterbridge.dlt import replicate_to
            except ImportError as missing:
                raise ConfigurationError(
                    f"--to {to} needs dlt ({missing.name} is not installed): pip install 'iterbridge[dlt]'"
                ) from None
            if since is not None or filters:
                raise ConfigurationError(f"--to {to}: --since and --filter are for database targets only")
            return replicate_to(
                self,
                to,
                list(objects) if objects is not None else None,
                full=full,
                lookback=lookback,
                export_method=export_method,
                progress=progress,
                started=started,
            )
        from iterbridge.replicate import replicate

        return replicate(
            self.session,
            to,
            list(objects) if objects is not None else None,
            full=full,
            since=since,
            filters=dict(filters) if filters else None,
            lookback=lookback,
            workers=workers,
            export_method=export_method,
            progress=progress,
            watch=watch,
            watch_every_s=watch_every_s,
            started=started,
        )

    def sync(
        self,
        obj: str,
        with_url: str,
        *,
        catalog: str | None = None,
        mediums: Sequence[str] | None = None,
        table: str | None = None,
        conflict: str = "newest",
        dry_run: bool = False,
        grace: timedelta | None = None,
    ) -> SyncReport:
        """Synchronise CatalogItems (of one catalog) or Templates (Base templates) with a database table, both
        ways; returns what was created, updated and deleted on each side.

        :param obj: "CatalogItems" or "Templates"
        :param with_url: the database URL (sqlite:///…, postgresql://…, duckdb:///…)
        :param catalog: the catalog whose items are synchronised (CatalogItems)
        :param mediums: the template media synchronised (Templates; default every medium)
        :param table: the table's name (default the object's name)
        :param conflict: who wins when both sides changed a record: "newest", "iterable" or "database"
        :param dry_run: say what would change, change nothing
        :param grace: how long a change Iterable has not shown yet is waited for (default sync's own)
        """
        from iterbridge.sync.engine import PENDING_GRACE, sync

        return sync(
            self.session,
            obj,
            with_url,
            catalog=catalog,
            mediums=list(mediums) if mediums else None,
            table=table,
            conflict=conflict,
            dry_run=dry_run,
            grace=PENDING_GRACE if grace is None else grace,
        )

    def export(
        self,
        obj: str | None,
        path: Path | None,
        options: CsvOptions | None = None,
        *,
        columns: list[str] | None = None,
        where: str | None = None,
        query: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ExportResult:
        """Write an object (or a query's rows) to a CSV file, atomically; returns where, the header and the count.

        :param obj: the object's name (None with `query`)
        :param path: the file (None: standard output)
        :param options: the CSV dialect, date format, flattening and formula guard (default CsvOptions())
        :param columns: the columns written, in this order (default every column)
        :param where: a SQL condition on the object's columns
        :param query: a SELECT whose rows are written instead of an object's
        :param progress: called with the number of rows written so far
        """
        from iterbridge.transfer.csvformat import CsvOptions
        from iterbridge.transfer.export import export

        return export(
            self, obj, path, options or CsvOptions(), columns=columns, where=where, query=query, progress=progress
        )

    def import_csv(
        self,
        obj: str,
        path: Path,
        options: ImportOptions | None = None,
        *,
        progress: Callable[[ImportSummary], None] | None = None,
    ) -> ImportSummary:
        """Insert, update, upsert or delete an object's rows from a CSV file, in batches; rows refused (by the
        checks or by Iterable) go to the rejects file; returns the counts.

        :param obj: the object's name
        :param path: the CSV file (a header line, then rows)
        :param options: operation, column mapping, constants, batch size, dry run, rejects file, CSV dialect
            (default ImportOptions(): insert)
        :param progress: called with the summary after each batch
        """
        from iterbridge.transfer.importer import ImportOptions, import_csv

        return import_csv(self.session, obj, path, options or ImportOptions(), progress)

    # ---- the key -----------------------------------------------------------------------------------------

    def check(self) -> KeyCheck:
        """Verify the key with one cheap call, then learn whether it may read everything."""
        self.client.json("GET /api/channels")
        read_only = False
        try:
            self.client.request("GET /api/lists/getUsers", params={"listId": 0})
        except AuthenticationError:
            read_only = True
        except FatalApiError:
            pass  # 400 "Invalid email list id": the key may read list members
        return KeyCheck(self.settings.region, self.settings.base_url, read_only)


class _Unset(enum.Enum):
    """An argument not given: the setting comes from the environment or the profile."""

    TOKEN = "unset"


UNSET = _Unset.TOKEN


def _given(value: Any) -> bool:
    return value is not None and value != ""


def connect(
    api_key: str | None = None,
    *,
    region: str | None = None,
    base_url: str | None = None,
    profile: str | None = None,
    suppress_extended_requests: bool | None = None,
    rate_limit_factor: float | _Unset | None = UNSET,
    transport: httpx2.BaseTransport | None = None,
    retry: RetryPolicy | None = None,
    window_policy: WindowPolicy | None = None,
    sandbox: bool | SandboxConfig = False,
    insecure_http: bool | None = None,
) -> Connection:
    """Connect to an Iterable project — or, with `sandbox=True`, to an embedded sandbox started for it.

    Settings come from the arguments, then ITERABLE_API_KEY / ITERABLE_REGION / ITERABLE_BASE_URL (and
    ITERBRIDGE_RATE_LIMITS / ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS), then a profile of the config file.
    `rate_limit_factor` must match the server (1.0 for Iterable, the default; the sandbox's xN; None when its
    limits are off). `suppress_extended_requests`: Templates' extended columns read NULL, never one GET each.
    Plain http to a host other than this machine is refused unless `insecure_http` (or
    ITERBRIDGE_INSECURE_HTTP=1, or the profile's insecure_http) allows it.
    """
    started: Sandbox | None = None
    if sandbox:
        from iterbridge.sandbox import Sandbox, SandboxConfig

        config = sandbox if isinstance(sandbox, SandboxConfig) else SandboxConfig()
        started = Sandbox(config).start()
        api_key, base_url, rate_limit_factor = config.api_key, started.url, config.rate_limit_factor
    settings = resolve(
        api_key,
        region=region,
        base_url=base_url,
        profile=profile,
        suppress_extended_requests=suppress_extended_requests,
        insecure_http=insecure_http,
    )
    if not isinstance(rate_limit_factor, _Unset):
        settings = dataclasses.replace(settings, rate_limit_factor=rate_limit_factor)
    factor = settings.rate_limit_factor
    client = ApiClient(
        settings.base_url,
        settings.api_key,
        transport=transport,
        limiter=ClientRateLimiter(factor),
        retry=retry,
    )
    session = ApiSession(
        client,
        suppress_extended_requests=settings.suppress_extended_requests,
        window_policy=window_policy or WindowPolicy(),
    )
    return Connection(settings, session, sandbox=started)
