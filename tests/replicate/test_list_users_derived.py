"""ListUsers derived from the users' emailListIds when Users are read whole in the same run: the same rows as
reading every list through lists/getUsers (5 calls a minute), with getUsers called only for the lists the
users cannot tell (every type but Standard); the sweep, incremental runs, a failed users read and a crash keep
their guarantees."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from helpers import NO_TLS, FakeClock, Stats, cli_env, connect_to
from iterbridge.cli import main
from iterbridge.replicate import runner
from iterbridge.replicate.targets import open_target
from iterbridge.sandbox import Sandbox

from .copies import Copy
from .test_runner import Crash, CrashingTarget, run_with

GET_USERS = "GET /api/lists/getUsers"


def _members(url: str) -> list[tuple[Any, ...]]:
    return sorted((r["ListId"], r["Email"]) for r in Copy(url).rows("ListUsers"))


def _lists(api: httpx2.Client) -> dict[int, str]:
    return {lst["id"]: lst["listType"] for lst in api.get("/api/lists").json()["lists"]}


def _reference(sandbox: Sandbox, tmp_path: Path, name: str = "reference") -> list[tuple[Any, ...]]:
    """ListUsers read the way it always was: alone, every list through getUsers."""
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    with connect_to(sandbox) as conn:
        report = conn.replicate(url, ["ListUsers"])
    assert report.ok
    assert report.stream("ListUsers").derived is None
    return _members(url)


def test_derived_rows_equal_a_read_of_every_list_with_fewer_calls(
    small: tuple[Sandbox, FakeClock], target: str, tmp_path: Path
) -> None:
    sandbox = small[0]
    with httpx2.Client(base_url=sandbox.url, headers={"Api-Key": sandbox.api_key}, verify=NO_TLS) as api:
        types = _lists(api)
        with Stats(api).counting() as calls, connect_to(sandbox) as conn:
            report = conn.replicate(target, ["Users", "ListUsers"])
    assert report.ok
    standard = sorted(i for i, kind in types.items() if kind == "Standard")
    others = sorted(i for i, kind in types.items() if kind != "Standard")
    assert standard
    assert others
    assert calls[GET_USERS] == len(others)  # was one per list
    assert calls["GET /api/lists"] == 1
    parts = report.stream("ListUsers").derived
    assert parts is not None
    assert (parts.source, parts.derived, parts.called) == ("Users", standard, others)
    assert parts.line("ListUsers").startswith(f"ListUsers: {len(standard)} lists derived from Users (")
    stream = report.stream("ListUsers")
    assert stream.api_calls == 1 + len(others)
    # Row for row what getUsers gives for every list.
    reference = _reference(sandbox, tmp_path)
    assert _members(target) == reference
    assert stream.rows_read == stream.inserted == len(reference)
    assert {list_id for list_id, _ in reference} & set(standard)  # derived lists have members


def test_sweep_incremental_runs_and_full_runs(sandbox: Sandbox, api: httpx2.Client, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    with connect_to(sandbox) as conn:
        assert conn.replicate(url, ["Users", "ListUsers"]).stream("ListUsers").derived is not None
    assert _members(url) == _reference(sandbox, tmp_path, "first")
    # A member leaves a Standard list, a new user joins one, a user is deleted.
    standard = [i for i, kind in _lists(api).items() if kind == "Standard"]
    by_list = Counter(list_id for list_id, _ in _members(url))
    busy = max(standard, key=lambda i: by_list[i])
    emails = [email for list_id, email in _members(url) if list_id == busy]
    unsubscribed = {"listId": busy, "subscribers": [{"email": emails[0]}]}
    assert api.post("/api/lists/unsubscribe", json=unsubscribed).json()["successCount"] == 1
    joined = {"listId": busy, "subscribers": [{"email": "joined@example.com"}]}
    assert api.post("/api/lists/subscribe", json=joined).json()["successCount"] == 1
    assert api.delete(f"/api/users/{emails[1]}").status_code == 200

    # An incremental run reads only the users changed since its cursor: it cannot tell the members of a list,
    # so every list is read through getUsers, as before.
    with connect_to(sandbox) as conn:
        second = conn.replicate(url, ["Users", "ListUsers"])
    assert second.ok
    assert second.stream("ListUsers").derived is None
    assert _members(url) == _reference(sandbox, tmp_path, "second")
    assert second.stream("ListUsers").deleted >= 2

    # --full reads every user again: derived, swept, the same rows.
    api.post("/api/lists/unsubscribe", json=joined)
    with connect_to(sandbox) as conn:
        third = conn.replicate(url, ["Users", "ListUsers"], full=True)
    assert third.ok
    assert third.stream("ListUsers").derived is not None
    assert _members(url) == _reference(sandbox, tmp_path, "third")
    assert "joined@example.com" not in {e for _, e in _members(url)}


def test_an_incomplete_users_read_falls_back_to_get_users(
    sandbox: Sandbox, stats: Stats, api: httpx2.Client, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    reference = _reference(sandbox, tmp_path)
    stats.faults(error_rate=1.0, error_endpoint="/api/export")  # every users read fails
    with stats.counting() as calls, connect_to(sandbox) as conn:
        report = conn.replicate(url, ["Users", "ListUsers"])
    assert report.stream("Users").error
    stream = report.stream("ListUsers")
    assert stream.error is None
    assert not stream.skipped
    assert stream.derived is not None
    assert stream.derived.derived == []
    assert stream.derived.called == sorted(_lists(api))
    assert calls[GET_USERS] == len(_lists(api))
    assert _members(url) == reference


def test_a_crash_then_a_rerun_gives_the_same_rows(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One message per transaction, small batches: derived rows, seen keys and ends in separate transactions.
    monkeypatch.setattr(runner, "BATCH_ROWS", 8)
    monkeypatch.setattr(runner, "GROUP_MESSAGES", 1)
    objects = ["Users", "ListUsers"]
    reference = _reference(sandbox, tmp_path)
    clean = CrashingTarget(open_target(f"sqlite:///{tmp_path / 'clean.db'}"), 0)
    with connect_to(sandbox) as conn:
        first = run_with(conn, clean, objects, workers=1)
    assert first.ok
    assert first.stream("ListUsers").derived.derived
    assert clean.transactions > 10
    for crash_at in sorted({1 + clean.transactions * k // 8 for k in range(8)}):
        url = f"sqlite:///{tmp_path / f'copy{crash_at}.db'}"
        with connect_to(sandbox) as conn, pytest.raises(Crash):
            run_with(conn, CrashingTarget(open_target(url), crash_at), objects, workers=1)
        with connect_to(sandbox) as conn:
            assert conn.replicate(url, objects).ok
        assert _members(url) == reference, crash_at


def test_the_cli_says_which_lists_were_derived_and_which_were_called(
    sandbox: Sandbox, api: httpx2.Client, tmp_path: Path
) -> None:
    types = _lists(api)
    standard = sorted(i for i, kind in types.items() if kind == "Standard")
    others = sorted(i for i, kind in types.items() if kind != "Standard")
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    args = ["replicate", "--rate-limits", "off", "--to", url, "--objects", "Users,ListUsers"]
    result = CliRunner(env=cli_env(tmp_path, sandbox)).invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.stderr.splitlines() if "derived from" in line]
    derived, called = ", ".join(map(str, standard)), ", ".join(map(str, others))
    assert lines == [
        f"ListUsers: {len(standard)} lists derived from Users ({derived}), {len(others)} read from Iterable ({called})"
    ]
    as_json = CliRunner(env=cli_env(tmp_path, sandbox)).invoke(main, [*args, "--json", "--full"])
    streams = {s["table"]: s for s in json.loads(as_json.stdout)["streams"]}
    assert streams["ListUsers"]["derived"] == {"source": "Users", "noun": "list", "derived": standard,
                                               "called": others}  # fmt: skip


def test_only_integers_in_email_list_ids_name_lists() -> None:
    """A member of EmailListIds that is no integer names no list: a nested array made the derivation raise (a
    dict key cannot be a list), and True or 1.0 were taken for list 1."""
    from iterbridge.objects.list_users import LIST_USERS

    derivation = LIST_USERS.derived
    assert derivation is not None
    user = {"Email": "a@x.io", "EmailListIds": [[1], {"id": 1}, True, 1.0, "1", None, 2, 1, 2]}
    assert list(derivation.rows(user, {1, 2})) == [{"ListId": 2, "Email": "a@x.io"}, {"ListId": 1, "Email": "a@x.io"}]
    assert list(derivation.rows({"Email": "", "EmailListIds": [1]}, {1})) == []
    assert list(derivation.rows({"Email": "a@x.io", "EmailListIds": "[1]"}, {1})) == []


_LIST_IDS = st.one_of(
    st.none(),
    st.lists(st.integers(-3, 6) | st.integers(-(2**63), 2**63 - 1), max_size=6),  # what Iterable sends
    st.lists(st.integers(1, 4) | st.booleans() | st.floats(0, 3) | st.just([1]) | st.text(max_size=2), max_size=4),
    st.just("[1]") | st.just({"1": 2}) | st.just(7),
)


@settings(max_examples=300, deadline=None)
@example(users=[("a@x.io", [10**18])], covered=frozenset(), start=0)  # 19 digits: int64's width
@example(users=[("a@x.io", [2**63 - 1, -(2**63)])], covered=frozenset({-3, 1}), start=0)
@given(
    users=st.lists(
        st.tuples(st.none() | st.just("") | st.emails(), _LIST_IDS),
        max_size=8,
    ),
    covered=st.frozensets(st.integers(-3, 6), max_size=6),
    start=st.integers(0, 3),
)
def test_a_batch_of_users_gives_the_memberships_its_rows_give(
    users: list[tuple[Any, Any]], covered: frozenset[int], start: int
) -> None:
    """The memberships a whole batch of users tells, made by compute kernels (`Derivation.batch`), are the rows
    its users give one at a time (`Derivation.rows`), in order: users without an email or a list, a list twice in
    one array, lists not covered, integers up to 64 bits; a batch with anything else in an array is left to
    `rows` (None), and one of integers only never is."""
    import pyarrow as pa

    from iterbridge.objects.arrow import array, rows
    from iterbridge.objects.base import SqlType
    from iterbridge.objects.list_users import LIST_USERS

    derivation = LIST_USERS.derived
    assert derivation is not None
    assert derivation.batch is not None
    emails = array([email for email, _ in users], SqlType.TEXT).slice(min(start, len(users)))
    lists = array([ids for _, ids in users], SqlType.JSON).slice(min(start, len(users)))
    batch = pa.RecordBatch.from_arrays([emails, lists], names=["Email", "EmailListIds"])
    types = {"Email": SqlType.TEXT, "EmailListIds": SqlType.JSON}
    wanted = [found for user in rows(batch, types) for found in derivation.rows(user, covered)]
    made = derivation.batch(batch, covered)
    integers_only = all(
        ids is None or (isinstance(ids, list) and all(type(v) is int for v in ids)) for _, ids in users[start:]
    )
    if made is None:
        assert not integers_only
        return
    assert list(rows(made, {"ListId": SqlType.INTEGER, "Email": SqlType.TEXT})) == wanted
    for table in (pa.Table.from_batches([batch]), pa.Table.from_batches([batch.slice(0, 2), batch.slice(2)])):
        assert pa.Table.from_batches([derivation.batch(table, covered)]).equals(pa.Table.from_batches([made]))
