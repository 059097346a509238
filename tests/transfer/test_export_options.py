"""`iterbridge export` CSV options, each checked byte for byte against the sandbox's own answer: delimiter,
quote character, quoting style, line terminator, BOM, encoding, header, NULL text, date formats, --flatten."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import Result

from .support import one_line_error, parse

HEADER = ["Id", "Name", "CreatedAt", "ListType", "Description", "IsGlobalSuppressionEnabled"]
ODD_NAME = 'Say "hi", folks; a|b^c'


@pytest.fixture
def lists(api: httpx2.Client) -> list[list[Any]]:
    """The lists as the API serves them (one with delimiters and quotes in its name), as typed cells."""
    api.post("/api/lists", json={"name": ODD_NAME, "description": "Café crème"}).raise_for_status()
    rows = []
    for item in api.get("/api/lists").json()["lists"]:
        created = datetime.fromtimestamp(item["createdAt"] / 1000, UTC)
        rows.append([item["id"], item["name"], created, item["listType"], item.get("description"),
                     item.get("isGlobalSuppressionEnabled")])  # fmt: skip
    return rows


def cells(rows: list[list[Any]], null: str = "", date: Callable[[datetime], str] | None = None) -> list[list[str]]:
    """What each cell must read as."""

    def text(value: Any) -> str:
        if value is None:
            return null
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return date(value) if date else value.strftime("%Y-%m-%d %H:%M:%S")
        return str(value)

    return [[text(v) for v in row] for row in rows]


def export(cli: Callable[..., Result], *options: str) -> Result:
    result = cli("export", "Lists", "-o", "-", *options)
    assert result.exit_code == 0, result.output
    return result


def test_defaults_are_comma_crlf_minimal_quoting_utf8_without_bom(cli: Callable[..., Result],
                                                                   lists: list[list[Any]]) -> None:  # fmt: skip
    data = export(cli).stdout_bytes
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.startswith(b"Id,Name,CreatedAt,ListType,Description,IsGlobalSuppressionEnabled\r\n")
    assert data.count(b"\r\n") == len(lists) + 1
    assert b'"Say ""hi"", folks; a|b^c"' in data  # quoted only because it must be
    assert b",Global suppression," in data
    assert "Café crème".encode() in data
    assert parse(data.decode("utf-8")) == [HEADER, *cells(lists)]


@pytest.mark.parametrize(
    ("option", "character"),
    [("comma", ","), ("semicolon", ";"), ("tab", "\t"), ("\\t", "\t"), ("pipe", "|"), ("^", "^"), (";", ";")],
)
def test_delimiter_by_name_or_any_character(
    cli: Callable[..., Result], lists: list[list[Any]], option: str, character: str
) -> None:
    text = export(cli, "--delimiter", option).stdout
    assert text.splitlines()[0] == character.join(HEADER)
    assert parse(text, delimiter=character) == [HEADER, *cells(lists)]
    odd = next(line for line in text.splitlines() if "Say" in line)
    assert f'{character}"Say ""hi"", folks; a|b^c"{character}' in odd  # quoted: it holds quotes


@pytest.mark.parametrize("bad", ["ab", "", "comma2"])
def test_a_delimiter_must_be_one_character(cli: Callable[..., Result], bad: str) -> None:
    result = cli("export", "Lists", "--delimiter", bad)
    assert "--delimiter must be one character" in one_line_error(result)
    assert result.exit_code == 2


def test_quote_character(cli: Callable[..., Result], lists: list[list[Any]]) -> None:
    text = export(cli, "--quote-char", "'").stdout
    assert "'Say \"hi\", folks; a|b^c'" in text
    assert parse(text, quotechar="'") == [HEADER, *cells(lists)]


def test_quoting_all(cli: Callable[..., Result], lists: list[list[Any]]) -> None:
    text = export(cli, "--quoting", "all").stdout
    assert text.splitlines()[0] == ",".join(f'"{name}"' for name in HEADER)
    for line in text.splitlines()[1:]:
        assert line.startswith('"')
        assert line.endswith('"')
    assert parse(text) == [HEADER, *cells(lists)]


def test_quoting_nonnumeric_leaves_numbers_bare(cli: Callable[..., Result], lists: list[list[Any]]) -> None:
    lines = export(cli, "--quoting", "nonnumeric").stdout.splitlines()
    first = lines[1]
    assert first.startswith(f'{lists[0][0]},"{lists[0][1]}",')  # the id bare, the name quoted
    assert parse("\n".join(lines)) == [HEADER, *cells(lists)]


def test_quoting_none_escapes_instead(cli: Callable[..., Result], lists: list[list[Any]]) -> None:
    text = export(cli, "--quoting", "none").stdout
    assert '"' + "Say" not in text
    assert 'Say \\"hi\\"\\, folks; a|b^c' in text
    parsed = parse(text, quoting=csv.QUOTE_NONE, escapechar="\\")
    assert parsed == [HEADER, *cells(lists)]


@pytest.mark.parametrize(("name", "ending"), [("crlf", b"\r\n"), ("lf", b"\n"), ("cr", b"\r")])
def test_line_terminators(cli: Callable[..., Result], lists: list[list[Any]], name: str, ending: bytes) -> None:
    data = export(cli, "--line-terminator", name).stdout_bytes
    assert data.count(ending) == len(lists) + 1
    assert data.endswith(ending)
    if ending == b"\n":
        assert b"\r" not in data
    if ending == b"\r":
        assert b"\n" not in data
    assert parse(data.decode()) == [HEADER, *cells(lists)]


def test_utf8_with_bom(cli: Callable[..., Result], lists: list[list[Any]], tmp_path: Path) -> None:
    target = tmp_path / "lists.csv"
    result = cli("export", "Lists", "-o", str(target), "--bom")
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfId,Name,")
    assert data.count(b"\xef\xbb\xbf") == 1
    assert parse(data.decode("utf-8-sig")) == [HEADER, *cells(lists)]


def test_another_encoding(cli: Callable[..., Result], api: httpx2.Client, lists: list[list[Any]]) -> None:
    data = export(cli, "--encoding", "latin-1", "--columns", "Id,Name").stdout_bytes
    assert b"Id,Name\r\n" in data
    assert parse(data.decode("latin-1")) == [["Id", "Name"], *([str(row[0]), row[1]] for row in lists)]
    described = export(cli, "--encoding", "latin-1", "--where", f"Name = '{ODD_NAME.replace(chr(39), chr(39) * 2)}'",
                       "--columns", "Description").stdout_bytes  # fmt: skip
    assert described == b"Description\r\nCaf\xe9 cr\xe8me\r\n"  # é and è as latin-1's single bytes


def test_a_character_the_encoding_lacks_is_a_clear_error_and_no_file(
    cli: Callable[..., Result], lists: list[list[Any]], tmp_path: Path
) -> None:
    target = tmp_path / "lists.csv"
    result = cli("export", "Lists", "-o", str(target), "--encoding", "ascii")
    message = one_line_error(result)
    assert "'é'" in message or "'—'" in message
    assert "ascii" in message
    assert "Description" in message
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_unknown_encoding(cli: Callable[..., Result]) -> None:
    assert "unknown --encoding 'klingon'" in one_line_error(cli("export", "Lists", "--encoding", "klingon"))


def test_no_header(cli: Callable[..., Result], lists: list[list[Any]]) -> None:
    text = export(cli, "--no-header").stdout
    assert not text.startswith("Id,")
    assert parse(text) == cells(lists)


def test_null_text(cli: Callable[..., Result], lists: list[list[Any]]) -> None:
    text = export(cli, "--null", "NULL").stdout
    assert parse(text) == [HEADER, *cells(lists, null="NULL")]
    assert text.count("NULL") == sum(value is None for row in lists for value in row)


@pytest.mark.parametrize(
    ("option", "date"),
    [
        ("%Y-%m-%d %H:%M:%S", lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
        ("%d/%m/%Y %H.%M", lambda d: d.strftime("%d/%m/%Y %H.%M")),
        ("iso", lambda d: d.isoformat().replace("+00:00", "Z")),
        ("epoch-ms", lambda d: str(int(d.timestamp() * 1000))),
    ],
)
def test_date_formats(cli: Callable[..., Result], lists: list[list[Any]], option: str,
                      date: Callable[[datetime], str]) -> None:  # fmt: skip
    text = export(cli, "--date-format", option).stdout
    assert parse(text) == [HEADER, *cells(lists, date=date)]


def test_epoch_ms_is_the_api_value_exactly(cli: Callable[..., Result], api: httpx2.Client) -> None:
    served = {str(item["id"]): str(item["createdAt"]) for item in api.get("/api/lists").json()["lists"]}
    text = export(cli, "--date-format", "epoch-ms", "--columns", "Id,CreatedAt").stdout
    assert dict(parse(text)[1:]) == served  # type: ignore[arg-type]


def test_iso_dates_carry_milliseconds_when_the_api_has_them(cli: Callable[..., Result], api: httpx2.Client) -> None:
    served = {str(item["id"]): item["createdAt"] for item in api.get("/api/lists").json()["lists"]}
    text = export(cli, "--date-format", "iso", "--columns", "Id,CreatedAt").stdout
    for list_id, stamp in parse(text)[1:]:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert int(moment.timestamp() * 1000) == served[list_id]


# ---- nested values --------------------------------------------------------------------------------------


def test_nested_values_are_json_text_by_default(cli: Callable[..., Result], api: httpx2.Client) -> None:
    text = cli("export", "CatalogItems", "--where", "CatalogName = 'products'", "-o", "-").stdout
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    served = api.get("/api/catalogs/products/items", params={"pageSize": 1000}).json()["params"]
    values = {item["itemId"]: item["value"] for item in served["catalogItemsWithProperties"]}
    assert {row["ItemId"]: json.loads(row["Value"]) for row in rows} == values


def test_flatten_makes_dotted_columns_and_keeps_arrays_as_json(cli: Callable[..., Result],
                                                               api: httpx2.Client) -> None:  # fmt: skip
    served = api.get("/api/catalogs/products/items", params={"pageSize": 1000}).json()["params"]
    values = {item["itemId"]: item["value"] for item in served["catalogItemsWithProperties"]}
    result = cli("export", "CatalogItems", "--where", "CatalogName = 'products'", "--flatten", "-o", "-")
    assert result.exit_code == 0, result.output
    text = result.stdout
    header = text.splitlines()[0].split(",")
    # The header is the first line, and it has every key any row has — also keys only late rows have.
    keys = {f"Value.{k}" for value in values.values() for k in flat_keys(value)}
    assert set(header) == {"CatalogName", "ItemId", "LastModified", "Size"} | keys
    assert header[:4] == ["CatalogName", "ItemId", "LastModified", "Size"]
    late = [k for k in keys if not any(f"Value.{k2}" == k for k2 in flat_keys(next(iter(values.values()))))]
    assert late, "some keys appear only after the first row"
    # Nested objects become deeper dotted names, grouped under their parent.
    assert "Value.dimensions.width" in header
    nested = [i for i, name in enumerate(header) if name.startswith("Value.dimensions.")]
    assert nested == list(range(nested[0], nested[0] + len(nested)))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for row in rows:
        value = values[row["ItemId"]]
        assert json.loads(row["Value.categories"]) == value["categories"]  # arrays stay JSON
        assert row["Value.name"] == value["name"]
        assert row["Value.price"] == str(value["price"])
        assert row["Value.onSale"] == ("true" if value["onSale"] else "false")
        if "dimensions" in value:
            assert row["Value.dimensions.width"] == str(value["dimensions"]["width"])
        else:
            assert row["Value.dimensions.width"] == ""


def flat_keys(value: dict[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, inner in value.items():
        if isinstance(inner, dict) and inner:
            keys.extend(flat_keys(inner, f"{prefix}{key}."))
        else:
            keys.append(f"{prefix}{key}")
    return keys


def test_flatten_of_users_keeps_an_object_column_that_is_sometimes_null(cli: Callable[..., Result]) -> None:
    result = cli("export", "Users", "--flatten", "--columns", "Email,address,interests", "-o", "-")
    assert result.exit_code == 0, result.output
    header, *rows = parse(result.stdout)
    assert header == ["Email", "address.street", "address.city", "address.zip", "address.country", "interests"]
    assert any(row[1] == "" for row in rows)
    assert any(row[1] for row in rows)
    assert all(row[5] == "" or row[5].startswith("[") for row in rows)


@pytest.mark.parametrize("ending", ["lf", "cr"])
def test_line_breaks_inside_fields_survive_any_line_terminator(cli: Callable[..., Result], ending: str) -> None:
    """Template texts hold line breaks; whichever terminator the file uses, they are quoted and read back."""
    columns = ("--columns", "Id,PlainText,HTML")
    reference = parse(cli("export", "Templates", *columns).stdout_bytes.decode())
    assert any("\n" in row[1] for row in reference[1:])
    data = cli("export", "Templates", *columns, "--line-terminator", ending).stdout_bytes
    assert parse(data.decode()) == reference


def test_every_quoting_style_reads_back_the_same(cli: Callable[..., Result]) -> None:
    reference = parse(cli("export", "Templates", "--columns", "Id,Name,PlainText,Metadata").stdout_bytes.decode())
    for style in ("all", "nonnumeric"):
        data = cli("export", "Templates", "--columns", "Id,Name,PlainText,Metadata", "--quoting", style).stdout_bytes
        assert parse(data.decode()) == reference, style
