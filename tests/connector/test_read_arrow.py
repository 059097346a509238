"""conn.read_batches / read_arrow: the same rows as conn.read, row for row and type for type, for every object of
the catalog; typed from the catalog; filters re-checked by Arrow compute with read's semantics; writes, stable
Ids and malformed export lines (repaired or quarantined exactly as the dict rows' read does)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iterbridge
from helpers import ANCHOR, Stats, connect_to, make_config
from iterbridge.api import jsonlines
from iterbridge.objects.arrow import keep, schema
from iterbridge.objects.base import Condition, SqlType, json_text
from iterbridge.sandbox import Sandbox

from .readers import user_emails

ARROW = {"TEXT": pa.string(), "INTEGER": pa.int64(), "REAL": pa.float64(), "BOOLEAN": pa.bool_(),
         "TIMESTAMP": pa.timestamp("us", tz="UTC"), "JSON": pa.string()}  # fmt: skip


def typed(conn: iterbridge.Connection, obj: str, table: Any) -> list[dict[str, Any]]:
    """The table's rows as conn.read gives them; JSON text checked against the dict rows' text separately."""
    types = {c.name: c.type for c in conn.columns(obj)}
    rows = table.to_pylist()
    for row in rows:
        for name, value in row.items():
            if types[name] is SqlType.JSON and value is not None:
                row[name] = iterbridge_json(value)
    return rows


def iterbridge_json(text: str) -> Any:
    import orjson

    return orjson.loads(text)


def same(conn: iterbridge.Connection, obj: str, dict_rows: list[dict[str, Any]], table: Any) -> None:
    """Row for row, value for value, type for type; JSON columns hold the dict rows' value as its JSON text."""
    types = {c.name: c.type for c in conn.columns(obj)}
    assert table.num_rows == len(dict_rows)
    assert table.schema == schema([conn.object(obj).column(n) or _dynamic(conn, obj, n) for n in table.schema.names])
    raw = table.to_pylist()
    for expected, got, text in zip(dict_rows, typed(conn, obj, table), raw, strict=True):
        assert list(got) == list(expected)
        for name, value in expected.items():
            assert got[name] == value, (obj, name)
            assert type(got[name]) is type(value), (obj, name, type(got[name]), type(value))
            if types[name] is SqlType.JSON:
                assert text[name] == json_text(value)
            if types[name] is SqlType.TIMESTAMP and value is not None:
                assert got[name].utcoffset() == timedelta(0)


def _dynamic(conn: iterbridge.Connection, obj: str, name: str) -> Any:
    return next(c for c in conn.columns(obj) if c.name == name)


def where_for(api: httpx2.Client, obj: str) -> dict[str, Any] | None:
    """The filter an object needs (InAppMessages must be read per user)."""
    return {"Email": user_emails(api)[:3]} if obj == "InAppMessages" else None


