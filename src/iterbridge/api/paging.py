"""Paginators as small objects (after singer-sdk): each knows its first request and the next one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from iterbridge.api.client import ApiClient


def unwrap(body: Any) -> Any:
    """Catalog answers come wrapped in the envelope's `params` (the Swagger spec shows them bare); accept both forms."""
    if isinstance(body, dict) and "code" in body and "msg" in body and isinstance(body.get("params"), dict):
        return body["params"]
    return body


@dataclass(frozen=True)
class PageNumberPaginator:
    """page=1,2,… with pageSize, until a page has no nextPageUrl (campaigns, templates, catalogs)."""

    page_size: int

    def pages(
        self,
        client: ApiClient,
        endpoint: str,
        records_key: str,
        *,
        params: dict[str, Any] | None = None,
        path: dict[str, object] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        page = 1
        while True:
            body = unwrap(
                client.json(endpoint, path=path, params={**(params or {}), "page": page, "pageSize": self.page_size})
            )
            records = body.get(records_key) or []
            yield records
            if not records or not body.get("nextPageUrl"):
                return
            page += 1


@dataclass(frozen=True)
class MarkerPaginator:
    """nextMarker continuation (the metadata API)."""

    def pages(
        self,
        client: ApiClient,
        endpoint: str,
        records_key: str,
        *,
        params: dict[str, Any] | None = None,
        path: dict[str, object] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        marker: str | None = None
        while True:
            query = dict(params or {})
            if marker:
                query["nextMarker"] = marker
            body = client.json(endpoint, path=path, params=query)
            yield body.get(records_key) or []
            marker = body.get("nextMarker")
            if not marker:
                return


def records(pages: Iterator[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for page in pages:
        yield from page
