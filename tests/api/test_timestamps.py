"""The one timestamp parser: every format Iterable serves → an aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iterbridge.api.timestamps import from_epoch, iterable_format, parse_timestamp, sql_text, to_epoch_ms, utc_text

MOMENT = datetime(2025, 12, 19, 22, 43, 34, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # epoch milliseconds: campaigns, templates, lists, catalog items, in-app messages
        (1766184214000, MOMENT),
        (1766184214134, MOMENT.replace(microsecond=134000)),
        ("1766184214000", MOMENT),
        # epoch seconds: told apart from milliseconds by size
        (1766184214, MOMENT),
        (1766184214.5, MOMENT.replace(microsecond=500000)),
        # users, events and exports
        ("2025-12-19 22:43:34 +00:00", MOMENT),
        ("2025-12-19 22:43:34 +0000", MOMENT),
        ("2025-12-19 23:43:34 +01:00", MOMENT),
        ("2025-12-19 14:43:34 -0800", MOMENT),
        ("2025-12-19 22:43:34", MOMENT),
        # ISO-8601
        ("2025-12-19T22:43:34Z", MOMENT),
        ("2025-12-19T22:43:34.134Z", MOMENT.replace(microsecond=134000)),
        ("2025-12-19T22:43:34.134105Z", MOMENT.replace(microsecond=134105)),
        ("2025-12-19 22:43:34.134105+00:00", MOMENT.replace(microsecond=134105)),  # as databases give it back
        ("2025-12-19 22:43:34.5", MOMENT.replace(microsecond=500000)),
        ("2025-12-19T22:43:34.1341059Z", MOMENT.replace(microsecond=134105)),
        ("2025-12-19T16:43:34.000-06:00", MOMENT),
        ("2025-12-20T04:13:34+05:30", MOMENT),
        ("2025-12-20T00:43:34+02", MOMENT),
        # date only
        ("2025-12-19", MOMENT.replace(hour=0, minute=0, second=0)),
        # the malformed double fraction seen in real exports
        ("2025-12-19T22:43:34.134105.000Z", MOMENT.replace(microsecond=134105)),
        # already a datetime: aware ones converted, naive ones taken as UTC
        (datetime(2025, 12, 19, 23, 43, 34, tzinfo=timezone(timedelta(hours=1))), MOMENT),
        (datetime(2025, 12, 19, 22, 43, 34), MOMENT),
        # surrounding whitespace
        ("  2025-12-19 22:43:34 +00:00\n", MOMENT),
    ],
)
def test_every_format_parses_to_utc(value: object, expected: datetime) -> None:
    parsed = parse_timestamp(value)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("value", [None, ""])
def test_nothing_is_none(value: object) -> None:
    assert parse_timestamp(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2025-13-01",
        "2025-12-32 10:00:00",
        "2025-12-19 25:00:00",
        "19/12/2025",
        "2025-12-19 22:43:34 +00:00 extra",
        "12:00:00",
        True,
        [2025, 12, 19],
    ],
)
def test_garbage_raises_value_error(value: object) -> None:
    with pytest.raises(ValueError, match=r"timestamp|month|day|hour|out of range"):
        parse_timestamp(value)


def test_request_and_sql_forms_are_utc_without_offset() -> None:
    moment = datetime(2025, 12, 19, 23, 43, 34, 500000, tzinfo=timezone(timedelta(hours=1)))
    assert iterable_format(moment) == "2025-12-19 22:43:34"
    assert sql_text(moment) == "2025-12-19 22:43:34"
    assert sql_text(None) is None


moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@pytest.mark.parametrize("milliseconds", [274288840479, 1766184214134, 2149321161240, 2191214080318])
def test_epoch_milliseconds_are_exact(milliseconds: int) -> None:
    # Float seconds lost a millisecond on these (found by a brute-force search, now integer arithmetic).
    moment = parse_timestamp(milliseconds)
    assert moment is not None
    assert to_epoch_ms(moment) == milliseconds
    assert moment.microsecond == milliseconds % 1000 * 1000


@given(moments)
def test_epoch_milliseconds_round_trip(moment: datetime) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    milliseconds = to_epoch_ms(moment)
    assert parse_timestamp(milliseconds) == moment
    assert parse_timestamp(str(milliseconds)) == moment
    assert to_epoch_ms(from_epoch(milliseconds)) == milliseconds


@given(moments, offsets)
def test_text_forms_round_trip(moment: datetime, offset: timezone) -> None:
    local = moment.astimezone(offset)
    assert parse_timestamp(local.isoformat()) == moment
    assert parse_timestamp(local.isoformat().replace("+00:00", "Z")) == moment
    whole = moment.replace(microsecond=0)
    assert parse_timestamp(whole.astimezone(offset).strftime("%Y-%m-%d %H:%M:%S %z")) == whole
    assert parse_timestamp(whole.strftime("%Y-%m-%d %H:%M:%S +00:00")) == whole
    assert parse_timestamp(iterable_format(local)) == whole


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)), offsets)
def test_utc_text_is_strftimes_text_in_utc(moment: datetime, offset: timezone) -> None:
    """The table-made form equals the library's, for any moment, fraction and offset (years before 1000 too)."""
    expected = moment.isoformat(" ", "seconds")[:19]
    assert utc_text(moment) == expected
    assert utc_text(moment.astimezone(offset)) == expected
