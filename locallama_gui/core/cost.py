"""Cost estimation from OpenRouter prices, with exact ``Decimal`` arithmetic.

Conventions (the contract callers rely on):

* A :class:`~locallama_gui.core.models.Usage` describes **one** request. ``usage.requests``
  multiplies everything: the cost of ``Usage(..., requests=n)`` is exactly ``n`` times the
  cost of the same usage with ``requests=1``. Override conditions (``min_prompt_tokens``) are
  judged on the per-request prompt size.
* ``cache_read_tokens`` and ``cache_write_tokens`` are part of ``prompt_tokens``. When the
  model lists ``input_cache_read`` (``input_cache_write``), those tokens are billed at that
  price *instead of* the prompt price; when it does not, they stay in the prompt and are
  billed at the prompt price.
* ``reasoning_tokens`` are part of ``completion_tokens`` (as in OpenRouter's ``usage``).
  When the model lists a non-zero ``internal_reasoning`` price they are billed at it instead
  of the completion price; otherwise they are billed at the completion price with the rest of
  the completion, never twice. A listed ``internal_reasoning`` of ``"0"`` is the 2025
  schema's always-present placeholder (reasoning models such as ``deepseek/deepseek-r1``
  carry it) and does not make reasoning free.
* ``request`` is charged per request, ``image`` per input image, ``web_search`` per search.
* A price key that is absent is not billed and gets no breakdown line. A breakdown line
  appears for every listed key whose quantity is non-zero; the total is the exact sum of
  the breakdown. Nothing is rounded here: quantize only for display (:func:`format_usd`).
* ``pricing.discount`` is informational: OpenRouter lists prices that already include it,
  so it is never applied again. It stays available on ``model.pricing.discount``.
* An unknown cost is ``None`` with a reason, never ``$0``; a free model costs exactly
  ``Decimal("0")`` and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from types import MappingProxyType

from .models import (
    EMPTY_PRICES,
    CostEstimate,
    FreeLimits,
    ModelInfo,
    PriceOverride,
    Pricing,
    Tier,
    Usage,
)

__all__ = [
    "BREAKDOWN_KEYS",
    "CREDITS_FOR_HIGHER_FREE_CAP",
    "VARIABLE_REASON",
    "Pricer",
    "Projection",
    "credits_unlock_higher_cap",
    "effective_prices",
    "estimate_cost",
    "format_per_million",
    "format_usd",
    "free_daily_cap",
    "free_tier_limits",
    "in_utc_window",
    "monthly_projection",
    "per_million",
    "project",
]

#: Breakdown line names, in display order.
BREAKDOWN_KEYS = (
    "prompt",
    "completion",
    "reasoning",
    "cache_read",
    "cache_write",
    "request",
    "image",
    "web_search",
)

VARIABLE_REASON = "router: the price depends on the model it picks"
UNKNOWN_TIER_REASON = "price unknown: this model bills through prices that are not listed"
NO_PRICING_REASON = "price unknown: the model has no pricing"
NEGATIVE_PRICE_REASON = "price unknown: a listed price is negative (variable pricing)"
OUT_OF_RANGE_REASON = "price unknown: a listed price is out of range for exact arithmetic"

#: All-time credits purchase that lifts the free daily cap (OpenRouter limits docs).
CREDITS_FOR_HIGHER_FREE_CAP = Decimal(10)

# Money arithmetic: large precision and Inexact trapped, so a total is exact or raises.
_EXACT = Context(prec=200, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
_ZERO = Decimal(0)
_MINUTES_PER_DAY_HHMM = 2400


# --------------------------------------------------------------------------- overrides


def _utc_hhmm(at: datetime) -> int:
    """``at`` as an HHMM integer in UTC. A naive datetime is taken to be UTC already."""
    utc = at if at.tzinfo is None else at.astimezone(UTC)
    return utc.hour * 100 + utc.minute


def in_utc_window(hhmm: int, start: int | None, end: int | None) -> bool:
    """Whether HHMM ``hhmm`` is in ``[start, end)``; wraps past midnight; equal = all day."""
    lo = 0 if start is None else start
    hi = _MINUTES_PER_DAY_HHMM if end is None else end
    if lo == hi:  # start == end: the whole day
        return True
    if lo < hi:
        return lo <= hhmm < hi
    return hhmm >= lo or hhmm < hi  # wraps past midnight


def _override_applies(override: PriceOverride, prompt_tokens: int, hhmm: int | None) -> bool:
    if override.min_prompt_tokens is not None and not prompt_tokens > override.min_prompt_tokens:
        return False
    if override.utc_start is None and override.utc_end is None:
        return True
    if hhmm is None:  # no time given: time windows do not apply
        return False
    return in_utc_window(hhmm, override.utc_start, override.utc_end)


def effective_prices(
    pricing: Pricing, prompt_tokens: int, at: datetime | None
) -> tuple[dict[str, Decimal], tuple[int, ...]]:
    """The prices that apply to one request, and the indexes of the overrides applied.

    Starts from the top-level prices and applies ``pricing.overrides`` in order; an override
    applies when all of its conditions hold, and later overrides win per key:

    * ``min_prompt_tokens``: the request's prompt is *strictly* greater than it;
    * ``utc_start``/``utc_end`` (HHMM): ``start <= now < end`` with ``now`` being ``at``
      converted to UTC (a naive ``at`` is taken as UTC); the window wraps past midnight when
      ``start > end``, and ``start == end`` means all day. A missing bound means the start or
      the end of the day.

    When ``at`` is ``None`` no time window applies: the top-level prices are, per OpenRouter's
    documentation, the ones that apply now, so they are the right answer when no time is given.
    An override without conditions always applies.
    """
    prices = dict(pricing.prices)
    hhmm = None if at is None else _utc_hhmm(at)
    applied: list[int] = []
    for index, override in enumerate(pricing.overrides):
        if _override_applies(override, prompt_tokens, hhmm):
            prices.update(override.prices)
            applied.append(index)
    return prices, tuple(applied)


# --------------------------------------------------------------------------- estimate


def _check_usage(usage: Usage) -> None:
    for name in (
        "prompt_tokens",
        "completion_tokens",
        "reasoning_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "images",
        "web_searches",
        "requests",
    ):
        if getattr(usage, name) < 0:
            raise ValueError(f"usage.{name} must not be negative")
    if usage.cache_read_tokens + usage.cache_write_tokens > usage.prompt_tokens:
        raise ValueError("cached tokens are part of prompt_tokens and cannot exceed it")
    if usage.reasoning_tokens > usage.completion_tokens:
        raise ValueError("reasoning tokens are part of completion_tokens and cannot exceed it")


def _unknown(model: ModelInfo, reason: str, **extra: object) -> CostEstimate:
    return CostEstimate(
        model_id=model.id,
        tier=model.tier,
        is_free=False,
        total_usd=None,
        unknown_reason=reason,
        **extra,  # type: ignore[arg-type]
    )


def estimate_cost(model: ModelInfo, usage: Usage, at: datetime | None = None) -> CostEstimate:
    """Price ``usage`` on ``model`` (see the module docstring for the conventions).

    ``at`` selects time-of-day override windows; ``None`` means the listed (current) prices.
    Local models cost exactly 0 (``is_free`` stays False: they use no free quota); free models
    cost exactly 0 with their free-tier limits; variable and unknown prices give ``None``.

    Raises ``ValueError`` for an inconsistent usage (negative counts, cached tokens exceeding
    the prompt, reasoning tokens exceeding the completion).
    """
    _check_usage(usage)
    if model.tier is Tier.LOCAL:
        return CostEstimate(model_id=model.id, tier=Tier.LOCAL, is_free=False, total_usd=_ZERO)
    if model.tier is Tier.FREE:
        return CostEstimate(
            model_id=model.id,
            tier=Tier.FREE,
            is_free=True,
            total_usd=Decimal("0"),
            free_limits=FreeLimits(),
        )
    if model.tier is Tier.VARIABLE:
        return _unknown(model, VARIABLE_REASON)
    if model.tier is Tier.UNKNOWN:
        return _unknown(model, UNKNOWN_TIER_REASON)

    # Tier.PAID
    pricing = model.pricing
    if pricing is None or not pricing.prices:
        return _unknown(model, NO_PRICING_REASON)
    prices, applied = effective_prices(pricing, usage.prompt_tokens, at)
    frozen_prices: Mapping[str, Decimal] = MappingProxyType(prices)
    if any(v < 0 for v in prices.values()):
        return _unknown(
            model,
            NEGATIVE_PRICE_REASON,
            applied_overrides=applied,
            effective_prices=frozen_prices,
        )

    try:
        breakdown = _price_one_request(prices, usage)
        with localcontext(_EXACT):
            lines = {key: amount * usage.requests for key, amount in breakdown.items()}
            total = sum(lines.values(), _ZERO)
    except (Inexact, Overflow, InvalidOperation):
        # a price (or count) so extreme that the exact total does not fit: unknown, never
        # a rounded figure presented as exact
        return _unknown(
            model,
            OUT_OF_RANGE_REASON,
            applied_overrides=applied,
            effective_prices=frozen_prices,
        )
    return CostEstimate(
        model_id=model.id,
        tier=Tier.PAID,
        is_free=False,
        total_usd=total,
        breakdown=MappingProxyType(lines) if lines else EMPTY_PRICES,
        applied_overrides=applied,
        effective_prices=frozen_prices,
    )


def _price_one_request(prices: Mapping[str, Decimal], usage: Usage) -> dict[str, Decimal]:
    """Breakdown of one request: ``{line: amount}`` for listed keys with a non-zero quantity."""
    cache_read_price = prices.get("input_cache_read")
    cache_write_price = prices.get("input_cache_write")
    reasoning_price = prices.get("internal_reasoning")
    if reasoning_price is not None and reasoning_price == 0:
        reasoning_price = None  # placeholder "0": reasoning is billed as completion

    prompt_qty = usage.prompt_tokens
    if cache_read_price is not None:
        prompt_qty -= usage.cache_read_tokens
    if cache_write_price is not None:
        prompt_qty -= usage.cache_write_tokens
    completion_qty = usage.completion_tokens
    if reasoning_price is not None:
        completion_qty -= usage.reasoning_tokens

    items: tuple[tuple[str, Decimal | None, int], ...] = (
        ("prompt", prices.get("prompt"), prompt_qty),
        ("completion", prices.get("completion"), completion_qty),
        ("reasoning", reasoning_price, usage.reasoning_tokens),
        ("cache_read", cache_read_price, usage.cache_read_tokens),
        ("cache_write", cache_write_price, usage.cache_write_tokens),
        ("request", prices.get("request"), 1),
        ("image", prices.get("image"), usage.images),
        ("web_search", prices.get("web_search"), usage.web_searches),
    )
    out: dict[str, Decimal] = {}
    with localcontext(_EXACT):
        for key, price, quantity in items:
            if price is None or quantity == 0:
                continue
            out[key] = price * quantity
    return out


#: A model whose total needs :func:`estimate_cost` itself.
_SLOW = object()
#: The keys a plain request bills, in the breakdown's order.
_PLAIN_KEYS = ("prompt", "completion", "request", "image", "web_search")


def _plain(prices: Mapping[str, Decimal]) -> tuple[Decimal | None, ...] | None:
    """The plain prices in ``_PLAIN_KEYS`` order, or None when one listed price is negative
    (variable pricing: unknown)."""
    if any(v < 0 for v in prices.values()):
        return None
    return tuple(prices.get(k) for k in _PLAIN_KEYS)


class _OverridePlan:
    """A model's plain prices per set of its overrides that applies, filled in use, with
    the overrides' conditions in the shape a quick test wants."""

    __slots__ = ("_by_applied", "_conditions", "_pricing")

    def __init__(self, pricing: Pricing) -> None:
        self._pricing = pricing
        self._by_applied: dict[tuple[int, ...], tuple[Decimal | None, ...] | None] = {}
        # (index, least prompt tokens or -1, whether a time window applies, start, end)
        self._conditions = tuple(
            (
                k,
                -1 if o.min_prompt_tokens is None else o.min_prompt_tokens,
                o.utc_start is not None or o.utc_end is not None,
                o.utc_start,
                o.utc_end,
            )
            for k, o in enumerate(pricing.overrides)
        )

    def prices(self, prompt_tokens: int, hhmm: int | None) -> tuple[Decimal | None, ...] | None:
        """The plain prices for a request of ``prompt_tokens`` (at least 0) at ``hhmm`` (None:
        no time given, no time window applies), as :func:`effective_prices` merges them."""
        applied: tuple[int, ...] = ()
        for k, least, windowed, start, end in self._conditions:
            if prompt_tokens > least and (
                not windowed or (hhmm is not None and in_utc_window(hhmm, start, end))
            ):
                applied += (k,)
        by_applied = self._by_applied
        if applied in by_applied:
            return by_applied[applied]
        pricing = self._pricing
        merged = dict(pricing.prices)
        for k in applied:
            merged.update(pricing.overrides[k].prices)
        prices = by_applied[applied] = _plain(merged)
        return prices


