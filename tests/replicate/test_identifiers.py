"""Long names: PostgreSQL cuts identifiers at 63 bytes, so two long user fields with a common prefix used to
become one column (DuplicateColumn) and abort the whole replication. Names that do not fit are mapped by one
function (a prefix and a hash of the whole name: stable, distinct, cut in bytes at a character boundary);
SQLite and DuckDB keep them whole. A table the target refuses fails alone: the other tables are copied."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner

import iterbridge
from helpers import cli_env
from iterbridge.cli import main
from iterbridge.objects.base import Column, SqlType
from iterbridge.replicate.targets import PG_IDENTIFIER_BYTES, TableSpec, UpsertCounts, identifier, open_target
from iterbridge.sandbox import Sandbox
from iterbridge.sqlnames import for_driver, quote_name

from .copies import Copy

PREFIX = "customerLifetimeValuePredictionScoreForTheNextTwelveMonths__"  # 60 characters
LONG = [PREFIX + "üversion01a", PREFIX + "üversion02b"]  # 71 characters (72 bytes) each, alike for 61


def test_identifier_keeps_short_names_and_maps_long_ones_by_bytes() -> None:
    assert identifier("Email", PG_IDENTIFIER_BYTES) == "Email"
    assert identifier(LONG[0]) == LONG[0]  # no limit (SQLite, DuckDB): the name itself
    mapped = [identifier(name, PG_IDENTIFIER_BYTES) for name in LONG]
    assert mapped[0] != mapped[1]
    assert all(len(name.encode()) <= 63 and name.startswith(PREFIX[:40]) for name in mapped)
    assert mapped == [identifier(name, PG_IDENTIFIER_BYTES) for name in LONG]  # the same every run
    accented = "é" * 40  # 80 bytes in 40 characters: cut in bytes, never inside a character
    assert len(accented.encode()) > 63
    cut = identifier(accented, PG_IDENTIFIER_BYTES)
    assert len(cut.encode()) <= 63
    assert cut.startswith("é" * 27)
    assert cut != identifier("é" * 41, PG_IDENTIFIER_BYTES)


def test_two_long_user_fields_with_a_common_prefix_both_replicate(
    conn: iterbridge.Connection, api: httpx2.Client, target: str
) -> None:
    fields = dict(zip(LONG, (1.5, 2.5), strict=True))
    assert all(len(name) == 71 for name in fields)
    email = "long.names@example.com"
    api.post("/api/users/update", json={"email": email, "dataFields": fields}).raise_for_status()

    report = conn.replicate(target, ["Users", "Lists"])
    assert report.ok, [(s.table, s.error) for s in report.failed]
    rows = {r["Email"]: r for r in Copy(target).rows("Users")}
    stored = [identifier(name, PG_IDENTIFIER_BYTES if target.startswith("postgresql") else None) for name in fields]
    assert len(set(stored)) == 2
    assert [rows[email][name] for name in stored] == list(fields.values())

    again = conn.replicate(target, ["Users"])  # the same names next run: nothing added, nothing changed
    assert again.ok
    assert again.stream("Users").columns_added == []
    assert again.stream("Users").updated == 0


def refuse_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Targets opened from now on refuse to create the Channels table."""
    from iterbridge.replicate import runner

    real = runner.open_target

    def refusing(url: str, *args: Any, **kwargs: Any) -> Any:
        target = real(url, *args, **kwargs)
        prepare = target.prepare

        def prepare_or_refuse(spec: Any, *, recreate: bool) -> Any:
            if spec.name == "Channels":
                raise RuntimeError("refused: a table the database will not create [bold]")
            return prepare(spec, recreate=recreate)

        target.prepare = prepare_or_refuse  # type: ignore[method-assign]
        return target

    monkeypatch.setattr(runner, "open_target", refusing)


