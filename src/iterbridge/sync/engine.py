"""Two-way synchronisation: decide, per key, what changed on which side since the last run, and apply it.

Each key's map entry holds the content hash both sides had when they last agreed. A side whose content
still hashes the same is unchanged; one that differs (or lost the key) changed. One side changed → the
change is applied to the other. Both changed → a conflict, resolved by the policy (`iterable`, `database`,
or `newest`: the later change wins, a change beats a deletion) and logged with both versions. A key
without an entry is seen for the first time: equal content on both sides is matched, different content is
a conflict, a key on one side only is created on the other.

`newest` compares Iterable's LastModified / UpdatedAt with the time the database row changed: the latest
entry of the change log where the sync's triggers keep one (SQLite, PostgreSQL), else the row's own
timestamp column. Database times are moved onto Iterable's clock by the difference between the two clocks,
measured when the run starts.

Writes to Iterable's catalogs land after a delay: the entry then also holds the content sent (or a
pending delete). Until Iterable shows it, Iterable still showing the old content is not a remote change;
once it shows it, the entry is confirmed; if it still does not after a grace period, the write is sent
again (Iterable cannot tell a write that never landed from one undone there meanwhile: the sync assumes
the former, so nothing of the database's is lost).

A record that fails to apply keeps its old entry, so the difference is seen (and the write retried) on the
next run even if nothing changed; the retry table lists the failures of the latest run with the reasons.
Database writes go in batches, each one transaction with its map entries, so a run killed at any moment
leaves a state the next run completes: no write is half-recorded.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from iterbridge.api.timestamps import floor_millisecond, iso_text, timestamp_or_none
from iterbridge.errors import ConfigurationError
from iterbridge.objects.catalog_items import CATALOG_ITEMS
from iterbridge.objects.templates import TEMPLATES
from iterbridge.replicate.targets import one_line
from iterbridge.sync.kinds import ActionKind, Policy, Side
from iterbridge.sync.sides import SYNCED_OBJECTS, CatalogItemsSide, Record, TemplatesSide
from iterbridge.sync.store import Failure, MapEntry, SyncStore

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

log = logging.getLogger("iterbridge.sync")

POLICIES = tuple(policy.value for policy in Policy)
OWN_TABLES = "_iterbridge_"  # the prefix of the tables replication and sync keep for themselves
DELETED = "<deleted>"  # the pending "content" of a delete sent to Iterable
PENDING_GRACE = timedelta(minutes=15)
TEMPLATE_LOOKBACK = timedelta(minutes=10)
BATCH = 1000  # database writes per transaction


class State(Enum):
    """How a side stands against its map entry."""

    SAME = "same"
    CHANGED = "changed"
    LANDED = "landed"  # our pending write shows in Iterable
    WAITING = "waiting"  # Iterable still shows what it had before our pending write


@dataclass
class Counts:
    creates: int = 0
    updates: int = 0
    deletes: int = 0
    conflicts: int = 0  # conflicts resolved by writing this side


@dataclass
class Action:
    key: str
    target: Side  # the side written, or the map alone (both sides agree)
    operation: ActionKind
    record: Record | None  # the version written (None for deletes and map-only actions)
    conflict: bool = False
    note: str = ""


@dataclass
class SyncReport:
    stream: str
    database: str
    dry_run: bool
    to_iterable: Counts = field(default_factory=Counts)
    to_database: Counts = field(default_factory=Counts)
    matched: int = 0
    conflicts: int = 0
    failed: int = 0
    left_to_retry: int = 0
    failures: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    plan: list[Action] = field(default_factory=list)
    api_calls: int = 0

    @property
    def ok(self) -> bool:
        return self.left_to_retry == 0


class _ChangedMeanwhile(Exception):
    """Rows a user changed in the database while the sync was writing them: left for the next run."""

    def __init__(self, keys: set[str]) -> None:
        super().__init__(", ".join(sorted(keys)))
        self.keys = keys


class Synchronizer:
    def __init__(
        self,
        conn: Session,
        side: CatalogItemsSide | TemplatesSide,
        store: SyncStore,
        policy: Policy,
        dry_run: bool,
        grace: timedelta = PENDING_GRACE,
    ) -> None:
        self.conn = conn
        self.side = side
        self.store = store
        self.policy = policy
        self.dry_run = dry_run
        self.grace = grace
        self.report = SyncReport(side.stream, store.description, dry_run)
        self.failures: dict[str, Failure] = {}
        self.applied: list[Action] = []
        self.ambiguous: set[str] = set()  # keys found twice on a side: left alone

    # ---- reading both sides ------------------------------------------------------------------------------

    def run(self) -> SyncReport:
        with _collector_paused():
            return self._run()

    def _run(self) -> SyncReport:
        self.store.prepare(self.side.spec)
        self._read()
        actions = [a for key in sorted(self.keys) if (a := self._decide(key)) is not None]
        self.report.plan = actions
        if self.dry_run:
            self._count(actions)
            self.report.left_to_retry = len(self.retry_keys)
        else:
            self._apply(actions)
            self._count(self.applied)
            self._finish()
            self.report.left_to_retry = len(self.failures)
        self.report.failures = list(self.failures.values())
        self.report.failed = len(self.failures)
        return self.report

    def _read(self) -> None:
        """Both sides as keyed records, the map, and when the database's rows changed (its change log)."""
        side, store = self.side, self.store
        self.mapping = store.load_map(side.stream)
        self.retry_keys = set(store.retries(side.stream))
        last_run = timestamp_or_none(store.state(side.stream).get("last_run"))
        changed_since = last_run - TEMPLATE_LOOKBACK if last_run and self.mapping else None
        started = time.monotonic()
        iterable = list(side.iterable_records(changed_since))
        # Iterable's clock when the read began (its Date headers are known by now): the next cursor.
        # At Iterable's precision: `now` becomes rows' UpdatedAt/LastModified and the map's times.
        self.now = floor_millisecond(self.conn.server_now() - timedelta(seconds=time.monotonic() - started))
        database = [side.database_record(row) for row in store.rows(side.spec) if side.owns(row)]
        # Database times (change log, row timestamps) are compared on Iterable's clock.
        self.clock_offset = self.conn.server_now() - store.now()
        side.rekey(iterable, database, self.mapping)
        side.complete([r for r in iterable if r.content is None and self._must_read(r.key)])
        self.iterable = self._unique(iterable, "Iterable")
        self.database = self._unique(database, "the database")
        known = set(self.iterable) | set(self.database) | set(self.mapping)
        self.keys = known - self.ambiguous
        self.changes = [(c, key) for c in store.changes(side.spec.name) if (key := side.key_of_log(c.key)) in known]
        self.last_seq = max((c.seq for c, _ in self.changes), default=0)
        latest: dict[str, datetime] = {}
        for change, key in self.changes:
            latest[key] = max(latest.get(key, change.at), change.at)
        self.changed_at = {key: moment + self.clock_offset for key, moment in latest.items()}

    def _must_read(self, key: str) -> bool:
        """A template listed without its extended fields must be read whole when the sync has to compare it:
        new to the map, left to retry, or with a write of ours to confirm."""
        entry = self.mapping.get(key)
        return entry is None or key in self.retry_keys or bool(entry.pending_hash) or entry.iterable_hash is None

    def _unique(self, records: list[Record], where: str) -> dict[str, Record]:
        found: dict[str, Record] = {}
        duplicates: set[str] = set()
        for record in records:
            if record.key in found:
                duplicates.add(record.key)
            found[record.key] = record
        for key in sorted(duplicates):
            del found[key]
            self.report.skipped.append(f"{key}: the key appears more than once in {where}; left alone")
        self.ambiguous |= duplicates  # neither side is touched: one of them would look deleted
        return found

    # ---- deciding ----------------------------------------------------------------------------------------

    def _decide(self, key: str) -> Action | None:
        entry = self.mapping.get(key)
        mine = self.iterable.get(key)
        theirs = self.database.get(key)
        if entry is None:
            return self._first_sight(key, mine, theirs)
        iterable = self._iterable_state(entry, mine)
        database = State.SAME if _hash(theirs) == entry.database_hash else State.CHANGED
        if database is State.SAME:
            if iterable is State.CHANGED:
                return self._to_database(key, mine, theirs)
            if iterable is State.LANDED:
                if mine is None and theirs is None:
                    return Action(key, Side.MAP, ActionKind.FORGET, None, note="our delete landed in Iterable")
                return Action(key, Side.MAP, ActionKind.CONFIRM, None, note="our write landed in Iterable")
            if iterable is State.WAITING and not self._within_grace(entry):
                action = self._to_iterable(key, mine, theirs)
                action.note = "re-sent: the earlier write had not landed in Iterable"
                return action
            return None
        if iterable is not State.CHANGED:
            return self._to_iterable(key, mine, theirs)
        if mine is None and theirs is None:
            return Action(key, Side.MAP, ActionKind.FORGET, None, note="deleted on both sides")
        if mine is not None and theirs is not None and mine.hash == theirs.hash:
            return Action(key, Side.MAP, ActionKind.MATCH, None, note="changed alike on both sides")
        return self._conflict(key, mine, theirs)

    def _iterable_state(self, entry: MapEntry, mine: Record | None) -> State:
        if mine is not None and mine.content is None:
            return State.SAME  # listed, not read: unchanged since the last run by its cursor
        current = _hash(mine)
        if entry.pending_hash:
            if current == (None if entry.pending_hash == DELETED else entry.pending_hash):
                return State.LANDED
            return State.WAITING if current == entry.iterable_hash else State.CHANGED
        return State.SAME if current == entry.iterable_hash else State.CHANGED

    def _within_grace(self, entry: MapEntry) -> bool:
        sent = timestamp_or_none(entry.pending_at)
        return sent is not None and self.now - sent < self.grace

    def _first_sight(self, key: str, mine: Record | None, theirs: Record | None) -> Action | None:
        if mine is not None and theirs is not None:
            if mine.hash == theirs.hash:
                return Action(key, Side.MAP, ActionKind.MATCH, None, note="first sight: matched")
            return self._conflict(key, mine, theirs)
        if mine is not None:
            return self._to_database(key, mine, None)
        if theirs is not None:
            return self._to_iterable(key, None, theirs)
        return None

    def _to_database(self, key: str, mine: Record | None, theirs: Record | None) -> Action:
        if mine is None:
            return (
                Action(key, Side.DATABASE, ActionKind.DELETE, None)
                if theirs
                else Action(key, Side.MAP, ActionKind.FORGET, None)
            )
        return Action(key, Side.DATABASE, ActionKind.UPDATE if theirs else ActionKind.CREATE, mine)

    def _to_iterable(self, key: str, mine: Record | None, theirs: Record | None) -> Action:
        if theirs is None:
            return Action(key, Side.ITERABLE, ActionKind.DELETE, None)
        # Update the template Iterable has (by its id); where it has none, create one.
        sent = replace(theirs, iterable_id=mine.iterable_id if mine else None)
        return Action(key, Side.ITERABLE, ActionKind.UPDATE if mine else ActionKind.CREATE, sent)

    def _conflict(self, key: str, mine: Record | None, theirs: Record | None) -> Action:
        winner, why = self._winner(key, mine, theirs)
        action = (
            self._to_database(key, mine, theirs) if winner is Side.ITERABLE else self._to_iterable(key, mine, theirs)
        )
        action.conflict = True
        action.note = f"conflict: {winner} wins ({why})"
        return action

    def _winner(self, key: str, mine: Record | None, theirs: Record | None) -> tuple[Side, str]:
        if self.policy is not Policy.NEWEST:
            return Side(self.policy.value), f"--conflict {self.policy}"
        if mine is None or theirs is None:
            return (Side.ITERABLE if mine is not None else Side.DATABASE), "newest: a change beats a deletion"
        iterable_time = mine.modified
        database_time = self.changed_at.get(key)
        if database_time is None and theirs.modified is not None:
            database_time = theirs.modified + self.clock_offset  # no trigger saw it: the row's own timestamp
        if database_time is not None and (iterable_time is None or database_time > iterable_time):
            return Side.DATABASE, f"newest: changed at {_iso(database_time)}, Iterable at {_iso(iterable_time)}"
        return Side.ITERABLE, f"newest: changed at {_iso(iterable_time)}, the database at {_iso(database_time)}"

    # ---- applying ----------------------------------------------------------------------------------------

    def _apply(self, actions: list[Action]) -> None:
        self._apply_iterable([a for a in actions if a.target is Side.ITERABLE])
        rest = [a for a in actions if a.target is not Side.ITERABLE]
        for start in range(0, len(rest), BATCH):
            self._apply_database(rest[start : start + BATCH])

    def _apply_iterable(self, actions: list[Action]) -> None:
        if not actions:
            return
        upserts = [a.record for a in actions if a.record is not None]
        deletes = [Record(a.key, None, self._iterable_id(a.key)) for a in actions if a.record is None]
        try:
            outcome = self.side.write_iterable(upserts, deletes)
        except Exception as error:  # Iterable unreachable after retries, …: every write of the run is retried
            outcome = {a.key: one_line(error) for a in actions}
        done = []
        for action in actions:
            reason = outcome.get(action.key, "Iterable gave no answer for it")
            if reason:
                self._fail(action, reason)
            else:
                done.append(action)
        for start in range(0, len(done), BATCH):
            self._record_iterable(done[start : start + BATCH])

    def _record_iterable(self, actions: list[Action]) -> None:
        """The map entries of writes Iterable accepted (pending until it shows them), and for a created
        template its new Id on the database row."""
        try:
            with self.store.transaction():
                for action in actions:
                    theirs = self.database.get(action.key)
                    created = (
                        action.record.iterable_id if action.record and action.operation is ActionKind.CREATE else None
                    )
                    if created and theirs is not None and theirs.row is not None:
                        columns = self.side.id_columns(created)
                        if columns and any(theirs.row.get(c) != v for c, v in columns.items()):
                            self.store.update(self.side.spec, self.side.identity(theirs.row), columns)
                self.store.save_entries(self.side.stream, [self._pending_entry(a) for a in actions])
                self._log_conflicts(actions)
        except Exception as error:
            if len(actions) > 1:
                for action in actions:
                    self._record_iterable([action])
                return
            reason = self.store.error_text(error)
            self._fail(actions[0], f"written to Iterable, but not recorded in the database: {reason}")
            return
        self.applied += actions

    def _iterable_id(self, key: str) -> str | None:
        mine = self.iterable.get(key)
        entry = self.mapping.get(key)
        return mine.iterable_id if mine else entry.iterable_id if entry else None

    def _pending_entry(self, action: Action) -> MapEntry:
        old = self.mapping.get(action.key)
        mine = self.iterable.get(action.key)
        if mine is None:
            iterable_hash = None
        else:
            iterable_hash = mine.hash if mine.content is not None else old.iterable_hash if old else None
        sent = action.record
        return MapEntry(
            action.key,
            (sent.iterable_id if sent else None) or self._iterable_id(action.key),
            iterable_hash,
            sent.hash if sent else None,
            old.iterable_modified if old else None,
            sent.hash if sent else DELETED,
            iso_text(self.now),
        )

    def _apply_database(self, actions: list[Action]) -> None:
        """One batch in one transaction; a batch that fails is applied action by action to find the culprit."""
        try:
            with self.store.transaction():
                self._write_database(actions)
                self._check_untouched(actions)
        except _ChangedMeanwhile as changed:
            for key in sorted(changed.keys):
                self.report.skipped.append(f"{key}: changed in the database during the sync; synced next run")
            rest = [a for a in actions if a.key not in changed.keys]
            if rest:
                self._apply_database(rest)
            return
        except Exception as error:
            if len(actions) > 1:
                for action in actions:
                    self._apply_database([action])
                return
            self._fail(actions[0], self.store.error_text(error))
            return
        self.applied += actions

    def _write_database(self, actions: list[Action]) -> None:
        side, store, spec = self.side, self.store, self.side.spec
        upserts: list[tuple[Action, dict[str, Any]]] = []
        deletes: list[dict[str, Any]] = []
        entries: list[MapEntry] = []
        dropped: list[str] = []
        for action in actions:
            mine = self.iterable.get(action.key)
            theirs = self.database.get(action.key)
            if action.operation in (ActionKind.CREATE, ActionKind.UPDATE):
                assert action.record is not None
                row = side.database_row(action.record, self.now)
                if (
                    theirs is not None
                    and theirs.row is not None
                    and side.key_of_row(theirs.row) != side.key_of_row(row)
                ):
                    # A row without its key yet (a template without ClientTemplateId): give it the key first.
                    identity = side.identity(theirs.row)
                    if not identity:
                        raise ValueError("the row has neither a key nor an Id to be found by")
                    store.update(spec, identity, dict(zip(spec.key, side.key_of_row(row), strict=True)))
                upserts.append((action, row))
            elif action.operation is ActionKind.DELETE:
                if theirs is not None and theirs.row is not None:
                    identity = side.identity(theirs.row)
                    if not identity:
                        raise ValueError("the row has neither a key nor an Id to be found by")
                    deletes.append(identity)
                dropped.append(action.key)
            elif action.operation is ActionKind.FORGET:
                dropped.append(action.key)
            else:  # match, confirm: both sides hold the same content
                assert mine is not None
                assert theirs is not None
                entries.append(
                    MapEntry(action.key, mine.iterable_id, mine.hash, theirs.hash, _iso(mine.modified), None, None)
                )
        store.delete(spec, deletes)
        store.upsert(spec, [row for _, row in upserts])
        # Hash what the database really stored (its types), so an unchanged row compares equal next run.
        stored = {side.key_of_row(r): r for r in store.rows_with_keys(spec, [side.key_of_row(r) for _, r in upserts])}
        for action, row in upserts:
            assert action.record is not None
            found = stored.get(side.key_of_row(row))
            if found is None:
                raise ValueError("the row was written but cannot be read back")
            written = side.database_record(found).hash
            entries.append(
                MapEntry(
                    action.key,
                    action.record.iterable_id,
                    action.record.hash,
                    written,
                    _iso(action.record.modified),
                    None,
                    None,
                )
            )
        store.drop_entries(side.stream, dropped)
        store.save_entries(side.stream, entries)
        self._log_conflicts(actions)

    def _check_untouched(self, actions: list[Action]) -> None:
        """Rows a user changed after the sync read them would be overwritten: the change log says which."""
        written = {a.key for a in actions if a.target is Side.DATABASE}
        if not written or not self.store.triggers:
            return
        changed = {self.side.key_of_log(c.key) for c in self.store.changes(self.side.spec.name, self.last_seq)}
        meanwhile = {k for k in changed if k in written}
        if meanwhile:
            raise _ChangedMeanwhile(meanwhile)

    def _log_conflicts(self, actions: Iterable[Action]) -> None:
        conflicts = []
        for action in actions:
            if action.conflict:
                mine = self.iterable.get(action.key)
                theirs = self.database.get(action.key)
                conflicts.append(
                    (action.key, mine.content if mine else None, theirs.content if theirs else None, action.note)
                )
        self.store.log_conflicts(self.side.stream, conflicts)

    def _fail(self, action: Action, reason: str) -> None:
        log.warning(
            "%s %s: could not %s in %s: %s", self.side.stream, action.key, action.operation, action.target, reason
        )
        self.failures[action.key] = Failure(action.key, action.target, action.operation, reason)

    def _finish(self) -> None:
        """The retry table, the change log entries used, the cursor — together."""
        used = [c.seq for c, key in self.changes if key not in self.failures]
        with self.store.transaction():
            self.store.replace_retries(self.side.stream, list(self.failures.values()))
            self.store.forget_changes(used)
            self.store.save_state(self.side.stream, {"last_run": iso_text(self.now)})

    def _count(self, actions: Sequence[Action]) -> None:
        for action in actions:
            if action.conflict:
                self.report.conflicts += 1
            if action.operation is ActionKind.MATCH:
                self.report.matched += 1
            if action.target is Side.MAP:
                continue
            counts = self.report.to_iterable if action.target is Side.ITERABLE else self.report.to_database
            counts.conflicts += action.conflict
            if action.operation is ActionKind.CREATE:
                counts.creates += 1
            elif action.operation is ActionKind.UPDATE:
                counts.updates += 1
            elif action.operation is ActionKind.DELETE:
                counts.deletes += 1


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a run holds both sides in memory: every pass of the collector
    walks all their records again (a third of a no-change sync of 50,000 items), and the records form no
    cycles for it to find. Reference counting still frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _hash(record: Record | None) -> str | None:
    return None if record is None else record.hash


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso_text(moment)


