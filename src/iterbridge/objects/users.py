"""Users: GET /api/users/{email} or /byUserId/{id} when filtered; otherwise the export API (dataTypeName=user)
by ProfileUpdatedAt window. Insert and update through POST /api/users/bulkUpdate, delete per user.

Custom dataFields become typed columns discovered from users/getFields (string → TEXT, long → INTEGER,
double → REAL, boolean → BOOLEAN, date → TIMESTAMP, object/nested/geo → JSON). A field without a column
(new since getFields, or nested below an object) is kept in ExtraFields, never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from iterbridge.api.urls import path_segment
from iterbridge.errors import FatalApiError, UnaddressableValue
from iterbridge.objects.base import Column, ObjectDef, Operation, ReadRequest, Row, RowResult, SqlType, Write
from iterbridge.objects.facts import Pushdown, ReadCost, Replication
from iterbridge.objects.reading import export_records, unknown
from iterbridge.objects.writing import Bulk, Part, bulk, per_row, present, user_outcomes

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

BULK_SIZE = 1000
FIELD_TYPES = {
    "string": SqlType.TEXT,
    "long": SqlType.INTEGER,
    "double": SqlType.REAL,
    "boolean": SqlType.BOOLEAN,
    "date": SqlType.TIMESTAMP,
}
MANAGED = (
    Column("Email", SqlType.TEXT, "email", key=True),
    Column("UserId", SqlType.TEXT, "userId"),
    Column("SignupDate", SqlType.TIMESTAMP, "signupDate", read_only=True),
    Column("SignupSource", SqlType.TEXT, "signupSource", read_only=True),
    Column("ProfileUpdatedAt", SqlType.TIMESTAMP, "profileUpdatedAt", read_only=True),
    Column("EmailListIds", SqlType.JSON, "emailListIds", read_only=True),
    Column("UnsubscribedChannelIds", SqlType.JSON, "unsubscribedChannelIds"),
    Column("UnsubscribedMessageTypeIds", SqlType.JSON, "unsubscribedMessageTypeIds"),
    Column("SubscribedMessageTypeIds", SqlType.JSON, "subscribedMessageTypeIds"),
    Column("PhoneNumber", SqlType.TEXT, "phoneNumber"),
    Column("EmailDomain", SqlType.TEXT, "itblInternal.emailDomain", read_only=True),
    Column("Devices", SqlType.JSON, "devices", read_only=True),
)
MANAGED_FIELDS = {c.source.split(".")[0] for c in MANAGED if c.source} | {"itblInternal"}
EXTRA = Column("ExtraFields", SqlType.JSON, "__extra__", description="Fields without a column of their own")


def custom_columns(conn: Session) -> tuple[Column, ...]:
    """One column per top-level custom field of users/getFields, typed; names kept as Iterable spells them."""
    taken = {c.name.lower() for c in MANAGED} | {EXTRA.name.lower()}
    columns = []
    for name, kind in conn.user_fields().items():
        if "." in name or name in MANAGED_FIELDS or name.lower() in taken:
            continue
        taken.add(name.lower())
        columns.append(Column(name, FIELD_TYPES.get(kind, SqlType.JSON), name))
    return (*columns, EXTRA)


def unflatten(record: dict[str, Any]) -> dict[str, Any]:
    """The export's dotted keys ("address.city") back into nested objects."""
    profile: dict[str, Any] = {}
    for key, value in record.items():
        if "." not in key:  # most keys: what the walk below does for a single part, without the split
            profile[key] = value
            continue
        parts = key.split(".")
        target = profile
        for part in parts[:-1]:
            existing = target.get(part)
            if not isinstance(existing, dict):
                existing = target[part] = {}
            target = existing
        target[parts[-1]] = value
    return profile


def covered_fields(columns: Sequence[Column]) -> set[str]:
    """The top-level fields a column (or Iterable's own bookkeeping) holds: ExtraFields holds the others."""
    return {c.source.split(".")[0] for c in columns if c.source} | MANAGED_FIELDS


def profile_row(profile: dict[str, Any], columns: tuple[Column, ...]) -> Row:
    row = {c.name: c.read(profile) for c in columns if c is not EXTRA and c.name != EXTRA.name}
    covered = covered_fields(columns)
    extra = {k: v for k, v in profile.items() if k not in covered}
    row[EXTRA.name] = extra or None
    return row


def _lookup(conn: Session, column: str, value: Any) -> Any:
    """One user by email or userId: in the path when the value can be a segment, else in the query string
    (`getByEmail?email=`, `byUserId?userId=`), which carries any value (an email with a "/", a userId ".")."""
    text = str(value)
    name, by_path, by_query = (
        ("userId", "GET /api/users/byUserId/{userId}", "GET /api/users/byUserId")
        if column == "UserId"
        else ("email", "GET /api/users/{email}", "GET /api/users/getByEmail")
    )
    try:
        path_segment(name, text)
    except UnaddressableValue:
        return conn.client.json(by_query, params={name: text})
    return conn.client.json(by_path, path={name: text})


