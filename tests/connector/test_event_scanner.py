"""The C scanner of events' export lines (iterbridge._eventscan): every line it takes gives exactly the Python
path's row (Id, DataFields' bytes, every column), every line it cannot be sure of is handed back and read by the
Python path in its place, and the rows, counts and quarantine of a read are the same either way."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iterbridge
from helpers import RecordCounter, Stats, connect_to, python_path
from iterbridge.api import parsed_window
from iterbridge.api.jsonlines import QUARANTINE_DIR_ENV, JsonLines, LineBlock, Quarantine
from iterbridge.objects import events_arrow, scanner
from iterbridge.objects.base import Condition
from iterbridge.objects.events import EVENTS
from iterbridge.sandbox import Sandbox

pytestmark = pytest.mark.skipif(
    scanner.scanner is None and not os.environ.get("ITERBRIDGE_TEST_REQUIRE_SCANNER"),
    reason="iterbridge._eventscan was not built (no C compiler at install)",
)
CREATED = "2026-05-05 04:22:12 +00:00"


def strictly(rows: list[dict[str, Any]]) -> list[Any]:
    """Rows compared with their types (1, 1.0 and True are equal in Python, not here) and keys in order."""
    return [[(name, type(value).__name__, repr(value)) for name, value in row.items()] for row in rows]


def test_the_scanner_is_built_where_ci_requires_it() -> None:
    """.ci/run sets ITERBRIDGE_TEST_REQUIRE_SCANNER: there a missing build is a failure, not a skip."""
    assert scanner.scanning()


def both_paths(lines: list[bytes], tmp_path: Path, sort_keys: bool = True, batch_rows: int = 3) -> tuple[Any, ...]:
    """The table, record count and quarantine of the same lines read by the Python path and by the scanner."""
    python_lines = JsonLines(Quarantine(tmp_path / "python"))
    records = python_lines.records(lines)
    with python_path():
        python = list(
            events_arrow.event_batches(records, "customEvent", EVENTS.columns, batch_rows, sort_keys=sort_keys)
        )
    scanned_lines, counter = JsonLines(Quarantine(tmp_path / "scanned")), RecordCounter()
    text = b"\n".join(lines)
    middle = text.find(b"\n", len(text) // 2) + 1  # two blocks, each of whole lines
    blocks = [LineBlock(part, scanned_lines, (counter,)) for part in (text[:middle], text[middle:]) if part]
    scanned = list(
        events_arrow.event_batches(iter(blocks), "customEvent", EVENTS.columns, batch_rows, sort_keys=sort_keys)
    )
    assert all(batch.num_rows <= batch_rows for batch in scanned)
    return python, scanned, counter.records, python_lines, scanned_lines


def python_row_batches(lines: list[bytes], sort_keys: bool) -> list[Any]:
    with python_path():
        records = JsonLines(Quarantine(None)).records(lines)
        return list(events_arrow.event_batches(records, "customEvent", EVENTS.columns, 3, sort_keys=sort_keys))


def table(batches: list[Any]) -> Any:
    return pa.Table.from_batches(batches, schema=events_arrow.schema(EVENTS.columns))


def assert_same(lines: list[bytes], tmp_path: Path, sort_keys: bool = True) -> None:
    """The same table, counts and quarantine; or, where the Python path fails (a createdAt that is no date), the
    same error."""
    try:
        python_error = None
        python_table = table(python_row_batches(lines, sort_keys))
    except ValueError as error:
        python_error = str(error)
    if python_error is not None:
        with pytest.raises(ValueError, match=re.escape(python_error)):
            both_paths(lines, tmp_path, sort_keys)
        return
    python, scanned, counted, python_lines, scanned_lines = both_paths(lines, tmp_path, sort_keys)
    assert table(python).equals(python_table)
    assert table(scanned).equals(table(python))
    assert counted == table(python).num_rows
    assert (scanned_lines.skipped, scanned_lines.repaired) == (python_lines.skipped, python_lines.repaired)


def scanned_alone(line: bytes, sort_keys: bool = True) -> Any:
    """The row the scanner makes of one line itself, or None when it hands the line back."""
    builder = scanner.scanner.Builder("customEvent", sort_keys)
    position, status, rows = builder.scan(line, 0, 10)
    if status == 2:
        assert (position, rows) == (0, 0)
        return None
    assert (status, rows) == (0, 1)
    return events_arrow.builder_batch(builder, "customEvent", EVENTS.columns).to_pylist()[0]


def python_row(line: bytes, sort_keys: bool = True) -> Any:
    with python_path():
        (batch,) = events_arrow.event_batches(
            iter([orjson.loads(line)]), "customEvent", EVENTS.columns, 10, sort_keys=sort_keys
        )
    return batch.to_pylist()[0]


# --- values: what Iterable's exports hold, and what orjson would write differently ------------------------------

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
keys = st.one_of(st.sampled_from(["a", "b", "é", "A", "ab", "email", "id", "k\n", 'q"', "𝄞", ""]), texts)
numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1.0, 0.1, 1e-5, 1e15, 1e16, 123.456, 2.5]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=8,
)
own_values = {
    "eventName": st.one_of(st.none(), texts, st.integers()),
    "email": st.one_of(st.none(), texts, st.just(5)),
    "userId": st.one_of(st.none(), texts, st.integers(min_value=-(2**63), max_value=2**63 - 1), st.just(1.5)),
    "campaignId": st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.just("12")),
    "templateId": st.one_of(st.none(), st.integers(min_value=0, max_value=10**12)),
    "messageId": st.one_of(st.none(), texts),
    "id": st.one_of(st.none(), st.just(""), st.just(0), texts, st.integers(), st.booleans()),
    "createdAt": st.one_of(
        st.just(CREATED),
        st.datetimes(timezones=st.none()).map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S +00:00")),
        st.sampled_from(["2026-02-30 00:00:00 +00:00", "2026-05-05T04:22:12+00:00", "0000-01-01 00:00:00 +00:00"]),
    ),
    "dataFields": st.one_of(st.dictionaries(keys, values, max_size=4), st.none(), texts),
    "itblInternal": st.dictionaries(keys, values, max_size=2),
    "_type": st.just("customEvent"),
}


@st.composite
def records(draw: Any) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(sorted(own_values)), unique=True))
    record = {name: draw(own_values[name]) for name in chosen}
    record.setdefault("createdAt", CREATED)
    for key, value in draw(st.dictionaries(keys, values, max_size=4)).items():
        record.setdefault(key, value)
    return record


@st.composite
def lines(draw: Any) -> bytes:
    """A record's line as orjson writes it, or rewritten as another exporter might: escapes for characters that
    need none, spaces between tokens, numbers in other forms."""
    record = draw(records())
    try:
        line = orjson.dumps(record)
    except TypeError:  # an integer beyond 64 bits: Python's json writes it
        line = json.dumps(record, ensure_ascii=False).encode()
    if draw(st.booleans()):  # spaces between tokens, every non-ASCII character escaped or not, Python's floats
        with contextlib.suppress(ValueError):
            line = json.dumps(record, separators=(" ,\t", " : "), ensure_ascii=draw(st.booleans())).encode()
    if draw(st.booleans()):
        line = line.replace("é".encode(), b"\\u00e9").replace(b"/", b"\\/").replace("𝄞".encode(), b"\\ud834\\udd1e")
    if draw(st.booleans()):
        line = line.replace(b".0,", b".00,").replace(b"e+16", b"E16").replace(b":1,", b":1.0e0,")
    return line


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.lists(lines(), min_size=1, max_size=8), st.booleans())
def test_scanned_batches_equal_the_python_paths(tmp_path: Path, chosen: list[bytes], sort_keys: bool) -> None:
    assert_same(chosen, tmp_path, sort_keys)


@settings(max_examples=300, deadline=None)
@given(lines(), st.booleans())
def test_a_line_the_scanner_takes_is_the_python_paths_row(line: bytes, sort_keys: bool) -> None:
    try:
        wanted = python_row(line, sort_keys)
    except (ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        assert scanned_alone(line, sort_keys) is None  # what the Python path refuses, the scanner hands back
        return
    got = scanned_alone(line, sort_keys)
    if got is not None:
        assert got == wanted


@settings(max_examples=500, deadline=None)
@given(st.from_regex(r"-?(0|[1-9][0-9]{0,19})(\.[0-9]{1,18})?([eE][+-]?[0-9]{1,3})?", fullmatch=True))
def test_a_number_is_taken_only_as_orjson_writes_it(number: str) -> None:
    """The scanner copies a number's text: it takes one only when orjson would write that very text."""
    line = b'{"createdAt":"%s","n":%s,"m":[%s]}' % (CREATED.encode(), number.encode(), number.encode())
    try:
        value = orjson.loads(number)
    except orjson.JSONDecodeError:  # beyond a double: orjson refuses the line, the scanner hands it back
        assert scanned_alone(line) is None
        return
    got = scanned_alone(line)
    if got is not None:
        assert got["DataFields"] == orjson.dumps({"m": [value], "n": value}).decode()
        assert orjson.dumps(value) == number.encode()


