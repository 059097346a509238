"""Names from Iterable are data, not SQL: a user field named `we"ird` or `zz" TEXT, "zz2`
(anyone who can create a field can do this) used to break every query on Users; every name is quoted by one
function (iterbridge.sqlnames.quote_name)."""

from __future__ import annotations

import httpx2
import pytest

import iterbridge
from iterbridge.query import sqltext
from iterbridge.sandbox import Sandbox

from .source import Source

WEIRD = 'we"ird'
INJECTED = 'zz" TEXT, "zz2'
# As SQL identifiers (written out here: the test must not trust the function it checks).
WEIRD_SQL = '"we""ird"'
INJECTED_SQL = '"zz"" TEXT, ""zz2"'


@pytest.fixture
def email(api: httpx2.Client, source: Source) -> str:
    """A user given two fields whose names hold double quotes (users/update creates them)."""
    chosen = str(sorted(u["email"] for u in source.users())[0])
    answer = api.post("/api/users/update", json={"email": chosen, "dataFields": {WEIRD: 7, INJECTED: "x"}})
    answer.raise_for_status()
    assert {WEIRD, INJECTED} <= set(api.get("/api/users/getFields").json()["fields"])
    return chosen


def test_quote_name_doubles_quotes() -> None:
    from iterbridge.sqlnames import quote_name, quote_names

    assert quote_name(WEIRD) == WEIRD_SQL
    assert quote_name(INJECTED) == INJECTED_SQL
    assert quote_names(["a", 'b"']) == '"a", "b"""'


def test_users_with_quoted_field_names_can_be_queried(sandbox: Sandbox, email: str, source: Source) -> None:
    with iterbridge.connect(api_key=sandbox.api_key, base_url=sandbox.url, rate_limit_factor=None) as conn:
        names = [c.name for c in conn.columns("Users")]
        assert WEIRD in names
        assert INJECTED in names
        assert "zz2" not in names
        cursor = conn.sql(f"SELECT Email, {WEIRD_SQL}, {INJECTED_SQL} FROM Users WHERE Email = ?",
                          (email,))  # fmt: skip
        assert cursor.columns == ["Email", WEIRD, INJECTED]
        assert cursor.fetchall() == [(email, 7, "x")]
        assert conn.sql("SELECT count(*) FROM Users").fetchone() == (len(source.users()),)
        # A job's condition on such a column: the SELECT it builds quotes every name.
        sql = sqltext.select_where("Users", ["Email", WEIRD], f"{WEIRD_SQL} = 7")
        assert sql.startswith(f'SELECT "Email", {WEIRD_SQL} FROM "Users" WHERE')
        assert conn.sql(sql, read_only=True).fetchall() == [(email, 7)]
