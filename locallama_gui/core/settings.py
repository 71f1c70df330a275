"""The settings schema: validated, immutable user preferences and their TOML form.

Pure: no file I/O here. ``store.settings_file`` reads and writes the file.

Secrets (API keys, tokens) are never settings: they live in the key store, and a
settings mapping that contains a key named like one is rejected.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import tomli_w

FREE_PREFERENCES = ("prefer", "only", "avoid", "off")
PRIORITIES = ("cost", "balanced", "speed", "quality")
THEMES = ("system", "light", "dark")

DEFAULT_OPENROUTER_URL = "https://openrouter.ai/api/v1"
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
DEFAULT_LMSTUDIO_URL = "http://127.0.0.1:1234"
DEFAULT_EXTRA_SERVER_URLS = (
    "http://127.0.0.1:8080",  # llama.cpp server
    "http://127.0.0.1:9931",
    "http://127.0.0.1:8000",  # vLLM
)

FREE_DAILY_CAP = 50
FREE_DAILY_CAP_WITH_CREDITS = 1000
MAX_REFRESH_MINUTES = 7 * 24 * 60
DEFAULT_BASELINE_MODEL = "anthropic/claude-sonnet-4.5"
DEFAULT_GATEWAY_PORT = 11435

#: Name parts (split on ``_``, ``-``, ``.``) that mark a key as a credential.
_SECRET_PARTS = frozenset(
    {"key", "keys", "apikey", "token", "secret", "secrets", "password", "passwd"}
    | {"credential", "credentials", "bearer", "auth"}
)
#: Substrings that mark a key as a credential wherever they appear.
_SECRET_SUBSTRINGS = ("apikey", "api_key", "api-key", "secret", "password", "passwd")


class SettingsError(ValueError):
    """A settings value is invalid. The message starts with the dotted key."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    openrouter_url: str = DEFAULT_OPENROUTER_URL
    ollama_url: str = DEFAULT_OLLAMA_URL
    lmstudio_url: str = DEFAULT_LMSTUDIO_URL
    extra_server_urls: tuple[str, ...] = DEFAULT_EXTRA_SERVER_URLS
    openrouter_enabled: bool = True
    ollama_enabled: bool = True
    lmstudio_enabled: bool = True
    extra_servers_enabled: bool = True


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    free_preference: str = "prefer"
    priority: str = "balanced"
    allow_paid: bool = True
    local_only: bool = False
    budget_usd: Decimal | None = None
    quality_floor: float | None = None
    fallback_depth: int = 4
    #: Whether 10 credits were ever bought (raises the free daily cap); None = unknown.
    credits_purchased: bool | None = None
    #: The daily free-model cap OpenRouter reported on ``GET /key``
    #: (``free_model_daily_requests.limit``); None: never reported, the 50/1000 rule applies.
    free_daily_cap_reported: int | None = None

    @property
    def free_daily_cap(self) -> int:
        """Free requests per UTC day: as OpenRouter reported, else by the 50/1000 rule
        (unknown credits count as the lower cap)."""
        if self.free_daily_cap_reported is not None:
            return self.free_daily_cap_reported
        return FREE_DAILY_CAP_WITH_CREDITS if self.credits_purchased else FREE_DAILY_CAP

    @property
    def free_daily_cap_source(self) -> str:
        """Where :attr:`free_daily_cap` comes from, in words."""
        if self.free_daily_cap_reported is not None:
            return "reported by OpenRouter (GET /key)"
        bought = (
            "with 10+ credits bought" if self.credits_purchased else "without 10 credits bought"
        )
        return f"the 50/1000 rule ({bought}; OpenRouter has not reported the cap)"


@dataclass(frozen=True, slots=True)
class RefreshSettings:
    #: Catalogue refresh interval in minutes; 0 turns automatic refresh off.
    interval_minutes: int = 60


@dataclass(frozen=True, slots=True)
class AppearanceSettings:
    theme: str = "system"
    #: Closing the window keeps the app running in the system tray (when there is a tray).
    close_to_tray: bool = True


