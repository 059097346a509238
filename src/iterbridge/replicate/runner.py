"""Running a replication: streams are read concurrently, written by one thread, checkpointed atomically.

Worker threads read Iterable (sharing the connection's rate limiter) and put batches, checkpoints and
"done" notices on a bounded queue; the main thread is the only one touching the target. It writes the
messages in queue order, those already waiting together in one transaction (a commit per batch would cost
more than the batch); a group the database refuses is written again message by message, so that only the
stream whose write fails fails (its rollback takes nothing of the others with it). Then:

- rows are upserted by primary key (only new or changed rows are written), so anything written twice is
  written once, and rows committed without their checkpoint are merely read again by the next run;
- a stream's checkpoint (an export window's end) is queued after that window's rows, so it is committed
  after them: the state is never ahead of its rows;
- a stream's end (its deletion sweep and final state) is written only when its read completed: a read that
  failed halfway deletes nothing and leaves the state where its last checkpoint put it.

The exported tables (Events per type, Users: the bulk of a run) are read as Arrow batches (`Session.scan_batches`)
and written as such (`Target.upsert` takes them): no dict per row between the export and the target. What the rows
path does per row is done per batch (rows counted, the newest cursor, keys seen, the derived rows fed); an export
window's checkpoint, which comes while a batch is being built, is queued after the batch holding its rows. A
stream that needs a row at a time (rows it may skip as current) keeps the rows path.

A table whose rows another table's complete read carries (`ObjectDef.derived`: ListUsers of Standard lists in
the users' emailListIds) gets them from that read's thread, as seen keys of its sweep, and reads the rest itself;
its end waits for the source's read, and falls back to its own endpoint when that read was not complete.

Killing the process at any moment and running again therefore ends with the same tables as an
uninterrupted run. A reader that fails reports its stream failed; a stream whose write fails has its reader
stopped; if the writer itself stops (an interrupt, the target gone), every reader is told to stop, and none
stays blocked on the full queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc  # type: ignore[import-untyped]

from iterbridge.api.async_export import AsyncExportStats
from iterbridge.api.timestamps import iso_text, parse_timestamp, timestamp_or_none
from iterbridge.errors import ConfigurationError, IterbridgeError
from iterbridge.objects.arrow import derivation_input
from iterbridge.objects.base import Condition, ObjectDef, ReadHints, ReadRequest, Row
from iterbridge.objects.reading import EXPORT_METHODS
from iterbridge.query.sqltext import check_expression, select_where
from iterbridge.replicate.batches import as_table, conform, fewer_collections, key_tuples, system_memory
from iterbridge.replicate.plan import DEFAULT_LOOKBACK, Job, Stream, derivations, jobs, row_table, streams
from iterbridge.replicate.targets import TableSpec, Target, UpsertCounts, default_url, open_target

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

log = logging.getLogger("iterbridge.replicate")

BATCH_CELLS = 20_000  # values per batch: 2,000 events, 500 users with their custom fields, 5,000 list members
BATCH_ROWS = 5000  # rows per batch, at most
QUEUE_BATCHES = 8  # batches waiting for the writer, at most: memory stays flat
SEEN_KEYS = 20_000  # keys of unwritten rows sent along at most this many at a time
GROUP_MESSAGES = 8  # messages written in one transaction, at most
_PUT_POLL_S = 0.1
_MISSING = object()


@dataclass
class DerivedParts:
    """A table read partly from another table's complete read (ObjectDef.derived): which values of its key
    column (`noun`s: lists) came from `source`, and which were read through the object's own endpoint."""

    source: str
    noun: str
    derived: list[Any] = field(default_factory=list)
    called: list[Any] = field(default_factory=list)

    def line(self, table: str) -> str:
        def ids(values: list[Any]) -> str:
            return f" ({', '.join(map(str, values))})" if values else ""

        return (
            f"{table}: {len(self.derived)} {self.noun}s derived from {self.source}{ids(self.derived)}, "
            f"{len(self.called)} read from Iterable{ids(self.called)}"
        )


@dataclass
class StreamReport:
    table: str
    mode: str
    method: str = ""
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    api_calls: int = 0
    seconds: float = 0.0
    columns_added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    error: str | None = None
    derived: DerivedParts | None = None


@dataclass(frozen=True)
class StreamProgress:
    """A table still being read, as `watch` sees it every few seconds. `fraction` is how much of the export's
    time range its rows have reached (exported tables only); `eta_s` extrapolates the time taken so far, rate
    limit waits included, to the rest of the range."""

    table: str
    rows_read: int
    seconds: float
    fraction: float | None = None
    eta_s: float | None = None


@dataclass
class _Live:
    """Where an exported stream's read has got to in its time range."""

    start: datetime | None = None  # the range read from (a first read: its first row's time)
    end: datetime | None = None  # the server's now when the first rows came
    reached: datetime | None = None  # the newest row's time so far


