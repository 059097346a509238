"""A faithful local simulator of the Iterable REST API, for tests, demos and trying iterbridge without an
account.

    from iterbridge.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(seed=7, scale="small")) as sandbox:
        ...  # sandbox.url, sandbox.api_key

`create_app(config)` gives the ASGI app for in-process use (httpx2's ASGITransport). The sandbox imports
nothing from the connector: it shares only the constants in `iterbridge.limits` and `iterbridge.constants`.
"""

from __future__ import annotations

from iterbridge.sandbox.app import create_app
from iterbridge.sandbox.config import SCALES, ConfigError, SandboxConfig, parse_rate_limits
from iterbridge.sandbox.faults import FaultError, Faults
from iterbridge.sandbox.server import Sandbox

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