class Pricer:
    """The ``total_usd`` of :func:`estimate_cost`, for many usages on the same models (a
    simulation prices every task, and its baseline): the same exact sum, with each model's
    prices, and each set of its overrides that applies, looked up once.

    A usage with cached or reasoning tokens, or several requests, goes through
    :func:`estimate_cost`, as does an inconsistent one (which raises there). The models are
    held by identity: use one pricer per catalogue.
    """

    __slots__ = ("_plans",)

    def __init__(self) -> None:
        self._plans: dict[int, tuple[ModelInfo, object]] = {}

    def _plan(self, model: ModelInfo) -> object:
        held = self._plans.get(id(model))
        if held is not None and held[0] is model:
            return held[1]
        plan: object = _SLOW
        if model.tier is Tier.LOCAL:
            plan = _ZERO
        elif model.tier is Tier.FREE:
            plan = Decimal("0")
        elif model.tier is Tier.PAID:
            pricing = model.pricing
            if pricing is not None and pricing.prices:
                # overrides: the plain prices per set of overrides that applies, filled in use
                plan = _OverridePlan(pricing) if pricing.overrides else _plain(pricing.prices)
        self._plans[id(model)] = (model, plan)
        return plan

    def total(self, model: ModelInfo, usage: Usage, at: datetime | None = None) -> Decimal | None:
        """``estimate_cost(model, usage, at).total_usd``, exactly."""
        if (
            usage.requests != 1
            or usage.cache_read_tokens
            or usage.cache_write_tokens
            or usage.reasoning_tokens
        ):
            return estimate_cost(model, usage, at).total_usd
        return self._total(
            model,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.images,
            usage.web_searches,
            at,
        )

    def tokens_total(
        self,
        model: ModelInfo,
        prompt_tokens: int,
        completion_tokens: int,
        images: int,
        at: datetime,
    ) -> Decimal | None:
        """:meth:`total` of one request of these counts (a simulated task's), without the
        :class:`Usage` around them."""
        return self._total(model, prompt_tokens, completion_tokens, images, 0, at)

    def _total(
        self,
        model: ModelInfo,
        prompt_tokens: int,
        completion_tokens: int,
        images: int,
        web_searches: int,
        at: datetime | None,
    ) -> Decimal | None:
        prices = _plain_prices(
            self._plan(model), prompt_tokens, completion_tokens, images, web_searches, at
        )
        if prices is _SLOW:
            usage = Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                images=images,
                web_searches=web_searches,
            )
            return estimate_cost(model, usage, at).total_usd
        if prices is None or isinstance(prices, Decimal):
            return prices  # unknown (a negative price), or a local or free model's exact 0
        return _lines_total(prices, prompt_tokens, completion_tokens, 1, images, web_searches)  # type: ignore[arg-type]


