"""The export's bulk generators give, byte for byte, what the one-record-at-a-time generators give.

data.json draws users and events in blocks with numpy (sandbox/data/bulk.py, bulk_events.py) while the
lookup endpoints and data.csv build records one by one; the two must never drift apart. Each test compares
the bulk lines with `records()` shaped by `json_line` (the one-by-one path) over whole histories, then after
API writes that the bulk path must honour (deleted, rewritten and moved users, list changes, tracked events).
"""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from helpers import ANCHOR_MS, FakeClock, make_config
from iterbridge.sandbox.data import bulk
from iterbridge.sandbox.data.bulk import BulkRng, JsonLines
from iterbridge.sandbox.data.events import GENERATED_TYPES
from iterbridge.sandbox.data.rand import Rng, mix64
from iterbridge.sandbox.data.timefmt import DAY_MS, iterable_time
from iterbridge.sandbox.faults import Faults
from iterbridge.sandbox.world import World
from iterbridge.sandbox.world.exports import ExportQuery, json_line, json_lines, records


def one_by_one(world: World, query: ExportQuery) -> bytes:
    return b"".join(json_line(record) for record in records(world, query))


def in_bulk(world: World, query: ExportQuery) -> bytes:
    return b"".join(json_lines(world, query))


def assert_same(world: World, query: ExportQuery) -> int:
    """Bulk = one by one for this query; the number of lines (so callers can check there were some)."""
    expected, got = one_by_one(world, query), in_bulk(world, query)
    if got != expected:  # name the first line that differs, not two megabytes of bytes
        pairs = zip(expected.splitlines(), got.splitlines(), strict=False)
        line, (want, have) = next((n, pair) for n, pair in enumerate(pairs) if pair[0] != pair[1])
        pytest.fail(f"{query.data_type}: line {line} differs\n one by one: {want[:400]!r}\n bulk:       {have[:400]!r}")
    assert got.count(b"\n") == expected.count(b"\n")
    return got.count(b"\n")


@pytest.fixture(scope="module")
def small() -> World:
    return World(make_config(scale="small", clock=FakeClock(ANCHOR_MS + 5 * 3_600_000)), Faults())


# ---- whole histories ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(GENERATED_TYPES))
def test_every_event_type_over_a_whole_history(small: World, event_type: str) -> None:
    lines = assert_same(small, ExportQuery(event_type, 0, small.now() + 1))
    assert lines > 0


def test_every_user_of_a_history(small: World) -> None:
    assert assert_same(small, ExportQuery("user", 0, small.now() + 1)) == small.user_generator.count


def test_a_window_of_a_medium_project() -> None:
    world = World(make_config(scale="medium"), Faults())
    start, end = ANCHOR_MS - 2 * DAY_MS, ANCHOR_MS - DAY_MS
    for data_type in ("emailSend", "emailOpen", "purchase", "customEvent", "inAppClose", "user"):
        assert assert_same(world, ExportQuery(data_type, start, end)) > 0


def test_windows_cut_where_events_late_or_not_yet_visible_fall(small: World) -> None:
    # Follow-up events come up to days after their send, some are ingested hours late, and "now" hides
    # what is not stored yet: the window edges must keep and drop exactly the same events.
    for start, end in ((ANCHOR_MS - 3 * DAY_MS + 12_345, ANCHOR_MS - DAY_MS - 999), (ANCHOR_MS - 1, small.now() + 1)):
        for data_type in ("emailOpen", "inAppDelivery", "pushOpen", "customEvent", "user"):
            assert_same(small, ExportQuery(data_type, start, end))


# ---- the export's options ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"only_fields": ("campaignId", "city")},
        {"only_fields": ("userId",)},  # createdAt is kept: the first field of some rows is absent
        {"omit_fields": frozenset({"email", "itblInternal", "messageId"})},
        {"campaign_id": -1},
    ],
)
def test_only_omit_and_campaign_narrow_like_the_one_by_one_path(small: World, options: dict[str, object]) -> None:
    for data_type in ("emailOpen", "emailUnSubscribe", "purchase"):
        assert_same(small, ExportQuery(data_type, 0, small.now() + 1, **options))  # type: ignore[arg-type]
    assert_same(small, ExportQuery("user", 0, small.now() + 1, **options))  # type: ignore[arg-type]


