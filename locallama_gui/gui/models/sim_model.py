"""Table models of the route playground: a decision's candidates and rejections, a batch
simulation's per-task rows, and the totals of one or two policies side by side.

All of them are :class:`~locallama_gui.gui.models.cost_model.RecordTableModel` s: raw values in
``SORT_ROLE`` for the sort proxy, the record in ``ROW_ROLE``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from locallama_gui.core.cost import format_usd
from locallama_gui.core.models import decimal_str
from locallama_gui.core.routing import Candidate, Rejection
from locallama_gui.core.simulation import SimRow, SimulationResult
from locallama_gui.gui.models.cost_model import (
    UNKNOWN_SORT,
    Column,
    RecordTableModel,
    money_sort,
)

#: The factors routing scores by, in display order (``local`` only for local models), with
#: their short column headers.
FACTORS = ("quality", "cost", "latency", "reliability", "local")
FACTOR_HEADERS = {
    "quality": "+qual",
    "cost": "+cost",
    "latency": "+speed",
    "reliability": "+rel",
    "local": "+local",
}

# --- a decision ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CandidateRow:
    rank: int
    candidate: Candidate
    in_chain: int | None  # position in the chain (0 = chosen), None when not in it


def _factor_column(name: str) -> Column:
    def value(r: CandidateRow) -> float:
        return float(r.candidate.factors.get(name, 0.0))

    return Column(
        FACTOR_HEADERS[name],
        lambda r: f"{value(r):+.3f}" if name in r.candidate.factors else "",
        value,
        True,
        header_tip=f"The {name} factor's contribution to the score",
    )


def _quality_cell(c: Candidate) -> str:
    """``0.62 ±0.04``: the prediction and how far down its lower bound lies."""
    spread = c.uncertainty
    return f"{c.quality:.2f} ±{spread:.2f}" if spread >= 0.005 else f"{c.quality:.2f}"


def _chain_text(r: CandidateRow) -> str:
    if r.in_chain is not None:
        return "chosen" if r.in_chain == 0 else f"fallback {r.in_chain}"
    return "" if r.candidate.eligible else "below bar"


def _chain_sort(r: CandidateRow) -> int:
    if r.in_chain is not None:
        return r.in_chain
    return 1_000_000 if r.candidate.eligible else 2_000_000


CANDIDATE_COLUMNS: tuple[Column, ...] = (
    Column("#", lambda r: str(r.rank), lambda r: r.rank, True),
    Column("Model", lambda r: r.candidate.id, tooltip=lambda r: r.candidate.model.name),
    Column("Tier", lambda r: r.candidate.tier.value),
    Column(
        "Chain",
        _chain_text,
        _chain_sort,
        header_tip="Chosen, a fallback, or below the required quality",
    ),
    Column(
        "Score",
        lambda r: f"{r.candidate.score:.3f}",
        lambda r: float(r.candidate.score),
        True,
    ),
    Column(
        "Quality",
        lambda r: _quality_cell(r.candidate),
        lambda r: float(r.candidate.quality),
        True,
        tooltip=lambda r: (
            f"Rests on: {r.candidate.evidence or r.candidate.prior.evidence}. Lower bound "
            f"{r.candidate.quality_low:.2f} (what 'good enough' is judged on). Prior "
            f"{r.candidate.prior.quality:.2f}: {r.candidate.prior.source}"
        ),
        header_tip="Predicted quality for this category (prior blended with observations), "
        "± down to its lower confidence bound",
    ),
    *(_factor_column(f) for f in FACTORS),
    Column(
        "Est. cost",
        lambda r: format_usd(r.candidate.cost_usd),
        lambda r: money_sort(r.candidate.cost_usd),
        True,
    ),
    Column(
        "Latency",
        lambda r: f"{r.candidate.latency_s:.1f} s",
        lambda r: float(r.candidate.latency_s),
        True,
        header_tip="Expected time to the full answer",
    ),
)


class CandidateTableModel(RecordTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(CANDIDATE_COLUMNS, parent)

    def set_candidates(self, candidates: Sequence[Candidate], chain_ids: Sequence[str]) -> None:
        pos = {mid: k for k, mid in enumerate(chain_ids)}
        self.set_rows(CandidateRow(k + 1, c, pos.get(c.id)) for k, c in enumerate(candidates))


REJECTED_COLUMNS: tuple[Column, ...] = (
    Column("Model", lambda r: r.model_id),
    Column("Reason", lambda r: r.reason.value),
    Column("Why", lambda r: r.text, tooltip=lambda r: r.text),
)


class RejectedTableModel(RecordTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(REJECTED_COLUMNS, parent)

    def set_rejections(self, rejected: Sequence[Rejection]) -> None:
        self.set_rows(rejected)


# --- a batch simulation ---------------------------------------------------------------------


class NumberedRow(NamedTuple):
    """A simulated task's row with its place in the run (a named tuple: one per task)."""

    n: int
    row: SimRow