def _plain_prices(
    plan: object,
    prompt_tokens: int,
    completion_tokens: int,
    images: int,
    web_searches: int,
    at: datetime | None,
) -> object:
    """The plain prices a request of these counts pays on a model of this
    :meth:`Pricer._plan`; a Decimal (a local or free model's exact 0), None (unknown), or
    ``_SLOW`` for :func:`estimate_cost` to price (no plan, or a negative count)."""
    if (
        plan is _SLOW
        or prompt_tokens < 0
        or completion_tokens < 0
        or images < 0
        or web_searches < 0
    ):
        return _SLOW
    if type(plan) is _OverridePlan:
        return plan.prices(prompt_tokens, None if at is None else _utc_hhmm(at))
    return plan


def _lines_total(
    prices: tuple[Decimal | None, ...],
    prompt_tokens: int,
    completion_tokens: int,
    requests: int,
    images: int,
    web_searches: int,
) -> Decimal | None:
    """The plain ``prices``' lines for these counts, summed as :func:`estimate_cost` sums a
    breakdown's lines; None out of range for exact arithmetic (unknown)."""
    prompt, completion, request, image, web = prices
    total = _ZERO
    # in the breakdown's order, in the exact context's own arithmetic (the same results,
    # without entering it as a local context)
    mul, add = _EXACT.multiply, _EXACT.add
    try:
        if prompt is not None and prompt_tokens:
            total = add(total, mul(prompt, prompt_tokens))
        if completion is not None and completion_tokens:
            total = add(total, mul(completion, completion_tokens))
        if request is not None:
            total = add(total, request if requests == 1 else mul(request, requests))
        if image is not None and images:
            total = add(total, mul(image, images))
        if web is not None and web_searches:
            total = add(total, mul(web, web_searches))
    except (Inexact, Overflow, InvalidOperation):
        return None  # out of range for exact arithmetic: unknown, as estimate_cost says
    return total


