"""The console's routes through Starlette's TestClient: who may call them (token cookie, CSRF, Origin, Host)
and what each one refuses, against the real sandbox."""

from __future__ import annotations

import csv
import io
import json
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from starlette.testclient import TestClient

import iterbridge
from helpers import CLI_SETTINGS, FakeClock, Stats, postgres_database
from iterbridge.cli.replicate import progress_line
from iterbridge.objects import OBJECTS
from iterbridge.replicate import StreamProgress
from iterbridge.sandbox import Sandbox
from iterbridge.ui import Console, Guard
from iterbridge.ui.auth import COOKIE

from .support import BAD_ROWS_CSV, HOST, wait_for_job

GETS = ["/", "/static/app.js", "/api/connection", "/api/objects", "/api/objects/Lists", "/api/jobs"]
POSTS = ["/api/query", "/api/explain", "/api/execute", "/api/download", "/api/import", "/api/replicate", "/api/sync",
         "/api/connection/profile"]  # fmt: skip


# ---- the guard ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GETS)
def test_every_page_and_route_refuses_a_request_without_the_session(anonymous: TestClient, path: str) -> None:
    answer = anonymous.get(path)
    assert answer.status_code == 403
    assert "no session" in answer.json()["error"]


@pytest.mark.parametrize("path", POSTS)
def test_every_change_refuses_a_request_without_the_session(anonymous: TestClient, guard: Guard, path: str) -> None:
    answer = anonymous.post(path, json={"sql": "SELECT 1"}, headers={"X-Iterbridge-Csrf": guard.csrf})
    assert answer.status_code == 403


def test_the_printed_url_sets_a_strict_http_only_cookie_and_drops_the_token(
    anonymous: TestClient, guard: Guard
) -> None:
    answer = anonymous.get(f"/?token={guard.token}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{guard.cookie_name}={guard.token};")
    assert guard.cookie_name.startswith(COOKIE)
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    page = anonymous.get("/")
    assert page.status_code == 200
    assert f'content="{guard.csrf}"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_a_wrong_token_or_cookie_is_refused(anonymous: TestClient, guard: Guard) -> None:
    assert anonymous.get("/?token=guessed", follow_redirects=False).status_code == 403
    anonymous.cookies.set(guard.cookie_name, guard.token[:-1] + "x")
    assert anonymous.get("/api/connection").status_code == 403
    other = Guard()  # another console's session is no session here
    anonymous.cookies.set(other.cookie_name, other.token)
    assert anonymous.get("/api/connection").status_code == 403


def test_a_change_needs_the_csrf_token(client: TestClient, guard: Guard) -> None:
    body = {"sql": "SELECT Id FROM Lists"}
    assert client.post("/api/query", json=body).status_code == 200
    assert client.post("/api/query", json=body, headers={"X-Iterbridge-Csrf": "0" * 64}).status_code == 403
    del client.headers["X-Iterbridge-Csrf"]
    refused = client.post("/api/query", json=body)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]


