"""Invariants of route() over random tasks, policies and worlds, on the real catalogue."""

from __future__ import annotations

import fnmatch
import functools
import itertools
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locallama_gui.core.catalogue import parse_ollama_tags, parse_openrouter_models
from locallama_gui.core.cost import estimate_cost
from locallama_gui.core.models import (
    LocalDetails,
    ModelInfo,
    PriceOverride,
    Pricing,
    Source,
    Tier,
    Usage,
)
from locallama_gui.core.profiles import build_profiles
from locallama_gui.core.quality import EVIDENCE_CLASSIFIER, EVIDENCE_ORDER
from locallama_gui.core.quota import QuotaStatus
from locallama_gui.core.routing import (
    ASSUMED_CONTEXT,
    CAPABILITIES,
    CATEGORIES,
    CatalogueIndex,
    FreePreference,
    Policy,
    Priority,
    Reason,
    RouteDecision,
    RoutingContext,
    Task,
    route,
)

D = Decimal
PAID_LIKE = (Tier.PAID, Tier.VARIABLE, Tier.UNKNOWN)
ZERO_COST = (Tier.FREE, Tier.LOCAL)


def _hand_built() -> list[ModelInfo]:
    """Local models with and without a known window, and a model that does not output text."""
    return [
        ModelInfo(
            id="lmstudio/qwen2.5-coder-7b",
            name="Qwen2.5 Coder 7B",
            source=Source.LMSTUDIO,
            tier=Tier.LOCAL,
            context_length=32768,
            local=LocalDetails(parameter_count_b=7.0, loaded=True, loaded_context_length=8192),
        ),
        ModelInfo(
            id="llamacpp/tiny-1b",
            name="Tiny 1B",
            source=Source.LLAMACPP,
            tier=Tier.LOCAL,
            local=LocalDetails(parameter_count_b=1.0),
        ),
        ModelInfo(
            id="vllm/llama-70b",
            name="Llama 70B",
            source=Source.VLLM,
            tier=Tier.LOCAL,
            context_length=131072,
            supported_parameters=("tools", "response_format"),
            local=LocalDetails(parameter_count_b=70.0, loaded=True),
        ),
        ModelInfo(
            id="acme/image-maker",
            name="Acme image maker",
            source=Source.OPENROUTER,
            tier=Tier.PAID,
            pricing=Pricing(prices={"prompt": D("0.000001"), "image": D("0.04")}),
            output_modalities=("image",),
        ),
        ModelInfo(
            # a long-context tier priced "-1": the cost of a long prompt is unknown
            id="acme/tiered-router",
            name="Acme tiered router",
            source=Source.OPENROUTER,
            tier=Tier.PAID,
            context_length=1_000_000,
            pricing=Pricing(
                prices={"prompt": D("0.0000001"), "completion": D("0.0000004")},
                overrides=(PriceOverride(prices={"prompt": D(-1)}, min_prompt_tokens=2000),),
            ),
        ),
        ModelInfo(
            id="acme/tiny-paid",
            name="Acme tiny",
            source=Source.OPENROUTER,
            tier=Tier.PAID,
            context_length=2048,
            max_output_tokens=256,
            pricing=Pricing(prices={"prompt": D("0.0000001"), "completion": D("0.0000002")}),
        ),
    ]


@functools.cache
def _models(data: Path) -> tuple[ModelInfo, ...]:
    """A moderate catalogue: every free/variable/unknown model, a sample of paid ones,
    the real Ollama tags and a few hand-built models."""
    orr = parse_openrouter_models(
        json.loads((data / "openrouter" / "models-2026-08-14.json").read_text())
    ).models
    ollama = parse_ollama_tags(
        json.loads((data / "ollama" / "tags-2026-04.json").read_text()),
        ps_payload=json.loads((data / "ollama" / "ps-2026-04.json").read_text()),
    ).models
    special = [m for m in orr if m.tier is not Tier.PAID]
    paid = [m for m in orr if m.tier is Tier.PAID]
    with_overrides = [m for m in paid if m.pricing and m.pricing.overrides][:6]
    rest = [m for m in paid if m not in with_overrides]
    sample = random.Random(20260814).sample(rest, 90)
    return (*special, *with_overrides, *sample, *ollama, *_hand_built())