def test_ordinary_export_lines_are_all_taken_by_the_scanner() -> None:
    """Lines as Iterable writes them (orjson's own output of ordinary values) are never handed back: the
    comparisons above are not all made by the Python path reading both sides."""
    line = orjson.dumps(
        {
            "email": "a@x.com",
            "userId": "u1",
            "campaignId": 81,
            "templateId": 27,
            "messageId": "9f",
            "createdAt": CREATED,
            "itblInternal": {"documentCreatedAt": CREATED},
            "price": 12.5,
            "count": 0,
            "tags": ["é", "x\ny"],
            "dataFields": {"z": None, "a": {"b": True, "a": -3}},
            "city": "Zürich \u2028",
        }
    )
    for sort_keys in (True, False):
        assert scanned_alone(line, sort_keys) == python_row(line, sort_keys)


@pytest.mark.parametrize(
    "line",
    [
        b'{"createdAt":"' + CREATED.encode() + b'","n":2.50}',  # orjson writes 2.5
        b'{"createdAt":"' + CREATED.encode() + b'","n":-0}',
        b'{"createdAt":"' + CREATED.encode() + b'","n":1e5}',
        b'{"createdAt":"' + CREATED.encode() + b'","n":{"a":1,"a":2}}',  # a duplicate key
        b'{"createdAt":"' + CREATED.encode() + b'","email":"a","email":"b"}',
        b'{"createdAt":"' + CREATED.encode() + b'","s":"\\ud800"}',  # a lone surrogate
        b'{"createdAt":"' + CREATED.encode() + b'","s":"\xff"}',  # not UTF-8
        b'{"createdAt":"2026-02-30 00:00:00 +00:00"}',
        b'{"createdAt":1780000000123}',
        b'{"createdAt":"' + CREATED.encode() + b'","campaignId":"12"}',
        b'{"createdAt":"' + CREATED.encode() + b'","id":1.5}',
        b'{"createdAt":"' + CREATED.encode() + b'"} trailing',
        b"[1,2]",
    ],
)
def test_lines_the_scanner_hands_back(line: bytes) -> None:
    assert scanned_alone(line) is None