def test_a_change_from_another_origin_is_refused(client: TestClient) -> None:
    body = {"sql": "SELECT Id FROM Lists"}
    assert client.post("/api/query", json=body, headers={"Origin": f"http://{HOST}"}).status_code == 200
    refused = client.post("/api/query", json=body, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403
    assert "another site" in refused.json()["error"]


def test_another_host_name_is_refused_even_with_the_session(client: TestClient) -> None:
    """A DNS-rebinding page reaches the port under its own name: the Host header gives it away."""
    answer = client.get("/api/connection", headers={"Host": "attacker.example:8000"})
    assert answer.status_code == 403
    assert "loopback" in answer.json()["error"]


def test_no_answer_carries_the_api_key(client: TestClient, sandbox: Sandbox) -> None:
    answers = [client.get(path).text for path in GETS]
    answers.append(client.get("/api/connection/check").text)
    answers.append(client.post("/api/query", json={"sql": "SELECT * FROM Lists"}).text)
    assert all(sandbox.api_key not in text for text in answers)
    assert "server-side key" in answers[-2]


# ---- connection and catalog ------------------------------------------------------------------------------


def test_connection_and_key_check(client: TestClient, sandbox: Sandbox) -> None:
    info = client.get("/api/connection").json()
    assert info["base_url"] == sandbox.url
    assert info["sandbox"] is True
    checked = client.get("/api/connection/check").json()
    assert checked["read_only"] is False
    assert checked["can_export"] is True


def test_switching_to_a_missing_or_malformed_profile_keeps_the_connection(client: TestClient, sandbox: Sandbox) -> None:
    missing = client.post("/api/connection/profile", json={"profile": "nowhere"})
    assert missing.status_code == 400
    assert "nowhere" in missing.json()["error"]
    malformed = client.post("/api/connection/profile", json={"profile": "../etc"})
    assert malformed.status_code == 400
    assert client.post("/api/connection/profile", json={}).json() == {"error": "profile is missing"}
    assert client.get("/api/connection").json()["base_url"] == sandbox.url


def test_objects_and_describe(client: TestClient) -> None:
    listing = client.get("/api/objects").json()
    assert [o["name"] for o in listing["objects"]] == list(OBJECTS)
    assert listing["procedures"]
    users = client.get("/api/objects/users").json()  # any case, as the CLI
    assert users["name"] == "Users"
    assert any(c["key"] for c in users["columns"])
    unknown = client.get("/api/objects/Userz")
    assert unknown.status_code == 400
    assert "Users" in unknown.json()["error"]


def test_preview_shows_its_cost_and_reads_only_when_asked(client: TestClient, stats: Stats) -> None:
    with stats.counting() as made:
        planned = client.get("/api/objects/Templates/preview?limit=3").json()
    assert made == {}
    assert "rows" not in planned
    assert planned["plan"]["rows"][0][0] == "Templates"
    with stats.counting() as made:
        read = client.get("/api/objects/Templates/preview?limit=3&run=1").json()
    assert len(read["rows"]) == 3
    assert read["api_calls"] == sum(made.values()) > 0


def test_preview_reads_the_first_rows_and_checks_its_limit(client: TestClient, conn: iterbridge.Connection) -> None:
    found = client.get("/api/objects/Lists/preview?limit=3&run=1").json()
    assert found["columns"][:2] == ["Id", "Name"]
    assert [row[:2] for row in found["rows"]] == [[r["Id"], r["Name"]] for r in conn.read("Lists", limit=3)]
    assert client.get("/api/objects/Lists/preview?limit=0").status_code == 400
    assert client.get("/api/objects/Lists/preview?limit=101").status_code == 400
    assert client.get("/api/objects/Lists/preview?limit=x").status_code == 400
    needs_filter = next(o for o in OBJECTS.values() if o.required_filters)
    refused = client.get(f"/api/objects/{needs_filter.name}/preview?run=1")
    assert refused.status_code == 400
    assert needs_filter.required_filters[0] in refused.json()["error"]


# ---- SQL ---------------------------------------------------------------------------------------------------


def test_query_returns_the_grid_and_says_when_there_are_more_rows(
    client: TestClient, conn: iterbridge.Connection
) -> None:
    expected = [[r["Id"], r["Name"]] for r in conn.read("Lists", columns=["Id", "Name"])]
    found = client.post("/api/query", json={"sql": "SELECT Id, Name FROM Lists", "limit": 2}).json()
    assert found["columns"] == ["Id", "Name"]
    assert found["rows"] == expected[:2]
    assert found["more"] is (len(expected) > 2)
    assert found["api_calls"] == 1
    everything = client.post("/api/query", json={"sql": "SELECT Id, Name FROM Lists"}).json()
    assert everything["rows"] == expected
    assert everything["more"] is False


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "sql is missing"),
        ({"sql": 5}, "sql must be text"),
        ({"sql": "SELECT 1; SELECT 2"}, "one SQL statement, not 2"),
        ({"sql": "SELECT 1", "limit": 0}, "limit must be between 1 and 10,000"),
        ({"sql": "SELECT 1", "limit": "many"}, "limit must be a whole number"),
        ({"sql": "SELECT :a", "params": ["x"]}, "params must be an object"),
    ],
)
def test_query_refuses_what_it_cannot_run(client: TestClient, body: dict[str, object], error: str) -> None:
    answer = client.post("/api/query", json=body)
    assert answer.status_code == 400
    assert error in answer.json()["error"]


