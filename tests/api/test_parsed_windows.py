"""Windows parsed while they download (api/parsed_window.py): the exports' rules hold — nothing of a window is
given out, counted or quarantined before its stream completed; a dropped stream's lines are read again, never
kept twice; a parser's error is the read's error; a read that stops ends its parser and leaves no file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pyarrow as pa
import pytest

from helpers import ANCHOR, FAST_RETRY
from iterbridge.api import parsed_window
from iterbridge.api.async_export import AsyncExportReader
from iterbridge.api.client import ApiClient
from iterbridge.api.exports import ExportReader
from iterbridge.api.jsonlines import JsonLines, LineBlock, Quarantine
from iterbridge.api.ratelimit import ClientRateLimiter

START = ANCHOR - timedelta(days=1)
SECONDS = 600  # one line a second
GARBAGE = {17, 250, 251, 480}  # seconds whose line is not JSON
REPAIRABLE = {33, 400}  # seconds whose line lacks the comma after transactionalData


def line(second: int) -> bytes:
    if second in GARBAGE:
        return b"<html>" + str(second).encode() + b" upstream error</html>"
    text = orjson.dumps({"email": f"u{second}@example.org", "createdAt": second, "pad": "x" * 200})
    if second in REPAIRABLE:
        return text[:-1] + b',"transactionalData":"{}""contentId":7}'
    return text


def record_of(second: int) -> dict[str, Any]:
    record = {"email": f"u{second}@example.org", "createdAt": second, "pad": "x" * 200}
    return {**record, "transactionalData": "{}", "contentId": 7} if second in REPAIRABLE else record


def parse_lines(blocks: Iterator[LineBlock]) -> Iterator[Any]:
    """A parser that needs no C scanner: each block's records as one batch of their sorted JSON text."""
    for block in blocks:
        texts = []
        for text in block.data.splitlines():
            record = block.lines.record(text)
            if record is not None:
                texts.append(orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode())
        block.counted(len(texts))
        yield pa.record_batch([pa.array(texts, pa.string())], names=["record"])


class Served:
    """data.json over MockTransport: one line a second from START; the first `drops` streams break after
    `drop_after` lines (the download then halves its window)."""

    def __init__(self, drops: int = 0, drop_after: int = 0) -> None:
        self.drops = drops
        self.drop_after = drop_after
        self.requests: list[tuple[int, int]] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        def second(name: str) -> int:
            moment = datetime.strptime(request.url.params[name], "%Y-%m-%d %H:%M:%S").replace(tzinfo=START.tzinfo)
            return int((moment - START).total_seconds())

        first, end = max(0, second("startDateTime")), min(SECONDS, second("endDateTime"))
        self.requests.append((first, end))
        lines = [line(s) + b"\n" for s in range(first, end)]
        if self.drops:
            self.drops -= 1
            return httpx2.Response(200, stream=Lines(lines[: self.drop_after], drop=True))
        return httpx2.Response(200, stream=Lines(lines))


