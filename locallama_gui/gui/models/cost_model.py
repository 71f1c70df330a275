"""The cost comparison table: rows priced by the services, shown through a sortable model.

:func:`compute_cost_rows` runs in a worker (it calls ``Services.estimate`` and
``core.cost.project``); :class:`CostTableModel` only displays what it got. Every table model of
the cost and playground panes shares :class:`RecordTableModel`: raw values in ``SORT_ROLE``
(floats, ints or text, so the proxy sorts numbers as numbers in C++), the backing record in
``ROW_ROLE`` so a view can read it through the proxy.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from locallama_gui.core.cost import format_usd, free_tier_limits, project
from locallama_gui.core.models import ModelInfo, Tier, Usage, decimal_str

SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 1
ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 2
#: Unknown amounts sort after every known one.
UNKNOWN_SORT = float("inf")
DAYS_PER_MONTH = 30
#: The roles :class:`RecordTableModel` answers; a view asks for a dozen per cell (font,
#: colours, check state...), so the rest return at once.
_ANSWERED_ROLES = frozenset(
    {
        int(Qt.ItemDataRole.DisplayRole),
        int(Qt.ItemDataRole.TextAlignmentRole),
        int(Qt.ItemDataRole.ToolTipRole),
        SORT_ROLE,
        ROW_ROLE,
    }
)

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    display: Callable[[Any], str]
    sort: Callable[[Any], float | int | str] | None = None  # raw value; display text if None
    align_right: bool = False
    tooltip: Callable[[Any], str] | None = None
    header_tip: str = ""


def money_sort(amount: Decimal | None) -> float:
    """A sort key for an amount (display and sums stay in Decimal)."""
    return UNKNOWN_SORT if amount is None else float(amount)


def _sort_value(col: Column, rec: Any) -> float | int | str:
    """What a record sorts on in a column: its raw value, else its text, case folded."""
    return col.sort(rec) if col.sort is not None else col.display(rec).casefold()


class RecordTableModel(QAbstractTableModel):
    """A read-only table over a list of records, one :class:`Column` per column."""

    def __init__(self, columns: Sequence[Column], parent: Any = None) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._rows: list[Any] = []
        self._given: list[Any] = []  # the rows in the order they were set
        self._sorting: tuple[int, Qt.SortOrder] | None = None  # see sort()

    @property
    def columns(self) -> list[Column]:
        return list(self._columns)

    def set_rows(self, rows: Iterable[Any]) -> None:
        self.beginResetModel()
        self._given = list(rows)
        self._rows = self._ordered(self._given)
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order the rows by a column's sort value in Python: one key per row and a list sort,
        where a proxy's own sort calls back into Python twice per comparison (100,000 rows: a
        fraction of a second against several). Stable, as the proxy's: ties keep the order
        shown before, and rows set later come in the order set, ties kept. A column out of
        range gives that order back. Only :func:`make_sort_proxy` with ``sort_in_model`` asks
        for it."""
        self._sorting = (column, order) if 0 <= column < len(self._columns) else None
        self.layoutAboutToBeChanged.emit()
        held = self.persistentIndexList()
        records = [(self._rows[i.row()], i.column()) for i in held]
        self._rows = self._ordered(self._rows if self._sorting else self._given)
        if held:
            at = {id(r): k for k, r in enumerate(self._rows)}
            self.changePersistentIndexList(held, [self.index(at[id(r)], c) for r, c in records])
        self.layoutChanged.emit()

    def _ordered(self, rows: list[Any]) -> list[Any]:
        if self._sorting is None:
            return list(rows)
        column, order = self._sorting
        col = self._columns[column]
        key = col.sort if col.sort is not None else (lambda r: _sort_value(col, r))
        descending = order == Qt.SortOrder.DescendingOrder
        try:
            return sorted(rows, key=key, reverse=descending)
        except TypeError:  # values of kinds that do not compare: as their text
            return sorted(rows, key=lambda r: str(key(r)), reverse=descending)

    def rows(self) -> list[Any]:
        return list(self._rows)

    def row_at(self, row: int) -> Any:
        return self._rows[row]

    def column_index(self, header: str) -> int:
        for k, c in enumerate(self._columns):
            if c.header == header:
                return k
        raise KeyError(header)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        col = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.header
        if role == Qt.ItemDataRole.ToolTipRole and col.header_tip:
            return col.header_tip
        if role == Qt.ItemDataRole.TextAlignmentRole and col.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ANSWERED_ROLES or not index.isValid() or index.row() >= len(self._rows):
            return None
        rec = self._rows[index.row()]
        col = self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.display(rec)
        if role == SORT_ROLE:
            return _sort_value(col, rec)
        if role == ROW_ROLE:
            return rec
        if role == Qt.ItemDataRole.TextAlignmentRole and col.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and col.tooltip is not None:
            return col.tooltip(rec) or None
        return None

    def as_text_rows(self) -> list[list[str]]:
        """Header and every row as displayed (for CSV and clipboard exports)."""
        out = [[c.header for c in self._columns]]
        out += [[c.display(r) for c in self._columns] for r in self._rows]
        return out


