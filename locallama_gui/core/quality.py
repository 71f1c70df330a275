"""Quality and speed priors: what routing believes about a model before it has observed it.

Priors come, in order of trust, from the catalogue's benchmark indices (Artificial Analysis),
a small table of well-known families, and the parameter count (local models, or a size in
the id). Everything is a number in [0, 1]; the source of each prior is reported so the user can
see why a model was rated as it was.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from locallama_gui.core.models import ModelInfo, Tier

#: Scale of the Artificial Analysis indices: the best models in 2026 sit around these values.
INTELLIGENCE_TOP = 70.0
CODING_TOP = 80.0
PRIOR_FLOOR = 0.30
PRIOR_SPAN = 0.62
DEFAULT_PRIOR = 0.50
#: The prior of safety classifiers: never a general-purpose answer.
CLASSIFIER_PRIOR = 0.10
#: How far a family's reputation may lift a model above what its size suggests.
FAMILY_SIZE_MARGIN = 0.12

# (substring of the id, prior). First match wins, so more specific entries come first.
FAMILY_PRIORS: tuple[tuple[str, float], ...] = (
    ("content-safety", CLASSIFIER_PRIOR),
    ("safeguard", CLASSIFIER_PRIOR),
    ("llama-guard", CLASSIFIER_PRIOR),
    ("shieldgemma", CLASSIFIER_PRIOR),
    ("claude-opus", 0.90),
    ("claude-sonnet", 0.85),
    ("claude-haiku", 0.70),
    ("gpt-5-nano", 0.58),
    ("gpt-5-mini", 0.72),
    ("gpt-5", 0.86),
    ("gpt-4.1-nano", 0.50),
    ("gpt-4.1-mini", 0.64),
    ("gpt-4.1", 0.72),
    ("gpt-4o-mini", 0.58),
    ("gpt-4o", 0.70),
    ("gpt-3.5", 0.45),
    ("o4-mini", 0.78),
    ("o3", 0.82),
    ("gemini-3", 0.84),
    ("gemini-2.5-pro", 0.80),
    ("gemini-2.5-flash-lite", 0.58),
    ("gemini-2.5-flash", 0.68),
    ("grok-4", 0.82),
    ("grok-3-mini", 0.62),
    ("deepseek-r1", 0.76),
    ("deepseek-v3", 0.72),
    ("deepseek", 0.72),
    ("kimi-k2", 0.74),
    ("glm-5", 0.76),
    ("glm-4", 0.66),
    ("mistral-large", 0.66),
    ("mistral-medium", 0.62),
    ("mistral-small", 0.55),
    ("codestral", 0.60),
)

_CLASSIFIERS = 4  # the first entries of FAMILY_PRIORS are safety classifiers
_PARAMS_IN_ID = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)([bm])\b", re.IGNORECASE)
_QUANT_BITS = re.compile(r"(?:^|[^a-z])(?:q|iq)(\d)", re.IGNORECASE)

CODE_CATEGORIES = frozenset({"code", "coding"})
REASONING_CATEGORIES = frozenset({"reasoning", "math"})


@dataclass(frozen=True, slots=True)
class Prior:
    quality: float
    source: str  # human-readable: "benchmark: intelligence 56.0", "parameters: 8B", ...


def base_id(model_id: str) -> str:
    """``vendor/model:free`` and ``vendor/model:batch`` share their base model's facts."""
    return model_id.split(":", 1)[0] if "/" in model_id else model_id


def params_from_id(model_id: str) -> float | None:
    """Billions of parameters named in an id such as ``qwen3.5-122b-a10b`` (122)."""
    m = _PARAMS_IN_ID.search(model_id)
    if not m:
        return None
    value = float(m.group(1))
    return value / 1000.0 if m.group(2).lower() == "m" else value


def params_prior(params_b: float) -> float:
    """A log-size curve: 1B ~ 0.33, 8B ~ 0.51, 27B ~ 0.65, 70B ~ 0.76, capped at 0.85."""
    q = 0.25 + 0.12 * math.log1p(max(0.0, params_b))
    return min(0.85, max(0.20, q))


