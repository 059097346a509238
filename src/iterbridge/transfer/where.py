"""`--where` conditions simple enough to need no SQL engine: `Column op literal` joined by AND.

Such a condition becomes a `conn.read(where=…)` mapping — the same pushdown as SQL, but the values come
straight from the reader (timestamps keep their milliseconds, JSON stays parsed) and no SQLite runs. Anything
else (OR, NOT, functions, LIKE, IS NULL, column against column…) returns None: the caller hands it to SQL.
"""

from __future__ import annotations

import re
from typing import Any

from iterbridge.objects.base import Condition

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])
      | (?P<quoted>"(?:[^"]|"")+")
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op><=|>=|==|=|<|>)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "in", "true", "false"}


def _tokens(text: str) -> list[tuple[str, Any]] | None:
    found: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            return None
        position = match.end()
        kind = match.lastgroup
        value = match.group(kind or "")
        if kind == "string":
            found.append(("literal", value[1:-1].replace("''", "'")))
        elif kind == "number":
            found.append(("literal", float(value) if any(c in value for c in ".eE") else int(value)))
        elif kind == "quoted":
            found.append(("name", value[1:-1].replace('""', '"')))
        elif kind == "word":
            lowered = value.lower()
            if lowered in ("true", "false"):
                found.append(("literal", lowered == "true"))
            elif lowered in _KEYWORDS:
                found.append((lowered, lowered))
            else:
                found.append(("name", value))
        else:
            found.append((str(kind), value))
    return found


def simple_where(text: str) -> dict[str, list[Condition]] | None:
    """Column → conditions for `A = 1 AND B IN ('x', 'y') AND C >= '2026-01-01'`; None when not that simple."""
    tokens = _tokens(text)
    if not tokens:
        return None
    where: dict[str, list[Condition]] = {}
    position = 0

    def take(kind: str) -> Any:
        nonlocal position
        if position < len(tokens) and tokens[position][0] == kind:
            position += 1
            return tokens[position - 1][1]
        raise _NotSimple

    try:
        while True:
            name = take("name")
            if position < len(tokens) and tokens[position][0] == "in":
                position += 1
                if take("punct") != "(":
                    raise _NotSimple
                values = [take("literal")]
                while tokens[position][1] == ",":
                    position += 1
                    values.append(take("literal"))
                if take("punct") != ")":
                    raise _NotSimple
                condition = Condition("in", values)
            else:
                condition = Condition(take("op"), take("literal"))  # conn.read maps == and the names' case
            where.setdefault(name, []).append(condition)
            if position == len(tokens):
                return where
            take("and")
    except (_NotSimple, IndexError):
        return None


class _NotSimple(Exception):
    pass
