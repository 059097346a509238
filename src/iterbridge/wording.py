"""Counts and verbs in the messages people read: "1 row", "2 rows", "deleted" — one place, so no message says
"1 row(s) deleteed"."""

from __future__ import annotations

# Past tenses of the write operations (a verb ending in "e" takes "d", not "ed").
_PAST = {"insert": "inserted", "update": "updated", "upsert": "upserted", "delete": "deleted"}


def past_tense(verb: str) -> str:
    return _PAST.get(verb) or (f"{verb}d" if verb.endswith("e") else f"{verb}ed")


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`count` and the noun agreeing with it: "1 row", "1,000 rows", "2 API calls"."""
    return f"{count:,} {noun if count == 1 else (nouns or f'{noun}s')}"
