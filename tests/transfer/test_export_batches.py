"""`export` from Arrow batches writes the row path's bytes: every option combination the export tests use, for
Events of several types (odd names, quotes, line breaks, formulas, NULLs, big ids), Users with custom fields,
Campaigns, Templates, Lists and CatalogItems, each exported through both paths and compared byte for byte; and
the column formatters against the row formatter over generated values (hypothesis)."""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iterbridge
from iterbridge.errors import TransferError
from iterbridge.objects.arrow import ARROW_TYPES
from iterbridge.objects.base import SqlType
from iterbridge.transfer.csvformat import CsvOptions
from iterbridge.transfer.export import export, write_batches, write_csv

from .support import parse

export_module = sys.modules["iterbridge.transfer.export"]  # the package's `export` is the function

ODD_TEXTS = [
    "Zoë ☃ naïve",
    'say "hi", folks; a|b^c',
    "two\nlines\r\nand a\rcarriage",
    "a lone\rcarriage return",
    '=HYPERLINK("http://x")',
    "+SUM(1,2)",
    "-2+3",
    "@cmd",
    "\t=1",
    "'=already",
    "-5",
    "NULL",
    "",
    "back\\slash 'single'",
]

# Every option the export tests set, alone and in the combinations they use.
OPTIONS: list[dict[str, Any]] = [
    {},
    {"delimiter": "semicolon"},
    {"delimiter": "tab"},
    {"delimiter": "pipe"},
    {"delimiter": "^"},
    {"quote_char": "'"},
    {"quoting": "all"},
    {"quoting": "nonnumeric"},
    {"quoting": "nonnumeric", "null": "NULL", "date_format": "epoch-ms"},
    {"quoting": "none"},
    {"quoting": "all", "quote_char": "'", "delimiter": "semicolon"},
    {"line_terminator": "lf"},
    {"line_terminator": "cr"},
    {"bom": True},
    {"encoding": "latin-1"},
    {"encoding": "cp1252", "line_terminator": "lf"},
    {"header": False},
    {"null": "NULL"},
    {"null": "-"},
    {"date_format": "%Y-%m-%d %H:%M:%S"},
    {"date_format": "%d/%m/%Y %H.%M"},
    {"date_format": "%A %d %B %Y, %I:%M %p (%j)"},
    {"date_format": "iso"},
    {"date_format": "epoch-ms"},
    {"formula_guard": False},
    {"formula_guard": False, "quoting": "all"},
]

# (object, columns, --where); every column (JSON ones included: Iterable's key order) where columns is None.
EVENT_COLUMNS = "Id,EventType,EventName,Email,UserId,CreatedAt,CampaignId,TemplateId,MessageId"
SOURCES: list[tuple[str, str | None, str | None]] = [
    ("Events", EVENT_COLUMNS, "EventType IN ('customEvent', 'emailSend', 'purchase', 'emailClick')"),
    ("Events", "EventName,CreatedAt", "EventType = 'customEvent'"),
    ("Users", "Email,UserId,SignupDate,firstName,loyaltyPoints,ratio,vip,note,birthday,ProfileUpdatedAt", None),
    ("Campaigns", "Id,Name,TemplateId,MessageMedium,CampaignState,Type,CreatedAt,StartAt,EndedAt,SendSize", None),
    ("Campaigns", "Id,Name,CreatedAt", "Type = 'Blast'"),
    ("Templates", "Id,Name,TemplateType,CreatedAt,UpdatedAt,Subject,HTML,PlainText,CacheDataFeed", None),
    ("Lists", None, None),
    ("CatalogItems", "CatalogName,ItemId,LastModified,Size", "CatalogName = 'products'"),
    ("Channels", "Name", None),  # one column: an empty cell is written "" (not a blank line)
    ("Events", None, "EventType IN ('customEvent', 'emailSend')"),  # DataFields: nested objects, a 2**70
    ("Users", None, None),  # custom object fields (address) and ExtraFields
    ("Campaigns", None, None),
    ("Templates", None, None),
    ("CatalogItems", None, "CatalogName = 'products'"),
]


@pytest.fixture
def odd(api: httpx2.Client) -> None:
    """Records with every kind of awkward value, beside the generated ones."""
    for i, text in enumerate(ODD_TEXTS):
        email = f"odd{i}@example.com"
        fields = {"firstName": text, "note": text, "loyaltyPoints": -(2**62) + i, "ratio": [-0.25, 1e20, 1e-7][i % 3],
                  "vip": i % 2 == 0, "birthday": "0999-01-01" if i == 1 else "2001-02-03"}  # fmt: skip
        if i % 4 == 3:
            fields = {"firstName": None, "note": None}  # NULLs (the other columns missing: NULL too)
        api.post("/api/users/update", json={"email": email, "dataFields": fields}).raise_for_status()
        event = {"email": email, "eventName": text or "blank", "createdAt": 1_700_000_000 + i * 3_601,
                 "campaignId": 2**63 - 1 - i, "dataFields": {"z": text, "a": {"y": 1, "b": 2**70}}}  # fmt: skip
        if i % 3 == 0:
            del event["campaignId"]
        api.post("/api/events/track", json=event).raise_for_status()
    api.post("/api/lists", json={"name": 'Say "hi", folks; a|b^c', "description": "=1+2\nCafé"}).raise_for_status()


