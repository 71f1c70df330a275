"""Offline replay of routing policies on recorded outcome files (``locallama evaluate``).

Reads the files, joins MT-Bench judgements with their questions, prices what the files do
not price, and runs :func:`locallama_gui.core.evaluation.evaluate`.

Files:

* ``.csv``: a wide CSV (a ``prompt`` column, an optional ``category`` column, one score or
  correctness column per model);
* ``.jsonl`` (or any other name, told apart by content): outcome lines, MT-Bench judgements
  or MT-Bench questions. A judgements file needs a questions file among the files given.

Costs the files do not record are priced with the catalogue (``estimate_cost`` with the
prompt's token estimate and :data:`DEFAULT_OUTPUT_TOKENS` completion tokens). A model that is
not in the catalogue gets a documented default price: :data:`DEFAULT_STRONG_PRICE` for the
strong model, :data:`DEFAULT_WEAK_PRICE` for every other model; the report's notes say so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from locallama_gui.core.cost import estimate_cost, per_million
from locallama_gui.core.evaluation import (
    DEFAULT_FOLDS,
    DEFAULT_PRIOR_QUALITY,
    CurvePoint,
    Evaluation,
    Metrics,
    OutcomeFormatError,
    OutcomeRecord,
    common_models,
    evaluate,
    fill_costs,
    parse_mt_bench,
    parse_outcomes_csv,
    parse_outcomes_jsonl,
    sniff_jsonl,
)
from locallama_gui.core.models import ModelInfo, Usage, decimal_str
from locallama_gui.core.quality import PriorFit, quality_prior
from locallama_gui.core.routing import DEFAULT_OUTPUT_TOKENS
from locallama_gui.core.taskfiles import FileFormatError, decode_text
from locallama_gui.services.catalogue import bundled_benchmarked_models

__all__ = [
    "CURVE_POINTS_SHOWN",
    "DEFAULT_STRONG_PRICE",
    "DEFAULT_WEAK_PRICE",
    "MAX_OUTCOME_FILE_BYTES",
    "EvaluationInputError",
    "EvaluationReport",
    "OutcomeFileFormatError",
    "evaluate_files",
    "find_catalogue_model",
    "load_outcomes",
    "report_view",
]

#: (prompt, completion) USD per token for an uncatalogued weak model: $0.24/M in and out,
#: what Mixtral-8x7B-Instruct cost on OpenRouter in 2024 (the weak model of RouteLLM).
DEFAULT_WEAK_PRICE = (Decimal("0.00000024"), Decimal("0.00000024"))
#: The same for an uncatalogued strong model: $10/M in, $30/M out, OpenAI's list price of
#: gpt-4-1106-preview (GPT-4 Turbo, the strong model of RouteLLM).
DEFAULT_STRONG_PRICE = (Decimal("0.00001"), Decimal("0.00003"))
MAX_OUTCOME_FILE_BYTES = 512 * 1024 * 1024
#: Points of each curve in the report (the metrics use every point).
CURVE_POINTS_SHOWN = 101


class EvaluationInputError(Exception):
    """Outcome files that cannot be evaluated; the message says which and why, in one line."""


class OutcomeFileFormatError(EvaluationInputError):
    """An outcomes file not in a format that can be read; ``error`` is the core's, which
    names the file and the line (``error.line``) and says what to do."""

    def __init__(self, error: FileFormatError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    evaluation: Evaluation
    files: tuple[str, ...]
    notes: tuple[str, ...]
    prices: Mapping[str, str]  # model id -> where its costs came from, for people


# --------------------------------------------------------------------------- reading


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise EvaluationInputError(f"{path}: no such file") from None
    except OSError as e:
        raise EvaluationInputError(f"{path}: cannot read it ({e.strerror or e})") from None
    if path.is_dir():
        raise EvaluationInputError(f"{path}: is a folder, not an outcomes file")
    if size > MAX_OUTCOME_FILE_BYTES:
        raise EvaluationInputError(f"{path}: larger than {MAX_OUTCOME_FILE_BYTES // 2**20} MiB")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EvaluationInputError(f"{path}: cannot read it ({e.strerror or e})") from None
    try:
        return decode_text(data, path.name)
    except FileFormatError as e:
        raise OutcomeFileFormatError(e) from None


def _kind(path: Path, text: str) -> str:
    if path.suffix.lower() in (".csv", ".tsv"):
        return "csv"
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        return sniff_jsonl(text)
    return sniff_jsonl(text) if text.lstrip().startswith("{") else "csv"


def _categories_per_file(paths: Sequence[str], categories: Sequence[str]) -> list[str | None]:
    if not categories:
        return [None] * len(paths)
    if len(categories) == 1:
        return [categories[0]] * len(paths)
    if len(categories) == len(paths):
        return list(categories)
    raise EvaluationInputError(
        f"give one --category for every file ({len(paths)}) or a single one for all, "
        f"not {len(categories)}"
    )


def load_outcomes(
    paths: Sequence[str], categories: Sequence[str] = ()
) -> tuple[list[OutcomeRecord], list[str]]:
    """Every record of ``paths`` and notes about what was left out.

    ``categories``: one category for every file, or a single one for all; it fills in the
    prompts that have no category of their own.
    """
    if not paths:
        raise EvaluationInputError("no outcomes file given")
    cats = _categories_per_file(paths, categories)
    loaded = []
    questions: list[tuple[str, str]] = []
    for raw, cat in zip(paths, cats, strict=True):
        path = Path(raw)
        text = _read(path)
        kind = _kind(path, text)
        if kind == "mt-bench-questions":
            questions.append((str(path), text))
        loaded.append((path, text, kind, cat))
    if not any(kind != "mt-bench-questions" for _, _, kind, _ in loaded):
        raise EvaluationInputError(
            "only MT-Bench questions given: add the judgements file (question_id, model, "
            "turn, score) beside it"
        )
    question_text = "\n".join(text for _, text in questions)
    question_source = ", ".join(p for p, _ in questions)
    records: list[OutcomeRecord] = []
    notes: list[str] = []
    for path, text, kind, cat in loaded:
        try:
            if kind == "csv":
                parsed = parse_outcomes_csv(text, source=path.name, category=cat)
            elif kind == "outcomes":
                parsed = parse_outcomes_jsonl(text, source=path.name, category=cat)
            elif kind == "mt-bench-judgements":
                if not questions:
                    raise EvaluationInputError(
                        f"{path}: MT-Bench judgements need the questions file "
                        "(question_id, category, turns) too: give both with --outcomes"
                    )
                parsed = parse_mt_bench(
                    text,
                    question_text,
                    category=cat,
                    judgements_source=path.name,
                    questions_source=question_source,
                )
            else:
                continue
        except FileFormatError as e:
            raise OutcomeFileFormatError(e) from None
        except OutcomeFormatError as e:
            raise EvaluationInputError(str(e)) from None
        records.extend(parsed.records)
        notes.extend(parsed.notes)
    return records, notes


# --------------------------------------------------------------------------- pricing


def find_catalogue_model(models: Sequence[ModelInfo], model_id: str) -> ModelInfo | None:
    """The catalogue entry of ``model_id``: the same id, the same id in another case, or
    the only catalogue id that is ``vendor/`` + ``model_id`` (``gpt-4o`` ->
    ``openai/gpt-4o``). Nothing fuzzier: a wrong price is worse than a labelled default."""
    by_lower: dict[str, list[ModelInfo]] = {}
    for m in models:
        if m.id == model_id:
            return m
        by_lower.setdefault(m.id.lower(), []).append(m)
    want = model_id.lower()
    if want in by_lower:
        return by_lower[want][0]
    if "/" not in want:
        found = [m for m in models if m.id.lower().split("/", 1)[-1] == want]
        if len(found) == 1:
            return found[0]
    return None


def _per_m(price: Decimal) -> str:
    return f"${decimal_str(per_million(price))}/M"


def _default_label(pair: tuple[Decimal, Decimal], role: str) -> str:
    return f"default {role} price ({_per_m(pair[0])} in, {_per_m(pair[1])} out)"


def _roles(
    records: Sequence[OutcomeRecord], weak: str | None, strong: str | None
) -> tuple[list[str], str]:
    models = common_models(records)
    if len(models) < 2:
        found = sorted({m for r in records for m in r.outcomes})
        raise EvaluationInputError(
            "the outcomes need at least two models scored on every prompt "
            f"(found: {', '.join(found) or 'none'})"
        )
    if strong is None:
        n = len(records)
        means = {m: sum(r.outcomes[m].score for r in records) / n for m in models}
        strong = max((m for m in models if m != weak), key=lambda m: means[m])
    return models, strong


# --------------------------------------------------------------------------- evaluation


def evaluate_files(
    paths: Sequence[str],
    catalogue: Sequence[ModelInfo],
    *,
    categories: Sequence[str] = (),
    folds: int = DEFAULT_FOLDS,
    weak: str | None = None,
    strong: str | None = None,
    seed: int = 0,
    output_tokens: int = DEFAULT_OUTPUT_TOKENS,
) -> EvaluationReport:
    """Read ``paths``, price what they do not price, and replay the router on them."""
    if folds < 2:
        raise EvaluationInputError("--folds must be at least 2")
    records, notes = load_outcomes(paths, categories)
    if len(records) < 2:
        raise EvaluationInputError("the outcomes hold fewer than two prompts")
    models, strong_id = _roles(records, weak, strong)
    dropped = sorted({m for r in records for m in r.outcomes} - set(models))
    if dropped:
        notes.append(f"left out (not scored on every prompt): {', '.join(dropped)}")
    for name, mid in (("weak", weak), ("strong", strong)):
        if mid is not None and mid not in models:
            raise EvaluationInputError(
                f"--{name} {mid!r} is not scored on every prompt (models: {', '.join(models)})"
            )

    entries = {m: find_catalogue_model(catalogue, m) for m in models}
    labels: dict[str, str] = {}
    for m, entry in entries.items():
        if entry is not None:
            labels[m] = f"catalogue: {entry.id}"
        else:
            pair = DEFAULT_STRONG_PRICE if m == strong_id else DEFAULT_WEAK_PRICE
            labels[m] = _default_label(pair, "strong" if m == strong_id else "weak")

    def cost_of(model_id: str, usage: Usage) -> tuple[Decimal | None, str]:
        entry = entries.get(model_id)
        if entry is not None:
            return estimate_cost(entry, usage).total_usd, labels[model_id]
        p, c = DEFAULT_STRONG_PRICE if model_id == strong_id else DEFAULT_WEAK_PRICE
        return p * usage.prompt_tokens + c * usage.completion_tokens, labels[model_id]

    def tokenizer_of(model_id: str) -> str | None:
        entry = entries.get(model_id)
        return entry.tokenizer if entry is not None else model_id.split("/")[-1]

    needs_price = {
        m for r in records for m, oc in r.outcomes.items() if m in models and oc.cost_usd is None
    }
    records = [
        OutcomeRecord(r.prompt, {m: r.outcomes[m] for m in models}, r.category, r.key)
        for r in records
    ]
    if needs_price:
        records = fill_costs(records, cost_of, tokenizer_of, output_tokens)
        for m in sorted(needs_price):
            if entries[m] is None:
                notes.append(f"{m} is not in the catalogue: its costs use the {labels[m]}")
            else:
                notes.append(f"{m}: costs not recorded, priced from the {labels[m]}")
        notes.append(
            f"costs not recorded are estimated from the prompt's tokens and {output_tokens} "
            "completion tokens"
        )
    fit = PriorFit.for_catalogue(catalogue, bundled_benchmarked_models)
    priors = {
        m: quality_prior(e, None, fit=fit).quality if e is not None else DEFAULT_PRIOR_QUALITY
        for m, e in entries.items()
    }
    try:
        result = evaluate(
            records, folds=folds, seed=seed, weak=weak, strong=strong_id, priors=priors
        )
    except ValueError as e:
        raise EvaluationInputError(str(e)) from None
    if any(s.cost_usd is None for s in result.models):
        notes.append("a cost is unknown (variable price): AIQ and curve costs are left out")
    return EvaluationReport(
        evaluation=result,
        files=tuple(str(p) for p in paths),
        notes=tuple(notes),
        prices={m: labels[m] if m in needs_price else "recorded" for m in models},
    )


# --------------------------------------------------------------------------- JSON view


def _r(x: float | None, places: int = 6) -> float | None:
    return None if x is None else round(x, places)


def _thin(curve: Sequence[CurvePoint], limit: int = CURVE_POINTS_SHOWN) -> list[CurvePoint]:
    """At most ``limit`` points: the first, the last, and the nearest to even share steps."""
    if len(curve) <= limit:
        return list(curve)
    picked = {0, len(curve) - 1}
    j = 0
    for step in range(1, limit - 1):
        target = step / (limit - 1)
        while j + 1 < len(curve) and curve[j + 1].strong_share <= target:
            j += 1
        picked.add(j)
    return [curve[k] for k in sorted(picked)]


def _point_view(p: CurvePoint) -> dict[str, Any]:
    return {
        "threshold": _r(p.threshold, 9),
        "strong_share": _r(p.strong_share),
        "quality": _r(p.quality),
        "cost_usd": None if p.cost_usd is None else decimal_str(p.cost_usd),
        "shares": {m: _r(s) for m, s in p.shares.items()},
    }


def _metrics_view(m: Metrics) -> dict[str, Any]:
    return {
        "apgr": _r(m.apgr),
        "cpt50": _r(m.cpt50),
        "cpt80": _r(m.cpt80),
        "aiq": _r(m.aiq),
        "curve": [_point_view(p) for p in _thin(m.curve)],
    }


def report_view(report: EvaluationReport) -> dict[str, Any]:
    """The JSON document of ``locallama evaluate --json`` (a stable interface).

    Shares and CPT are fractions in [0, 1]; ``cost_usd`` is the total over every replayed
    prompt as a decimal string (``null`` when a cost is unknown).
    """
    ev = report.evaluation
    view = _metrics_view(ev.router)
    view["random"] = _metrics_view(ev.random)
    view["oracle"] = _metrics_view(ev.oracle)
    view.update(
        {
            "weak": ev.weak,
            "strong": ev.strong,
            "models": [
                {
                    "id": s.model_id,
                    "role": "weak"
                    if s.model_id == ev.weak
                    else "strong"
                    if s.model_id == ev.strong
                    else "other",
                    "quality": _r(s.quality),
                    "cost_usd": None if s.cost_usd is None else decimal_str(s.cost_usd),
                    "price": report.prices.get(s.model_id, "recorded"),
                }
                for s in ev.models
            ],
            "prompts": ev.prompts,
            "folds": ev.folds,
            "seed": ev.seed,
            "categories": dict(ev.categories),
            "aiq_models": list(ev.aiq_models),
            "files": list(report.files),
            "notes": list(report.notes),
        }
    )
    return view
