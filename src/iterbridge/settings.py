"""Connection settings: argument, then environment (ITERABLE_*), then a named profile of the config file.

The config file is TOML with one table per Iterable project:

    [profiles.default]
    api_key = "…"
    region = "us"

    [profiles.eu-store]
    api_key = "…"
    region = "eu"
    rate_limits = "real"                  # the server's pace: real, off or xN (a sandbox's --rate-limits)
    suppress_extended_requests = true     # Templates' extended columns read NULL, never one GET per template

It lives in the user's config directory (`iterbridge profile path` prints it) and is written with mode
0600 because it holds keys.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from iterbridge.constants import REGION_BASE_URLS
from iterbridge.errors import ConfigurationError
from iterbridge.limits import describe_rate_limits, parse_rate_limits

ENV_KEY, ENV_REGION, ENV_BASE_URL, ENV_PROFILE, ENV_CONFIG = (
    "ITERABLE_API_KEY",
    "ITERABLE_REGION",
    "ITERABLE_BASE_URL",
    "ITERBRIDGE_PROFILE",
    "ITERBRIDGE_CONFIG",
)
# How the connection behaves (not where Iterable is): ITERBRIDGE_*, like the profile and the config file.
ENV_RATE_LIMITS, ENV_SUPPRESS_EXTENDED = "ITERBRIDGE_RATE_LIMITS", "ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def config_path() -> Path:
    override = os.environ.get(ENV_CONFIG)
    if override:
        return Path(override)
    return platformdirs.user_config_path("iterbridge") / "config.toml"


@dataclass(frozen=True)
class Settings:
    api_key: str
    region: str
    base_url: str
    profile: str | None
    rate_limit_factor: float | None = 1.0  # the pace planned for: 1.0 Iterable's limits, None none, N faster
    suppress_extended_requests: bool = False

    def __repr__(self) -> str:
        shown = f"region={self.region!r}, base_url={self.base_url!r}, profile={self.profile!r}"
        return f"Settings({shown}, api_key=<redacted>)"


def load_profiles(path: Path | None = None) -> dict[str, dict[str, Any]]:
    path = path or config_path()
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"cannot read the config file {path}: {error}") from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(entry, dict) for entry in profiles.values()):
        raise ConfigurationError(f"{path}: [profiles] must be a table of tables, like [profiles.default]")
    return profiles


def resolve(
    api_key: str | None = None,
    *,
    region: str | None = None,
    base_url: str | None = None,
    profile: str | None = None,
    config: Path | None = None,
    rate_limits: str | None = None,
    suppress_extended_requests: bool | None = None,
) -> Settings:
    """Each setting from the argument if given, else the environment, else the profile."""
    profile_name = profile or os.environ.get(ENV_PROFILE)
    profiles = load_profiles(config)
    chosen: dict[str, Any] = {}
    if profile_name is not None:
        if profile_name not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise ConfigurationError(f"no profile {profile_name!r} in {config or config_path()} (profiles: {known})")
        chosen = profiles[profile_name]
    elif "default" in profiles:
        profile_name, chosen = "default", profiles["default"]
    key = api_key or os.environ.get(ENV_KEY) or chosen.get("api_key")
    if not key:
        raise ConfigurationError(
            f"no Iterable API key: pass api_key, set {ENV_KEY}, or add a profile with `iterbridge profile save`"
        )
    region_name = str(region or os.environ.get(ENV_REGION) or chosen.get("region") or "us").lower()
    if region_name not in REGION_BASE_URLS:
        raise ConfigurationError(f"region must be us or eu, not {region_name!r}")
    # Region and base URL both say where Iterable is: the highest source giving either decides (at one
    # level, the base URL is the more precise).
    url = REGION_BASE_URLS[region_name]
    for level_url, level_region in (
        (base_url, region),
        (os.environ.get(ENV_BASE_URL), os.environ.get(ENV_REGION)),
        (chosen.get("base_url"), chosen.get("region")),
    ):
        if level_url or level_region:
            url = level_url or REGION_BASE_URLS[region_name]
            break
    if not str(url).startswith(("http://", "https://")):
        raise ConfigurationError(f"base URL must start with http:// or https://, not {url!r}")
    return Settings(
        str(key),
        region_name,
        str(url).rstrip("/"),
        profile_name,
        _rate_limits(rate_limits, chosen, profile_name),
        _suppress(suppress_extended_requests, chosen, profile_name),
    )


def _rate_limits(given: str | None, chosen: dict[str, Any], profile: str | None) -> float | None:
    """The pace to plan for: the argument, else ITERBRIDGE_RATE_LIMITS, else the profile's, else real."""
    for text, where in (
        (given, "rate limits"),
        (os.environ.get(ENV_RATE_LIMITS), ENV_RATE_LIMITS),
        (chosen.get("rate_limits"), f"profile {profile!r}: rate_limits"),
    ):
        if text is not None and str(text).strip():
            try:
                return parse_rate_limits(str(text))
            except ValueError as error:
                raise ConfigurationError(f"{where}: {error}") from None
    return 1.0


def _suppress(given: bool | None, chosen: dict[str, Any], profile: str | None) -> bool:
    """Suppress Extended Requests: the argument, else ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS, else the profile's."""
    if given is not None:
        return given
    for value, where in (
        (os.environ.get(ENV_SUPPRESS_EXTENDED), ENV_SUPPRESS_EXTENDED),
        (chosen.get("suppress_extended_requests"), f"profile {profile!r}: suppress_extended_requests"),
    ):
        if isinstance(value, bool):
            return value
        text = "" if value is None else str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        if text:
            raise ConfigurationError(f"{where} must be true or false (1/0, yes/no), not {value!r}")
    return False


def save_profile(
    name: str,
    *,
    api_key: str,
    region: str = "us",
    base_url: str | None = None,
    path: Path | None = None,
    rate_limits: str | None = None,
    suppress_extended_requests: bool | None = None,
) -> Path:
    """Add or replace a profile; the file is created (or kept) with mode 0600."""
    if region not in REGION_BASE_URLS:
        raise ConfigurationError(f"region must be us or eu, not {region!r}")
    path = path or config_path()
    profiles = load_profiles(path)
    entry: dict[str, Any] = {"api_key": api_key, "region": region}
    if base_url:
        entry["base_url"] = base_url
    if rate_limits is not None:
        entry["rate_limits"] = _profile_rate_limits(rate_limits)
    if suppress_extended_requests is not None:
        entry["suppress_extended_requests"] = suppress_extended_requests
    profiles[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file is tightened before the key is written into it
    with os.fdopen(descriptor, "w") as handle:
        handle.write(_dump(profiles))
    return path


def _profile_rate_limits(text: str) -> str:
    """The rate limits as a profile keeps them (checked now, not at the next command)."""
    try:
        return describe_rate_limits(parse_rate_limits(text))
    except ValueError as error:
        raise ConfigurationError(str(error)) from None


def _dump(profiles: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, entry in profiles.items():
        lines.append(f"[profiles.{_toml_key(name)}]")
        for key, value in entry.items():
            lines.append(f"{key} = {_toml_string(str(value))}")
        lines.append("")
    return "\n".join(lines)


def _toml_key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else _toml_string(name)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
