"""Catalogs and their items: generated items plus the (asynchronous) writes made by API."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iterbridge.sandbox.data.catalogs import generated_item, item_id, item_number, item_record
from iterbridge.sandbox.data.project import CatalogDef

if TYPE_CHECKING:
    from iterbridge.sandbox.world import World


@dataclass
class Catalog:
    definition: CatalogDef
    mappings: dict[str, Any]
    overlay: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # itemId → record, None = deleted
    extra_fields: set[str] = field(default_factory=set)  # written fields without a mapping

    @property
    def name(self) -> str:
        return self.definition.name


class CatalogStore:
    def __init__(self, world: World) -> None:
        self.world = world
        self.catalogs: dict[str, Catalog] = {
            d.name.lower(): Catalog(d, copy.deepcopy(d.mappings)) for d in world.project.catalogs
        }

    def get(self, name: str) -> Catalog | None:
        return self.catalogs.get(name.lower())

    def names(self) -> list[str]:
        return [c.name for c in self.catalogs.values()]

    def create(self, name: str) -> None:
        definition = CatalogDef(name, 0, "item", {}, self.world.now())
        self.catalogs[name.lower()] = Catalog(definition, {})

    def delete(self, name: str) -> None:
        self.catalogs.pop(name.lower(), None)

    # ---- items ------------------------------------------------------------------------------------------

    def item(self, catalog: Catalog, identifier: str) -> dict[str, Any] | None:
        if identifier in catalog.overlay:
            return catalog.overlay[identifier]
        number = item_number(catalog.definition, identifier)
        if number is None:
            return None
        return generated_item(self.world.project, catalog.definition, number)

    def item_ids(self, catalog: Catalog) -> Iterator[str]:
        """Item ids in catalog order: generated ones, then those added by API."""
        definition = catalog.definition
        overlay = catalog.overlay
        for number in range(definition.item_count):
            identifier = item_id(definition, number)
            if overlay.get(identifier, True) is not None:
                yield identifier
        for identifier, record in list(overlay.items()):
            if record is not None and item_number(definition, identifier) is None:
                yield identifier

    def count(self, catalog: Catalog) -> int:
        definition = catalog.definition
        deleted = sum(1 for i, r in catalog.overlay.items() if r is None and item_number(definition, i) is not None)
        added = sum(1 for i, r in catalog.overlay.items() if r is not None and item_number(definition, i) is None)
        return definition.item_count - deleted + added

    def items(self, catalog: Catalog) -> Iterator[dict[str, Any]]:
        for identifier in self.item_ids(catalog):
            record = self.item(catalog, identifier)
            if record is not None:
                yield record

    def put(self, catalog: Catalog, identifier: str, value: dict[str, Any], *, merge: bool) -> None:
        """Create or replace an item (merge=True: PATCH semantics, fields merged into the current value)."""
        now = self.world.now()

        def apply() -> None:
            current = self.item(catalog, identifier)
            new_value = copy.deepcopy(current["value"]) if merge and current else {}
            new_value.update(copy.deepcopy(value))
            catalog.overlay[identifier] = item_record(catalog.name, identifier, new_value, now)
            catalog.extra_fields.update(name for name in value if name not in catalog.mappings)

        self.world.later(apply)

    def remove(self, catalog: Catalog, identifier: str) -> None:
        self.world.later(lambda: catalog.overlay.__setitem__(identifier, None))

    def undefined_fields(self, catalog: Catalog) -> list[str]:
        found = set(catalog.extra_fields)
        if catalog.definition.item_count and "legacyCode" not in catalog.mappings and catalog.name == "products":
            found.add("legacyCode")
        return sorted(name for name in found if name not in catalog.mappings)
