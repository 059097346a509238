"""A JSON request body byte for byte as the HTTP client sends it (httpx2's encoding: compact separators, UTF-8
unescaped), so a bulk request can be measured against Iterable's body limit before it is sent."""

from __future__ import annotations

import json
from typing import Any


def json_body(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
