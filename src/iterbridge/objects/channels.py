"""Channels: GET /api/channels. Read only."""

from __future__ import annotations

from iterbridge.objects.base import Column, ObjectDef, SqlType
from iterbridge.objects.facts import one_call
from iterbridge.objects.reading import listing

CHANNELS = ObjectDef(
    name="Channels",
    description="Message channels (marketing or transactional, per medium).",
    columns=(
        Column("Id", SqlType.INTEGER, "id", key=True, read_only=True),
        Column("Name", SqlType.TEXT, "name", read_only=True),
        Column("ChannelType", SqlType.TEXT, "channelType", read_only=True),
        Column("MessageMedium", SqlType.TEXT, "messageMedium", read_only=True),
    ),
    reader=listing("GET /api/channels", "channels"),
    cost=one_call("GET /api/channels"),
)
