"""The formula guard (OWASP "CSV injection"): text cells a spreadsheet would run as a formula are written with a
leading apostrophe by `export` and `query --format csv` (on by default, `--no-formula-guard` to turn it off);
plain numbers are left alone; import removes the apostrophe, so an exported file imports back exactly."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from click.testing import Result
from hypothesis import given
from hypothesis import strategies as st

from iterbridge.transfer.csvformat import CsvOptions, guard_formula, unguard_formula

from .support import parse, write_csv

DANGEROUS = {
    "dde": "=cmd|' /C calc'!A0",
    "plus": "+SUM(1,2)",
    "minus": "-2+3",
    "at": "@SUM(1)",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
    "quoted": "'=already quoted",  # an apostrophe before: one more, so import gives back exactly this
}
HARMLESS = {"negative": "-5", "phone": "+14155550100", "decimal": "-1.5e-3", "plain": "Ada", "empty": ""}
EMAIL = "guard@example.com"


@pytest.fixture
def user(api: httpx2.Client) -> None:
    fields = {**DANGEROUS, **HARMLESS, "score": -7, "ratio": -0.25}
    api.post("/api/users/update", json={"email": EMAIL, "dataFields": fields}).raise_for_status()


def exported(cli: Callable[..., Result], *options: str) -> dict[str, str]:
    columns = ",".join(["Email", *DANGEROUS, *HARMLESS, "score", "ratio"])
    result = cli("export", "Users", "--columns", columns, "--where", f"Email = '{EMAIL}'", *options)
    assert result.exit_code == 0, result.output
    header, *rows = parse(result.stdout)
    assert len(rows) == 1
    return dict(zip(header, rows[0], strict=True))


def test_export_guards_text_that_a_spreadsheet_would_run(cli: Callable[..., Result], user: None) -> None:
    cells = exported(cli)
    for name, value in DANGEROUS.items():
        assert cells[name] == "'" + value, name
    for name, value in HARMLESS.items():
        assert cells[name] == value, name
    assert cells["score"] == "-7"  # numbers are numbers, in numeric columns as in text ones
    assert cells["ratio"] == "-0.25"


@pytest.mark.parametrize("quoting", ["all", "nonnumeric"])
def test_every_quoting_style_guards(cli: Callable[..., Result], user: None, quoting: str) -> None:
    cells = exported(cli, "--quoting", quoting, "--quote-char", '"')
    assert cells["dde"] == "'" + DANGEROUS["dde"]
    assert cells["score"] == "-7"


def test_no_formula_guard_writes_the_values_as_they_are(cli: Callable[..., Result], user: None) -> None:
    cells = exported(cli, "--no-formula-guard")
    for name, value in {**DANGEROUS, **HARMLESS}.items():
        assert cells[name] == value, name


def test_an_exported_file_imports_back_exactly(
    cli: Callable[..., Result], user: None, api: httpx2.Client, tmp_path: Path
) -> None:
    target = tmp_path / "users.csv"
    columns = ",".join(["Email", *DANGEROUS, *HARMLESS])
    result = cli("export", "Users", "--columns", columns, "--where", f"Email = '{EMAIL}'", "-o", str(target))
    assert result.exit_code == 0, result.output
    api.post("/api/users/update", json={"email": EMAIL, "dataFields": dict.fromkeys(DANGEROUS, "changed")})
    result = cli("import", "Users", str(target), "--operation", "update")
    assert result.exit_code == 0, result.output
    fields = api.get(f"/api/users/{EMAIL}").json()["user"]["dataFields"]
    for name, value in DANGEROUS.items():
        assert fields[name] == value, name


def test_query_csv_guards_too(cli: Callable[..., Result], user: None) -> None:
    sql = f"SELECT dde, negative, score, at FROM Users WHERE Email = '{EMAIL}'"
    result = cli("query", "--format", "csv", sql)
    assert result.exit_code == 0, result.output
    assert parse(result.stdout) == [["dde", "negative", "score", "at"],
                                    ["'" + DANGEROUS["dde"], "-5", "-7", "'@SUM(1)"]]  # fmt: skip
    result = cli("query", "--format", "csv", "--no-formula-guard", sql)
    assert parse(result.stdout)[1] == [DANGEROUS["dde"], "-5", "-7", "@SUM(1)"]


def test_the_rejects_file_keeps_the_fields_as_they_were_read(cli: Callable[..., Result], tmp_path: Path) -> None:
    """Rejected rows are written back as read, so the rejects file imports like the original once fixed."""
    source = write_csv(tmp_path / "in.csv", ["Email", "firstName"], [["not-an-email", "'=guarded"]])
    rejects = tmp_path / "rejects.csv"
    result = cli("import", "Users", str(source), "--rejects", str(rejects))
    assert result.exit_code == 1, result.output
    assert parse(rejects.read_text())[1][2:] == ["not-an-email", "'=guarded"]


def test_the_null_text_is_never_guarded() -> None:
    """`--null -` is the user's own marker: it must stay `-` (and read back as NULL)."""
    out = io.StringIO()
    CsvOptions(null="-").writer(out).writerow(["-", "-x"])
    assert out.getvalue() == "-,'-x\r\n"


@given(st.text())
def test_unguard_inverts_guard_and_guarded_text_never_starts_a_formula(text: str) -> None:
    guarded = guard_formula(text)
    assert unguard_formula(guarded) == text
    if guarded[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert guarded == text  # only a plain number
        float(text)
