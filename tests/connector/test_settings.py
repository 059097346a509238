"""Settings: argument > environment > profile; regions; the config file (mode 0600); no key in any repr."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iterbridge
from iterbridge.errors import ConfigurationError
from iterbridge.settings import PROFILE_NAME, Settings, config_path, load_profiles, resolve, save_profile

KEY = "settings-key-0c4b2e9d71"
US, EU = "https://api.iterable.com", "https://api.eu.iterable.com"


@pytest.fixture(autouse=True)
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("ITERABLE_API_KEY", "ITERABLE_REGION", "ITERABLE_BASE_URL", "ITERBRIDGE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "conf" / "config.toml"
    monkeypatch.setenv("ITERBRIDGE_CONFIG", str(path))
    return path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_config_file_comes_from_the_environment(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_path() == config
    monkeypatch.delenv("ITERBRIDGE_CONFIG")
    assert config_path().name == "config.toml"
    assert "iterbridge" in str(config_path())


def test_an_argument_is_enough() -> None:
    assert resolve("k-arg") == Settings("k-arg", "us", US, None)


@pytest.mark.parametrize(("region", "url"), [("us", US), ("eu", EU), ("EU", EU)])
def test_regions_map_to_their_base_urls(region: str, url: str) -> None:
    settings = resolve("k", region=region)
    assert settings.base_url == url
    assert settings.region == region.lower()


def test_the_environment_is_used_when_no_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITERABLE_API_KEY", "k-env")
    monkeypatch.setenv("ITERABLE_REGION", "eu")
    assert resolve() == Settings("k-env", "eu", EU, None)
    monkeypatch.setenv("ITERABLE_BASE_URL", "http://127.0.0.1:8765/")
    assert resolve().base_url == "http://127.0.0.1:8765"


def test_a_profile_is_used_when_nothing_else(config: Path) -> None:
    write(config, '[profiles.default]\napi_key = "k-default"\n\n[profiles.store]\napi_key = "k-store"\nregion = "eu"\n')
    assert resolve() == Settings("k-default", "us", US, "default")
    assert resolve(profile="store") == Settings("k-store", "eu", EU, "store")


def test_the_profile_may_come_from_the_environment(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(config, '[profiles.default]\napi_key = "k-default"\n\n[profiles.store]\napi_key = "k-store"\n')
    monkeypatch.setenv("ITERBRIDGE_PROFILE", "store")
    assert resolve().api_key == "k-store"
    assert resolve(profile="default").api_key == "k-default"  # the argument wins


def test_argument_beats_environment_beats_profile(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(config, '[profiles.p]\napi_key = "k-profile"\nregion = "us"\nbase_url = "https://profile.test"\n')
    assert resolve(profile="p") == Settings("k-profile", "us", "https://profile.test", "p")
    monkeypatch.setenv("ITERABLE_API_KEY", "k-env")
    monkeypatch.setenv("ITERABLE_BASE_URL", "https://env.test")
    assert resolve(profile="p") == Settings("k-env", "us", "https://env.test", "p")
    assert resolve("k-arg", profile="p", base_url="https://arg.test") == Settings(
        "k-arg", "us", "https://arg.test", "p"
    )


def test_a_region_given_above_the_profile_replaces_its_base_url(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Region and base URL both say where Iterable is: the higher source of either decides.
    write(config, '[profiles.p]\napi_key = "k"\nbase_url = "https://profile.test"\n')
    assert resolve(profile="p", region="eu").base_url == EU
    monkeypatch.setenv("ITERABLE_REGION", "eu")
    assert resolve(profile="p").base_url == EU
    assert resolve(profile="p", base_url="https://arg.test").base_url == "https://arg.test"
    monkeypatch.setenv("ITERABLE_BASE_URL", "https://env.test")
    assert resolve(profile="p").base_url == "https://env.test"  # same level: the base URL is the more precise


def test_an_unknown_profile_names_the_known_ones(config: Path) -> None:
    write(config, '[profiles.alpha]\napi_key = "k"\n\n[profiles.beta]\napi_key = "k"\n')
    with pytest.raises(ConfigurationError, match=r"no profile 'gamma' .*alpha, beta"):
        resolve(profile="gamma")


def test_an_unknown_profile_without_a_file(config: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no profile 'gamma'.*none"):
        resolve(profile="gamma")


def test_a_missing_key_says_where_a_key_can_come_from() -> None:
    with pytest.raises(ConfigurationError, match="no Iterable API key") as caught:
        resolve()
    assert "ITERABLE_API_KEY" in str(caught.value)
    assert "profile" in str(caught.value)


def test_a_profile_without_a_key_is_a_missing_key(config: Path) -> None:
    write(config, '[profiles.default]\nregion = "eu"\n')
    with pytest.raises(ConfigurationError, match="no Iterable API key"):
        resolve()


@pytest.mark.parametrize("region", ["asia", "", "u s"])
def test_a_bad_region_is_refused(region: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="region must be us or eu"):
        resolve("k", region=region or "nowhere")
    monkeypatch.setenv("ITERABLE_REGION", region or "nowhere")
    with pytest.raises(ConfigurationError, match="region must be us or eu"):
        resolve("k")


def test_a_bad_base_url_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="base URL must start with http"):
        resolve("k", base_url="api.iterable.com")


@pytest.mark.parametrize(
    "text", ["[profiles.default\napi_key = 1", 'profiles = "x"\n', '[profiles]\ndefault = "not a table"\n']
)
def test_a_broken_config_file_is_a_configuration_error(config: Path, text: str) -> None:
    write(config, text)
    with pytest.raises(ConfigurationError, match=str(config.name)):
        resolve()  # the key could only come from the file
    with pytest.raises(ConfigurationError, match=str(config.name)):
        resolve("k", profile="default")


def test_save_profile_writes_mode_0600_and_round_trips(config: Path) -> None:
    path = save_profile("default", api_key=KEY)
    assert path == config
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    save_profile("eu-store", api_key='k"with\\quotes', region="eu", base_url="http://127.0.0.1:9/")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert load_profiles() == {
        "default": {"api_key": KEY, "region": "us"},
        "eu-store": {"api_key": 'k"with\\quotes', "region": "eu", "base_url": "http://127.0.0.1:9/"},
    }
    assert resolve(profile="eu-store") == Settings('k"with\\quotes', "eu", "http://127.0.0.1:9", "eu-store")
    save_profile("default", api_key="replaced")
    assert resolve().api_key == "replaced"
    assert set(load_profiles()) == {"default", "eu-store"}


def test_save_profile_tightens_an_existing_file(config: Path) -> None:
    write(config, "")
    config.chmod(0o644)
    save_profile("default", api_key=KEY)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_save_profile_refuses_a_bad_region() -> None:
    with pytest.raises(ConfigurationError, match="region must be us or eu"):
        save_profile("x", api_key=KEY, region="mars")


def test_no_repr_shows_the_key() -> None:
    settings = resolve(KEY)
    assert KEY not in repr(settings)
    assert KEY not in str(settings)
    assert "<redacted>" in repr(settings)
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json={}))
    with iterbridge.connect(KEY, transport=transport) as conn:
        assert KEY not in repr(conn)
        assert KEY not in repr(conn.client)
        assert KEY not in repr(conn.settings)
        assert US in repr(conn)


def test_connect_uses_the_same_precedence(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_profile("default", api_key="k-profile", region="eu")
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"channels": []})

    transport = httpx2.MockTransport(handler)
    with iterbridge.connect(transport=transport, rate_limit_factor=None) as conn:
        list(conn.read("Channels"))
    monkeypatch.setenv("ITERABLE_API_KEY", "k-env")
    with iterbridge.connect(transport=transport, rate_limit_factor=None) as conn:
        list(conn.read("Channels"))
    with iterbridge.connect("k-arg", region="us", transport=transport, rate_limit_factor=None) as conn:
        list(conn.read("Channels"))
    assert [(r.headers["Api-Key"], r.url.host) for r in seen] == [
        ("k-profile", "api.eu.iterable.com"),
        ("k-env", "api.eu.iterable.com"),
        ("k-arg", "api.iterable.com"),
    ]


# ---- a saved file always reads back; a broken one blocks only what needs it -----------------------------

# Any text a key or URL may hold after validation, and the characters that broke the hand-made writer.
_tricky = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.from_regex(PROFILE_NAME, fullmatch=True), key=_tricky, path=_tricky)
def test_every_saved_profile_reads_back(config: Path, name: str, key: str, path: str) -> None:
    url = "https://h.test/" + path.replace("?", "").replace("#", "")
    save_profile(name, api_key=key, region="eu", base_url=url)
    assert load_profiles()[name] == {"api_key": key, "region": "eu", "base_url": url}


@pytest.mark.parametrize(
    ("name", "key", "url", "message"),
    [
        ("café", KEY, None, "profile name 'café'"),
        ("a b", KEY, None, "profile name"),
        ("", KEY, None, "profile name"),
        ("ok", "k\nwith a line break", None, "API key has a space, a line break"),
        ("ok", "", None, "API key is empty"),
        ("ok", "ké", None, "API key has"),
        ("ok", KEY, "http://h.test/\nx", "base URL"),
        ("ok", KEY, "http://[::1", "is not a valid URL"),
        ("ok", KEY, "ftp://h.test", "must start with http"),
        ("ok", KEY, "http://h.test:99999", "is not a valid URL"),
        ("ok", KEY, "https://", "needs a host"),
    ],
)
def test_save_profile_refuses_what_it_could_not_use(config: Path, name: str, key: str, url: str | None,
                                                    message: str) -> None:  # fmt: skip
    save_profile("kept", api_key=KEY)
    before = config.read_bytes()
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        save_profile(name, api_key=key, base_url=url)
    assert config.read_bytes() == before


def test_a_broken_file_does_not_block_settings_from_the_environment(
    config: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write(config, '[profiles.default]\napi_key = "k"\n[profiles."caf\n')
    assert resolve("k-arg", base_url="http://127.0.0.1:9") == Settings("k-arg", "us", "http://127.0.0.1:9", None)
    assert caplog.records == []  # nothing left for the file to say: not even read
    monkeypatch.setenv("ITERABLE_API_KEY", "k-env")
    assert resolve() == Settings("k-env", "us", US, None)  # the file could only have told the region
    assert f"cannot read the config file {config}" in caplog.text
    with pytest.raises(ConfigurationError, match=rf"cannot read the config file {re.escape(str(config))}: .*line 3"):
        resolve(profile="default")  # a profile asked for by name needs the file


def test_a_broken_file_is_an_error_when_the_key_must_come_from_it(config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_bytes(b'[profiles.default]\napi_key = "\xff"\n')
    with pytest.raises(ConfigurationError, match=rf"cannot read the config file {re.escape(str(config))}: .*utf-8"):
        resolve()
    write(config, "[profiles.default]\napi_key = [\n")
    with pytest.raises(ConfigurationError, match=r"\(line 3\)"):  # "at end of document" gets its line
        resolve()
