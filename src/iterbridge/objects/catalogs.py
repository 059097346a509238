"""Catalogs: GET /api/catalogs (paged, wrapped in params); create and delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iterbridge.objects.base import Column, ObjectDef, Operation, Row, SqlType, Write
from iterbridge.objects.facts import Pushdown, ReadCost
from iterbridge.objects.reading import paged
from iterbridge.objects.writing import per_row

if TYPE_CHECKING:
    from iterbridge.objects.session import Session


def _create(conn: Session, row: Row) -> dict[str, Any]:
    conn.client.request("POST /api/catalogs/{catalogName}", path={"catalogName": row["Name"]})
    return {"Name": row["Name"]}


PAGE_SIZE = 100  # catalogs per page of GET /api/catalogs


def _delete(conn: Session, row: Row) -> dict[str, Any]:
    conn.client.request("DELETE /api/catalogs/{catalogName}", path={"catalogName": row["Name"]})
    return {"Name": row["Name"]}


def _cost(pushdown: Pushdown) -> ReadCost:
    return ReadCost(f"GET /api/catalogs (pages of {PAGE_SIZE})", f"1 per {PAGE_SIZE} catalogs", "GET /api/catalogs")


CATALOGS = ObjectDef(
    name="Catalogs",
    description="Catalogs of items (products, stores, articles…) usable in message personalisation.",
    columns=(Column("Name", SqlType.TEXT, "name", key=True),),
    reader=paged("GET /api/catalogs", "catalogNames", page_size=PAGE_SIZE),
    writes={
        Operation.INSERT: Write(
            per_row(_create), required=(("Name",),), description="POST /api/catalogs/{catalogName}"
        ),
        Operation.DELETE: Write(
            per_row(_delete), required=(("Name",),), description="DELETE /api/catalogs/{catalogName}"
        ),
    },
    cost=_cost,
)
