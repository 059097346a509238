"""Helpers for the CSV transfer tests: CSV files written and read back, write calls among counted calls, and
the one-line error a failed command prints."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from click.testing import Result

from helpers import Stats

__all__ = ["Stats", "one_line_error", "parse", "read_csv", "write_csv", "writes"]


def read_csv(path: Path, **options: Any) -> list[dict[str, str]]:
    with path.open(encoding=options.pop("encoding", "utf-8"), newline="") as handle:
        return list(csv.DictReader(handle, **options))


def write_csv(path: Path, header: list[str], rows: list[list[Any]] | list[dict[str, Any]], **options: Any) -> Path:
    """A CSV file for an import (LF line ends unless told)."""
    with path.open("w", encoding=options.pop("encoding", "utf-8"), newline="") as handle:
        writer = csv.writer(handle, lineterminator=options.pop("lineterminator", "\n"), **options)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(name, "") for name in header] if isinstance(row, dict) else row)
    return path


def parse(text: str, **options: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), **options))


def writes(made: dict[str, int]) -> dict[str, int]:
    """The write calls among counted calls."""
    return {endpoint: n for endpoint, n in made.items() if not endpoint.startswith("GET ")}


def one_line_error(result: Result) -> str:
    """The single `error: …` line of a failed command (no traceback, nothing on stdout)."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]
