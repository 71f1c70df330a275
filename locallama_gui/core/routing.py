"""Routing: which model a task should go to, the fallback chain, and why.

The contract (see DESIGN.md): ``route(task, policy, context) -> RouteDecision`` where the decision
carries the chosen model, a fallback chain, every candidate with its score broken down by
factor, every rejected model with a reason code, the estimated cost, and a flag when nothing
meets the required quality. Same inputs, same decision.

Speed: a catalogue is compiled once into a :class:`CatalogueIndex` (static facts, priors and
observed figures as flat tuples); one decision then walks those tuples with float scoring and
prices only the models it returns in ``Decimal``. The full candidate and rejection lists are
built on first access.
"""

from __future__ import annotations

import bisect
import fnmatch
import heapq
import itertools
import math
import operator
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import cached_property

from locallama_gui.core.cost import Pricer, estimate_cost, in_utc_window
from locallama_gui.core.models import (
    CostEstimate,
    ModelInfo,
    PriceOverride,
    Pricing,
    Source,
    Tier,
    Usage,
    decimal_str,
)
from locallama_gui.core.profiles import ModelProfile, Observed
from locallama_gui.core.quality import (
    CLASSIFIER_PRIOR,
    EVIDENCE_CLASSIFIER,
    EVIDENCE_ESTIMATE,
    EVIDENCE_OBSERVED,
    Prior,
    PriorFit,
    base_id,
    lower_bound,
    quality_prior,
    required_quality,
    speed_prior,
)
from locallama_gui.core.quota import QuotaStatus, as_utc
from locallama_gui.core.tokens import (
    PromptCounter,
    estimate_complexity,
    model_tokenizer,
)

#: Context assumed for a model whose window nobody reported (Ollama's own default).
ASSUMED_CONTEXT = 4096
DEFAULT_OUTPUT_TOKENS = 512
DEFAULT_COMPLEXITY = 0.5
#: Effective samples at which observed figures weigh as much as the prior.
PRIOR_STRENGTH = 4.0
#: Fixed cost scale for scoring: $0.0001 a task scores ~0.93, $1 a task scores 0.
COST_UNIT = 0.0001
COST_CEILING = 1.0
LATENCY_UNIT_S = 20.0
#: Bound-ranked survivor lists kept (per filter state, category, priority and size band).
RANKED_CACHE_SIZE = 512
ASSUMED_RELIABILITY = 0.95
LOCAL_BONUS = 0.03  # no quota, and nothing leaves the machine
_INV_COST_UNIT = 1.0 / COST_UNIT
_INV_LATENCY_UNIT = 1.0 / LATENCY_UNIT_S
_LOG_COST_CEILING = math.log1p(COST_CEILING / COST_UNIT)
_ZERO, _PAID, _OTHER = 0, 1, 2  # billing kinds in the hot loop

CATEGORIES = (
    "chat",
    "code",
    "reasoning",
    "math",
    "extraction",
    "writing",
    "long-context",
    "vision",
)
CAPABILITIES = ("tools", "vision", "json", "reasoning")


class FreePreference(StrEnum):
    PREFER = "prefer"  # $0 models (local and free) first whenever they are good enough
    ONLY = "only"  # never a paid model
    AVOID = "avoid"  # OpenRouter free models only when nothing else will do
    OFF = "off"  # no special treatment: utility alone decides


class Priority(StrEnum):
    COST = "cost"
    BALANCED = "balanced"
    SPEED = "speed"
    QUALITY = "quality"


#: (quality, cost, latency) weights of the utility per priority.
WEIGHTS: Mapping[Priority, tuple[float, float, float]] = {
    Priority.COST: (0.35, 0.55, 0.10),
    Priority.BALANCED: (0.55, 0.30, 0.15),
    Priority.SPEED: (0.30, 0.15, 0.55),
    Priority.QUALITY: (0.80, 0.10, 0.10),
}


class Reason(StrEnum):
    """Why a model was rejected (hard filters), in the order they are checked."""

    NOT_TEXT_OUTPUT = "not_text_output"
    DENIED = "denied"
    NOT_ALLOWED = "not_in_allow_list"
    LOCAL_ONLY = "local_only"
    PAID_NOT_ALLOWED = "paid_not_allowed"
    FREE_ONLY = "free_only"
    SOURCE_DOWN = "source_down"
    KEY_MISSING = "key_missing"
    QUARANTINED = "quarantined"
    CONTEXT_TOO_SMALL = "context_too_small"
    OUTPUT_TOO_LONG = "output_too_long"
    MISSING_CAPABILITY = "missing_capability"
    FREE_QUOTA_DAY = "free_quota_day"
    FREE_QUOTA_MINUTE = "free_quota_minute"
    VARIABLE_PRICE_WITH_BUDGET = "variable_price_with_budget"
    OVER_BUDGET = "over_budget"


REASON_TEXT: Mapping[Reason, str] = {
    Reason.NOT_TEXT_OUTPUT: "does not produce text",
    Reason.DENIED: "on the deny list",
    Reason.NOT_ALLOWED: "not on the allow list",
    Reason.LOCAL_ONLY: "local-only (privacy) mode",
    Reason.PAID_NOT_ALLOWED: "paid models are not allowed",
    Reason.FREE_ONLY: "free-only: not a $0 model",
    Reason.SOURCE_DOWN: "its source is down",
    Reason.KEY_MISSING: "needs an OpenRouter API key",
    Reason.QUARANTINED: "quarantined after repeated failures",
    Reason.CONTEXT_TOO_SMALL: "context window smaller than prompt plus output",
    Reason.OUTPUT_TOO_LONG: "cannot produce that many output tokens",
    Reason.MISSING_CAPABILITY: "lacks a required capability",
    Reason.FREE_QUOTA_DAY: "free requests used up for this UTC day",
    Reason.FREE_QUOTA_MINUTE: "free requests used up for this minute",
    Reason.VARIABLE_PRICE_WITH_BUDGET: "variable price cannot be held to a budget",
    Reason.OVER_BUDGET: "estimated cost over budget",
}


