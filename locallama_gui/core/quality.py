"""Quality and speed priors: what routing believes about a model before it has observed it.

A prior says what it rests on (``Prior.evidence``), in order of trust:

1. ``observed``: graded runs and benchmarks of this model (blended in by routing, which
   narrows the uncertainty as runs accumulate);
2. ``benchmark``: this model's published benchmark index (Artificial Analysis, in the
   catalogue);
3. ``base benchmark``: its base model's (a ``:free`` or ``:batch`` variant);
4. ``estimate``: predicted from the model's facts (parameters, active parameters, vendor,
   price, context, release date, reasoning) by :class:`PriorFit`, a ridge regression fitted to
   the benchmarked models of the current catalogue and refitted when it changes;
5. ``nothing``: no estimate is possible (too few benchmarked models to fit).

Each prior carries an uncertainty (``sd``, in quality units). For an estimate it is the fit's
held-out error for the facts that model has (a model without a price or a release date is
predicted less well, and says so). "Good enough" is judged on :attr:`Prior.low`, a lower
confidence bound, so a guess never passes as known-good. Safety classifiers and base (not
instruction-tuned) models are recognised by name and never rated as general assistants.
Everything is a number in [0, 1].
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from locallama_gui.core.models import ModelInfo, Tier

#: Scale of the Artificial Analysis indices: the best models in 2026 sit around these values.
INTELLIGENCE_TOP = 70.0
CODING_TOP = 80.0
PRIOR_FLOOR = 0.30
PRIOR_SPAN = 0.62
#: The prior when nothing can be estimated, and its (wide) uncertainty.
DEFAULT_PRIOR = 0.50
NOTHING_SD = 0.20
#: How far a benchmark index (or a base model's) is from quality on a real task.
BENCHMARK_SD = 0.03
BASE_BENCHMARK_SD = 0.04
#: The prior of safety classifiers: never a general-purpose answer.
CLASSIFIER_PRIOR = 0.10
CLASSIFIER_SD = 0.02
#: A base (pre-trained, not instruction-tuned) model follows no instructions well.
BASE_MODEL_CAP = 0.35
#: Standard deviations below the prior that "good enough" is judged at (one-sided 84%).
LOWER_Z = 1.0
#: Fewest benchmarked models a fit is made from.
MIN_FIT_MODELS = 20
#: Folds of the held-out error.
FIT_FOLDS = 5
#: Ridge penalty on standardised features.
FIT_RIDGE = 1.0
#: A vendor becomes a feature of the fit when it has at least this many benchmarked models.
FIT_VENDOR_MIN = 3

EVIDENCE_OBSERVED = "observed"
EVIDENCE_BENCHMARK = "benchmark"
EVIDENCE_BASE_BENCHMARK = "base benchmark"
EVIDENCE_ESTIMATE = "estimate"
EVIDENCE_NOTHING = "nothing"
EVIDENCE_CLASSIFIER = "classifier"
#: Evidence kinds, most trusted first.
EVIDENCE_ORDER = (
    EVIDENCE_OBSERVED,
    EVIDENCE_BENCHMARK,
    EVIDENCE_BASE_BENCHMARK,
    EVIDENCE_ESTIMATE,
    EVIDENCE_NOTHING,
)

_CLASSIFIER_NEEDLES = (
    "content-safety",
    "safeguard",
    "llama-guard",
    "shieldgemma",
    "guard-",
    "guard:",
    "moderation",
)
_BASE_TOKEN = re.compile(r"(?<![a-z0-9])base(?![a-z0-9])", re.IGNORECASE)
_PARAMS_IN_ID = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)([bm])\b", re.IGNORECASE)
_ACTIVE_IN_ID = re.compile(r"(?<![a-z0-9.])a(\d+(?:\.\d+)?)b\b", re.IGNORECASE)
_QUANT_BITS = re.compile(r"(?:^|[^a-z])(?:q|iq)(\d)", re.IGNORECASE)
#: Model-name stems of local models, and the OpenRouter vendor that publishes them (facts
#: about names, used to give a local model its vendor's feature in the fit).
_LOCAL_VENDORS: tuple[tuple[str, str], ...] = (
    ("gpt-oss", "openai"),
    ("qwen", "qwen"),
    ("qwq", "qwen"),
    ("llama", "meta-llama"),
    ("gemma", "google"),
    ("mistral", "mistralai"),
    ("mixtral", "mistralai"),
    ("devstral", "mistralai"),
    ("magistral", "mistralai"),
    ("deepseek", "deepseek"),
    ("glm", "z-ai"),
    ("kimi", "moonshotai"),
    ("nemotron", "nvidia"),
    ("phi", "microsoft"),
    ("granite", "ibm-granite"),
    ("command", "cohere"),
    ("minimax", "minimax"),
)

CODE_CATEGORIES = frozenset({"code", "coding"})
REASONING_CATEGORIES = frozenset({"reasoning", "math"})
_UNIX_2023 = 1_672_531_200
_YEAR_S = 31_557_600


@dataclass(frozen=True, slots=True)
class Prior:
    """A model's prior quality, what it rests on, and how uncertain it is."""

    quality: float
    source: str  # human-readable: "benchmark: intelligence index 56", "estimate: ..."
    evidence: str = EVIDENCE_ESTIMATE  # one of EVIDENCE_ORDER, or EVIDENCE_CLASSIFIER
    sd: float = 0.0  # uncertainty (one standard deviation, in quality units)

    @property
    def low(self) -> float:
        """The lower confidence bound "good enough" is judged on."""
        return _clamp(self.quality - LOWER_Z * self.sd)


