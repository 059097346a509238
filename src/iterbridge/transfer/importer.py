"""Importing CSV rows into Iterable: map columns, convert text, validate, send in batches, report rejects.

Every row ends up accepted or in the rejects file with its line number and reason — unparsable cells,
ragged rows, invalid bytes, rows Iterable refused — never silently dropped. The file is read as a stream,
so its size does not matter.

Columns match the object's by name (case-insensitively), by `--map`, or by a dotted name inside a JSON
column ("Value.price" sets the price of a catalog item's Value, as `export --flatten` writes it). A Users
column without a column of its own is a custom field (new to the project, or nested below an object); an
Events column without one is a field of DataFields. The type of such a new field follows its first value,
as Iterable's own does: true/false → boolean, a whole number without leading zeros → long, a decimal →
double, {…} or […] → JSON, anything else (dates included: Iterable recognises them) → text.

Idempotence — what re-running an interrupted import does:

    Users            insert / update / upsert   idempotent (by Email, or UserId): fields are set again
    CatalogItems     insert / update / upsert   idempotent (by CatalogName + ItemId)
    ListUsers        insert / delete            idempotent (a membership exists once)
    Events           insert                     idempotent only for rows with an Id (Iterable replaces the
                                                event with that id); rows without an Id are tracked again
    Templates        insert (upsert)            idempotent (by ClientTemplateId); update by Id likewise
    Catalogs         insert                     not duplicated: Iterable refuses an existing name (rejected)
    Users, CatalogItems, ListUsers, Lists, Catalogs   delete   idempotent (deleting twice removes nothing more)
    Lists, Campaigns, InAppMessages   insert    NOT idempotent: each run creates them again
"""

from __future__ import annotations

import csv
import heapq
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from iterbridge.errors import TransferError, UnknownColumn, UnsupportedOperation
from iterbridge.objects.base import Column, ObjectDef, Operation, Row, RowStatus, SqlType
from iterbridge.transfer.csvformat import CellError, Converter, CsvOptions, converter, parse_cell, unguard_formula
from iterbridge.transfer.output import Output
from iterbridge.wording import plural

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

csv.field_size_limit(64 * 1024 * 1024)

OPERATIONS = tuple(operation.value for operation in Operation)
SAMPLE_REJECTS = 10
KEEP_REQUESTS = 20  # requests of a dry run kept to show (memory stays flat for any file)
RAW_REJECT_LIMIT = 64 * 1024  # characters of an unparsable record kept in the rejects file
# Rows refused for want of Iterable (not for their values): the import stops at the first, and says why
# without the prefix of the row's reason.
_STOPS = {RowStatus.FAILED: "", RowStatus.NOT_SENT: "not sent: ", RowStatus.UNKNOWN: "unknown outcome: "}
# Rows no request carried: not counted as sent.
_UNSENT = (RowStatus.INVALID, RowStatus.NOT_SENT)


@dataclass
class ImportOptions:
    operation: str = "insert"
    mapping: dict[str, str] = field(default_factory=dict)  # CSV column → object column
    constants: dict[str, str] = field(default_factory=dict)  # object column → text value for every row
    batch_size: int = 1000
    dry_run: bool = False
    rejects: Path | None = None
    csv: CsvOptions = field(default_factory=CsvOptions)


@dataclass
class ImportSummary:
    object: str
    operation: Operation  # as the user asked it ("upsert" stays upsert, whatever Iterable endpoint it is sent to)
    read: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    new_fields: list[str] = field(default_factory=list)  # columns that became custom fields
    api_calls: int = 0
    batches: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)  # the first writes a dry run would send
    request_count: int = 0  # every write a dry run would send (only the first KEEP_REQUESTS are kept)
    dry_run: bool = False
    samples: list[tuple[int, str]] = field(default_factory=list)  # the first rejects: (line, reason)
    stopped: str | None = None  # why the import stopped before the end of the file

    def describe(self) -> str:
        read = f"{plural(self.read, 'row')} read"
        if self.dry_run:
            text = (
                f"{self.object} {self.operation} (dry run): {read}, {self.sent:,} would be sent in "
                f"{plural(self.request_count, 'request')}, {self.rejected:,} rejected"
            )
        else:
            text = (
                f"{self.object} {self.operation}: {read}, {self.sent:,} sent, {self.accepted:,} accepted, "
                f"{self.rejected:,} rejected"
            )
        if self.new_fields:
            text += f"; new fields: {', '.join(self.new_fields)}"
        if self.ignored_columns:
            text += f"; ignored columns: {', '.join(self.ignored_columns)}"
        if self.stopped:
            text += f"; stopped early: {self.stopped}"
        return text


