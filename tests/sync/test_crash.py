"""A sync killed (SIGKILL) in the middle of a run, then run again: it converges — both sides equal, no
duplicates, nothing lost, the map consistent. The sandbox runs in a process of its own, the sync in another,
as they would for real."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

import iterbridge
from iterbridge.api.client import RetryPolicy
from iterbridge.sync.engine import Counts

from .support import Remote, assert_converged, make_db

pytestmark = pytest.mark.slow

CATALOG = "crash-test"
STREAM = f"CatalogItems:{CATALOG}"
ITERABLE_ONLY, DATABASE_ONLY, BOTH = 3000, 2000, 500
ITEM_WRITES = "POST /api/catalogs/{catalogName}/items"


@pytest.fixture(scope="module")
def sandbox_process() -> Iterator[tuple[str, str]]:
    """`iterbridge sandbox` in a process of its own: (base URL, API key)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "iterbridge", "sandbox", "--port", str(port), "--rate-limits", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = key = ""
        for line in process.stdout:
            if line.startswith("base URL:"):
                url = line.split(":", 1)[1].strip()
            if line.startswith("API key:"):
                key = line.split(":", 1)[1].strip()
                break
        assert url, "the sandbox did not start"
        assert key, "the sandbox did not start"
        yield url, key
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def command(url: str, db_url: str) -> list[str]:
    return [sys.executable, "-m", "iterbridge", "sync", "CatalogItems", "--catalog", CATALOG, "--with", db_url,
            "--base-url", url, "--conflict", "database", "--json"]  # fmt: skip


def item_writes(admin: httpx2.Client) -> int:
    return sum(admin.get("/_sandbox/stats").json()["endpoints"].get(ITEM_WRITES, {}).values())


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "duckdb"])
def test_a_killed_run_converges_on_the_next(
    sandbox_process: tuple[str, str], kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url, key = sandbox_process
    env = {**os.environ, "ITERABLE_API_KEY": key}
    db = make_db(kind, tmp_path, request)
    retry = RetryPolicy(wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0)
    with (
        iterbridge.connect(api_key=key, base_url=url, rate_limit_factor=None, retry=retry) as conn,
        httpx2.Client(base_url=url, timeout=30) as admin,
    ):
        remote = Remote(conn)
        admin.post("/_sandbox/reset").raise_for_status()
        remote.create_catalog(CATALOG)
        iterable = {f"it-{n:05d}": {"n": n, "side": "iterable"} for n in range(ITERABLE_ONLY)}
        iterable |= {f"both-{n:05d}": {"n": n, "side": "iterable"} for n in range(BOTH)}
        remote.bulk(iterable, CATALOG)
        database = {f"db-{n:05d}": {"n": n, "side": "database"} for n in range(DATABASE_ONLY)}
        database |= {f"both-{n:05d}": {"n": n, "side": "database"} for n in range(BOTH)}
        db.create_items_table({}, catalog=CATALOG)
        db.insert_items(database, CATALOG)
        db.close()  # the sync's process needs the file (DuckDB allows one process)

        # Killed once it has begun writing, a random moment later (writes to Iterable, then the database).
        writes_before = item_writes(admin)
        process = subprocess.Popen(command(url, db.url), env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while item_writes(admin) == writes_before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(random.Random(kind).uniform(0.0, 0.4))
        interrupted = process.poll() is None
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) in (-signal.SIGKILL, 0)
        assert interrupted, "the run had ended before it could be killed"

        again = conn.sync("CatalogItems", db.url, catalog=CATALOG, conflict="database")
        assert again.ok
        confirm = conn.sync("CatalogItems", db.url, catalog=CATALOG, conflict="database")
        assert {a.operation for a in confirm.plan} <= {"confirm"}  # only our writes to confirm, nothing to write
        assert confirm.to_iterable == confirm.to_database == Counts()

        items = assert_converged(remote, db, CATALOG, STREAM)
        assert len(items) == ITERABLE_ONLY + DATABASE_ONLY + BOTH  # no duplicates, nothing lost
        assert items == {**{k: v for k, v in iterable.items() if k.startswith("it-")}, **database}
        db.close()
