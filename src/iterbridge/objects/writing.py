"""Write strategies shared by object declarations: one call per row, or batches into bulk endpoints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from iterbridge.api.redaction import redact
from iterbridge.api.timestamps import iterable_format, parse_timestamp
from iterbridge.errors import AuthenticationError, FatalApiError, RetriableApiError
from iterbridge.objects.base import ObjectDef, Row, RowResult, Writer

if TYPE_CHECKING:
    from iterbridge.connection import Connection

SendOne = Callable[["Connection", Row], dict[str, Any]]
T = TypeVar("T")


def per_row(send: SendOne) -> Writer:
    """Call the API once per row. A refused row is reported and the next one sent; if the API stays
    unreachable after retries, the remaining rows are reported unsent instead of each timing out."""

    def write(conn: Connection, obj: ObjectDef, rows: Sequence[Row]) -> list[RowResult]:
        results: list[RowResult] = []
        for position, row in enumerate(rows):
            try:
                keys = send(conn, row)
            except (ValueError, TypeError) as error:  # a value the request cannot be made of
                results.append(RowResult(position, False, bad_value(error), invalid=True))
            except AuthenticationError:
                raise  # the key, not the row: no row would fare better
            except FatalApiError as error:
                results.append(RowResult(position, False, redact(str(error))))
            except RetriableApiError as error:
                reason = redact(str(error))
                results.append(RowResult(position, False, reason))
                results.extend(RowResult(p, False, f"not sent: {reason}") for p in range(position + 1, len(rows)))
                break
            else:
                results.append(RowResult(position, True, keys=keys))
        return results

    return write


def batches(rows: Sequence[Row], size: int) -> list[list[tuple[int, Row]]]:
    """Rows with their input positions, cut into batches of at most `size`."""
    numbered = list(enumerate(rows))
    return [numbered[start : start + size] for start in range(0, len(numbered), size)]


def bulk(send_batch: Callable[[Connection, list[tuple[int, Row]]], list[RowResult]], size: int) -> Writer:
    """Send batches to a bulk endpoint; the batch function maps Iterable's answer back to rows."""

    def write(conn: Connection, obj: ObjectDef, rows: Sequence[Row]) -> list[RowResult]:
        results: list[RowResult] = []
        for batch in batches(rows, size):
            try:
                results.extend(send_batch(conn, batch))
            except AuthenticationError:
                raise  # the key, not the rows: no batch would fare better
            except FatalApiError as error:
                reason = redact(str(error))
                results.extend(RowResult(position, False, reason) for position, _ in batch)
            except RetriableApiError as error:
                reason = redact(str(error))
                sent = {r.index for r in results}
                results.extend(RowResult(p, False, f"not sent: {reason}") for p in range(len(rows)) if p not in sent)
                break
        return sorted(results, key=lambda r: r.index)

    return write


def build_each(
    batch: list[tuple[int, Row]], build: Callable[[Row], T]
) -> tuple[list[tuple[int, Row, T]], list[RowResult]]:
    """Each row's part of a bulk request, or — when its values cannot make one — the row's failure, so one
    bad row never sinks its batch."""
    built: list[tuple[int, Row, T]] = []
    failed: list[RowResult] = []
    for position, row in batch:
        try:
            built.append((position, row, build(row)))
        except (ValueError, TypeError) as error:
            failed.append(RowResult(position, False, bad_value(error), invalid=True))
    return built, failed


def bad_value(error: Exception) -> str:
    return f"bad value: {error}"


def present(row: Row, column: str) -> bool:
    value = row.get(column)
    return value is not None and value != ""


def time_param(value: Any) -> str | None:
    """A timestamp cell → Iterable's "YYYY-MM-DD HH:MM:SS" request format."""
    moment = parse_timestamp(value)
    return None if moment is None else iterable_format(moment)
