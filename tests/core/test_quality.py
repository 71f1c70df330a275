"""Quality priors with evidence and uncertainty (benchmark > base benchmark > fitted estimate >
nothing), the fit's held-out error, classifiers and base models; speed priors."""

from __future__ import annotations

import json
import statistics
from decimal import Decimal
from pathlib import Path

import pytest

from locallama_gui.core.catalogue import parse_ollama_tags, parse_openrouter_models
from locallama_gui.core.models import Benchmarks, LocalDetails, ModelInfo, Pricing, Source, Tier
from locallama_gui.core.quality import (
    BASE_MODEL_CAP,
    BENCHMARK_SD,
    DEFAULT_PRIOR,
    EVIDENCE_BASE_BENCHMARK,
    EVIDENCE_BENCHMARK,
    EVIDENCE_CLASSIFIER,
    EVIDENCE_ESTIMATE,
    EVIDENCE_NOTHING,
    EVIDENCE_OBSERVED,
    NOTHING_SD,
    PriorFit,
    base_id,
    is_base_model,
    params_from_id,
    quality_prior,
    quantization_penalty,
    required_quality,
    speed_prior,
)
from locallama_gui.core.routing import CatalogueIndex

D = Decimal


def orm(
    model_id: str,
    *,
    tier: Tier = Tier.PAID,
    bench: Benchmarks | None = None,
    reasoning: bool = False,
) -> ModelInfo:
    zero = tier is Tier.FREE
    return ModelInfo(
        id=model_id,
        name=model_id,
        source=Source.OPENROUTER,
        tier=tier,
        pricing=Pricing(
            prices={
                "prompt": D(0 if zero else "0.000001"),
                "completion": D(0 if zero else "0.000002"),
            }
        ),
        benchmarks=bench,
        supports_reasoning=reasoning,
    )


def loc(model_id: str, params: float | None, quant: str | None = None, loaded=None) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        source=Source.OLLAMA,
        tier=Tier.LOCAL,
        local=LocalDetails(parameter_count_b=params, quantization=quant, loaded=loaded),
    )


@pytest.fixture
def real(data_dir: Path) -> list[ModelInfo]:
    return list(
        parse_openrouter_models(
            json.loads((data_dir / "openrouter" / "models-2026-08-14.json").read_text())
        ).models
    )


@pytest.fixture
def ollama(data_dir: Path) -> list[ModelInfo]:
    return list(
        parse_ollama_tags(
            json.loads((data_dir / "ollama" / "tags-2026-04.json").read_text())
        ).models
    )


def test_evidence_in_order_benchmark_base_estimate_nothing(real):
    fit = PriorFit.for_models(real)
    assert fit is not None
    with_bench = orm("openai/gpt-5-70b", bench=Benchmarks(intelligence_index=10.0))
    p = quality_prior(with_bench, "chat", fit=fit)
    assert p.evidence == EVIDENCE_BENCHMARK and p.source.startswith("benchmark")
    assert p.quality == pytest.approx(0.30 + 0.62 * 10 / 70)
    assert p.sd == BENCHMARK_SD and p.low == pytest.approx(p.quality - BENCHMARK_SD)
    lent = quality_prior(orm("openai/gpt-5-70b:free", tier=Tier.FREE), "chat", with_bench, fit)
    assert lent.evidence == EVIDENCE_BASE_BENCHMARK and lent.quality == p.quality
    assert lent.sd > p.sd and "openai/gpt-5-70b" in lent.source
    est = quality_prior(orm("acme/unknown-70b"), "chat", fit=fit)
    assert est.evidence == EVIDENCE_ESTIMATE and est.source.startswith("estimate from")
    assert 0.05 < est.sd < NOTHING_SD and est.low < est.quality
    none = quality_prior(orm("acme/mystery"), "chat")  # no fit: nothing known
    assert none.evidence == EVIDENCE_NOTHING and none.quality == DEFAULT_PRIOR
    assert none.sd == NOTHING_SD and none.low == pytest.approx(DEFAULT_PRIOR - NOTHING_SD)