def both(conn: iterbridge.Connection, folder: Path, source: tuple[str, str | None, str | None],
         options: CsvOptions) -> tuple[bytes | str, bytes | str]:  # fmt: skip
    """The file of each path (or the error it raised)."""
    obj, columns, where = source
    found: list[bytes | str] = []
    for batches in (True, False):
        target = folder / f"{obj}-{batches}.csv"
        try:
            export(conn, obj, target, options, columns=columns.split(",") if columns else None, where=where,
                   batches=batches)  # fmt: skip
        except TransferError as error:
            found.append(str(error))
        else:
            found.append(target.read_bytes())
    return found[0], found[1]


@pytest.mark.parametrize("chosen", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "defaults")
def test_batches_write_the_row_paths_bytes(conn: iterbridge.Connection, odd: None, tmp_path: Path,
                                           chosen: dict[str, Any]) -> None:  # fmt: skip
    options = CsvOptions.build(**chosen)
    for source in SOURCES:
        from_batches, from_rows = both(conn, tmp_path, source, options)
        assert from_batches == from_rows, source
        if isinstance(from_rows, bytes):
            assert from_rows.count(b"\n") + from_rows.count(b"\r") > 2, source  # rows were compared, not nothing
    if options.encoding == "utf-8":  # the odd values were among them
        text = both(conn, tmp_path, SOURCES[0], options)[0]
        assert isinstance(text, bytes)
        assert "Zoë ☃".encode() in text


@pytest.mark.parametrize("quoting", ["minimal", "all"])
def test_an_unwritable_character_is_named_alike(conn: iterbridge.Connection, odd: None, tmp_path: Path,
                                                quoting: str) -> None:  # fmt: skip
    from_batches, from_rows = both(conn, tmp_path, SOURCES[0], CsvOptions.build(encoding="ascii", quoting=quoting))
    assert from_batches == from_rows
    assert isinstance(from_rows, str)
    assert "cannot be written in ascii" in from_rows
    assert not list(tmp_path.iterdir())  # nothing left behind by either path


def test_the_default_path_is_batches_unless_an_option_needs_rows(
    conn: iterbridge.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []
    monkeypatch.setattr(export_module, "write_batches", lambda *a, **k: taken.append("batches") or 0)
    monkeypatch.setattr(export_module, "write_csv", lambda *a, **k: taken.append("rows") or 0)
    target = tmp_path / "out.csv"
    plain, flat = CsvOptions(), CsvOptions(flatten=True)
    export(conn, "Lists", target, plain)
    export(conn, "Events", target, plain, columns=["Id", "CreatedAt"], where="EventType = 'emailSend'")
    export(conn, "Events", target, plain)  # DataFields (JSON) too: in Iterable's key order
    export(conn, "Lists", target, plain, where="Name LIKE 'a%'")  # only SQL answers LIKE
    export(conn, "Lists", target, flat)
    export(conn, None, target, plain, query="SELECT Id FROM Lists")
    export(conn, "Events", target, plain, batches=True)
    export(conn, "Lists", target, plain, batches=False)
    assert taken == ["batches", "batches", "batches", "rows", "rows", "rows", "batches", "rows"]


def test_json_columns_keep_iterables_key_order(conn: iterbridge.Connection, odd: None, tmp_path: Path) -> None:
    """JSON cells are written with the keys in the order Iterable sent them (as the row path writes them), not
    the stored copy's sorted order: read_batches(sort_json_keys=False) is what export reads."""
    from_batches, from_rows = both(conn, tmp_path, ("Users", "Email,address", None), CsvOptions())
    assert from_batches == from_rows
    assert isinstance(from_batches, bytes)
    cells = [row[1] for row in parse(from_batches.decode())[1:] if row[1]]
    assert cells
    assert all(list(json.loads(cell)) != sorted(json.loads(cell)) for cell in cells)  # street, city, zip, country
    stored = conn.read_arrow("Users", columns=["address"]).column(0).to_pylist()
    assert all(list(json.loads(text)) == sorted(json.loads(text)) for text in stored if text)


# ---- the column formatters over generated values ---------------------------------------------------------------

AWKWARD = st.sampled_from(list(",;\"'\r\n\t=+-@|^ ~a1.eé\\"))  # the characters dialects and the guard look at
TEXTS = st.text(AWKWARD | st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(ODD_TEXTS)
VALUES: dict[SqlType, Any] = {
    SqlType.TEXT: TEXTS,
    SqlType.INTEGER: st.integers(-(2**63), 2**63 - 1),
    SqlType.REAL: st.floats(allow_nan=True, allow_infinity=True),
    SqlType.BOOLEAN: st.booleans(),
    SqlType.TIMESTAMP: st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
}
KINDS = list(VALUES)
DIALECTS = st.fixed_dictionaries(
    {},
    optional={
        "delimiter": st.sampled_from([",", ";", "\t", "|", "^", " ", "a"]),
        "quote_char": st.sampled_from(['"', "'", "~"]),
        "quoting": st.sampled_from(["minimal", "all", "nonnumeric", "none"]),
        "line_terminator": st.sampled_from(["crlf", "lf", "cr"]),
        "null": st.sampled_from(["", "NULL", "-", "=x", "x,y", 'q"', "a"]),
        "date_format": st.sampled_from(
            ["%Y-%m-%d %H:%M:%S", "iso", "epoch-ms", "%d/%m/%Y %H.%M", "%Y%%%m é %S", "%y %b %a %c", "+%Y", "-%d"]
        ),
        "formula_guard": st.booleans(),
    },
)


@st.composite
def tables(draw: Any) -> tuple[list[SqlType], list[list[Any]]]:
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4))
    rows = draw(st.lists(st.tuples(*[st.none() | VALUES[k] for k in kinds]), min_size=0, max_size=8))
    return kinds, [list(row) for row in rows]


