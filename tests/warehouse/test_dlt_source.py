"""The dlt source against the sandbox, into real destinations: duckdb, PostgreSQL and the filesystem (Parquet).
Every table holds what the API serves (the replication tests' independent expectations, read over plain HTTP);
a second run after changes in Iterable brings exactly them (merged by key, deletions where the read lists every
key), with no duplicates; a pipeline killed before its load resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import dlt
import httpx2
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

import iterbridge
from helpers import FakeClock, Stats, connect_to, make_config
from iterbridge.dagster import project_source
from iterbridge.dlt import cause_of, disposition, sandbox_source, source_from
from iterbridge.objects.events import EVENT_TYPES
from iterbridge.replicate.plan import streams
from iterbridge.sandbox import Sandbox
from replicate.compare import KEYS, assert_events, assert_table
from replicate.expected import Source
from replicate.test_incremental import STALE, snapshot, targets, write_changes

from .support import Landed, destination

DATASET = "iterable"


def run(conn: iterbridge.Connection, kind: str, tmp_path: Path, postgres: str | None = None) -> Landed:
    """One run of the whole source into a destination of this kind; what landed."""
    where, path = destination(kind, tmp_path, postgres)
    source, record, _ = source_from(lambda: conn)
    pipeline = dlt.pipeline("test_iterable", destination=where, dataset_name=DATASET)
    pipeline.run(source)
    assert not any(record.skipped.values())
    return Landed(conn, kind, path, DATASET)


def assert_landed(landed: Landed, expected: dict[str, Any], stale: dict[str, frozenset[str]] | None = None) -> None:
    for table in sorted(set(expected) - {"events"}):
        rows = landed.rows(table)
        assert_table(landed, table, expected[table], (stale or {}).get(table, frozenset()), rows=rows)  # type: ignore[arg-type]
        keys = landed.keys(table, KEYS[table])
        assert len(keys) == len(set(keys)), f"{table}: a key landed twice"
    for event_type in EVENT_TYPES:
        table = f"Events_{event_type}"
        rows = landed.rows(table)
        assert_events(landed, table, expected["events"][event_type], rows=rows)  # type: ignore[arg-type]
        assert len({r["Id"] for r in rows}) == len(rows), f"{table}: an event landed twice"


@pytest.mark.parametrize("kind", ["duckdb", "postgres", "filesystem"])
def test_every_table_lands_as_the_api_serves_it(
    conn: iterbridge.Connection, api: httpx2.Client, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    postgres = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    landed = run(conn, kind, tmp_path, postgres)
    expected = snapshot(Source(api))
    assert sum(len(v) for v in expected["events"].values()) > 500
    assert_landed(landed, expected)


def test_the_resources_follow_the_catalog(conn: iterbridge.Connection) -> None:
    source, _, _ = source_from(lambda: conn)
    chosen = {s.table: s for s in streams(None)}
    assert set(source.resources) == set(chosen)
    for name, resource in source.resources.items():
        stream = chosen[name]
        assert resource.write_disposition == disposition(stream)
        columns = resource.columns
        assert isinstance(columns, dict)
        keys = [c for c, hint in columns.items() if hint.get("primary_key")]
        assert keys == list(stream.obj.keys), name
        assert all(columns[k]["nullable"] is False for k in keys)
        assert (resource.incremental is not None) == stream.exported, name
    # Exported objects merge from their cursor; what lists every key is replaced (deletions included).
    assert source.resources["Users"].write_disposition == "merge"
    assert source.resources["Events_emailOpen"].write_disposition == "merge"
    assert source.resources["Lists"].write_disposition == "replace"


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_a_second_run_brings_exactly_the_changes(
    conn: iterbridge.Connection, api: httpx2.Client, sandbox: Sandbox, clock: FakeClock, stats: Stats,
    tmp_path: Path, request: pytest.FixtureRequest, kind: str,
) -> None:  # fmt: skip
    postgres = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    source = Source(api)
    new_list = api.post("/api/lists", json={"name": "Soon gone"}).json()["listId"]
    run(conn, kind, tmp_path, postgres)
    before = snapshot(source)
    write_changes(api, sandbox, clock, targets(before, new_list))
    after = snapshot(source)
    with stats.counting() as calls:
        landed = run(conn, kind, tmp_path, postgres)
    assert_landed(landed, after, STALE)
    # The changes are there: new users, the deleted list gone, the new events.
    emails = {r["Email"] for r in landed.rows("Users")}
    assert {"new.one@example.org", "new.two@example.org"} <= emails
    assert new_list not in {r["Id"] for r in landed.rows("Lists")}
    assert any(r["EventName"] == "incrementalTest" for r in landed.rows("Events_customEvent"))
    # Exported objects are read from their cursor less the lookback: one data.json window each, not the history.
    assert calls["GET /api/export/data.json"] == len(EVENT_TYPES) + 1


# A process that extracts and normalizes, then is killed (SIGKILL: no cleanup) before it loads.
KILLED_BEFORE_LOAD = """
import os, signal, sys, dlt
from iterbridge.dlt import source_from
import iterbridge
conn = iterbridge.connect(api_key=sys.argv[1], base_url=sys.argv[2], rate_limit_factor=None)
source, _, _ = source_from(lambda: conn, ["Lists", "Users", "Events_emailSend"])
pipeline = dlt.pipeline("test_resume", destination=dlt.destinations.duckdb(sys.argv[3]), dataset_name="iterable")
pipeline.extract(source)
pipeline.normalize()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_pipeline_killed_before_its_load_resumes(
    conn: iterbridge.Connection, sandbox: Sandbox, api: httpx2.Client, tmp_path: Path
) -> None:
    where, path = destination("duckdb", tmp_path)
    package = str(Path(iterbridge.__file__).parents[1])  # this iterbridge, wherever the test runs from
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([package, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-c", KILLED_BEFORE_LOAD, sandbox.api_key, sandbox.url, path]
    killed = subprocess.run(command, capture_output=True, text=True, env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    landed = Landed(conn, "duckdb", path, DATASET)
    assert landed.rows("Lists") == []  # nothing was loaded…
    again = dlt.pipeline("test_resume", destination=where, dataset_name=DATASET)
    assert again.list_normalized_load_packages()  # …and the normalized package waits in the pipeline's folder
    source, _, _ = source_from(lambda: conn, ["Lists", "Users", "Events_emailSend"])
    again.run(source)  # loads the pending package first, then runs again: merged, nothing twice
    assert not again.list_normalized_load_packages()
    expected = Source(api)
    assert_table(landed, "Lists", expected.lists(), rows=landed.rows("Lists"))  # type: ignore[arg-type]
    assert_table(landed, "Users", expected.users(), rows=landed.rows("Users"))  # type: ignore[arg-type]
    sends = landed.rows("Events_emailSend")
    assert_events(landed, "Events_emailSend", expected.events("emailSend"), rows=sends)  # type: ignore[arg-type]


def test_the_source_is_configured_the_dlt_way(
    sandbox: Sandbox, api: httpx2.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key from sources.iterable.<name>.api_key (here the environment), the base URL from sources.iterable."""
    monkeypatch.setenv("SOURCES__ITERABLE__ACME__API_KEY", sandbox.api_key)
    monkeypatch.setenv("SOURCES__ITERABLE__BASE_URL", sandbox.url)
    where, path = destination("duckdb", tmp_path)
    pipeline = dlt.pipeline("test_config", destination=where, dataset_name=DATASET)
    pipeline.run(project_source("acme", ["Lists", "Channels"]))
    with connect_to(sandbox) as conn:
        landed = Landed(conn, "duckdb", path, DATASET)
        expected = Source(api)
        assert_table(landed, "Lists", expected.lists(), rows=landed.rows("Lists"))  # type: ignore[arg-type]
        assert_table(landed, "Channels", expected.channels(), rows=landed.rows("Channels"))  # type: ignore[arg-type]
    monkeypatch.setenv("SOURCES__ITERABLE__ACME__API_KEY", "not-the-key")
    with pytest.raises(PipelineStepFailed) as failed:
        dlt.pipeline("test_config_bad", destination=where, dataset_name="other").run(project_source("acme", ["Lists"]))
    assert isinstance(cause_of(failed.value), iterbridge.AuthenticationError)
    assert "not-the-key" not in str(failed.value)


def test_sandbox_source_starts_and_stops_its_own_sandbox(tmp_path: Path) -> None:
    where, path = destination("duckdb", tmp_path)
    with sandbox_source(make_config(), ["Lists", "Channels"]) as trial:
        url = trial.conn.settings.base_url
        dlt.pipeline("test_trial", destination=where, dataset_name=DATASET).run(trial.source)
        with httpx2.Client(base_url=url, headers={"Api-Key": trial.conn.settings.api_key}) as client:
            expected = Source(client)
            landed = Landed(trial.conn, "duckdb", path, DATASET)
            assert_table(landed, "Lists", expected.lists(), rows=landed.rows("Lists"))  # type: ignore[arg-type]
            assert_table(landed, "Channels", expected.channels(), rows=landed.rows("Channels"))  # type: ignore[arg-type]
            assert trial.run.rows == {"Lists": len(expected.lists()), "Channels": len(expected.channels())}
    with pytest.raises(httpx2.TransportError):
        httpx2.get(f"{url}/_sandbox/info", timeout=2)