@dataclass
class ReplicationReport:
    target: str
    streams: list[StreamReport] = field(default_factory=list)
    seconds: float = 0.0
    # Export lines that were not JSON: repaired (Iterable's known defect), or skipped and kept in `quarantine`.
    repaired_lines: int = 0
    malformed_lines: int = 0
    quarantine: str | None = None

    @property
    def skipped(self) -> list[str]:
        return [f"{s.table}: {part}" for s in self.streams for part in s.skipped]

    @property
    def failed(self) -> list[StreamReport]:
        return [s for s in self.streams if s.error]

    @property
    def ok(self) -> bool:
        return not self.skipped and not self.failed

    def stream(self, table: str) -> StreamReport:
        for found in self.streams:
            if found.table == table:
                return found
        raise KeyError(table)

    def totals(self) -> dict[str, int]:
        keys = ("rows_read", "inserted", "updated", "unchanged", "deleted", "api_calls")
        return {k: sum(getattr(s, k) for s in self.streams) for k in keys}


class _Cancelled(Exception):
    """The run is stopping, or this stream failed to be written: its reader stops."""


# Messages from readers to the writer.
@dataclass
class _Rows:
    stream: Stream
    rows: list[Row]
    seen: list[tuple[Any, ...]] | None = None  # keys of every row read (sweep streams), written or not
    batch: Any = None  # an Arrow table of the spec's columns (columnar streams), written after `rows`


@dataclass
class _Checkpoint:
    stream: Stream
    state: dict[str, Any]


@dataclass
class _Done:
    stream: Stream
    state: dict[str, Any] = field(default_factory=dict)
    sweep: bool = False  # every key Iterable has was seen: rows with other keys are deleted
    keep: dict[str, list[Any]] | None = None  # column → values whose rows the sweep keeps (skipped slices)
    unchanged: int = 0  # rows the reader knew to be current and did not send
    error: str | None = None


@dataclass
class _Deriving:
    """A table some of whose rows come from another stream's read in this run (see _plan_derivations): the
    source's reader sends them; the table's own reader reads the rest, then waits for the source to end."""

    stream: Stream  # the derived table's
    source: str  # the table whose read sends the covered rows
    column: str
    covered: frozenset[Any]
    others: list[Any]
    ended: threading.Event = field(default_factory=threading.Event)
    complete: bool = False  # the source's read saw every record: the covered rows are all sent
    rows_read: int = 0
    batch: list[Row] = field(default_factory=list)
    seen: list[tuple[Any, ...]] = field(default_factory=list)
    dropped: bool = False  # the derived table failed: its rows are no longer sent


