"""`iterbridge sandbox --check`: start the simulator, call each endpoint family over a real socket, report.

A smoke test a new user can run on a fresh machine: it proves the sandbox starts, answers and keeps
what it is told, and shows what it serves.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from rich.table import Table

from iterbridge.api.urls import fill_path
from iterbridge.cli.console import make_console
from iterbridge.sandbox import Sandbox, SandboxConfig


@dataclass
class Probe:
    label: str
    method: str
    path: str
    summary: Callable[[httpx2.Response], str]
    params: Any = None
    body: Any = None
    expected: int = 200


def _count(key: str, *, wrapped: bool = False) -> Callable[[httpx2.Response], str]:
    def summary(response: httpx2.Response) -> str:
        data = response.json()
        data = data.get("params") or {} if wrapped else data
        return f"{len(data.get(key, []))} {key}"

    return summary


def _lines(kind: str) -> Callable[[httpx2.Response], str]:
    return lambda response: f"{len(response.text.splitlines())} {kind}"


def _probes(client: httpx2.Client) -> list[Probe]:
    # A sandbox started with faults may fail these lookups: fall back, and let the probes report the failures.
    found = client.get("/api/lists")
    lists = found.json().get("lists", []) if found.status_code == 200 else []
    standard = next((lst["id"] for lst in lists if lst["listType"] == "Standard"), 0)
    member = "nobody@example.com"
    with contextlib.suppress(httpx2.HTTPError):
        members = client.get("/api/lists/getUsers", params={"listId": standard}) if standard else None
        if members is not None and members.status_code == 200 and members.text:
            member = members.text.split("\n")[0]
    return [
        Probe("channels", "GET", "/api/channels", _count("channels")),
        Probe("message types", "GET", "/api/messageTypes", _count("messageTypes")),
        Probe("lists", "GET", "/api/lists", _count("lists")),
        Probe("list members", "GET", "/api/lists/getUsers", _lines("emails"), params={"listId": standard}),
        Probe("campaigns", "GET", "/api/campaigns", _count("campaigns")),
        Probe("templates (email, base)", "GET", "/api/templates", _count("templates")),
        Probe(
            "templates (push, triggered)",
            "GET",
            "/api/templates",
            _count("templates"),
            params={"templateType": "Triggered", "messageMedium": "Push"},
        ),
        Probe("catalogs", "GET", "/api/catalogs", _count("catalogNames", wrapped=True)),
        Probe(
            "catalog items",
            "GET",
            "/api/catalogs/products/items",
            _count("catalogItemsWithProperties", wrapped=True),
            params={"pageSize": 100},
        ),
        Probe("user fields", "GET", "/api/users/getFields", _count("fields")),
        Probe("a user", "GET", fill_path("/api/users/{email}", {"email": member}), lambda r: r.json()["user"]["email"]),
        Probe(
            "a user's events",
            "GET",
            fill_path("/api/events/{email}", {"email": member}),
            _count("events"),
            params={"limit": 200},
        ),
        Probe(
            "a user's in-app messages",
            "GET",
            "/api/inApp/getMessages",
            _count("inAppMessages"),
            params={"email": member, "count": 100},
        ),
        Probe(
            "export: emailSend (JSON)",
            "GET",
            "/api/export/data.json",
            _lines("events"),
            params={"dataTypeName": "emailSend", "range": "All"},
        ),
        Probe(
            "export: users (CSV)",
            "GET",
            "/api/export/data.csv",
            _lines("lines"),
            params={"dataTypeName": "user", "range": "All"},
        ),
        Probe(
            "track an event",
            "POST",
            "/api/events/track",
            lambda r: r.json()["msg"],
            body={"email": member, "eventName": "sandboxCheck", "dataFields": {"ok": True}},
        ),
        Probe(
            "create a list",
            "POST",
            "/api/lists",
            lambda r: f"listId {r.json()['listId']}",
            body={"name": "sandbox check"},
        ),
        Probe("a wrong key is refused", "GET", "/api/lists", lambda r: r.json()["code"], expected=401),
    ]


def run_check(config: SandboxConfig) -> int:
    """Run the probes; 0 when every answer had the expected status."""
    console = make_console()
    started = time.perf_counter()
    with Sandbox(config) as sandbox:
        client = httpx2.Client(base_url=sandbox.url, headers={"Api-Key": sandbox.api_key}, timeout=60)
        table = Table(title=f"Iterable sandbox at {sandbox.url} (seed {config.seed}, scale {config.scale})")
        for column in ("check", "request", "status", "served"):
            table.add_column(column)
        failures = 0
        for probe in _probes(client):
            headers = {"Api-Key": "wrong-key"} if probe.expected == 401 else None
            try:
                response = client.request(
                    probe.method, probe.path, params=probe.params, json=probe.body, headers=headers
                )
            except httpx2.HTTPError as error:  # e.g. a stream dropped by --fault drop_after_lines
                failures += 1
                table.add_row(probe.label, f"{probe.method} {probe.path}", "[red]failed[/]", str(error)[:80])
                continue
            ok = response.status_code == probe.expected
            served = response.text[:80]
            if ok:
                try:
                    served = probe.summary(response)
                except (KeyError, IndexError, TypeError, ValueError):  # the right status, not the right body
                    ok = False
            failures += not ok
            status = f"[green]{response.status_code}[/]" if ok else f"[red]{response.status_code}[/]"
            table.add_row(probe.label, f"{probe.method} {probe.path}", status, served)
        stats = client.get("/_sandbox/stats").json()
        client.close()
    console.print(table)
    elapsed = time.perf_counter() - started
    verdict = "all answers as expected" if not failures else f"{failures} unexpected answers"
    console.print(f"{stats['total']} API calls in {elapsed:.1f} s — {verdict}.")
    return 1 if failures else 0
