"""Every error shape the sandbox serves, as the real API words and types it (per the recordings)."""

from __future__ import annotations

from typing import Any

import httpx2
import orjson
import pytest
from cassettes import MISSING_REFERENCE, all_interactions

JSON = "application/json; charset=utf-8"
PROJECT_ID = 1000 + (42 * 7919) % 9000  # SandboxConfig.project_id for seed 42


def _envelope(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"msg", "code", "params"}
    assert body["code"] == code
    return body


def _a_user(api: httpx2.Client) -> str:
    standard = next(lst["id"] for lst in api.get("/api/lists").json()["lists"] if lst["listType"] == "Standard")
    return api.get("/api/lists/getUsers", params={"listId": standard}).text.split("\n")[0]


# ---- BadParams -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "msg"),
    [
        ("DELETE", "/api/lists/42", None, None,
         f"Unable to delete list 42 in Project {PROJECT_ID}, which does not exist."),
        ("GET", "/api/templates/email/get", {"templateId": "42"}, None,
         "Template ID: 42 does not exist for this project"),
        ("POST", "/api/templates/email/update", None, {"templateId": 42},
         "Template ID: 42 does not exist for this project"),
        ("GET", "/api/export/data.json", {"range": "All"}, None, "dataTypeName is required"),
        ("GET", "/api/export/data.json", {"dataTypeName": "noSuchType"}, None, "Invalid dataTypeName: noSuchType"),
        ("GET", "/api/export/data.json", {"dataTypeName": "emailSend", "range": "Tomorrow"}, None,
         "Invalid range: Tomorrow. Valid values: Today, Yesterday, BeforeToday, All"),
        ("GET", "/api/events/someone@example.com", {"limit": "500"}, None, "limit must be between 1 and 200"),
        ("GET", "/api/events/someone@example.com", {"limit": "many"}, None, "Invalid value for limit: many"),
        ("GET", "/api/campaigns", {"campaignState": "Sleeping"}, None, "Invalid campaignState: Sleeping"),
        ("POST", "/api/users/update", None, {"dataFields": {"a": 1}}, "Either email or userId must be specified"),
        ("POST", "/api/events/track", None, {"eventName": "x"},
         "Either email or userId must be specified in a track call"),
        ("DELETE", "/api/users/byUserId/42", None, None, "No users with userId 42 exist"),
        ("POST", "/api/catalogs/products", None, None,
         "Unable to create a catalog named products: a catalog with that name already exists"),
    ],
)  # fmt: skip
def test_bad_params(
    api: httpx2.Client, method: str, path: str, params: dict[str, str] | None, body: object, msg: str
) -> None:
    response = api.request(method, path, params=params, json=body)
    assert _envelope(response, 400, "BadParams")["msg"] == msg


def test_bad_params_on_the_campaign_endpoints(api: httpx2.Client) -> None:
    campaigns = api.get("/api/campaigns").json()["campaigns"]
    blast = next(c for c in campaigns if c["type"] == "Blast" and c["campaignState"] == "Finished")
    lists = [blast["listIds"][0]]
    trigger = api.post("/api/campaigns/trigger", json={"campaignId": blast["id"], "listIds": lists})
    assert _envelope(trigger, 400, "BadParams") == {
        "msg": "Campaign is not a triggered campaign",
        "code": "BadParams",
        "params": None,
    }
    children = api.get(f"/api/campaigns/recurring/{blast['id']}/childCampaigns")
    assert _envelope(children, 400, "BadParams")["msg"] == f"Campaign {blast['id']} is not a recurring campaign"
    create = api.post("/api/campaigns/create", json={"name": "x", "templateId": blast["templateId"], "listIds": []})
    assert _envelope(create, 400, "BadParams")["msg"] == "The listIds field must be specified"
    aborted = api.post("/api/campaigns/abort", json={"campaignId": blast["id"]})
    assert _envelope(aborted, 400, "GenericError")["msg"] == f"Campaign abort failed. Id: {blast['id']}"


def test_bad_params_on_list_members(api: httpx2.Client) -> None:
    response = api.get("/api/lists/getUsers", params={"listId": "42"})
    assert _envelope(response, 400, "BadParams") == {
        "msg": "Invalid email list id",
        "code": "BadParams",
        "params": {"projectId": str(PROJECT_ID), "listId": "42"},
    }


def test_in_app_target_with_a_bad_campaign(api: httpx2.Client) -> None:
    response = api.post("/api/inApp/target", json={"campaignId": 4444, "recipientEmail": "a@example.com"})
    assert _envelope(response, 400, "BadParams") == {
        "msg": "Invalid Campaign Id",
        "code": "BadParams",
        "params": {"campaignId": "4444"},
    }


