"""A faithful local simulator of the Iterable REST API, for tests, demos and trying iterbridge without an
account.

    from iterbridge.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(seed=7, scale="small")) as sandbox:
        ...  # sandbox.url, sandbox.api_key

`create_app(config)` gives the ASGI app for in-process use (httpx2's ASGITransport). The sandbox imports
nothing from the connector: it shares only the constants in `iterbridge.limits` and `iterbridge.constants`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from iterbridge.sandbox.config import SCALES, ConfigError, SandboxConfig, parse_rate_limits
from iterbridge.sandbox.faults import FaultError, Faults

if TYPE_CHECKING:
    from iterbridge.sandbox.app import create_app
    from iterbridge.sandbox.server import Sandbox

# Imported when first used: the app and its server (Starlette, uvicorn, the generated world) are most of the
# CLI's start-up, and only a command that runs a sandbox needs them.
_LAZY = {"create_app": "iterbridge.sandbox.app", "Sandbox": "iterbridge.sandbox.server"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'iterbridge.sandbox' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "SCALES",
    "ConfigError",
    "FaultError",
    "Faults",
    "Sandbox",
    "SandboxConfig",
    "create_app",
    "parse_rate_limits",
]
