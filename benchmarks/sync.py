"""Sync benchmark: a no-change `iterbridge sync` of a 50,000-item catalog, against a replication of the same
catalog measured in the same run.

    python3 benchmarks/sync.py [--items 50000] [--databases sqlite,duckdb,postgresql] [--postgres URL]

The sandbox runs in a separate process (`iterbridge sandbox --rate-limits off`). The catalog is made for the
run: a new catalog filled through the bulk API (1,000 items a call) with product-like items — the medium
scale's `products` catalog holds 20,000 generated items, and a sync works on a whole catalog, so a catalog of
exactly the wanted size is the simplest honest subject. Then, per database:

- first sync (every item created in the database): time;
- no-change sync (from the third run on; median of 3): API calls per endpoint — bounded by the pages of
  the catalog (1,000 items a page), not by the items — and time;
- replication of CatalogItems into a fresh copy, then again (the no-change replication, which reads the same
  pages and compares every row): time; and the read alone (the reader's rows, thrown away);
- the ratio no-change sync / no-change replication (target ≤ 2.0: "comparable"), and sync / read alone;
- a sync after 100 edits on each side: the calls stay pages + writes.

It prints a report with PASS/FAIL per figure and exits 0 either way: it is a report, not a test.
"""

from __future__ import annotations

from support import LOCAL_POSTGRES, Server, api_calls, connect, postgres_database, start_server, verdict

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import iterbridge
from iterbridge.replicate import replicate
from iterbridge.sync import sync

CATALOG = "bench"
PAGE = 1000
RATIO_TARGET = 2.0
ROUNDS = 3


def item(number: int) -> dict[str, Any]:
    return {
        "name": f"Product {number}",
        "description": f"The product number {number}, described at some length for a realistic size.",
        "price": round(4.99 + (number * 7919 % 29500) / 100, 2),
        "stock": number * 31 % 500,
        "onSale": number % 7 == 0,
        "categories": ["home", "garden"] if number % 2 else ["sports"],
        "imageUrl": f"https://cdn.brand.example/products/{number:06d}.jpg",
    }


def fill(conn: iterbridge.Connection, items: int) -> float:
    started = time.perf_counter()
    conn.client.request("POST /api/catalogs/{catalogName}", path={"catalogName": CATALOG})
    for start in range(0, items, 1000):
        documents = {f"item-{n:06d}": item(n) for n in range(start, min(items, start + 1000))}
        conn.client.request("POST /api/catalogs/{catalogName}/items", path={"catalogName": CATALOG},
                            json={"documents": documents, "replaceUploadedFieldsOnly": False})  # fmt: skip
    return time.perf_counter() - started


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {e: n - before.get(e, 0) for e, n in after.items() if n != before.get(e, 0)}


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


