"""Importing CSV rows into Iterable: map columns, convert text, validate, send in batches, report rejects.

Every row ends up accepted or in the rejects file with its line number and reason — unparsable cells,
ragged rows, invalid bytes, rows Iterable refused — never silently dropped. The file is read as a stream,
so its size does not matter.

Re-running an interrupted import creates no duplicates where Iterable has a key: Users (by email),
CatalogItems (by item id), ListUsers (membership), Events carrying an Id (Iterable replaces the event with
that id), Templates (upsert by ClientTemplateId). Lists, Catalogs, Campaigns and InAppMessages have no such
key: re-sending creates them again.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from iterbridge.errors import TransferError, UnsupportedOperation
from iterbridge.objects.base import Column, ObjectDef, Row
from iterbridge.transfer.csvformat import CellError, CsvOptions, parse_cell

csv.field_size_limit(64 * 1024 * 1024)

# "upsert" means the operation that creates or replaces by key, where the object has one.
UPSERT = {"Users": "update", "CatalogItems": "insert", "Templates": "insert", "ListUsers": "insert",
          "Events": "insert"}  # fmt: skip
OPERATIONS = ("insert", "update", "upsert", "delete")


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
    operation: str
    read: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    api_calls: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)  # the writes a dry run would send
    dry_run: bool = False

    def describe(self) -> str:
        verb = "would be sent (dry run)" if self.dry_run else "sent"
        text = (f"{self.object} {self.operation}: {self.read} rows read, {self.sent} {verb}, "
                f"{self.accepted} accepted, {self.rejected} rejected")  # fmt: skip
        if self.ignored_columns:
            text += f"; ignored columns: {', '.join(self.ignored_columns)}"
        return text


def load_mapping_file(path: Path) -> dict[str, str]:
    """A mapping file: a JSON object {"CsvColumn": "Field"} or a two-column CSV (CsvColumn,Field)."""
    text = path.read_text(encoding="utf-8-sig")
    if text.lstrip().startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TransferError(f"{path}: a mapping file holds a JSON object")
        return {str(k): str(v) for k, v in data.items()}
    mapping = {}
    for number, record in enumerate(csv.reader(text.splitlines()), start=1):
        if not record:
            continue
        if len(record) != 2:
            raise TransferError(f"{path}, line {number}: expected CsvColumn,Field")
        mapping[record[0].strip()] = record[1].strip()
    return mapping


def resolve_operation(obj: ObjectDef, operation: str) -> str:
    if operation not in OPERATIONS:
        raise TransferError(f"--operation must be one of {', '.join(OPERATIONS)}, not {operation!r}")
    actual = UPSERT.get(obj.name, "insert") if operation == "upsert" else operation
    if actual not in obj.writes:
        raise UnsupportedOperation(obj.name, operation, list(obj.writes))
    return actual


def _writable(column: Column, operation: str) -> bool:
    if operation == "delete":
        return column.key or column.name in ("Email", "UserId")
    if column.key and operation == "update":
        return True
    return not column.read_only


class _Rejects:
    """The rejects CSV: the line number and the reason, then the original fields as they were."""

    def __init__(self, path: Path | None, header: list[str], options: CsvOptions) -> None:
        self.handle: IO[str] | None = None
        if path is not None:
            self.handle = path.open("w", encoding=options.python_encoding, newline="")
            self.writer = options.writer(self.handle)
            self.writer.writerow(["_line", "_reason", *header])

    def add(self, record: list[str], line: int, reason: str) -> None:
        if self.handle is not None:
            self.writer.writerow([line, reason, *record])

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def import_csv(conn: Any, object_name: str, path: Path, options: ImportOptions,
               progress: Callable[[ImportSummary], None] | None = None) -> ImportSummary:  # fmt: skip
    obj = conn.object(object_name)
    operation = resolve_operation(obj, options.operation)
    if options.batch_size < 1:
        raise TransferError("--batch-size must be at least 1")
    summary = ImportSummary(obj.name, operation, dry_run=options.dry_run)
    if not path.exists():
        raise TransferError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise TransferError(f"{path} is empty: expected a header line and rows")
    columns = {c.name: c for c in conn.columns(obj)}
    lowered = {name.lower(): name for name in columns}
    encoding = (
        "utf-8-sig" if options.csv.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else options.csv.encoding
    )
    with path.open("r", encoding=encoding, errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle, delimiter=options.csv.delimiter, quotechar=options.csv.quote_char, strict=True)
        header = _header(reader, path)
        targets = _targets(header, options, lowered, columns, operation, obj, summary)
        constants = {lowered.get(k.lower(), k): v for k, v in options.constants.items()}
        for name in constants:
            if name not in columns:
                from iterbridge.errors import UnknownColumn

                raise UnknownColumn(obj.name, name, columns)
        rejects = _Rejects(options.rejects, header, options.csv)
        batch: list[tuple[Row, int, list[str]]] = []
        try:
            for line, record, problem in _records(reader, len(header)):
                summary.read += 1
                row, problem = (None, problem) if problem else _convert(record, targets, constants, columns, options)
                if row is None:
                    summary.rejected += 1
                    rejects.add(record, line, problem or "unreadable row")
                    continue
                batch.append((row, line, record))
                if len(batch) >= options.batch_size:
                    _send(conn, obj.name, operation, batch, summary, rejects, options)
                    batch = []
                    if progress is not None:
                        progress(summary)
            if batch:
                _send(conn, obj.name, operation, batch, summary, rejects, options)
        finally:
            rejects.close()
    if progress is not None:
        progress(summary)
    return summary


def _header(reader: Any, path: Path) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise TransferError(f"{path} is empty: expected a header line and rows") from None
    except csv.Error as error:
        raise TransferError(f"{path}, line 1: malformed header: {error}") from None
    header = [name.strip() for name in header]
    if not any(header):
        raise TransferError(f"{path}, line 1: the header is blank")
    if any(_has_bad_bytes(name) for name in header):
        raise TransferError(f"{path}, line 1: the header is not valid text in this encoding; pass --encoding")
    duplicates = [name for name, count in Counter(n.lower() for n in header).items() if count > 1]
    if duplicates:
        raise TransferError(f"{path}, line 1: duplicate column(s) {', '.join(duplicates)}")
    return header


def _targets(header: list[str], options: ImportOptions, lowered: dict[str, str], columns: dict[str, Column],
             operation: str, obj: ObjectDef, summary: ImportSummary) -> dict[int, Column]:  # fmt: skip
    """CSV position → object column, by --map then by name (case-insensitive); the rest is ignored."""
    from iterbridge.errors import UnknownColumn

    mapping = {k.lower(): v for k, v in options.mapping.items()}
    header_lowered = {name.lower() for name in header}
    for source in mapping:
        if source not in header_lowered:
            raise TransferError(f"--map names a CSV column that the file does not have: {source}")
    targets: dict[int, Column] = {}
    for position, name in enumerate(header):
        wanted = mapping.get(name.lower(), name)
        canonical = lowered.get(wanted.lower())
        if canonical is None:
            if name.lower() in mapping:
                raise UnknownColumn(obj.name, wanted, columns)
            summary.ignored_columns.append(name)
            continue
        column = columns[canonical]
        if not _writable(column, operation):
            summary.ignored_columns.append(name)
            continue
        targets[position] = column
    return targets


def _records(reader: Any, width: int) -> Iterator[tuple[int, list[str], str | None]]:
    """(line, fields, problem) per record; malformed ones carry the reason instead of failing the file."""
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            reason = str(error)
            if "unexpected end of data" in reason or "EOF" in reason:
                reason = f"unbalanced quote starting at line {start}: the rest of the file is one unterminated field"
            yield start, [], f"malformed CSV: {reason}"
            continue
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line
        if len(record) != width:
            yield start, record, f"expected {width} fields, found {len(record)}"
            continue
        if any(_has_bad_bytes(cell) for cell in record):
            yield start, record, "not valid text in the file's encoding (pass --encoding)"
            continue
        yield start, record, None


def _has_bad_bytes(text: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in text)


def _convert(record: list[str], targets: dict[int, Column], constants: dict[str, str], columns: dict[str, Column],
             options: ImportOptions) -> tuple[Row | None, str | None]:  # fmt: skip
    row: Row = {}
    null = options.csv.null
    date_format = options.csv.date_format
    for name, text in constants.items():
        try:
            row[name] = parse_cell(text, columns[name].type, date_format)
        except CellError as error:
            return None, f"--set {name}: {error}"
    for position, column in targets.items():
        text = record[position]
        if text == null or (null == "" and not text.strip()):
            row[column.name] = None
            continue
        try:
            row[column.name] = parse_cell(text, column.type, date_format)
        except CellError as error:
            return None, f"{column.name}: {error}"
    return row, None


def _send(conn: Any, name: str, operation: str, batch: list[tuple[Row, int, list[str]]], summary: ImportSummary,
          rejects: _Rejects, options: ImportOptions) -> None:  # fmt: skip
    rows = [{k: v for k, v in row.items() if v is not None} for row, _, _ in batch]
    if options.dry_run:
        conn.client.recorder = []
    try:
        report = getattr(conn, operation)(name, rows)
    finally:
        if options.dry_run:
            summary.requests.extend(conn.client.recorder or [])
            conn.client.recorder = None
    summary.api_calls += 0 if options.dry_run else report.api_calls
    for result in report.results:
        _, line, record = batch[result.index]
        if result.error is None or not result.error.startswith("missing "):
            summary.sent += 1
        if result.ok:
            summary.accepted += 1
        else:
            summary.rejected += 1
            rejects.add(record, line, result.error or "refused")
