"""Lists: GET /api/lists; create and delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iterbridge.objects.base import Column, ObjectDef, Operation, Row, SqlType, Write
from iterbridge.objects.facts import Replication, one_call
from iterbridge.objects.reading import listing
from iterbridge.objects.writing import per_row

if TYPE_CHECKING:
    from iterbridge.objects.session import Session


def _create(conn: Session, row: Row) -> dict[str, Any]:
    body: dict[str, Any] = {"name": row["Name"]}
    if row.get("Description"):
        body["description"] = row["Description"]
    return {"Id": conn.client.json("POST /api/lists", json=body)["listId"]}


def _delete(conn: Session, row: Row) -> dict[str, Any]:
    conn.client.request("DELETE /api/lists/{listId}", path={"listId": int(row["Id"])})
    return {"Id": row["Id"]}


LISTS = ObjectDef(
    name="Lists",
    description="Subscriber lists: Standard (static), Dynamic (segments), Suppression.",
    columns=(
        Column("Id", SqlType.INTEGER, "id", key=True, read_only=True),
        Column("Name", SqlType.TEXT, "name"),
        Column("CreatedAt", SqlType.TIMESTAMP, "createdAt", read_only=True),
        Column("ListType", SqlType.TEXT, "listType", read_only=True),
        Column("Description", SqlType.TEXT, "description"),
        Column("IsGlobalSuppressionEnabled", SqlType.BOOLEAN, "isGlobalSuppressionEnabled", read_only=True),
    ),
    reader=listing("GET /api/lists", "lists"),
    writes={
        Operation.INSERT: Write(per_row(_create), required=(("Name",),), description="POST /api/lists"),
        Operation.DELETE: Write(per_row(_delete), required=(("Id",),), description="DELETE /api/lists/{listId}"),
    },
    cursor="CreatedAt",
    cost=one_call("GET /api/lists"),
    replication=Replication("incremental", sweep=True),
)