def lower_bound(quality: float, sd: float) -> float:
    return _clamp(quality - LOWER_Z * sd)


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


def active_params_from_id(model_id: str) -> float | None:
    """Billions of active parameters of a mixture of experts (``-a22b``: 22)."""
    m = _ACTIVE_IN_ID.search(model_id)
    return float(m.group(1)) if m else None


def quantization_penalty(quant: str | None) -> float:
    """Quality lost to quantisation: 2-bit 0.10, 3-bit 0.05, 4-bit 0.02, else 0."""
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


def is_classifier(model: ModelInfo) -> bool:
    """A safety classifier (Llama Guard, ShieldGemma, ...): never a general model."""
    mid = model.served_id.lower()
    return any(needle in mid for needle in _CLASSIFIER_NEEDLES)


def is_base_model(model: ModelInfo) -> bool:
    """A base (pre-trained, not instruction-tuned) model: "base" in its id, name or Hugging
    Face id, or an Ollama ``:text`` tag."""
    names = (model.id, model.name or "", model.hugging_face_id or "")
    if any(_BASE_TOKEN.search(n) for n in names):
        return True
    return model.tier is Tier.LOCAL and model.served_id.lower().endswith(":text")


def benchmark_quality(model: ModelInfo, category: str | None) -> tuple[float, str] | None:
    """Quality from a benchmark index, for the category (coding index for code)."""
    bench = model.benchmarks
    if bench is None:
        return None
    if (category or "").lower() in CODE_CATEGORIES and bench.coding_index is not None:
        q = PRIOR_FLOOR + PRIOR_SPAN * min(bench.coding_index, CODING_TOP) / CODING_TOP
        return _clamp(q), f"coding index {bench.coding_index:g}"
    if bench.intelligence_index is not None:
        idx = bench.intelligence_index
        q = PRIOR_FLOOR + PRIOR_SPAN * min(idx, INTELLIGENCE_TOP) / INTELLIGENCE_TOP
        return _clamp(q), f"intelligence index {idx:g}"
    return None


# --------------------------------------------------------------------------- the fit


def _vendor(model: ModelInfo) -> str | None:
    if "/" in model.id:
        return model.served_id.split("/", 1)[0].lower()
    name = ((model.local.family if model.local else None) or model.id).lower()
    for stem, vendor in _LOCAL_VENDORS:
        if stem in name or stem in model.served_id.lower():
            return vendor
    return None


