"""Database URLs as people write them (`--to`, `--with`): shown without their secrets, and refused when
nothing would be kept.

A URL is shown only through `redact_url`, which parses it (the userinfo's password, and query parameters
that carry secrets, e.g. `?password=…`, `?sslpassword=…`, `?token=…`) rather than replacing substrings, so a
password containing `@` is hidden whole and a short password does not garble the rest of a message. This
module sits beside `errors.py` (no layer below it), so the CLI and the jobs both use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, unquote

from iterbridge.errors import ConfigurationError

MASK = "***"
# Query parameters whose value is a secret (names compared in lower case, `_` and `-` ignored).
_SECRET_WORDS = ("pass", "pwd", "secret", "token", "credential", "apikey")
_SECRET_NAMES = frozenset({"key", "sslkey", "privatekey", "auth", "authorization", "signature", "sig"})
# A URL in a message: up to a space or quote, not ending with the punctuation after it ("…db: error").
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://(?:[^\s'\"<>]*[^\s'\"<>.,:;)\]])?")


@dataclass(frozen=True)
class UrlParts:
    """scheme://userinfo@rest?query#fragment, split the way a person means it: the userinfo ends at the
    last `@` before the path (a password may contain `@`, `:` or `/`)."""

    scheme: str
    userinfo: str | None
    rest: str  # host, port and path
    query: str | None
    fragment: str | None

    @property
    def password(self) -> str | None:
        if self.userinfo is None or ":" not in self.userinfo:
            return None
        return self.userinfo.split(":", 1)[1]


def split_url(url: str) -> UrlParts | None:
    """The parts of `scheme://…`, or None for text that is no such URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", scheme):
        return None
    fragment = None
    query_at = rest.find("?")
    head = rest if query_at < 0 else rest[:query_at]
    at = head.rfind("@")
    if at < 0 and query_at >= 0 and "/" not in head and "@" in rest:
        # No path before the `?`, an `@` after it: the `?` belongs to a password (hidden rather than shown).
        slash = rest.find("/", rest.find("@"))
        at = rest[: slash if slash >= 0 else len(rest)].rfind("@")
    userinfo = rest[:at] if at >= 0 else None
    rest = rest[at + 1 :] if at >= 0 else rest
    query = None
    if "?" in rest:
        rest, query = rest.split("?", 1)
    if query is not None and "#" in query:
        query, fragment = query.split("#", 1)
    elif "#" in rest:
        rest, fragment = rest.split("#", 1)
    return UrlParts(scheme, userinfo, rest, query, fragment)


def _secret_parameter(name: str) -> bool:
    plain = unquote(name).lower().replace("_", "").replace("-", "")
    return plain in _SECRET_NAMES or any(word in plain for word in _SECRET_WORDS)


def _parameters(query: str) -> Iterator[tuple[str, str | None]]:
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        yield name, value if sep else None


def redact_url(url: str) -> str:
    """The URL as it may be shown: the password and secret-bearing query values replaced by ***."""
    parts = split_url(url)
    if parts is None:
        return url
    text = f"{parts.scheme}://"
    if parts.userinfo is not None:
        user, colon, _ = parts.userinfo.partition(":")
        text += f"{user}:{MASK}@" if colon else f"{parts.userinfo}@"
    text += parts.rest
    if parts.query is not None:
        shown = [
            name if value is None else f"{name}={MASK if _secret_parameter(name) and value else value}"
            for name, value in _parameters(parts.query)
        ]
        text += "?" + "&".join(shown)
    if parts.fragment is not None:
        text += "#" + parts.fragment
    return text


def driver_url(url: str) -> str:
    """The URL with its user name and password percent-encoded, as drivers parse them: a password written
    with `@`, `:` or `/` in it is then read whole (SQLAlchemy would end it at its first `@` and take the rest
    for the host — showing it in the error)."""
    parts = split_url(url)
    if parts is None or parts.userinfo is None:
        return url
    user, colon, password = parts.userinfo.partition(":")
    userinfo = quote(unquote(user), safe="") + (":" + quote(unquote(password), safe="") if colon else "")
    text = f"{parts.scheme}://{userinfo}@{parts.rest}"
    if parts.query is not None:
        text += "?" + parts.query
    return text + ("#" + parts.fragment if parts.fragment is not None else "")


def url_secrets(url: str) -> list[str]:
    """The secrets a URL carries (as written and percent-decoded), for a driver's message that echoes one."""
    parts = split_url(url)
    if parts is None:
        return []
    found = [parts.password] if parts.password else []
    if parts.query:
        found += [value for name, value in _parameters(parts.query) if value and _secret_parameter(name)]
    return sorted({form for secret in found for form in (secret, unquote(secret))}, key=len, reverse=True)