class Replication:
    def __init__(
        self,
        conn: Session,
        target: Target,
        chosen: list[Stream],
        *,
        full: bool = False,
        since: datetime | None = None,
        lookback: timedelta = DEFAULT_LOOKBACK,
        workers: int = 4,
        export_method: str = "auto",
        progress: Callable[[StreamReport], None] | None = None,
        watch: Callable[[list[StreamProgress]], None] | None = None,
        watch_every_s: float = 5.0,
        columnar: bool = True,
    ) -> None:
        self.conn = conn
        self.columnar = columnar  # exported tables as Arrow batches (False: as dict rows, the reference)
        self.target = target
        self.streams = chosen
        self.full = full
        self.since = timestamp_or_none(since)
        self.lookback = lookback
        self.workers = max(1, workers)
        self.export_method = export_method
        self.progress = progress
        # --full reads every table in full, whatever its policy: the report says so.
        self.reports = {s.table: StreamReport(s.table, "full" if full else s.policy.mode) for s in chosen}
        self.specs: dict[str, TableSpec] = {}
        self._states: dict[str, dict[str, Any]] = {}
        self._current: dict[str, dict[tuple[Any, ...], datetime | None]] = {}
        # Tables this run created (or recreated): empty when their reads began, so every row they hold at the end
        # was read by this run, and their deletion sweep has nothing to delete: their keys are not kept.
        self._created: set[str] = set()
        self._queue: queue.Queue[_Rows | _Checkpoint | _Done] = queue.Queue(maxsize=QUEUE_BATCHES)
        self._started: dict[str, float] = {}
        self._stop = threading.Event()
        self._failed: set[str] = set()
        self._finished_tables: set[str] = set()
        self._live: dict[str, _Live] = {}
        self._deriving: dict[str, _Deriving] = {}  # by the source table
        self.watch = watch
        self.watch_every_s = watch_every_s
        self._last_watch = time.monotonic()

    # ---- the writer (main thread) -------------------------------------------------------------------------

    def run(self) -> ReplicationReport:
        with system_memory(), fewer_collections():
            return self._run()

    def _run(self) -> ReplicationReport:
        started = time.monotonic()
        self._prepare()
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="replicate")
        finished = False
        try:
            # A table the target refused is reported failed; the others are read and written all the same.
            started_jobs = [j for j in jobs(self.streams) if any(s.table not in self._failed for s in j.streams)]
            started_jobs = self._sources_first(started_jobs)
            for job in started_jobs:
                pool.submit(self._run_job, job)
            self._write_until_done({s.table for j in started_jobs for s in j.streams})
            self._merge_staged_of_failed()
            finished = True
        finally:
            if not finished:  # an interrupt, or the target gone: readers stop at their next row or message
                self._stop.set()
            pool.shutdown(wait=finished, cancel_futures=True)
        return ReplicationReport(self.target.description, list(self.reports.values()), time.monotonic() - started)

    def _prepare(self) -> None:
        """Tables created or evolved, state read (or forgotten with --full), what the copy holds where a reader
        can use it."""
        tables = [s.table for s in self.streams]
        if self.full:
            with self.target.transaction():
                self.target.clear_state(tables)  # before the tables go: a killed --full run restarts in full
        self.conn.forget_user_fields()  # a custom field created since the last run becomes a column now
        states = self.target.read_state()
        for stream in self.streams:
            calls = self.conn.client.calls_in_thread()
            columns = tuple(c for c in self.conn.columns(stream.obj) if not c.import_only)
            self.reports[stream.table].api_calls += self.conn.client.calls_in_thread() - calls
            spec = TableSpec(stream.table, columns, stream.obj.keys, stream.cursor, bulk=True)
            self.specs[stream.table] = spec
            try:
                prepared = self.target.prepare(spec, recreate=self.full)
                if prepared.created:
                    self._created.add(stream.table)
                if self._sweeps(stream) and stream.condition is None:
                    self.target.start_sweep(spec)  # keys seen are kept in the target, not in memory
                # A new table has nothing the state speaks of; a new column must be filled for every row: both
                # are read in full.
                if stream.policy.skip_current and not prepared.created and not prepared.added:
                    self._current[stream.table] = self.target.cursors(spec)
            except Exception as error:  # a database that refuses this table (rights, a clashing table…)
                reason = f"cannot prepare the table in {self.target.description}: {self.target.error_text(error)}"
                log.warning("%s: %s", stream.table, reason)
                self._fail(stream.table, reason)  # this table alone: the others go on
                continue
            self.reports[stream.table].columns_added = prepared.added
            state = states.get(stream.table)
            if state and not prepared.created and not prepared.added:
                self._states[stream.table] = state
        self._plan_derivations()

    def _plan_derivations(self) -> None:
        """Tables whose rows another table's read in this run carries (ObjectDef.derived: list members in the
        users' emailListIds), taken from it when that read is complete: a first run, --full, a table recreated.
        An incremental read sees only the records changed since the cursor, so it would miss the rows of the
        unchanged ones (and the copy cannot stand in: deleted users are never swept from it): the table is then
        read through its own endpoint as before."""
        for stream, source in derivations(self.streams):
            derivation = stream.obj.derived
            if derivation is None or {stream.table, source.table} & self._failed:
                continue
            if self._since(source, self._states.get(source.table)) is not None or source.table in self._current:
                continue  # the source's read is not complete
            report = self.reports[stream.table]
            calls = self.conn.client.calls_in_thread()
            try:
                covered, others = derivation.plan(self.conn)
            except IterbridgeError as error:
                log.warning("%s: read in full (%s)", stream.table, error)
                continue
            finally:
                report.api_calls += self.conn.client.calls_in_thread() - calls
            self._deriving[source.table] = _Deriving(
                stream, source.table, derivation.column, frozenset(covered), others
            )
            report.derived = DerivedParts(source.table, derivation.noun, sorted(covered), sorted(others))

    def _sources_first(self, started: list[Job]) -> list[Job]:
        """A derived table's job waits for its source's read: it is started after it (a pool of one worker would
        otherwise wait for good)."""
        for deriving in self._deriving.values():
            job = next(j for j in started if deriving.stream in j.streams)
            started.remove(job)
            source = next(i for i, j in enumerate(started) if any(s.table == deriving.source for s in j.streams))
            started.insert(source + 1, job)
        return started

    def _write_until_done(self, pending: set[str]) -> None:
        """Write messages as they come, the ones already waiting together (one transaction per group: a commit
        per batch would cost more than the batch); a group that fails is written again message by message,
        so only the stream whose write the database refuses fails. `pending`: the tables whose readers run."""
        while pending:
            group = [self._next_message()]
            while len(group) < GROUP_MESSAGES:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if not self._apply(group, isolate=False):
                for message in group:
                    self._apply([message], isolate=True)
            pending.difference_update(m.stream.table for m in group if isinstance(m, _Done))

    def _next_message(self) -> _Rows | _Checkpoint | _Done:
        """The next message from the readers; while waiting for it, `watch` is shown the tables being read."""
        while True:
            if self.watch is not None and time.monotonic() - self._last_watch >= self.watch_every_s:
                self._last_watch = time.monotonic()
                self.watch(self.running())
            try:
                return self._queue.get(timeout=None if self.watch is None else min(0.2, self.watch_every_s))
            except queue.Empty:
                continue

    def running(self) -> list[StreamProgress]:
        """The tables started and not finished, with how far their reads have got."""
        now = time.monotonic()
        found = []
        for table, started in list(self._started.items()):
            if table in self._finished_tables:
                continue
            seconds = now - started
            fraction = eta = None
            live = self._live.get(table)
            if live and live.start and live.end and live.reached and live.end > live.start:
                fraction = min(1.0, max(0.0, (live.reached - live.start) / (live.end - live.start)))
                if fraction >= 0.01:
                    eta = seconds * (1 - fraction) / fraction
            found.append(StreamProgress(table, self.reports[table].rows_read, seconds, fraction, eta))
        return sorted(found, key=lambda p: p.table)

    def _apply(self, group: list[_Rows | _Checkpoint | _Done], *, isolate: bool) -> bool:
        """Write a group of messages in one transaction; False when it failed and nothing was written (unless
        `isolate`: then the stream of that single message is failed, and the group counts as handled)."""
        for message in group:
            if isinstance(message, _Done) and message.error is not None and message.stream.table not in self._failed:
                self._fail(message.stream.table, message.error)
        rows: dict[str, list[Row]] = {}
        batches: dict[str, list[Any]] = {}
        seen: dict[str, list[tuple[Any, ...]]] = {}
        states: dict[str, dict[str, Any]] = {}
        finishing: list[_Done] = []
        for message in group:
            table = message.stream.table
            if table in self._failed:
                continue  # its reader stops at its next message
            if isinstance(message, _Rows):
                if message.rows:
                    rows.setdefault(table, []).extend(message.rows)
                if message.batch is not None:
                    batches.setdefault(table, []).append(message.batch)
                if message.seen:
                    seen.setdefault(table, []).extend(message.seen)
            elif isinstance(message, _Checkpoint):
                states[table] = message.state
            else:
                finishing.append(message)
        counts: dict[str, UpsertCounts] = {}
        deleted: dict[str, int] = {}
        try:
            with self.target.transaction():
                for table, found in rows.items():
                    counts[table] = self.target.upsert(self.specs[table], found)
                for table, held in batches.items():
                    written = self.target.upsert(self.specs[table], as_table(held))
                    counts[table] = counts[table] + written if table in counts else written
                for table, keys in seen.items():
                    self.target.mark_seen(self.specs[table], keys)
                for table, state in states.items():
                    self.target.write_state(table, state)
                for done in finishing:
                    table = done.stream.table
                    flushed = self.target.flush(self.specs[table])  # the stream's staged rows, before its sweep
                    counts[table] = counts[table] + flushed if table in counts else flushed
                    deleted[table] = self._end(done)
        except Exception as error:  # the database refused: nothing of the group was written
            if not isolate:
                return False
            reason = self.target.error_text(error)
            table = group[0].stream.table
            log.warning("writing %s failed: %s", table, reason)
            self._fail(table, f"writing failed: {reason}")
        for table, found_counts in counts.items():
            self._count(table, found_counts)
        for table, number in deleted.items():
            self.reports[table].deleted += number
        for message in group:
            if isinstance(message, _Done):
                self._finished(message)
        return True

    def _count(self, table: str, counts: UpsertCounts) -> None:
        report = self.reports[table]
        report.inserted += counts.inserted
        report.updated += counts.updated
        report.unchanged += counts.unchanged

    def _merge_staged_of_failed(self) -> None:
        """A failed stream's batches staged before it failed were committed with their checkpoints: they are merged
        now, as a stream that ends merges its own (what cannot be merged now is, by the next run's prepare)."""
        for table in sorted(self._failed):
            if table not in self.specs:
                continue
            try:
                with self.target.transaction():
                    counts = self.target.flush(self.specs[table])
            except Exception as error:
                log.warning("merging the rows staged for %s failed: %s", table, self.target.error_text(error))
                continue
            self._count(table, counts)

    def _fail(self, table: str, reason: str) -> None:
        self._failed.add(table)
        self.reports[table].error = reason

    def _end(self, message: _Done) -> int:
        """A stream's read completed: its deletion sweep and its final state (inside the caller's transaction)."""
        table = message.stream.table
        spec = self.specs[table]
        deleted = self.target.sweep(spec, message.keep) if message.sweep else 0
        self.target.write_state(table, {**message.state, "rows": self.target.count(spec)})
        return deleted

    def _finished(self, message: _Done) -> None:
        self._finished_tables.add(message.stream.table)
        report = self.reports[message.stream.table]
        report.seconds = time.monotonic() - self._started.get(message.stream.table, time.monotonic())
        report.unchanged += message.unchanged
        if self.progress:
            self.progress(report)

    # ---- the readers (worker threads) ---------------------------------------------------------------------

    def _put(self, message: _Rows | _Checkpoint | _Done) -> None:
        """Queue a message, never blocking for good: a stopped run or a failed stream ends the reader."""
        while True:
            if self._stop.is_set():
                raise _Cancelled
            if not isinstance(message, _Done) and message.stream.table in self._failed:
                raise _Cancelled
            try:
                self._queue.put(message, timeout=_PUT_POLL_S)
                return
            except queue.Full:
                continue

    def _run_job(self, job: Job) -> None:
        for stream in job.streams:
            self._started[stream.table] = time.monotonic()
        calls_before = self.conn.client.calls_in_thread()
        skipped_before = len(self.conn.skipped_in_thread())
        done: list[_Done] = []
        try:
            if job.condition is not None:
                done = self._read_filtered(job)
            else:
                done = [self._read_stream(job.streams[0], skipped_before)]
        except _Cancelled:
            done = [_Done(s, error="cancelled") for s in job.streams]
        except IterbridgeError as error:
            done = [_Done(s, error=str(error)) for s in job.streams]
        except BaseException as error:  # a bug must not hang the writer; it is reported with the stream
            if self._stop.is_set():  # the run is stopping (an interrupt): the connection may be closing under us
                done = [_Done(s, error="cancelled") for s in job.streams]
            else:
                log.exception("replicating %s failed", job.streams[0].table)
                done = [_Done(s, error=f"{type(error).__name__}: {error}") for s in job.streams]
        finally:
            # A job's calls go to its first table (a filtered Events read serves every event table at once).
            first = self.reports[job.streams[0].table]
            first.api_calls += self.conn.client.calls_in_thread() - calls_before
            first.skipped = [f"{s.slice}: {s.reason}" for s in self.conn.skipped_in_thread()[skipped_before:]]
            notices = done or [_Done(s, error="cancelled") for s in job.streams]
            for stream in job.streams:
                if (deriving := self._deriving.get(stream.table)) is not None:
                    deriving.ended.set()  # whatever the end: the derived table's reader waits for it
        for message in notices:
            try:
                self._put(message)
            except _Cancelled:
                break  # the run is stopping: nobody waits for these notices

    def _since(self, stream: Stream, state: dict[str, Any] | None) -> datetime | None:
        """Where an export read starts: --since, else the stored cursor less the lookback, else the beginning."""
        if self.since is not None:
            return self.since
        if not state or not state.get("cursor"):
            return None
        cursor = parse_timestamp(state["cursor"])
        return None if cursor is None else cursor - self.lookback

    def _read_stream(self, stream: Stream, skipped_before: int = 0) -> _Done:
        report = self.reports[stream.table]
        spec = self.specs[stream.table]
        state = self._states.get(stream.table)
        cursor_column = stream.cursor
        where: dict[str, list[Condition]] = {}
        if stream.part is not None and stream.obj.split is not None:
            where[stream.obj.split.column] = [Condition("=", stream.part)]
        hints = ReadHints()
        batch: list[Row] = []
        seen: list[tuple[Any, ...]] | None = [] if self._sweeps(stream) else None
        reached: list[datetime] = []
        since = self._since(stream, state) if stream.exported else None
        current = self._current.get(stream.table)
        # Checkpoints that came while a batch was being built: queued after it (see _read_columnar).
        waiting: list[datetime] | None = [] if self._columnar(stream, current) else None
        if stream.exported:
            if since is not None and cursor_column:
                where[cursor_column] = [Condition(">=", since)]

            def checkpoint(moment: datetime) -> None:
                reached.append(moment)
                if waiting is not None:
                    waiting.append(moment)
                    return
                self._flush(stream, batch, seen)
                self._put(self._checkpoint(stream, moment))

            # export "auto": objects.reading.export_method decides per data type
            hints = ReadHints(export=self.export_method, export_stats=[], on_checkpoint=checkpoint)
        else:
            report.method = stream.obj.name
        if self.since is not None and stream.policy.skip_current and cursor_column:
            # A listing gives every key whatever the bound, which spares the details of the older ones.
            where[cursor_column] = [Condition(">=", self.since)]
        if current is not None:
            hints = replace(hints, current=lambda key, moment: _same(current.get((key,), _MISSING), moment))
        key_names = spec.key
        keyed = seen is not None or current is not None
        batch_rows = batch_size(spec)
        newest = parse_timestamp(state["cursor"]) if state and state.get("cursor") else None
        live: _Live | None = None
        if stream.exported:
            live = self._live[stream.table] = _Live(since)
        unchanged = 0
        request = ReadRequest(spec.column_names(), where, None, hints)
        stop = self._stop
        feeds = self._deriving.get(stream.table)  # this read also carries another table's rows
        if waiting is not None:
            self._read_columnar(stream, request, seen, waiting, feeds, newest)
        for row in self._scan(stream, request) if waiting is None else ():
            if stop.is_set():
                raise _Cancelled
            report.rows_read += 1
            if feeds is not None:
                self._feed(feeds, row)
            key = tuple([row.get(k) for k in key_names]) if keyed else ()
            if seen is not None:
                seen.append(key)
                if len(seen) >= SEEN_KEYS:
                    self._flush(stream, batch, seen)
            value = row.get(cursor_column) if cursor_column else None
            if isinstance(value, datetime):
                newest = value if newest is None or value > newest else newest
                if live is not None:
                    if live.end is None:  # the export's answer has come: its Date header is the server's now
                        live.end = self.conn.server_now()
                        live.start = live.start or value  # a first read: its history starts at its first row
                    live.reached = newest
                if current is not None and _same(current.get(key, _MISSING), value):
                    unchanged += 1  # this version is in the copy (its extended fields were not read again)
                    continue
                if self.since is not None and not stream.exported and value < self.since:
                    continue  # --since: older rows are left as they are
            batch.append(row)
            if len(batch) >= batch_rows:
                self._flush(stream, batch, seen)
        if live is not None and live.end is not None:
            live.reached = live.end  # read to the end (a rare type's last row may be long before it)
        self._flush(stream, batch, seen)
        if feeds is not None:
            self._feed(feeds, None)
            feeds.complete = not self.conn.skipped_in_thread()[skipped_before:]
        if stream.exported:
            report.method = _describe_exports(hints.export_stats or [])
        end_state: dict[str, Any] = {"mode": stream.policy.mode, "last_run": iso_text(datetime.now(UTC))}
        if stream.exported:
            if reached:
                end_state["cursor"] = max(reached).isoformat()
            elif state and state.get("cursor"):
                end_state["cursor"] = state["cursor"]
        elif newest is not None:
            end_state["cursor"] = newest.isoformat()
        sweep, keep = self._sweep(stream, skipped_before)
        return _Done(stream, end_state, sweep, keep, unchanged=unchanged)

    def _columnar(self, stream: Stream, current: dict[tuple[Any, ...], datetime | None] | None) -> bool:
        """Whether a stream is read and written as Arrow batches: an exported table with a columnar reader, and
        no rows to skip as current (a decision per row)."""
        return self.columnar and stream.exported and stream.obj.batch_reader is not None and current is None

    def _checkpoint(self, stream: Stream, moment: datetime) -> _Checkpoint:
        return _Checkpoint(stream, {"cursor": moment.isoformat(), "mode": stream.policy.mode})

    def _read_columnar(
        self,
        stream: Stream,
        request: ReadRequest,
        seen: list[tuple[Any, ...]] | None,
        waiting: list[datetime],
        feeds: _Deriving | None,
        newest: datetime | None,
    ) -> None:
        """The rows path of `_read_stream`, a batch at a time. A window's checkpoint is called while the reader
        builds a batch, with some of that window's rows inside it: it is queued after that batch (so after every
        row of its window), never before."""
        report = self.reports[stream.table]
        spec = self.specs[stream.table]
        cursor_column = stream.cursor
        live = self._live.get(stream.table)
        for found in self.conn.scan_batches(stream.obj, request, batch_size(spec)):
            if self._stop.is_set():
                raise _Cancelled
            batch = conform(found, spec.columns)  # the table's columns alone, in its order
            report.rows_read += batch.num_rows
            if feeds is not None:
                self._feed_batch(feeds, batch)
            if seen is not None:
                seen.extend(key_tuples(batch, spec.key))
            if cursor_column and live is not None:
                moments = batch.column(cursor_column)
                latest = pc.max(moments).as_py()
                if latest is not None:
                    newest = latest if newest is None or latest > newest else newest
                    if live.end is None:  # the export's answer has come: its Date header is the server's now
                        live.end = self.conn.server_now()
                        live.start = live.start or moments.drop_null()[0].as_py()  # a first read: its first row
                    live.reached = newest
            if batch.num_rows:
                self._put(_Rows(stream, [], list(seen) if seen else None, batch))
                if seen:
                    seen.clear()
            for moment in waiting:
                self._put(self._checkpoint(stream, moment))
            waiting.clear()
        self._flush(stream, [], seen)
        for moment in waiting:
            self._put(self._checkpoint(stream, moment))
        waiting.clear()

    def _feed_batch(self, deriving: _Deriving, batch: Any) -> None:
        """`_feed` for a batch of the source: the derivation's batch of its rows where it makes one, else the
        source's rows as dicts, with only the columns the derivation reads."""
        derivation = deriving.stream.obj.derived
        if deriving.dropped or derivation is None:
            return
        made = None if derivation.batch is None else derivation.batch(batch, deriving.covered)
        if made is None:
            types = {c.name: c.type for c in self.specs[deriving.source].columns}
            for row in derivation_input(batch, derivation, types):
                self._feed(deriving, row)
            return
        deriving.rows_read += made.num_rows
        if not made.num_rows:
            return
        keys, sweeps = deriving.stream.obj.keys, self._sweeps(deriving.stream)
        size = batch_size(self.specs[deriving.stream.table])  # messages of the dict rows' size: memory stays flat
        try:
            self._flush(deriving.stream, deriving.batch, deriving.seen)  # the rows made before it go first
            for start in range(0, made.num_rows, size):
                part = made.slice(start, size)
                seen = key_tuples(part, keys) if sweeps else None
                self._put(_Rows(deriving.stream, [], seen, part))
        except _Cancelled:
            if self._stop.is_set():
                raise
            deriving.dropped = True  # the derived table's write failed: the source's read goes on

    def _scan(self, stream: Stream, request: ReadRequest) -> Iterator[Row]:
        """The stream's rows; for a derived table (see _plan_derivations), those of the values its source does
        not cover, then — once the source's read has ended — those of the covered values again through the
        object's own endpoint if that read was not complete (it failed, or skipped a slice)."""
        deriving = next((d for d in self._deriving.values() if d.stream is stream), None)
        if deriving is None:
            yield from self.conn.scan(stream.obj, request)
            return
        parts = self.reports[stream.table].derived
        column = deriving.column
        if deriving.others:
            where = {**request.where, column: [Condition("in", deriving.others)]}
            yield from self.conn.scan(stream.obj, replace(request, where=where))
        while not deriving.ended.wait(_PUT_POLL_S):
            if self._stop.is_set():
                raise _Cancelled
        self.reports[stream.table].rows_read += deriving.rows_read
        if not deriving.complete and deriving.covered:
            log.warning("%s: %s's read was not complete; read from Iterable instead", stream.table, deriving.source)
            if parts is not None:
                parts.called = sorted([*parts.called, *parts.derived])
                parts.derived = []
            where = {**request.where, column: [Condition("in", sorted(deriving.covered))]}
            yield from self.conn.scan(stream.obj, replace(request, where=where))

    def _feed(self, deriving: _Deriving, row: Row | None) -> None:
        """Send the derived table the rows a source row carries (None: the source's read ended, send the rest).
        Its keys count as seen, so its sweep keeps them. A derived table that failed is no longer sent rows."""
        derivation = deriving.stream.obj.derived
        if deriving.dropped or derivation is None:
            return
        if row is not None:
            keys, sweeps = deriving.stream.obj.keys, self._sweeps(deriving.stream)
            for derived in derivation.rows(row, deriving.covered):
                deriving.rows_read += 1
                deriving.batch.append(derived)
                if sweeps:
                    deriving.seen.append(tuple([derived.get(k) for k in keys]))
            if len(deriving.batch) < batch_size(self.specs[deriving.stream.table]):
                return
        try:
            self._flush(deriving.stream, deriving.batch, deriving.seen)
        except _Cancelled:
            if self._stop.is_set():
                raise
            deriving.dropped = True  # the derived table's write failed: the source's read goes on

    def _sweeps(self, stream: Stream) -> bool:
        """Whether the stream's table gets a deletion sweep: its policy's, unless this run created the table."""
        return stream.policy.sweep and stream.table not in self._created

    def _sweep(self, stream: Stream, skipped_before: int) -> tuple[bool, dict[str, list[Any]] | None]:
        """Whether the deletion sweep may run, and what it must keep whatever: a skipped slice whose rows the
        object can name (`skipped_part`: a list whose members could not be read) keeps them; any other cancels
        the sweep (what it held is unknown)."""
        if not self._sweeps(stream):
            return False, None
        skipped = self.conn.skipped_in_thread()[skipped_before:]
        if not skipped:
            return True, None
        covers = stream.obj.skipped_part
        if covers is None:
            return False, None
        keep: dict[str, list[Any]] = {}
        for slice_ in skipped:
            part = covers(slice_.slice)
            if part is None:
                return False, None
            keep.setdefault(part[0], []).append(part[1])
        return True, keep

    def _read_filtered(self, job: Job) -> list[_Done]:
        """Rows of an object for chosen users (a SQL condition run by the query engine, which pushes
        Email/UserId to Iterable's per-user endpoints), routed to their tables. The rows written are the
        reader's typed rows, not SQL text read back: nothing is lost in a round trip."""
        from iterbridge.query.engine import Engine

        obj = job.streams[0].obj
        by_table = {s.table: s for s in job.streams}
        for stream in job.streams:
            self.reports[stream.table].method = f"{obj.name} for chosen users"
        capture = _Capture(obj.name)
        engine = Engine(self.conn, read_only=True, on_scan=capture)  # a filter only reads, whatever its text
        batches: dict[str, list[Row]] = {s.table: [] for s in job.streams}
        try:
            names = [c.name for c in self.conn.columns(obj) if not c.import_only]
            keys = list(obj.keys)
            positions = [names.index(k) for k in keys]
            cursor = engine.execute(select_where(obj.name, names, job.condition or ""))
            for values in cursor:
                if self._stop.is_set():
                    raise _Cancelled
                row = capture.rows.pop(tuple(_sql_key(values[p]) for p in positions), None)
                if row is None:
                    continue  # a key given twice
                table = row_table(obj, row)
                routed = by_table.get(table)
                if routed is None:
                    log.warning("%s: a row for %s, a table not replicated; left out", obj.name, table)
                    continue
                self.reports[table].rows_read += 1
                batch = batches[table]
                batch.append(row)
                if len(batch) >= batch_size(self.specs[table]):
                    self._flush(routed, batch)
            for table, batch in batches.items():
                self._flush(by_table[table], batch)
        finally:
            engine.close()
        state = {"mode": "full", "filter": job.condition, "last_run": iso_text(datetime.now(UTC))}
        return [_Done(s, dict(state)) for s in job.streams]

    def _flush(self, stream: Stream, batch: list[Row], seen: list[tuple[Any, ...]] | None = None) -> None:
        if batch or seen:
            self._put(_Rows(stream, list(batch), list(seen) if seen else None))
            batch.clear()
            if seen:
                seen.clear()


