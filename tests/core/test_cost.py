"""Cost estimation: exact Decimal totals, overrides, tiers, display and projections."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locallama_gui.core.catalogue import parse_openrouter_models
from locallama_gui.core.cost import (
    BREAKDOWN_KEYS,
    VARIABLE_REASON,
    Projection,
    credits_unlock_higher_cap,
    effective_prices,
    estimate_cost,
    format_per_million,
    format_usd,
    free_daily_cap,
    free_tier_limits,
    monthly_projection,
    per_million,
    project,
)
from locallama_gui.core.models import (
    CostEstimate,
    FreeLimits,
    ModelInfo,
    PriceOverride,
    Pricing,
    Source,
    Tier,
    Usage,
)

D = Decimal


def prices(**kw: str) -> dict[str, Decimal]:
    return {k: D(v) for k, v in kw.items()}


def paid(
    pricing_prices: dict[str, Decimal],
    overrides: tuple[PriceOverride, ...] = (),
    discount: Decimal | None = None,
    model_id: str = "acme/model",
) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name="Acme: Model",
        source=Source.OPENROUTER,
        tier=Tier.PAID,
        pricing=Pricing(prices=pricing_prices, overrides=overrides, discount=discount),
    )


def at_utc(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 8, 14, hour, minute, tzinfo=UTC)


@functools.cache
def _catalogue(path: Path) -> dict[str, ModelInfo]:
    payload = json.loads(path.read_text("utf-8"))
    return {m.id: m for m in parse_openrouter_models(payload).models}


@pytest.fixture
def catalogue_2026(data_dir: Path) -> dict[str, ModelInfo]:
    return _catalogue(data_dir / "openrouter" / "models-2026-08-14.json")


@pytest.fixture
def catalogue_2025(data_dir: Path) -> dict[str, ModelInfo]:
    return _catalogue(data_dir / "openrouter" / "models-2025-12-18.json")


# --------------------------------------------------------------------------- paid basics


def test_hand_computed_prompt_and_completion():
    model = paid(prices(prompt="0.0000025", completion="0.00001"))
    est = estimate_cost(model, Usage(prompt_tokens=1234, completion_tokens=567))
    # 1234 * 0.0000025 = 0.003085 ; 567 * 0.00001 = 0.00567
    assert est.total_usd == D("0.008755")
    assert dict(est.breakdown) == {"prompt": D("0.003085"), "completion": D("0.00567")}
    assert est.tier is Tier.PAID
    assert est.is_free is False
    assert est.unknown_reason is None
    assert est.applied_overrides == ()


def test_total_is_exact_without_rounding():
    model = paid(prices(prompt="0.000000033", completion="0.000000137"))
    est = estimate_cost(model, Usage(prompt_tokens=1_000_003, completion_tokens=7))
    assert est.total_usd == D("0.033000099") + D("0.000000959")
    assert est.total_usd == sum(est.breakdown.values())


def test_missing_keys_are_not_billed_and_have_no_line():
    model = paid(prices(prompt="0.000001", completion="0.000002"))
    usage = Usage(
        prompt_tokens=100,
        completion_tokens=10,
        images=3,
        web_searches=2,
        cache_read_tokens=40,
        reasoning_tokens=5,
    )
    est = estimate_cost(model, usage)
    assert set(est.breakdown) == {"prompt", "completion"}
    # cache reads stay in the prompt and reasoning stays in the completion
    assert est.total_usd == D("100") * D("0.000001") + D("10") * D("0.000002")


def test_zero_quantity_gets_no_line_but_listed_zero_price_does():
    model = paid(prices(prompt="0.000001", completion="0.000002", request="0", web_search="0.01"))
    est = estimate_cost(model, Usage(prompt_tokens=10, completion_tokens=0))
    assert set(est.breakdown) == {"prompt", "request"}
    assert est.breakdown["request"] == 0
    assert est.total_usd == D("0.00001")


def test_cache_read_and_write_billed_at_their_own_prices():
    model = paid(
        prices(
            prompt="0.000002",
            completion="0.000008",
            input_cache_read="0.0000002",
            input_cache_write="0.0000025",
        )
    )
    usage = Usage(
        prompt_tokens=10_000,
        completion_tokens=100,
        cache_read_tokens=6_000,
        cache_write_tokens=3_000,
    )
    est = estimate_cost(model, usage)
    assert est.breakdown["prompt"] == D("1000") * D("0.000002")  # 10000 - 6000 - 3000
    assert est.breakdown["cache_read"] == D("6000") * D("0.0000002")
    assert est.breakdown["cache_write"] == D("3000") * D("0.0000025")
    assert est.breakdown["completion"] == D("0.0008")
    assert est.total_usd == D("0.002") + D("0.0012") + D("0.0075") + D("0.0008")


def test_cache_write_without_its_price_stays_in_prompt():
    model = paid(prices(prompt="0.000002", completion="0.000008", input_cache_read="0.0000002"))
    usage = Usage(prompt_tokens=1000, cache_read_tokens=400, cache_write_tokens=100)
    est = estimate_cost(model, usage)
    assert est.breakdown["prompt"] == D("600") * D("0.000002")
    assert "cache_write" not in est.breakdown
    assert est.total_usd == D("0.0012") + D("0.00008")


def test_reasoning_billed_at_internal_reasoning_and_not_twice():
    model = paid(prices(prompt="0", completion="0.000008", internal_reasoning="0.000003"))
    est = estimate_cost(model, Usage(completion_tokens=1000, reasoning_tokens=700))
    assert est.breakdown["completion"] == D("300") * D("0.000008")
    assert est.breakdown["reasoning"] == D("700") * D("0.000003")
    assert est.total_usd == D("0.0024") + D("0.0021")


def test_reasoning_without_its_price_is_part_of_completion():
    model = paid(prices(prompt="0", completion="0.000008"))
    with_reasoning = estimate_cost(model, Usage(completion_tokens=1000, reasoning_tokens=700))
    without = estimate_cost(model, Usage(completion_tokens=1000))
    assert with_reasoning.total_usd == without.total_usd == D("0.008")
    assert "reasoning" not in with_reasoning.breakdown


def test_zero_internal_reasoning_placeholder_does_not_make_reasoning_free(catalogue_2025):
    r1 = catalogue_2025["deepseek/deepseek-r1"]
    assert r1.pricing is not None and r1.pricing.get("internal_reasoning") == 0
    est = estimate_cost(r1, Usage(completion_tokens=1000, reasoning_tokens=900))
    assert est.total_usd == D(1000) * r1.pricing.prices["completion"]
    assert "reasoning" not in est.breakdown


def test_per_request_image_and_search_units():
    model = paid(
        prices(prompt="0.000001", completion="0.000002", request="0.005", image="0.002")
        | prices(web_search="0.01")
    )
    usage = Usage(prompt_tokens=100, completion_tokens=50, images=2, web_searches=3)
    est = estimate_cost(model, usage)
    assert est.breakdown["request"] == D("0.005")
    assert est.breakdown["image"] == D("0.004")
    assert est.breakdown["web_search"] == D("0.03")
    assert est.total_usd == D("0.0001") + D("0.0001") + D("0.005") + D("0.004") + D("0.03")


def test_requests_multiply_every_line():
    model = paid(
        prices(prompt="0.000001", completion="0.000002", request="0.005", web_search="0.01")
    )
    one = estimate_cost(model, Usage(prompt_tokens=100, completion_tokens=50, web_searches=1))
    many = estimate_cost(
        model, Usage(prompt_tokens=100, completion_tokens=50, web_searches=1, requests=7)
    )
    assert one.total_usd is not None and many.total_usd is not None
    assert many.total_usd == one.total_usd * 7
    assert {k: v * 7 for k, v in one.breakdown.items()} == dict(many.breakdown)


def test_breakdown_keys_are_from_the_documented_set():
    model = paid(
        prices(
            prompt="1",
            completion="1",
            internal_reasoning="2",
            input_cache_read="0.1",
            input_cache_write="1.5",
            request="1",
            image="1",
            web_search="1",
        )
    )
    usage = Usage(
        prompt_tokens=10,
        completion_tokens=10,
        reasoning_tokens=1,
        cache_read_tokens=1,
        cache_write_tokens=1,
        images=1,
        web_searches=1,
    )
    est = estimate_cost(model, usage)
    assert set(est.breakdown) == set(BREAKDOWN_KEYS)


def test_discount_is_carried_not_applied():
    model = paid(prices(prompt="0.000001", completion="0.000002"), discount=D("0.25"))
    est = estimate_cost(model, Usage(prompt_tokens=1000, completion_tokens=1000))
    assert est.total_usd == D("0.003")
    assert model.pricing is not None and model.pricing.discount == D("0.25")


@pytest.mark.parametrize(
    "usage",
    [
        Usage(prompt_tokens=-1),
        Usage(completion_tokens=-5),
        Usage(requests=-1),
        Usage(prompt_tokens=10, cache_read_tokens=8, cache_write_tokens=3),
        Usage(completion_tokens=10, reasoning_tokens=11),
    ],
)
def test_inconsistent_usage_is_rejected(usage):
    model = paid(prices(prompt="0.000001", completion="0.000002"))
    with pytest.raises(ValueError):
        estimate_cost(model, usage)


# --------------------------------------------------------------------------- tiers


def test_free_model_costs_exactly_zero_with_limits():
    model = ModelInfo(
        id="acme/model:free",
        name="Acme (free)",
        source=Source.OPENROUTER,
        tier=Tier.FREE,
        pricing=Pricing(prices=prices(prompt="0", completion="0")),
    )
    est = estimate_cost(model, Usage(prompt_tokens=10_000, completion_tokens=5_000))
    assert est.total_usd == D("0")
    assert isinstance(est.total_usd, Decimal)
    assert est.is_free is True
    assert est.free_limits == FreeLimits()
    assert est.unknown_reason is None


def test_local_model_costs_zero_without_free_quota():
    model = ModelInfo(id="llama3:8b", name="llama3:8b", source=Source.OLLAMA, tier=Tier.LOCAL)
    est = estimate_cost(model, Usage(prompt_tokens=5000, completion_tokens=5000))
    assert est.total_usd == D(0)
    assert est.tier is Tier.LOCAL
    assert est.free_limits is None


def test_variable_router_is_unknown_never_zero(catalogue_2026):
    auto = catalogue_2026["openrouter/auto"]
    assert auto.tier is Tier.VARIABLE
    est = estimate_cost(auto, Usage(prompt_tokens=100, completion_tokens=100))
    assert est.total_usd is None
    assert est.unknown_reason == VARIABLE_REASON
    assert est.is_free is False


def test_unknown_tier_has_a_reason():
    model = ModelInfo(
        id="acme/image-gen",
        name="Acme image",
        source=Source.OPENROUTER,
        tier=Tier.UNKNOWN,
        pricing=Pricing(prices=prices(prompt="0", completion="0", image_output="0.00003")),
        output_modalities=("image",),
    )
    est = estimate_cost(model, Usage(prompt_tokens=10))
    assert est.total_usd is None
    assert est.unknown_reason


def test_negative_price_on_paid_model_is_guarded():
    model = paid(prices(prompt="-1", completion="-1"))
    est = estimate_cost(model, Usage(prompt_tokens=10, completion_tokens=10))
    assert est.total_usd is None
    assert est.unknown_reason


def test_negative_price_from_an_override_is_guarded():
    model = paid(
        prices(prompt="0.000001", completion="0.000002"),
        overrides=(PriceOverride(prices=prices(prompt="-1"), min_prompt_tokens=100),),
    )
    assert estimate_cost(model, Usage(prompt_tokens=100)).total_usd == D("0.0001")
    est = estimate_cost(model, Usage(prompt_tokens=101))
    assert est.total_usd is None
    assert est.applied_overrides == (0,)


def test_paid_without_pricing_is_unknown():
    model = ModelInfo(id="x/y", name="x", source=Source.OPENROUTER, tier=Tier.PAID)
    est = estimate_cost(model, Usage(prompt_tokens=1))
    assert est.total_usd is None
    assert est.unknown_reason


# --------------------------------------------------------------------------- overrides


LONG_CONTEXT = paid(
    prices(prompt="0.000002", completion="0.000006", input_cache_read="0.0000005"),
    overrides=(
        PriceOverride(
            prices=prices(prompt="0.000004", completion="0.000012", input_cache_read="0.000001"),
            min_prompt_tokens=200_000,
        ),
    ),
)


def test_min_prompt_tokens_boundary_is_strict():
    at_limit = estimate_cost(LONG_CONTEXT, Usage(prompt_tokens=200_000, completion_tokens=1000))
    assert at_limit.applied_overrides == ()
    assert at_limit.total_usd == D(200_000) * D("0.000002") + D(1000) * D("0.000006")

    over = estimate_cost(LONG_CONTEXT, Usage(prompt_tokens=200_001, completion_tokens=1000))
    assert over.applied_overrides == (0,)
    assert over.effective_prices["prompt"] == D("0.000004")
    assert over.total_usd == D(200_001) * D("0.000004") + D(1000) * D("0.000012")


def test_min_prompt_tokens_override_on_real_capture(catalogue_2026):
    grok = catalogue_2026["x-ai/grok-4.6"]
    assert grok.pricing is not None
    threshold = grok.pricing.overrides[0].min_prompt_tokens
    assert threshold == 200_000
    base, applied = effective_prices(grok.pricing, threshold, None)
    assert applied == ()
    assert base["prompt"] == D("0.000002")
    assert base["web_search"] == D("0.005")
    high, applied = effective_prices(grok.pricing, threshold + 1, None)
    assert applied == (0,)
    assert high["prompt"] == D("0.000004")
    assert high["input_cache_read"] == D("0.000001")
    assert high["web_search"] == D("0.005")  # keys the override does not name are kept


def test_later_override_wins_per_key():
    pricing = Pricing(
        prices=prices(prompt="1", completion="10"),
        overrides=(
            PriceOverride(prices=prices(prompt="2", completion="20"), min_prompt_tokens=10),
            PriceOverride(prices=prices(prompt="3"), min_prompt_tokens=100),
        ),
    )
    got, applied = effective_prices(pricing, 101, None)
    assert applied == (0, 1)
    assert got == {"prompt": D(3), "completion": D(20)}
    got, applied = effective_prices(pricing, 50, None)
    assert applied == (0,)
    assert got == {"prompt": D(2), "completion": D(20)}


def test_real_qwen_tiers_stack(catalogue_2026):
    qwen = catalogue_2026["qwen/qwen3.7-flash"]
    assert qwen.pricing is not None
    assert effective_prices(qwen.pricing, 32_000, None)[1] == ()
    assert effective_prices(qwen.pricing, 32_001, None)[1] == (0,)
    got, applied = effective_prices(qwen.pricing, 256_001, None)
    assert applied == (0, 1)
    assert got["prompt"] == D("0.0000002")
    assert got["input_cache_write"] == D("0.00000025")


# The real deepseek/deepseek-v4-pro-0813 windows: 1000->0100 (wraps), 0100->0400,
# 0400->0600, 0600->1000; 0100-0400 and 0600-1000 are the doubled prices.
@pytest.mark.parametrize(
    ("hour", "minute", "index", "prompt"),
    [
        (10, 0, 0, "0.00000066"),
        (23, 59, 0, "0.00000066"),
        (0, 0, 0, "0.00000066"),
        (0, 59, 0, "0.00000066"),
        (1, 0, 1, "0.00000132"),
        (3, 59, 1, "0.00000132"),
        (4, 0, 2, "0.00000066"),
        (5, 59, 2, "0.00000066"),
        (6, 0, 3, "0.00000132"),
        (9, 59, 3, "0.00000132"),
    ],
)
def test_time_windows_on_real_capture(catalogue_2026, hour, minute, index, prompt):
    model = catalogue_2026["deepseek/deepseek-v4-pro-0813"]
    assert model.pricing is not None
    got, applied = effective_prices(model.pricing, 1000, at_utc(hour, minute))
    assert applied == (index,)
    assert got["prompt"] == D(prompt)
    est = estimate_cost(
        model, Usage(prompt_tokens=1_000_000, completion_tokens=0), at_utc(hour, minute)
    )
    assert est.total_usd == D(prompt) * 1_000_000
    assert est.applied_overrides == (index,)


def test_time_window_uses_utc_of_an_aware_datetime(catalogue_2026):
    model = catalogue_2026["deepseek/deepseek-v4-pro-0813"]
    assert model.pricing is not None
    # 08:30 at UTC+6 is 02:30 UTC: inside 0100-0400
    local = datetime(2026, 8, 14, 8, 30, tzinfo=timezone(timedelta(hours=6)))
    assert effective_prices(model.pricing, 10, local)[1] == (1,)
    # a naive datetime is taken as UTC
    assert effective_prices(model.pricing, 10, datetime(2026, 8, 14, 8, 30))[1] == (3,)


def test_no_time_means_listed_prices(catalogue_2026):
    model = catalogue_2026["deepseek/deepseek-v4-pro-0813"]
    assert model.pricing is not None
    got, applied = effective_prices(model.pricing, 10, None)
    assert applied == ()
    assert got == dict(model.pricing.prices)


def test_window_start_equal_end_is_all_day_and_conditions_combine():
    pricing = Pricing(
        prices=prices(prompt="1"),
        overrides=(
            PriceOverride(prices=prices(prompt="2"), utc_start=500, utc_end=500),
            PriceOverride(
                prices=prices(prompt="3"), min_prompt_tokens=100, utc_start=2200, utc_end=200
            ),
        ),
    )
    assert effective_prices(pricing, 0, at_utc(13)) == ({"prompt": D(2)}, (0,))
    assert effective_prices(pricing, 101, at_utc(13)) == ({"prompt": D(2)}, (0,))
    assert effective_prices(pricing, 100, at_utc(23)) == ({"prompt": D(2)}, (0,))
    assert effective_prices(pricing, 101, at_utc(23)) == ({"prompt": D(3)}, (0, 1))
    assert effective_prices(pricing, 101, at_utc(1, 59)) == ({"prompt": D(3)}, (0, 1))
    assert effective_prices(pricing, 101, at_utc(2)) == ({"prompt": D(2)}, (0,))
    # with no time, neither window applies
    assert effective_prices(pricing, 101, None) == ({"prompt": D(1)}, ())


# --------------------------------------------------------------------------- real catalogue sweep


def test_every_real_model_prices_without_error(catalogue_2026, catalogue_2025):
    usage = Usage(
        prompt_tokens=300_000,
        completion_tokens=2_000,
        reasoning_tokens=500,
        cache_read_tokens=1_000,
        cache_write_tokens=500,
        images=1,
        web_searches=1,
    )
    for model in [*catalogue_2026.values(), *catalogue_2025.values()]:
        est = estimate_cost(model, usage, at_utc(12))
        if model.tier in (Tier.VARIABLE, Tier.UNKNOWN):
            assert est.total_usd is None and est.unknown_reason, model.id
        else:
            assert est.total_usd is not None and est.total_usd >= 0, model.id
            assert est.total_usd == sum(est.breakdown.values(), D(0)), model.id
        if model.tier is Tier.FREE:
            assert est.total_usd == 0 and est.is_free, model.id


# --------------------------------------------------------------------------- properties

price_values = st.decimals(
    min_value=D(0), max_value=D("0.001"), places=12, allow_nan=False, allow_infinity=False
)
unit_prices = st.decimals(
    min_value=D(0), max_value=D("1"), places=6, allow_nan=False, allow_infinity=False
)
counts = st.integers(min_value=0, max_value=2_000_000)
small = st.integers(min_value=0, max_value=50)


@st.composite
def paid_models(draw) -> ModelInfo:
    listed: dict[str, Decimal] = {"prompt": draw(price_values), "completion": draw(price_values)}
    for key in ("internal_reasoning", "input_cache_read", "input_cache_write"):
        if draw(st.booleans()):
            listed[key] = draw(price_values)
    for key in ("request", "image", "web_search"):
        if draw(st.booleans()):
            listed[key] = draw(unit_prices)
    return paid(listed)


@st.composite
def usages(draw) -> Usage:
    prompt = draw(counts)
    cache_read = draw(st.integers(min_value=0, max_value=prompt))
    cache_write = draw(st.integers(min_value=0, max_value=prompt - cache_read))
    completion = draw(counts)
    reasoning = draw(st.integers(min_value=0, max_value=completion))
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        reasoning_tokens=reasoning,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        images=draw(small),
        web_searches=draw(small),
        requests=draw(st.integers(min_value=1, max_value=1000)),
    )


def total(model: ModelInfo, usage: Usage) -> Decimal:
    est = estimate_cost(model, usage)
    assert est.total_usd is not None
    return est.total_usd


@given(usage=usages(), listed=st.dictionaries(st.sampled_from(BREAKDOWN_KEYS), price_values))
def test_free_model_always_costs_exactly_zero(usage, listed):
    model = ModelInfo(
        id="acme/m:free",
        name="m",
        source=Source.OPENROUTER,
        tier=Tier.FREE,
        pricing=Pricing(prices=listed),
    )
    est = estimate_cost(model, usage)
    assert est.total_usd == D(0) and est.is_free


@given(model=paid_models(), usage=usages())
def test_paid_cost_never_negative_and_equals_breakdown(model, usage):
    est = estimate_cost(model, usage)
    assert est.total_usd is not None and est.total_usd >= 0
    assert est.total_usd == sum(est.breakdown.values(), D(0))
    assert all(v >= 0 for v in est.breakdown.values())


@given(model=paid_models(), usage=usages(), extra=st.integers(min_value=1, max_value=100_000))
def test_paid_cost_monotone_in_each_count(model, usage, extra):
    base = total(model, usage)
    bigger = [
        Usage(**{**_fields(usage), "prompt_tokens": usage.prompt_tokens + extra}),
        Usage(**{**_fields(usage), "completion_tokens": usage.completion_tokens + extra}),
        Usage(**{**_fields(usage), "images": usage.images + extra}),
        Usage(**{**_fields(usage), "web_searches": usage.web_searches + extra}),
        Usage(**{**_fields(usage), "requests": usage.requests + extra}),
        # cached / reasoning tokens are part of the prompt / completion: add them with it
        Usage(
            **{
                **_fields(usage),
                "prompt_tokens": usage.prompt_tokens + extra,
                "cache_read_tokens": usage.cache_read_tokens + extra,
            }
        ),
        Usage(
            **{
                **_fields(usage),
                "prompt_tokens": usage.prompt_tokens + extra,
                "cache_write_tokens": usage.cache_write_tokens + extra,
            }
        ),
        Usage(
            **{
                **_fields(usage),
                "completion_tokens": usage.completion_tokens + extra,
                "reasoning_tokens": usage.reasoning_tokens + extra,
            }
        ),
    ]
    for more in bigger:
        assert total(model, more) >= base, more


@given(model=paid_models(), usage=usages(), n=st.integers(min_value=0, max_value=500))
def test_cost_is_additive_over_requests(model, usage, n):
    one = total(model, Usage(**{**_fields(usage), "requests": 1}))
    assert total(model, Usage(**{**_fields(usage), "requests": n})) == one * n
    a = total(model, usage)
    b = total(model, Usage(**{**_fields(usage), "requests": n}))
    assert total(model, Usage(**{**_fields(usage), "requests": usage.requests + n})) == a + b


def _fields(usage: Usage) -> dict[str, int]:
    return {name: getattr(usage, name) for name in Usage.__slots__}


# --------------------------------------------------------------------------- display


def test_per_million_is_exact():
    assert per_million(D("0.0000025")) == D("2.5")
    assert per_million(D("0.000000022")) == D("0.022")
    assert per_million(D("0.00000000001")) == D("0.00001")


@pytest.mark.parametrize(
    ("amount", "places", "text"),
    [
        (None, 6, "unknown"),
        (D(0), 6, "$0.00"),
        (D("0.008755"), 6, "$0.008755"),
        (D("0.0087555"), 6, "$0.008756"),
        (D("1234.5"), 6, "$1,234.50"),
        (D("12"), 2, "$12.00"),
        (D("0.0000001"), 6, "<$0.000001"),
        (D("-2.5"), 6, "-$2.50"),
        (D("0.125"), 2, "$0.13"),
    ],
)
def test_format_usd(amount, places, text):
    assert format_usd(amount, places) == text


def test_format_per_million():
    assert format_per_million(D("0.0000025")) == "$2.50/M"
    assert format_per_million(D("0.000000022")) == "$0.022/M"
    assert format_per_million(D(0)) == "$0.00/M"
    assert format_per_million(None) == "unknown"
    assert format_per_million(D(-1)) == "variable"


def test_projection():
    proj = project(D("0.008755"), 100)
    assert proj == Projection(D("0.008755"), 100, 30, D("0.8755"), D("26.265"))
    assert monthly_projection(D("0.008755"), 100) == D("26.265")
    assert monthly_projection(D("0.01"), 10, days=7) == D("0.7")
    assert monthly_projection(None, 100) is None
    assert project(None, 5).per_day is None
    with pytest.raises(ValueError):
        monthly_projection(D("0.01"), -1)


def test_projection_from_estimate():
    model = paid(prices(prompt="0.0000025", completion="0.00001"))
    est: CostEstimate = estimate_cost(model, Usage(prompt_tokens=1234, completion_tokens=567))
    assert monthly_projection(est.total_usd, 1000) == D("262.65")


# --------------------------------------------------------------------------- free tier


def test_free_tier_limits():
    assert free_tier_limits(False).per_day == 50
    assert free_tier_limits(None).per_day == 50
    assert free_tier_limits(True).per_day == 1000
    assert free_tier_limits(True).per_minute == 20
    assert free_daily_cap(False) == 50
    assert free_daily_cap(True) == 1000


def test_credits_threshold():
    assert credits_unlock_higher_cap(D("9.99")) is False
    assert credits_unlock_higher_cap(D("10")) is True
    assert credits_unlock_higher_cap(None) is None
    assert free_daily_cap(credits_unlock_higher_cap(D("25"))) == 1000


# --------------------------------------------------------------------------- Pricer


@pytest.mark.parametrize("which", ["catalogue_2025", "catalogue_2026"])
def test_pricer_totals_equal_estimate_cost_on_real_catalogues(which, request):
    """The pricer's fast path gives estimate_cost's total, digit for digit (same exponent),
    on every model of a real catalogue, overrides and time windows included."""
    import random

    from locallama_gui.core.cost import Pricer

    models = list(request.getfixturevalue(which).values())
    rng = random.Random(3)
    pricer = Pricer()
    usages = [Usage(prompt_tokens=0, completion_tokens=0), Usage(prompt_tokens=300_000)]
    for _ in range(40):
        usages.append(
            Usage(
                prompt_tokens=rng.randint(0, 400_000),
                completion_tokens=rng.randint(0, 60_000),
                images=rng.choice([0, 0, 1, 4]),
                web_searches=rng.choice([0, 0, 2]),
            )
        )
    usages.append(Usage(prompt_tokens=500, completion_tokens=90, cache_read_tokens=100))
    usages.append(Usage(prompt_tokens=500, completion_tokens=90, reasoning_tokens=40))
    checked = 0
    for m in models:
        for u in usages:
            at = at_utc(rng.randint(0, 23), rng.randint(0, 59))
            want = estimate_cost(m, u, at).total_usd
            got = pricer.total(m, u, at)
            assert got == want, (m.id, u)
            assert (got is None) or str(got) == str(want), (m.id, u)
            n_in, n_out, images = u.prompt_tokens, u.completion_tokens, u.images
            if u == Usage(prompt_tokens=n_in, completion_tokens=n_out, images=images):
                plain = pricer.tokens_total(m, n_in, n_out, images, at)  # a simulated task's
                assert str(plain) == str(want), (m.id, u)
            checked += 1
    assert checked == len(models) * len(usages)


@pytest.mark.parametrize("which", ["catalogue_2025", "catalogue_2026"])
def test_a_usage_sum_is_the_sum_of_the_usages_totals(which, request):
    """Summed per set of prices and priced once, many usages of one model cost what their
    totals add up to, to the digit; unknown when one of them is (a variable price)."""
    import random

    from locallama_gui.core.cost import Pricer, UsageSum

    models = list(request.getfixturevalue(which).values())
    rng = random.Random(5)
    pricer = Pricer()
    usages = [
        (rng.choice([0, rng.randint(0, 400_000)]), rng.randint(0, 60_000), rng.choice([0, 0, 3]))
        for _ in range(30)
    ]
    moments = [at_utc(rng.randint(0, 23), rng.randint(0, 59)) for _ in usages]
    unknown = 0
    for m in models:
        summed = UsageSum(pricer, m)
        want: Decimal | None = Decimal(0)
        for (n_in, n_out, images), at in zip(usages, moments, strict=True):
            summed.add(n_in, n_out, images, at)
            one = pricer.tokens_total(m, n_in, n_out, images, at)
            want = None if want is None or one is None else want + one
        got = summed.total()
        assert str(got) == str(want), m.id
        unknown += got is None
    assert 0 < unknown < len(models)  # both kinds were summed


def test_pricer_is_exact_and_unknown_where_estimate_cost_is():
    from locallama_gui.core.cost import Pricer

    pricer = Pricer()
    m = paid(prices(prompt="0.000001", completion="0.000002", request="0.001"))
    u = Usage(prompt_tokens=3, completion_tokens=7)
    assert pricer.total(m, u) == Decimal("0.001017")
    # a product of more digits than the exact context holds: unknown, never rounded
    long = paid(prices(prompt="1." + "3" * 150, completion="1"))
    usage = Usage(prompt_tokens=10**60 + 7)
    assert estimate_cost(long, usage).total_usd is None
    assert pricer.total(long, usage) is None
    with pytest.raises(ValueError):
        pricer.total(m, Usage(prompt_tokens=-1))


def test_pricer_applies_overrides_and_their_unknowns_as_estimate_cost_does():
    from locallama_gui.core.cost import Pricer

    pricer = Pricer()
    guarded = paid(
        prices(prompt="0.000001", completion="0.000002"),
        overrides=(PriceOverride(prices=prices(prompt="-1"), min_prompt_tokens=100),),
    )
    assert pricer.total(guarded, Usage(prompt_tokens=100)) == D("0.0001")
    assert pricer.total(guarded, Usage(prompt_tokens=101)) is None
    assert pricer.total(guarded, Usage(prompt_tokens=100)) == D("0.0001")  # cached per set
    for tokens in (200_000, 200_001):
        u = Usage(prompt_tokens=tokens, completion_tokens=10)
        assert pricer.total(LONG_CONTEXT, u) == estimate_cost(LONG_CONTEXT, u).total_usd
    assert pricer.total(LONG_CONTEXT, Usage(prompt_tokens=200_001)) == D("0.800004")