@dataclass(frozen=True, slots=True)
class Task:
    """What is to be done. Give the prompt text, or its token count, or both."""

    prompt: str | None = None
    prompt_tokens: int | None = None
    output_tokens: int = DEFAULT_OUTPUT_TOKENS
    complexity: float | None = None  # in [0, 1]; estimated from the text when None
    category: str = "chat"
    capabilities: frozenset[str] = frozenset()
    priority: Priority = Priority.BALANCED
    images: int = 0  # images sent with the prompt: billed per image, and need vision

    def __post_init__(self) -> None:
        if not isinstance(self.priority, Priority):
            object.__setattr__(self, "priority", Priority(self.priority))
        if not isinstance(self.capabilities, frozenset):
            object.__setattr__(self, "capabilities", frozenset(self.capabilities))
        if self.prompt_tokens is not None and self.prompt_tokens < 0:
            raise ValueError("prompt_tokens must not be negative")
        if self.output_tokens < 0:
            raise ValueError("output_tokens must not be negative")
        if self.images < 0:
            raise ValueError("images must not be negative")
        if self.complexity is not None and not 0.0 <= self.complexity <= 1.0:
            raise ValueError("complexity must be between 0 and 1")
        unknown = set(self.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ValueError(
                f"unknown capability {sorted(unknown)[0]!r} (use {', '.join(CAPABILITIES)})"
            )


@dataclass(frozen=True, slots=True)
class Policy:
    free_preference: FreePreference = FreePreference.PREFER
    allow_paid: bool = True
    local_only: bool = False
    budget_usd: Decimal | None = None  # per task
    quality_floor: float | None = None  # overrides the required quality
    allow: tuple[str, ...] = ()  # id patterns (fnmatch); empty = everything
    deny: tuple[str, ...] = ()
    fallback_depth: int = 4
    pinned: str | None = None  # route with this model pinned when it passes the filters
    #: Free requests are scarce and local ones are not: a local model that is good enough
    #: comes before a free one, and as the day's free quota runs down a free request is
    #: priced (:func:`free_request_price`) so it goes to the tasks whose paid alternative is
    #: dearest. False: first come, first served.
    quota_aware: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.free_preference, FreePreference):
            object.__setattr__(self, "free_preference", FreePreference(self.free_preference))
        for name in ("allow", "deny"):
            if not isinstance(getattr(self, name), tuple):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.fallback_depth < 0:
            raise ValueError("fallback_depth must not be negative")
        if self.budget_usd is not None and self.budget_usd < 0:
            raise ValueError("budget must not be negative")
        if self.quality_floor is not None and not 0.0 <= self.quality_floor <= 1.0:
            raise ValueError("quality floor must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class ResolvedTask:
    task: Task
    prompt_tokens: int
    output_tokens: int
    complexity: float
    token_method: str
    complexity_source: str  # "given", "estimated from the prompt", "default"
    capabilities: frozenset[str]
    #: False when ``prompt_tokens`` is an estimate (a cost from it is approximate)
    tokens_exact: bool = True
    #: the prompt text, counted on demand with each model's own tokenizer (context windows)
    counter: PromptCounter | None = field(default=None, compare=False, repr=False)


def resolve_task(task: Task, tokenizer: str | None = None) -> ResolvedTask:
    counter, exact = None, True
    if task.prompt_tokens is not None:
        tokens, method = task.prompt_tokens, "given"
    elif task.prompt is not None:
        counter = PromptCounter(task.prompt)
        est = counter.estimate(tokenizer)
        tokens, method, exact = est.tokens, est.method, est.exact
    else:
        tokens, method = 0, "no prompt"
    if task.complexity is not None:
        complexity, csrc = task.complexity, "given"
    elif task.prompt:
        complexity, csrc = estimate_complexity(task.prompt), "estimated from the prompt"
    else:
        complexity, csrc = DEFAULT_COMPLEXITY, "default"
    caps = task.capabilities
    if (task.category == "vision" or task.images) and "vision" not in caps:
        caps = caps | _VISION
    return ResolvedTask(
        task, tokens, task.output_tokens, complexity, method, csrc, caps, exact, counter
    )


_VISION = frozenset({"vision"})
#: A survivor's maximum output when its model states none.
_NO_LIMIT = math.inf


def _context_need(resolved: ResolvedTask, m: ModelInfo) -> int:
    """What ``m``'s context window must hold: the prompt counted with the model's own
    tokenizer (an estimate's upper bound; an exact count as it is) plus the output."""
    counter = resolved.counter
    if counter is None:
        return resolved.prompt_tokens + resolved.output_tokens
    return counter.upper(model_tokenizer(m)) + resolved.output_tokens


def _fits_uncounted(resolved: ResolvedTask) -> int:
    """A context window this large holds the task whatever the tokenizer (no counting)."""
    counter = resolved.counter
    if counter is None:
        return resolved.prompt_tokens + resolved.output_tokens
    return counter.universal_upper + resolved.output_tokens


# --- the compiled catalogue ---------------------------------------------------------------

_CAP_BITS = {name: 1 << i for i, name in enumerate(CAPABILITIES)}


def _caps_mask(caps: Iterable[str]) -> int:
    mask = 0
    for c in caps:
        mask |= _CAP_BITS.get(c, 0)
    return mask


@dataclass(frozen=True, slots=True)
class _Rec:
    """Static per-model facts in the shape the hot loop wants."""

    i: int
    model: ModelInfo
    tier: Tier
    source: Source
    text: bool
    context: int
    context_assumed: bool
    max_output: int | None
    caps: int
    price_prompt: float
    price_completion: float
    price_request: float
    price_image: float
    # (min_prompt_tokens or -1, utc_start, utc_end, prompt, completion, request) as floats
    overrides: tuple[tuple, ...]
    # the lowest prompt, completion and request prices, overrides included: with a task's
    # least token counts they bound its cost from below
    min_prices: tuple[float, float, float]
    ttft_s: float
    inv_tps: float
    speed_source: str
    reliability: float
    observed_weight: float


def _shrink(prior: float, observed: float | None, weight: float) -> float:
    if observed is None or weight <= 0:
        return prior
    return (PRIOR_STRENGTH * prior + weight * observed) / (PRIOR_STRENGTH + weight)


def _effective_context(m: ModelInfo) -> tuple[int, bool]:
    local = m.local
    if local is not None and local.loaded_context_length:
        return local.loaded_context_length, False
    if m.context_length:
        return m.context_length, False
    return ASSUMED_CONTEXT, True


def _f(value: Decimal | None) -> float:
    return float(value) if value is not None else 0.0


def _float_overrides(overrides: Iterable[PriceOverride]) -> tuple[tuple, ...]:
    out = []
    for o in overrides:
        pr = o.prices
        out.append(
            (
                -1 if o.min_prompt_tokens is None else o.min_prompt_tokens,
                o.utc_start,
                o.utc_end,
                float(pr["prompt"]) if "prompt" in pr else None,
                float(pr["completion"]) if "completion" in pr else None,
                float(pr["request"]) if "request" in pr else None,
            )
        )
    return tuple(out)


def _min_prices(pricing: Pricing | None) -> tuple[float, float, float]:
    """The lowest prompt, completion and request prices any override can give (a missing or
    variable price counts as 0: the bound stays a bound)."""
    if pricing is None:
        return (0.0, 0.0, 0.0)
    out = []
    for key in ("prompt", "completion", "request"):
        base = pricing.prices.get(key)
        values = [base, *(o.prices.get(key, base) for o in pricing.overrides)]
        known = [float(v) for v in values if v is not None]
        out.append(max(0.0, min(known)) if known and None not in values else 0.0)
    return (out[0], out[1], out[2])


def _float_cost(rec: _Rec, prompt: int, output: int, hhmm: int, images: int = 0) -> float:
    """Cost of one request in float, for scoring only (money is priced in Decimal)."""
    pp, pc, pq = rec.price_prompt, rec.price_completion, rec.price_request
    for min_p, start, end, op, oc, oq in rec.overrides:
        if prompt <= min_p:
            continue
        if (start is not None or end is not None) and not in_utc_window(hhmm, start, end):
            continue
        if op is not None:
            pp = op
        if oc is not None:
            pc = oc
        if oq is not None:
            pq = oq
    if pp < 0.0 or pc < 0.0 or pq < 0.0:
        return -1.0  # a "-1" (variable) price applies: unknown, whatever the other lines add
    return pp * prompt + pc * output + pq + (rec.price_image * images if images else 0.0)


class CatalogueIndex:
    """A catalogue compiled for routing, with the profiles routing blends in.

    Build one per catalogue/profile change; reuse it for every decision.
    """

    def __init__(
        self,
        models: Iterable[ModelInfo],
        profiles: Mapping[str, ModelProfile] | None = None,
        prior_training: Iterable[ModelInfo] | Callable[[], Iterable[ModelInfo]] | None = None,
    ) -> None:
        """``prior_training``: benchmarked models to fit the quality estimates on when the
        catalogue itself has too few (an old catalogue without benchmarks), or a function
        returning them (called only then)."""
        seen: dict[str, ModelInfo] = {}
        for m in models:
            seen.setdefault(m.id, m)
        self.models: tuple[ModelInfo, ...] = tuple(sorted(seen.values(), key=lambda m: m.id))
        self.by_id: dict[str, int] = {m.id: i for i, m in enumerate(self.models)}
        self.profiles: Mapping[str, ModelProfile] = dict(profiles or {})
        self._prior_training = prior_training
        self._fit: PriorFit | bool | None = False  # False: not fitted yet
        self._quality_cache: dict[str, tuple[tuple[float, ...], tuple[Prior, ...]]] = {}
        self._low_cache: dict[str, tuple[float, ...]] = {}
        self._evidence_cache: dict[str, tuple[str, ...]] = {}
        self._base_cache: dict[tuple[str, Priority], tuple[float, ...]] = {}
        self._scoring_cache: dict[tuple[str, Priority], tuple] = {}
        self._static_cache: dict[tuple, tuple] = {}
        # the last static filter state asked for, matched by identity: a run of decisions
        # under one policy and world (a simulation, a busy gateway) skips building its key
        self._static_last: tuple | None = None
        self._static_ids = itertools.count()
        #: exact totals of one-request usages of these models (the models held by identity)
        self.pricer = Pricer()
        self._ranked_cache: OrderedDict[tuple, _Ranked] = OrderedDict()
        # decisions may run in several worker threads at once: the caches fill under a lock
        self._lock = threading.RLock()
        recs = []
        for i, m in enumerate(self.models):
            ctx, assumed = _effective_context(m)
            p = m.pricing
            sp = speed_prior(m)
            ttft, tps, ssrc = sp.ttft_s, sp.tokens_per_s, sp.source
            prof = self.profiles.get(m.id)
            overall = prof.overall if prof else None
            rel, weight = ASSUMED_RELIABILITY, 0.0
            if overall is not None and overall.weight > 0:
                weight = overall.weight
                rel = _shrink(ASSUMED_RELIABILITY, overall.success_rate, overall.weight)
                if overall.ttft_ms is not None:
                    ttft = _shrink(ttft, overall.ttft_ms / 1000.0, overall.weight)
                    ssrc = "observed"
                if overall.tokens_per_s is not None:
                    tps = _shrink(tps, overall.tokens_per_s, overall.weight)
                    ssrc = "observed"
            recs.append(
                _Rec(
                    i=i,
                    model=m,
                    tier=m.tier,
                    source=m.source,
                    text=m.text_output,
                    context=ctx,
                    context_assumed=assumed,
                    max_output=m.max_output_tokens,
                    caps=_caps_mask(m.capabilities()),
                    price_prompt=_f(p.get("prompt")) if p else 0.0,
                    price_completion=_f(p.get("completion")) if p else 0.0,
                    price_request=_f(p.get("request")) if p else 0.0,
                    price_image=_f(p.get("image")) if p else 0.0,
                    overrides=_float_overrides(p.overrides) if p else (),
                    min_prices=_min_prices(p),
                    ttft_s=ttft,
                    inv_tps=1.0 / max(tps, 0.1),
                    speed_source=ssrc,
                    reliability=rel,
                    observed_weight=weight,
                )
            )
        self.recs: tuple[_Rec, ...] = tuple(recs)
        #: each model's underlying model (an index): an alias such as
        #: ``~anthropic/claude-sonnet-latest`` maps to the model it redirects to, so a chain
        #: never holds both
        self.underlying: tuple[int, ...] = _underlying(self.models, self.by_id)
        self._free_router_ids = [
            m.id for m in self.models if m.tier is Tier.FREE and m.id == "openrouter/free"
        ]

    def __len__(self) -> int:
        return len(self.models)

    def scoring(
        self, category: str, priority: Priority
    ) -> tuple[tuple[float, ...], float, float, float]:
        """What a decision scores with: :meth:`base_scores`, the cost and latency weights,
        and the cost weight over the log cost ceiling."""
        cached = self._scoring_cache.get((category, priority))
        if cached is None:
            _, wc, wl = WEIGHTS[priority]
            cached = (self.base_scores(category, priority), wc, wl, wc / _LOG_COST_CEILING)
            self._scoring_cache[(category, priority)] = cached
        return cached

    def base_scores(self, category: str, priority: Priority) -> tuple[float, ...]:
        """The task-independent part of each model's score: quality, reliability, locality."""
        key = (category, priority)
        cached = self._base_cache.get(key)
        if cached is None:
            qs = self.quality(category)[0]
            wq = WEIGHTS[priority][0]
            cached = tuple(
                wq * qs[r.i]
                + _reliability_factor(r.reliability)
                + (LOCAL_BONUS if r.tier is Tier.LOCAL else 0.0)
                for r in self.recs
            )
            self._base_cache[key] = cached
        return cached

    @property
    def prior_fit(self) -> PriorFit | None:
        """The quality estimate for models without benchmarks: fitted on this catalogue's
        benchmarked models, else on ``prior_training``; None when neither has enough."""
        if self._fit is False:
            self._fit = PriorFit.for_catalogue(self.models, self._prior_training)
        return self._fit  # type: ignore[return-value]

    def quality(self, category: str) -> tuple[tuple[float, ...], tuple[Prior, ...]]:
        """Predicted quality of every model for ``category``: prior blended with observed."""
        cached = self._quality_cache.get(category)
        if cached is not None:
            return cached
        with self._lock:
            return self._build_quality(category)

    def quality_low(self, category: str) -> tuple[float, ...]:
        """The lower confidence bound of each model's quality: what "good enough" is judged
        on (the prior's uncertainty, narrowed by observed runs)."""
        cached = self._low_cache.get(category)
        if cached is None:
            self.quality(category)
            cached = self._low_cache[category]
        return cached

    def evidence(self, category: str) -> tuple[str, ...]:
        """What each model's quality rests on: ``observed`` once runs weigh in, else the
        prior's evidence (``benchmark``, ``base benchmark``, ``estimate``, ``nothing``)."""
        cached = self._evidence_cache.get(category)
        if cached is None:
            self.quality(category)
            cached = self._evidence_cache[category]
        return cached

    def _build_quality(self, category: str) -> tuple[tuple[float, ...], tuple[Prior, ...]]:
        cached = self._quality_cache.get(category)
        if cached is not None:
            return cached
        fit = self.prior_fit
        priors: list[Prior] = []
        for k, m in enumerate(self.models):
            lender = None
            if m.benchmarks is None:
                b = base_id(m.id)
                j = self.by_id.get(b)
                if j is not None and b != m.id:
                    lender = self.models[j]
                elif self.underlying[k] != k:  # an alias: its target's benchmarks
                    lender = self.models[self.underlying[k]]
            priors.append(quality_prior(m, category, lender, fit))
        # openrouter/free routes to a random free model: rate it as the median free model.
        free_q = sorted(
            priors[i].quality
            for i, m in enumerate(self.models)
            if m.tier is Tier.FREE
            and m.id not in self._free_router_ids
            and m.text_output
            and priors[i].quality > CLASSIFIER_PRIOR
        )
        if free_q:
            median = free_q[len(free_q) // 2]
            spread = (free_q[-1] - free_q[0]) / 2  # it may pick any of them
            for fid in self._free_router_ids:
                priors[self.by_id[fid]] = Prior(
                    median, "median of the free models it picks from", EVIDENCE_ESTIMATE, spread
                )
        qs: list[float] = []
        lows: list[float] = []
        evidence: list[str] = []
        for i, m in enumerate(self.models):
            prior = priors[i]
            q, sd, ev = prior.quality, prior.sd, prior.evidence
            prof = self.profiles.get(m.id) if ev != EVIDENCE_CLASSIFIER else None
            weight = 0.0
            if prof is not None:
                obs: Observed | None = prof.for_category(category)
                if obs is not None and obs.quality is not None:
                    weight = obs.quality_weight
                    q = _shrink(q, obs.quality, weight)
                elif prof.overall is not None and prof.overall.quality is not None:
                    # other categories say something, but less: half weight
                    weight = prof.overall.quality_weight / 2
                    q = _shrink(q, prof.overall.quality, weight)
            if weight > 0:
                # the prior counts as PRIOR_STRENGTH samples: observed ones narrow it
                sd *= math.sqrt(PRIOR_STRENGTH / (PRIOR_STRENGTH + weight))
                if weight >= 1.0:
                    ev = EVIDENCE_OBSERVED
            qs.append(q)
            lows.append(lower_bound(q, sd))
            evidence.append(ev)
        result = (tuple(qs), tuple(priors))
        self._low_cache[category] = tuple(lows)
        self._evidence_cache[category] = tuple(evidence)
        self._quality_cache[category] = result
        return result


@dataclass(frozen=True, slots=True)
class RoutingContext:
    """Everything about the world a decision depends on, passed in (no clock reads)."""

    index: CatalogueIndex
    now: datetime
    quota: QuotaStatus | None = None
    sources_down: frozenset[Source] = frozenset()
    key_present: bool | None = None  # None: unknown (advise without filtering)
    quarantined: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        models: Iterable[ModelInfo],
        now: datetime,
        profiles: Mapping[str, ModelProfile] | None = None,
        **kwargs: object,
    ) -> RoutingContext:
        return cls(index=CatalogueIndex(models, profiles), now=now, **kwargs)  # type: ignore[arg-type]


# --- decisions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rejection:
    model_id: str
    reason: Reason
    detail: str

    @property
    def text(self) -> str:
        return (
            f"{REASON_TEXT[self.reason]}: {self.detail}"
            if self.detail
            else REASON_TEXT[self.reason]
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    model: ModelInfo
    quality: float
    prior: Prior
    eligible: bool
    score: float
    factors: Mapping[str, float]  # contribution of each factor to the score
    cost_usd: Decimal | None  # None: unknown (variable price)
    latency_s: float
    group: float  # 0 first (local), 0.5 (free when preferred), 1, 2 below the bar
    quality_low: float = 0.0  # the lower confidence bound "good enough" was judged on
    evidence: str = ""  # what the quality rests on (observed, benchmark, estimate, ...)

    @property
    def uncertainty(self) -> float:
        """How far below the predicted quality its lower bound lies."""
        return max(0.0, self.quality - self.quality_low)

    @property
    def id(self) -> str:
        return self.model.id

    @property
    def tier(self) -> Tier:
        return self.model.tier


def _alias_target(
    alias: ModelInfo, models: Sequence[ModelInfo], ids: Sequence[str] | None = None
) -> ModelInfo | None:
    """The model a ``~vendor/family-latest`` alias redirects to: the newest model of that
    vendor whose id starts with the family and whose prices are the alias's.

    ``ids``: the models' ids when ``models`` is sorted by id (as an index holds them): the
    family's models are then found by bisection, not by a scan of every model."""
    body = alias.id[1:]
    if not body.endswith("-latest") or "/" not in body:
        return None
    family = body[: -len("-latest")] + "-"
    prices = alias.pricing.prices if alias.pricing else None
    if ids is None:
        pool: Iterable[ModelInfo] = models
    else:
        lo = bisect.bisect_left(ids, family)
        hi = bisect.bisect_left(ids, family[:-1] + chr(ord(family[-1]) + 1), lo)
        pool = models[lo:hi]
    found = [
        m
        for m in pool
        if m.id.startswith(family)
        and ":" not in m.id
        and (m.pricing.prices if m.pricing else None) == prices
    ]
    return max(found, key=lambda m: (m.created or 0, m.id)) if found else None


def _underlying(models: Sequence[ModelInfo], by_id: Mapping[str, int]) -> tuple[int, ...]:
    """Each model's underlying model: an alias's target, or itself (``models`` sorted by id)."""
    out = list(range(len(models)))
    ids = [m.id for m in models]
    for i, m in enumerate(models):
        if m.id.startswith("~"):
            target = _alias_target(m, models, ids)
            if target is not None:
                out[i] = by_id[target.id]
    return tuple(out)


def _reliability_factor(reliability: float) -> float:
    """Observed failures (not rate limits) cost score: 0 at the assumed 95% success."""
    return -0.3 * (ASSUMED_RELIABILITY - reliability) if reliability < ASSUMED_RELIABILITY else 0.0


def _cost_score(cost: float) -> float:
    if cost <= 0:
        return 1.0
    s = 1.0 - math.log1p(cost / COST_UNIT) / math.log1p(COST_CEILING / COST_UNIT)
    return 0.0 if s < 0 else s


class _LazyRows:
    """Rows made one by one as a reader asks for them, each made once: every iteration
    starts from the first row."""

    __slots__ = ("_made", "_source")

    def __init__(self, source: Iterator[tuple]) -> None:
        self._source: Iterator[tuple] | None = source
        self._made: list[tuple] = []

    def __iter__(self) -> Iterator[tuple]:
        k = 0
        while True:
            if k < len(self._made):
                yield self._made[k]
                k += 1
                continue
            if self._source is None:
                return
            row = next(self._source, None)
            if row is None:
                self._source = None
                return
            self._made.append(row)

    def __bool__(self) -> bool:
        return next(iter(self), None) is not None

    @property
    def made(self) -> list[tuple]:
        return self._made


class RouteDecision:
    """The outcome of :func:`route`. The chain is built on first access; so are the full
    candidate and rejection lists, which a caller that only needs the answer never pays for.
    """

    def __init__(
        self,
        *,
        resolved: ResolvedTask,
        policy: Policy,
        context: RoutingContext,
        chosen_only: bool = False,
        required: float,
        order: list[tuple],
        full_rows: Callable[[], list[tuple]],
        rejections: Callable[[], list[tuple[int, Reason, str]]],
        below_rows: Callable[[], Iterator[tuple] | None] | None = None,
    ) -> None:
        self.resolved = resolved
        self.policy = policy
        self.context = context
        self.chosen_only = chosen_only  # the chain holds the chosen model only
        self.required_quality = required
        self._order = order  # the eligible rows that decide the chain, best first
        self._full_rows = full_rows
        self._rejections = rejections
        # the rows below the quality bar in order, made only as far as the chain needs them
        # (the full list scores every candidate)
        self._below_source = below_rows
        self._pinned_row: tuple | None = None
        self._chain: list[int] = []
        self.scarcity_note: str | None = None  # free requests kept for dearer tasks
        self.below_threshold = False
        self.pin_note: str | None = None

    @cached_property
    def _usage(self) -> Usage:
        resolved = self.resolved
        return Usage(
            prompt_tokens=resolved.prompt_tokens,
            completion_tokens=resolved.output_tokens,
            images=resolved.task.images,
        )

    @cached_property
    def _all_rows(self) -> list[tuple]:
        """Every model that passed the filters, scored, in routing order (pin aside)."""
        return self._full_rows()

    @cached_property
    def _below_lazy(self) -> _LazyRows:
        rows = self._below_source() if self._below_source is not None else None
        return _LazyRows(rows if rows is not None else iter(self._below))

    @cached_property
    def _below(self) -> list[tuple]:
        return [r for r in self._all_rows if r[6] == 2]

    @cached_property
    def _full_order(self) -> list[tuple]:
        rows = list(self._all_rows)
        if self._pinned_row is not None:
            rows.remove(self._pinned_row)
            rows.insert(0, self._pinned_row)
        return rows

    def _finish(self) -> None:
        """Pin, chain and the paid tail (called once by :func:`route`)."""
        policy = self.policy
        if self.chosen_only and policy.pinned is None and self._order:
            self._chain = [self._order[0][1]]
            return
        index = self.context.index
        models = index.models
        lead: Iterable[tuple] = self._order if self._order else self._below_lazy
        self.below_threshold = bool(lead) and not self._order
        if policy.pinned is not None:
            j = index.by_id.get(policy.pinned)
            row = None
            if j is not None:
                row = next((r for r in self._order if r[1] == j), None) or next(
                    (r for r in self._all_rows if r[1] == j), None
                )
            if j is None:
                self.pin_note = (
                    f"Pinned model {policy.pinned} is not in the catalogue; routed normally."
                )
            elif row is None:
                why = next(
                    (REASON_TEXT[r] for ii, r, _ in self._all_reasons if ii == j), "rejected"
                )
                self.pin_note = (
                    f"Pinned model {policy.pinned} was rejected ({why}); routed normally."
                )
            else:
                self._pinned_row = row
                lead = [row, *(r for r in lead if r[1] != j)]
                self.below_threshold = row[6] == 2
                self.pin_note = f"Pinned to {policy.pinned} by request."
        depth = 0 if self.chosen_only else policy.fallback_depth
        same = index.underlying
        chain: list[int] = []
        held: set[int] = set()  # underlying models in the chain: an alias and its target once

        def take(rows: Iterable[tuple]) -> None:
            for r in rows:
                if len(chain) >= 1 + depth:
                    return
                if same[r[1]] not in held:
                    chain.append(r[1])
                    held.add(same[r[1]])

        take(lead)
        if len(chain) < 1 + depth and self._order and len(lead) > len(chain):  # type: ignore[arg-type]
            # duplicates (an alias and its target) took slots the bounded search counted on:
            # the eligible candidates it did not score come before any below the bar
            take(r for r in self._all_rows if r[6] != 2)
        if len(chain) < 1 + depth and self._order:
            take(self._below_lazy)
        paid = Tier.PAID
        paid_ok = (
            policy.allow_paid
            and policy.free_preference is not FreePreference.ONLY
            and not policy.local_only
            and not self.chosen_only
        )
        if paid_ok and chain and models[chain[-1]].tier is not paid:
            in_chain = set(chain)

            def first_paid(rows: Iterable[tuple]) -> int | None:
                return next(
                    (
                        r[1]
                        for r in rows
                        if models[r[1]].tier is paid
                        and r[1] not in in_chain
                        and same[r[1]] not in held
                    ),
                    None,
                )

            extra = first_paid(self._order)
            if extra is None:
                extra = first_paid(self._below_lazy)
            if extra is not None:
                if len(chain) > depth and len(chain) > 1:
                    chain[-1] = extra
                else:
                    chain.append(extra)
            else:
                # every paid candidate is in the chain already: end with the last paid fallback,
                # keeping the free and local fallbacks before it. When the only paid model is the
                # chosen one, nothing is moved: a free outage cannot strand a paid choice.
                paid_pos = [k for k, i in enumerate(chain) if models[i].tier is paid and k > 0]
                if paid_pos:
                    chain.append(chain.pop(paid_pos[-1]))
        self._chain = chain

    @property
    def chain_ids(self) -> tuple[str, ...]:
        """Chosen first, then the fallbacks: the order a run walks."""
        models = self.context.index.models
        return tuple(models[i].id for i in self._chain)

    @cached_property
    def chain(self) -> tuple[Candidate, ...]:
        by_i = {row[1]: row for row in self._order}
        if "_below_lazy" in self.__dict__:  # rows below the bar made for the chain
            by_i.update((row[1], row) for row in self._below_lazy.made)
        if any(i not in by_i for i in self._chain):
            by_i.update((row[1], row) for row in self._all_rows)
        return tuple(self._candidate(by_i[i]) for i in self._chain)

    @property
    def chosen(self) -> Candidate | None:
        return self.chain[0] if self._chain else None

    @property
    def chosen_model(self) -> ModelInfo | None:
        return self.context.index.models[self._chain[0]] if self._chain else None

    @property
    def fallbacks(self) -> tuple[Candidate, ...]:
        return self.chain[1:]

    @cached_property
    def candidates(self) -> tuple[Candidate, ...]:
        """Every model that passed the hard filters, in routing order."""
        return tuple(self._candidate(row) for row in self._full_order)

    @cached_property
    def _all_reasons(self) -> list[tuple[int, Reason, str]]:
        return self._rejections()

    @cached_property
    def rejected(self) -> tuple[Rejection, ...]:
        models = self.context.index.models
        return tuple(Rejection(models[i].id, r, d) for i, r, d in self._all_reasons)

    @property
    def eligible_count(self) -> int:
        return len(self._all_rows) - len(self._below)

    @property
    def available_count(self) -> int:
        return len(self._all_rows)

    def rejection_counts(self) -> Counter[Reason]:
        return Counter(r for _, r, _ in self._all_reasons)

    @cached_property
    def estimate(self) -> CostEstimate | None:
        model = self.chosen_model
        if model is None:
            return None
        return estimate_cost(model, self._usage, self.context.now)

    @cached_property
    def estimated_cost_usd(self) -> Decimal | None:
        """The estimate's total, without its breakdown unless that was made already."""
        est = self.__dict__.get("estimate")
        if est is not None:
            return est.total_usd
        model = self.chosen_model
        if model is None:
            return None
        # the counts of _usage, without making it (a Usage is most of this call's time)
        r = self.resolved
        return self.context.index.pricer.tokens_total(
            model, r.prompt_tokens, r.output_tokens, r.task.images, self.context.now
        )

    def _candidate(self, row: tuple) -> Candidate:
        _, i, score, q, fc, fl, group = row
        index = self.context.index
        if score is None:
            score, fc, fl = _score_parts(index, i, self.resolved, self.context.now)
        model = index.models[i]
        task = self.resolved.task
        priors = index.quality(task.category)[1]
        low = index.quality_low(task.category)[i]
        evidence = index.evidence(task.category)[i]
        rec = index.recs[i]
        latency = rec.ttft_s + self.resolved.output_tokens * rec.inv_tps
        factors = {
            "quality": WEIGHTS[task.priority][0] * q,
            "cost": fc,
            "latency": fl,
            "reliability": _reliability_factor(rec.reliability),
        }
        if rec.tier is Tier.LOCAL:
            factors["local"] = LOCAL_BONUS
        if model.tier in (Tier.VARIABLE, Tier.UNKNOWN):
            cost = None
        else:
            cost = estimate_cost(model, self._usage, self.context.now).total_usd
        return Candidate(
            model=model,
            quality=q,
            prior=priors[i],
            eligible=group < 2,
            score=score,
            factors=factors,
            cost_usd=cost,
            latency_s=latency,
            group=group,
            quality_low=low,
            evidence=evidence,
        )

    @cached_property
    def why(self) -> tuple[str, ...]:
        """Plain-language reasoning, most important first."""
        r = self.resolved
        lines = []
        lines.append(
            f"Task: {r.prompt_tokens} prompt tokens ({r.token_method}), {r.output_tokens} output "
            f"tokens, complexity {r.complexity:.2f} ({r.complexity_source}), category "
            f"{r.task.category}, priority {r.task.priority.value}."
        )
        floor = (
            "quality floor set by policy"
            if self.policy.quality_floor is not None
            else ("from complexity")
        )
        lines.append(
            f"Required quality {self.required_quality:.2f} ({floor}), judged on each model's "
            f"lower bound; {self.eligible_count} of {self.available_count} available models "
            "meet it."
        )
        if self.pin_note:
            lines.append(self.pin_note)
        if self.scarcity_note:
            lines.append(self.scarcity_note)
        chosen = self.chosen
        if chosen is None:
            lines.append("No model passed the hard filters: nothing can run this task.")
        else:
            m = chosen.model
            est = self.estimate
            cost = "unknown" if est is None or est.total_usd is None else f"${est.total_usd}"
            if est is not None and est.total_usd and not r.tokens_exact:
                cost = "≈ " + cost  # priced from an estimated prompt count
            if self.below_threshold:
                lines.append(
                    f"BELOW THRESHOLD: no model is known to reach the required quality; {m.id} "
                    f"is the best available (quality {_quality_text(chosen)})."
                )
            elif (
                m.tier in (Tier.FREE, Tier.LOCAL)
                and chosen.group < 1
                and (
                    self.policy.free_preference in (FreePreference.PREFER, FreePreference.ONLY)
                    or r.task.priority is Priority.COST
                )
            ):
                lines.append(
                    f"Chose {m.id} ({m.tier.value}, {cost}): the best-scoring $0 model that is "
                    f"good enough (quality {_quality_text(chosen)}, at least "
                    f"{chosen.quality_low:.2f} ≥ {self.required_quality:.2f})."
                )
            else:
                lines.append(
                    f"Chose {m.id} ({m.tier.value}, {cost}): the best trade-off of quality "
                    f"{_quality_text(chosen)}, cost and speed for a {r.task.priority.value} "
                    "priority."
                )
            lines.append(f"Its quality rests on {_evidence_text(chosen)}.")
            if m.tier is Tier.FREE:
                q = self.context.quota
                left = f"{q.remaining_day} free requests left today" if q else "free quota applies"
                lines.append(f"Free model: 20 requests/minute account-wide; {left}.")
        if self.fallbacks:
            tail = self.fallbacks[-1]
            note = ""
            if tail.tier is Tier.PAID and chosen is not None and chosen.tier is not Tier.PAID:
                note = " It ends with a paid model, so a free or local outage never strands it."
            lines.append("Fallbacks: " + ", ".join(c.id for c in self.fallbacks) + "." + note)
        counts = self.rejection_counts()
        if counts:
            parts = [f"{n} {REASON_TEXT[reason]}" for reason, n in counts.most_common()]
            lines.append("Rejected: " + "; ".join(parts) + ".")
        return tuple(lines)

    def to_dict(self) -> dict:
        """A JSON-safe view: the CLI's ``route --json`` and the route history."""

        def cand(c: Candidate) -> dict:
            return {
                "id": c.id,
                "name": c.model.name,
                "tier": c.tier.value,
                "source": c.model.source.value,
                "quality": round(c.quality, 4),
                "quality_low": round(c.quality_low, 4),
                "quality_evidence": c.evidence,
                "quality_prior": round(c.prior.quality, 4),
                "quality_prior_sd": round(c.prior.sd, 4),
                "quality_source": c.prior.source,
                "eligible": c.eligible,
                "score": round(c.score, 4),
                "factors": {k: round(v, 4) for k, v in c.factors.items()},
                "estimated_cost_usd": None if c.cost_usd is None else decimal_str(c.cost_usd),
                "expected_latency_s": round(c.latency_s, 3),
                "context_length": c.model.context_length,
            }

        est = self.estimate
        r = self.resolved
        return {
            "chosen": cand(self.chosen) if self.chosen else None,
            "fallbacks": [c.id for c in self.fallbacks],
            "chain": [cand(c) for c in self.chain],
            "candidates": [cand(c) for c in self.candidates],
            "rejected": [
                {"id": j.model_id, "reason": j.reason.value, "detail": j.detail}
                for j in self.rejected
            ],
            "estimated_cost_usd": None
            if est is None or est.total_usd is None
            else decimal_str(est.total_usd),
            "below_threshold": self.below_threshold,
            "required_quality": round(self.required_quality, 4),
            "task": {
                "prompt_tokens": r.prompt_tokens,
                "token_method": r.token_method,
                "prompt_tokens_exact": r.tokens_exact,
                "output_tokens": r.output_tokens,
                "complexity": round(r.complexity, 4),
                "complexity_source": r.complexity_source,
                "category": r.task.category,
                "priority": r.task.priority.value,
                "capabilities": sorted(r.capabilities),
                "images": r.task.images,
            },
            "policy": {
                "free_preference": self.policy.free_preference.value,
                "allow_paid": self.policy.allow_paid,
                "local_only": self.policy.local_only,
                "budget_usd": None
                if self.policy.budget_usd is None
                else decimal_str(self.policy.budget_usd),
                "fallback_depth": self.policy.fallback_depth,
            },
            "why": list(self.why),
        }


def _quality_text(c: Candidate) -> str:
    """``0.62 ±0.04``; a quality with no spread (observed at length) is just ``0.62``."""
    spread = c.uncertainty
    return f"{c.quality:.2f} ±{spread:.2f}" if spread >= 0.005 else f"{c.quality:.2f}"


def _evidence_text(c: Candidate) -> str:
    if c.evidence == EVIDENCE_OBSERVED:
        return f"observed runs, blended with its prior ({c.prior.source})"
    return c.prior.source


# --- the decision ---------------------------------------------------------------------------


def _matches(model_id: str, patterns: Sequence[str]) -> bool:
    return any(p == model_id or fnmatch.fnmatchcase(model_id, p) for p in patterns)


def _static_filter(
    index: CatalogueIndex, policy: Policy, context: RoutingContext, zero_first: bool
) -> tuple[int, list[tuple], list[tuple[int, Reason, str]], bool]:
    """The filters that depend on the policy and the world, not on the task: cached. The
    first item is the state's id (for the caches built on it), the last says whether a free
    model is among the survivors."""
    quota = context.quota
    free_day_out = quota is not None and quota.day_exhausted
    free_min_out = quota is not None and quota.minute_exhausted
    key_missing = context.key_present is False
    last = index._static_last
    if (
        last is not None
        and last[0] is policy
        and last[1] is context.sources_down
        and last[2] is context.quarantined
        and last[3] is key_missing
        and last[4] is free_day_out
        and last[5] is free_min_out
        and last[6] is zero_first
    ):
        return last[7]
    pref = policy.free_preference
    key = (
        policy.deny,
        policy.allow,
        policy.local_only,
        pref,
        policy.allow_paid,
        policy.budget_usd is not None,
        context.sources_down,
        key_missing,
        context.quarantined,
        free_day_out,
        free_min_out,
        zero_first,
        policy.quota_aware,
    )
    # what the last state is matched on, in the order of the test above
    world = (
        policy,
        context.sources_down,
        context.quarantined,
        key_missing,
        free_day_out,
        free_min_out,
        zero_first,
    )
    cached = index._static_cache.get(key)
    if cached is not None:
        index._static_last = (*world, cached)
        return cached
    survivors: list[tuple] = []
    rejects: list[tuple[int, Reason, str]] = []
    reject = rejects.append
    allow, deny = policy.allow, policy.deny
    avoid_free = pref is FreePreference.AVOID
    for rec in index.recs:
        i, tier, mid = rec.i, rec.tier, rec.model.id
        if not rec.text:
            reject((i, Reason.NOT_TEXT_OUTPUT, "output: " + ", ".join(rec.model.output_modalities)))
            continue
        if deny and _matches(mid, deny):
            reject((i, Reason.DENIED, ""))
            continue
        if allow and not _matches(mid, allow):
            reject((i, Reason.NOT_ALLOWED, ""))
            continue
        is_local = tier is Tier.LOCAL
        if policy.local_only and not is_local:
            reject((i, Reason.LOCAL_ONLY, ""))
            continue
        if tier is Tier.PAID or tier is Tier.VARIABLE or tier is Tier.UNKNOWN:
            if pref is FreePreference.ONLY:
                reject((i, Reason.FREE_ONLY, tier.value))
                continue
            if not policy.allow_paid:
                reject((i, Reason.PAID_NOT_ALLOWED, tier.value))
                continue
        if rec.source in context.sources_down:
            reject((i, Reason.SOURCE_DOWN, rec.source.value))
            continue
        if key_missing and not is_local:
            reject((i, Reason.KEY_MISSING, ""))
            continue
        if mid in context.quarantined:
            reject((i, Reason.QUARANTINED, ""))
            continue
        if tier is Tier.FREE:
            if free_day_out:
                reject((i, Reason.FREE_QUOTA_DAY, ""))
                continue
            if free_min_out:
                reject((i, Reason.FREE_QUOTA_MINUTE, ""))
                continue
        if (tier is Tier.VARIABLE or tier is Tier.UNKNOWN) and policy.budget_usd is not None:
            reject((i, Reason.VARIABLE_PRICE_WITH_BUDGET, ""))
            continue
        if zero_first:
            # local before free when free requests are scarce (quota-aware): a group of its own
            group = 0 if is_local else FREE_GROUP if tier is Tier.FREE else 1
            if tier is Tier.FREE and not policy.quota_aware:
                group = 0
        elif avoid_free:
            group = 1 if tier is Tier.FREE else 0
        else:
            group = 0
        kind = _ZERO if (is_local or tier is Tier.FREE) else _PAID if tier is Tier.PAID else _OTHER
        survivors.append(
            (
                rec.context,
                _NO_LIMIT if rec.max_output is None else rec.max_output,
                rec.caps,
                kind,
                rec.price_prompt,
                rec.price_completion,
                rec.price_request,
                bool(rec.overrides),
                rec.ttft_s,
                rec.inv_tps,
                i,
                group,
            )
        )
    if len(index._static_cache) > 256:
        index._static_cache.clear()
    any_free = any(index.recs[row[10]].tier is Tier.FREE for row in survivors)
    result = (next(index._static_ids), survivors, rejects, any_free)
    index._static_cache[key] = result
    index._static_last = (*world, result)
    return result


def route(
    task: Task, policy: Policy, context: RoutingContext, *, chosen_only: bool = False
) -> RouteDecision:
    """Decide where ``task`` goes under ``policy`` in ``context``. Deterministic.

    Only the rows that can decide the chain are scored: the survivors of the static filters
    come best upper bound first, and a group stops as soon as no unseen model could enter
    the chain or displace the paid models the chain may need at its end. The full candidate
    list is scored on demand and gives the same order.

    ``chosen_only``: only the chosen model is wanted (a simulation charges it and nothing
    else). The choice is the same; the chain holds just it, and the search stops as soon as
    it is known: after the first group that yields an eligible row, unless that row is free
    and free requests may give way to paid ones, when the best paid row is looked up too.
    """
    return _decide(policy, context, chosen_only, *_search(task, policy, context, chosen_only))


def choose(
    task: Task, policy: Policy, context: RoutingContext
) -> tuple[ResolvedTask, ModelInfo | None, bool]:
    """``route(task, policy, context, chosen_only=True)``'s resolved task, chosen model and
    ``below_threshold``, without the decision around them when a good-enough model is
    chosen (the rest goes through :func:`route`'s own steps): what a simulation charges."""
    search = _search(task, policy, context, True)
    found = search[3]
    if found and policy.pinned is None:
        return search[0], context.index.models[found[0][1]], False
    decision = _decide(policy, context, True, *search)
    return decision.resolved, decision.chosen_model, decision.below_threshold


def _search(
    task: Task, policy: Policy, context: RoutingContext, chosen_only: bool
) -> tuple[ResolvedTask, _Env, _Ranked, list[tuple], tuple | None, list, list]:
    """The rows that decide the chain, in order (see :func:`route`), with what
    :func:`_decide` builds the decision from."""
    index = context.index
    resolved = resolve_task(task)
    priority = task.priority
    pref = policy.free_preference
    zero_first = (
        pref is FreePreference.PREFER
        or pref is FreePreference.ONLY
        or (priority is Priority.COST and pref is FreePreference.OFF)
    )
    static_id, survivors, static_rejects, any_free = _static_filter(
        index, policy, context, zero_first
    )
    env = _Env(index, resolved, policy, context)
    groups = _bounded_groups(
        index,
        static_id,
        survivors,
        task.category,
        priority,
        _token_floor(env.n_in),
        _output_floor(env.n_out),
    )

    n_chain = 1 if chosen_only else 1 + policy.fallback_depth
    paid_ok = policy.allow_paid and pref is not FreePreference.ONLY and not policy.local_only
    paid_needed = n_chain + 1 if paid_ok and not chosen_only else 0
    row_for = env.row
    required, fits_any = env.required, env.fits_any
    found: list[tuple] = []
    # free models may go after the paid ones (scarce free requests): then every paid row of
    # the chain's length is wanted
    price = 0.0
    may_demote = (
        zero_first
        and any_free
        and paid_ok
        and policy.quota_aware
        and context.quota is not None
        and (price := free_request_price(context.quota)) > 0
    )
    for entries, has_paid in zip(groups.above(required), groups.has_paid, strict=True):
        need = n_chain - len(found)
        if chosen_only and need <= 0:
            # the best row is known; it stays first unless it is free and may give way to
            # the best paid row (then it is the only row found: no local one came before)
            if not may_demote or found[0][6] != FREE_GROUP:
                break
            paid_needed = 1
        if need <= 0 and paid_needed <= 0:
            break
        # a group without paid models (local ones, free ones) cannot supply the paid tail:
        # scanning all of it for one would only cost time
        want_paid = paid_needed if paid_needed > 0 and has_paid else 0
        if need <= 0 and not may_demote:
            # the chain is full: only its paid tail is wanted (one, and one spare for an
            # alias of a model already in the chain)
            want_paid = min(want_paid, 2)
        if need <= 0 and want_paid <= 0:
            continue
        top: list[float] = []  # min-heap of the best `need` scores so far
        paid_top: list[float] = []  # min-heap of the best `want_paid` paid scores
        paid_seen = 0
        exhausted = True
        for entry in entries:
            ub = entry[0]
            if (need <= 0 or (len(top) >= need and ub < top[0])) and (
                want_paid <= 0 or (len(paid_top) >= want_paid and ub < paid_top[0])
            ):
                exhausted = False
                break
            if entry[1] < required or (entry[2] < fits_any and not env.fits(entry)):
                continue  # below the bar (lower bound) or too small: not a chain row
            row = row_for(entry)
            if row is None or row[6] == 2:
                continue
            found.append(row)
            score = row[2]
            if need > 0:
                if len(top) < need:
                    heapq.heappush(top, score)
                elif score > top[0]:
                    heapq.heapreplace(top, score)
            if entry[3][3] == _PAID and want_paid > 0:
                paid_seen += 1
                if len(paid_top) < want_paid:
                    heapq.heappush(paid_top, score)
                elif score > paid_top[0]:
                    heapq.heapreplace(paid_top, score)
        if want_paid > 0:
            paid_needed = max(0, paid_needed - paid_seen) if exhausted else 0
    found.sort(key=_first)
    scarcity: tuple | None = None
    if may_demote and found:
        scarcity = _free_request_dearer(found, index, env, price)
        if scarcity is not None:
            found = _demote_free(found, index)
    return resolved, env, groups, found, scarcity, survivors, static_rejects


def _decide(
    policy: Policy,
    context: RoutingContext,
    chosen_only: bool,
    resolved: ResolvedTask,
    env: _Env,
    groups: _Ranked,
    found: list[tuple],
    scarcity: tuple | None,
    survivors: list,
    static_rejects: list,
) -> RouteDecision:
    """The decision on what :func:`_search` found (``scarcity``: the free rows were put
    after the paid ones, and why)."""
    index = context.index
    row_for = env.row
    required = env.required
    demote_free = scarcity is not None

    decision = RouteDecision(
        resolved=resolved,
        policy=policy,
        context=context,
        chosen_only=chosen_only,
        required=env.required,
        order=found,
        full_rows=lambda: (_demote_free if demote_free else _sorted)(
            [r for r in map(row_for, groups.entries()) if r is not None], index
        ),
        rejections=lambda: sorted(
            static_rejects + _dynamic_rejections(index, survivors, resolved, env.budget, env.now)
        ),
        below_rows=lambda: _below_rows(groups, row_for, required),
    )
    if scarcity is not None:
        decision.scarcity_note = _scarcity_text(context.quota, *scarcity)  # type: ignore[arg-type]
    decision._finish()
    return decision


def _below_rows(
    groups: _Ranked, row_for: Callable[[tuple], tuple | None], bar: float
) -> Iterator[tuple]:
    """The rows below the quality bar, best quality first, made one at a time."""
    for entry in groups.by_quality():
        if entry[1] < bar:
            row = row_for(entry)
            if row is not None and row[6] == 2:
                yield row


_first = operator.itemgetter(0)
#: The group of free models when they are preferred: after a good-enough local model (group
#: 0), before the paid ones (group 1).
FREE_GROUP = 0.5

#: What a free request is worth when half the day's free quota is used (it rises without
#: bound as the quota runs out, and is 0 while it is untouched).
FREE_REQUEST_UNIT_USD = 0.0005


def free_request_price(quota: QuotaStatus) -> float:
    """The price put on one more free request today: ``unit × u² / (1 - u + 1/cap) × (1 - t)``
    with ``u`` the used share of the daily cap (0 at the day's start, about the unit at half,
    about 7 units at 90%) and ``t`` the share of the UTC day gone: a request left over at
    midnight is worth nothing, so the price falls to 0 as the day ends."""
    cap = max(1, quota.per_day)
    used = min(quota.used_day, cap) / cap
    at = as_utc(quota.at)
    elapsed = (at.hour * 3600 + at.minute * 60 + at.second) / 86400
    return FREE_REQUEST_UNIT_USD * used * used / (1.0 - used + 1.0 / cap) * (1.0 - elapsed)


def _sorted(rows: list[tuple], _index: CatalogueIndex) -> list[tuple]:
    rows.sort(key=_first)
    return rows


def _demote_free(rows: list[tuple], index: CatalogueIndex) -> list[tuple]:
    """Eligible free rows after the paid ones (and before those below the bar)."""
    models = index.models
    out = [
        (r[0] + 19.0, *r[1:]) if r[6] < 1 and models[r[1]].tier is Tier.FREE else r for r in rows
    ]
    out.sort(key=_first)
    return out


def _free_request_dearer(
    found: list[tuple], index: CatalogueIndex, env: _Env, price: float
) -> tuple[float, str, float] | None:
    """Whether a free request, worth ``price`` today (:func:`free_request_price`), is worth
    more than the task's best paid alternative costs (then the free models go after the
    paid ones): that price, the alternative and its cost, for the why's line; else None."""
    if price <= 0:
        return None
    recs = index.recs
    best: tuple | None = None  # the first best eligible paid row
    any_free = False  # an eligible free row
    paid, free = Tier.PAID, Tier.FREE
    for r in found:
        if r[6] == 2:
            continue
        tier = recs[r[1]].tier
        if tier is paid:
            if best is None or r[0] < best[0]:
                best = r
        elif tier is free and r[6] < 1:
            any_free = True
    if best is None or not any_free:
        return None
    cost = _float_cost(recs[best[1]], env.n_in, env.n_out, env.hhmm, env.n_img)
    if not 0 <= cost < price:
        return None
    return price, index.models[best[1]].id, cost


def _scarcity_text(quota: QuotaStatus, price: float, paid_id: str, cost: float) -> str:
    return (
        f"Free requests are scarce today ({quota.remaining_day} of {quota.per_day} left): one "
        f"is worth about ${price:.6f}, more than the paid alternative {paid_id} "
        f"costs (${cost:.6f}), so the free quota is kept for dearer tasks."
    )


class _Env:
    """Per-decision constants, and the scoring of one survivor."""

    __slots__ = (
        "base",
        "budget",
        "budget_f",
        "fits_any",
        "hhmm",
        "n_img",
        "n_in",
        "n_out",
        "need_caps",
        "now",
        "recs",
        "required",
        "resolved",
        "usage",
        "wc",
        "wc_log",
        "wl",
    )

    def __init__(
        self, index: CatalogueIndex, resolved: ResolvedTask, policy: Policy, context: RoutingContext
    ) -> None:
        task = resolved.task
        self.n_in, self.n_out = resolved.prompt_tokens, resolved.output_tokens
        self.resolved = resolved
        self.fits_any = _fits_uncounted(resolved)
        caps = resolved.capabilities
        self.need_caps = _caps_mask(caps) if caps else 0
        floor = policy.quality_floor
        self.required = floor if floor is not None else required_quality(resolved.complexity)
        now = self.now = as_utc(context.now)
        self.hhmm = now.hour * 100 + now.minute
        self.base, self.wc, self.wl, self.wc_log = index.scoring(task.category, task.priority)
        budget = self.budget = policy.budget_usd
        self.n_img = task.images
        if budget is None:
            self.budget_f = self.usage = None
        else:
            self.budget_f = float(budget) * 0.999999
            # only a budget needs the exact cost of a row (see row)
            self.usage = Usage(
                prompt_tokens=self.n_in, completion_tokens=self.n_out, images=self.n_img
            )
        self.recs = index.recs

    def fits(self, entry: tuple) -> bool:
        """Whether a survivor's context window holds the prompt, counted with its own
        tokenizer, and the output."""
        rec = self.recs[entry[3][10]]
        return rec.context >= _context_need(self.resolved, rec.model)

    def row(self, entry: tuple) -> tuple | None:
        """(sort key, index, score, quality, cost factor, latency factor, group) of a survivor,
        or None when the task rules it out (context, output, capability, budget).

        Eligible rows sort by group, then best score; rows below the quality bar come last,
        best quality first, unscored (their score is built on demand).
        """
        low, q = entry[1], entry[4]
        ctx, mo, caps, kind, pp, pc, pq, ovr, ttft, itps, i, group = entry[3]
        n_out = self.n_out
        if (ctx < self.fits_any and not self.fits(entry)) or mo < n_out or self.need_caps & ~caps:
            return None
        cost = 0.0
        if kind == _PAID:
            n_in = self.n_in
            if ovr:
                cost = _float_cost(self.recs[i], n_in, n_out, self.hhmm)
            elif pp < 0.0 or pc < 0.0 or pq < 0.0:
                cost = -1.0
            else:
                cost = pp * n_in + pc * n_out + pq
            if self.n_img and cost >= 0.0:
                cost += self.recs[i].price_image * self.n_img
            # a negative cost comes from a "-1" (variable) override price: unknown
            if self.budget_f is not None and (cost > self.budget_f or cost < 0.0):
                exact = estimate_cost(self.recs[i].model, self.usage, self.now).total_usd  # type: ignore[arg-type]
                if exact is None or exact > self.budget:  # type: ignore[operator]
                    return None
        if low < self.required:  # judged on the lower bound: a guess is not known-good
            return (30.0 - q, i, None, q, None, None, 2)
        if kind == _PAID:
            fc = self.wc - self.wc_log * math.log1p(cost * _INV_COST_UNIT) if cost > 0 else self.wc
            if fc < 0.0 or cost < 0.0:  # unknown (negative) cost: the most expensive
                fc = 0.0
        elif kind == _ZERO:
            fc = self.wc
        else:
            fc = 0.0  # variable: an unknown cost scores as the most expensive
        fl = self.wl / (1.0 + (ttft + n_out * itps) * _INV_LATENCY_UNIT)
        score = self.base[i] + fc + fl
        return (group * 10.0 - score, i, score, q, fc, fl, group)


#: Quality bars are bucketed in steps of 1/_BAR_STEPS for the lists of rows above them.
_BAR_STEPS = 40


class _Ranked:
    """The survivors of one filter state, category, priority and token floors, split by group
    (see :func:`_bounded_groups`), with, per bucketed quality bar, the same lists left with
    only the rows whose lower bound could reach it: a hard task then walks the few models
    that can be good enough, not every model ranked above them on a loose score bound."""

    __slots__ = ("_above", "_by_quality", "groups", "has_paid", "used")

    def __init__(self, groups: list[list[tuple]]) -> None:
        self.groups = groups
        self.used = False  # asked for again since built, or since the cache's clock passed it
        self.has_paid = [any(e[3][3] == _PAID for e in entries) for entries in groups]
        self._above: dict[int, list[list[tuple]]] = {}
        self._by_quality: list[tuple] | None = None

    def entries(self) -> list[tuple]:
        return [entry for entries in self.groups for entry in entries]

    def by_quality(self) -> list[tuple]:
        """Every entry in the order rows below the quality bar take (best quality first, then
        as :meth:`entries` lists them): the order of the full candidate list's tail."""
        ranked = self._by_quality
        if ranked is None:
            order = sorted(enumerate(self.entries()), key=lambda ke: (30.0 - ke[1][4], ke[0]))
            ranked = self._by_quality = [e for _, e in order]
        return ranked

    def above(self, bar: float) -> list[list[tuple]]:
        """The groups without the rows below the bucket under ``bar`` (the exact bar is
        still checked row by row)."""
        bucket = math.floor(bar * _BAR_STEPS)
        while bucket > 0 and bucket / _BAR_STEPS > bar:  # float rounding: never above the bar
            bucket -= 1
        lists = self._above.get(bucket)
        if lists is None:
            floor = bucket / _BAR_STEPS
            # filtered from the lists of the nearest lower bucket made (the same rows in the
            # same order, fewer to look at); list() copies the keys at once (other threads)
            lower = max((b for b in list(self._above) if b < bucket), default=None)
            source = self.groups if lower is None else self._above[lower]
            lists = [[e for e in entries if e[1] >= floor] for entries in source]
            self._above[bucket] = lists  # a race only builds the same lists twice
        return lists


def _token_floor(tokens: int) -> int:
    """The power of two at or below ``tokens`` (0 below 32): bounds are cached per floor."""
    if tokens < 32:
        return 0
    return 1 << (tokens.bit_length() - 1)


def _output_floor(tokens: int) -> int:
    """The power of four at or below ``tokens`` (0 below 64)."""
    if tokens < 64:
        return 0
    return 1 << (2 * ((tokens.bit_length() - 1) // 2))


def _bounded_groups(
    index: CatalogueIndex,
    static_id: int,
    survivors: list[tuple],
    category: str,
    priority: Priority,
    token_floor: int,
    output_floor: int,
) -> _Ranked:
    """Survivors split by group (0 first), each best upper bound first (ties in id order),
    with that bound and the lower bound of their quality for ``category`` in front (their
    quality last): cached per filter state, category, priority and token floors.

    The bound is the score a model would get with ``token_floor`` prompt tokens and
    ``output_floor`` output tokens at its lowest prices: a task of at least that many tokens
    can only cost more and take longer, so its real score is never above the bound.
    """
    key = (static_id, category, priority, token_floor, output_floor)
    groups = index._ranked_cache.get(key)
    if groups is None:
        qs = index.quality(category)[0]
        lows = index.quality_low(category)
        base, wc, wl, wc_log = index.scoring(category, priority)
        recs = index.recs
        by_group: dict[float, list[tuple]] = {}
        for row in survivors:
            _, _, _, kind, _, _, _, _, ttft, itps, i, group = row
            if kind == _PAID:
                mp, mc, mq = recs[i].min_prices
                low_cost = mp * token_floor + mc * output_floor + mq
                fc = wc - wc_log * math.log1p(low_cost * _INV_COST_UNIT)
                if not fc >= 0.0:  # below 0, or NaN (an infinite price at a 0 floor)
                    fc = 0.0
            else:
                fc = 0.0 if kind == _OTHER else wc
            ub = base[i] + fc + wl / (1.0 + (ttft + output_floor * itps) * _INV_LATENCY_UNIT)
            entries = by_group.get(group)
            if entries is None:
                entries = by_group[group] = []
            entries.append((ub, lows[i], row[0], row, qs[i]))
        # survivors come in index order, and a reversed sort is stable: ties stay in it
        for entries in by_group.values():
            entries.sort(key=_first, reverse=True)
        groups = _Ranked([by_group[g] for g in sorted(by_group)])
        with index._lock:
            cache = index._ranked_cache
            # room first: the oldest not asked for again since it was built or last passed
            # over goes (a clock: a hit costs one flag, no lock); those passed over go to the
            # end, unmarked. The new lists come in after, so they are never their own victim
            while len(cache) >= RANKED_CACHE_SIZE:
                old_key, old = cache.popitem(last=False)
                if old.used:
                    old.used = False
                    cache[old_key] = old
            cache[key] = groups
    else:
        groups.used = True
    return groups


def _score_parts(
    index: CatalogueIndex, i: int, resolved: ResolvedTask, now: datetime
) -> tuple[float, float, float]:
    """(score, cost factor, latency factor) of one model: the formula of the hot loop in
    :func:`route`, for rows it did not score (models below the quality threshold)."""
    rec = index.recs[i]
    priority = resolved.task.priority
    _, wc, wl = WEIGHTS[priority]
    n_in, n_out = resolved.prompt_tokens, resolved.output_tokens
    now = as_utc(now)
    if rec.tier is Tier.PAID:
        cost = _float_cost(rec, n_in, n_out, now.hour * 100 + now.minute, resolved.task.images)
        if cost < 0.0:  # a "-1" (variable) override price: unknown, the most expensive
            fc = 0.0
        else:
            fc = max(0.0, wc - wc / _LOG_COST_CEILING * math.log1p(cost * _INV_COST_UNIT))
    elif rec.tier is Tier.FREE or rec.tier is Tier.LOCAL:
        fc = wc
    else:
        fc = 0.0
    fl = wl / (1.0 + (rec.ttft_s + n_out * rec.inv_tps) / LATENCY_UNIT_S)
    base = index.base_scores(resolved.task.category, priority)[i]
    return base + fc + fl, fc, fl


def _dynamic_rejections(
    index: CatalogueIndex,
    survivors: Sequence[tuple],
    resolved: ResolvedTask,
    budget: Decimal | None,
    now: datetime,
) -> list[tuple[int, Reason, str]]:
    """The task-dependent rejections, rebuilt when someone asks for them."""
    n_out = resolved.output_tokens
    fits_any = _fits_uncounted(resolved)
    need_caps = _caps_mask(resolved.capabilities)
    usage = Usage(
        prompt_tokens=resolved.prompt_tokens, completion_tokens=n_out, images=resolved.task.images
    )
    out = []
    for row in survivors:
        rec = index.recs[row[10]]
        if rec.context < fits_any and rec.context < (need := _context_need(resolved, rec.model)):
            assumed = " (assumed: not reported)" if rec.context_assumed else ""
            out.append((rec.i, Reason.CONTEXT_TOO_SMALL, f"{rec.context} < {need}{assumed}"))
        elif rec.max_output is not None and rec.max_output < n_out:
            out.append((rec.i, Reason.OUTPUT_TOO_LONG, f"max {rec.max_output} < {n_out}"))
        elif need_caps & ~rec.caps:
            missing = [c for c in CAPABILITIES if _CAP_BITS[c] & need_caps & ~rec.caps]
            out.append((rec.i, Reason.MISSING_CAPABILITY, ", ".join(missing)))
        elif budget is not None and rec.tier is Tier.PAID:
            exact = estimate_cost(rec.model, usage, now).total_usd
            if exact is None:
                out.append((rec.i, Reason.VARIABLE_PRICE_WITH_BUDGET, "variable price override"))
            elif exact > budget:
                out.append((rec.i, Reason.OVER_BUDGET, f"${exact} > ${budget}"))
    return out