class Lines(httpx2.SyncByteStream):
    """A line a chunk, as a stream comes in pieces; `drop`: broken after them."""

    def __init__(self, lines: list[bytes], *, drop: bool = False) -> None:
        self.lines = lines
        self.drop = drop

    def __iter__(self) -> Iterator[bytes]:
        yield from self.lines
        if self.drop:
            raise httpx2.RemoteProtocolError("peer closed connection without sending complete message body")


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Blocks of ~1 KB (a few lines) reach the parser while a stream is still coming; spills go to tmp_path."""
    monkeypatch.setattr(parsed_window, "SPOOL_BLOCK_BYTES", 1024)
    monkeypatch.setattr(parsed_window.tempfile, "tempdir", str(tmp_path))


def client_for(served: Served) -> ApiClient:
    transport = httpx2.MockTransport(served.handler)
    return ApiClient("https://api.iterable.test", "k" * 32, transport=transport, limiter=ClientRateLimiter(None),
                     retry=FAST_RETRY)  # fmt: skip


def texts(batches: list[Any]) -> list[str]:
    return [text for batch in batches for text in batch.column("record").to_pylist()]


def expected_texts() -> list[str]:
    return [
        orjson.dumps(record_of(s), option=orjson.OPT_SORT_KEYS).decode() for s in range(SECONDS) if s not in GARBAGE
    ]


def parse_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "iterbridge-parse"]


def test_dropped_streams_give_every_record_once_and_keep_each_bad_line_once(tmp_path: Path) -> None:
    served = Served(drops=2, drop_after=500)  # past every bad line: the dropped streams' parsers saw them all
    quarantine = Quarantine(tmp_path / "quarantine")
    lines = JsonLines(quarantine)
    reader = ExportReader(client_for(served), "emailSend", START, START + timedelta(seconds=SECONDS),
                          lines=lines, parse=parse_lines)  # fmt: skip
    found = texts(list(reader))
    assert sorted(found) == sorted(expected_texts())
    assert reader.stats.drops == 2
    assert reader.stats.records == SECONDS - len(GARBAGE)
    # Kept and counted once each, although two dropped streams had parsed them before their drop.
    assert (quarantine.kept, lines.skipped) == (len(GARBAGE), len(GARBAGE))
    assert (quarantine.repaired, lines.repaired) == (len(REPAIRABLE), len(REPAIRABLE))
    assert quarantine.path is not None
    assert sorted(quarantine.path.read_bytes().splitlines()) == sorted(line(s) for s in GARBAGE)
    assert list(tmp_path.glob("iterbridge-window-*")) == []
    assert parse_threads() == []


def test_nothing_of_a_window_is_given_or_counted_before_it_completed(tmp_path: Path) -> None:
    served = Served()
    quarantine = Quarantine(tmp_path / "quarantine")
    reader = ExportReader(client_for(served), "emailSend", START, START + timedelta(seconds=SECONDS),
                          lines=JsonLines(quarantine), parse=parse_lines)  # fmt: skip
    batches = iter(reader)
    first = next(batches)
    whole = sum(len(line(s)) + 1 for s in range(SECONDS))
    assert reader.stats.bytes == whole  # the whole window was downloaded before its first batch came out
    assert reader.stats.records == SECONDS - len(GARBAGE)  # counted when the window completed
    assert first.num_rows < SECONDS - len(GARBAGE)  # batches as the parser made them: one a block
    assert quarantine.kept == len(GARBAGE)
    batches.close()


def test_a_dropped_window_quarantines_nothing() -> None:
    """A window whose every stream drops ends the read; its bad lines were parsed, never kept."""
    served = Served(drops=100, drop_after=500)
    quarantine = Quarantine()
    reader = ExportReader(client_for(served), "emailSend", START, START + timedelta(seconds=SECONDS),
                          lines=JsonLines(quarantine), parse=parse_lines)  # fmt: skip
    with pytest.raises(Exception, match="dropped"):
        list(reader)
    assert (quarantine.kept, quarantine.repaired, reader.stats.records) == (0, 0, 0)
    assert parse_threads() == []


def test_a_parsers_error_is_the_reads_error_and_leaves_nothing(tmp_path: Path) -> None:
    def failing(blocks: Iterator[LineBlock]) -> Iterator[Any]:
        for number, batch in enumerate(parse_lines(blocks)):
            if number == 3:
                raise ValueError("the parser broke")
            yield batch

    reader = ExportReader(client_for(Served()), "emailSend", START, START + timedelta(seconds=SECONDS),
                          lines=JsonLines(Quarantine(tmp_path)), parse=failing)  # fmt: skip
    with pytest.raises(ValueError, match="the parser broke"):
        list(reader)
    assert reader.stats.records == 0
    assert parse_threads() == []
    assert list(tmp_path.glob("iterbridge-window-*")) == []


def test_a_read_stopped_midway_ends_its_parser_and_removes_its_spill(tmp_path: Path) -> None:
    reader = ExportReader(client_for(Served()), "emailSend", START, START + timedelta(seconds=SECONDS),
                          lines=JsonLines(Quarantine(tmp_path)), parse=parse_lines)  # fmt: skip
    batches = iter(reader)
    next(batches)
    assert len(list(tmp_path.glob("iterbridge-window-*"))) == 1
    batches.close()
    assert list(tmp_path.glob("iterbridge-window-*")) == []
    assert parse_threads() == []


def test_the_spill_is_appended_to_the_file_made_for_it_never_truncated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On ext4 a file truncated to zero is written to disk when closed (the "replace by truncation" heuristic),
    and removing it then waits for that writing (25-70 ms for 100 MB): mkstemp's empty file is appended to."""
    modes: list[str] = []
    opened = pa.OSFile

    def recording(path: str, mode: str = "r", **options: Any) -> Any:
        modes.append(mode)
        return opened(path, mode, **options)

    monkeypatch.setattr(pa, "OSFile", recording)
    reader = ExportReader(client_for(Served()), "emailSend", START, START + timedelta(seconds=SECONDS),
                          lines=JsonLines(Quarantine(tmp_path)), parse=parse_lines)  # fmt: skip
    assert sorted(texts(list(reader))) == sorted(expected_texts())
    assert modes == ["ab", "r"]  # written once by appending, read back once


def test_a_parser_slower_than_the_download_holds_it_back_not_memory(tmp_path: Path) -> None:
    """The download waits for a parser that lags (QUEUE_BLOCKS blocks at most wait in between)."""
    most = 0
    windows: list[parsed_window.ParsedWindow] = []

    def slow(blocks: Iterator[LineBlock]) -> Iterator[Any]:
        nonlocal most
        for batch in parse_lines(blocks):
            threading.Event().wait(0.002)
            most = max(most, windows[0]._blocks.qsize())
            yield batch

    with parsed_window.ParsedWindow(slow, JsonLines(Quarantine(tmp_path))) as parsing:
        windows.append(parsing)
        for second in range(SECONDS):
            parsing.write(line(second) + b"\n")
        parsing.complete()
        assert sorted(texts(list(parsing.items(())))) == sorted(expected_texts())
    assert 0 < most <= parsed_window.QUEUE_BLOCKS


def test_export_jobs_parse_their_files_while_they_download(client: ApiClient, tmp_path: Path) -> None:
    """The asynchronous export's files go through the same window: the same records as data.json gives."""
    expected = sorted(
        orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()
        for record in ExportReader(client, "emailOpen", None, ANCHOR + timedelta(hours=6))
    )
    lines = JsonLines(Quarantine(tmp_path))
    end = ANCHOR + timedelta(hours=6)
    reader = AsyncExportReader(client, "emailOpen", None, end, lines=lines, parse=parse_lines, sleep=lambda _: None)
    assert sorted(texts(list(reader))) == expected
    assert reader.stats.records == len(expected) > 0
    assert parse_threads() == []
