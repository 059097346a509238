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
0600 because it holds keys. It is written by a TOML writer (tomli-w) and read back before it replaces the old
one, so `profile save` never leaves a file it cannot read; and it is read only when a setting must come from
it, so a broken file never blocks a command whose key comes from the arguments or the environment.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs
import tomli_w

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
ENV_INSECURE_HTTP = "ITERBRIDGE_INSECURE_HTTP"
ENV_RATE_LIMITS, ENV_SUPPRESS_EXTENDED = "ITERBRIDGE_RATE_LIMITS", "ITERBRIDGE_SUPPRESS_EXTENDED_REQUESTS"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

log = logging.getLogger("iterbridge")

# Profile names are typed after --profile and are bare TOML keys: ASCII letters, digits, '-' and '_'.
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# Printable ASCII without spaces: what an API key (an HTTP header) and a base URL may hold; a pasted line break
# or space is a mistake, not part of the value.
PRINTABLE = re.compile(r"[!-~]+")


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
    rate_limit_factor: float | None = 1.0  # the pace planned for: 1.0 Iterable's limits, None none, N faster
    suppress_extended_requests: bool = False

    def __repr__(self) -> str:
        shown = f"region={self.region!r}, base_url={self.base_url!r}, profile={self.profile!r}"
        return f"Settings({shown}, api_key=<redacted>)"


def load_profiles(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The profiles of the config file ({} when there is none); a file that cannot be read is one
    ConfigurationError naming the file and, for bad TOML, the line."""
    path = path or config_path()
    if not path.exists():
        return {}
    try:
        text = path.read_bytes().decode()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"cannot read the config file {path}: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        where = "" if "line" in str(error) else f" (line {text.count(chr(10)) + 1})"  # "at end of document"
        raise ConfigurationError(f"cannot read the config file {path}: {error}{where}") from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(entry, dict) for entry in profiles.values()):
        raise ConfigurationError(f"{path}: [profiles] must be a table of tables, like [profiles.default]")
    return profiles


def _default_profile(config: Path | None, needed: bool) -> dict[str, Any] | None:
    """The `default` profile, if any. When the key comes from elsewhere it only fills the region and base
    URL, so a broken file is then a warning, not an error: the command still runs on its own settings."""
    try:
        return load_profiles(config).get("default")
    except ConfigurationError as error:
        if needed:
            raise
        log.warning("warning: %s; ignored (the API key comes from the arguments or the environment)", error)
        return None


def resolve(
    api_key: str | None = None,
    *,
    region: str | None = None,
    base_url: str | None = None,
    profile: str | None = None,
    config: Path | None = None,
    insecure_http: bool | None = None,
    rate_limits: str | None = None,
    suppress_extended_requests: bool | None = None,
) -> Settings:
    """Each setting from the argument if given, else the environment, else the profile."""
    profile_name = profile or os.environ.get(ENV_PROFILE)
    given_key = api_key or os.environ.get(ENV_KEY)
    chosen: dict[str, Any] = {}
    if profile_name is not None:  # a profile asked for by name: the file must be readable
        profiles = load_profiles(config)
        if profile_name not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise ConfigurationError(f"no profile {profile_name!r} in {config or config_path()} (profiles: {known})")
        chosen = profiles[profile_name]
    elif not (given_key and any((region, base_url, os.environ.get(ENV_REGION), os.environ.get(ENV_BASE_URL)))):
        # The default profile fills what the arguments and environment leave out (nothing is left: not read).
        default = _default_profile(config, needed=not given_key)
        if default is not None:
            profile_name, chosen = "default", default
    key = given_key or chosen.get("api_key")
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
    insecure_http = _switch(insecure_http, ENV_INSECURE_HTTP, chosen, "insecure_http", profile_name)
    return Settings(
        str(key),
        region_name,
        check_base_url(str(url), insecure_http),
        profile_name,
        insecure_http=insecure_http,
        rate_limit_factor=_rate_limits(rate_limits, chosen, profile_name),
        suppress_extended_requests=_switch(
            suppress_extended_requests, ENV_SUPPRESS_EXTENDED, chosen, "suppress_extended_requests", profile_name
        ),
    )


def check_base_url(url: str, insecure_http: bool = False) -> str:
    """The base URL, checked — the one place every connection's URL passes: well formed, https, or plain http
    to this machine (a sandbox). Plain http elsewhere would send the API key unencrypted: refused unless
    `insecure_http` (--insecure-http, ITERBRIDGE_INSECURE_HTTP=1) says so."""

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
    if not parts.hostname or not PRINTABLE.fullmatch(url):
        raise ConfigurationError(
            f"base URL {shown!r} is not a valid URL: it needs a host, and no spaces, line breaks or non-ASCII"
        )
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


def _switch(given: bool | None, env: str, chosen: dict[str, Any], key: str, profile: str | None) -> bool:
    """An on/off setting: the argument, else the environment variable `env`, else the profile's `key`, else off.
    Text that is neither true nor false (1/0, yes/no, on/off) is refused, never read as off."""
    if given is not None:
        return given
    for value, where in ((os.environ.get(env), env), (chosen.get(key), f"profile {profile!r}: {key}")):
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
    insecure_http: bool = False,
    rate_limits: str | None = None,
    suppress_extended_requests: bool | None = None,
) -> Path:
    """Add or replace a profile; the file is created (or kept) with mode 0600. Every value is checked first,
    and the new text is read back before it is written, so a saved file always loads."""
    check_profile_name(name)
    check_api_key(api_key)
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
    if rate_limits is not None:
        entry["rate_limits"] = _profile_rate_limits(rate_limits)
    if suppress_extended_requests is not None:
        entry["suppress_extended_requests"] = suppress_extended_requests
    profiles[name] = entry
    text = tomli_w.dumps({"profiles": profiles})
    if tomllib.loads(text) != {"profiles": profiles}:  # cannot happen with a correct writer: never write it
        raise ConfigurationError(f"profile {name!r} would not read back from {path}; nothing was written")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # an existing file is tightened before the key is written into it
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise ConfigurationError(f"cannot write the config file {path}: {error.strerror or error}") from None
    return path


def check_profile_name(name: str) -> str:
    if not PROFILE_NAME.fullmatch(name):
        raise ConfigurationError(
            f"profile name {name!r}: use 1 to 64 ASCII letters, digits, '-' or '_' (starting with a letter or digit)"
        )
    return name


def _profile_rate_limits(text: str) -> str:
    """The rate limits as a profile keeps them (checked now, not at the next command)."""
    try:
        return describe_rate_limits(parse_rate_limits(text))
    except ValueError as error:
        raise ConfigurationError(str(error)) from None


def check_api_key(key: str) -> str:
    if not PRINTABLE.fullmatch(key):
        what = "is empty" if not key else "has a space, a line break or a character that is not printable ASCII"
        raise ConfigurationError(f"the API key {what}: it travels in an HTTP header (was it pasted whole?)")
    return key
