"""The windowed export reader against the sandbox: every record exactly once, even when streams drop."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import orjson
import pytest

from helpers import ANCHOR, FAST_RETRY
from iterbridge.api.client import ApiClient
from iterbridge.api.exports import EXPORT_ENDPOINT, ExportReader, StreamDropped, WindowPolicy
from iterbridge.api.ratelimit import ClientRateLimiter
from iterbridge.api.timestamps import iterable_format

START = ANCHOR - timedelta(days=200)  # before the generated history
END = ANCHOR + timedelta(hours=6)  # the sandbox's clock


def multiset(records: Iterable[dict[str, Any]]) -> Counter[bytes]:
    return Counter(orjson.dumps(record, option=orjson.OPT_SORT_KEYS) for record in records)


def served(api: httpx2.Client, data_type: str, start: datetime = START, end: datetime = END) -> list[dict[str, Any]]:
    """What the sandbox serves for one request over the whole range."""
    params = {"dataTypeName": data_type, "startDateTime": iterable_format(start), "endDateTime": iterable_format(end)}
    response = api.get("/api/export/data.json", params=params)
    response.raise_for_status()
    return [orjson.loads(line) for line in response.content.splitlines() if line.strip()]


def faults(api: httpx2.Client, **settings: object) -> None:
    api.post("/_sandbox/faults", json=settings).raise_for_status()


def export_calls(api: httpx2.Client) -> dict[str, int]:
    stats: dict[str, int] = api.get("/_sandbox/stats").json()["endpoints"].get(EXPORT_ENDPOINT, {})
    return stats


@pytest.mark.parametrize("data_type", ["emailSend", "emailOpen", "purchase", "customEvent", "user"])
def test_one_window_gives_every_record_once(client: ApiClient, api: httpx2.Client, data_type: str) -> None:
    expected = served(api, data_type)
    assert expected, f"the sandbox serves no {data_type} records"
    reader = ExportReader(client, data_type, START, END)
    found = list(reader)
    assert multiset(found) == multiset(expected)
    assert reader.stats.records == len(expected)
    assert reader.stats.windows == 1
    assert reader.stats.drops == 0
    assert reader.stats.checkpoints == [END]


def test_many_windows_give_every_record_once(client: ApiClient, api: httpx2.Client) -> None:
    expected = served(api, "emailSend")
    policy = WindowPolicy(initial=timedelta(days=7), maximum=timedelta(days=7))
    reader = ExportReader(client, "emailSend", START, END, policy=policy)
    assert multiset(reader) == multiset(expected)
    windows = (END - START) // timedelta(days=7) + 1
    assert reader.stats.windows == windows
    assert export_calls(api) == {"200": windows + 1}  # + the one `served` made


def test_checkpoints_are_window_ends(client: ApiClient) -> None:
    seen: list[datetime] = []
    policy = WindowPolicy(initial=timedelta(days=30), maximum=timedelta(days=30))
    reader = ExportReader(client, "emailOpen", START, END, policy=policy, on_checkpoint=seen.append)
    list(reader)
    assert seen == reader.stats.checkpoints
    assert seen == [*(START + timedelta(days=30 * n) for n in range(1, 7)), END]


def test_windows_grow_after_clean_ones(client: ApiClient) -> None:
    policy = WindowPolicy(initial=timedelta(days=1), grow_after=1)
    reader = ExportReader(client, "emailSend", START, END, policy=policy)
    list(reader)
    steps = [b - a for a, b in zip([START, *reader.stats.checkpoints], reader.stats.checkpoints, strict=False)]
    assert steps[:5] == [timedelta(days=d) for d in (1, 2, 4, 8, 16)]


def test_a_dropped_stream_is_read_again_in_halves(client: ApiClient, api: httpx2.Client) -> None:
    expected = served(api, "emailSend")
    assert len(expected) > 20
    faults(api, drop_after_lines=10, drop_streams=3)
    reader = ExportReader(client, "emailSend", START, END)
    found = list(reader)
    assert multiset(found) == multiset(expected)
    assert len(found) == len(expected)
    assert reader.stats.drops == 3
    # Three drops of the whole range: the first complete window is an eighth of it.
    assert reader.stats.checkpoints[0] == START + (END - START) / 8
    assert reader.stats.checkpoints[-1] == END
    assert export_calls(api) == {"200": 1 + 3 + reader.stats.windows}


def test_windows_shrink_until_streams_get_through(client: ApiClient, api: httpx2.Client) -> None:
    expected = served(api, "emailOpen")
    faults(api, drop_after_lines=12, drop_streams=-1)  # every stream longer than 12 lines drops
    reader = ExportReader(client, "emailOpen", START, END)
    assert multiset(reader) == multiset(expected)
    assert reader.stats.drops >= 2
    assert reader.stats.windows >= len(expected) // 12


def test_a_window_that_drops_at_the_minimum_size_fails(client: ApiClient, api: httpx2.Client) -> None:
    faults(api, drop_after_lines=1, drop_streams=-1)
    policy = WindowPolicy(minimum=timedelta(days=60), max_drops_at_minimum=2)
    reader = ExportReader(client, "emailSend", START, END, policy=policy)
    with pytest.raises(StreamDropped, match="dropped"):
        list(reader)


def test_a_minimum_below_a_second_still_ends_the_retries() -> None:
    """Windows stop halving at a second (the API's resolution): drops counted there end the retries, even
    when the policy's minimum is smaller (it used to retry for ever)."""

    class Dropping(httpx2.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b'{"email": "a@example.org"}\n'
            raise httpx2.RemoteProtocolError("peer closed connection without sending complete message body")

    windows: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        windows.append(request.url.params["startDateTime"])
        return httpx2.Response(200, stream=Dropping())

    transport = httpx2.MockTransport(handler)
    client = ApiClient("https://api.iterable.test", "k" * 32, transport=transport, limiter=ClientRateLimiter(None),
                       retry=FAST_RETRY)  # fmt: skip
    policy = WindowPolicy(minimum=timedelta(milliseconds=500), max_drops_at_minimum=2)
    reader = ExportReader(client, "emailSend", START, START + timedelta(seconds=3), policy=policy)
    with pytest.raises(StreamDropped, match="dropped"):
        list(reader)
    assert reader.stats.drops == 5  # 3 s → 1.5 s → 1 s, then 3 drops at the minimum (the 3rd gives up)
    assert len(windows) == 5


def test_records_are_given_only_once_their_window_is_complete(client: ApiClient, api: httpx2.Client) -> None:
    whole = api.get(
        "/api/export/data.json",
        params={
            "dataTypeName": "emailSend",
            "startDateTime": iterable_format(START),
            "endDateTime": iterable_format(END),
        },
    ).content
    reader = ExportReader(client, "emailSend", START, END)
    records = iter(reader)
    next(records)
    # The whole window was downloaded (into the spool) before its first record came out.
    assert reader.stats.bytes == len(whole)
    assert reader.stats.records == 1


def test_no_record_of_a_dropped_window_is_given(client: ApiClient, api: httpx2.Client) -> None:
    faults(api, drop_after_lines=10, drop_streams=1)
    reader = ExportReader(client, "emailSend", START, END)
    records = iter(reader)
    first = next(records)
    assert reader.stats.drops == 1
    assert reader.stats.windows == 0  # the first record is of the first complete (half) window
    assert reader.stats.records == 1
    assert first in served(api, "emailSend", START, START + (END - START) / 2)


def test_only_fields_and_campaign_are_passed(client: ApiClient, api: httpx2.Client) -> None:
    campaign = served(api, "emailSend")[0]["campaignId"]
    reader = ExportReader(client, "emailSend", START, END, only_fields=["email", "campaignId"], campaign_id=campaign)
    found = list(reader)
    assert found
    assert {record["campaignId"] for record in found} == {campaign}
    assert {key for record in found for key in record} == {"email", "campaignId", "createdAt"}


def test_a_range_shorter_than_a_second_is_read(client: ApiClient, api: httpx2.Client) -> None:
    records = served(api, "emailSend")
    moment = datetime.strptime(records[0]["createdAt"], "%Y-%m-%d %H:%M:%S %z").astimezone(UTC)
    reader = ExportReader(
        client, "emailSend", moment + timedelta(milliseconds=200), moment + timedelta(milliseconds=700)
    )
    found = list(reader)  # widened to the API's whole seconds: the record of that second is there
    assert records[0] in found


def test_the_default_start_is_before_any_data(client: ApiClient, api: httpx2.Client) -> None:
    reader = ExportReader(client, "purchase", None, END)
    assert multiset(reader) == multiset(served(api, "purchase"))