@functools.cache
def _shared_index(data: Path) -> CatalogueIndex:
    """One index reused across examples, so its caches are exercised (and must not leak)."""
    return CatalogueIndex(_models(data), _profiles(data))


@functools.cache
def _profiles(data: Path):
    models = _models(data)
    now = datetime(2026, 8, 14, tzinfo=UTC)
    rng = random.Random(5)
    samples = []
    for m in rng.sample(models, 25):
        for k in range(rng.randint(1, 12)):
            samples.append(
                _Sample(
                    model_id=m.id,
                    category=rng.choice(CATEGORIES),
                    ts=now - timedelta(days=rng.uniform(0, 60)),
                    latency_ms=rng.uniform(100, 20000),
                    ttft_ms=rng.uniform(50, 4000),
                    tokens_per_s=rng.uniform(5, 200),
                    success=rng.random() < 0.7 or k == 0,
                    quality=rng.choice([None, rng.random()]),
                )
            )
    return build_profiles(samples, now)


class _Sample:
    __slots__ = (
        "category",
        "latency_ms",
        "model_id",
        "quality",
        "success",
        "tokens_per_s",
        "ts",
        "ttft_ms",
    )

    def __init__(self, **kw: object) -> None:
        for k, v in kw.items():
            setattr(self, k, v)


# --- strategies --------------------------------------------------------------------------

PATTERNS = (
    "openai/*",
    "*:free",
    "google/*",
    "nvidia/*",
    "gemma4*",
    "*",
    "qwen*",
    "*/*coder*",
    "openrouter/free",
    "Nevoria-R1:latest",
    "deepseek/*",
    "anthropic/*",
    "lmstudio/*",
)

tasks = st.builds(
    Task,
    prompt=st.one_of(st.none(), st.text(max_size=200)),
    prompt_tokens=st.one_of(
        st.none(),
        st.integers(0, 4000),
        st.integers(0, 2_500_000),
    ),
    output_tokens=st.one_of(st.integers(0, 2000), st.integers(0, 300_000)),
    complexity=st.one_of(st.none(), st.floats(0.0, 1.0)),
    category=st.sampled_from((*CATEGORIES, "other")),
    capabilities=st.frozensets(st.sampled_from(CAPABILITIES), max_size=2),
    priority=st.sampled_from(Priority),
)

budgets = st.one_of(
    st.none(),
    st.sampled_from([D("0"), D("0.00001"), D("0.0005"), D("0.002"), D("0.05"), D("1"), D("30")]),
    st.decimals(min_value=0, max_value=2, places=7, allow_nan=False, allow_infinity=False),
)

policies = st.builds(
    Policy,
    free_preference=st.sampled_from(FreePreference),
    allow_paid=st.booleans(),
    local_only=st.sampled_from([False, False, False, True]),
    budget_usd=budgets,
    quality_floor=st.one_of(st.none(), st.floats(0.0, 1.0)),
    allow=st.one_of(st.just(()), st.lists(st.sampled_from(PATTERNS), max_size=3).map(tuple)),
    deny=st.one_of(st.just(()), st.lists(st.sampled_from(PATTERNS), max_size=2).map(tuple)),
    fallback_depth=st.integers(0, 6),
    pinned=st.one_of(
        st.none(),
        st.sampled_from(
            [
                "z-ai/glm-5.2:free",
                "openrouter/free",
                "qwen3-coder-next:latest",
                "openrouter/auto",
                "no/such-model",
                "acme/tiny-paid",
                "acme/tiered-router",
                "llamacpp/tiny-1b",
                "nomic-embed-text-v2-moe:latest",
            ]
        ),
    ),
)

