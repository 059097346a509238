"""Catalogs and their items: generated items plus the (asynchronous) writes made by API."""

from __future__ import annotations

import bisect
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
    # Indexes over the overlay, so a page is found without walking the catalog: generated items deleted
    # (sorted numbers), and the live items added by API in the order they came.
    deleted_numbers: list[int] = field(default_factory=list)
    added: dict[str, None] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.definition.name

    def write(self, identifier: str, record: dict[str, Any] | None) -> None:
        """Set an item in the overlay (None: deleted), keeping the indexes in step."""
        number = item_number(self.definition, identifier)
        self.overlay[identifier] = record
        if number is None:
            if record is None:
                self.added.pop(identifier, None)
            else:
                self.added.setdefault(identifier, None)
            return
        position = bisect.bisect_left(self.deleted_numbers, number)
        is_deleted = position < len(self.deleted_numbers) and self.deleted_numbers[position] == number
        if record is None and not is_deleted:
            self.deleted_numbers.insert(position, number)
        elif record is not None and is_deleted:
            del self.deleted_numbers[position]


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

    def item_ids(self, catalog: Catalog, start: int = 0, stop: int | None = None) -> Iterator[str]:
        """Item ids at positions [start, stop) in catalog order: generated ones, then those added by API."""
        definition = catalog.definition
        deleted = catalog.deleted_numbers
        live_generated = definition.item_count - len(deleted)
        stop = self.count(catalog) if stop is None else min(stop, self.count(catalog))
        position = start
        if position < live_generated:
            number = _nth_live(position, deleted)
            skipped = set(deleted)
            while position < min(stop, live_generated) and number < definition.item_count:
                if number not in skipped:
                    yield item_id(definition, number)
                    position += 1
                number += 1
        added = list(catalog.added)
        yield from added[max(0, position - live_generated) : max(0, stop - live_generated)]

    def count(self, catalog: Catalog) -> int:
        return catalog.definition.item_count - len(catalog.deleted_numbers) + len(catalog.added)

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
            catalog.write(identifier, item_record(catalog.name, identifier, new_value, now))
            catalog.extra_fields.update(name for name in value if name not in catalog.mappings)

        self.world.later(apply)

    def remove(self, catalog: Catalog, identifier: str) -> None:
        self.world.later(lambda: catalog.write(identifier, None))

    def undefined_fields(self, catalog: Catalog) -> list[str]:
        found = set(catalog.extra_fields)
        if catalog.definition.item_count and "legacyCode" not in catalog.mappings and catalog.name == "products":
            found.add("legacyCode")
        return sorted(name for name in found if name not in catalog.mappings)


def _nth_live(position: int, deleted: list[int]) -> int:
    """The generated item number at a live position, skipping the deleted numbers (sorted)."""
    number = position
    while True:
        shifted = position + bisect.bisect_right(deleted, number)
        if shifted == number:
            return number
        number = shifted
