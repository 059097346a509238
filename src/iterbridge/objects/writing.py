"""Write strategies shared by object declarations: one call per row, or batches into bulk endpoints."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iterbridge.api.body import json_body
from iterbridge.api.redaction import redact
from iterbridge.api.timestamps import iterable_format, parse_timestamp
from iterbridge.errors import AuthenticationError, FatalApiError, RetriableApiError, UnknownOutcomeError
from iterbridge.limits import body_limit
from iterbridge.objects.base import ObjectDef, Row, RowResult, RowStatus, Writer

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

log = logging.getLogger("iterbridge.objects")

SendOne = Callable[["Session", Row], dict[str, Any]]


def per_row(send: SendOne) -> Writer:
    """Call the API once per row. A refused row is reported and the next one sent; if the API stays
    unreachable after retries, the remaining rows are reported unsent instead of each timing out."""

    def write(conn: Session, obj: ObjectDef, rows: Sequence[Row]) -> list[RowResult]:
        results: list[RowResult] = []
        for position, row in enumerate(rows):
            try:
                keys = send(conn, row)
            except (ValueError, TypeError) as error:  # a value the request cannot be made of
                results.append(invalid(position, error))
            except AuthenticationError:
                raise  # the key, not the row: no row would fare better
            except FatalApiError as error:
                results.append(RowResult(position, RowStatus.REJECTED, redact(str(error))))
            except (RetriableApiError, UnknownOutcomeError) as error:
                results.append(failed(position, error))
                results.extend(unsent(p, error) for p in range(position + 1, len(rows)))
                break
            else:
                results.append(RowResult(position, RowStatus.ACCEPTED, keys=keys))
        return results

    return write


Part = tuple[int, Row, Any]  # a row's input position, the row, and its element of the request body


@dataclass(frozen=True)
class Bulk:
    """How rows feed one bulk endpoint: each row's element of the body (`part`; ValueError/TypeError when its
    values cannot make one), what rows must share to travel together (`group`: a list, a catalog — None when
    all can), the body around a group's parts, the path parameters of a group, and what Iterable's answer says
    of each row (`outcomes`)."""

    endpoint: str
    part: Callable[[Session, Row], Any]
    body: Callable[[Any, list[Any]], dict[str, Any]]
    outcomes: Callable[[Any, list[Part]], list[RowResult]]
    group: Callable[[Row], Hashable] | None = None
    path: Callable[[Any], dict[str, object]] | None = None
    # Whether a request of these parts is safe to send twice, when the endpoint's declaration
    # (`api.idempotence`) cannot tell: trackBulk is only when every event has an id.
    idempotent: Callable[[list[Any]], bool] | None = None
    max_rows: int = 1000


def bulk(spec: Bulk) -> Writer:
    """Send rows to a bulk endpoint, one request per group and at most `max_rows` rows and the endpoint's body
    limit (measured as it will be sent) per request. Each request's failure is its rows' alone; a BatchTooLarge
    answer is retried in halves, down to the single row, which is then refused with Iterable's reason."""

    def write(conn: Session, obj: ObjectDef, rows: Sequence[Row]) -> list[RowResult]:
        results: list[RowResult] = []
        groups: dict[Hashable, list[Part]] = {}
        for position, row in enumerate(rows):
            try:
                key = None if spec.group is None else spec.group(row)
                groups.setdefault(key, []).append((position, row, spec.part(conn, row)))
            except (ValueError, TypeError) as error:  # one bad row never sinks its request
                results.append(invalid(position, error))
        try:
            for key, parts in groups.items():
                for chunk in _chunks(spec, key, parts):
                    _send(conn, spec, key, chunk, results)
        except (RetriableApiError, UnknownOutcomeError) as error:
            done = {r.index for r in results}
            results.extend(unsent(p, error) for p in range(len(rows)) if p not in done)
        return sorted(results, key=lambda r: r.index)

    return write


def _chunks(spec: Bulk, key: Any, parts: list[Part]) -> Iterator[list[Part]]:
    """A group's parts cut into requests of at most `max_rows` parts and the endpoint's body limit. A body is
    its envelope plus its parts joined by commas (compact JSON), so each part is measured once, exactly."""
    limit = body_limit(spec.endpoint)
    empty = len(json_body(spec.body(key, [])))
    chunk: list[Part] = []
    size = empty
    for part in parts:
        added = len(json_body(spec.body(key, [part[2]]))) - empty
        if chunk and (len(chunk) >= spec.max_rows or size + 1 + added > limit):
            yield chunk
            chunk, size = [], empty
        size += added + (1 if chunk else 0)
        chunk.append(part)
    if chunk:
        yield chunk


