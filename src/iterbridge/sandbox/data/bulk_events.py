"""The export's events drawn in bulk: EventGenerator's journeys for a block of hours at once.

An export asks for one event type. Every journey of the block is played with `BulkRng` exactly as
EventGenerator plays it one at a time (the same draws in the same order, a draw made only by the journeys
on its branch), every event is counted (an event's own draws are keyed by its number in its journey), and
the events of the asked type are shaped by the same rules as `export_record`. tests/sandbox/test_bulk.py
proves the lines byte-identical to the scalar generator's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from iterbridge.sandbox.data import bulk, words
from iterbridge.sandbox.data.bulk import I64, U64, Mask
from iterbridge.sandbox.data.events import FIELD_BUILDERS, KIND_OF_ROLL, KIND_TYPES, KINDS, EventGenerator
from iterbridge.sandbox.data.timefmt import HOUR_MS, MINUTE_MS
from iterbridge.sandbox.data.users import CATEGORY_TEXTS, CITY_TEXTS, COUNTRY_TEXTS, REGION_TEXTS, BulkUsers

_KIND_CODES = np.array([KINDS.index(kind) for kind in KIND_OF_ROLL], dtype=np.int64)
_MEDIUMS = ("Email", "Push", "SMS", "InApp")
_EVENT_SALT = np.uint64(0x9E3779B1)
_OPENS_EDGES = (0.55, 0.85, 0.95, 1.0)
JOURNEYS_PER_BLOCK = 8192  # journeys played at once: enough that numpy's per-call cost vanishes


@dataclass
class _Found:
    """Events of the asked type found in one journey kind: where, which number, when, and their context."""

    origin: I64  # positions of their journeys in the block
    number: I64  # the event's number in its journey (1, 2, …)
    moment: I64
    late: Mask
    campaign: I64  # row of the campaign table, -1 for none
    message: tuple[U64, U64]  # the journey's messageId draws
    source: I64  # emailUnSubscribe's unsubSource (index in _UNSUB_SOURCES)
    name: I64  # customEvent's name (index in words.CUSTOM_EVENTS)


_UNSUB_SOURCES = ("HardBounce", "EmailLink", "Unsubscribe")


@dataclass
class _Journal:
    """Builder.add for a block of journeys of one kind: numbers every event, keeps the asked type's."""

    wanted: str
    origin: I64
    campaign: I64
    message: tuple[U64, U64]
    number: I64 = field(init=False)
    found: list[_Found] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.number = np.zeros(len(self.origin), dtype=np.int64)

    def add(
        self,
        event_type: str,
        where: Mask,
        moment: I64,
        late: Mask | None = None,
        source: str = "Unsubscribe",
        name: I64 | None = None,
    ) -> None:
        self.number += where
        if event_type != self.wanted:
            return
        rows = np.flatnonzero(where)
        self.found.append(
            _Found(
                self.origin[rows],
                self.number[rows],
                moment[rows],
                np.zeros(len(rows), dtype=np.bool_) if late is None else late[rows],
                self.campaign[rows],
                (self.message[0][rows], self.message[1][rows]),
                np.full(len(rows), _UNSUB_SOURCES.index(source), dtype=np.int64),
                np.zeros(len(rows), dtype=np.int64) if name is None else name[rows],
            )
        )


# ---- the journeys, draw for draw as EventGenerator's -------------------------------------------------------


def _sent(rng: bulk.BulkRng, t0: I64, on: Mask, j: _Journal, medium: str, skipped: float) -> Mask:
    """A message skipped (its journey ends) or sent: the journeys that go on."""
    skip = rng.chance(skipped, on)
    j.add(f"{medium}SendSkip", skip, t0)
    on = on & ~skip
    j.add(f"{medium}Send", on, t0)
    return on


def _maybe(
    rng: bulk.BulkRng,
    j: _Journal,
    event_type: str,
    probability: float,
    on: Mask,
    after: I64,
    low: int,
    high: int,
    late: Mask | None = None,
) -> tuple[Mask, I64]:
    """`if rng.chance(p): build.add(type, after + rng.between(low, high))`: where it happened, and when."""
    happened = rng.chance(probability, on)
    moment = after + rng.between(low, high, happened)
    j.add(event_type, happened, moment, late)
    return happened, moment