def test_every_object_reads_the_same_rows_as_batches(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    for obj in conn.objects:
        where = where_for(api, obj)
        rows = list(conn.read(obj, where=where))
        table = conn.read_arrow(obj, where=where)
        same(conn, obj, rows, table)
        assert rows or obj == "InAppMessages", obj  # every other object has rows in the tiny project
        batches = list(conn.read_batches(obj, where=where, batch_rows=7))
        assert all(0 < b.num_rows <= 7 for b in batches)
        assert sum(b.num_rows for b in batches) == len(rows)


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_batches_equal_rows_for_every_object_of_generated_projects(seed: int) -> None:
    """Over projects generated from other seeds: every object, row for row, type for type."""
    with Sandbox(make_config(seed=seed)) as sandbox, connect_to(sandbox) as conn:
        emails = [row["Email"] for row in conn.read("Users", columns=["Email"], limit=3)]
        for obj in conn.objects:
            where = {"Email": emails} if obj == "InAppMessages" else None
            same(conn, obj, list(conn.read(obj, where=where)), conn.read_arrow(obj, where=where))


def test_the_schema_is_the_catalogs_even_without_rows(conn: iterbridge.Connection) -> None:
    table = conn.read_arrow("Events", where={"EventType": "emailSend", "Email": "nobody@example.com"})
    assert table.num_rows == 0
    assert [(f.name, f.type) for f in table.schema] == [(c.name, ARROW[c.type.value]) for c in conn.columns("Events")]


@pytest.mark.parametrize(
    ("obj", "where", "row_maker"),
    [("Events", {"EventType": "emailSend"}, "events.to_row"), ("Users", None, "users.profile_row")],
)
def test_exported_objects_are_built_into_columns_not_from_rows(
    conn: iterbridge.Connection, monkeypatch: pytest.MonkeyPatch, obj: str, where: Any, row_maker: str
) -> None:
    """The export path of Events and Users makes no row dict: their row builders are never called."""
    from iterbridge import objects

    rows = list(conn.read(obj, where=where))
    module, name = row_maker.split(".")

    def refused(*_: Any) -> Any:
        raise AssertionError(f"{row_maker} called on the columnar path")

    monkeypatch.setattr(getattr(objects, module), name, refused)
    table = conn.read_arrow(obj, where=where)
    same(conn, obj, rows, table)
    assert table.num_rows > 10


FILTERS: list[tuple[str, dict[str, Any], list[str] | None]] = [
    ("Events", {"EventType": ["emailOpen", "emailClick"]}, None),
    (
        "Events",
        {"CreatedAt": [Condition(">=", ANCHOR - timedelta(days=30)), Condition("<", ANCHOR)]},
        ["createdat", "ID"],
    ),
    ("Events", {"EventType": "emailSend", "CampaignId": Condition(">", 0)}, ["Email", "CampaignId", "DataFields"]),
    ("Events", {"EventType": "purchase", "CreatedAt": Condition("<=", "2026-10-01")}, None),
    ("Events", {"EventType": "emailSend", "MessageId": Condition("<", "8")}, ["MessageId"]),
    ("Events", {"EventType": "emailSend", "CampaignId": "CAMPAIGN AS TEXT"}, None),  # text on an integer column
    ("Users", {"ProfileUpdatedAt": Condition(">=", ANCHOR - timedelta(days=60))}, None),
    ("Users", {"SignupSource": ["API", "Import"]}, ["Email", "EmailListIds", "ExtraFields"]),
    ("Campaigns", {"CampaignState": "Running"}, ["Id", "Name"]),
    ("Templates", {"Id": Condition(">", 0)}, None),
    ("Lists", {"Id": "LIST IDS"}, None),
]


@pytest.mark.parametrize(("obj", "where", "columns"), FILTERS)
def test_filters_and_selections_match_read(
    conn: iterbridge.Connection, obj: str, where: dict[str, Any], columns: list[str] | None
) -> None:
    where = {name: known(conn, value) for name, value in where.items()}
    rows = list(conn.read(obj, where=where, columns=columns))
    assert rows
    same(conn, obj, rows, conn.read_arrow(obj, where=where, columns=columns))


def known(conn: iterbridge.Connection, value: Any) -> Any:
    """Values of the project: a campaign id as text, list ids of mixed types with one unknown."""
    if value == "CAMPAIGN AS TEXT":
        return str(next(conn.read("Events", where={"EventType": "emailSend"}, limit=1))["CampaignId"])
    if value == "LIST IDS":
        ids = [row["Id"] for row in conn.read("Lists", columns=["Id"])]
        return [ids[0], str(ids[1]), 999_999_999]
    return value


def test_users_by_email_and_events_by_user(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    emails = user_emails(api)[:2]
    for obj in ("Users", "Events"):
        rows = list(conn.read(obj, where={"Email": emails}))
        assert rows
        same(conn, obj, rows, conn.read_arrow(obj, where={"Email": emails}))


def test_compute_filters_have_the_predicates_semantics() -> None:
    """Arrow kernels where the value's type is the column's, the predicate otherwise: both as Condition says."""
    moments = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3)]
    batch = pa.RecordBatch.from_pydict(
        {"T": ["a", None, "b"], "I": [1, None, 3], "S": [*moments[:1], None, *moments[2:]], "B": [True, None, False]},
        schema=pa.schema(
            [("T", pa.string()), ("I", pa.int64()), ("S", pa.timestamp("us", tz="UTC")), ("B", pa.bool_())]
        ),
    )
    types = {"T": SqlType.TEXT, "I": SqlType.INTEGER, "S": SqlType.TIMESTAMP, "B": SqlType.BOOLEAN}
    conditions = [
        ("T", Condition("=", "a")), ("T", Condition("in", ["b", 1])), ("T", Condition(">", "a")),
        ("I", Condition("=", "3")), ("I", Condition(">=", 2)), ("I", Condition("in", [1, 3])),
        ("I", Condition("<", 2.5)),
        ("S", Condition(">", moments[0])), ("S", Condition("=", "2026-01-03")), ("S", Condition("in", moments)),
        ("B", Condition("=", True)), ("B", Condition("=", 0)),
    ]  # fmt: skip
    for name, condition in conditions:
        kept = keep(batch, {name: [condition]}, types)
        check = condition.predicate()
        wanted = [row for row in batch.to_pylist() if check(row[name])]
        assert kept.to_pylist() == wanted, (name, condition)


