"""Domain values shared by every layer: models, prices, usage, estimates.

Everything here is immutable and free of I/O. Money is always ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

EMPTY_PRICES: Mapping[str, Decimal] = MappingProxyType({})


class Tier(StrEnum):
    """How a model is billed, as far as routing is concerned."""

    LOCAL = "local"  # runs on the user's machine: $0, no quota
    FREE = "free"  # OpenRouter free: $0 but the account-wide free quota applies
    PAID = "paid"  # billed per token / request
    VARIABLE = "variable"  # routers priced "-1": cost depends on the model picked
    UNKNOWN = "unknown"  # zero-priced non-text models that bill through other keys


class Source(StrEnum):
    """Where a model is served from."""

    OPENROUTER = "openrouter"
    OLLAMA = "ollama"
    LMSTUDIO = "lmstudio"
    LLAMACPP = "llamacpp"
    VLLM = "vllm"
    OPENAI_COMPAT = "openai_compat"  # any other OpenAI-compatible server

    @property
    def is_local(self) -> bool:
        return self is not Source.OPENROUTER


#: Price keys that are per token (multiplied by a token count).
TOKEN_PRICE_KEYS = (
    "prompt",
    "completion",
    "internal_reasoning",
    "input_cache_read",
    "input_cache_write",
    "input_cache_write_1h",
    "image_token",
    "image_output",
    "audio",
    "audio_output",
    "input_audio_cache",
)
#: Price keys that are per unit (request, image, search).
UNIT_PRICE_KEYS = ("request", "image", "web_search")


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """One entry of ``pricing.overrides``: prices that apply under conditions.

    ``min_prompt_tokens`` applies when the prompt is strictly greater than it.
    ``utc_start``/``utc_end`` are HHMM integers (e.g. 2230); the window is
    ``start <= now < end`` and wraps past midnight when ``start > end``.
    """

    prices: Mapping[str, Decimal]
    min_prompt_tokens: int | None = None
    utc_start: int | None = None
    utc_end: int | None = None


@dataclass(frozen=True, slots=True)
class Pricing:
    """Per-token / per-unit USD prices parsed from OpenRouter's price strings.

    ``prices`` holds every string-valued key that parsed as a decimal; a key
    that is absent is not billed. ``"-1"`` (routers) is kept as ``Decimal(-1)``
    and makes the pricing *variable*.
    """

    prices: Mapping[str, Decimal] = field(default_factory=lambda: EMPTY_PRICES)
    overrides: tuple[PriceOverride, ...] = ()
    discount: Decimal | None = None

    @property
    def is_variable(self) -> bool:
        return any(v < 0 for v in self.prices.values())

    @property
    def all_zero(self) -> bool:
        """Every listed price is exactly zero (overrides ignored)."""
        return bool(self.prices) and all(v == 0 for v in self.prices.values())

    def get(self, key: str) -> Decimal | None:
        return self.prices.get(key)


@dataclass(frozen=True, slots=True)
class Benchmarks:
    """Benchmark indices published with the catalogue (Artificial Analysis)."""

    intelligence_index: float | None = None
    coding_index: float | None = None
    agentic_index: float | None = None
    design_arena_best_elo: int | None = None


@dataclass(frozen=True, slots=True)
class LocalDetails:
    """Facts about a model served by a local server."""

    server_url: str | None = None
    size_bytes: int | None = None
    parameter_size: str | None = None  # as the server says it, e.g. "8.2B"
    parameter_count_b: float | None = None  # billions of parameters, parsed
    quantization: str | None = None
    family: str | None = None
    format: str | None = None  # gguf, mlx, ...
    loaded: bool | None = None
    loaded_context_length: int | None = None
    model_type: str | None = None  # llm, vlm, embeddings


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One routable model from any source."""

    id: str
    name: str
    source: Source
    tier: Tier
    pricing: Pricing | None = None  # None for local models
    context_length: int | None = None
    max_output_tokens: int | None = None
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("text",)
    supported_parameters: tuple[str, ...] = ()
    created: int | None = None  # Unix seconds
    canonical_slug: str | None = None
    hugging_face_id: str | None = None
    tokenizer: str | None = None
    benchmarks: Benchmarks | None = None
    local: LocalDetails | None = None
    knowledge_cutoff: str | None = None
    expiration_date: str | None = None
    is_moderated: bool | None = None
    supports_reasoning: bool = False
    #: the id its server knows, when ``id`` is qualified by the source (``vllm:org/model``)
    #: because another source lists the same id (see ``core.catalogue.merge_sources``)
    upstream_id: str | None = None

    @property
    def served_id(self) -> str:
        """The model name to send to its server."""
        return self.upstream_id or self.id

    @property
    def is_free(self) -> bool:
        return self.tier is Tier.FREE

    @property
    def is_zero_cost(self) -> bool:
        return self.tier in (Tier.FREE, Tier.LOCAL)

    @property
    def text_output(self) -> bool:
        return "text" in self.output_modalities

    @property
    def supports_tools(self) -> bool:
        return "tools" in self.supported_parameters

    @property
    def supports_vision(self) -> bool:
        return "image" in self.input_modalities

    @property
    def supports_json(self) -> bool:
        p = self.supported_parameters
        return "response_format" in p or "structured_outputs" in p

    def capabilities(self) -> frozenset[str]:
        caps = set()
        if self.supports_tools:
            caps.add("tools")
        if self.supports_vision:
            caps.add("vision")
        if self.supports_json:
            caps.add("json")
        if self.supports_reasoning:
            caps.add("reasoning")
        return frozenset(caps)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A catalogue entry that could not be parsed, with why."""

    reason: str
    id: str | None = None
    index: int | None = None


@dataclass(frozen=True, slots=True)
class ParseResult:
    models: tuple[ModelInfo, ...]
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    """Token and unit counts of one (or ``requests``) request(s)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0  # billed at internal_reasoning when listed
    cache_read_tokens: int = 0  # part of prompt_tokens served from cache
    cache_write_tokens: int = 0  # part of prompt_tokens written to cache
    images: int = 0
    web_searches: int = 0
    requests: int = 1


@dataclass(frozen=True, slots=True)
class FreeLimits:
    """OpenRouter's account-wide free-model limits."""

    per_minute: int = 20
    per_day: int = 50  # 1000 once 10 credits were ever bought
    per_day_with_credits: int = 1000


@dataclass(frozen=True, slots=True)
class CostEstimate:
    model_id: str
    tier: Tier
    is_free: bool
    total_usd: Decimal | None  # None = unknown (variable or unknown tier)
    breakdown: Mapping[str, Decimal] = field(default_factory=lambda: EMPTY_PRICES)
    unknown_reason: str | None = None
    free_limits: FreeLimits | None = None
    applied_overrides: tuple[int, ...] = ()  # indexes into pricing.overrides
    effective_prices: Mapping[str, Decimal] = field(default_factory=lambda: EMPTY_PRICES)


def decimal_str(value: Decimal) -> str:
    """A plain decimal string for JSON and files: no exponent, no trailing zeros.

    ``str(Decimal("0.00000045"))`` is ``"4.5E-7"``; this gives ``"0.00000045"``.
    """
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text
