"""Running a replication: streams are read concurrently, written by one thread, checkpointed atomically.

Worker threads read Iterable (sharing the connection's rate limiter) and put batches, checkpoints and
"done" notices on a queue; the main thread is the only one touching the target. Rows are upserted by
primary key, so anything written twice is written once; a stream's state advances only in the
transaction that wrote its rows up to that point (an export window's end). Killing the process at any
moment and running again therefore ends with the same tables as an uninterrupted run.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from iterbridge.api.timestamps import parse_timestamp
from iterbridge.errors import IterbridgeError
from iterbridge.objects.base import Condition, ReadRequest, Row
from iterbridge.replicate.plan import DEFAULT_LOOKBACK, Stream, streams
from iterbridge.replicate.targets import TableSpec, Target, default_url, open_target

log = logging.getLogger("iterbridge.replicate")

BATCH_ROWS = 2000
ASYNC_WORTH_IT_S = 2.0  # use async export jobs when a data.json call costs more than this under the limit


@dataclass
class StreamReport:
    table: str
    mode: str
    method: str = ""
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    api_calls: int = 0
    seconds: float = 0.0
    columns_added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class ReplicationReport:
    target: str
    streams: list[StreamReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def skipped(self) -> list[str]:
        return [f"{s.table}: {part}" for s in self.streams for part in s.skipped]

    @property
    def failed(self) -> list[StreamReport]:
        return [s for s in self.streams if s.error]

    @property
    def ok(self) -> bool:
        return not self.skipped and not self.failed

    def totals(self) -> dict[str, int]:
        keys = ("rows_read", "inserted", "updated", "deleted", "api_calls")
        return {k: sum(getattr(s, k) for s in self.streams) for k in keys}


# Messages from readers to the writer.
@dataclass
class _Rows:
    stream: Stream
    rows: list[Row]


@dataclass
class _Checkpoint:
    stream: Stream
    state: dict[str, Any]


@dataclass
class _Done:
    stream: Stream
    state: dict[str, Any]
    keys: set[tuple[Any, ...]] | None  # every key Iterable has (for the deletion sweep), or None
    keep: Callable[[tuple[Any, ...]], bool] | None = None  # keys the sweep must not delete (skipped slices)
    error: str | None = None


class Replication:
    def __init__(
        self,
        conn: Any,
        target: Target,
        chosen: list[Stream],
        *,
        full: bool = False,
        since: datetime | None = None,
        lookback: timedelta = DEFAULT_LOOKBACK,
        workers: int = 4,
        export_method: str = "auto",
        progress: Callable[[StreamReport], None] | None = None,
    ) -> None:
        self.conn = conn
        self.target = target
        self.streams = chosen
        self.full = full
        self.since = since
        self.lookback = lookback
        self.workers = max(1, workers)
        self.export_method = export_method
        self.progress = progress
        self.reports = {s.table: StreamReport(s.table, s.policy.mode) for s in chosen}
        self.specs: dict[str, TableSpec] = {}
        self._queue: queue.Queue[_Rows | _Checkpoint | _Done] = queue.Queue(maxsize=16)
        self._started: dict[str, float] = {}

    # ---- the writer (main thread) -------------------------------------------------------------------------

    def run(self) -> ReplicationReport:
        started = time.monotonic()
        states = {} if self.full else self.target.read_state()
        for stream in self.streams:
            spec = TableSpec(stream.table, self.conn.columns(stream.obj), stream.obj.keys, stream.cursor)
            self.specs[stream.table] = spec
            self.reports[stream.table].columns_added = self.target.prepare(spec, recreate=self.full)
        pending = len(self.streams)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="replicate") as pool:
            for stream in self._ordered():
                pool.submit(self._read, stream, states.get(stream.table))
            while pending:
                message = self._queue.get()
                if isinstance(message, _Rows):
                    self._write_rows(message)
                elif isinstance(message, _Checkpoint):
                    with self.target.transaction():
                        self.target.write_state(message.stream.table, message.state)
                else:
                    self._finish(message)
                    pending -= 1
        return ReplicationReport(self.target.description, list(self.reports.values()), time.monotonic() - started)

    def _ordered(self) -> list[Stream]:
        """Rate-limited export streams first, so their budget starts being spent while others load."""
        return sorted(self.streams, key=lambda s: s.obj.name not in ("Events", "Users"))

    def _write_rows(self, message: _Rows) -> None:
        spec = self.specs[message.stream.table]
        report = self.reports[message.stream.table]
        counts = self.target.upsert(spec, message.rows)
        report.inserted += counts.inserted
        report.updated += counts.updated

    def _finish(self, message: _Done) -> None:
        report = self.reports[message.stream.table]
        spec = self.specs[message.stream.table]
        with self.target.transaction():
            if message.error is None and message.keys is not None:
                stale = [
                    k
                    for k in self.target.keys(spec)
                    if k not in message.keys and not (message.keep and message.keep(k))
                ]
                report.deleted += self.target.delete(spec, stale)
            if message.error is None:
                self.target.write_state(message.stream.table, message.state)
        report.error = message.error
        report.seconds = time.monotonic() - self._started.get(message.stream.table, time.monotonic())
        if self.progress:
            self.progress(report)

    # ---- the readers (worker threads) ---------------------------------------------------------------------

    def _read(self, stream: Stream, state: dict[str, Any] | None) -> None:
        report = self.reports[stream.table]
        self._started[stream.table] = time.monotonic()
        calls_before = self.conn.client.calls_in_thread()
        skipped_before = len(self.conn.skipped_in_thread())
        try:
            done = self._read_stream(stream, state, report)
        except IterbridgeError as error:
            done = _Done(stream, {}, None, error=str(error))
        except Exception as error:  # a bug must not hang the writer; it is reported with the stream
            log.exception("replicating %s failed", stream.table)
            done = _Done(stream, {}, None, error=f"{type(error).__name__}: {error}")
        report.api_calls = self.conn.client.calls_in_thread() - calls_before
        report.skipped = [f"{s.slice}: {s.reason}" for s in self.conn.skipped_in_thread()[skipped_before:]]
        self._queue.put(done)

    def _since(self, stream: Stream, state: dict[str, Any] | None) -> datetime | None:
        if self.since is not None:
            return self.since
        if stream.policy.mode != "incremental" or not state or not state.get("cursor"):
            return None
        cursor = parse_timestamp(state["cursor"])
        return None if cursor is None else cursor - self.lookback

    def _read_stream(self, stream: Stream, state: dict[str, Any] | None, report: StreamReport) -> _Done:
        since = self._since(stream, state)
        cursor_column = stream.cursor
        where: dict[str, list[Condition]] = {}
        if stream.event_type:
            where["EventType"] = [Condition("=", stream.event_type)]
        if since is not None and cursor_column and stream.policy.bound_read:
            where[cursor_column] = [Condition(">=", since)]
        keys: set[tuple[Any, ...]] | None = set() if stream.policy.sweep else None
        spec = self.specs[stream.table]
        newest = parse_timestamp(state.get("cursor")) if state and state.get("cursor") else None
        batch: list[Row] = []
        options: dict[str, Any] = {}
        reached: list[datetime] = []
        if stream.obj.name in ("Events", "Users"):
            method = self._export_method()
            options["export"] = method
            report.method = "async export jobs" if method == "async" else "data.json"

            def checkpoint(moment: datetime) -> None:
                reached.append(moment)
                self._flush(stream, batch)
                self._queue.put(_Checkpoint(stream, {"cursor": moment.isoformat(), "mode": stream.policy.mode}))

            options["on_checkpoint"] = checkpoint
        else:
            report.method = stream.obj.name
        request = ReadRequest(spec.column_names(), where, None, options)
        for row in self._rows(stream, request):
            report.rows_read += 1
            key = tuple(row.get(k) for k in spec.key)
            if keys is not None:
                keys.add(key)
            value = row.get(cursor_column) if cursor_column else None
            if isinstance(value, datetime):
                newest = value if newest is None or value > newest else newest
                if since is not None and value < since and stream.obj.name not in ("Events", "Users"):
                    continue  # unchanged since the last run: nothing to write
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                self._flush(stream, batch)
        self._flush(stream, batch)
        end_state: dict[str, Any] = {"mode": stream.policy.mode, "last_run": datetime.now(UTC).isoformat()}
        if reached:
            end_state["cursor"] = max(reached).isoformat()
        elif "on_checkpoint" in options and state and state.get("cursor"):
            end_state["cursor"] = state["cursor"]
        elif newest is not None:
            end_state["cursor"] = newest.isoformat()
        keep = None
        if stream.obj.name == "ListUsers":
            skipped_lists = {s.slice for s in self.conn.skipped_in_thread()}
            keep = lambda key: f"list {key[0]}" in skipped_lists  # noqa: E731 - a small predicate
        return _Done(stream, end_state, keys, keep)

    def _rows(self, stream: Stream, request: ReadRequest) -> Iterator[Row]:
        filter_text = stream.where.get("sql")
        if filter_text:
            yield from self.conn.filtered_rows(stream.obj, filter_text, request)
            return
        yield from self.conn.scan(stream.obj, request)

    def _flush(self, stream: Stream, batch: list[Row]) -> None:
        if batch:
            self._queue.put(_Rows(stream, list(batch)))
            batch.clear()

    def _export_method(self) -> str:
        if self.export_method in ("sync", "async"):
            return self.export_method
        limiter = self.conn.client.limiter
        return "async" if limiter.seconds_per_call("GET /api/export/data.json") > ASYNC_WORTH_IT_S else "sync"


def replicate(
    conn: Any,
    to: str | None = None,
    objects: list[str] | None = None,
    *,
    full: bool = False,
    since: datetime | None = None,
    filters: dict[str, str] | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    workers: int = 4,
    export_method: str = "auto",
    progress: Callable[[StreamReport], None] | None = None,
) -> ReplicationReport:
    """Copy Iterable objects into a database (default SQLite iterable.db); incremental after the first run."""
    chosen = streams(objects, filters)
    for stream in chosen:
        for name, condition in (filters or {}).items():
            if name.lower() == stream.obj.name.lower():
                stream.where["sql"] = condition
    target = open_target(to or default_url())
    try:
        return Replication(conn, target, chosen, full=full, since=since, lookback=lookback, workers=workers,
                           export_method=export_method, progress=progress).run()  # fmt: skip
    finally:
        target.close()