def test_the_fit_beats_the_old_guesses_on_held_out_models(real):
    """The estimate's held-out error is measured, and far below what the size and family
    guesses got wrong (+0.19 and +0.13 too high on average)."""
    fit = PriorFit.for_models(real)
    report = fit.report
    assert report.models == 141 and report.folds == 5
    assert abs(report.bias) < 0.02
    assert report.mae < 0.06 and report.rmse < 0.08
    # fewer facts, wider error: an estimate says how much it knows
    facts = report.by_facts
    assert facts["parameters+price+date"] < facts["vendor only"]
    assert facts["price+date"] < facts["price"] < facts["vendor only"]
    # refitted only when the benchmarked models change
    assert PriorFit.for_models(list(real)) is fit
    fewer = [m for m in real if m.id != next(x.id for x in real if x.benchmarks)]
    assert PriorFit.for_models(fewer) is not fit


def test_a_big_model_without_benchmarks_is_not_rated_from_its_size(real):
    by_id = {m.id: m for m in real}
    index = CatalogueIndex(real)
    _, priors = index.quality("chat")
    qwen = priors[index.by_id["qwen/qwen3-235b-a22b-2507"]]
    assert qwen.evidence == EVIDENCE_ESTIMATE
    assert qwen.quality < 0.7  # the old size rule said 0.85 from "235B"
    assert "parameters" in qwen.source
    assert by_id["qwen/qwen3-235b-a22b-2507"].benchmarks.intelligence_index is None


def test_base_models_are_recognised_and_capped(real):
    fit = PriorFit.for_models(real)
    base = ModelInfo(
        id="meta-llama/llama-3.1-405b",
        name="Meta: Llama 3.1 405B (base)",
        source=Source.OPENROUTER,
        tier=Tier.PAID,
        hugging_face_id="meta-llama/Meta-Llama-3.1-405B",
        pricing=Pricing(prices={"prompt": D("0.000004"), "completion": D("0.000004")}),
    )
    assert is_base_model(base)
    p = quality_prior(base, "math", fit=fit)
    assert p.quality <= BASE_MODEL_CAP and "base model" in p.source
    assert is_base_model(loc("llama3.1:8b-text", 8)) is False
    assert is_base_model(loc("llama3:text", 8))
    assert not is_base_model(orm("acme/database-helper"))
    assert not is_base_model(orm("qwen/qwen2.5-coder-7b-instruct"))


def test_benchmark_scale_and_cap():
    lo = quality_prior(orm("a/x", bench=Benchmarks(intelligence_index=0.0)), None)
    top = quality_prior(orm("a/y", bench=Benchmarks(intelligence_index=70.0)), None)
    over = quality_prior(orm("a/z", bench=Benchmarks(intelligence_index=95.0)), None)
    assert lo.quality == pytest.approx(0.30)
    assert top.quality == pytest.approx(0.92)
    assert over.quality == top.quality
    mid = [
        quality_prior(orm("a/m", bench=Benchmarks(intelligence_index=i)), None).quality
        for i in (20, 35, 50, 65)
    ]
    assert mid == sorted(mid) and len(set(mid)) == 4


def test_coding_index_used_for_code_tasks():
    m = orm("acme/m", bench=Benchmarks(intelligence_index=30.0, coding_index=60.0))
    code = quality_prior(m, "code")
    chat = quality_prior(m, "chat")
    assert code.source.startswith("benchmark: coding index 60")
    assert code.quality == pytest.approx(0.30 + 0.62 * 60 / 80)
    assert chat.source.startswith("benchmark: intelligence index 30")
    assert code.quality > chat.quality


def test_category_bonuses():
    coder = orm("acme/thing-coder")
    assert quality_prior(coder, "code").quality == pytest.approx(DEFAULT_PRIOR + 0.04)
    assert quality_prior(coder, "chat").quality == DEFAULT_PRIOR
    thinker = orm("acme/thinker", reasoning=True)
    assert quality_prior(thinker, "reasoning").quality == pytest.approx(DEFAULT_PRIOR + 0.03)
    assert quality_prior(thinker, "math").quality == pytest.approx(DEFAULT_PRIOR + 0.03)
    assert quality_prior(thinker, "writing").quality == DEFAULT_PRIOR