def _params(model: ModelInfo) -> tuple[float | None, float | None]:
    local = model.local
    total = local.parameter_count_b if local and local.parameter_count_b else None
    mid = model.served_id.lower()
    if total is None:
        total = params_from_id(mid)
    active = active_params_from_id(mid) or total
    return total, active


def _price_per_m(model: ModelInfo) -> float | None:
    p = model.pricing
    if p is None or model.tier is not Tier.PAID:
        return None
    prompt, completion = p.get("prompt"), p.get("completion")
    if prompt is None or completion is None:
        return None
    blended = (float(prompt) + float(completion)) * 1e6 / 2
    return math.log10(blended) if blended > 0 else None


#: Numeric features (None: unknown, imputed with the training mean).
NUMERIC_FEATURES = (
    "log parameters",
    "log active parameters",
    "log price",
    "log context",
    "release year",
    "reasoning",
)


def _numeric(model: ModelInfo) -> list[float | None]:
    total, active = _params(model)
    ctx = model.context_length
    return [
        math.log1p(total) if total else None,
        math.log1p(active) if active else None,
        _price_per_m(model),
        math.log2(ctx / 1024) if ctx and ctx > 0 else None,
        (model.created - _UNIX_2023) / _YEAR_S if model.created else None,
        1.0 if model.supports_reasoning else 0.0,
    ]


