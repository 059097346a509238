"""The connection itself: check(), the embedded sandbox, the catalog it exposes, closing."""

from __future__ import annotations

import threading

import httpx2
import pytest

import iterbridge
from iterbridge.objects import OBJECTS
from iterbridge.sandbox import Sandbox

from .support import Calls, connect_to


def test_check_a_server_side_key(conn: iterbridge.Connection, sandbox: Sandbox, calls: Calls) -> None:
    with calls.counting() as made:
        found = conn.check()
    assert found == iterbridge.KeyCheck("us", sandbox.url, read_only=False)
    assert found.can_export
    assert "server-side key" in found.describe()
    assert sum(made.values()) <= 2


def test_check_a_read_only_key(sandbox: Sandbox) -> None:
    with iterbridge.connect(api_key="sandbox-read-only-key", base_url=sandbox.url, rate_limit_factor=None) as conn:
        found = conn.check()
        assert found.read_only
        assert not found.can_export
        assert "read-only key" in found.describe()
        assert list(conn.read("Campaigns", columns=["Id"]))  # metadata is readable
        with pytest.raises(iterbridge.AuthenticationError, match="sufficient permissions"):
            list(conn.read("Users"))


def test_check_a_wrong_key(sandbox: Sandbox) -> None:
    with (
        iterbridge.connect(api_key="wrong", base_url=sandbox.url, rate_limit_factor=None) as conn,
        pytest.raises(iterbridge.AuthenticationError, match="Invalid API key"),
    ):
        conn.check()


def test_an_embedded_sandbox() -> None:
    conn = iterbridge.connect(sandbox=True)
    assert conn.sandbox is not None
    url = conn.settings.base_url
    assert url.startswith("http://127.0.0.1:")
    assert list(conn.read("Lists"))
    conn.close()
    assert conn.sandbox is None
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(f"{url}/api/lists", timeout=2)


def test_the_catalog(conn: iterbridge.Connection) -> None:
    assert conn.objects == list(OBJECTS)
    assert conn.object("lists").name == "Lists"
    assert [c.name for c in conn.columns("Lists")] == [c.name for c in conn.object("Lists").columns]


def test_user_fields_are_asked_once_per_connection(sandbox: Sandbox, calls: Calls) -> None:
    with connect_to(sandbox) as conn, calls.counting() as made:
        conn.columns("Users")
        list(conn.read("UserFields"))
        list(conn.read("Users", where={"Email": "nobody@example.com"}))
    assert made["GET /api/users/getFields"] == 1


def test_skips_are_counted_per_connection_and_thread(sandbox: Sandbox) -> None:
    """Replication reports a table's skipped slices from its thread's list: another connection's skips, in
    the same thread, are not its own."""
    with connect_to(sandbox) as first, connect_to(sandbox) as second:
        first.session.skip("Lists", "list 1", "always 500")
        assert [s.slice for s in first.session.skipped_in_thread()] == ["list 1"]
        assert second.session.skipped_in_thread() == []
        seen: list[int] = []
        worker = threading.Thread(target=lambda: seen.append(len(first.session.skipped_in_thread())))
        worker.start()
        worker.join()
        assert seen == [0]
