"""route(): hard filters with their reason codes, the free preference, priorities, the chain."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from locallama_gui.core.catalogue import parse_ollama_tags, parse_openrouter_models
from locallama_gui.core.models import (
    Benchmarks,
    LocalDetails,
    ModelInfo,
    PriceOverride,
    Pricing,
    Source,
    Tier,
)
from locallama_gui.core.profiles import build_profiles
from locallama_gui.core.quota import QuotaStatus
from locallama_gui.core.routing import (
    FREE_REQUEST_UNIT_USD,
    REASON_TEXT,
    CatalogueIndex,
    FreePreference,
    Policy,
    Priority,
    Reason,
    RoutingContext,
    Task,
    free_request_price,
    route,
)
from locallama_gui.core.samples import PerformanceSample
from tests.conftest import DATA

D = Decimal
NOW = datetime(2026, 8, 14, 12, 0, tzinfo=UTC)


def local(
    model_id: str,
    params_b: float,
    *,
    loaded: bool = True,
    context: int | None = 32768,
    source: Source = Source.OLLAMA,
    size_bytes: int | None = None,
    params: tuple[str, ...] = (),
) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        source=source,
        tier=Tier.LOCAL,
        context_length=context,
        supported_parameters=params,
        local=LocalDetails(parameter_count_b=params_b, loaded=loaded, size_bytes=size_bytes),
    )


def free(
    model_id: str,
    intelligence: float | None = None,
    *,
    context: int = 131072,
    params: tuple[str, ...] = (),
) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        source=Source.OPENROUTER,
        tier=Tier.FREE,
        pricing=Pricing(prices={"prompt": D(0), "completion": D(0)}),
        context_length=context,
        supported_parameters=params,
        benchmarks=None if intelligence is None else Benchmarks(intelligence_index=intelligence),
    )


def paid(
    model_id: str,
    prompt: str,
    completion: str,
    intelligence: float | None = None,
    *,
    context: int = 200000,
    max_output: int | None = None,
    params: tuple[str, ...] = (),
    overrides: tuple[PriceOverride, ...] = (),
    inputs: tuple[str, ...] = ("text",),
) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        source=Source.OPENROUTER,
        tier=Tier.PAID,
        pricing=Pricing(
            prices={"prompt": D(prompt), "completion": D(completion)}, overrides=overrides
        ),
        context_length=context,
        max_output_tokens=max_output,
        supported_parameters=params,
        input_modalities=inputs,
        benchmarks=None if intelligence is None else Benchmarks(intelligence_index=intelligence),
    )


def variable(model_id: str = "openrouter/auto") -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        source=Source.OPENROUTER,
        tier=Tier.VARIABLE,
        pricing=Pricing(prices={"prompt": D(-1), "completion": D(-1)}),
        context_length=2000000,
    )


#: The benchmarked models the quality estimates are fitted on (a real catalogue): the small
#: catalogues of these tests have too few benchmarks of their own.
TRAINING = parse_openrouter_models(
    json.loads((DATA / "openrouter" / "models-2026-08-14.json").read_text())
).models


def ctx(models, **kw) -> RoutingContext:
    profiles = kw.pop("profiles", None)
    now = kw.pop("now", NOW)
    training = kw.pop("prior_training", TRAINING)
    return RoutingContext(
        index=CatalogueIndex(models, profiles, prior_training=training), now=now, **kw
    )


LOCAL8 = local("llama3.1:8b", 8.0)
#: Graded runs of LOCAL8 (quality 0.6, twelve of them): without them it is only estimated
#: from its size, and a task of complexity 0.1 already asks more than its lower bound.
SEEN_LOCAL8 = build_profiles(
    [
        PerformanceSample(
            model_id="llama3.1:8b",
            source="ollama",
            category="chat",
            ts=NOW - timedelta(minutes=k),
            success=True,
            quality=0.6,
        )
        for k in range(12)
    ],
    NOW,
)
FREE_GOOD = free("acme/good:free", 49.0)  # quality 0.734
PAID_GOOD = paid("acme/good", "0.000001", "0.000002", 49.0)
PAID_GREAT = paid("acme/great", "0.000003", "0.000015", 63.0)  # quality 0.858
KNOWN = [LOCAL8, FREE_GOOD, PAID_GOOD, PAID_GREAT]


def reasons(decision) -> dict[str, Reason]:
    return {r.model_id: r.reason for r in decision.rejected}


# --- one focused test per hard filter -----------------------------------------------------


def test_not_text_output():
    painter = ModelInfo(
        id="acme/painter",
        name="Painter",
        source=Source.OPENROUTER,
        tier=Tier.PAID,
        pricing=Pricing(prices={"prompt": D("0.000001"), "image": D("0.04")}),
        output_modalities=("image",),
    )
    d = route(Task(prompt_tokens=10), Policy(), ctx([painter, PAID_GOOD]))
    assert reasons(d)["acme/painter"] is Reason.NOT_TEXT_OUTPUT
    assert "image" in d.rejected[0].detail
    assert d.chain_ids == ("acme/good",)


def test_denied_with_pattern():
    d = route(Task(prompt_tokens=10), Policy(deny=("acme/*",)), ctx(KNOWN))
    assert reasons(d) == {
        "acme/good": Reason.DENIED,
        "acme/good:free": Reason.DENIED,
        "acme/great": Reason.DENIED,
    }
    assert d.chain_ids == ("llama3.1:8b",)


def test_deny_by_exact_id_containing_brackets():
    odd = local("weird[1]:latest", 8.0)
    d = route(Task(prompt_tokens=10), Policy(deny=("weird[1]:latest",)), ctx([odd, LOCAL8]))
    assert reasons(d) == {"weird[1]:latest": Reason.DENIED}


def test_not_in_allow_list():
    d = route(Task(prompt_tokens=10), Policy(allow=("acme/great", "*:free")), ctx(KNOWN))
    assert reasons(d) == {"llama3.1:8b": Reason.NOT_ALLOWED, "acme/good": Reason.NOT_ALLOWED}
    assert set(d.chain_ids) == {"acme/good:free", "acme/great"}


def test_local_only():
    d = route(Task(prompt_tokens=10), Policy(local_only=True), ctx(KNOWN))
    assert reasons(d) == {
        "acme/good:free": Reason.LOCAL_ONLY,
        "acme/good": Reason.LOCAL_ONLY,
        "acme/great": Reason.LOCAL_ONLY,
    }
    assert d.chain_ids == ("llama3.1:8b",)


def test_paid_not_allowed_covers_paid_and_variable():
    d = route(Task(prompt_tokens=10), Policy(allow_paid=False), ctx([*KNOWN, variable()]))
    r = reasons(d)
    assert r == {
        "acme/good": Reason.PAID_NOT_ALLOWED,
        "acme/great": Reason.PAID_NOT_ALLOWED,
        "openrouter/auto": Reason.PAID_NOT_ALLOWED,
    }
    assert all(c.tier in (Tier.FREE, Tier.LOCAL) for c in d.chain)


def test_free_only():
    d = route(
        Task(prompt_tokens=10, complexity=1.0),
        Policy(free_preference=FreePreference.ONLY),
        ctx([*KNOWN, variable()]),
    )
    r = reasons(d)
    assert r == {
        "acme/good": Reason.FREE_ONLY,
        "acme/great": Reason.FREE_ONLY,
        "openrouter/auto": Reason.FREE_ONLY,
    }
    # nothing free reaches complexity 1.0: the best $0 model, flagged, and no paid tail
    assert d.below_threshold
    assert d.chain_ids[0] == "acme/good:free"
    assert all(c.tier in (Tier.FREE, Tier.LOCAL) for c in d.chain)


def test_source_down():
    d = route(
        Task(prompt_tokens=10), Policy(), ctx(KNOWN, sources_down=frozenset({Source.OPENROUTER}))
    )
    r = reasons(d)
    assert set(r.values()) == {Reason.SOURCE_DOWN}
    assert set(r) == {"acme/good:free", "acme/good", "acme/great"}
    assert d.chain_ids == ("llama3.1:8b",)


def test_key_missing_spares_local_models():
    d = route(Task(prompt_tokens=10), Policy(), ctx(KNOWN, key_present=False))
    assert set(reasons(d).values()) == {Reason.KEY_MISSING}
    assert d.chain_ids == ("llama3.1:8b",)
    # unknown key state: advise without filtering
    assert route(Task(prompt_tokens=10), Policy(), ctx(KNOWN, key_present=None)).rejected == ()


def test_quarantined():
    d = route(Task(prompt_tokens=10), Policy(), ctx(KNOWN, quarantined=frozenset({"acme/great"})))
    assert reasons(d) == {"acme/great": Reason.QUARANTINED}


def test_context_too_small_uses_loaded_window_and_assumed_default():
    loaded_small = ModelInfo(
        id="lm/qwen-7b",
        name="q",
        source=Source.LMSTUDIO,
        tier=Tier.LOCAL,
        context_length=131072,
        local=LocalDetails(parameter_count_b=7, loaded=True, loaded_context_length=4096),
    )
    unknown_window = local("mystery:7b", 7.0, context=None)
    big = paid("acme/big", "0.000001", "0.000001", 40.0, context=10000)
    d = route(
        Task(prompt_tokens=3800, output_tokens=500),
        Policy(),
        ctx([loaded_small, unknown_window, big]),
    )
    r = {x.model_id: x for x in d.rejected}
    assert r["lm/qwen-7b"].reason is Reason.CONTEXT_TOO_SMALL
    assert r["lm/qwen-7b"].detail == "4096 < 4300"
    assert r["mystery:7b"].reason is Reason.CONTEXT_TOO_SMALL
    assert "assumed" in r["mystery:7b"].detail
    assert d.chain_ids == ("acme/big",)
    # exactly prompt + output fits
    fits = route(Task(prompt_tokens=3596, output_tokens=500), Policy(), ctx([loaded_small]))
    assert fits.chain_ids == ("lm/qwen-7b",)


def test_output_too_long():
    capped = paid("acme/capped", "0.000001", "0.000001", 40.0, max_output=1000)
    d = route(Task(prompt_tokens=10, output_tokens=1001), Policy(), ctx([capped, PAID_GOOD]))
    assert reasons(d) == {"acme/capped": Reason.OUTPUT_TOO_LONG}
    ok = route(Task(prompt_tokens=10, output_tokens=1000), Policy(), ctx([capped]))
    assert ok.chain_ids == ("acme/capped",)


@pytest.mark.parametrize(
    ("caps", "category", "ok_id"),
    [
        (frozenset({"tools"}), "chat", "acme/tools"),
        (frozenset({"json"}), "extraction", "acme/tools"),
        (frozenset(), "vision", "acme/eyes"),  # the vision category implies the capability
        (frozenset({"vision"}), "chat", "acme/eyes"),
    ],
)
def test_missing_capability(caps, category, ok_id):
    tools = paid("acme/tools", "0.000001", "0.000001", 40.0, params=("tools", "response_format"))
    eyes = paid("acme/eyes", "0.000001", "0.000001", 40.0, inputs=("text", "image"))
    d = route(
        Task(prompt_tokens=10, category=category, capabilities=caps), Policy(), ctx([tools, eyes])
    )
    assert d.chain_ids == (ok_id,)
    (rej,) = d.rejected
    assert rej.reason is Reason.MISSING_CAPABILITY
    assert rej.detail in ("tools", "json", "vision")


@pytest.mark.parametrize(
    ("quota", "reason"),
    [
        (QuotaStatus(NOW, 20, 50, used_minute=3, used_day=50), Reason.FREE_QUOTA_DAY),
        (
            QuotaStatus(NOW, 20, 50, 0, 0, day_blocked_until=NOW + timedelta(hours=12)),
            Reason.FREE_QUOTA_DAY,
        ),
        (QuotaStatus(NOW, 20, 50, used_minute=20, used_day=21), Reason.FREE_QUOTA_MINUTE),
        (
            QuotaStatus(NOW, 20, 50, 0, 0, minute_blocked_until=NOW + timedelta(seconds=20)),
            Reason.FREE_QUOTA_MINUTE,
        ),
    ],
)
def test_free_quota_used_up(quota, reason):
    d = route(
        Task(prompt_tokens=10, complexity=0.1),
        Policy(),
        ctx(KNOWN, quota=quota, profiles=SEEN_LOCAL8),
    )
    assert reasons(d) == {"acme/good:free": reason}
    assert d.chosen.id == "llama3.1:8b"  # $0 without quota takes over
    assert "acme/good:free" not in d.chain_ids


def test_free_quota_available_keeps_free_models():
    q = QuotaStatus(NOW, 20, 50, used_minute=19, used_day=49)
    # first come, first served (quota-aware routing keeps the last free request of the day
    # for a task whose paid alternative costs more than this one's)
    d = route(
        Task(prompt_tokens=10, complexity=0.1), Policy(quota_aware=False), ctx(KNOWN, quota=q)
    )
    assert d.chosen.id == "acme/good:free"
    assert "49 free" not in " ".join(d.why) and "1 free requests left today" in " ".join(d.why)


def test_variable_price_with_budget():
    d = route(Task(prompt_tokens=10), Policy(budget_usd=D("5")), ctx([variable(), PAID_GOOD]))
    assert reasons(d) == {"openrouter/auto": Reason.VARIABLE_PRICE_WITH_BUDGET}
    # without a budget a variable router may be used, its cost unknown (never $0)
    d2 = route(Task(prompt_tokens=10), Policy(), ctx([variable()]))
    assert d2.chain_ids == ("openrouter/auto",)
    assert d2.estimated_cost_usd is None
    assert d2.chosen.cost_usd is None
    assert d2.to_dict()["estimated_cost_usd"] is None


def test_over_budget_is_exact():
    # 1000 prompt tokens at $0.000001 + 500 completion at $0.000002 = exactly $0.002
    task = Task(prompt_tokens=1000, output_tokens=500)
    at = route(task, Policy(budget_usd=D("0.002")), ctx([PAID_GOOD]))
    assert at.chain_ids == ("acme/good",)
    assert at.estimated_cost_usd == D("0.002")
    under = route(task, Policy(budget_usd=D("0.0019999")), ctx([PAID_GOOD]))
    assert under.chain_ids == ()
    (rej,) = under.rejected
    assert rej.reason is Reason.OVER_BUDGET
    assert "0.002" in rej.detail


def test_over_budget_follows_long_context_override():
    tiered = paid(
        "acme/tiered",
        "0.000001",
        "0.000001",
        40.0,
        overrides=(PriceOverride(prices={"prompt": D("0.00001")}, min_prompt_tokens=1000),),
    )
    budget = Policy(budget_usd=D("0.005"))
    assert route(Task(prompt_tokens=1000, output_tokens=0), budget, ctx([tiered])).chain_ids
    over = route(Task(prompt_tokens=1001, output_tokens=0), budget, ctx([tiered]))
    assert reasons(over) == {"acme/tiered": Reason.OVER_BUDGET}


TIERED_ROUTER = paid(
    "acme/tiered-router",
    "0.000001",
    "0.000002",
    40.0,
    overrides=(PriceOverride(prices={"prompt": D(-1)}, min_prompt_tokens=1000),),
)


def test_paid_model_whose_override_is_variable_is_held_out_of_a_budget():
    long_task = Task(prompt_tokens=2000, complexity=0.0)
    d = route(long_task, Policy(budget_usd=D("1")), ctx([TIERED_ROUTER, PAID_GOOD]))
    assert d.chain_ids == ("acme/good",)
    (rej,) = d.rejected
    assert rej.model_id == "acme/tiered-router"
    assert rej.reason is Reason.VARIABLE_PRICE_WITH_BUDGET
    assert "None" not in rej.text
    # a short prompt stays on the listed prices and within budget
    short = route(
        Task(prompt_tokens=10, complexity=0.0), Policy(budget_usd=D("1")), ctx([TIERED_ROUTER])
    )
    assert short.chain_ids == ("acme/tiered-router",)


def test_paid_model_with_unknown_cost_scores_as_most_expensive():
    long_task = Task(prompt_tokens=2000, complexity=0.0)
    d = route(long_task, Policy(), ctx([TIERED_ROUTER, PAID_GOOD]))
    by_id = {c.id: c for c in d.candidates}
    assert by_id["acme/tiered-router"].cost_usd is None
    assert by_id["acme/tiered-router"].factors["cost"] == 0.0
    assert d.chosen.id == "acme/good"
    # below the quality bar its score is still computed (no math error)
    hard = route(Task(prompt_tokens=2000, complexity=1.0), Policy(), ctx([TIERED_ROUTER]))
    assert hard.below_threshold
    assert hard.chosen.factors["cost"] == 0.0
    assert hard.to_dict()["chosen"]["estimated_cost_usd"] is None


def test_every_reason_has_text():
    assert set(REASON_TEXT) == set(Reason)


# --- free preference -----------------------------------------------------------------------


def test_prefer_puts_zero_cost_first_then_paid_tail():
    d = route(Task(prompt_tokens=100, complexity=0.2), Policy(), ctx(KNOWN, profiles=SEEN_LOCAL8))
    assert d.chosen.tier in (Tier.FREE, Tier.LOCAL)
    assert d.chain[-1].tier is Tier.PAID
    assert [c.tier for c in d.candidates[:2]] == sorted(
        [Tier.FREE, Tier.LOCAL], key=lambda t: [c.tier for c in d.candidates[:2]].index(t)
    )
    assert {c.tier for c in d.candidates[:2]} == {Tier.FREE, Tier.LOCAL}
    assert "$0 model" in " ".join(d.why)


def test_prefer_vs_off_with_quality_priority():
    task = Task(prompt_tokens=100, complexity=0.2, priority=Priority.QUALITY)
    prefer = route(task, Policy(free_preference=FreePreference.PREFER), ctx(KNOWN))
    off = route(task, Policy(free_preference=FreePreference.OFF), ctx(KNOWN))
    assert prefer.chosen.id == "acme/good:free"
    assert off.chosen.id == "acme/great"
    # OFF ranks on utility alone: candidates strictly by score
    scores = [c.score for c in off.candidates if c.eligible]
    assert scores == sorted(scores, reverse=True)


def test_off_with_cost_priority_still_puts_zero_cost_first():
    task = Task(prompt_tokens=100, complexity=0.2, priority=Priority.COST)
    d = route(task, Policy(free_preference=FreePreference.OFF), ctx(KNOWN))
    assert d.chosen.tier in (Tier.FREE, Tier.LOCAL)


def test_avoid_uses_free_models_last():
    task = Task(prompt_tokens=100, complexity=0.2)
    d = route(
        task,
        Policy(free_preference=FreePreference.AVOID, fallback_depth=5),
        ctx(KNOWN, profiles=SEEN_LOCAL8),
    )
    assert d.chosen.tier is not Tier.FREE
    ids = [c.id for c in d.candidates]
    assert ids[-1] == "acme/good:free"
    assert d.chain_ids[-1] == "acme/good:free" or d.chain[-1].tier is Tier.PAID
    # ... but a free model is still used when nothing else will do
    alone = route(task, Policy(free_preference=FreePreference.AVOID), ctx([FREE_GOOD]))
    assert alone.chain_ids == ("acme/good:free",)


def test_only_never_chains_paid_even_below_threshold():
    d = route(
        Task(prompt_tokens=100, complexity=0.9),
        Policy(free_preference=FreePreference.ONLY, fallback_depth=6),
        ctx([*KNOWN, variable()]),
    )
    assert d.chain_ids and all(c.tier in (Tier.FREE, Tier.LOCAL) for c in d.chain)


# --- priority weights -----------------------------------------------------------------------

BIG_SLOW = local("big:70b", 70.0, loaded=False, size_bytes=42_000_000_000)  # q ~0.76
SMALL_FAST = local("small:3b", 3.0, loaded=True)  # q ~0.42


def test_speed_prefers_low_latency():
    task = Task(prompt_tokens=100, complexity=0.0, priority=Priority.SPEED)
    d = route(task, Policy(), ctx([BIG_SLOW, SMALL_FAST]))
    assert d.chosen.id == "small:3b"
    big, small = sorted(d.candidates, key=lambda c: c.id)
    assert small.latency_s < big.latency_s
    assert small.factors["latency"] > big.factors["latency"]


def test_quality_prefers_higher_quality():
    task = Task(prompt_tokens=100, complexity=0.0, priority=Priority.QUALITY)
    d = route(task, Policy(), ctx([BIG_SLOW, SMALL_FAST]))
    assert d.chosen.id == "big:70b"
    assert d.chosen.quality > d.fallbacks[0].quality


def test_cost_priority_prefers_cheaper_paid_model():
    cheap = paid("acme/cheap", "0.0000001", "0.0000002", 45.0)
    dear = paid("acme/dear", "0.00001", "0.00003", 50.0)
    task = Task(prompt_tokens=2000, output_tokens=1000, complexity=0.1, priority=Priority.COST)
    d = route(task, Policy(), ctx([cheap, dear]))
    assert d.chosen.id == "acme/cheap"
    assert d.chosen.factors["cost"] > d.fallbacks[0].factors["cost"]
    q = route(
        Task(prompt_tokens=2000, output_tokens=1000, complexity=0.1, priority=Priority.QUALITY),
        Policy(),
        ctx([cheap, paid("acme/dear", "0.0000002", "0.0000003", 63.0)]),
    )
    assert q.chosen.id == "acme/dear"


# --- threshold, pinning, depth, profiles ------------------------------------------------------


def test_below_threshold_takes_best_quality():
    d = route(Task(prompt_tokens=10), Policy(quality_floor=0.99), ctx(KNOWN))
    assert d.below_threshold
    assert d.chosen.id == "acme/great"
    assert d.chosen.quality == max(c.quality for c in d.candidates)
    assert not any(c.eligible for c in d.candidates)
    assert "BELOW THRESHOLD" in " ".join(d.why)
    assert d.to_dict()["below_threshold"] is True


def test_quality_floor_overrides_complexity():
    d = route(Task(prompt_tokens=10, complexity=1.0), Policy(quality_floor=0.3), ctx(KNOWN))
    assert d.required_quality == 0.3
    assert not d.below_threshold
    hard = route(Task(prompt_tokens=10, complexity=1.0), Policy(), ctx(KNOWN[:3]))
    assert hard.required_quality == pytest.approx(0.85)
    assert hard.below_threshold


def test_not_below_threshold_when_something_qualifies():
    d = route(Task(prompt_tokens=10, complexity=0.5), Policy(), ctx(KNOWN))
    assert not d.below_threshold
    assert d.chosen.quality >= d.required_quality


def test_nothing_routable():
    d = route(Task(prompt_tokens=10), Policy(deny=("*",)), ctx(KNOWN))
    assert d.chosen is None and d.chain_ids == () and d.fallbacks == ()
    assert d.estimate is None and d.estimated_cost_usd is None
    assert not d.below_threshold
    assert d.to_dict()["chosen"] is None
    assert "nothing can run this task" in " ".join(d.why)


def test_pinned_model_is_chosen():
    unpinned = route(Task(prompt_tokens=10, complexity=0.2), Policy(), ctx(KNOWN))
    assert unpinned.chosen.id != "acme/good"
    d = route(Task(prompt_tokens=10, complexity=0.2), Policy(pinned="acme/good"), ctx(KNOWN))
    assert d.chosen.id == "acme/good"
    assert d.pin_note == "Pinned to acme/good by request."
    assert d.candidates[0].id == "acme/good"


def test_pinned_below_threshold_is_flagged():
    d = route(Task(prompt_tokens=10, complexity=0.9), Policy(pinned="llama3.1:8b"), ctx(KNOWN))
    assert d.chosen.id == "llama3.1:8b"
    assert d.below_threshold


def test_pinned_rejected_routes_normally_and_says_why():
    policy = Policy(pinned="acme/great", deny=("acme/great",))
    d = route(Task(prompt_tokens=10, complexity=0.2), policy, ctx(KNOWN))
    normal = route(Task(prompt_tokens=10, complexity=0.2), Policy(deny=("acme/great",)), ctx(KNOWN))
    assert d.chain_ids == normal.chain_ids
    assert "rejected" in d.pin_note and REASON_TEXT[Reason.DENIED] in d.pin_note
    assert d.pin_note in d.why


def test_pinned_over_budget_says_why():
    d = route(
        Task(prompt_tokens=100_000, output_tokens=10_000),
        Policy(pinned="acme/great", budget_usd=D("0.01")),
        ctx(KNOWN),
    )
    assert d.chosen.id != "acme/great"
    assert REASON_TEXT[Reason.OVER_BUDGET] in d.pin_note


def test_pinned_unknown_model():
    d = route(Task(prompt_tokens=10), Policy(pinned="nobody/nothing"), ctx(KNOWN))
    assert "not in the catalogue" in d.pin_note
    assert d.chain_ids == route(Task(prompt_tokens=10), Policy(), ctx(KNOWN)).chain_ids


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 5])
def test_fallback_depth(depth):
    models = [
        *KNOWN,
        local("qwen2.5:14b", 14.0),
        local("phi:3b", 3.0),
        free("acme/other:free", 40.0),
        paid("acme/third", "0.000002", "0.000004", 55.0),
    ]
    d = route(Task(prompt_tokens=10, complexity=0.1), Policy(fallback_depth=depth), ctx(models))
    if depth == 0:
        # no fallbacks beyond the paid safety net after a $0 choice
        assert len(d.chain_ids) == 2 and d.chain[1].tier is Tier.PAID
    else:
        assert len(d.chain_ids) == min(1 + depth, len(models))
    assert d.chain[-1].tier is Tier.PAID
    no_paid = route(
        Task(prompt_tokens=10, complexity=0.1),
        Policy(fallback_depth=depth, allow_paid=False),
        ctx(models),
    )
    assert len(no_paid.chain_ids) == min(1 + depth, 5)  # five $0 models
    assert all(c.tier in (Tier.FREE, Tier.LOCAL) for c in no_paid.chain)


def test_chain_falls_back_to_below_threshold_models_when_few_qualify():
    # complexity 0.8 needs 0.74: only acme/great (0.858) qualifies
    d = route(Task(prompt_tokens=10, complexity=0.8), Policy(fallback_depth=3), ctx(KNOWN))
    assert not d.below_threshold
    assert [c.eligible for c in d.chain] == [True, False, False, False]
    # below-threshold fallbacks best quality first; the paid fallback moves to the end so the
    # chain ends with a paid model, and the local fallback is kept before it
    assert d.chain_ids == ("acme/great", "acme/good:free", "llama3.1:8b", "acme/good")


def test_poor_observed_success_ranks_lower():
    a = paid("acme/a", "0.000001", "0.000002", 50.0)
    b = paid("acme/b", "0.000001", "0.000002", 50.0)
    task = Task(prompt_tokens=10, complexity=0.2)
    base = route(task, Policy(), ctx([a, b]))
    assert base.chain_ids == ("acme/a", "acme/b")  # a tie keeps id order
    samples = [
        PerformanceSample(
            model_id="acme/a",
            source="openrouter",
            category="chat",
            ts=NOW - timedelta(hours=k),
            success=k % 5 == 0,
        )
        for k in range(30)
    ]
    d = route(task, Policy(), ctx([a, b], profiles=build_profiles(samples, NOW)))
    assert d.chain_ids == ("acme/b", "acme/a")
    assert d.fallbacks[0].factors["reliability"] < 0


def test_observed_quality_changes_the_choice():
    a = paid("acme/a", "0.000001", "0.000002", 50.0)
    b = paid("acme/b", "0.000001", "0.000002", 50.0)
    samples = [
        PerformanceSample(
            model_id="acme/b",
            source="openrouter",
            category="code",
            ts=NOW,
            success=True,
            quality=1.0,
        )
        for _ in range(20)
    ]
    profiles = build_profiles(samples, NOW)
    d = route(Task(prompt_tokens=10, category="code"), Policy(), ctx([a, b], profiles=profiles))
    assert d.chosen.id == "acme/b"
    assert d.chosen.quality > d.chosen.prior.quality


# --- explanations and the JSON view -------------------------------------------------------------


def test_why_mentions_chosen_and_fallbacks():
    d = route(Task(prompt="Write a haiku about rain", complexity=0.1), Policy(), ctx(KNOWN))
    text = "\n".join(d.why)
    assert d.chosen.id in text
    assert all(f.id in text for f in d.fallbacks)
    assert "Free model" in text or d.chosen.tier is not Tier.FREE


def test_to_dict_shape():
    d = route(
        Task(prompt_tokens=1000, output_tokens=100, complexity=0.2),
        Policy(deny=("llama*",), budget_usd=D("0.5")),
        ctx([*KNOWN, variable()]),
    )
    data = d.to_dict()
    json.dumps(data)  # JSON-safe
    assert data["chosen"]["id"] == d.chosen.id
    assert data["chosen"]["tier"] == d.chosen.tier.value
    assert data["fallbacks"] == [c.id for c in d.fallbacks]
    assert [c["id"] for c in data["candidates"]] == [c.id for c in d.candidates]
    assert {(r["id"], r["reason"]) for r in data["rejected"]} == {
        ("llama3.1:8b", "denied"),
        ("openrouter/auto", "variable_price_with_budget"),
    }
    assert data["estimated_cost_usd"] == "0"
    assert data["policy"]["budget_usd"] == "0.5"
    paid_row = next(c for c in data["candidates"] if c["id"] == "acme/good")
    assert Decimal(paid_row["estimated_cost_usd"]) == D("0.0012")
    assert "E" not in paid_row["estimated_cost_usd"]


def test_to_dict_paid_estimate_is_a_decimal_string():
    d = route(Task(prompt_tokens=7, output_tokens=3), Policy(allow=("acme/good",)), ctx(KNOWN))
    est = d.to_dict()["estimated_cost_usd"]
    assert Decimal(est) == D("0.000013")
    assert d.estimated_cost_usd == D("0.000013")


def test_free_estimate_is_exactly_zero():
    d = route(Task(prompt_tokens=100_000, output_tokens=5000), Policy(), ctx([FREE_GOOD]))
    assert d.chosen.tier is Tier.FREE
    assert d.estimated_cost_usd == D(0)
    assert isinstance(d.estimated_cost_usd, Decimal)
    assert d.estimate.is_free


def test_prompt_text_is_counted():
    d = route(
        Task(prompt="word " * 2000, output_tokens=10),
        Policy(),
        ctx([local("s:1b", 1, context=1024), PAID_GOOD]),
    )
    assert d.resolved.prompt_tokens > 1000
    assert reasons(d) == {"s:1b": Reason.CONTEXT_TOO_SMALL}


def test_task_and_policy_validation():
    with pytest.raises(ValueError):
        Task(prompt_tokens=-1)
    with pytest.raises(ValueError):
        Task(output_tokens=-1)
    with pytest.raises(ValueError):
        Task(complexity=1.5)
    with pytest.raises(ValueError, match="unknown capability"):
        Task(capabilities=frozenset({"telepathy"}))
    with pytest.raises(ValueError):
        Policy(fallback_depth=-1)
    with pytest.raises(ValueError):
        Policy(budget_usd=D("-0.01"))
    with pytest.raises(ValueError):
        Policy(quality_floor=1.2)


# --- the real catalogue ---------------------------------------------------------------------


@pytest.fixture
def real(data_dir: Path) -> list[ModelInfo]:
    orr = parse_openrouter_models(
        json.loads((data_dir / "openrouter" / "models-2026-08-14.json").read_text())
    ).models
    ollama = parse_ollama_tags(
        json.loads((data_dir / "ollama" / "tags-2026-04.json").read_text()),
        ps_payload=json.loads((data_dir / "ollama" / "ps-2026-04.json").read_text()),
    ).models
    return [*orr, *ollama]


def test_real_catalogue_easy_task_goes_to_zero_cost_with_paid_tail(real):
    d = route(Task(prompt="Say hello", complexity=0.1), Policy(), ctx(real))
    assert d.chosen.tier in (Tier.FREE, Tier.LOCAL)
    assert d.chain[-1].tier is Tier.PAID
    assert d.estimated_cost_usd == 0
    # the embedding model is not a text model
    assert reasons(d)["nomic-embed-text-v2-moe:latest"] is Reason.NOT_TEXT_OUTPUT


def test_real_catalogue_privacy_mode(real):
    d = route(Task(prompt_tokens=2000, category="code"), Policy(local_only=True), ctx(real))
    assert d.chain_ids and all(c.tier is Tier.LOCAL for c in d.chain)
    assert sum(r.reason is Reason.LOCAL_ONLY for r in d.rejected) == 414


def test_real_catalogue_huge_prompt(real):
    d = route(Task(prompt_tokens=1_500_000, output_tokens=1000), Policy(), ctx(real))
    assert d.chain_ids
    assert all((c.model.context_length or 0) >= 1_501_000 for c in d.chain)
    assert all(c.tier is not Tier.LOCAL for c in d.chain)


def test_real_catalogue_index_reuse_matches_fresh(real):
    index = CatalogueIndex(real)
    shared = RoutingContext(index=index, now=NOW)
    tasks = [
        Task(prompt_tokens=50, complexity=0.1),
        Task(prompt_tokens=5000, category="code", complexity=0.7, priority=Priority.QUALITY),
        Task(prompt_tokens=50, capabilities=frozenset({"tools"}), priority=Priority.SPEED),
    ]
    for t in tasks:
        for p in (
            Policy(),
            Policy(budget_usd=D("0.001")),
            Policy(free_preference=FreePreference.AVOID),
        ):
            warm = route(t, p, shared).to_dict()
            cold = route(t, p, RoutingContext(index=CatalogueIndex(reversed(real)), now=NOW))
            assert warm == cold.to_dict()


def test_avoid_keeps_free_fallbacks_when_the_only_paid_model_is_chosen():
    """With free models avoided and one paid model allowed, the paid model is chosen and the
    free ones stay in the chain as fallbacks (they are avoided, not removed)."""
    d = route(
        Task(prompt_tokens=10, complexity=0.2),
        Policy(free_preference=FreePreference.AVOID, allow=("acme/great", "*:free")),
        ctx(KNOWN),
    )
    assert d.chain[0].tier is Tier.PAID
    assert len(d.chain_ids) > 1
    assert all(c.tier is Tier.FREE for c in d.chain[1:])


def test_a_chain_holds_an_alias_or_its_target_never_both(real):
    openrouter = [m for m in real if m.source is Source.OPENROUTER]
    index = CatalogueIndex(openrouter)
    alias = index.by_id["~anthropic/claude-sonnet-latest"]
    target = index.by_id["anthropic/claude-sonnet-5"]
    assert index.underlying[alias] == target
    # the alias is rated from its target's benchmarks
    _, priors = index.quality("code")
    assert priors[alias].quality == priors[target].quality
    assert priors[alias].evidence == "base benchmark"
    only = [m for m in openrouter if "claude-sonnet" in m.id or m.id.startswith("~anthropic")]
    context = RoutingContext(index=CatalogueIndex(only), now=NOW)
    for pinned in (None, "~anthropic/claude-sonnet-latest"):
        d = route(
            Task(prompt_tokens=500, complexity=0.8, category="code"),
            Policy(fallback_depth=6, pinned=pinned),
            context,
        )
        ids = d.chain_ids
        assert len(ids) == len(set(ids)) >= 3
        assert not {"~anthropic/claude-sonnet-latest", "anthropic/claude-sonnet-5"} <= set(ids)


# --- free requests are scarce, local ones are not -------------------------------------------


def test_a_good_enough_local_model_comes_before_a_free_one():
    q = QuotaStatus(NOW, 20, 50, used_minute=0, used_day=0)
    task = Task(prompt_tokens=10, complexity=0.1)
    d = route(task, Policy(), ctx(KNOWN, quota=q, profiles=SEEN_LOCAL8))
    assert d.chosen.id == "llama3.1:8b"
    assert d.chain_ids.index("acme/good:free") > 0
    # first come, first served: the best-scoring $0 model, whichever it is
    fcfs = route(task, Policy(quota_aware=False), ctx(KNOWN, quota=q, profiles=SEEN_LOCAL8))
    assert fcfs.chosen.id == "acme/good:free"
    # a local model that is not known to be good enough does not jump the queue
    unseen = route(Task(prompt_tokens=10, complexity=0.3), Policy(), ctx(KNOWN, quota=q))
    assert unseen.chosen.id != "llama3.1:8b"


def test_the_price_of_a_free_request_rises_as_the_quota_runs_down():
    midnight = NOW.replace(hour=0)
    prices = [
        free_request_price(QuotaStatus(midnight, 20, 50, 0, used)) for used in range(0, 51, 5)
    ]
    assert prices[0] == 0.0
    assert prices == sorted(prices) and len(set(prices)) == len(prices)
    assert prices[5] == pytest.approx(FREE_REQUEST_UNIT_USD * 0.25 / 0.52)
    assert prices[-1] > 100 * prices[5]
    # what is left at midnight is worth nothing: the price falls as the day ends
    noon = free_request_price(QuotaStatus(NOW, 20, 50, 0, 25))
    late = free_request_price(QuotaStatus(NOW.replace(hour=23, minute=59), 20, 50, 0, 25))
    assert noon == pytest.approx(prices[5] / 2) and late < prices[5] / 1000


def test_scarce_free_requests_go_to_the_tasks_whose_paid_alternative_is_dearest():
    free_only = [FREE_GOOD, PAID_GOOD, PAID_GREAT]
    early = QuotaStatus(NOW, 20, 50, 0, 2)
    late = QuotaStatus(NOW, 20, 50, 0, 45)
    cheap = Task(prompt_tokens=50, output_tokens=50, complexity=0.2)
    dear = Task(prompt_tokens=100_000, output_tokens=4000, complexity=0.2)
    assert route(cheap, Policy(), ctx(free_only, quota=early)).chosen.id == "acme/good:free"
    late_cheap = route(cheap, Policy(), ctx(free_only, quota=late))
    assert late_cheap.chosen.tier is Tier.PAID
    assert "acme/good:free" in late_cheap.chain_ids  # still a fallback
    assert any("Free requests are scarce today (5 of 50 left)" in w for w in late_cheap.why)
    assert route(dear, Policy(), ctx(free_only, quota=late)).chosen.id == "acme/good:free"
    fcfs = route(cheap, Policy(quota_aware=False), ctx(free_only, quota=late))
    assert fcfs.chosen.id == "acme/good:free"


def test_quota_aware_routing_saves_against_first_come_first_served(real):
    from locallama_gui.core.simulation import Scenario, generate_tasks, simulate

    index = CatalogueIndex([m for m in real if m.source is Source.OPENROUTER])
    tasks = generate_tasks(Scenario(tasks=1200, tasks_per_day=300, seed=3, start=NOW))
    aware = simulate(tasks, Policy(), index)
    fcfs = simulate(tasks, Policy(quota_aware=False), index)
    assert aware.total_cost_usd < fcfs.total_cost_usd
    # the same free requests, spent on dearer tasks
    assert abs(aware.tier_counts.get("free", 0) - fcfs.tier_counts.get("free", 0)) <= 50


def test_images_are_billed_per_image_and_keep_the_budget(real):
    """One image can cost more than the whole budget: route and its estimate bill it."""
    eyes = paid("acme/eyes", "0.000001", "0.000001", 60.0, inputs=("text", "image"))
    eyes = dataclasses.replace(
        eyes,
        pricing=Pricing(
            prices={"prompt": D("0.000001"), "completion": D("0.000001"), "image": D("0.01")}
        ),
    )
    cheap_eyes = paid("acme/cheap-eyes", "0.000002", "0.000002", 55.0, inputs=("text", "image"))
    blind = paid("acme/blind", "0.0000001", "0.0000001", 60.0)
    models = [eyes, cheap_eyes, blind]
    task = Task(prompt_tokens=1000, output_tokens=100, complexity=0.2, images=2)
    d = route(task, Policy(budget_usd=D("0.005")), ctx(models))
    assert "acme/blind" not in d.chain_ids  # an image needs vision
    assert d.chosen.id == "acme/cheap-eyes"
    rejected = {r.model_id: r for r in d.rejected}
    assert rejected["acme/eyes"].reason is Reason.OVER_BUDGET  # $0.02 of images alone
    assert rejected["acme/eyes"].detail.startswith("$0.0211")
    free_budget = route(task, Policy(), ctx(models))
    by_id = {c.id: c for c in free_budget.candidates}
    assert by_id["acme/eyes"].cost_usd == D("0.000001") * 1100 + D("0.02")
    assert free_budget.estimated_cost_usd == by_id[free_budget.chosen.id].cost_usd
    with pytest.raises(ValueError):
        Task(prompt_tokens=1, images=-1)


@pytest.mark.parametrize(
    "policy",
    [
        Policy(),
        Policy(fallback_depth=8),
        Policy(free_preference=FreePreference.AVOID),
        Policy(budget_usd=Decimal("0.0005")),
        Policy(pinned="openai/gpt-4o-mini"),
        Policy(quality_floor=0.92),
    ],
    ids=repr,
)
def test_the_chain_takes_rows_below_the_bar_as_the_full_list_orders_them(monkeypatch, policy):
    """Hard tasks leave few models above the bar: the chain's tail is the best of the rest,
    made one at a time; it is the chain the fully scored candidate list gives."""
    from locallama_gui.core import routing as routing_mod
    from locallama_gui.core.simulation import Scenario, generate_tasks

    payload = json.loads((DATA / "openrouter" / "models-2026-08-14.json").read_text())
    local = parse_ollama_tags(json.loads((DATA / "ollama" / "tags-2026-04.json").read_text()))
    index = CatalogueIndex([*parse_openrouter_models(payload).models, *local.models])
    now = datetime(2026, 9, 1, 12, tzinfo=UTC)
    tasks = [st.task for st in generate_tasks(Scenario(tasks=150, seed=4, start=now))]
    tasks += [dataclasses.replace(t, complexity=0.97) for t in tasks[:60]]
    ctx = RoutingContext(index=index, now=now)
    lazy = [route(t, policy, ctx) for t in tasks]
    monkeypatch.setattr(routing_mod, "_below_rows", lambda *a: None)  # from the full list
    full = [route(t, policy, ctx) for t in tasks]
    below = 0
    for a, b in zip(lazy, full, strict=True):
        assert a.chain_ids == b.chain_ids
        assert a.below_threshold == b.below_threshold
        assert [c.id for c in a.chain] == [c.id for c in b.chain]
        below += any(c.quality_low < a.required_quality for c in a.chain)
    if policy.pinned is None:
        assert below > 0  # the tail below the bar was exercised


def test_a_variable_override_price_is_unknown_even_when_the_total_stays_positive():
    """A "-1" request price applied by an override makes the cost unknown (estimate_cost says
    so): never a cheap-looking figure, in the full decision, the chosen-only one or a budget."""
    from locallama_gui.core.cost import estimate_cost
    from locallama_gui.core.models import Usage

    def paid(mid: str, prompt: str, overrides=()) -> ModelInfo:
        return ModelInfo(
            id=mid,
            name=mid,
            source=Source.OPENROUTER,
            tier=Tier.PAID,
            context_length=4_000_000,
            pricing=Pricing(
                prices={"prompt": Decimal(prompt), "completion": Decimal("0.000001")},
                overrides=overrides,
            ),
        )

    variable = paid("x/variable", "0.0000015", (PriceOverride(prices={"request": Decimal(-1)}),))
    plain = paid("x/plain", "0.0000009")
    now = datetime(2026, 8, 1, 12, tzinfo=UTC)
    ctx = RoutingContext(index=CatalogueIndex([variable, plain]), now=now)
    task = Task(prompt_tokens=1 << 20, output_tokens=64, complexity=0.0)
    assert (
        estimate_cost(variable, Usage(prompt_tokens=1 << 20, completion_tokens=64)).total_usd
        is None
    )
    policy = Policy(free_preference=FreePreference.OFF, fallback_depth=0)
    assert route(task, policy, ctx).chain_ids[0] == "x/plain"
    assert route(task, policy, ctx, chosen_only=True).chain_ids == ("x/plain",)
    budget = route(task, dataclasses.replace(policy, budget_usd=Decimal(2)), ctx)
    assert budget.chain_ids == ("x/plain",)
    assert [(r.model_id, r.reason) for r in budget.rejected] == [
        ("x/variable", Reason.VARIABLE_PRICE_WITH_BUDGET)
    ]


@pytest.mark.parametrize("complexity", [0.3846153846153845, 0.0, 0.5, 1.0])
def test_rows_at_the_bar_are_never_dropped_by_its_bucket(complexity):
    """A bar a float ulp below its bucket's floor (0.44999999999999996) keeps a row at it."""
    from locallama_gui.core.quality import required_quality
    from locallama_gui.core.routing import _Ranked

    bar = required_quality(complexity)
    entry = (1.0, bar, 0, (0, None, 0, 1, 0, 0, 0, False, 0, 0, 0, 1), 0.5)
    assert _Ranked([[entry]]).above(bar) == [[entry]]