# ---- BadJsonBody ---------------------------------------------------------------------------------------


def _json_errors(response: httpx2.Response, path: str, raw_body: str) -> dict[str, Any]:
    body = _envelope(response, 400, "BadJsonBody")
    msg = body["msg"]
    assert msg.startswith(f"[{path}] body: {raw_body}, hdrs: List(")
    assert msg.endswith(")")
    assert "(Api-Key,sandbox-api-key)" in msg  # the real API echoes every header, the key too
    params: dict[str, Any] = body["params"]
    return params


def test_the_echo_keeps_the_api_key_as_the_current_recordings_do(api: httpx2.Client) -> None:
    """Iterable's BadJsonBody echo left the Api-Key out in the 2017 recordings (`hdrs: ArrayBuffer(...)`), and
    echoes it in every recording of the current format (`hdrs: List(...)`, 2022), the format the sandbox
    serves: so the sandbox echoes it too, and clients must redact it (tests/api, tests/connector)."""
    recorded = [i.json["msg"] for i in all_interactions() if i.status == 400 and b'"BadJsonBody"' in i.body]
    assert recorded, MISSING_REFERENCE
    current = [msg for msg in recorded if ", hdrs: List(" in msg]
    older = [msg for msg in recorded if ", hdrs: ArrayBuffer(" in msg]
    assert current
    assert older
    assert len(current) + len(older) == len(recorded)
    assert all("(Api-Key,<ITERABLE_TOKEN>)" in msg for msg in current)
    assert not any("(Api-Key," in msg for msg in older)
    newest = max((i for i in all_interactions() if b'"BadJsonBody"' in i.body), key=lambda i: i.recorded_at)
    assert ", hdrs: List(" in newest.json["msg"]
    served = _envelope(api.post("/api/lists", json={}), 400, "BadJsonBody")["msg"]
    assert served.startswith("[/api/lists] body: {}, hdrs: List(")
    assert "(Api-Key,sandbox-api-key)" in served


def test_malformed_json(api: httpx2.Client) -> None:
    response = api.post("/api/lists", content=b'{"name": ', headers={"Content-Type": "application/json"})
    params = _json_errors(response, "/api/lists", '{"name": ')
    assert params == {"obj": [{"msg": ["error.expected.jsobject"], "args": []}]}


def test_json_that_is_not_an_object(api: httpx2.Client) -> None:
    response = api.post("/api/events/track", json=["eventName"])
    params = _json_errors(response, "/api/events/track", '["eventName"]')
    assert params == {"obj": [{"msg": ["error.expected.jsobject"], "args": []}]}


def test_missing_field(api: httpx2.Client) -> None:
    raw = orjson.dumps({"email": "someone@example.com"}).decode()
    response = api.post("/api/events/track", content=raw, headers={"Content-Type": "application/json"})
    params = _json_errors(response, "/api/events/track", raw)
    assert params == {"obj.eventName": [{"msg": ["error.path.missing"], "args": []}]}
    assert f"(Content-Length,{len(raw)})" in response.json()["msg"]


def test_null_field(api: httpx2.Client) -> None:
    raw = '{"email":"someone@example.com","eventName":null}'
    response = api.post("/api/events/track", content=raw, headers={"Content-Type": "application/json"})
    params = _json_errors(response, "/api/events/track", raw)
    assert params == {"obj.eventName": [{"msg": ["error.expected.jsstring"], "args": []}]}


def test_wrongly_typed_fields(api: httpx2.Client) -> None:
    raw = '{"email":42,"dataFields":[]}'
    response = api.post("/api/users/update", content=raw, headers={"Content-Type": "application/json"})
    params = _json_errors(response, "/api/users/update", raw)
    assert params == {
        "obj.email": [{"msg": ["error.expected.jsstring"], "args": []}],
        "obj.dataFields": [{"msg": ["error.expected.jsobject"], "args": []}],
    }
    raw = '{"campaignId":"7"}'
    response = api.post("/api/campaigns/abort", content=raw, headers={"Content-Type": "application/json"})
    assert _json_errors(response, "/api/campaigns/abort", raw) == {
        "obj.campaignId": [{"msg": ["error.expected.jsnumber"], "args": []}]
    }