def test_a_table_the_target_refuses_fails_alone(
    conn: iterbridge.Connection, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_channels(monkeypatch)
    report = conn.replicate(sqlite_url, ["Lists", "Channels", "MessageTypes"])
    assert [s.table for s in report.failed] == ["Channels"]
    assert "refused: a table the database will not create" in (report.stream("Channels").error or "")
    copy = Copy(sqlite_url)
    assert copy.data_tables() == ["Lists", "MessageTypes"]
    assert report.stream("Lists").inserted == len(copy.rows("Lists")) > 0


def test_open_target_gives_every_target_one_quoting_function(tmp_path: Any) -> None:
    target = open_target(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        assert target.quote('we"ird') == '"we""ird"'
        assert target.quote(LONG[0]) == f'"{LONG[0]}"'  # SQLite keeps long names whole
    finally:
        target.close()


def test_sql_text_reaches_a_format_driver_with_every_percent_doubled_and_only_placeholders_converted() -> None:
    sql = 'SELECT ?, "50% off?", "say ""hi?""", \'it\'\'s 5%?\', "$1", ":name" FROM "a\'b" WHERE x % 2 = ?'
    expected = 'SELECT %s, "50%% off?", "say ""hi?""", \'it\'\'s 5%%?\', "$1", ":name" FROM "a\'b" WHERE x %% 2 = %s'
    assert for_driver(sql, "pyformat") == expected
    assert for_driver(sql, "qmark") == sql  # sqlite3 reads `?` and names as written
    assert for_driver("SELECT `a?%`` b`, ?", "format", "``") == "SELECT `a?%%`` b`, %s"  # MySQL's marks
    assert quote_name("a`b", "``") == "`a``b`"


def test_the_cli_reports_the_table_that_failed_and_exits_1(
    sandbox: Sandbox, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_channels(monkeypatch)
    args = ["replicate", "--rate-limits", "off", "--to", sqlite_url, "--objects", "Lists,Channels,MessageTypes"]
    result = CliRunner(env=cli_env(tmp_path, sandbox)).invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "failed Channels: cannot prepare the table in sqlite:///" in result.stderr
    assert "refused: a table the database will not create [bold]" in " ".join(result.stderr.split())
    assert Copy(sqlite_url).data_tables() == ["Lists", "MessageTypes"]


ODD = ["50% off", "what?", 'say "hi"', "it's", "a%%b", "$1"]  # names Iterable lets anyone create


def test_user_fields_with_percent_question_mark_and_quotes_replicate(
    conn: iterbridge.Connection, api: httpx2.Client, target: str
) -> None:
    # A driver that reads `%` and `?` as placeholders must never see a name as one.
    fields = {name: index for index, name in enumerate(ODD)}
    email = "odd.names@example.com"
    api.post("/api/users/update", json={"email": email, "dataFields": fields}).raise_for_status()

    first = conn.replicate(target, ["Users"])
    assert first.ok, [(s.table, s.error) for s in first.failed]
    rows = {r["Email"]: r for r in Copy(target).rows("Users")}
    assert {name: rows[email][name] for name in ODD} == fields
    api.post("/api/users/update", json={"email": email, "dataFields": {ODD[0]: 99}}).raise_for_status()
    again = conn.replicate(target, ["Users"])
    assert again.ok, [(s.table, s.error) for s in again.failed]
    assert {r["Email"]: r for r in Copy(target).rows("Users")}[email][ODD[0]] == 99


def test_every_target_path_takes_names_a_driver_could_read_as_placeholders(target: str) -> None:
    # Through the Target interface: the create (SQLAlchemy's own schema objects on SQLite and PostgreSQL), the
    # upsert (PostgreSQL: COPY into a staging table), the sweep with rows kept, and the cursors all agree.
    key, cursor, kept, value = "id?%s", "up:dated $1", "50% off", 'say "hi" :x'
    columns = (Column(key, SqlType.TEXT), Column(cursor, SqlType.TIMESTAMP), Column(kept, SqlType.TEXT),
               Column(value, SqlType.INTEGER))  # fmt: skip
    spec = TableSpec('odd %s? :t $1 "q"', columns, (key,), cursor)
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = [{key: f"k{i}", cursor: moment, kept: "keep" if i == 1 else "no", value: i} for i in range(4)]
    opened = open_target(target)
    try:
        opened.prepare(spec, recreate=False)  # as the runner does: in transactions of their own
        opened.start_sweep(spec)
        with opened.transaction():
            assert opened.upsert(spec, rows) == UpsertCounts(4, 0, 0)
        with opened.transaction():
            assert opened.upsert(spec, [{**rows[0], value: 10}, rows[2]]) == UpsertCounts(0, 1, 1)
            opened.mark_seen(spec, [("k0",)])
            assert opened.sweep(spec, {kept: ["keep"]}) == 2  # k2 and k3: not seen, not kept
        assert sorted(opened.cursors(spec)) == [("k0",), ("k1",)]
        assert opened.count(spec) == 2
    finally:
        opened.close()
    stored = {r[identifier(key, 63)]: r for r in Copy(target).rows(identifier(spec.name, 63))}
    assert {k: r[identifier(value, 63)] for k, r in stored.items()} == {"k0": 10, "k1": 1}