class _ModelSortsProxy(QSortFilterProxyModel):
    """A proxy whose sorting is its source model's (:meth:`RecordTableModel.sort`): it shows
    the rows in the source's order."""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)


def make_sort_proxy(
    model: QAbstractTableModel, parent: Any = None, *, sort_in_model: bool = False
) -> QSortFilterProxyModel:
    """A proxy sorting on ``SORT_ROLE``. ``sort_in_model``: the model sorts itself in Python
    (:meth:`RecordTableModel.sort`), for big tables whose rows are only ever set whole; rows
    inserted or changed in place would not move to their sorted places."""
    proxy = _ModelSortsProxy(parent) if sort_in_model else QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    return proxy


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned plain text (first row is the header)."""
    if not rows:
        return ""
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


# --- the cost comparison ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CostRow:
    model_id: str
    name: str
    tier: Tier
    per_request: Decimal | None  # None: unknown (variable price)
    per_day: Decimal | None
    per_month: Decimal | None
    limits: str  # "free: 20/min, 50/day", "local: no limit", "per token", "unknown: ..."
    unknown_reason: str | None = None
    savings_month: Decimal | None = None  # against the baseline; None: no baseline or unknown
    is_baseline: bool = False
    limits_detail: str = ""

    @property
    def known(self) -> bool:
        return self.per_request is not None


@dataclass(frozen=True, slots=True)
class CostInputs:
    prompt_tokens: int
    output_tokens: int
    requests_per_day: int
    days: int = DAYS_PER_MONTH
    images: int = 0  # per request, billed per image where a model prices them


def limits_label(
    model: ModelInfo, requests_per_day: int, credits_purchased: bool | None
) -> tuple[str, str]:
    """(short label, longer explanation) for the limits column."""
    if model.tier is Tier.LOCAL:
        return "local: no limit", "Runs on this machine: no cost and no quota."
    if model.tier is Tier.FREE:
        lim = free_tier_limits(credits_purchased)
        label = f"free: {lim.per_minute}/min, {lim.per_day}/day"
        detail = (
            f"OpenRouter free models: {lim.per_minute} requests a minute and {lim.per_day} a "
            f"UTC day, account-wide ({lim.per_day_with_credits}/day once 10 credits were "
            "bought)."
        )
        if requests_per_day > lim.per_day:
            label += " · over cap"
            detail += (
                f" {requests_per_day:,} requests a day is over the daily cap: the rest "
                "would need another model."
            )
        return label, detail
    if model.tier is Tier.VARIABLE:
        return "variable price", "A router: the price depends on the model it picks."
    if model.tier is Tier.UNKNOWN:
        return "price not listed", "Bills through prices the catalogue does not list."
    return "per token", "Billed per token at the listed prices."


def compute_cost_rows(
    services: Any,
    model_ids: Sequence[str],
    inputs: CostInputs,
    baseline_id: str | None = None,
    at: datetime | None = None,
) -> list[CostRow]:
    """Price ``inputs`` on every model (blocking: call it through the task runner)."""
    usage = Usage(
        prompt_tokens=inputs.prompt_tokens,
        completion_tokens=inputs.output_tokens,
        images=inputs.images,
    )
    credits = services.settings.routing.credits_purchased
    priced: list[tuple[ModelInfo, Any, Any]] = []
    for mid in model_ids:
        try:
            model = services.find_model(mid)
        except LookupError:
            continue
        est = services.estimate(mid, usage, at)
        proj = project(est.total_usd, inputs.requests_per_day, inputs.days)
        priced.append((model, est, proj))
    base_month: Decimal | None = None
    has_base = False
    for model, _, proj in priced:
        if model.id == baseline_id:
            has_base = True
            base_month = proj.per_month
    rows = []
    for model, est, proj in priced:
        label, detail = limits_label(model, inputs.requests_per_day, credits)
        savings = None
        if has_base and base_month is not None and proj.per_month is not None:
            savings = base_month - proj.per_month
        rows.append(
            CostRow(
                model_id=model.id,
                name=model.name,
                tier=model.tier,
                per_request=proj.per_request,
                per_day=proj.per_day,
                per_month=proj.per_month,
                limits=label,
                limits_detail=detail,
                unknown_reason=est.unknown_reason,
                savings_month=savings,
                is_baseline=model.id == baseline_id,
            )
        )
    return rows


#: From this amount up the table shows cents only (the digits beyond are noise there).
CENTS_FROM_USD = Decimal(1)


def money_text(amount: Decimal | None) -> str:
    """An amount as the cost table shows it: to the cent from $1 up, finer below (a
    request can cost a fraction of a cent)."""
    if amount is not None and abs(amount) >= CENTS_FROM_USD:
        return format_usd(amount, 2)
    return format_usd(amount)


def _savings_text(r: CostRow) -> str:
    if r.is_baseline:
        return "baseline"
    if r.savings_month is None:
        return "" if r.per_month is not None else "unknown"
    if r.savings_month < 0:
        return f"costs {money_text(-r.savings_month)} more"
    return f"saves {money_text(r.savings_month)}"


def _unknown_tip(r: CostRow) -> str:
    return r.unknown_reason or ""


COST_COLUMNS: tuple[Column, ...] = (
    Column("Model", lambda r: r.model_id, tooltip=lambda r: r.name),
    Column("Tier", lambda r: r.tier.value),
    Column(
        "Per request",
        lambda r: money_text(r.per_request),
        lambda r: money_sort(r.per_request),
        True,
        _unknown_tip,
    ),
    Column(
        "Per day",
        lambda r: money_text(r.per_day),
        lambda r: money_sort(r.per_day),
        True,
        _unknown_tip,
    ),
    Column(
        "Per month",
        lambda r: money_text(r.per_month),
        lambda r: money_sort(r.per_month),
        True,
        _unknown_tip,
        "30 days at the requests per day given",
    ),
    Column(
        "Vs baseline / month",
        _savings_text,
        lambda r: (
            -UNKNOWN_SORT
            if r.is_baseline
            else (money_sort(-r.savings_month) if r.savings_month is not None else UNKNOWN_SORT)
        ),
        True,
    ),
    # last: the figures and the savings come first in a narrow window (the tip says it all)
    Column("Limits", lambda r: r.limits, tooltip=lambda r: r.limits_detail),
)


class CostTableModel(RecordTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(COST_COLUMNS, parent)


def cost_rows_csv(rows: Sequence[CostRow], inputs: CostInputs, baseline_id: str | None) -> str:
    """Machine-readable CSV: exact decimal strings, empty for unknown (never 0)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "model",
            "name",
            "tier",
            "limits",
            "prompt_tokens",
            "output_tokens",
            "requests_per_day",
            "cost_per_request_usd",
            "cost_per_day_usd",
            f"cost_per_month_usd ({inputs.days} days)",
            "savings_per_month_vs_baseline_usd",
            "baseline",
            "note",
        ]
    )

    def dec(v: Decimal | None) -> str:
        return "" if v is None else decimal_str(v)

    for r in rows:
        w.writerow(
            [
                r.model_id,
                r.name,
                r.tier.value,
                r.limits,
                inputs.prompt_tokens,
                inputs.output_tokens,
                inputs.requests_per_day,
                dec(r.per_request),
                dec(r.per_day),
                dec(r.per_month),
                dec(r.savings_month),
                baseline_id or "",
                r.unknown_reason or "",
            ]
        )
    return buf.getvalue()


__all__ = [
    "COST_COLUMNS",
    "DAYS_PER_MONTH",
    "ROW_ROLE",
    "SORT_ROLE",
    "Column",
    "CostInputs",
    "CostRow",
    "CostTableModel",
    "RecordTableModel",
    "compute_cost_rows",
    "cost_rows_csv",
    "limits_label",
    "make_sort_proxy",
    "money_sort",
    "money_text",
    "text_table",
]