def _send(conn: Session, spec: Bulk, key: Any, chunk: list[Part], results: list[RowResult]) -> None:
    """One request for a chunk; its rows' outcomes are added to `results` (kept if a later request fails)."""
    path = None if spec.path is None else spec.path(key)
    parts = [part for _, _, part in chunk]
    idempotent = None if spec.idempotent is None else spec.idempotent(parts)
    try:
        answer = conn.client.json(spec.endpoint, path=path, json=spec.body(key, parts), idempotent=idempotent)
    except AuthenticationError:
        raise  # the key, not the rows: no request would fare better
    except (UnknownOutcomeError, RetriableApiError) as error:
        # Sent, and failed for want of Iterable (of unknown outcome, or still failing after retries): said on
        # each of these rows; the caller sends nothing more.
        results.extend(failed(position, error) for position, _, _ in chunk)
        raise
    except FatalApiError as error:
        if error.code == "BatchTooLarge" and len(chunk) > 1:
            half = len(chunk) // 2
            _send(conn, spec, key, chunk[:half], results)
            _send(conn, spec, key, chunk[half:], results)
            return
        reason = redact(str(error))
        results.extend(RowResult(position, RowStatus.REJECTED, reason) for position, _, _ in chunk)
        return
    results.extend(spec.outcomes(answer, chunk))


def user_outcomes(
    answer: Any,
    parts: list[Part],
    also: Callable[[Row], str | None] | None = None,
    keys: Callable[[Row], dict[str, Any]] | None = None,
) -> list[RowResult]:
    """Each row's outcome from a UserBulkUpdateListResponse: refused when the answer names its user (or when
    `also` finds another reason), accepted otherwise. A failCount larger than the users named is said in a
    warning: those failures cannot be put on a row."""
    reasons = refusals(answer)
    results = []
    for position, row, _ in parts:
        reason = refusal(reasons, row) or (also(row) if also else None)
        results.append(accepted_unless(position, reason, keys(row) if keys else {}))
    reported = answer.get("failCount") if isinstance(answer, dict) else None
    refused = sum(not r.ok for r in results)
    if isinstance(reported, int) and reported > refused:
        log.warning(
            "Iterable counted %d failures among %d rows but named %d; the others cannot be told apart",
            reported,
            len(results),
            refused,
        )
    return results


def refusals(answer: Any) -> dict[tuple[str, str], str]:
    """("email" or "userId", value) → reason, for every user a UserBulkUpdateListResponse (bulkUpdate, trackBulk,
    lists/subscribe and unsubscribe) names as failed: its failedUpdates, and the older invalidEmails and
    invalidUserIds lists."""
    reasons: dict[tuple[str, str], str] = {}
    if not isinstance(answer, dict):
        return reasons
    for kind, values in (answer.get("failedUpdates") or {}).items():
        for prefix, reason in _FAILURES.items():
            for identifier, suffix in (("email", "Emails"), ("userId", "UserIds")):
                if kind == prefix + suffix:
                    for value in values or []:
                        reasons[(identifier, str(value))] = reason.format(identifier)
    for identifier, kind in (("email", "invalidEmails"), ("userId", "invalidUserIds")):
        for value in answer.get(kind) or []:
            reasons.setdefault((identifier, str(value)), _FAILURES["invalid"].format(identifier))
    return reasons


def refusal(reasons: dict[tuple[str, str], str], row: Row) -> str | None:
    """Why Iterable refused the user a row names (by Email, or by UserId), or None when it did not."""
    for column, identifier in (("Email", "email"), ("UserId", "userId")):
        if present(row, column):
            reason = reasons.get((identifier, str(row[column])))
            if reason is not None:
                return reason
    return None


_FAILURES = {
    "invalid": "invalid {}",
    "notFound": "no such user",
    "forgotten": "user was forgotten (GDPR)",
    "conflict": "conflicting user",
    "invalidData": "invalid data fields",
}


def accepted_unless(position: int, reason: str | None, keys: dict[str, Any] | None = None) -> RowResult:
    """A row Iterable answered for: accepted, or refused with `reason`."""
    status = RowStatus.ACCEPTED if reason is None else RowStatus.REJECTED
    return RowResult(position, status, reason, keys or {})


def failed(position: int, error: Exception) -> RowResult:
    """A row whose request failed for want of Iterable: of unknown outcome ("unknown outcome: …") when
    Iterable may have processed it, else failed with the error's reason."""
    reason = redact(str(error))
    if isinstance(error, UnknownOutcomeError):
        return RowResult(position, RowStatus.UNKNOWN, f"unknown outcome: {reason}")
    return RowResult(position, RowStatus.FAILED, reason)


def unsent(position: int, error: Exception) -> RowResult:
    """A row left unsent because the API failed on an earlier request."""
    if isinstance(error, UnknownOutcomeError):
        return RowResult(
            position, RowStatus.NOT_SENT, f"not sent: stopped after a request of unknown outcome ({error.failure})"
        )
    return RowResult(position, RowStatus.NOT_SENT, f"not sent: {redact(str(error))}")


def invalid(position: int, error: Exception) -> RowResult:
    """A row refused before any request: a value the request cannot be made of."""
    return RowResult(position, RowStatus.INVALID, f"bad value: {error}")


def present(row: Row, column: str) -> bool:
    value = row.get(column)
    return value is not None and value != ""


def time_param(value: Any) -> str | None:
    """A timestamp cell → Iterable's "YYYY-MM-DD HH:MM:SS" request format."""
    moment = parse_timestamp(value)
    return None if moment is None else iterable_format(moment)