@settings(max_examples=300, deadline=None)
@given(table=tables(), dialect=DIALECTS)
def test_column_formatters_write_what_the_row_formatter_writes(
    table: tuple[list[SqlType], list[list[Any]]], dialect: dict[str, Any]
) -> None:
    kinds, rows = table
    try:
        options = CsvOptions.build(**dialect)
    except iterbridge.errors.ConfigurationError:
        return  # a dialect no reader could take apart: refused before any export
    found = written_both_ways(kinds, rows, options)
    assert found[0] == found[1]


def written_both_ways(
    kinds: list[SqlType], rows: list[list[Any]], options: CsvOptions, start: int = 0
) -> tuple[bytes | str, bytes | str]:
    """The file (or the error) of write_batches given the batch of the rows from `start` (a slice of the batch of
    them all), then of write_csv given those rows."""
    header = [f"c{i}" for i in range(len(kinds))]
    batch = pa.RecordBatch.from_arrays(
        [pa.array([row[i] for row in rows], type=ARROW_TYPES[k]) for i, k in enumerate(kinds)], names=header
    )
    with tempfile.TemporaryDirectory() as folder:
        found: list[bytes | str] = []
        for path, write in ((Path(folder) / "b.csv", "batches"), (Path(folder) / "r.csv", "rows")):
            try:
                if write == "batches":
                    write_batches(header, kinds, [batch.slice(start) if start else batch], path, options)
                else:
                    chosen = (dict(zip(header, row, strict=True)) for row in rows[start:])
                    write_csv(header, chosen, path, options)
            except TransferError as error:
                found.append(str(error))
            else:
                found.append(path.read_bytes())
    return found[0], found[1]


def test_one_batch_then_another_continue_the_file(tmp_path: Path) -> None:
    header, kinds = ["Name", "N"], [SqlType.TEXT, SqlType.INTEGER]
    first = pa.RecordBatch.from_arrays([pa.array(["a", None]), pa.array([1, None])], names=header)
    second = pa.RecordBatch.from_arrays([pa.array(["=b"]), pa.array([-3])], names=header)
    counts: list[int] = []
    options = replace(CsvOptions(), null="NULL")
    written = write_batches(header, kinds, [first, second], tmp_path / "b.csv", options, counts.append)
    assert written == 3
    assert counts == [2, 3, 3]
    assert (tmp_path / "b.csv").read_bytes() == b"Name,N\r\na,1\r\nNULL,NULL\r\n'=b,-3\r\n"


@settings(max_examples=200, deadline=None)
@given(
    table=tables(),
    dialect=DIALECTS,
    characters=st.fixed_dictionaries({}, optional={"quote_char": st.just("«"), "delimiter": st.just("é")}),
    start=st.integers(0, 8),
)
def test_a_slice_of_a_batch_writes_the_rows_of_the_slice(
    table: tuple[list[SqlType], list[list[Any]]], dialect: dict[str, Any], characters: dict[str, str], start: int
) -> None:
    """Cells read from the columns' buffers (cells._data) where the batch is a slice of a larger one (its columns
    start past their buffers' beginning), and with a quote or delimiter of two bytes."""
    kinds, rows = table
    try:
        options = CsvOptions.build(**{**dialect, **characters})
    except iterbridge.errors.ConfigurationError:
        return
    found = written_both_ways(kinds, rows, options, start)
    assert found[0] == found[1]