def _email_journey(rng: bulk.BulkRng, t0: I64, on: Mask, j: _Journal) -> None:
    on = _sent(rng, t0, on, j, "email", 0.02)
    bounce, bounce_at = _maybe(rng, j, "emailBounce", 0.03, on, t0, 2_000, 120_000)
    j.add("emailUnSubscribe", rng.chance(0.5, bounce), bounce_at + 2_000, source="HardBounce")
    on = on & ~bounce
    opens = rng.weighted(_OPENS_EDGES, on)
    moment, first_open = t0, np.zeros(len(t0), dtype=np.int64)
    for number in range(3):
        opening = on & (opens > number)
        moment = np.where(opening, moment + rng.between(MINUTE_MS, 20 * HOUR_MS, opening), moment)
        first_open = np.where(opening & (first_open == 0), moment, first_open)
        j.add("emailOpen", opening, moment)
    opened = on & (first_open != 0)
    _maybe(rng, j, "emailClick", 0.35, opened, first_open, 5_000, 10 * MINUTE_MS)
    unsubscribe, unsubscribe_at = _maybe(rng, j, "hostedUnsubscribeClick", 0.015, opened, first_open, 10_000, HOUR_MS)
    j.add("emailUnSubscribe", unsubscribe, unsubscribe_at + 1_000, source="EmailLink")
    _maybe(rng, j, "emailComplaint", 0.003, on, t0, HOUR_MS, 30 * HOUR_MS)


def _push_journey(rng: bulk.BulkRng, t0: I64, on: Mask, j: _Journal) -> None:
    on = _sent(rng, t0, on, j, "push", 0.03)
    bounce, _ = _maybe(rng, j, "pushBounce", 0.03, on, t0, 1_000, 60_000)
    opened = rng.chance(0.12, on & ~bounce)
    open_at = t0 + rng.between(30_000, 6 * HOUR_MS, opened)
    j.add("pushOpen", opened, open_at, late=rng.chance(0.05, opened))
    _maybe(rng, j, "pushUninstall", 0.006, on, t0, HOUR_MS, 48 * HOUR_MS)


def _sms_journey(rng: bulk.BulkRng, t0: I64, on: Mask, j: _Journal) -> None:
    on = _sent(rng, t0, on, j, "sms", 0.02)
    bounce, _ = _maybe(rng, j, "smsBounce", 0.015, on, t0, 1_000, 60_000)
    on = on & ~bounce
    _maybe(rng, j, "smsClick", 0.06, on, t0, MINUTE_MS, 3 * HOUR_MS)
    _maybe(rng, j, "smsReceived", 0.02, on, t0, MINUTE_MS, 24 * HOUR_MS)


def _inapp_journey(rng: bulk.BulkRng, t0: I64, on: Mask, j: _Journal) -> None:
    on = _sent(rng, t0, on, j, "inApp", 0.02)
    on = rng.chance(0.9, on)
    delivered = t0 + rng.between(MINUTE_MS, 30 * HOUR_MS, on)
    late = rng.chance(0.08, on)
    j.add("inAppDelivery", on, delivered, late)
    opened, open_at = _maybe(rng, j, "inAppOpen", 0.5, on, delivered, 1_000, 6 * HOUR_MS, late)
    click, _ = _maybe(rng, j, "inAppClick", 0.4, opened, open_at, 1_000, 60_000, late)
    _maybe(rng, j, "inAppClose", 0.6, opened & ~click, open_at, 1_000, 60_000, late)
    _maybe(rng, j, "inAppDelete", 0.1, opened, open_at, 60_000, 24 * HOUR_MS, late)


def _custom_journey(rng: bulk.BulkRng, t0: I64, on: Mask, j: _Journal) -> None:
    name = rng.below(len(words.CUSTOM_EVENTS), on)
    j.add("customEvent", on, t0, late=rng.chance(0.03, on), name=name)


def _purchase_journey(rng: bulk.BulkRng, t0: I64, on: Mask, j: _Journal) -> None:
    j.add("purchase", on, t0)


