"""What the sync decides, as values: the side an action writes, the change it makes, the conflict policy.
Their text is what reports, logs and the sync's own tables show and store (`_iterbridge_sync_retries`)."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """The side an action writes; MAP: the map alone (both sides already agree)."""

    ITERABLE = "iterable"
    DATABASE = "database"
    MAP = "map"


class ActionKind(StrEnum):
    """What an action does: CREATE, UPDATE, DELETE a record; MATCH (first sight, or changed alike), CONFIRM (a
    pending write landed in Iterable), FORGET (gone from both sides) only touch the map."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    MATCH = "match"
    CONFIRM = "confirm"
    FORGET = "forget"


class Policy(StrEnum):
    """Who wins a conflict: always Iterable, always the database, or the newest change."""

    ITERABLE = "iterable"
    DATABASE = "database"
    NEWEST = "newest"