def load_mapping_file(path: Path) -> dict[str, str]:
    """A mapping file: a JSON object {"CsvColumn": "Field"} or a two-column CSV (CsvColumn,Field)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise TransferError(f"{path}: cannot read the mapping file ({error})") from None
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise TransferError(f"{path}: not valid JSON ({error})") from None
        if not isinstance(data, dict):
            raise TransferError(f'{path}: a mapping file holds a JSON object {{"CsvColumn": "Field", …}}')
        return {str(k): str(v) for k, v in data.items()}
    mapping = {}
    for number, record in enumerate(csv.reader(text.splitlines()), start=1):
        if not record or not "".join(record).strip():
            continue
        if len(record) != 2:
            raise TransferError(f"{path}, line {number}: expected CsvColumn,Field")
        mapping[record[0].strip()] = record[1].strip()
    return mapping


def asked_operation(operation: str) -> Operation:
    """The operation an import is asked for (text or an `Operation`), checked."""
    asked = Operation.named(operation)
    if asked is None:
        raise TransferError(f"--operation must be one of {', '.join(OPERATIONS)}, not {operation!r}")
    return asked


def resolve_operation(obj: ObjectDef, text: str) -> Operation:
    """The write an import sends: the one asked, or for an upsert the object's write that creates or
    replaces by key."""
    operation = asked_operation(text)
    # "upsert" is the write that creates or replaces by key, where the object declares one (ObjectDef.upsert).
    if operation is Operation.UPSERT and obj.upsert is None:
        # No key to match on: an insert would create them again, which is no upsert.
        raise UnsupportedOperation(obj.name, operation, list(obj.writes))
    actual = obj.upsert if operation is Operation.UPSERT and obj.upsert else operation
    if actual not in obj.writes:
        raise UnsupportedOperation(obj.name, operation, list(obj.writes))
    return actual


# ---- where a CSV column goes ------------------------------------------------------------------------------


@dataclass
class _Target:
    """A CSV column's place in a row: an object column, or a path inside a JSON column (a nested or new
    field, whose type is the column's when known, else fixed by its first value)."""

    column: Column
    path: tuple[str, ...] = ()
    kind: SqlType | None = None
    fixed_at: int = 0  # the line whose value fixed an inferred type
    convert: Converter | None = None  # text → value, once the type is known

    @property
    def keeps_blank(self) -> bool:
        """An empty cell is an empty text (not NULL) here, when the NULL text is something else."""
        return not self.path and self.column.type is SqlType.TEXT

    @property
    def label(self) -> str:
        return ".".join(self.path) if self.path else self.column.name


_WHOLE = re.compile(r"^-?(?:0|[1-9]\d{0,17})$")
_DECIMAL = re.compile(r"^-?(?:0|[1-9]\d*)\.\d+(?:[eE][+-]?\d+)?$")


def infer_type(text: str) -> SqlType:
    """The type a new field takes from its first value (text whenever in doubt: "007" stays "007")."""
    value = text.strip()
    if value.lower() in ("true", "false"):
        return SqlType.BOOLEAN
    if _WHOLE.match(value):
        return SqlType.INTEGER
    if _DECIMAL.match(value):
        return SqlType.REAL
    if value[:1] in ("{", "["):
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            return SqlType.TEXT
        return SqlType.JSON
    return SqlType.TEXT