ZONES = (UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30)), None)


@st.composite
def moments(draw: st.DrawFn) -> datetime:
    base = datetime(2026, 1, 1) + timedelta(minutes=draw(st.integers(0, 365 * 24 * 60)))
    tz = draw(st.sampled_from(ZONES))
    return base if tz is None else base.replace(tzinfo=tz)


@st.composite
def quotas(draw: st.DrawFn, at: datetime) -> QuotaStatus | None:
    if draw(st.booleans()):
        return None
    per_day = draw(st.sampled_from([50, 1000]))
    blocked_min = draw(st.sampled_from([None, at + timedelta(seconds=30)]))
    blocked_day = draw(st.sampled_from([None, at + timedelta(hours=3)]))
    return QuotaStatus(
        at=at,
        per_minute=20,
        per_day=per_day,
        used_minute=draw(st.integers(0, 25)),
        used_day=draw(st.integers(0, per_day + 5)),
        minute_blocked_until=blocked_min,
        day_blocked_until=blocked_day,
    )


@st.composite
def worlds(draw: st.DrawFn, models: tuple[ModelInfo, ...]) -> dict:
    at = draw(moments())
    ids = sorted(m.id for m in models)
    return {
        "now": at,
        "quota": draw(quotas(at)),
        "sources_down": draw(st.frozensets(st.sampled_from(Source), max_size=2)),
        "key_present": draw(st.sampled_from([None, True, False])),
        "quarantined": draw(st.frozensets(st.sampled_from(ids), max_size=6)),
    }


# --- checks -------------------------------------------------------------------------------


def effective_context(m: ModelInfo) -> int:
    if m.local is not None and m.local.loaded_context_length:
        return m.local.loaded_context_length
    return m.context_length or ASSUMED_CONTEXT


def matches(model_id: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(model_id, p) for p in patterns)