def test_query_body_must_be_a_json_object(client: TestClient) -> None:
    assert client.post("/api/query", content=b"{not json").json() == {"error": "the request body is not JSON"}
    assert client.post("/api/query", json=["SELECT 1"]).json() == {"error": "the request body must be a JSON object"}


def test_a_syntax_error_says_where(client: TestClient) -> None:
    answer = client.post("/api/query", json={"sql": "SELECT Id\nFROM Lists WHERE Id = = 3"})
    assert answer.status_code == 400
    view = answer.json()
    assert (view["line"], view["column"]) == (2, 23)
    assert view["error"].startswith('near "=": syntax error')
    wrong = client.post("/api/query", json={"sql": "SELECT Id FRM Lists"}).json()
    assert (wrong["line"], wrong["column"]) == (1, 15)


def test_explain_shows_endpoints_and_calls_and_reads_nothing(client: TestClient, stats: Stats) -> None:
    with stats.counting() as made:
        plan = client.post("/api/explain", json={"sql": "SELECT Id, Name FROM Lists"}).json()
    assert made == {}
    assert plan["columns"][:2] == ["object", "endpoint"]
    assert plan["rows"][0][:2] == ["Lists", "GET /api/lists"]


def test_a_write_is_not_run_by_query_but_dry_run_and_sent_only_once_confirmed(
    client: TestClient, conn: iterbridge.Connection
) -> None:
    before = {r["Name"] for r in conn.read("Lists")}
    sql = "INSERT INTO Lists (Name) VALUES ('From the console')"
    planned = client.post("/api/query", json={"sql": sql}).json()
    assert planned["confirm"] is True
    assert [(r["method"], r["json"]) for r in planned["requests"]] == [("POST", {"name": "From the console"})]
    assert {r["Name"] for r in conn.read("Lists")} == before
    unconfirmed = client.post("/api/execute", json={"sql": sql})
    assert unconfirmed.status_code == 400
    assert {r["Name"] for r in conn.read("Lists")} == before
    done = client.post("/api/execute", json={"sql": sql, "confirmed": True}).json()
    assert done["reports"][0]["succeeded"] == 1
    assert {r["Name"] for r in conn.read("Lists")} == before | {"From the console"}


def test_a_write_hidden_in_a_read_is_refused_by_the_read_only_engine(client: TestClient) -> None:
    answer = client.post("/api/query", json={"sql": "WITH x AS (SELECT 1) DELETE FROM Lists WHERE Id = 0"})
    assert answer.status_code == 400
    assert "read-only" in answer.json()["error"] or "read only" in answer.json()["error"]


def test_download_writes_every_row_as_csv_or_json(client: TestClient, conn: iterbridge.Connection) -> None:
    expected = [[str(r["Id"]), r["Name"]] for r in conn.read("Lists", columns=["Id", "Name"])]
    sql = {"sql": "SELECT Id, Name FROM Lists"}
    as_csv = client.post("/api/download", json={**sql, "format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(as_csv.text))) == [["Id", "Name"], *expected]
    as_json = client.post("/api/download", json={**sql, "format": "json"}).json()
    assert [[str(r["Id"]), r["Name"]] for r in as_json] == expected
    assert client.post("/api/download", json={**sql, "format": "xlsx"}).status_code == 400
    assert client.post("/api/download", json={"sql": "DELETE FROM Lists", "format": "csv"}).status_code == 400


# ---- import ------------------------------------------------------------------------------------------------


def test_import_rejects_bad_rows_and_serves_the_rejects(client: TestClient) -> None:
    answer = client.post("/api/import?object=Users&operation=update", content=BAD_ROWS_CSV.encode())
    found = answer.json()
    assert (found["read"], found["accepted"], found["rejected"]) == (4, 2, 2)
    assert found["rejects"][0] == ["_line", "_reason", "Email", "UserId"]
    assert [row[0] for row in found["rejects"][1:]] == ["3", "5"]
    rejects = client.get(f"/api/import/{found['id']}/rejects")
    assert rejects.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(rejects.text))) == found["rejects"]
    assert client.get("/api/import/999/rejects").status_code == 404


