"""What the console does with its connection: the same calls the CLI makes, for one person at a time.

The connection's SQL engine is one SQLite database, so statements, previews and imports run one at a time
(`lock`); a replication or sync runs beside them in its own thread (`jobs.py`), as the CLI's own worker
threads share the connection's API client and rate limits. Queries the page runs are read-only (the engine's
read-only mode); writes run only through `execute`, which the page calls after showing the dry run and
asking. Files (downloads, uploaded CSVs, rejects) live in one temporary directory removed on close."""

from __future__ import annotations

import itertools
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iterbridge.api.redaction import redact
from iterbridge.cli.objects import catalog_summary, column_summary, object_summary
from iterbridge.cli.query import write_rows
from iterbridge.connection import Connection, connect
from iterbridge.dburl import redact_text
from iterbridge.errors import IterbridgeError, QueryError
from iterbridge.query import sqltext
from iterbridge.settings import check_profile_name, load_profiles
from iterbridge.sqlnames import quote_name
from iterbridge.transfer import ImportOptions
from iterbridge.ui import charts
from iterbridge.ui.jobs import WATCH_EVERY_S, Job, Jobs, replication_view, sync_view

MAX_ROWS = 10_000  # rows a query may show in the grid (a download has no limit)
MAX_PREVIEW = 100
SHOWN_REJECTS = 200  # rejected rows shown on the page (the whole file is downloadable)
SHOWN_HISTORY = 50  # sync conflicts and retries listed
_POSITION = re.compile(r"\(line (\d+), column (\d+)")


def error_view(error: BaseException) -> dict[str, Any]:
    """An error as the page shows it: one line without the key or a password, and its position in the SQL."""
    text = str(error) if isinstance(error, IterbridgeError) else f"{type(error).__name__}: {error}"
    text = redact(redact_text(text))
    found = _POSITION.search(text)
    view: dict[str, Any] = {"error": text}
    if found:
        view["line"], view["column"] = int(found.group(1)), int(found.group(2))
    return view


@dataclass
class Uploaded:
    """An import run from the page: its summary and the rejects file."""

    summary: dict[str, Any]
    rejects: Path


