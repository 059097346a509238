"""The event generator's shortcuts give what the long way gives.

A journey asked for one type stops once that event is built (`_Builder.done`), which is right only while
every type but those in `REPEATED_TYPES` appears at most once per journey; the user generator's
`signs_up_after` and one-entry caches must agree with the functions they stand for.
"""

from __future__ import annotations

from collections import Counter

import pytest

from helpers import ANCHOR, make_config
from iterbridge.sandbox.data.events import GENERATED_TYPES, KIND_OF_ROLL, REPEATED_TYPES, kind_of_roll
from iterbridge.sandbox.data.rand import mix64
from iterbridge.sandbox.data.timefmt import DAY_MS
from iterbridge.sandbox.faults import Faults
from iterbridge.sandbox.world import World

ANCHOR_MS = int(ANCHOR.timestamp() * 1000)


@pytest.fixture(scope="module")
def world() -> World:
    return World(make_config(scale="small"), Faults())


def test_only_the_repeated_types_appear_twice_in_a_journey(world: World) -> None:
    generator = world.event_generator
    n_users = world.user_generator.count
    repeated: Counter[str] = Counter()
    for hour in generator.hours(ANCHOR_MS - 30 * DAY_MS, ANCHOR_MS):
        journeys, a, b, _, key = generator.bucket(hour)
        for slot in range(journeys):
            journey_key = mix64(key ^ slot)
            kind = KIND_OF_ROLL[journey_key % 10_000]
            counts = Counter(
                e.type for e in generator._journey(hour, journey_key, kind, (a * slot + b) % n_users, None)
            )
            repeated.update(event_type for event_type, count in counts.items() if count > 1)
    assert set(repeated) <= REPEATED_TYPES
    assert repeated["emailOpen"] > 0  # the check above saw journeys that do repeat


def test_one_type_asked_for_gives_the_events_of_all_types_filtered(world: World) -> None:
    generator = world.event_generator
    start, end, now = ANCHOR_MS - 10 * DAY_MS, ANCHOR_MS + DAY_MS, ANCHOR_MS + 6 * 3_600_000
    everything = list(generator.in_window(None, start, end, now))
    for event_type in sorted(GENERATED_TYPES):
        alone = list(generator.in_window(frozenset([event_type]), start, end, now))
        assert alone == [e for e in everything if e.type == event_type], event_type


def test_the_kind_table_is_the_kind_loop() -> None:
    assert all(KIND_OF_ROLL[roll] == kind_of_roll(roll) for roll in range(10_000))


def test_user_shortcuts_agree_with_the_long_way(world: World) -> None:
    users = world.user_generator
    for index in (0, 1, 2, 499, 998, 999):
        signup = users.signup_ms(index)
        for moment in (signup - 1, signup, signup + 1, signup - DAY_MS, signup + DAY_MS):
            assert users.signs_up_after(index, moment) == (signup > moment)
        first, second = users.list_ids(index), users.list_ids(index)
        assert first == second
        assert first is not second  # a copy: callers may change it
        assert users.profile_updated_ms(index) == users.profile_updated_ms(index)
        assert all(users.in_list(list_id, index) for list_id in first)