def test_import_dry_run_sends_nothing(client: TestClient, stats: Stats) -> None:
    with stats.counting() as made:
        found = client.post("/api/import?object=Lists&operation=insert&dry_run=1", content=b"Name\nA\nB\n").json()
    assert made == {}
    assert found["dry_run"] is True
    assert found["request_count"] == 2


def test_import_maps_columns(client: TestClient, conn: iterbridge.Connection) -> None:
    mapping = json.dumps({"list name": "Name"})
    found = client.post(f"/api/import?object=Lists&map={mapping}", content=b"list name\nMapped list\n").json()
    assert found["accepted"] == 1
    assert "Mapped list" in {r["Name"] for r in conn.read("Lists")}


@pytest.mark.parametrize(
    ("query", "body", "error"),
    [
        ("object=Nope", b"Name\nA\n", "Nope"),
        ("object=Lists&operation=merge", b"Name\nA\n", "operation must be one of"),
        ("object=Lists&map=[1]", b"Name\nA\n", "map must be a JSON object"),
        ("object=Lists&map={", b"Name\nA\n", "map must be a JSON object"),
        ("object=Lists", b"", "no file was sent"),
        ("object=Lists&operation=update", b"Name\nA\n", "Lists does not support update"),
    ],
)
def test_import_refuses_what_it_cannot_use(client: TestClient, query: str, body: bytes, error: str) -> None:
    answer = client.post(f"/api/import?{query}", content=body)
    assert answer.status_code == 400
    assert error in answer.json()["error"]


# ---- replicate and sync ------------------------------------------------------------------------------------


def test_replicate_runs_in_the_background_with_progress_history_and_freshness(
    client: TestClient, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    started = client.post("/api/replicate", json={"to": url, "objects": ["Lists", "Campaigns"]}).json()
    assert started["state"] == "running"
    assert started["target"] == url
    job = wait_for_job(client, started["id"])
    assert job["state"] == "done", job
    assert {f["table"] for f in job["finished"]} == {"Lists", "Campaigns"}
    totals = job["report"]["totals"]
    assert totals["rows_read"] == sum(f["rows_read"] for f in job["finished"]) > 0
    assert [j["id"] for j in client.get("/api/jobs").json()["jobs"]] == [started["id"]]
    fresh = client.get("/api/freshness", params={"to": url}).json()
    assert {t["table"]: t["rows"] for t in fresh["tables"]} == {f["table"]: f["rows_read"] for f in job["finished"]}
    assert all(t["last_run"] for t in fresh["tables"])
    assert fresh["conflicts"] == fresh["retries"] == []


def test_replication_progress_is_the_clis_while_tables_are_read(
    console: Console, client: TestClient, stats: Stats, tmp_path: Path
) -> None:
    console.watch_every_s = 0.02
    stats.faults(latency_ms=40)  # every call a little slow: the page's polls catch tables being read
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    started = client.post("/api/replicate", json={"to": url, "objects": ["Lists", "ListUsers", "Templates"]}).json()
    seen: list[dict[str, object]] = []
    while (view := client.get(f"/api/jobs/{started['id']}").json())["state"] == "running":
        seen.extend(view["running"])
        time.sleep(0.01)
    assert view["state"] == "done", view
    assert seen, "the run was long enough for a look"
    for running in seen:
        line = progress_line(StreamProgress(**{k: v for k, v in running.items() if k != "line"}))  # type: ignore[arg-type]
        assert running["line"] == line
        assert f"{running['table']}: " in line
        assert " rows (" in line


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "to is missing"),
        ({"to": "iterable.db"}, "must be a database URL"),
        ({"to": "sqlite://"}, "memory"),
        ({"to": "sqlite:///x.db", "objects": "Lists"}, "objects must be a list"),
    ],
)
def test_replicate_refuses_bad_requests(client: TestClient, body: dict[str, object], error: str) -> None:
    answer = client.post("/api/replicate", json=body)
    assert answer.status_code == 400
    assert error in answer.json()["error"]
    assert client.get("/api/jobs").json() == {"jobs": []}