class _Resolver:
    """Names (CSV columns, --map targets, --set fields) → targets, for one object and operation."""

    def __init__(self, obj: ObjectDef, columns: dict[str, Column], operation: Operation) -> None:
        self.obj = obj
        self.columns = columns
        self.operation = operation
        self.lowered = {name.lower(): name for name in columns}
        open_name = obj.open_fields  # the JSON column that takes fields the object has no column for
        self.open = columns.get(open_name) if open_name and operation is not Operation.DELETE else None

    def resolve(self, name: str) -> _Target | None:
        """The target of a name; None when the object has no place for it."""
        canonical = self.lowered.get(name.lower())
        if canonical is not None:
            return _Target(self.columns[canonical])
        head, dot, rest = name.partition(".")
        if dot and rest:
            container = self.lowered.get(head.lower())
            if container is not None and self.columns[container].type is SqlType.JSON:
                return _Target(self.columns[container], tuple(rest.split(".")))
        if self.open is not None and name.strip():
            return _Target(self.open, tuple(name.split(".")))
        return None

    def writable(self, target: _Target) -> bool:
        return target.column.writable(self.operation)


class _Rejects:
    """The rejects CSV: the line number and the reason, then the original fields as they were (bytes that
    were not valid text are written back unchanged)."""

    def __init__(self, path: Path | None, header: list[str], options: CsvOptions, summary: ImportSummary) -> None:
        self.summary = summary
        self.output: Output | None = None
        if path is not None:  # kept even when the import stops: the rows it lists were not imported
            self.output = Output(path, encoding=options.python_encoding, errors="surrogateescape", option="--rejects")
            self.writer = options.writer(self.output.handle, raw=True)  # the fields as they were read
            self.writer.writerow(["_line", "_reason", *header])

    def add(self, record: list[str], line: int, reason: str) -> None:
        self.summary.rejected += 1
        if len(self.summary.samples) < SAMPLE_REJECTS:
            self.summary.samples.append((line, reason))
        if self.output is not None:
            self.writer.writerow([line, reason, *record])

    def close(self) -> None:
        if self.output is not None:
            self.output.commit()