@pytest.mark.parametrize(
    "policy",
    [
        Policy(),
        Policy(fallback_depth=1),
        Policy(fallback_depth=8),
        Policy(free_preference=FreePreference.AVOID),
        Policy(free_preference=FreePreference.OFF),
        Policy(quota_aware=False),
        Policy(budget_usd=Decimal("0.001")),
    ],
    ids=repr,
)
def test_the_bounded_search_finds_the_chain_an_exhaustive_scan_finds(monkeypatch, policy):
    """The search stops scanning a group once no unseen row can enter the chain or its paid
    tail; with every bound made infinite it scans every row, and the chain is the same."""
    from locallama_gui.core import routing as routing_mod
    from locallama_gui.core.simulation import Scenario, generate_tasks

    payload = json.loads((DATA / "openrouter" / "models-2026-08-14.json").read_text())
    local = parse_ollama_tags(json.loads((DATA / "ollama" / "tags-2026-04.json").read_text()))
    index = CatalogueIndex([*parse_openrouter_models(payload).models, *local.models])
    now = datetime(2026, 9, 1, 12, tzinfo=UTC)
    tasks = [st.task for st in generate_tasks(Scenario(tasks=200, seed=8, start=now))]
    quota = QuotaStatus(at=now, per_minute=20, per_day=50, used_minute=0, used_day=30)
    contexts = [
        RoutingContext(index=index, now=now),
        RoutingContext(index=index, now=now, quota=quota),
    ]
    bounded = [route(t, policy, c) for c in contexts for t in tasks]
    real_above = routing_mod._Ranked.above

    def unbounded(self, bar):
        return [[(math.inf, *e[1:]) for e in entries] for entries in real_above(self, bar)]

    monkeypatch.setattr(routing_mod._Ranked, "above", unbounded)
    exhaustive = [route(t, policy, c) for c in contexts for t in tasks]
    for a, b in zip(bounded, exhaustive, strict=True):
        assert a.chain_ids == b.chain_ids, a.resolved.task


