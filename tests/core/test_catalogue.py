"""Catalogue parsers, merge, diff and facts, checked against the real captures."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locallama_gui.core.catalogue import (
    Catalogue,
    CatalogueDiff,
    CatalogueFormatError,
    Repriced,
    classify_tier,
    diff_catalogues,
    model_from_facts,
    model_to_facts,
    parse_lmstudio_models,
    parse_models_payload,
    parse_ollama_tags,
    parse_openai_models,
    parse_openrouter_models,
    parse_parameter_size,
)
from locallama_gui.core.models import (
    Benchmarks,
    LocalDetails,
    ModelInfo,
    PriceOverride,
    Pricing,
    Source,
    Tier,
)

OR_2025 = "openrouter/models-2025-12-18.json"
OR_2026 = "openrouter/models-2026-08-14.json"
ROUTERS_2026 = {
    "openrouter/auto",
    "openrouter/auto-beta",
    "openrouter/bodybuilder",
    "openrouter/fusion",
    "openrouter/pareto-code",
}


def load(data_dir: Path, rel: str) -> Any:
    return json.loads((data_dir / rel).read_text(encoding="utf-8"))


@pytest.fixture
def raw_2026(data_dir: Path) -> dict[str, Any]:
    return load(data_dir, OR_2026)


@pytest.fixture
def raw_2025(data_dir: Path) -> dict[str, Any]:
    return load(data_dir, OR_2025)


@pytest.fixture
def cat_2026(raw_2026: dict[str, Any]) -> Catalogue:
    result = parse_openrouter_models(raw_2026)
    assert result.skipped == ()
    return Catalogue(result.models)


@pytest.fixture
def cat_2025(raw_2025: dict[str, Any]) -> Catalogue:
    result = parse_openrouter_models(raw_2025)
    assert result.skipped == ()
    return Catalogue(result.models)


def entry(model_id: str = "acme/model", **overrides: Any) -> dict[str, Any]:
    """A minimal valid OpenRouter /models entry."""
    base: dict[str, Any] = {
        "id": model_id,
        "name": f"Acme: {model_id}",
        "created": 1700000000,
        "context_length": 8192,
        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
        "pricing": {"prompt": "0.000001", "completion": "0.000002"},
        "top_provider": {"context_length": 8192, "max_completion_tokens": 1024},
        "supported_parameters": ["max_tokens"],
    }
    base.update(overrides)
    return base


# --------------------------------------------------------------------------- OpenRouter


@pytest.mark.parametrize(
    ("rel", "count", "free_ids", "variable"),
    [
        (OR_2026, 414, 17, ROUTERS_2026),
        (OR_2025, 349, 36, {"openrouter/auto", "openrouter/bodybuilder"}),
    ],
)
def test_real_openrouter_catalogues_parse_completely(data_dir, rel, count, free_ids, variable):
    raw = load(data_dir, rel)
    result = parse_openrouter_models(raw)
    assert result.skipped == ()
    assert len(result.models) == count == len(raw["data"])
    ids = [m.id for m in result.models]
    assert ids == [e["id"] for e in raw["data"]]
    assert sum(i.endswith(":free") for i in ids) == free_ids
    assert {m.id for m in result.models if m.tier is Tier.VARIABLE} == variable
    for m in result.models:
        if m.id.endswith(":free"):
            assert m.tier is Tier.FREE
        assert m.source is Source.OPENROUTER
        assert m.pricing is not None
        assert m.pricing.get("prompt") is not None


def test_tiers_2026(cat_2026):
    free = {m.id for m in cat_2026 if m.tier is Tier.FREE}
    assert free == {m.id for m in cat_2026 if m.id.endswith(":free")} | {"openrouter/free"}
    assert {m.id for m in cat_2026 if m.tier is Tier.UNKNOWN} == {
        "google/lyria-3-pro-preview",
        "google/lyria-3-clip-preview",
    }
    lyria = cat_2026.get("google/lyria-3-pro-preview")
    assert lyria.pricing.all_zero
    assert lyria.output_modalities == ("text", "audio")
    router = cat_2026.get("openrouter/auto")
    assert router.pricing.get("prompt") == Decimal(-1)
    assert router.pricing.is_variable
    paid = cat_2026.get("anthropic/claude-opus-5")
    assert paid.tier is Tier.PAID


def test_tier_matches_independent_rule_on_raw_data(raw_2026, raw_2025):
    """Recompute every tier from the raw JSON with the rule spelled out here."""
    for raw in (raw_2026, raw_2025):
        by_id = {m.id: m for m in parse_openrouter_models(raw).models}
        for e in raw["data"]:
            strs = [v for v in e["pricing"].values() if isinstance(v, str)]
            outs = e["architecture"]["output_modalities"]
            if "-1" in strs:
                want = Tier.VARIABLE
            elif e["id"].endswith(":free"):
                want = Tier.FREE
            elif all(Decimal(v) == 0 for v in strs):
                want = Tier.FREE if outs == ["text"] else Tier.UNKNOWN
            else:
                want = Tier.PAID
            assert by_id[e["id"]].tier is want, e["id"]


def test_openrouter_fields(cat_2026):
    free_router = cat_2026.get("openrouter/free")
    assert free_router.name == "Free Models Router"
    assert free_router.context_length == 200000
    assert free_router.max_output_tokens is None
    assert free_router.hugging_face_id is None  # "" in the data
    assert free_router.tokenizer == "Router"
    assert free_router.created == 1769917427
    assert free_router.input_modalities == ("text", "image")
    assert free_router.supports_tools and free_router.supports_json

    ds = cat_2026.get("deepseek/deepseek-v4-pro-0813")
    assert ds.canonical_slug == "deepseek/deepseek-v4-pro-20260813"
    assert ds.hugging_face_id == "deepseek-ai/DeepSeek-V4-Pro-0813"
    assert ds.context_length == 1048576
    assert ds.max_output_tokens == 384000
    assert ds.is_moderated is False
    assert ds.supports_reasoning
    assert "reasoning" in ds.capabilities()

    assert cat_2026.get("z-ai/glm-4.5").expiration_date == "2026-12-31"
    assert cat_2026.get("ai21/jamba-large-1.7").knowledge_cutoff == "2024-08-31"
    assert sum(1 for m in cat_2026 if m.is_moderated) == 125


def test_sparse_2026_keys_and_full_2025_keys(cat_2026, cat_2025):
    ds = cat_2026.get("deepseek/deepseek-v4-pro-0813")
    assert dict(ds.pricing.prices) == {
        "prompt": Decimal("0.00000066"),
        "completion": Decimal("0.00000198"),
        "input_cache_read": Decimal("0.000000022"),
    }
    gemini = cat_2025.get("google/gemini-3-flash-preview")
    assert gemini.pricing.get("request") == Decimal(0)
    assert gemini.pricing.get("audio") == Decimal("0.000001")
    assert gemini.pricing.get("internal_reasoning") == Decimal(0)


def test_time_window_overrides(cat_2026):
    ds = cat_2026.get("deepseek/deepseek-v4-pro-0813")
    windows = [(o.utc_start, o.utc_end) for o in ds.pricing.overrides]
    assert windows == [(1000, 100), (100, 400), (400, 600), (600, 1000)]
    assert all(isinstance(s, int) and isinstance(e, int) for s, e in windows)
    assert ds.pricing.overrides[1].prices["prompt"] == Decimal("0.00000132")
    assert ds.pricing.overrides[1].prices["input_cache_read"] == Decimal("0.000000044")
    assert all(o.min_prompt_tokens is None for o in ds.pricing.overrides)
    assert "overrides" not in ds.pricing.prices


def test_long_context_override(cat_2026):
    seed = cat_2026.get("bytedance-seed/seed-2.0-code")
    (override,) = seed.pricing.overrides
    assert override == PriceOverride(
        prices=MappingProxyType({"prompt": Decimal("0.000001"), "completion": Decimal("0.000006")}),
        min_prompt_tokens=128000,
    )


def test_every_raw_override_is_kept(raw_2026, cat_2026):
    for e in raw_2026["data"]:
        raw_overrides = e["pricing"].get("overrides", [])
        parsed = cat_2026.get(e["id"]).pricing.overrides
        assert len(parsed) == len(raw_overrides)
        for raw_o, o in zip(raw_overrides, parsed, strict=True):
            assert o.min_prompt_tokens == raw_o.get("min_prompt_tokens")
            assert o.utc_start == raw_o.get("utc_start")
            assert {k: str(v) for k, v in o.prices.items()} == {
                k: str(Decimal(v)) for k, v in raw_o.items() if isinstance(v, str)
            }


def test_benchmarks(raw_2026, cat_2026):
    ds = cat_2026.get("deepseek/deepseek-v4-pro-0813")
    assert ds.benchmarks == Benchmarks(
        intelligence_index=53.2, coding_index=68.8, agentic_index=49.6
    )
    hy3 = cat_2026.get("tencent/hy3")
    assert hy3.benchmarks.design_arena_best_elo == 1227
    assert hy3.benchmarks.intelligence_index is None
    with_any = 0
    for e in raw_2026["data"]:
        bench = e.get("benchmarks") or {}
        aa = bench.get("artificial_analysis") or {}
        elos = [row["elo"] for row in bench.get("design_arena") or []]
        got = cat_2026.get(e["id"]).benchmarks
        if not elos and not any(v is not None for v in aa.values()):
            assert got is None, e["id"]
            continue
        with_any += 1
        assert got.design_arena_best_elo == (max(elos) if elos else None)
        assert got.intelligence_index == aa.get("intelligence_index")
        assert got.coding_index == aa.get("coding_index")
        assert got.agentic_index == aa.get("agentic_index")
    assert with_any > 150


def test_2025_data_has_no_benchmarks_and_missing_canonical_slug_is_none(cat_2025):
    assert all(m.benchmarks is None for m in cat_2025)
    old = parse_openrouter_models([{k: v for k, v in entry().items() if k != "canonical_slug"}])
    assert old.models[0].canonical_slug is None


def test_bare_array_equals_wrapped(raw_2026):
    wrapped = parse_openrouter_models(raw_2026)
    bare = parse_openrouter_models(raw_2026["data"])
    assert bare == wrapped


@pytest.mark.parametrize("payload", [None, 42, "models", {"models": []}, {"data": "x"}])
def test_payload_of_wrong_shape_raises(payload):
    with pytest.raises(CatalogueFormatError):
        parse_openrouter_models(payload)


def test_bad_entries_are_skipped_with_reasons():
    bad_override = entry("acme/bad-override")
    bad_override["pricing"] = {**bad_override["pricing"], "overrides": [{"utc_start": 2599}]}
    payload = {
        "data": [
            entry("acme/good"),
            {k: v for k, v in entry().items() if k != "id"},
            entry("acme/pricing-list", pricing=["0", "0"]),
            entry("acme/abc", pricing={"prompt": "abc", "completion": "0"}),
            "not a model",
            entry("acme/null-context", context_length=None),
            entry("acme/good"),
            entry("acme/no-pricing", pricing=None),
            entry("acme/no-completion", pricing={"prompt": "0"}),
            entry("acme/nan", pricing={"prompt": "NaN", "completion": "0"}),
            entry("acme/context-text", context_length="big"),
            bad_override,
            entry("acme/image-bad", pricing={"prompt": "0", "completion": "0", "image": "x"}),
            entry("acme/params", supported_parameters="tools"),
            entry("acme/last"),
        ],
        "total_count": 15,
        "links": {"next": None},
    }
    result = parse_openrouter_models(payload)
    assert [m.id for m in result.models] == ["acme/good", "acme/null-context", "acme/last"]
    assert result.models[1].context_length == 8192  # falls back to top_provider
    reasons = {(s.id, s.index): s.reason for s in result.skipped}
    assert len(result.skipped) == 12
    assert reasons[(None, 1)] == "missing id"
    assert "pricing is not an object" in reasons[("acme/pricing-list", 2)]
    assert "pricing.prompt" in reasons[("acme/abc", 3)]
    assert "not an object" in reasons[(None, 4)]
    assert reasons[("acme/good", 6)] == "duplicate id"
    assert "pricing" in reasons[("acme/no-pricing", 7)]
    assert "pricing.completion" in reasons[("acme/no-completion", 8)]
    assert "not a decimal" in reasons[("acme/nan", 9)]
    assert "context_length" in reasons[("acme/context-text", 10)]
    assert "utc_start" in reasons[("acme/bad-override", 11)]
    assert "pricing.image" in reasons[("acme/image-bad", 12)]
    assert "supported_parameters" in reasons[("acme/params", 13)]


def test_null_context_everywhere_is_unknown_not_zero():
    e = entry("acme/x", context_length=None, top_provider={"context_length": None})
    (m,) = parse_openrouter_models([e]).models
    assert m.context_length is None


def test_discount_numeric_string_overrides_and_other_non_string_keys():
    pricing = {
        "prompt": "0.000001",
        "completion": "0.000002",
        "discount": 0.25,
        "web_search": None,
        "future_thing": {"x": 1},
        "overrides": [{"utc_start": "2230", "utc_end": "0130", "prompt": "0.0000005"}],
    }
    (m,) = parse_openrouter_models([entry(pricing=pricing)]).models
    assert m.pricing.discount == Decimal("0.25")
    assert set(m.pricing.prices) == {"prompt", "completion"}
    (o,) = m.pricing.overrides
    assert (o.utc_start, o.utc_end) == (2230, 130)
    assert dict(o.prices) == {"prompt": Decimal("0.0000005")}


def test_modalities_fall_back_to_arrow_string_and_reasoning_detection():
    e = entry(architecture={"modality": "text+image->text"}, supported_parameters=[])
    (m,) = parse_openrouter_models([e]).models
    assert m.input_modalities == ("text", "image")
    assert m.output_modalities == ("text",)
    assert not m.supports_reasoning
    (r,) = parse_openrouter_models([entry(reasoning={"mandatory": True})]).models
    assert r.supports_reasoning
    (n,) = parse_openrouter_models([entry(name=None)]).models
    assert n.name == "acme/model"


# --------------------------------------------------------------------------- classify_tier


def _pricing(**prices: str) -> Pricing:
    return Pricing(prices=MappingProxyType({k: Decimal(v) for k, v in prices.items()}))


OR = Source.OPENROUTER
ZERO = _pricing(prompt="0", completion="0")


@pytest.mark.parametrize(
    ("pricing", "outputs", "model_id", "source", "want"),
    [
        (None, ("text",), "llama3", Source.OLLAMA, Tier.LOCAL),
        (_pricing(prompt="1"), ("text",), "x", Source.VLLM, Tier.LOCAL),
        (_pricing(prompt="-1", completion="-1"), ("text",), "openrouter/auto", OR, Tier.VARIABLE),
        (ZERO, ("text",), "a/b:free", OR, Tier.FREE),
        (ZERO, ("text",), "openrouter/free", OR, Tier.FREE),
        (ZERO, ("image",), "a/img", OR, Tier.UNKNOWN),
        (ZERO, ("text", "image"), "a/img", OR, Tier.UNKNOWN),
        (ZERO, (), "a/none", OR, Tier.UNKNOWN),
        (_pricing(prompt="0", completion="0", image="0.01"), ("text",), "a/b", OR, Tier.PAID),
        (_pricing(prompt="0.000001", completion="0"), ("text",), "a/b", OR, Tier.PAID),
        (None, ("text",), "a/b", OR, Tier.UNKNOWN),
        (Pricing(), ("text",), "a/b", OR, Tier.UNKNOWN),
    ],
)
def test_classify_tier(pricing, outputs, model_id, source, want):
    assert classify_tier(pricing, outputs, model_id, source) is want


def test_classify_tier_ignores_overrides():
    pricing = Pricing(
        prices=MappingProxyType({"prompt": Decimal(0), "completion": Decimal(0)}),
        overrides=(PriceOverride(prices=MappingProxyType({"prompt": Decimal("0.1")})),),
    )
    assert classify_tier(pricing, ["text"], "a/b", Source.OPENROUTER) is Tier.FREE


# --------------------------------------------------------------------------- local servers


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("8.2B", 8.2),
        ("475.29M", 0.47529),
        ("13B", 13.0),
        ("70.6b", 70.6),
        ("8x7B", 56.0),
        ("30B-A3B", 30.0),
        ("1.2T", 1200.0),
        (8030261248, 8.030261248),
        ("8030261248", 8.030261248),
        ("7", None),
        ("unknown", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_parse_parameter_size(text, want):
    assert parse_parameter_size(text) == want


def test_ollama_tags_real(data_dir):
    result = parse_ollama_tags(load(data_dir, "ollama/tags-2026-04.json"), "http://127.0.0.1:11434")
    assert result.skipped == ()
    assert len(result.models) == 12
    cat = Catalogue(result.models)
    assert all(m.tier is Tier.LOCAL and m.source is Source.OLLAMA for m in cat)
    assert all(m.context_length is None and m.pricing is None for m in cat)
    wiz = cat.get("wizardlm-uncensored:13b")  # families: null
    assert wiz.local.family == "llama"
    assert wiz.local.parameter_count_b == 13.0
    assert wiz.local.quantization == "Q4_0"
    assert wiz.local.loaded is None  # no /api/ps given
    nev = cat.get("ScrambieBambie/L3.3-MS-Nevoria-70B:i1-Q4_K_M")
    assert nev.local.quantization is None  # "unknown"
    assert nev.local.size_bytes == 42520402130
    assert nev.local.server_url == "http://127.0.0.1:11434"
    hf = cat.get("hf.co/bartowski/Qwen2.5-14B_Uncencored-GGUF:F16")
    assert hf.name == hf.id
    assert hf.local.parameter_size == "14.8B"
    assert hf.local.format == "gguf"


def test_ollama_tags_with_ps(data_dir):
    tags = load(data_dir, "ollama/tags-2026-04.json")
    ps = load(data_dir, "ollama/ps-2026-04.json")
    # Make one listed model loaded too, as a server answering both would.
    ps = copy.deepcopy(ps)
    ps["models"].append(
        {"name": "deepseek-r1:32b", "model": "deepseek-r1:32b", "context_length": 4096}
    )
    cat = Catalogue(parse_ollama_tags(tags, ps_payload=ps).models)
    assert len(cat) == 14  # the two models only /api/ps lists are added
    r1 = cat.get("deepseek-r1:32b")
    assert r1.local.loaded is True
    assert r1.context_length == r1.local.loaded_context_length == 4096
    assert cat.get("wizardlm2:7b").local.loaded is False
    embed = cat.get("nomic-embed-text-v2-moe:latest")
    assert embed.output_modalities == ("embeddings",)
    assert not embed.text_output
    assert embed.local.parameter_count_b == pytest.approx(0.47529)
    assert embed.local.loaded_context_length == 512
    coder = cat.get("qwen3-coder-next:latest")
    assert coder.context_length == 65536 and coder.text_output
    assert coder.local.size_bytes == 56430336256


def test_malformed_or_empty_ps_leaves_loaded_unknown_or_false(data_dir):
    tags = load(data_dir, "ollama/tags-2026-04.json")
    for junk in ("oops", {"error": "boom"}, 7):
        models = parse_ollama_tags(tags, ps_payload=junk).models
        assert len(models) == 12 and all(m.local.loaded is None for m in models)
    models = parse_ollama_tags(tags, ps_payload={"models": []}).models
    assert all(m.local.loaded is False for m in models)


def test_ollama_capabilities():
    payload = {
        "models": [
            {
                "name": "qwen3-vl:8b",
                "model": "qwen3-vl:8b",
                "size": 1,
                "digest": "a",
                "details": {"format": "gguf", "family": "qwen3vl", "families": None},
                "capabilities": ["completion", "tools", "vision", "thinking"],
            },
            {
                "name": "mxbai-large:latest",
                "digest": "b",
                "details": {"family": "mxbai", "quantization_level": ""},
                "capabilities": ["embedding"],
            },
            {"name": "gpt-oss:120b-cloud", "digest": "c", "size": 384, "details": {"format": ""}},
            {"digest": "d"},
        ]
    }
    result = parse_ollama_tags(payload)
    vl, emb, cloud = result.models
    assert vl.supports_tools and vl.supports_vision and vl.supports_reasoning
    assert vl.local.model_type == "vlm"
    assert emb.output_modalities == ("embeddings",)
    assert emb.local.quantization is None
    assert cloud.local.format is None and cloud.local.parameter_count_b is None
    assert [s.reason for s in result.skipped] == ["missing id"]


def test_lmstudio_v0_real(data_dir):
    result = parse_lmstudio_models(load(data_dir, "lmstudio/api-v0-models-2026-08.json"))
    assert result.skipped == ()
    cat = Catalogue(result.models)
    assert len(cat) == 4
    loaded = cat.get("qwen/qwen3.6-35b-a3b")
    assert loaded.source is Source.LMSTUDIO and loaded.tier is Tier.LOCAL
    assert loaded.supports_vision and loaded.supports_tools
    assert loaded.context_length == 262144
    assert loaded.local.loaded is True and loaded.local.loaded_context_length == 262144
    assert loaded.local.format == "mlx" and loaded.local.quantization == "4bit"
    assert loaded.local.family == "qwen3_5_moe"
    idle = cat.get("google/gemma-4-e4b")
    assert idle.local.loaded is False and idle.local.loaded_context_length is None
    emb = cat.get("text-embedding-nomic-embed-text-v1.5")
    assert emb.output_modalities == ("embeddings",) and not emb.supports_tools
    assert emb.local.model_type == "embeddings"


LMSTUDIO_V1 = {
    "models": [
        {
            "type": "llm",
            "publisher": "qwen",
            "key": "qwen/qwen3-30b-a3b",
            "display_name": "Qwen3 30B A3B",
            "architecture": "qwen3_moe",
            "quantization": {"name": "Q4_K_M", "bits_per_weight": 4},
            "size_bytes": 18556685728,
            "params_string": "30B",
            "loaded_instances": [{"id": "qwen/qwen3-30b-a3b", "config": {"context_length": 8192}}],
            "max_context_length": 40960,
            "format": "gguf",
            "capabilities": {
                "vision": False,
                "trained_for_tool_use": True,
                "reasoning": {"allowed_options": ["on", "off"], "default": "on"},
            },
            "description": None,
        },
        {
            "type": "embedding",
            "publisher": "nomic-ai",
            "key": "text-embedding-nomic-embed-text-v1.5",
            "display_name": "Nomic Embed Text v1.5",
            "architecture": "nomic-bert",
            "quantization": {"name": "Q4_K_M", "bits_per_weight": 4},
            "size_bytes": 84106624,
            "params_string": None,
            "loaded_instances": [],
            "max_context_length": 2048,
            "format": "gguf",
        },
        {
            "type": "llm",
            "key": "google/gemma-3-12b",
            "display_name": "Gemma 3 12B",
            "params_string": "12B",
            "loaded_instances": [],
            "max_context_length": 131072,
            "capabilities": {"vision": True, "trained_for_tool_use": False},
        },
    ]
}


def test_lmstudio_v1_shape():
    result = parse_lmstudio_models(LMSTUDIO_V1, "http://localhost:1234")
    assert result.skipped == ()
    qwen, emb, gemma = result.models
    assert (qwen.id, qwen.name) == ("qwen/qwen3-30b-a3b", "Qwen3 30B A3B")
    assert qwen.supports_tools and not qwen.supports_vision and qwen.supports_reasoning
    assert qwen.context_length == 40960
    assert qwen.local == LocalDetails(
        server_url="http://localhost:1234",
        size_bytes=18556685728,
        parameter_size="30B",
        parameter_count_b=30.0,
        quantization="Q4_K_M",
        family="qwen3_moe",
        format="gguf",
        loaded=True,
        loaded_context_length=8192,
        model_type="llm",
    )
    assert emb.output_modalities == ("embeddings",) and emb.local.loaded is False
    assert gemma.supports_vision and not gemma.supports_tools
    assert gemma.local.parameter_count_b == 12.0
    assert parse_models_payload(LMSTUDIO_V1) == parse_lmstudio_models(LMSTUDIO_V1)


LLAMACPP = {
    "models": [
        {"name": "gemma-3-4b-it-Q4_K_M.gguf", "model": "gemma-3-4b-it-Q4_K_M.gguf", "digest": ""}
    ],
    "object": "list",
    "data": [
        {
            "id": "gemma-3-4b-it-Q4_K_M.gguf",
            "object": "model",
            "created": 1755000000,
            "owned_by": "llamacpp",
            "aliases": [],
            "meta": {
                "vocab_type": 1,
                "n_vocab": 262144,
                "n_ctx_train": 131072,
                "n_ctx": 8192,
                "n_embd": 2560,
                "n_params": 3880263168,
                "size": 2489757856,
            },
        }
    ],
}

VLLM = {
    "object": "list",
    "data": [
        {
            "id": "Qwen/Qwen2.5-7B-Instruct",
            "object": "model",
            "created": 1755000000,
            "owned_by": "vllm",
            "root": "Qwen/Qwen2.5-7B-Instruct",
            "parent": None,
            "max_model_len": 32768,
            "permission": [{"id": "modelperm-1", "object": "model_permission"}],
        }
    ],
}


def test_llamacpp_shape():
    for result in (
        parse_openai_models(LLAMACPP, "http://127.0.0.1:8080"),
        parse_models_payload(LLAMACPP),
    ):
        (m,) = result.models
        assert m.source is Source.LLAMACPP and m.tier is Tier.LOCAL
        assert m.context_length == 131072
        assert m.local.parameter_count_b == pytest.approx(3.880263168)
        assert m.local.size_bytes == 2489757856
        assert m.local.loaded_context_length == 8192
        assert m.local.loaded is True


def test_vllm_shape():
    for result in (parse_openai_models(VLLM), parse_models_payload(VLLM)):
        (m,) = result.models
        assert (m.id, m.source, m.tier) == ("Qwen/Qwen2.5-7B-Instruct", Source.VLLM, Tier.LOCAL)
        assert m.context_length == 32768


def test_openai_shapes_ollama_and_generic():
    ollama_v1 = {
        "object": "list",
        "data": [
            {"id": "llama3.2:latest", "object": "model", "created": 1, "owned_by": "library"},
            {"id": "bartowski/x:latest", "object": "model", "created": 1, "owned_by": "bartowski"},
        ],
    }
    result = parse_openai_models(ollama_v1)
    assert [m.source for m in result.models] == [Source.OLLAMA, Source.OLLAMA]
    assert all(m.context_length is None for m in result.models)
    generic = {"data": [{"id": "my-model", "owned_by": "me"}, {"owned_by": "me"}]}
    result = parse_models_payload(generic)
    assert [(m.id, m.source) for m in result.models] == [("my-model", Source.OPENAI_COMPAT)]
    assert len(result.skipped) == 1
    forced = parse_openai_models(generic, source=Source.VLLM)
    assert forced.models[0].source is Source.VLLM
    lms = parse_lmstudio_models({"data": [{"id": "q", "object": "model", "owned_by": "x"}]})
    assert lms.models[0].source is Source.LMSTUDIO


@pytest.mark.parametrize(
    ("rel", "source", "count"),
    [
        (OR_2026, Source.OPENROUTER, 414),
        (OR_2025, Source.OPENROUTER, 349),
        ("ollama/tags-2026-04.json", Source.OLLAMA, 12),
        ("ollama/ps-2026-04.json", Source.OLLAMA, 2),
        ("lmstudio/api-v0-models-2026-08.json", Source.LMSTUDIO, 4),
    ],
)
def test_parse_models_payload_detects_real_captures(data_dir, rel, source, count):
    result = parse_models_payload(load(data_dir, rel))
    assert len(result.models) == count
    assert {m.source for m in result.models} == {source}


def test_ps_alone_marks_models_loaded(data_dir):
    result = parse_models_payload(load(data_dir, "ollama/ps-2026-04.json"))
    assert all(m.local.loaded for m in result.models)


def test_parse_models_payload_rejects_non_payloads():
    for payload in (None, 3, "x", {"nothing": []}):
        with pytest.raises(CatalogueFormatError):
            parse_models_payload(payload)


# --------------------------------------------------------------------------- Catalogue


def local(model_id: str, source: Source = Source.OLLAMA, **kw: Any) -> ModelInfo:
    return ModelInfo(
        id=model_id, name=kw.pop("name", model_id), source=source, tier=Tier.LOCAL, **kw
    )


def test_catalogue_merge_precedence():
    first = local("qwen/qwen3", Source.LMSTUDIO, context_length=1)
    clash = local("qwen/qwen3", Source.OLLAMA, context_length=2)
    update = local("qwen/qwen3", Source.LMSTUDIO, context_length=3)
    other = local("llama3:8b")
    cat = Catalogue([first, other], [clash], [update])
    assert len(cat) == 2
    assert cat.get("qwen/qwen3") is update
    assert [m.id for m in cat] == ["qwen/qwen3", "llama3:8b"]
    assert "llama3:8b" in cat and "nope" not in cat
    assert cat.get("nope") is None
    assert cat.by_source(Source.LMSTUDIO) == (update,)
    assert cat.by_source(Source.VLLM) == ()


def test_search_and_filter(cat_2026):
    hits = cat_2026.search("FREE nemotron")
    assert hits
    assert {m.id for m in hits} == {m.id for m in cat_2026.search("nemotron free")}
    for m in hits:
        text = f"{m.id} {m.name}".lower()
        assert "nemotron" in text and "free" in text
    assert len(cat_2026.search("")) == len(cat_2026)
    assert cat_2026.search("no-such-model-anywhere") == ()

    free = cat_2026.filter(tier=Tier.FREE)
    assert len(free) == 18
    big = cat_2026.filter(tier=Tier.FREE, min_context=1_000_000)
    assert big and all(m.context_length >= 1_000_000 for m in big)
    assert {m.id for m in big} <= {m.id for m in free}
    routers = cat_2026.filter(tier=[Tier.VARIABLE, Tier.FREE], text="openrouter")
    assert {m.id for m in routers} == ROUTERS_2026 | {"openrouter/free"}
    assert cat_2026.filter(source=Source.OLLAMA) == ()
    mixed = Catalogue(cat_2026, [local("a", context_length=None)])
    assert local("a") not in mixed.filter(min_context=1)
    assert len(mixed.filter(source=Source.OLLAMA)) == 1


# --------------------------------------------------------------------------- diff


def test_diff_real_catalogues(raw_2025, raw_2026, cat_2025, cat_2026):
    diff = diff_catalogues(cat_2025, cat_2026)
    old_ids = {e["id"] for e in raw_2025["data"]}
    new_ids = {e["id"] for e in raw_2026["data"]}
    assert set(diff.added) == new_ids - old_ids
    assert set(diff.removed) == old_ids - new_ids
    assert len(diff.added) == 231 and len(diff.removed) == 166
    assert "anthropic/claude-opus-5" in diff.added
    assert "openrouter/free" in diff.added
    assert "anthropic/claude-3-opus" in diff.removed
    assert "qwen/qwen3-coder:free" in diff.free_ended
    assert "meta-llama/llama-3.3-70b-instruct:free" in diff.free_ended
    assert all(i.endswith(":free") for i in diff.free_ended)
    assert len(diff.free_ended) == 32
    assert (
        Repriced(
            "deepseek/deepseek-r1",
            Decimal("0.0000003"),
            Decimal("0.0000012"),
            Decimal("0.0000007"),
            Decimal("0.0000025"),
        )
        in diff.repriced
    )
    # Every repricing is real in the raw files, and every real one is reported.
    old_p = {e["id"]: e["pricing"] for e in raw_2025["data"]}
    new_p = {e["id"]: e["pricing"] for e in raw_2026["data"]}
    expected = {
        i
        for i in old_ids & new_ids
        if any(Decimal(old_p[i][k]) != Decimal(new_p[i][k]) for k in ("prompt", "completion"))
    }
    assert {r.id for r in diff.repriced} == expected
    assert not diff.is_empty
    as_dict = json.loads(json.dumps(diff.as_dict()))
    assert {
        "id": "deepseek/deepseek-r1",
        "old_prompt": "0.0000003",
        "old_completion": "0.0000012",
        "new_prompt": "0.0000007",
        "new_completion": "0.0000025",
    } in as_dict["repriced"]
    assert as_dict["added"] == list(diff.added)
    assert as_dict["free_ended"] == list(diff.free_ended)
    assert diff_catalogues(cat_2026, cat_2026).is_empty
    assert diff_catalogues(cat_2026, list(cat_2026)) == CatalogueDiff()


def test_diff_free_that_stopped_being_free():
    def m(model_id: str, tier: Tier, prompt: str) -> ModelInfo:
        return ModelInfo(
            id=model_id,
            name=model_id,
            source=Source.OPENROUTER,
            tier=tier,
            pricing=_pricing(prompt=prompt, completion=prompt),
        )

    old = [m("a/promo", Tier.FREE, "0"), m("a/b:free", Tier.FREE, "0"), m("a/c", Tier.PAID, "1")]
    new = [m("a/promo", Tier.PAID, "0.5"), m("a/c", Tier.PAID, "1"), m("a/d", Tier.PAID, "1")]
    diff = diff_catalogues(old, new)
    assert diff.free_ended == ("a/b:free", "a/promo")
    assert diff.added == ("a/d",) and diff.removed == ("a/b:free",)
    assert diff.repriced == (
        Repriced("a/promo", Decimal(0), Decimal(0), Decimal("0.5"), Decimal("0.5")),
    )


# --------------------------------------------------------------------------- facts


def all_real_models(data_dir: Path) -> list[ModelInfo]:
    models: list[ModelInfo] = []
    for rel in (OR_2025, OR_2026, "lmstudio/api-v0-models-2026-08.json"):
        models += parse_models_payload(load(data_dir, rel)).models
    models += parse_ollama_tags(
        load(data_dir, "ollama/tags-2026-04.json"),
        "http://127.0.0.1:11434",
        load(data_dir, "ollama/ps-2026-04.json"),
    ).models
    models += parse_lmstudio_models(LMSTUDIO_V1).models
    models += parse_openai_models(LLAMACPP).models + parse_openai_models(VLLM).models
    return models


def test_facts_round_trip_every_real_model(data_dir):
    models = all_real_models(data_dir)
    assert len(models) > 780
    for m in models:
        facts = model_to_facts(m)
        text = json.dumps(facts, sort_keys=True)
        assert model_from_facts(json.loads(text)) == m, m.id


def test_facts_are_plain_json_with_decimal_strings(cat_2026):
    facts = model_to_facts(cat_2026.get("deepseek/deepseek-v4-pro-0813"))
    assert facts["pricing"]["prices"]["prompt"] == "0.00000066"
    assert facts["pricing"]["overrides"][0] == {
        "prices": {
            "completion": "0.00000198",
            "input_cache_read": "0.000000022",
            "prompt": "0.00000066",
        },
        "utc_end": 100,
        "utc_start": 1000,
    }
    assert facts["tier"] == "paid" and facts["source"] == "openrouter"
    assert "description" not in facts
    assert model_to_facts(cat_2026.get("openrouter/auto"))["pricing"]["prices"]["prompt"] == "-1"


@pytest.mark.parametrize(
    "bad",
    [
        "x",
        {"name": "n", "source": "openrouter", "tier": "paid"},
        {"id": "a", "name": "n", "source": "mars", "tier": "paid"},
        {"id": "a", "name": "n", "source": "ollama", "tier": "local", "context_length": "8k"},
        {
            "id": "a",
            "name": "n",
            "source": "openrouter",
            "tier": "paid",
            "pricing": {"prices": {"prompt": 1}},
        },
    ],
)
def test_model_from_facts_rejects_garbage(bad):
    with pytest.raises(CatalogueFormatError):
        model_from_facts(bad)


_words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_decimals = st.decimals(
    allow_nan=False, allow_infinity=False, places=12, min_value=-1, max_value=10
)
_price_maps = st.dictionaries(
    st.sampled_from(["prompt", "completion", "image", "request"]), _decimals
).map(MappingProxyType)
_opt_int = st.none() | st.integers(min_value=0, max_value=10**12)
_opt_float = st.none() | st.floats(allow_nan=False, allow_infinity=False)
_hhmm = st.integers(0, 23).flatmap(lambda h: st.integers(0, 59).map(lambda mi: h * 100 + mi))

_models = st.builds(
    ModelInfo,
    id=_words.filter(bool),
    name=_words,
    source=st.sampled_from(Source),
    tier=st.sampled_from(Tier),
    pricing=st.none()
    | st.builds(
        Pricing,
        prices=_price_maps,
        overrides=st.lists(
            st.builds(
                PriceOverride,
                prices=_price_maps,
                min_prompt_tokens=_opt_int,
                utc_start=st.none() | _hhmm,
                utc_end=st.none() | _hhmm,
            ),
            max_size=3,
        ).map(tuple),
        discount=st.none() | _decimals,
    ),
    context_length=_opt_int,
    max_output_tokens=_opt_int,
    input_modalities=st.lists(_words, max_size=3).map(tuple),
    output_modalities=st.lists(_words, max_size=3).map(tuple),
    supported_parameters=st.lists(_words, max_size=4).map(tuple),
    created=_opt_int,
    canonical_slug=st.none() | _words,
    hugging_face_id=st.none() | _words,
    tokenizer=st.none() | _words,
    benchmarks=st.none() | st.builds(Benchmarks, _opt_float, _opt_float, _opt_float, _opt_int),
    local=st.none()
    | st.builds(
        LocalDetails,
        server_url=st.none() | _words,
        size_bytes=_opt_int,
        parameter_size=st.none() | _words,
        parameter_count_b=_opt_float,
        quantization=st.none() | _words,
        family=st.none() | _words,
        format=st.none() | _words,
        loaded=st.none() | st.booleans(),
        loaded_context_length=_opt_int,
        model_type=st.none() | _words,
    ),
    knowledge_cutoff=st.none() | _words,
    expiration_date=st.none() | _words,
    is_moderated=st.none() | st.booleans(),
    supports_reasoning=st.booleans(),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_models)
def test_facts_round_trip_property(model):
    assert model_from_facts(json.loads(json.dumps(model_to_facts(model)))) == model


# --------------------------------------------------------------------------- merging sources


def _m(model_id: str, source, tier=None, name: str = "m"):
    from locallama_gui.core.models import LocalDetails, ModelInfo, Source, Tier

    local = None if source is Source.OPENROUTER else LocalDetails(server_url="http://127.0.0.1:1")
    return ModelInfo(
        id=model_id,
        name=name,
        source=source,
        tier=tier or (Tier.PAID if source is Source.OPENROUTER else Tier.LOCAL),
        local=local,
    )


def test_merge_keeps_a_local_model_with_an_openrouter_id_apart():
    from locallama_gui.core.catalogue import merge_sources, model_from_facts, model_to_facts
    from locallama_gui.core.models import Source

    same = "qwen/qwen3-8b"
    merged = merge_sources(
        [
            _m(same, Source.VLLM, name="local copy"),
            _m(same, Source.OPENROUTER, name="openrouter"),
            _m(same, Source.LMSTUDIO),
            _m(same, Source.VLLM, name="listed twice"),  # the same source twice: the first
            _m("gemma4:e4b", Source.OLLAMA),
        ]
    )
    by_id = {m.id: m for m in merged}
    assert set(by_id) == {same, "vllm:" + same, "lmstudio:" + same, "gemma4:e4b"}
    assert by_id[same].source is Source.OPENROUTER and by_id[same].upstream_id is None
    local = by_id["vllm:" + same]
    assert local.name == "local copy" and local.served_id == same
    assert by_id["lmstudio:" + same].served_id == same
    assert by_id["gemma4:e4b"].served_id == "gemma4:e4b"  # no clash: unchanged
    assert model_from_facts(model_to_facts(local)) == local


def test_merged_ids_route_apart():
    from datetime import UTC, datetime

    from locallama_gui.core.catalogue import merge_sources
    from locallama_gui.core.models import Source, Tier
    from locallama_gui.core.routing import CatalogueIndex, Policy, RoutingContext, Task, route

    same = "qwen/qwen3-8b"
    models = merge_sources([_m(same, Source.OPENROUTER, Tier.FREE), _m(same, Source.VLLM)])
    ctx = RoutingContext(index=CatalogueIndex(models), now=datetime(2026, 9, 1, tzinfo=UTC))
    task = Task(prompt_tokens=100, complexity=0.1)
    assert route(task, Policy(local_only=True), ctx).chain_ids == ("vllm:" + same,)
    assert route(task, Policy(pinned=same), ctx).chain_ids[0] == same
    assert set(route(task, Policy(), ctx).chain_ids) == {same, "vllm:" + same}


def test_a_qualified_model_is_known_by_its_servers_name(data_dir):
    """Its prior and tokenizer come from the name its server gives it, not the prefix."""
    from locallama_gui.core.catalogue import merge_sources
    from locallama_gui.core.models import LocalDetails, ModelInfo, Source, Tier
    from locallama_gui.core.quality import PriorFit, quality_prior, speed_prior
    from locallama_gui.core.tokens import model_tokenizer

    name = "qwen/qwen3-32b"
    bare = ModelInfo(
        id=name,
        name="Qwen3 8B",
        source=Source.VLLM,
        tier=Tier.LOCAL,
        local=LocalDetails(server_url="http://127.0.0.1:8000"),
    )
    (_, qualified) = merge_sources([_m(name, Source.OPENROUTER), bare])
    assert qualified.id == "vllm:" + name
    assert model_tokenizer(qualified) == model_tokenizer(bare)
    real = parse_openrouter_models(
        json.loads((data_dir / "openrouter" / "models-2026-08-14.json").read_text())
    ).models
    fit = PriorFit.for_models(real)
    assert fit is not None
    assert quality_prior(qualified, "code", fit=fit) == quality_prior(bare, "code", fit=fit)
    assert speed_prior(qualified) == speed_prior(bare)


def test_a_fact_integer_beyond_any_float_costs_its_entry_only():
    from locallama_gui.core.catalogue import CatalogueFormatError, model_from_facts

    facts = {"id": "a/b", "name": "b", "source": "openrouter", "tier": "paid"}
    bad = {**facts, "benchmarks": {"intelligence_index": 10**400}}
    with pytest.raises(CatalogueFormatError, match="out of range"):
        model_from_facts(bad)
    assert model_from_facts(facts).id == "a/b"
