"""CSV in and out: streamed exports (atomic files) and validated, batched imports with a rejects report."""

from __future__ import annotations

from iterbridge.transfer.csvformat import CsvOptions
from iterbridge.transfer.export import ExportResult, export, exportable
from iterbridge.transfer.importer import ImportOptions, ImportSummary, import_csv

__all__ = ["CsvOptions", "ExportResult", "ImportOptions", "ImportSummary", "export", "exportable", "import_csv"]
