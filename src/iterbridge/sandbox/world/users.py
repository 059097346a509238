"""Users: generated profiles, plus the creations, updates and deletions made by API."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from iterbridge.constants import MANAGED_USER_FIELDS
from iterbridge.sandbox.data.rand import text_key
from iterbridge.sandbox.data.timefmt import iterable_time
from iterbridge.sandbox.data.users import BulkUsers, flatten, user_fields

if TYPE_CHECKING:
    from iterbridge.sandbox.world import World
    from iterbridge.sandbox.world.exports import ExportQuery

_EXPORT_BLOCK = 4096  # users drawn at once by the user export: big enough that numpy's per-call cost vanishes

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}:\d{2}.*)?$")
# Fields Iterable manages itself: dataFields cannot set them.
_MANAGED = {
    "email",
    "userId",
    "signupDate",
    "signupSource",
    "profileUpdatedAt",
    "emailListIds",
    "itblInternal",
}


def valid_email(email: object) -> bool:
    return isinstance(email, str) and bool(_EMAIL.match(email))


def field_type(value: Any) -> str | None:
    """The getFields type Iterable infers for a new field's first value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "date" if _DATE.match(value) else "string"
    if isinstance(value, dict):
        return "geo_location" if set(value) == {"lat", "lon"} else "object"
    if isinstance(value, list):
        return field_type(value[0]) if value else None
    return None


class TypeMismatch(Exception):
    def __init__(self, field: str, expected: str, incoming: str, value: Any) -> None:
        super().__init__(field)
        self.field, self.expected, self.incoming, self.value = field, expected, incoming, value


