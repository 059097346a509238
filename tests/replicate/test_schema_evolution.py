"""Schema evolution: a user field created in Iterable becomes a column of the copy at the next run (ALTER TABLE
ADD COLUMN, typed), never a failure nor a dropped value; --full recreates the tables."""

from __future__ import annotations

import httpx2

import iterbridge
from helpers import FakeClock

from .copies import Copy


def test_a_new_user_field_becomes_a_typed_column_with_its_values(
    conn: iterbridge.Connection, api: httpx2.Client, clock: FakeClock, target: str
) -> None:
    first = conn.replicate(target, ["Users", "UserFields"])
    assert first.ok
    copy = Copy(target)
    before = {c.name for c in copy.columns("Users")}
    assert "favoriteColor" not in before
    users = {r["Email"]: r for r in copy.rows("Users")}
    email, other = sorted(users)[:2]

    clock.advance(60)
    fields = {"favoriteColor": "teal", "shoeSize": 44, "lastSeen": "2026-11-01 07:30:00 +00:00"}
    api.post("/api/users/update", json={"email": email, "dataFields": fields}).raise_for_status()
    assert api.get("/api/users/getFields").json()["fields"]["shoeSize"] == "long"

    # The same connection: the fields are asked again at each run.
    second = conn.replicate(target, ["Users", "UserFields"])
    assert second.ok, second.failed
    report = second.stream("Users")
    assert sorted(report.columns_added) == ["favoriteColor", "lastSeen", "shoeSize"]
    kinds = {c.name: c.type for c in copy.columns("Users")}
    assert kinds["shoeSize"] == "bigint"
    assert kinds["lastSeen"] == kinds["ProfileUpdatedAt"]
    rows = {r["Email"]: r for r in copy.rows("Users")}
    assert rows[email]["favoriteColor"] == "teal"
    assert rows[email]["shoeSize"] == 44
    assert rows[email]["lastSeen"].isoformat() == "2026-11-01T07:30:00+00:00"
    assert rows[other]["favoriteColor"] is None
    # Only the user that changed was written (the table was read in full to fill the new columns).
    assert (report.inserted, report.updated, report.deleted) == (0, 1, 0)
    assert report.unchanged == len(users) - 1
    assert len(rows) == len(users)
    assert {"favoriteColor", "shoeSize", "lastSeen"} <= {r["Name"] for r in copy.rows("UserFields")}
    assert second.stream("UserFields").inserted == 3

    # A third run: nothing new, nothing added.
    third = conn.replicate(target, ["Users"])
    assert third.stream("Users").columns_added == []
    assert (third.stream("Users").inserted, third.stream("Users").updated) == (0, 0)


def test_full_recreates_the_tables(conn: iterbridge.Connection, target: str) -> None:
    assert conn.replicate(target, ["Lists", "Channels"]).ok
    copy = Copy(target)
    lists = copy.rows("Lists")
    state = copy.state()
    # A stray row and a stray column the catalog does not know: --full drops them with the table.
    if copy.kind == "duckdb":
        import duckdb

        with duckdb.connect(target.split("duckdb:///", 1)[1]) as db:
            db.execute('ALTER TABLE "Lists" ADD COLUMN "Stray" VARCHAR')
            db.execute('INSERT INTO "Lists" ("Id", "Name") VALUES (1, \'stray\')')
    else:
        import sqlalchemy as sa

        url = target.replace("postgresql://", "postgresql+psycopg://")
        engine = sa.create_engine(url)
        with engine.begin() as db:
            db.execute(sa.text('ALTER TABLE "Lists" ADD COLUMN "Stray" TEXT'))
            db.execute(sa.text('INSERT INTO "Lists" ("Id", "Name") VALUES (1, \'stray\')'))
        engine.dispose()
    # Without --full: the stray row is swept (Iterable has no list 1), the stray column stays.
    again = conn.replicate(target, ["Lists"])
    assert again.stream("Lists").deleted == 1
    assert "Stray" in {c.name for c in copy.columns("Lists")}

    full = conn.replicate(target, ["Lists", "Channels"], full=True)
    assert full.ok
    assert "Stray" not in {c.name for c in copy.columns("Lists")}
    assert full.stream("Lists").inserted == len(lists)
    assert full.stream("Channels").inserted == len(copy.rows("Channels"))
    assert sorted(copy.rows("Lists"), key=lambda r: r["Id"]) == sorted(lists, key=lambda r: r["Id"])
    assert set(copy.state()) == set(state)
