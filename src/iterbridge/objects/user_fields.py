"""UserFields: the project's user profile fields and their types (GET /api/users/getFields). Read only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from iterbridge.objects.base import Column, ObjectDef, ReadRequest, Row, SqlType
from iterbridge.objects.facts import one_call

if TYPE_CHECKING:
    from iterbridge.objects.session import Session


def _read(conn: Session, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
    for name, kind in conn.user_fields().items():
        yield {"Name": name, "Type": kind}


USER_FIELDS = ObjectDef(
    name="UserFields",
    description="User profile fields known to the project (Iterable-managed and custom) with their types.",
    columns=(
        Column("Name", SqlType.TEXT, "name", key=True, read_only=True),
        Column("Type", SqlType.TEXT, "type", read_only=True),
    ),
    reader=_read,
    cost=one_call("GET /api/users/getFields"),
)
