"""The timestamp formats Iterable serves (epoch ms, `YYYY-MM-DD HH:MM:SS +00:00`), fast enough for export streams."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


@lru_cache(maxsize=4096)
def day_prefix(day: int) -> str:
    return time.strftime("%Y-%m-%d ", time.gmtime(day * 86_400))


# "HH:MM:" of each minute of a day and "SS +00:00" of each second: formatting a time is two lookups.
CLOCK_MINUTES = tuple(f"{minute // 60:02d}:{minute % 60:02d}:" for minute in range(1440))
CLOCK_SECONDS = tuple(f"{second:02d} +00:00" for second in range(60))


def iterable_time(ms: int) -> str:
    """Epoch milliseconds → "YYYY-MM-DD HH:MM:SS +00:00", the string form of users, events and exports."""
    day, rest = divmod(ms // 1000, 86_400)
    return day_prefix(day) + CLOCK_MINUTES[rest // 60] + CLOCK_SECONDS[rest % 60]


def iso_millis(ms: int) -> str:
    """Epoch milliseconds → "2022-08-04T08:04:37.000Z" (scheduled-message messages)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_offset(ms: int) -> str:
    """Epoch milliseconds → "2023-12-19T16:12:28.214+00:00" (export job times)."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def date_only(ms: int) -> str:
    return day_prefix(ms // DAY_MS).strip()


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


_INPUT_FORMATS = (
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f %z",
    "%Y-%m-%d",
)


def parse_input(text: str) -> int | None:
    """A request's date parameter → epoch ms (UTC when no zone), or None when Iterable would reject it.

    Accepts what Iterable documents for inputs: "yyyy-MM-dd HH:mm:ss [ZZ]", ISO-8601 (with "Z"), a plain
    date, and epoch numbers.
    """
    text = text.strip()
    if text.isdigit():
        number = int(text)
        return number if number > 10**11 else number * 1000
    candidate = text[:-1] + "+0000" if text.endswith("Z") else text
    for fmt in _INPUT_FORMATS:
        try:
            parsed = datetime.strptime(candidate, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return to_ms(parsed)
    return None
