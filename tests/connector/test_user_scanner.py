"""The C scanner of users' export lines (iterbridge._eventscan.UserBuilder): every line it takes gives exactly the
Python path's row (every column's value and type, dotted keys folded back, ExtraFields' bytes), every line it
cannot be sure of is handed back and read by the Python path in its place, and a read's rows, counts and
quarantine are the same either way."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import RecordCounter, connect_to, python_path
from iterbridge.api.jsonlines import JsonLines, LineBlock, Quarantine
from iterbridge.objects import scanner, users_arrow
from iterbridge.objects.arrow import schema
from iterbridge.objects.base import Column, SqlType
from iterbridge.objects.users import EXTRA, MANAGED
from iterbridge.sandbox import Sandbox

pytestmark = pytest.mark.skipif(
    scanner.scanner is None and not os.environ.get("ITERBRIDGE_TEST_REQUIRE_SCANNER"),
    reason="iterbridge._eventscan was not built (no C compiler at install)",
)

CUSTOM = (
    Column("city", SqlType.TEXT, "city"),
    Column("interests", SqlType.TEXT, "interests"),
    Column("totalOrders", SqlType.INTEGER, "totalOrders"),
    Column("lifetimeValue", SqlType.REAL, "lifetimeValue"),
    Column("isVip", SqlType.BOOLEAN, "isVip"),
    Column("birthday", SqlType.TIMESTAMP, "birthday"),
    Column("address", SqlType.JSON, "address"),
    Column("homeLocation", SqlType.JSON, "homeLocation"),
)
COLUMNS = (*MANAGED, *CUSTOM, EXTRA)
EXPORTED = "2026-05-05 04:22:12 +00:00"


def table(batches: list[Any], columns: tuple[Column, ...] = COLUMNS) -> Any:
    return pa.Table.from_batches(batches, schema=schema(columns))


def both_paths(
    lines: list[bytes], tmp_path: Path, sort_keys: bool = True, columns: tuple[Column, ...] = COLUMNS
) -> tuple[Any, ...]:
    """The table, quarantine and record count of the same lines read by the Python path and by the scanner
    (two blocks of whole lines, batches of 3)."""
    python_lines = JsonLines(Quarantine(tmp_path / "python"))
    with python_path():
        python = table(
            list(users_arrow.user_batches(python_lines.records(lines), columns, 3, sort_keys=sort_keys)), columns
        )
    scanned_lines, counter = JsonLines(Quarantine(tmp_path / "scanned")), RecordCounter()
    text = b"\n".join(lines)
    middle = text.find(b"\n", len(text) // 2) + 1
    blocks = [LineBlock(part, scanned_lines, (counter,)) for part in (text[:middle], text[middle:]) if part]
    batches = list(users_arrow.user_batches(iter(blocks), columns, 3, sort_keys=sort_keys))
    assert all(batch.num_rows <= 3 for batch in batches)
    return python, table(batches, columns), counter.records, python_lines, scanned_lines


def assert_same(lines: list[bytes], tmp_path: Path, sort_keys: bool = True) -> None:
    python, scanned, counted, python_lines, scanned_lines = both_paths(lines, tmp_path, sort_keys)
    for name in python.column_names:  # the column named when they differ
        assert scanned[name].equals(python[name]), (name, scanned[name].to_pylist(), python[name].to_pylist())
    assert counted == python.num_rows
    assert (scanned_lines.skipped, scanned_lines.repaired) == (python_lines.skipped, python_lines.repaired)


def scanned_alone(line: bytes, sort_keys: bool = True) -> dict[str, Any] | None:
    """The row the scanner makes of one line itself, or None when it hands the line back."""
    builder = users_arrow.user_builder(COLUMNS, sort_keys)
    position, status, rows = builder.scan(line, 0, 10)
    if status == 2:
        assert (position, rows) == (0, 0)
        return None
    assert (status, rows) == (0, 1)
    row: dict[str, Any] = users_arrow.user_builder_batch(builder, COLUMNS).to_pylist()[0]
    return row


# ---- values and records that reach every rule --------------------------------------------------------------

texts = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [
            EXPORTED,
            "2024-02-29 23:59:59 +00:00",
            "2023-02-29 10:00:00 +00:00",  # no such day
            "2026-05-05 24:00:00 +00:00",
            "2026-05-05T04:22:12Z",
            "2026-05-05 04:22:12 +01:00",
            "1994-06-20",
            "1994-02-30",
            "0001-01-01",
            "20260505",
            "",
            " ",
            "true",
            "12",
            "é\u2028\U0001f600",
            'q"\\\n\x7f',
        ]
    ),
)
short_floats = st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False).map(float)
numbers = st.one_of(
    short_floats,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1.5, 100.0, 0.0001, 0.00003, 1e16, 2.5e-7, 123456789012345.0]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "é", "z.y"]), inner, max_size=3)
    ),
    max_leaves=6,
)
KEYS = [
    "email",
    "userId",
    "signupDate",
    "profileUpdatedAt",
    "emailListIds",
    "phoneNumber",
    "devices",
    "itblInternal.emailDomain",
    "itblInternal.documentCreatedAt",
    "itblInternal",
    "city",
    "interests",
    "totalOrders",
    "lifetimeValue",
    "isVip",
    "birthday",
    "address",
    "address.city",
    "address.zip",
    "homeLocation",
    "favoriteColor",
    "pets.dog",
    "pets.cat",
    "",
    "é",
    "__extra__",
]
ODD_KEYS = ["a.b.c", ".x", "x.", "address..zip"]  # handed back, so drawn rarely
dates = st.sampled_from([EXPORTED, "2024-02-29 23:59:59 +00:00", "1994-06-20", "0001-01-01", ""])
# what each field usually holds (its column takes it): most records are taken by the scanner, the rest not
FITTING = {
    "email": texts,
    "userId": st.one_of(texts, st.integers()),
    "signupDate": dates,
    "profileUpdatedAt": dates,
    "itblInternal.documentCreatedAt": dates,
    "birthday": dates,
    "totalOrders": st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1),
    "lifetimeValue": st.one_of(short_floats, st.integers(min_value=-(2**60), max_value=2**60)),
    "isVip": st.booleans(),
    "interests": st.lists(texts, max_size=3),
    "homeLocation": st.fixed_dictionaries({"lat": short_floats, "lon": short_floats}),
}


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(KEYS), max_size=10, unique=True))
    if draw(st.integers(0, 9)) == 0:
        keys.append(draw(st.sampled_from(ODD_KEYS)))
    return {key: draw(values if draw(st.integers(0, 5)) == 0 else FITTING.get(key, scalars)) for key in keys}


def encoded(record: dict[str, Any], style: int) -> bytes:
    """A record written as Iterable or a proxy might write it: compact orjson, spaced json, ASCII escapes."""
    if style == 0:
        try:
            return orjson.dumps(record)
        except TypeError:  # an integer beyond 64 bits
            return json.dumps(record, separators=(",", ":")).encode()
    if style == 1:
        return json.dumps(record, ensure_ascii=False).encode()
    return json.dumps(record).encode()


lines = st.lists(
    st.one_of(
        st.builds(encoded, records(), st.integers(0, 2)),
        st.sampled_from(
            [
                b"",
                b"   ",
                b"not json",
                b'{"email":"a@x.com","email":"b@x.com"}',  # a key twice
                b'{"email":"a@x.com","address":{"city":"x","city":"y"}}',
                b'{"email":"a@x.com","itblInternal":{"emailDomain":"x.com","emailDomain":"y.com"}}',
                b'{"email":"a@x.com","address.city":"P","address":{"zip":"1"}}',  # whole and dotted
                b'{"email":"a@x.com","address":{"zip":"1"},"address.city":"P"}',
                b'{"email":"a@x.com","itblInternal":"plain","favoriteColor":"red"}',
                b'{"email":"\\ud800"}',
                b'{"email":"a@x.com"} trailing',
                b"[1,2]",
                b'{"email":"a@x.com","lifetimeValue":1E5,"totalOrders":-0}',
                b'{"email":"a@x.com","totalOrders":9.223372036854776e+18}',  # beyond int64: NULL, both paths
                b'{"email":"a@x.com","totalOrders":-9223372036854775809}',
            ]
        ),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(chosen=[b'{"totalOrders":9.223372036854776e+18}', b'{"totalOrders":9223372036854775807}'], sort_keys=False)
@given(chosen=lines, sort_keys=st.booleans())
def test_scanned_batches_equal_the_python_paths(tmp_path: Path, chosen: list[bytes], sort_keys: bool) -> None:
    assert_same(chosen, tmp_path, sort_keys)


@settings(max_examples=300, deadline=None)
@given(record=records(), style=st.integers(0, 2), sort_keys=st.booleans())
def test_a_line_the_scanner_takes_is_the_python_paths_row(record: dict[str, Any], style: int, sort_keys: bool) -> None:
    """Line by line, without the hand-back: a row the scanner makes itself is the Python path's."""
    line = encoded(record, style)
    with python_path():
        expected = table(
            list(
                users_arrow.user_batches(
                    [orjson.loads(line) if style == 0 else json.loads(line)], COLUMNS, 3, sort_keys=sort_keys
                )
            )
        )
    found = scanned_alone(line, sort_keys)
    if found is not None:
        assert found == expected.to_pylist()[0]


