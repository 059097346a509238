"""Export lines that are not JSON (recorded in cassettes/Iterable_JsonExporter): Iterable's defect — the
comma missing after `transactionalData` — is repaired to exactly the intended record; any other bad line is
skipped, counted and kept verbatim in the quarantine file; a read never fails on one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
import yaml

import iterbridge
from helpers import FAST_RETRY, Stats
from iterbridge.api import jsonlines
from iterbridge.api.client import ApiClient
from iterbridge.api.exports import ExportReader
from iterbridge.api.jsonlines import JsonLines, Quarantine
from iterbridge.api.ratelimit import ClientRateLimiter
from iterbridge.errors import ConfigurationError

RECORDINGS = Path(__file__).parents[3] / "shared" / "iterable-reference" / "cassettes" / "Iterable_JsonExporter"


def recorded_bodies() -> Iterator[tuple[str, bytes]]:
    """Every 200 data.json body of the recordings, byte for byte as recorded."""
    for path in sorted(RECORDINGS.rglob("*.yml")):
        for number, exchange in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))["http_interactions"]):
            if exchange["response"]["status"]["code"] == 200:
                yield f"{path.relative_to(RECORDINGS)}#{number}", exchange["response"]["body"]["string"].encode()


BODIES = list(recorded_bodies())


def intended(body: bytes) -> list[dict[str, Any]]:
    """What the recorder's lines meant: the comma put back where it went missing (by hand, not by the client)."""
    return [orjson.loads(line.replace(b'"{\\"data\\":[]}""contentId"', b'"{\\"data\\":[]}","contentId"'))
            for line in body.splitlines()]  # fmt: skip


def test_the_recordings_hold_the_defect() -> None:
    assert len(BODIES) >= 6
    for _, body in BODIES:
        lines = body.splitlines()
        assert len(lines) > 20
        for line in lines:
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(line)


