"""INSERT / UPDATE / DELETE round trips: each write the catalog allows reaches the sandbox (checked over
plain HTTP) and is visible to a later SELECT; RETURNING gives the ids Iterable generated; bulk writes are
batched; refused rows are reported."""

from __future__ import annotations

import json

import pytest

import iterbridge
from iterbridge.errors import QueryError, WriteRefused

from .source import Source
from .support import Stats, column, rows


def test_insert_list_returning_id_then_delete_it(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    with stats.counting() as made:
        cursor = conn.sql("INSERT INTO Lists (Name, Description) VALUES ('VIP ✨', 'made by SQL') RETURNING Id, Name")
        created = cursor.fetchall()
    assert made == {"POST /api/lists": 1}
    assert cursor.rowcount == 1
    [(list_id, name)] = created
    assert name == "VIP ✨"
    assert {"Id": list_id, "Name": "VIP ✨", "Description": "made by SQL"}.items() <= next(
        item for item in source.lists() if item["Id"] == list_id
    ).items()
    assert rows(conn, "SELECT Name, Description, ListType FROM Lists WHERE Id = ?", (list_id,)) == [
        ("VIP ✨", "made by SQL", "Standard")
    ]

    with stats.counting() as made:
        cursor = conn.sql("DELETE FROM Lists WHERE Id = ?", (list_id,))
    assert made == {"GET /api/lists": 1, "DELETE /api/lists/{listId}": 1}
    assert cursor.rowcount == 1
    assert list_id not in {item["Id"] for item in source.lists()}
    assert column(conn, "SELECT count(*) FROM Lists WHERE Id = ?", (list_id,)) == [0]


def test_unicode_list_names_round_trip(conn: iterbridge.Connection, source: Source) -> None:
    names = ["Ünïcødé 名单 🎉", "Ελληνικά — «quotes» 'single'", "עברית ↔ العربية"]
    created = rows(conn, "INSERT INTO Lists (Name) VALUES (?), (?), (?) RETURNING Id, Name", names)
    assert [name for _, name in created] == names
    served = {item["Id"]: item["Name"] for item in source.lists()}
    assert [served[list_id] for list_id, _ in created] == names
    assert column(conn, "SELECT Name FROM Lists WHERE Name LIKE '%名单%'") == [names[0]]
    assert column(conn, "SELECT length(Name) FROM Lists WHERE Id = ?", (created[0][0],)) == [len(names[0])]


def test_insert_campaign_with_import_only_send_at(conn: iterbridge.Connection, source: Source) -> None:
    template = next(t for t in source.templates() if t["TemplateType"] == "Base" and t["MessageMedium"] == "Email")
    list_id = next(item["Id"] for item in source.lists() if item["ListType"] == "Standard")
    [(campaign_id, name, send_at)] = rows(
        conn,
        "INSERT INTO Campaigns (Name, TemplateId, ListIds, SendAt, SendMode, DataFields) "
        "VALUES (?, ?, json_array(?), '2026-11-05 10:00:00', 'ProjectTimeZone', '{\"promo\": \"X1\"}') "
        "RETURNING Id, Name, SendAt",
        ("Winter launch", template["Id"], list_id),
    )
    assert isinstance(campaign_id, int)
    assert campaign_id > 0
    assert (name, send_at) == ("Winter launch", "2026-11-05 10:00:00")
    served = next(c for c in source.campaigns() if c["Id"] == campaign_id)
    assert served["CampaignState"] == "Scheduled"
    assert served["StartAt"] == "2026-11-05 10:00:00"
    assert served["ListIds"] == [list_id]
    # Read back: import-only columns are NULL again, the rest is Iterable's.
    assert rows(conn, "SELECT Name, CampaignState, StartAt, SendAt FROM Campaigns WHERE Id = ?", (campaign_id,)) == [
        ("Winter launch", "Scheduled", "2026-11-05 10:00:00", None)
    ]


def test_insert_events_from_a_recursive_series_is_batched(
    conn: iterbridge.Connection, source: Source, stats: Stats
) -> None:
    email = sorted(u["email"] for u in source.users())[0]
    before = len(source.lines("/api/export/userEvents", email=email, includeCustomEvents="true"))
    with stats.counting() as made:
        cursor = conn.sql(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
            INSERT INTO Events (EventName, Email, CreatedAt, DataFields)
            SELECT 'sqlBulkTest', ?, datetime('2026-10-31 12:00:00', '+' || i || ' seconds'), json_object('i', i)
            FROM n
            """,
            (email,),
        )
    assert made == {"POST /api/events/trackBulk": 5}  # 1,000 events per call
    assert cursor.rowcount == 5000
    after = source.lines("/api/export/userEvents", email=email, includeCustomEvents="true")
    assert len(after) == before + 5000
    tracked = [json.loads(line) for line in after if '"sqlBulkTest"' in line]
    assert sorted(event["i"] for event in tracked) == list(range(1, 5001))  # dataFields come flattened
    got = rows(
        conn,
        "SELECT count(*), min(CreatedAt), max(json_extract(DataFields, '$.i')) FROM Events "
        "WHERE Email = ? AND EventName = 'sqlBulkTest'",
        (email,),
    )
    assert got == [(5000, "2026-10-31 12:00:01", 5000)]


def test_catalog_items_insert_update_delete(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    conn.sql(
        "INSERT INTO CatalogItems (CatalogName, ItemId, Value) VALUES "
        "('products', 'sql-1', '{\"name\": \"Lamp\", \"price\": 10.5}'), "
        "('products', 'sql-2', json_object('name', 'Desk', 'price', 99))"
    )
    items = {i["itemId"]: i["value"] for i in source.catalog_items("products")}
    assert items["sql-1"] == {"name": "Lamp", "price": 10.5}
    assert items["sql-2"] == {"name": "Desk", "price": 99}

    with stats.counting() as made:
        cursor = conn.sql(
            "UPDATE CatalogItems SET Value = json_set(Value, '$.price', json_extract(Value, '$.price') * 2) "
            "WHERE CatalogName = 'products' AND ItemId IN ('sql-1', 'sql-2')"
        )
    assert cursor.rowcount == 2
    assert made["POST /api/catalogs/{catalogName}/items"] == 1  # one bulk call for both rows
    assert "GET /api/catalogs/{catalogName}/items" not in made  # the keys were pushed: item lookups only
    items = {i["itemId"]: i["value"] for i in source.catalog_items("products")}
    assert (items["sql-1"]["price"], items["sql-2"]["price"]) == (21.0, 198)
    assert items["sql-1"]["name"] == "Lamp"

    conn.sql("DELETE FROM CatalogItems WHERE CatalogName = 'products' AND ItemId = 'sql-1'")
    remaining = {i["itemId"] for i in source.catalog_items("products")}
    assert "sql-1" not in remaining
    assert "sql-2" in remaining
    assert column(conn, "SELECT ItemId FROM CatalogItems WHERE CatalogName = 'products' AND ItemId LIKE 'sql-%'") == [
        "sql-2"
    ]


def test_templates_insert_and_update(conn: iterbridge.Connection, source: Source) -> None:
    [(template_id,)] = rows(
        conn,
        "INSERT INTO Templates (ClientTemplateId, MessageMedium, Name, Subject, FromEmail, FromName, HTML) "
        "VALUES ('sql-tmpl-1', 'Email', 'From SQL', 'Hello {{firstName}}', 'news@brand.example', 'Brand', "
        "'<p>Hi</p>') RETURNING Id",
    )
    detail = source.template_detail("Email", template_id)
    assert (detail["name"], detail["subject"], detail["html"]) == ("From SQL", "Hello {{firstName}}", "<p>Hi</p>")

    # UPDATE carries the medium the update endpoint needs from the row itself.
    cursor = conn.sql("UPDATE Templates SET Subject = 'Changed', Name = Name || ' (v2)' WHERE Id = ?", (template_id,))
    assert cursor.rowcount == 1
    detail = source.template_detail("Email", template_id)
    assert (detail["name"], detail["subject"]) == ("From SQL (v2)", "Changed")
    assert rows(conn, "SELECT Name, Subject, ClientTemplateId FROM Templates WHERE Id = ?", (template_id,)) == [
        ("From SQL (v2)", "Changed", "sql-tmpl-1")
    ]


def test_templates_delete(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    made = [
        rows(conn, f"INSERT INTO Templates (ClientTemplateId, MessageMedium, Name) VALUES ('sql-del-{n}', 'Push', "
                   f"'To delete {n}') RETURNING Id")[0][0]
        for n in range(3)
    ]  # fmt: skip
    with stats.counting() as sent:
        cursor = conn.sql("DELETE FROM Templates WHERE Name LIKE 'To delete %' AND Id <> ?", (made[2],))
    assert cursor.rowcount == 2
    assert sent.get("POST /api/templates/bulkDelete") == 1
    left = {template_id for (template_id,) in rows(conn, "SELECT Id FROM Templates WHERE Name LIKE 'To delete %'")}
    assert left == {made[2]}


def test_list_users_insert_and_delete(conn: iterbridge.Connection, source: Source) -> None:
    list_id = next(item["Id"] for item in source.lists() if item["Name"] == "Beta testers")
    members = set(source.members(list_id))
    newcomers = sorted({u["email"] for u in source.users()} - members)[:3]
    cursor = conn.sql(
        "INSERT INTO ListUsers (ListId, Email) SELECT ?, value FROM json_each(?)", (list_id, json.dumps(newcomers))
    )
    assert cursor.rowcount == 3
    assert set(source.members(list_id)) == members | set(newcomers)
    assert sorted(column(conn, "SELECT Email FROM ListUsers WHERE ListId = ?", (list_id,))) == sorted(
        members | set(newcomers)
    )

    cursor = conn.sql("DELETE FROM ListUsers WHERE ListId = ? AND Email = ?", (list_id, newcomers[0]))
    assert cursor.rowcount == 1
    assert set(source.members(list_id)) == members | set(newcomers[1:])


def test_list_users_insert_reports_refused_rows(conn: iterbridge.Connection, source: Source) -> None:
    list_id = next(item["Id"] for item in source.lists() if item["Name"] == "Beta testers")
    with pytest.raises(WriteRefused) as raised:  # Iterable's refusal (exit code 3), not a bad query
        conn.sql(
            "INSERT INTO ListUsers (ListId, Email) VALUES (?, 'fine.person@example.com'), (?, 'not-an-email')",
            (list_id, list_id),
        )
    message = str(raised.value)
    assert "1 of 2 rows refused" in message
    assert "row 2" in message
    assert "invalid email" in message
    # The valid row was written: Iterable accepts a batch row by row.
    assert "fine.person@example.com" in source.members(list_id)


def test_users_insert_update_delete(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    email = "new.sql.user@example.com"
    conn.sql(
        "INSERT INTO Users (Email, firstName, loyaltyPoints, isVip, address) "
        "VALUES (?, 'Zoë', 12, true, json_object('city', 'Zürich'))",
        (email,),
    )
    fields = source.user(email)["dataFields"]
    assert (fields["firstName"], fields["loyaltyPoints"], fields["isVip"]) == ("Zoë", 12, True)
    assert fields["address"] == {"city": "Zürich"}

    with stats.counting() as made:
        cursor = conn.sql(
            "UPDATE Users SET loyaltyPoints = loyaltyPoints + 100, city = 'Basel' WHERE Email = ?", (email,)
        )
    assert cursor.rowcount == 1
    assert made == {"GET /api/users/{email}": 1, "POST /api/users/bulkUpdate": 1}
    fields = source.user(email)["dataFields"]
    assert (fields["loyaltyPoints"], fields["city"], fields["firstName"]) == (112, "Basel", "Zoë")
    assert rows(conn, "SELECT firstName, loyaltyPoints, city, isVip FROM Users WHERE Email = ?", (email,)) == [
        ("Zoë", 112, "Basel", 1)
    ]

    conn.sql("DELETE FROM Users WHERE Email = ?", (email,))
    assert source.user(email) == {}
    assert column(conn, "SELECT count(*) FROM Users WHERE Email = ?", (email,)) == [0]


def test_insert_in_app_message(conn: iterbridge.Connection, source: Source) -> None:
    campaign = next(
        c for c in source.campaigns() if c["Type"] == "Triggered" and c["MessageMedium"] == "InApp"
        and c["CampaignState"] == "Running"
    )  # fmt: skip
    email = sorted(u["email"] for u in source.users())[1]
    before = {m["messageId"] for m in source.in_app_messages(email)}
    cursor = conn.sql(
        'INSERT INTO InAppMessages (CampaignId, Email, DataFields) VALUES (?, ?, \'{"offer": "10%"}\')',
        (campaign["Id"], email),
    )
    assert cursor.rowcount == 1
    added = [m for m in source.in_app_messages(email) if m["messageId"] not in before]
    assert [m["campaignId"] for m in added] == [campaign["Id"]]
    got = column(
        conn, "SELECT MessageId FROM InAppMessages WHERE Email = ? AND CampaignId = ?", (email, campaign["Id"])
    )
    assert added[0]["messageId"] in got


def test_transaction_batches_writes_until_commit(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    lists_before = len(source.lists())
    with stats.counting() as made:
        conn.sql("BEGIN")
        conn.sql("INSERT INTO Lists (Name) VALUES ('tx one')")
        conn.sql("INSERT INTO Lists (Name) VALUES ('tx two')")
        assert len(source.lists()) == lists_before  # nothing sent yet
        cursor = conn.sql("COMMIT")
    assert made.get("POST /api/lists") == 2
    assert cursor.rowcount == 2
    names = [item["Name"] for item in source.lists()]
    assert len(names) == lists_before + 2
    assert {"tx one", "tx two"} <= set(names)


def test_rollback_sends_nothing(conn: iterbridge.Connection, source: Source, stats: Stats) -> None:
    lists_before = source.lists()
    with stats.counting() as made:
        conn.sql("BEGIN")
        conn.sql("INSERT INTO Lists (Name) VALUES ('never')")
        conn.sql("DELETE FROM Lists WHERE Id = ?", (lists_before[-1]["Id"],))
        conn.sql("ROLLBACK")
    assert not any(endpoint.startswith(("POST", "DELETE")) for endpoint in made)
    assert source.lists() == lists_before
    # The connection is usable afterwards, and a new transaction starts clean.
    conn.sql("INSERT INTO Lists (Name) VALUES ('after rollback')")
    assert [item["Name"] for item in source.lists()].count("never") == 0
    assert "after rollback" in [item["Name"] for item in source.lists()]


def test_returning_inside_a_transaction_is_refused(conn: iterbridge.Connection, stats: Stats) -> None:
    conn.sql("BEGIN")
    with stats.counting() as made, pytest.raises(QueryError, match="RETURNING inside BEGIN"):
        conn.sql("INSERT INTO Lists (Name) VALUES ('x') RETURNING Id")
    conn.sql("ROLLBACK")
    assert made == {}
