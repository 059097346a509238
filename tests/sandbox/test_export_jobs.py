"""Asynchronous exports: start a job, watch its files appear, download them through expiring URLs, cancel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import orjson
import pytest

from helpers import FakeClock
from iterbridge.sandbox.world import exports

Serve = Callable[..., httpx2.Client]
JSON_STREAM = "application/x-json-stream"
WINDOW = {"startDateTime": "2026-05-01 00:00:00", "endDateTime": "2026-11-01 06:00:00"}


def _start(client: httpx2.Client, data_type: str = "emailSend", output: str = JSON_STREAM, **extra: Any) -> int:
    response = client.post("/api/export/start", json={"dataTypeName": data_type, "outputFormat": output, **extra})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"jobId"}
    job_id: int = response.json()["jobId"]
    return job_id


def _files(client: httpx2.Client, job_id: int, start_after: str | None = None) -> dict[str, Any]:
    params = {"startAfter": start_after} if start_after else None
    response = client.get(f"/api/export/{job_id}/files", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def _wait(client: httpx2.Client, job_id: int, *states: str) -> dict[str, Any]:
    """Poll the job (its worker is a real thread) until it reaches one of `states`."""
    deadline = time.monotonic() + 20
    while True:
        page = _files(client, job_id)
        if page["jobState"] in states:
            return page
        assert time.monotonic() < deadline, page
        time.sleep(0.01)


def _all_files(client: httpx2.Client, job_id: int) -> list[dict[str, str]]:
    """Every file of a job, page by page (startAfter = the last name of the previous page)."""
    files: list[dict[str, str]] = []
    start_after = None
    while True:
        page = _files(client, job_id, start_after)["files"]
        assert len(page) <= 10
        if not page:
            return files
        files += page
        start_after = page[-1]["file"]


def _jobs(client: httpx2.Client, state: str | None = None) -> list[dict[str, Any]]:
    params = {"jobState": state} if state else None
    jobs: list[dict[str, Any]] = client.get("/api/export/jobs", params=params).json()["jobs"]
    return jobs


@dataclass
class Gate:
    """Holds every export job's worker after its first 40 lines, until the test opens the gate."""

    opened: threading.Event = field(default_factory=threading.Event)
    parked: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    def set(self) -> None:
        self.opened.set()

    def wait_parked(self, workers: int = 1) -> None:
        """Until this many workers wait at the gate."""
        for _ in range(workers):
            assert self.parked.acquire(timeout=20)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    held = Gate()
    original = exports.lines

    def gated(world: Any, query: Any, output_format: str) -> Iterator[bytes]:
        blocks = original(world, query, output_format)  # blocks of whole lines: held line by line
        for number, line in enumerate(line for block in blocks for line in block.splitlines(keepends=True)):
            if number == 40:
                held.parked.release()
                held.opened.wait(20)
            yield line

    monkeypatch.setattr(exports, "lines", gated)
    try:
        yield held
    finally:
        held.set()


# ---- a job from start to download ---------------------------------------------------------------------------


def test_a_job_completes_and_its_files_hold_the_export(api: httpx2.Client, admin: httpx2.Client) -> None:
    job_id = _start(api, **WINDOW)
    page = _wait(api, job_id, "completed")
    assert page["jobId"] == job_id
    assert page["exportTruncated"] is False
    assert len(page["files"]) == 1
    url = page["files"][0]["url"]
    assert page["files"][0]["file"].endswith(".json")
    downloaded = admin.get(url)  # a pre-signed URL: no Api-Key
    assert downloaded.status_code == 200
    expected = api.get("/api/export/data.json", params={"dataTypeName": "emailSend", **WINDOW})
    assert downloaded.content == expected.content
    assert len(downloaded.content.splitlines()) > 20


def test_the_job_listing(api: httpx2.Client, clock: FakeClock) -> None:
    job_id = _start(api, "user", "text/csv")
    _wait(api, job_id, "completed")
    (job,) = _jobs(api)
    assert job["id"] == job_id
    assert job["dataTypeName"] == "user"
    assert job["jobState"] == "completed"
    assert job["scheduledStartTime"] == "2026-11-01T06:00:00.000+00:00"
    assert job["endTime"] == "2026-11-01T06:00:00.000+00:00"
    total = sum(len(api.get(f["url"]).content) for f in _all_files(api, job_id))
    assert job["bytesExported"] == total > 0