def sync(
    conn: Session,
    object_name: str,
    with_url: str,
    *,
    catalog: str | None = None,
    mediums: list[str] | None = None,
    table: str | None = None,
    conflict: Policy | str = Policy.NEWEST,
    dry_run: bool = False,
    grace: timedelta = PENDING_GRACE,
) -> SyncReport:
    """Synchronise CatalogItems (of one catalog) or Templates (Base templates) with a database table."""
    if table is not None and table.lower().startswith(OWN_TABLES):
        raise ConfigurationError(
            f"--table {table!r}: tables named {OWN_TABLES}… are iterbridge's own bookkeeping (state, sync map, "
            "change log); choose another name"
        )
    name = object_name.lower()
    side: CatalogItemsSide | TemplatesSide
    if name == CATALOG_ITEMS.name.lower():
        side = CatalogItemsSide(conn, catalog or "", table)
    elif name == TEMPLATES.name.lower():
        side = TemplatesSide(conn, mediums, table)
    else:
        raise ConfigurationError(f"sync supports {' and '.join(SYNCED_OBJECTS)}, not {object_name!r}")
    try:
        policy = Policy(conflict)
    except ValueError:
        raise ConfigurationError(f"--conflict must be one of {', '.join(POLICIES)}, not {conflict!r}") from None
    calls_before = conn.client.calls
    side.check()  # before the database is touched
    store = SyncStore(with_url, create=not dry_run)
    try:
        report = Synchronizer(conn, side, store, policy, dry_run, grace).run()
    finally:
        store.close()
    report.api_calls = conn.client.calls - calls_before
    return report