def check_decision(d: RouteDecision, task: Task, policy: Policy, ctx: RoutingContext) -> None:
    index = ctx.index
    by_id = {m.id: m for m in index.models}
    chain_ids = d.chain_ids
    cand_ids = [c.id for c in d.candidates]
    rej_ids = [r.model_id for r in d.rejected]
    usage = Usage(
        prompt_tokens=d.resolved.prompt_tokens, completion_tokens=d.resolved.output_tokens
    )
    need_ctx = d.resolved.prompt_tokens + d.resolved.output_tokens
    quota = ctx.quota

    # candidates and rejected partition the catalogue, each model exactly once
    assert len(cand_ids) == len(set(cand_ids))
    assert len(rej_ids) == len(set(rej_ids))
    assert set(cand_ids).isdisjoint(rej_ids)
    assert set(cand_ids) | set(rej_ids) == set(by_id)

    # every rejection has a reason code, and the reason is true of the model
    for r in d.rejected:
        assert isinstance(r.reason, Reason)
        m = by_id[r.model_id]
        if r.reason is Reason.NOT_TEXT_OUTPUT:
            assert not m.text_output
        elif r.reason is Reason.DENIED:
            assert matches(m.id, policy.deny)
        elif r.reason is Reason.NOT_ALLOWED:
            assert policy.allow and not matches(m.id, policy.allow)
        elif r.reason is Reason.LOCAL_ONLY:
            assert policy.local_only and m.tier is not Tier.LOCAL
        elif r.reason is Reason.FREE_ONLY:
            assert policy.free_preference is FreePreference.ONLY and m.tier in PAID_LIKE
        elif r.reason is Reason.PAID_NOT_ALLOWED:
            assert not policy.allow_paid and m.tier in PAID_LIKE
        elif r.reason is Reason.SOURCE_DOWN:
            assert m.source in ctx.sources_down
        elif r.reason is Reason.KEY_MISSING:
            assert ctx.key_present is False and m.tier is not Tier.LOCAL
        elif r.reason is Reason.QUARANTINED:
            assert m.id in ctx.quarantined
        elif r.reason is Reason.CONTEXT_TOO_SMALL:
            assert effective_context(m) < need_ctx
        elif r.reason is Reason.OUTPUT_TOO_LONG:
            assert m.max_output_tokens is not None
            assert m.max_output_tokens < d.resolved.output_tokens
        elif r.reason is Reason.MISSING_CAPABILITY:
            assert not d.resolved.capabilities <= m.capabilities()
        elif r.reason is Reason.FREE_QUOTA_DAY:
            assert m.tier is Tier.FREE and quota is not None and quota.day_exhausted
        elif r.reason is Reason.FREE_QUOTA_MINUTE:
            assert m.tier is Tier.FREE and quota is not None and quota.minute_exhausted
        elif r.reason is Reason.VARIABLE_PRICE_WITH_BUDGET:
            assert policy.budget_usd is not None
            assert m.tier in (Tier.VARIABLE, Tier.UNKNOWN) or (
                estimate_cost(m, usage, ctx.now).total_usd is None
            )
        elif r.reason is Reason.OVER_BUDGET:
            exact = estimate_cost(m, usage, ctx.now).total_usd
            assert policy.budget_usd is not None
            assert exact is not None and exact > policy.budget_usd

    # every candidate passes every hard filter
    for c in d.candidates:
        m = c.model
        assert m.text_output
        assert not matches(m.id, policy.deny)
        assert not policy.allow or matches(m.id, policy.allow)
        assert effective_context(m) >= need_ctx
        assert m.max_output_tokens is None or m.max_output_tokens >= d.resolved.output_tokens
        assert d.resolved.capabilities <= m.capabilities()
        assert m.source not in ctx.sources_down
        assert m.id not in ctx.quarantined
        if policy.local_only:
            assert m.tier is Tier.LOCAL
        if policy.free_preference is FreePreference.ONLY or not policy.allow_paid:
            assert m.tier in ZERO_COST
        if m.tier is Tier.FREE and quota is not None:
            assert quota.available
        if policy.budget_usd is not None:
            assert m.tier not in (Tier.VARIABLE, Tier.UNKNOWN)

    # the chain: chosen first, no repeats, only candidates, never a rejected model
    assert len(chain_ids) == len(set(chain_ids))
    assert set(chain_ids) <= set(cand_ids)
    assert set(chain_ids).isdisjoint(rej_ids)
    assert [c.id for c in d.chain] == list(chain_ids)
    assert bool(chain_ids) == bool(cand_ids)
    if d.chosen is not None:
        assert d.chosen.id == chain_ids[0]
        assert [c.id for c in d.fallbacks] == list(chain_ids[1:])
        if policy.pinned is not None and policy.pinned in cand_ids:
            assert d.chosen.id == policy.pinned
        elif policy.pinned is None:
            assert d.chosen.id == cand_ids[0]
        assert d.chosen.id in " ".join(d.why)
    else:
        assert d.estimate is None and d.estimated_cost_usd is None

    # fallback depth (a depth of 0 may still get its paid safety net)
    depth = policy.fallback_depth
    if depth > 0:
        assert len(chain_ids) <= 1 + depth
    else:
        assert len(chain_ids) <= 2
        if len(chain_ids) == 2:
            assert by_id[chain_ids[1]].tier is Tier.PAID

    for c in d.chain:
        m = c.model
        # context filter
        assert effective_context(m) >= need_ctx
        # a FREE (or local) model's estimate is exactly $0
        if m.tier in ZERO_COST:
            assert c.cost_usd == D(0) and isinstance(c.cost_usd, Decimal)
        if policy.free_preference is FreePreference.ONLY:
            assert m.tier in ZERO_COST
        if policy.local_only:
            assert m.tier is Tier.LOCAL
        assert not matches(m.id, policy.deny)
        if quota is not None and (quota.day_exhausted or quota.minute_exhausted):
            assert m.tier is not Tier.FREE
        if policy.budget_usd is not None:
            assert m.tier not in (Tier.VARIABLE, Tier.UNKNOWN)
            exact = estimate_cost(m, usage, ctx.now).total_usd
            assert exact is not None and exact <= policy.budget_usd
            assert c.cost_usd == exact

    chosen = d.chosen
    if chosen is not None and chosen.tier is Tier.FREE:
        assert d.estimate is not None and d.estimate.total_usd == D(0)
        assert d.estimated_cost_usd == D(0)

    # paid safety net at the end of the chain
    paid_ok = (
        policy.allow_paid
        and policy.free_preference is not FreePreference.ONLY
        and not policy.local_only
    )
    paid_candidates = [c for c in d.candidates if c.tier is Tier.PAID]
    if paid_ok and paid_candidates:
        only_paid_is_chosen = len(paid_candidates) == 1 and paid_candidates[0].id == chain_ids[0]
        assert by_id[chain_ids[-1]].tier is Tier.PAID or only_paid_is_chosen

    # below threshold: nothing eligible, and chosen is the best available by quality.
    # "Good enough" is judged on the lower confidence bound, never above the prediction.
    required = d.required_quality
    for c in d.candidates:
        assert 0.0 <= c.quality_low <= c.quality <= 1.0
        assert c.evidence in (*EVIDENCE_ORDER, EVIDENCE_CLASSIFIER)
    if chosen is None:
        assert not d.below_threshold
    elif d.below_threshold:
        if policy.pinned is None:
            assert all(c.quality_low < required for c in d.candidates)
            assert chosen.quality == max(c.quality for c in d.candidates)
    else:
        assert chosen.quality_low >= required
    for c in d.candidates:
        assert c.eligible == (c.quality_low >= required)

    # candidates come in routing order: eligible by group then best score, then the rest
    # best quality first; the chain is what the contract builds from that full order
    rest = [c for c in d.candidates if c.id != policy.pinned]
    elig = [c for c in rest if c.eligible]
    below = [c for c in rest if not c.eligible]
    assert rest == elig + below
    for a, b in itertools.pairwise(elig):
        assert (a.group, -a.score) <= (b.group, -b.score)
    for a, b in itertools.pairwise(below):
        assert a.quality >= b.quality
    assert_chain_follows_contract(d, policy, elig, below)

    # the JSON view agrees and is serialisable
    data = d.to_dict()
    json.dumps(data)
    assert data["fallbacks"] == list(chain_ids[1:])
    assert [r["id"] for r in data["rejected"]] == rej_ids
    if chosen is not None:
        assert data["chosen"]["id"] == chosen.id
        assert data["chosen"]["tier"] == chosen.tier.value
        est = d.estimated_cost_usd
        if est is None:
            assert data["estimated_cost_usd"] is None
        else:
            assert isinstance(data["estimated_cost_usd"], str)
            assert "E" not in data["estimated_cost_usd"].upper()
            assert Decimal(data["estimated_cost_usd"]) == est


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(task=tasks, policy=policies, data=st.data())
def test_route_invariants(data_dir, task, policy, data):
    models = _models(data_dir)
    world = data.draw(worlds(models))
    ctx = RoutingContext(index=_shared_index(data_dir), **world)
    d = route(task, policy, ctx)
    check_decision(d, task, policy, ctx)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(task=tasks, policy=policies, data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_route_is_deterministic(data_dir, task, policy, data, seed):
    """Same inputs, same decision: twice on one (cached) index, and on a fresh index built
    from the catalogue in another order."""
    models = _models(data_dir)
    world = data.draw(worlds(models))
    shared = RoutingContext(index=_shared_index(data_dir), **world)
    first = route(task, policy, shared)
    second = route(task, policy, shared)
    shuffled = list(models)
    random.Random(seed).shuffle(shuffled)
    fresh = RoutingContext(index=CatalogueIndex(shuffled, _profiles(data_dir)), **world)
    third = route(task, policy, fresh)
    assert first.chain_ids == second.chain_ids == third.chain_ids
    assert first.to_dict() == second.to_dict() == third.to_dict()
    assert [r.model_id for r in first.rejected] == [r.model_id for r in third.rejected]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    task=tasks,
    policy=policies,
    data=st.data(),
    scope=st.sampled_from(["day", "minute"]),
)
def test_exhausted_free_quota_never_routes_to_a_free_model(data_dir, task, policy, data, scope):
    models = _models(data_dir)
    world = data.draw(worlds(models))
    at = world["now"]
    world["quota"] = QuotaStatus(
        at=at,
        per_minute=20,
        per_day=50,
        used_minute=20 if scope == "minute" else 3,
        used_day=50 if scope == "day" else 10,
    )
    ctx = RoutingContext(index=_shared_index(data_dir), **world)
    d = route(task, policy, ctx)
    assert all(c.tier is not Tier.FREE for c in d.chain)
    assert all(c.tier is not Tier.FREE for c in d.candidates)
    expected = Reason.FREE_QUOTA_DAY if scope == "day" else Reason.FREE_QUOTA_MINUTE
    # a free model that got as far as the quota check is rejected for the quota
    early = {
        Reason.NOT_TEXT_OUTPUT,
        Reason.DENIED,
        Reason.NOT_ALLOWED,
        Reason.LOCAL_ONLY,
        Reason.SOURCE_DOWN,
        Reason.KEY_MISSING,
        Reason.QUARANTINED,
    }
    by_id = {m.id: m for m in models}
    free_reasons = [r.reason for r in d.rejected if by_id[r.model_id].tier is Tier.FREE]
    assert free_reasons
    assert all(r is expected or r in early for r in free_reasons)
    unfiltered = not (policy.deny or policy.allow or policy.local_only or world["quarantined"])
    reachable = Source.OPENROUTER not in world["sources_down"] and world["key_present"] is not False
    if unfiltered and reachable:
        assert set(free_reasons) == {expected}


