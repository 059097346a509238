"""Read strategies shared by object declarations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from iterbridge.api.paging import PageNumberPaginator, records, unwrap
from iterbridge.objects.base import ObjectDef, Reader, ReadRequest, Row, rows_from

if TYPE_CHECKING:
    from iterbridge.connection import Connection


def listing(endpoint: str, records_key: str) -> Reader:
    """One GET answering every record (lists, channels, message types)."""

    def read(conn: Connection, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
        body = unwrap(conn.client.json(endpoint))
        yield from rows_from(iter(body.get(records_key) or []), conn.columns(obj))

    return read


def paged(endpoint: str, records_key: str, page_size: int, params: dict[str, Any] | None = None) -> Reader:
    """page/pageSize paging until nextPageUrl disappears."""

    def read(conn: Connection, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
        pages = PageNumberPaginator(page_size).pages(conn.client, endpoint, records_key, params=params)
        yield from rows_from(records(pages), conn.columns(obj))

    return read


def batched(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
