"""--dry-run reads, converts and validates every row and shows the requests an import would send — and sends
no write at all (the sandbox's call counts say so)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx2
from click.testing import Result

import iterbridge
from iterbridge.sandbox import Sandbox
from iterbridge.transfer import ImportOptions

from .support import Stats, write_csv, writes


def test_a_dry_run_sends_no_write_and_shows_the_requests(cli: Callable[..., Result], stats: Stats, tmp_path: Path,
                                                         sandbox: Sandbox, api: httpx2.Client) -> None:  # fmt: skip
    path = write_csv(
        tmp_path / "users.csv",
        ["Email", "loyaltyPoints", "color"],
        [["d1@example.com", "1", "red"], ["d2@example.com", "2", "blue"], ["d3@example.com", "3", ""]],
    )
    with stats.counting() as made:
        result = cli("import", "Users", str(path), "--dry-run", "--batch-size", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert writes(made) == {}
    assert made == {"GET /api/users/getFields": 1}
    assert "Users insert (dry run): 3 rows read, 3 would be sent in 2 requests, 0 rejected" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"POST {sandbox.url}/api/users/bulkUpdate"
    assert json.loads(lines[1]) == {"users": [
        {"dataFields": {"loyaltyPoints": 1, "color": "red"}, "email": "d1@example.com"},
        {"dataFields": {"loyaltyPoints": 2, "color": "blue"}, "email": "d2@example.com"},
    ]}  # fmt: skip
    assert lines[2] == f"POST {sandbox.url}/api/users/bulkUpdate"
    assert json.loads(lines[3]) == {"users": [{"dataFields": {"loyaltyPoints": 3}, "email": "d3@example.com"}]}
    assert api.get("/api/users/d1@example.com").json() == {}
    assert "color" not in api.get("/api/users/getFields").json()["fields"]


def test_a_dry_run_still_rejects_what_it_can_tell(cli: Callable[..., Result], stats: Stats, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "events.csv",
        ["EventName", "Email", "CreatedAt"],
        [["a", "e1@example.com", ""], ["", "e2@example.com", ""], ["c", "e3@example.com", "soon"]],
    )
    with stats.counting() as made:
        result = cli("import", "Events", str(path), "--dry-run")  # fmt: skip
    assert result.exit_code == 1
    assert made == {}
    assert "Events insert (dry run): 3 rows read, 1 would be sent in 1 request, 2 rejected" in result.stderr
    assert "line 3: missing EventName" in result.stderr
    assert "line 4: CreatedAt: expected a date" in result.stderr
    assert result.stdout.splitlines()[0].endswith("/api/events/trackBulk")


def test_a_dry_run_of_per_row_writes_shows_each_request(cli: Callable[..., Result], stats: Stats,
                                                        tmp_path: Path) -> None:  # fmt: skip
    path = write_csv(tmp_path / "lists.csv", ["Name"], [[f"list {i}"] for i in range(25)])
    with stats.counting() as made:
        result = cli("import", "Lists", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert made == {}
    requests = [line for line in result.stdout.splitlines() if line.startswith("POST ")]
    assert len(requests) == 20
    assert all(line.endswith("/api/lists") for line in requests)
    assert result.stdout.splitlines()[1] == '{"name": "list 0"}'
    assert "… and 5 more requests" in result.stdout
    assert "25 would be sent in 25 requests" in result.stderr


def test_a_dry_run_of_deletes_deletes_nothing(cli: Callable[..., Result], stats: Stats, tmp_path: Path,
                                              api: httpx2.Client) -> None:  # fmt: skip
    path = write_csv(tmp_path / "users.csv", ["Email"], [["elijah.young0@example.net"]])
    with stats.counting() as made:
        result = cli("import", "Users", str(path), "--operation", "delete", "--dry-run")
    assert result.exit_code == 0, result.output
    assert writes(made) == {}
    assert result.stdout.startswith("DELETE ")
    assert "/api/users/elijah.young0@example.net" in result.stdout
    assert api.get("/api/users/elijah.young0@example.net").json()["user"]


def test_the_python_api_collects_the_requests(conn: iterbridge.Connection, stats: Stats, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "items.csv", ["CatalogName", "ItemId", "Value.price"], [["products", "x1", "9.5"]])
    with stats.counting() as made:
        summary = conn.import_csv("CatalogItems", path, ImportOptions(dry_run=True))
    assert writes(made) == {}
    assert summary.dry_run
    assert summary.api_calls == 0
    assert summary.accepted == 0
    assert [(r["method"], r["url"].rsplit("/api/", 1)[1], r["json"]) for r in summary.requests] == [
        ("POST", "catalogs/products/items", {"documents": {"x1": {"price": 9.5}}, "replaceUploadedFieldsOnly": False})
    ]
    assert conn.client.recorder is None  # the connection writes for real again afterwards