class _Lines:
    """The file's lines as the CSV reader takes them, remembering the current record's raw text (for the
    rejects file when a record cannot be parsed)."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.taken: list[str] = []
        self.size = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self.handle)
        if self.size < RAW_REJECT_LIMIT:
            self.taken.append(line)
        self.size += len(line)
        return line

    def start(self) -> None:
        self.taken.clear()
        self.size = 0

    def raw(self) -> str:
        text = "".join(self.taken)
        if self.size > RAW_REJECT_LIMIT:
            text = text[:RAW_REJECT_LIMIT] + f"… ({self.size - RAW_REJECT_LIMIT:,} more characters)"
        return text


def import_csv(
    conn: Session,
    object_name: str,
    path: Path,
    options: ImportOptions,
    progress: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    obj = conn.object(object_name)
    operation = resolve_operation(obj, options.operation)
    if options.batch_size < 1:
        raise TransferError("--batch-size must be at least 1")
    summary = ImportSummary(
        obj.name, asked_operation(options.operation), dry_run=options.dry_run
    )  # as asked: "upsert" stays
    if not path.exists():
        raise TransferError(f"{path}: no such file")
    if path.is_dir():
        raise TransferError(f"{path} is a directory, not a CSV file")
    if path.stat().st_size == 0:
        raise TransferError(f"{path} is empty: expected a header line and rows")
    resolver = _Resolver(obj, {c.name: c for c in conn.columns(obj)}, operation)
    encoding = (
        "utf-8-sig" if options.csv.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else options.csv.encoding
    )
    with path.open("r", encoding=encoding, errors="surrogateescape", newline="") as handle:
        lines = _Lines(handle)
        reader = csv.reader(lines, delimiter=options.csv.delimiter, quotechar=options.csv.quote_char, strict=True)
        header = _header(reader, path, options.csv)
        targets = _targets(header, options, resolver, summary)
        constants = _constants(options, resolver)
        rejects = _Rejects(options.rejects, header, options.csv, summary)
        sender = _Sender(conn, obj.name, operation, summary, rejects, options, progress)
        batch: Batch = []
        early: Rejected = []  # rows refused while the batch was read: written with its rows, in line order
        try:
            for line, record, problem in _records(reader, lines, len(header), header):
                summary.read += 1
                row, problem = (None, problem) if problem else _convert(record, line, targets, constants, options)
                if row is None:
                    early.append((line, problem or "unreadable row", record))
                else:
                    batch.append((row, line, record))
                if len(batch) >= options.batch_size or len(early) >= options.batch_size:  # memory stays flat
                    sender.submit(batch, early)
                    batch, early = [], []
                    if summary.stopped:
                        break
            if batch or early:
                sender.submit(batch, early)
            sender.finish()
        finally:
            sender.close()
            rejects.close()
            if summary.new_fields and obj.dynamic_columns is not None and not options.dry_run:
                conn.forget_user_fields()  # the fields just created are columns for this connection's next read
    if progress is not None:
        progress(summary)
    return summary


def _header(reader: Any, path: Path, options: CsvOptions) -> list[str]:
    """The first line that is not blank, checked: names present, distinct, readable; a likely wrong delimiter
    named."""
    while True:
        try:
            header = next(reader)
        except StopIteration:
            raise TransferError(f"{path} is empty: expected a header line and rows") from None
        except csv.Error as error:
            raise TransferError(f"{path}, line {reader.line_num}: malformed header: {error}") from None
        if header and any(name.strip() for name in header):
            break
    where = f"{path}, line {reader.line_num}"
    header = [name.strip() for name in header]
    if options.formula_guard:  # a header an export guarded
        header = [unguard_formula(name) for name in header]
    if any("\x00" in name for name in header):
        raise TransferError(
            f"{where}: the header contains NUL bytes: a binary file, or UTF-16 text (pass --encoding utf-16)"
        )
    if any(_has_bad_bytes(name) for name in header):
        raise TransferError(f"{where}: the header is not valid {options.encoding} text; pass --encoding (e.g. latin-1)")
    if len(header) == 1 and options.delimiter not in header[0]:
        for other in (";", "\t", "|", ","):
            if other != options.delimiter and other in header[0]:
                raise TransferError(
                    f"{where}: one column {header[0][:60]!r}; the file looks {_NAMES[other]}-separated "
                    f"(pass --delimiter {_NAMES[other]})"
                )
    blank = [str(position + 1) for position, name in enumerate(header) if not name]
    if blank:
        raise TransferError(f"{where}: column(s) {', '.join(blank)} of the header have no name")
    duplicates = [name for name, count in Counter(n.lower() for n in header).items() if count > 1]
    if duplicates:
        raise TransferError(f"{where}: duplicate column(s) in the header: {', '.join(duplicates)}")
    return header


_NAMES = {";": "semicolon", "\t": "tab", "|": "pipe", ",": "comma"}


def _targets(
    header: list[str], options: ImportOptions, resolver: _Resolver, summary: ImportSummary
) -> list[tuple[int, _Target]]:
    """CSV position → target, by --map then by name (case-insensitive); the rest is ignored (and said)."""
    mapping = {k.lower(): v for k, v in options.mapping.items()}
    header_lowered = {name.lower() for name in header}
    missing = [source for source in options.mapping if source.lower() not in header_lowered]
    if missing:
        raise TransferError(f"--map names column(s) the file does not have: {', '.join(missing)}")
    targets: dict[int, _Target] = {}
    for position, name in enumerate(header):
        mapped = name.lower() in mapping
        wanted = mapping.get(name.lower(), name)
        target = resolver.resolve(wanted)
        if target is None:
            if mapped:  # mapped to a column the object does not have (and cannot take as a new field)
                raise UnknownColumn(resolver.obj.name, wanted, list(resolver.columns))
            summary.ignored_columns.append(name)
            continue
        if not resolver.writable(target):
            summary.ignored_columns.append(name)
            continue
        targets[position] = target
    seen: dict[str, str] = {}
    for position, target in targets.items():
        key = f"{target.column.name}.{'.'.join(target.path)}" if target.path else target.column.name
        if key.lower() in seen:
            raise TransferError(f"columns {seen[key.lower()]!r} and {header[position]!r} both set {target.label}")
        seen[key.lower()] = header[position]
        if target.path and target.column is resolver.open:
            summary.new_fields.append(target.label)
        elif not target.path:
            target.convert = converter(target.column.type, options.csv.date_format)
    return list(targets.items())


def _constants(options: ImportOptions, resolver: _Resolver) -> list[tuple[_Target, Any]]:
    """--set values, converted once (a bad one is an error for the whole import, not a reject per row)."""
    found = []
    for name, text in options.constants.items():
        target = resolver.resolve(name)
        if target is None:
            raise UnknownColumn(resolver.obj.name, name, list(resolver.columns))
        if not resolver.writable(target):
            raise TransferError(f"--set {name}: {resolver.obj.name}.{target.column.name} cannot be written")
        kind = target.column.type if not target.path else infer_type(text)
        try:
            value = None if text == "" else parse_cell(text, kind, options.csv.date_format)
        except CellError as error:
            raise TransferError(f"--set {name}: {error}") from None
        found.append((target, value))
    return found


def _records(reader: Any, lines: _Lines, width: int, header: list[str]) -> Iterator[tuple[int, list[str], str | None]]:
    """(line, fields, problem) per record; malformed ones carry the reason instead of failing the file."""
    while True:
        start = reader.line_num + 1
        lines.start()
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            reason = str(error)
            if "unexpected end of data" in reason or "EOF" in reason:
                reason = (
                    f"unbalanced quote: the field opened on line {start} is never closed, so the rest of "
                    f"the file (to line {reader.line_num}) could not be read"
                )
            else:
                reason = f"malformed CSV on line {reader.line_num}: {reason}"
            yield start, [lines.raw()], reason
            continue
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line
        if len(record) != width:
            yield start, record, f"expected {width} fields, found {len(record)}"
            continue
        joined = "".join(record)
        if (not joined.isascii() and _BAD_BYTES.search(joined)) or "\x00" in joined:
            yield start, record, _bad_cell(record, header)
            continue
        yield start, record, None


_BAD_BYTES = re.compile("[\udc80-\udcff]")


def _has_bad_bytes(text: str) -> bool:
    return not text.isascii() and _BAD_BYTES.search(text) is not None


def _bad_cell(record: list[str], header: list[str]) -> str:
    """Why a record with a NUL byte or undecodable bytes is rejected, naming the first such cell."""
    for position, cell in enumerate(record):
        if "\x00" in cell:
            return f"{header[position]}: contains a NUL byte (a binary file, or UTF-16 text?)"
        found = _BAD_BYTES.search(cell)
        if found:
            byte = ord(found.group()) - 0xDC00
            return (
                f"{header[position]}: byte 0x{byte:02x} is not valid in the file's encoding "
                "(pass --encoding, e.g. latin-1)"
            )
    return "unreadable row"  # pragma: no cover - the caller found one of the two


def _convert(
    record: list[str],
    line: int,
    targets: list[tuple[int, _Target]],
    constants: list[tuple[_Target, Any]],
    options: ImportOptions,
) -> tuple[Row | None, str | None]:
    """A record's cells as typed values (nested and new fields last, into their JSON column), then --set."""
    row: Row = {}
    null = options.csv.null
    blank_is_null = null == ""
    unguard = options.csv.formula_guard
    nested: list[tuple[_Target, Any]] | None = None
    for position, target in targets:
        text = record[position]
        if unguard and text[:1] == "'":  # '=… as the formula guard of an export wrote it: the value is =…
            text = unguard_formula(text)
        if text == null or ((not text or text.isspace()) and (blank_is_null or not target.keeps_blank)):
            if not target.path:
                row[target.column.name] = None
            continue
        convert = target.convert
        if convert is None:  # a new field: its first value fixes its type
            target.kind = infer_type(text)
            target.fixed_at = line
            convert = target.convert = converter(target.kind, options.csv.date_format)
        try:
            value = convert(text)
        except CellError as error:
            reason = f"{target.label}: {error}"
            if target.fixed_at:
                reason += f" (a new field takes the type of its first value, line {target.fixed_at})"
            return None, reason
        if target.path:
            if nested is None:
                nested = []
            nested.append((target, value))
        else:
            row[target.column.name] = value
    for target, value in [*(nested or ()), *constants]:
        if not target.path:
            row[target.column.name] = value
            continue
        problem = _place(row, target, value)
        if problem:
            return None, problem
    return row, None


