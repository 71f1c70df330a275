from __future__ import annotations

import dataclasses
import tomllib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locallama_gui.core.settings import (
    DEFAULT_EXTRA_SERVER_URLS,
    FREE_PREFERENCES,
    PRIORITIES,
    THEMES,
    AppearanceSettings,
    EndpointSettings,
    RefreshSettings,
    RoutingSettings,
    Settings,
    SettingsError,
    dumps_toml,
    loads_toml,
    settings_from_dict,
    settings_to_dict,
)

# --------------------------------------------------------------------------- strategies

hosts = st.sampled_from(["127.0.0.1", "localhost", "example.com", "gpu-box.lan", "[::1]"])
urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https"]),
    hosts,
    st.sampled_from(["", ":8080", ":11434", ":1"]),
    st.sampled_from(["", "/v1", "/api/v1"]),
)
money = st.decimals(min_value=0, max_value=10_000, places=4, allow_nan=False).map(
    lambda d: Decimal(str(d))
)

settings_strategy = st.builds(
    Settings,
    endpoints=st.builds(
        EndpointSettings,
        openrouter_url=urls,
        ollama_url=urls,
        lmstudio_url=urls,
        extra_server_urls=st.lists(urls, max_size=4).map(tuple),
        openrouter_enabled=st.booleans(),
        ollama_enabled=st.booleans(),
        lmstudio_enabled=st.booleans(),
        extra_servers_enabled=st.booleans(),
    ),
    routing=st.builds(
        RoutingSettings,
        free_preference=st.sampled_from(FREE_PREFERENCES),
        priority=st.sampled_from(PRIORITIES),
        allow_paid=st.booleans(),
        local_only=st.booleans(),
        budget_usd=st.none() | money,
        quality_floor=st.none() | st.floats(min_value=0, max_value=1),
        fallback_depth=st.integers(1, 10),
        credits_purchased=st.none() | st.booleans(),
    ),
    refresh=st.builds(RefreshSettings, interval_minutes=st.integers(0, 10_080)),
    appearance=st.builds(AppearanceSettings, theme=st.sampled_from(THEMES)),
)


# --------------------------------------------------------------------------- defaults


def test_defaults() -> None:
    s = settings_from_dict({})
    assert s == Settings()
    assert s.endpoints.openrouter_url == "https://openrouter.ai/api/v1"
    assert s.endpoints.ollama_url == "http://127.0.0.1:11434"
    assert s.endpoints.lmstudio_url == "http://127.0.0.1:1234"
    assert s.endpoints.extra_server_urls == (
        "http://127.0.0.1:8080",
        "http://127.0.0.1:9931",
        "http://127.0.0.1:8000",
    )
    assert s.routing.free_preference == "prefer"
    assert s.routing.priority == "balanced"
    assert s.routing.fallback_depth == 4
    assert s.routing.budget_usd is None
    assert s.routing.credits_purchased is None
    assert s.refresh.interval_minutes == 60
    assert s.appearance.theme == "system"


def test_missing_keys_in_a_section_take_defaults() -> None:
    s = settings_from_dict({"routing": {"priority": "speed"}})
    assert s.routing == RoutingSettings(priority="speed")
    assert s.endpoints == EndpointSettings()


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.routing.fallback_depth = 9  # type: ignore[misc]


def test_free_daily_cap_follows_credits() -> None:
    assert RoutingSettings(credits_purchased=None).free_daily_cap == 50
    assert RoutingSettings(credits_purchased=False).free_daily_cap == 50
    assert RoutingSettings(credits_purchased=True).free_daily_cap == 1000


# --------------------------------------------------------------------------- round trips


@given(settings_strategy)
def test_dict_round_trip(s: Settings) -> None:
    assert settings_from_dict(settings_to_dict(s)) == s


@given(settings_strategy)
def test_toml_round_trip(s: Settings) -> None:
    text = dumps_toml(settings_to_dict(s))
    assert settings_from_dict(loads_toml(text)) == s
    # The writer's output is valid TOML for the standard parser too.
    tomllib.loads(text)