def test_one_campaign_of_many(small: World) -> None:
    campaign = small.event_generator.campaigns["Email"][0]["id"]
    assert assert_same(small, ExportQuery("emailOpen", 0, small.now() + 1, campaign_id=campaign)) > 0


# ---- after writes -----------------------------------------------------------------------------------------------


def test_after_writes_to_users_lists_and_events() -> None:
    world = World(make_config(scale="small"), Faults())
    emails = [world.user_generator.email(index) for index in range(12)]
    lists = [lst["id"] for lst in world.project.lists if lst["listType"] == "Standard"]
    world.users.upsert(emails[0], {"firstName": "Rewritten", "loyaltyPoints": 7})
    world.lists.subscribe(lists[0], emails[1])
    world.lists.unsubscribe(lists[1], emails[2])
    world.lists.delete(lists[2])
    world.users.upsert("new.person@example.com", {"city": "Lyon"})
    tracked = {"eventName": "tracked", "dataFields": {"n": 1}, "eventUpdatedAt": iterable_time(ANCHOR_MS)}
    world.events.track("customEvent", emails[3], None, ANCHOR_MS - 5_000, tracked)
    everything = ExportQuery("user", 0, world.now() + 1)
    assert assert_same(world, everything) == world.user_generator.count + 1
    for event_type in ("customEvent", "emailSubscribe"):
        assert_same(world, ExportQuery(event_type, 0, world.now() + 1))
    # A deleted user's events go with them: left out of the bulk blocks.
    sends = ExportQuery("emailSend", 0, world.now() + 1)
    sent_to = {
        index
        for index in range(50)
        if any(e.type == "emailSend" for e in world.event_generator.of_user(index, world.now()))
    }
    gone, moved = (world.user_generator.email(index) for index in sorted(sent_to)[:2])
    before = in_bulk(world, sends)
    world.users.delete(gone)
    assert assert_same(world, everything) == world.user_generator.count
    assert assert_same(world, sends) < before.count(b"\n")
    assert gone.encode() in before
    assert gone.encode() not in in_bulk(world, sends)
    # A renamed user's events follow it to the new address (made one by one).
    world.users.rename(moved, "moved.person@example.com")
    assert_same(world, sends)
    assert b"moved.person@example.com" in in_bulk(world, sends)
    assert moved.encode() not in in_bulk(world, sends)


# ---- the pieces -------------------------------------------------------------------------------------------------


def test_bulk_draws_are_rng_draws_row_by_row() -> None:
    keys = [0, 1, 2**63, 2**64 - 1, 123_456_789]
    bulk, drawn = BulkRng(np.array(keys, dtype=np.uint64)), [Rng(key) for key in keys]
    on = np.array([True, False, True, True, False])
    assert bulk.below(1_000).tolist() == [rng.below(1_000) for rng in drawn]
    assert bulk.chance(0.5, on).tolist() == [here and rng.chance(0.5) for rng, here in zip(drawn, on, strict=True)]
    assert bulk.between(5, 9).tolist() == [rng.between(5, 9) for rng in drawn]  # the skipped rows did not move
    assert bulk.hex(24).to_pylist() == [rng.hex(24) for rng in drawn]
    cumulative = (0.2, 0.7, 1.0)
    assert bulk.weighted(cumulative).tolist() == [rng.weighted((0, 1, 2), cumulative) for rng in drawn]
    picks = bulk.sample(6, np.array([0, 2, 6, 9, 3]), np.ones(5, dtype=np.bool_))
    assert [[p for p in row if p >= 0] for row in picks.tolist()] == [
        rng.sample(range(6), k) for rng, k in zip(drawn, (0, 2, 6, 9, 3), strict=True)
    ]


def test_json_lines_commas_braces_and_absent_fields() -> None:
    present = np.array([True, False, True])
    lines = JsonLines(3)
    lines.field("a", present).integers(np.array([1, 2, 3]))
    lines.field("b").text('"x').text('y"')
    lines.field("c", ~present).time(np.array([0, ANCHOR_MS, 2 * ANCHOR_MS]))
    lines.field("d", np.zeros(3, dtype=np.bool_)).text("1")
    when = iterable_time(ANCHOR_MS)
    assert lines.lines() == [b'{"a":1,"b":"xy"}\n', f'{{"b":"xy","c":"{when}"}}\n'.encode(), b'{"a":3,"b":"xy"}\n']
    lines.narrow(["c", "d"])
    assert lines.block() == f'{{}}\n{{"c":"{when}"}}\n{{}}\n'.encode()
    assert JsonLines(0).block() == b""


