"""Events' export records built into Arrow columns, without a row dict, a datetime or a typed conversion per
row: CreatedAt is parsed for the whole batch by one compute kernel, the columns are built from lists.

What stays per record, because the correctness rules are defined on the whole record: the JSON parse
(api/jsonlines.py, which repairs or quarantines malformed lines, so a batch has exactly the dict rows'
records), DataFields (every field without a column of its own) and, for a record without Iterable's `id`, the
stable Id hashed from it (events.identity_hash, the dict rows' own definition, so the Ids are byte-identical).
Measured against pyarrow.json and DuckDB's read_json, which cannot give "the rest of the record" as a column:
see the commit that added this module.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped]

from iterbridge.api.jsonlines import LineBlock
from iterbridge.api.parsed_window import WindowParse
from iterbridge.api.timestamps import parse_timestamp
from iterbridge.objects import scanner
from iterbridge.objects.arrow import TIMESTAMP, array, export_timestamps, owned_buffer, schema
from iterbridge.objects.base import Column, json_as_sent, json_text
from iterbridge.objects.events import export_iso, identity_hash, split_record


def event_batches(
    records: Iterable[dict[str, Any]],
    event_type: str,
    columns: Sequence[Column],
    batch_rows: int,
    *,
    sort_keys: bool = True,
) -> Iterator[Any]:
    """Batches of at most `batch_rows` events of one type, with every column of `columns`, in order; DataFields'
    keys sorted (the stored text) or as Iterable sent them (`sort_keys=False`, what a CSV export writes)."""
    if scanner.scanner is not None:
        builder = scanner.scanner.Builder(event_type, sort_keys)
        yield from _scanned_batches(builder, records, event_type, columns, batch_rows, sort_keys)
        return
    source = iter(records)
    while (batch := event_batch(itertools.islice(source, batch_rows), event_type, columns, sort_keys)) is not None:
        yield batch


def window_parse(event_type: str, columns: Sequence[Column], batch_rows: int, sort_keys: bool) -> WindowParse:
    """What parses one window's LineBlocks into batches while it downloads (api/parsed_window.py), with a builder
    of its own: the C scanner only (a thread parsing through the Python path would hold the GIL)."""
    assert scanner.scanner is not None
    module = scanner.scanner

    def parse(blocks: Iterator[LineBlock]) -> Iterator[Any]:
        builder = module.Builder(event_type, sort_keys)
        # no copy into Arrow's memory here: the spill is written at once, and read back into it
        return _scanned_batches(builder, blocks, event_type, columns, batch_rows, sort_keys, buffer=pa.py_buffer)

    return parse


def _scanned_batches(
    builder: Any,
    items: Iterable[Any],
    event_type: str,
    columns: Sequence[Column],
    batch_rows: int,
    sort_keys: bool,
    buffer: Callable[[bytes], Any] = owned_buffer,
) -> Iterator[Any]:
    """Batches from LineBlocks parsed by the C scanner (objects/scanner.scanned_batches), a line it hands back
    read by the Python path in its place."""
    return scanner.scanned_batches(
        builder,
        items,
        batch_rows,
        take=lambda: builder_batch(builder, event_type, columns, buffer),
        append=lambda record: append_read(builder, record, event_type, columns, sort_keys),
    )


def append_read(
    builder: Any, record: dict[str, Any], event_type: str, columns: Sequence[Column], sort_keys: bool
) -> None:
    """One record read by the Python path (event_batch: the same values, types and errors), appended."""
    built = _built([record], event_type, columns, sort_keys)
    assert built is not None
    value = {name: built[name][0].as_py() for name in (*_SCANNED_TEXTS, "CampaignId", "TemplateId")}
    created = built["CreatedAt"].cast(pa.int64())[0].as_py()
    builder.append(
        value["Id"],
        value["EventName"],
        value["Email"],
        value["UserId"],
        created,
        value["CampaignId"],
        value["TemplateId"],
        value["MessageId"],
        value["DataFields"],
    )


_SCANNED_TEXTS = ("Id", "EventName", "Email", "UserId", "MessageId", "DataFields")  # Builder.take's order


def builder_batch(
    builder: Any, event_type: str, columns: Sequence[Column], buffer: Callable[[bytes], Any] = owned_buffer
) -> Any:
    """The builder's rows as a batch of `columns`, its buffers made by `buffer` (copied into Arrow's own memory
    unless told otherwise: `owned_buffer`)."""
    rows, texts, integers = builder.take()
    built = {
        name: pa.StringArray.from_buffers(rows, buffer(offsets), buffer(data), _bitmap(valid, buffer))
        for name, (valid, offsets, data) in zip(_SCANNED_TEXTS, texts, strict=True)
    }
    for name, kind, (valid, values) in zip(
        ("CreatedAt", "CampaignId", "TemplateId"), (TIMESTAMP, pa.int64(), pa.int64()), integers, strict=True
    ):
        built[name] = pa.Array.from_buffers(kind, rows, [_bitmap(valid, buffer), buffer(values)])
    built["EventType"] = pa.array([event_type] * rows, type=pa.string())
    return pa.RecordBatch.from_arrays([built[c.name] for c in columns], schema=schema(columns))


def _bitmap(valid: bytes | None, buffer: Callable[[bytes], Any]) -> Any:
    return None if valid is None else buffer(valid)


def event_batch(
    records: Iterable[dict[str, Any]], event_type: str, columns: Sequence[Column], sort_keys: bool = True
) -> Any:
    """One batch of the records (consumed one at a time, never held), or None when there are none."""
    built = _built(records, event_type, columns, sort_keys)
    return (
        None if built is None else pa.RecordBatch.from_arrays([built[c.name] for c in columns], schema=schema(columns))
    )


def _built(
    records: Iterable[dict[str, Any]], event_type: str, columns: Sequence[Column], sort_keys: bool
) -> dict[str, Any] | None:
    """The arrays of every column for the records (consumed one at a time, never held: only the columns' values
    are), or None when there are none.

    Per record, one serialisation: DataFields' text (compact, keys sorted) is also the last item of the list the
    Id hashes, put in as an orjson Fragment (written as it is), not serialised again (identity_hash's bytes
    exactly; a record either text cannot be made of goes through identity_hash itself).
    Unsorted DataFields (`sort_keys=False`) cost a second serialisation where the Id needs the sorted one."""
    ids: list[str] = []
    names: list[Any] = []
    emails: list[Any] = []
    users: list[Any] = []
    texts: list[Any] = []
    campaigns: list[Any] = []
    templates: list[Any] = []
    messages: list[Any] = []
    # DataFields' texts (orjson's UTF-8) end to end in one buffer, with where each ends: no str per row, and no
    # orjson output held (each keeps its over-allocated buffer: ~4 KB a row)
    data_blob = bytearray()
    data_ends: list[int] = []
    odd = False  # a createdAt that is not the exports' own form: parsed per row, like the dict rows
    dumps, fragment, sha256, sorted_keys = orjson.dumps, orjson.Fragment, hashlib.sha256, orjson.OPT_SORT_KEYS
    order = sorted_keys if sort_keys else None
    for record in records:
        (name, email, user, text, campaign, template, message, event_id), data = split_record(record)
        if user is not None and user.__class__ is not str:
            user = str(user)
        iso = export_iso(text)
        if iso is None:
            odd = True
            created = parse_timestamp(text)
            iso = created.isoformat() if created else None
        try:
            if event_id:
                ids.append(str(event_id))
                data_blob += dumps(data, option=order)
            else:
                data_text = dumps(data, option=sorted_keys)
                identity = [event_type, iso, email, user, name, campaign, template, message, fragment(data_text)]
                ids.append(sha256(dumps(identity, option=sorted_keys)).hexdigest()[:32])
                data_blob += data_text if sort_keys else dumps(data)
        except (TypeError, orjson.JSONEncodeError):  # what orjson cannot write: the dict rows' own functions
            identity = [event_type, iso, email, user, name, campaign, template, message, data]
            ids.append(str(event_id) if event_id else identity_hash(identity))
            data_blob += (str(json_text(data)) if sort_keys else json_as_sent(data)).encode()
        data_ends.append(len(data_blob))
        names.append(name)
        emails.append(email)
        users.append(user)
        texts.append(text)
        campaigns.append(campaign)
        templates.append(template)
        messages.append(message)
    if not ids:
        return None
    return {
        "Id": pa.array(ids, type=pa.string()),
        "EventType": pa.array([event_type] * len(ids), type=pa.string()),
        "EventName": array(names, columns_type(columns, "EventName")),
        "Email": array(emails, columns_type(columns, "Email")),
        "UserId": pa.array(users, type=pa.string()),
        "CreatedAt": _created(texts, odd),
        "CampaignId": array(campaigns, columns_type(columns, "CampaignId")),
        "TemplateId": array(templates, columns_type(columns, "TemplateId")),
        "MessageId": array(messages, columns_type(columns, "MessageId")),
        "DataFields": _texts(data_blob, data_ends),
    }


def _texts(blob: bytearray, ends: list[int]) -> Any:
    """A string array of UTF-8 texts laid end to end in `blob`, each ending at its `ends` offset (one copy of
    the bytes; a batch whose texts pass Arrow's 2 GiB string limit fails as pa.array would)."""
    offsets = np.fromiter(itertools.chain((0,), ends), dtype=np.int64, count=len(ends) + 1)
    array = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(bytes(blob)))
    return array.cast(pa.string())


def columns_type(columns: Sequence[Column], name: str) -> Any:
    return next(c.type for c in columns if c.name == name)


def _created(texts: list[Any], odd: bool) -> Any:
    """CreatedAt for a batch: one strptime over the texts; per row, as the dict rows parse it, where some are not
    the exports' form or are no real date (then the dict rows' error is raised)."""
    parsed = None if odd else export_timestamps(texts, checked=True)
    return pa.array([parse_timestamp(text) for text in texts], type=TIMESTAMP) if parsed is None else parsed
