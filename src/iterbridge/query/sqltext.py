"""Just enough SQL tokenising to find what SQLite cannot do for us: CALL statements, INSERT … RETURNING,
the statement kind, a tail after a statement, and whether a user's condition is one expression. Strings,
quoted identifiers and comments are skipped, never split."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from iterbridge.errors import QuerySyntaxError
from iterbridge.sqlnames import quote_name, quote_names

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    depth: int  # parenthesis/bracket/brace depth at the token


def tokens(sql: str) -> list[Token]:
    """Words and single punctuation at their nesting depth; literals and comments are skipped."""
    found: list[Token] = []
    depth = 0
    i = 0
    length = len(sql)
    while i < length:
        char = sql[i]
        if char in "'\"`":
            end = i + 1
            while end < length:
                if sql[end] == char:
                    if end + 1 < length and sql[end + 1] == char:  # doubled quote inside
                        end += 2
                        continue
                    break
                end += 1
            found.append(Token(sql[i : end + 1], i, depth))
            i = end + 1
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            i = length if newline < 0 else newline + 1
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            i = length if close < 0 else close + 2
        elif char in "([{":
            found.append(Token(char, i, depth))
            depth += 1
            i += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
            found.append(Token(char, i, depth))
            i += 1
        elif char.isspace():
            i += 1
        else:
            match = _WORD.match(sql, i)
            if match:
                found.append(Token(match.group(), i, depth))
                i = match.end()
            else:
                found.append(Token(char, i, depth))
                i += 1
    return found


def first_word(sql: str) -> str:
    for token in tokens(sql):
        return token.text.upper()
    return ""


def split_returning(sql: str) -> tuple[str, str | None]:
    """("INSERT … ", "Id, Name") for an INSERT (or WITH … INSERT) with a top-level RETURNING clause, else
    (sql, None)."""
    found = tokens(sql)
    if not found:
        return sql, None
    first = found[0].text.upper()
    is_insert = first in ("INSERT", "REPLACE") or (
        first == "WITH" and any(t.depth == 0 and t.text.upper() in ("INSERT", "REPLACE") for t in found)
    )
    if not is_insert:
        return sql, None
    for token in found:
        if token.depth == 0 and token.text.upper() == "RETURNING":
            clause = sql[token.start + len("RETURNING") :].strip().rstrip(";").strip()
            return sql[: token.start].rstrip(), clause
    return sql, None


def insert_target(sql: str) -> str | None:
    """The table an INSERT writes into."""
    found = tokens(sql)
    for position, token in enumerate(found):
        if token.text.upper() == "INTO" and position + 1 < len(found):
            name = found[position + 1].text
            if position + 3 < len(found) and found[position + 2].text == ".":
                name = found[position + 3].text
            return name.strip('"`[]')
    return None


def split_arguments(text: str) -> list[str]:
    """Top-level comma-separated pieces of an argument list."""
    pieces: list[str] = []
    start = 0
    for token in tokens(text):
        if token.text == "," and token.depth == 0:
            pieces.append(text[start : token.start].strip())
            start = token.start + 1
    tail = text[start:].strip()
    if tail or pieces:
        pieces.append(tail)
    return pieces


def split_statements(sql: str) -> list[str]:
    """Statements separated by top-level semicolons (for the shell and multi-statement input)."""
    statements: list[str] = []
    start = 0
    for token in tokens(sql):
        if token.text == ";" and token.depth == 0:
            piece = sql[start : token.start].strip()
            if piece:
                statements.append(piece)
            start = token.start + 1
    tail = sql[start:].strip()
    if tail:
        statements.append(tail)
    return statements


def has_statement(text: str) -> bool:
    """Whether text holds anything but whitespace, comments and semicolons (i.e. another statement)."""
    return any(token.text != ";" for token in tokens(text))


def takes_sets_from_queries(sql: str) -> bool:
    """Whether an `IN` of the statement takes its values from a subquery or a table (a set that may be empty)
    rather than from a list of values."""
    found = tokens(sql)
    for position, token in enumerate(found):
        if token.text.upper() != "IN":
            continue
        following = found[position + 1 : position + 3]
        if not following or following[0].text != "(":
            return True  # IN table, IN table_function(…)
        if len(following) > 1 and following[1].text.upper() in ("SELECT", "WITH", "VALUES"):
            return True
    return False


def check_expression(text: str, what: str = "the condition") -> None:
    """Refuse a condition that is not one SQL expression: empty, a `;` that would end the statement, unbalanced
    parentheses, an unterminated literal or comment. Scanned as SQLite does (quotes '…' "…" `…` […])."""
    if not has_statement(text):
        raise QuerySyntaxError(f"{what} is empty")
    depth = 0
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        column = position + 1
        if char in "'\"`[":
            close = "]" if char == "[" else char
            end = text.find(close, position + 1)
            while end >= 0 and close != "]" and text.startswith(close * 2, end):
                end = text.find(close, end + 2)  # a doubled quote inside
            if end < 0:
                raise QuerySyntaxError(f"{what} has an unterminated {char}…{close} (from column {column})")
            position = end + 1
            continue
        if text.startswith("--", position):
            newline = text.find("\n", position)
            position = length if newline < 0 else newline + 1
            continue
        if text.startswith("/*", position):
            end = text.find("*/", position + 2)
            if end < 0:
                raise QuerySyntaxError(f"{what} has an unterminated /* comment (from column {column})")
            position = end + 2
            continue
        if char == ";":
            raise QuerySyntaxError(f"{what} must be one expression: the ';' at column {column} would end the statement")
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise QuerySyntaxError(f"{what} has a ')' without its '(' (column {column})")
        position += 1
    if depth:
        raise QuerySyntaxError(f"{what} has a '(' without its ')'")


def select_where(table: str, columns: Sequence[str], condition: str, what: str = "the condition") -> str:
    """`SELECT columns FROM table WHERE (condition)`, the condition checked to be one expression (`what` names
    it in errors, e.g. "--where") and the names quoted: what a job that filters by a user's condition runs
    (always on a read-only statement)."""
    check_expression(condition, what)
    return f"SELECT {quote_names(columns)} FROM {quote_name(table)} WHERE (\n{condition}\n)"
