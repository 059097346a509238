"""Conditions as the catalog checks them locally (the same test whether or not the API was asked first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import iterbridge
from iterbridge.errors import QueryError
from iterbridge.objects.base import Condition, ReadRequest

MOMENT = datetime(2026, 5, 5, 17, 26, 27, tzinfo=UTC)


@pytest.mark.parametrize(
    ("condition", "actual", "expected"),
    [
        (Condition("=", 5), 5, True),
        (Condition("=", "5"), 5, True),  # SQL text against an integer column
        (Condition("=", 5), "5", True),
        (Condition("=", True), True, True),
        (Condition("=", 1), None, False),
        (Condition("in", [1, 2]), 2, True),
        (Condition("in", []), 2, False),
        (Condition("in", [None]), None, False),
        (Condition("=", "2026-05-05 17:26:27 +00:00"), MOMENT, True),
        (Condition("=", "2026-05-05T19:26:27+02:00"), MOMENT, True),
        (Condition(">=", "2026-05-05 17:26:27"), MOMENT, True),
        (Condition(">", int(MOMENT.timestamp() * 1000)), MOMENT, False),
        (Condition("<", datetime(2026, 5, 5, 17, 26, 28)), MOMENT, True),  # naive: UTC
        (Condition("=", datetime(2026, 5, 5, 17, 26, 27)), MOMENT, True),
        (Condition("in", [datetime(2026, 5, 5, 17, 26, 27)]), MOMENT, True),
        (Condition("=", None), None, False),  # as in SQL: NULL equals nothing
        (Condition("<=", MOMENT - timedelta(microseconds=1)), MOMENT, False),
        (Condition(">", "yesterday"), MOMENT, False),  # not a timestamp: no match, no crash
        (Condition(">", 5), "text", False),  # no order between text and numbers: no match, no crash
        (Condition("<", "10"), 9, True),
        (Condition("<", "ten"), 9, False),
        (Condition(">", 1), None, False),
    ],
)
def test_matches(condition: Condition, actual: object, expected: bool) -> None:
    assert condition.matches(actual) is expected


_VALUES = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.integers(-3, 3),
    st.floats(-3, 3, allow_nan=False),
    st.booleans(),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),  # naive: taken as UTC
    st.sampled_from(["2026-05-05 17:26:27 +00:00", "5", MOMENT]),
)


@given(op=st.sampled_from(["=", "<", "<=", ">", ">="]), wanted=_VALUES, actual=_VALUES)
def test_a_predicate_gives_what_matches_gives(op: str, wanted: object, actual: object) -> None:
    condition = Condition(op, wanted)
    assert condition.predicate()(actual) == condition.matches(actual)


def test_an_unknown_operator_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown operator"):
        Condition("~", 1).matches(1)


def test_values_intersect_and_never_repeat() -> None:
    request = ReadRequest(["Id"], {"Id": [Condition("in", [1, 2, 2, 3, 1]), Condition("in", [2, 3, 4])]})
    assert request.values("Id") == [2, 3]
    assert ReadRequest(["Id"], {"Id": [Condition(">", 1)]}).values("Id") is None
    assert ReadRequest(["Id"], {"Id": [Condition("in", [])]}).values("Id") == []
    assert ReadRequest(["Id"], {"Id": [Condition("=", 1), Condition("=", True)]}).values("Id") == [1]


def test_bounds_widen_to_whole_seconds() -> None:
    request = ReadRequest(
        ["CreatedAt"],
        {"CreatedAt": [Condition(">", MOMENT + timedelta(milliseconds=300)), Condition("<=", "2026-05-06")]},
    )
    assert request.bounds("CreatedAt") == (MOMENT, datetime(2026, 5, 6, 0, 0, 1, tzinfo=UTC))


@given(st.integers(-5, 5), st.sampled_from(["<", "<=", ">", ">=", "="]), st.integers(-5, 5))
def test_order_is_the_order_of_numbers(actual: int, op: str, wanted: int) -> None:
    python = {"<": actual < wanted, "<=": actual <= wanted, ">": actual > wanted, ">=": actual >= wanted}
    assert Condition(op, wanted).matches(actual) is python.get(op, actual == wanted)
    assert Condition(op, str(wanted)).matches(actual) is python.get(op, actual == wanted)


def test_a_timestamp_condition_that_is_no_timestamp_is_refused(conn: iterbridge.Connection) -> None:
    with pytest.raises(QueryError, match=r"Campaigns\.UpdatedAt is a timestamp; 'yesterday' is not one"):
        conn.read("Campaigns", where={"UpdatedAt": [Condition(">", "yesterday")]})
    with pytest.raises(QueryError, match="is a timestamp"):
        conn.read("Lists", where={"CreatedAt": ["2026-01-01", "soon"]})


def test_naive_and_text_timestamps_filter_like_aware_ones(conn: iterbridge.Connection) -> None:
    rows = list(conn.read("Lists"))
    middle = sorted(row["CreatedAt"] for row in rows)[len(rows) // 2]
    expected = [row["Id"] for row in rows if row["CreatedAt"] >= middle]
    for bound in (middle, middle.replace(tzinfo=None), middle.isoformat(), int(middle.timestamp() * 1000)):
        assert [row["Id"] for row in conn.read("Lists", where={"CreatedAt": [Condition(">=", bound)]})] == expected
    exact = list(conn.read("Lists", where={"CreatedAt": middle.strftime("%Y-%m-%d %H:%M:%S.%f")}))
    assert [row["CreatedAt"] for row in exact] == [middle]


def test_an_unsupported_operator_in_a_read(conn: iterbridge.Connection) -> None:
    with pytest.raises(QueryError, match=r"unsupported operator 'like' on Lists\.Name"):
        conn.read("Lists", where={"Name": Condition("like", "V%")})
