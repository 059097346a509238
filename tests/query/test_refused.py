"""DML that Iterable does not allow is refused before any API call, and the error names what is allowed."""

from __future__ import annotations

import pytest

import iterbridge
from iterbridge.errors import QueryError, UnsupportedOperation

from .source import Source
from .support import Stats


@pytest.mark.parametrize(
    ("sql", "error", "names"),
    [
        ("UPDATE Campaigns SET Name = 'x' WHERE Id = 1", UnsupportedOperation, ["Campaigns", "UPDATE", "INSERT"]),
        ("DELETE FROM Campaigns", UnsupportedOperation, ["Campaigns", "DELETE", "INSERT"]),
        ("DELETE FROM Channels", UnsupportedOperation, ["Channels", "DELETE", "read only"]),
        ("INSERT INTO MessageTypes (Name) VALUES ('x')", UnsupportedOperation, ["MessageTypes", "read only"]),
        ("UPDATE Lists SET Name = 'x'", UnsupportedOperation, ["Lists", "UPDATE", "INSERT, DELETE"]),
        ("DELETE FROM Events WHERE Email = 'a@example.com'", UnsupportedOperation, ["Events", "DELETE", "INSERT"]),
        ("UPDATE Users SET SignupDate = '2020-01-01' WHERE Email = 'a@example.com'", QueryError,
         ["Users.SignupDate", "updatable columns", "firstName", "PhoneNumber"]),
        ("UPDATE Users SET Email = 'b@example.com' WHERE Email = 'a@example.com'", QueryError,
         ["Users.Email", "updatable columns"]),
        ("UPDATE Templates SET TemplateType = 'Blast' WHERE Id = 1", QueryError,
         ["Templates.TemplateType", "updatable columns", "Subject"]),
        ("INSERT INTO Lists (Id, Name) VALUES (5, 'x')", QueryError, ["Lists.Id", "read-only", "Name, Description"]),
        ("INSERT INTO Campaigns (Id, Name, TemplateId) VALUES (1, 'x', 2)", QueryError,
         ["Campaigns.Id", "read-only", "SendAt"]),
        ("WITH x AS (SELECT 1) UPDATE Campaigns SET Name = 'y'", UnsupportedOperation, ["Campaigns", "UPDATE"]),
    ],
)  # fmt: skip
def test_forbidden_dml_is_refused_without_an_api_call(
    conn: iterbridge.Connection, stats: Stats, sql: str, error: type[Exception], names: list[str]
) -> None:
    for name in ("Users", "Templates", "Lists", "Campaigns"):
        conn.columns(name)  # metadata (custom user fields) is not part of the statement
    with stats.counting() as made, pytest.raises(error) as raised:
        conn.sql(sql)
    assert made == {}
    message = str(raised.value)
    assert "\n" not in message
    for name in names:
        assert name in message


def test_refused_inside_a_transaction_sends_nothing(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    lists = source.lists()
    with stats.counting() as made:
        conn.sql("BEGIN")
        conn.sql("INSERT INTO Lists (Name) VALUES ('queued')")
        with pytest.raises(QueryError):
            conn.sql("INSERT INTO Lists (Id, Name) VALUES (1, 'bad')")
        conn.sql("ROLLBACK")
    assert not any(endpoint.startswith("POST") for endpoint in made)
    assert source.lists() == lists


def test_a_key_cannot_be_changed_by_an_expression(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    list_id = next(item["Id"] for item in source.lists() if item["Name"] == "Beta testers")
    email = source.members(list_id)[0]
    with stats.counting() as made, pytest.raises(UnsupportedOperation, match="ListUsers does not support UPDATE"):
        conn.sql("UPDATE ListUsers SET Email = upper(Email) WHERE ListId = ?", (list_id,))
    assert made == {}
    assert email in source.members(list_id)
