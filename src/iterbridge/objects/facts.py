"""What an object declares for the jobs beyond its columns and readers: how replication keeps it current, how a
read of it is made and what it costs (EXPLAIN), and how it splits into tables.

Each object module states these facts on its `ObjectDef`; the jobs read them there and never key anything by an
object's name, so adding an object is one module and one registry line.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iterbridge.objects.session import Session


@dataclass(frozen=True)
class Replication:
    """How replication keeps an object's table current.

    `mode`: "incremental" (only what is new since the stored cursor is written) or "full" (everything is read,
    what changed is written). `sweep`: the read lists every key, so rows whose key Iterable no longer has are
    deleted from the copy (never for reads that see only a time window). `skip_current`: rows whose cursor equals
    the copy's are neither read in detail nor written (reading their details costs a request each)."""

    mode: str
    sweep: bool
    skip_current: bool = False


@dataclass(frozen=True)
class Derivation:
    """Rows of an object that a complete read of another object already carries (list members in users'
    emailListIds): a replication reading both takes them from that read and reads through the object's own
    endpoint (rate-limited: one call per list at 5/min) only the rest.

    `source`: the other object. `column`: the key column whose values the source covers or not. `plan(session)`:
    (the values the source covers, the others), asked before the reads start; the others are read as
    `column IN others`. `rows(source_row, covered)`: the rows one source row gives for the covered values.
    `noun`: what a value of `column` is, for the report. `reads`: the source's columns `rows` looks at (empty: it
    may look at any), so a columnar read makes dicts of those alone. `batch(source_batch, covered)`: the rows
    `rows` gives for a whole Arrow batch of the source, as an Arrow batch, or None where they must be made a
    source row at a time."""

    source: str
    column: str
    noun: str
    plan: Callable[[Session], tuple[list[Any], list[Any]]]
    rows: Callable[[Mapping[str, Any], Collection[Any]], Iterator[dict[str, Any]]]
    reads: tuple[str, ...] = ()
    batch: Callable[[Any, Collection[Any]], Any | None] | None = None


@dataclass(frozen=True)
class TableSplit:
    """An object replicated as one table per value of a column (`OBJECT_value`), each value's rows read apart.
    `noun` and `example` name such a table in messages ("one event table, e.g. Events_emailOpen")."""

    column: str
    values: tuple[str, ...]
    noun: str
    example: str

    def table(self, object_name: str, value: str) -> str:
        return f"{object_name}_{value}"


@dataclass(frozen=True)
class Pushdown:
    """A planned read as EXPLAIN sees it in SQLite's plan, before any data: the operator pushed per column ("=",
    "in", ">=" …), the columns used, whether a LIMIT is consumed, whether extended requests may be made."""

    pushed: Mapping[str, str]
    used: Collection[str] = frozenset()
    limit: bool = False
    extended: bool = True

    def by_value(self, *columns: str) -> str | None:
        """The first of these columns pushed as = or IN, if any."""
        return next((c for c in columns if self.pushed.get(c) in ("=", "in")), None)

    def per_value(self, column: str) -> tuple[str, int | None]:
        """Calls of a read made once per value of a column: (in words, the number when the plan tells it)."""
        return ("1", 1) if self.pushed.get(column) == "=" else ("1 per value", None)


@dataclass(frozen=True)
class ReadCost:
    """How a read is made and what it costs, in words for EXPLAIN."""

    endpoint: str  # what is called
    calls: str  # how many calls
    limited: str  # the endpoint whose rate limit paces the calls
    count: int | None = None  # the number of calls when the plan alone tells it


Costing = Callable[[Pushdown], ReadCost]
# A skipped slice of a read (Connection.skip's part) → the key column and value whose rows it covers; None when
# what it held is unknown (a deletion sweep then cannot run).
SkippedPart = Callable[[str], tuple[str, Any] | None]


def one_call(endpoint: str) -> Costing:
    """The cost of a read that is one request answering every record (a listing)."""
    return lambda pushdown: ReadCost(endpoint, "1", endpoint, 1)


# What an object that declares nothing else gets: its read is one request; replication reads it whole and
# deletes the rows of keys Iterable no longer lists.
ONE_REQUEST = one_call("GET")
FULL_SWEPT = Replication("full", sweep=True)
