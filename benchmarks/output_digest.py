"""SHA-256 digests of what the sandbox generates, to prove that a performance change altered no byte.

    python3 benchmarks/output_digest.py                     # print one digest per case, then a total
    python3 benchmarks/output_digest.py --save before.txt   # keep them
    python3 benchmarks/output_digest.py --compare before.txt  # exit 1 when any case differs

Cases, at the tiny and small scales (and a slice of the medium and large ones) with a fixed anchor
(2026-11-01T00:00Z) and a frozen clock (anchor + 6 h): data.json and data.csv lines of several data types
and windows (straight from the export generator), with onlyFields / omitFields / campaignId, users and
events by email for a handful of users, userEvents lines, the export after a few writes (tracked events, a
deleted and an updated user), and the same requests over a real socket (`Sandbox`), which covers the routes
and the chunked streaming path.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on the path, and benchmarks/csv.py would shadow the standard library's
# csv module (httpx2 imports it through importlib.metadata): take the folder off the path before importing.
if __name__ == "__main__":
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import argparse
import hashlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import partial

import httpx2
import orjson

from iterbridge.constants import EXPORT_DATA_TYPES
from iterbridge.sandbox import Sandbox, SandboxConfig
from iterbridge.sandbox.data.events import api_event, user_event_line
from iterbridge.sandbox.data.timefmt import DAY_MS, HOUR_MS
from iterbridge.sandbox.data.users import user_document
from iterbridge.sandbox.faults import Faults
from iterbridge.sandbox.world import World
from iterbridge.sandbox.world.exports import CSV_FORMAT, JSON_FORMAT, ExportQuery, lines

ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
ANCHOR_MS = int(ANCHOR.timestamp() * 1000)
NOW_MS = ANCHOR_MS + 6 * HOUR_MS
SCALES = ("tiny", "small")
MAIN_TYPES = ("emailSend", "emailOpen", "customEvent", "purchase", "user")
# [start, end) windows: everything, the last week, one day across the anchor (late arrivals), one hour.
WINDOWS = {
    "all": (0, NOW_MS + 1),
    "week": (ANCHOR_MS - 7 * DAY_MS, ANCHOR_MS),
    "across-anchor": (ANCHOR_MS - 18 * HOUR_MS, NOW_MS + 1),
    "hour": (ANCHOR_MS - 30 * HOUR_MS, ANCHOR_MS - 29 * HOUR_MS),
}


def config(scale: str) -> SandboxConfig:
    return SandboxConfig(seed=42, scale=scale, anchor=ANCHOR, clock=lambda: NOW_MS, rate_limit_factor=None)


def digest(chunks: Iterable[bytes]) -> str:
    sha = hashlib.sha256()
    for chunk in chunks:
        sha.update(chunk)
    return sha.hexdigest()


def sample_indices(count: int) -> list[int]:
    return sorted({0, 1, 2, 7, 13, count // 3, count // 2, count - 2, count - 1})


Case = tuple[str, Callable[[], Iterable[bytes]]]


def world_cases(scale: str) -> Iterator[Case]:
    world = World(config(scale), Faults())
    for data_type in MAIN_TYPES:
        for window, (start, end) in WINDOWS.items():
            query = ExportQuery(data_type, start, end)
            yield f"{scale} json {data_type} {window}", partial(lines, world, query, JSON_FORMAT)
            if window in ("week", "across-anchor"):
                yield f"{scale} csv {data_type} {window}", partial(lines, world, query, CSV_FORMAT)
    start, end = WINDOWS["all"]
    for data_type in EXPORT_DATA_TYPES:
        if data_type not in MAIN_TYPES:
            query = ExportQuery(data_type, start, end)
            yield f"{scale} json {data_type} all", partial(lines, world, query, JSON_FORMAT)
    narrowed = {
        "only": ExportQuery("emailOpen", start, end, only_fields=("campaignId", "city", "email")),
        "omit": ExportQuery("emailSend", start, end, omit_fields=frozenset({"messageBusId", "itblInternal"})),
        "campaign": ExportQuery("emailSend", start, end, campaign_id=first_campaign(world)),
        "only-user": ExportQuery("user", start, end, only_fields=("firstName", "itblInternal.emailDomain")),
        "csv-semicolon": ExportQuery("purchase", start, end, delimiter=";"),
    }
    for name, query in narrowed.items():
        yield f"{scale} json {name}", partial(lines, world, query, JSON_FORMAT)
        yield f"{scale} csv {name}", partial(lines, world, query, CSV_FORMAT)
    generator = world.user_generator
    for index in sample_indices(generator.count):
        email = generator.email(index)
        yield f"{scale} user {index}", partial(user_profile, world, email)
        yield f"{scale} events {index}", partial(user_events, world, email)
    yield f"{scale} after writes", partial(after_writes, scale)


def large_cases(scale: str) -> Iterator[Case]:
    """A slice of the bigger scales: an hour of events, one across the anchor, a few users."""
    world = World(config(scale), Faults())
    for data_type in ("emailSend", "emailOpen", "emailClick", "customEvent", "purchase", "inAppOpen", "smsSend"):
        for window in ("hour", "across-anchor"):
            start, end = WINDOWS[window]
            if window == "across-anchor":
                start = NOW_MS - HOUR_MS
            yield (
                f"{scale} json {data_type} {window}",
                partial(lines, world, ExportQuery(data_type, start, end), JSON_FORMAT),
            )
    generator = world.user_generator
    for index in sample_indices(generator.count)[::2]:
        email = generator.email(index)
        yield f"{scale} user {index}", partial(user_profile, world, email)
        yield f"{scale} events {index}", partial(user_events, world, email)


def first_campaign(world: World) -> int:
    for line in lines(world, ExportQuery("emailSend", *WINDOWS["all"]), JSON_FORMAT):
        return int(orjson.loads(line)["campaignId"])
    return 0


def user_profile(world: World, email: str) -> list[bytes]:
    return [orjson.dumps(user_document(world.users.profile(email) or {}))]


def user_events(world: World, email: str) -> Iterator[bytes]:
    for located in world.events.of_user(email):
        yield orjson.dumps(api_event(located.event, located.email, located.user_id)) + b"\n"
        yield orjson.dumps(user_event_line(located.event, located.email, located.user_id)) + b"\n"


def after_writes(scale: str) -> Iterator[bytes]:
    """Exports once writes changed the world: tracked events, a deleted user, an updated one."""
    world = World(config(scale), Faults())
    generator = world.user_generator
    deleted, updated, tracked = (generator.email(i) for i in (1, 2, 3))
    world.users.delete(deleted)
    world.users.upsert(updated, {"firstName": "Changed", "loyaltyPoints": 7})
    custom = {"eventName": "benchmarked", "dataFields": {"a": 1}, "eventUpdatedAt": "2026-10-31 23:00:00 +00:00"}
    world.events.track("customEvent", tracked, "u0000003", ANCHOR_MS - HOUR_MS, custom)
    world.events.track("purchase", "new.person@example.com", None, ANCHOR_MS - 2 * HOUR_MS, {"id": "p1", "total": 3.5})
    for data_type in ("customEvent", "purchase", "emailSend", "user"):
        yield from lines(world, ExportQuery(data_type, *WINDOWS["all"]), JSON_FORMAT)
    yield from user_events(world, tracked)
    yield from user_events(world, deleted)


def get(client: httpx2.Client, path: str, params: dict[str, str] | None = None) -> Iterator[bytes]:
    """The status line, then the body as served."""
    with client.stream("GET", path, params=params) as response:
        yield str(response.status_code).encode() + b"\n"
        yield from response.iter_bytes()


def http_cases(scale: str) -> Iterator[Case]:
    sandbox = Sandbox(config(scale)).start()
    client = httpx2.Client(base_url=sandbox.url, headers={"Api-Key": sandbox.api_key}, timeout=120)
    windows = {name: WINDOWS[name] for name in ("all", "across-anchor")}
    for data_type in MAIN_TYPES:
        for window, (start, end) in windows.items():
            params = {"dataTypeName": data_type, "startDateTime": str(start), "endDateTime": str(end)}
            yield f"{scale} http data.json {data_type} {window}", partial(get, client, "/api/export/data.json", params)
            yield f"{scale} http data.csv {data_type} {window}", partial(get, client, "/api/export/data.csv", params)
    today = {"dataTypeName": "emailOpen"}
    yield f"{scale} http data.json range=Today", partial(get, client, "/api/export/data.json", today)
    generator = sandbox.state.world.user_generator
    for index in sample_indices(generator.count)[:5]:
        email = generator.email(index)
        yield f"{scale} http user {index}", partial(get, client, f"/api/users/{email}")
        yield f"{scale} http events {index}", partial(get, client, f"/api/events/{email}", {"limit": "200"})
        user_events_params = {"email": email, "includeCustomEvents": "true"}
        yield f"{scale} http userEvents {index}", partial(get, client, "/api/export/userEvents", user_events_params)
    yield "__close__", partial(close, sandbox, client)


def close(sandbox: Sandbox, client: httpx2.Client) -> list[bytes]:
    client.close()
    sandbox.stop()
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--save", type=Path, help="write the digests to this file")
    parser.add_argument("--compare", type=Path, help="compare with digests saved earlier; exit 1 on a difference")
    parser.add_argument("--no-http", action="store_true", help="skip the cases served over a socket")
    args = parser.parse_args()
    results: dict[str, str] = {}
    for scale in SCALES:
        cases = list(world_cases(scale))
        if not args.no_http:
            cases += list(http_cases(scale))
        for name, produce in cases:
            value = digest(produce())
            if name != "__close__":
                results[name] = value
                print(f"{value[:16]}  {name}", flush=True)
    for scale in ("medium", "large"):
        for name, produce in large_cases(scale):
            results[name] = digest(produce())
            print(f"{results[name][:16]}  {name}", flush=True)
    total = digest(f"{name}={value}\n".encode() for name, value in results.items())
    print(f"{total[:16]}  TOTAL of {len(results)} cases")
    text = "".join(f"{value}  {name}\n" for name, value in results.items())
    if args.save:
        args.save.write_text(text)
    if args.compare:
        saved = {}
        for line in args.compare.read_text().splitlines():
            value, name = line.split("  ", 1)
            saved[name] = value
        differ = [name for name, value in results.items() if name in saved and saved[name] != value]
        missing = [name for name in saved if name not in results]
        compared = sum(1 for name in results if name in saved)
        print(f"compared {compared} cases with {args.compare}: {len(differ)} differ, {len(missing)} missing")
        for name in differ:
            print(f"  DIFFERENT: {name}")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