class UserStore:
    def __init__(self, world: World) -> None:
        self.world = world
        self.generator = world.user_generator
        self.bulk = BulkUsers(self.generator)
        self._overrides: dict[str, dict[str, Any]] = {}  # email → dataFields (without emailListIds)
        self._base_index: dict[str, int] = {}  # email of an override → generated index it came from
        self._deleted: set[str] = set()  # generated emails that no longer exist
        self._by_user_id: dict[str, str] = {}  # userId → email, for overrides
        self.forgotten: set[str] = set()
        # users/updateEmail moves a generated user: its old address → the new one, and back to its history.
        self.renamed: dict[str, str] = {}
        self._history: dict[str, int] = {}
        # A project without users knows only Iterable's own fields; custom ones appear as they are written.
        self.fields: dict[str, str] = user_fields() if self.generator.count else dict(MANAGED_USER_FIELDS)

    # ---- reading -----------------------------------------------------------------------------------------

    def base_alive(self, email: str) -> bool:
        """A generated user still exists as generated (not deleted, not rewritten by a write)."""
        return email not in self._deleted and email not in self._overrides

    def deleted_indices(self) -> list[int] | None:
        """The generated indices of the users API writes deleted, whose events are gone with them; None when
        one was renamed instead (its events now carry the new address: they are made one by one)."""
        if self.renamed:
            return None
        found = [self.generator.index_of_email(email) for email in self._deleted]
        return None if None in found else sorted(index for index in found if index is not None)

    def is_deleted(self, email: str) -> bool:
        """A generated user deleted (or renamed) by API."""
        return email in self._deleted

    def exists(self, email: str) -> bool:
        return self.index_of(email) is not None or email in self._overrides

    def index_of(self, email: str) -> int | None:
        """The generated index of a live generated user."""
        if email in self._deleted:
            return None
        if email in self._base_index:
            return self._base_index[email]
        return self.generator.index_of_email(email)

    def profile(self, email: str) -> dict[str, Any] | None:
        """dataFields as GET /api/users/{email} serves them, or None for an unknown user."""
        index = self.index_of(email)
        if email in self._overrides:
            fields = public(copy.deepcopy(self._overrides[email]))
        elif index is not None:
            fields = self.generator.data_fields(index)
        else:
            return None
        fields["emailListIds"] = self.world.lists.lists_of(email, index)
        return fields

    def history_index(self, email: str) -> int | None:
        """The generated index whose history (events, in-app messages) belongs to this user, moved or not."""
        index = self.index_of(email)
        return self._history.get(email) if index is None else index

    def user_id_of(self, email: str) -> str | None:
        if email in self._overrides:
            value = self._overrides[email].get("userId")
            return None if value is None else str(value)
        index = self.index_of(email)
        return None if index is None else self.generator.identity(index)[1]

    def email_of_user_id(self, user_id: str) -> str | None:
        if user_id in self._by_user_id:
            return self._by_user_id[user_id]
        index = self.generator.index_of_user_id(user_id)
        if index is None:
            return None
        email = self.generator.email(index)
        return email if self.base_alive(email) else None

    def profiles(self) -> Iterator[dict[str, Any]]:
        """Every profile: generated ones in index order, then those created or rewritten by API."""
        for index in range(self.generator.count):
            email = self.generator.email(index)
            if self.base_alive(email):
                fields = self.generator.data_fields(index)
                fields["emailListIds"] = self.world.lists.lists_of(email, index)
                yield fields
        for email in list(self._overrides):
            profile = self.profile(email)
            if profile is not None:
                yield profile

    def export_blocks(self, query: ExportQuery) -> Iterator[bytes]:
        """data.json of the user export: blocks of lines, the generated users drawn in bulk, then the users API
        writes created or rewrote. A generated user that a write deleted or rewrote is left out of the bulk
        (the rewritten one comes with the written users); one whose list memberships changed is made alone."""
        generator = self.generator
        live_lists = set(self.world.lists.records)
        gone = self._deleted | set(self._overrides)
        changed = self.world.lists.changed_members()
        for start in range(0, generator.count, _EXPORT_BLOCK):
            indices = np.arange(start, min(generator.count, start + _EXPORT_BLOCK), dtype=np.int64)
            signup, updated = self.bulk.times(indices)
            kept = (query.start_ms <= updated) & (updated < query.end_ms)
            indices, signup, updated = indices[kept], signup[kept], updated[kept]
            emails = self.bulk.emails(indices) if gone or changed else []
            if gone:
                alive = [position for position, email in enumerate(emails) if email not in gone]
                indices, signup, updated = indices[alive], signup[alive], updated[alive]
                emails = [emails[position] for position in alive]
            if not len(indices):
                continue
            lines = self.bulk.lines(indices, live_lists, (signup, updated))
            lines.narrow(name for name in lines.names if query.keeps(name))
            alone = [position for position, email in enumerate(emails) if email in changed]
            if not alone:
                yield lines.block()
                continue
            block = lines.lines()
            for position in alone:
                block[position] = self._export_line(self.profile(emails[position]), query)
            yield b"".join(block)
        for profile in self._written_between(query.start_ms, query.end_ms):
            yield self._export_line(profile, query)

    @staticmethod
    def _export_line(profile: dict[str, Any] | None, query: ExportQuery) -> bytes:
        from iterbridge.sandbox.world.exports import json_line

        return json_line(query.shape(flatten(profile or {})) or {})  # no campaignId here: never None

    def profiles_updated_between(self, start_ms: int, end_ms: int) -> Iterator[dict[str, Any]]:
        """Profiles whose profileUpdatedAt is in [start_ms, end_ms) — the user export's window."""
        generator = self.generator
        lists = self.world.lists
        for index in range(generator.count):
            if start_ms <= generator.profile_updated_ms(index) < end_ms:
                email = generator.email(index)
                if self.base_alive(email):
                    fields = generator.data_fields(index)
                    fields["emailListIds"] = lists.lists_of(email, index)
                    yield fields
        yield from self._written_between(start_ms, end_ms)

    def _written_between(self, start_ms: int, end_ms: int) -> Iterator[dict[str, Any]]:
        """Profiles created or rewritten by API whose last write is in [start_ms, end_ms)."""
        for email, fields in list(self._overrides.items()):
            if start_ms <= fields["_updatedMs"] < end_ms:
                profile = self.profile(email)
                if profile is not None:
                    yield profile

    # ---- writing -----------------------------------------------------------------------------------------

    def check_types(self, data_fields: dict[str, Any], prefix: str = "") -> None:
        """Raise TypeMismatch when a value contradicts a field's established type."""
        for name, value in data_fields.items():
            path = f"{prefix}{name}"
            expected = self.fields.get(path)
            incoming = field_type(value)
            if expected is None or incoming is None or value is None:
                continue
            if isinstance(value, dict) and expected == "object":
                self.check_types(value, f"{path}.")
                continue
            compatible = (
                incoming == expected
                or (expected == "double" and incoming == "long")
                or (expected == "string" and incoming == "date")
            )
            if not compatible:
                raise TypeMismatch(path, expected, incoming, value)

    def upsert(
        self,
        email: str,
        data_fields: dict[str, Any],
        *,
        user_id: str | None = None,
        merge_nested: bool = False,
        source: str = "API",
    ) -> None:
        """users/update semantics: create or merge top-level fields; nested objects replaced unless merged."""
        now = self.world.now()
        existing = self.profile(email)
        index = self.index_of(email)
        if existing is None:
            fields: dict[str, Any] = {
                "email": email,
                "signupDate": iterable_time(now),
                "signupSource": source,
                "itblInternal": {
                    "emailDomain": email.rsplit("@", 1)[-1],
                    "documentCreatedAt": iterable_time(now),
                },
            }
        else:
            fields = existing
            fields.pop("emailListIds", None)
        for name, value in data_fields.items():
            if name in _MANAGED:
                continue
            if merge_nested and isinstance(value, dict) and isinstance(fields.get(name), dict):
                fields[name] = _merged(fields[name], value)
            else:
                fields[name] = copy.deepcopy(value)
        if user_id is not None:
            fields["userId"] = user_id
        fields["profileUpdatedAt"] = iterable_time(now)
        fields["itblInternal"] = {**fields.get("itblInternal", {}), "documentUpdatedAt": iterable_time(now)}
        fields["_updatedMs"] = now
        self._learn_fields(data_fields)

        def apply() -> None:
            self._overrides[email] = fields
            if index is not None:
                self._base_index[email] = index
            if fields.get("userId") is not None:
                self._by_user_id[str(fields["userId"])] = email

        self.world.later(apply)

    def delete(self, email: str) -> bool:
        if not self.exists(email):
            return False
        fields = self._overrides.pop(email, None)
        if fields and fields.get("userId") is not None:
            self._by_user_id.pop(str(fields["userId"]), None)
        if self.generator.index_of_email(email) is not None or email in self._base_index:
            self._deleted.add(email)
        self._base_index.pop(email, None)
        moved_from = self._history.pop(email, None)
        if moved_from is not None:
            self.renamed.pop(self.generator.email(moved_from), None)
        self.world.lists.forget_user(email)
        return True

    def rename(self, current: str, new: str) -> None:
        """users/updateEmail: the profile moves to the new address; list memberships follow."""
        profile = self.profile(current)
        if profile is None:
            return
        history = self.history_index(current)
        memberships = profile.pop("emailListIds", [])
        self.delete(current)
        profile["email"] = new
        profile["itblInternal"] = {**profile.get("itblInternal", {}), "emailDomain": new.rsplit("@", 1)[-1]}
        profile["_updatedMs"] = self.world.now()
        profile["profileUpdatedAt"] = iterable_time(profile["_updatedMs"])
        self._overrides[new] = profile
        if profile.get("userId") is not None:
            self._by_user_id[str(profile["userId"])] = new
        for list_id in memberships:
            self.world.lists.subscribe(list_id, new)
        if history is not None:  # the user keeps its history under the new address
            self._history[new] = history
            self.renamed[self.generator.email(history)] = new
        self.world.events.rename(current, new)

    def placeholder_email(self, user_id: str) -> str:
        """The placeholder address Iterable gives a user created by userId alone."""
        return f"{text_key(user_id):016x}@placeholder.email"

    def _learn_fields(self, data_fields: dict[str, Any], prefix: str = "") -> None:
        for name, value in data_fields.items():
            path = f"{prefix}{name}"
            if path in self.fields:
                continue
            kind = field_type(value)
            if kind is not None:
                self.fields[path] = kind
            if isinstance(value, dict) and kind == "object":
                self._learn_fields(value, f"{path}.")


def public(fields: dict[str, Any]) -> dict[str, Any]:
    """A stored profile without the store's private bookkeeping keys."""
    return {name: value for name, value in fields.items() if not name.startswith("_")}


def _merged(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(current)
    for name, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = _merged(merged[name], value)
        else:
            merged[name] = copy.deepcopy(value)
    return merged
