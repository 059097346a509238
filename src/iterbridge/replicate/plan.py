"""What a replication copies: the tables (one per value of the column an object is split by, e.g. one per
export event type), how each is kept current, and which deletions in Iterable it can see — as each object
declares it (`ObjectDef.replication`, `exported`, `split`; see objects/facts.py):

- incremental, through the export API (exported objects): read only the windows since the stored cursor, less
  a lookback for Iterable's late data; the state advances at each completed window;
- incremental, from a listing: Iterable lists every record each time (it has no "changed since" filter for
  them), and only rows that are new or changed are written; with `skip_current`, details that cost a request
  per record are read again only for records whose cursor moved;
- full: read everything, write what changed;
- sweep: the read lists every key, so rows whose key Iterable no longer has are deleted from the copy.
  Exported objects are never swept (a user missing from an export window still exists).

Objects with a required filter can be replicated for chosen users (`--filter OBJECT:"Email IN (…)"`); those
tables are then read in full for those users each run (Iterable's per-user endpoints have no cursor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from iterbridge.errors import ConfigurationError, UnknownObject
from iterbridge.objects import OBJECTS, ObjectDef, get_object
from iterbridge.objects.base import Row
from iterbridge.objects.facts import Replication

DEFAULT_LOOKBACK = timedelta(hours=6)
_FILTERED = Replication("full", sweep=False)


@dataclass
class Stream:
    """One target table and how to fill it."""

    table: str
    obj: ObjectDef
    policy: Replication
    condition: str | None = None  # a SQL condition (--filter): the object is read for chosen users only
    part: str | None = None  # the value of the object's split column this table holds (an event type)

    @property
    def cursor(self) -> str | None:
        return self.obj.cursor

    @property
    def exported(self) -> bool:
        return self.obj.exported and self.condition is None


def row_table(obj: ObjectDef, row: Row) -> str:
    """The table a row of an object goes to: the object's, or that of its value of the split column."""
    split = obj.split
    return obj.name if split is None else split.table(obj.name, str(row.get(split.column)))


def _split_tables() -> dict[str, tuple[ObjectDef, str]]:
    """Every table of a split object, by its name in lower case: (the object, the value it holds)."""
    return {
        split.table(obj.name, value).lower(): (obj, value)
        for obj in OBJECTS.values()
        if (split := obj.split) is not None
        for value in split.values
    }


def _choose(name: str) -> tuple[ObjectDef, str | None]:
    """An object by name, or one table of a split object (one event type's: Events_emailOpen)."""
    found = _split_tables().get(name.strip().lower())
    if found is not None:
        return found
    try:
        return get_object(name.strip()), None
    except UnknownObject:
        tables = ", ".join(OBJECTS)
        examples = "".join(
            f" (or one {split.noun} table, e.g. {split.table(obj.name, split.example)})"
            for obj in OBJECTS.values()
            if (split := obj.split) is not None
        )
        raise ConfigurationError(f"--objects: no object {name.strip()!r}; choose among {tables}{examples}") from None


def streams(objects: list[str] | None, filters: dict[str, str] | None = None) -> list[Stream]:
    """The streams for the chosen objects (default: everything readable without a required filter, and the
    objects given a filter)."""
    conditions: dict[str, str] = {}
    for name, text in (filters or {}).items():
        obj, part = _choose(name)
        if part is not None:
            raise ConfigurationError(f"--filter applies to whole objects: use {obj.name}:{text!r}")
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
    for obj, part in chosen:
        condition: str | None = conditions.get(obj.name)
        if obj.required_filters and condition is None:
            raise ConfigurationError(
                f'{obj.name} can only be replicated for chosen users: add --filter {obj.name}:"Email IN (…)"'
            )
        policy = _FILTERED if condition is not None else obj.replication
        parts: list[str | None] = [part] if part else list(obj.split.values) if obj.split else [None]
        for kind in parts:
            table = obj.split.table(obj.name, kind) if obj.split and kind else obj.name
            if table not in seen:
                seen.add(table)
                result.append(Stream(table, obj, policy, condition, kind))
    return result


def derivations(chosen: list[Stream]) -> list[tuple[Stream, Stream]]:
    """(a table's stream, its source's) for each chosen object whose rows another chosen object's read carries
    (`ObjectDef.derived`: ListUsers of Standard lists in Users' emailListIds), both read whole (no filter, not one
    table of a split). Whether the source's read is complete in a given run is the caller's to decide."""
    whole = {s.obj.name: s for s in chosen if s.condition is None and s.part is None}
    return [(s, whole[d.source]) for s in whole.values() if (d := s.obj.derived) is not None and d.source in whole]


@dataclass
class Job:
    """What one reader thread does: one stream, or (for a filtered object) every stream of that object, its
    rows routed to them (a split object for chosen users: one read, one table per value, e.g. per event type)."""

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