class UsageSum:
    """The exact total of many one-request usages of one model (a simulation's baseline),
    priced once at the end: their counts are summed per set of prices that applies, and
    each sum is priced as :meth:`Pricer.total` prices one usage. Exact arithmetic makes the
    total the sum of theirs, to the digit."""

    __slots__ = ("_model", "_one_by_one", "_plan", "_pricer", "_sums")

    def __init__(self, pricer: Pricer, model: ModelInfo) -> None:
        self._pricer, self._model = pricer, model
        self._plan = pricer._plan(model)
        # id(prices) -> [prices, usages, prompt tokens, completion tokens, images]
        self._sums: dict[int, list] = {}
        self._one_by_one: Decimal | None = _ZERO  # the usages priced alone (None: unknown)

    def add(self, prompt_tokens: int, completion_tokens: int, images: int, at: datetime) -> None:
        prices = _plain_prices(self._plan, prompt_tokens, completion_tokens, images, 0, at)
        if type(prices) is not tuple:
            if self._one_by_one is None:
                return
            if prices is _SLOW:
                prices = self._pricer.tokens_total(
                    self._model, prompt_tokens, completion_tokens, images, at
                )
            # unknown (a variable price applies: so is the sum), or an exact 0
            self._one_by_one = None if prices is None else self._one_by_one + prices  # type: ignore[operator]
            return
        held = self._sums.get(id(prices))
        if held is None:
            self._sums[id(prices)] = [prices, 1, prompt_tokens, completion_tokens, images]
        else:
            held[1] += 1
            held[2] += prompt_tokens
            held[3] += completion_tokens
            held[4] += images

    def total(self) -> Decimal | None:
        """The sum, or None when a usage's price is unknown."""
        total = self._one_by_one
        for prices, usages, prompt, completion, images in self._sums.values():
            if total is None:
                return None
            part = _lines_total(prices, prompt, completion, usages, images, 0)
            try:
                total = None if part is None else _EXACT.add(total, part)
            except (Inexact, Overflow, InvalidOperation):
                return None
        return total