@dataclass(frozen=True, slots=True)
class SpendSettings:
    """Guardrails on paid calls (the run, the gateway, the MCP server and the window)."""

    #: Most spent on paid models per UTC day / calendar month (UTC); None = no cap.
    daily_cap_usd: Decimal | None = None
    monthly_cap_usd: Decimal | None = None
    #: Refuse a paid model at the end of a chain instead of falling back to it silently.
    refuse_paid_fallback: bool = False
    #: The paid model savings are measured against ("what it would have cost").
    baseline_model: str = DEFAULT_BASELINE_MODEL


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    #: Start the gateway with the app (the Gateway view's switch).
    enabled: bool = False
    port: int = DEFAULT_GATEWAY_PORT


@dataclass(frozen=True, slots=True)
class Settings:
    endpoints: EndpointSettings = field(default_factory=EndpointSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    refresh: RefreshSettings = field(default_factory=RefreshSettings)
    appearance: AppearanceSettings = field(default_factory=AppearanceSettings)
    spend: SpendSettings = field(default_factory=SpendSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)


_SECTIONS: dict[str, type] = {
    "endpoints": EndpointSettings,
    "routing": RoutingSettings,
    "refresh": RefreshSettings,
    "appearance": AppearanceSettings,
    "spend": SpendSettings,
    "gateway": GatewaySettings,
}


# --------------------------------------------------------------------------- validation


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_secret_key(name: str) -> bool:
    lowered = name.lower()
    if any(sub in lowered for sub in _SECRET_SUBSTRINGS):
        return True
    return any(part in _SECRET_PARTS for part in re.split(r"[_\-.\s]+", lowered))


def _secret_error(key: str) -> SettingsError:
    return SettingsError(
        "secrets such as API keys or tokens are never stored in settings; "
        "use the key store (Settings > API key) instead",
        key,
    )


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"must be true or false, got {_show(value)}", key)
    return value


def _opt_bool(key: str, value: Any) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise SettingsError(f"must be true, false or absent (unknown), got {_show(value)}", key)
    return value


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise SettingsError(f"must be one of {allowed}, got {_show(value)}", key)
    return value


def _int_range(key: str, value: Any, lo: int, hi: int, what: str = "an integer") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise SettingsError(f"must be {what} from {lo} to {hi}, got {_show(value)}", key)
    return value


def _opt_fraction(key: str, value: Any) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise SettingsError(f"must be a number from 0 to 1, got {_show(value)}", key)
    return float(value)


def _opt_money(key: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    amount: Decimal | None = None
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, float):
        # TOML has no decimal type: take the number exactly as it was written.
        amount = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            amount = None
    if amount is None or not amount.is_finite() or amount < 0:
        raise SettingsError(
            f'must be a non-negative amount in USD (e.g. "0.05"), got {_show(value)}', key
        )
    return amount


def _url(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SettingsError(f"must be an http(s) URL, got {_show(value)}", key)
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError on a bad port
        del port
    except ValueError:
        raise SettingsError(f"must be an http(s) URL, got {_show(value)}", key) from None
    if parts.username is not None or parts.password is not None:
        # Never echo the value: it holds credentials.
        raise SettingsError(
            "must not contain a user name or password; credentials belong in the key store", key
        )
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"must be an http(s) URL with a host, got {_show(value)}", key)
    if any(c.isspace() for c in text):
        raise SettingsError(f"must not contain spaces, got {_show(value)}", key)
    if parts.query or parts.fragment:
        raise SettingsError(f"must not have a query or fragment, got {_show(value)}", key)
    return text.rstrip("/")


