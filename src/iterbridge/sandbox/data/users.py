"""Generated users: user i is a pure function of (seed, i), so a million of them cost no memory.

Emails and userIds carry the index ("olivia.brown42@example.net", "u0000042") so a lookup by either goes
straight to the record. Signup dates grow with the index, like a real sign-up history.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import numpy as np

from iterbridge.constants import MANAGED_USER_FIELDS
from iterbridge.sandbox.data import bulk, words
from iterbridge.sandbox.data.project import Project
from iterbridge.sandbox.data.rand import Rng, derive, mix64
from iterbridge.sandbox.data.timefmt import DAY_MS, iterable_time

K_USERS, K_MEMBERSHIP = 20, 21

# Custom user fields of every Iterable field type, and their getFields types.
CUSTOM_FIELDS: dict[str, str] = {
    "firstName": "string",
    "lastName": "string",
    "city": "string",
    "favoriteCategory": "string",
    "loyaltyPoints": "long",
    "totalOrders": "long",
    "lifetimeValue": "double",
    "isVip": "boolean",
    "acceptsMarketing": "boolean",
    "birthday": "date",
    "lastPurchaseDate": "date",
    "address": "object",
    "address.street": "string",
    "address.city": "string",
    "address.zip": "string",
    "address.country": "string",
    "interests": "string",
    "homeLocation": "geo_location",
}

SIGNUP_SOURCES = ("API", "Import", "ListAPI", "WebForm")
_SOURCE_EDGES = (0.45, 0.7, 0.9, 1.0)
_EMAIL = re.compile(r"^[a-z]+\.[a-z]+(\d+)@")
_USER_ID = re.compile(r"^u(\d{7,})$")
SIGNUP_HISTORY_DAYS = 540


def user_fields() -> dict[str, str]:
    """What users/getFields reports: Iterable-managed fields, then the custom ones."""
    fields = dict(MANAGED_USER_FIELDS)
    fields.update(
        {
            "itblInternal.emailDomain": "string",
            "itblInternal.documentCreatedAt": "date",
            "itblInternal.documentUpdatedAt": "date",
            "devices.token": "string",
            "devices.platform": "string",
        }
    )
    fields.update(CUSTOM_FIELDS)
    return fields


class UserGenerator:
    """Base users of the project, by index."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.seed = project.seed
        self.count = project.size.users
        self.first_signup_ms = project.anchor_ms - SIGNUP_HISTORY_DAYS * DAY_MS
        self._signup_step = (SIGNUP_HISTORY_DAYS * DAY_MS - DAY_MS) / max(1, self.count)
        self._list_slots = {lst["id"]: slot for slot, lst in enumerate(project.lists)}
        self._list_thresholds = [int(project.list_rates[lst["id"]] * 256) for lst in project.lists]
        self._list_ids = [lst["id"] for lst in project.lists]
        self._channels = [c["id"] for c in project.channels if c["channelType"] == "Marketing"]
        self._opt_out_types = [mt["id"] for mt in project.message_types if mt["subscriptionPolicy"] == "OptOut"]
        self._opt_in_types = [mt["id"] for mt in project.message_types if mt["subscriptionPolicy"] == "OptIn"]
        # The per-user keys below are derive(seed, K_USERS[, n]) ^ index: the seed part is derived once.
        self._identity_key = derive(self.seed, K_USERS)
        self._signup_key = derive(self.seed, K_USERS, 1)
        self._updated_key = derive(self.seed, K_USERS, 2)
        self._profile_key = derive(self.seed, K_USERS, 3)  # derive(seed, K_USERS, 3, index) = mix64(this ^ index)
        self._membership_keys = [derive(self.seed, K_MEMBERSHIP, word) for word in range(len(self._list_ids) // 8 + 1)]
        pairs = list(zip(self._list_thresholds, self._list_ids, strict=True))
        self._membership_slots = [pairs[start : start + 8] for start in range(0, len(pairs), 8)]  # (threshold, id)
        # The user export asks twice in a row for a user's update time and lists: the last answer is kept.
        self._last_updated = (-1, 0)
        self._last_list_ids: tuple[int, tuple[int, ...]] = (-1, ())

    # ---- identity ------------------------------------------------------------------------------------

    def identity(self, index: int) -> tuple[str, str | None, str]:
        """(email, userId or None, email domain) of user `index`."""
        key = mix64(self._identity_key ^ index)
        first = words.FIRST_NAMES[key % len(words.FIRST_NAMES)]
        last = words.LAST_NAMES[(key >> 8) % len(words.LAST_NAMES)]
        domain = words.EMAIL_DOMAINS[(key >> 16) % len(words.EMAIL_DOMAINS)]
        user_id = f"u{index:07d}" if (key >> 24) % 100 < 85 else None
        return f"{first}.{last}{index}@{domain}", user_id, domain

    def email(self, index: int) -> str:
        return self.identity(index)[0]

    def index_of_email(self, email: str) -> int | None:
        match = _EMAIL.match(email)
        if not match:
            return None
        index = int(match.group(1))
        if index < self.count and self.email(index) == email:
            return index
        return None

    def index_of_user_id(self, user_id: str) -> int | None:
        match = _USER_ID.match(user_id)
        if not match:
            return None
        index = int(match.group(1))
        if index < self.count and self.identity(index)[1] == user_id:
            return index
        return None

    # ---- time line ---------------------------------------------------------------------------------------

    def signup_ms(self, index: int) -> int:
        jitter = mix64(self._signup_key ^ index) % max(1, int(self._signup_step))
        return self.first_signup_ms + int(index * self._signup_step) + jitter

    def signs_up_after(self, index: int, moment: int) -> bool:
        """signup_ms(index) > moment, without hashing the jitter when the answer does not depend on it."""
        earliest = self.first_signup_ms + int(index * self._signup_step)
        if earliest > moment:
            return True
        if earliest + max(1, int(self._signup_step)) <= moment:  # the jitter is below that span
            return False
        return self.signup_ms(index) > moment

    def profile_updated_ms(self, index: int) -> int:
        last_index, last_updated = self._last_updated
        if last_index == index:
            return last_updated
        signup = self.signup_ms(index)
        key = mix64(self._updated_key ^ index)
        if key % 100 < 35:  # never touched since sign-up
            updated = signup + (key >> 8) % 60_000
        else:
            updated = signup + (key >> 8) % max(1, self.project.anchor_ms - signup)
        self._last_updated = (index, updated)
        return updated

    # ---- lists ---------------------------------------------------------------------------------------------

    def _membership_word(self, index: int, word: int) -> int:
        keys = self._membership_keys
        return mix64((keys[word] if word < len(keys) else derive(self.seed, K_MEMBERSHIP, word)) ^ index)

    def in_list(self, list_id: int, index: int) -> bool:
        slot = self._list_slots.get(list_id)
        if slot is None:
            return False
        byte = (self._membership_word(index, slot // 8) >> ((slot % 8) * 8)) & 0xFF
        return byte < self._list_thresholds[slot]

    def list_ids(self, index: int) -> list[int]:
        # Slot s is in the list when byte s % 8 (little-endian) of membership word s // 8 is below its threshold.
        last_index, last_ids = self._last_list_ids
        if last_index == index:
            return list(last_ids)
        found: list[int] = []
        for word, slots in enumerate(self._membership_slots):
            data = self._membership_word(index, word).to_bytes(8, "little")
            found += [list_id for byte, (threshold, list_id) in zip(data, slots, strict=False) if byte < threshold]
        self._last_list_ids = (index, tuple(found))
        return found

    # ---- the profile -------------------------------------------------------------------------------------

    def data_fields(self, index: int) -> dict[str, Any]:
        """The user's dataFields as GET /api/users/{email} serves them (nested objects kept nested)."""
        email, user_id, domain = self.identity(index)
        rng = Rng(mix64(self._profile_key ^ index))
        signup = self.signup_ms(index)
        updated = self.profile_updated_ms(index)
        first, rest = email.split(".", 1)
        last = rest.split("@")[0].rstrip("0123456789")
        city, _, country = rng.choice(words.CITIES)
        fields: dict[str, Any] = {
            "email": email,
            "signupDate": iterable_time(signup),
            "signupSource": rng.weighted(SIGNUP_SOURCES, _SOURCE_EDGES),
            "profileUpdatedAt": iterable_time(updated),
            "emailListIds": self.list_ids(index),
            "unsubscribedChannelIds": [rng.choice(self._channels)] if rng.chance(0.08) else [],
            "unsubscribedMessageTypeIds": [rng.choice(self._opt_out_types)] if rng.chance(0.06) else [],
            "subscribedMessageTypeIds": rng.sample(self._opt_in_types, rng.below(len(self._opt_in_types) + 1)),
            "itblInternal": {
                "emailDomain": domain,
                "documentCreatedAt": iterable_time(signup),
                "documentUpdatedAt": iterable_time(updated),
            },
            "firstName": first.capitalize(),
            "lastName": last.capitalize(),
        }
        if user_id is not None:
            fields["userId"] = user_id
        if rng.chance(0.4):
            fields["phoneNumber"] = f"+1555{rng.between(1_000_000, 9_999_999)}"
        if rng.chance(0.9):
            fields["city"] = city
        if rng.chance(0.7):
            fields["favoriteCategory"] = rng.choice(words.CATEGORIES)
        orders = rng.below(40) if rng.chance(0.75) else 0
        fields["totalOrders"] = orders
        fields["loyaltyPoints"] = orders * rng.between(5, 120)
        if orders:
            fields["lifetimeValue"] = round(orders * (15 + rng.random() * 140), 2)
            fields["lastPurchaseDate"] = iterable_time(signup + rng.below(max(1, updated - signup + 1)))
        fields["isVip"] = orders > 25
        if rng.chance(0.85):
            fields["acceptsMarketing"] = rng.chance(0.8)
        if rng.chance(0.6):
            year, month, day = rng.between(1955, 2006), rng.between(1, 12), rng.between(1, 28)
            fields["birthday"] = f"{year:04d}-{month:02d}-{day:02d}"
        if rng.chance(0.7):
            fields["address"] = {
                "street": f"{rng.between(1, 9999)} {rng.choice(words.STREETS)}",
                "city": city,
                "zip": f"{rng.between(10000, 99999)}",
                "country": country,
            }
        if rng.chance(0.6):
            fields["interests"] = rng.sample(words.INTERESTS, rng.between(1, 3))
        if rng.chance(0.3):
            fields["homeLocation"] = {
                "lat": round(rng.random() * 140 - 70, 5),
                "lon": round(rng.random() * 340 - 170, 5),
            }
        if rng.chance(0.3):
            fields["devices"] = [
                {
                    "token": rng.hex(64),
                    "platform": rng.choice(("APNS", "GCM")),
                    "applicationName": "brand-app",
                    "endpointEnabled": rng.chance(0.9),
                    "dataFields": {},
                }
            ]
        return fields


def user_document(data_fields: dict[str, Any]) -> dict[str, Any]:
    """The body of GET /api/users/{email}: {"user": {"email", "dataFields", "userId"?}}."""
    user: dict[str, Any] = {"email": data_fields["email"], "dataFields": data_fields}
    if data_fields.get("userId") is not None:
        user["userId"] = data_fields["userId"]
    return {"user": user}


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects → dotted keys, as the user export serves profiles ("itblInternal.emailDomain")."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and not _is_geo(value):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _is_geo(value: dict[str, Any]) -> bool:
    return set(value) == {"lat", "lon"}


# ---- bulk: the user export's lines for a block of users ---------------------------------------------------

_FIRST = bulk.json_texts(name.capitalize() for name in words.FIRST_NAMES)
_LAST = bulk.json_texts(name.capitalize() for name in words.LAST_NAMES)
_DOMAINS = bulk.json_texts(words.EMAIL_DOMAINS)
# An email is '"' + "first.last" + index + '@domain"': two vocabularies, so three pieces.
_NAME_PAIRS = tuple(f"{first}.{last}" for first in words.FIRST_NAMES for last in words.LAST_NAMES)
_AT_DOMAINS = tuple(f'@{domain}"' for domain in words.EMAIL_DOMAINS)
CITY_TEXTS = bulk.json_texts(city for city, _, _ in words.CITIES)
REGION_TEXTS = bulk.json_texts(region for _, region, _ in words.CITIES)
COUNTRY_TEXTS = bulk.json_texts(country for _, _, country in words.CITIES)
CATEGORY_TEXTS = bulk.json_texts(words.CATEGORIES)
_SOURCES = bulk.json_texts(SIGNUP_SOURCES)
_PACK_BITS = np.uint64(0x0102040810204080)  # × eight 0/1 bytes: their bits, first byte lowest, in the top byte
# Numbers with few values are words (so they merge with their neighbours), not digits drawn per row.
_ORDERS = tuple(str(number) for number in range(40))
_YEARS = tuple(str(year) for year in range(1955, 2007))
_MONTHS = tuple(f"{month:02d}" for month in range(13))  # by number: 00 is never drawn
_DAYS = tuple(f"{day:02d}" for day in range(29))


def _id_list(lines: bulk.JsonLines, items: tuple[str, ...], picks: bulk.I64) -> None:
    """A JSON array of the items at each row's picked positions (-1: no more picks)."""
    lines.text("[")
    for step in range(picks.shape[1]):
        lines.choose(("", *tuple(("," if step else "") + item for item in items)), picks[:, step] + 1)
    lines.text("]")


class BulkUsers:
    """UserGenerator.data_fields, flattened as the user export serves it, for a block of users at once."""

    def __init__(self, generator: UserGenerator) -> None:
        self.generator = generator

    def _identity_keys(self, indices: bulk.I64) -> bulk.U64:
        return bulk.mix64(np.uint64(self.generator._identity_key) ^ indices.astype(np.uint64))

    @staticmethod
    def _name_positions(key: bulk.U64) -> tuple[bulk.I64, bulk.I64, bulk.I64]:
        """Positions of the first name, last name and email domain an identity key picks (UserGenerator.identity)."""
        first = (key % np.uint64(len(words.FIRST_NAMES))).astype(np.int64)
        last = ((key >> np.uint64(8)) % np.uint64(len(words.LAST_NAMES))).astype(np.int64)
        domain = ((key >> np.uint64(16)) % np.uint64(len(words.EMAIL_DOMAINS))).astype(np.int64)
        return first, last, domain

    def emails(self, indices: bulk.I64) -> list[str]:
        first, last, domain = (p.tolist() for p in self._name_positions(self._identity_keys(indices)))
        names, surnames, domains = words.FIRST_NAMES, words.LAST_NAMES, words.EMAIL_DOMAINS
        return [
            f"{names[f]}.{surnames[a]}{i}@{domains[d]}"
            for f, a, i, d in zip(first, last, indices.tolist(), domain, strict=True)
        ]

    def email_field(self, out: bulk.JsonLines, indices: bulk.I64, identity: bulk.U64 | None = None) -> None:
        """The "email" field of users `indices` (identity: their identity keys, when already drawn)."""
        first, last, domain = self._name_positions(self._identity_keys(indices) if identity is None else identity)
        out.field("email").text('"').choose(_NAME_PAIRS, first * len(words.LAST_NAMES) + last)
        out.integers(indices).choose(_AT_DOMAINS, domain)

    def user_id_field(self, out: bulk.JsonLines, indices: bulk.I64, identity: bulk.U64 | None = None) -> None:
        """The "userId" field of users `indices`, absent for those without one."""
        key = self._identity_keys(indices) if identity is None else identity
        has_user_id = (key >> np.uint64(24)) % np.uint64(100) < 85
        out.field("userId", has_user_id).text('"u').padded(indices, 7).text('"')

    def signups(self, indices: bulk.I64) -> bulk.I64:
        g = self.generator
        jitter = bulk.mix64(np.uint64(g._signup_key) ^ indices.astype(np.uint64)) % np.uint64(
            max(1, int(g._signup_step))
        )
        return g.first_signup_ms + (indices * g._signup_step).astype(np.int64) + jitter.astype(np.int64)

    def updated(self, indices: bulk.I64, signup: bulk.I64) -> bulk.I64:
        """profile_updated_ms of each user."""
        g = self.generator
        key = bulk.mix64(np.uint64(g._updated_key) ^ indices.astype(np.uint64))
        untouched = key % np.uint64(100) < 35
        span = np.where(untouched, 60_000, np.maximum(1, g.project.anchor_ms - signup)).astype(np.uint64)
        return signup + ((key >> np.uint64(8)) % span).astype(np.int64)

    def _list_ids(self, lines: bulk.JsonLines, indices: bulk.I64, live_lists: set[int]) -> None:
        """emailListIds: the user's generated lists that still exist, sorted (ListStore.lists_of).

        Membership of list slot s is byte s % 8 of the slot's membership word under its threshold; the live
        lists' bits, in id order, are packed eight to a byte, and each byte is one piece: its ",id,id" text
        looked up in a table of 256 (without the leading comma while the row has no id yet).
        """
        g = self.generator
        order = sorted((list_id, slot) for slot, list_id in enumerate(g._list_ids) if list_id in live_lists)
        lines.text("[")
        if order:
            keys = indices.astype(np.uint64)
            words = np.stack([bulk.mix64(np.uint64(key) ^ keys) for key in g._membership_keys], axis=1)
            word_bytes = words.astype("<u8", copy=False).view(np.uint8)  # byte k of word w at 8w + k
            slots = [slot for _, slot in order]
            thresholds = np.asarray([g._list_thresholds[slot] for slot in slots])
            member = np.zeros((len(indices), -(-len(slots) // 8) * 8), dtype=np.bool_)
            np.less(word_bytes[:, slots], np.minimum(thresholds, 255).astype(np.uint8), out=member[:, : len(slots)])
            member[:, : len(slots)] |= thresholds > 255  # a list every user is in
            packed = ((member.view("<u8") * _PACK_BITS) >> np.uint64(56)).astype(np.int64)  # 8 bools → a byte
            seen = np.zeros(len(indices), dtype=np.int64)
            for number, start in enumerate(range(0, len(order), 8)):
                ids = tuple(list_id for list_id, _ in order[start : start + 8])
                lines.choose(_byte_texts(ids), packed[:, number] + 256 * seen)
                seen |= packed[:, number] != 0
        lines.text("]")

    def times(self, indices: bulk.I64) -> tuple[bulk.I64, bulk.I64]:
        """(signup_ms, profile_updated_ms) of each user."""
        signup = self.signups(indices)
        return signup, self.updated(indices, signup)

    def lines(
        self, indices: bulk.I64, live_lists: set[int], times: tuple[bulk.I64, bulk.I64] | None = None
    ) -> bulk.JsonLines:
        """The user export's lines of generated users `indices` (data_fields + flatten, byte for byte);
        `times`: their `times()`, when the caller has them already."""
        g = self.generator
        n = len(indices)
        identity = self._identity_keys(indices)
        signup, updated = self.times(indices) if times is None else times
        rng = bulk.BulkRng(bulk.mix64(np.uint64(g._profile_key) ^ indices.astype(np.uint64)))
        city = rng.below(len(words.CITIES))
        source = rng.weighted(_SOURCE_EDGES)
        unsub_channel = rng.chance(0.08)
        channel = rng.below(max(1, len(g._channels)), unsub_channel)
        unsub_type = rng.chance(0.06)
        opt_out = rng.below(max(1, len(g._opt_out_types)), unsub_type)
        everyone = np.ones(n, dtype=np.bool_)
        opt_in = rng.sample(len(g._opt_in_types), rng.below(len(g._opt_in_types) + 1), everyone)
        has_phone = rng.chance(0.4)
        phone = rng.between(1_000_000, 9_999_999, has_phone)
        has_city = rng.chance(0.9)
        has_category = rng.chance(0.7)
        category = rng.below(len(words.CATEGORIES), has_category)
        buys = rng.chance(0.75)
        orders = np.where(buys, rng.below(40, buys), 0)
        points = orders * rng.between(5, 120)
        bought = orders > 0
        value = orders * (15 + rng.random(bought) * 140)
        last_purchase = signup + rng.below(np.maximum(1, updated - signup + 1), bought)
        has_consent = rng.chance(0.85)
        consent = rng.chance(0.8, has_consent)
        has_birthday = rng.chance(0.6)
        year = rng.between(1955, 2006, has_birthday)
        month = rng.between(1, 12, has_birthday)
        day = rng.between(1, 28, has_birthday)
        has_address = rng.chance(0.7)
        street_number = rng.between(1, 9999, has_address)
        street = rng.below(len(words.STREETS), has_address)
        postcode = rng.between(10000, 99999, has_address)
        has_interests = rng.chance(0.6)
        interests = rng.sample(len(words.INTERESTS), rng.between(1, 3, has_interests), has_interests)
        has_location = rng.chance(0.3)
        lat = rng.random(has_location) * 140 - 70
        lon = rng.random(has_location) * 340 - 170
        has_device = rng.chance(0.3)
        token = rng.hex(64, has_device)
        platform = rng.below(2, has_device)
        enabled = rng.chance(0.9, has_device)

        first, last, domain = self._name_positions(identity)

        out = bulk.JsonLines(n)
        self.email_field(out, indices, identity)
        out.field("signupDate").time(signup)
        out.field("signupSource").choose(_SOURCES, source)
        out.field("profileUpdatedAt").time(updated)
        self._list_ids(out.field("emailListIds"), indices, live_lists)
        channels = ("[]", *tuple(f"[{i}]" for i in g._channels))
        out.field("unsubscribedChannelIds").choose(channels, np.where(unsub_channel, channel + 1, 0))
        opt_outs = ("[]", *tuple(f"[{i}]" for i in g._opt_out_types))
        out.field("unsubscribedMessageTypeIds").choose(opt_outs, np.where(unsub_type, opt_out + 1, 0))
        _id_list(out.field("subscribedMessageTypeIds"), tuple(map(str, g._opt_in_types)), opt_in)
        out.field("itblInternal.emailDomain").choose(_DOMAINS, domain)
        out.field("itblInternal.documentCreatedAt").time(signup)
        out.field("itblInternal.documentUpdatedAt").time(updated)
        out.field("firstName").choose(_FIRST, first)
        out.field("lastName").choose(_LAST, last)
        self.user_id_field(out, indices, identity)
        out.field("phoneNumber", has_phone).text('"+1555').integers(phone).text('"')
        out.field("city", has_city).choose(CITY_TEXTS, city)
        out.field("favoriteCategory", has_category).choose(CATEGORY_TEXTS, category)
        out.field("totalOrders").choose(_ORDERS, orders)
        out.field("loyaltyPoints").integers(points)
        lifetime = bulk.numbers(bulk.rounded(value[bought], 2))
        out.field("lifetimeValue", bought).texts(lifetime, bought)
        out.field("lastPurchaseDate", bought).time(last_purchase)
        out.field("isVip").booleans(orders > 25)
        out.field("acceptsMarketing", has_consent).booleans(consent)
        birthday = out.field("birthday", has_birthday).text('"').choose(_YEARS, year - 1955)
        birthday.text("-").choose(_MONTHS, month).text("-").choose(_DAYS, day).text('"')
        out.field("address.street", has_address).text('"').integers(street_number).text(" ")
        out.choose(words.STREETS, street).text('"')
        out.field("address.city", has_address).choose(CITY_TEXTS, city)
        out.field("address.zip", has_address).text('"').integers(postcode).text('"')
        out.field("address.country", has_address).choose(COUNTRY_TEXTS, city)
        _id_list(out.field("interests", has_interests), bulk.json_texts(words.INTERESTS), interests)
        out.field("homeLocation", has_location).text('{"lat":')
        out.texts(bulk.numbers(bulk.rounded(lat[has_location], 5)), has_location).text(',"lon":')
        out.texts(bulk.numbers(bulk.rounded(lon[has_location], 5)), has_location).text("}")
        out.field("devices", has_device).text('[{"token":"').texts(token, has_device).text('","platform":"')
        out.choose(("APNS", "GCM"), platform).text('","applicationName":"brand-app","endpointEnabled":')
        out.booleans(enabled).text(',"dataFields":{}}]')
        return out


@lru_cache(maxsize=64)
def _byte_texts(ids: tuple[int, ...]) -> tuple[str, ...]:
    """For each byte value, the "id,id…" of the ids whose bit is set in it; then the same with a leading comma."""
    texts = tuple(",".join(str(list_id) for bit, list_id in enumerate(ids) if byte >> bit & 1) for byte in range(256))
    return texts + tuple("," + text if text else "" for text in texts)