# --------------------------------------------------------------------------- display


def per_million(price_per_token: Decimal) -> Decimal:
    """A per-token price as a price per million tokens (exact)."""
    try:
        with localcontext(_EXACT):
            return price_per_token.scaleb(6)
    except (Inexact, Overflow, InvalidOperation):
        # only reachable for a price outside the parsed range: display it rounded
        with localcontext(_EXACT.copy()) as ctx:
            ctx.traps[Inexact] = ctx.traps[Overflow] = False
            return price_per_token.scaleb(6)


def _group(text: str) -> str:
    whole, _, frac = text.partition(".")
    grouped = f"{int(whole):,}"
    return f"{grouped}.{frac}" if frac else grouped


def format_usd(amount: Decimal | None, places: int = 6) -> str:
    """``amount`` as dollars for display: ``"$0.008755"``, ``"$1,234.50"``, ``"$0.00"``.

    Rounds half-up to ``places`` decimals, then drops trailing zeros down to cents. A
    non-zero amount that would round to zero shows as ``"<$0.000001"`` (never as $0).
    ``None`` (an unknown cost) shows as ``"unknown"``. Whether 0 reads as "free" is the
    caller's business.
    """
    if amount is None:
        return "unknown"
    if places < 0:
        raise ValueError("places must not be negative")
    if amount == 0:
        return "$0.00"
    sign = "-" if amount < 0 else ""
    magnitude = abs(amount)
    if not magnitude.is_finite() or magnitude.adjusted() >= 60:
        return f"{sign}${magnitude:.6E}"  # beyond any real amount: no 60-digit display
    step = Decimal(1).scaleb(-places)
    with localcontext(_EXACT.copy()) as ctx:
        ctx.traps[Inexact] = False
        rounded = magnitude.quantize(step, rounding=ROUND_HALF_UP)
    if rounded == 0:
        return f"{sign}<${step:f}"
    text = f"{rounded:f}"
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0")
        frac = frac.ljust(2, "0")
        text = f"{whole}.{frac}"
    else:
        text = f"{text}.00"
    return f"{sign}${_group(text)}"


