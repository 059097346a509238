"""Long names: PostgreSQL cuts identifiers at 63 bytes, so two long user fields with a common prefix used to
become one column (DuplicateColumn) and abort the whole replication. Names that do not fit are mapped by one
function (a prefix and a hash of the whole name: stable, distinct, cut in bytes at a character boundary);
SQLite and DuckDB keep them whole. A table the target refuses fails alone: the other tables are copied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner

import iterbridge
from helpers import cli_env
from iterbridge.cli import main
from iterbridge.replicate.targets import PG_IDENTIFIER_BYTES, identifier, open_target
from iterbridge.sandbox import Sandbox

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
