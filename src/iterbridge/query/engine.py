"""SQL over Iterable: an in-memory SQLite (apsw) where every catalog object is a table.

`Engine.execute(sql, params)` runs one statement and returns a `Cursor` (DB-API-like: `description`,
iteration, `fetchall`). Around SQLite the engine adds what it cannot do itself: `CALL Procedure(…)`,
`INSERT … RETURNING` of ids Iterable generates, `EXPLAIN` of API calls, and refusing DML that Iterable
does not allow before anything runs (the authorizer sees it at prepare time, before any API call).

What it will not run, whatever the text (apsw's `execute` would run every statement of a string):
- more than one statement: the first is prepared, and a tail after it is refused before anything runs;
- in a read-only statement (`read_only=True`, or an engine made read-only: exports, conditions, filters),
  anything but a read: the authorizer refuses every other action and the writers refuse too;
- unless `allow_local_files`, what reads or writes local files: ATTACH, VACUUM (INTO), attached databases.
A progress handler lets Ctrl-C and SIGTERM interrupt a long pure-SQLite statement.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import apsw

from iterbridge.errors import (
    IterbridgeError,
    QueryError,
    QuerySyntaxError,
    UnknownColumn,
    UnknownObject,
    UnsupportedOperation,
)
from iterbridge.objects import OBJECTS, get_object
from iterbridge.objects.base import ObjectDef, Operation, ReadRequest, Row, SqlType, WriteReport
from iterbridge.query import sqltext
from iterbridge.query.vtable import ObjectModule, declared_type, to_sql
from iterbridge.sqlnames import quote_names

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

Params = Mapping[str, Any] | Sequence[Any] | None

_CALL = re.compile(r"^\s*CALL\s+([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_NAMED_ARGUMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?:=>|:=|=)\s*(.+)$", re.DOTALL)
_NO_TABLE = re.compile(r"no such table: (?:\w+\.)?(.+)$")
_NO_COLUMN = re.compile(r"no such column: (.+)$")
# What a read-only statement may do: read tables (SELECT, READ), call functions, recurse.
_READS = frozenset({apsw.SQLITE_SELECT, apsw.SQLITE_READ, apsw.SQLITE_FUNCTION, apsw.SQLITE_RECURSIVE})
_WRITES = {
    apsw.SQLITE_INSERT: Operation.INSERT,
    apsw.SQLITE_UPDATE: Operation.UPDATE,
    apsw.SQLITE_DELETE: Operation.DELETE,
}
_READ_ONLY = "read-only statement: {what} refused (exports, conditions and filters only read)"
_LOCAL_FILES = "{what} reads or writes local files: refused (allow it with --allow-local-files, allow_local_files=True)"
_DEFAULT_ATTACHED = 10  # SQLite's own limit on attached databases, when local files are allowed
# SQLite calls the progress handler every this many VM steps: Python runs, so a pending signal (Ctrl-C,
# SIGTERM) raises there and apsw interrupts the statement (a WITH RECURSIVE that never reads a table).
_PROGRESS_STEPS = 20_000


@dataclass
class StatementState:
    """What the authorizer learned while preparing the current statement."""

    read_only: bool = False  # nothing but reads (the authorizer and the writers refuse the rest)
    local_files: bool = False  # ATTACH, VACUUM INTO and attached databases allowed
    sets_from_queries: bool = False  # an IN takes a subquery's values (maybe none): values one at a time
    assigned: dict[str, set[str]] = field(default_factory=dict)  # UPDATE: table → columns assigned
    written: dict[str, Operation] = field(default_factory=dict)  # object → the write operation allowed on it
    refusal: IterbridgeError | None = None


@dataclass
class Cursor:
    """The result of one statement: column names, rows (lazy for SELECT), and the writes it made."""

    columns: list[str]
    _rows: Iterator[tuple[Any, ...]]
    reports: list[WriteReport] = field(default_factory=list)
    message: str | None = None
    types: list[SqlType | None] = field(default_factory=list)  # each column's catalog type, when it is a column

    def typed(self) -> Iterator[tuple[Any, ...]]:
        """The rows with booleans as True/False (SQLite stores 0/1) where the column is a BOOLEAN one."""
        flags = [i for i, kind in enumerate(self.types) if kind is SqlType.BOOLEAN]
        if not flags:
            return self._rows
        return (_booleans(row, flags) for row in self._rows)

    @property
    def description(self) -> list[tuple[str, None, None, None, None, None, None]]:
        return [(name, None, None, None, None, None, None) for name in self.columns]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return next(self._rows, None)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    @property
    def rowcount(self) -> int:
        return sum(r.succeeded for r in self.reports)


class Engine:
    def __init__(
        self,
        connection: Session,
        *,
        read_only: bool = False,
        on_scan: Callable[[ObjectDef, Iterator[Row]], Iterator[Row]] | None = None,
    ) -> None:
        self.connection = connection
        self.on_scan = on_scan  # sees every scan's rows (replication keeps the typed rows of a filter's reads)
        self.read_only = read_only  # every statement read-only, whatever execute is told
        # No statement cache: the authorizer must see every statement prepared (a cached one
        # is reused without being authorized or planned again).
        self.db = apsw.Connection(":memory:", statementcachesize=0)
        for obj in OBJECTS.values():
            module: Any = ObjectModule(self, obj)
            self.db.create_module(obj.name, module, use_bestindex_object=True, eponymous_only=True)
        self.db.authorizer = self._authorize
        self.db.set_progress_handler(_let_signals_in, _PROGRESS_STEPS)
        self.statement = StatementState(read_only=read_only)
        self._mode = StatementState(read_only=read_only)
        self.reports: list[tuple[WriteReport, list[Row]]] = []
        self._scans: dict[tuple[str, Any], list[Row]] = {}
        self._scan_rows = 0

    def close(self) -> None:
        self.db.close()

    # ---- hooks used by the tables ------------------------------------------------------------------------

    def scan(self, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
        """A table's rows from its reader, through `on_scan` when there is one."""
        rows = self.connection.scan(obj, request)
        return rows if self.on_scan is None else self.on_scan(obj, rows)

    def cached_scan(self, name: str, key: Any) -> list[Row] | None:
        return self._scans.get((name, key))

    def cache_scan(self, name: str, key: Any, rows: list[Row]) -> None:
        """Keep a completed scan for repeats within the statement (bounded in total)."""
        from iterbridge.query.vtable import SCAN_CACHE_ROWS

        if self._scan_rows + len(rows) <= SCAN_CACHE_ROWS:
            self._scans[(name, key)] = rows
            self._scan_rows += len(rows)

    def forget_scans(self) -> None:
        """Drop the scans kept for the statement (a new statement, or writes that may change them)."""
        self._scans.clear()
        self._scan_rows = 0

    def assigned_columns(self, table: str) -> set[str]:
        return self.statement.assigned.get(table.lower(), set())

    def write(self, operation: Operation, obj: str, rows: list[Row]) -> WriteReport:
        """Send a table's buffered writes (at commit) — never from a read-only statement."""
        if self.read_only or self.statement.read_only:
            raise QueryError(_READ_ONLY.format(what=f"{operation.upper()} on {obj}"))
        report: WriteReport = self.connection.write(operation, obj, rows)
        self.record(report, rows)
        return report

    def record(self, report: WriteReport, rows: list[Row]) -> None:
        self.reports.append((report, rows))

    def _refuse(self, error: IterbridgeError) -> int:
        self.statement.refusal = error
        return apsw.SQLITE_DENY

    def _authorize(
        self, action: int, first: str | None, second: str | None, database: str | None, trigger: str | None
    ) -> int:
        """Refuse, at prepare time: anything but a read in a read-only statement; local files unless allowed;
        DML that Iterable does not allow — so it fails before any API call."""
        state = self.statement
        if not state.local_files and (action == apsw.SQLITE_ATTACH or database not in (None, "main", "temp")):
            what = "ATTACH" if action == apsw.SQLITE_ATTACH else f"the attached database {database!r}"
            return self._refuse(QueryError(_LOCAL_FILES.format(what=what)))
        if state.read_only and action not in _READS:
            return self._refuse(QueryError(_READ_ONLY.format(what=_action_words(action, first))))
        operation = _WRITES.get(action)
        if operation is None or first is None or database == "temp" or first.startswith("sqlite_"):
            return apsw.SQLITE_OK
        try:
            obj = get_object(first)
        except UnknownObject:
            return apsw.SQLITE_OK
        if operation not in obj.writes:
            return self._refuse(UnsupportedOperation(obj.name, operation.upper(), [w.upper() for w in obj.writes]))
        self.statement.written[obj.name] = operation
        if operation is Operation.UPDATE and second is not None:
            column = obj.column(second) or next(
                (c for c in self.connection.columns(obj) if c.name.lower() == second.lower()), None
            )
            if column is not None and (column.read_only or column.import_only or column.key):
                writable = [c.name for c in self.connection.columns(obj) if not (c.read_only or c.import_only or c.key)]
                self.statement.refusal = QueryError(
                    f"{obj.name}.{column.name} cannot be updated; updatable columns: {', '.join(writable)}"
                )
                return apsw.SQLITE_DENY
            if column is not None:
                self.statement.assigned.setdefault(first.lower(), set()).add(column.name)
        return apsw.SQLITE_OK

    # ---- running statements ------------------------------------------------------------------------------

    def execute(
        self, sql: str, params: Params = None, *, read_only: bool = False, allow_local_files: bool = False
    ) -> Cursor:
        """Run exactly one statement. `read_only`: nothing but reads (no DML, CALL, DDL, transaction);
        `allow_local_files`: ATTACH and VACUUM INTO (which read and write files on this machine)."""
        text = sql.strip()
        self.forget_scans()
        self._mode = StatementState(read_only=self.read_only or read_only, local_files=allow_local_files)
        call = _CALL.match(text)
        if call:
            if self._mode.read_only:
                raise QueryError(_READ_ONLY.format(what=f"CALL {call.group(1)}"))
            return self._call(call.group(1), call.group(2), params)
        if sqltext.first_word(text) == "EXPLAIN" and not re.match(r"(?is)^EXPLAIN\s+QUERY\s+PLAN\b", text):
            from iterbridge.query.explain import explain, explain_call

            statement = re.sub(r"(?is)^EXPLAIN\s+", "", text, count=1)
            call = _CALL.match(statement)
            if call:
                return explain_call(self, call.group(1))
            return explain(self, statement, params)
        body, returning = sqltext.split_returning(text)
        if returning is not None:
            return self._insert_returning(body, returning, params)
        return self._run(text, params)

    def new_statement(self, sql: str, *, read_only: bool = False) -> StatementState:
        """The state of a statement about to be prepared, in the mode execute was given."""
        schema = "".join(
            row[0]
            for row in self.db.execute(
                "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL "
                "UNION ALL SELECT sql FROM sqlite_temp_schema WHERE sql IS NOT NULL"
            )
        )  # views and triggers bring their own INs
        self.statement = StatementState(
            read_only=self._mode.read_only or read_only,
            local_files=self._mode.local_files,
            sets_from_queries=sqltext.takes_sets_from_queries(sql + "\n" + schema),
        )
        self.db.limit(apsw.SQLITE_LIMIT_ATTACHED, _DEFAULT_ATTACHED if self.statement.local_files else 0)
        return self.statement

    def start(self, sql: str, params: Params) -> tuple[apsw.Cursor, tuple[tuple[str, str | None], ...]]:
        """Prepare the one statement of `sql` and start it: (cursor, its columns and their declared types). A
        tail after the first statement (`1=1; DELETE FROM Users`) is refused before anything runs; so is, unless
        allowed, a VACUUM (INTO writes a file), and in a read-only statement anything SQLite says is not a read."""
        cursor = self.db.cursor()
        described: list[tuple[tuple[str, str | None], ...]] = []
        state = self.statement

        def trace(traced: apsw.Cursor, statement: str, bindings: Any) -> bool:
            if described:  # after the first: only an empty statement (a stray `;`), never a second one
                return not sqltext.has_statement(statement)
            tail = sql[len(statement) :] if sql.startswith(statement) else sql
            if sqltext.has_statement(tail):
                state.refusal = QuerySyntaxError(
                    f"one statement at a time: refused before anything ran, because of {_excerpt(tail)} after the first"
                )
                return False
            if sqltext.first_word(statement) == "VACUUM" and not state.local_files:
                state.refusal = QueryError(_LOCAL_FILES.format(what="VACUUM (INTO)"))
                return False
            if state.read_only and not traced.is_readonly:
                state.refusal = QueryError(_READ_ONLY.format(what=_excerpt(statement)))
                return False
            # The columns and their declared types, known once prepared — even for a SELECT without rows.
            described.append(traced.get_description())
            return True

        cursor.exec_trace = trace
        with self.sql_errors(sql):
            cursor.execute(sql, params)
        return cursor, described[0] if described else ()

    def _run(self, sql: str, params: Params, *, read_only: bool = False) -> Cursor:
        self.new_statement(sql, read_only=read_only)
        self.reports = []
        cursor, description = self.start(sql, params)
        columns = [name for name, _ in description]
        kind = sqltext.first_word(sql)
        if not columns or kind in ("INSERT", "UPDATE", "DELETE", "REPLACE", "COMMIT", "END"):
            # Statements without a result (DML, WITH … INSERT, COMMIT) have run: their writes were sent.
            rows = list(self._guarded(cursor, sql))
            return Cursor(columns, iter(rows), [report for report, _ in self.reports])
        types = [declared_type(declared) for _, declared in description]
        return Cursor(columns, self._guarded(cursor, sql), [], types=types)

    def _guarded(self, cursor: apsw.Cursor, sql: str) -> Iterator[tuple[Any, ...]]:
        try:
            yield from cursor
        except apsw.Error as error:  # (a KeyError here is no parameter: it is left as it is)
            raise self.translate(error, sql) from None

    @contextlib.contextmanager
    def sql_errors(self, sql: str) -> Iterator[None]:
        """SQLite's errors while a statement is prepared and bound, as ours (one line, the position, the closest
        names); a named parameter given no value (apsw raises KeyError) as a QueryError."""
        try:
            yield
        except apsw.Error as error:
            raise self.translate(error, sql) from None
        except KeyError as error:
            raise QueryError(f"no value given for the parameter :{error.args[0]}") from None

    def translate(self, error: apsw.Error, sql: str) -> IterbridgeError:
        if isinstance(error, (apsw.AuthError, apsw.ExecTraceAbort)) and self.statement.refusal is not None:
            return self.statement.refusal
        cause = error.__cause__ or error.__context__
        if isinstance(cause, IterbridgeError):
            return cause
        message = re.sub(r"^\w+Error: ", "", str(error))
        table = _NO_TABLE.search(message)
        if table:
            return UnknownObject(table.group(1), OBJECTS)
        column = _NO_COLUMN.search(message)
        if column:
            return self._unknown_column(column.group(1), sql)
        if message.strip() == "<NULL>":  # apsw's error with no message (an IN set it could not hand over)
            return QueryError(
                "SQLite failed without a message (an IN over a subquery with no rows, in a form not recognised): "
                "write the IN as a join"
            )
        if message.strip() == "incomplete input":
            return QuerySyntaxError("incomplete input: the statement ends too early (at the end of the text)")
        offset = getattr(error, "error_offset", -1)
        if isinstance(error, apsw.SQLError) and offset is not None and offset >= 0:
            line = sql.count("\n", 0, offset) + 1
            col = offset - (sql.rfind("\n", 0, offset) + 1) + 1
            return QuerySyntaxError(f"{message} (line {line}, column {col}: {sql[offset : offset + 20]!r})")
        if isinstance(error, apsw.SQLError):
            return QuerySyntaxError(message)
        return QueryError(message)

    def _unknown_column(self, qualified: str, sql: str) -> UnknownColumn:
        """No such column: name the object(s) the statement reads and suggest their closest columns."""
        name = qualified.split(".")[-1]
        named = {token.text.strip('"`[]').lower() for token in sqltext.tokens(sql)}
        objects = [obj for obj in OBJECTS.values() if obj.name.lower() in named]
        known = [c.name for obj in objects for c in self.connection.columns(obj)] or [
            c.name for obj in OBJECTS.values() for c in obj.columns
        ]
        if "." in qualified:
            where = _table_of(qualified)
        elif len(objects) == 1:
            where = objects[0].name
        else:
            where = " or ".join(o.name for o in objects) or "the query"
        return UnknownColumn(where, name, known)

    # ---- RETURNING ---------------------------------------------------------------------------------------

    def _insert_returning(self, body: str, returning: str, params: Params) -> Cursor:
        """Run the INSERT, then evaluate RETURNING over the inserted rows with the ids Iterable generated."""
        target = sqltext.insert_target(body)
        if target is None:
            raise QuerySyntaxError("RETURNING needs an INSERT INTO <object>")
        obj = get_object(target)
        sqltext.check_expression(returning, "the RETURNING list")  # checked before the INSERT runs
        if self.db.in_transaction:
            raise QueryError(
                "INSERT … RETURNING inside BEGIN … COMMIT: the writes are sent at COMMIT, so there is nothing "
                "to return yet; run it on its own"
            )
        inserted = self._run(body, params)
        columns = list(self.connection.columns(obj))
        produced: list[Row] = []
        for report, rows in self.reports:
            if report.operation is Operation.INSERT:
                produced.extend({**rows[r.index], **r.keys} for r in report.results if r.ok)
        quoted = quote_names(c.name for c in columns)
        self.db.execute('DROP TABLE IF EXISTS temp."returning"')
        self.db.execute(f'CREATE TEMP TABLE "returning"({quoted})')
        placeholders = ", ".join("?" for _ in columns)
        self.db.executemany(
            f'INSERT INTO temp."returning" VALUES ({placeholders})',
            [[to_sql(row.get(c.name)) for c in columns] for row in produced],
        )
        # On its own line: a comment at the end of the list cannot hide the FROM.
        selected = self._run(f'SELECT {returning}\nFROM temp."returning"', None, read_only=True)
        output = selected.fetchall()
        self.statement = StatementState()  # the engine's own statement, not the read-only one
        self.db.execute('DROP TABLE temp."returning"')
        return Cursor(selected.columns, iter(output), inserted.reports)

    # ---- CALL --------------------------------------------------------------------------------------------

    def _call(self, name: str, argument_text: str, params: Params) -> Cursor:
        """CALL Procedure(args): the arguments are evaluated by SQLite in one SELECT (so positional `?` and
        named `:x` parameters bind as in any statement); `[1, 2]` is an array, `name => value` a named one."""
        from iterbridge.objects.procedures import get_procedure

        procedure = get_procedure(name)
        arguments: list[tuple[str | None, str]] = []
        for piece in sqltext.split_arguments(argument_text):
            match = _NAMED_ARGUMENT.match(piece)
            if match and not piece.lstrip().startswith(("'", '"', "[", "{")):
                arguments.append((match.group(1), match.group(2).strip()))
            elif any(named for named, _ in arguments):
                raise QuerySyntaxError(f"CALL {procedure.name}: positional argument after named ones: {piece}")
            else:
                arguments.append((None, piece.strip()))
        values = self._evaluate([_array_literal(text) for _, text in arguments], params)
        positional = [value for (named, _), value in zip(arguments, values, strict=True) if named is None]
        keywords = {named: value for (named, _), value in zip(arguments, values, strict=True) if named is not None}
        message = self.connection.call(procedure.name, *positional, **keywords)
        return Cursor(["result"], iter([(message,)]), [])

    def _evaluate(self, expressions: list[str], params: Params) -> list[Any]:
        if not expressions:
            return []
        text = ", ".join(expressions)
        sql = f"SELECT {text}"
        self.new_statement(sql, read_only=True)  # arguments are expressions: they only read
        try:
            cursor, _ = self.start(sql, params)
            row = cursor.fetchone()
        except QuerySyntaxError as error:
            raise QuerySyntaxError(f"cannot evaluate the arguments ({text}): {error}") from None
        except apsw.Error as error:
            raise QuerySyntaxError(f"cannot evaluate the arguments ({text}): {self.translate(error, sql)}") from None
        return list(row) if row is not None else [None] * len(expressions)


