"""Offline replay of routing policies on recorded outcomes.

Recorded outcomes say, per prompt, how well each model did (a score in [0, 1]) and, when
known, what it cost. Replaying them answers "what would routing have done, and at what cost?"
without calling any model.

* **Records.** :class:`OutcomeRecord` (a prompt, its category when known, and per model a
  :class:`ModelOutcome`). Parsers read JSONL (:func:`parse_outcomes_jsonl`), a wide CSV
  (:func:`parse_outcomes_csv`) and MT-Bench judgements with their questions
  (:func:`parse_mt_bench`). Missing costs are filled in by :func:`fill_costs` from a pricing
  callback and token estimates.
* **The router** (:class:`LearnedRouter`) is the project's routing idea, learned from the
  training folds only: observed quality per (model, category), shrunk toward a prior as in
  :mod:`locallama_gui.core.routing` (few samples move it little), plus how each model's
  quality varies with what the router can see of a prompt without knowing the answer: the
  complexity estimate of :func:`locallama_gui.core.tokens.estimate_complexity` and the
  prompt length (quantile bins, shrunk toward zero, smoothed, backfitted as an additive
  model; per category on top of the pooled fit, shrunk harder).
* **The policy** swept by the threshold ``t``: send a prompt to the cheapest model whose
  predicted quality is at least ``t`` times the strong model's; if none, to the strong one.
  For a weak/strong pair: the weak model when ``q_weak >= t * q_strong``, else the strong.
  ``t = 0`` sends everything to the cheapest model, a large ``t`` everything to the strong.
* **k-fold cross-validation** (:func:`kfold_indices`, seeded and deterministic): each fold is
  routed by a router fitted on the other folds; the held-out predictions are pooled and the
  threshold is swept over them (:func:`sweep`).
* **Metrics.** RouteLLM (arXiv 2406.18665): PGR = (quality - weak) / (strong - weak);
  APGR = the area under PGR over the share of strong-model calls, over the range the curve
  spans (trapezoids, as RouteLLM's evaluation does); CPT(x%) = the smallest share of strong
  calls at which the (linearly interpolated) curve reaches a PGR of x%. RouterBench
  (arXiv 2403.12031): AIQ = the area under the non-decreasing convex hull of the
  (cost, quality) points, divided by the cost range spanned by the single models.
* **References**: a random router (random predicted qualities, the same policy; its metrics
  are the mean over several seeded draws) and the oracle (the recorded scores themselves as
  predictions, the same policy).

Pure: no I/O, no clock; the same inputs and seed give the same report.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from types import MappingProxyType

from locallama_gui.core.models import Usage
from locallama_gui.core.routing import DEFAULT_OUTPUT_TOKENS, PRIOR_STRENGTH
from locallama_gui.core.taskfiles import FileFormatError, Where, jsonl_lines, parse_object
from locallama_gui.core.tokens import estimate_complexity, estimate_tokens

__all__ = [
    "DEFAULT_FOLDS",
    "DEFAULT_PRIOR_QUALITY",
    "OUTCOME_LINE_EXAMPLE",
    "RANDOM_DRAWS",
    "CurvePoint",
    "Evaluation",
    "LearnedRouter",
    "Metrics",
    "ModelOutcome",
    "ModelSummary",
    "OutcomeFileError",
    "OutcomeFormatError",
    "OutcomeRecord",
    "ParsedOutcomes",
    "PromptFeatures",
    "RouterConfig",
    "aiq",
    "apgr",
    "common_models",
    "cpt",
    "cross_validated_predictions",
    "evaluate",
    "fill_costs",
    "kfold_indices",
    "nondecreasing_hull",
    "oracle_predictions",
    "parse_mt_bench",
    "parse_outcomes_csv",
    "parse_outcomes_jsonl",
    "pgr",
    "random_predictions",
    "sniff_jsonl",
    "sweep",
]

DEFAULT_FOLDS = 5
#: Prior quality of a model nobody said anything about (the routing default).
DEFAULT_PRIOR_QUALITY = 0.5
#: Seeded draws the random reference's metrics are averaged over.
RANDOM_DRAWS = 16
#: The last point's threshold lies this far above the largest ratio (any higher one routes
#: the same way).
_LAST_STEP = 1e-6
#: Floor under a predicted quality, so that ratios stay finite.
_Q_EPS = 1e-6
#: Columns of a wide CSV that are never a model's scores.
_META_COLUMNS = frozenset(
    {"prompt", "category", "id", "prompt_id", "question_id", "turn", "source", "answer"}
)
_SCORE_HINT = "a score is a number from 0 to 1, or true/false for right/wrong"
_TRUE = frozenset({"true", "yes", "correct"})
_FALSE = frozenset({"false", "no", "incorrect", "wrong"})


class OutcomeFormatError(ValueError):
    """Outcomes that cannot be read; the message says where and what is wrong."""


class OutcomeFileError(OutcomeFormatError, FileFormatError):
    """An outcomes file, or one of its lines, that cannot be read: it names the line."""


#: How an outcome line looks, for the hints of the errors.
OUTCOME_LINE_EXAMPLE = '{"prompt": "2+2?", "models": {"model-a": 1, "model-b": 0}}'
_QUESTION_EXAMPLE = '{"question_id": 81, "category": "writing", "turns": ["..."]}'
_JUDGEMENT_EXAMPLE = '{"question_id": 81, "model": "model-a", "turn": 1, "score": 9}'


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class ModelOutcome:
    """What one model did on one prompt."""

    score: float  # in [0, 1]: correctness (0/1) or a graded score
    cost_usd: Decimal | None = None  # None: not recorded (see fill_costs)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_source: str = "recorded"  # "recorded", or where a filled-in cost came from

    def __post_init__(self) -> None:
        if not (isinstance(self.score, int | float) and 0.0 <= self.score <= 1.0):
            raise ValueError(f"score must be in [0, 1], got {self.score!r}")
        if self.cost_usd is not None and (not self.cost_usd.is_finite() or self.cost_usd < 0):
            raise ValueError(f"cost must be a non-negative amount, got {self.cost_usd!r}")
        for name in ("prompt_tokens", "completion_tokens"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """One prompt and what every recorded model did on it."""

    prompt: str
    outcomes: Mapping[str, ModelOutcome]
    category: str | None = None
    key: str | None = None  # an id from the file, when it has one


@dataclass(frozen=True, slots=True)
class ParsedOutcomes:
    records: tuple[OutcomeRecord, ...]
    notes: tuple[str, ...] = ()


def _where(source: str, line: int) -> Where:
    return Where(source, line)


def _file(source: str, default: str) -> Where:
    return Where(source or default)


def _score(value: object, where: Where) -> float:
    """A score in [0, 1] from a bool, a number, or ``True``/``False``-like text."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        x = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return 1.0
        if text in _FALSE:
            return 0.0
        try:
            x = float(text)
        except ValueError:
            raise OutcomeFileError(where, f"{value!r} is not a score", _SCORE_HINT) from None
    else:
        raise OutcomeFileError(where, f"{value!r} is not a score", _SCORE_HINT)
    if not (0.0 <= x <= 1.0):  # also refuses NaN
        raise OutcomeFileError(where, f"score {value!r} is outside [0, 1]", _SCORE_HINT)
    return x