def _place(row: Row, target: _Target, value: Any) -> str | None:
    """Set a nested value inside its JSON column's object (created when absent)."""
    container = row.get(target.column.name)
    if container is None:
        container = row[target.column.name] = {}
    if not isinstance(container, dict):
        return f"{target.label}: {target.column.name} is not a JSON object, so it cannot hold {target.label}"
    for part in target.path[:-1]:
        inner = container.get(part)
        if inner is None:
            inner = container[part] = {}
        if not isinstance(inner, dict):
            return f"{target.label}: {part} is not an object"
        container = inner
    if value is not None:
        container[target.path[-1]] = value
    return None


Batch = list[tuple[Row, int, list[str]]]  # (row, line, the record as read)
Rejected = list[tuple[int, str, list[str]]]  # (line, reason, the record as read), in line order


class _Sender:
    """Sends batches in order, one in flight at a time: while Iterable answers one batch, the next is read and
    converted. (A dry run records its requests on the connection, so it sends without a thread.) A batch's rows
    refused before sending are written with the rows Iterable refused, once it has answered, so the rejects
    file follows the input's line order."""

    def __init__(
        self,
        conn: Session,
        name: str,
        operation: Operation,
        summary: ImportSummary,
        rejects: _Rejects,
        options: ImportOptions,
        progress: Callable[[ImportSummary], None] | None,
    ) -> None:
        self.conn, self.name, self.operation = conn, name, operation
        self.summary, self.rejects, self.options, self.progress = summary, rejects, options, progress
        self.pool = None if options.dry_run else ThreadPoolExecutor(1, thread_name_prefix="iterbridge-import")
        self.pending: tuple[Future[Any], Batch, Rejected] | None = None

    def submit(self, batch: Batch, early: Rejected) -> None:
        self.finish()
        if self.summary.stopped:  # the batch before failed for want of Iterable: these rows are not sent either
            reason = f"not sent: the import stopped at {self.summary.stopped}"
            self._reject(early, [(line, reason, record) for _, line, record in batch])
            return
        if not batch:
            self._reject(early, [])
            return
        rows = [{k: v for k, v in row.items() if v is not None} for row, _, _ in batch]
        if self.pool is None:
            self._account(self._dry(rows), batch, early)
        else:
            self.pending = (self.pool.submit(self.conn.write, self.operation, self.name, rows), batch, early)

    def finish(self) -> None:
        """Wait for the batch in flight (if any) and account for its rows."""
        if self.pending is not None:
            future, batch, early = self.pending
            self.pending = None
            self._account(future.result(), batch, early)

    def _reject(self, early: Rejected, refused: Rejected) -> None:
        """A batch's rejects, both lists in line order, merged into the rejects file in line order."""
        for line, reason, record in heapq.merge(early, refused, key=lambda rejected: rejected[0]):
            self.rejects.add(record, line, reason)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _dry(self, rows: list[Row]) -> Any:
        summary = self.summary
        with self.conn.client.recording() as recorded:
            report = self.conn.write(self.operation, self.name, rows)
        summary.request_count += len(recorded)
        summary.requests.extend(recorded[: max(0, KEEP_REQUESTS - len(summary.requests))])
        return report

    def _account(self, report: Any, batch: Batch, early: Rejected) -> None:
        summary, dry_run = self.summary, self.options.dry_run
        summary.batches += 1
        summary.api_calls += 0 if dry_run else report.api_calls
        refused: Rejected = []
        for result in sorted(report.results, key=lambda r: r.index):
            _, line, record = batch[result.index]
            error = result.error
            if result.status not in _UNSENT:
                summary.sent += 1
            if result.ok:
                summary.accepted += 0 if dry_run else 1
            else:
                refused.append((line, error or "refused", record))
                if result.status in _STOPS and error and summary.stopped is None:
                    summary.stopped = f"line {line}: {error.removeprefix(_STOPS[result.status])}"
        self._reject(early, refused)
        if self.progress is not None:
            self.progress(summary)