def test_handed_back_lines_keep_their_place_and_malformed_ones_are_quarantined(tmp_path: Path) -> None:
    good = [orjson.dumps({"createdAt": CREATED, "email": f"u{n}@x.com", "n": n}) for n in range(7)]
    mixed = [good[0], b'{"createdAt":"' + CREATED.encode() + b'","n":2.50}', good[1], b"not json", b"   ", good[2],
             b'{"createdAt":"' + CREATED.encode() + b'","transactionalData":"{}""contentId":1}', *good[3:]]  # fmt: skip
    python, scanned, counted, _, scanned_lines = both_paths(mixed, tmp_path)
    assert table(scanned).equals(table(python))
    assert table(scanned).num_rows == counted == 9
    assert (scanned_lines.skipped, scanned_lines.repaired) == (1, 1)
    assert scanned_lines.quarantine.path is not None
    assert scanned_lines.quarantine.path.read_bytes() == b"not json\n"


@pytest.mark.parametrize("event_type", ["emailSend", "emailOpen", "customEvent"])
def test_a_read_through_the_scanner_equals_the_python_paths(sandbox: Sandbox, event_type: str) -> None:
    where = {"EventType": event_type}
    with connect_to(sandbox) as conn:
        scanned = conn.read_arrow("Events", where=where)
        scanned_rows = list(conn.read("Events", where=where))
        with python_path():
            python = conn.read_arrow("Events", where=where)
            python_rows = list(conn.read("Events", where=where))
    assert scanned.num_rows > 0
    assert scanned.equals(python)
    assert strictly(scanned_rows) == strictly(python_rows)