def redact_text(text: str, secrets: list[str] | None = None) -> str:
    """A message with every URL in it redacted, and the given secrets hidden where they stand as words of
    their own (a driver quoting a password), never inside other words."""
    text = _URL_IN_TEXT.sub(lambda found: redact_url(found.group(0)), text)
    for secret in secrets or []:
        text = re.sub(rf"(?<![\w]){re.escape(secret)}(?![\w])", MASK, text)
    return text


# ---- where a target keeps its data ------------------------------------------------------------------------


def sqlite_path(url: str) -> str | None:
    """The file a sqlite:// URL names (None: in memory). `sqlite:///file:…?uri=true` URIs too."""
    parts = split_url(url)
    if parts is None:
        return None
    path = parts.rest[1:] if parts.rest.startswith("/") else parts.rest
    query = dict(_parameters(parts.query or ""))
    if (query.get("uri") or "").lower() in ("true", "1") and path.startswith("file:"):
        if (query.get("mode") or "").lower() == "memory":
            return None
        path = unquote(path[5:])
        if path.startswith("///"):
            path = path[2:]
    if path in ("", ":memory:") or path.startswith(":memory:"):
        return None
    return path


def duckdb_path(url: str) -> str:
    """duckdb:///relative.duckdb, duckdb:////absolute/path.duckdb; `:memory:` for duckdb://, duckdb:///:memory:.
    A `?` starts the URL's settings (`duckdb_settings`), as in duckdb_engine's URLs."""
    rest = url.split(":", 1)[1].split("?", 1)[0]
    if rest.startswith("////"):
        path = "/" + rest[4:]
    elif rest.startswith("///"):
        path = rest[3:]
    else:
        path = rest.lstrip("/")
    return ":memory:" if path == "" or path.startswith(":memory:") else path


# The DuckDB settings a URL may give (`duckdb:///copy.duckdb?memory_limit=2GB&threads=2`), each value checked by
# its pattern: it is written into a SET statement, which takes no parameters.
DUCKDB_SETTINGS = {
    "memory_limit": (re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", re.IGNORECASE), "a size like 2GB or 512MB"),
    "threads": (re.compile(r"[1-9]\d{0,3}"), "a number of threads like 4"),
}


def duckdb_settings(url: str) -> dict[str, str]:
    """The DuckDB settings a duckdb:// URL gives after its `?` (names in DUCKDB_SETTINGS, values checked), or a
    one-line ConfigurationError naming the setting."""
    _, sep, query = url.partition("?")
    settings: dict[str, str] = {}
    for name, value in _parameters(query) if sep and query else ():
        known = DUCKDB_SETTINGS.get(unquote(name).lower())
        if known is None:
            names = " and ".join(DUCKDB_SETTINGS)
            raise ConfigurationError(
                f"{redact_url(url)}: {unquote(name)!r} is no DuckDB setting iterbridge takes ({names})"
            )
        text = unquote(value or "").strip()
        if not known[0].fullmatch(text):
            raise ConfigurationError(f"{redact_url(url)}: {unquote(name)}={text!r} must be {known[1]}")
        settings[unquote(name).lower()] = text
    return settings


DLT_PREFIX = "dlt:"  # `--to dlt:bigquery`: a dlt destination, not a database URL


def check_target_url(url: str, option: str) -> None:
    """Refuse a target that is no database URL, or one in memory (a replication or sync into it would keep
    nothing once the command ends)."""
    if not url.strip():
        raise ConfigurationError(f"{option} is empty: give a database URL like sqlite:///iterable.db")
    lowered = url.lower()
    if lowered.startswith(DLT_PREFIX):
        return  # a dlt destination (iterbridge.dlt checks its name; dlt's own config holds its credentials)
    if lowered.startswith("duckdb:"):
        duckdb_settings(url)
        in_memory = duckdb_path(url) == ":memory:"
    elif "://" not in url:
        raise ConfigurationError(
            f"{option} must be a database URL like sqlite:///iterable.db, postgresql://user@host/db or "
            f"duckdb:///file.duckdb, not {redact_url(url)!r}"
        )
    else:
        in_memory = lowered.startswith("sqlite") and sqlite_path(url) is None
    if in_memory:
        raise ConfigurationError(
            f"{option} {redact_url(url)} is an in-memory database: nothing would be kept when the command ends; "
            "give a file, e.g. sqlite:///iterable.db"
        )
