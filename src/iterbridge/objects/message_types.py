"""MessageTypes: GET /api/messageTypes. Read only."""

from __future__ import annotations

from iterbridge.objects.base import Column, ObjectDef, SqlType
from iterbridge.objects.facts import Replication, one_call
from iterbridge.objects.reading import listing

MESSAGE_TYPES = ObjectDef(
    name="MessageTypes",
    description="Message types within channels, with their subscription policy and limits.",
    columns=(
        Column("Id", SqlType.INTEGER, "id", key=True, read_only=True),
        Column("Name", SqlType.TEXT, "name", read_only=True),
        Column("ChannelId", SqlType.INTEGER, "channelId", read_only=True),
        Column("CreatedAt", SqlType.TIMESTAMP, "createdAt", read_only=True),
        Column("UpdatedAt", SqlType.TIMESTAMP, "updatedAt", read_only=True),
        Column("SubscriptionPolicy", SqlType.TEXT, "subscriptionPolicy", read_only=True),
        Column("RateLimitPerMinute", SqlType.INTEGER, "rateLimitPerMinute", read_only=True),
        Column("FrequencyCap", SqlType.JSON, "frequencyCap", read_only=True),
    ),
    reader=listing("GET /api/messageTypes", "messageTypes"),
    cursor="UpdatedAt",
    cost=one_call("GET /api/messageTypes"),
    replication=Replication("incremental", sweep=True),
)
