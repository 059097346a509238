"""Connection is the public façade over a Session: every job is a typed method, the reader plumbing lives on
the session only, and the jobs reach the objects through the Session seam (no untyped connection, no proxy)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import iterbridge
from iterbridge.objects.base import ObjectDef, ReadHints, ReadRequest, Row
from iterbridge.objects.reading import export_method
from iterbridge.query.engine import Engine
from iterbridge.transfer import ImportOptions

SRC = Path(iterbridge.__file__).parent
PLUMBING = ("scan", "skip", "skipped_in_thread", "server_now", "forget_user_fields", "user_fields", "json_lines")


def test_reader_plumbing_lives_on_the_session(conn: iterbridge.Connection) -> None:
    for name in PLUMBING:
        assert not hasattr(conn, name), name
        assert callable(getattr(conn.session, name)), name
    assert conn.skipped is conn.session.skipped  # documented in the README: stays public
    assert conn.quarantine is conn.session.quarantine
    assert conn.client is conn.session.client


def test_every_job_is_a_method_of_the_connection(conn: iterbridge.Connection, tmp_path: Path) -> None:
    cursor = conn.sql("SELECT Id, Name FROM Lists")
    assert isinstance(cursor, iterbridge.Cursor)
    lists = cursor.fetchall()
    exported = conn.export("Lists", tmp_path / "lists.csv", columns=["Id", "Name"])
    assert isinstance(exported, iterbridge.ExportResult)
    assert (exported.columns, exported.rows) == (["Id", "Name"], len(lists))
    (tmp_path / "new.csv").write_text("Name\nfacade\n", encoding="utf-8")
    summary = conn.import_csv("Lists", tmp_path / "new.csv", ImportOptions(dry_run=True))
    assert isinstance(summary, iterbridge.ImportSummary)
    assert (summary.read, summary.request_count) == (1, 1)
    replicated = conn.replicate(f"sqlite:///{tmp_path / 'copy.db'}", ["Lists"])
    assert isinstance(replicated, iterbridge.ReplicationReport)
    assert replicated.stream("Lists").rows_read == len(lists)
    synced = conn.sync("CatalogItems", f"sqlite:///{tmp_path / 'sync.db'}", catalog="products", dry_run=True)
    assert isinstance(synced, iterbridge.SyncReport)
    assert synced.ok


def test_read_hints_are_typed_and_win_over_the_session(conn: iterbridge.Connection) -> None:
    conn.session.export_method = "sync"
    assert export_method(conn.session, ReadRequest(["Email"])) == "sync"
    assert export_method(conn.session, ReadRequest(["Email"], hints=ReadHints(export="async"))) == "async"
    assert export_method(conn.session, ReadRequest(["Email"], hints=ReadHints(export="async")), campaign_id=1) == "sync"


def test_the_engine_shows_each_scan_to_its_on_scan_hook(conn: iterbridge.Connection) -> None:
    seen: list[tuple[str, Row]] = []

    def watch(obj: ObjectDef, rows: Iterator[Row]) -> Iterator[Row]:
        for row in rows:
            seen.append((obj.name, row))
            yield row

    engine = Engine(conn.session, read_only=True, on_scan=watch)
    try:
        names = [name for (name,) in engine.execute("SELECT Name FROM Lists")]
    finally:
        engine.close()
    assert names
    assert [row["Name"] for _, row in seen] == names
    assert {name for name, _ in seen} == {"Lists"}


def test_no_job_takes_an_untyped_connection_or_reaches_into_one() -> None:
    holes = re.compile(r"conn: Any|: Any = conn|conn\._[a-z]|getattr\((self\.)?conn\b, \"|def __getattr__")
    found = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if "sandbox" not in path.parts and path.name != "__init__.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if holes.search(line)
    ]
    assert found == []