def test_a_batch_every_row_of_which_is_kept_is_given_as_it_is() -> None:
    """No filter copies a batch that the conditions leave whole (an export window's usual case); one that loses
    a row, or has a null where a condition looks, is filtered."""
    batch = pa.RecordBatch.from_pydict({"I": [1, 2, 3]}, schema=pa.schema([("I", pa.int64())]))
    types = {"I": SqlType.INTEGER}
    assert keep(batch, {"I": [Condition(">=", 1), Condition("<", 4)]}, types) is batch
    assert keep(batch, {"I": [Condition(">=", 2)]}, types).column("I").to_pylist() == [2, 3]
    nulls = pa.RecordBatch.from_pydict({"I": [1, None]}, schema=pa.schema([("I", pa.int64())]))
    assert keep(nulls, {"I": [Condition(">=", 1)]}, types).column("I").to_pylist() == [1]


def test_after_writes_new_fields_and_events_without_ids(sandbox: Sandbox, api: httpx2.Client) -> None:
    email = user_emails(api)[1]
    with connect_to(sandbox) as conn:
        conn.columns("Users")  # learned before the new fields exist: they land in ExtraFields
        new = {"shoeSize": 42, "prefs": {"color": "red", "sizes": [1, 2]}, "zeta": "é"}
        assert conn.insert("Users", [{"Email": "arrow.new@example.com", "ExtraFields": new}]).succeeded == 1
        api.post("/api/users/update", json={"email": email, "dataFields": new}).raise_for_status()
        events = [{"EventName": "arrowTest", "Email": email, "DataFields": {"n": n, "b": [n, "x"]}} for n in range(3)]
        assert conn.insert("Events", events).succeeded == 3  # no Id: the stable Id is hashed from the record
        for obj, where in (("Users", None), ("Events", {"EventType": "customEvent"})):
            rows = list(conn.read(obj, where=where))
            same(conn, obj, rows, conn.read_arrow(obj, where=where))
        extra = conn.read_arrow("Users", where={"Email": email}, columns=["ExtraFields"]).column(0).to_pylist()
        assert extra == [json_text(new)]
        tracked = conn.read_arrow("Events", where={"EventType": "customEvent", "EventName": "arrowTest"})
        assert tracked.num_rows == 3
        assert len(set(tracked.column("Id").to_pylist())) == 3


@pytest.mark.parametrize("obj", ["Events", "Users"])
def test_malformed_lines_same_rows_same_quarantine(
    sandbox: Sandbox, stats: Stats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, obj: str
) -> None:
    monkeypatch.setenv(jsonlines.QUARANTINE_DIR_ENV, str(tmp_path))
    stats.faults(missing_comma_every=2, garbage_every=7)
    where = {"EventType": "emailSend"} if obj == "Events" else None
    with connect_to(sandbox) as by_rows, connect_to(sandbox) as by_batches:
        rows = list(by_rows.read(obj, where=where))
        table = by_batches.read_arrow(obj, where=where)
        same(by_batches, obj, rows, table)
        assert by_batches.quarantine.kept == by_rows.quarantine.kept > 2
        assert by_batches.quarantine.repaired == by_rows.quarantine.repaired
        assert by_rows.quarantine.path is not None
        assert by_batches.quarantine.path is not None
        assert by_batches.quarantine.path.read_bytes() == by_rows.quarantine.path.read_bytes()
        assert by_batches.skipped == by_rows.skipped


def test_a_bad_batch_size_is_refused(conn: iterbridge.Connection) -> None:
    with pytest.raises(iterbridge.errors.QueryError, match="batch_rows"):
        next(conn.read_batches("Lists", batch_rows=0))


def test_event_batches_ids_and_data_fields_equal_the_rows_for_odd_values() -> None:
    """The batch builder joins the Id's text from two serialisations; whatever a record holds (objects where a
    scalar is expected, unicode, a 2**70 integer orjson cannot write, dataFields overriding a field, an id),
    the Ids and DataFields are the dict rows' own, and the caller's records are left as they were."""
    from iterbridge.objects.events import EVENTS, to_row
    from iterbridge.objects.events_arrow import event_batches

    created = "2026-05-05 04:22:12 +00:00"
    records = [
        {"email": "a@x.com", "createdAt": created, "campaignId": {"z": 1, "a": [{"y": 2, "b": 3}]}, "k": 'ü\n"'},
        {"email": "b@x.com", "createdAt": created, "big": 2**70, "dataFields": {"k": 1, "big": 2}, "k": 2},
        {"userId": 5, "createdAt": created, "id": 0, "itblInternal": {"x": 1}, "eventName": "é", "templateId": 3},
        {"email": "c@x.com", "createdAt": created, "id": "abc", "messageId": None, "dataFields": "not an object"},
    ]
    kept = copy.deepcopy(records)
    (batch,) = event_batches(iter(records), "customEvent", EVENTS.columns, 10)
    assert records == kept
    rows = [to_row(record, "customEvent") for record in copy.deepcopy(records)]
    for got, want in zip(batch.to_pylist(), rows, strict=True):
        assert got["Id"] == want["Id"]
        assert got["DataFields"] == json_text(want["DataFields"])