def test_a_failed_replication_is_reported_on_its_job(client: TestClient, tmp_path: Path) -> None:
    job = client.post("/api/replicate", json={"to": f"sqlite:///{tmp_path / 'c.db'}", "objects": ["Nope"]}).json()
    ended = wait_for_job(client, job["id"])
    assert ended["state"] == "failed"
    assert "Nope" in ended["error"]


def test_sync_dry_run_and_its_refusals(client: TestClient, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'templates.db'}"
    assert (
        "conflict must be one of"
        in client.post("/api/sync", json={"to": url, "object": "Templates", "conflict": "mine"}).json()["error"]
    )
    assert client.post("/api/sync", json={"to": url}).json() == {"error": "object is missing"}
    job = client.post("/api/sync", json={"to": url, "object": "Templates", "dry_run": True}).json()
    ended = wait_for_job(client, job["id"])
    assert ended["state"] == "done", ended
    assert ended["report"]["dry_run"] is True
    assert ended["report"]["to_database"]["creates"] > 0
    assert not (tmp_path / "templates.db").exists()  # a dry run creates nothing


def test_jobs_and_freshness_refuse_unknown_things(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/api/jobs/41").status_code == 404
    assert client.get("/api/jobs/x").status_code == 404
    assert client.get("/api/freshness").json() == {"error": "to is missing"}
    empty = client.get("/api/freshness", params={"to": f"sqlite:///{tmp_path / 'none.db'}"}).json()
    assert empty["tables"] == []


def test_one_job_at_a_time(console: Console, client: TestClient, tmp_path: Path) -> None:
    import threading

    from iterbridge.ui.jobs import Job

    release = threading.Event()

    def blocked(job: Job) -> dict[str, object]:
        release.wait(10)
        return {"ok": True}

    console.jobs.start("replicate", "sqlite:///a.db", blocked)
    refused = client.post("/api/replicate", json={"to": f"sqlite:///{tmp_path / 'b.db'}"})
    release.set()
    assert refused.status_code == 400
    assert "already running" in refused.json()["error"]


# ---- events per day ----------------------------------------------------------------------------------------


def test_events_per_day_from_the_api_shows_its_cost_before_reading(
    client: TestClient, conn: iterbridge.Connection, stats: Stats
) -> None:
    body = {"source": "api", "start": "2026-10-20", "end": "2026-10-31"}
    with stats.counting() as made:
        planned = client.post("/api/chart/events", json=body).json()
    assert made == {}  # the plan alone reads nothing
    assert "counts" not in planned
    assert "data.json" in planned["plan"]["rows"][0][1]
    counts = client.post("/api/chart/events", json={**body, "run": True}).json()["counts"]
    expected: dict[tuple[str, str], int] = {}
    for row in conn.read("Events", columns=["CreatedAt", "EventType"]):
        day = row["CreatedAt"].date().isoformat()
        if "2026-10-20" <= day <= "2026-10-31":
            expected[(day, row["EventType"])] = expected.get((day, row["EventType"]), 0) + 1
    assert {(d, t): n for d, t, n in counts} == expected
    assert expected


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_events_per_day_from_a_copy_are_those_of_the_api(client: TestClient, tmp_path: Path, kind: str) -> None:
    with ExitStack() as stack:
        url = {
            "sqlite": f"sqlite:///{tmp_path / 'copy.db'}",
            "duckdb": f"duckdb:///{tmp_path / 'copy.duckdb'}",
        }.get(kind) or stack.enter_context(postgres_database("ui"))
        counts_match(client, url)


def counts_match(client: TestClient, url: str) -> None:
    """Replicate the events into `url`; its freshness lists each table, its counts per day are the API's."""
    job = client.post("/api/replicate", json={"to": url, "objects": ["Events"]}).json()
    ended = wait_for_job(client, job["id"])
    assert ended["state"] == "done"
    fresh = client.get("/api/freshness", params={"to": url}).json()
    assert {t["table"]: t["rows"] for t in fresh["tables"]} == {s["table"]: s["rows_read"] for s in ended["finished"]}
    body = {"start": "2026-10-01", "end": "2026-10-31"}
    from_copy = client.post("/api/chart/events", json={**body, "source": "copy", "to": url}).json()["counts"]
    from_api = client.post("/api/chart/events", json={**body, "source": "api", "run": True}).json()["counts"]
    assert sorted(map(tuple, from_copy)) == sorted(map(tuple, from_api))
    assert from_copy


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"source": "web", "start": "2026-10-01", "end": "2026-10-02"}, "source must be api or copy"),
        ({"source": "api", "start": "2026-10-01"}, "end is missing"),
        ({"source": "api", "start": "yesterday", "end": "2026-10-02"}, "expected days like"),
        ({"source": "api", "start": "2026-10-02", "end": "2026-10-01"}, "ends before it starts"),
        ({"source": "api", "start": "2025-01-01", "end": "2026-10-01"}, "at most 366 days"),
        ({"source": "copy", "start": "2026-10-01", "end": "2026-10-02"}, "to is missing"),
    ],
)
def test_events_per_day_refuses_bad_ranges_and_sources(client: TestClient, body: dict[str, object], error: str) -> None:
    answer = client.post("/api/chart/events", json=body)
    assert answer.status_code == 400
    assert error in answer.json()["error"]


