"""ListUsers: list members from GET /api/lists/getUsers (plain text, 5/min, no paging);
add with lists/subscribe, remove with lists/unsubscribe.

A list whose members Iterable cannot serve (some always answer 500) is skipped and reported, never
silently: the connection's `skipped` records it with the reason.

A replication that reads every user in the same run takes the members of Standard lists from the users'
emailListIds (`derived`) and calls getUsers only for the other lists. Iterable documents emailListIds as "Lists
that a user is subscribed to" (api-docs.json, users/updateSubscriptions), and lists/subscribe|unsubscribe change
it; the reference says nothing of Dynamic, Suppression or Internal lists there, so their members are always read
from getUsers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx2

from iterbridge.errors import FatalApiError, RetriableApiError, SkippableApiError
from iterbridge.objects.base import Column, ObjectDef, Operation, ReadRequest, Row, SqlType, Write
from iterbridge.objects.facts import Derivation, Pushdown, ReadCost
from iterbridge.objects.reading import integers, unknown
from iterbridge.objects.writing import Bulk, bulk, user_outcomes

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

BULK_SIZE = 1000
DROP_RETRIES = 3
_DROPS = (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.ReadTimeout)
DERIVED_TYPES = frozenset({"Standard"})  # list types whose members users' emailListIds tell (module docstring)


def members(conn: Session, list_id: int) -> Iterator[str]:
    """Every member email of a list, read completely before the first is given (no duplicates on a retry)."""
    for attempt in range(DROP_RETRIES + 1):
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
            try:
                with conn.client.stream(
                    "GET /api/lists/getUsers", params={"listId": list_id}, skippable=True
                ) as response:
                    for chunk in response.iter_bytes():
                        spool.write(chunk)
            except _DROPS:
                if attempt == DROP_RETRIES:
                    raise SkippableApiError(f"the members of list {list_id} kept being cut off") from None
                continue
            spool.seek(0)
            for line in spool:
                email = line.decode().strip()
                if email:
                    yield email
            return


def _read(conn: Session, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
    wanted = request.values("ListId")
    list_ids = [row["Id"] for row in conn.read("Lists", columns=["Id"])] if wanted is None else integers(wanted)
    for list_id in list_ids:
        try:
            for email in members(conn, list_id):
                yield {"ListId": list_id, "Email": email}
        except FatalApiError as error:
            if not unknown(error):
                raise
            # "Invalid email list id": a list that does not exist (or no longer does) has no members.
        except (SkippableApiError, RetriableApiError) as error:
            conn.skip(obj.name, f"list {list_id}", str(error))  # read back by _skipped_list


def _membership(endpoint: str) -> Bulk:
    """One request per list (Iterable's body names one listId): a list Iterable refuses (e.g. one that does not
    exist: 400 error.lists.invalidListId) fails its own rows only."""
    return Bulk(
        endpoint,
        part=lambda conn, row: {"email": str(row["Email"])},
        body=lambda list_id, subscribers: {"listId": list_id, "subscribers": subscribers},
        outcomes=user_outcomes,
        group=lambda row: int(row["ListId"]),
        max_rows=BULK_SIZE,
    )


def _cost(pushdown: Pushdown) -> ReadCost:
    if pushdown.by_value("ListId"):
        calls, count = pushdown.per_value("ListId")
    else:
        calls, count = "1 per list", None
    if count is None and "ListId" not in pushdown.pushed:
        calls += " + GET /api/lists"
    return ReadCost("GET /api/lists/getUsers (plain text)", calls, "GET /api/lists/getUsers", count)


def _skipped_list(part: str) -> tuple[str, Any] | None:
    """A list whose members could not be read (`_read` skips "list N"): a sweep keeps that list's rows."""
    name, _, number = part.partition(" ")
    return ("ListId", int(number)) if name == "list" and number.isdigit() else None


def _plan(conn: Session) -> tuple[list[Any], list[Any]]:
    """(the lists whose members users' emailListIds tell, the others) — one GET /api/lists."""
    covered: list[Any] = []
    others: list[Any] = []
    for row in conn.read("Lists", columns=["Id", "ListType"]):
        (covered if row["ListType"] in DERIVED_TYPES else others).append(row["Id"])
    return covered, others


