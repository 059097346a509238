"""Times sync writes are at Iterable's precision (milliseconds), like the times Iterable gives and replicate
copies — not with the microseconds of a clock computed from a Date header and elapsed time, or of the wall
clock: its map, conflict log, retries and state, and any row time it fills in; replicate's state alike."""

from __future__ import annotations

import re

import iterbridge

from .support import Db, sync_templates

MILLISECONDS = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{3}000)?(\+00:00)?")


def test_sync_writes_times_at_iterables_precision(conn: iterbridge.Connection, sqlite_db: Db) -> None:
    assert not conn.replicate(sqlite_db.url, ["Templates"]).failed
    sqlite_db.sql('UPDATE "Templates" SET "Subject" = ? WHERE "ClientTemplateId" = ?', "Edited", "tmpl-email-000")
    conn.client.json("POST /api/templates/email/update", json={"templateId": 2708575, "subject": "Edited there"})
    assert sync_templates(conn, sqlite_db).ok  # a conflict (newest wins), logged
    copied = [row[0] for row in sqlite_db.sql('SELECT "UpdatedAt" FROM "Templates" WHERE "UpdatedAt" IS NOT NULL')]
    assert copied
    assert all(MILLISECONDS.fullmatch(text) for text in copied), copied[:3]  # replicate's copies of Iterable's
    synced = sqlite_db.sql("SELECT synced_at, iterable_modified FROM _iterbridge_sync_map")
    resolved = sqlite_db.sql("SELECT resolved_at, resolution FROM _iterbridge_sync_conflicts")
    state = sqlite_db.sql("SELECT state, updated_at FROM _iterbridge_state WHERE stream LIKE 'sync:%'")
    updated = [row[0] for row in sqlite_db.sql("SELECT updated_at FROM _iterbridge_state")]  # replicate's too
    assert synced
    assert resolved
    texts = [t for row in synced for t in row if t] + [row[0] for row in resolved] + updated
    texts += re.findall(r"\d{4}-\d\d-\d\dT[0-9:.]+\+00:00", " ".join(row[1] for row in resolved) + state[0][0])
    assert all(MILLISECONDS.fullmatch(text) for text in texts), texts