def test_bulk_errors_name_each_position(api: httpx2.Client) -> None:
    raw = '{"events":[{"email":"a@example.com","eventName":null},{"email":"bad@","eventName":null}]}'
    response = api.post("/api/events/trackBulk", content=raw, headers={"Content-Type": "application/json"})
    assert _json_errors(response, "/api/events/trackBulk", raw) == {
        "obj.events[0].eventName": [{"msg": ["error.expected.jsstring"], "args": []}],
        "obj.events[1].eventName": [{"msg": ["error.expected.jsstring"], "args": []}],
    }


def test_list_name_in_the_query_string_is_not_the_body(api: httpx2.Client) -> None:
    response = api.post("/api/lists", params={"name": "query list"})
    params = _json_errors(response, "/api/lists", "")
    assert params == {"obj.name": [{"msg": ["error.path.missing"], "args": []}]}


def test_metadata_answers_bad_bodies_in_plain_text(api: httpx2.Client) -> None:
    response = api.put("/api/metadata/table/key", json={"value": None})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith('Json error: {"obj.value":[{"msg":"error.expected.jsobject","args":[]}]}')


# ---- NotFound ------------------------------------------------------------------------------------------


def test_catalog_item_not_found(api: httpx2.Client) -> None:
    response = api.get("/api/catalogs/products/items/no-such-item")
    assert _envelope(response, 404, "NotFound")["msg"] == "Catalog item no-such-item not found in catalog products"


def test_catalog_not_found(api: httpx2.Client) -> None:
    for path in ("/api/catalogs/nowhere/items", "/api/catalogs/nowhere/fieldMappings"):
        assert _envelope(api.get(path), 404, "NotFound")["msg"] == "Catalog nowhere does not exist"


def test_metadata_key_not_found(api: httpx2.Client) -> None:
    response = api.get("/api/metadata/exampletable/dnuofton")
    assert _envelope(response, 404, "NotFound") == {
        "msg": "No metadata found in table exampletable with key dnuofton",
        "code": "NotFound",
        "params": None,
    }


def test_campaign_not_found(api: httpx2.Client) -> None:
    assert _envelope(api.get("/api/campaigns/12345"), 404, "NotFound")["msg"] == "Campaign 12345 does not exist"


def test_export_job_not_found(api: httpx2.Client) -> None:
    assert _envelope(api.get("/api/export/999999/files"), 404, "NotFound")["msg"] == "Export job 999999 not found"


# ---- users ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [("/api/users/foo@", None), ("/api/users/getByEmail", {"email": "foo@"}), ("/api/events/foo@", None)],
)
def test_invalid_email(api: httpx2.Client, path: str, params: dict[str, str] | None) -> None:
    response = api.get(path, params=params)
    assert _envelope(response, 400, "InvalidEmailAddressError") == {
        "msg": "Invalid email: foo@",
        "code": "InvalidEmailAddressError",
        "params": None,
    }


def test_invalid_email_on_writes(api: httpx2.Client) -> None:
    response = api.post("/api/users/update", json={"email": "foo@", "dataFields": {}})
    assert _envelope(response, 400, "InvalidEmailAddressError")["msg"] == "Invalid email: foo@"
    empty = api.post("/api/users/bulkUpdate", json={"users": []})
    assert _envelope(empty, 400, "InvalidEmailAddressError")["msg"] == "Emails invalid: "


def test_unknown_user_is_an_empty_object(api: httpx2.Client) -> None:
    for path in ("/api/users/nobody@example.com", "/api/users/getByEmail?email=nobody@example.com"):
        response = api.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == JSON
        assert response.content == b"{}"


def test_unknown_user_id_is_plain_text(api: httpx2.Client) -> None:
    for path in ("/api/users/byUserId/no-such-id", "/api/users/byUserId?userId=no-such-id"):
        response = api.get(path)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == "No user with that id exists!"


def test_unknown_user_id_where_a_user_must_exist(api: httpx2.Client) -> None:
    response = api.get("/api/export/userEvents", params={"userId": "no-such-id"})
    assert _envelope(response, 400, "UnknownUserIdError")["msg"] == "No user exists with userId no-such-id"


def test_type_mismatch_on_update(api: httpx2.Client) -> None:
    email = _a_user(api)
    before = api.get(f"/api/users/{email}").json()
    response = api.post("/api/users/update", json={"email": email, "dataFields": {"totalOrders": "many"}})
    body = _envelope(response, 400, "RequestFieldsTypesMismatched")
    assert body["params"] == {
        "validationErrors": {
            f"{PROJECT_ID}:::totalOrders": {
                "incomingTypes": ["string"],
                "expectedType": "long",
                "category": "user",
                "offendingValue": "many",
                "_type": "UnexpectedType",
            }
        }
    }
    assert api.get(f"/api/users/{email}").json() == before  # nothing was written