def test_local_models_are_estimated_with_their_quantization(ollama, real):
    fit = PriorFit.for_models(real)
    by_id = {m.id: m for m in ollama}
    q4 = quality_prior(by_id["wizardlm2:7b"], "chat", fit=fit)  # 7B, Q4_0
    assert q4.evidence == EVIDENCE_ESTIMATE
    assert "Q4_0 -0.02" in q4.source
    # no price and no release date: the widest uncertainty the fit measured for parameters
    assert q4.sd == pytest.approx(fit.report.by_facts["parameters"])
    big = quality_prior(by_id["Nevoria-R1:latest"], "chat", fit=fit)  # 70.6B
    small = quality_prior(by_id["gemma4:e4b"], "chat", fit=fit)  # 8B
    assert big.quality != small.quality
    # heavier quantisation costs more
    assert quantization_penalty("Q2_K") > quantization_penalty("Q3_K_M")
    assert quantization_penalty("Q3_K_M") > quantization_penalty("Q4_K_M")
    assert quantization_penalty("Q4_K_M") > quantization_penalty("Q8_0") == 0.0
    assert quantization_penalty(None) == quantization_penalty("F16") == 0.0
    assert (
        quality_prior(loc("x:70b", 70, "Q2_K"), None, fit=fit).quality
        < quality_prior(loc("x:70b", 70, "Q8_0"), None, fit=fit).quality
    )


def test_an_old_catalogue_without_benchmarks_is_estimated_from_training(data_dir, real):
    old = parse_openrouter_models(
        json.loads((data_dir / "openrouter" / "models-2025-12-18.json").read_text())
    ).models
    assert not any(m.benchmarks for m in old)
    alone = CatalogueIndex(old)
    assert alone.prior_fit is None
    assert {p.evidence for p in alone.quality("chat")[1]} <= {
        EVIDENCE_NOTHING,
        EVIDENCE_CLASSIFIER,
        EVIDENCE_ESTIMATE,  # openrouter/free: the median of the free models
    }
    trained = CatalogueIndex(old, prior_training=real)
    assert trained.prior_fit is PriorFit.for_models(real)
    evidence = {p.evidence for p in trained.quality("chat")[1]}
    assert EVIDENCE_ESTIMATE in evidence and EVIDENCE_NOTHING not in evidence


def test_observed_runs_narrow_the_uncertainty_and_become_the_evidence():
    from datetime import UTC, datetime

    from locallama_gui.core.profiles import ALL, ModelProfile, Observed

    model = orm("acme/mystery")
    obs = Observed(
        weight=12.0,
        count=12,
        success_rate=1.0,
        quality=0.9,
        quality_weight=12.0,
        latency_ms=None,
        ttft_ms=None,
        tokens_per_s=None,
        last_ts=datetime(2026, 8, 1, tzinfo=UTC),
    )
    prof = ModelProfile(model.id, {"chat": obs, ALL: obs})
    plain = CatalogueIndex([model])
    seen = CatalogueIndex([model], {model.id: prof})
    assert plain.evidence("chat") == (EVIDENCE_NOTHING,)
    assert seen.evidence("chat") == (EVIDENCE_OBSERVED,)
    q, low = seen.quality("chat")[0][0], seen.quality_low("chat")[0]
    assert q == pytest.approx((4 * DEFAULT_PRIOR + 12 * 0.9) / 16)
    assert q - low == pytest.approx(NOTHING_SD * 0.5)  # sqrt(4 / 16)
    assert seen.quality_low("chat")[0] > plain.quality_low("chat")[0]


def test_params_from_id():
    assert params_from_id("qwen/qwen3.5-122b-a10b") == 122
    assert params_from_id("acme/tiny-500m") == 0.5
    assert params_from_id("google/gemma-4-31b-it:free") == 31
    assert params_from_id("openai/gpt-5") is None
    assert params_from_id("deepseek-r1:32b") == 32


def test_base_id():
    assert base_id("acme/model:free") == "acme/model"
    assert base_id("openai/o3:batch") == "openai/o3"
    assert base_id("llama3.1:8b") == "llama3.1:8b"  # an Ollama tag is not a variant


