"""Streamed bodies: export lines batched into chunks, with the dropped-connection fault."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

CHUNK_BYTES = 64 * 1024


class DropConnection(Exception):
    """Raised inside a streaming body: the server aborts the connection mid-stream, as Iterable's
    load balancers do on long exports. The client sees an incomplete chunked body."""


async def chunked(blocks: Iterable[bytes], drop_after: int | None = None) -> AsyncIterator[bytes]:
    """Join blocks of whole lines into chunks of at least ~64 KB; yield to the event loop between chunks so
    other requests run. With `drop_after`, the connection drops once that many lines (newlines) are sent."""
    buffer: list[bytes] = []
    size = 0
    sent_lines = 0
    for block in blocks:
        if drop_after is not None:
            lines = block.count(b"\n")
            if sent_lines + lines > drop_after:
                cut = 0
                for _ in range(drop_after - sent_lines):
                    cut = block.index(b"\n", cut) + 1
                rest = b"".join([*buffer, block[:cut]])
                if rest:
                    yield rest
                await asyncio.sleep(0)
                raise DropConnection(f"dropped after {drop_after} lines")
            sent_lines += lines
        buffer.append(block)
        size += len(block)
        if size >= CHUNK_BYTES:
            yield b"".join(buffer)
            buffer, size = [], 0
            await asyncio.sleep(0)
    if buffer:
        yield b"".join(buffer)
