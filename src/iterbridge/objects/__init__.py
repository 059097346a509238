"""The object catalog: one module per Iterable object, read as a table of contents of Iterable.

Adding an object is one module declaring its `ObjectDef` (columns, reader, writes, and the facts the jobs read
from it: upsert key, open fields, row estimate, read cost, replication policy — see `facts.py`) and one line in
`OBJECTS` below; no other module names an object (tests/connector/test_extra_object.py holds to it).
"""

from __future__ import annotations

from iterbridge.errors import UnknownObject
from iterbridge.objects.base import Column, Condition, ObjectDef, ReadRequest, RowResult, SqlType, WriteReport
from iterbridge.objects.campaign_metrics import CAMPAIGN_METRICS
from iterbridge.objects.campaigns import CAMPAIGNS
from iterbridge.objects.catalog_items import CATALOG_ITEMS
from iterbridge.objects.catalogs import CATALOGS
from iterbridge.objects.channels import CHANNELS
from iterbridge.objects.events import EVENTS
from iterbridge.objects.inapp_messages import INAPP_MESSAGES
from iterbridge.objects.list_users import LIST_USERS
from iterbridge.objects.lists import LISTS
from iterbridge.objects.message_types import MESSAGE_TYPES
from iterbridge.objects.templates import TEMPLATES
from iterbridge.objects.user_fields import USER_FIELDS
from iterbridge.objects.users import USERS

OBJECTS: dict[str, ObjectDef] = {
    o.name: o
    for o in (
        CAMPAIGNS,
        CAMPAIGN_METRICS,
        CATALOGS,
        CATALOG_ITEMS,
        CHANNELS,
        EVENTS,
        INAPP_MESSAGES,
        LISTS,
        LIST_USERS,
        MESSAGE_TYPES,
        TEMPLATES,
        USERS,
        USER_FIELDS,
    )
}


def get_object(name: str) -> ObjectDef:
    """An object by name, case-insensitively; UnknownObject suggests the closest names."""
    found = OBJECTS.get(name) or next((o for n, o in OBJECTS.items() if n.lower() == name.lower()), None)
    if found is None:
        raise UnknownObject(name, OBJECTS)
    return found


__all__ = [
    "OBJECTS",
    "Column",
    "Condition",
    "ObjectDef",
    "ReadRequest",
    "RowResult",
    "SqlType",
    "WriteReport",
    "get_object",
]
