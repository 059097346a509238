"""Types of the C scanner of events' export lines (_eventscan.c)."""

from collections.abc import Iterator, Sequence
from typing import Any

_Texts = tuple[bytes | None, bytes, bytes]  # validity bitmap (None: no null), int32 offsets, UTF-8 data
_Integers = tuple[bytes | None, bytes]  # validity bitmap, int64 values

class Builder:
    rows: int
    def __init__(self, event_type: str, sort_keys: bool = True) -> None: ...
    def scan(self, block: bytes, position: int, max_rows: int, /) -> tuple[int, int, int]: ...
    def append(
        self,
        id: str,
        event_name: str | None,
        email: str | None,
        user_id: str | None,
        created_us: int | None,
        campaign_id: int | None,
        template_id: int | None,
        message_id: str | None,
        data: str,
        /,
    ) -> None: ...
    def take(self) -> tuple[int, tuple[_Texts, ...], tuple[_Integers, ...]]: ...

class UserBuilder:
    rows: int
    def __init__(
        self,
        columns: tuple[tuple[str | None, str | None, int], ...],
        covered: tuple[str, ...],
        sort_keys: bool = True,
    ) -> None: ...
    def scan(self, block: bytes, position: int, max_rows: int, /) -> tuple[int, int, int]: ...
    def append(self, values: tuple[Any, ...], /) -> None: ...
    def take(self) -> tuple[int, tuple[tuple[bytes | None, ...], ...], _Texts]: ...

def pg_copy_rows(columns: Sequence[tuple[int, Any, Any, Any, int]], count: int, /) -> bytes: ...
def sqlite_bind_library(
    module_file: str, connection_type: type, integrity_error: type, operational_error: type, /
) -> bool: ...
def sqlite_write(
    connection: Any, sql: str, columns: Sequence[tuple[int, Any, Any, Any, int]], count: int, /
) -> int: ...
def arrow_dicts(
    names: tuple[str, ...], columns: tuple[tuple[int, Any, Any, Any, int], ...], count: int, parse_json: Any, /
) -> Iterator[dict[str, Any]]: ...
def csv_records(
    columns: tuple[tuple[int, Any, Any, Any, int], ...],
    quoted: bytes,
    count: int,
    quote: int,
    delimiter: int,
    terminator: bytes,
    into: bytearray,
    /,
) -> int: ...