def test_usual_users_are_taken_whole_by_the_scanner() -> None:
    """What Iterable's exports hold (dotted objects, a list in a string field, bare dates, geo points) is read in
    C: none of it is handed back."""
    line = orjson.dumps(
        {
            "email": "ann@x.com",
            "signupDate": EXPORTED,
            "emailListIds": [1, 2],
            "itblInternal.emailDomain": "x.com",
            "itblInternal.documentCreatedAt": EXPORTED,
            "city": "Paris",
            "interests": ["ski", "café"],
            "totalOrders": 3,
            "lifetimeValue": 12.5,
            "isVip": True,
            "birthday": "1994-06-20",
            "address.street": "1 Main St",
            "address.city": "Paris",
            "homeLocation": {"lon": 2.35, "lat": 48.85},
            "pets.dog": "Rex",
            "favoriteColor": "red",
        }
    )
    row = scanned_alone(line)
    assert row is not None
    assert row["EmailDomain"] == "x.com"
    assert row["interests"] == '["ski","caf\\u00e9"]'  # json.dumps, as the catalog converts a list to text
    assert row["address"] == '{"city":"Paris","street":"1 Main St"}'
    assert row["homeLocation"] == '{"lat":48.85,"lon":2.35}'
    assert row["birthday"].isoformat() == "1994-06-20T00:00:00+00:00"
    assert row["ExtraFields"] == '{"favoriteColor":"red","pets":{"dog":"Rex"}}'
    unsorted = scanned_alone(line, sort_keys=False)
    assert unsorted is not None
    assert unsorted["address"] == '{"street":"1 Main St","city":"Paris"}'
    assert unsorted["ExtraFields"] == '{"pets":{"dog":"Rex"},"favoriteColor":"red"}'


