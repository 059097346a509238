"""Statements smuggled through text: one call runs exactly one statement (a tail is refused
before anything runs), a read-only statement cannot write to Iterable whatever its text, a condition is one
expression, and an IN over a subquery that returns no rows is answered (it used to fail with "<NULL>")."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

import iterbridge
from iterbridge.errors import QueryError, QuerySyntaxError
from iterbridge.query import sqltext
from iterbridge.query.engine import Engine

from .source import Source
from .support import Stats


def writes(made: dict[str, int]) -> dict[str, int]:
    return {endpoint: n for endpoint, n in made.items() if not endpoint.startswith("GET ")}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; INSERT INTO Lists (Name) VALUES ('smuggled')",
        "SELECT Id FROM Lists WHERE 1=1; DELETE FROM Lists",
        "EXPLAIN SELECT 1; INSERT INTO Lists (Name) VALUES ('smuggled')",
        "CALL AbortCampaign(1 FROM (SELECT 1); INSERT INTO Lists (Name) VALUES ('smuggled'); SELECT (1)",
        "INSERT INTO Lists (Name) VALUES ('smuggled') RETURNING Id; DELETE FROM Lists",
    ],
)
def test_a_second_statement_is_refused_before_anything_runs(
    conn: iterbridge.Connection, stats: Stats, source: Source, sql: str
) -> None:
    before = len(source.lists())
    with stats.counting() as made, pytest.raises(QuerySyntaxError) as refused:
        conn.sql(sql).fetchall()
    assert "one statement at a time" in str(refused.value) or "must be one expression" in str(refused.value)
    assert writes(made) == {}
    assert len(source.lists()) == before


def test_empty_statements_after_the_one_are_not_a_tail(conn: iterbridge.Connection) -> None:
    assert conn.sql("SELECT 1 AS one ; -- done\n ;  ").fetchall() == [(1,)]


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("INSERT INTO Lists (Name) VALUES ('smuggled')", "INSERT on Lists"),
        ("UPDATE Users SET firstName = 'x'", "UPDATE on Users"),
        ("DELETE FROM Lists", "DELETE on Lists"),
        ("CALL AbortCampaign(1)", "CALL AbortCampaign"),
        ("BEGIN", "TRANSACTION"),
        ("CREATE TEMP TABLE kept AS SELECT 1", "refused"),
        ("PRAGMA user_version = 3", "PRAGMA"),
    ],
)
def test_a_read_only_statement_cannot_write(
    conn: iterbridge.Connection, stats: Stats, source: Source, sql: str, refused: str
) -> None:
    before = len(source.lists())
    with stats.counting() as made, pytest.raises(QueryError, match="read-only") as error:
        conn.sql(sql, read_only=True).fetchall()
    assert refused in str(error.value)
    assert writes(made) == {}
    assert len(source.lists()) == before
    # The same connection still writes when told nothing.
    assert conn.sql("SELECT count(*) FROM Lists").fetchone() == (before,)


def test_a_read_only_engine_refuses_whatever_execute_is_told(conn: iterbridge.Connection, source: Source) -> None:
    """Jobs that only read (replicate's filters) run on a read-only engine: no statement and no writer of it
    can write, even if asked without read_only."""
    engine = Engine(conn.session, read_only=True)
    try:
        with pytest.raises(QueryError, match=r"read-only.*DELETE on Lists"):
            engine.execute("DELETE FROM Lists")
        with pytest.raises(QueryError, match=r"read-only.*INSERT on Lists"):
            engine.write("insert", "Lists", [{"Name": "smuggled"}])
        assert engine.execute("SELECT count(*) FROM Lists").fetchone() == (len(source.lists()),)
    finally:
        engine.close()
    assert "smuggled" not in {item["Name"] for item in source.lists()}


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ("1=1; DELETE FROM Users", "the ';' at column 4 would end the statement"),
        ("Email = 'x'; INSERT INTO Lists (Name) VALUES ('smuggled')", "would end the statement"),
        ("1) UNION SELECT Email FROM Users WHERE (1", "a ')' without its '('"),
        ("(1 = 1", "a '(' without its ')'"),
        ("Email = 'unterminated", "unterminated '…'"),
        ("Email = 'x' /* open", "unterminated /* comment"),
        ("  -- nothing\n", "the condition is empty"),
    ],
)
def test_a_condition_is_one_expression(condition: str, reason: str) -> None:
    with pytest.raises(QuerySyntaxError, match=r"^the condition") as error:
        sqltext.check_expression(condition)
    assert reason in str(error.value)


def test_a_condition_keeps_its_literals_comments_and_subqueries() -> None:
    condition = "Email IN (SELECT Email FROM Users WHERE \"firstName\" = 'a;b)') -- a note; with (\n AND 1"
    sql = sqltext.select_where("Users", ["Email", 'we"ird'], condition)
    assert sql == f'SELECT "Email", "we""ird" FROM "Users" WHERE (\n{condition}\n)'


def test_replicate_filter_cannot_smuggle_a_statement(
    conn: iterbridge.Connection, stats: Stats, source: Source, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    smuggled = "Email = 'x'; INSERT INTO Lists (Name) VALUES ('smuggled')"
    with stats.counting() as made, pytest.raises(QuerySyntaxError, match=r"^--filter InAppMessages must be one expr"):
        conn.replicate(url, ["InAppMessages"], filters={"InAppMessages": smuggled})
    assert made == {}
    assert not (tmp_path / "copy.db").exists()
    assert "smuggled" not in {item["Name"] for item in source.lists()}


def test_in_over_a_subquery_with_no_rows(conn: iterbridge.Connection, source: Source) -> None:
    """An IN whose subquery returns nothing used to fail with "error: <NULL>" (apsw cannot hand an empty set
    to the table); now it is what SQL says: no rows. A subquery with rows gives its rows."""
    nobody = "SELECT Email FROM Users WHERE Email IN (SELECT Email FROM Users WHERE Email = 'nobody@example.com')"
    assert conn.sql(nobody).fetchall() == []
    assert conn.sql("SELECT Id FROM Lists WHERE Id IN (SELECT 1 WHERE 0)").fetchall() == []
    emails = sorted(u["email"] for u in source.users())[:3]
    chosen = ", ".join(f"'{e}'" for e in emails)
    got = conn.sql(f"SELECT Email FROM Users WHERE Email IN (SELECT Email FROM Users WHERE Email IN ({chosen}))")
    assert sorted(row[0] for row in got) == emails


def test_a_message_less_sqlite_error_is_said_in_words(conn: iterbridge.Connection) -> None:
    """Should apsw's message-less error reach the engine some other way, it is not shown as "<NULL>"."""
    engine = Engine(conn.session)
    try:
        error = engine.translate(apsw.SQLError("<NULL>"), "SELECT 1")
    finally:
        engine.close()
    assert "<NULL>" not in str(error)
    assert "IN over a subquery" in str(error)