@pytest.mark.parametrize(
    ("where", "columns", "limit"),
    [
        ({"EventType": ["emailSend", "emailOpen"], "CampaignId": Condition(">=", 0)}, None, None),
        ({"EventType": "emailSend", "TemplateId": Condition(">", 0)}, ["DataFields", "CreatedAt", "Id"], 40),
        ({"EventType": "customEvent", "EventName": Condition("<", "m")}, ["eventname", "email"], None),
        ({"EventType": "emailClick"}, None, 0),
    ],
)
def test_read_makes_its_dicts_from_batches_as_the_python_path_reads_them(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, where: dict[str, Any], columns: Any, limit: Any
) -> None:
    """conn.read of Events takes the batches (conditions checked and columns selected by Arrow, dicts made in
    C): the rows, their order, types, key order and the limit are the Python path's, which checks each row."""
    from iterbridge.objects import arrow

    made: list[int] = []
    original = arrow.rows
    monkeypatch.setattr(arrow, "rows", lambda batch, types: made.append(batch.num_rows) or original(batch, types))
    with connect_to(sandbox) as conn:
        scanned = list(conn.read("Events", where=where, columns=columns, limit=limit))
        assert sum(made) >= len(scanned)  # every row came from a batch
        with python_path():
            python = list(conn.read("Events", where=where, columns=columns, limit=limit))
    assert strictly(scanned) == strictly(python)
    assert len(scanned) == (limit if limit is not None else len(python))
    if limit != 0:
        assert made
        assert len(scanned) > 10