def test_the_page_loads_only_its_own_assets_and_they_ship_with_the_package(client: TestClient) -> None:
    import re
    import tomllib

    page = client.get("/").text
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert referenced
    assert all(link.startswith("/static/") for link in referenced)  # nothing from elsewhere (no CDN)
    for link in referenced:
        served = client.get(link)
        assert served.status_code == 200
        assert served.headers["content-type"].startswith(("text/javascript", "text/css"))
    assert client.get("/static/../app.py").status_code == 404
    root = Path(__file__).parents[2]
    package_data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "ui/static/*" in package_data["package-data"]["iterbridge"]


def test_sync_conflicts_are_listed_from_the_database(
    client: TestClient, conn: iterbridge.Connection, clock: FakeClock, tmp_path: Path
) -> None:
    import sqlite3

    path = tmp_path / "items.db"
    url = f"sqlite:///{path}"
    body = {"object": "CatalogItems", "catalog": "products", "to": url, "conflict": "iterable"}
    first = wait_for_job(client, client.post("/api/sync", json=body).json()["id"])
    assert first["state"] == "done", first
    assert first["report"]["to_database"]["creates"] > 0
    item = {"catalogName": "products", "itemId": "sku-000008"}
    conn.client.request("PUT /api/catalogs/{catalogName}/items/{itemId}", path=item, json={"value": {"name": "I"}})
    clock.advance(60)
    with sqlite3.connect(path) as database:
        database.execute(
            'UPDATE "CatalogItems" SET "Value" = ?, "LastModified" = strftime(\'%Y-%m-%d %H:%M:%f\', \'now\') '
            'WHERE "CatalogName" = ? AND "ItemId" = ?',
            ('{"name": "D"}', "products", "sku-000008"),
        )
    database.close()
    second = wait_for_job(client, client.post("/api/sync", json=body).json()["id"])
    assert second["report"]["conflicts"] == 1, second
    fresh = client.get("/api/freshness", params={"to": url}).json()
    assert [(c["key"], c["resolution"].split(" (")[0]) for c in fresh["conflicts"]] == [
        ("sku-000008", "conflict: iterable wins")
    ]
    assert [j["kind"] for j in client.get("/api/jobs").json()["jobs"]] == ["sync", "sync"]


def test_switching_profile_connects_with_it(
    client: TestClient, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iterbridge.settings import save_profile

    config = tmp_path / "config.toml"
    for name in CLI_SETTINGS:  # the machine's own settings would win over the profile's
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ITERBRIDGE_CONFIG", str(config))
    save_profile("shop", api_key=sandbox.api_key, base_url=sandbox.url, rate_limits="off", path=config)
    assert client.get("/api/connection").json()["profiles"] == ["shop"]
    switched = client.post("/api/connection/profile", json={"profile": "shop"}).json()
    assert (switched["profile"], switched["sandbox"], switched["base_url"]) == ("shop", False, sandbox.url)
    assert "key accepted" in client.get("/api/connection/check").json()["message"]
    found = client.post("/api/query", json={"sql": "SELECT count(*) FROM Lists"}).json()
    assert found["rows"][0][0] > 0