@pytest.mark.parametrize(
    "line",
    [
        b'{"email":"a@x.com","a.b.c":1}',
        b'{"email":"a@x.com","address.city":"P","address":{"zip":"1"}}',
        b'{"email":"a@x.com","totalOrders":"7"}',
        b'{"email":"a@x.com","isVip":1}',
        b'{"email":"a@x.com","birthday":"1994-02-30"}',
        b'{"email":"a@x.com","lifetimeValue":"1.5"}',
        b'{"email":"a@x.com","homeLocation":{"lat":1e5}}',
    ],
)
def test_lines_the_scanner_cannot_be_sure_of_are_handed_back(line: bytes) -> None:
    assert scanned_alone(line) is None


def test_a_read_of_users_goes_through_the_scanner(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """conn.read_arrow of Users equals the Python path's, and the scanner made its rows."""
    scanned: list[int] = []
    original = users_arrow.user_builder_batch
    monkeypatch.setattr(users_arrow, "user_builder_batch", lambda *args: scanned.append(1) or original(*args))
    with connect_to(sandbox) as conn:
        found = conn.read_arrow("Users")
    with python_path(), connect_to(sandbox) as conn:
        expected = conn.read_arrow("Users")
    assert scanned
    assert found.num_rows == expected.num_rows > 0
    assert found.equals(expected)


def test_a_column_without_a_source_is_null_whatever_the_line_holds(tmp_path: Path) -> None:
    """A column without a source, or import-only, reads NULL; a field named "" (which no source names) is
    ExtraFields'."""
    imported, sent = Column("Imported", SqlType.TEXT), Column("Sent", SqlType.TEXT, "sent", import_only=True)
    columns = (*MANAGED, imported, sent, EXTRA)
    line = b'{"email":"a@x.com","":"empty","Imported":"x","sent":"y"}'
    python, scanned, counted, _, _ = both_paths([line], tmp_path, columns=columns)
    assert scanned.equals(python)
    assert (scanned.to_pylist()[0]["Imported"], scanned.to_pylist()[0]["Sent"]) == (None, None)
    assert scanned.to_pylist()[0]["ExtraFields"] == '{"":"empty","Imported":"x"}'
    assert counted == 1
