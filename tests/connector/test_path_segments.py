"""`.` and `..` as path values never reach another resource: against the sandbox, a CatalogName `.` delete
does not delete the catalog "items", SQL cannot create it, a UserId `.` deletes nobody; the row is rejected
with the reason, and a dry run shows no rewritten URL."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner

import iterbridge
from helpers import cli_env
from iterbridge.cli import main
from iterbridge.errors import IterbridgeError
from iterbridge.sandbox import Sandbox

from .support import Calls


def catalogs(api: httpx2.Client) -> set[str]:
    return {c["name"] for c in api.get("/api/catalogs").json()["params"]["catalogNames"]}


@pytest.fixture
def items_catalog(conn: iterbridge.Connection, api: httpx2.Client) -> str:
    """A catalog named "items", the one `/api/catalogs/./items` would reach."""
    assert conn.insert("Catalogs", [{"Name": "items"}]).succeeded == 1
    assert "items" in catalogs(api)
    return "items"


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_import_delete_with_catalog_name_dot_rejects_the_row_and_deletes_nothing(
    sandbox: Sandbox, api: httpx2.Client, items_catalog: str, calls: Calls, tmp_path: Path
) -> None:
    source = write(tmp_path / "items.csv", [["CatalogName", "ItemId"], [".", "a1"], ["..", "a2"], ["products", "a3"]])
    rejects = tmp_path / "rejects.csv"
    with calls.counting() as made:
        result = CliRunner().invoke(
            main,
            ["import", "CatalogItems", str(source), "--operation", "delete", "--rejects", str(rejects)],
            env=cli_env(tmp_path, sandbox),
        )
    assert result.exit_code == 1, result.output  # rows rejected
    assert "1 accepted, 2 rejected" in result.stderr, result.stderr
    assert items_catalog in catalogs(api)
    assert "DELETE /api/catalogs/{catalogName}" not in made
    assert made.get("DELETE /api/catalogs/{catalogName}/items") == 1  # the "products" row only
    with rejects.open(newline="") as handle:
        rejected = list(csv.reader(handle))[1:]
    assert [row[0] for row in rejected] == ["2", "3"]
    assert "cannot be sent in a URL path" in rejected[0][1]
    assert "'.'" in rejected[0][1]
    assert "'..'" in rejected[1][1]


def test_sql_insert_with_catalog_name_dot_fails_in_words_and_creates_nothing(
    conn: iterbridge.Connection, api: httpx2.Client, calls: Calls
) -> None:
    before = catalogs(api)
    with calls.counting() as made, pytest.raises(IterbridgeError, match=r"cannot be sent in a URL path"):
        conn.sql("INSERT INTO CatalogItems (CatalogName, ItemId, Value) VALUES ('.', 'a1', '{}')")
    assert catalogs(api) == before
    assert "items" not in before
    assert not [e for e in made if not e.startswith("GET ")]


def test_a_read_with_catalog_name_dot_fails_in_words(conn: iterbridge.Connection, items_catalog: str) -> None:
    with pytest.raises(IterbridgeError, match=r"(?i)catalogName '\.\.' cannot be sent in a URL path"):
        list(conn.read("CatalogItems", where={"CatalogName": ".."}))


def test_deleting_users_by_user_id_dot_rejects_the_row(conn: iterbridge.Connection, calls: Calls) -> None:
    with calls.counting() as made:
        report = conn.delete("Users", [{"UserId": "."}, {"UserId": ".."}, {"Email": "a/b@example.com"}])
    assert [r.ok for r in report.results] == [False, False, False]
    assert all("cannot be sent in a URL path" in (r.error or "") for r in report.results)
    assert not [e for e in made if e.startswith("DELETE ")]


def test_reading_users_by_an_unaddressable_value_asks_by_query_string(
    conn: iterbridge.Connection, calls: Calls
) -> None:
    with calls.counting() as made:
        assert list(conn.read("Users", where={"UserId": ".."})) == []
    assert made.get("GET /api/users/byUserId") == 1
    assert "GET /api/users/byUserId/{userId}" not in made


def test_dry_run_shows_the_url_that_would_be_sent(sandbox: Sandbox, tmp_path: Path) -> None:
    source = write(tmp_path / "items.csv", [["CatalogName", "ItemId"], [".", "a1"], ["my shop", "a2"]])
    result = CliRunner().invoke(
        main, ["import", "CatalogItems", str(source), "--operation", "delete", "--dry-run"],
        env=cli_env(tmp_path, sandbox),
    )  # fmt: skip
    assert f"DELETE {sandbox.url}/api/catalogs/my%20shop/items" in result.stdout, result.output
    assert "/catalogs/./items" not in result.output
    assert "/api/catalogs/items" not in result.output
    assert "cannot be sent in a URL path" in result.stderr


def test_catalogs_named_dot_are_neither_created_nor_deleted(
    conn: iterbridge.Connection, api: httpx2.Client, items_catalog: str, calls: Calls
) -> None:
    before = catalogs(api)
    with calls.counting() as made:
        created = conn.insert("Catalogs", [{"Name": "."}, {"Name": ".."}])
        deleted = conn.delete("Catalogs", [{"Name": ""}, {"Name": "."}, {"Name": "a/b"}])
    assert not [r for r in [*created.results, *deleted.results] if r.ok]
    reasons = [r.error or "" for r in [*created.results, *deleted.results]]
    assert reasons[2] == "missing Name"  # an empty name: refused before any request is made
    assert all("cannot be sent in a URL path" in reason for i, reason in enumerate(reasons) if i != 2)
    assert catalogs(api) == before
    assert not [e for e in made if not e.startswith("GET ")]
