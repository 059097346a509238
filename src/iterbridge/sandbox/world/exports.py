"""The export API's data: records of a data type in a window, as JSON lines or CSV, and async jobs.

Synchronous exports (data.json, data.csv) stream `lines()` straight to the client. Asynchronous jobs
(export/start) write the same lines to files of at most `export_file_max_bytes` in a background thread,
like Iterable's job workers, and serve them through expiring URLs.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from iterbridge.constants import EXPORT_DATA_TYPES
from iterbridge.limits import MAX_CONCURRENT_EXPORT_JOBS
from iterbridge.sandbox.data.events import GENERATED_TYPES, export_record, sample_columns
from iterbridge.sandbox.data.timefmt import DAY_MS, iso_offset
from iterbridge.sandbox.data.users import flatten
from iterbridge.sandbox.faults import spoil

if TYPE_CHECKING:
    from iterbridge.sandbox.world import World

DATA_TYPES = {name.lower(): name for name in EXPORT_DATA_TYPES}
DATA_TYPES["emailunsubscribe"] = "emailUnSubscribe"  # production spelling, accepted too
JSON_FORMAT, CSV_FORMAT = "application/x-json-stream", "text/csv"


@dataclass(frozen=True)
class ExportQuery:
    data_type: str
    start_ms: int
    end_ms: int
    only_fields: tuple[str, ...] = ()
    omit_fields: frozenset[str] = frozenset()
    campaign_id: int | None = None
    delimiter: str = ","

    @property
    def key_field(self) -> str:
        """The field kept even when onlyFields leaves it out."""
        return "email" if self.data_type == "user" else "createdAt"

    def keeps(self, name: str) -> bool:
        """Whether a record's field stays in the export (onlyFields / omitFields)."""
        if self.only_fields:
            return name in self.only_fields or name == self.key_field
        return name not in self.omit_fields

    def shape(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """A record as the export serves it, or None when campaignId filters it out."""
        if self.campaign_id is not None and record.get("campaignId") != self.campaign_id:
            return None
        if self.only_fields or self.omit_fields:
            return {name: value for name, value in record.items() if self.keeps(name)}
        return record


def range_window(name: str, now_ms: int) -> tuple[int, int] | None:
    """The [start, end) of a named range (UTC days), or None for an unknown name."""
    today = now_ms - now_ms % DAY_MS
    windows = {
        "today": (today, now_ms + 1),
        "yesterday": (today - DAY_MS, today),
        "beforetoday": (0, today),
        "all": (0, now_ms + 1),
    }
    return windows.get(name.lower())


def records(world: World, query: ExportQuery) -> Iterator[dict[str, Any]]:
    """The export's records, each already reduced to onlyFields / without omitFields."""
    if query.data_type == "user":
        source: Iterator[dict[str, Any]] = (
            flatten(profile) for profile in world.users.profiles_updated_between(query.start_ms, query.end_ms)
        )
    else:
        source = (
            export_record(located.event, located.email, located.user_id)
            for located in world.events.in_window(frozenset([query.data_type]), query.start_ms, query.end_ms)
        )
    if query.campaign_id is None and not query.only_fields and not query.omit_fields:
        yield from source  # nothing to narrow: no per-record checks
        return
    for record in source:
        shaped = query.shape(record)
        if shaped is not None:
            yield shaped


def columns(world: World, query: ExportQuery) -> list[str]:
    """The CSV header: the data type's schema, narrowed like the records."""
    if query.data_type == "user":
        fields = world.users.fields
        found = []
        for name, kind in fields.items():
            parent = name.rsplit(".", 1)[0] if "." in name else None
            if kind != "object" and not (parent and fields.get(parent) == "nested"):
                found.append(name)
    else:
        found = world.exports.event_columns(query.data_type)
    if query.only_fields:
        found = [c for c in found if c in query.only_fields or c == query.key_field]
        if query.key_field in found:
            found.remove(query.key_field)
            found.insert(0, query.key_field)
    elif query.omit_fields:
        found = [c for c in found if c not in query.omit_fields]
    return found


def json_lines(world: World, query: ExportQuery) -> Iterator[bytes]:
    """The export as blocks of whole JSON lines: generated users and events are drawn in bulk (data/bulk.py)."""
    if query.data_type == "user" and query.campaign_id is None:
        yield from world.users.export_blocks(query)
    elif query.data_type in GENERATED_TYPES:
        yield from world.events.export_blocks(query)
    else:
        yield from (json_line(record) for record in records(world, query))


def warm_up(world: World) -> None:
    """Make an hour of emailSend lines and a block of user lines and throw them away, so that pyarrow's
    kernels and the allocators' first arenas are set up when the server starts, not counted against (and
    paid by) its first export."""
    end = world.project.anchor_ms
    for _ in json_lines(world, ExportQuery("emailSend", end - 3_600_000, end)):
        pass
    users = np.arange(min(256, world.user_generator.count), dtype=np.int64)
    world.users.bulk.lines(users, set(world.lists.records)).block()


def json_line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)  # the newline appended by orjson: no copy


