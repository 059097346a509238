"""Filters: campaign states and sort, template type × medium and dates, and the export API's windows and fields."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import orjson
import pytest

from helpers import ANCHOR, FakeClock
from iterbridge.constants import CAMPAIGN_STATES

MEDIUM_PATHS = {"Email": "email", "Push": "push", "SMS": "sms", "InApp": "inapp"}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _export(api: httpx2.Client, data_type: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/export/data.json", params={"dataTypeName": data_type, **params})
    assert response.status_code == 200, response.text
    return [orjson.loads(line) for line in response.text.splitlines() if line]


def _lines(api: httpx2.Client, data_type: str, **params: Any) -> list[str]:
    response = api.get("/api/export/data.json", params={"dataTypeName": data_type, **params})
    assert response.status_code == 200, response.text
    return response.text.splitlines()


def _member(api: httpx2.Client) -> str:
    standard = next(lst["id"] for lst in api.get("/api/lists").json()["lists"] if lst["listType"] == "Standard")
    return api.get("/api/lists/getUsers", params={"listId": standard}).text.split("\n")[0]


def _track(api: httpx2.Client, email: str, name: str, moment: datetime, **fields: Any) -> None:
    body = {"email": email, "eventName": name, "createdAt": int(moment.timestamp()), **fields}
    assert api.post("/api/events/track", json=body).status_code == 200


# ---- campaigns ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", CAMPAIGN_STATES)
def test_campaign_state_filter(api: httpx2.Client, state: str) -> None:
    everything = api.get("/api/campaigns").json()["campaigns"]
    found = api.get("/api/campaigns", params={"campaignState": state}).json()["campaigns"]
    assert found == [c for c in everything if c["campaignState"] == state]
    assert found  # the generated project has a campaign in every state


def test_campaign_state_filter_is_repeatable(api: httpx2.Client) -> None:
    everything = api.get("/api/campaigns").json()["campaigns"]
    wanted = {"Running", "Scheduled", "Aborted"}
    repeated = api.get("/api/campaigns", params={"campaignState": sorted(wanted)}).json()["campaigns"]
    assert repeated == [c for c in everything if c["campaignState"] in wanted]
    comma = api.get("/api/campaigns", params={"campaignState": ",".join(sorted(wanted))}).json()["campaigns"]
    assert comma == repeated


@pytest.mark.parametrize("field", ["id", "name", "createdAt", "updatedAt"])
def test_campaign_sort(api: httpx2.Client, field: str) -> None:
    ascending = api.get("/api/campaigns", params={"sort": field}).json()["campaigns"]
    descending = api.get("/api/campaigns", params={"sort": f"-{field}"}).json()["campaigns"]
    values = [c[field] for c in ascending]
    assert values == sorted(values)
    assert [c[field] for c in descending] == sorted(values, reverse=True)
    assert len(set(values)) > 1


def test_campaign_sort_by_start_puts_unstarted_campaigns_first(api: httpx2.Client) -> None:
    ascending = api.get("/api/campaigns", params={"sort": "startAt"}).json()["campaigns"]
    unstarted = [c for c in ascending if "startAt" not in c]
    assert unstarted
    assert ascending[: len(unstarted)] == unstarted
    starts = [c["startAt"] for c in ascending[len(unstarted) :]]
    assert starts == sorted(starts)
    descending = api.get("/api/campaigns", params={"sort": "-startAt"}).json()["campaigns"]
    assert [c.get("startAt") for c in descending[: len(starts)]] == sorted(starts, reverse=True)


def test_campaign_sort_with_a_filter_and_paging(api: httpx2.Client) -> None:
    body = api.get("/api/campaigns", params={"campaignState": "Running", "sort": "-updatedAt", "pageSize": 3}).json()
    updated = [c["updatedAt"] for c in body["campaigns"]]
    assert updated == sorted(updated, reverse=True)
    assert {c["campaignState"] for c in body["campaigns"]} == {"Running"}


def test_unsorted_campaigns_come_newest_first(api: httpx2.Client) -> None:
    ids = [c["id"] for c in api.get("/api/campaigns").json()["campaigns"]]
    assert ids == sorted(ids, reverse=True)


def test_unknown_sort_field(api: httpx2.Client) -> None:
    response = api.get("/api/campaigns", params={"sort": "colour"})
    assert response.status_code == 400
    assert response.json()["msg"].startswith("Invalid sort field: colour")


# ---- templates ------------------------------------------------------------------------------------------


def _all_templates(api: httpx2.Client) -> dict[tuple[str, str], list[dict[str, Any]]]:
    found = {}
    for template_type in ("Base", "Blast", "Triggered", "Workflow"):
        for medium in MEDIUM_PATHS:
            params = {"templateType": template_type, "messageMedium": medium}
            found[template_type, medium] = api.get("/api/templates", params=params).json()["templates"]
    return found


def test_template_type_and_medium_partition_the_templates(api: httpx2.Client) -> None:
    found = _all_templates(api)
    ids = [t["templateId"] for templates in found.values() for t in templates]
    assert len(ids) == len(set(ids)) == api.get("/_sandbox/info").json()["counts"]["templates"]
    campaigns = {c["id"]: c for c in api.get("/api/campaigns").json()["campaigns"]}
    for (template_type, medium), templates in found.items():
        for template in templates:
            detail = api.get(
                f"/api/templates/{MEDIUM_PATHS[medium]}/get", params={"templateId": template["templateId"]}
            )
            assert detail.status_code == 200, (template_type, medium)
            campaign = campaigns.get(template.get("campaignId", -1))
            if template_type == "Base":
                assert campaign is None
            elif template_type == "Workflow":
                assert campaign is not None
                assert "workflowId" in campaign
            else:
                assert campaign is not None
                assert campaign["type"] == template_type
                assert "workflowId" not in campaign


def test_template_medium_must_match_the_get_path(api: httpx2.Client) -> None:
    push = api.get("/api/templates", params={"templateType": "Base", "messageMedium": "Push"}).json()["templates"][0]
    response = api.get("/api/templates/email/get", params={"templateId": push["templateId"]})
    assert response.status_code == 400


def test_templates_default_to_base_email(api: httpx2.Client) -> None:
    default = api.get("/api/templates").json()["templates"]
    explicit = api.get("/api/templates", params={"templateType": "Base", "messageMedium": "Email"}).json()
    assert default == explicit["templates"]


@pytest.mark.parametrize(("name", "value"), [("templateType", "Email"), ("messageMedium", "Fax")])
def test_unknown_template_filters(api: httpx2.Client, name: str, value: str) -> None:
    response = api.get("/api/templates", params={name: value})
    assert response.status_code == 400
    assert response.json()["msg"].startswith(f"Invalid {name}: {value}")


def test_template_date_window_filters_on_creation(api: httpx2.Client) -> None:
    params = {"templateType": "Blast", "messageMedium": "Email"}
    everything = api.get("/api/templates", params=params).json()["templates"]
    middle = sorted(everything, key=lambda t: t["createdAt"])[len(everything) // 2]
    second = datetime.fromtimestamp(middle["createdAt"] // 1000, UTC)

    def window(**bounds: str) -> list[int]:
        return [t["templateId"] for t in api.get("/api/templates", params={**params, **bounds}).json()["templates"]]

    since = window(startDateTime=_stamp(second))  # inclusive
    before = window(endDateTime=_stamp(second))  # exclusive
    assert middle["templateId"] in since
    assert middle["templateId"] not in before
    assert sorted(since + before) == sorted(t["templateId"] for t in everything)
    for template in everything:
        assert (template["templateId"] in since) == (template["createdAt"] >= second.timestamp() * 1000)
    later = second + timedelta(seconds=1)
    assert window(startDateTime=_stamp(second), endDateTime=_stamp(later)) == [middle["templateId"]]
    iso = window(startDateTime=second.strftime("%Y-%m-%dT%H:%M:%SZ"))
    zoned = window(startDateTime=f"{_stamp(second)} +00:00")
    assert iso == zoned == since


def test_template_date_window_in_another_zone(api: httpx2.Client) -> None:
    params = {"templateType": "Blast", "messageMedium": "Email"}
    everything = api.get("/api/templates", params=params).json()["templates"]
    middle = sorted(everything, key=lambda t: t["createdAt"])[len(everything) // 2]
    second = datetime.fromtimestamp(middle["createdAt"] // 1000, UTC)
    in_paris = (second + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S +02:00")
    utc = api.get("/api/templates", params={**params, "startDateTime": _stamp(second)}).json()
    assert api.get("/api/templates", params={**params, "startDateTime": in_paris}).json() == utc


def test_bad_template_dates(api: httpx2.Client) -> None:
    response = api.get("/api/templates", params={"startDateTime": "last tuesday"})
    assert response.status_code == 400
    assert response.json()["code"] == "BadParams"


# ---- export windows ------------------------------------------------------------------------------------------


def test_export_start_is_inclusive_and_end_exclusive(api: httpx2.Client) -> None:
    email = _member(api)
    moment = ANCHOR - timedelta(days=3, hours=5)
    _track(api, email, "boundary", moment)
    day_before, next_second = moment - timedelta(days=1), moment + timedelta(seconds=1)

    def names(start: datetime, end: datetime) -> list[str]:
        records = _export(api, "customEvent", startDateTime=_stamp(start), endDateTime=_stamp(end))
        return [r["eventName"] for r in records]

    assert "boundary" in names(moment, next_second)
    assert "boundary" not in names(day_before, moment)
    assert "boundary" in names(day_before, next_second)
    assert names(moment, next_second) == ["boundary"]


def test_export_window_boundaries_on_generated_events(api: httpx2.Client) -> None:
    everything = _export(api, "emailOpen", range="All")
    stamps = sorted(r["createdAt"] for r in everything)
    cut = datetime.strptime(stamps[len(stamps) // 2], "%Y-%m-%d %H:%M:%S %z")
    start, end = cut - timedelta(days=20), cut + timedelta(days=20)
    inside = _export(api, "emailOpen", startDateTime=_stamp(start), endDateTime=_stamp(end))
    expected = [r for r in everything if _stamp(start) <= r["createdAt"][:19] < _stamp(end)]
    assert sorted(orjson.dumps(r) for r in inside) == sorted(orjson.dumps(r) for r in expected)
    assert 0 < len(inside) < len(everything)


def test_export_ranges(api: httpx2.Client, clock: FakeClock) -> None:
    email = _member(api)
    now = datetime.fromtimestamp(clock.now_ms / 1000, UTC)
    today = now.replace(hour=0, minute=0, second=0)
    _track(api, email, "todayEvent", today + timedelta(hours=1))
    _track(api, email, "yesterdayEvent", today - timedelta(hours=3))
    _track(api, email, "lastWeekEvent", today - timedelta(days=7))
    _track(api, email, "midnightEvent", today)

    def names(range_name: str | None) -> set[str]:
        params = {} if range_name is None else {"range": range_name}
        return {r["eventName"] for r in _export(api, "customEvent", **params)}

    tracked = {"todayEvent", "yesterdayEvent", "lastWeekEvent", "midnightEvent"}
    assert names("Today") & tracked == {"todayEvent", "midnightEvent"}
    assert names(None) == names("Today")  # Today is the default
    assert names("Yesterday") & tracked == {"yesterdayEvent"}
    assert names("BeforeToday") & tracked == {"yesterdayEvent", "lastWeekEvent"}
    assert names("All") & tracked == tracked
    assert names("today") == names("Today")


def test_export_ranges_split_the_generated_history(api: httpx2.Client, clock: FakeClock) -> None:
    clock.advance(3 * 86_400)  # a few days after the anchor, so Today and Yesterday hold generated events too
    for data_type in ("emailSend", "customEvent", "user"):
        every = _lines(api, data_type, range="All")
        before = _lines(api, data_type, range="BeforeToday")
        today = _lines(api, data_type, range="Today")
        yesterday = _lines(api, data_type, range="Yesterday")
        assert Counter(every) == Counter(before) + Counter(today)
        assert not Counter(yesterday) - Counter(before)
        assert every


def test_events_in_the_future_are_not_exported(api: httpx2.Client, clock: FakeClock) -> None:
    email = _member(api)
    _track(api, email, "fromTheFuture", datetime.fromtimestamp(clock.now_ms / 1000, UTC) + timedelta(hours=2))
    assert "fromTheFuture" not in {r["eventName"] for r in _export(api, "customEvent", range="All")}
    clock.advance(3 * 3600)
    assert "fromTheFuture" in {r["eventName"] for r in _export(api, "customEvent", range="All")}


def test_bad_export_windows(api: httpx2.Client) -> None:
    reversed_window = {"startDateTime": "2026-10-02 00:00:00", "endDateTime": "2026-10-01 00:00:00"}
    response = api.get("/api/export/data.json", params={"dataTypeName": "emailSend", **reversed_window})
    assert response.status_code == 400
    assert response.json()["msg"] == "startDateTime must be before endDateTime"
    garbled = api.get("/api/export/data.json", params={"dataTypeName": "emailSend", "startDateTime": "soon"})
    assert garbled.status_code == 400
    assert garbled.json()["code"] == "BadParams"


def test_export_data_type_names_are_case_insensitive(api: httpx2.Client) -> None:
    exact = _lines(api, "emailUnSubscribe", range="All")
    assert exact
    assert _lines(api, "emailunsubscribe", range="All") == exact
    assert _lines(api, "EMAILUNSUBSCRIBE", range="All") == exact


# ---- fields -----------------------------------------------------------------------------------------------


def test_only_fields(api: httpx2.Client) -> None:
    full = _export(api, "emailSend", range="All")
    comma = _export(api, "emailSend", range="All", onlyFields="email,campaignId")
    repeated = _export(api, "emailSend", range="All", onlyFields=["email", "campaignId"])
    assert comma == repeated
    assert comma == [{k: r[k] for k in ("email", "campaignId", "createdAt")} for r in full]


def test_omit_fields(api: httpx2.Client) -> None:
    full = _export(api, "emailSend", range="All")
    omitted = _export(api, "emailSend", range="All", omitFields="itblInternal,messageBusId")
    assert omitted == [{k: v for k, v in r.items() if k not in ("itblInternal", "messageBusId")} for r in full]
    assert all("messageId" in r for r in omitted)


def test_only_and_omit_fields_together_are_refused(api: httpx2.Client) -> None:
    params = {"dataTypeName": "emailSend", "onlyFields": "email", "omitFields": "userId"}
    response = api.get("/api/export/data.json", params=params)
    assert response.status_code == 400
    assert response.json()["msg"] == "Only one of onlyFields and omitFields may be given"


def test_only_fields_of_users_keep_the_email(api: httpx2.Client) -> None:
    records = _export(api, "user", range="All", onlyFields="firstName")
    assert records
    assert all(set(r) <= {"email", "firstName"} and "email" in r for r in records)


def test_campaign_filter(api: httpx2.Client) -> None:
    everything = _export(api, "emailSend", range="All")
    campaign_id = Counter(r["campaignId"] for r in everything).most_common(1)[0][0]
    filtered = _export(api, "emailSend", range="All", campaignId=campaign_id)
    assert filtered == [r for r in everything if r["campaignId"] == campaign_id]
    assert 0 < len(filtered) < len(everything)
    assert _export(api, "emailSend", range="All", campaignId=1) == []
    bad = api.get("/api/export/data.json", params={"dataTypeName": "emailSend", "campaignId": "abc"})
    assert bad.status_code == 400


# ---- data.csv -----------------------------------------------------------------------------------------------


def test_csv_matches_json(api: httpx2.Client) -> None:
    response = api.get("/api/export/data.csv", params={"dataTypeName": "emailSend", "range": "All"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv"
    records = _export(api, "emailSend", range="All")
    rows = list(csv.reader(io.StringIO(response.text)))
    header, body = rows[0], rows[1:]
    assert header[0] == "email"
    assert {"campaignId", "messageId", "createdAt", "transactionalData"} <= set(header)
    assert len(body) == len(records)
    for row, record in zip(body, records, strict=True):
        cells = dict(zip(header, row, strict=True))
        assert set(record) <= set(header)
        for name, value in record.items():
            expected = orjson.dumps(value).decode() if isinstance(value, dict | list) else str(value)
            assert cells[name] == expected
        for name in set(header) - set(record):
            assert cells[name] == ""


def test_csv_quotes_strings_and_leaves_numbers_bare(api: httpx2.Client) -> None:
    text = api.get("/api/export/data.csv", params={"dataTypeName": "emailSend", "range": "All"}).text
    header, first = text.splitlines()[:2]
    assert '"' not in header
    names = header.split(",")
    row = next(csv.reader([first]))
    assert first.startswith(f'"{row[0]}",')  # the email is quoted
    assert f",{row[names.index('campaignId')]}," in first  # numbers are not
    assert f'"{row[names.index("createdAt")]}"' in first


def test_csv_escapes_quotes_inside_strings(api: httpx2.Client) -> None:
    text = api.get("/api/export/data.csv", params={"dataTypeName": "emailSend", "range": "All"}).text
    transactional = [line for line in text.splitlines() if '""data""' in line]
    assert transactional  # transactionalData is a JSON string: its quotes are doubled
    rows = list(csv.DictReader(io.StringIO(text)))
    data = [orjson.loads(r["transactionalData"]) for r in rows if r["transactionalData"]]
    assert data
    assert all("orderId" in d["data"] for d in data)


def test_csv_only_fields_and_delimiter(api: httpx2.Client) -> None:
    params = {"dataTypeName": "emailSend", "range": "All", "onlyFields": "campaignId,email", "delimiter": ";"}
    lines = api.get("/api/export/data.csv", params=params).text.splitlines()
    assert lines[0] == "createdAt;email;campaignId"
    records = _export(api, "emailSend", range="All")
    assert lines[1:] == [f'"{r["createdAt"]}";"{r["email"]}";{r["campaignId"]}' for r in records]


def test_csv_of_users_flattens_objects(api: httpx2.Client) -> None:
    text = api.get("/api/export/data.csv", params={"dataTypeName": "user", "range": "All"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(_export(api, "user", range="All"))
    header = text.splitlines()[0].split(",")
    assert "address.city" in header
    assert "address" not in header
    assert any(r["interests"].startswith("[") for r in rows)


# ---- the user export window ---------------------------------------------------------------------------------


def test_user_export_filters_on_profile_updates(api: httpx2.Client) -> None:
    everyone = _export(api, "user", range="All")
    stamps = sorted(r["profileUpdatedAt"] for r in everyone)
    start, end = stamps[len(stamps) // 4][:19], stamps[3 * len(stamps) // 4][:19]
    window = _export(api, "user", startDateTime=start, endDateTime=end)
    assert [r["email"] for r in window] == [r["email"] for r in everyone if start <= r["profileUpdatedAt"][:19] < end]
    assert 0 < len(window) < len(everyone)


def test_user_export_sees_updates_in_todays_window(api: httpx2.Client, clock: FakeClock) -> None:
    email = _member(api)
    assert email not in {r["email"] for r in _export(api, "user", range="Today")}
    clock.advance(60)
    api.post("/api/users/update", json={"email": email, "dataFields": {"favoriteCategory": "books"}})
    today = {r["email"]: r for r in _export(api, "user", range="Today")}
    assert today[email]["favoriteCategory"] == "books"
    now = datetime.fromtimestamp(clock.now_ms / 1000, UTC)
    assert today[email]["profileUpdatedAt"] == now.strftime("%Y-%m-%d %H:%M:%S +00:00")
    before = _export(api, "user", range="BeforeToday")
    assert email not in {r["email"] for r in before}  # its profileUpdatedAt moved on