def _booleans(row: tuple[Any, ...], flags: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in flags:
        value = values[i]
        if type(value) is int:
            values[i] = value != 0
    return tuple(values)


def _array_literal(text: str) -> str:
    """`[1, 2, :x]` → `json_array(1, 2, :x)` (JSON text, which list parameters accept); anything else as is."""
    found = sqltext.tokens(text)
    if found and found[0].text == "[" and found[-1].text == "]" and found[-1].depth == 0:
        closing = next(t for t in found if t.text == "]" and t.depth == 0)
        if closing is found[-1]:
            return f"json_array({text[found[0].start + 1 : found[-1].start]})"
    return text


def _table_of(qualified: str) -> str:
    return qualified.split(".")[0] if "." in qualified else "the query"


def _let_signals_in() -> bool:
    """SQLite's progress handler: running Python lets a pending signal's handler raise (KeyboardInterrupt,
    Terminated), which apsw turns into an interrupt of the statement. Returns False: go on."""
    return False


def _action_words(action: int, name: str | None) -> str:
    """An authorizer action in words: `DELETE on Users`, `CREATE TABLE on t`, `TRANSACTION`."""
    words = str(apsw.mapping_authorizer_function.get(action, action)).removeprefix("SQLITE_").replace("_", " ")
    return f"{words} on {name}" if name else words


def _excerpt(text: str, size: int = 40) -> str:
    """A statement's text shown in an error: one line, cut at `size` characters."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= size else flat[: size - 1] + "…")
