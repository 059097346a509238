"""What a dlt destination holds, read back in the catalog's names and types, so that it compares with the
sandbox's own answers (tests/replicate/expected.py) as a replicated copy does.

dlt names tables and columns in snake_case (Events_emailOpen → events_email_open, CampaignId → campaign_id):
the catalog's names are mapped through the same naming convention. JSON columns land as their JSON text and are
parsed back; timestamps are compared as aware UTC datetimes. dlt's own tables (_dlt_…) are left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import psycopg
import pyarrow.parquet as pq
from dlt.common.normalizers.naming.snake_case import NamingConvention

import iterbridge
from iterbridge.objects.base import SqlType
from iterbridge.replicate.plan import streams

NAMING = NamingConvention()


@dataclass(frozen=True)
class Named:
    name: str


def dlt_name(name: str) -> str:
    return str(NAMING.normalize_identifier(name))


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


class Landed:
    """A dataset of a dlt destination (duckdb file, PostgreSQL schema or filesystem folder of Parquet files),
    read-only, its tables by their catalog names."""

    def __init__(self, conn: iterbridge.Connection, kind: str, where: str, dataset: str) -> None:
        self.kind, self.where, self.dataset = kind, where, dataset
        # Every table the source has, with its columns (Users' custom fields included) and their types.
        self.types: dict[str, dict[str, SqlType]] = {
            stream.table: {c.name: c.type for c in conn.columns(stream.obj) if not c.import_only}
            for stream in streams(None)
        }

    def columns(self, table: str) -> list[Named]:
        return [Named(name) for name in self.types[table]]

    def rows(self, table: str) -> list[dict[str, Any]]:
        """The table's rows in the catalog's names (an empty list for a table dlt never created: no rows)."""
        types = self.types[table]
        names = {dlt_name(name): name for name in types}
        found = []
        for raw in self._raw(dlt_name(table)):
            row: dict[str, Any] = {}
            for key, value in raw.items():
                if key.startswith("_dlt"):
                    continue
                name = names[key]
                if value is not None and types[name] is SqlType.JSON:
                    value = json.loads(value)
                row[name] = _utc(value)
            found.append(row)
        return found

    def _raw(self, table: str) -> Iterator[dict[str, Any]]:
        if self.kind == "duckdb":
            if not Path(self.where).exists():
                return
            with duckdb.connect(self.where, read_only=True) as db:
                tables = db.sql("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
                if (self.dataset, table) not in tables:
                    return
                arrow = db.sql(f'SELECT * FROM "{self.dataset}"."{table}"').to_arrow_table()
            yield from arrow.to_pylist()
        elif self.kind == "postgres":
            with psycopg.connect(self.where) as db:
                found = db.execute(
                    "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                    [self.dataset, table],
                ).fetchone()
                if found is None:
                    return
                cursor = db.execute(f'SELECT * FROM "{self.dataset}"."{table}"')
                names = [d.name for d in cursor.description or []]
                for values in cursor.fetchall():
                    yield dict(zip(names, values, strict=True))
        else:
            folder = Path(self.where) / self.dataset / table
            for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
                yield from pq.read_table(path).to_pylist()

    def keys(self, table: str, key: tuple[str, ...]) -> list[tuple[Any, ...]]:
        return [tuple(row[k] for k in key) for row in self.rows(table)]


def destination(kind: str, tmp_path: Path, postgres_url: str | None = None) -> tuple[Any, str]:
    """A dlt destination of each kind for a test, and where Landed reads it."""
    if kind == "duckdb":
        path = str(tmp_path / "landed.duckdb")
        return dlt.destinations.duckdb(path), path
    if kind == "postgres":
        assert postgres_url is not None
        return dlt.destinations.postgres(postgres_url), postgres_url
    folder = str(tmp_path / "lake")
    return dlt.destinations.filesystem(folder), folder
