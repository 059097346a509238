"""Campaigns and their metrics: values as Iterable serves them, import-only columns NULL, ids fetched one by one."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx2
import pytest

import iterbridge
from iterbridge.objects.base import Condition

from .readers import campaign_ids
from .support import Calls

IMPORT_ONLY = ("SendAt", "SendMode", "StartTimeZone", "DefaultTimeZone", "DataFields")


def _ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def test_campaign_rows_are_iterables_records(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    served = {c["id"]: c for c in api.get("/api/campaigns", params={"pageSize": 1000}).json()["campaigns"]}
    rows = {row["Id"]: row for row in conn.read("Campaigns")}
    assert set(rows) == set(served)
    for campaign_id, record in served.items():
        row = rows[campaign_id]
        assert row["Name"] == record["name"]
        assert row["TemplateId"] == record.get("templateId")
        assert row["CampaignState"] == record["campaignState"]
        assert row["MessageMedium"] == record["messageMedium"]
        assert row["Type"] == record["type"]
        assert row["CreatedAt"] == _ms(record["createdAt"])
        assert row["UpdatedAt"] == _ms(record["updatedAt"])
        assert row["StartAt"] == _ms(record.get("startAt"))
        assert row["ListIds"] == record.get("listIds")
        assert row["SuppressionListIds"] == record.get("suppressionListIds")
        assert row["Labels"] == record.get("labels")
        assert row["CreatedByUserId"] == record["createdByUserId"]


def test_import_only_columns_read_null(conn: iterbridge.Connection) -> None:
    rows = list(conn.read("Campaigns", columns=["Id", *IMPORT_ONLY]))
    assert rows
    assert all(row[column] is None for row in rows for column in IMPORT_ONLY)
    columns = {c.name: c for c in conn.columns("Campaigns")}
    assert all(columns[name].import_only for name in IMPORT_ONLY)
    # ... so a filter on one of them matches nothing, and costs nothing more than a read
    assert list(conn.read("Campaigns", where={"SendMode": "ProjectTimeZone"})) == []


def test_campaigns_by_id_are_fetched_one_by_one(conn: iterbridge.Connection, api: httpx2.Client, calls: Calls) -> None:
    ids = campaign_ids(api)[:3]
    with calls.counting() as made:
        rows = list(conn.read("Campaigns", where={"Id": [*ids, 1, "not a number"]}, columns=["Id"]))
    assert sorted(row["Id"] for row in rows) == sorted(ids)
    assert made == {"GET /api/campaigns/{id}": 4}  # "not a number" can match no campaign: never sent


def test_campaign_state_is_pushed(conn: iterbridge.Connection, calls: Calls) -> None:
    with calls.counting() as made:
        running = list(conn.read("Campaigns", where={"CampaignState": ["Running", "Finished", "Bogus"]}))
        bogus = list(conn.read("Campaigns", where={"CampaignState": "Bogus"}))
    assert running
    assert {row["CampaignState"] for row in running} == {"Running", "Finished"}
    assert bogus == []
    assert made == {"GET /api/campaigns": 1}  # an unknown state is never sent (Iterable would refuse it)


def test_updated_since(conn: iterbridge.Connection) -> None:
    rows = list(conn.read("Campaigns"))
    middle = sorted(row["UpdatedAt"] for row in rows)[len(rows) // 2]
    newer = list(conn.read("Campaigns", where={"UpdatedAt": [Condition(">", middle)]}))
    assert {row["Id"] for row in newer} == {row["Id"] for row in rows if row["UpdatedAt"] > middle}


def test_metrics_are_the_csv_numbers(conn: iterbridge.Connection, api: httpx2.Client, calls: Calls) -> None:
    ids = campaign_ids(api)
    text = api.get("/api/campaigns/metrics", params=[("campaignId", i) for i in ids]).text
    table = list(csv.reader(io.StringIO(text)))
    header, body = table[0], [cells for cells in table[1:] if cells]
    with calls.counting() as made:
        rows = {row["CampaignId"]: row for row in conn.read("CampaignMetrics", where={"CampaignId": ids})}
    assert made == {"GET /api/campaigns/metrics": 1}  # ≤ 400 ids per call
    assert set(rows) == {int(cells[0]) for cells in body}
    for cells in body:
        row = rows[int(cells[0])]
        served = {name: cell for name, cell in zip(header[1:], cells[1:], strict=True) if cell}
        assert set(row["Metrics"]) == set(served)
        for name, cell in served.items():
            assert row["Metrics"][name] == float(cell)
        if "Total Email Sends" in served:
            assert row["TotalEmailSends"] == int(served["Total Email Sends"])
        if "Revenue" in served:
            assert row["Revenue"] == float(served["Revenue"])


def test_metrics_of_a_campaign_do_not_depend_on_the_others_asked(conn: iterbridge.Connection) -> None:
    everything = {row["CampaignId"]: row for row in conn.read("CampaignMetrics")}
    for campaign_id in list(everything)[:5]:
        (alone,) = conn.read("CampaignMetrics", where={"CampaignId": campaign_id})
        assert alone == everything[campaign_id]


def test_recent_updates_stop_paging_early(
    conn: iterbridge.Connection, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    import iterbridge.objects.campaigns

    monkeypatch.setattr(iterbridge.objects.campaigns, "PAGE_SIZE", 5)
    rows = list(conn.read("Campaigns", columns=["Id", "UpdatedAt"]))
    third_newest = sorted((row["UpdatedAt"] for row in rows), reverse=True)[2]
    with calls.counting() as made:
        recent = list(conn.read("Campaigns", where={"UpdatedAt": [Condition(">=", third_newest)]}, columns=["Id"]))
    assert len(recent) == 3
    assert made == {"GET /api/campaigns": 1}  # sorted newest first: the first page reaches past the bound
