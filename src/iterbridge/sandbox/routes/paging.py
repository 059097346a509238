"""Page/pageSize paging with nextPageUrl, as campaigns, templates and catalogs serve it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from iterbridge.sandbox.responses import bad_params
from iterbridge.sandbox.routing import Context

T = TypeVar("T")


def wants_paging(ctx: Context) -> bool:
    return "page" in ctx.query or "pageSize" in ctx.query


def page_bounds(ctx: Context, default_size: int, max_size: int) -> tuple[int, int]:
    # `or` would turn an explicit 0 into the default; 0 is out of bounds like any other bad value.
    raw_page, raw_size = ctx.query_int("page", 1), ctx.query_int("pageSize", default_size)
    page = 1 if raw_page is None else raw_page
    size = default_size if raw_size is None else raw_size
    if page < 1:
        raise bad_params(f"page must be at least 1, not {page}")
    if not 1 <= size <= max_size:
        raise bad_params(f"pageSize must be between 1 and {max_size}, not {size}")
    return page, size


def page_links(ctx: Context, page: int, size: int, total: int) -> dict[str, Any]:
    """nextPageUrl / previousPageUrl: the same request with page ± 1, absolute like the real API's."""
    links: dict[str, Any] = {}
    base = f"{ctx.base_url()}{ctx.request.url.path}"

    def url(number: int) -> str:
        query = [(k, v) for k, v in ctx.query.multi_items() if k not in ("page", "pageSize")]
        query += [("page", str(number)), ("pageSize", str(size))]
        return f"{base}?{urlencode(query)}"

    if page * size < total:
        links["nextPageUrl"] = url(page + 1)
    if page > 1:
        links["previousPageUrl"] = url(page - 1)
    return links


def sort_records(
    records: list[T], sort: str | None, allowed: Sequence[str], key_of: Callable[[T, str], Any]
) -> list[T]:
    """sort=field or sort=-field; records missing the field sort first."""
    if not sort:
        return records
    field = sort.lstrip("-")
    if field not in allowed:
        raise bad_params(f"Invalid sort field: {field}. Valid fields: {', '.join(allowed)}")
    present = [r for r in records if key_of(r, field) is not None]
    missing = [r for r in records if key_of(r, field) is None]
    present.sort(key=lambda r: key_of(r, field), reverse=sort.startswith("-"))
    return missing + present if not sort.startswith("-") else present + missing