def batch_size(spec: TableSpec) -> int:
    """Rows per batch: as many as make BATCH_CELLS values (memory is bounded by values, not rows)."""
    return max(1, min(BATCH_ROWS, BATCH_CELLS // max(1, len(spec.columns))))


def _same(stored: Any, listed: Any) -> bool:
    """The copy holds this version: a stored cursor equal to the listed one (both known)."""
    if stored is _MISSING or stored is None or listed is None:
        return False
    try:
        return bool(timestamp_or_none(stored) == timestamp_or_none(listed))
    except (TypeError, ValueError):
        return False


def _sql_key(value: Any) -> Any:
    """A key value as SQLite gives it back (text and numbers as they are, booleans as integers)."""
    if value is None or isinstance(value, (str, int, float)):
        return int(value) if isinstance(value, bool) else value
    return str(value)


def _describe_exports(stats: list[Any]) -> str:
    """What the reads of a table went through, from their readers' statistics."""
    if not any(isinstance(s, AsyncExportStats) for s in stats):
        return "data.json"
    jobs_run = sum(getattr(s, "jobs", 0) for s in stats)
    truncations = sum(getattr(s, "truncations", 0) for s in stats)
    fallbacks = sum(getattr(s, "fallbacks", 0) for s in stats)
    text = f"async export jobs ({jobs_run} job{'s' if jobs_run != 1 else ''}"
    if truncations:
        text += f", {truncations} truncated"
    if fallbacks:
        text += f", {fallbacks} window{'s' if fallbacks != 1 else ''} via data.json"
    return text + ")"


class _Capture:
    """The query engine's scans (its `on_scan`), keeping the typed rows of one object's scans by key."""

    def __init__(self, name: str) -> None:
        self._name = name
        self.rows: dict[tuple[Any, ...], Row] = {}

    def __call__(self, obj: ObjectDef, rows: Iterator[Row]) -> Iterator[Row]:
        return self._keep(obj, rows) if obj.name == self._name else rows

    def _keep(self, obj: ObjectDef, rows: Iterator[Row]) -> Iterator[Row]:
        keys = obj.keys
        for row in rows:
            self.rows[tuple(_sql_key(row.get(k)) for k in keys)] = row
            yield row


def replicate(
    conn: Session,
    to: str | None = None,
    objects: list[str] | None = None,
    *,
    full: bool = False,
    since: datetime | None = None,
    filters: dict[str, str] | None = None,
    lookback: timedelta | None = None,
    workers: int = 4,
    export_method: str = "auto",
    progress: Callable[[StreamReport], None] | None = None,
    watch: Callable[[list[StreamProgress]], None] | None = None,
    watch_every_s: float = 5.0,
    started: Callable[[], None] | None = None,
    columnar: bool = True,
) -> ReplicationReport:
    """Copy Iterable objects into a database (default SQLite iterable.db); incremental after the first run.

    `objects` names objects (or single event tables such as Events_emailOpen); `filters` maps an object to a
    SQL condition (InAppMessages and Events for chosen users). Returns the report per table: rows read,
    inserted, updated, unchanged, deleted, API calls, time, skipped slices and errors. `progress` is called as
    each table ends; `watch`, every `watch_every_s` seconds, with the tables still being read; `started`, once
    the options are checked and the target is open, before anything is read. `columnar=False` writes every table
    from dict rows (the reference the Arrow batches are tested against).
    """
    if export_method not in EXPORT_METHODS:
        raise ConfigurationError(f"export_method must be auto, sync or async, not {export_method!r}")
    for name, condition in (filters or {}).items():
        check_expression(condition, f"--filter {name}")  # one expression each, refused before anything runs
    chosen = streams(objects, filters)
    target = open_target(default_url() if to is None else to)
    quarantine = conn.quarantine
    repaired, kept = quarantine.repaired, quarantine.kept
    try:
        if started is not None:
            started()
        report = Replication(
            conn,
            target,
            chosen,
            full=full,
            since=since,
            lookback=DEFAULT_LOOKBACK if lookback is None else lookback,
            workers=workers,
            export_method=export_method,
            progress=progress,
            watch=watch,
            watch_every_s=watch_every_s,
            columnar=columnar,
        ).run()
    finally:
        target.close()
    report.repaired_lines = quarantine.repaired - repaired
    report.malformed_lines = quarantine.kept - kept
    report.quarantine = str(quarantine.path) if report.malformed_lines else None
    return report