def test_files_are_small_and_paged_by_ten(serve: Serve) -> None:
    client = serve(FakeClock(), export_file_max_bytes=2_000)
    job_id = _start(client, **WINDOW)
    _wait(client, job_id, "completed")
    files = _all_files(client, job_id)
    assert len(files) > 20
    names = [f["file"] for f in files]
    assert len(set(names)) == len(names)
    assert names == sorted(names)
    assert len(_files(client, job_id)["files"]) == 10
    assert _files(client, job_id, names[9])["files"][0]["file"] == names[10]
    assert _files(client, job_id, names[-1])["files"] == []
    bodies = [client.get(f["url"], headers={"Api-Key": ""}).content for f in files]
    assert all(len(body) <= 2_000 for body in bodies)
    assert all(body.endswith(b"\n") for body in bodies)  # files split between lines
    expected = client.get("/api/export/data.json", params={"dataTypeName": "emailSend", **WINDOW}).content
    assert b"".join(bodies) == expected


def test_csv_files_each_start_with_the_header(serve: Serve) -> None:
    client = serve(FakeClock(), export_file_max_bytes=3_000)
    job_id = _start(client, "emailOpen", "text/csv", **WINDOW)
    _wait(client, job_id, "completed")
    files = _all_files(client, job_id)
    assert len(files) > 1
    assert all(f["file"].endswith(".csv") for f in files)
    expected = client.get("/api/export/data.csv", params={"dataTypeName": "emailOpen", **WINDOW}).text.splitlines()
    rows: list[str] = []
    for file in files:
        lines = client.get(file["url"]).text.splitlines()
        assert lines[0] == expected[0]
        rows += lines[1:]
    assert rows == expected[1:]


def test_job_options_shape_the_files(api: httpx2.Client) -> None:
    job_id = _start(api, onlyFields="email,campaignId", campaignId=None, **WINDOW)
    records = [orjson.loads(line) for line in api.get(_wait(api, job_id, "completed")["files"][0]["url"]).content
               .splitlines()]  # fmt: skip
    assert records
    assert all(set(r) == {"email", "campaignId", "createdAt"} for r in records)
    iso = _start(api, startDateTime="2026-10-01T00:00:00.000Z", endDateTime="2026-10-15T00:00:00Z")
    window = api.get(_wait(api, iso, "completed")["files"][0]["url"]).content
    window_params = {"startDateTime": "2026-10-01 00:00:00", "endDateTime": "2026-10-15 00:00:00"}
    expected = api.get("/api/export/data.json", params={"dataTypeName": "emailSend", **window_params}).content
    assert window == expected


def test_an_empty_export_has_one_empty_file(api: httpx2.Client) -> None:
    job_id = _start(api, "whatsAppSend")
    page = _wait(api, job_id, "completed")
    assert len(page["files"]) == 1
    assert api.get(page["files"][0]["url"]).content == b""


# ---- expiring URLs -----------------------------------------------------------------------------------------


def test_urls_expire(api: httpx2.Client, admin: httpx2.Client, clock: FakeClock) -> None:
    job_id = _start(api)
    url = _wait(api, job_id, "completed")["files"][0]["url"]
    clock.advance(1799)
    assert admin.get(url).status_code == 200
    clock.advance(2)
    expired = admin.get(url)
    assert expired.status_code == 403
    assert "<Message>Request has expired</Message>" in expired.text
    fresh = _files(api, job_id)["files"][0]["url"]  # re-fetch the page for new URLs
    assert fresh != url
    assert admin.get(fresh).status_code == 200


def test_a_shorter_ttl(serve: Serve) -> None:
    clock = FakeClock()
    client = serve(clock, export_file_url_ttl_s=60)
    url = _wait(client, _start(client), "completed")["files"][0]["url"]
    clock.advance(61)
    assert client.get(url).status_code == 403


def test_tampered_urls_are_refused(api: httpx2.Client, admin: httpx2.Client) -> None:
    job_id = _start(api)
    url = _wait(api, job_id, "completed")["files"][0]["url"]
    base, _, signature = url.rpartition("=")
    tampered = admin.get(f"{base}={'0' * len(signature)}")
    assert tampered.status_code == 403
    assert "Access Denied" in tampered.text
    longer = url.replace("expires=", "expires=9")
    assert admin.get(longer).status_code == 403
    assert admin.get(url.replace(f"/{job_id}/", f"/{job_id + 1}/")).status_code == 403