def _pattern(values: Sequence[float | None]) -> tuple[bool, bool, bool]:
    """Which of parameters, price and release date are known (the uncertainty's key)."""
    return values[0] is not None, values[2] is not None, values[4] is not None


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """``a x = b`` by Gauss-Jordan with partial pivoting (``a`` is positive definite)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for c in range(n):
        piv = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[piv] = m[piv], m[c]
        pivot = m[c][c]
        for r in range(n):
            if r != c and m[r][c]:
                f = m[r][c] / pivot
                row_r, row_c = m[r], m[c]
                for k in range(c, n + 1):
                    row_r[k] -= f * row_c[k]
    return [m[i][n] / m[i][i] for i in range(n)]


@dataclass(frozen=True, slots=True)
class _Ridge:
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float

    @classmethod
    def fit(cls, rows: Sequence[Sequence[float | None]], ys: Sequence[float]) -> _Ridge:
        k = len(rows[0])
        means = []
        for j in range(k):
            known = [r[j] for r in rows if r[j] is not None]
            means.append(sum(known) / len(known) if known else 0.0)  # type: ignore[arg-type]
        xs = [[(r[j] if r[j] is not None else means[j]) for j in range(k)] for r in rows]
        scales = []
        for j in range(k):
            col = [x[j] for x in xs]
            var = sum((v - means[j]) ** 2 for v in col) / len(col)
            scales.append(math.sqrt(var) if var > 1e-12 else 1.0)
        zs = [[(x[j] - means[j]) / scales[j] for j in range(k)] for x in xs]
        y_mean = sum(ys) / len(ys)
        a = [
            [sum(z[i] * z[j] for z in zs) + (FIT_RIDGE if i == j else 0.0) for j in range(k)]
            for i in range(k)
        ]
        b = [sum(z[i] * (y - y_mean) for z, y in zip(zs, ys, strict=True)) for i in range(k)]
        return cls(tuple(means), tuple(scales), tuple(_solve(a, b)), y_mean)

    def predict(self, row: Sequence[float | None]) -> float:
        total = self.intercept
        for v, mean, scale, w in zip(row, self.means, self.scales, self.weights, strict=True):
            if v is not None:
                total += w * (v - mean) / scale
        return total


@dataclass(frozen=True, slots=True)
class FitReport:
    """How well the fit predicts benchmarked models it did not see (k-fold)."""

    models: int  # benchmarked models fitted on
    folds: int
    bias: float  # mean of predicted minus benchmark quality
    mae: float
    rmse: float
    #: held-out RMSE when only some facts are known: "parameters+price+date" -> rmse
    by_facts: Mapping[str, float] = field(default_factory=dict)
    features: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "models": self.models,
            "folds": self.folds,
            "bias": round(self.bias, 4),
            "mae": round(self.mae, 4),
            "rmse": round(self.rmse, 4),
            "rmse_by_known_facts": {k: round(v, 4) for k, v in self.by_facts.items()},
            "features": list(self.features),
        }


def _facts_label(pattern: tuple[bool, bool, bool]) -> str:
    names = [n for n, known in zip(("parameters", "price", "date"), pattern, strict=True) if known]
    return "+".join(names) if names else "vendor only"


def _columns(pattern: tuple[bool, bool, bool], vendors: int) -> tuple[int, ...]:
    """The feature columns a fit for ``pattern`` uses: the facts it knows, reasoning and the
    vendors. (Context length is not one: a local server reports the window it was loaded
    with, not what the model can do, and it predicted nothing the price and date did not.)"""
    cols = [5]
    if pattern[0]:
        cols += [0, 1]
    if pattern[1]:
        cols.append(2)
    if pattern[2]:
        cols.append(4)
    return tuple(sorted(cols)) + tuple(
        range(len(NUMERIC_FEATURES), len(NUMERIC_FEATURES) + vendors)
    )


def _covers(known: tuple[bool, bool, bool], pattern: tuple[bool, bool, bool]) -> bool:
    return all(k or not p for k, p in zip(known, pattern, strict=True))


_PATTERNS = tuple((a, b, c) for a in (True, False) for b in (True, False) for c in (True, False))
#: When a set of facts has too few benchmarked models to fit, drop facts in this order.
_DROP_ORDER = (0, 2, 1)


@dataclass(frozen=True, slots=True)
class _PatternFit:
    pattern: tuple[bool, bool, bool]
    columns: tuple[int, ...]
    ridge: _Ridge
    rmse: float
    residuals: Mapping[int, float]  # held-out error of each training row it was fitted on


class PriorFit:
    """Quality predicted from a model's facts, fitted to benchmarked models.

    A model is predicted by a ridge regression over the facts it has (a local model with
    only its parameter count is predicted from the benchmarked models' parameter counts, not
    from an imputed price), fitted on the benchmarked models that have those facts; its
    uncertainty is that fit's held-out (k-fold) error. Build with :meth:`for_models` (cached
    per training set: refitted only when the benchmarked models or their facts change).
    """

    def __init__(self, training: Sequence[ModelInfo]) -> None:
        data = [(m, bq[0]) for m in training if (bq := benchmark_quality(m, None)) is not None]
        data.sort(key=lambda mq: mq[0].id)
        if len(data) < MIN_FIT_MODELS:
            raise ValueError(f"{len(data)} benchmarked models: at least {MIN_FIT_MODELS} needed")
        counts: dict[str, int] = {}
        for m, _ in data:
            v = _vendor(m)
            if v is not None:
                counts[v] = counts.get(v, 0) + 1
        self.vendors = tuple(sorted(v for v, c in counts.items() if c >= FIT_VENDOR_MIN))
        self._rows = [self._row(m) for m, _ in data]
        self._ys = [q for _, q in data]
        self._known = [_pattern(r) for r in self._rows]
        self._top = max(self._ys)
        self._fits: dict[tuple[bool, bool, bool], _PatternFit] = {}
        self._lock = threading.Lock()
        self._report: FitReport | None = None

    def _row(self, model: ModelInfo) -> list[float | None]:
        vendor = _vendor(model)
        return _numeric(model) + [1.0 if vendor == v else 0.0 for v in self.vendors]

    def _fit_for(self, pattern: tuple[bool, bool, bool]) -> _PatternFit:
        with self._lock:
            found = self._fits.get(pattern)
        if found is not None:
            return found
        usable = pattern
        rows = [i for i, k in enumerate(self._known) if _covers(k, usable)]
        for drop in _DROP_ORDER:  # too few models with these facts: use fewer facts
            if len(rows) >= MIN_FIT_MODELS:
                break
            usable = tuple(False if j == drop else f for j, f in enumerate(usable))  # type: ignore[assignment]
            rows = [i for i, k in enumerate(self._known) if _covers(k, usable)]
        cols = _columns(usable, len(self.vendors))

        def sub(i: int) -> list[float | None]:
            r = self._rows[i]
            return [r[c] for c in cols]

        residuals: dict[int, float] = {}
        for fold in range(FIT_FOLDS):
            test = rows[fold::FIT_FOLDS]
            train = [i for k, i in enumerate(rows) if k % FIT_FOLDS != fold]
            ridge = _Ridge.fit([sub(i) for i in train], [self._ys[i] for i in train])
            for i in test:
                residuals[i] = _clamp(ridge.predict(sub(i))) - self._ys[i]
        rmse = math.sqrt(sum(e * e for e in residuals.values()) / len(residuals))
        fitted = _PatternFit(
            pattern=pattern,
            columns=cols,
            ridge=_Ridge.fit([sub(i) for i in rows], [self._ys[i] for i in rows]),
            rmse=max(rmse, 0.02),
            residuals=residuals,
        )
        with self._lock:
            self._fits[pattern] = fitted
        return fitted

    @property
    def report(self) -> FitReport:
        """The held-out error: overall (each benchmarked model predicted, without its own
        benchmark, from the facts it has) and for each set of known facts."""
        if self._report is None:
            errors = []
            for i, known in enumerate(self._known):
                errors.append(self._fit_for(known).residuals[i])
            n = len(errors)
            self._report = FitReport(
                models=n,
                folds=FIT_FOLDS,
                bias=sum(errors) / n,
                mae=sum(abs(e) for e in errors) / n,
                rmse=math.sqrt(sum(e * e for e in errors) / n),
                by_facts={_facts_label(p): self._fit_for(p).rmse for p in _PATTERNS},
                features=NUMERIC_FEATURES + tuple(f"vendor {v}" for v in self.vendors),
            )
        return self._report

    @property
    def models(self) -> int:
        return len(self._rows)

    def predict(self, model: ModelInfo) -> tuple[float, float, str]:
        """(quality, uncertainty, the facts it used)."""
        row = self._row(model)
        pattern = _pattern(row)
        fitted = self._fit_for(pattern)
        # within the benchmark scale: below its floor (index 0) or above the best model is
        # extrapolation, not knowledge
        q = min(max(fitted.ridge.predict([row[c] for c in fitted.columns]), PRIOR_FLOOR), self._top)
        used = _facts_label(pattern)
        vendor = _vendor(model)
        if vendor in self.vendors:
            used += f", vendor {vendor}"
        return q, fitted.rmse, used

    # --- cache ----------------------------------------------------------------------------

    _cache: ClassVar[dict[tuple, PriorFit | None]] = {}
    _cache_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def for_catalogue(
        cls,
        models: Iterable[ModelInfo],
        fallback: Iterable[ModelInfo] | Callable[[], Iterable[ModelInfo]] | None = None,
    ) -> PriorFit | None:
        """The fit for a catalogue's benchmarked models, else for ``fallback``'s (a catalogue
        with too few: an old one, or local models only), or a function returning them, called
        only then."""
        fit = cls.for_models(models)
        if fit is None and fallback is not None:
            fit = cls.for_models(fallback() if callable(fallback) else fallback)
        return fit

    @classmethod
    def for_models(cls, models: Iterable[ModelInfo]) -> PriorFit | None:
        """The fit for the benchmarked models among ``models`` (None: too few of them)."""
        training = [m for m in models if benchmark_quality(m, None) is not None]
        key = tuple(
            sorted(
                (
                    m.id,
                    m.benchmarks.intelligence_index if m.benchmarks else None,
                    m.created,
                    m.context_length,
                    _price_per_m(m),
                    m.supports_reasoning,
                )
                for m in training
            )
        )
        with cls._cache_lock:
            if key in cls._cache:
                return cls._cache[key]
        try:
            fit: PriorFit | None = cls(training)
        except ValueError:
            fit = None
        with cls._cache_lock:
            if len(cls._cache) > 8:
                cls._cache.clear()
            cls._cache[key] = fit
        return fit


# --------------------------------------------------------------------------- priors


def quality_prior(
    model: ModelInfo,
    category: str | None,
    benchmarks_from: ModelInfo | None = None,
    fit: PriorFit | None = None,
) -> Prior:
    """The prior quality of ``model`` for a task category, with its evidence.

    ``benchmarks_from`` lends the benchmark figures of the base model to a ``:free`` or
    ``:batch`` variant that carries none of its own; ``fit`` estimates a model without
    benchmarks (None: nothing is known of it).
    """
    mid = model.served_id.lower()
    category = (category or "").lower()
    bonus = 0.0
    notes = ""
    if category in REASONING_CATEGORIES and model.supports_reasoning:
        bonus += 0.03
        notes += ", +0.03 reasoning"
    if category in CODE_CATEGORIES and ("coder" in mid or "code" in mid):
        bonus += 0.04
        notes += ", +0.04 code model"

    if is_classifier(model):
        return Prior(
            CLASSIFIER_PRIOR,
            "a safety classifier, not a general model",
            EVIDENCE_CLASSIFIER,
            CLASSIFIER_SD,
        )
    base_model = is_base_model(model)

    prior: Prior
    own = benchmark_quality(model, category)
    lent = benchmark_quality(benchmarks_from, category) if benchmarks_from else None
    if own is not None:
        q, what = own
        prior = Prior(
            _clamp(q + bonus), f"benchmark: {what}{notes}", EVIDENCE_BENCHMARK, BENCHMARK_SD
        )
    elif lent is not None and benchmarks_from is not None:
        q, what = lent
        prior = Prior(
            _clamp(q + bonus),
            f"base model's benchmark: {benchmarks_from.id} {what}{notes}",
            EVIDENCE_BASE_BENCHMARK,
            BASE_BENCHMARK_SD,
        )
    elif fit is not None:
        q, sd, used = fit.predict(model)
        note = f"estimate from {used} (±{sd:.2f}, fitted on {fit.models} models)"
        local = model.local
        pen = quantization_penalty(local.quantization) if local is not None else 0.0
        if pen:
            q -= pen
            note += f", {local.quantization} -{pen:.2f}"  # type: ignore[union-attr]
        prior = Prior(_clamp(q + bonus), note + notes, EVIDENCE_ESTIMATE, sd)
    else:
        prior = Prior(
            _clamp(DEFAULT_PRIOR + bonus),
            "nothing known about this model (no benchmarks to estimate from)",
            EVIDENCE_NOTHING,
            NOTHING_SD,
        )
    if base_model and prior.quality > BASE_MODEL_CAP:
        prior = Prior(
            BASE_MODEL_CAP,
            f"a base model (not instruction-tuned), capped at {BASE_MODEL_CAP:.2f}; {prior.source}",
            prior.evidence,
            prior.sd,
        )
    return prior


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


#: The quality a trivial task needs: below the benchmark scale's floor (index 0, quality
#: 0.30) by about one estimate's uncertainty, so any instruction model known to be on the
#: scale can take it, and a local model estimated from its size alone can take the most
#: trivial work before it has been observed.
REQUIRED_TRIVIAL = 0.20
REQUIRED_HARDEST = 0.85


def required_quality(complexity: float) -> float:
    """The quality a task of this complexity needs: 0.20 for trivial, 0.85 for the hardest
    (compared with a model's lower confidence bound, not its prior)."""
    c = _clamp(complexity)
    return REQUIRED_TRIVIAL + (REQUIRED_HARDEST - REQUIRED_TRIVIAL) * c
