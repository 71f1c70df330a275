"""JSON-safe views of core values, shared by the CLI's ``--json`` output and exports.

These shapes are a stable interface (README, "JSON output"): add fields freely, never rename.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from locallama_gui.core.cost import per_million
from locallama_gui.core.models import CostEstimate, ModelInfo, Skipped, decimal_str


def model_view(m: ModelInfo) -> dict[str, Any]:
    pricing: dict[str, str] = {}
    overrides: list[dict[str, Any]] = []
    if m.pricing is not None:
        pricing = {k: decimal_str(v) for k, v in sorted(m.pricing.prices.items())}
        for o in m.pricing.overrides:
            row: dict[str, Any] = {
                "prices": {k: decimal_str(v) for k, v in sorted(o.prices.items())}
            }
            if o.min_prompt_tokens is not None:
                row["min_prompt_tokens"] = o.min_prompt_tokens
            if o.utc_start is not None:
                row["utc_start"] = f"{o.utc_start:04d}"
            if o.utc_end is not None:
                row["utc_end"] = f"{o.utc_end:04d}"
            overrides.append(row)
    view: dict[str, Any] = {
        "id": m.id,
        "name": m.name,
        "source": m.source.value,
        "tier": m.tier.value,
        "context_length": m.context_length,
        "max_output_tokens": m.max_output_tokens,
        "pricing": pricing,
        "pricing_overrides": overrides,
        "input_modalities": list(m.input_modalities),
        "output_modalities": list(m.output_modalities),
        "capabilities": sorted(m.capabilities()),
        "created": None
        if m.created is None
        else datetime.fromtimestamp(m.created, UTC).strftime("%Y-%m-%d"),
    }
    if m.pricing is not None and "prompt" in m.pricing.prices:
        p = m.pricing.prices["prompt"]
        c = m.pricing.prices.get("completion")
        if p >= 0:
            view["prompt_per_million_usd"] = decimal_str(per_million(p))
        if c is not None and c >= 0:
            view["completion_per_million_usd"] = decimal_str(per_million(c))
    if m.benchmarks is not None:
        b = m.benchmarks
        view["benchmarks"] = {
            "intelligence_index": b.intelligence_index,
            "coding_index": b.coding_index,
            "agentic_index": b.agentic_index,
        }
    if m.local is not None:
        loc = m.local
        view["local"] = {
            "server_url": loc.server_url,
            "size_bytes": loc.size_bytes,
            "parameter_size": loc.parameter_size,
            "quantization": loc.quantization,
            "family": loc.family,
            "loaded": loc.loaded,
        }
    return view


def skipped_view(s: Skipped) -> dict[str, Any]:
    out: dict[str, Any] = {"reason": s.reason}
    if s.id is not None:
        out["id"] = s.id
    if s.index is not None:
        out["index"] = s.index
    return out


def estimate_view(est: CostEstimate) -> dict[str, Any]:
    view: dict[str, Any] = {
        "model": est.model_id,
        "tier": est.tier.value,
        "is_free": est.is_free,
        "total_usd": None if est.total_usd is None else decimal_str(est.total_usd),
        "breakdown": {k: decimal_str(v) for k, v in est.breakdown.items()},
        "unknown_reason": est.unknown_reason,
        "applied_overrides": list(est.applied_overrides),
        "effective_prices": {k: decimal_str(v) for k, v in est.effective_prices.items()},
    }
    if est.free_limits is not None:
        view["free_limits"] = {
            "per_minute": est.free_limits.per_minute,
            "per_day": est.free_limits.per_day,
            "per_day_with_credits": est.free_limits.per_day_with_credits,
        }
    return view
