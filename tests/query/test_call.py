"""CALL of the stored procedures: positional and named arguments (`name => value`), bound parameters,
arrays `[1, 2, 3]`, JSON objects as text, defaults — each checked in the sandbox afterwards."""

from __future__ import annotations

from typing import Any

import pytest

import iterbridge
from iterbridge.errors import ApiError, QueryError, UnknownObject

from .source import Source
from .support import Stats


def _campaign(source: Source, **wanted: Any) -> dict[str, Any]:
    return next(c for c in source.campaigns() if all(c[k] == v for k, v in wanted.items()))


def _triggered(source: Source) -> tuple[int, list[int]]:
    campaign = _campaign(source, Type="Triggered", CampaignState="Running", MessageMedium="Email")
    lists = [item["Id"] for item in source.lists() if item["ListType"] == "Standard"]
    return campaign["Id"], lists


@pytest.mark.parametrize(
    "call",
    [
        "CALL TriggerCampaign({id}, [{a}, {b}])",
        "CALL TriggerCampaign(campaignId => {id}, listIds => [{a}, {b}])",
        "CALL TriggerCampaign({id}, listIds => '[{a}, {b}]', allowRepeatMarketingSends => false)",
        'CALL TriggerCampaign(:id, :lists, suppressionListIds => [], dataFields => \'{{"coupon": "X"}}\')',
        "call triggercampaign(?, json_array({a}, {b}))",
    ],
)
def test_trigger_campaign(conn: iterbridge.Connection, source: Source, stats: Stats, call: str) -> None:
    campaign_id, lists = _triggered(source)
    sql = call.format(id=campaign_id, a=lists[0], b=lists[1])
    params: Any = None
    if ":id" in sql:
        params = {"id": campaign_id, "lists": f"[{lists[0]}, {lists[1]}]"}
    elif "?" in sql:
        params = (campaign_id,)
    with stats.counting() as made:
        cursor = conn.sql(sql, params)
    assert [d[0] for d in cursor.description] == ["result"]
    assert cursor.fetchall() == [("Campaign triggered",)]
    assert made == {"POST /api/campaigns/trigger": 1}


def test_trigger_sends_the_arguments_and_the_defaults(conn: iterbridge.Connection, source: Source) -> None:
    """The request body, as the dry-run recorder of the client captures it (nothing is sent)."""
    campaign_id, lists = _triggered(source)
    conn.client.recorder = []
    try:
        conn.sql(f'CALL TriggerCampaign({campaign_id}, [{lists[0]}], dataFields => \'{{"coupon": "X"}}\')')
        conn.sql(f"CALL TriggerCampaign({campaign_id}, [{lists[0]}, {lists[1]}], [{lists[1]}], '{{}}', 0)")
        recorded = conn.client.recorder
    finally:
        conn.client.recorder = None
    assert [r["json"] for r in recorded] == [
        {"campaignId": campaign_id, "listIds": [lists[0]], "suppressionListIds": [], "dataFields": {"coupon": "X"},
         "allowRepeatMarketingSends": True},
        {"campaignId": campaign_id, "listIds": [lists[0], lists[1]], "suppressionListIds": [lists[1]],
         "dataFields": {}, "allowRepeatMarketingSends": False},
    ]  # fmt: skip
    assert {r["url"].rsplit("/api/", 1)[1] for r in recorded} == {"campaigns/trigger"}


def test_abort_campaign(conn: iterbridge.Connection, source: Source) -> None:
    campaign = _campaign(source, Type="Triggered", CampaignState="Running")
    assert conn.sql("CALL AbortCampaign(?)", (campaign["Id"],)).fetchall() == [
        (f"Aborted campaign. Id: {campaign['Id']}",)
    ]
    assert _campaign(source, Id=campaign["Id"])["CampaignState"] == "Aborted"
    assert conn.sql("SELECT CampaignState FROM Campaigns WHERE Id = ?", (campaign["Id"],)).fetchall() == [("Aborted",)]


def test_cancel_scheduled_campaign_with_a_named_argument(conn: iterbridge.Connection, source: Source) -> None:
    campaign = _campaign(source, CampaignState="Scheduled")
    result = conn.sql(f"CALL CancelScheduledOrRecurringCampaign(campaignId => {campaign['Id']})").fetchall()
    assert result == [(f"Canceled campaign. Id: {campaign['Id']}",)]
    assert _campaign(source, Id=campaign["Id"])["CampaignState"] == "Ready"


def test_iterables_refusal_is_reported(conn: iterbridge.Connection, source: Source) -> None:
    finished = _campaign(source, CampaignState="Finished")
    with pytest.raises(ApiError) as raised:
        conn.sql("CALL CancelScheduledOrRecurringCampaign(?)", (finished["Id"],))
    assert f"Campaign cancel failed. Id: {finished['Id']}" in str(raised.value)
    assert _campaign(source, Id=finished["Id"])["CampaignState"] == "Finished"


@pytest.mark.parametrize(
    ("sql", "error", "text"),
    [
        ("CALL AbortCampaign()", QueryError, "AbortCampaign needs campaignId"),
        ("CALL AbortCampaign('abc')", QueryError, "campaignId must be an integer"),
        ("CALL AbortCampaign(1, 2)", QueryError, "at most 1 arguments"),
        ("CALL AbortCampaign(id => 1)", QueryError, "has no parameter 'id'"),
        ("CALL AbortCampaign(campaignId => 1, 2)", QueryError, "positional argument after named"),
        ("CALL TriggerCampaign(1, 'not a list')", QueryError, "listIds must be a list of integers"),
        ("CALL TriggerCampaign(1, [1], dataFields => '[1]')", QueryError, "dataFields must be a JSON object"),
        ("CALL TriggerCampaign(1, [1, )", QueryError, "cannot evaluate the arguments"),
        ("CALL AbortCampain(1)", UnknownObject, "did you mean AbortCampaign"),
    ],
)
def test_bad_calls_fail_before_any_api_call(
    conn: iterbridge.Connection, stats: Stats, sql: str, error: type[Exception], text: str
) -> None:
    with stats.counting() as made, pytest.raises(error, match=None) as raised:
        conn.sql(sql)
    assert text in str(raised.value)
    assert made == {}