def _money(value: object, where: Where) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise OutcomeFileError(where, f"{value!r} is not an amount in USD")
    try:
        amount = Decimal(str(value).strip().lstrip("$"))
    except InvalidOperation:
        raise OutcomeFileError(where, f"{value!r} is not an amount in USD") from None
    if not amount.is_finite() or amount < 0:
        raise OutcomeFileError(where, f"cost {value!r} must be a non-negative amount")
    return amount


def _count(value: object, where: Where, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        n = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise OutcomeFileError(where, f"{name} {value!r} is not a whole number") from None
    if isinstance(value, bool) or n < 0:
        raise OutcomeFileError(where, f"{name} {value!r} must be a non-negative count")
    return n


def _category(value: object, default: str | None) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return default


def _outcome_from_json(value: object, where: Where) -> ModelOutcome:
    if isinstance(value, dict):
        raw = value.get("score", value.get("correct", value.get("quality")))
        if raw is None:
            raise OutcomeFileError(where, "a model entry needs a score")
        cost = value.get("cost_usd", value.get("cost"))
        return ModelOutcome(
            score=_score(raw, where),
            cost_usd=_money(cost, where),
            prompt_tokens=_count(value.get("prompt_tokens"), where, "prompt_tokens"),
            completion_tokens=_count(value.get("completion_tokens"), where, "completion_tokens"),
        )
    return ModelOutcome(score=_score(value, where))


def parse_outcomes_jsonl(
    text: str, *, source: str = "", category: str | None = None
) -> ParsedOutcomes:
    """One prompt per line::

        {"prompt": "...", "category": "math",
         "models": {"model-a": {"score": 1, "cost_usd": "0.0002", "prompt_tokens": 80,
                                "completion_tokens": 200},
                    "model-b": 0.4}}

    ``models`` (also ``outcomes`` or ``scores``) maps a model id to a score in [0, 1] (a
    number or a boolean) or to an object with ``score`` and, optionally, ``cost_usd``,
    ``prompt_tokens`` and ``completion_tokens``. ``category`` fills in lines without one.
    """
    records: list[OutcomeRecord] = []
    for where, obj in _json_lines(text, source, OUTCOME_LINE_EXAMPLE):
        prompt = obj.get("prompt")
        if not isinstance(prompt, str):
            raise OutcomeFileError(
                where,
                'needs a "prompt" string',
                'give the prompt the models were asked as "prompt": "..."',
            )
        models = obj.get("models", obj.get("outcomes", obj.get("scores")))
        if not isinstance(models, dict) or not models:
            raise OutcomeFileError(
                where,
                'needs a "models" object (model id -> score)',
                'such as "models": {"model-a": 1, "model-b": 0.5}',
            )
        outcomes = {
            str(mid): _outcome_from_json(v, where.about(f"model {mid}"))
            for mid, v in models.items()
        }
        key = obj.get("id")
        records.append(
            OutcomeRecord(
                prompt=prompt,
                outcomes=MappingProxyType(outcomes),
                category=_category(obj.get("category"), category),
                key=None if key is None else str(key),
            )
        )
    if not records:
        raise OutcomeFileError(
            _file(source, "outcomes"),
            "no outcome lines",
            f"write one JSON object per line, such as {OUTCOME_LINE_EXAMPLE}",
        )
    return ParsedOutcomes(tuple(records))


def parse_outcomes_csv(
    text: str, *, source: str = "", category: str | None = None
) -> ParsedOutcomes:
    """A wide CSV: a ``prompt`` column, an optional ``category`` column, and one column per
    model holding its correctness (``True``/``False``) or score in [0, 1].

    Optional ``<model>_cost_usd``, ``<model>_prompt_tokens`` and
    ``<model>_completion_tokens`` columns give recorded costs and token counts. Any other
    column whose values are not all scores (such as ``<model>_response`` texts) is not a
    model: it is left out, and the notes say so unless it is a ``_response`` column.
    """
    try:
        reader = csv.reader(io.StringIO(text))
        rows = list(reader)
    except csv.Error as e:
        raise OutcomeFileError(_file(source, "CSV"), f"not a readable CSV file ({e})") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise OutcomeFileError(_file(source, "CSV"), "no header row")
    header = [h.strip() for h in rows[0]]
    lower = [h.lower() for h in header]
    if "prompt" not in lower:
        raise OutcomeFileError(_file(source, "CSV"), 'needs a "prompt" column')
    p_col = lower.index("prompt")
    c_col = lower.index("category") if "category" in lower else None
    body = [(k + 2, r) for k, r in enumerate(rows[1:]) if any(cell.strip() for cell in r)]
    if not body:
        raise OutcomeFileError(_file(source, "CSV"), "no rows")
    extras = {}
    for j, name in enumerate(header):
        for suffix in ("_cost_usd", "_prompt_tokens", "_completion_tokens"):
            if name.endswith(suffix) and name[: -len(suffix)] in header:
                extras[(name[: -len(suffix)], suffix)] = j
    extra_cols = set(extras.values())
    notes: list[str] = []
    model_cols: list[tuple[int, str]] = []
    for j, name in enumerate(header):
        if j in (p_col, c_col) or j in extra_cols or name.lower() in _META_COLUMNS or not name:
            continue
        bad = None
        for line, r in body:
            cell = r[j] if j < len(r) else ""
            if cell.strip() == "":
                continue
            try:
                _score(cell, Where())
            except OutcomeFormatError:
                bad = (line, cell)
                break
        if bad is None:
            model_cols.append((j, name))
        elif not name.lower().endswith("_response"):
            shown = bad[1] if len(bad[1]) <= 30 else bad[1][:27] + "..."
            notes.append(
                f"{source or 'CSV'}: column {name!r} left out: not scores "
                f"(line {bad[0]}: {shown!r})"
            )
    if not model_cols:
        raise OutcomeFileError(
            _file(source, "CSV"),
            "no model column",
            "add one column per model of True/False or scores in [0, 1]",
        )
    records: list[OutcomeRecord] = []
    for line, r in body:
        where = _where(source, line)
        cells = r + [""] * (len(header) - len(r))
        outcomes: dict[str, ModelOutcome] = {}
        for j, name in model_cols:
            if not cells[j].strip():
                continue
            cost_j = extras.get((name, "_cost_usd"))
            pt_j = extras.get((name, "_prompt_tokens"))
            ct_j = extras.get((name, "_completion_tokens"))
            outcomes[name] = ModelOutcome(
                score=_score(cells[j], where),
                cost_usd=None if cost_j is None else _money(cells[cost_j].strip(), where),
                prompt_tokens=None
                if pt_j is None
                else _count(cells[pt_j].strip(), where, "prompt_tokens"),
                completion_tokens=None
                if ct_j is None
                else _count(cells[ct_j].strip(), where, "completion_tokens"),
            )
        if not outcomes:
            continue
        records.append(
            OutcomeRecord(
                prompt=cells[p_col],
                outcomes=MappingProxyType(outcomes),
                category=_category(cells[c_col] if c_col is not None else None, category),
            )
        )
    if not records:
        raise OutcomeFileError(_file(source, "CSV"), "no row has a score")
    return ParsedOutcomes(tuple(records), tuple(notes))


def sniff_jsonl(text: str) -> str:
    """What a JSONL file holds, from its first object: ``"mt-bench-questions"`` (has
    ``question_id`` and ``turns``), ``"mt-bench-judgements"`` (``question_id``, ``model`` and
    ``score``) or ``"outcomes"`` (anything else)."""
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            return "outcomes"  # the outcome parser reports the error with its line
        if isinstance(obj, dict) and "question_id" in obj:
            if "turns" in obj:
                return "mt-bench-questions"
            if "model" in obj and "score" in obj:
                return "mt-bench-judgements"
        return "outcomes"
    return "outcomes"


def _json_lines(text: str, source: str, example: str) -> Iterable[tuple[Where, dict]]:
    """Every object of a JSONL file (blank lines and ``#`` comments skipped)."""
    for n, line in jsonl_lines(text):
        where = _where(source, n)
        yield where, parse_object(line, where, example, OutcomeFileError)


def parse_mt_bench(
    judgements: str,
    questions: str,
    *,
    category: str | None = None,
    judgements_source: str = "",
    questions_source: str = "",
) -> ParsedOutcomes:
    """MT-Bench judgements joined with their questions.

    A judgement line has ``question_id``, ``model``, ``turn`` and ``score`` (1 to 10); a
    question line has ``question_id``, ``category`` and ``turns`` (the user's messages). A
    model's score on a question is the mean of its turns' scores mapped to [0, 1] as
    ``(score - 1) / 9``. The prompt the router sees is the question's turns (never the
    judged conversation, which holds the answers). Judgements outside 1..10 (MT-Bench writes
    -1 when the judge's verdict could not be read) are left out, and the notes say how many.
    """
    qs: dict[str, dict] = {}
    for where, obj in _json_lines(questions, questions_source, _QUESTION_EXAMPLE):
        qid = obj.get("question_id")
        turns = obj.get("turns")
        if qid is None or not isinstance(turns, list):
            raise OutcomeFileError(
                where, "a question needs question_id and turns", f"such as {_QUESTION_EXAMPLE}"
            )
        qs[str(qid)] = obj
    if not qs:
        raise OutcomeFileError(_file(questions_source, "questions"), "no questions")
    sums: dict[tuple[str, str], list[float]] = {}
    skipped = 0
    unknown: set[str] = set()
    for where, obj in _json_lines(judgements, judgements_source, _JUDGEMENT_EXAMPLE):
        qid, model, score = obj.get("question_id"), obj.get("model"), obj.get("score")
        if qid is None or not isinstance(model, str) or score is None:
            raise OutcomeFileError(
                where,
                "a judgement needs question_id, model and score",
                f"such as {_JUDGEMENT_EXAMPLE}",
            )
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise OutcomeFileError(
                where, f"score {score!r} is not a number", "MT-Bench scores run from 1 to 10"
            )
        if str(qid) not in qs:
            unknown.add(str(qid))
            continue
        if not 1 <= score <= 10:
            skipped += 1
            continue
        sums.setdefault((str(qid), model), []).append((float(score) - 1.0) / 9.0)
    if not sums:
        raise OutcomeFileError(
            _file(judgements_source, "judgements"),
            "no judgement matches a question",
            "give the questions file these judgements were made on",
        )
    by_q: dict[str, dict[str, ModelOutcome]] = {}
    for (qid, model), scores in sums.items():
        mean = min(1.0, max(0.0, sum(scores) / len(scores)))
        by_q.setdefault(qid, {})[model] = ModelOutcome(score=mean)
    records = []
    for qid in sorted(by_q, key=lambda q: (len(q), q)):
        q = qs[qid]
        prompt = "\n\n".join(str(t) for t in q["turns"])
        records.append(
            OutcomeRecord(
                prompt=prompt,
                outcomes=MappingProxyType(by_q[qid]),
                category=_category(q.get("category"), category),
                key=f"mt-bench:{qid}",
            )
        )
    notes = []
    if skipped:
        notes.append(
            f"{judgements_source or 'judgements'}: {skipped} judgement(s) outside 1..10 left out"
        )
    if unknown:
        notes.append(
            f"{judgements_source or 'judgements'}: {len(unknown)} question id(s) not in the "
            "questions file left out"
        )
    return ParsedOutcomes(tuple(records), tuple(notes))


# --------------------------------------------------------------------------- costs


def fill_costs(
    records: Sequence[OutcomeRecord],
    cost_of: Callable[[str, Usage], tuple[Decimal | None, str]],
    tokenizer_of: Callable[[str], str | None] = lambda _model: None,
    output_tokens: int = DEFAULT_OUTPUT_TOKENS,
) -> list[OutcomeRecord]:
    """Records whose missing costs are priced: ``cost_of(model_id, usage)`` gives the cost
    (``None`` when unknown) and a label of where the price came from.

    The usage takes the recorded token counts when there are any; otherwise the prompt's
    token estimate for the model's tokenizer (``tokenizer_of``) and ``output_tokens``
    completion tokens. Recorded costs are kept as they are.
    """
    token_cache: dict[tuple[str, str | None], int] = {}
    out = []
    for rec in records:
        changed = False
        outcomes = dict(rec.outcomes)
        for mid, oc in rec.outcomes.items():
            if oc.cost_usd is not None:
                continue
            prompt_tokens = oc.prompt_tokens
            if prompt_tokens is None:
                tok = tokenizer_of(mid)
                key = (rec.prompt, tok)
                prompt_tokens = token_cache.get(key)
                if prompt_tokens is None:
                    prompt_tokens = estimate_tokens(rec.prompt, tok).tokens
                    token_cache[key] = prompt_tokens
            completion = oc.completion_tokens if oc.completion_tokens is not None else output_tokens
            cost, label = cost_of(
                mid, Usage(prompt_tokens=prompt_tokens, completion_tokens=completion)
            )
            outcomes[mid] = ModelOutcome(
                score=oc.score,
                cost_usd=cost,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion,
                cost_source=label,
            )
            changed = True
        out.append(
            OutcomeRecord(rec.prompt, MappingProxyType(outcomes), rec.category, rec.key)
            if changed
            else rec
        )
    return out


# --------------------------------------------------------------------------- folds


def kfold_indices(n: int, k: int, seed: int = 0) -> list[list[int]]:
    """``n`` items dealt into ``k`` folds after a seeded shuffle (sizes differ by at most 1).

    ``k`` is capped at ``n``; every item is in exactly one fold; the same ``(n, k, seed)``
    always gives the same folds.
    """
    if k < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    if n < 2:
        raise ValueError("cross-validation needs at least 2 prompts")
    k = min(k, n)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    folds: list[list[int]] = [[] for _ in range(k)]
    for pos, i in enumerate(order):
        folds[pos % k].append(i)
    return [sorted(f) for f in folds]


# --------------------------------------------------------------------------- the router


@dataclass(frozen=True, slots=True)
class RouterConfig:
    #: Effective samples at which observations weigh as much as the prior (as in routing).
    prior_strength: float = PRIOR_STRENGTH
    #: Quantile bins per prompt feature.
    bins: int = 6
    #: Pseudo-samples that hold a bin's effect at zero: a bin of this many prompts moves
    #: half-way toward what it observed.
    bin_strength: float = 30.0
    #: The same for the per-category bins, fitted on what the pooled bins leave over.
    category_bin_strength: float = 60.0
    #: Backfitting rounds of the additive feature effects.
    rounds: int = 2
    #: Use the prompt features (complexity estimate, length); off: category only.
    use_features: bool = True

    def __post_init__(self) -> None:
        if self.bins < 1:
            raise ValueError("bins must be at least 1")
        if self.prior_strength < 0 or self.bin_strength < 0 or self.category_bin_strength < 0:
            raise ValueError("strengths must not be negative")


@dataclass(frozen=True, slots=True)
class PromptFeatures:
    """What the router sees of a prompt without knowing any answer."""

    category: str | None
    complexity: float  # estimate_complexity of the text
    length: float  # log(1 + characters)

    @classmethod
    def of(cls, record: OutcomeRecord) -> PromptFeatures:
        return cls(
            category=record.category,
            complexity=estimate_complexity(record.prompt),
            length=math.log1p(len(record.prompt)),
        )

    def values(self) -> tuple[float, float]:
        return (self.complexity, self.length)


def _shrink(prior: float, observed: float, weight: float, strength: float) -> float:
    if weight <= 0:
        return prior
    return (strength * prior + weight * observed) / (strength + weight)


def _quantile_edges(values: Sequence[float], bins: int) -> tuple[float, ...]:
    if bins <= 1 or not values:
        return ()
    s = sorted(values)
    edges = []
    for j in range(1, bins):
        e = s[min(len(s) - 1, (j * len(s)) // bins)]
        if not edges or e > edges[-1]:
            edges.append(e)
    return tuple(edges)


def _smooth(effects: list[float]) -> list[float]:
    """A [1, 2, 1] kernel over neighbouring bins (the ends lean on their one neighbour)."""
    n = len(effects)
    if n < 3:
        return effects
    out = []
    for b in range(n):
        left = effects[b - 1] if b > 0 else effects[b]
        right = effects[b + 1] if b < n - 1 else effects[b]
        out.append((left + 2 * effects[b] + right) / 4)
    return out


def _fit_bins(
    residuals: list[float],
    bins_of: list[int],
    nbins: int,
    strength: float,
    members: Iterable[int],
) -> list[float]:
    sums = [0.0] * nbins
    counts = [0] * nbins
    for i in members:
        b = bins_of[i]
        sums[b] += residuals[i]
        counts[b] += 1
    return _smooth([sums[b] / (counts[b] + strength) for b in range(nbins)])


class LearnedRouter:
    """Predicted quality per model for a prompt, learned from recorded outcomes.

    ``q(model, prompt) = base(model, category) + sum of feature effects``, clamped to
    [0, 1]. ``base`` is the observed mean quality of the model in the prompt's category,
    shrunk toward the model's overall observed quality, itself shrunk toward ``priors``
    (``prior_strength`` pseudo-samples each, as routing shrinks observed figures). The
    feature effects are binned (training-fold quantiles), shrunk toward zero and smoothed.
    """

    def __init__(
        self,
        models: Sequence[str],
        overall: Mapping[str, float],
        by_category: Mapping[tuple[str, str], float],
        edges: tuple[tuple[float, ...], ...],
        effects: Mapping[str, tuple[tuple[float, ...], ...]],
        category_effects: Mapping[tuple[str, str], tuple[tuple[float, ...], ...]],
    ) -> None:
        self.models = tuple(models)
        self.overall = dict(overall)
        self.by_category = dict(by_category)
        self.edges = edges
        self.effects = dict(effects)
        self.category_effects = dict(category_effects)

    @classmethod
    def fit(
        cls,
        records: Sequence[OutcomeRecord],
        features: Sequence[PromptFeatures],
        models: Sequence[str],
        priors: Mapping[str, float] | None = None,
        config: RouterConfig = RouterConfig(),
    ) -> LearnedRouter:
        priors = priors or {}
        n = len(records)
        overall: dict[str, float] = {}
        by_cat: dict[tuple[str, str], float] = {}
        cats: dict[str, list[int]] = {}
        for i, f in enumerate(features):
            if f.category is not None:
                cats.setdefault(f.category, []).append(i)
        for m in models:
            scores = [r.outcomes[m].score for r in records]
            mean = sum(scores) / n if n else 0.0
            overall[m] = _shrink(
                priors.get(m, DEFAULT_PRIOR_QUALITY), mean, float(n), config.prior_strength
            )
            for c, members in cats.items():
                cmean = sum(scores[i] for i in members) / len(members)
                by_cat[(m, c)] = _shrink(
                    overall[m], cmean, float(len(members)), config.prior_strength
                )
        nf = 2 if config.use_features else 0
        edges = tuple(
            _quantile_edges([f.values()[d] for f in features], config.bins) for d in range(nf)
        )
        bins_of = [[bisect_right(edges[d], f.values()[d]) for f in features] for d in range(nf)]
        effects: dict[str, tuple[tuple[float, ...], ...]] = {}
        cat_effects: dict[tuple[str, str], tuple[tuple[float, ...], ...]] = {}
        everyone = range(n)
        for m in models:
            base = [
                by_cat.get((m, f.category), overall[m]) if f.category else overall[m]
                for f in features
            ]
            resid = [records[i].outcomes[m].score - base[i] for i in everyone]
            eff = [[0.0] * (len(edges[d]) + 1) for d in range(nf)]
            for _ in range(config.rounds):
                for d in range(nf):
                    for i in everyone:  # take this feature's own effect out again
                        resid[i] += eff[d][bins_of[d][i]]
                    eff[d] = _fit_bins(
                        resid, bins_of[d], len(eff[d]), config.bin_strength, everyone
                    )
                    for i in everyone:
                        resid[i] -= eff[d][bins_of[d][i]]
            effects[m] = tuple(tuple(e) for e in eff)
            for c, members in cats.items():
                ceff = []
                for d in range(nf):
                    e = _fit_bins(
                        resid, bins_of[d], len(eff[d]), config.category_bin_strength, members
                    )
                    for i in members:
                        resid[i] -= e[bins_of[d][i]]
                    ceff.append(tuple(e))
                cat_effects[(m, c)] = tuple(ceff)
        return cls(models, overall, by_cat, edges, effects, cat_effects)

    def predict(self, features: PromptFeatures) -> dict[str, float]:
        values = features.values()
        bins = [bisect_right(e, values[d]) for d, e in enumerate(self.edges)]
        out = {}
        for m in self.models:
            c = features.category
            q = self.by_category.get((m, c), self.overall[m]) if c else self.overall[m]
            for d, b in enumerate(bins):
                q += self.effects[m][d][b]
            ceff = self.category_effects.get((m, c)) if c else None
            if ceff:
                for d, b in enumerate(bins):
                    q += ceff[d][b]
            out[m] = min(1.0, max(0.0, q))
        return out


def cross_validated_predictions(
    records: Sequence[OutcomeRecord],
    models: Sequence[str],
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    priors: Mapping[str, float] | None = None,
    config: RouterConfig = RouterConfig(),
    features: Sequence[PromptFeatures] | None = None,
) -> list[dict[str, float]]:
    """Every record's predicted qualities from a router fitted on the other folds only."""
    feats = list(features) if features is not None else [PromptFeatures.of(r) for r in records]
    preds: list[dict[str, float]] = [{} for _ in records]
    for held in kfold_indices(len(records), folds, seed):
        held_set = set(held)
        train = [i for i in range(len(records)) if i not in held_set]
        router = LearnedRouter.fit(
            [records[i] for i in train], [feats[i] for i in train], models, priors, config
        )
        for i in held:
            preds[i] = router.predict(feats[i])
    return preds


def random_predictions(n: int, models: Sequence[str], seed: int) -> list[dict[str, float]]:
    rng = random.Random(seed)
    return [{m: rng.random() for m in models} for _ in range(n)]


def oracle_predictions(
    records: Sequence[OutcomeRecord], models: Sequence[str], strong: str
) -> list[dict[str, float]]:
    """The recorded scores as predictions, put so that the policy's ratio to the strong
    model is ``1 - (strong's score - this model's score)``: at threshold ``t`` a prompt goes
    to the cheapest model that falls short of the strong one by at most ``1 - t``. For a
    pair, prompts go to the strong model in order of what it gains there (RouteLLM's
    optimal router)."""
    return [
        {m: 1.0 + r.outcomes[m].score - r.outcomes[strong].score for m in models} for r in records
    ]


# --------------------------------------------------------------------------- the sweep


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """The policy at one threshold, over every replayed prompt."""

    threshold: float  # the largest threshold giving this routing (the last: any above it)
    strong_share: float  # share of prompts sent to the strong model
    quality: float  # mean score of the chosen models
    cost_usd: Decimal | None  # total cost of the replay (None: a cost is unknown)
    shares: Mapping[str, float] = field(default_factory=dict)  # share of prompts per model


def _cost_order(records: Sequence[OutcomeRecord], models: Sequence[str]) -> list[str]:
    def key(m: str) -> tuple:
        costs = [r.outcomes[m].cost_usd for r in records]
        known = [c for c in costs if c is not None]
        mean_cost = sum(known, Decimal(0)) / len(known) if known else Decimal("Infinity")
        mean_q = sum(r.outcomes[m].score for r in records) / max(1, len(records))
        return (mean_cost, mean_q, m)

    return sorted(models, key=key)


def sweep(
    records: Sequence[OutcomeRecord],
    predictions: Sequence[Mapping[str, float]],
    models: Sequence[str],
    strong: str,
) -> list[CurvePoint]:
    """The cost-quality curve of the policy over every threshold that changes a decision.

    At threshold ``t`` a prompt goes to the cheapest model (by mean cost over the records)
    whose predicted quality is at least ``t`` times the strong model's predicted quality,
    and to the strong model when none is. The first point is ``t = 0`` (the cheapest model
    everywhere); the last sends every prompt to the strong model.
    """
    if strong not in models:
        raise ValueError(f"strong model {strong!r} is not among the models")
    n = len(records)
    if n == 0:
        raise ValueError("nothing to replay")
    order = _cost_order(records, models)
    pos = {m: j for j, m in enumerate(order)}
    si = pos[strong]
    k = len(order)
    scores = [[r.outcomes[m].score for m in order] for r in records]
    costs = [[r.outcomes[m].cost_usd for m in order] for r in records]
    cost_known = all(c is not None for row in costs for c in row)
    events: list[tuple[float, int, int]] = []  # (threshold passed, record, new model)
    choice = [0] * n
    for i, pred in enumerate(predictions):
        q_strong = max(pred[strong], _Q_EPS)
        current = 0
        best = -1.0
        for j, m in enumerate(order):
            r = max(pred[m], 0.0) / q_strong
            if r > best:  # a prefix maximum: the choice for thresholds up to r
                if best >= 0.0:
                    events.append((best, i, j))
                else:
                    current = j
                best = r
        events.append((best, i, si))
        choice[i] = current
    events.sort(key=lambda e: e[0])
    counts = [0] * k
    total_q = 0.0
    total_c = Decimal(0)
    for i in range(n):
        counts[choice[i]] += 1
        total_q += scores[i][choice[i]]
        if cost_known:
            total_c += costs[i][choice[i]]  # type: ignore[operator]

    def point(threshold: float) -> CurvePoint:
        return CurvePoint(
            threshold=threshold,
            strong_share=counts[si] / n,
            quality=total_q / n,
            cost_usd=total_c if cost_known else None,
            shares=MappingProxyType({order[j]: counts[j] / n for j in range(k) if counts[j]}),
        )

    points: list[CurvePoint] = []
    e = 0
    first_t = events[0][0] if events else 0.0
    points.append(point(min(0.0, first_t)))
    while e < len(events):
        t = events[e][0]
        while e < len(events) and events[e][0] == t:
            _, i, j = events[e]
            old = choice[i]
            if old != j:
                counts[old] -= 1
                counts[j] += 1
                total_q += scores[i][j] - scores[i][old]
                if cost_known:
                    total_c += costs[i][j] - costs[i][old]  # type: ignore[operator]
                choice[i] = j
            e += 1
        upper = events[e][0] if e < len(events) else t + _LAST_STEP
        points.append(point(upper))
    return _dedupe(points)


def _dedupe(points: list[CurvePoint]) -> list[CurvePoint]:
    """Drop points identical in share, quality and cost to the one before (keep the first)."""
    out: list[CurvePoint] = []
    for p in points:
        if out and (p.strong_share, p.quality, p.cost_usd, dict(p.shares)) == (
            out[-1].strong_share,
            out[-1].quality,
            out[-1].cost_usd,
            dict(out[-1].shares),
        ):
            continue
        out.append(p)
    return out


# --------------------------------------------------------------------------- metrics


def pgr(quality: float, weak: float, strong: float) -> float:
    """Performance gap recovered: 0 at the weak model's quality, 1 at the strong one's."""
    gap = strong - weak
    if gap == 0:
        raise ValueError("the weak and strong models perform alike: the gap is zero")
    return (quality - weak) / gap


def _sorted_share_quality(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    return sorted(points, key=lambda p: (p[0], p[1]))


def apgr(points: Iterable[tuple[float, float]], weak: float, strong: float) -> float:
    """Average PGR over the (strong share, quality) curve (RouteLLM): the trapezoid area
    under PGR over the share range the points span, divided by that range. A single point
    (or a zero range) gives its PGR (the mean when several share one share value)."""
    pts = _sorted_share_quality(points)
    if not pts:
        raise ValueError("no curve points")
    lo, hi = pts[0][0], pts[-1][0]
    if hi - lo <= 0:
        return sum(pgr(q, weak, strong) for _, q in pts) / len(pts)
    area = 0.0
    for (x0, q0), (x1, q1) in pairwise(pts):
        area += (x1 - x0) * (pgr(q0, weak, strong) + pgr(q1, weak, strong)) / 2
    return area / (hi - lo)


def cpt(
    points: Iterable[tuple[float, float]], weak: float, strong: float, target: float
) -> float | None:
    """Call-performance threshold (RouteLLM): the smallest share of strong-model calls at
    which the curve, linearly interpolated between its points, reaches a PGR of ``target``
    (0.5 for CPT(50%)). ``None`` when it never does."""
    pts = _sorted_share_quality(points)
    if not pts:
        raise ValueError("no curve points")
    prev_x, prev_g = pts[0][0], pgr(pts[0][1], weak, strong)
    if prev_g >= target:
        return prev_x
    for x, q in pts[1:]:
        g = pgr(q, weak, strong)
        if g >= target:
            if g == prev_g or x == prev_x:
                return x
            return prev_x + (x - prev_x) * (target - prev_g) / (g - prev_g)
        prev_x, prev_g = x, g
    return None


def nondecreasing_hull(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The non-decreasing convex hull of (cost, quality) points (RouterBench): the upper
    convex hull from the cheapest point up to the best one. Mixing two routing
    configurations reaches any point on the segment between them, and paying more for less
    is never necessary, so past the best point the hull stays flat."""
    pts = sorted(set(points))
    if not pts:
        return []
    # for each cost keep the best quality
    best: dict[float, float] = {}
    for c, q in pts:
        best[c] = max(q, best.get(c, -math.inf))
    pts = sorted(best.items())
    hull: list[tuple[float, float]] = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            # drop hull[-1] when it lies on or below the segment hull[-2] -> p
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    top = max(range(len(hull)), key=lambda j: (hull[j][1], -hull[j][0]))
    return hull[: top + 1]


def aiq(points: Iterable[tuple[float, float]], cost_min: float, cost_max: float) -> float:
    """Average improvement in quality (RouterBench): the area under the non-decreasing
    convex hull of (cost, quality) points over ``[cost_min, cost_max]`` (the cost range of
    the single models), divided by its width. Left of the router's cheapest point the hull
    counts as quality 0; right of its best point it stays at that quality. A zero-width
    range gives the hull's value at that cost."""
    hull = nondecreasing_hull(points)
    if not hull:
        raise ValueError("no curve points")

    def value(c: float) -> float:
        if c < hull[0][0]:
            return 0.0
        if c >= hull[-1][0]:
            return hull[-1][1]
        for (x0, y0), (x1, y1) in pairwise(hull):
            if x0 <= c <= x1:
                return y0 + (y1 - y0) * (c - x0) / (x1 - x0) if x1 > x0 else max(y0, y1)
        return hull[-1][1]

    if cost_max < cost_min:
        raise ValueError("cost_max is below cost_min")
    if cost_max == cost_min:
        return value(cost_min)
    xs = sorted({cost_min, cost_max} | {x for x, _ in hull if cost_min < x < cost_max})
    area = 0.0
    for x0, x1 in pairwise(xs):
        if x0 < hull[0][0] <= x1:  # the step up at the router's cheapest point
            area += (x1 - hull[0][0]) * (value(hull[0][0]) + value(x1)) / 2
        else:
            area += (x1 - x0) * (value(x0) + value(x1)) / 2
    return area / (cost_max - cost_min)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class Metrics:
    apgr: float
    cpt50: float | None
    cpt80: float | None
    aiq: float | None  # None when a cost is unknown
    curve: tuple[CurvePoint, ...]


@dataclass(frozen=True, slots=True)
class ModelSummary:
    model_id: str
    quality: float  # mean score over the records
    cost_usd: Decimal | None  # total over the records (None: a cost is unknown)
    cost_sources: tuple[str, ...]  # where its costs came from ("recorded", "catalogue", ...)


@dataclass(frozen=True, slots=True)
class Evaluation:
    router: Metrics
    random: Metrics
    oracle: Metrics
    weak: str
    strong: str
    models: tuple[ModelSummary, ...]
    prompts: int
    folds: int
    seed: int
    categories: Mapping[str, int]  # prompts per category ("" for none)
    aiq_models: tuple[str, ...]  # the models the AIQ router chooses among


def _mean_cost_points(curve: Sequence[CurvePoint], n: int) -> list[tuple[float, float]] | None:
    if any(p.cost_usd is None for p in curve):
        return None
    return [(float(p.cost_usd) / n, p.quality) for p in curve]  # type: ignore[arg-type]


def _metrics(
    curve: list[CurvePoint],
    weak_q: float,
    strong_q: float,
    aiq_curve: list[CurvePoint] | None,
    cost_range: tuple[float, float] | None,
    n: int,
) -> Metrics:
    sq = [(p.strong_share, p.quality) for p in curve]
    value = None
    if aiq_curve is not None and cost_range is not None:
        cq = _mean_cost_points(aiq_curve, n)
        if cq is not None:
            value = aiq(cq, *cost_range)
    return Metrics(
        apgr=apgr(sq, weak_q, strong_q),
        cpt50=cpt(sq, weak_q, strong_q, 0.5),
        cpt80=cpt(sq, weak_q, strong_q, 0.8),
        aiq=value,
        curve=tuple(curve),
    )


def _mean_metrics(draws: Sequence[Metrics]) -> Metrics:
    def mean(values: Sequence[float | None]) -> float | None:
        if any(v is None for v in values):
            return None
        return sum(values) / len(values)  # type: ignore[arg-type]

    return Metrics(
        apgr=sum(d.apgr for d in draws) / len(draws),
        cpt50=mean([d.cpt50 for d in draws]),
        cpt80=mean([d.cpt80 for d in draws]),
        aiq=mean([d.aiq for d in draws]),
        curve=draws[0].curve,
    )


def common_models(records: Sequence[OutcomeRecord]) -> list[str]:
    """The models scored on every record, in first-seen order."""
    if not records:
        return []
    seen: list[str] = []
    for r in records:
        for m in r.outcomes:
            if m not in seen:
                seen.append(m)
    return [m for m in seen if all(m in r.outcomes for r in records)]


def evaluate(
    records: Sequence[OutcomeRecord],
    *,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    weak: str | None = None,
    strong: str | None = None,
    priors: Mapping[str, float] | None = None,
    config: RouterConfig = RouterConfig(),
    random_draws: int = RANDOM_DRAWS,
) -> Evaluation:
    """Replay the router (k-fold cross-validated), a random router and the oracle.

    The models are those scored on every record. ``weak`` defaults to the cheapest of them
    (by mean cost; the lowest mean score when costs are unknown) and ``strong`` to the best
    (highest mean score). APGR and CPT are computed for the policy between the weak and the
    strong model; AIQ for the policy over every model, against the cost range of the single
    models (they coincide for a pair).
    """
    if not records:
        raise ValueError("no outcomes to evaluate")
    models = common_models(records)
    if len(models) < 2:
        raise ValueError("outcomes need at least two models scored on every prompt")
    for name, mid in (("weak", weak), ("strong", strong)):
        if mid is not None and mid not in models:
            raise ValueError(
                f"{name} model {mid!r} is not scored on every prompt (models: {', '.join(models)})"
            )
    n = len(records)
    mean_q = {m: sum(r.outcomes[m].score for r in records) / n for m in models}
    order = _cost_order(records, models)
    if strong is None:
        strong = max((m for m in models if m != weak), key=lambda m: (mean_q[m], order.index(m)))
    if weak is None:
        weak = next(m for m in order if m != strong)
    if weak == strong:
        raise ValueError("the weak and strong models must differ")
    weak_q, strong_q = mean_q[weak], mean_q[strong]
    if weak_q == strong_q:
        raise ValueError(
            f"{weak} and {strong} score the same on average ({weak_q:.3f}): "
            "there is no performance gap to recover"
        )
    pair = [weak, strong]
    summaries = []
    for m in models:
        costs = [r.outcomes[m].cost_usd for r in records]
        total = None if any(c is None for c in costs) else sum(costs, Decimal(0))  # type: ignore[arg-type]
        sources = tuple(sorted({r.outcomes[m].cost_source for r in records}))
        summaries.append(ModelSummary(m, mean_q[m], total, sources))
    costs_known = all(s.cost_usd is not None for s in summaries)
    cost_range = None
    if costs_known:
        per_prompt = [float(s.cost_usd) / n for s in summaries]  # type: ignore[arg-type]
        cost_range = (min(per_prompt), max(per_prompt))

    feats = [PromptFeatures.of(r) for r in records]
    all_preds = cross_validated_predictions(records, models, folds, seed, priors, config, feats)
    multi = len(models) > 2

    def run(preds: Sequence[Mapping[str, float]]) -> Metrics:
        curve = sweep(records, preds, pair, strong)
        aiq_curve = sweep(records, preds, models, strong) if multi else curve
        return _metrics(curve, weak_q, strong_q, aiq_curve, cost_range, n)

    router = run(all_preds)
    oracle = run(oracle_predictions(records, models, strong))
    draws = [
        run(random_predictions(n, models, seed * 1000 + d)) for d in range(max(1, random_draws))
    ]
    cats: dict[str, int] = {}
    for r in records:
        cats[r.category or ""] = cats.get(r.category or "", 0) + 1
    return Evaluation(
        router=router,
        random=_mean_metrics(draws),
        oracle=oracle,
        weak=weak,
        strong=strong,
        models=tuple(summaries),
        prompts=n,
        folds=min(folds, n),
        seed=seed,
        categories=MappingProxyType(dict(sorted(cats.items()))),
        aiq_models=tuple(models),
    )
