"""The documents every face returns: ``locallama models|cost|route --json``, the gateway's
``/api`` endpoints and the MCP tools all build their JSON here, so nothing is computed twice.

The ``*_from`` functions read a loosely typed JSON object (an HTTP body, MCP tool arguments)
and raise ``ValueError`` or ``LookupError`` with a message that says what to fix.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from locallama_gui.core.catalogue import Catalogue
from locallama_gui.core.cost import project
from locallama_gui.core.models import ModelInfo, Source, Tier, Usage, decimal_str
from locallama_gui.core.profiles import Observed
from locallama_gui.core.routing import (
    CATEGORIES,
    DEFAULT_OUTPUT_TOKENS,
    FreePreference,
    Policy,
    Priority,
    Task,
)
from locallama_gui.core.tokens import estimate_tokens, model_tokenizer
from locallama_gui.services.facade import Services
from locallama_gui.services.views import estimate_view, model_view, skipped_view

GENERAL_CATEGORY = "chat"
STATUS_PROBE_S = 10.0


# --- models ----------------------------------------------------------------------------------


def _observed_view(obs: Observed | None) -> dict[str, Any] | None:
    if obs is None:
        return None
    return {
        "samples": obs.count,
        "weight": round(obs.weight, 3),
        "success_rate": round(obs.success_rate, 4),
        "quality": None if obs.quality is None else round(obs.quality, 4),
        "graded_samples_weight": round(obs.quality_weight, 3),
        "latency_ms": None if obs.latency_ms is None else round(obs.latency_ms, 1),
        "ttft_ms": None if obs.ttft_ms is None else round(obs.ttft_ms, 1),
        "tokens_per_s": None if obs.tokens_per_s is None else round(obs.tokens_per_s, 1),
        "last": None if obs.last_ts is None else obs.last_ts.isoformat(),
    }


def quota_document(services: Services, now: datetime | None = None) -> dict[str, Any]:
    """The free tier as routing sees it now: used, left and whether a limit was hit."""
    q = services.quota_status(now)
    return {
        "per_minute": q.per_minute,
        "per_day": q.per_day,
        "used_minute": q.used_minute,
        "used_day": q.used_day,
        "remaining_minute": q.remaining_minute,
        "remaining_day": q.remaining_day,
        "minute_blocked_until": None
        if q.minute_blocked_until is None
        else q.minute_blocked_until.isoformat(),
        "day_blocked_until": None
        if q.day_blocked_until is None
        else q.day_blocked_until.isoformat(),
        "credits_purchased": bool(services.settings.routing.credits_purchased),
        "per_day_source": services.settings.routing.free_daily_cap_source,
    }


def _parse_enum(values: Iterable[str] | None, enum: type, what: str) -> set[Any] | None:
    if not values:
        return None
    out = set()
    for v in values:
        try:
            out.add(enum(str(v)))
        except ValueError:
            names = ", ".join(e.value for e in enum)
            raise ValueError(f"unknown {what} {v!r} (use {names})") from None
    return out


def select_models(
    services: Services,
    *,
    free_only: bool = False,
    tiers: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    search: str | None = None,
    min_context: int | None = None,
) -> list[ModelInfo]:
    """The filters of ``locallama models``, sorted by id."""
    tier_set = _parse_enum(tiers, Tier, "tier") or set()
    if free_only:
        tier_set.add(Tier.FREE)
    if min_context is not None and min_context < 0:
        raise ValueError("min_context must not be negative")
    return sorted(
        Catalogue(services.models).filter(
            tier=tier_set or None,
            source=_parse_enum(sources, Source, "source"),
            text=search or None,
            min_context=min_context or None,
        ),
        key=lambda m: m.id,
    )


def model_document(
    services: Services, model: ModelInfo, category: str = GENERAL_CATEGORY
) -> dict[str, Any]:
    """One model: the catalogue entry, the quality routing predicts with the prior it starts
    from (and where that prior came from), and what real runs and benchmarks observed."""
    index = services.index
    view = model_view(model)
    j = index.by_id.get(model.id)
    if j is not None:
        qualities, priors = index.quality(category)
        view["quality"] = {
            "category": category,
            "predicted": round(qualities[j], 4),
            "lower_bound": round(index.quality_low(category)[j], 4),
            "evidence": index.evidence(category)[j],
            "prior": round(priors[j].quality, 4),
            "prior_sd": round(priors[j].sd, 4),
            "prior_evidence": priors[j].evidence,
            "prior_source": priors[j].source,
        }
    profile = services.profiles.get(model.id)
    view["observed"] = None if profile is None else _observed_view(profile.overall)
    if profile is not None and category in profile.by_category:
        view["observed_in_category"] = _observed_view(profile.by_category[category])
    return view


def models_document(
    services: Services,
    *,
    free_only: bool = False,
    tiers: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    search: str | None = None,
    min_context: int | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    """``locallama models --json``, ``GET /api/models``, the MCP ``list_models`` tool."""
    category = category or GENERAL_CATEGORY
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r} (use {', '.join(CATEGORIES)})")
    models = select_models(
        services,
        free_only=free_only,
        tiers=tiers,
        sources=sources,
        search=search,
        min_context=min_context,
    )
    return {
        "models": [model_document(services, m, category) for m in models],
        "skipped": [skipped_view(s) for s in services.catalogue.skipped],
        "catalogue": services.catalogue.label,
        "free_quota": quota_document(services),
    }


# --- cost ------------------------------------------------------------------------------------


def cost_document(
    services: Services,
    model_id: str,
    usage: Usage,
    *,
    at: datetime | None = None,
    token_method: str = "given",
    requests_per_day: int | None = None,
) -> dict[str, Any]:
    """``locallama cost --json``, ``POST /api/cost``, the MCP ``estimate_cost`` tool."""
    at = at or services.clock()
    est = services.estimate(model_id, usage, at)
    view = estimate_view(est)
    view["usage"] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "cached_tokens": usage.cache_read_tokens,
        "token_method": token_method,
    }
    view["at"] = at.isoformat()
    if requests_per_day:
        proj = project(est.total_usd, requests_per_day)
        view["projection"] = {
            "requests_per_day": requests_per_day,
            "per_day_usd": None if proj.per_day is None else decimal_str(proj.per_day),
            "per_month_usd": None if proj.per_month is None else decimal_str(proj.per_month),
        }
    return view


def _int(body: Mapping[str, Any], key: str, default: int | None = None) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key} must be a whole number")
    try:
        n = int(value) if not isinstance(value, float) or value.is_integer() else None
    except ValueError:
        n = None
    if n is None:
        raise ValueError(f"{key} must be a whole number, not {value!r}")
    if n < 0:
        raise ValueError(f"{key} must not be negative")
    return n


def parse_usd(value: Any, key: str) -> Decimal | None:
    """A non-negative amount in USD from JSON (a string or a number), or None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{key} must be an amount in USD")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{key} must be an amount in USD, not {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{key} must be a non-negative amount in USD")
    return amount


