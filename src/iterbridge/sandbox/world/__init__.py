"""The sandbox's mutable state: the generated project plus everything API writes changed.

Generated records are never copied wholesale: each store keeps only what writes touched (overrides,
additions, deletions) and merges it into what the generators produce, so a million-user project costs
memory in proportion to what the tests wrote, not to its size.

Writes can be made eventually consistent (the `consistency_delay_s` fault): a write is validated and
answered at once, and applied to the state when its delay has passed, as Iterable's asynchronous catalog
and user writes are.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from iterbridge.sandbox.config import SandboxConfig
from iterbridge.sandbox.data.events import EventGenerator
from iterbridge.sandbox.data.inapp import InAppGenerator
from iterbridge.sandbox.data.project import build_project
from iterbridge.sandbox.data.users import UserGenerator
from iterbridge.sandbox.faults import Faults
from iterbridge.sandbox.world.campaigns import CampaignStore
from iterbridge.sandbox.world.catalogs import CatalogStore
from iterbridge.sandbox.world.events import EventStore
from iterbridge.sandbox.world.exports import ExportJobs
from iterbridge.sandbox.world.inapp import InAppStore
from iterbridge.sandbox.world.lists import ListStore
from iterbridge.sandbox.world.metadata import MetadataStore
from iterbridge.sandbox.world.templates import TemplateStore
from iterbridge.sandbox.world.users import UserStore


class World:
    def __init__(self, config: SandboxConfig, faults: Faults) -> None:
        self.config = config
        self.faults = faults
        self.project = build_project(config)
        self.user_generator = UserGenerator(self.project)
        self.event_generator = EventGenerator(self.project, self.user_generator)
        self.inapp_generator = InAppGenerator(self.project)
        self._pending: list[tuple[int, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self.lists = ListStore(self)
        self.users = UserStore(self)
        self.campaigns = CampaignStore(self)
        self.templates = TemplateStore(self)
        self.catalogs = CatalogStore(self)
        self.events = EventStore(self)
        self.inapp = InAppStore(self)
        self.metadata = MetadataStore(self)
        self.exports = ExportJobs(self)

    def now(self) -> int:
        """Epoch milliseconds on the sandbox's clock."""
        return self.config.clock()

    def later(self, apply: Callable[[], None]) -> None:
        """Apply a write now, or after the eventual-consistency delay when that fault is set."""
        delay_ms = int(self.faults.consistency_delay_s * 1000)
        if delay_ms <= 0:
            apply()
            return
        heapq.heappush(self._pending, (self.now() + delay_ms, next(self._sequence), apply))

    def settle(self) -> None:
        """Apply the delayed writes whose time has come; called before every request."""
        now = self.now()
        while self._pending and self._pending[0][0] <= now:
            heapq.heappop(self._pending)[2]()

    def close(self) -> None:
        self.exports.close()
