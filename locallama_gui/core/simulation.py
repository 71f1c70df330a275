"""Route-simulation: a batch of tasks through a policy over simulated time, quota in force.

A seeded scenario generator makes a mix of categories, complexities and sizes spread over
simulated days; :func:`simulate` routes each task at its moment with the free quota as it
stands then, charges the chosen model, and aggregates: total cost, savings against always
using a named paid model, share per tier, when the free quota ran out, tasks below threshold.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from locallama_gui.core.cost import Pricer, UsageSum
from locallama_gui.core.models import ModelInfo, Tier, decimal_str
from locallama_gui.core.quota import FreeQuota, as_utc
from locallama_gui.core.routing import (
    CAPABILITIES,
    CATEGORIES,
    CatalogueIndex,
    Policy,
    Priority,
    RoutingContext,
    Task,
    choose,
)
from locallama_gui.core.taskfiles import (
    FileFormatError,
    Where,
    json_kind,
    jsonl_lines,
    parse_object,
)

DEFAULT_CATEGORY_MIX: Mapping[str, float] = {
    "chat": 0.28,
    "code": 0.25,
    "reasoning": 0.10,
    "math": 0.05,
    "extraction": 0.10,
    "writing": 0.12,
    "long-context": 0.05,
    "vision": 0.05,
}
#: How often (in tasks) ``generate_tasks`` asks whether it was cancelled.
_GENERATE_CHECK_EVERY = 2048
#: Share of low (0-0.33), medium (0.33-0.66) and high (0.66-1) complexity tasks.
DEFAULT_COMPLEXITY_MIX: tuple[float, float, float] = (0.45, 0.35, 0.20)


class ScenarioError(ValueError):
    """A scenario or an imported task list that cannot be used, with what is wrong."""


@dataclass(frozen=True, slots=True)
class Scenario:
    tasks: int = 1000
    tasks_per_day: int = 200
    seed: int = 0
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC)
    category_mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CATEGORY_MIX))
    complexity_mix: tuple[float, float, float] = DEFAULT_COMPLEXITY_MIX
    prompt_tokens_median: int = 800
    output_tokens_median: int = 400
    priority: Priority = Priority.BALANCED

    def validate(self) -> None:
        if self.tasks < 0:
            raise ScenarioError("tasks must not be negative")
        if self.tasks_per_day < 1:
            raise ScenarioError("tasks per day must be at least 1")
        if not self.category_mix or any(w < 0 for w in self.category_mix.values()):
            raise ScenarioError("the category mix needs at least one non-negative weight")
        if sum(self.category_mix.values()) <= 0:
            raise ScenarioError("the category mix weights add up to zero")
        if len(self.complexity_mix) != 3 or any(w < 0 for w in self.complexity_mix):
            raise ScenarioError("the complexity mix needs three non-negative weights")
        if sum(self.complexity_mix) <= 0:
            raise ScenarioError("the complexity mix weights add up to zero")


@dataclass(frozen=True, slots=True)
class SimTask:
    at: datetime
    task: Task


def generate_tasks(
    scenario: Scenario, cancelled: Callable[[], bool] | None = None
) -> list[SimTask]:
    """Deterministic for a given scenario (seed included). When ``cancelled()`` turns true
    (it is asked every ``_GENERATE_CHECK_EVERY`` tasks) generation stops and the tasks made
    so far are returned: the caller, who asked, knows they are not the whole scenario."""
    scenario.validate()
    rng = random.Random(scenario.seed)
    cats = list(scenario.category_mix)
    cat_w = [scenario.category_mix[c] for c in cats]
    bands = ((0.0, 0.33), (0.33, 0.66), (0.66, 1.0))
    start = as_utc(scenario.start)
    per_day = scenario.tasks_per_day
    out: list[SimTask] = []
    n = scenario.tasks
    day = 0
    while len(out) < n:
        count = min(per_day, n - len(out))
        seconds = sorted(rng.random() * 86400.0 for _ in range(count))
        base = start + timedelta(days=day)
        for s in seconds:
            if cancelled is not None and len(out) % _GENERATE_CHECK_EVERY == 0 and cancelled():
                return out
            cat = rng.choices(cats, cat_w)[0]
            lo, hi = bands[rng.choices((0, 1, 2), scenario.complexity_mix)[0]]
            complexity = round(lo + (hi - lo) * rng.random(), 3)
            median = scenario.prompt_tokens_median * (60 if cat == "long-context" else 1)
            prompt = max(1, int(median * math.exp(rng.gauss(0.0, 0.8))))
            output = max(1, int(scenario.output_tokens_median * math.exp(rng.gauss(0.0, 0.6))))
            caps: frozenset[str] = frozenset({"vision"}) if cat == "vision" else frozenset()
            out.append(
                SimTask(
                    at=base + timedelta(seconds=s),
                    task=Task(
                        prompt_tokens=prompt,
                        output_tokens=output,
                        complexity=complexity,
                        category=cat,
                        capabilities=caps,
                        priority=scenario.priority,
                    ),
                )
            )
        day += 1
    return out


class SimRow(NamedTuple):
    """One simulated task and where it went (a named tuple: a million of them are made in
    one run)."""

    at: datetime
    category: str
    complexity: float
    prompt_tokens: int
    output_tokens: int
    model_id: str | None
    tier: Tier | None
    cost_usd: Decimal | None  # None: unknown price or nothing routable
    below_threshold: bool


@dataclass(frozen=True, slots=True)
class SimulationResult:
    rows: tuple[SimRow, ...]
    total_cost_usd: Decimal
    unknown_cost_tasks: int
    baseline_id: str | None
    baseline_cost_usd: Decimal | None
    savings_usd: Decimal | None
    tier_counts: Mapping[str, int]
    model_counts: Mapping[str, int]
    below_threshold: int
    unroutable: int
    free_day_exhausted_at: tuple[datetime, ...]  # first moment per UTC day the cap was reached
    free_minute_exhaustions: int  # tasks that found the per-minute window full
    cancelled: bool = False

    @property
    def tasks(self) -> int:
        return len(self.rows)

    def tier_share(self) -> dict[str, float]:
        n = len(self.rows) or 1
        return {t: c / n for t, c in self.tier_counts.items()}

    def cumulative_cost(self) -> list[Decimal]:
        total = Decimal(0)
        out = []
        for r in self.rows:
            if r.cost_usd is not None:
                total += r.cost_usd
            out.append(total)
        return out

    def to_dict(self, include_rows: bool = False) -> dict:
        d = {
            "tasks": self.tasks,
            "total_cost_usd": decimal_str(self.total_cost_usd),
            "unknown_cost_tasks": self.unknown_cost_tasks,
            "baseline": self.baseline_id,
            "baseline_cost_usd": None
            if self.baseline_cost_usd is None
            else decimal_str(self.baseline_cost_usd),
            "savings_usd": None if self.savings_usd is None else decimal_str(self.savings_usd),
            "tier_counts": dict(self.tier_counts),
            "tier_share": {k: round(v, 4) for k, v in self.tier_share().items()},
            "top_models": dict(
                sorted(self.model_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
            ),
            "below_threshold": self.below_threshold,
            "unroutable": self.unroutable,
            "free_day_exhausted_at": [t.isoformat() for t in self.free_day_exhausted_at],
            "free_minute_exhaustions": self.free_minute_exhaustions,
            "cancelled": self.cancelled,
        }
        if include_rows:
            d["rows"] = [
                {
                    "at": r.at.isoformat(),
                    "category": r.category,
                    "complexity": r.complexity,
                    "prompt_tokens": r.prompt_tokens,
                    "output_tokens": r.output_tokens,
                    "model": r.model_id,
                    "tier": r.tier.value if r.tier else None,
                    "cost_usd": None if r.cost_usd is None else decimal_str(r.cost_usd),
                    "below_threshold": r.below_threshold,
                }
                for r in self.rows
            ]
        return d


def simulate(
    tasks: Sequence[SimTask],
    policy: Policy,
    index: CatalogueIndex,
    *,
    baseline_id: str | None = None,
    credits_purchased: bool = False,
    quota: FreeQuota | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    progress_every: int = 500,
) -> SimulationResult:
    """Route every task at its moment; the free quota fills as free models are chosen.

    ``progress(done, total)`` is called every ``progress_every`` tasks; when ``cancelled()``
    turns true the run stops and the partial result is returned with ``cancelled=True``.
    """
    step = max(1, progress_every)
    # the quota only moves forward in time: route the tasks in time order (stable for ties)
    timed = sorted(tasks, key=lambda st: as_utc(st.at))
    quota = quota or FreeQuota(credits_purchased=credits_purchased)
    baseline: ModelInfo | None = None
    if baseline_id is not None:
        j = index.by_id.get(baseline_id)
        if j is None:
            raise ScenarioError(f"baseline model {baseline_id!r} is not in the catalogue")
        baseline = index.models[j]
    pricer = Pricer()  # the exact totals, with each model's prices looked up once
    price = pricer.tokens_total
    rows: list[SimRow] = []
    add_row = rows.append
    total = Decimal(0)
    # the baseline on the routed tasks whose cost is known (the savings compare those) and
    # on the rest: summed, then priced once
    base_known = base_unknown = None
    if baseline is not None:
        base_known, base_unknown = UsageSum(pricer, baseline), UsageSum(pricer, baseline)
    unknown = below = unroutable = minute_hits = 0
    tiers: dict[Tier, int] = {}
    model_counts: dict[str, int] = {}
    day_exhausted: list[datetime] = []
    last_exhausted_day = None
    was_cancelled = False
    n = len(timed)
    free = Tier.FREE
    for k, st in enumerate(timed):
        at, task = as_utc(st.at), st.task
        if k % step == 0:
            if cancelled is not None and cancelled():
                was_cancelled = True
                break
            if progress is not None:
                progress(k, n)
        status = quota.status(at)
        if status.minute_exhausted and not status.day_exhausted:
            minute_hits += 1
        # charged to the chosen model: its fallbacks never run in a simulation
        resolved, model, below_threshold = choose(
            task, policy, RoutingContext(index=index, now=at, quota=status)
        )
        n_in, n_out, images = resolved.prompt_tokens, resolved.output_tokens, task.images
        if model is None:
            unroutable += 1
            add_row(
                SimRow(at, task.category, resolved.complexity, n_in, n_out, None, None, None, False)
            )
            continue
        cost = price(model, n_in, n_out, images, at)
        if cost is None:
            unknown += 1
            if base_unknown is not None:
                base_unknown.add(n_in, n_out, images, at)
        else:
            total += cost
            if base_known is not None:
                base_known.add(n_in, n_out, images, at)
        tier = model.tier
        if tier is free:
            quota.record_request(at)
            if last_exhausted_day != at.date() and quota.status(at).day_exhausted:
                last_exhausted_day = at.date()
                day_exhausted.append(at)
        tiers[tier] = tiers.get(tier, 0) + 1
        model_counts[model.id] = model_counts.get(model.id, 0) + 1
        if below_threshold:
            below += 1
        add_row(
            SimRow(
                at,
                task.category,
                resolved.complexity,
                n_in,
                n_out,
                model.id,
                tier,
                cost,
                below_threshold,
            )
        )
    if progress is not None and not was_cancelled:
        progress(n, n)
    base_total = comparable = None
    if base_known is not None and base_unknown is not None:
        comparable, left_out = base_known.total(), base_unknown.total()
        if comparable is not None and left_out is not None:  # else a variable price
            base_total = comparable + left_out
    # like for like: tasks whose routed cost is unknown are left out of the savings
    savings = None if base_total is None else comparable - total  # type: ignore[operator]
    return SimulationResult(
        rows=tuple(rows),
        total_cost_usd=total,
        unknown_cost_tasks=unknown,
        baseline_id=baseline_id,
        baseline_cost_usd=base_total,
        savings_usd=savings,
        tier_counts={t.value: c for t, c in tiers.items()},
        model_counts=model_counts,
        below_threshold=below,
        unroutable=unroutable,
        free_day_exhausted_at=tuple(day_exhausted),
        free_minute_exhaustions=minute_hits,
        cancelled=was_cancelled,
    )


# --- imported task lists ----------------------------------------------------------------------

#: The fields of an imported task (a JSONL object's names, a CSV file's columns).
TASK_FIELDS = (
    "prompt",
    "prompt_tokens",
    "output_tokens",
    "complexity",
    "category",
    "capabilities",
    "priority",
    "images",
    "at",
)
#: How a task line looks, for the hints of the errors.
TASK_LINE_EXAMPLE = '{"prompt": "Summarise this report", "category": "writing"}'


class TaskFileError(ScenarioError, FileFormatError):
    """A task file, or one of its lines, that cannot be used: it names the line."""


def _misspelt(names: Iterable[str]) -> tuple[str, str] | None:
    """The first unknown name that looks like a misspelt task field, and that field."""
    for name in names:
        if name in TASK_FIELDS:
            continue
        close = difflib.get_close_matches(str(name).lower(), TASK_FIELDS, n=1, cutoff=0.75)
        if close:
            return str(name), close[0]
    return None


def _whole(v: object) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip().replace("_", ""))
        except ValueError:
            return None
    return None


def _number(v: object) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def _task_from_record(rec: Mapping[str, object], where: Where, at: datetime) -> SimTask:
    def bad(problem: str, hint: str = "") -> TaskFileError:
        return TaskFileError(where, problem, hint)

    typo = _misspelt(rec)
    if typo is not None:
        raise bad(f"unknown field {typo[0]!r}", f"did you mean {typo[1]!r}?")

    def whole(key: str) -> int | None:
        v = rec.get(key)
        if v in (None, ""):
            return None
        n = _whole(v)
        if n is None:
            raise bad(
                f"{key} must be a whole number of tokens, got {v!r}", f'write it as "{key}": 800'
            )
        if n < 0:
            raise bad(f"{key} must not be negative, got {v!r}")
        return n

    prompt = rec.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise bad(f"prompt must be text, got {json_kind(prompt)}", "put it in double quotes")
    pt = whole("prompt_tokens")
    if prompt in (None, "") and pt is None:
        raise bad(
            "needs a prompt or prompt_tokens",
            'give the task\'s text as "prompt": "..." or its size as "prompt_tokens": 800',
        )
    ot = whole("output_tokens")
    images = whole("images") or 0
    cx: float | None = None
    if rec.get("complexity") not in (None, ""):
        cx = _number(rec["complexity"])
        if cx is None:
            raise bad(
                f"complexity must be a number from 0 to 1, got {rec['complexity']!r}",
                "0 is trivial, 1 the hardest; leave it out to estimate it from the prompt",
            )
        if not 0.0 <= cx <= 1.0:
            raise bad(
                f"complexity must be between 0 and 1, got {rec['complexity']!r}",
                "0 is trivial, 1 the hardest",
            )
    cat = rec.get("category") or "chat"
    if not isinstance(cat, str):
        raise bad(f"category must be text, got {json_kind(cat)}", f"use one of {_CATEGORY_LIST}")
    if cat not in CATEGORIES:
        raise bad(f"unknown category {cat!r}", f"use one of {_CATEGORY_LIST}")
    caps_raw = rec.get("capabilities") or ()
    if isinstance(caps_raw, str):
        caps_raw = [c.strip() for c in caps_raw.split(";") if c.strip()]
    elif not isinstance(caps_raw, list | tuple) or not all(isinstance(c, str) for c in caps_raw):
        raise bad(
            "capabilities must be a list of names",
            f'such as "capabilities": ["tools", "json"] (from {", ".join(CAPABILITIES)})',
        )
    unknown = sorted(set(caps_raw) - set(CAPABILITIES))
    if unknown:
        raise bad(f"unknown capability {unknown[0]!r}", f"use {', '.join(CAPABILITIES)}")
    pr = rec.get("priority") or Priority.BALANCED.value
    if pr not in {p.value for p in Priority}:
        raise bad(f"priority must be one of {', '.join(p.value for p in Priority)}, got {pr!r}")
    when = at
    if rec.get("at"):
        try:
            when = as_utc(datetime.fromisoformat(str(rec["at"])))
        except ValueError:
            raise bad(
                f"at must be an ISO date-time, got {rec['at']!r}",
                "such as 2026-02-01T10:00:00+01:00",
            ) from None
    try:
        task = Task(
            prompt=prompt or None,  # type: ignore[arg-type]
            prompt_tokens=pt,
            output_tokens=ot if ot is not None else 512,
            complexity=cx,
            category=cat,
            capabilities=frozenset(caps_raw),
            priority=Priority(pr),
            images=images,
        )
    except ValueError as e:
        raise bad(str(e)) from None
    return SimTask(when, task)


_CATEGORY_LIST = ", ".join(CATEGORIES)


def _spread(n: int, start: datetime, tasks_per_day: int) -> Iterable[datetime]:
    step = 86400.0 / max(1, tasks_per_day)
    for k in range(n):
        yield start + timedelta(seconds=k * step)


def tasks_from_jsonl(
    text: str, start: datetime, tasks_per_day: int = 200, *, source: str = ""
) -> list[SimTask]:
    """One JSON object a line: ``prompt`` or ``prompt_tokens``, optional ``output_tokens``,
    ``complexity``, ``category``, ``capabilities`` (list), ``priority``, ``at`` (ISO).

    Blank lines and ``#`` comments are skipped. A line that cannot be used raises
    :class:`TaskFileError` naming it (``source`` is the file's name)."""
    records = []
    for lineno, line in jsonl_lines(text):
        where = Where(source, lineno)
        records.append((where, parse_object(line, where, TASK_LINE_EXAMPLE, TaskFileError)))
    if not records:
        raise TaskFileError(
            Where(source),
            "no tasks",
            f"write one JSON object per line, such as {TASK_LINE_EXAMPLE}",
        )
    times = _spread(len(records), as_utc(start), tasks_per_day)
    return [
        _task_from_record(rec, where, t) for (where, rec), t in zip(records, times, strict=True)
    ]


def tasks_from_csv(
    text: str, start: datetime, tasks_per_day: int = 200, *, source: str = ""
) -> list[SimTask]:
    """A header row naming any of the JSONL fields; ``capabilities`` separated by ``;``."""
    try:
        reader = csv.DictReader(io.StringIO(text))
        fields = reader.fieldnames
        rows = list(reader)
    except csv.Error as e:
        raise TaskFileError(Where(source), f"not a readable CSV file ({e})") from None
    header = Where(source, 1, "row")
    if not fields:
        raise TaskFileError(
            Where(source), "the CSV file has no header row", "start with prompt,category,..."
        )
    names = [f.strip() for f in fields if f]
    typo = _misspelt(names)
    if typo is not None:
        raise TaskFileError(header, f"unknown column {typo[0]!r}", f"did you mean {typo[1]!r}?")
    if not ({"prompt", "prompt_tokens"} & set(names)):
        raise TaskFileError(
            header,
            "the CSV file needs a prompt or prompt_tokens column",
            f"name the columns in the first row, from {', '.join(TASK_FIELDS)}",
        )
    records = [
        ({key.strip(): v for key, v in r.items() if key is not None}, k + 2)
        for k, r in enumerate(rows)
    ]
    if not records:
        raise TaskFileError(Where(source), "no tasks", "add one task a row below the header")
    times = _spread(len(records), as_utc(start), tasks_per_day)
    return [
        _task_from_record(r, Where(source, n, "row"), t)
        for (r, n), t in zip(records, times, strict=True)
    ]


def tasks_from_history(records: Iterable[tuple[datetime, object]]) -> tuple[list[SimTask], int]:
    """The recorded tasks (the route history's ``task`` objects: a decision's ``task`` in its
    JSON form) at the moments they were routed, oldest first, and how many records could not
    be read back (an older or damaged entry is skipped, never fatal). Each is read as a task
    file's line is, from the fields a task file has."""
    out: list[SimTask] = []
    skipped = 0
    where = Where("the route history")
    for ts, rec in records:
        if not isinstance(rec, Mapping):
            skipped += 1
            continue
        fields = {k: rec[k] for k in TASK_FIELDS if k in rec and k != "at"}
        try:
            out.append(_task_from_record(fields, where, as_utc(ts)))
        except TaskFileError:
            skipped += 1
    out.sort(key=lambda st: st.at)
    return out, skipped


__all__ = [
    "CATEGORIES",
    "DEFAULT_CATEGORY_MIX",
    "TASK_FIELDS",
    "Scenario",
    "ScenarioError",
    "SimRow",
    "SimTask",
    "SimulationResult",
    "TaskFileError",
    "generate_tasks",
    "simulate",
    "tasks_from_csv",
    "tasks_from_history",
    "tasks_from_jsonl",
]