# ---- states -----------------------------------------------------------------------------------------------------


def test_files_appear_while_the_job_runs(serve: Serve, gate: Gate) -> None:
    client = serve(FakeClock(), export_file_max_bytes=2_000)
    job_id = _start(client, **WINDOW)
    gate.wait_parked()
    running = _files(client, job_id)
    assert len(running["files"]) >= 3
    assert running["jobState"] == "running"
    early = [f["file"] for f in running["files"]]
    gate.set()
    done = _wait(client, job_id, "completed")
    assert [f["file"] for f in _all_files(client, job_id)][: len(early)] == early
    assert done["jobState"] == "completed"


def test_at_most_four_jobs_run_at_once(api: httpx2.Client, gate: Gate) -> None:
    jobs = [_start(api) for _ in range(6)]
    gate.wait_parked(4)
    time.sleep(0.05)  # give a fifth job the chance to start, were it allowed to
    states = {job["id"]: job["jobState"] for job in _jobs(api)}
    assert sorted(states.values()) == ["enqueued", "enqueued", "running", "running", "running", "running"]
    assert [job["id"] for job in _jobs(api, "enqueued")] == [j for j in jobs if states[j] == "enqueued"]
    gate.set()
    for job_id in jobs:
        _wait(api, job_id, "completed")
    assert {job["jobState"] for job in _jobs(api)} == {"completed"}
    assert _jobs(api, "running") == []


def test_cancel_a_running_job(api: httpx2.Client, gate: Gate) -> None:
    job_id = _start(api, **WINDOW)
    gate.wait_parked()
    assert _files(api, job_id)["jobState"] == "running"
    response = api.delete(f"/api/export/{job_id}")
    assert response.status_code == 200
    assert _files(api, job_id)["jobState"] == "cancelling"
    assert [job["id"] for job in _jobs(api, "cancelling")] == [job_id]
    gate.set()
    _wait(api, job_id, "cancelled")
    assert [job["id"] for job in _jobs(api, "cancelled")] == [job_id]
    assert _jobs(api, "completed") == []


def test_cancel_an_enqueued_job(api: httpx2.Client, gate: Gate) -> None:
    running = [_start(api) for _ in range(4)]
    queued = _start(api)
    gate.wait_parked(4)
    assert _files(api, queued)["jobState"] == "enqueued"
    api.delete(f"/api/export/{queued}")
    assert _files(api, queued)["jobState"] == "cancelling"
    gate.set()
    _wait(api, queued, "cancelled")
    assert _files(api, queued)["files"] == []
    for job_id in running:
        _wait(api, job_id, "completed")


def test_cancelling_a_finished_job_changes_nothing(api: httpx2.Client) -> None:
    job_id = _start(api)
    _wait(api, job_id, "completed")
    assert api.delete(f"/api/export/{job_id}").status_code == 200
    assert _files(api, job_id)["jobState"] == "completed"


def test_job_states_are_lowercase_and_filterable(api: httpx2.Client) -> None:
    first, second = _start(api), _start(api, "user")
    _wait(api, first, "completed")
    _wait(api, second, "completed")
    assert {job["id"] for job in _jobs(api, "completed")} == {first, second}
    assert {job["id"] for job in _jobs(api, "COMPLETED")} == {first, second}
    assert _jobs(api, "running") == []
    bad = api.get("/api/export/jobs", params={"jobState": "sleeping"})
    assert bad.status_code == 400
    assert bad.json()["msg"].startswith("Invalid jobState: sleeping")


# ---- refused requests ---------------------------------------------------------------------------------------------


def test_bad_job_requests(api: httpx2.Client) -> None:
    missing = api.post("/api/export/start", json={"dataTypeName": "emailSend"})
    assert missing.status_code == 400
    assert missing.json()["params"] == {"obj.outputFormat": [{"msg": ["error.path.missing"], "args": []}]}
    wrong = api.post("/api/export/start", json={"dataTypeName": "emailSend", "outputFormat": "text/xml"})
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "BadParams"
    unknown = api.post("/api/export/start", json={"dataTypeName": "nothing", "outputFormat": "text/csv"})
    assert unknown.json()["msg"] == "Invalid dataTypeName: nothing"
    assert api.get("/api/export/jobs").json() == {"jobs": []}
    assert api.delete("/api/export/424242").status_code == 404
    assert api.get("/api/export/abc/files").status_code == 400
