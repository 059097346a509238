"""Authentication: keys, key headers, the read-only key's reach, regions, and the unauthenticated admin surface."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest

from iterbridge.sandbox import Sandbox

READ_ONLY = {"Api-Key": "sandbox-read-only-key"}
Serve = Callable[..., httpx2.Client]


def _assert_bad_key(response: httpx2.Response, path: str) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "msg": "Invalid API key",
        "code": "BadApiKey",
        "params": {"ip": "127.0.0.1", "endpoint": path},
    }


def test_no_key_is_refused(sandbox: Sandbox, admin: httpx2.Client) -> None:
    _assert_bad_key(admin.get("/api/lists"), "/api/lists")
    _assert_bad_key(admin.post("/api/lists", json={"name": "keyless"}), "/api/lists")


@pytest.mark.parametrize("path", ["/api/lists", "/api/campaigns", "/api/users/getFields", "/api/export/jobs"])
def test_wrong_key_is_refused(api: httpx2.Client, path: str) -> None:
    _assert_bad_key(api.get(path, headers={"Api-Key": "not-the-key"}), path)


def test_empty_key_is_refused(api: httpx2.Client) -> None:
    _assert_bad_key(api.get("/api/lists", headers={"Api-Key": ""}), "/api/lists")


def test_a_wrong_key_is_refused_before_the_body_is_read(api: httpx2.Client) -> None:
    response = api.post("/api/lists", content=b"{not json", headers={"Api-Key": "not-the-key"})
    _assert_bad_key(response, "/api/lists")


@pytest.mark.parametrize("header", ["Api-Key", "Api_Key"])
def test_both_key_headers_work(sandbox: Sandbox, admin: httpx2.Client, header: str) -> None:
    response = admin.get("/api/lists", headers={header: sandbox.api_key})
    assert response.status_code == 200
    assert response.json()["lists"]


def test_both_key_headers_work_for_writes(sandbox: Sandbox, admin: httpx2.Client) -> None:
    headers = {"Api_Key": sandbox.api_key}
    created = admin.post("/api/lists", json={"name": "underscored"}, headers=headers)
    assert created.status_code == 200
    lists = admin.get("/api/lists", headers=headers).json()["lists"]
    assert any(lst["id"] == created.json()["listId"] for lst in lists)


def test_a_custom_key_replaces_the_default(serve: Serve) -> None:
    client = serve(api_key="my-own-key")
    assert client.get("/api/lists", headers={"Api-Key": "my-own-key"}).status_code == 200
    assert client.get("/api/lists", headers={"Api-Key": "sandbox-api-key"}).status_code == 401


# ---- the read-only key ----------------------------------------------------------------------------------

READ_ONLY_ALLOWED = [
    ("/api/lists", None),
    ("/api/campaigns", None),
    ("/api/templates", None),
    ("/api/channels", None),
    ("/api/messageTypes", None),
    ("/api/users/getFields", None),
    ("/api/campaigns/metrics", {"campaignId": "1"}),
    ("/api/catalogs", None),
    ("/api/metadata", None),
]


@pytest.mark.parametrize(("path", "params"), READ_ONLY_ALLOWED)
def test_read_only_key_may_read_what_iterable_allows(
    api: httpx2.Client, path: str, params: dict[str, str] | None
) -> None:
    response = api.get(path, params=params, headers=READ_ONLY)
    assert response.status_code == 200, response.text
    assert response.text == api.get(path, params=params).text


def test_read_only_key_may_get_a_campaign_and_a_template(api: httpx2.Client) -> None:
    campaign = api.get("/api/campaigns").json()["campaigns"][0]
    assert api.get(f"/api/campaigns/{campaign['id']}", headers=READ_ONLY).json() == campaign
    template = api.get("/api/templates").json()["templates"][0]
    detail = api.get("/api/templates/email/get", params={"templateId": template["templateId"]}, headers=READ_ONLY)
    assert detail.status_code == 200
    assert detail.json()["templateId"] == template["templateId"]


def _assert_insufficient(response: httpx2.Response, path: str) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["msg"] == "Provided API Key has not sufficient permissions"
    assert body["params"] == {"ip": "127.0.0.1", "endpoint": path}
    assert body["code"] != "Success"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/export/data.json", {"dataTypeName": "emailSend", "range": "All"}),
        ("/api/export/data.csv", {"dataTypeName": "user", "range": "All"}),
        ("/api/export/userEvents", {"email": "someone@example.com"}),
        ("/api/export/jobs", None),
    ],
)
def test_read_only_key_may_not_export(api: httpx2.Client, path: str, params: dict[str, str] | None) -> None:
    _assert_insufficient(api.get(path, params=params, headers=READ_ONLY), path)


def test_read_only_key_may_not_list_members(api: httpx2.Client) -> None:
    """The probe a connector uses to tell a read-only key ([AB] source.py)."""
    list_id = api.get("/api/lists").json()["lists"][2]["id"]
    for path in ("/api/lists/getUsers", "/api/lists/previewUsers"):
        _assert_insufficient(api.get(path, params={"listId": list_id}, headers=READ_ONLY), path)
    _assert_insufficient(api.get(f"/api/lists/{list_id}/size", headers=READ_ONLY), f"/api/lists/{list_id}/size")
    assert api.get("/api/lists/getUsers", params={"listId": list_id}).status_code == 200


def test_read_only_key_may_not_start_an_export_job(api: httpx2.Client) -> None:
    response = api.post(
        "/api/export/start",
        json={"dataTypeName": "emailSend", "outputFormat": "text/csv"},
        headers=READ_ONLY,
    )
    _assert_insufficient(response, "/api/export/start")
    assert api.get("/api/export/jobs").json() == {"jobs": []}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/lists", {"name": "read-only attempt"}),
        ("POST", "/api/users/update", {"email": "ro@example.com", "dataFields": {"a": 1}}),
        ("POST", "/api/events/track", {"email": "ro@example.com", "eventName": "x"}),
        ("PUT", "/api/metadata/table/key", {"value": {"a": 1}}),
        ("PUT", "/api/catalogs/products/items/ro-item", {"value": {"name": "x"}}),
        ("POST", "/api/catalogs/ro-catalog", None),
        ("DELETE", "/api/users/someone@example.com", None),
    ],
)
def test_read_only_key_may_not_write(api: httpx2.Client, method: str, path: str, body: object) -> None:
    response = api.request(method, path, json=body, headers=READ_ONLY)
    _assert_insufficient(response, path)


def test_read_only_writes_change_nothing(api: httpx2.Client) -> None:
    before = api.get("/api/lists").text
    api.post("/api/lists", json={"name": "read-only attempt"}, headers=READ_ONLY)
    api.post("/api/users/update", json={"email": "ro@example.com", "dataFields": {"a": 1}}, headers=READ_ONLY)
    assert api.get("/api/lists").text == before
    assert api.get("/api/users/ro@example.com").json() == {}


def test_no_read_only_key_when_disabled(serve: Serve) -> None:
    client = serve(read_only_api_key=None)
    _assert_bad_key(client.get("/api/lists", headers=READ_ONLY), "/api/lists")


# ---- regions --------------------------------------------------------------------------------------------


def test_a_us_project_refuses_requests_for_the_eu_host(api: httpx2.Client) -> None:
    response = api.get("/api/lists", headers={"Host": "api.eu.iterable.com"})
    _assert_bad_key(response, "/api/lists")


def test_a_us_project_answers_its_own_host(api: httpx2.Client) -> None:
    assert api.get("/api/lists", headers={"Host": "api.iterable.com"}).status_code == 200


def test_an_eu_project_refuses_the_us_host(serve: Serve) -> None:
    client = serve(region="eu")
    assert client.get("/api/lists", headers={"Host": "api.eu.iterable.com"}).status_code == 200
    _assert_bad_key(client.get("/api/lists", headers={"Host": "api.iterable.com"}), "/api/lists")
    assert client.get("/api/lists").status_code == 200  # loopback host: either region


# ---- the admin surface ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("GET", "/_sandbox/info"), ("GET", "/_sandbox/stats"),
                                              ("GET", "/_sandbox/faults"), ("POST", "/_sandbox/reset")])  # fmt: skip
def test_admin_needs_no_key(sandbox: Sandbox, admin: httpx2.Client, method: str, path: str) -> None:
    response = admin.request(method, path)
    assert response.status_code == 200
    assert isinstance(response.json(), dict)


def test_info_never_shows_the_key(sandbox: Sandbox, admin: httpx2.Client) -> None:
    info = admin.get("/_sandbox/info")
    assert sandbox.api_key not in info.text
    assert "sandbox-read-only-key" not in info.text
    assert info.json()["region"] == "us"


def test_refused_calls_are_counted(sandbox: Sandbox, api: httpx2.Client) -> None:
    api.get("/api/lists", headers={"Api-Key": "nope"})
    api.get("/api/lists", headers=READ_ONLY)
    api.get("/api/lists/getUsers", params={"listId": "1"}, headers=READ_ONLY)
    stats = api.get("/_sandbox/stats").json()["endpoints"]
    assert stats["GET /api/lists"] == {"200": 1, "401": 1}
    assert stats["GET /api/lists/getUsers"] == {"401": 1}
