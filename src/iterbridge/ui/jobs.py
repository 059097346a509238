"""Long jobs of the console (replicate, sync) in background threads, with what the page polls.

A job keeps the same progress values the CLI prints (`cli/replicate.py`'s progress lines: rows, rate, share
of the time range, ETA per table) as data, the tables finished so far, and the report at the end. Jobs live
as long as the console: they are this console's run history (the target's own `_iterbridge_*` tables give
each table's freshness, whoever wrote it)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from iterbridge.api.redaction import redact
from iterbridge.cli.replicate import progress_line, report_dict
from iterbridge.dburl import redact_text, redact_url
from iterbridge.errors import IterbridgeError
from iterbridge.replicate import ReplicationReport, StreamProgress, StreamReport
from iterbridge.sync import SyncReport

WATCH_EVERY_S = 1.0  # the page polls every second: the CLI's 5 s would look frozen


@dataclass
class Job:
    """One run started from the console, as the page sees it (`view`)."""

    id: int
    kind: str  # "replicate" or "sync"
    target: str  # the URL without its secrets
    started: float = field(default_factory=time.time)
    ended: float | None = None
    state: str = "running"  # running, done, failed
    running: list[dict[str, Any]] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def view(self) -> dict[str, Any]:
        with self.lock:
            return {
                "id": self.id,
                "kind": self.kind,
                "target": self.target,
                "started": self.started,
                "ended": self.ended,
                "state": self.state,
                "running": list(self.running),
                "finished": list(self.finished),
                "report": self.report,
                "error": self.error,
            }

    # ---- the callbacks replication calls -----------------------------------------------------------------

    def watch(self, streams: list[StreamProgress]) -> None:
        shown = [{**asdict(stream), "line": progress_line(stream)} for stream in streams]
        with self.lock:
            self.running = shown

    def progress(self, stream: StreamReport) -> None:
        rate = stream.rows_read / stream.seconds if stream.seconds else 0.0
        done = {"table": stream.table, "rows_read": stream.rows_read, "seconds": stream.seconds, "rate": rate}
        done["error"] = stream.error
        with self.lock:
            self.finished.append(done)
            self.running = [r for r in self.running if r["table"] != stream.table]


class Jobs:
    """Every job of this console, by id; one runs at a time (they share the connection's rate limits)."""

    def __init__(self) -> None:
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda job: job.id, reverse=True)

    def busy(self) -> bool:
        return any(job.state == "running" for job in self._jobs.values())

    def start(self, kind: str, url: str, work: Callable[[Job], dict[str, Any]]) -> Job:
        """Run `work(job)` in a thread; its return value becomes the job's report."""
        with self._lock:
            if self.busy():
                raise IterbridgeError("a replication or sync is already running: wait for it to end")
            job = Job(next(self._ids), kind, redact_url(url))
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, work), name=f"iterbridge-ui-{kind}", daemon=True).start()
        return job

    @staticmethod
    def _run(job: Job, work: Callable[[Job], dict[str, Any]]) -> None:
        try:
            report = work(job)
        except Exception as error:  # shown on the page, never raised into a thread that nobody joins
            text = str(error) if isinstance(error, IterbridgeError) else f"{type(error).__name__}: {error}"
            with job.lock:
                job.state, job.error, job.ended, job.running = "failed", redact(redact_text(text)), time.time(), []
            return
        with job.lock:
            job.report, job.ended, job.running = report, time.time(), []
            job.state = "done" if report.get("ok", True) else "failed"


def replication_view(report: ReplicationReport) -> dict[str, Any]:
    return report_dict(report)


def sync_view(report: SyncReport) -> dict[str, Any]:
    """A sync's report as the page shows it: counts each way, conflicts, failures with their reasons."""
    return {
        "ok": report.ok,
        "stream": report.stream,
        "database": report.database,
        "dry_run": report.dry_run,
        "to_iterable": asdict(report.to_iterable),
        "to_database": asdict(report.to_database),
        "matched": report.matched,
        "conflicts": report.conflicts,
        "failed": report.failed,
        "left_to_retry": report.left_to_retry,
        "failures": [asdict(failure) for failure in report.failures],
        "skipped": list(report.skipped),
        "api_calls": report.api_calls,
    }
