"""Two-way synchronisation: decide, per key, what changed on which side since the last run, and apply it.

Each key's map entry holds the content hash both sides had when they last agreed. A side whose hash
still matches is unchanged; one that differs (or lost the key) changed. One side changed → the change is
applied to the other. Both changed → a conflict, resolved by the policy and logged with both versions.
Neither in the map → the first run: equal content matches, different content is a conflict, a key on one
side only is created on the other.

Writes to Iterable's catalogs land after a delay: the entry then remembers the pending content (or a
pending delete) and, for a grace period, Iterable still showing the old content is not a remote change.
A record that fails to apply keeps its old entry (so the difference is seen, and retried, next run) and
goes to the retry table with the reason.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from iterbridge.api.timestamps import parse_timestamp
from iterbridge.errors import ConfigurationError
from iterbridge.sync.sides import CatalogItemsSide, Record, TemplatesSide, content_hash
from iterbridge.sync.store import MapEntry, SyncStore

log = logging.getLogger("iterbridge.sync")

POLICIES = ("iterable", "database", "newest")
DELETED = "<deleted>"
PENDING_GRACE = timedelta(minutes=15)
TEMPLATE_LOOKBACK = timedelta(minutes=10)


@dataclass
class Counts:
    creates: int = 0
    updates: int = 0
    deletes: int = 0


@dataclass
class Action:
    key: str
    target: str  # the side written: "iterable" or "database"
    operation: str  # "create", "update", "delete", "match" (map only)
    record: Record | None  # the version written (None for deletes and matches)
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
    skipped: list[str] = field(default_factory=list)
    plan: list[Action] = field(default_factory=list)
    api_calls: int = 0

    @property
    def ok(self) -> bool:
        return self.left_to_retry == 0


def _changes_key(value: str) -> str:
    try:
        return json.dumps(json.loads(value), separators=(",", ":"))
    except json.JSONDecodeError:
        return value


class Synchronizer:
    def __init__(self, conn: Any, side: CatalogItemsSide | TemplatesSide, store: SyncStore, policy: str,
                 dry_run: bool, grace: timedelta = PENDING_GRACE) -> None:  # fmt: skip
        if policy not in POLICIES:
            raise ConfigurationError(f"--conflict must be one of {', '.join(POLICIES)}, not {policy!r}")
        self.conn = conn
        self.side = side
        self.store = store
        self.policy = policy
        self.dry_run = dry_run
        self.grace = grace
        self.report = SyncReport(side.stream, store.description, dry_run)

    # ---- reading both sides ------------------------------------------------------------------------------

    def run(self) -> SyncReport:
        calls_before = self.conn.client.calls
        spec = self.side.spec
        self.store.prepare(spec)
        state = self.store.state(self.side.stream)
        self.mapping = self.store.load_map(self.side.stream)
        last_run = parse_timestamp(state.get("last_run")) if state.get("last_run") else None
        changed_since = last_run - TEMPLATE_LOOKBACK if last_run and self.mapping else None
        self.now = self.conn.server_now()
        self.iterable = self._unique(self.side.iterable_records(changed_since), "Iterable")
        self.database = self._unique(
            (self.side.database_record(row) for row in self.store.rows(spec) if self.side.owns(row)), "the database"
        )
        log_times, newest_seq = self.store.changes_since(spec.name, int(state.get("change_seq") or 0))
        self.database_changed_at = {_changes_key(k): v for k, v in log_times.items()}
        actions = [a for key in sorted(set(self.iterable) | set(self.database) | set(self.mapping))
                   if (a := self._decide(key)) is not None]  # fmt: skip
        self.report.plan = actions
        if not self.dry_run:
            self._apply(actions)
            self.store.save_state(self.side.stream, {"last_run": self.now.isoformat(), "change_seq": newest_seq})
            self.store.commit()
        self._count(actions)
        self.report.left_to_retry = len(self.store.retries(self.side.stream))
        self.report.api_calls = self.conn.client.calls - calls_before
        return self.report

    def _unique(self, records: Any, where: str) -> dict[str, Record]:
        found: dict[str, Record] = {}
        duplicates: set[str] = set()
        for record in records:
            if record.key in found:
                duplicates.add(record.key)
            found[record.key] = record
        for key in duplicates:
            del found[key]
            self.report.skipped.append(f"{key}: the key appears more than once in {where}")
        return found

    # ---- deciding ----------------------------------------------------------------------------------------

    def _pending(self, entry: MapEntry) -> bool:
        if not entry.pending_hash or not entry.pending_at:
            return False
        started = parse_timestamp(entry.pending_at)
        return started is not None and self.now - started < self.grace

    def _iterable_status(self, entry: MapEntry | None, record: Record | None) -> str:
        """'new', 'absent', 'same' or 'changed' (a deletion is 'changed' with no record)."""
        if entry is None:
            return "new" if record else "absent"
        if entry.pending_hash == DELETED:
            if record is None or (self._pending(entry) and record.hash in (None, entry.iterable_hash)):
                return "same"  # our delete landed, or has not yet
            return "changed"
        if record is None:
            if entry.pending_hash and self._pending(entry) and entry.iterable_hash is None:
                return "same"  # our create has not landed yet
            return "changed"
        if record.content is None:
            return "same"  # not read: unchanged since the last run by its cursor
        if record.hash in (entry.iterable_hash, entry.pending_hash):
            return "same"
        return "changed"

    def _decide(self, key: str) -> Action | None:
        entry = self.mapping.get(key)
        mine = self.iterable.get(key)
        theirs = self.database.get(key)
        iterable = self._iterable_status(entry, mine)
        if entry is None:
            database = "new" if theirs else "absent"
        elif theirs is None:
            database = "same" if entry.database_hash is None else "changed"  # already gone at the last sync
        else:
            database = "same" if theirs.hash == entry.database_hash else "changed"
        if entry is None:
            if mine and theirs:
                if mine.hash == theirs.hash:
                    return Action(key, "database", "match", None, note="first run: matched")
                return self._conflict(key, mine, theirs)
            if mine:
                return Action(key, "database", "create", mine)
            if theirs:
                return Action(key, "iterable", "create", theirs)
            return None
        if iterable == "same" and database == "same":
            if entry.pending_hash and self._landed(entry, mine) and theirs is not None:
                return Action(key, "database", "match", None, note="our write landed in Iterable")
            if entry.pending_hash == DELETED and mine is None and theirs is None:
                return Action(key, "database", "forget", None, note="our delete landed in Iterable")
            return self._diverged(key, entry, mine, theirs)
        if iterable == "changed" and database == "same":
            return self._to_database(key, mine)
        if database == "changed" and iterable == "same":
            return self._to_iterable(key, entry, theirs)
        if mine is None and theirs is None:
            return Action(key, "database", "forget", None, note="deleted on both sides")
        if mine and theirs and mine.hash == theirs.hash:
            return Action(key, "database", "match", None, note="changed alike on both sides")
        return self._conflict(key, mine, theirs)

    @staticmethod
    def _landed(entry: MapEntry, mine: Record | None) -> bool:
        return mine is not None and mine.content is not None and mine.hash == entry.pending_hash

    def _diverged(self, key: str, entry: MapEntry, mine: Record | None, theirs: Record | None) -> Action | None:
        """Neither side changed since the last run, yet they differ: a write to Iterable that never landed."""
        if entry.pending_hash and not self._pending(entry):
            if entry.pending_hash == DELETED and mine is not None:
                return Action(key, "iterable", "delete", None, note="re-sent: the delete did not land")
            if theirs is not None and mine is not None and mine.content is not None and mine.hash != theirs.hash:
                return Action(key, "iterable", "update", theirs, note="re-sent: the write did not land")
        return None

    def _to_database(self, key: str, mine: Record | None) -> Action:
        if mine is None:
            return Action(key, "database", "delete", None)
        return Action(key, "database", "update", mine)

    def _to_iterable(self, key: str, entry: MapEntry, theirs: Record | None) -> Action:
        if theirs is None:
            return Action(key, "iterable", "delete", None)
        if theirs.iterable_id is None:
            theirs.iterable_id = entry.iterable_id
        return Action(key, "iterable", "update" if entry.iterable_id else "create", theirs)

    def _conflict(self, key: str, mine: Record | None, theirs: Record | None) -> Action:
        winner = self._winner(key, mine, theirs)
        entry = self.mapping.get(key)
        if winner == "iterable":
            action = self._to_database(key, mine) if entry else Action(key, "database", "update", mine)
        else:
            if entry:
                action = self._to_iterable(key, entry, theirs)
            else:
                operation = "update" if theirs and theirs.iterable_id else "create"
                action = Action(key, "iterable", operation, theirs)
            if mine is not None and theirs is not None and action.record is not None and not action.record.iterable_id:
                action.record.iterable_id = mine.iterable_id
                action.operation = "update"
        action.conflict = True
        action.note = f"conflict, {winner} wins ({self.policy})"
        if not self.dry_run:
            self.store.log_conflict(
                self.side.stream, key, mine.content if mine else None, theirs.content if theirs else None, action.note
            )
        return action

    def _winner(self, key: str, mine: Record | None, theirs: Record | None) -> str:
        if self.policy != "newest":
            return self.policy
        if mine is None or theirs is None:
            return "iterable" if mine is not None else "database"  # a change beats a deletion
        database_time = self.database_changed_at.get(_changes_key(json.dumps(self._log_key(theirs)))) or theirs.modified
        if mine.modified is None or database_time is None:
            return "database" if database_time is not None or mine.modified is None else "iterable"
        return "iterable" if mine.modified > database_time else "database"

    def _log_key(self, record: Record) -> list[Any]:
        row = record.row or self.side.database_row(record, self.now)
        return list(self.side.key_of_row(row))

    # ---- applying ----------------------------------------------------------------------------------------

    def _apply(self, actions: list[Action]) -> None:
        to_iterable = [a for a in actions if a.target == "iterable"]
        to_database = [a for a in actions if a.target == "database"]
        outcome: dict[str, str | None] = {}
        if to_iterable:
            upserts = [a.record for a in to_iterable if a.record is not None]
            deletes = [self.iterable.get(a.key) or Record(a.key, None, self._entry_id(a.key)) for a in to_iterable
                       if a.record is None]  # fmt: skip
            try:
                outcome = self.side.write_iterable(upserts, deletes)
            except Exception as error:
                outcome = {a.key: f"{type(error).__name__}: {error}" for a in to_iterable}
        for action in to_iterable:
            reason = outcome.get(action.key)
            if reason:
                self._fail(action, reason)
            else:
                self._done_iterable(action)
        self.store.set_session(True)
        try:
            for action in to_database:
                self._apply_database(action)
        finally:
            self.store.set_session(False)

    def _entry_id(self, key: str) -> str | None:
        entry = self.mapping.get(key)
        return entry.iterable_id if entry else None

    def _done_iterable(self, action: Action) -> None:
        old = self.mapping.get(action.key)
        mine = self.iterable.get(action.key)
        if action.record is None:  # a delete sent
            entry = MapEntry(action.key, old.iterable_id if old else None, mine.hash if mine else None,
                             None, None, DELETED, self.now.isoformat())  # fmt: skip
        else:
            sent = action.record
            entry = MapEntry(
                action.key,
                sent.iterable_id or (old.iterable_id if old else None),
                mine.hash if mine and mine.content is not None else (old.iterable_hash if old else None),
                sent.hash,
                None,
                sent.hash,
                self.now.isoformat(),
            )
        self.store.save_entry(self.side.stream, entry)
        self.store.clear_failure(self.side.stream, action.key)

    def _apply_database(self, action: Action) -> None:
        spec = self.side.spec
        mine = self.iterable.get(action.key)
        theirs = self.database.get(action.key)
        try:
            if action.operation == "forget":
                self.store.drop_entry(self.side.stream, action.key)
                return
            if action.operation == "delete":
                if theirs is not None and theirs.row is not None:
                    self.store.target.delete(spec, [self.side.key_of_row(theirs.row)])
                self.store.drop_entry(self.side.stream, action.key)
            elif action.operation in ("create", "update"):
                assert action.record is not None
                row = self.side.database_row(action.record, self.now)
                self.store.target.upsert(spec, [row])
                written = content_hash(self.side.database_record(self._reread(row)).content or {})
                entry = MapEntry(action.key, action.record.iterable_id, action.record.hash, written,
                                 _iso(action.record.modified), None, None)  # fmt: skip
                self.store.save_entry(self.side.stream, entry)
            else:  # a match: both sides hold the same content
                assert mine is not None
                assert theirs is not None
                entry = MapEntry(action.key, mine.iterable_id, mine.hash, theirs.hash, _iso(mine.modified), None, None)
                self.store.save_entry(self.side.stream, entry)
            self.store.commit()
            self.store.clear_failure(self.side.stream, action.key)
            self.store.commit()
        except Exception as error:
            self._rollback()
            self._fail(action, f"{type(error).__name__}: {str(error).splitlines()[0]}")

    def _reread(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row as the database returns it (types normalised), to hash what is really stored."""
        key = self.side.key_of_row(row)
        for stored in self.store.rows(self.side.spec):
            if self.side.owns(stored) and self.side.key_of_row(stored) == key:
                return stored
        return row

    def _rollback(self) -> None:
        from iterbridge.replicate.targets import SqlAlchemyTarget

        target = self.store.target
        if isinstance(target, SqlAlchemyTarget):
            target.connection.rollback()

    def _fail(self, action: Action, reason: str) -> None:
        log.warning(
            "%s %s: could not %s in %s: %s", self.side.stream, action.key, action.operation, action.target, reason
        )
        self.report.failed += 1
        self.store.record_failure(self.side.stream, action.key, action.target, action.operation, reason)
        self.store.commit()

    def _count(self, actions: list[Action]) -> None:
        for action in actions:
            if action.conflict:
                self.report.conflicts += 1
            if action.operation == "match":
                self.report.matched += 1
                continue
            counts = self.report.to_iterable if action.target == "iterable" else self.report.to_database
            if action.operation == "create":
                counts.creates += 1
            elif action.operation == "update":
                counts.updates += 1
            elif action.operation == "delete":
                counts.deletes += 1


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def sync(
    conn: Any,
    object_name: str,
    with_url: str,
    *,
    catalog: str | None = None,
    mediums: list[str] | None = None,
    table: str | None = None,
    conflict: str = "newest",
    dry_run: bool = False,
    grace: timedelta = PENDING_GRACE,
) -> SyncReport:
    """Synchronise CatalogItems (of one catalog) or Templates (Base templates) with a database table."""
    name = object_name.lower()
    side: CatalogItemsSide | TemplatesSide
    if name == "catalogitems":
        side = CatalogItemsSide(conn, catalog or "", table)
    elif name == "templates":
        side = TemplatesSide(conn, mediums, table)
    else:
        raise ConfigurationError(f"sync supports CatalogItems and Templates, not {object_name!r}")
    store = SyncStore(with_url)
    try:
        return Synchronizer(conn, side, store, conflict, dry_run, grace).run()
    finally:
        store.close()