def test_rounding_is_pythons_round_even_next_to_ties() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.uniform(-200, 200, 20_000),
            np.arange(-2_000, 2_000) / 100 + 0.005,  # ties in decimal, not quite in binary
            np.array([0.125, 2.675, 1.005, 0.285, -0.125, 1e-5, -3e-6, 0.0]),  # exact binary ties and tiny ones
        ]
    )
    for digits in (2, 5):
        assert bulk.rounded(values, digits).tolist() == [round(value, digits) for value in values.tolist()]


@pytest.mark.parametrize("size", [1, 2, 3, 9, 14])
def test_bulk_sample_is_rng_sample_for_every_count(size: int) -> None:
    keys = [mix64(n) for n in range(300)]
    counts = np.array([n % (size + 3) for n in range(300)])
    where = np.array([n % 7 != 0 for n in range(300)])
    picks = BulkRng(np.array(keys, dtype=np.uint64)).sample(size, counts, where)
    expected = [
        Rng(key).sample(range(size), int(k)) if here else [] for key, k, here in zip(keys, counts, where, strict=True)
    ]
    assert [[p for p in row if p >= 0] for row in picks.tolist()] == expected


@pytest.mark.parametrize("length", [4, 8, 12, 16, 24, 32, 64])
def test_bulk_hex_is_rng_hex_for_the_rows_that_draw(length: int) -> None:
    keys = [mix64(n) for n in range(50)]
    where = np.array([n % 3 != 0 for n in range(50)])
    drawn = BulkRng(np.array(keys, dtype=np.uint64)).hex(length, where)
    assert drawn.to_pylist() == [Rng(key).hex(length) for key, here in zip(keys, where, strict=True) if here]
    assert BulkRng(np.array([], dtype=np.uint64)).hex(length).to_pylist() == []


def test_numbers_are_written_as_orjson_writes_each_float() -> None:
    rng = np.random.default_rng(11)
    values = np.concatenate(
        [
            rng.uniform(-1e6, 1e6, 5_000),
            bulk.rounded(rng.uniform(-180, 180, 5_000), 5),
            np.array([0.0, -0.0, 1e-7, 1e16, 123456789.125, 2.0, -3.25, 5e-324, 1.7976931348623157e308]),
        ]
    )
    assert bulk.numbers(values).to_pylist() == [orjson.dumps(value).decode() for value in values.tolist()]
    assert bulk.numbers(np.array([], dtype=np.float64)).to_pylist() == []


def test_integers_from_the_table_of_small_numbers_or_written_one_by_one() -> None:
    small, large = np.array([0, 7, 9_999]), np.array([-5, 10_000, 2**40])
    where = np.array([True, False, True])
    lines = JsonLines(3)
    lines.field("s").integers(small)
    lines.field("l").integers(large, where)
    assert lines.lines() == [b'{"s":0,"l":-5}\n', b'{"s":7,"l":}\n', b'{"s":9999,"l":1099511627776}\n']


def test_neighbouring_words_merge_across_rows_they_are_not_all_in() -> None:
    """Words of different rows become one piece: the empty text stands where a row has not the word."""
    first, second = np.array([True, True, False, False]), np.array([True, False, True, False])
    lines = JsonLines(4)
    lines.field("a", first).choose(("1", "2"), np.array([0, 1, 0, 1]))
    lines.field("b", second).text('"x"')
    lines.field("c").choose(("true", "false"), np.array([1, 0, 0, 1]), first)
    assert lines.lines() == [
        b'{"a":1,"b":"x","c":false}\n',
        b'{"a":2,"c":true}\n',
        b'{"b":"x","c":}\n',
        b'{"c":}\n',
    ]
    items = bulk._Items()
    items.add(bulk._Word(("1", "2"), np.array([0, 1, 0, 1]), first))
    items.add(bulk._Word(('"x"',), np.zeros(4, dtype=np.int64), second))
    assert len(items.merged) == 1
