"""Events: generated journeys plus events tracked by API (track, trackBulk, purchases)."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from iterbridge.sandbox.data.bulk_events import BulkEvents
from iterbridge.sandbox.data.events import Event, export_record

if TYPE_CHECKING:
    from iterbridge.sandbox.world import World
    from iterbridge.sandbox.world.exports import ExportQuery


@dataclass(slots=True)
class Located:
    """An event with the identity of its user, ready to be shaped for an endpoint."""

    event: Event
    email: str
    user_id: str | None


class EventStore:
    def __init__(self, world: World) -> None:
        self.world = world
        self._tracked: list[tuple[int, int, Located]] = []  # (createdAt, sequence, event), sorted
        self._by_id: dict[str, Located] = {}
        self._sequence = 0
        self._bulk = BulkEvents(world.event_generator, world.users.bulk)
        self.ids_generated = 0  # ids the API made up for events sent without one: a counter keeps them reproducible

    def track(
        self,
        event_type: str,
        email: str,
        user_id: str | None,
        created_ms: int,
        fields: dict[str, Any],
        event_id: str | None = None,
    ) -> None:
        """Store a tracked event; an existing id is replaced (Iterable's update-by-id)."""
        now = self.world.now()
        located = Located(Event(event_type, created_ms, now, -1, fields), email, user_id)

        def apply() -> None:
            if event_id is not None and event_id in self._by_id:
                old = self._by_id[event_id]
                self._tracked = [entry for entry in self._tracked if entry[2] is not old]
            if event_id is not None:
                self._by_id[event_id] = located
            self._sequence += 1
            bisect.insort(self._tracked, (created_ms, self._sequence, located), key=lambda e: (e[0], e[1]))

        self.world.later(apply)

    def in_window(self, types: frozenset[str] | None, start_ms: int, end_ms: int) -> Iterator[Located]:
        """Generated then tracked events of these types created in [start_ms, end_ms), visible now."""
        world = self.world
        now = world.now()
        users = world.users
        identity = world.user_generator.identity
        for event in world.event_generator.in_window(types, start_ms, end_ms, now):
            email, user_id, _ = identity(event.user_index)
            if users.is_deleted(email):
                moved = users.renamed.get(email)  # users/updateEmail: the history follows the user
                if moved is None:
                    continue
                email, user_id = moved, users.user_id_of(moved)
            yield Located(event, email, user_id)
        yield from self._tracked_in_window(types, start_ms, end_ms)

    def _tracked_in_window(self, types: frozenset[str] | None, start_ms: int, end_ms: int) -> Iterator[Located]:
        users = self.world.users
        first = bisect.bisect_left(self._tracked, start_ms, key=lambda e: e[0])
        for created_ms, _, located in self._tracked[first:]:
            if created_ms >= end_ms:
                break
            if (types is None or located.event.type in types) and users.exists(located.email):
                yield located

    def export_blocks(self, query: ExportQuery) -> Iterator[bytes]:
        """data.json of an event type: blocks of lines, the generated events drawn in bulk (without those of
        deleted users), then the tracked ones.

        A project where users/updateEmail renamed a user takes the one-by-one path: that user's generated
        events carry the new address.
        """
        from iterbridge.sandbox.world.exports import json_line, records

        world = self.world
        deleted = world.users.deleted_indices()
        if deleted is None:
            yield from (json_line(record) for record in records(world, query))
            return
        generated = self._bulk.blocks(
            query.data_type,
            query.start_ms,
            query.end_ms,
            world.now(),
            query.campaign_id,
            np.array(deleted, dtype=np.int64),
        )
        for lines in generated:
            lines.narrow(name for name in lines.names if query.keeps(name))
            yield lines.block()
        for located in self._tracked_in_window(frozenset([query.data_type]), query.start_ms, query.end_ms):
            record = query.shape(export_record(located.event, located.email, located.user_id))
            if record is not None:
                yield json_line(record)

    def rename(self, old: str, new: str) -> None:
        """users/updateEmail: the tracked events of `old` now belong to `new`."""
        moved: dict[int, Located] = {}
        for position, (created_ms, sequence, located) in enumerate(self._tracked):
            if located.email == old:
                moved[id(located)] = Located(located.event, new, located.user_id)
                self._tracked[position] = (created_ms, sequence, moved[id(located)])
        self._by_id = {key: moved.get(id(located), located) for key, located in self._by_id.items()}

    def of_user(self, email: str) -> list[Located]:
        """Every visible event of a user, oldest first."""
        world = self.world
        found: list[Located] = []
        index = world.users.history_index(email)
        if index is not None:
            user_id = world.users.user_id_of(email)
            found.extend(Located(e, email, user_id) for e in world.event_generator.of_user(index, world.now()))
        found.extend(located for _, _, located in self._tracked if located.email == email)
        found.sort(key=lambda located: located.event.created_ms)
        return found
