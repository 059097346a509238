"""Streamed bodies: export lines batched into chunks, with the dropped-connection fault."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

CHUNK_BYTES = 64 * 1024


class DropConnection(Exception):
    """Raised inside a streaming body: the server aborts the connection mid-stream, as Iterable's
    load balancers do on long exports. The client sees an incomplete chunked body."""


async def chunked(lines: Iterable[bytes], drop_after: int | None = None) -> AsyncIterator[bytes]:
    """Join lines into ~64 KB chunks; yield to the event loop between chunks so other requests run."""
    buffer: list[bytes] = []
    size = 0
    for sent_lines, line in enumerate(lines):
        if drop_after is not None and sent_lines >= drop_after:
            if buffer:
                yield b"".join(buffer)
            await asyncio.sleep(0)
            raise DropConnection(f"dropped after {sent_lines} lines")
        buffer.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield b"".join(buffer)
            buffer, size = [], 0
            await asyncio.sleep(0)
    if buffer:
        yield b"".join(buffer)