def _url_list(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise SettingsError(f"must be a list of http(s) URLs, got {_show(value)}", key)
    return tuple(_url(f"{key}[{i}]", item) for i, item in enumerate(value))


def _model_id(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise SettingsError(f"must be a model id such as 'openai/gpt-4o', got {_show(value)}", key)
    return value.strip()


_VALIDATORS: dict[str, dict[str, Any]] = {
    "endpoints": {
        "openrouter_url": _url,
        "ollama_url": _url,
        "lmstudio_url": _url,
        "extra_server_urls": _url_list,
        "openrouter_enabled": _bool,
        "ollama_enabled": _bool,
        "lmstudio_enabled": _bool,
        "extra_servers_enabled": _bool,
    },
    "routing": {
        "free_preference": lambda k, v: _choice(k, v, FREE_PREFERENCES),
        "priority": lambda k, v: _choice(k, v, PRIORITIES),
        "allow_paid": _bool,
        "local_only": _bool,
        "budget_usd": _opt_money,
        "quality_floor": _opt_fraction,
        "fallback_depth": lambda k, v: _int_range(k, v, 1, 10),
        "credits_purchased": _opt_bool,
        "free_daily_cap_reported": lambda k, v: (
            None if v is None else _int_range(k, v, 0, 1_000_000, "a number of requests")
        ),
    },
    "refresh": {
        "interval_minutes": lambda k, v: _int_range(
            k, v, 0, MAX_REFRESH_MINUTES, "a whole number of minutes (0 = off)"
        ),
    },
    "appearance": {
        "theme": lambda k, v: _choice(k, v, THEMES),
        "close_to_tray": _bool,
    },
    "spend": {
        "daily_cap_usd": _opt_money,
        "monthly_cap_usd": _opt_money,
        "refuse_paid_fallback": _bool,
        "baseline_model": _model_id,
    },
    "gateway": {
        "enabled": _bool,
        "port": lambda k, v: _int_range(k, v, 1, 65535, "a port number"),
    },
}


def _reject_secrets(data: Mapping[str, Any], prefix: str = "") -> None:
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(name, str) and _is_secret_key(name):
            raise _secret_error(key)
        if isinstance(value, Mapping):
            _reject_secrets(value, f"{key}.")


def settings_from_dict(data: Mapping[str, Any]) -> Settings:
    """Build validated ``Settings``; missing keys take their defaults.

    Raises ``SettingsError`` naming the dotted key for an unknown key, a secret,
    a wrong type or an out-of-range value.
    """
    if not isinstance(data, Mapping):
        raise SettingsError(f"settings must be a table of sections, got {_show(data)}")
    _reject_secrets(data)
    sections: dict[str, Any] = {}
    for name, body in data.items():
        if name not in _SECTIONS:
            known = ", ".join(_SECTIONS)
            raise SettingsError(f"unknown settings section (known: {known})", str(name))
        if not isinstance(body, Mapping):
            raise SettingsError(f"must be a table of settings, got {_show(body)}", name)
        validators = _VALIDATORS[name]
        values: dict[str, Any] = {}
        for key, value in body.items():
            dotted = f"{name}.{key}"
            if key not in validators:
                raise SettingsError("unknown setting", dotted)
            values[key] = validators[key](dotted, value)
        sections[name] = _SECTIONS[name](**values)
    return Settings(**sections)


def settings_to_dict(settings: Settings) -> dict[str, dict[str, Any]]:
    """Plain nested dict of every value; Decimal as a string, tuples as lists."""
    out: dict[str, dict[str, Any]] = {}
    for name in _SECTIONS:
        section = getattr(settings, name)
        body: dict[str, Any] = {}
        for f in fields(section):
            value = getattr(section, f.name)
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            body[f.name] = value
        out[name] = body
    return out


# --------------------------------------------------------------------------- TOML


def _plain(value: Any) -> Any:
    """``value`` with Decimal as a string, tuples as lists and ``None`` dropped (TOML has
    no null)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value if v is not None]
    return value


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Write a nested mapping as TOML (``tomli_w``).

    Supports str, int, float, bool, Decimal (written as a string), lists of those and nested
    tables. ``None`` values are omitted. Other types raise ``TypeError``.
    """
    return tomli_w.dumps(_plain(data))


def loads_toml(text: str) -> dict[str, Any]:
    """Parse TOML text; a syntax error becomes a ``SettingsError``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"not valid TOML: {exc}") from None