def test_the_ranked_lists_cache_keeps_the_lists_in_use(monkeypatch):
    """Past its size the cache drops the lists not asked for since its clock last passed
    them, not the ones in use; a hit takes no lock."""
    from locallama_gui.core import routing as routing_mod

    monkeypatch.setattr(routing_mod, "RANKED_CACHE_SIZE", 4)
    c = ctx(KNOWN)
    index = c.index
    policy = Policy()
    hot = Task(prompt_tokens=100, output_tokens=100, complexity=0.2)
    route(hot, policy, c)
    (hot_key,) = index._ranked_cache
    for k in range(12):  # each prompt size its own floor, so its own lists
        route(hot, policy, c)
        route(Task(prompt_tokens=2 ** (k + 8), output_tokens=100, complexity=0.2), policy, c)
        assert len(index._ranked_cache) <= 4
    assert hot_key in index._ranked_cache

    class NoLock:
        def __enter__(self):
            raise AssertionError("a cache hit took the lock")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(index, "_lock", NoLock())
    assert route(hot, policy, c).chain_ids == route(hot, policy, ctx(KNOWN)).chain_ids


def test_one_policy_object_over_changing_worlds_is_filtered_for_each():
    """The static filters' last state is matched by identity: the same policy object, routed
    in a world whose free quota runs out and comes back, is filtered for each world."""
    index = ctx(KNOWN, profiles=SEEN_LOCAL8).index
    policy = Policy(quota_aware=False)
    task = Task(prompt_tokens=10, complexity=0.1)
    fresh = QuotaStatus(NOW, 20, 50, 0, 0)
    spent = QuotaStatus(NOW, 20, 50, 0, 50)
    chosen = []
    for quota in (fresh, spent, fresh, None, spent):
        d = route(task, policy, RoutingContext(index=index, now=NOW, quota=quota))
        chosen.append(d.chosen.id)
    assert chosen == [
        "acme/good:free",
        "llama3.1:8b",
        "acme/good:free",
        "acme/good:free",
        "llama3.1:8b",
    ]
    down = RoutingContext(index=index, now=NOW, sources_down=frozenset({Source.OPENROUTER}))
    assert route(task, policy, down).chosen.id == "llama3.1:8b"
    gone = RoutingContext(index=index, now=NOW, quarantined=frozenset({"acme/good:free"}))
    assert route(task, policy, gone).chosen.id == "llama3.1:8b"
    assert route(task, policy, RoutingContext(index=index, now=NOW)).chosen.id == "acme/good:free"


