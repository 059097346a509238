"""`iterbridge import`: every operation each object allows, each checked by reading the sandbox back over plain
HTTP; column mapping by name, --map, --map-file, --set; --batch-size in bulk calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from click.testing import Result

import iterbridge
from iterbridge.objects import OBJECTS

from .support import Stats, one_line_error, write_csv, writes

OPERATIONS = {
    "Lists": {"insert", "delete"},
    "Catalogs": {"insert", "delete"},
    "CatalogItems": {"insert", "update", "upsert", "delete"},
    "Users": {"insert", "update", "upsert", "delete"},
    "ListUsers": {"insert", "upsert", "delete"},
    "Events": {"insert", "upsert"},
    "Templates": {"insert", "update", "upsert", "delete"},
    "Campaigns": {"insert"},
    "InAppMessages": {"insert"},
}


def ok(result: Result, summary: str) -> Result:
    assert result.exit_code == 0, result.output
    assert summary in result.stderr, result.stderr
    return result


def user(api: httpx2.Client, email: str) -> dict[str, object]:
    found: dict[str, object] = api.get(f"/api/users/{email}").json().get("user") or {}
    return found


def test_the_operations_are_those_the_catalog_allows() -> None:
    allowed = {
        name: set(obj.writes) | ({"upsert"} if obj.upsert is not None and obj.upsert in obj.writes else set())
        for name, obj in OBJECTS.items()
        if obj.writes
    }
    assert allowed == OPERATIONS


@pytest.mark.parametrize(
    ("name", "operation"),
    [(name, op) for name in OBJECTS for op in ("insert", "update", "upsert", "delete")
     if op not in OPERATIONS.get(name, set())],
)  # fmt: skip
def test_any_other_operation_is_a_one_line_error_before_any_call(
    cli: Callable[..., Result], stats: Stats, tmp_path: Path, name: str, operation: str
) -> None:
    path = write_csv(tmp_path / "x.csv", ["Id"], [[1]])
    with stats.counting() as made:
        message = one_line_error(cli("import", name, str(path), "--operation", operation))
    assert f"{name} does not support {operation}" in message
    assert writes(made) == {}


# ---- each object -------------------------------------------------------------------------------------------


def test_lists_insert_then_delete(cli: Callable[..., Result], api: httpx2.Client, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "lists.csv", ["name", "DESCRIPTION"], [["VIP", "the best"], ["Churned", ""]])
    ok(cli("import", "Lists", str(path)), "2 rows read, 2 sent, 2 accepted, 0 rejected")
    made = {item["name"]: item for item in api.get("/api/lists").json()["lists"]}
    assert made["VIP"].get("description") == "the best"
    assert "description" not in made["Churned"]
    ids = write_csv(tmp_path / "ids.csv", ["Id", "Name"], [[made["VIP"]["id"], "VIP"], [made["Churned"]["id"], "x"]])
    ok(cli("import", "Lists", str(ids), "--operation", "delete"), "2 accepted")
    left = {item["name"] for item in api.get("/api/lists").json()["lists"]}
    assert not {"VIP", "Churned"} & left


def test_catalogs_insert_then_delete(cli: Callable[..., Result], api: httpx2.Client, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "catalogs.csv", ["Name"], [["shoes"], ["hats"]])
    ok(cli("import", "Catalogs", str(path)), "2 accepted")
    names = api.get("/api/catalogs").json()["params"]["catalogNames"]
    assert {"shoes", "hats"} <= {c["name"] for c in names}
    ok(cli("import", "Catalogs", str(path), "--operation", "delete"), "2 accepted")
    names = api.get("/api/catalogs").json()["params"]["catalogNames"]
    assert not {"shoes", "hats"} & {c["name"] for c in names}


def item(api: httpx2.Client, catalog: str, item_id: str) -> dict[str, object] | None:
    response = api.get(f"/api/catalogs/{catalog}/items/{item_id}")
    if response.status_code == 404:
        return None
    value: dict[str, object] = response.json()["value"]
    return value


def test_catalog_items_insert_update_upsert_delete(cli: Callable[..., Result], api: httpx2.Client,
                                                   tmp_path: Path) -> None:  # fmt: skip
    header = ["CatalogName", "ItemId", "Value"]
    path = write_csv(tmp_path / "items.csv", header, [["products", "new-1", '{"name": "Lamp", "price": 10}'],
                                                       ["products", "new-2", '{"name": "Mug"}']])  # fmt: skip
    ok(cli("import", "CatalogItems", str(path)), "2 accepted")
    assert item(api, "products", "new-1") == {"name": "Lamp", "price": 10}
    # update merges the fields given; insert (and upsert) replace the whole item
    update = write_csv(tmp_path / "update.csv", header, [["products", "new-1", '{"price": 12}']])
    ok(cli("import", "CatalogItems", str(update), "--operation", "update"), "1 accepted")
    assert item(api, "products", "new-1") == {"name": "Lamp", "price": 12}
    ok(cli("import", "CatalogItems", str(update), "--operation", "upsert"), "1 accepted")
    assert item(api, "products", "new-1") == {"price": 12}
    # flattened columns (as `export --flatten` writes them) set fields inside Value
    flat = write_csv(tmp_path / "flat.csv", ["CatalogName", "ItemId", "Value.name", "Value.size.width", "Value.tags"],
                     [["products", "new-3", "Chair", "40.5", '["a","b"]']])  # fmt: skip
    ok(cli("import", "CatalogItems", str(flat)), "1 accepted")
    assert item(api, "products", "new-3") == {"name": "Chair", "size": {"width": 40.5}, "tags": ["a", "b"]}
    delete = write_csv(tmp_path / "delete.csv", ["CatalogName", "ItemId"],
                       [["products", "new-1"], ["products", "new-2"], ["products", "new-3"]])  # fmt: skip
    ok(cli("import", "CatalogItems", str(delete), "--operation", "delete"), "3 accepted")
    assert [item(api, "products", i) for i in ("new-1", "new-2", "new-3")] == [None, None, None]


def test_users_insert_update_upsert_delete(cli: Callable[..., Result], api: httpx2.Client, tmp_path: Path) -> None:
    header = ["email", "FirstName", "loyaltyPoints", "isVip", "birthday", "address"]
    rows = [["ann@example.com", "Ann", "5", "yes", "1990-02-03", '{"city": "Oslo"}'],
            ["bob@example.com", "Bob", "", "false", "", ""]]  # fmt: skip
    path = write_csv(tmp_path / "users.csv", header, rows)
    ok(cli("import", "Users", str(path)), "2 rows read, 2 sent, 2 accepted, 0 rejected")
    ann = user(api, "ann@example.com")["dataFields"]
    assert isinstance(ann, dict)
    assert (ann["firstName"], ann["loyaltyPoints"], ann["isVip"], ann["address"]) == ("Ann", 5, True, {"city": "Oslo"})
    assert ann["birthday"] == "1990-02-03 00:00:00 +00:00"
    bob = user(api, "bob@example.com")["dataFields"]
    assert isinstance(bob, dict)
    assert "loyaltyPoints" not in bob
    assert bob["isVip"] is False

    update = write_csv(tmp_path / "update.csv", ["Email", "loyaltyPoints"], [["ann@example.com", "7"]])
    ok(cli("import", "Users", str(update), "--operation", "update"), "1 accepted")
    ann = user(api, "ann@example.com")["dataFields"]
    assert isinstance(ann, dict)
    assert (ann["firstName"], ann["loyaltyPoints"]) == ("Ann", 7)  # merged: the other fields stay
    ok(cli("import", "Users", str(update), "--operation", "upsert"), "1 accepted")

    by_id = write_csv(tmp_path / "by-id.csv", ["UserId", "firstName"], [["u-new-1", "Uma"]])
    ok(cli("import", "Users", str(by_id), "--operation", "upsert"), "1 accepted")
    uma = api.get("/api/users/byUserId/u-new-1").json()["user"]
    assert uma["dataFields"]["firstName"] == "Uma"

    delete = write_csv(tmp_path / "delete.csv", ["Email", "firstName"], [["ann@example.com", "x"],
                                                                         ["bob@example.com", "y"]])  # fmt: skip
    ok(
        cli("import", "Users", str(delete), "--operation", "delete"),
        "2 accepted, 0 rejected; ignored columns: firstName",
    )
    assert user(api, "ann@example.com") == {}
    assert user(api, "bob@example.com") == {}
    delete_by_id = write_csv(tmp_path / "delete-id.csv", ["UserId"], [["u-new-1"]])
    ok(cli("import", "Users", str(delete_by_id), "--operation", "delete"), "1 accepted")
    gone = api.get("/api/users/byUserId/u-new-1")
    assert "Uma" not in gone.text, gone.text


def test_list_users_insert_and_delete(cli: Callable[..., Result], api: httpx2.Client, tmp_path: Path,
                                      conn: iterbridge.Connection) -> None:  # fmt: skip
    list_id = api.post("/api/lists", json={"name": "Imported"}).json()["listId"]
    emails = ["elijah.young0@example.net", "felix.rodriguez1@example.org", "new.member@example.com"]
    path = write_csv(tmp_path / "members.csv", ["ListId", "Email"], [[list_id, e] for e in emails])
    ok(cli("import", "ListUsers", str(path)), "3 accepted")

    def members() -> list[str]:
        return sorted(api.get("/api/lists/getUsers", params={"listId": list_id}).text.split())

    assert members() == sorted(emails)
    ok(cli("import", "ListUsers", str(path), "--operation", "upsert"), "3 accepted")
    assert members() == sorted(emails)
    ok(cli("import", "ListUsers", str(write_csv(tmp_path / "out.csv", ["ListId", "Email"], [[list_id, emails[0]]])),
           "--operation", "delete"), "1 accepted")  # fmt: skip
    assert members() == sorted(emails[1:])


def test_events_insert(cli: Callable[..., Result], api: httpx2.Client, tmp_path: Path) -> None:
    header = ["Id", "EventName", "Email", "CreatedAt", "DataFields", "amount", "sku"]
    rows = [["evt-1", "signedUp", "elijah.young0@example.net", "2026-10-30 10:00:00", '{"plan": "pro"}', "12.5", "A1"],
            ["", "browsed", "elijah.young0@example.net", "", "", "", "B2"]]  # fmt: skip
    path = write_csv(tmp_path / "events.csv", header, rows)
    result = ok(cli("import", "Events", str(path)), "2 accepted")
    assert "new fields: amount, sku" in result.stderr  # columns without their own: fields of DataFields
    served = api.get("/api/events/elijah.young0@example.net", params={"limit": 200}).json()["events"]
    signed = next(e for e in served if e.get("eventName") == "signedUp")
    assert signed["dataFields"] == {"plan": "pro", "amount": 12.5, "sku": "A1"}
    assert signed["createdAt"] == "2026-10-30 10:00:00 +00:00"
    browsed = next(e for e in served if e.get("eventName") == "browsed")
    assert browsed["dataFields"] == {"sku": "B2"}


def test_templates_upsert_update_and_delete(cli: Callable[..., Result], api: httpx2.Client, tmp_path: Path) -> None:
    header = ["ClientTemplateId", "MessageMedium", "Name", "Subject", "HTML"]
    path = write_csv(tmp_path / "templates.csv", header,
                     [["welcome-1", "Email", "Welcome", "Hello {{firstName}}", "<p>Hi</p>"]])  # fmt: skip
    ok(cli("import", "Templates", str(path), "--operation", "upsert"), "1 accepted")
    found = api.get("/api/templates/getByClientTemplateId", params={"clientTemplateId": "welcome-1"}).json()
    template_id = found["templates"][0]["templateId"]
    detail = api.get("/api/templates/email/get", params={"templateId": template_id}).json()
    assert (detail["name"], detail["subject"], detail["html"]) == ("Welcome", "Hello {{firstName}}", "<p>Hi</p>")
    ok(cli("import", "Templates", str(path), "--operation", "insert"), "1 accepted")  # same key: no new template
    again = api.get("/api/templates/getByClientTemplateId", params={"clientTemplateId": "welcome-1"}).json()
    assert [t["templateId"] for t in again["templates"]] == [template_id]
    update = write_csv(tmp_path / "update.csv", ["Id", "MessageMedium", "Subject"], [[template_id, "email", "Bye"]])
    ok(cli("import", "Templates", str(update), "--operation", "update"), "1 accepted")
    detail = api.get("/api/templates/email/get", params={"templateId": template_id}).json()
    assert (detail["name"], detail["subject"]) == ("Welcome", "Bye")
    ok(cli("import", "Templates", str(update), "--operation", "delete"), "1 accepted")
    gone = api.get("/api/templates/getByClientTemplateId", params={"clientTemplateId": "welcome-1"}).json()
    assert gone["templates"] == []


def test_campaigns_insert(cli: Callable[..., Result], api: httpx2.Client, tmp_path: Path,
                          conn: iterbridge.Connection) -> None:  # fmt: skip
    template = next(row for row in conn.read("Templates", where={"TemplateType": "Base", "MessageMedium": "Email"}))
    list_id = next(row["Id"] for row in conn.read("Lists", where={"ListType": "Standard"}))
    path = write_csv(
        tmp_path / "campaigns.csv",
        ["Name", "TemplateId", "ListIds"],
        [["Imported blast", template["Id"], f"[{list_id}]"], ["Imported trigger", template["Id"], ""]],
    )
    ok(cli("import", "Campaigns", str(path)), "2 accepted")  # fmt: skip
    made = {c["name"]: c for c in api.get("/api/campaigns").json()["campaigns"] if c["name"].startswith("Imported")}
    assert made["Imported blast"]["type"] == "Blast"
    assert made["Imported blast"]["listIds"] == [list_id]
    assert made["Imported trigger"]["type"] == "Triggered"


def test_in_app_messages_insert(cli: Callable[..., Result], api: httpx2.Client, tmp_path: Path,
                                conn: iterbridge.Connection) -> None:  # fmt: skip
    campaign = next(row for row in conn.read("Campaigns", where={"MessageMedium": "InApp", "Type": "Triggered",
                                                                 "CampaignState": "Running"}))  # fmt: skip
    email = "elijah.young0@example.net"
    before = len(api.get("/api/inApp/getMessages", params={"email": email, "count": 100}).json()["inAppMessages"])
    path = write_csv(tmp_path / "inapp.csv", ["CampaignId", "Email", "DataFields"],
                     [[campaign["Id"], email, '{"coupon": "X1"}']])  # fmt: skip
    ok(cli("import", "InAppMessages", str(path)), "1 accepted")
    after = api.get("/api/inApp/getMessages", params={"email": email, "count": 100}).json()["inAppMessages"]
    assert len(after) == before + 1


# ---- mapping -----------------------------------------------------------------------------------------------


def test_map_renames_columns(cli: Callable[..., Result], api: httpx2.Client, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "users.csv", ["E-mail address", "Given name"], [["map@example.com", "Mia"]])
    ok(cli("import", "Users", str(path), "--map", "e-mail ADDRESS=Email", "--map", "Given name=firstName"),
       "1 accepted")  # fmt: skip
    fields = user(api, "map@example.com")["dataFields"]
    assert isinstance(fields, dict)
    assert fields["firstName"] == "Mia"


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_map_file(cli: Callable[..., Result], api: httpx2.Client, tmp_path: Path, kind: str) -> None:
    path = write_csv(tmp_path / "users.csv", ["mail", "pts"], [["file@example.com", "42"]])
    mapping = tmp_path / f"map.{kind}"
    if kind == "json":
        mapping.write_text(json.dumps({"mail": "Email", "pts": "loyaltyPoints"}))
    else:
        mapping.write_text("mail,Email\r\npts,loyaltyPoints\r\n\r\n", encoding="utf-8-sig")
    ok(cli("import", "Users", str(path), "--map-file", str(mapping)), "1 accepted")
    fields = user(api, "file@example.com")["dataFields"]
    assert isinstance(fields, dict)
    assert fields["loyaltyPoints"] == 42


def test_map_on_the_command_line_wins_over_the_file(cli: Callable[..., Result], api: httpx2.Client,
                                                    tmp_path: Path) -> None:  # fmt: skip
    path = write_csv(tmp_path / "users.csv", ["mail", "a", "b"], [["both@example.com", "from a", "from b"]])
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"mail": "Email", "a": "firstName"}))
    ok(cli("import", "Users", str(path), "--map-file", str(mapping), "--map", "a=lastName", "--map", "b=firstName"),
       "1 accepted")  # fmt: skip
    fields = user(api, "both@example.com")["dataFields"]
    assert isinstance(fields, dict)
    assert (fields["firstName"], fields["lastName"]) == ("from b", "from a")


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"), ("a,b,c\n", "line 1: expected CsvColumn,Field"), ("[1]", "holds a JSON object")],
)
def test_a_bad_map_file_is_a_one_line_error(cli: Callable[..., Result], tmp_path: Path, content: str,
                                            message: str) -> None:  # fmt: skip
    path = write_csv(tmp_path / "users.csv", ["Email"], [["x@example.com"]])
    mapping = tmp_path / "map.txt"
    mapping.write_text(content)
    assert message in one_line_error(cli("import", "Users", str(path), "--map-file", str(mapping)))


def test_map_mistakes_are_one_line_errors(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "lists.csv", ["title", "Name"], [["a", "b"]])
    assert "--map names column(s) the file does not have: nope" in one_line_error(
        cli("import", "Lists", str(path), "--map", "nope=Name")
    )
    assert "Lists has no column 'Nmae'; did you mean Name?" in one_line_error(
        cli("import", "Lists", str(path), "--map", "title=Nmae")
    )
    assert "columns 'title' and 'Name' both set Name" in one_line_error(
        cli("import", "Lists", str(path), "--map", "title=Name")
    )
    assert "expected A=B, not 'title'" in cli("import", "Lists", str(path), "--map", "title").output


def test_set_gives_every_row_a_value_and_wins_over_the_file(cli: Callable[..., Result], api: httpx2.Client,
                                                            tmp_path: Path) -> None:  # fmt: skip
    list_id = api.post("/api/lists", json={"name": "Set"}).json()["listId"]
    path = write_csv(tmp_path / "members.csv", ["Email", "ListId"], [["s1@example.com", ""], ["s2@example.com", "1"]])
    ok(cli("import", "ListUsers", str(path), "--set", f"listid={list_id}"), "2 accepted")
    assert sorted(api.get("/api/lists/getUsers", params={"listId": list_id}).text.split()) == [
        "s1@example.com",
        "s2@example.com",
    ]
    users = write_csv(tmp_path / "users.csv", ["Email"], [["s1@example.com"]])
    ok(cli("import", "Users", str(users), "--set", "source=spring fair", "--set", "loyaltyPoints=3"), "1 accepted")
    fields = user(api, "s1@example.com")["dataFields"]
    assert isinstance(fields, dict)
    assert (fields["source"], fields["loyaltyPoints"]) == ("spring fair", 3)


def test_a_bad_set_value_is_one_error_not_a_reject_per_row(cli: Callable[..., Result], tmp_path: Path,
                                                           stats: Stats) -> None:  # fmt: skip
    path = write_csv(tmp_path / "members.csv", ["Email"], [["s1@example.com"]])
    with stats.counting() as made:
        message = one_line_error(cli("import", "ListUsers", str(path), "--set", "ListId=abc"))
    assert "--set ListId: expected a whole number, found 'abc'" in message
    assert writes(made) == {}
    assert "has no column 'Nope'" in one_line_error(cli("import", "ListUsers", str(path), "--set", "Nope=1"))
    assert "cannot be written" in one_line_error(cli("import", "Lists", str(path), "--set", "CreatedAt=2026-01-01"))


@pytest.mark.parametrize(("size", "calls"), [(1, 5), (2, 3), (5, 1), (1000, 1)])
def test_batch_size_is_the_rows_per_bulk_call(cli: Callable[..., Result], stats: Stats, tmp_path: Path,
                                              size: int, calls: int) -> None:  # fmt: skip
    path = write_csv(tmp_path / "users.csv", ["Email", "city"], [[f"b{i}@example.com", "Rome"] for i in range(5)])
    with stats.counting() as made:
        ok(cli("import", "Users", str(path), "--batch-size", str(size)), "5 accepted")
    assert writes(made) == {"POST /api/users/bulkUpdate": calls}


def test_events_batch_into_track_bulk(cli: Callable[..., Result], stats: Stats, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "events.csv", ["EventName", "Email"],
                     [["clicked", "elijah.young0@example.net"]] * 7)  # fmt: skip
    with stats.counting() as made:
        ok(cli("import", "Events", str(path), "--batch-size", "3"), "7 accepted")
    assert writes(made) == {"POST /api/events/trackBulk": 3}


def test_batch_size_must_be_positive(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "users.csv", ["Email"], [["x@example.com"]])
    assert "--batch-size must be at least 1" in one_line_error(cli("import", "Users", str(path), "--batch-size", "0"))


def test_new_fields_are_columns_of_the_next_read_on_the_same_connection(conn: iterbridge.Connection,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    from iterbridge.transfer import ImportOptions

    assert "shoeSize" not in [c.name for c in conn.columns("Users")]
    path = write_csv(tmp_path / "users.csv", ["Email", "shoeSize"], [["feet@example.com", "44"]])
    summary = conn.import_csv("Users", path, ImportOptions())
    assert summary.new_fields == ["shoeSize"]
    assert "shoeSize" in [c.name for c in conn.columns("Users")]
    assert next(conn.read("Users", where={"Email": "feet@example.com"}))["shoeSize"] == 44
