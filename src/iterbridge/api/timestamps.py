"""One parser for every timestamp format Iterable serves (they differ by endpoint, sometimes
malformed).

Epoch milliseconds (campaigns, templates, lists, catalog items, in-app), "YYYY-MM-DD HH:MM:SS +00:00"
(users, events, exports), ISO-8601 with or without the offset's colon, "Z", fractional seconds, and the
malformed double fraction "2025-12-19T22:43:34.134105.000Z" — all to an aware UTC datetime.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PATTERN = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"  # date
    r"(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?"  # time
    r"(?:\.(\d+))?(?:\.\d+)?"  # fraction (and the malformed second fraction)
    r"\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2})?)?\s*$"  # zone
)


def parse_timestamp(value: object) -> datetime | None:
    """An Iterable timestamp → aware UTC datetime; None for None/empty. Raises ValueError when unparsable."""
    if type(value) is str and len(value) == 26 and value.endswith(" +00:00") and value[4] == value[7] == "-":
        # The exports' "YYYY-MM-DD HH:MM:SS +00:00", one per event: the C parser, ~10× the regex's speed.
        try:
            return datetime.fromisoformat(value[:19] + "+00:00")
        except ValueError:
            pass  # not a real date: the general path says why
    elif type(value) is str and len(value) >= 10 and value[4] == value[7] == "-":
        # ISO forms, as databases and CSV files give them ("…T…", "… …", a bare date, fractions, offsets): the
        # C parser again.
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass  # Iterable's malformed forms (a second fraction, "+0000"…): the pattern below
        else:
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, (int, float)):
        return from_epoch(value)
    text = str(value)
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return from_epoch(int(stripped))
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f"not a timestamp: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    moment = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro, tzinfo=UTC
    )
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        moment -= sign * offset
    return moment


def timestamp_or_none(value: object) -> datetime | None:
    """parse_timestamp for values read back from a database or a state table: None instead of an error when
    the value is no timestamp (a cell a user filled by hand must not stop a run)."""
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return None


def from_epoch(number: float) -> datetime:
    """Epoch milliseconds (or seconds, told apart by size) → UTC datetime (exact for integers)."""
    if abs(number) >= 100_000_000_000:
        return _EPOCH + timedelta(milliseconds=number)
    return _EPOCH + timedelta(seconds=number)


def to_epoch_ms(moment: datetime) -> int:
    """An aware (or naive UTC) datetime → epoch milliseconds, in integer arithmetic (no float rounding)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def iterable_format(moment: datetime) -> str:
    """The request format of export and template date filters: "yyyy-MM-dd HH:mm:ss" in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def sql_text(moment: datetime | None) -> str | None:
    """The SQL text form: "YYYY-MM-DD HH:MM:SS" in UTC, so SQLite's date functions work."""
    return None if moment is None else utc_text(moment)


def utc_text(moment: datetime) -> str:
    """ "YYYY-MM-DD HH:MM:SS" in UTC (a fraction cut), from a table of days and one of minutes: ~3× strftime's
    speed, and a CSV export or a query formats one per row."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return _day_text(moment.toordinal()) + _CLOCK[moment.hour * 60 + moment.minute] + _SECONDS[moment.second]


@lru_cache(maxsize=4096)
def _day_text(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat() + " "


_CLOCK = tuple(f"{minute // 60:02d}:{minute % 60:02d}:" for minute in range(1440))
_SECONDS = tuple(f"{second:02d}" for second in range(60))


def floor_millisecond(moment: datetime) -> datetime:
    """A moment at Iterable's precision (its times are epoch milliseconds): what a time iterbridge makes (sync's
    clock) is written like the times Iterable gives, in every target."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso_text(moment: datetime) -> str:
    """ISO text in UTC at Iterable's precision ("2026-11-01T06:00:00.123000+00:00"): the times sync and
    replicate keep in their own tables, alike whichever clock they came from."""
    return floor_millisecond(moment.astimezone(UTC)).isoformat()


def floor_second(moment: datetime) -> datetime:
    """The whole second a moment falls in: the export API reads whole seconds."""
    return moment.replace(microsecond=0)


def ceil_second(moment: datetime) -> datetime:
    """The first whole second at or after a moment."""
    return moment if moment.microsecond == 0 else moment.replace(microsecond=0) + timedelta(seconds=1)