def test_to_dict_is_plain_values() -> None:
    s = Settings(routing=RoutingSettings(budget_usd=Decimal("0.05")))
    d = settings_to_dict(s)
    assert d["routing"]["budget_usd"] == "0.05"
    assert d["endpoints"]["extra_server_urls"] == list(DEFAULT_EXTRA_SERVER_URLS)


def test_decimal_budget_survives_toml_exactly() -> None:
    s = Settings(routing=RoutingSettings(budget_usd=Decimal("0.000123456789012345678901")))
    text = dumps_toml(settings_to_dict(s))
    assert 'budget_usd = "0.000123456789012345678901"' in text
    assert settings_from_dict(loads_toml(text)).routing.budget_usd == Decimal(
        "0.000123456789012345678901"
    )


def test_none_values_are_omitted_from_toml() -> None:
    text = dumps_toml(settings_to_dict(Settings()))
    assert "budget_usd" not in text
    assert "credits_purchased" not in text
    assert settings_from_dict(loads_toml(text)) == Settings()


toml_keys = st.text(min_size=1, max_size=8)
toml_scalars = (
    st.text(max_size=12)
    | st.integers(-(2**63), 2**63 - 1)
    | st.booleans()
    | st.floats(allow_nan=False)
)
toml_values = toml_scalars | st.lists(st.text(max_size=8), max_size=4)
toml_tables = st.recursive(
    st.dictionaries(toml_keys, toml_values, max_size=4),
    lambda children: st.dictionaries(toml_keys, toml_values | children, max_size=4),
    max_leaves=12,
)


@given(toml_tables)
def test_toml_writer_round_trips_any_supported_table(data: dict) -> None:
    assert tomllib.loads(dumps_toml(data)) == data


def test_toml_writer_escapes() -> None:
    data = {"a b": {"q": 'say "hi"\\ \n\t\x01 é'}}
    assert tomllib.loads(dumps_toml(data)) == data


def test_toml_writer_refuses_unsupported_types() -> None:
    with pytest.raises(TypeError):
        dumps_toml({"x": object()})


def test_loads_toml_syntax_error_is_settings_error() -> None:
    with pytest.raises(SettingsError, match="not valid TOML"):
        loads_toml("[routing\npriority = ")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"endpoints": {"openrouter_url": "ftp://openrouter.ai"}}, "endpoints.openrouter_url"),
        ({"endpoints": {"ollama_url": "http://"}}, "endpoints.ollama_url"),
        ({"endpoints": {"ollama_url": "127.0.0.1:11434"}}, "endpoints.ollama_url"),
        ({"endpoints": {"lmstudio_url": 1234}}, "endpoints.lmstudio_url"),
        ({"endpoints": {"lmstudio_url": "http://host:99999"}}, "endpoints.lmstudio_url"),
        ({"endpoints": {"lmstudio_url": "http://host/x?y=1"}}, "endpoints.lmstudio_url"),
        ({"endpoints": {"extra_server_urls": "http://a:1"}}, "endpoints.extra_server_urls"),
        (
            {"endpoints": {"extra_server_urls": ["http://a:1", "nope"]}},
            "endpoints.extra_server_urls[1]",
        ),
        ({"endpoints": {"ollama_enabled": "yes"}}, "endpoints.ollama_enabled"),
        ({"endpoints": {"openrouter_enabled": 1}}, "endpoints.openrouter_enabled"),
        ({"routing": {"free_preference": "always"}}, "routing.free_preference"),
        ({"routing": {"priority": "cheap"}}, "routing.priority"),
        ({"routing": {"allow_paid": "true"}}, "routing.allow_paid"),
        ({"routing": {"local_only": 0}}, "routing.local_only"),
        ({"routing": {"budget_usd": "-1"}}, "routing.budget_usd"),
        ({"routing": {"budget_usd": "lots"}}, "routing.budget_usd"),
        ({"routing": {"budget_usd": "NaN"}}, "routing.budget_usd"),
        ({"routing": {"budget_usd": True}}, "routing.budget_usd"),
        ({"routing": {"quality_floor": 1.5}}, "routing.quality_floor"),
        ({"routing": {"quality_floor": -0.1}}, "routing.quality_floor"),
        ({"routing": {"quality_floor": "high"}}, "routing.quality_floor"),
        ({"routing": {"quality_floor": float("nan")}}, "routing.quality_floor"),
        ({"routing": {"fallback_depth": 0}}, "routing.fallback_depth"),
        ({"routing": {"fallback_depth": 11}}, "routing.fallback_depth"),
        ({"routing": {"fallback_depth": 2.0}}, "routing.fallback_depth"),
        ({"routing": {"fallback_depth": True}}, "routing.fallback_depth"),
        ({"routing": {"credits_purchased": "no"}}, "routing.credits_purchased"),
        ({"refresh": {"interval_minutes": -5}}, "refresh.interval_minutes"),
        ({"refresh": {"interval_minutes": 10**9}}, "refresh.interval_minutes"),
        ({"refresh": {"interval_minutes": "hourly"}}, "refresh.interval_minutes"),
        ({"appearance": {"theme": "blue"}}, "appearance.theme"),
        ({"routing": {"colour": "red"}}, "routing.colour"),
        ({"plugins": {}}, "plugins"),
        ({"routing": "fast"}, "routing"),
    ],
)
def test_every_error_names_its_key(data: dict, key: str) -> None:
    with pytest.raises(SettingsError) as info:
        settings_from_dict(data)
    assert str(info.value).startswith(f"{key}: ")
    assert info.value.key == key