@pytest.mark.parametrize(("name", "body"), BODIES, ids=[name for name, _ in BODIES])
def test_a_replayed_recording_reads_as_the_intended_records(name: str, body: bytes, tmp_path: Path) -> None:
    """The recorded bytes served through the client (ApiClient, the data.json reader): every line repaired."""

    def recorded(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/api/export/data.json"
        return httpx2.Response(200, content=body, headers={"content-type": "text/plain; charset=utf-8"})

    client = ApiClient("https://api.iterable.com", "recorded-key", transport=httpx2.MockTransport(recorded),
                       limiter=ClientRateLimiter(None), retry=FAST_RETRY)  # fmt: skip
    quarantine = Quarantine(tmp_path)
    lines = JsonLines(quarantine)
    try:
        reader = ExportReader(client, "emailSend", datetime(2017, 9, 24, tzinfo=UTC),
                              datetime(2017, 10, 24, tzinfo=UTC), lines=lines)  # fmt: skip
        records = list(reader)
    finally:
        client.close()
    assert records == intended(body)
    assert records[0] == {"email": "foo@barbarbar.com", "transactionalData": '{"data":[]}', "contentId": 852858,
                          "campaignId": 166453}  # fmt: skip
    assert lines.repaired == quarantine.repaired == len(records)
    assert lines.skipped == quarantine.kept == 0
    assert quarantine.path is None
    assert not list(tmp_path.iterdir())


# Lines the repair must not touch: each is kept verbatim and skipped.
NOT_REPAIRABLE = {
    "comma missing elsewhere": b'{"email":"a@x.com" "campaignId":1}',
    "defect and cut short": b'{"email":"a@x.com","transactionalData":"{\\"data\\":[]}""contentId":85',
    "defect before the end": b'{"email":"a@x.com","transactionalData":"x""}',
    "another key's missing comma": b'{"email":"a@x.com","transactionalDataX":"x""contentId":1}',
    "the key inside a value": b'{"note":"\\"transactionalData\\":\\"x\\"""contentId":1}',
    "cut in half": b'{"email":"a@x.com","campaignId":16',
    "an HTML page": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    "not UTF-8": b'{"email":"\xff\xfe"}',
    "a JSON array": b"[1, 2]",
    "a JSON string": b'"transactionalData"',
    "null": b"null",
    "a number": b"42",
}


@pytest.mark.parametrize("line", NOT_REPAIRABLE.values(), ids=NOT_REPAIRABLE.keys())
def test_a_line_that_is_not_the_known_defect_is_kept_verbatim(line: bytes, tmp_path: Path) -> None:
    good = [b'{"email":"a@x.com","campaignId":1}\n', b'{"email":"b@x.com","campaignId":2}']
    quarantine = Quarantine(tmp_path)
    lines = JsonLines(quarantine)
    records = list(lines.records([good[0], line + b"\n", good[1]]))
    assert records == [orjson.loads(good[0]), orjson.loads(good[1])]
    assert (lines.repaired, lines.skipped) == (0, 1)
    assert quarantine.path is not None
    assert quarantine.path.parent == tmp_path
    assert quarantine.path.read_bytes() == line + b"\n"


def test_blank_lines_are_neither_records_nor_malformed(tmp_path: Path) -> None:
    lines = JsonLines(Quarantine(tmp_path))
    assert list(lines.records([b"\n", b'{"a":1}\n', b"  \r\n", b""])) == [{"a": 1}]
    assert (lines.repaired, lines.skipped) == (0, 0)


def test_the_quarantine_appends_lines_as_they_came(tmp_path: Path) -> None:
    """Two reads share a run's file; a last line without its newline gets one, so lines stay apart."""
    quarantine = Quarantine(tmp_path / "not" / "yet")
    first, second = JsonLines(quarantine), JsonLines(quarantine)
    list(first.records([b"{bad 1\n", b'{"ok":1}\n']))
    list(second.records([b"{bad 2\n", b"{bad 3"]))
    assert quarantine.path is not None
    assert quarantine.path.read_bytes() == b"{bad 1\n{bad 2\n{bad 3\n"
    assert (first.skipped, second.skipped, quarantine.kept) == (1, 2, 3)
    assert quarantine.summary() == [f"3 malformed export line(s) skipped, kept verbatim in {quarantine.path}"]


def test_a_quarantine_that_cannot_be_written_is_a_one_line_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    lines = JsonLines(Quarantine(blocked / "quarantine"))
    with pytest.raises(ConfigurationError, match=r"cannot keep a malformed export line in .*/file/quarantine \(.*"
                       f"set {jsonlines.QUARANTINE_DIR_ENV} to a writable directory"):  # fmt: skip
        list(lines.records([b'{"ok":1}\n', b"{bad\n"]))


def test_valid_lines_never_reach_the_repair(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The hot path is orjson.loads alone: the repair and the quarantine run only when it raises."""

    def refuse(line: bytes) -> None:
        raise AssertionError(f"repair called on {line!r}")

    monkeypatch.setattr(jsonlines, "repair", refuse)
    valid = [orjson.dumps({"email": f"u{i}@x.com", "transactionalData": '{"data":[]}', "contentId": i}) + b"\n"
             for i in range(1000)]  # fmt: skip
    assert len(list(JsonLines(Quarantine(tmp_path)).records(valid))) == 1000


# ---- end to end: the sandbox serves malformed lines over a real socket ------------------------------------------


def served(api: httpx2.Client, data_type: str) -> list[bytes]:
    """The export's lines as the sandbox serves them now (its faults included)."""
    return api.get("/api/export/data.json", params={"dataTypeName": data_type, "range": "All"}).content.splitlines()


def test_conn_read_skips_and_reports_instead_of_failing(
    conn: iterbridge.Connection, api: httpx2.Client, stats: Stats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(jsonlines.QUARANTINE_DIR_ENV, str(tmp_path))
    clean = list(conn.read("Events", where={"EventType": "emailSend"}))
    healthy = served(api, "emailSend")
    stats.faults(missing_comma_every=2, garbage_every=7)
    spoiled = served(api, "emailSend")
    bad = spoiled[6::7]
    rows = list(conn.read("Events", where={"EventType": "emailSend"}))  # no exception
    # Every good row, repaired ones included, is the clean read's row; only the lines spoiled beyond repair miss.
    assert len(rows) == len(clean) - len(bad)
    clean_by_id = {row["Id"]: row for row in clean}
    assert all(clean_by_id[row["Id"]] == row for row in rows)
    assert conn.quarantine.repaired > 5
    assert conn.quarantine.kept == len(bad) > 3
    assert all(line not in healthy for line in bad)
    path = conn.quarantine.path
    assert path is not None
    assert path.parent == tmp_path
    assert path.read_bytes() == b"".join(line + b"\n" for line in bad)
    (skipped,) = conn.skipped
    assert (skipped.object, skipped.slice) == ("Events", f"{len(bad)} malformed line(s) of the emailSend export")
    assert skipped.reason == "not JSON; kept verbatim in the quarantine file"


def test_export_jobs_skip_and_report_too(
    conn: iterbridge.Connection, api: httpx2.Client, stats: Stats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The asynchronous export's files go through the same parser (a replication's read of Users)."""
    monkeypatch.setenv(jsonlines.QUARANTINE_DIR_ENV, str(tmp_path))
    stats.faults(garbage_every=6)
    bad = served(api, "user")[5::6]
    report = conn.replicate(f"sqlite:///{tmp_path / 'copy.db'}", ["Users"], export_method="async")
    assert report.stream("Users").method == "async export jobs (1 job)"
    assert report.malformed_lines == len(bad) > 2
    assert report.quarantine is not None
    assert Path(report.quarantine).read_bytes() == b"".join(line + b"\n" for line in bad)
    assert report.skipped == [f"Users: {len(bad)} malformed line(s) of the user export: not JSON; kept verbatim in "
                              "the quarantine file"]  # fmt: skip


def test_a_users_events_read_skips_and_reports_too(
    conn: iterbridge.Connection, api: httpx2.Client, stats: Stats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """userEvents (Events filtered by Email) is JSON lines too: the same parser."""
    monkeypatch.setenv(jsonlines.QUARANTINE_DIR_ENV, str(tmp_path))
    email = orjson.loads(served(api, "emailSend")[0])["email"]
    clean = list(conn.read("Events", where={"Email": email}))
    stats.faults(garbage_every=2)
    rows = list(conn.read("Events", where={"Email": email}))
    assert len(rows) == len(clean) - len(clean) // 2
    assert len(clean) >= 2
    (skipped,) = conn.skipped
    assert skipped.slice == f"{len(clean) // 2} malformed line(s) of the userEvents export of Email {email}"
    assert conn.quarantine.kept == len(clean) // 2