def _from_user(user: Mapping[str, Any], covered: Collection[Any]) -> Iterator[Row]:
    """The memberships a user's row tells: one row per covered list in its EmailListIds (list ids are integers:
    anything else in the array, a float, a flag, a nested array, names no list)."""
    email, list_ids = user.get("Email"), user.get("EmailListIds")
    if not email or not isinstance(list_ids, list):
        return
    for list_id in dict.fromkeys(value for value in list_ids if type(value) is int):
        if list_id in covered:
            yield {"ListId": list_id, "Email": email}


# The JSON text of a list of integers, as a batch holds it (compact, as orjson writes it), each of 19 digits at
# most (int64's 9,223,372,036,854,775,807 has 19: one beyond int64 fails the cast, and the batch goes to the rows).
_INTEGER_LIST = r"^\[(-?(0|[1-9][0-9]{0,18})(,-?(0|[1-9][0-9]{0,18}))*)?\]$"


def _memberships(users: Any, covered: Collection[Any]) -> Any | None:
    """`_from_user`'s rows for a whole batch of users, as an Arrow batch (ListId, Email) made by compute kernels
    (a medium copy's 677 k memberships cost 4 s as dicts); None, for the rows to be made a user at a time, when
    an EmailListIds holds anything but integers or a covered value is not an integer."""
    import numpy as np
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    if not {"Email", "EmailListIds"} <= set(users.schema.names) or any(type(v) is not int for v in covered):
        return None
    texts, emails = (users.column(name) for name in ("EmailListIds", "Email"))
    if isinstance(texts, pa.ChunkedArray):  # a table's columns: one array each
        texts, emails = texts.combine_chunks(), emails.combine_chunks()
    telling = pc.fill_null(pc.and_(pc.is_valid(texts), pc.not_equal(emails, "")), False)  # an email, a list
    texts, emails = texts.filter(telling), emails.filter(telling)
    if len(texts) and not pc.all(pc.match_substring_regex(texts, _INTEGER_LIST)).as_py():
        return None
    lists = pc.split_pattern(pc.utf8_slice_codeunits(texts, 1, -1), ",")
    values, owners = pc.list_flatten(lists), pc.list_parent_indices(lists)
    present = pc.not_equal(values, "")  # "[]" splits into one empty text
    try:
        ids, owners = values.filter(present).cast(pa.int64()), owners.filter(present)
    except pa.ArrowInvalid:  # 19 digits beyond int64
        return None
    member = pc.is_in(ids, value_set=pa.array(sorted(covered), type=pa.int64()))
    ids, owners = ids.filter(member), owners.filter(member)
    pairs = np.column_stack([owners.to_numpy(), ids.to_numpy()])
    if len(pairs):
        _, first = np.unique(pairs, axis=0, return_index=True)
        if len(first) < len(pairs):  # a list twice in one user's array: its first place (dict.fromkeys)
            kept = pa.array(np.sort(first))
            ids, owners = ids.take(kept), owners.take(kept)
    return pa.RecordBatch.from_arrays([ids, emails.take(owners)], names=["ListId", "Email"])


LIST_USERS = ObjectDef(
    name="ListUsers",
    description="Members of lists (one row per list and email).",
    columns=(
        Column("ListId", SqlType.INTEGER, "listId", key=True),
        Column("Email", SqlType.TEXT, "email", key=True),
    ),
    reader=_read,
    filters=("ListId",),
    writes={
        Operation.INSERT: Write(
            bulk(_membership("POST /api/lists/subscribe")),
            required=(("ListId",), ("Email",)),
            description="POST /api/lists/subscribe",
        ),
        Operation.DELETE: Write(
            bulk(_membership("POST /api/lists/unsubscribe")),
            required=(("ListId",), ("Email",)),
            description="POST /api/lists/unsubscribe",
        ),
    },
    upsert=Operation.INSERT,
    row_estimate=1_000_000,
    cost=_cost,
    skipped_part=_skipped_list,
    derived=Derivation(
        "Users", "ListId", "list", _plan, _from_user, reads=("Email", "EmailListIds"), batch=_memberships
    ),
)
