"""What writes say they did: past tenses and plurals of every operation, the operation the
user asked for in the import summary, and the rejects file in input line order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner, Result

from helpers import cli_env
from iterbridge.cli import main
from iterbridge.sandbox import Sandbox
from iterbridge.wording import past_tense, plural

from .support import read_csv, write_csv


@pytest.mark.parametrize(
    ("verb", "done"), [("insert", "inserted"), ("update", "updated"), ("upsert", "upserted"), ("delete", "deleted")]
)
def test_every_operation_has_its_past_tense(verb: str, done: str) -> None:
    assert past_tense(verb) == done


def test_counts_agree_with_their_noun() -> None:
    assert [plural(n, "row") for n in (0, 1, 2, 1500)] == ["0 rows", "1 row", "2 rows", "1,500 rows"]


def test_query_writes_say_what_they_did(sandbox: Sandbox, tmp_path: Path) -> None:
    env = cli_env(tmp_path, sandbox)

    def query(sql: str) -> str:
        result = CliRunner().invoke(main, ["query", sql], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stderr

    values = "('products', 'label-1', '{\"a\": 1}'), ('products', 'label-2', '{\"a\": 2}')"
    assert "2 rows inserted in CatalogItems (1 API call)" in query(
        f"INSERT INTO CatalogItems (CatalogName, ItemId, Value) VALUES {values}"
    )
    assert "1 row updated in CatalogItems" in query(
        "UPDATE CatalogItems SET Value = '{\"a\": 3}' WHERE CatalogName = 'products' AND ItemId = 'label-1'"
    )
    assert "2 rows deleted in CatalogItems" in query(
        "DELETE FROM CatalogItems WHERE CatalogName = 'products' AND ItemId IN ('label-1', 'label-2')"
    )


@pytest.mark.parametrize(
    ("name", "header", "row"),
    [
        ("Users", ["Email", "firstName"], ["label@example.com", "Ada"]),
        ("Templates", ["ClientTemplateId", "MessageMedium", "Name"], ["label-template", "Email", "Label"]),
    ],
)
def test_the_summary_names_the_operation_asked(
    cli: Callable[..., Result], tmp_path: Path, name: str, header: list[str], row: list[str]
) -> None:
    path = write_csv(tmp_path / "rows.csv", header, [row])
    result = cli("import", name, str(path), "--operation", "upsert")
    assert result.exit_code == 0, result.output
    assert f"{name} upsert: 1 row read, 1 sent, 1 accepted, 0 rejected" in result.stderr


def test_the_rejects_file_follows_the_input_lines(cli: Callable[..., Result], tmp_path: Path) -> None:
    """Rows refused by Iterable (an invalid email) and rows refused before sending (a cell that is not a
    number) alternate across batches: the rejects file lists them in line order all the same."""
    rows = []
    for n in range(6):
        rows += [[f"bad-{n}", "1"], [f"ok-{n}@example.com", "x"], [f"good-{n}@example.com", "2"]]
    path = write_csv(tmp_path / "users.csv", ["Email", "loyaltyPoints"], rows)
    rejects = tmp_path / "rejects.csv"
    result = cli("import", "Users", str(path), "--batch-size", "2", "--rejects", str(rejects))
    assert result.exit_code == 1
    lines = [int(found["_line"]) for found in read_csv(rejects)]
    expected = [2 + 3 * n + k for n in range(6) for k in (0, 1)]  # the bad email and the bad number of each trio
    assert lines == expected
    reasons = [found["_reason"] for found in read_csv(rejects)]
    assert reasons[:2] == ["invalid email", "loyaltyPoints: expected a whole number, found 'x'"]


def test_an_export_of_one_row_and_column_says_so(cli: Callable[..., Result], api: httpx2.Client) -> None:
    list_id = api.get("/api/lists").json()["lists"][0]["id"]
    result = cli("export", "Lists", "--columns", "Id", "--where", f"Id = {list_id}", "-o", "-")
    assert result.exit_code == 0, result.output
    assert "1 row × 1 column → -" in result.stderr