def quantization_penalty(quant: str | None) -> float:
    if not quant:
        return 0.0
    m = _QUANT_BITS.search(quant)
    if not m:
        return 0.0
    bits = int(m.group(1))
    if bits <= 2:
        return 0.10
    if bits == 3:
        return 0.05
    if bits == 4:
        return 0.02
    return 0.0


def _clamp(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def quality_prior(
    model: ModelInfo, category: str | None, benchmarks_from: ModelInfo | None = None
) -> Prior:
    """The prior quality of ``model`` for a task category.

    ``benchmarks_from`` lends the benchmark figures of the base model to a ``:free`` or
    ``:batch`` variant that carries none of its own.
    """
    mid = model.id.lower()
    category = (category or "").lower()
    bench = model.benchmarks or (benchmarks_from.benchmarks if benchmarks_from else None)
    bonus = 0.0
    if category in REASONING_CATEGORIES and model.supports_reasoning:
        bonus += 0.03
    if category in CODE_CATEGORIES and ("coder" in mid or "code" in mid):
        bonus += 0.04

    for needle, value in FAMILY_PRIORS[:_CLASSIFIERS]:  # never good general models
        if needle in mid:
            return Prior(value, f"family: {needle} (a classifier, not a general model)")

    if bench is not None:
        if category in CODE_CATEGORIES and bench.coding_index is not None:
            q = PRIOR_FLOOR + PRIOR_SPAN * min(bench.coding_index, CODING_TOP) / CODING_TOP
            return Prior(_clamp(q + bonus), f"benchmark: coding index {bench.coding_index:g}")
        if bench.intelligence_index is not None:
            idx = bench.intelligence_index
            q = PRIOR_FLOOR + PRIOR_SPAN * min(idx, INTELLIGENCE_TOP) / INTELLIGENCE_TOP
            return Prior(_clamp(q + bonus), f"benchmark: intelligence index {idx:g}")

    local = model.local
    params = local.parameter_count_b if local and local.parameter_count_b else None
    if params is None:
        params = params_from_id(mid)

    for needle, value in FAMILY_PRIORS[_CLASSIFIERS:]:
        if needle in mid:
            if params is not None and value > params_prior(params) + FAMILY_SIZE_MARGIN:
                # a small distill or quantised cut of a famous family: the size speaks louder
                value = params_prior(params) + FAMILY_SIZE_MARGIN
                return Prior(_clamp(value + bonus), f"family {needle}, capped by {params:g}B")
            return Prior(_clamp(value + bonus), f"family default: {needle}")

    if params is not None:
        q = params_prior(params)
        note = f"parameters: {params:g}B"
        if local is not None and local.quantization:
            pen = quantization_penalty(local.quantization)
            if pen:
                q -= pen
                note += f", {local.quantization}"
        return Prior(_clamp(q + bonus), note)
    return Prior(_clamp(DEFAULT_PRIOR + bonus), "default: nothing known about this model")


@dataclass(frozen=True, slots=True)
class SpeedPrior:
    ttft_s: float
    tokens_per_s: float
    source: str


def speed_prior(model: ModelInfo) -> SpeedPrior:
    """Expected time to first token and decode speed before anything was measured."""
    mid = model.id
    if mid.endswith(":batch"):
        return SpeedPrior(3600.0, 50.0, "batch endpoint: answers arrive within hours")
    local = model.local
    if model.tier is Tier.LOCAL:
        params = (local.parameter_count_b if local else None) or params_from_id(mid) or 8.0
        tps = min(150.0, max(3.0, 480.0 / max(params, 0.5)))
        ttft = 0.3
        note = f"local {params:g}B"
        if local is not None and local.loaded is False:
            gb = (local.size_bytes or params * 0.6e9) / 1e9
            ttft += 2.0 + 0.5 * gb
            note += ", not loaded (load time)"
        return SpeedPrior(ttft, tps, note)
    reasoning_extra = 3.0 if model.supports_reasoning else 0.0
    if model.tier is Tier.FREE:
        return SpeedPrior(2.0 + reasoning_extra, 35.0, "free endpoint (shared capacity)")
    return SpeedPrior(0.9 + reasoning_extra, 60.0, "hosted endpoint")


def required_quality(complexity: float) -> float:
    """The quality a task of this complexity needs: 0.30 for trivial, 0.85 for the hardest."""
    c = _clamp(complexity)
    return 0.30 + 0.55 * c
