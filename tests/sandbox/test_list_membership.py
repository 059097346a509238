"""A user's emailListIds and lists/getUsers tell the same memberships, for every list type, before and after
lists/subscribe and lists/unsubscribe writes: replication derives Standard lists' members from the user export
(objects/list_users.py), so a sandbox where the two disagreed would let a wrong derivation pass its tests."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable

import httpx2

from helpers import FakeClock

NOW = "2100-01-01 00:00:00"


def _from_users(api: httpx2.Client) -> dict[int, set[str]]:
    """Members of each list according to the user export's emailListIds."""
    found: dict[int, set[str]] = defaultdict(set)
    response = api.get(
        "/api/export/data.json",
        params={"dataTypeName": "user", "startDateTime": "1970-01-01 00:00:00", "endDateTime": NOW},
    )
    assert response.status_code == 200, response.text
    for line in response.text.splitlines():
        if line.strip():
            user = json.loads(line)
            for list_id in user.get("emailListIds") or []:
                found[list_id].add(user["email"])
    return found


def _from_get_users(api: httpx2.Client, list_id: int) -> set[str]:
    response = api.get("/api/lists/getUsers", params={"listId": list_id})
    assert response.status_code == 200, response.text
    return set(response.text.split())


def _assert_same(api: httpx2.Client, lists: list[dict[str, object]]) -> None:
    derived = _from_users(api)
    for lst in lists:
        list_id = int(str(lst["id"]))
        assert derived.get(list_id, set()) == _from_get_users(api, list_id), (lst["listType"], list_id)


def test_email_list_ids_agree_with_get_users_for_every_list_type(serve: Callable[..., httpx2.Client]) -> None:
    api = serve(FakeClock(), scale="small")
    lists = api.get("/api/lists").json()["lists"]
    types = {lst["listType"] for lst in lists}
    assert {"Standard", "Dynamic", "Suppression"} <= types
    _assert_same(api, lists)

    # Writes on one list of each type: a new subscriber, an unsubscribed member, a member subscribed again.
    new_user = "new.member@example.com"
    for list_type in sorted(types):
        lst = next(item for item in lists if item["listType"] == list_type and _from_get_users(api, item["id"]))
        member = sorted(_from_get_users(api, lst["id"]))[0]
        again = sorted(_from_get_users(api, lst["id"]))[-1]
        for endpoint, email in (
            ("/api/lists/subscribe", new_user),
            ("/api/lists/unsubscribe", member),
            ("/api/lists/unsubscribe", again),
            ("/api/lists/subscribe", again),
        ):
            body = {"listId": lst["id"], "subscribers": [{"email": email}]}
            assert api.post(endpoint, json=body).json()["successCount"] == 1, (endpoint, list_type)
    _assert_same(api, lists)
    # A list created by API (Standard) and a deleted one.
    created = api.post("/api/lists", json={"name": "created"}).json()["listId"]
    api.post("/api/lists/subscribe", json={"listId": created, "subscribers": [{"email": new_user}]})
    api.delete(f"/api/lists/{lists[0]['id']}")
    _assert_same(api, api.get("/api/lists").json()["lists"])
    assert new_user in _from_users(api)[created]
