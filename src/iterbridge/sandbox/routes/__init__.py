"""The API surface, one module per Iterable resource."""

from __future__ import annotations

from iterbridge.sandbox.routes import (
    campaigns,
    catalogs,
    events,
    export,
    inapp,
    lists,
    messaging,
    metadata,
    misc,
    templates,
    users,
)

ROUTE_MODULES = (
    campaigns,
    catalogs,
    events,
    export,
    inapp,
    lists,
    messaging,
    metadata,
    misc,
    templates,
    users,
)