def assert_chain_follows_contract(
    d: RouteDecision, policy: Policy, elig: list, below: list
) -> None:
    """Rebuild the chain from the fully scored candidate list and compare."""
    pin = next((c for c in d.candidates if c.id == policy.pinned), None)
    lead = elig or below
    if pin is not None:
        lead = [pin, *(c for c in lead if c.id != pin.id)]
    depth = policy.fallback_depth
    index = d.context.index
    same = {m.id: index.underlying[k] for k, m in enumerate(index.models)}
    chain: list[str] = []
    held: set[int] = set()  # an alias and its target are one model: once in a chain

    def take(cands) -> None:
        for c in cands:
            if len(chain) < 1 + depth and same[c.id] not in held:
                chain.append(c.id)
                held.add(same[c.id])

    take(lead)
    if len(chain) < 1 + depth and elig:
        take(below)
    tiers = {c.id: c.tier for c in d.candidates}
    paid_ok = (
        policy.allow_paid
        and policy.free_preference is not FreePreference.ONLY
        and not policy.local_only
    )
    if paid_ok and chain and tiers[chain[-1]] is not Tier.PAID:
        extra = next(
            (
                c.id
                for c in [*elig, *below]
                if c.tier is Tier.PAID and c.id not in chain and same[c.id] not in held
            ),
            None,
        )
        if extra is not None:
            if len(chain) > depth and len(chain) > 1:
                chain[-1] = extra
            else:
                chain.append(extra)
        else:
            paid_pos = [k for k, i in enumerate(chain) if tiers[i] is Tier.PAID and k > 0]
            if paid_pos:
                chain.append(chain.pop(paid_pos[-1]))
    assert list(d.chain_ids) == chain