def _subscription_journey(rng: bulk.BulkRng, t0: I64, on: Mask, j: _Journal) -> None:
    subscribe = rng.chance(0.7, on)
    j.add("emailSubscribe", subscribe, t0)
    j.add("emailUnSubscribe", on & ~subscribe, t0, source="Unsubscribe")


_JOURNEYS: dict[str, Callable[[bulk.BulkRng, I64, Mask, _Journal], None]] = {
    "Email": _email_journey,
    "Push": _push_journey,
    "SMS": _sms_journey,
    "InApp": _inapp_journey,
    "custom": _custom_journey,
    "purchase": _purchase_journey,
    "subscription": _subscription_journey,
}


# ---- the events of a block ---------------------------------------------------------------------------------


@dataclass
class Events:
    """The asked type's events of a block, in the scalar generator's order, with their own draws' stream."""

    key: U64  # their journeys' keys
    user: I64
    number: I64
    moment: I64
    late: Mask
    campaign: I64
    message: tuple[U64, U64]
    source: I64
    name: I64
    ingested: I64 = field(init=False)
    rng: bulk.BulkRng = field(init=False)

    def __post_init__(self) -> None:
        self.rng = bulk.BulkRng(bulk.mix64(self.key ^ (self.number.astype(np.uint64) * _EVENT_SALT)))
        drawn = self.rng.bits()  # the delay: between(60 s, 3 h) when late, else between(100, 8,000) ms
        delay = np.where(
            self.late,
            60_000 + (drawn % np.uint64(3 * HOUR_MS - 60_000 + 1)).astype(np.int64),
            100 + (drawn % np.uint64(8_000 - 100 + 1)).astype(np.int64),
        )
        self.ingested = self.moment + delay

    def __len__(self) -> int:
        return len(self.moment)

    def select(self, keep: Mask) -> Events:
        return Events(*(_rows(getattr(self, part.name), keep) for part in fields(self) if part.init))


def _rows(values: Any, keep: Any) -> Any:
    """values[keep], for an array or a tuple of arrays."""
    return tuple(array[keep] for array in values) if isinstance(values, tuple) else values[keep]


