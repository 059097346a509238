"""CSV dialect options, as established integration tools offer them, and value formatting/parsing."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from iterbridge.api.timestamps import parse_timestamp, to_epoch_ms
from iterbridge.errors import ConfigurationError
from iterbridge.objects.base import SqlType

DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "\\t": "\t"}
TERMINATORS = {"crlf": "\r\n", "lf": "\n", "cr": "\r"}
QUOTING: dict[str, Literal[0, 1, 2, 3]] = {
    "minimal": csv.QUOTE_MINIMAL,
    "all": csv.QUOTE_ALL,
    "nonnumeric": csv.QUOTE_NONNUMERIC,
    "none": csv.QUOTE_NONE,
}
DEFAULT_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    quote_char: str = '"'
    quoting: str = "minimal"
    line_terminator: str = "crlf"
    encoding: str = "utf-8"
    bom: bool = False
    header: bool = True
    null: str = ""
    date_format: str = DEFAULT_DATE_FORMAT  # strftime pattern, or "iso", or "epoch-ms"
    flatten: bool = False

    @classmethod
    def build(cls, **options: Any) -> CsvOptions:
        """From CLI words: delimiter names, terminator names; validated with clear messages."""
        delimiter = str(options.pop("delimiter", ","))
        delimiter = DELIMITERS.get(delimiter.lower(), delimiter)
        if len(delimiter) != 1:
            raise ConfigurationError(
                f"--delimiter must be one character or comma/semicolon/tab/pipe, not {delimiter!r}"
            )
        terminator = str(options.pop("line_terminator", "crlf")).lower()
        if terminator not in TERMINATORS:
            raise ConfigurationError(f"--line-terminator must be crlf, lf or cr, not {terminator!r}")
        quoting = str(options.pop("quoting", "minimal")).lower()
        if quoting not in QUOTING:
            raise ConfigurationError(f"--quoting must be one of {', '.join(QUOTING)}, not {quoting!r}")
        quote_char = str(options.pop("quote_char", '"'))
        if len(quote_char) != 1:
            raise ConfigurationError(f"--quote-char must be one character, not {quote_char!r}")
        encoding = str(options.pop("encoding", "utf-8"))
        try:
            "".encode(encoding)
        except LookupError:
            raise ConfigurationError(f"unknown --encoding {encoding!r}") from None
        return cls(delimiter=delimiter, line_terminator=terminator, quoting=quoting, quote_char=quote_char,
                   encoding=encoding, **options)  # fmt: skip

    @property
    def python_encoding(self) -> str:
        if self.bom and self.encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
            return "utf-8-sig"
        return self.encoding

    def writer(self, handle: Any) -> Any:
        return csv.writer(
            handle,
            delimiter=self.delimiter,
            quotechar=self.quote_char,
            quoting=QUOTING[self.quoting],
            lineterminator=TERMINATORS[self.line_terminator],
            escapechar="\\" if self.quoting == "none" else None,
        )

    def format(self, value: Any) -> Any:
        """A value as its CSV cell: NULL text, dates in the chosen format, nested values as JSON."""
        if value is None:
            return self.null
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            if self.date_format == "iso":
                return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if self.date_format == "epoch-ms":
                return to_epoch_ms(value)
            return value.astimezone(UTC).strftime(self.date_format)
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return value


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    """Objects → dotted columns ("Value.price"); arrays stay JSON."""
    flat: dict[str, Any] = {}
    for name, value in row.items():
        if isinstance(value, dict) and value:
            for inner, inner_value in flatten(value).items():
                flat[f"{name}.{inner}"] = inner_value
        else:
            flat[name] = value
    return flat


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_INTEGER = re.compile(r"^[+-]?\d+(\.0+)?$")


class CellError(ValueError):
    """A cell that cannot become its column's type; the message says what was expected."""


def parse_cell(text: str, sql_type: SqlType, date_format: str | None = None) -> Any:
    """A CSV cell's text → the column's value. Raises CellError with a reason a person can act on."""
    value = text.strip() if sql_type is not SqlType.TEXT else text
    if sql_type is SqlType.TEXT:
        return text
    if sql_type is SqlType.INTEGER:
        if not _INTEGER.match(value):
            raise CellError(f"expected a whole number, found {text!r}")
        return int(float(value))
    if sql_type is SqlType.REAL:
        try:
            return float(value)
        except ValueError:
            raise CellError(f"expected a number, found {text!r}") from None
    if sql_type is SqlType.BOOLEAN:
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise CellError(f"expected true/false (or yes/no, 1/0), found {text!r}")
    if sql_type is SqlType.TIMESTAMP:
        if date_format and date_format not in ("iso", "epoch-ms", DEFAULT_DATE_FORMAT):
            try:
                return datetime.strptime(value, date_format).replace(tzinfo=UTC)
            except ValueError:
                raise CellError(f"expected a date like {datetime(2026, 1, 31, 13, 45).strftime(date_format)!r}, "
                                f"found {text!r}") from None  # fmt: skip
        try:
            return parse_timestamp(value)
        except ValueError:
            raise CellError(f"expected a date (YYYY-MM-DD, YYYY-MM-DD HH:MM:SS or ISO-8601), found {text!r}") from None
    if sql_type is SqlType.JSON:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise CellError(f"expected JSON (an object {{…}} or an array [1,2,3]), found {text!r}") from None
    return text
