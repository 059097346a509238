"""Stored procedures: TriggerCampaign, AbortCampaign, CancelScheduledOrRecurringCampaign."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

import iterbridge
from iterbridge.errors import FatalApiError, QueryError, UnknownObject
from iterbridge.objects.procedures import PROCEDURES

from .readers import list_ids
from .support import Calls


def _campaign(conn: iterbridge.Connection, **wanted: Any) -> dict[str, Any]:
    rows = conn.read("Campaigns", where=wanted, columns=["Id", "CampaignState", "Type"])
    return next(iter(rows))


def _ready_triggered(conn: iterbridge.Connection, api: httpx2.Client) -> int:
    """A triggered campaign, made Ready (deactivated) so that triggering it visibly changes its state."""
    campaign = _campaign(conn, Type="Triggered", CampaignState="Running")
    api.post("/api/campaigns/deactivateTriggered", json={"campaignId": campaign["Id"]}).raise_for_status()
    assert _state(conn, campaign["Id"]) == "Ready"
    return int(campaign["Id"])


def _state(conn: iterbridge.Connection, campaign_id: int) -> str:
    (row,) = conn.read("Campaigns", where={"Id": campaign_id}, columns=["CampaignState"])
    return str(row["CampaignState"])


def test_the_three_procedures() -> None:
    assert set(PROCEDURES) == {"TriggerCampaign", "AbortCampaign", "CancelScheduledOrRecurringCampaign"}
    trigger = PROCEDURES["TriggerCampaign"]
    assert [(p.name, p.required) for p in trigger.params] == [
        ("campaignId", True),
        ("listIds", True),
        ("suppressionListIds", False),
        ("dataFields", False),
        ("allowRepeatMarketingSends", False),
    ]


def test_trigger_with_named_arguments(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    campaign = {"Id": _ready_triggered(conn, api)}
    lists = list_ids(api)
    message = conn.call(
        "TriggerCampaign",
        campaignId=campaign["Id"],
        listIds=[lists[2]],
        suppressionListIds=[lists[0]],
        dataFields={"coupon": "X1"},
        allowRepeatMarketingSends=False,
    )
    assert message == "Campaign triggered"  # Iterable's message
    assert _state(conn, campaign["Id"]) == "Running"


def test_trigger_with_positional_arguments_and_defaults(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    campaign = {"Id": _ready_triggered(conn, api)}
    assert conn.call("triggercampaign", campaign["Id"], [list_ids(api)[2]]) == "Campaign triggered"
    assert _state(conn, campaign["Id"]) == "Running"


def test_arguments_as_sql_would_give_them(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    campaign = _campaign(conn, Type="Triggered", CampaignState="Running")
    lists = list_ids(api)
    message = conn.call("TriggerCampaign", str(campaign["Id"]), f"[{lists[2]}, {lists[3]}]", "[]", '{"a": 1}', "false")
    assert message == "Campaign triggered"


def test_the_bound_values(conn: iterbridge.Connection) -> None:
    trigger = PROCEDURES["TriggerCampaign"]
    assert trigger.bind((5, [1, "2"]), {}) == {
        "campaignId": 5,
        "listIds": [1, 2],
        "suppressionListIds": [],
        "dataFields": {},
        "allowRepeatMarketingSends": True,
    }
    assert trigger.bind((), {"CAMPAIGNID": 5.0, "listIds": 7, "allowRepeatMarketingSends": "0"}) == {
        "campaignId": 5,
        "listIds": [7],
        "suppressionListIds": [],
        "dataFields": {},
        "allowRepeatMarketingSends": False,
    }


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "TriggerCampaign needs campaignId"),
        ((), {"listIds": [1]}, "TriggerCampaign needs campaignId"),
        ((1,), {}, "TriggerCampaign needs listIds"),
        (("abc", [1]), {}, "campaignId must be an integer, not 'abc'"),
        ((1.5, [1]), {}, "campaignId must be an integer"),
        ((True, [1]), {}, "campaignId must be an integer"),
        ((1, "1,2"), {}, "listIds must be a list of integers"),
        ((1, ["a"]), {}, "listIds must be a list of integers"),
        ((1, [1]), {"dataFields": "[1]"}, "dataFields must be a JSON object"),
        ((1, [1]), {"allowRepeatMarketingSends": "maybe"}, "allowRepeatMarketingSends must be true or false"),
        ((1, [1]), {"campaign": 1}, "TriggerCampaign has no parameter 'campaign'; it takes campaignId, listIds"),
        ((1, [1]), {"campaignId": 1}, "campaignId given twice"),
        ((1, [1], [], {}, True, 6), {}, "takes at most 5 arguments, not 6"),
    ],
)
def test_validation_errors_before_any_call(
    conn: iterbridge.Connection, calls: Calls, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    before = calls.total()
    with pytest.raises(QueryError, match=message.replace("[", r"\[").replace("(", r"\(")):
        conn.call("TriggerCampaign", *args, **kwargs)
    assert calls.total() == before


def test_iterables_refusal_is_raised_with_its_message(conn: iterbridge.Connection, api: httpx2.Client) -> None:
    blast = _campaign(conn, Type="Blast")
    with pytest.raises(FatalApiError, match="Campaign is not a triggered campaign"):
        conn.call("TriggerCampaign", blast["Id"], [list_ids(api)[2]])
    with pytest.raises(FatalApiError, match="Invalid campaignId: 1"):
        conn.call("AbortCampaign", 1)


def test_abort(conn: iterbridge.Connection) -> None:
    running = _campaign(conn, CampaignState="Running")
    assert conn.call("AbortCampaign", campaignId=running["Id"]) == f"Aborted campaign. Id: {running['Id']}"
    assert _state(conn, running["Id"]) == "Aborted"
    with pytest.raises(FatalApiError, match="Campaign abort failed"):
        conn.call("AbortCampaign", running["Id"])
    with pytest.raises(QueryError, match="AbortCampaign takes at most 1 arguments"):
        conn.call("AbortCampaign", running["Id"], 2)


def test_cancel(conn: iterbridge.Connection) -> None:
    scheduled = _campaign(conn, CampaignState=["Scheduled", "Recurring"])
    message = conn.call("CancelScheduledOrRecurringCampaign", scheduled["Id"])
    assert message == f"Canceled campaign. Id: {scheduled['Id']}"
    assert _state(conn, scheduled["Id"]) in ("Ready", "Finished")
    assert _state(conn, scheduled["Id"]) != scheduled["CampaignState"]


def test_unknown_procedures_suggest_the_closest(conn: iterbridge.Connection) -> None:
    with pytest.raises(UnknownObject, match="did you mean AbortCampaign"):
        conn.call("AbortCampain", 1)