class Console:
    """The console's connection (replaced when the profile is switched), its jobs and its files."""

    def __init__(self, conn: Connection, *, sandbox: bool = False) -> None:
        self.conn = conn
        self.sandbox = sandbox
        self.lock = threading.Lock()
        self.jobs = Jobs()
        self.files = Path(tempfile.mkdtemp(prefix="iterbridge-ui-"))
        self.imports: dict[int, Uploaded] = {}
        self.watch_every_s = WATCH_EVERY_S  # how often a replication's running tables are looked at
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.conn.close()
        shutil.rmtree(self.files, ignore_errors=True)

    def new_file(self, suffix: str) -> Path:
        return self.files / f"{next(self._ids)}{suffix}"

    # ---- connection ----------------------------------------------------------------------------------

    def connection(self) -> dict[str, Any]:
        """Which project this is (never the key) and the profiles one may switch to."""
        settings = self.conn.settings
        try:
            profiles = sorted(load_profiles())
        except IterbridgeError:
            profiles = []
        return {
            "profile": settings.profile,
            "region": settings.region,
            "base_url": settings.base_url,
            "sandbox": self.sandbox,
            "rate_limits": settings.rate_limit_factor,
            "suppress_extended_requests": settings.suppress_extended_requests,
            "profiles": profiles,
        }

    def check(self) -> dict[str, Any]:
        with self.lock:
            found = self.conn.check()
        return {"read_only": found.read_only, "can_export": found.can_export, "message": found.describe()}

    def switch(self, profile: str) -> dict[str, Any]:
        """Connect with another profile; the current connection stays when the new one cannot be made."""
        check_profile_name(profile)
        if self.jobs.busy():
            raise IterbridgeError("a replication or sync is running: switch once it has ended")
        with self.lock:
            new = connect(profile=profile)
            old, self.conn, self.sandbox = self.conn, new, False
        old.close()
        return self.connection()

    # ---- catalog -------------------------------------------------------------------------------------

    def objects(self) -> dict[str, Any]:
        return catalog_summary()

    def describe(self, name: str) -> dict[str, Any]:
        obj = self.conn.object(name)
        with self.lock:
            columns = self.conn.columns(obj)
        return {**object_summary(obj), "columns": [column_summary(c) for c in columns]}

    def preview(self, name: str, limit: int, run: bool) -> dict[str, Any]:
        """An object's first rows, read by one read-only statement; its EXPLAIN (what reading them costs)
        always, the rows only when `run` (the page shows the cost on the button first)."""
        obj = self.conn.object(name)
        sql = f"SELECT * FROM {quote_name(obj.name)} LIMIT {min(limit, MAX_PREVIEW):d}"
        view = {"plan": self.explain(sql, {})}
        if run:
            view.update(self.query(sql, {}, limit))
        return view

    # ---- SQL -----------------------------------------------------------------------------------------

    @staticmethod
    def one_statement(sql: str) -> str:
        statements = sqltext.split_statements(sql)
        if len(statements) != 1:
            raise QueryError(f"give one SQL statement, not {len(statements)}")
        return statements[0]

    @staticmethod
    def writes(sql: str) -> bool:
        """Whether a statement is one the page runs only after its dry run and a confirmation."""
        return sqltext.first_word(sql) in ("INSERT", "UPDATE", "DELETE", "REPLACE", "CALL")

    def query(self, sql: str, params: dict[str, Any], limit: int) -> dict[str, Any]:
        """A read-only run: the columns and at most `limit` rows, and whether there were more."""
        statement = self.one_statement(sql)
        with self.lock:
            before = self.conn.client.calls
            cursor = self.conn.sql(statement, params or None, read_only=True)
            rows = [list(row) for row in itertools.islice(cursor.typed(), min(limit, MAX_ROWS) + 1)]
            calls = self.conn.client.calls - before
        more = len(rows) > min(limit, MAX_ROWS)
        return {"columns": cursor.columns, "rows": rows[: min(limit, MAX_ROWS)], "more": more, "api_calls": calls}

    def explain(self, sql: str, params: dict[str, Any]) -> dict[str, Any]:
        """EXPLAIN reads nothing (metadata aside): endpoints, pushdown, calls and pace. A write's plan is
        prepared, never run."""
        statement = self.one_statement(sql)
        with self.lock:
            cursor = self.conn.sql(f"EXPLAIN {statement}", params or None, read_only=not self.writes(statement))
            rows = [list(row) for row in cursor]
        return {"columns": cursor.columns, "rows": rows}

    def dry_run(self, sql: str, params: dict[str, Any]) -> dict[str, Any]:
        """The requests a write would send, recorded and not sent (`query --dry-run`)."""
        statement = self.one_statement(sql)
        with self.lock, self.conn.client.recording() as requests:
            list(self.conn.sql(statement, params or None))
        return {"requests": [{"method": r["method"], "url": r["url"], "json": r.get("json")} for r in requests]}

    def execute(self, sql: str, params: dict[str, Any]) -> dict[str, Any]:
        """A write, confirmed on the page: its reports and any rows it returns."""
        statement = self.one_statement(sql)
        with self.lock:
            cursor = self.conn.sql(statement, params or None)
            rows = [list(row) for row in itertools.islice(cursor.typed(), MAX_ROWS)] if cursor.columns else []
        reports = [
            {"object": r.object, "operation": str(r.operation), "succeeded": r.succeeded, "api_calls": r.api_calls}
            for r in cursor.reports
        ]
        return {"columns": cursor.columns, "rows": rows, "reports": reports, "message": cursor.message}

    def download(self, sql: str, params: dict[str, Any], output_format: str) -> Path:
        """Every row of a read-only run, written to a file of the console's (CSV as `export` writes it)."""
        statement = self.one_statement(sql)
        path = self.new_file("." + output_format)
        with self.lock, path.open("w", encoding="utf-8", newline="") as handle:
            cursor = self.conn.sql(statement, params or None, read_only=True)
            write_rows(cursor.columns, cursor.typed(), output_format, handle)
        return path

    # ---- import --------------------------------------------------------------------------------------

    def import_csv(self, obj: str, path: Path, operation: str, mapping: dict[str, str], dry_run: bool) -> int:
        rejects = self.new_file(".rejects.csv")
        options = ImportOptions(operation=operation, mapping=mapping, dry_run=dry_run, rejects=rejects)
        with self.lock:
            summary = self.conn.import_csv(obj, path, options)
        view = {
            "describe": summary.describe(),
            "read": summary.read,
            "sent": summary.sent,
            "accepted": summary.accepted,
            "rejected": summary.rejected,
            "api_calls": summary.api_calls,
            "dry_run": summary.dry_run,
            "requests": summary.requests,
            "request_count": summary.request_count,
            "ignored_columns": summary.ignored_columns,
            "new_fields": summary.new_fields,
            "stopped": summary.stopped,
            "rejects": _head(rejects, SHOWN_REJECTS),
        }
        number = next(self._ids)
        self.imports[number] = Uploaded(view, rejects)
        return number

    # ---- replicate and sync ------------------------------------------------------------------------------

    def replicate(self, url: str, objects: list[str] | None, full: bool) -> Job:
        def work(job: Job) -> dict[str, Any]:
            report = self.conn.replicate(
                url, objects, full=full, progress=job.progress, watch=job.watch, watch_every_s=self.watch_every_s
            )
            return replication_view(report)

        return self.jobs.start("replicate", url, work)

    def sync(self, obj: str, url: str, catalog: str | None, conflict: str, dry_run: bool) -> Job:
        def work(job: Job) -> dict[str, Any]:
            return sync_view(self.conn.sync(obj, url, catalog=catalog, conflict=conflict, dry_run=dry_run))

        return self.jobs.start("sync", url, work)

    def freshness(self, url: str) -> dict[str, Any]:
        """Each table's last run, rows and cursor, and the latest sync conflicts and retries — read from the
        target's own `_iterbridge_*` tables, opened read-only (no lock, nothing created)."""
        from iterbridge.sync.store import CONFLICT_COLUMNS, CONFLICTS, RETRIES, RETRY_COLUMNS, SyncStore

        store = SyncStore(url, create=False)
        try:
            state = store.target.read_state()
            tables = [{"table": name, **values} for name, values in sorted(state.items())]
            listed: dict[str, Any] = {}
            for key, table, columns, order in (
                ("conflicts", CONFLICTS, CONFLICT_COLUMNS, "resolved_at"),
                ("retries", RETRIES, RETRY_COLUMNS, "last_failed_at"),
            ):
                names = ", ".join(store.target.quote(c) for c in columns)
                sql = f"SELECT {names} FROM {store.target.quote(table)} ORDER BY {store.target.quote(order)} DESC"
                try:
                    found = store.query(f"{sql} LIMIT {SHOWN_HISTORY}")
                except Exception:  # no sync ever ran into this database: it has no such table
                    found = []
                listed[key] = [dict(zip(columns, (_plain(v) for v in row), strict=True)) for row in found]
        finally:
            store.close()
        return {"target": store.description, "tables": tables, **listed}

    def events_per_day(self, source: str, url: str | None, start: str, end: str, run: bool) -> dict[str, Any]:
        """Counts per day and type for the chart. From the API: EXPLAIN's plan (the cost) always, the counts
        only when `run` (the page asks first); from a copy (`url`): the counts, read in the database."""
        first, last = charts.day_range(start, end)
        if source == "copy":
            from iterbridge.sync.store import SyncStore

            assert url is not None
            store = SyncStore(url, create=False)
            try:
                counts = [list(found) for found in charts.copy_counts(store, first, last)]
            finally:
                store.close()
            return {"source": "copy", "target": store.description, "counts": counts}
        sql, params = charts.api_sql(), charts.api_params(first, last)
        view: dict[str, Any] = {"source": "api", "sql": sql, "plan": self.explain(sql, params)}
        if run:
            view["counts"] = self.query(sql, params, MAX_ROWS)["rows"]
        return view


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (int, float, str, bool)) else str(value)


def _head(path: Path, count: int) -> list[list[str]]:
    """The first rows of a CSV file the console wrote (the rejects), header included."""
    import csv

    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        return list(itertools.islice(csv.reader(handle), count + 1))


def chunks(path: Path, size: int = 64 * 1024) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(size):
            yield block
