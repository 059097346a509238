"""Connection settings: argument, then environment (ITERABLE_*), then a named profile of the config file.

The config file is TOML with one table per Iterable project:

    [profiles.default]
    api_key = "…"
    region = "us"

    [profiles.eu-store]
    api_key = "…"
    region = "eu"

It lives in the user's config directory (`iterbridge profile path` prints it) and is written with mode
0600 because it holds keys.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from iterbridge.constants import REGION_BASE_URLS
from iterbridge.errors import ConfigurationError

ENV_KEY, ENV_REGION, ENV_BASE_URL, ENV_PROFILE, ENV_CONFIG = (
    "ITERABLE_API_KEY",
    "ITERABLE_REGION",
    "ITERABLE_BASE_URL",
    "ITERBRIDGE_PROFILE",
    "ITERBRIDGE_CONFIG",
)
ENV_INSECURE_HTTP = "ITERBRIDGE_INSECURE_HTTP"
_TRUE = ("1", "true", "yes", "on")


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
    insecure_http: bool = False

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
    insecure_http: bool | None = None,
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
    if insecure_http is None:
        insecure_http = _flag(os.environ.get(ENV_INSECURE_HTTP)) or _flag(chosen.get("insecure_http"))
    return Settings(str(key), region_name, check_base_url(str(url), insecure_http), profile_name, insecure_http)


def _flag(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in _TRUE)


def check_base_url(url: str, insecure_http: bool = False) -> str:
    """The base URL, checked — the one place every connection's URL passes: well formed, https, or plain http
    to this machine (a sandbox). Plain http elsewhere would send the API key unencrypted: refused unless
    `insecure_http` (--insecure-http, ITERBRIDGE_INSECURE_HTTP=1) says so."""
    from urllib.parse import urlsplit

    from iterbridge.api.urls import is_loopback

    shown = re.sub(r"//[^/@]*@", "//…@", url)  # never a password given in the URL
    shown = shown if len(shown) <= 200 else shown[:200] + "…"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — a port out of range or not a number raises here
    except ValueError as error:
        raise ConfigurationError(f"base URL {shown!r} is not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigurationError(f"base URL must start with http:// or https://, not {shown!r}")
    if not parts.hostname or any(c.isspace() or ord(c) < 32 for c in url):
        raise ConfigurationError(f"base URL {shown!r} is not a valid URL: it needs a host and no spaces")
    if parts.username is not None or parts.query or parts.fragment:
        raise ConfigurationError(
            f"base URL {parts.scheme}://{parts.hostname}…: no user, query or fragment (the key goes in a header)"
        )
    if parts.scheme == "http" and not insecure_http and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"base URL {shown!r} is plain http to another machine: the API key would travel unencrypted; "
            f"use https, or pass --insecure-http (or set {ENV_INSECURE_HTTP}=1) if you mean it"
        )
    return url.rstrip("/")


def save_profile(
    name: str,
    *,
    api_key: str,
    region: str = "us",
    base_url: str | None = None,
    path: Path | None = None,
    insecure_http: bool = False,
) -> Path:
    """Add or replace a profile; the file is created (or kept) with mode 0600."""
    if region not in REGION_BASE_URLS:
        raise ConfigurationError(f"region must be us or eu, not {region!r}")
    path = path or config_path()
    profiles = load_profiles(path)
    entry: dict[str, Any] = {"api_key": api_key, "region": region}
    if base_url:
        check_base_url(base_url, insecure_http)  # refused now, not at every later command
        entry["base_url"] = base_url
    if insecure_http:
        entry["insecure_http"] = True
    profiles[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file is tightened before the key is written into it
    with os.fdopen(descriptor, "w") as handle:
        handle.write(_dump(profiles))
    return path


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
