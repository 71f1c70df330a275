"""Values the source clients return (besides the core ``ParseResult``)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from locallama_gui.core.catalogue import CatalogueFormatError
from locallama_gui.core.cost import estimate_cost, free_tier_limits
from locallama_gui.core.models import FreeLimits, ModelInfo, ParseResult, Source, Usage
from locallama_gui.core.redaction import redact_known, redact_optional

from .errors import BadResponse

COST_PROVIDER = "provider"  # the provider reported it (usage.cost)
COST_COMPUTED = "computed"  # computed from catalogue prices (or $0 for a local model)
COST_UNKNOWN = "unknown"
COST_SOURCES = (COST_PROVIDER, COST_COMPUTED, COST_UNKNOWN)


def to_decimal(value: Any) -> Decimal | None:
    """A JSON number or numeric string as ``Decimal`` (``None`` when absent or not numeric)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


@dataclass(frozen=True, slots=True)
class ChatResult:
    """One finished chat completion.

    ``model_used`` is the model that actually answered (the response's ``model``; with
    fallbacks or a router it differs from the requested one). ``usage.cache_read_tokens`` holds
    the provider's ``cached_tokens``. ``cost_usd`` is the provider-reported cost when
    ``cost_source == "provider"``; see :func:`with_computed_cost` for the rest. Timings are
    milliseconds (floats; they are measurements, not money).

    What the server said besides the answer (``model_used``, ``provider``, ``request_id``, the
    finish reasons) is redacted as it comes in, so a server that echoes the API key in, say,
    ``provider`` never gets it shown, stored or served; the answer itself (``text``,
    ``reasoning``) is left as it is unless it holds the live key.
    """

    text: str
    model_used: str | None
    source: Source
    provider: str | None = None
    request_id: str | None = None
    usage: Usage | None = None
    cost_usd: Decimal | None = None
    cost_source: str = COST_UNKNOWN
    latency_ms: float | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    requested_model: str | None = None
    reasoning: str | None = None
    streamed: bool = False

    def __post_init__(self) -> None:
        for name in _CHAT_METADATA:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, redact_optional(str(value)))
        for name in ("text", "reasoning"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, redact_known(value))


#: The upstream's own words about a completion (not the answer): redacted as they come in.
_CHAT_METADATA = (
    "model_used",
    "provider",
    "request_id",
    "finish_reason",
    "native_finish_reason",
    "requested_model",
)


def with_computed_cost(
    result: ChatResult, model: ModelInfo, at: datetime | None = None
) -> ChatResult:
    """``result`` with a cost computed from ``model``'s prices when the provider gave none.

    Pass the :class:`ModelInfo` of ``result.model_used`` (the model that answered). A
    provider-reported cost is kept as is. Without usage, or when the price is variable or
    unknown, or the usage is inconsistent, the cost stays unknown (``None``), never $0.
    """
    if result.cost_source == COST_PROVIDER and result.cost_usd is not None:
        return result
    if result.usage is None:
        return dataclasses.replace(result, cost_usd=None, cost_source=COST_UNKNOWN)
    try:
        estimate = estimate_cost(model, result.usage, at)
    except ValueError:
        return dataclasses.replace(result, cost_usd=None, cost_source=COST_UNKNOWN)
    if estimate.total_usd is None:
        return dataclasses.replace(result, cost_usd=None, cost_source=COST_UNKNOWN)
    return dataclasses.replace(result, cost_usd=estimate.total_usd, cost_source=COST_COMPUTED)


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """OpenRouter ``GET /key``: what the key may still spend. Money in USD as ``Decimal``."""

    label: str | None
    usage: Decimal | None = None
    limit: Decimal | None = None  # None: no cap
    limit_remaining: Decimal | None = None
    limit_reset: str | None = None
    is_free_tier: bool | None = None  # True: never bought credits
    usage_daily: Decimal | None = None
    usage_weekly: Decimal | None = None
    usage_monthly: Decimal | None = None
    is_management_key: bool | None = None
    expires_at: str | None = None
    #: ``free_model_daily_requests``: the account's daily free-model cap and what is left of
    #: it today (every client of the account counts; OpenRouter's figure lags about a minute)
    free_daily_limit: int | None = None
    free_daily_remaining: int | None = None
    free_daily_used: int | None = None

    @property
    def free_cap_reported(self) -> bool:
        return self.free_daily_limit is not None

    @property
    def free_limits(self) -> FreeLimits:
        """The free-model limits: the daily cap as reported; without one, the lower cap of
        the 50/1000 rule (``is_free_tier`` says nothing of the 10 credits that lift it)."""
        base = free_tier_limits(None)
        if self.free_daily_limit is None:
            return base
        return FreeLimits(
            per_minute=base.per_minute,
            per_day=self.free_daily_limit,
            per_day_with_credits=base.per_day_with_credits,
        )

    @property
    def free_daily_cap(self) -> int:
        """Free-model requests per UTC day: as reported, else 50 (the rule's lower cap)."""
        return self.free_limits.per_day


@dataclass(frozen=True, slots=True)
class ShowInfo:
    """Ollama ``POST /api/show`` for one model."""

    model: str
    architecture: str | None
    context_length: int | None  # model_info["<arch>.context_length"]: the model's maximum
    capabilities: tuple[str, ...] = ()
    parameters: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    parameter_count: int | None = None  # model_info["general.parameter_count"]

    @property
    def num_ctx(self) -> int | None:
        """The Modelfile's ``num_ctx`` (the configured window), if set."""
        values = self.parameters.get("num_ctx")
        if not values:
            return None
        try:
            return int(values[-1])
        except ValueError:
            return None


class HealthState(StrEnum):
    OK = "ok"
    LOADING = "loading"  # llama.cpp 503 "Loading model"
    ERROR = "error"  # other error statuses
    UNKNOWN = "unknown"  # the server has no /health endpoint


@dataclass(frozen=True, slots=True)
class Health:
    state: HealthState
    status: int | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.state is HealthState.OK


async def parse_off_loop(
    parser: Callable[..., ParseResult], payload: Any, url: str, **kwargs: Any
) -> ParseResult:
    """:func:`parse_with` in a worker thread: a catalogue of thousands of models must not
    hold up the event loop (in the app, the GUI thread)."""
    return await asyncio.to_thread(parse_with, parser, payload, url, **kwargs)


def parse_with(
    parser: Callable[..., ParseResult], payload: Any, url: str, **kwargs: Any
) -> ParseResult:
    """Run a core catalogue parser; a payload of the wrong shape becomes :class:`BadResponse`."""
    try:
        return parser(payload, **kwargs)
    except CatalogueFormatError as exc:
        raise BadResponse(f"unexpected model list: {exc}", code="shape", url=url) from None
