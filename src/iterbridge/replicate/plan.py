"""What a replication copies, declared per object: the tables (one per export event type for Events), how
each is kept current, and which deletions in Iterable it can see.

- incremental, through the export API (Events, Users): read only the windows since the stored cursor, less a
  lookback for Iterable's late data; the state advances at each completed window;
- incremental, from a listing (Campaigns, CatalogItems, Lists, MessageTypes, Templates): Iterable lists every
  record each time (it has no "changed since" filter for them), and only rows that are new or changed are
  written; Templates' extended fields are read again only for templates whose UpdatedAt moved;
- full: read everything, write what changed;
- sweep: the read lists every key, so rows whose key Iterable no longer has are deleted from the copy.
  Users and Events are never swept (a user missing from an export window still exists).

Events and InAppMessages can also be replicated for chosen users (`--filter OBJECT:"Email IN (…)"`); those
tables are then read in full for those users each run (Iterable's per-user endpoints have no cursor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from iterbridge.errors import ConfigurationError, UnknownObject
from iterbridge.objects import OBJECTS, ObjectDef, get_object
from iterbridge.objects.events import EVENT_TYPES

DEFAULT_LOOKBACK = timedelta(hours=6)
EXPORTED = frozenset({"Events", "Users"})  # read through the export API (data.json or async jobs)


@dataclass(frozen=True)
class Policy:
    mode: str  # "incremental" or "full"
    sweep: bool  # delete rows whose keys disappeared from Iterable
    skip_current: bool = False  # rows whose cursor equals the copy's are neither read in detail nor written


# The catalog's objects (docs/ARCHITECTURE.md, The catalog), as replication policy.
POLICIES: dict[str, Policy] = {
    "Campaigns": Policy("incremental", sweep=True),
    "CampaignMetrics": Policy("full", sweep=True),
    "Catalogs": Policy("full", sweep=True),
    "CatalogItems": Policy("incremental", sweep=True),
    "Channels": Policy("full", sweep=True),
    "Events": Policy("incremental", sweep=False),
    "InAppMessages": Policy("full", sweep=False),
    "Lists": Policy("incremental", sweep=True),
    "ListUsers": Policy("full", sweep=True),
    "MessageTypes": Policy("incremental", sweep=True),
    "Templates": Policy("incremental", sweep=True, skip_current=True),
    "Users": Policy("incremental", sweep=False),
    "UserFields": Policy("full", sweep=True),
}
_FILTERED = Policy("full", sweep=False)


@dataclass
class Stream:
    """One target table and how to fill it."""

    table: str
    obj: ObjectDef
    policy: Policy
    condition: str | None = None  # a SQL condition (--filter): the object is read for chosen users only
    event_type: str | None = None

    @property
    def cursor(self) -> str | None:
        return self.obj.cursor

    @property
    def exported(self) -> bool:
        return self.obj.name in EXPORTED and self.condition is None


def event_table(event_type: str) -> str:
    return f"Events_{event_type}"


_EVENT_TABLES = {event_table(t).lower(): t for t in EVENT_TYPES}


def _choose(name: str) -> tuple[ObjectDef, str | None]:
    """An object by name, or one event type's table (Events_emailOpen)."""
    event_type = _EVENT_TABLES.get(name.strip().lower())
    if event_type is not None:
        return get_object("Events"), event_type
    try:
        return get_object(name.strip()), None
    except UnknownObject:
        tables = ", ".join(OBJECTS)
        raise ConfigurationError(
            f"--objects: no object {name.strip()!r}; choose among {tables} (or one event table, e.g. Events_emailOpen)"
        ) from None


def streams(objects: list[str] | None, filters: dict[str, str] | None = None) -> list[Stream]:
    """The streams for the chosen objects (default: everything readable without a required filter, and the
    objects given a filter)."""
    conditions: dict[str, str] = {}
    for name, text in (filters or {}).items():
        obj, event_type = _choose(name)
        if event_type is not None:
            raise ConfigurationError(f"--filter applies to whole objects: use Events:{text!r}")
        conditions[obj.name] = text
    chosen: list[tuple[ObjectDef, str | None]] = []
    if objects:
        chosen = [_choose(name) for name in objects]
        # A filter for an object left out would be ignored without a word: refused instead.
        ignored = sorted(set(conditions) - {obj.name for obj, _ in chosen})
        if ignored:
            listed = ", ".join(objects)
            raise ConfigurationError(
                f"--filter {ignored[0]}: {ignored[0]} is not among --objects ({listed}); add it to --objects or drop "
                "the filter"
            )
    else:
        chosen = [(o, None) for o in OBJECTS.values() if not o.required_filters]
        chosen += [(get_object(n), None) for n in conditions if get_object(n).required_filters]
    result: list[Stream] = []
    seen: set[str] = set()
    for obj, event_type in chosen:
        condition: str | None = conditions.get(obj.name)
        if obj.required_filters and condition is None:
            raise ConfigurationError(
                f'{obj.name} can only be replicated for chosen users: add --filter {obj.name}:"Email IN (…)"'
            )
        policy = _FILTERED if condition is not None else POLICIES[obj.name]
        types = [event_type] if event_type else list(EVENT_TYPES) if obj.name == "Events" else [None]
        for kind in types:
            table = event_table(kind) if kind else obj.name
            if table not in seen:
                seen.add(table)
                result.append(Stream(table, obj, policy, condition, kind))
    return result


@dataclass
class Job:
    """What one reader thread does: one stream, or (for a filtered object) every stream of that object, its
    rows routed to them (Events for chosen users: one read, one table per event type)."""

    streams: list[Stream] = field(default_factory=list)

    @property
    def condition(self) -> str | None:
        return self.streams[0].condition

    @property
    def exported(self) -> bool:
        return self.streams[0].exported


def jobs(chosen: list[Stream]) -> list[Job]:
    """The reader jobs, the export ones interleaved with the others: the export budget starts being spent at
    once, and small objects are not kept waiting behind fifty event types."""
    filtered: dict[str, Job] = {}
    exported: list[Job] = []
    others: list[Job] = []
    for stream in chosen:
        if stream.condition is not None:
            filtered.setdefault(stream.obj.name, Job()).streams.append(stream)
        elif stream.exported:
            exported.append(Job([stream]))
        else:
            others.append(Job([stream]))
    others = list(filtered.values()) + others
    ordered: list[Job] = []
    for position in range(max(len(exported), len(others))):
        ordered += exported[position : position + 1] + others[position : position + 1]
    return ordered
