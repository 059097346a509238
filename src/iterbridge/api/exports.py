"""Reading the export API (data.json) in time windows, exactly once, with flat memory.

Records inside a window come unsorted (Iterable does not order them), so the only safe checkpoint is a
window's end. Each
window is streamed into a spool (memory up to a few MB, then a temporary file) and its records are given
out only once the stream completed; a dropped stream discards the spool and the window is retried smaller
(halved, down to a floor). So a drop never loses nor duplicates a record, and a reader can resume from its
last checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from iterbridge.api.client import ApiClient
from iterbridge.api.jsonlines import JsonLines, Quarantine
from iterbridge.api.parsed_window import Spool, WindowParse, completed, window_items
from iterbridge.api.parsed_window import spool as new_spool
from iterbridge.api.timestamps import ceil_second, floor_second, iterable_format
from iterbridge.errors import RetriableApiError

log = logging.getLogger("iterbridge.api.exports")

EXPORT_ENDPOINT = "GET /api/export/data.json"
EARLIEST = datetime(2013, 1, 1, tzinfo=UTC)  # before Iterable existed: "from the beginning"
_DROPS = (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.ReadTimeout, httpx2.DecodingError)
_SECOND = timedelta(seconds=1)


class StreamDropped(RetriableApiError):
    """The server closed an export stream before its end."""


@dataclass
class WindowPolicy:
    """How windows adapt: start with `initial` (None: the whole range), halve on a drop down to
    `minimum`, double back after `grow_after` clean windows up to `maximum`."""

    initial: timedelta | None = None
    minimum: timedelta = timedelta(seconds=1)
    maximum: timedelta | None = None
    grow_after: int = 2
    max_drops_at_minimum: int = 5


@dataclass
class ExportStats:
    windows: int = 0
    drops: int = 0
    records: int = 0
    bytes: int = 0
    checkpoints: list[datetime] = field(default_factory=list)


class ExportReader:
    """Records of one data type created (or, for users, updated) in [start, end), window by window."""

    def __init__(
        self,
        client: ApiClient,
        data_type: str,
        start: datetime | None,
        end: datetime,
        *,
        only_fields: list[str] | None = None,
        campaign_id: int | None = None,
        policy: WindowPolicy | None = None,
        on_checkpoint: Callable[[datetime], None] | None = None,
        lines: JsonLines | None = None,
        blocks: bool = False,
        parse: WindowParse | None = None,
    ) -> None:
        self.client = client
        self.lines = lines or JsonLines(Quarantine())  # malformed lines: repaired or quarantined, counted
        self.blocks = blocks  # LineBlocks instead of records
        self.parse = parse  # batches instead: each window parsed while it downloads (api/parsed_window.py)
        self.data_type = data_type
        # The API takes whole seconds: widen the range to them, so no window is ever empty once truncated.
        self.start = floor_second(start or EARLIEST)
        self.end = ceil_second(end)
        self.only_fields = only_fields
        self.campaign_id = campaign_id
        self.policy = policy or WindowPolicy()
        self.on_checkpoint = on_checkpoint
        self.stats = ExportStats()

    def __iter__(self) -> Iterator[Any]:
        """Records (dicts), with `blocks` the LineBlocks of each window, with `parse` its batches; in order."""
        policy = self.policy
        minimum = max(policy.minimum, _SECOND)  # the API reads whole seconds: no window is smaller
        cursor = self.start
        window = policy.initial or (self.end - self.start)
        clean = 0
        drops_at_minimum = 0
        while cursor < self.end:
            window_end = min(cursor + window, self.end)
            try:
                spool = self._download(cursor, window_end)
            except StreamDropped:
                if self.client.closed:  # dropped because the program is stopping: nothing to retry
                    raise
                self.stats.drops += 1
                if window <= minimum:
                    drops_at_minimum += 1
                    if drops_at_minimum > policy.max_drops_at_minimum:
                        raise
                window = max(minimum, window / 2)
                clean = 0
                log.warning("export %s dropped; retrying with %s windows", self.data_type, window)
                continue
            drops_at_minimum = 0
            with spool:
                yield from window_items(spool, self.lines, (self.stats,), self.blocks)
            cursor = window_end
            self.stats.windows += 1
            self.stats.checkpoints.append(cursor)
            if self.on_checkpoint:
                self.on_checkpoint(cursor)
            clean += 1
            if clean >= policy.grow_after:
                grown = window * 2
                window = min(grown, policy.maximum) if policy.maximum else grown
                clean = 0

    def _params(self, start: datetime, end: datetime) -> list[tuple[str, str]]:
        params = [
            ("dataTypeName", self.data_type),
            ("startDateTime", iterable_format(start)),
            ("endDateTime", iterable_format(end)),
        ]
        if self.only_fields:
            params.extend(("onlyFields", name) for name in self.only_fields)
        if self.campaign_id is not None:
            params.append(("campaignId", str(self.campaign_id)))
        return params

    def _download(self, start: datetime, end: datetime) -> Spool:
        spool = new_spool(self.parse, self.lines)
        try:
            with self.client.stream(EXPORT_ENDPOINT, params=self._params(start, end)) as response:
                for chunk in response.iter_bytes():
                    spool.write(chunk)
                    self.stats.bytes += len(chunk)
            completed(spool)
        except _DROPS as error:
            spool.close()
            raise StreamDropped(f"{EXPORT_ENDPOINT}: stream dropped ({type(error).__name__})") from None
        except BaseException:
            spool.close()
            raise
        return spool
