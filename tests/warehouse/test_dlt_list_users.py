"""ListUsers in the dlt source, taken as `replicate` takes it: when a run also reads every user (no incremental
state), the members of Standard lists come from the users' emailListIds and lists/getUsers (5 calls a minute) is
called only for the other lists; otherwise (ListUsers alone, an incremental users read, a users read that skipped
a slice) every list is read through getUsers. The rows are those getUsers serves, row for row, every time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import httpx2
import pytest

from helpers import Stats, connect_to
from iterbridge.api.jsonlines import QUARANTINE_DIR_ENV
from iterbridge.dlt import SourceRun, source_from
from iterbridge.sandbox import Sandbox
from replicate.expected import Source

from .support import Landed, destination

GET_USERS = "GET /api/lists/getUsers"
DATASET = "iterable"
TABLE = "ListUsers"


def _members(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((r["ListId"], r["Email"]) for r in rows)


def _lists(api: httpx2.Client) -> tuple[list[int], list[int]]:
    """(the Standard lists, the others)."""
    lists = api.get("/api/lists").json()["lists"]
    standard = sorted(lst["id"] for lst in lists if lst["listType"] == "Standard")
    return standard, sorted(lst["id"] for lst in lists if lst["listType"] != "Standard")


def _run(
    sandbox: Sandbox, stats: Stats, tmp_path: Path, objects: list[str] | None = None, only: str | None = None
) -> tuple[dict[str, int], SourceRun, list[tuple[Any, ...]]]:
    """One dlt run into duckdb through a fresh connection (`objects` as the source takes them, `only`: one
    resource selected the dlt way); its calls per endpoint, its run record and the ListUsers rows that landed."""
    where, path = destination("duckdb", tmp_path)
    with connect_to(sandbox) as conn, stats.counting() as calls:
        source, run, _ = source_from(lambda: conn, objects)
        if only is not None:
            source = source.with_resources(only)
        dlt.pipeline("test_list_users", destination=where, dataset_name=DATASET).run(source)
        landed = Landed(conn, "duckdb", path, DATASET).rows(TABLE)
    members = _members(landed)
    assert len(members) == len(set(members)), "a member landed twice"
    return calls, run, members


def test_a_full_run_makes_the_calls_of_replicate_and_lands_what_get_users_serves(
    sandbox: Sandbox, stats: Stats, api: httpx2.Client, tmp_path: Path
) -> None:
    standard, others = _lists(api)
    assert standard
    assert others
    reference = _members(Source(api).list_users())
    assert {list_id for list_id, _ in reference} & set(standard)  # derived lists have members

    calls, run, members = _run(sandbox, stats, tmp_path)
    with connect_to(sandbox) as conn, stats.counting() as replicated:
        assert conn.replicate(f"duckdb:///{tmp_path / 'copy.duckdb'}").ok
    assert calls == replicated  # per endpoint, every one
    assert calls[GET_USERS] == len(others)
    parts = run.derived[TABLE]
    assert (parts.source, parts.derived, parts.called) == ("Users", standard, others)
    assert run.api_calls[TABLE] == 1 + len(others)  # the plan's GET /api/lists, then the other lists
    assert members == reference
    assert run.rows[TABLE] == len(reference)


@pytest.mark.parametrize("selected", ["objects", "with_resources"])
def test_list_users_alone_reads_every_list(
    sandbox: Sandbox, stats: Stats, api: httpx2.Client, tmp_path: Path, selected: str
) -> None:
    reference = _members(Source(api).list_users())
    if selected == "objects":
        calls, run, members = _run(sandbox, stats, tmp_path, [TABLE])
    else:  # the Users resource is in the source, but not extracted
        calls, run, members = _run(sandbox, stats, tmp_path, only=TABLE)
    assert calls[GET_USERS] == sum(len(found) for found in _lists(api))
    assert "GET /api/export/data.json" not in calls
    assert TABLE not in run.derived
    assert members == reference


def test_a_second_run_reads_every_list_and_lands_the_changes(
    sandbox: Sandbox, stats: Stats, api: httpx2.Client, tmp_path: Path
) -> None:
    standard, others = _lists(api)
    objects = ["Users", TABLE]
    _, first, members = _run(sandbox, stats, tmp_path, objects)
    assert first.derived[TABLE].derived == standard
    assert members == _members(Source(api).list_users())
    # A member leaves a Standard list, a new address joins one.
    busy = max(standard, key=lambda i: sum(1 for list_id, _ in members if list_id == i))
    leaving = next(email for list_id, email in members if list_id == busy)
    assert api.post("/api/lists/unsubscribe", json={"listId": busy, "subscribers": [{"email": leaving}]}).is_success
    joining = {"listId": busy, "subscribers": [{"email": "joined@example.com"}]}
    assert api.post("/api/lists/subscribe", json=joining).json()["successCount"] == 1

    # The users read is incremental now: it cannot tell the members of unchanged users, so every list is read.
    calls, second, members = _run(sandbox, stats, tmp_path, objects)
    assert TABLE not in second.derived
    assert calls[GET_USERS] == len(standard) + len(others)
    reference = _members(Source(api).list_users())
    assert members == reference
    assert (busy, "joined@example.com") in reference
    assert (busy, leaving) not in reference


def test_a_users_read_that_skipped_a_slice_falls_back_to_get_users(
    sandbox: Sandbox, stats: Stats, api: httpx2.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(QUARANTINE_DIR_ENV, str(tmp_path / "quarantine"))
    standard, others = _lists(api)
    reference = _members(Source(api).list_users())
    stats.faults(garbage_every=9)  # export lines that are not JSON: the users read skips them
    calls, run, members = _run(sandbox, stats, tmp_path, ["Users", TABLE])
    assert run.skipped["Users"]
    assert not run.skipped[TABLE]
    parts = run.derived[TABLE]
    assert (parts.derived, parts.called) == ([], sorted(standard + others))
    assert calls[GET_USERS] == len(standard) + len(others)
    assert members == reference
