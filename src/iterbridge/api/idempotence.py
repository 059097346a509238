"""Which requests are safe to send twice — the client retries only those after an ambiguous failure.

A timeout or a dropped connection after a request was sent does not say whether Iterable processed it. For
a read, a delete or an upsert keyed by an id, sending it again leaves the same state. For a create with no
key (a list, a campaign, a catalog, an in-app message, events without an id, a campaign trigger) a second
send may make a duplicate — or send messages twice — so such a request is retried only when the failure
proves it was not processed (see `client.not_processed`), and otherwise its rows are reported as of
unknown outcome. Decided per endpoint from Iterable's documented semantics; a POST not listed here is taken as unsafe.
"""

from __future__ import annotations

# POSTs that are upserts or deletes keyed by an id: the same request twice leaves the same state.
SAFE_POSTS = frozenset(
    {
        "POST /api/users/update",  # merge into the user keyed by email / userId
        "POST /api/users/bulkUpdate",
        "POST /api/users/updateSubscriptions",
        "POST /api/users/bulkUpdateSubscriptions",
        "POST /api/catalogs/{catalogName}/items",  # documents keyed by item id
        "POST /api/lists/subscribe",  # membership is a set
        "POST /api/lists/unsubscribe",
        "POST /api/templates/{medium}/upsert",  # keyed by clientTemplateId
        "POST /api/templates/{medium}/update",  # keyed by templateId
        "POST /api/templates/bulkDelete",
        "POST /api/export/start",  # a read: a second job costs quota, not data
    }
)

# Methods whose meaning is "the same state however often" (RFC 9110 §9.2.2).
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def safe_to_repeat(endpoint: str) -> bool:
    """Whether a route template ("POST /api/lists") may be sent again after an ambiguous failure.

    A call can override it (events are safe when every one carries an id: Iterable then replaces)."""
    method = endpoint.split(" ", 1)[0]
    return method in _IDEMPOTENT_METHODS or endpoint in SAFE_POSTS
