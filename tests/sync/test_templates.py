"""Templates (Base templates of email and push): keyed by ClientTemplateId (email's here) or by Name + medium
(push's here, which have none); created, edited, renamed and deleted on each side; the incremental read
asks for the extended fields of changed templates only."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

import iterbridge
from helpers import FakeClock

from .support import (
    TEMPLATES_STREAM,
    Db,
    assert_templates_converged,
    database_templates,
    iterable_templates,
    sync_templates,
    totals,
)

WEEKLY_EMAIL, SPRING_EMAIL, WINBACK_PUSH, WEEKLY_PUSH = 2708575, 2708666, 2708592, 2708687


def update_template(conn: iterbridge.Connection, medium: str, template_id: int, **fields: Any) -> None:
    conn.client.json(f"POST /api/templates/{medium}/update", json={"templateId": template_id, **fields})


def calls_per_endpoint(admin: httpx2.Client) -> dict[str, int]:
    return {e: sum(s.values()) for e, s in admin.get("/_sandbox/stats").json()["endpoints"].items()}


def test_first_run_on_a_table_made_by_replication(conn: iterbridge.Connection, db: Db, clock: FakeClock) -> None:
    """Rows of every type and medium are there (keyed by Id); only Base email and push ones are synced."""
    assert not conn.replicate(db.url, ["Templates"]).failed
    total_rows = db.sql('SELECT count(*) FROM "Templates"')[0][0]
    db.sql('UPDATE "Templates" SET "Subject" = ? WHERE "Id" = ?', "Edited in the database", WEEKLY_EMAIL)
    db.sql('UPDATE "Templates" SET "Message" = ? WHERE "Id" = ?', "Edited push", WINBACK_PUSH)
    db.sql('INSERT INTO "Templates" ("Id", "Name", "TemplateType", "MessageMedium", "ClientTemplateId", "Subject", '
           '"HTML") VALUES (?, ?, ?, ?, ?, ?, ?)', -1, "Created in the database", "Base", "Email", "db-new-1",
           "Hello", "<p>Hello</p>")  # a new row needs some Id: the table's key  # fmt: skip

    report = sync_templates(conn, db, conflict="database")

    assert totals(report) == {"matched": 2, "conflicts": 2, "iterable_updates": 2, "iterable_creates": 1}
    assert report.ok
    created = [i for i, t in iterable_templates(conn).items() if t["ClientTemplateId"] == "db-new-1"]
    assert len(created) == 1
    assert db.sql('SELECT "Id" FROM "Templates" WHERE "ClientTemplateId" = ?', "db-new-1") == [(created[0],)]
    assert db.sql('SELECT count(*) FROM "Templates"')[0][0] == total_rows + 1  # campaign templates untouched
    assert sorted(db.map(TEMPLATES_STREAM)) == sorted(
        ["tmpl-email-000", "tmpl-email-004", "db-new-1", "Win-back base template|Push",
         "Weekly Digest base template|Push"]
    )  # fmt: skip
    sync_templates(conn, db)
    assert sync_templates(conn, db).plan == []
    templates = assert_templates_converged(conn, db)
    assert templates[WEEKLY_EMAIL]["Subject"] == "Edited in the database"
    assert templates[WINBACK_PUSH]["Message"] == "Edited push"

    # Renames of templates keyed by Name + medium, on each side: updates, not a delete and a create.
    clock.advance(60)
    update_template(conn, "push", WEEKLY_PUSH, name="Weekly Digest, renamed in Iterable")
    db.sql('UPDATE "Templates" SET "Name" = ? WHERE "Id" = ?', "Win-back, renamed in the database", WINBACK_PUSH)
    renamed = sync_templates(conn, db)
    assert totals(renamed) == {"database_updates": 1, "iterable_updates": 1}
    sync_templates(conn, db)
    templates = assert_templates_converged(conn, db)
    assert templates[WEEKLY_PUSH]["Name"] == "Weekly Digest, renamed in Iterable"
    assert templates[WINBACK_PUSH]["Name"] == "Win-back, renamed in the database"
    assert len(templates) == 5
    assert db.sql('SELECT count(*) FROM "Templates"')[0][0] == total_rows + 1


def test_templates_created_edited_and_deleted_on_each_side(
    conn: iterbridge.Connection, db: Db, clock: FakeClock
) -> None:
    assert totals(sync_templates(conn, db)) == {"database_creates": 4}
    rows = database_templates(db)
    assert rows[WINBACK_PUSH]["ClientTemplateId"] == "Win-back base template|Push"  # the key, in the key column
    assert rows[WEEKLY_EMAIL]["ClientTemplateId"] == "tmpl-email-000"

    conn.client.json("POST /api/templates/email/upsert",
                     json={"clientTemplateId": "iter-new", "name": "Created in Iterable", "subject": "Hi"})  # fmt: skip
    db.sql('INSERT INTO "Templates" ("ClientTemplateId", "Name", "MessageMedium", "Message", "Title") '
           "VALUES (?, ?, ?, ?, ?)", "db-new-push", "Created in the database", "Push", "Tap", "New")  # fmt: skip
    conn.client.json("POST /api/templates/bulkDelete", json={"ids": [WEEKLY_PUSH]})
    db.sql('DELETE FROM "Templates" WHERE "ClientTemplateId" = ?', "tmpl-email-004")
    update_template(conn, "email", WEEKLY_EMAIL, subject="Iterable's subject")
    clock.advance(60)
    db.sql(f'UPDATE "Templates" SET "Subject" = ?, "UpdatedAt" = {db.now} WHERE "ClientTemplateId" = ?',
           "The database's later subject", "tmpl-email-000")  # fmt: skip

    report = sync_templates(conn, db)  # newest

    assert totals(report) == {"database_creates": 1, "database_deletes": 1, "iterable_creates": 1,
                              "iterable_deletes": 1, "iterable_updates": 1, "conflicts": 1}  # fmt: skip
    templates = iterable_templates(conn)
    assert SPRING_EMAIL not in templates
    assert WEEKLY_PUSH not in templates
    assert templates[WEEKLY_EMAIL]["Subject"] == "The database's later subject"
    (created,) = [i for i, t in templates.items() if t["ClientTemplateId"] == "db-new-push"]
    assert database_templates(db)[created]["Name"] == "Created in the database"  # the new Id, written back
    sync_templates(conn, db)
    assert sync_templates(conn, db).plan == []
    assert len(assert_templates_converged(conn, db)) == 4


def test_the_incremental_read_asks_only_for_changed_templates(
    conn: iterbridge.Connection, sqlite_db: Db, admin: httpx2.Client, clock: FakeClock
) -> None:
    db = sqlite_db
    before = calls_per_endpoint(admin)
    sync_templates(conn, db)
    first = calls_per_endpoint(admin)
    assert first.get("GET /api/templates/{medium}/get", 0) - before.get("GET /api/templates/{medium}/get", 0) == 4

    clock.advance(3600)
    assert sync_templates(conn, db).plan == []
    second = calls_per_endpoint(admin)
    assert second.get("GET /api/templates/{medium}/get") == first.get("GET /api/templates/{medium}/get")
    assert second["GET /api/templates"] - first["GET /api/templates"] == 2  # one list per medium

    update_template(conn, "push", WINBACK_PUSH, message="A new message")
    clock.advance(60)
    report = sync_templates(conn, db)
    assert totals(report) == {"database_updates": 1}
    third = calls_per_endpoint(admin)
    assert third["GET /api/templates/{medium}/get"] - second["GET /api/templates/{medium}/get"] == 1


def test_an_update_iterable_refuses_is_retried(conn: iterbridge.Connection, db: Db) -> None:
    sync_templates(conn, db)
    db.sql('UPDATE "Templates" SET "MessageMedium" = ? WHERE "ClientTemplateId" = ?', "Push", "tmpl-email-004")

    report = sync_templates(conn, db)

    assert not report.ok
    (failure,) = report.failures
    assert (failure.key, failure.side, failure.operation) == ("tmpl-email-004", "iterable", "update")
    retry = db.retries(TEMPLATES_STREAM)
    assert "does not exist" in retry["tmpl-email-004"]["reason"]  # Iterable: no push template with that Id
    assert not sync_templates(conn, db).ok  # tried again
    assert db.retries(TEMPLATES_STREAM)["tmpl-email-004"]["attempts"] == 2

    db.sql('UPDATE "Templates" SET "MessageMedium" = ? WHERE "ClientTemplateId" = ?', "Email", "tmpl-email-004")
    fixed = sync_templates(conn, db)
    assert fixed.ok
    assert db.retries(TEMPLATES_STREAM) == {}
    assert_templates_converged(conn, db)


@pytest.mark.parametrize("later", [3600, 0])
def test_a_database_failure_is_retried_though_iterable_has_not_changed_since(
    conn: iterbridge.Connection, sqlite_db: Db, admin: httpx2.Client, clock: FakeClock, later: int
) -> None:
    """The template's later reads skip its extended fields (unchanged by its cursor), yet the retry reads it."""
    db = sqlite_db
    sync_templates(conn, db)
    db.sql(
        'CREATE TRIGGER no_forbidden BEFORE UPDATE ON "Templates" WHEN NEW."Name" LIKE \'%forbidden%\' '
        "BEGIN SELECT RAISE(ABORT, 'forbidden names are not allowed here'); END"
    )  # the user's own rule
    update_template(conn, "push", WINBACK_PUSH, name="A forbidden name")
    clock.advance(60)
    failed = sync_templates(conn, db)
    assert [(f.key, f.side, f.operation) for f in failed.failures] == [("Win-back base template|Push", "database",
                                                                         "update")]  # fmt: skip
    assert "forbidden names" in failed.failures[0].reason

    clock.advance(later)  # an hour: the template is outside the incremental read's window
    gets = calls_per_endpoint(admin).get("GET /api/templates/{medium}/get", 0)
    again = sync_templates(conn, db)
    assert not again.ok
    assert calls_per_endpoint(admin)["GET /api/templates/{medium}/get"] - gets == 1
    assert db.retries(TEMPLATES_STREAM)["Win-back base template|Push"]["attempts"] == 2

    db.sql("DROP TRIGGER no_forbidden")
    fixed = sync_templates(conn, db)
    assert totals(fixed) == {"database_updates": 1}
    assert database_templates(db)[WINBACK_PUSH]["Name"] == "A forbidden name"
    assert_templates_converged(conn, db)


def test_text_that_looks_like_json_stays_text(conn: iterbridge.Connection, db: Db) -> None:
    """A name "2024" or a subject "true" is text on both sides (only JSON columns are parsed)."""
    assert not conn.replicate(db.url, ["Templates"]).failed
    db.sql('INSERT INTO "Templates" ("Id", "Name", "TemplateType", "MessageMedium", "ClientTemplateId", "Subject", '
           '"HTML") VALUES (?, ?, ?, ?, ?, ?, ?)', -2, "2024", "Base", "Email", "db-json-like", "true",
           "null")  # fmt: skip

    report = sync_templates(conn, db)

    assert report.ok
    created = [t for t in iterable_templates(conn).values() if t["ClientTemplateId"] == "db-json-like"]
    assert len(created) == 1
    assert (created[0]["Name"], created[0]["Subject"], created[0]["HTML"]) == ("2024", "true", "null")
    sync_templates(conn, db)
    assert sync_templates(conn, db).plan == []
    assert_templates_converged(conn, db)
