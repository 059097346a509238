"""Generated events: message journeys laid out hour by hour, addressable both by time and by user.

Each hour h holds n_h journeys (a send and what followed it: opens, clicks, bounces…, or a custom event,
a purchase, a subscription change). Journey j of hour h belongs to user (a_h·j + b_h) mod N — a
permutation — so the export API walks the hours of a window, and the per-user APIs invert the
permutation hour by hour (one multiplication per hour) instead of scanning ten million events.
Follow-up events happen at most MAX_LAG after their send, so a window only looks that far back.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from iterbridge.sandbox.data import words
from iterbridge.sandbox.data.project import Project, sending_campaigns
from iterbridge.sandbox.data.rand import GOLDEN_GAMMA, MASK64, Rng, cumulative, derive, mix64
from iterbridge.sandbox.data.timefmt import HOUR_MS, MINUTE_MS, iterable_time
from iterbridge.sandbox.data.users import UserGenerator

K_BUCKETS, K_JOURNEYS = 30, 31
MAX_LAG_MS = 72 * HOUR_MS
# Events per journey slot, measured on the generator (tiny, small and medium agree within 2%): a journey that
# happens has 1.53 events on average, ~13% of slots yield none (user not signed up yet, no campaign yet) and
# the daily cycle averages 0.92. With it, a history holds about its scale's `events` (small: ~30k).
AVERAGE_EVENTS_PER_JOURNEY = 1.22

KINDS = ("Email", "Push", "SMS", "InApp", "custom", "purchase", "subscription")
_KIND_EDGES = cumulative((0.42, 0.14, 0.06, 0.1, 0.18, 0.05, 0.05))
_KIND_THRESHOLDS = [int(edge * 10_000) for edge in _KIND_EDGES]

KIND_TYPES: dict[str, tuple[str, ...]] = {
    "Email": (
        "emailSend", "emailSendSkip", "emailOpen", "emailClick", "emailBounce", "emailComplaint",
        "hostedUnsubscribeClick", "emailUnSubscribe",
    ),
    "Push": ("pushSend", "pushSendSkip", "pushOpen", "pushBounce", "pushUninstall"),
    "SMS": ("smsSend", "smsSendSkip", "smsClick", "smsBounce", "smsReceived"),
    "InApp": ("inAppSend", "inAppSendSkip", "inAppDelivery", "inAppOpen", "inAppClick", "inAppClose", "inAppDelete"),
    "custom": ("customEvent",),
    "purchase": ("purchase",),
    "subscription": ("emailSubscribe", "emailUnSubscribe"),
}  # fmt: skip
GENERATED_TYPES = frozenset(t for types in KIND_TYPES.values() for t in types)


@dataclass(slots=True)
class Event:
    """One generated event before it takes the shape of an endpoint (never changed once made; not frozen,
    which would double what building one costs in the export's hot loop)."""

    type: str
    created_ms: int
    ingested_ms: int  # when Iterable stored it (itblInternal.documentCreatedAt); late for some
    user_index: int
    fields: dict[str, Any]


class EventGenerator:
    def __init__(self, project: Project, users: UserGenerator) -> None:
        self.project = project
        self.users = users
        self.seed = project.seed
        self.first_hour = project.history_start_ms // HOUR_MS
        hours = project.size.history_days * 24
        self.rate = project.size.events / AVERAGE_EVENTS_PER_JOURNEY / hours
        self._buckets: dict[int, tuple[int, int, int, int, int]] = {}
        self.campaigns = {medium: sending_campaigns(project, medium) for medium in ("Email", "Push", "SMS", "InApp")}
        self.campaign_times = {m: [c["createdAt"] for c in cs] for m, cs in self.campaigns.items()}
        self._templates = {t.id: t for t in project.templates}
        self.lists = [lst["id"] for lst in project.lists if lst["listType"] == "Standard"]
        self.channels = {c["messageMedium"]: c["id"] for c in project.channels if c["channelType"] == "Marketing"}
        self.message_types = {mt["channelId"]: mt["id"] for mt in project.message_types}
        self._medium_journeys = {
            "Email": self._email_journey,
            "Push": self._push_journey,
            "SMS": self._sms_journey,
            "InApp": self._inapp_journey,
        }

    # ---- the hour grid --------------------------------------------------------------------------------

    def bucket(self, hour: int) -> tuple[int, int, int, int, int]:
        """(journeys, a, b, a⁻¹, key) of an absolute hour; empty before the history starts."""
        found = self._buckets.get(hour)
        if found is not None:
            return found
        n_users = self.users.count
        if hour < self.first_hour or n_users == 0:
            found = (0, 1, 0, 1, 0)
        else:
            key = derive(self.seed, K_BUCKETS, hour)
            progress = min(1.0, (hour - self.first_hour) / (self.project.size.history_days * 24))
            hour_of_day = hour % 24
            daily = 1.35 if 13 <= hour_of_day <= 23 else 0.55
            weekly = 0.8 if (hour // 24 + 4) % 7 >= 5 else 1.08
            expected = self.rate * (0.7 + 0.6 * progress) * daily * weekly
            fraction = (key & 0xFFFF) / 65536
            journeys = min(n_users, int(expected) + (1 if fraction < expected - int(expected) else 0))
            a = (mix64(key ^ 1) % n_users) | 1
            while math.gcd(a, n_users) != 1:
                a += 2
            a %= n_users or 1
            b = mix64(key ^ 2) % n_users
            found = (journeys, a, b, pow(a, -1, n_users) if n_users > 1 else 0, mix64(key ^ 3))
        self._buckets[hour] = found
        return found

    def hours(self, start_ms: int, end_ms: int) -> range:
        """Hours whose journeys may have events in [start_ms, end_ms)."""
        first = max(self.first_hour, (start_ms - MAX_LAG_MS) // HOUR_MS)
        return range(first, (end_ms - 1) // HOUR_MS + 1)

    # ---- reading ------------------------------------------------------------------------------------------

    def in_window(self, types: frozenset[str] | None, start_ms: int, end_ms: int, now_ms: int) -> Iterator[Event]:
        """Events of these types created in [start_ms, end_ms) and visible at now_ms, hour by hour."""
        end_ms = min(end_ms, now_ms + 1)
        kinds = {kind for kind, kind_types in KIND_TYPES.items() if types is None or types & set(kind_types)}
        if not kinds:
            return
        n_users = self.users.count
        journey = self._journey
        kinds_by_roll = KIND_OF_ROLL
        for hour in self.hours(start_ms, end_ms):
            journeys, a, b, _, key = self.bucket(hour)
            for slot in range(journeys):
                # mix64(key ^ slot), inlined: this loop runs for every journey of the window.
                x = ((key ^ slot) + GOLDEN_GAMMA) & MASK64
                x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
                x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
                journey_key = x ^ (x >> 31)
                kind = kinds_by_roll[journey_key % 10_000]
                if kind not in kinds:
                    continue
                for event in journey(hour, journey_key, kind, (a * slot + b) % n_users, types):
                    if start_ms <= event.created_ms < end_ms and event.ingested_ms <= now_ms:
                        yield event

    def of_user(self, index: int, now_ms: int) -> list[Event]:
        """Every visible event of base user `index`, oldest first."""
        found: list[Event] = []
        n_users = self.users.count
        for hour in range(self.first_hour, now_ms // HOUR_MS + 1):
            journeys, _, b, a_inverse, key = self.bucket(hour)
            if not journeys:
                continue
            slot = ((index - b) * a_inverse) % n_users
            if slot < journeys:
                journey_key = mix64(key ^ slot)
                found.extend(
                    e
                    for e in self._journey(hour, journey_key, _kind(journey_key), index, None)
                    if e.ingested_ms <= now_ms
                )
        found.sort(key=lambda e: e.created_ms)
        return found

    # ---- one journey -------------------------------------------------------------------------------------

    def _journey(self, hour: int, key: int, kind: str, user: int, types: frozenset[str] | None) -> list[Event]:
        rng = Rng(key)
        t0 = hour * HOUR_MS + rng.below(HOUR_MS)
        if self.users.signs_up_after(user, t0):
            return []
        build = _Builder(self, key, user, types)
        if kind in ("Email", "Push", "SMS", "InApp"):
            campaign = self._campaign(kind, t0, rng)
            if campaign is None:
                return []
            build.message(kind, campaign, rng.hex(32))
            self._medium_journeys[kind](rng, t0, build)
        elif kind == "custom":
            name = rng.choice(words.CUSTOM_EVENTS)
            build.add("customEvent", t0, late=rng.chance(0.03), name=name)
        elif kind == "purchase":
            build.add("purchase", t0)
        elif rng.chance(0.7):
            build.add("emailSubscribe", t0)
        else:
            build.add("emailUnSubscribe", t0, source="Unsubscribe")
        return build.events

    def _campaign(self, medium: str, moment: int, rng: Rng) -> dict[str, Any] | None:
        available = bisect.bisect_right(self.campaign_times[medium], moment)
        if available == 0:
            return None
        return self.campaigns[medium][rng.below(available)]

    def _email_journey(self, rng: Rng, t0: int, build: _Builder) -> None:
        if rng.chance(0.02):
            build.add("emailSendSkip", t0)
            return
        build.add("emailSend", t0)
        if build.done:
            return
        if rng.chance(0.03):
            bounce_at = t0 + rng.between(2_000, 120_000)
            build.add("emailBounce", bounce_at)
            if rng.chance(0.5):
                build.add("emailUnSubscribe", bounce_at + 2_000, source="HardBounce")
            return
        opens = rng.weighted((0, 1, 2, 3), (0.55, 0.85, 0.95, 1.0))
        moment = t0
        first_open = 0
        for _ in range(opens):
            moment += rng.between(MINUTE_MS, 20 * HOUR_MS)
            first_open = first_open or moment
            build.add("emailOpen", moment)
        if first_open and rng.chance(0.35):
            build.add("emailClick", first_open + rng.between(5_000, 10 * MINUTE_MS))
        if first_open and rng.chance(0.015):
            unsubscribe_at = first_open + rng.between(10_000, HOUR_MS)
            build.add("hostedUnsubscribeClick", unsubscribe_at)
            build.add("emailUnSubscribe", unsubscribe_at + 1_000, source="EmailLink")
        if rng.chance(0.003):
            build.add("emailComplaint", t0 + rng.between(HOUR_MS, 30 * HOUR_MS))

    def _push_journey(self, rng: Rng, t0: int, build: _Builder) -> None:
        if rng.chance(0.03):
            build.add("pushSendSkip", t0)
            return
        build.add("pushSend", t0)
        if build.done:
            return
        if rng.chance(0.03):
            build.add("pushBounce", t0 + rng.between(1_000, 60_000))
        elif rng.chance(0.12):
            build.add("pushOpen", t0 + rng.between(30_000, 6 * HOUR_MS), late=rng.chance(0.05))
        if rng.chance(0.006):
            build.add("pushUninstall", t0 + rng.between(HOUR_MS, 48 * HOUR_MS))

    def _sms_journey(self, rng: Rng, t0: int, build: _Builder) -> None:
        if rng.chance(0.02):
            build.add("smsSendSkip", t0)
            return
        build.add("smsSend", t0)
        if build.done:
            return
        if rng.chance(0.015):
            build.add("smsBounce", t0 + rng.between(1_000, 60_000))
            return
        if rng.chance(0.06):
            build.add("smsClick", t0 + rng.between(MINUTE_MS, 3 * HOUR_MS))
        if rng.chance(0.02):
            build.add("smsReceived", t0 + rng.between(MINUTE_MS, 24 * HOUR_MS))

    def _inapp_journey(self, rng: Rng, t0: int, build: _Builder) -> None:
        if rng.chance(0.02):
            build.add("inAppSendSkip", t0)
            return
        build.add("inAppSend", t0)
        if build.done or not rng.chance(0.9):
            return
        delivered = t0 + rng.between(MINUTE_MS, 30 * HOUR_MS)
        late = rng.chance(0.08)  # offline devices report hours later
        build.add("inAppDelivery", delivered, late=late)
        if build.done:
            return
        if rng.chance(0.5):
            opened = delivered + rng.between(1_000, 6 * HOUR_MS)
            build.add("inAppOpen", opened, late=late)
            if rng.chance(0.4):
                build.add("inAppClick", opened + rng.between(1_000, 60_000), late=late)
            elif rng.chance(0.6):
                build.add("inAppClose", opened + rng.between(1_000, 60_000), late=late)
            if rng.chance(0.1):
                build.add("inAppDelete", opened + rng.between(60_000, 24 * HOUR_MS), late=late)


# Types a journey may hold more than once (the opens of an email); every other type appears at most once.
REPEATED_TYPES = frozenset({"emailOpen"})


def kind_of_roll(roll: int) -> str:
    for kind, threshold in zip(KINDS, _KIND_THRESHOLDS, strict=True):
        if roll < threshold:
            return kind
    return KINDS[-1]


# The kind depends only on the key's last four decimal digits: one lookup instead of a loop per journey.
KIND_OF_ROLL = tuple(kind_of_roll(roll) for roll in range(10_000))


def _kind(journey_key: int) -> str:
    return KIND_OF_ROLL[journey_key % 10_000]


class _Builder:
    """Collects a journey's events; builds the fields only of the wanted types.

    Each event draws its details from its own stream (journey key, event number), so the events of a
    journey are the same whichever types a request asks for.

    `done` turns true once the journey holds all it can of the wanted types (one type, added, that a journey
    holds at most once); the journeys then stop drawing the events nobody asked for.
    """

    __slots__ = (
        "_count",
        "_single",
        "campaign",
        "done",
        "events",
        "generator",
        "key",
        "medium",
        "message_id",
        "types",
        "user",
    )

    def __init__(self, generator: EventGenerator, key: int, user: int, types: frozenset[str] | None) -> None:
        self.generator = generator
        self.key = key
        self.user = user
        self.types = types
        self.events: list[Event] = []
        self.campaign: dict[str, Any] = {}
        self.message_id = ""
        self.medium = ""
        self._count = 0
        self._single = types is not None and len(types) == 1 and not types & REPEATED_TYPES
        self.done = False

    def message(self, medium: str, campaign: dict[str, Any], message_id: str) -> None:
        self.medium, self.campaign, self.message_id = medium, campaign, message_id

    def add(self, event_type: str, moment: int, *, late: bool = False, **extra: Any) -> None:
        self._count += 1
        if self.types is not None and event_type not in self.types:
            return
        rng = Rng(mix64(self.key ^ (self._count * 0x9E3779B1)))
        delay = rng.between(60_000, 3 * HOUR_MS) if late else rng.between(100, 8_000)
        fields = FIELD_BUILDERS[event_type](self, rng, moment, **extra)
        self.events.append(Event(event_type, moment, moment + delay, self.user, fields))
        self.done = self._single

    # ---- shared pieces -----------------------------------------------------------------------------------

    def campaign_fields(self) -> dict[str, Any]:
        return {
            "campaignId": self.campaign["id"],
            "templateId": self.campaign["templateId"],
            "messageId": self.message_id,
        }

    def send_fields(self) -> dict[str, Any]:
        channel_id = self.generator.channels.get(self.medium, 0)
        fields = self.campaign_fields()
        fields["messageTypeId"] = self.generator.message_types.get(channel_id, 0)
        fields["channelId"] = channel_id
        fields["contentId"] = self.campaign["templateId"] * 7 % 10_000_000
        return fields


def _email_send(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    fields = b.send_fields()
    # f"0100{rng.hex(12)}-{rng.hex(8)}-{rng.hex(4)}-{rng.hex(4)}-{rng.hex(12)}-000000", formatted in one go:
    # hex(n) is the top n hex digits of one 64-bit draw.
    bits = rng.bits
    fields["messageBusId"] = "0100%012x-%08x-%04x-%04x-%012x-000000" % (  # noqa: UP031
        bits() >> 16,
        bits() >> 32,
        bits() >> 48,
        bits() >> 48,
        bits() >> 16,
    )
    fields["catalogLookupCount"] = 0
    fields["catalogCollectionCount"] = 0
    fields["productRecommendationCount"] = rng.below(4)
    if b.campaign["type"] == "Triggered":
        # Iterable serves transactionalData as a JSON-encoded string, not an object.
        order = {"orderId": f"ord-{rng.hex(8)}", "items": rng.between(1, 4)}
        fields["transactionalData"] = orjson.dumps({"data": order}).decode()
    return fields


def _device(rng: Rng) -> dict[str, Any]:
    agent, device = rng.choice(words.USER_AGENTS)
    fields: dict[str, Any] = {
        "ip": f"{rng.between(11, 223)}.{rng.below(256)}.{rng.below(256)}.{rng.between(1, 254)}",
        "userAgent": agent,
        "userAgentDevice": device,
    }
    if rng.chance(0.8):
        city, region, country = rng.choice(words.CITIES)
        fields.update(city=city, region=region, country=country)
    return fields


def _email_open(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    return {**_device(rng), **b.campaign_fields()}


def _email_click(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    fields = {**_device(rng), **b.campaign_fields()}
    fields["url"] = f"https://brand.example/c/{b.campaign['templateId']}?utm_source=Iterable"
    fields["hrefIndex"] = rng.below(4)
    fields["contentId"] = b.campaign["templateId"] * 7 % 10_000_000
    return fields


def _email_bounce(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    state, status = rng.choice(words.BOUNCE_STATES)
    return {**b.campaign_fields(), "recipientState": state, "status": status}


def _skip(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    fields = b.send_fields()
    fields["reason"] = rng.choice(words.SKIP_REASONS)
    return fields


def _complaint(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    return {**b.campaign_fields(), "recipientState": "Complaint"}


def _hosted_unsubscribe(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    fields = {**_device(rng), **b.campaign_fields()}
    fields["url"] = "https://links.brand.example/e/hostedUnsubscribe"
    return fields


def _unsubscribe(b: _Builder, rng: Rng, moment: int, source: str = "EmailLink") -> dict[str, Any]:
    fields: dict[str, Any] = b.campaign_fields() if b.campaign else {}
    channel = b.generator.channels.get("Email", 0)
    fields.update(
        unsubSource=source,
        emailListIds=[] if b.campaign else [rng.choice(b.generator.lists)] if b.generator.lists else [],
        channelIds=[channel] if b.campaign else [],
        messageTypeIds=[],
    )
    return fields


def _subscribe(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    lists = b.generator.lists
    fields: dict[str, Any] = {
        "emailListIds": [rng.choice(lists)] if lists else [],
        "channelIds": [],
        "messageTypeIds": [],
        "profileUpdatedAt": iterable_time(moment - rng.between(0, 5_000)),
        "signupSource": rng.choice(("API", "ListAPI", "WebForm")),
    }
    return fields


def _push(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    fields = b.send_fields()
    fields["platformEndpoint"] = rng.choice(("APNS", "GCM"))
    return fields


def _push_open(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    fields = b.campaign_fields()
    fields["appAlreadyRunning"] = rng.chance(0.3)
    fields["platform"] = rng.choice(("iOS", "Android"))
    return fields


def _push_problem(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    fields = b.campaign_fields()
    fields["platformEndpoint"] = rng.choice(("APNS", "GCM"))
    return fields


def _sms(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    fields = b.send_fields()
    fields["toPhoneNumber"] = f"+1555{rng.between(1_000_000, 9_999_999)}"
    fields["fromPhoneNumber"] = "+15550100000"
    fields["smsMessage"] = f"Brand: {b.campaign['name']}. Reply STOP to opt out."
    return fields


def _sms_click(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    return {**b.campaign_fields(), "url": "https://links.brand.example/s/" + rng.hex(8)}


def _sms_bounce(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    return {**b.campaign_fields(), "reason": rng.choice(("Unreachable", "Blocked", "InvalidNumber"))}


def _sms_received(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    return {
        "fromPhoneNumber": f"+1555{rng.between(1_000_000, 9_999_999)}",
        "toPhoneNumber": "+15550100000",
        "smsMessage": rng.choice(("STOP", "HELP", "Thanks!", "YES")),
    }


def _inapp(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    return b.send_fields()


def _inapp_event(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    fields = b.campaign_fields()
    fields["messageContext"] = {"saveToInbox": rng.chance(0.4), "trigger": "immediate"}
    fields["deviceInfo"] = {"appPackageName": "com.brand.app", "platform": rng.choice(("iOS", "Android"))}
    return fields


def _inapp_click(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    fields = _inapp_event(b, rng, moment)
    fields["clickedUrl"] = "https://brand.example/app/offer"
    return fields


def _inapp_close(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    fields = _inapp_event(b, rng, moment)
    fields["closeAction"] = rng.choice(("link", "back", "unknown"))
    return fields


def _inapp_delete(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    fields = _inapp_event(b, rng, moment)
    fields["deleteAction"] = rng.choice(("inbox-swipe", "delete-button"))
    return fields


def _custom(b: _Builder, rng: Rng, moment: int, name: str = "viewedProduct") -> dict[str, Any]:
    data: dict[str, Any]
    if name in ("viewedProduct", "addedToCart", "wishlistAdd"):
        data = {
            "productId": f"sku-{rng.below(max(1, b.generator.project.size.catalog_items)):06d}",
            "category": rng.choice(words.CATEGORIES),
            "price": round(5 + rng.random() * 195, 2),
        }
        if name == "addedToCart":
            data["quantity"] = rng.between(1, 3)
    elif name == "searched":
        data = {"query": rng.choice(words.PRODUCT_NOUNS).lower(), "results": rng.below(60)}
    elif name == "reviewSubmitted":
        data = {"rating": rng.between(1, 5), "verifiedPurchase": rng.chance(0.7)}
    else:
        data = {
            "appVersion": f"4.{rng.below(12)}.{rng.below(10)}",
            "platform": rng.choice(("iOS", "Android")),
        }
    return {"eventName": name, "dataFields": data, "eventUpdatedAt": iterable_time(moment)}


def _purchase(b: _Builder, rng: Rng, moment: int) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for _ in range(rng.between(1, 3)):
        price = round(5 + rng.random() * 195, 2)
        sku = f"sku-{rng.below(max(1, b.generator.project.size.catalog_items)):06d}"
        items.append(
            {
                "id": sku,
                "sku": sku,
                "name": f"{rng.choice(words.PRODUCT_ADJECTIVES)} {rng.choice(words.PRODUCT_NOUNS)}",
                "price": price,
                "quantity": rng.between(1, 2),
                "categories": [rng.choice(words.CATEGORIES)],
            }
        )
    total = round(sum(item["price"] * item["quantity"] for item in items), 2)
    return {"id": rng.hex(24), "total": total, "shoppingCartItems": items}


FIELD_BUILDERS: dict[str, Any] = {
    "emailSend": _email_send,
    "emailSendSkip": _skip,
    "emailOpen": _email_open,
    "emailClick": _email_click,
    "emailBounce": _email_bounce,
    "emailComplaint": _complaint,
    "hostedUnsubscribeClick": _hosted_unsubscribe,
    "emailUnSubscribe": _unsubscribe,
    "emailSubscribe": _subscribe,
    "pushSend": _push,
    "pushSendSkip": _skip,
    "pushOpen": _push_open,
    "pushBounce": _push_problem,
    "pushUninstall": _push_problem,
    "smsSend": _sms,
    "smsSendSkip": _skip,
    "smsClick": _sms_click,
    "smsBounce": _sms_bounce,
    "smsReceived": _sms_received,
    "inAppSend": _inapp,
    "inAppSendSkip": _skip,
    "inAppDelivery": _inapp_event,
    "inAppOpen": _inapp_event,
    "inAppClick": _inapp_click,
    "inAppClose": _inapp_close,
    "inAppDelete": _inapp_delete,
    "customEvent": _custom,
    "purchase": _purchase,
}


# ---- the shapes endpoints serve ------------------------------------------------------------------------


def _internal(event: Event) -> dict[str, str]:
    stamp = iterable_time(event.ingested_ms)
    return {"documentCreatedAt": stamp, "documentUpdatedAt": stamp}


def export_record(event: Event, email: str, user_id: str | None) -> dict[str, Any]:
    """A line of /api/export/data.json: flat fields, createdAt as a string, custom fields at top level."""
    record: dict[str, Any] = {"email": email}
    if user_id is not None:
        record["userId"] = user_id
    fields = event.fields
    if event.type == "customEvent":
        record["eventName"] = fields["eventName"]
        for name in ("campaignId", "templateId"):
            if name in fields:
                record[name] = fields[name]
        record.update(fields["dataFields"])
        record["eventUpdatedAt"] = fields["eventUpdatedAt"]
    else:
        record.update(fields)
    record["createdAt"] = iterable_time(event.created_ms)
    record["itblInternal"] = _internal(event)
    return record


def api_event(event: Event, email: str, user_id: str | None) -> dict[str, Any]:
    """An item of GET /api/events/{email}: system events flat with eventType; custom ones keep dataFields."""
    if event.type == "customEvent":
        record = dict(event.fields)
        record["eventType"] = "customEvent"
    else:
        record = dict(event.fields)
        record["eventType"] = event.type
        if "userAgentDevice" in record:
            # This endpoint also names the device `device` (2017 recording of GET /api/events/{email}).
            record["device"] = record["userAgentDevice"]
    record["email"] = email
    if user_id is not None:
        record["userId"] = user_id
    record["createdAt"] = iterable_time(event.created_ms)
    record["itblInternal"] = _internal(event)
    return record


def user_event_line(event: Event, email: str, user_id: str | None) -> dict[str, Any]:
    """A line of /api/export/userEvents: `_type`, then the event as the export serves it."""
    return {"_type": event.type, **export_record(event, email, user_id)}


def sample_columns(generator: EventGenerator, event_type: str, wanted: int = 60, budget: int = 3000) -> list[str]:
    """The export columns of an event type, in first-seen order, from synthetic journeys.

    The CSV export needs its header before the first row; Iterable takes it from the project's schema,
    the sandbox from a deterministic sample of what its generator produces for the type.
    """
    kind = next((k for k, types in KIND_TYPES.items() if event_type in types), None)
    columns: dict[str, None] = {"email": None, "userId": None}
    if kind is not None:
        hour = generator.project.anchor_ms // HOUR_MS - 1
        found = 0
        wanted_types = frozenset([event_type])
        for attempt in range(budget):
            key = mix64(derive(generator.seed, 99, attempt))
            for event in generator._journey(hour, _key_of_kind(key, kind), kind, 0, wanted_types):
                columns.update(dict.fromkeys(export_record(event, "", "")))
                found += 1
            if found >= wanted:
                break
    columns.update(dict.fromkeys(("createdAt", "itblInternal")))
    return list(columns)


def _key_of_kind(key: int, kind: str) -> int:
    """A journey key whose kind is `kind` (the kind is read from the key's low digits)."""
    index = KINDS.index(kind)
    low = _KIND_THRESHOLDS[index - 1] if index else 0
    return key - key % 10_000 + low