def format_per_million(price_per_token: Decimal | None, places: int = 4) -> str:
    """A per-token price as ``"$2.50/M"``; ``"unknown"`` for None, ``"variable"`` if negative."""
    if price_per_token is None:
        return "unknown"
    if price_per_token < 0:
        return "variable"
    return f"{format_usd(per_million(price_per_token), places)}/M"


# --------------------------------------------------------------------------- projection


@dataclass(frozen=True, slots=True)
class Projection:
    """What a steady workload costs: per request, per day, per month (``None`` = unknown)."""

    per_request: Decimal | None
    requests_per_day: int
    days: int
    per_day: Decimal | None
    per_month: Decimal | None


def _check_counts(requests_per_day: int, days: int) -> None:
    if requests_per_day < 0:
        raise ValueError("requests_per_day must not be negative")
    if days < 0:
        raise ValueError("days must not be negative")


def project(per_request: Decimal | None, requests_per_day: int, days: int = 30) -> Projection:
    """Exact projection of ``requests_per_day`` requests at ``per_request`` over ``days``."""
    _check_counts(requests_per_day, days)
    if per_request is None:
        return Projection(None, requests_per_day, days, None, None)
    try:
        with localcontext(_EXACT):
            per_day = per_request * requests_per_day
            per_month = per_day * days
    except (Inexact, Overflow, InvalidOperation):
        raise ValueError("the projection is too large to compute exactly") from None
    return Projection(per_request, requests_per_day, days, per_day, per_month)


def monthly_projection(
    per_request: Decimal | None, requests_per_day: int, days: int = 30
) -> Decimal | None:
    """``per_request x requests_per_day x days``, exact; ``None`` when the price is unknown."""
    return project(per_request, requests_per_day, days).per_month


# --------------------------------------------------------------------------- free tier


def credits_unlock_higher_cap(total_credits_purchased: Decimal | None) -> bool | None:
    """Whether an all-time credits total lifts the free daily cap (``None`` if unknown)."""
    if total_credits_purchased is None:
        return None
    return total_credits_purchased >= CREDITS_FOR_HIGHER_FREE_CAP


def free_tier_limits(credits_purchased: bool | None) -> FreeLimits:
    """OpenRouter's account-wide free-model limits for an account.

    20 requests per minute; 50 per UTC day, or 1000 once at least 10 credits were ever
    bought. ``credits_purchased=None`` (not known) assumes the lower cap.
    """
    base = FreeLimits()
    per_day = base.per_day_with_credits if credits_purchased else base.per_day
    return FreeLimits(
        per_minute=base.per_minute,
        per_day=per_day,
        per_day_with_credits=base.per_day_with_credits,
    )


def free_daily_cap(credits_purchased: bool | None) -> int:
    """Free-model requests allowed per UTC day: 50, or 1000 after a 10-credit purchase."""
    return free_tier_limits(credits_purchased).per_day
