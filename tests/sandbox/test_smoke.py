"""The sandbox starts, answers over a real socket, and resets between tests."""

from __future__ import annotations

import httpx2


def test_lists_are_served(api: httpx2.Client) -> None:
    response = api.get("/api/lists")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    lists = response.json()["lists"]
    assert {lst["listType"] for lst in lists} >= {"Standard", "Dynamic", "Suppression"}


def test_reset_forgets_writes(api: httpx2.Client) -> None:
    created = api.post("/api/lists", json={"name": "temporary"}).json()["listId"]
    assert any(lst["id"] == created for lst in api.get("/api/lists").json()["lists"])
    api.post("/_sandbox/reset").raise_for_status()
    assert all(lst["id"] != created for lst in api.get("/api/lists").json()["lists"])
