"""Catalog pages come from indexes over the writes, not from walking the catalog: same items, same order."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from iterbridge.sandbox.config import SandboxConfig
from iterbridge.sandbox.faults import Faults
from iterbridge.sandbox.world import World


def _walked(catalog: object) -> list[str]:
    """What the pages must hold: live generated items in number order, then API-added ones in order."""
    definition = catalog.definition  # type: ignore[attr-defined]
    overlay = catalog.overlay  # type: ignore[attr-defined]
    generated = [f"sku-{n:06d}" for n in range(definition.item_count)]
    return [i for i in generated if overlay.get(i, True) is not None] + list(catalog.added)  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pages_match_a_walk_of_the_catalog_under_random_writes(seed: int) -> None:
    anchor = datetime(2026, 11, 1, tzinfo=UTC)
    world = World(SandboxConfig(scale="tiny", anchor=anchor, clock=lambda: 1_793_491_200_000), Faults())
    store = world.catalogs
    catalog = store.get("products")
    assert catalog is not None
    size = catalog.definition.item_count
    rng = random.Random(seed)
    added: dict[str, None] = {}
    for _ in range(500):
        roll = rng.random()
        if roll < 0.35:
            store.remove(catalog, f"sku-{rng.randrange(size):06d}")
        elif roll < 0.6:
            store.put(catalog, f"sku-{rng.randrange(size):06d}", {"v": 1}, merge=False)
        elif roll < 0.85:
            key = f"new-{rng.randrange(15)}"
            store.put(catalog, key, {"v": 2}, merge=False)
            added.setdefault(key, None)
        else:
            key = f"new-{rng.randrange(15)}"
            store.remove(catalog, key)
            added.pop(key, None)
        generated = [f"sku-{n:06d}" for n in range(size) if catalog.overlay.get(f"sku-{n:06d}", True) is not None]
        expected = generated + list(added)
        assert expected == _walked(catalog)
        assert store.count(catalog) == len(expected)
        start = rng.randrange(len(expected) + 2)
        stop = start + rng.randrange(1, 9)
        assert list(store.item_ids(catalog, start, stop)) == expected[start:stop]
    assert list(store.item_ids(catalog)) == expected
