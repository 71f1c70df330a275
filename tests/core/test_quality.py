"""Quality and speed priors: benchmark > family > parameters, borrowed benchmarks, classifiers."""

from __future__ import annotations

import json
import statistics
from decimal import Decimal
from pathlib import Path

import pytest

from locallama_gui.core.catalogue import parse_ollama_tags, parse_openrouter_models
from locallama_gui.core.models import Benchmarks, LocalDetails, ModelInfo, Pricing, Source, Tier
from locallama_gui.core.quality import (
    DEFAULT_PRIOR,
    base_id,
    params_from_id,
    params_prior,
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


def test_benchmark_beats_family_beats_params():
    # a gpt-5 family id with a poor benchmark: the benchmark wins
    with_bench = orm("openai/gpt-5-70b", bench=Benchmarks(intelligence_index=10.0))
    p = quality_prior(with_bench, "chat")
    assert p.source.startswith("benchmark")
    assert p.quality == pytest.approx(0.30 + 0.62 * 10 / 70)
    # the same id without benchmarks: the family default, not the 70B in the id
    fam = quality_prior(orm("openai/gpt-5-70b"), "chat")
    assert fam.source == "family default: gpt-5"
    assert fam.quality == 0.86
    # no family: the parameter count in the id
    par = quality_prior(orm("acme/unknown-70b"), "chat")
    assert par.source.startswith("parameters: 70B")
    assert par.quality == pytest.approx(params_prior(70))
    # nothing at all
    none = quality_prior(orm("acme/mystery"), "chat")
    assert none.quality == DEFAULT_PRIOR and none.source.startswith("default")


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


def test_family_order_specific_first():
    assert quality_prior(orm("openai/gpt-5-nano"), None).quality == 0.58
    assert quality_prior(orm("openai/gpt-5-mini"), None).quality == 0.72
    assert quality_prior(orm("openai/gpt-5.1"), None).quality == 0.86
    assert quality_prior(orm("google/gemini-2.5-flash-lite"), None).quality == 0.58
    assert quality_prior(orm("google/gemini-2.5-flash"), None).quality == 0.68


def test_params_prior_grows_with_size_and_is_capped():
    sizes = [0.5, 1, 3, 8, 14, 32, 70]
    qs = [params_prior(s) for s in sizes]
    assert qs == sorted(qs) and len(set(qs)) == len(qs)
    assert params_prior(1) == pytest.approx(0.333, abs=0.01)
    assert params_prior(8) == pytest.approx(0.51, abs=0.01)
    assert params_prior(2000) == 0.85
    assert params_prior(0) >= 0.20


def test_local_params_and_quantization(ollama):
    by_id = {m.id: m for m in ollama}
    q8 = quality_prior(by_id["wizardlm2:7b"], "chat")  # 7B, Q4_0
    assert q8.source == "parameters: 7B, Q4_0"
    assert q8.quality == pytest.approx(params_prior(7.0) - 0.02)
    big = quality_prior(by_id["Nevoria-R1:latest"], "chat")  # 70.6B
    small = quality_prior(by_id["gemma4:e4b"], "chat")  # 8B
    assert big.quality > small.quality
    # heavier quantisation costs more
    assert quantization_penalty("Q2_K") > quantization_penalty("Q3_K_M")
    assert quantization_penalty("Q3_K_M") > quantization_penalty("Q4_K_M")
    assert quantization_penalty("Q4_K_M") > quantization_penalty("Q8_0") == 0.0
    assert quantization_penalty(None) == quantization_penalty("F16") == 0.0
    assert (
        quality_prior(loc("x:70b", 70, "Q2_K"), None).quality
        < quality_prior(loc("x:70b", 70, "Q8_0"), None).quality
    )


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
    assert direct.source.startswith("benchmark")
    index = CatalogueIndex([variant, base])
    qs, priors = index.quality("code")
    i, j = index.by_id["acme/model:free"], index.by_id["acme/model"]
    assert priors[i] == priors[j]
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
        assert "classifier" in p.source
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
    assert required_quality(0.0) == pytest.approx(0.30)
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
