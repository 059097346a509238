"""Lists and their members: generated membership, plus subscriptions and unsubscriptions made by API."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iterbridge.sandbox.world import World


class ListStore:
    def __init__(self, world: World) -> None:
        self.world = world
        self.records: dict[int, dict[str, Any]] = {lst["id"]: copy.deepcopy(lst) for lst in world.project.lists}
        self._base_ids = set(self.records)
        self._added: dict[int, dict[str, None]] = {}
        self._removed: dict[int, set[str]] = {}
        self._next_id = max(self.records, default=100_000) + 17

    def get(self, list_id: int) -> dict[str, Any] | None:
        return self.records.get(list_id)

    def all(self) -> list[dict[str, Any]]:
        return list(self.records.values())

    def create(self, name: str, description: str | None) -> int:
        list_id = self._next_id
        self._next_id += 3
        record: dict[str, Any] = {
            "id": list_id,
            "name": name,
            "createdAt": self.world.now(),
            "listType": "Standard",
        }
        if description:
            record["description"] = description
        self.world.later(lambda: self.records.__setitem__(list_id, record))
        return list_id

    def delete(self, list_id: int) -> None:
        self.records.pop(list_id, None)
        self._added.pop(list_id, None)
        self._removed.pop(list_id, None)

    # ---- membership ---------------------------------------------------------------------------------------

    def subscribe(self, list_id: int, email: str) -> None:
        self._removed.get(list_id, set()).discard(email)
        self._added.setdefault(list_id, {})[email] = None

    def unsubscribe(self, list_id: int, email: str) -> None:
        added = self._added.get(list_id)
        if added is not None:
            added.pop(email, None)
        self._removed.setdefault(list_id, set()).add(email)

    def forget_user(self, email: str) -> None:
        for added in self._added.values():
            added.pop(email, None)

    def is_member(self, list_id: int, email: str, index: int | None) -> bool:
        if list_id not in self.records or email in self._removed.get(list_id, ()):
            return False
        if email in self._added.get(list_id, {}):
            return True
        return index is not None and list_id in self._base_ids and self.world.user_generator.in_list(list_id, index)

    def lists_of(self, email: str, index: int | None) -> list[int]:
        """emailListIds of a user."""
        found = []
        if index is not None:
            for list_id in self.world.user_generator.list_ids(index):
                if list_id in self.records and email not in self._removed.get(list_id, ()):
                    found.append(list_id)
        for list_id, added in self._added.items():
            if email in added and list_id not in found and list_id in self.records:
                found.append(list_id)
        return sorted(found)

    def changed_members(self) -> set[str]:
        """Emails whose memberships API writes changed (subscribed or unsubscribed somewhere)."""
        found: set[str] = set()
        for added in self._added.values():
            found.update(added)
        for removed in self._removed.values():
            found.update(removed)
        return found

    def members(self, list_id: int) -> Iterator[str]:
        """Member emails: generated ones in user order, then API subscriptions in the order made."""
        users = self.world.users
        generator = self.world.user_generator
        removed = self._removed.get(list_id, set())
        added = self._added.get(list_id, {})
        if list_id in self._base_ids:
            for index in range(generator.count):
                if generator.in_list(list_id, index):
                    email = generator.email(index)
                    if email not in removed and email not in added and users.base_alive(email):
                        yield email
        for email in list(added):
            if users.exists(email):
                yield email