def test_event_batches_parse_other_timestamp_forms_as_rows_do() -> None:
    """createdAt in another form (epoch ms, ISO with a fraction) is parsed per row as to_row parses it; a date
    that does not exist fails as the dict rows fail."""
    from iterbridge.objects.events import EVENTS, to_row
    from iterbridge.objects.events_arrow import event_batches

    records = [
        {"email": "a@x.com", "createdAt": "2026-05-05 04:22:12 +00:00", "dataFields": {"b": 1, "a": [2]}, "x": None},
        {"email": "b@x.com", "createdAt": 1_780_000_000_123, "id": "abc", "campaignId": 7},
        {"email": "c@x.com", "createdAt": "2026-05-05T04:22:12.5+02:00", "userId": 12},
    ]
    for chosen in (records[:1], records):
        (batch,) = event_batches(iter(chosen), "customEvent", EVENTS.columns, 10)
        rows = [to_row(record, "customEvent") for record in chosen]
        for got, want in zip(batch.to_pylist(), rows, strict=True):
            assert got == {**want, "DataFields": json_text(want["DataFields"])}
    with pytest.raises(ValueError):  # noqa: PT011 - the parser's own message
        to_row({"createdAt": "2026-13-05 04:22:12 +00:00"}, "customEvent")
    with pytest.raises(ValueError):  # noqa: PT011
        list(event_batches(iter([{"createdAt": "2026-13-05 04:22:12 +00:00"}]), "customEvent", EVENTS.columns, 10))


@pytest.mark.parametrize(
    "text", ["2026-02-30 00:00:00 +00:00", "2025-02-29 10:00:00 +00:00", "2026-01-01 23:59:60 +00:00"]
)
def test_a_moment_strptime_would_roll_over_is_no_real_date(text: str) -> None:
    """Arrow's strptime takes February 30 for March 2 and 23:59:60 for the next day, where Python refuses them: in
    a batch such a text is what the dict rows make of it (a timestamp column's NULL, an event's error), not a
    moment nobody sent."""
    from iterbridge.objects.arrow import array
    from iterbridge.objects.base import convert
    from iterbridge.objects.events import EVENTS, to_row
    from iterbridge.objects.events_arrow import event_batches

    good = "2026-05-05 04:22:12 +00:00"
    assert array([good, text], SqlType.TIMESTAMP).to_pylist() == [convert(good, SqlType.TIMESTAMP), None]
    assert convert(text, SqlType.TIMESTAMP) is None
    with pytest.raises(ValueError):  # noqa: PT011 - the parser's own message
        to_row({"createdAt": text}, "customEvent")
    with pytest.raises(ValueError):  # noqa: PT011
        list(event_batches(iter([{"createdAt": good}, {"createdAt": text}]), "customEvent", EVENTS.columns, 10))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([2**63 - 1, -(2**63), "12", 7.9], [2**63 - 1, -(2**63), 12, 7]),
        ([2**63, 9.223372036854776e18, -(2**63) - 1, "99999999999999999999", 1e300], [None] * 5),
    ],
)
def test_an_integer_beyond_64_bits_is_null_in_dict_rows_and_batches(values: list[Any], expected: list[Any]) -> None:
    """An INTEGER column holds what 64 bits hold (every target's integer): a custom field sent beyond that (a
    float of 2**63, a 20-digit number) is NULL in dict rows and batches alike, not a read that fails."""
    from iterbridge.objects.arrow import array
    from iterbridge.objects.base import convert

    assert [convert(v, SqlType.INTEGER) for v in values] == expected
    assert array(values, SqlType.INTEGER).to_pylist() == expected


@pytest.mark.parametrize("values", [[1_700_000_000_000, None], [1_700_000_000, 2.5], [253_402_300_800_000.0]])
def test_a_number_in_a_timestamp_column_is_the_dict_rows_moment(values: list[Any]) -> None:
    """A number in a timestamp column (a custom date field sent as epoch) is the moment the dict rows make of it
    (epoch seconds or milliseconds), not Arrow's microseconds; beyond year 9999 it is NULL, not a failed read."""
    from iterbridge.objects.arrow import array
    from iterbridge.objects.base import convert

    expected = [convert(v, SqlType.TIMESTAMP) for v in values]
    assert array(values, SqlType.TIMESTAMP).to_pylist() == expected
    assert expected[0] is None or expected[0].year >= 2023