def _read(conn: Session, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
    columns = conn.columns(obj)
    for column in ("Email", "UserId"):
        values = request.values(column)
        if values is None:
            continue
        for value in values:
            try:
                body = _lookup(conn, column, value)
            except FatalApiError as error:
                if unknown(error):  # malformed email, or no user with that id
                    continue
                raise
            user = body.get("user") if isinstance(body, dict) else None
            if user:
                profile = {**(user.get("dataFields") or {}), "email": user.get("email")}
                if user.get("userId") is not None:
                    profile["userId"] = user["userId"]
                yield profile_row(profile, columns)
        return
    since, until = request.bounds("ProfileUpdatedAt")
    records = export_records(conn, request, "user", since, until, only_fields=_export_fields(conn, request, columns))
    for record in records:
        yield profile_row(unflatten(record), columns)


def _batches(conn: Session, obj: ObjectDef, request: ReadRequest, batch_rows: int) -> Iterator[Any]:
    """Arrow batches: export records built into columns (objects/users_arrow.py); per user, from the rows."""
    from iterbridge.objects.arrow import batches_from_rows
    from iterbridge.objects.users_arrow import user_batches, user_scanning, window_parse

    columns = conn.columns(obj)
    sort_keys = request.hints.sort_json_keys
    if request.values("Email") is not None or request.values("UserId") is not None:
        yield from batches_from_rows(_read(conn, obj, request), columns, batch_rows, sort_keys=sort_keys)
        return
    since, until = request.bounds("ProfileUpdatedAt")
    fields = _export_fields(conn, request, columns)
    scanning = user_scanning(columns)  # lines parsed in C, each window while it downloads (the GIL released)
    records = export_records(
        conn,
        request,
        "user",
        since,
        until,
        only_fields=fields,
        blocks=scanning,
        parse=window_parse(columns, batch_rows, sort_keys) if scanning else None,
    )
    yield from user_batches(records, columns, batch_rows, sort_keys=sort_keys)


def _export_fields(conn: Session, request: ReadRequest, columns: tuple[Column, ...]) -> list[str] | None:
    """The export's onlyFields for the columns asked: their fields and, for objects, the dotted keys the export
    flattens them into. None (every field) when ExtraFields is asked, as it is whatever no column holds."""
    if request.wants(EXTRA.name):
        return None
    sources = [c.source for c in columns if c.source and request.wants(c.name)]
    known = list(conn.user_fields())
    fields = [*sources, *(name for name in known for source in sources if name.startswith(f"{source}."))]
    return list(dict.fromkeys(fields))


def _data_fields(row: Row, columns: tuple[Column, ...]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    extra = row.get(EXTRA.name)
    if isinstance(extra, str) and extra:
        extra = json.loads(extra)
    if isinstance(extra, dict):
        fields.update(extra)
    for column in columns:
        if column.name in row and column.source and not column.read_only and column.name not in ("Email", "UserId"):
            if column is EXTRA or column.name == EXTRA.name:
                continue
            value = row[column.name]
            if column.type is SqlType.JSON and isinstance(value, str):
                value = json.loads(value)
            if column.type is SqlType.TIMESTAMP and value is not None:
                from iterbridge.api.timestamps import parse_timestamp

                moment = parse_timestamp(value)
                value = moment.strftime("%Y-%m-%d %H:%M:%S +00:00") if moment else None
            fields[column.source] = value
    return fields


def _user(conn: Session, row: Row) -> dict[str, Any]:
    """One row as a bulkUpdate user (ValueError/TypeError when a value cannot be one)."""
    found: dict[str, Any] = {"dataFields": _data_fields(row, conn.columns(conn.object("Users")))}
    if present(row, "Email"):
        found["email"] = row["Email"]
    if present(row, "UserId"):
        found["userId"] = str(row["UserId"])
        if not present(row, "Email"):
            found["preferUserId"] = True
    return found


def _outcomes(answer: Any, parts: list[Part]) -> list[RowResult]:
    return user_outcomes(answer, parts, keys=lambda row: {"Email": row.get("Email")})


_UPDATE = Bulk(
    "POST /api/users/bulkUpdate",
    part=_user,
    body=lambda _, users: {"users": users},
    outcomes=_outcomes,
    max_rows=BULK_SIZE,
)


def _delete(conn: Session, row: Row) -> dict[str, Any]:
    if present(row, "Email"):
        conn.client.request("DELETE /api/users/{email}", path={"email": row["Email"]})
        return {"Email": row["Email"]}
    conn.client.request("DELETE /api/users/byUserId/{userId}", path={"userId": str(row["UserId"])})
    return {"UserId": row["UserId"]}


def _cost(pushdown: Pushdown) -> ReadCost:
    column = pushdown.by_value("Email", "UserId")
    if column:
        calls, count = pushdown.per_value(column)
        endpoint = "GET /api/users/{email}" if column == "Email" else "GET /api/users/byUserId/{userId}"
        return ReadCost(endpoint, calls, endpoint, count)
    return ReadCost(
        "GET /api/export/data.json?dataTypeName=user (by ProfileUpdatedAt window)",
        "1 per window (1 unless a stream drops)",
        "GET /api/export/data.json",
        1,
    )


USERS = ObjectDef(
    name="Users",
    description="User profiles with Iterable-managed fields and the project's custom fields as columns.",
    columns=MANAGED,
    dynamic_columns=custom_columns,
    reader=_read,
    batch_reader=_batches,
    filters=("Email", "UserId", "ProfileUpdatedAt"),
    writes={
        Operation.INSERT: Write(
            bulk(_UPDATE),
            required=(("Email", "UserId"),),
            description="POST /api/users/bulkUpdate (creates or merges)",
        ),
        Operation.UPDATE: Write(
            bulk(_UPDATE),
            required=(("Email", "UserId"),),
            description="POST /api/users/bulkUpdate (merges the fields given)",
        ),
        Operation.DELETE: Write(
            per_row(_delete),
            required=(("Email", "UserId"),),
            description="DELETE /api/users/{email} or /byUserId/{userId}",
        ),
    },
    cursor="ProfileUpdatedAt",
    upsert=Operation.UPDATE,
    open_fields="ExtraFields",
    row_estimate=1_000_000,
    cost=_cost,
    exported=True,
    replication=Replication("incremental", sweep=False),
)