def test_type_mismatch_inside_an_object_field(api: httpx2.Client) -> None:
    response = api.post(
        "/api/users/update", json={"email": "new@example.com", "dataFields": {"address": {"zip": 12345}}}
    )
    body = _envelope(response, 400, "RequestFieldsTypesMismatched")
    assert list(body["params"]["validationErrors"]) == [f"{PROJECT_ID}:::address.zip"]
    assert api.get("/api/users/new@example.com").json() == {}


def test_new_fields_fix_their_type(api: httpx2.Client) -> None:
    first = api.post("/api/users/update", json={"email": "a@example.com", "dataFields": {"shoeSize": 42}})
    assert first.status_code == 200
    assert api.get("/api/users/getFields").json()["fields"]["shoeSize"] == "long"
    second = api.post("/api/users/update", json={"email": "b@example.com", "dataFields": {"shoeSize": "big"}})
    assert _envelope(second, 400, "RequestFieldsTypesMismatched")["params"]["validationErrors"]


def test_forgotten_user_conflicts(api: httpx2.Client) -> None:
    assert api.post("/api/users/forget", json={"email": "gone@example.com"}).status_code == 200
    response = api.post("/api/users/update", json={"email": "gone@example.com", "dataFields": {}})
    assert _envelope(response, 409, "ForgottenUserError")["msg"] == "User gone@example.com has been forgotten"


def test_update_email_to_an_existing_address_conflicts(api: httpx2.Client) -> None:
    standard = next(lst["id"] for lst in api.get("/api/lists").json()["lists"] if lst["listType"] == "Standard")
    first, second = api.get("/api/lists/getUsers", params={"listId": standard}).text.split("\n")[:2]
    response = api.post("/api/users/updateEmail", json={"currentEmail": first, "newEmail": second})
    assert _envelope(response, 409, "EmailAlreadyExists")["msg"] == f"A user with email {second} already exists"


# ---- quirks ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/lists/subscribe", "/api/lists/unsubscribe"])
def test_invalid_list_says_success(api: httpx2.Client, path: str) -> None:
    response = api.post(path, json={"listId": 999999999, "subscribers": [{"email": "a@example.com"}]})
    assert _envelope(response, 400, "Success") == {
        "msg": "error.lists.invalidListId(999999999)",
        "code": "Success",
        "params": {"projectId": PROJECT_ID, "listId": 999999999},
    }


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/nothing/here"), ("POST", "/api/lists/nothing"),
                                              ("PATCH", "/api/lists"), ("GET", "/elsewhere")])  # fmt: skip
def test_unrouted_path_is_an_html_page(api: httpx2.Client, method: str, path: str) -> None:
    response = api.request(method, path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Action not found</title>" in response.text


def test_list_in_use_by_a_scheduled_campaign(api: httpx2.Client) -> None:
    campaigns = api.get("/api/campaigns").json()["campaigns"]
    scheduled = next(c for c in campaigns if c["campaignState"] == "Scheduled" and c.get("listIds"))
    list_id = scheduled["listIds"][0]
    response = api.delete(f"/api/lists/{list_id}")
    assert response.status_code == 409
    assert response.json()["msg"] == f"List {list_id} is in use by campaign {scheduled['id']}"
    assert any(lst["id"] == list_id for lst in api.get("/api/lists").json()["lists"])


def test_list_in_use_by_a_running_campaign(api: httpx2.Client) -> None:
    template = api.get("/api/templates").json()["templates"][0]["templateId"]
    list_id = api.post("/api/lists", json={"name": "audience"}).json()["listId"]
    created = api.post("/api/campaigns/create", json={"name": "now", "templateId": template, "listIds": [list_id]})
    campaign = api.get(f"/api/campaigns/{created.json()['campaignId']}").json()
    assert campaign["campaignState"] == "Running"
    assert api.delete(f"/api/lists/{list_id}").status_code == 409
    assert api.post("/api/campaigns/abort", json={"campaignId": campaign["id"]}).status_code == 200
    assert api.delete(f"/api/lists/{list_id}").status_code == 200


def test_bulk_catalog_writes_are_limited(api: httpx2.Client) -> None:
    documents = {f"item-{n}": {"n": n} for n in range(1001)}
    response = api.post("/api/catalogs/products/items", json={"documents": documents})
    assert _envelope(response, 400, "BatchTooLarge")["msg"] == "At most 1000 documents per request"