def csv_lines(world: World, query: ExportQuery) -> Iterator[bytes]:
    """CSV as the real export writes it: bare header, strings quoted, nested values as JSON."""
    header = columns(world, query)
    delimiter = query.delimiter
    yield (delimiter.join(header) + "\n").encode()
    for record in records(world, query):
        yield (delimiter.join(_csv_cell(record.get(name)) for name in header) + "\n").encode()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dict, list)):
        value = orjson.dumps(value).decode()
    return '"' + str(value).replace('"', '""') + '"'


def lines(world: World, query: ExportQuery, output_format: str) -> Iterator[bytes]:
    """The export's body as blocks of whole lines (CSV: the header first, alone)."""
    return csv_lines(world, query) if output_format == CSV_FORMAT else json_lines(world, query)


# ---- asynchronous jobs -----------------------------------------------------------------------------------


@dataclass
class ExportJob:
    id: int
    query: ExportQuery
    output_format: str
    scheduled_ms: int
    state: str = "enqueued"
    files: list[str] = field(default_factory=list)
    bytes_exported: int = 0
    end_ms: int | None = None
    cancel_requested: bool = False

    def listing(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": self.id,
            "dataTypeName": self.query.data_type,
            "jobState": self.state,
            "scheduledStartTime": iso_offset(self.scheduled_ms),
        }
        if self.end_ms is not None:
            entry["endTime"] = iso_offset(self.end_ms)
            entry["bytesExported"] = self.bytes_exported
        return entry


class ExportJobs:
    def __init__(self, world: World) -> None:
        self.world = world
        self.jobs: dict[int, ExportJob] = {}
        self._next_id = 3000 + world.project.seed % 500
        self._directory = Path(tempfile.mkdtemp(prefix="iterbridge-sandbox-exports-"))
        self._slots = threading.Semaphore(MAX_CONCURRENT_EXPORT_JOBS)
        self._threads: list[threading.Thread] = []
        self._column_cache: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def event_columns(self, data_type: str) -> list[str]:
        with self._lock:
            if data_type not in self._column_cache:
                self._column_cache[data_type] = sample_columns(self.world.event_generator, data_type)
            return list(self._column_cache[data_type])

    def start(self, query: ExportQuery, output_format: str) -> ExportJob:
        self._next_id += 1
        job = ExportJob(self._next_id, query, output_format, self.world.now())
        self.jobs[job.id] = job
        thread = threading.Thread(target=self._run, args=(job,), name=f"sandbox-export-{job.id}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return job

    def cancel(self, job: ExportJob) -> None:
        if job.state in ("enqueued", "running"):
            job.cancel_requested = True
            job.state = "cancelling"

    def file_path(self, job: ExportJob, name: str) -> Path | None:
        if name not in job.files:
            return None
        return self._directory / str(job.id) / name

    def signature(self, job_id: int, name: str, expires_ms: int) -> str:
        secret = f"{self.world.config.seed}:{self.world.config.api_key}"
        text = f"{secret}:{job_id}:{name}:{expires_ms}".encode()
        return hashlib.sha256(text).hexdigest()[:32]

    def _run(self, job: ExportJob) -> None:
        with self._slots:
            if job.cancel_requested:
                job.state = "cancelled"
                return
            job.state = "running"
            folder = self._directory / str(job.id)
            folder.mkdir(parents=True, exist_ok=True)
            extension = "csv" if job.output_format == CSV_FORMAT else "json"
            limit = self.world.config.export_file_max_bytes
            current: list[bytes] = []
            size = 0
            header = b""
            try:
                blocks = lines(self.world, job.query, job.output_format)
                if job.output_format == JSON_FORMAT:
                    blocks = spoil(self.world.faults, blocks)
                for number, block in enumerate(blocks):
                    if job.cancel_requested:
                        job.state = "cancelled"
                        return
                    if number == 0 and job.output_format == CSV_FORMAT:
                        header = block
                        continue
                    # A block that would pass the file limit is split into its lines.
                    for line in [block] if size + len(block) <= limit else block.splitlines(keepends=True):
                        if size + len(line) > limit and current:
                            self._write(job, folder, extension, header, current)
                            current, size = [], 0
                        current.append(line)
                        size += len(line)
                if current or not job.files:
                    self._write(job, folder, extension, header, current)
            except Exception:  # the job fails like Iterable's do; the state says so
                job.state = "failed"
                job.end_ms = self.world.now()
                return
            job.state = "completed"
            job.end_ms = self.world.now()

    def _write(self, job: ExportJob, folder: Path, extension: str, header: bytes, body: list[bytes]) -> None:
        name = f"file-{self.world.now()}-{len(job.files):04d}.{extension}"
        data = header + b"".join(body)
        (folder / name).write_bytes(data)
        job.bytes_exported += len(data)
        job.files.append(name)

    def close(self) -> None:
        for job in self.jobs.values():
            job.cancel_requested = True
        for thread in self._threads:
            thread.join(timeout=5)
        shutil.rmtree(self._directory, ignore_errors=True)
