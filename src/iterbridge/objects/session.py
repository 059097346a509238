"""The seam between the jobs and the objects: what readers, writers and jobs need from a connection.

A `Session` is the API client plus what a read or a write needs around it: the catalog's columns (a
project's custom user fields included), the slices a read skipped, the server's clock, the export settings
and the parser of exported JSON lines. `iterbridge.connection.ApiSession` is the implementation;
`Connection` is the public façade over one. Readers, writers, procedures and the jobs (query, transfer,
replicate, sync) are typed against this protocol, so strict typing reaches across the layers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from iterbridge.api.client import ApiClient
    from iterbridge.api.exports import WindowPolicy
    from iterbridge.api.jsonlines import JsonLines, Quarantine
    from iterbridge.objects.base import Column, ObjectDef, Operation, ReadRequest, Row, WriteReport


@dataclass(frozen=True)
class Skipped:
    """A slice of data a read could not get, with Iterable's reason (e.g. a list whose members fail)."""

    object: str
    slice: str
    reason: str


class Session(Protocol):
    """What readers, writers and jobs use of a connection (see the module's docstring)."""

    client: ApiClient
    # Templates' extended columns read NULL, never one GET each.
    suppress_extended_requests: bool
    # Events and Users without a user filter: "auto", "sync" or "async" (objects.reading.export_method).
    export_method: str
    window_policy: WindowPolicy
    skipped: list[Skipped]
    quarantine: Quarantine

    def object(self, name: str) -> ObjectDef: ...

    def columns(self, obj: ObjectDef | str) -> tuple[Column, ...]:
        """An object's columns; for Users, with the project's custom fields (asked once per session)."""
        ...

    def column_name(self, obj: ObjectDef, available: tuple[Column, ...], name: str) -> str:
        """A column's own name for a name in any case; UnknownColumn when the object has none such."""
        ...

    def user_fields(self) -> dict[str, str]: ...

    def forget_user_fields(self) -> None:
        """Ask users/getFields again at the next use (a custom field created since becomes a column)."""
        ...

    def skip(self, obj: str, part: str, reason: str) -> None:
        """Record (and log) a slice a read could not get."""
        ...

    def skipped_in_thread(self) -> list[Skipped]:
        """What this thread's reads skipped (replication reports it per table)."""
        ...

    def json_lines(self, obj: str, source: str) -> AbstractContextManager[JsonLines]:
        """The parser of one read's JSON lines; the lines it skipped are reported as a skipped slice."""
        ...

    def server_now(self) -> datetime:
        """Now on Iterable's clock: where export windows end."""
        ...

    def scan(self, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
        """The reader's rows for a request, with only what the API narrowed."""
        ...

    def scan_batches(self, obj: ObjectDef, request: ReadRequest, batch_rows: int) -> Iterator[Any]:
        """`scan` as Arrow batches of every column, at most `batch_rows` each (objects/arrow.py)."""
        ...

    def read(
        self,
        obj: str,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[Row]: ...

    def read_batches(
        self,
        obj: str,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        batch_rows: int = ...,
        *,
        sort_json_keys: bool = True,
    ) -> Iterator[Any]:
        """`read`'s rows as pyarrow RecordBatches typed from the catalog (objects/arrow.py)."""
        ...

    def insert(self, obj: str, rows: Iterable[Mapping[str, Any]]) -> WriteReport: ...

    def update(self, obj: str, rows: Iterable[Mapping[str, Any]]) -> WriteReport: ...

    def delete(self, obj: str, keys: Iterable[Mapping[str, Any]]) -> WriteReport: ...

    def write(self, operation: Operation | str, obj: str, rows: Iterable[Mapping[str, Any]]) -> WriteReport: ...

    def call(self, procedure: str, *args: Any, **kwargs: Any) -> str: ...