def test_free_variant_borrows_base_benchmarks():
    base = orm("acme/model", bench=Benchmarks(intelligence_index=56.0, coding_index=40.0))
    variant = orm("acme/model:free", tier=Tier.FREE)
    direct = quality_prior(variant, "chat", benchmarks_from=base)
    assert direct.quality == quality_prior(base, "chat").quality
    assert direct.source.startswith("base model's benchmark: acme/model")
    index = CatalogueIndex([variant, base])
    qs, priors = index.quality("code")
    i, j = index.by_id["acme/model:free"], index.by_id["acme/model"]
    assert priors[i].quality == priors[j].quality
    assert (priors[i].evidence, priors[j].evidence) == (EVIDENCE_BASE_BENCHMARK, EVIDENCE_BENCHMARK)
    assert qs[i] == qs[j] == pytest.approx(0.30 + 0.62 * 40 / 80)
    # a variant with benchmarks of its own keeps them
    own = orm("acme/model:free", tier=Tier.FREE, bench=Benchmarks(intelligence_index=20.0))
    qs2, _ = CatalogueIndex([own, base]).quality("chat")
    assert qs2[CatalogueIndex([own, base]).by_id["acme/model:free"]] < qs[j]


def test_real_free_variants_match_their_base(real):
    index = CatalogueIndex(real)
    _, priors = index.quality("chat")
    checked = 0
    for m in real:
        b = base_id(m.id)
        if m.id.endswith(":free") and b in index.by_id:
            base = real[[x.id for x in real].index(b)]
            if base.benchmarks is not None:
                assert priors[index.by_id[m.id]].quality == priors[index.by_id[b]].quality
                checked += 1
    assert checked >= 5


def test_classifiers_rated_low(real):
    by_id = {m.id: m for m in real}
    for mid in (
        "nvidia/nemotron-3.5-content-safety:free",
        "meta-llama/llama-guard-4-12b",
        "openai/gpt-oss-safeguard-20b",
    ):
        p = quality_prior(by_id[mid], "chat")
        assert p.quality == 0.10, mid
        assert p.evidence == EVIDENCE_CLASSIFIER and "classifier" in p.source
    # even with a benchmark of its own
    m = orm("acme/content-safety-big", bench=Benchmarks(intelligence_index=60.0))
    assert quality_prior(m, "code").quality == 0.10


def test_openrouter_free_is_the_median_free_model(real):
    index = CatalogueIndex(real)
    qs, priors = index.quality("chat")
    free_qs = [
        priors[index.by_id[m.id]].quality
        for m in real
        if m.tier is Tier.FREE and m.id != "openrouter/free"
    ]
    # safety classifiers are not what the router answers with: they stay out of the median
    free_qs = [q for q in free_qs if q > 0.10]
    assert len(free_qs) >= 10
    router = priors[index.by_id["openrouter/free"]]
    assert router.source.startswith("median")
    assert statistics.median_low(free_qs) <= router.quality <= statistics.median_high(free_qs)
    assert qs[index.by_id["openrouter/free"]] == router.quality


def test_openrouter_free_alone_keeps_its_own_prior():
    router = orm("openrouter/free", tier=Tier.FREE)
    index = CatalogueIndex([router])
    assert index.quality("chat")[1][0] == quality_prior(router, "chat")


def test_required_quality_grows_with_complexity():
    assert required_quality(0.0) == pytest.approx(0.20)
    assert required_quality(1.0) == pytest.approx(0.85)
    assert required_quality(2.0) == required_quality(1.0)
    assert required_quality(-1.0) == required_quality(0.0)
    steps = [required_quality(c / 10) for c in range(11)]
    assert steps == sorted(steps) and len(set(steps)) == 11


def test_speed_priors():
    batch = speed_prior(orm("openai/o3:batch"))
    assert batch.ttft_s >= 3600
    hosted = speed_prior(orm("acme/m"))
    thinking = speed_prior(orm("acme/m", reasoning=True))
    free_ = speed_prior(orm("acme/m:free", tier=Tier.FREE))
    assert thinking.ttft_s > hosted.ttft_s
    assert free_.ttft_s > hosted.ttft_s and free_.tokens_per_s < hosted.tokens_per_s
    small = speed_prior(loc("a:3b", 3.0, loaded=True))
    big = speed_prior(loc("a:70b", 70.0, loaded=True))
    cold = speed_prior(loc("a:70b", 70.0, loaded=False))
    assert small.tokens_per_s > big.tokens_per_s
    assert cold.ttft_s > big.ttft_s and "not loaded" in cold.source