SIM_COLUMNS: tuple[Column, ...] = (
    Column("#", lambda r: str(r.n), lambda r: r.n, True),
    Column(
        "Time (UTC)",
        lambda r: r.row.at.strftime("%Y-%m-%d %H:%M:%S"),
        lambda r: r.row.at.timestamp(),
    ),
    Column("Category", lambda r: r.row.category),
    Column(
        "Complexity",
        lambda r: f"{r.row.complexity:.2f}",
        lambda r: float(r.row.complexity),
        True,
    ),
    Column(
        "Prompt tok.", lambda r: f"{r.row.prompt_tokens:,}", lambda r: r.row.prompt_tokens, True
    ),
    Column(
        "Output tok.", lambda r: f"{r.row.output_tokens:,}", lambda r: r.row.output_tokens, True
    ),
    Column("Model", lambda r: r.row.model_id or "nothing routable"),
    Column("Tier", lambda r: r.row.tier.value if r.row.tier else ""),
    Column(
        "Cost",
        lambda r: format_usd(r.row.cost_usd) if r.row.model_id else "",
        lambda r: money_sort(r.row.cost_usd) if r.row.model_id else UNKNOWN_SORT,
        True,
    ),
    Column(
        "Below bar",
        lambda r: "yes" if r.row.below_threshold else "",
        lambda r: 1 if r.row.below_threshold else 0,
    ),
)


class SimRowsModel(RecordTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(SIM_COLUMNS, parent)

    def set_result(self, result: SimulationResult | None) -> None:
        rows = () if result is None else result.rows
        self.set_rows(NumberedRow(k + 1, r) for k, r in enumerate(rows))


def _share(result: SimulationResult, tier: str) -> str:
    n = result.tasks
    c = result.tier_counts.get(tier, 0)
    return f"{c / n:.0%} ({c:,})" if n else "—"


def _exhausted(result: SimulationResult) -> str:
    times = result.free_day_exhausted_at
    if not times:
        return "never"
    first = times[0].strftime("%m-%d %H:%M")
    if len(times) == 1:
        return first
    return f"{first}, +{len(times) - 1} day{'s' if len(times) > 2 else ''}"


def _savings(result: SimulationResult) -> str:
    if result.baseline_id is None:
        return "no baseline"
    if result.savings_usd is None:
        return "unknown (baseline price unknown)"
    return format_usd(result.savings_usd, 4)


#: (metric label, text from a result)
METRICS: tuple[tuple[str, Callable[[SimulationResult], str]], ...] = (
    ("Tasks", lambda r: f"{r.tasks:,}" + (" (cancelled)" if r.cancelled else "")),
    ("Total cost", lambda r: format_usd(r.total_cost_usd, 4)),
    (
        "Always-paid baseline",
        lambda r: "—" if r.baseline_id is None else format_usd(r.baseline_cost_usd, 4),
    ),
    ("Savings", _savings),
    ("Local", lambda r: _share(r, "local")),
    ("Free", lambda r: _share(r, "free")),
    ("Paid", lambda r: _share(r, "paid")),
    ("Variable price", lambda r: _share(r, "variable")),
    ("Free daily quota out (UTC)", _exhausted),
    ("Free per-minute limit hit", lambda r: f"{r.free_minute_exhaustions:,} tasks"),
    ("Below quality bar", lambda r: f"{r.below_threshold:,} tasks"),
    ("Unknown cost", lambda r: f"{r.unknown_cost_tasks:,} tasks"),
    ("Nothing routable", lambda r: f"{r.unroutable:,} tasks"),
)


@dataclass(frozen=True, slots=True)
class MetricRow:
    label: str
    values: tuple[str, ...]


class TotalsModel(RecordTableModel):
    """One row per metric, one column per policy (two when compared side by side)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__((Column("Metric", lambda r: r.label),), parent)

    def set_results(self, named: Sequence[tuple[str, SimulationResult]]) -> None:
        self.beginResetModel()
        cols = [Column("Metric", lambda r: r.label, lambda r: 0)]
        for k, (name, _) in enumerate(named):
            cols.append(Column(name, lambda r, k=k: r.values[k], lambda r: 0, True))
        self._columns = cols
        self._rows = [MetricRow(label, tuple(fn(res) for _, res in named)) for label, fn in METRICS]
        self.endResetModel()

    def value(self, metric: str, column: int) -> str:
        for r in self._rows:
            if r.label == metric:
                return r.values[column]
        raise KeyError(metric)


def sim_rows_csv(named: Sequence[tuple[str, SimulationResult]]) -> str:
    """Every task of every policy: exact decimal costs, empty when unknown."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "policy",
            "n",
            "at",
            "category",
            "complexity",
            "prompt_tokens",
            "output_tokens",
            "model",
            "tier",
            "cost_usd",
            "below_threshold",
        ]
    )
    for name, res in named:
        for k, r in enumerate(res.rows, 1):
            w.writerow(
                [
                    name,
                    k,
                    r.at.isoformat(),
                    r.category,
                    r.complexity,
                    r.prompt_tokens,
                    r.output_tokens,
                    r.model_id or "",
                    r.tier.value if r.tier else "",
                    "" if r.cost_usd is None else decimal_str(r.cost_usd),
                    "true" if r.below_threshold else "false",
                ]
            )
    return buf.getvalue()


def cumulative_floats(values: Sequence[Decimal]) -> list[float]:
    return [float(v) for v in values]


__all__ = [
    "CANDIDATE_COLUMNS",
    "FACTORS",
    "FACTOR_HEADERS",
    "METRICS",
    "SIM_COLUMNS",
    "CandidateRow",
    "CandidateTableModel",
    "MetricRow",
    "NumberedRow",
    "RejectedTableModel",
    "SimRowsModel",
    "TotalsModel",
    "cumulative_floats",
    "sim_rows_csv",
]