def test_the_estimated_cost_is_the_estimates_total_to_the_digit():
    """A decision's estimated cost, made without the estimate's breakdown, is that estimate's
    total to the digit, and the same whichever of the two is asked for first."""
    from locallama_gui.core.cost import estimate_cost
    from locallama_gui.core.models import Usage
    from locallama_gui.core.simulation import Scenario, generate_tasks

    payload = json.loads((DATA / "openrouter" / "models-2026-08-14.json").read_text())
    index = CatalogueIndex(parse_openrouter_models(payload).models)
    tasks = generate_tasks(Scenario(tasks=300, tasks_per_day=100, seed=4, start=NOW))
    priced = 0
    for k, st in enumerate(tasks):
        policy = Policy(free_preference=FreePreference.OFF if k % 2 else FreePreference.PREFER)
        c = RoutingContext(index=index, now=st.at)
        d = route(st.task, policy, c)
        model = d.chosen_model
        usage = Usage(
            prompt_tokens=st.task.prompt_tokens,
            completion_tokens=st.task.output_tokens,
            images=st.task.images,
        )
        want = estimate_cost(model, usage, st.at).total_usd
        assert str(d.estimated_cost_usd) == str(want), st
        again = route(st.task, policy, c)
        assert again.estimate is not None and again.estimated_cost_usd == want
        priced += want is not None and want > 0
    assert priced > 20  # paid choices, overrides among them


def test_the_lists_above_a_bar_are_the_same_whichever_bars_came_before():
    """A bar's lists are filtered from a lower bar's when those were made: the same rows in
    the same order as filtered from the whole groups."""
    import random

    from locallama_gui.core import routing as routing_mod

    payload = json.loads((DATA / "openrouter" / "models-2026-08-14.json").read_text())
    c = RoutingContext(index=CatalogueIndex(parse_openrouter_models(payload).models), now=NOW)
    route(Task(prompt_tokens=900, output_tokens=300, complexity=0.4), Policy(), c)
    (ranked,) = c.index._ranked_cache.values()
    rng = random.Random(2)
    bars = [round(rng.random(), 3) for _ in range(120)] + [0.0, 1.0, 0.5, 0.025]
    for bar in bars:
        alone = routing_mod._Ranked(ranked.groups).above(bar)
        assert ranked.above(bar) == alone, bar
        assert all(e[1] >= math.floor(bar * 40) / 40 for g in alone for e in g)
    assert len(ranked._above) > 30