def test_windows_parsed_while_they_download_equal_the_python_path_through_drops_and_bad_lines(
    sandbox: Sandbox, stats: Stats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are parsed while their window downloads (api/parsed_window.py): with streams dropping after
    many blocks reached the parser, and lines to repair or quarantine, the table, the record counts and the
    quarantine are the Python path's, which spools each window whole first."""
    monkeypatch.setattr(parsed_window, "SPOOL_BLOCK_BYTES", 2048)  # blocks reach the parser mid-stream
    faults = {"drop_after_lines": 60, "drop_streams": 3, "missing_comma_every": 5, "garbage_every": 11}
    where = {"EventType": "emailSend"}
    results = []
    for path in (contextlib.nullcontext, python_path):
        monkeypatch.setenv(QUARANTINE_DIR_ENV, str(tmp_path / path.__name__))
        stats.faults(**faults)
        with path(), connect_to(sandbox) as conn:
            table = conn.read_arrow("Events", where=where)
            quarantine = conn.quarantine
            assert quarantine.path is not None
            results.append((table, quarantine.kept, quarantine.repaired, quarantine.path.read_bytes()))
    (scanned, *scanned_counts), (python, *python_counts) = results
    assert scanned.num_rows > 100
    assert scanned.equals(python)
    assert scanned_counts == python_counts
    assert scanned_counts[0] > 3  # kept
    assert scanned_counts[1] > 3  # repaired


def test_the_scanner_holds_nothing_between_batches() -> None:
    builder = scanner.scanner.Builder("emailSend")
    block = b"\n".join(orjson.dumps({"createdAt": CREATED, "n": n}) for n in range(5)) + b"\n"
    assert builder.scan(block, 0, 2) == (block.index(b"\n", block.index(b"\n") + 1) + 1, 1, 2)
    assert events_arrow.builder_batch(builder, "emailSend", EVENTS.columns).num_rows == 2
    assert builder.rows == 0
    position, status, rows = builder.scan(block, 0, 100)
    assert (position, status, rows) == (len(block), 0, 5)
    with pytest.raises(TypeError):
        builder.scan("text, not bytes", 0, 1)


def test_read_batches_use_the_scanner(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Events read through the export API go through the scanner (not dict records) when it is built."""
    appended: list[Any] = []
    original = events_arrow.append_read
    monkeypatch.setattr(events_arrow, "append_read", lambda *args: appended.append(args) or original(*args))
    with connect_to(sandbox) as conn:
        assert iterbridge.Connection.read_arrow(conn, "Events", where={"EventType": "emailSend"}).num_rows > 0
    assert appended == []


def scanned_dict_rows(line: bytes) -> Any:
    """The dict rows conn.read makes of one line the scanner takes itself (its batch, DataFields' keys as sent,
    made dicts by `arrow.rows`), or None when it hands the line back."""
    from iterbridge.objects.arrow import rows

    builder = scanner.scanner.Builder("customEvent", False)
    position, status, count = builder.scan(line, 0, 10)
    if status == 2:
        assert (position, count) == (0, 0)
        return None
    assert (status, count) == (0, 1)
    batch = events_arrow.builder_batch(builder, "customEvent", EVENTS.columns)
    return list(rows(batch, {c.name: c.type for c in EVENTS.columns}))


@settings(max_examples=400, deadline=None)
@given(lines())
def test_a_dict_row_the_scanner_makes_is_to_rows(line: bytes) -> None:
    """conn.read's rows: what the scanner takes, it makes into exactly to_row's dict (types, key order, the
    DataFields' nested values, the UTC CreatedAt)."""
    from iterbridge.objects.events import to_row

    try:
        record = orjson.loads(line)
        wanted = [to_row(record, "customEvent")]
    except (ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        assert scanned_dict_rows(line) is None
        return
    got = scanned_dict_rows(line)
    if got is not None:
        assert strictly(got) == strictly(wanted)
        assert got[0]["CreatedAt"].tzinfo is wanted[0]["CreatedAt"].tzinfo


@settings(max_examples=400, deadline=None)
@given(records())
def test_a_records_dict_row_is_its_batchs_row(record: dict[str, Any]) -> None:
    """conn.read's rows are the batches' rows where the C extension is built, to_row's where it is not: the same
    values and types for any record (an int event name or email as text, a text campaign id as an integer, as
    the batch's typed columns hold them), and the same Id, hashed from the values as sent."""
    from iterbridge.objects.arrow import rows
    from iterbridge.objects.events import to_row

    try:
        wanted = [to_row(dict(record), "customEvent")]
    except (ValueError, TypeError, OverflowError):
        return
    (batch,) = events_arrow.event_batches(iter([record]), "customEvent", EVENTS.columns, 10, sort_keys=False)
    got = list(rows(batch, {c.name: c.type for c in EVENTS.columns}))
    assert strictly(got) == strictly(wanted)


def test_ordinary_export_lines_are_all_made_dict_rows_by_the_scanner() -> None:
    from iterbridge.objects.events import to_row

    line = orjson.dumps(
        {
            "email": "a@x.com",
            "campaignId": 81,
            "createdAt": CREATED,
            "price": 12.5,
            "n": -7,
            "ok": True,
            "tags": ["é", None, {"b": 1, "a": [2.25]}],
            "dataFields": {"z": None, "price": 3.0},
        }
    )
    got = scanned_dict_rows(line)
    assert got is not None
    assert strictly(got) == strictly([to_row(orjson.loads(line), "customEvent")])


@settings(max_examples=400, deadline=None)
@given(
    texts=st.lists(st.none() | st.text(alphabet=st.sampled_from("a\"',;|\t\n\r{}:é☃ "), max_size=12), max_size=12),
    start=st.integers(0, 4),
    kinds=st.lists(st.sampled_from(["JSON", "TEXT", "INTEGER", "BOOLEAN"]), min_size=1, max_size=3),
    quote_char=st.sampled_from(['"', "'"]),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    line_terminator=st.sampled_from(["crlf", "lf", "cr"]),
    null=st.sampled_from(["", "NULL", "a,b"]),
)
def test_records_written_in_c_are_the_kernels_records(
    texts: list[str | None],
    start: int,
    kinds: list[str],
    quote_char: str,
    delimiter: str,
    line_terminator: str,
    null: str,
) -> None:
    """A batch's records written in one pass of the C extension (`csv_records`: cells quoted where they need it,
    joined, each record ended) are the bytes the kernels give: for one to three columns (a record of one empty
    cell is two quotes), numbers and flags never quoted, NULLs as the --null text, every line terminator, columns
    that are slices of larger ones; into a scratch already longer than the records, too."""
    from iterbridge.objects.base import SqlType
    from iterbridge.transfer.cells import text_cells
    from iterbridge.transfer.csvformat import CsvOptions

    values = {
        "JSON": pa.array(texts, type=pa.string()),
        "TEXT": pa.array(texts, type=pa.string()),
        "INTEGER": pa.array([None if t is None else len(t) - 3 for t in texts], type=pa.int64()),
        "BOOLEAN": pa.array([None if t is None else "a" in t for t in texts], type=pa.bool_()),
    }
    columns = [values[kind].slice(min(start, len(texts))) for kind in kinds]
    batch = pa.RecordBatch.from_arrays(columns, names=[f"c{i}" for i in range(len(kinds))])
    types = [SqlType[kind] for kind in kinds]
    options = CsvOptions.build(quote_char=quote_char, delimiter=delimiter, line_terminator=line_terminator, null=null)
    in_c = b"".join(bytes(chunk) for chunk in text_cells(batch, types, options))
    longer = bytearray(b"x" * 500)
    into_longer = b"".join(bytes(chunk) for chunk in text_cells(batch, types, options, longer))
    with python_path():
        by_kernels = b"".join(bytes(chunk) for chunk in text_cells(batch, types, options))
    assert in_c == by_kernels
    assert into_longer == by_kernels


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_JSON_TEXTS = (
    _JSON_VALUES.map(lambda value: json.dumps(value, ensure_ascii=False))
    | _JSON_VALUES.map(lambda value: json.dumps(value, indent=1))  # escapes and spaces orjson would not write
    | st.sampled_from(['{"a":1,"a":2}', "2.50", "1e5", "-0", "NaN", '"\\ud800"', "12345678901234567890", "[1,]"])
    | st.text(max_size=8)  # mostly not JSON: kept as the text
)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.none() | _JSON_TEXTS,
            st.none() | st.text(max_size=8),
            st.none() | st.integers(-(2**63), 2**63 - 1),
            st.none() | st.floats(),
            st.none() | st.booleans(),
            st.none() | st.integers(-62_135_596_800_000_000, 253_402_300_799_999_999),  # datetime's years 1-9999
        ),
        max_size=12,
    ),
    start=st.integers(0, 4),
)
def test_dict_rows_made_in_c_are_to_pylists_rows(rows: list[tuple[Any, ...]], start: int) -> None:
    """A batch's rows made dicts by the C extension (`arrow_dicts`) are the rows `to_pylist` gives, with the
    same types, in every catalog type: JSON parsed as `parsed_json` parses it (the C parser leaving it what it
    cannot read exactly as orjson), NULLs, timestamps before the epoch, columns sliced from larger ones."""
    from iterbridge.objects.arrow import rows as dict_rows
    from iterbridge.objects.base import SqlType

    kinds = [SqlType.JSON, SqlType.TEXT, SqlType.INTEGER, SqlType.REAL, SqlType.BOOLEAN, SqlType.TIMESTAMP]
    table, columns = generated_table(rows, kinds, start)
    types = {c.name: c.type for c in columns}
    in_c = list(dict_rows(table, types))
    with python_path():
        by_pylist = list(dict_rows(table, types))
    assert strictly(in_c) == strictly(by_pylist)
    assert len(in_c) == max(0, len(rows) - start)


def test_dict_rows_are_made_in_c_one_at_a_time() -> None:
    """`arrow_dicts` gives each row when it is asked for (a read of millions of rows never holds a list of them),
    and refuses buffers shorter than the rows they claim."""
    from iterbridge.objects.arrow import arrow_buffers
    from iterbridge.objects.base import SqlType

    column = pa.array(["a", None, "c"])
    given = (arrow_buffers(column, SqlType.TEXT),)
    made = scanner.scanner.arrow_dicts(("Name",), given, 3, orjson.loads)
    assert next(made) == {"Name": "a"}
    assert list(made) == [{"Name": None}, {"Name": "c"}]
    with pytest.raises(ValueError, match="shorter than its rows"):
        scanner.scanner.arrow_dicts(("Name",), given, 4, orjson.loads)
    with pytest.raises(ValueError, match="not a name for each column"):
        scanner.scanner.arrow_dicts((), given, 3, orjson.loads)


def generated_table(rows: list[tuple[Any, ...]], kinds: list[Any], start: int) -> tuple[pa.Table, list[Any]]:
    """Generated rows as a conformed Arrow table (its columns sliced from `start`) and its catalog columns."""
    from iterbridge.objects.arrow import ARROW_TYPES, TIMESTAMP
    from iterbridge.objects.base import Column, SqlType

    arrays = []
    for position, kind in enumerate(kinds):
        values = [row[position] for row in rows]
        if kind is SqlType.TIMESTAMP:  # microseconds since the epoch
            arrays.append(pa.array(values, type=pa.int64()).cast(TIMESTAMP))
        else:
            arrays.append(pa.array(values, type=ARROW_TYPES[kind]))
    names = [f"c{i}" for i in range(len(kinds))]
    table = pa.Table.from_arrays([a.slice(min(start, len(rows))) for a in arrays], names=names)
    return table, [Column(name, kind) for name, kind in zip(names, kinds, strict=True)]


_PG_TEXT = st.lists(st.sampled_from(["a", "\\", "u", "0", "\x00", "é", "☃", '"', "\\u0000"]), max_size=10).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.none() | _PG_TEXT,
            st.none() | _PG_TEXT,
            st.none() | st.integers(-(2**63), 2**63 - 1),
            st.none() | st.floats(allow_nan=False),
            st.none() | st.booleans(),
            st.none() | st.integers(-(2**62), 2**62),
        ),
        max_size=12,
    ),
    start=st.integers(0, 4),
)
def test_a_binary_copy_written_in_c_is_the_kernels_copy(rows: list[tuple[Any, ...]], start: int) -> None:
    """PostgreSQL's binary COPY written by the C extension from the columns' buffers gives the bytes the Arrow
    kernels give, for every catalog type: NUL characters out of text, escaped NULs out of JSON (an escaped
    backslash before "u0000" kept), NULLs, columns that are slices of larger ones."""
    from iterbridge.objects.base import SqlType
    from iterbridge.replicate.batches import pg_binary

    kinds = [SqlType.TEXT, SqlType.JSON, SqlType.INTEGER, SqlType.REAL, SqlType.BOOLEAN, SqlType.TIMESTAMP]
    table, columns = generated_table(rows, kinds, start)
    in_c = b"".join(bytes(chunk) for chunk in pg_binary(table, columns))
    with python_path():
        by_kernels = b"".join(bytes(chunk) for chunk in pg_binary(table, columns))
    assert in_c == by_kernels


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(-(2**63), 2**63 - 1),
            st.none() | _PG_TEXT,
            st.none() | st.floats(allow_nan=False),
            st.none() | st.booleans(),
            st.none() | st.integers(-(2**62), 2**62),
        ),
        max_size=12,
    ),
    start=st.integers(0, 4),
)
def test_rows_bound_in_c_are_the_rows_executemany_writes(rows: list[tuple[Any, ...]], start: int) -> None:
    """SQLite rows whose values the C extension binds from the columns' Arrow buffers are the rows executemany
    writes from the same values as Python objects (the target's path where the extension is not built): the same
    values and storage classes (NUL characters kept in text), the same rows changed (a key given again: none),
    for sliced columns."""
    import sqlite3

    from iterbridge.objects.base import SqlType
    from iterbridge.replicate.batches import sqlite_columns, sqlite_write

    kinds = [SqlType.INTEGER, SqlType.TEXT, SqlType.REAL, SqlType.BOOLEAN, SqlType.TIMESTAMP]
    table, columns = generated_table(rows, kinds, start)
    db = sqlite3.connect(":memory:")
    stored = {}
    for name in ("by_c", "by_executemany"):
        db.execute(f"CREATE TABLE {name} (c0 INTEGER PRIMARY KEY, c1 TEXT, c2 REAL, c3 BOOLEAN, c4 DATETIME)")
        statement = f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?) ON CONFLICT (c0) DO NOTHING"
        if name == "by_c":
            changed = sqlite_write(db, statement, table, columns)
            assert db.in_transaction
        else:
            changed = db.executemany(statement, zip(*sqlite_columns(table, columns), strict=True)).rowcount
        db.commit()
        found = db.execute(f"SELECT c0, typeof(c1), c1, typeof(c2), c2, c3, typeof(c4), c4 FROM {name} ORDER BY c0")
        stored[name] = (changed, found.fetchall())
    assert stored["by_c"] == stored["by_executemany"]
    assert stored["by_c"][0] == len(set(table.column("c0").to_pylist()))  # a key given again changes nothing


def test_a_row_sqlite_refuses_raises_its_error_after_the_rows_before_it() -> None:
    """As executemany: the rows before the refused one are written in the transaction; the error is sqlite3's own,
    with SQLite's message."""
    import sqlite3

    from iterbridge.objects.base import Column, SqlType
    from iterbridge.replicate.batches import sqlite_write

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT CHECK (v <> 'bad'))")
    table = pa.table({"k": [1, 2, 3], "v": ["good", "bad", "good"]})
    columns = [Column("k", SqlType.INTEGER), Column("v", SqlType.TEXT)]
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        sqlite_write(db, "INSERT INTO t VALUES (?, ?)", table, columns)
    assert db.execute("SELECT k FROM t").fetchall() == [(1,)]
    db.rollback()
    assert db.execute("SELECT count(*) FROM t").fetchone() == (0,)
    with pytest.raises(ValueError, match="parameters are not the columns"):
        sqlite_write(db, "INSERT INTO t (k) VALUES (?)", table, columns)
