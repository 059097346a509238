"""The metadata API's key-value tables (named tables of keys, each holding a JSON object)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from iterbridge.sandbox.world import World


class MetadataStore:
    def __init__(self, world: World) -> None:
        self.world = world
        self.tables: dict[str, dict[str, tuple[dict[str, Any], int]]] = {}

    def put(self, table: str, key: str, value: dict[str, Any]) -> None:
        now = self.world.now()
        self.world.later(lambda: self.tables.setdefault(table, {}).__setitem__(key, (value, now)))

    def entry(self, table: str, key: str, value: dict[str, Any], modified_ms: int) -> dict[str, Any]:
        return {"table": table, "key": key, "size": len(orjson.dumps(value)), "lastModified": modified_ms}
