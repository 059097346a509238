"""Faults on demand: the misbehaviour of the real API, reproduced when a test asks for it.

Set from the CLI (`--fault name=value`) or at run time through `POST /_sandbox/faults` with a JSON object
of the same names. Every random decision uses its own seeded stream, so a failing test fails the same way
twice.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any


class FaultError(ValueError):
    """A fault setting that cannot be understood; the message names it."""


@dataclass
class Faults:
    """Each field is one kind of fault; the defaults mean a healthy API."""

    # 500 GenericError on lists/getUsers (and lists/{id}/size) for these list ids, every time.
    error_lists: list[int] = field(default_factory=list)
    # 500 GenericError on this fraction of /api requests (matching `error_endpoint` when set).
    error_rate: float = 0.0
    error_endpoint: str = ""
    # 503 "Request timeout" on the next N lists/getUsers calls (-1: every call).
    getusers_503: int = 0
    # 429 RateLimitExceeded on the next N /api requests (matching `burst_endpoint` when set).
    burst_429: int = 0
    burst_endpoint: str = ""
    # Extra latency on every /api response (matching `slow_endpoint` when set).
    latency_ms: float = 0.0
    slow_endpoint: str = ""
    # Export streams (data.json, data.csv, userEvents, getUsers) drop the connection after N lines.
    drop_after_lines: int = 0
    # How many more streams to drop (-1: every stream).
    drop_streams: int = -1
    # Writes become visible to reads only after this many seconds (eventual consistency).
    consistency_delay_s: float = 0.0
    # Async export jobs report exportTruncated=true.
    export_truncated: bool = False
    # Add a Retry-After header (seconds) to 429 responses; Iterable does not send one.
    retry_after_s: int = 0
    # JSON export lines (data.json, userEvents, export job files) that are not JSON, as Iterable has served
    # them: every Nth line with a transactionalData value lacks the comma after it (a defect seen in a
    # recorded data.json answer), and every Nth line is cut short or garbage (alternately).
    missing_comma_every: int = 0
    garbage_every: int = 0

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        coerced = {}
        for name, value in changes.items():
            if name not in known:
                raise FaultError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
            coerced[name] = _coerce(name, value, getattr(self, name))
        for name, value in coerced.items():  # all or nothing: a refused update changes no setting
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, assignments: list[str]) -> Faults:
        """From CLI strings "name=value" (lists as comma-separated values)."""
        faults = cls()
        for assignment in assignments:
            name, sep, value = assignment.partition("=")
            if not sep:
                raise FaultError(f"--fault expects name=value, not {assignment!r}")
            faults.update({name.strip(): value.strip()})
        return faults


def _coerce(name: str, value: Any, current: Any) -> Any:
    try:
        if isinstance(current, bool):
            if isinstance(value, str):
                return value.lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(current, list):
            if isinstance(value, str):
                return [int(part) for part in value.split(",") if part.strip()]
            return [int(part) for part in value]
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise FaultError(f"fault {name}: cannot use {value!r}") from None


class FaultInjector:
    """Decides, request by request, which configured fault fires."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self._seed = seed
        self._random = random.Random(seed ^ 0xFA17)

    def reset(self, faults: Faults) -> None:
        """New faults, and the random stream from its start: after a reset, the same calls fail the same way."""
        self.faults = faults
        self._random = random.Random(self._seed ^ 0xFA17)

    def take_burst_429(self, endpoint: str) -> bool:
        if self.faults.burst_429 and _matches(self.faults.burst_endpoint, endpoint):
            self.faults.burst_429 -= 1
            return True
        return False

    def random_500(self, endpoint: str) -> bool:
        rate = self.faults.error_rate
        return rate > 0 and _matches(self.faults.error_endpoint, endpoint) and self._random.random() < rate

    def latency_s(self, endpoint: str) -> float:
        if self.faults.latency_ms and _matches(self.faults.slow_endpoint, endpoint):
            return self.faults.latency_ms / 1000
        return 0.0

    def take_getusers_503(self) -> bool:
        if self.faults.getusers_503 == 0:
            return False
        if self.faults.getusers_503 > 0:
            self.faults.getusers_503 -= 1
        return True

    def stream_line_limit(self) -> int | None:
        """Lines after which this stream is dropped, or None to let it finish."""
        if self.faults.drop_after_lines <= 0 or self.faults.drop_streams == 0:
            return None
        if self.faults.drop_streams > 0:
            self.faults.drop_streams -= 1
        return self.faults.drop_after_lines


# The comma after a transactionalData value, where the next key follows: the one Iterable left out.
_COMMA_AFTER_DATA = re.compile(rb'("transactionalData":"(?:[^"\\]|\\.)*"),(?=")')
GARBAGE_LINE = b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"


def spoil(faults: Faults, blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Blocks of JSON lines, some spoiled when the malformed-line faults are set."""
    if faults.missing_comma_every <= 0 and faults.garbage_every <= 0:
        return blocks
    return spoiled(blocks, faults.missing_comma_every, faults.garbage_every)


def spoiled(blocks: Iterable[bytes], missing_comma_every: int, garbage_every: int) -> Iterator[bytes]:
    """The lines of `blocks` with every `garbage_every`th line cut in half or replaced by an HTML error page
    (alternately), and the comma after transactionalData left out of every `missing_comma_every`th line that has
    one (0: never). Deterministic: the same stream is spoiled the same way."""
    number = with_data = garbage = 0
    for block in blocks:
        out = []
        for line in block.splitlines(keepends=True):
            number += 1
            if garbage_every > 0 and number % garbage_every == 0:
                garbage += 1
                out.append(line[: len(line) // 2] + b"\n" if garbage % 2 else GARBAGE_LINE)
                continue
            if missing_comma_every > 0 and _COMMA_AFTER_DATA.search(line):
                with_data += 1
                if with_data % missing_comma_every == 0:
                    line = _COMMA_AFTER_DATA.sub(rb"\1", line, count=1)
            out.append(line)
        yield b"".join(out)


def _matches(pattern: str, endpoint: str) -> bool:
    return not pattern or pattern in endpoint