def _when(body: Mapping[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{key} must be an ISO 8601 time, e.g. 2026-01-31T14:00:00Z") from None


def _check_keys(body: Mapping[str, Any], known: Iterable[str]) -> None:
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")


COST_FIELDS = (
    "model",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "text",
    "at",
    "requests_per_day",
    "images",
)


def cost_document_from(services: Services, body: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`cost_document` from a JSON object of :data:`COST_FIELDS`."""
    _check_keys(body, COST_FIELDS)
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id:
        raise ValueError("give the model id as 'model'")
    model = services.find_model(model_id)
    prompt_tokens = _int(body, "prompt_tokens")
    token_method = "given"
    text = body.get("text")
    if text is not None:
        if not isinstance(text, str):
            raise ValueError("text must be a string")
        est = estimate_tokens(text, model_tokenizer(model))
        prompt_tokens, token_method = est.tokens, est.method
    if prompt_tokens is None:
        raise ValueError("give prompt_tokens (a number) or text (the prompt itself)")
    completion = _int(body, "completion_tokens", 0) or 0
    usage = Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion,
        reasoning_tokens=min(_int(body, "reasoning_tokens", 0) or 0, completion),
        cache_read_tokens=min(_int(body, "cached_tokens", 0) or 0, prompt_tokens),
        images=_int(body, "images", 0) or 0,
    )
    return cost_document(
        services,
        model.id,
        usage,
        at=_when(body, "at"),
        token_method=token_method,
        requests_per_day=_int(body, "requests_per_day"),
    )


# --- route -----------------------------------------------------------------------------------


def route_document(
    services: Services,
    task: Task,
    policy: Policy,
    *,
    record: bool = False,
    key_present: bool | None = None,
) -> dict[str, Any]:
    """``locallama route --json``, ``POST /api/route``, the MCP ``route_task`` tool."""
    decision = services.route(task, policy, record=record, key_present=key_present)
    out = decision.to_dict()
    out["catalogue"] = services.catalogue.label
    out["free_quota"] = quota_document(services, decision.context.now)
    return out


ROUTE_FIELDS = (
    "prompt",
    "prompt_tokens",
    "output_tokens",
    "complexity",
    "category",
    "capabilities",
    "priority",
    "free_preference",
    "budget_usd",
    "allow_paid",
    "local_only",
    "quality_floor",
    "images",
)


def task_from(services: Services, body: Mapping[str, Any]) -> Task:
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise ValueError("prompt must be a string")
    prompt_tokens = _int(body, "prompt_tokens")
    if prompt is None and prompt_tokens is None:
        raise ValueError("give prompt (the task text) or prompt_tokens (its size)")
    caps = body.get("capabilities") or ()
    if isinstance(caps, str):
        caps = [caps]
    if not isinstance(caps, list | tuple) or not all(isinstance(c, str) for c in caps):
        raise ValueError("capabilities must be a list of names")
    category = body.get("category") or "chat"
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r} (use {', '.join(CATEGORIES)})")
    complexity = body.get("complexity")
    if complexity is not None and (
        isinstance(complexity, bool) or not isinstance(complexity, int | float)
    ):
        raise ValueError("complexity must be a number between 0 and 1")
    priority = body.get("priority") or services.default_priority().value
    try:
        priority = Priority(priority)
    except ValueError:
        names = ", ".join(p.value for p in Priority)
        raise ValueError(f"unknown priority {priority!r} (use {names})") from None
    return Task(
        prompt=prompt,
        prompt_tokens=prompt_tokens,
        output_tokens=_int(body, "output_tokens", DEFAULT_OUTPUT_TOKENS) or 0,
        complexity=None if complexity is None else float(complexity),
        category=category,
        capabilities=frozenset(caps),
        priority=priority,
        images=_int(body, "images", 0) or 0,
    )


def policy_from(services: Services, body: Mapping[str, Any]) -> Policy:
    overrides: dict[str, Any] = {}
    pref = body.get("free_preference")
    if pref is not None:
        try:
            overrides["free_preference"] = FreePreference(pref)
        except ValueError:
            names = ", ".join(p.value for p in FreePreference)
            raise ValueError(f"unknown free_preference {pref!r} (use {names})") from None
    budget = parse_usd(body.get("budget_usd"), "budget_usd")
    if budget is not None:
        overrides["budget_usd"] = budget
    for flag in ("allow_paid", "local_only"):
        value = body.get(flag)
        if value is not None:
            if not isinstance(value, bool):
                raise ValueError(f"{flag} must be true or false")
            overrides[flag] = value
    floor = body.get("quality_floor")
    if floor is not None:
        if isinstance(floor, bool) or not isinstance(floor, int | float):
            raise ValueError("quality_floor must be a number between 0 and 1")
        overrides["quality_floor"] = float(floor)
    return services.default_policy(**overrides)


def route_document_from(
    services: Services, body: Mapping[str, Any], *, key_present: bool | None = None
) -> dict[str, Any]:
    """:func:`route_document` from a JSON object of :data:`ROUTE_FIELDS`."""
    _check_keys(body, ROUTE_FIELDS)
    task = task_from(services, body)
    return route_document(services, task, policy_from(services, body), key_present=key_present)


# --- status ----------------------------------------------------------------------------------


def status_document(
    services: Services,
    *,
    key_present: bool,
    sources: Iterable[Any] | None = None,
) -> dict[str, Any]:
    """The MCP ``get_status`` tool and ``GET /api/status``: the catalogue, the sources as last
    seen, whether a key is present, the free quota and the spend so far."""
    from locallama_gui.services.spend import spend_report
    from locallama_gui.store.db import StoreError

    try:
        report: dict[str, Any] | None = spend_report(services)
        spend_error = None
    except StoreError as e:
        report, spend_error = None, str(e)
    by_source: dict[str, int] = {}
    for m in services.models:
        by_source[m.source.value] = by_source.get(m.source.value, 0) + 1
    out: dict[str, Any] = {
        "catalogue": services.catalogue.label,
        "models": len(services.models),
        "models_by_source": dict(sorted(by_source.items())),
        "openrouter_key_present": key_present,
        "free_quota": quota_document(services),
        "spend": None
        if report is None
        else {
            "today_usd": report["today"]["total_usd"],
            "month_usd": report["month"]["total_usd"],
            "caps": report["caps"],
        },
    }
    if spend_error is not None:
        out["spend_error"] = spend_error
    if sources is not None:
        out["sources"] = [source_summary(s) for s in sources]
    return out


async def probe_status_document(
    services: Services, live: Any, *, timeout_s: float = STATUS_PROBE_S
) -> dict[str, Any]:
    """:func:`status_document` with every source probed now (at most ``timeout_s``; past it
    the sources are left out), for ``get_status`` and ``GET /api/status``."""

    async def key_check() -> None:
        # refreshes the daily free cap and today's count as OpenRouter counts them
        if live.api_key is not None and live.openrouter_endpoint is not None:
            with contextlib.suppress(Exception):
                await live.key_status(deadline_s=timeout_s)

    key_task = asyncio.ensure_future(key_check())
    try:
        sources = await asyncio.wait_for(live.fetch_all(), timeout_s)
    except TimeoutError:
        sources = None
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(key_task, timeout_s)
    return await asyncio.to_thread(
        status_document, services, key_present=live.api_key is not None, sources=sources
    )


def source_summary(status: Any) -> dict[str, Any]:
    """A source as last probed (a ``SourceStatus``), without its model list."""
    return {
        "kind": status.kind,
        "url": status.url,
        "up": status.up,
        "models": status.model_count if status.up else 0,
        "error": None if status.up else status.error,
        "duration_ms": None if status.duration_ms is None else round(status.duration_ms, 1),
    }


__all__ = [
    "COST_FIELDS",
    "ROUTE_FIELDS",
    "cost_document",
    "cost_document_from",
    "model_document",
    "models_document",
    "parse_usd",
    "policy_from",
    "probe_status_document",
    "quota_document",
    "route_document",
    "route_document_from",
    "select_models",
    "source_summary",
    "status_document",
    "task_from",
]
