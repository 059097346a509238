"""Re-running an interrupted import: where Iterable has a key (user email, catalog item id, list membership, an
event's Id) the second run creates no duplicates; where it has none (events without an Id) it does, as the
importer's documentation says."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from click.testing import Result

import iterbridge
from iterbridge.transfer import ImportOptions, ImportSummary
from iterbridge.transfer import importer as importer_module

from .support import Stats, write_csv

EMAIL = "rerun@example.com"


def interrupted(conn: iterbridge.Connection, stats: Stats, name: str, path: Path, endpoint: str,
                operation: str = "insert") -> ImportSummary:  # fmt: skip
    """Import with batches of 2; after the first batch Iterable stops answering `endpoint` (500 every time)."""

    def after_batch(summary: ImportSummary) -> None:
        if summary.batches == 1:
            stats.faults(error_rate=1.0, error_endpoint=endpoint)

    summary = conn.import_csv(name, path, ImportOptions(operation=operation, batch_size=2), progress=after_batch)
    assert summary.stopped
    assert "500" in summary.stopped
    assert summary.accepted == 2
    assert summary.rejected == summary.read - 2  # every row after the first batch: refused, or not sent
    stats.faults(error_rate=0.0)
    return summary


def complete(conn: iterbridge.Connection, name: str, path: Path, operation: str = "insert") -> None:
    summary = conn.import_csv(name, path, ImportOptions(operation=operation, batch_size=2))
    assert (summary.read, summary.accepted, summary.rejected) == (6, 6, 0)


def test_users(conn: iterbridge.Connection, stats: Stats, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "users.csv", ["Email", "loyaltyPoints"], [[f"u{i}@rerun.example", i] for i in range(6)])
    interrupted(conn, stats, "Users", path, "users/bulkUpdate")
    complete(conn, "Users", path, "upsert")
    emails = [row["Email"] for row in conn.read("Users", columns=["Email"]) if row["Email"].endswith("@rerun.example")]
    assert sorted(emails) == [f"u{i}@rerun.example" for i in range(6)]


def test_catalog_items(conn: iterbridge.Connection, stats: Stats, tmp_path: Path, api: httpx2.Client) -> None:
    path = write_csv(tmp_path / "items.csv", ["CatalogName", "ItemId", "Value.n"],
                     [["stores", f"rerun-{i}", i] for i in range(6)])  # fmt: skip
    before = api.get("/api/catalogs/stores/items").json()["params"]["totalItemsCount"]
    interrupted(conn, stats, "CatalogItems", path, "/items")
    complete(conn, "CatalogItems", path, "upsert")
    assert api.get("/api/catalogs/stores/items").json()["params"]["totalItemsCount"] == before + 6


def test_list_users(conn: iterbridge.Connection, stats: Stats, tmp_path: Path, api: httpx2.Client) -> None:
    list_id = api.post("/api/lists", json={"name": "Rerun"}).json()["listId"]
    path = write_csv(
        tmp_path / "members.csv", ["ListId", "Email"], [[list_id, f"m{i}@rerun.example"] for i in range(6)]
    )
    interrupted(conn, stats, "ListUsers", path, "lists/subscribe")
    complete(conn, "ListUsers", path)
    members = api.get("/api/lists/getUsers", params={"listId": list_id}).text.split()
    assert sorted(members) == [f"m{i}@rerun.example" for i in range(6)]


def events_of(api: httpx2.Client) -> list[dict[str, object]]:
    found: list[dict[str, object]] = api.get(f"/api/events/{EMAIL}", params={"limit": 200}).json()["events"]
    return found


@pytest.mark.parametrize("with_id", [True, False], ids=["with-id", "without-id"])
def test_events(conn: iterbridge.Connection, stats: Stats, tmp_path: Path, api: httpx2.Client, with_id: bool) -> None:
    api.post("/api/users/update", json={"email": EMAIL}).raise_for_status()
    rows = [[f"evt-{i}" if with_id else "", "rerun", EMAIL, f"2026-10-0{i + 1} 10:00:00"] for i in range(6)]
    path = write_csv(tmp_path / "events.csv", ["Id", "EventName", "Email", "CreatedAt"], rows)
    interrupted(conn, stats, "Events", path, "events/trackBulk")
    complete(conn, "Events", path)
    tracked = [e for e in events_of(api) if e.get("eventName") == "rerun"]
    if with_id:  # Iterable replaced the events sent twice: one per Id
        assert len(tracked) == 6
        assert len(conn_events(conn)) == 6
    else:  # no key: the two events of the first run's batch exist twice
        assert len(tracked) == 8


def conn_events(conn: iterbridge.Connection) -> list[str]:
    return [row["Id"] for row in conn.read("Events", where={"Email": EMAIL}) if row["EventName"] == "rerun"]


def test_the_cli_says_where_it_stopped(cli: Callable[..., Result], stats: Stats, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "users.csv", ["Email"], [[f"s{i}@rerun.example"] for i in range(6)])
    stats.faults(error_rate=1.0, error_endpoint="users/bulkUpdate")
    result = cli("import", "Users", str(path), "--batch-size", "2")
    assert result.exit_code == 1
    # The first batch fails after its retries; the second, read meanwhile, is not sent; the rest is not read.
    assert "4 rows read, 2 sent, 0 accepted, 4 rejected; stopped early: line 2: " in result.stderr
    assert "POST /api/users/bulkUpdate" in result.stderr
    assert "line 4: not sent: the import stopped at line 2: " in result.stderr


def test_the_idempotent_operations_are_documented(cli: Callable[..., Result]) -> None:
    text = " ".join(cli("import", "--help").output.split())
    assert "Re-running an interrupted import duplicates nothing where Iterable has a key" in text
    for name in ("Users", "CatalogItems", "ListUsers", "Templates", "Events that carry an Id"):
        assert name in text
    assert "Lists, Campaigns, InAppMessages and Events without an Id are created again" in text
    doc = importer_module.__doc__ or ""
    assert "NOT idempotent" in doc
    assert "Events" in doc