def test_error_message_shape() -> None:
    with pytest.raises(SettingsError) as info:
        settings_from_dict({"routing": {"fallback_depth": "x"}})
    assert str(info.value) == "routing.fallback_depth: must be an integer from 1 to 10, got 'x'"


def test_settings_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"appearance\.theme"):
        settings_from_dict({"appearance": {"theme": 3}})


def test_unknown_key_is_an_error_not_ignored() -> None:
    with pytest.raises(SettingsError, match=r"^routing\.fallbackdepth: unknown setting"):
        settings_from_dict({"routing": {"fallbackdepth": 3}})


def test_values_are_normalised() -> None:
    s = settings_from_dict(
        {
            "endpoints": {"ollama_url": " http://gpu:11434/ ", "extra_server_urls": []},
            "routing": {"budget_usd": 0.1, "quality_floor": 1},
        }
    )
    assert s.endpoints.ollama_url == "http://gpu:11434"
    assert s.endpoints.extra_server_urls == ()
    assert s.routing.budget_usd == Decimal("0.1")  # as written, not the binary float
    assert s.routing.quality_floor == 1.0
    assert settings_from_dict({"routing": {"budget_usd": 2}}).routing.budget_usd == Decimal(2)


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"api_key": "sk-or-v1-abc"}, "api_key"),
        ({"endpoints": {"openrouter_api_key": "sk-or-v1-abc"}}, "endpoints.openrouter_api_key"),
        ({"endpoints": {"apiKey": "sk-or-v1-abc"}}, "endpoints.apiKey"),
        ({"endpoints": {"key": "sk-or-v1-abc"}}, "endpoints.key"),
        ({"routing": {"token": "sk-or-v1-abc"}}, "routing.token"),
        ({"routing": {"access_token": "sk-or-v1-abc"}}, "routing.access_token"),
        ({"secrets": {"openrouter": "sk-or-v1-abc"}}, "secrets"),
        ({"misc": {"client_secret": "sk-or-v1-abc"}}, "misc.client_secret"),
        ({"endpoints": {"password": "sk-or-v1-abc"}}, "endpoints.password"),
    ],
)
def test_secrets_are_rejected_without_echoing_them(data: dict, key: str) -> None:
    with pytest.raises(SettingsError) as info:
        settings_from_dict(data)
    message = str(info.value)
    assert message.startswith(f"{key}: ")
    assert "key store" in message
    assert "sk-or-v1-abc" not in message


def test_url_with_credentials_is_rejected_without_echoing_them() -> None:
    with pytest.raises(SettingsError) as info:
        settings_from_dict({"endpoints": {"ollama_url": "http://me:hunter2@gpu:11434"}})
    assert str(info.value).startswith("endpoints.ollama_url: ")
    assert "hunter2" not in str(info.value)


def test_ordinary_names_are_not_mistaken_for_secrets() -> None:
    # "max_tokens"-like names are unknown settings, not secrets.
    with pytest.raises(SettingsError, match="unknown setting"):
        settings_from_dict({"routing": {"max_tokens": 10}})
