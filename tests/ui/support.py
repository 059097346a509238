"""Helpers of the web console's tests."""

from __future__ import annotations

import time
from typing import Any

HOST = "127.0.0.1:8000"  # the Host the TestClient sends, as the console's loopback address would be

# A Users update with two bad rows: one Iterable refuses (not an email), one with neither key.
BAD_ROWS_CSV = "Email,UserId\nok1@example.com,u1\nnot-an-email,u2\nok2@example.com,u3\n,\n"


def wait_for_job(client: Any, job_id: int, timeout_s: float = 60.0) -> dict[str, Any]:
    """Poll a job as the page does, until it has ended."""
    deadline = time.monotonic() + timeout_s
    while True:
        view: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if view["state"] != "running" or time.monotonic() > deadline:
            return view
        time.sleep(0.1)
