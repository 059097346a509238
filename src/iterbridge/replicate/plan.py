"""What a replication copies, declared per object: the tables (one per export event type for Events), how
each is kept current, and which deletions in Iterable it can see.

- incremental: read what changed since the stored cursor (less a lookback for late data) and upsert it;
- full: read everything and upsert it;
- sweep: the read lists every key, so rows whose key Iterable no longer has are deleted from the copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from iterbridge.errors import ConfigurationError
from iterbridge.objects import OBJECTS, ObjectDef, get_object
from iterbridge.objects.events import EVENT_TYPES

DEFAULT_LOOKBACK = timedelta(hours=6)


@dataclass(frozen=True)
class Policy:
    mode: str  # "incremental" or "full"
    sweep: bool  # delete rows whose keys disappeared from Iterable
    bound_read: bool = False  # push the cursor bound to the reader (it still lists every key)


# The object table of DESIGN.md, as replication policy.
POLICIES: dict[str, Policy] = {
    "Campaigns": Policy("incremental", sweep=True),
    "CampaignMetrics": Policy("full", sweep=True),
    "Catalogs": Policy("full", sweep=True),
    "CatalogItems": Policy("incremental", sweep=True),
    "Channels": Policy("full", sweep=True),
    "Events": Policy("incremental", sweep=False, bound_read=True),
    "InAppMessages": Policy("incremental", sweep=False),
    "Lists": Policy("incremental", sweep=True),
    "ListUsers": Policy("full", sweep=True),
    "MessageTypes": Policy("incremental", sweep=True),
    "Templates": Policy("incremental", sweep=True, bound_read=True),
    "Users": Policy("incremental", sweep=False, bound_read=True),
    "UserFields": Policy("full", sweep=True),
}


@dataclass
class Stream:
    """One target table and how to fill it."""

    table: str
    obj: ObjectDef
    policy: Policy
    where: dict[str, Any] = field(default_factory=dict)
    event_type: str | None = None

    @property
    def cursor(self) -> str | None:
        return self.obj.cursor if self.policy.mode == "incremental" else None


def event_table(event_type: str) -> str:
    return f"Events_{event_type}"


def streams(objects: list[str] | None, filters: dict[str, str] | None = None) -> list[Stream]:
    """The streams for the chosen objects (default: everything readable without a required filter)."""
    filters = filters or {}
    if objects:
        chosen = [get_object(name) for name in objects]
    else:
        chosen = [o for o in OBJECTS.values() if not o.required_filters]
        chosen += [get_object(name) for name in filters if get_object(name).required_filters]
    result: list[Stream] = []
    for obj in chosen:
        if obj.required_filters and obj.name not in {get_object(n).name for n in filters}:
            raise ConfigurationError(
                f'{obj.name} can only be replicated for chosen users: add --filter {obj.name}:"Email IN (…)"'
            )
        policy = POLICIES[obj.name]
        if obj.name == "Events":
            result += [Stream(event_table(t), obj, policy, event_type=t) for t in EVENT_TYPES]
        else:
            result.append(Stream(obj.name, obj, policy))
    return result
