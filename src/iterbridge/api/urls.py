"""URLs: values as path segments (the one place a value from a user, a file or Iterable enters a URL path),
and which hosts are this machine.

Percent-encoding is not enough. `.` and `..` are unreserved characters, so they stay as they are, and the
HTTP client then resolves them as dot segments: `DELETE /api/catalogs/{name}/items` with the name `.` is sent
as `DELETE /api/catalogs/items` — another resource. Iterable's paths cannot carry a `/`, even
encoded; a backslash is a slash to many servers, an empty or blank segment collapses into its
neighbours, and control characters are stripped by URL parsers. Such values are refused, never rewritten:
the caller reports the row (or fails the read) with the reason.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import quote

from iterbridge.errors import UnaddressableValue

_PATH_PARAM = re.compile(r"\{(\w+)\}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def path_segment(name: str, value: object) -> str:
    """`value` percent-encoded as one path segment, or UnaddressableValue saying why it cannot be one."""
    text = str(value)
    reason = _unsafe(text)
    if reason:
        raise UnaddressableValue(f"{name} {text!r} cannot be sent in a URL path: {reason}")
    return quote(text, safe="@+")


def _unsafe(text: str) -> str | None:
    if not text.strip():
        return "it is empty" if not text else "it is blank"
    if text in (".", ".."):
        return f"the HTTP client would resolve {text!r} as a relative path and address another resource"
    if "/" in text or "\\" in text:
        return "it contains a slash, which Iterable's paths cannot carry"
    if _CONTROL.search(text):
        return "it contains a control character"
    return None


def fill_path(template: str, values: Mapping[str, object] | None) -> str:
    """A route template ("/api/users/{email}") with every {param} replaced by its checked segment."""
    given = values or {}
    return _PATH_PARAM.sub(lambda m: path_segment(m.group(1), given[m.group(1)]), template)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: this machine (a sandbox), where plain HTTP never leaves the host."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
