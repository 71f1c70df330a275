"""Performance profiles: age-weighted figures, shrinkage toward the prior, staleness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from locallama_gui.core.models import Benchmarks, ModelInfo, Pricing, Source, Tier
from locallama_gui.core.profiles import ALL, age_weight, build_profiles, stale_models
from locallama_gui.core.routing import CatalogueIndex, Policy, RoutingContext, Task, route
from locallama_gui.core.samples import PerformanceSample

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=UTC)
D = Decimal


def sample(
    model_id: str = "acme/m",
    *,
    days_ago: float = 0.0,
    category: str = "code",
    success: bool = True,
    quality: float | None = None,
    latency_ms: float | None = 1000.0,
    ttft_ms: float | None = 200.0,
    tps: float | None = 50.0,
) -> PerformanceSample:
    return PerformanceSample(
        model_id=model_id,
        source="openrouter",
        category=category,
        ts=NOW - timedelta(days=days_ago),
        success=success,
        quality=quality,
        latency_ms=latency_ms,
        ttft_ms=ttft_ms,
        tokens_per_s=tps,
    )


def model(model_id: str = "acme/m", intelligence: float = 35.0) -> ModelInfo:
    # intelligence 35 -> prior 0.30 + 0.62 * 0.5 = 0.61
    return ModelInfo(
        id=model_id,
        name=model_id,
        source=Source.OPENROUTER,
        tier=Tier.PAID,
        pricing=Pricing(prices={"prompt": D("0.000001"), "completion": D("0.000002")}),
        context_length=100000,
        benchmarks=Benchmarks(intelligence_index=intelligence),
    )


def test_figures_per_category_and_overall():
    profiles = build_profiles(
        [
            sample(category="code", quality=0.9, latency_ms=1000),
            sample(category="code", quality=0.7, latency_ms=3000),
            sample(category="chat", quality=0.2, success=False, latency_ms=99999),
        ],
        NOW,
    )
    prof = profiles["acme/m"]
    code = prof.for_category("code")
    assert code.count == 2 and code.weight == pytest.approx(2.0)
    assert code.quality == pytest.approx(0.8)
    assert code.latency_ms == pytest.approx(2000)
    assert code.success_rate == 1.0
    overall = prof.overall
    assert overall is prof.by_category[ALL]
    assert overall.count == 3
    assert overall.success_rate == pytest.approx(2 / 3)
    assert overall.quality == pytest.approx(0.6)
    # failed requests do not count toward speed figures
    assert overall.latency_ms == pytest.approx(2000)
    assert prof.for_category("math") is None
    assert prof.for_category(None) is None


def test_half_life_weighting():
    assert age_weight(NOW - timedelta(days=14), NOW, 14.0) == pytest.approx(0.5)
    assert age_weight(NOW - timedelta(days=28), NOW, 14.0) == pytest.approx(0.25)
    assert age_weight(NOW + timedelta(days=1), NOW, 14.0) == 1.0  # future: not above 1
    profiles = build_profiles(
        [sample(days_ago=0, quality=1.0), sample(days_ago=14, quality=0.0)], NOW
    )
    obs = profiles["acme/m"].for_category("code")
    # the new sample weighs twice the 14-day-old one: (1*1 + 0.5*0) / 1.5
    assert obs.quality == pytest.approx(2 / 3)
    assert obs.weight == pytest.approx(1.5)
    assert obs.count == 2
    # a shorter half-life trusts the old sample even less
    short = build_profiles(
        [sample(days_ago=0, quality=1.0), sample(days_ago=14, quality=0.0)], NOW, half_life_days=7
    )
    assert short["acme/m"].for_category("code").quality > obs.quality


def test_success_rate_is_age_weighted():
    profiles = build_profiles(
        [sample(days_ago=14, success=True), sample(days_ago=0, success=False)], NOW
    )
    # the old success weighs 0.5, the fresh failure 1
    assert profiles["acme/m"].overall.success_rate == pytest.approx(1 / 3)


def test_naive_timestamps_rejected_by_samples_but_profiles_accept_utc():
    with pytest.raises(ValueError):
        PerformanceSample(
            model_id="a", source="x", category="c", ts=datetime(2026, 1, 1), success=True
        )
    p = build_profiles([sample()], datetime(2026, 8, 14, 12, 0))  # naive now taken as UTC
    assert p["acme/m"].overall.weight == pytest.approx(1.0)


def _observed_quality(n: int, q: float, days_ago: float = 0.0) -> float:
    m = model()
    samples = [sample(quality=q, days_ago=days_ago) for _ in range(n)]
    index = CatalogueIndex([m], build_profiles(samples, NOW))
    return index.quality("code")[0][0]


def test_observed_quality_moves_q_with_shrinkage():
    prior = CatalogueIndex([model()]).quality("code")[0][0]
    assert prior == pytest.approx(0.61)
    one = _observed_quality(1, 1.0)
    few = _observed_quality(4, 1.0)
    many = _observed_quality(100, 1.0)
    assert prior < one < few < many < 1.0
    assert one - prior < 0.1  # one sample moves it little
    assert many > 0.98  # many samples nearly reach the observation
    assert few == pytest.approx((prior + 1.0) / 2)  # equal weight at PRIOR_STRENGTH samples
    # downward too
    assert _observed_quality(20, 0.0) < 0.15


def test_older_samples_move_q_less():
    fresh = _observed_quality(6, 1.0, days_ago=0)
    old = _observed_quality(6, 1.0, days_ago=60)
    prior = CatalogueIndex([model()]).quality("code")[0][0]
    assert prior < old < fresh


def test_other_category_observations_count_half():
    m = model()
    samples = [sample(category="chat", quality=1.0) for _ in range(4)]
    index = CatalogueIndex([m], build_profiles(samples, NOW))
    prior = CatalogueIndex([m]).quality("code")[0][0]
    code = index.quality("code")[0][0]
    chat = index.quality("chat")[0][0]
    assert prior < code < chat
    # overall weight 4 counted as 2 for another category
    assert code == pytest.approx((4 * prior + 2 * 1.0) / 6)


def test_ungraded_samples_leave_quality_at_the_prior():
    index = CatalogueIndex([model()], build_profiles([sample() for _ in range(10)], NOW))
    assert index.quality("code")[0][0] == pytest.approx(0.61)


def test_poor_observed_success_ranks_lower():
    a, b = model("acme/a"), model("acme/b")
    task = Task(prompt_tokens=100, complexity=0.2)
    fair = route(task, Policy(), RoutingContext.build([a, b], NOW))
    assert fair.chain_ids == ("acme/a", "acme/b")
    flaky = [sample("acme/a", success=k % 3 == 0, days_ago=k / 10) for k in range(30)]
    steady = [sample("acme/b", success=True, days_ago=k / 10) for k in range(30)]
    d = route(
        task, Policy(), RoutingContext.build([a, b], NOW, build_profiles([*flaky, *steady], NOW))
    )
    assert d.chain_ids == ("acme/b", "acme/a")
    by_id = {c.id: c for c in d.candidates}
    assert by_id["acme/a"].factors["reliability"] < 0 == by_id["acme/b"].factors["reliability"]


def test_observed_speed_changes_expected_latency():
    a = model("acme/a")
    slow = [sample("acme/a", ttft_ms=8000, tps=5) for _ in range(40)]
    before = route(Task(prompt_tokens=10), Policy(), RoutingContext.build([a], NOW))
    after = route(
        Task(prompt_tokens=10), Policy(), RoutingContext.build([a], NOW, build_profiles(slow, NOW))
    )
    assert after.chosen.latency_s > 5 * before.chosen.latency_s


def test_stale_models():
    profiles = build_profiles(
        [
            sample("acme/fresh", days_ago=2),
            sample("acme/old", days_ago=45),
            sample("acme/mixed", days_ago=40),
            sample("acme/mixed", days_ago=29),
        ],
        NOW,
    )
    assert stale_models(profiles, NOW) == ["acme/old"]
    assert stale_models(profiles, NOW, max_age_days=1) == ["acme/fresh", "acme/mixed", "acme/old"]
    assert profiles["acme/mixed"].overall.last_ts == NOW - timedelta(days=29)
    assert stale_models({}, NOW) == []