@contextlib.contextmanager
def database_urls(kind: str, folder: Path, postgres: str) -> Iterator[tuple[str, str] | None]:
    """(sync URL, replication URL) in a database of the kind, or None when it cannot be had."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'sync.db'}", f"sqlite:///{folder / 'copy.db'}"
    elif kind == "duckdb":
        yield f"duckdb:///{folder / 'sync.duckdb'}", f"duckdb:///{folder / 'copy.duckdb'}"
    else:
        with postgres_database(postgres, "sync") as sync_url, postgres_database(postgres, "copy") as copy_url:
            yield (sync_url, copy_url) if sync_url and copy_url else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--databases", default="sqlite,duckdb,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("ITERBRIDGE_TEST_POSTGRES_URL", LOCAL_POSTGRES))
    options = parser.parse_args()
    pages = -(-options.items // PAGE)
    bound = pages + 2  # the pages, the catalog check, one spare
    print(f"sync benchmark: a catalog of {options.items:,} items ({pages} pages of {PAGE})\n")

    with (
        start_server("tiny", anchor=None) as server,
        connect(server) as conn,
        tempfile.TemporaryDirectory() as folder,
    ):
        print(f"catalog filled through the bulk API in {fill(conn, options.items):.1f} s")
        rows, read_s = timed(lambda: sum(1 for _ in conn.read("CatalogItems", where={"CatalogName": CATALOG})))
        print(f"read alone (the reader's rows, thrown away): {rows:,} rows in {read_s:.2f} s\n")
        for kind in options.databases.split(","):
            with database_urls(kind, Path(folder), options.postgres) as urls:
                if urls:
                    run(conn, server, kind, *urls, read_s, bound)


def run(conn: iterbridge.Connection, server: Server, kind: str, sync_url: str, copy_url: str,
        read_s: float, bound: int) -> None:  # fmt: skip
    print(f"== {kind}")
    first, first_s = timed(sync, conn, "CatalogItems", sync_url, catalog=CATALOG)
    print(f"first sync: {first.to_database.creates:,} items created in the database in {first_s:.1f} s")
    timed(sync, conn, "CatalogItems", sync_url, catalog=CATALOG)  # nothing to confirm: a warm-up, as the copy's

    first_copy_s = timed(replicate, conn, copy_url, ["CatalogItems"])[1]
    sync_times, copy_times = [], []
    for _ in range(ROUNDS):  # alternated, medians compared: one slow moment of the machine does not decide
        before = api_calls(server)
        quiet, quiet_s = timed(sync, conn, "CatalogItems", sync_url, catalog=CATALOG)
        made = delta(before, api_calls(server))
        assert not quiet.plan, quiet.plan[:5]
        sync_times.append(quiet_s)
        copy_times.append(timed(replicate, conn, copy_url, ["CatalogItems"])[1])
    quiet_s, copy_s = statistics.median(sync_times), statistics.median(copy_times)
    ratio = quiet_s / copy_s
    print(f"no-change sync: {quiet.api_calls} API calls ({json.dumps(made)}) — {verdict(quiet.api_calls <= bound)} "
          f"(bound: pages + 2 = {bound}, not per item)")  # fmt: skip
    print(f"no-change sync: {quiet_s:.2f} s; no-change replication of CatalogItems: {copy_s:.2f} s; "
          f"ratio {ratio:.2f} — {verdict(ratio <= RATIO_TARGET)} (target ≤ {RATIO_TARGET}; medians of {ROUNDS} "
          f"rounds: sync {', '.join(f'{s:.2f}' for s in sync_times)}, replication "
          f"{', '.join(f'{s:.2f}' for s in copy_times)})")  # fmt: skip
    print(f"no-change sync / first replication of CatalogItems ({first_copy_s:.2f} s, every row inserted): "
          f"{quiet_s / first_copy_s:.2f}; no-change sync / read alone: {quiet_s / read_s:.2f}")  # fmt: skip

    edit(conn, sync_url, kind)
    before = api_calls(server)
    edited, edited_s = timed(sync, conn, "CatalogItems", sync_url, catalog=CATALOG)
    made = delta(before, api_calls(server))
    print(f"sync after 100 edits on each side: {edited.to_iterable.updates} to Iterable, "
          f"{edited.to_database.updates} to the database, {edited.api_calls} API calls ({json.dumps(made)}), "
          f"{edited_s:.2f} s\n")  # fmt: skip


def edit(conn: iterbridge.Connection, url: str, kind: str) -> None:
    """100 edits in Iterable (one bulk call) and 100 in the database (a user's SQL), new for each database."""
    documents = {f"item-{n:06d}": {**item(n), "edited": f"in Iterable, {kind} run"} for n in range(0, 200, 2)}
    conn.client.request("POST /api/catalogs/{catalogName}/items", path={"catalogName": CATALOG},
                        json={"documents": documents, "replaceUploadedFieldsOnly": False})  # fmt: skip
    values = [(json.dumps({**item(n), "edited": f"in {kind}"}), CATALOG, f"item-{n:06d}") for n in range(1, 200, 2)]
    sql = 'UPDATE "CatalogItems" SET "Value" = ? WHERE "CatalogName" = ? AND "ItemId" = ?'
    if kind == "sqlite":
        import sqlite3

        with sqlite3.connect(url.split(":///", 1)[1]) as db:
            db.executemany(sql, values)
    elif kind == "duckdb":
        import duckdb

        with duckdb.connect(url.split(":///", 1)[1]) as duck:
            duck.executemany(sql, values)
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as pg, pg.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), values)


if __name__ == "__main__":
    main()
