"""What a sandbox is asked to be: which project, how big, which key, which limits, which faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from iterbridge import limits
from iterbridge.sandbox.faults import Faults


@dataclass(frozen=True)
class Scale:
    """How big the generated project is. Users and events are generated on demand, never all held."""

    name: str
    users: int
    events: int  # over the history window, roughly
    lists: int
    campaigns: int
    base_templates: int
    catalog_items: int
    history_days: int = 180


SCALES = {
    # A brand-new project: default channels and message types, no data (a target for imports).
    "empty": Scale("empty", users=0, events=0, lists=0, campaigns=0, base_templates=0, catalog_items=0),
    "tiny": Scale("tiny", users=40, events=600, lists=6, campaigns=22, base_templates=8, catalog_items=25),
    "small": Scale("small", users=1_000, events=30_000, lists=12, campaigns=45, base_templates=16, catalog_items=500),
    "medium": Scale(
        "medium",
        users=100_000,
        events=1_000_000,
        lists=25,
        campaigns=120,
        base_templates=30,
        catalog_items=20_000,
    ),
    "large": Scale(
        "large",
        users=1_000_000,
        events=10_000_000,
        lists=40,
        campaigns=250,
        base_templates=50,
        catalog_items=100_000,
    ),
}

DEFAULT_API_KEY = "sandbox-api-key"
DEFAULT_READ_ONLY_KEY = "sandbox-read-only-key"


class ConfigError(ValueError):
    """A sandbox option that cannot be understood; the message names the option."""


MAX_PORT = 65535


def check_port(port: int) -> int:
    """A TCP port (0: any free one); the OS would silently take a larger one modulo 65536 (99999 → 34463)."""
    if not 0 <= port <= MAX_PORT:
        raise ConfigError(f"--port must be between 0 and {MAX_PORT} (0: any free port), not {port}")
    return port


def parse_rate_limits(text: str) -> float | None:
    """ "real" → 1.0, "off" → None, "x10" → 10.0 (the shared spelling of iterbridge.limits)."""
    try:
        return limits.parse_rate_limits(text)
    except ValueError:
        raise ConfigError(
            f"--rate-limits must be real, off or xN with N > 0 (e.g. x10), not {text.strip()!r}"
        ) from None


def start_of_today() -> datetime:
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class SandboxConfig:
    """A sandbox project. Same seed, scale and anchor → byte-identical responses for the same requests.

    `anchor` is the end of the generated history (default: the start of today, UTC); history runs
    `scale.history_days` back from it, and events keep arriving after it as the clock moves on.
    `clock` returns epoch milliseconds; tests freeze it.
    """

    seed: int = 42
    scale: str = "tiny"
    api_key: str = DEFAULT_API_KEY
    read_only_api_key: str | None = DEFAULT_READ_ONLY_KEY
    rate_limit_factor: float | None = None  # None: limits off; 1.0: Iterable's real limits
    region: str = "us"
    anchor: datetime = field(default_factory=start_of_today)
    clock: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    faults: Faults = field(default_factory=Faults)
    export_file_max_bytes: int = 10 * 1024 * 1024
    export_file_url_ttl_s: float = 1800.0

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ConfigError(f"--scale must be one of {', '.join(SCALES)}, not {self.scale!r}")
        if self.region not in ("us", "eu"):
            raise ConfigError(f"--region must be us or eu, not {self.region!r}")
        if not self.api_key:
            raise ConfigError("--api-key must not be empty")
        if self.anchor.tzinfo is None:
            self.anchor = self.anchor.replace(tzinfo=UTC)

    @property
    def size(self) -> Scale:
        return SCALES[self.scale]

    @property
    def anchor_ms(self) -> int:
        return int(self.anchor.timestamp() * 1000)

    @property
    def project_id(self) -> int:
        return 1000 + (self.seed * 7919) % 9000

    def describe(self) -> dict[str, Any]:
        """The settings worth printing (never the key itself)."""
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name in ("seed", "scale", "region")}
        shown["rate_limits"] = "off" if self.rate_limit_factor is None else f"x{self.rate_limit_factor:g}"
        shown["anchor"] = self.anchor.isoformat()
        return shown
