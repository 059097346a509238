"""In-app messages: generated inboxes plus messages targeted, scheduled, cancelled and consumed by API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iterbridge.sandbox.data.rand import Rng, derive

if TYPE_CHECKING:
    from iterbridge.sandbox.world import World


@dataclass
class Scheduled:
    scheduled_id: int
    campaign_id: int
    email: str
    send_at_ms: int
    message: dict[str, Any]


class InAppStore:
    def __init__(self, world: World) -> None:
        self.world = world
        self._added: dict[str, list[dict[str, Any]]] = {}
        self._consumed: set[str] = set()
        self.scheduled: dict[int, Scheduled] = {}
        self._next_scheduled = 891_000_000 + world.project.seed % 1000 * 1000
        self._counter = 0

    def messages(self, email: str) -> list[dict[str, Any]]:
        """The user's current messages, newest first: generated, targeted, and scheduled ones now due."""
        world = self.world
        now = world.now()
        found: list[dict[str, Any]] = []
        index = world.users.history_index(email)
        if index is not None:
            found.extend(world.inapp_generator.for_user(index, world.user_generator.signup_ms(index)))
        found.extend(self._added.get(email, []))
        found.extend(s.message for s in self.scheduled.values() if s.email == email and s.send_at_ms <= now)
        visible = [m for m in found if m["messageId"] not in self._consumed and m["expiresAt"] > now]
        visible.sort(key=lambda m: m["createdAt"], reverse=True)
        return visible

    def _message(self, campaign: dict[str, Any], created_ms: int, data_fields: dict[str, Any] | None) -> dict[str, Any]:
        self._counter += 1
        rng = Rng(derive(self.world.project.seed, 51, self._counter))
        return self.world.inapp_generator.message(rng, campaign, created_ms, data_fields=data_fields)

    def target(self, campaign: dict[str, Any], email: str, data_fields: dict[str, Any] | None) -> None:
        message = self._message(campaign, self.world.now(), data_fields)
        self.world.later(lambda: self._added.setdefault(email, []).append(message))

    def schedule(
        self, campaign: dict[str, Any], email: str, send_at_ms: int, data_fields: dict[str, Any] | None
    ) -> int:
        self._next_scheduled += 1 + self._counter % 7
        scheduled_id = self._next_scheduled
        message = self._message(campaign, send_at_ms, data_fields)
        self.scheduled[scheduled_id] = Scheduled(scheduled_id, campaign["id"], email, send_at_ms, message)
        return scheduled_id

    def cancel(self, scheduled_ids: list[int]) -> None:
        for scheduled_id in scheduled_ids:
            self.scheduled.pop(scheduled_id, None)

    def pending_for(self, email: str, campaign_id: int) -> list[int]:
        now = self.world.now()
        return sorted(
            (
                s.scheduled_id
                for s in self.scheduled.values()
                if s.email == email and s.campaign_id == campaign_id and s.send_at_ms > now
            ),
            reverse=True,
        )

    def consume(self, message_id: str) -> None:
        self._consumed.add(message_id)
