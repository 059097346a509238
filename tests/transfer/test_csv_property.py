"""The CSV round trip as a property: whatever the text (delimiters, quotes, line breaks, non-ASCII) and whatever
the dialect, what an export writes an import reads back unchanged."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iterbridge
from iterbridge.transfer import CsvOptions, ImportOptions
from iterbridge.transfer.csvformat import MinimalWriter
from iterbridge.transfer.export import write_csv

TRICKY = st.sampled_from([",", ";", "\t", "|", '"', "'", "\r", "\n", "\r\n", " ", "é", "—", "😀", "\\", "a", "1"])
TEXT = (
    st.lists(st.one_of(TRICKY, st.text(min_size=1, max_size=5)), min_size=1, max_size=8)
    .map("".join)
    .filter(lambda t: t.strip() != "" and "\x00" not in t and not any("\ud800" <= c <= "\udfff" for c in t))
)
DIALECTS = st.fixed_dictionaries(
    {
        "delimiter": st.sampled_from([",", ";", "\t", "|", "^"]),
        "quote_char": st.sampled_from(['"', "'"]),
        "quoting": st.sampled_from(["minimal", "all", "nonnumeric"]),
        "line_terminator": st.sampled_from(["crlf", "lf", "cr"]),
        "bom": st.booleans(),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(TEXT, st.one_of(st.none(), TEXT)), min_size=1, max_size=6), dialect=DIALECTS)
def test_what_an_export_writes_an_import_reads(
    conn: iterbridge.Connection,
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[str, str | None]],
    dialect: dict[str, object],
) -> None:
    if dialect["delimiter"] == dialect["quote_char"]:
        return
    options = CsvOptions.build(**dialect)
    path = tmp_path_factory.mktemp("property") / "lists.csv"
    written = write_csv(["Name", "Description"], ({"Name": n, "Description": d} for n, d in rows), path, options)
    assert written == len(rows)
    reading = CsvOptions.build(delimiter=options.delimiter, quote_char=options.quote_char)
    summary = conn.import_csv("Lists", path, ImportOptions(dry_run=True, csv=reading))
    assert (summary.read, summary.rejected) == (len(rows), 0)
    bodies = [request["json"] for request in summary.requests]
    assert bodies == [{"name": n, **({"description": d} if d else {})} for n, d in rows]


@settings(max_examples=300, deadline=None)
@given(
    cells=st.lists(
        st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), TEXT, st.just("")), min_size=1, max_size=8
    ),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    quote=st.sampled_from(['"', "'"]),
)
def test_the_minimal_writer_writes_what_the_csv_module_writes(cells: list[object], delimiter: str, quote: str) -> None:
    """Byte for byte, with a CRLF terminator (the csv module then quotes line breaks too): texts with quotes,
    delimiters and breaks, numbers, NULL, a record of one empty field, JSON-like cells."""
    expected, got = io.StringIO(), io.StringIO()
    csv.writer(expected, delimiter=delimiter, quotechar=quote, lineterminator="\r\n").writerow(cells)
    MinimalWriter(got, delimiter, quote, "\r\n").writerow(cells)
    assert got.getvalue() == expected.getvalue()
    json_like = ['{"a":1,"b":"x"}', *(str(cell) for cell in cells if cell is not None)]
    expected, got = io.StringIO(), io.StringIO()
    csv.writer(expected, delimiter=delimiter, quotechar=quote, lineterminator="\r\n").writerow(json_like)
    MinimalWriter(got, delimiter, quote, "\r\n").writerow(json_like)
    assert got.getvalue() == expected.getvalue()
