"""Every object of the catalog, read from the sandbox: the full read is what the API serves, columns have their
declared types, projection returns only what was asked, and every pushed filter gives what a local filter gives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iterbridge
from helpers import FakeClock
from iterbridge.errors import UnknownColumn, UnknownObject
from iterbridge.objects import OBJECTS
from iterbridge.objects.base import Condition, SqlType
from iterbridge.sandbox import Sandbox

from .readers import IDENTITY, SERVED, Row, canon, user_emails
from .support import Calls, connect_to

NAMES = list(OBJECTS)
PYTHON_TYPES: dict[SqlType, tuple[type, ...]] = {
    SqlType.TEXT: (str,),
    SqlType.INTEGER: (int,),
    SqlType.REAL: (float, int),
    SqlType.BOOLEAN: (bool,),
    SqlType.TIMESTAMP: (datetime,),
    SqlType.JSON: (dict, list),
}
SCOPE = {"Events": {"EventType": ["emailSend", "emailOpen", "customEvent", "purchase"]}}
PROPERTY = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class World:
    """The full read of every object from a freshly reset sandbox, made once for the module."""

    def __init__(self, conn: iterbridge.Connection, emails: list[str]) -> None:
        self.emails = emails
        self.rows = {name: list(conn.read(name, where=self.required(name))) for name in NAMES}

    def required(self, name: str) -> dict[str, Any] | None:
        return {"Email": self.emails} if OBJECTS[name].required_filters else None

    def where(self, name: str, **conditions: Any) -> dict[str, Any]:
        return {**(self.required(name) or {}), **conditions}


@pytest.fixture(scope="module")
def world(session_sandbox: tuple[Sandbox, FakeClock], admin: httpx2.Client) -> Iterator[World]:
    sandbox, clock = session_sandbox
    clock.now_ms = FakeClock().now_ms
    admin.post("/_sandbox/reset").raise_for_status()
    with connect_to(sandbox) as conn, httpx2.Client(base_url=sandbox.url, headers={"Api-Key": sandbox.api_key}) as api:
        yield World(conn, user_emails(api))


def local(rows: list[Row], column: str, condition: Condition) -> list[Row]:
    return [row for row in rows if condition.matches(row[column])]


@pytest.mark.parametrize("name", NAMES)
def test_the_full_read_is_what_the_api_serves(name: str, world: World, api: httpx2.Client) -> None:
    rows = world.rows[name]
    assert rows, f"no {name} in the sandbox"
    served = SERVED[name](api)
    identities = [IDENTITY[name](row) for row in rows]
    assert sorted(map(repr, identities)) == sorted(map(repr, served.elements()))


@pytest.mark.parametrize("name", NAMES)
def test_keys_are_unique(name: str, world: World) -> None:
    keys = [tuple(row[k] for k in OBJECTS[name].keys) for row in world.rows[name]]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("name", NAMES)
def test_columns_have_their_declared_types(name: str, world: World, conn: iterbridge.Connection) -> None:
    columns = conn.columns(name)
    for row in world.rows[name]:
        assert list(row) == [c.name for c in columns]
        for column in columns:
            value = row[column.name]
            if value is None:
                assert not column.key, f"{name}.{column.name} is a key and NULL"
                continue
            assert isinstance(value, PYTHON_TYPES[column.type]), f"{name}.{column.name} = {value!r}"
            if column.type is SqlType.INTEGER:
                assert not isinstance(value, bool)
            if column.type is SqlType.TIMESTAMP:
                assert value.tzinfo is UTC, f"{name}.{column.name} = {value!r} is not UTC"
                assert datetime(1900, 1, 1, tzinfo=UTC) < value < datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", NAMES)
def test_every_readable_column_has_values(name: str, world: World, conn: iterbridge.Connection) -> None:
    """A column that is NULL in every row is a mapping mistake, unless it is import-only or rare in the data."""
    rare = {"Campaigns": {"EndedAt", "RecurringCampaignId", "WorkflowId"}, "InAppMessages": {"UserId"}}
    empty = [
        c.name
        for c in conn.columns(name)
        if not c.import_only
        and c.name not in rare.get(name, set())
        and c.name != "ExtraFields"
        and all(row[c.name] is None for row in world.rows[name])
    ]
    assert empty == []


@pytest.mark.parametrize("name", NAMES)
def test_projection_returns_only_the_columns_asked(name: str, world: World, conn: iterbridge.Connection) -> None:
    columns = [c.name for c in conn.columns(name)]
    chosen = [columns[-1], columns[0]] if len(columns) > 1 else columns
    rows = list(conn.read(name, where=world.required(name), columns=[c.lower() for c in chosen]))
    assert all(list(row) == chosen for row in rows)
    assert canon(rows) == canon({c: row[c] for c in chosen} for row in world.rows[name])


@pytest.mark.parametrize("name", NAMES)
def test_limit(name: str, world: World, conn: iterbridge.Connection) -> None:
    rows = list(conn.read(name, where=world.required(name), limit=2))
    assert len(rows) == min(2, len(world.rows[name]))
    full = canon(world.rows[name])
    assert all(canon([row]) <= full for row in rows)
    assert list(conn.read(name, where=world.required(name), limit=0)) == []


@pytest.mark.parametrize("name", NAMES)
def test_unknown_columns_are_named(name: str, world: World, conn: iterbridge.Connection) -> None:
    first = conn.columns(name)[0].name
    with pytest.raises(UnknownColumn, match=f"{name} has no column '{first}x'; did you mean {first}"):
        conn.read(name, where=world.required(name), columns=[f"{first}x"])
    with pytest.raises(UnknownColumn):
        conn.read(name, where={**(world.required(name) or {}), "Nope": 1})


def test_unknown_objects_suggest_the_closest(conn: iterbridge.Connection) -> None:
    with pytest.raises(UnknownObject, match="did you mean Campaigns"):
        conn.read("Campaign")
    assert list(conn.read("lists", columns=["id"]))  # names are case-insensitive


# ---- pushed filters ---------------------------------------------------------------------------------------


def _filters() -> list[tuple[str, str]]:
    # InAppMessages are read per user: their full read (by Email) has no UserId to filter locally
    # (test_read_inapp compares the two ways of asking instead).
    skip = {("InAppMessages", "UserId")}
    return [(name, column) for name, obj in OBJECTS.items() for column in obj.filters if (name, column) not in skip]


@pytest.mark.parametrize(("name", "column"), _filters())
def test_every_pushed_filter_gives_the_local_result(
    name: str, column: str, world: World, conn: iterbridge.Connection, calls: Calls
) -> None:
    rows = world.rows[name]
    values = sorted({row[column] for row in rows if row[column] is not None}, key=repr)
    assert values, f"{name}.{column} has no values to filter on"
    picks = [values[0], values[len(values) // 2], values[-1]]
    checks: list[Condition] = [Condition("=", picks[0]), Condition("in", picks[1:]), Condition("in", [])]
    if isinstance(values[0], datetime):
        checks += [Condition(">=", picks[1]), Condition("<", picks[1]), Condition("<=", picks[0])]
    else:
        checks.append(Condition("=", _absent(values[0])))
    scope = {} if column == "EventType" else SCOPE.get(name, {})  # a few event types: each costs an export call
    rows = [row for row in rows if all(row[c] in values for c, values in scope.items())]
    for condition in checks:
        where = world.where(name, **scope, **{column: [condition]})
        pushed = list(conn.read(name, where=where))
        assert canon(pushed) == canon(local(rows, column, condition)), f"{name}.{column} {condition}"


def _absent(example: Any) -> Any:
    if isinstance(example, int):
        return 987654321
    if column_is_email(example):
        return "nobody.at.all@example.com"
    return "no-such-value"


def column_is_email(value: Any) -> bool:
    return isinstance(value, str) and "@" in value


CHEAP_PROPERTIES = [
    ("Campaigns", "CampaignState"),
    ("Campaigns", "Id"),
    ("Templates", "TemplateType"),
    ("Templates", "MessageMedium"),
    ("CatalogItems", "CatalogName"),
    ("CatalogItems", "ItemId"),
    ("Users", "Email"),
    ("Users", "UserId"),
    ("Events", "EventType"),
    ("Events", "Email"),
    ("ListUsers", "ListId"),
    ("InAppMessages", "Email"),
]


@pytest.mark.parametrize(("name", "column"), CHEAP_PROPERTIES)
@PROPERTY
@given(data=st.data())
def test_pushdown_equals_the_full_read_filtered(
    name: str, column: str, world: World, conn: iterbridge.Connection, data: st.DataObject
) -> None:
    rows = world.rows[name]
    values = sorted({row[column] for row in rows if row[column] is not None}, key=repr)
    chosen = data.draw(st.lists(st.sampled_from(values) | st.just(_absent(values[0])), max_size=3), label="values")
    condition = Condition("in", chosen) if data.draw(st.booleans()) or len(chosen) != 1 else Condition("=", chosen[0])
    pushed = list(conn.read(name, where=world.where(name, **{column: [condition]})))
    assert canon(pushed) == canon(local(rows, column, condition))


@PROPERTY
@given(data=st.data())
def test_lists_filtered_on_any_column(world: World, conn: iterbridge.Connection, data: st.DataObject) -> None:
    # Lists push nothing to the API: any where is answered locally, and equals the full read filtered.
    rows = world.rows["Lists"]
    column = data.draw(st.sampled_from(["Id", "Name", "ListType", "Description", "IsGlobalSuppressionEnabled"]))
    values = [row[column] for row in rows if row[column] is not None]
    chosen = data.draw(st.lists(st.sampled_from(values), min_size=1, max_size=3))
    condition = Condition("in", chosen)
    assert canon(conn.read("Lists", where={column: chosen})) == canon(local(rows, column, condition))


@PROPERTY
@given(data=st.data())
def test_events_by_created_at_range(world: World, conn: iterbridge.Connection, data: st.DataObject) -> None:
    rows = world.rows["Events"]
    moments = sorted(row["CreatedAt"] for row in rows)
    start = data.draw(st.sampled_from(moments)) + timedelta(milliseconds=data.draw(st.integers(-1500, 1500)))
    span = timedelta(hours=data.draw(st.integers(0, 24 * 60)))
    conditions = [Condition(data.draw(st.sampled_from([">", ">="])), start), Condition("<", start + span)]
    kinds = data.draw(st.lists(st.sampled_from(sorted({r["EventType"] for r in rows})), min_size=1, max_size=4))
    pushed = list(conn.read("Events", where={"CreatedAt": conditions, "EventType": kinds}))
    expected = [r for r in rows if r["EventType"] in kinds and all(c.matches(r["CreatedAt"]) for c in conditions)]
    assert canon(pushed) == canon(expected)


def test_cursor_ranges_accept_text_epoch_and_datetimes(world: World, conn: iterbridge.Connection) -> None:
    for name, column in (("Campaigns", "UpdatedAt"), ("Users", "ProfileUpdatedAt"), ("Templates", "CreatedAt")):
        rows = world.rows[name]
        middle = sorted(row[column] for row in rows)[len(rows) // 2]
        for bound in (middle, middle.isoformat(), int(middle.timestamp() * 1000)):
            condition = Condition(">=", bound)
            newer = list(conn.read(name, where={column: [condition]}))
            assert canon(newer) == canon(r for r in rows if r[column] >= middle), (name, bound)
