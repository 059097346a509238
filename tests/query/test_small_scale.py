"""The SQL suite's heavier queries at the small scale (~1k users, ~35k events), on a sandbox of the module's
own; expected results from the sandbox's data over plain HTTP (read once per module)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

import iterbridge
from helpers import FakeClock, make_config
from iterbridge.sandbox import Sandbox

from .source import Source, str_text
from .support import connect_to, rows


@dataclass
class Small:
    conn: iterbridge.Connection
    source: Source
    _cache: dict[str, Any] = field(default_factory=dict)

    def events(self) -> list[dict[str, Any]]:
        if "events" not in self._cache:
            self._cache["events"] = self.source.events()
        events: list[dict[str, Any]] = self._cache["events"]
        return events

    def users(self) -> list[dict[str, Any]]:
        if "users" not in self._cache:
            self._cache["users"] = self.source.users()
        users: list[dict[str, Any]] = self._cache["users"]
        return users


@pytest.fixture(scope="module")
def small() -> Iterator[Small]:
    with Sandbox(make_config(FakeClock(), scale="small")) as sandbox, connect_to(sandbox) as conn:
        headers = {"Api-Key": sandbox.api_key}
        with httpx2.Client(base_url=sandbox.url, headers=headers, timeout=60) as api:
            yield Small(conn, Source(api))


def test_full_scan_aggregate_by_type_and_day(small: Small) -> None:
    expected = Counter((e["_type"], str_text(e["createdAt"])[:10]) for e in small.events())  # type: ignore[index]
    assert sum(expected.values()) > 20_000
    got = rows(small.conn, "SELECT EventType, date(CreatedAt), count(*) FROM Events GROUP BY 1, 2")
    assert {(kind, day): n for kind, day, n in got} == dict(expected)


def test_pushed_type_and_window_with_distinct_counts(small: Small) -> None:
    since = "2026-10-01"
    purchases = [e for e in small.events() if e["_type"] == "purchase" and str_text(e["createdAt"]) >= since]
    assert purchases
    total = round(sum(e.get("total") or 0 for e in purchases), 2)
    got = rows(
        small.conn,
        "SELECT count(*), count(DISTINCT Email), round(sum(json_extract(DataFields, '$.total')), 2) FROM Events "
        "WHERE EventType = 'purchase' AND CreatedAt >= ?",
        (since,),
    )
    assert got == [(len(purchases), len({e["email"] for e in purchases}), total)]


def test_users_grouped_and_ranked(small: Small) -> None:
    users = small.users()
    assert len(users) == 1000
    by_city: dict[str | None, list[float]] = defaultdict(list)
    for u in users:
        by_city[u.get("city")].append(u.get("lifetimeValue"))
    expected = {
        city: (len(values), round(sum(v for v in values if v is not None), 2)) for city, values in by_city.items()
    }
    got = rows(small.conn, "SELECT city, count(*), round(total(lifetimeValue), 2) FROM Users GROUP BY city")
    assert {city: (n, value) for city, n, value in got} == expected

    best: dict[str, tuple[float, str]] = {}
    for u in users:
        if u.get("city") and u.get("lifetimeValue") is not None:
            candidate = (u["lifetimeValue"], u["email"])
            if u["city"] not in best or (-candidate[0], candidate[1]) < (-best[u["city"]][0], best[u["city"]][1]):
                best[u["city"]] = candidate
    got_best = rows(
        small.conn,
        """
        WITH ranked AS (
            SELECT city, Email, lifetimeValue,
                   rank() OVER (PARTITION BY city ORDER BY lifetimeValue DESC, Email) AS position
            FROM Users WHERE city IS NOT NULL AND lifetimeValue IS NOT NULL
        )
        SELECT city, Email, lifetimeValue FROM ranked WHERE position = 1
        """,
    )
    assert {city: (value, email) for city, email, value in got_best} == best

    top = sorted(users, key=lambda u: (-(u.get("loyaltyPoints") or 0), u["email"]))[:10]
    got_top = rows(small.conn, "SELECT Email FROM Users ORDER BY loyaltyPoints DESC, Email LIMIT 10")
    assert [email for (email,) in got_top] == [u["email"] for u in top]


def test_vip_users_join_their_purchases(small: Small) -> None:
    vips = {u["email"] for u in small.users() if u.get("isVip") is True and u.get("city") == "Toronto"}
    assert 0 < len(vips) < 60
    expected = Counter(e["email"] for e in small.events() if e["_type"] == "purchase" and e.get("email") in vips)
    got = rows(
        small.conn,
        "SELECT u.Email, count(e.Id) FROM Users u LEFT JOIN Events e ON e.Email = u.Email AND e.EventType = 'purchase' "
        "WHERE u.isVip AND u.city = 'Toronto' GROUP BY u.Email",
    )
    assert dict(got) == {email: expected.get(email, 0) for email in vips}


def test_campaigns_templates_lists_and_members(small: Small) -> None:
    source = small.source
    templates = {t["Id"]: t for t in source.templates()}
    lists = {item["Id"]: item["Name"] for item in source.lists()}
    campaigns = source.campaigns()
    expected = Counter(
        (templates[c["TemplateId"]]["MessageMedium"], lists[list_id])
        for c in campaigns
        if c["TemplateId"] in templates
        for list_id in c["ListIds"] or []
    )
    got = rows(
        small.conn,
        "SELECT t.MessageMedium, l.Name, count(*) FROM Campaigns c JOIN Templates t ON t.Id = c.TemplateId "
        "JOIN json_each(c.ListIds) j JOIN Lists l ON l.Id = j.value GROUP BY 1, 2",
    )
    assert {(medium, name): n for medium, name, n in got} == dict(expected)

    sizes = {lists[list_id]: len(source.members(list_id)) for list_id in lists}
    got_sizes = rows(
        small.conn, "SELECT l.Name, count(m.Email) FROM Lists l LEFT JOIN ListUsers m ON m.ListId = l.Id GROUP BY l.Id"
    )
    assert dict(got_sizes) == sizes


def test_catalog_items_json_aggregates(small: Small) -> None:
    items = small.source.catalog_items("products")
    assert len(items) == 500
    categories: Counter[str] = Counter(c for i in items for c in i["value"].get("categories") or [])
    got = rows(
        small.conn,
        "SELECT c.value, count(*) FROM CatalogItems i, json_each(i.Value, '$.categories') c "
        "WHERE i.CatalogName = 'products' GROUP BY 1",
    )
    assert dict(got) == dict(categories)
    on_sale = sorted((i["itemId"], i["value"]["price"]) for i in items if i["value"].get("onSale"))
    got_sale = rows(
        small.conn,
        "SELECT ItemId, json_extract(Value, '$.price') FROM CatalogItems WHERE CatalogName = 'products' "
        "AND json_extract(Value, '$.onSale') ORDER BY ItemId",
    )
    assert got_sale == on_sale
    assert (
        json.loads(
            rows(
                small.conn,
                "SELECT Value FROM CatalogItems WHERE CatalogName = 'products' AND ItemId = ?",
                (items[7]["itemId"],),
            )[0][0]
        )
        == items[7]["value"]
    )
