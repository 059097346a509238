"""Generated catalog items: item n of a catalog is a pure function of (seed, catalog, n)."""

from __future__ import annotations

from typing import Any

import orjson

from iterbridge.sandbox.data import words
from iterbridge.sandbox.data.project import CatalogDef, Project
from iterbridge.sandbox.data.rand import Rng, derive, text_key
from iterbridge.sandbox.data.timefmt import DAY_MS, iterable_time

K_ITEMS = 40


def item_id(catalog: CatalogDef, number: int) -> str:
    return f"{catalog.id_prefix}-{number:06d}"


def item_number(catalog: CatalogDef, identifier: str) -> int | None:
    prefix = f"{catalog.id_prefix}-"
    if not identifier.startswith(prefix) or not identifier[len(prefix) :].isdigit():
        return None
    number = int(identifier[len(prefix) :])
    return number if number < catalog.item_count and item_id(catalog, number) == identifier else None


def generated_item(project: Project, catalog: CatalogDef, number: int) -> dict[str, Any]:
    """The item as GET /api/catalogs/{name}/items/{itemId} serves it."""
    rng = Rng(derive(project.seed, K_ITEMS, text_key(catalog.name), number))
    modified = catalog.created_ms + rng.below(max(1, project.anchor_ms - catalog.created_ms))
    value = _store(rng, number) if catalog.name == "stores" else _product(rng, number, catalog.created_ms)
    return item_record(catalog.name, item_id(catalog, number), value, modified)


def item_record(catalog: str, identifier: str, value: dict[str, Any], modified_ms: int) -> dict[str, Any]:
    return {
        "catalogName": catalog,
        "itemId": identifier,
        "lastModified": modified_ms,
        "size": len(orjson.dumps(value)),
        "value": value,
    }


def _product(rng: Rng, number: int, created_ms: int) -> dict[str, Any]:
    name = f"{rng.choice(words.PRODUCT_ADJECTIVES)} {rng.choice(words.PRODUCT_NOUNS)}"
    value: dict[str, Any] = {
        "name": name,
        "description": f"The {name.lower()} our customers keep coming back for.",
        "price": round(4.99 + rng.random() * 295, 2),
        "stock": rng.below(500),
        "onSale": rng.chance(0.2),
        "releaseDate": iterable_time(created_ms - rng.below(700) * DAY_MS),
        "categories": rng.sample(words.CATEGORIES, rng.between(1, 2)),
        "imageUrl": f"https://cdn.brand.example/products/{number:06d}.jpg",
    }
    if rng.chance(0.8):
        value["rating"] = round(1 + rng.random() * 4, 1)
    if rng.chance(0.6):
        value["dimensions"] = {
            "width": round(rng.random() * 80, 1),
            "height": round(rng.random() * 80, 1),
            "depth": round(rng.random() * 40, 1),
        }
    if rng.chance(0.3):
        value["warehouse"] = {
            "lat": round(30 + rng.random() * 15, 4),
            "lon": round(-120 + rng.random() * 45, 4),
        }
    if rng.chance(0.1):
        value["legacyCode"] = f"LC{rng.below(100000):05d}"  # a field without a mapping (undefinedFields)
    return value


def _store(rng: Rng, number: int) -> dict[str, Any]:
    city, _, _ = rng.choice(words.CITIES)
    return {
        "name": f"Brand {city} #{number + 1}",
        "city": city,
        "location": {"lat": round(rng.random() * 120 - 60, 4), "lon": round(rng.random() * 340 - 170, 4)},
        "openedAt": iterable_time(1_400_000_000_000 + rng.below(3000) * DAY_MS),
        "isFlagship": rng.chance(0.1),
        "staff": rng.between(4, 80),
    }