class BulkEvents:
    """EventGenerator.in_window for one event type, as blocks of export lines."""

    def __init__(self, generator: EventGenerator, users: BulkUsers) -> None:
        self.generator = generator
        self.users = users
        self.campaigns = _CampaignTable(generator)
        self.catalog_items = max(1, generator.project.size.catalog_items)
        self.lists = tuple(generator.lists)

    def blocks(
        self,
        event_type: str,
        start_ms: int,
        end_ms: int,
        now_ms: int,
        campaign_id: int | None = None,
        left_out: I64 | None = None,
    ) -> Iterator[bulk.JsonLines]:
        """The export lines of `event_type` created in [start_ms, end_ms) and visible at now_ms (of one
        campaign's messages if asked), by block; without the events of the users `left_out` (deleted)."""
        end_ms = min(end_ms, now_ms + 1)
        kinds = [KINDS.index(kind) for kind, types in KIND_TYPES.items() if event_type in types]
        if not kinds or self.generator.users.count == 0:
            return
        for hours in self._hour_groups(start_ms, end_ms):
            events = self._events(event_type, kinds, hours)
            visible = (start_ms <= events.moment) & (events.moment < end_ms) & (events.ingested <= now_ms)
            if campaign_id is not None:
                visible &= (events.campaign >= 0) & (self.campaigns.ids[np.maximum(events.campaign, 0)] == campaign_id)
            if left_out is not None and len(left_out):
                visible &= ~np.isin(events.user, left_out)
            events = events.select(visible)
            if len(events):
                yield self._lines(event_type, events)

    def _hour_groups(self, start_ms: int, end_ms: int) -> Iterator[list[int]]:
        group: list[int] = []
        journeys = 0
        for hour in self.generator.hours(start_ms, end_ms):
            group.append(hour)
            journeys += self.generator.bucket(hour)[0]
            if journeys >= JOURNEYS_PER_BLOCK:
                yield group
                group, journeys = [], 0
        if group:
            yield group

    def _events(self, event_type: str, kinds: list[int], hours: list[int]) -> Events:
        buckets = np.array([self.generator.bucket(hour) for hour in hours], dtype=np.uint64).reshape(-1, 5)
        counts = buckets[:, 0].astype(np.int64)
        hour = np.repeat(np.array(hours, dtype=np.int64), counts)
        slot = np.arange(counts.sum(), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        key = bulk.mix64(np.repeat(buckets[:, 4], counts) ^ slot.astype(np.uint64))
        a, b = (np.repeat(buckets[:, column].astype(np.int64), counts) for column in (1, 2))
        user = (a * slot + b) % self.generator.users.count
        kind = _KIND_CODES[(key % np.uint64(10_000)).astype(np.int64)]
        found: list[_Found] = []
        for code in kinds:
            rows = np.flatnonzero(kind == code)
            found += self._journeys(event_type, KINDS[code], rows, hour[rows], key[rows], user[rows])
        if not found:
            empty = np.zeros(0, dtype=np.int64)
            found = [_Found(empty, empty, empty, empty.astype(np.bool_), empty, (key[:0], key[:0]), empty, empty)]
        origin = np.concatenate([f.origin for f in found])
        number = np.concatenate([f.number for f in found])
        order = np.lexsort((number, origin))

        def joined(part: Callable[[_Found], Any]) -> Any:
            return np.concatenate([part(f) for f in found])[order]

        return Events(
            key[origin[order]],
            user[origin[order]],
            number[order],
            joined(lambda f: f.moment),
            joined(lambda f: f.late),
            joined(lambda f: f.campaign),
            (joined(lambda f: f.message[0]), joined(lambda f: f.message[1])),
            joined(lambda f: f.source),
            joined(lambda f: f.name),
        )

    def _journeys(self, event_type: str, kind: str, origin: I64, hour: I64, key: U64, user: I64) -> list[_Found]:
        """The journeys of one kind, played (EventGenerator._journey)."""
        rng = bulk.BulkRng(key)
        t0 = hour * HOUR_MS + rng.below(HOUR_MS)
        on = self.users.signups(user) <= t0
        campaign = np.full(len(key), -1, dtype=np.int64)
        message = (key[:0], key[:0])
        if kind in _MEDIUMS:
            first, times = self.campaigns.of_medium(kind)
            available = np.searchsorted(times, t0, side="right").astype(np.int64)
            on &= available > 0
            campaign = np.where(on, first + rng.below(available, on), -1)
            message = (rng.bits(on), rng.bits(on))
        else:
            zeros = np.zeros(len(key), dtype=np.uint64)
            message = (zeros, zeros)
        journal = _Journal(event_type, origin, campaign, message)
        _JOURNEYS[kind](rng, t0, on, journal)
        return journal.found

    # ---- shaping: export_record ------------------------------------------------------------------------------

    def _lines(self, event_type: str, events: Events) -> bulk.JsonLines:
        out = bulk.JsonLines(len(events))
        self.users.email_field(out, events.user)
        self.users.user_id_field(out, events.user)
        _FIELDS[event_type](self, out, events)
        out.field("createdAt").time(events.moment)
        out.field("itblInternal").text('{"documentCreatedAt":').time(events.ingested)
        out.text(',"documentUpdatedAt":').time(events.ingested).text("}")
        return out

    def campaign_fields(self, out: bulk.JsonLines, events: Events, where: Mask | None = None) -> None:
        table, row = self.campaigns, np.maximum(events.campaign, 0)
        out.field("campaignId", where).integers(table.ids[row])
        out.field("templateId", where).integers(table.template_ids[row])
        out.field("messageId", where).text('"').texts(bulk.hex_texts(list(events.message), 32, where), where)
        out.text('"')

    def send_fields(self, out: bulk.JsonLines, events: Events) -> None:
        self.campaign_fields(out, events)
        table, row = self.campaigns, events.campaign
        out.field("messageTypeId").integers(table.message_type_ids[row])
        out.field("channelId").integers(table.channel_ids[row])
        out.field("contentId").integers(table.template_ids[row] * 7 % 10_000_000)

    def device_fields(self, out: bulk.JsonLines, events: Events) -> None:
        rng = events.rng
        agent = rng.below(len(words.USER_AGENTS))
        out.field("ip").text('"').integers(rng.between(11, 223)).text(".").integers(rng.below(256)).text(".")
        out.integers(rng.below(256)).text(".").integers(rng.between(1, 254)).text('"')
        out.field("userAgent").choose(_AGENTS, agent)
        out.field("userAgentDevice").choose(_AGENT_DEVICES, agent)
        located = rng.chance(0.8)
        city = rng.below(len(words.CITIES), located)
        out.field("city", located).choose(CITY_TEXTS, city)
        out.field("region", located).choose(REGION_TEXTS, city)
        out.field("country", located).choose(COUNTRY_TEXTS, city)


_AGENTS = bulk.json_texts(agent for agent, _ in words.USER_AGENTS)
_AGENT_DEVICES = bulk.json_texts(device for _, device in words.USER_AGENTS)
_PLATFORM_ENDPOINTS = bulk.json_texts(("APNS", "GCM"))
_PLATFORMS = bulk.json_texts(("iOS", "Android"))


class _CampaignTable:
    """The sending campaigns of every medium in one table (EventGenerator.campaigns, medium after medium)."""

    def __init__(self, generator: EventGenerator) -> None:
        rows = [(medium, c) for medium in _MEDIUMS for c in generator.campaigns[medium]]
        channel = [generator.channels.get(medium, 0) for medium, _ in rows]
        self.ids = np.array([c["id"] for _, c in rows], dtype=np.int64)
        self.template_ids = np.array([c["templateId"] for _, c in rows], dtype=np.int64)
        self.triggered = np.array([c["type"] == "Triggered" for _, c in rows], dtype=np.bool_)
        self.channel_ids = np.array(channel, dtype=np.int64)
        self.message_type_ids = np.array([generator.message_types.get(ch, 0) for ch in channel], dtype=np.int64)
        self.sms_texts = bulk.json_texts(f"Brand: {c['name']}. Reply STOP to opt out." for _, c in rows)
        self._mediums: dict[str, tuple[int, I64]] = {}
        first = 0
        for medium in _MEDIUMS:
            times = np.array(generator.campaign_times[medium], dtype=np.int64)
            self._mediums[medium] = (first, times)
            first += len(times)
        if not rows:  # keep indexing by row 0 valid in a project without campaigns
            self.ids = self.template_ids = self.channel_ids = self.message_type_ids = np.zeros(1, dtype=np.int64)
            self.triggered = np.zeros(1, dtype=np.bool_)
            self.sms_texts = ('""',)

    def of_medium(self, medium: str) -> tuple[int, I64]:
        """The medium's first row in the table and its campaigns' creation times."""
        return self._mediums[medium]


# ---- the fields of each type (events.py's FIELD_BUILDERS) --------------------------------------------------

Shape = Callable[[BulkEvents, bulk.JsonLines, Events], None]


def _email_send(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.send_fields(out, e)
    rng = e.rng
    bus = [rng.bits() for _ in range(5)]
    out.field("messageBusId").text('"0100').texts(bulk.hex_texts(bus[0:1], 12)).text("-")
    out.texts(bulk.hex_texts(bus[1:2], 8)).text("-").texts(bulk.hex_texts(bus[2:3], 4)).text("-")
    out.texts(bulk.hex_texts(bus[3:4], 4)).text("-").texts(bulk.hex_texts(bus[4:5], 12)).text('-000000"')
    out.field("catalogLookupCount").text("0")
    out.field("catalogCollectionCount").text("0")
    out.field("productRecommendationCount").integers(rng.below(4))
    triggered = b.campaigns.triggered[e.campaign]
    order = rng.hex(8, triggered)
    items = rng.between(1, 4, triggered)
    out.field("transactionalData", triggered).text('"{\\"data\\":{\\"orderId\\":\\"ord-').texts(order, triggered)
    out.text('\\",\\"items\\":').integers(items).text('}}"')


def _skip(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.send_fields(out, e)
    out.field("reason").choose(bulk.json_texts(words.SKIP_REASONS), e.rng.below(len(words.SKIP_REASONS)))


def _email_open(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.device_fields(out, e)
    b.campaign_fields(out, e)


def _email_click(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.device_fields(out, e)
    b.campaign_fields(out, e)
    template = b.campaigns.template_ids[e.campaign]
    out.field("url").text('"https://brand.example/c/').integers(template).text('?utm_source=Iterable"')
    out.field("hrefIndex").integers(e.rng.below(4))
    out.field("contentId").integers(template * 7 % 10_000_000)


def _email_bounce(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.campaign_fields(out, e)
    state = e.rng.below(len(words.BOUNCE_STATES))
    out.field("recipientState").choose(bulk.json_texts(s for s, _ in words.BOUNCE_STATES), state)
    out.field("status").choose(bulk.json_texts(s for _, s in words.BOUNCE_STATES), state)


def _complaint(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.campaign_fields(out, e)
    out.field("recipientState").text('"Complaint"')


def _hosted_unsubscribe(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.device_fields(out, e)
    b.campaign_fields(out, e)
    out.field("url").text('"https://links.brand.example/e/hostedUnsubscribe"')


def _unsubscribe(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    sent = np.greater_equal(e.campaign, 0)
    b.campaign_fields(out, e, sent)
    out.field("unsubSource").choose(bulk.json_texts(_UNSUB_SOURCES), e.source)
    out.field("emailListIds")
    if b.lists:
        out.text("[]", sent).text("[", ~sent).choose(bulk.json_texts(b.lists), e.rng.below(len(b.lists), ~sent), ~sent)
        out.text("]", ~sent)
    else:
        out.text("[]")
    channel = b.generator.channels.get("Email", 0)
    out.field("channelIds").choose(("[]", f"[{channel}]"), sent.astype(np.int64))
    out.field("messageTypeIds").text("[]")


def _subscribe(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    rng = e.rng
    out.field("emailListIds")
    if b.lists:
        out.text("[").choose(bulk.json_texts(b.lists), rng.below(len(b.lists))).text("]")
    else:
        out.text("[]")
    out.field("channelIds").text("[]")
    out.field("messageTypeIds").text("[]")
    out.field("profileUpdatedAt").time(e.moment - rng.between(0, 5_000))
    out.field("signupSource").choose(bulk.json_texts(("API", "ListAPI", "WebForm")), rng.below(3))


def _push(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.send_fields(out, e)
    out.field("platformEndpoint").choose(_PLATFORM_ENDPOINTS, e.rng.below(2))


def _push_open(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.campaign_fields(out, e)
    out.field("appAlreadyRunning").booleans(e.rng.chance(0.3))
    out.field("platform").choose(_PLATFORMS, e.rng.below(2))


def _push_problem(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.campaign_fields(out, e)
    out.field("platformEndpoint").choose(_PLATFORM_ENDPOINTS, e.rng.below(2))


def _sms(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.send_fields(out, e)
    out.field("toPhoneNumber").text('"+1555').integers(e.rng.between(1_000_000, 9_999_999)).text('"')
    out.field("fromPhoneNumber").text('"+15550100000"')
    out.field("smsMessage").choose(b.campaigns.sms_texts, e.campaign)


def _sms_click(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.campaign_fields(out, e)
    out.field("url").text('"https://links.brand.example/s/').texts(e.rng.hex(8)).text('"')


def _sms_bounce(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.campaign_fields(out, e)
    out.field("reason").choose(bulk.json_texts(("Unreachable", "Blocked", "InvalidNumber")), e.rng.below(3))


def _sms_received(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    out.field("fromPhoneNumber").text('"+1555').integers(e.rng.between(1_000_000, 9_999_999)).text('"')
    out.field("toPhoneNumber").text('"+15550100000"')
    out.field("smsMessage").choose(bulk.json_texts(("STOP", "HELP", "Thanks!", "YES")), e.rng.below(4))


def _inapp(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.send_fields(out, e)


def _inapp_event(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    b.campaign_fields(out, e)
    out.field("messageContext").text('{"saveToInbox":').booleans(e.rng.chance(0.4)).text(',"trigger":"immediate"}')
    out.field("deviceInfo").text('{"appPackageName":"com.brand.app","platform":')
    out.choose(_PLATFORMS, e.rng.below(2)).text("}")


def _inapp_click(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    _inapp_event(b, out, e)
    out.field("clickedUrl").text('"https://brand.example/app/offer"')


def _inapp_close(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    _inapp_event(b, out, e)
    out.field("closeAction").choose(bulk.json_texts(("link", "back", "unknown")), e.rng.below(3))


def _inapp_delete(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    _inapp_event(b, out, e)
    out.field("deleteAction").choose(bulk.json_texts(("inbox-swipe", "delete-button")), e.rng.below(2))


def _rounded(values: Any, digits: int) -> pa.Array:
    return bulk.numbers(bulk.rounded(values, digits))


def _custom(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    rng, name = e.rng, e.name
    out.field("eventName").choose(bulk.json_texts(words.CUSTOM_EVENTS), name)
    names = words.CUSTOM_EVENTS
    product = np.isin(name, [names.index(n) for n in ("viewedProduct", "addedToCart", "wishlistAdd")])
    searched, review = np.equal(name, names.index("searched")), np.equal(name, names.index("reviewSubmitted"))
    app = ~(product | searched | review)
    out.field("productId", product).text('"sku-').padded(rng.below(b.catalog_items, product), 6).text('"')
    out.field("category", product).choose(CATEGORY_TEXTS, rng.below(len(words.CATEGORIES), product))
    price = 5 + rng.random(product) * 195
    out.field("price", product).texts(_rounded(price[product], 2), product)
    in_cart = np.equal(name, names.index("addedToCart"))
    out.field("quantity", in_cart).integers(rng.between(1, 3, in_cart))
    nouns = bulk.json_texts(noun.lower() for noun in words.PRODUCT_NOUNS)
    out.field("query", searched).choose(nouns, rng.below(len(nouns), searched))
    out.field("results", searched).integers(rng.below(60, searched))
    out.field("rating", review).integers(rng.between(1, 5, review))
    out.field("verifiedPurchase", review).booleans(rng.chance(0.7, review))
    major, minor = rng.below(12, app), rng.below(10, app)
    out.field("appVersion", app).text('"4.').integers(major).text(".").integers(minor).text('"')
    out.field("platform", app).choose(_PLATFORMS, rng.below(2, app))
    out.field("eventUpdatedAt").time(e.moment)


def _purchase(b: BulkEvents, out: bulk.JsonLines, e: Events) -> None:
    rng = e.rng
    count = rng.between(1, 3)
    total = np.zeros(len(e), dtype=np.float64)
    items = []
    for item in range(3):
        here = count > item
        price = np.zeros(len(e), dtype=np.float64)
        price[here] = bulk.rounded(5 + rng.random(here)[here] * 195, 2)
        sku = rng.below(b.catalog_items, here)
        adjective = rng.below(len(words.PRODUCT_ADJECTIVES), here)
        noun = rng.below(len(words.PRODUCT_NOUNS), here)
        quantity = rng.between(1, 2, here)
        category = rng.below(len(words.CATEGORIES), here)
        total = np.where(here, total + price * quantity, total)
        items.append((here, price, sku, adjective, noun, quantity, category))
    out.field("id").text('"').texts(rng.hex(24)).text('"')
    out.field("total").texts(_rounded(total, 2))
    out.field("shoppingCartItems").text("[")
    for item, (here, price, sku, adjective, noun, quantity, category) in enumerate(items):
        out.text(("," if item else "") + '{"id":"sku-', here).padded(sku, 6, here).text('","sku":"sku-', here)
        out.padded(sku, 6, here).text('","name":"', here).choose(words.PRODUCT_ADJECTIVES, adjective, here)
        out.text(" ", here).choose(words.PRODUCT_NOUNS, noun, here).text('","price":', here)
        out.texts(bulk.numbers(price[here]), here).text(',"quantity":', here)
        out.integers(quantity, here).text(',"categories":[', here).choose(CATEGORY_TEXTS, category, here)
        out.text("]}", here)
    out.text("]")


# Each type's shaper is the namesake of the builder the one-by-one generator uses for it (events.py's
# FIELD_BUILDERS): one table of types, not a second one to keep in step.
_FIELDS: dict[str, Shape] = {event_type: globals()[builder.__name__] for event_type, builder in FIELD_BUILDERS.items()}
