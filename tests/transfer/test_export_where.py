"""`export --where` and `export --query` only read: a condition is one expression, and no
text given to an export can write to Iterable (`--where "1=1; DELETE FROM Users"` used to export, then delete
every user). A subquery in a condition works, even one that returns no rows (it used to fail with <NULL>)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from click.testing import Result

from helpers import Stats

from .support import one_line_error, read_csv, writes


def emails(api: httpx2.Client) -> list[str]:
    """Every user's email, read straight from the sandbox's export endpoint."""
    lines = api.get("/api/export/data.json", params={"dataTypeName": "user", "range": "All"}).text.splitlines()
    return sorted(httpx2.Response(200, content=line).json()["email"] for line in lines if line.strip())


@pytest.mark.parametrize(
    ("option", "text", "reason"),
    [
        ("--where", "1=1; DELETE FROM Users", "--where must be one expression: the ';' at column 4"),
        ("--where", "Email <> ''); DELETE FROM Users; SELECT (1", "--where has a ')' without its '('"),
        ("--query", "SELECT Email FROM Users; DELETE FROM Users", "one statement at a time"),
        ("--query", "DELETE FROM Users", "read-only"),
        ("--query", "INSERT INTO Lists (Name) SELECT Email FROM Users", "read-only"),
    ],
)
def test_an_export_cannot_write(
    cli: Callable[..., Result], api: httpx2.Client, stats: Stats, tmp_path: Path, option: str, text: str, reason: str
) -> None:
    before = emails(api)
    out = tmp_path / "users.csv"
    arguments = ["export", "Users", option, text] if option == "--where" else ["export", option, text]
    with stats.counting() as made:
        result = cli(*arguments, "-o", str(out))
    assert reason in one_line_error(result)
    assert result.exit_code == 2
    assert writes(made) == {}
    assert emails(api) == before
    assert not out.exists()


def test_a_condition_with_a_subquery(cli: Callable[..., Result], api: httpx2.Client, tmp_path: Path) -> None:
    chosen = emails(api)[:2]
    listed = ", ".join(f"'{e}'" for e in chosen)
    out = tmp_path / "some.csv"
    result = cli("export", "Users", "--where", f"Email IN (SELECT Email FROM Users WHERE Email IN ({listed}))",
                 "-o", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(row["Email"] for row in read_csv(out)) == chosen
    none = tmp_path / "none.csv"
    result = cli("export", "Users", "--where", "Email IN (SELECT Email FROM Users WHERE Email = 'nobody@x.com')",
                 "-o", str(none))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read_csv(none) == []
    assert none.read_text().startswith("Email,")
