"""Faults: 429 storms, 500s, dropped export streams and slow answers leave the run finishing with the very
tables of a clean run (nothing lost, nothing twice); a list whose members always fail is skipped, reported,
and its members already in the copy are kept."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

import iterbridge
from helpers import Stats
from iterbridge.sandbox import Sandbox

from .copies import Copy

# Every kind of read (listings, pages, per-template details, list members, exports), without the fifty event
# types a tiny project mostly has no events of.
OBJECTS = ["Campaigns", "CampaignMetrics", "Templates", "Lists", "ListUsers", "Catalogs", "CatalogItems", "Users",
           "Events_emailSend", "Events_emailOpen", "Events_customEvent", "Events_purchase"]  # fmt: skip
_clean: dict[str, object] = {}
FAULTS = {
    "429 storm": {"burst_429": 40},
    "429 storm on exports": {"burst_429": 25, "burst_endpoint": "export/data.json"},
    "500s": {"error_rate": 0.25},
    "500s on exports": {"error_rate": 0.5, "error_endpoint": "export/data.json"},
    "dropped streams": {"drop_after_lines": 30, "drop_streams": 12},
    "slow answers": {"latency_ms": 40, "slow_endpoint": "data.json"},
}


@pytest.mark.parametrize("settings", FAULTS.values(), ids=FAULTS.keys())
def test_the_run_finishes_with_the_tables_of_a_clean_run(
    conn: iterbridge.Connection,
    admin: httpx2.Client,
    stats: Stats,
    tmp_path: Path,
    settings: dict[str, object],
) -> None:
    if "snapshot" not in _clean:  # the shared sandbox is reset for each test: one clean copy serves them all
        clean = Copy(f"sqlite:///{tmp_path / 'clean.db'}")
        assert conn.replicate(clean.url, OBJECTS).ok
        _clean["snapshot"] = clean.snapshot()
    faulty = Copy(f"sqlite:///{tmp_path / 'faulty.db'}")
    stats.faults(**settings)
    with stats.counting() as made:
        report = conn.replicate(faulty.url, OBJECTS)
        assert report.ok, (report.failed, report.skipped)
        assert faulty.snapshot() == _clean["snapshot"]
        endpoints = admin.get("/_sandbox/stats").json()["endpoints"]
    if "burst_429" in settings:
        assert sum(s.get("429", 0) for s in endpoints.values()) == settings["burst_429"]
    if "error_rate" in settings:
        assert sum(s.get("500", 0) for s in endpoints.values()) > 0
    if "drop_after_lines" in settings:
        assert admin.get("/_sandbox/faults").json()["drop_streams"] == 0  # every drop happened…
        assert made["GET /api/export/data.json"] > 5  # …and the dropped windows were read again
    # Counts match what the tables hold: nothing written twice.
    for stream in report.streams:
        if stream.table.startswith("Events_"):
            assert stream.inserted == len(faulty.rows(stream.table)), stream.table


def test_a_list_whose_members_fail_is_skipped_and_its_members_kept(
    conn: iterbridge.Connection, api: httpx2.Client, stats: Stats, sqlite_url: str, sandbox: Sandbox
) -> None:
    assert conn.replicate(sqlite_url, ["Lists", "ListUsers"]).ok
    copy = Copy(sqlite_url)
    members = copy.rows("ListUsers")
    by_list: dict[int, list[str]] = {}
    for row in members:
        by_list.setdefault(row["ListId"], []).append(row["Email"])
    failing, other = sorted(by_list, key=lambda i: -len(by_list[i]))[:2]
    # Meanwhile one member leaves the failing list, another leaves a list that still reads.
    leaving = by_list[other][0]
    api.post("/api/lists/unsubscribe", json={"listId": other, "subscribers": [{"email": leaving}]})
    api.post("/api/lists/unsubscribe", json={"listId": failing, "subscribers": [{"email": by_list[failing][0]}]})
    stats.faults(error_lists=[failing])

    report = conn.replicate(sqlite_url, ["Lists", "ListUsers"])
    stream = report.stream("ListUsers")
    assert stream.error is None
    assert len(stream.skipped) == 1
    assert stream.skipped[0].startswith(f"list {failing}: ")
    assert report.skipped == [f"ListUsers: {stream.skipped[0]}"]
    assert not report.ok
    after = copy.rows("ListUsers")
    # The failing list's members are all kept (even the one who left: its list could not be read)…
    assert sorted(r["Email"] for r in after if r["ListId"] == failing) == sorted(by_list[failing])
    # …while the sweep still applies to the lists that could be read.
    assert leaving not in {r["Email"] for r in after if r["ListId"] == other}
    assert stream.deleted == 1
    # The skip is not remembered as a success: once the list reads again, its leaver goes.
    stats.faults(error_lists=[])
    assert conn.replicate(sqlite_url, ["ListUsers"]).stream("ListUsers").deleted == 1
