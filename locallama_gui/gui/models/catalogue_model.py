"""The catalogue as a Qt table: one row per model from every source, and its filter proxy.

Display text follows the app's cost rules: free and local models show ``$0`` next to their tier
badge, a router priced ``"-1"`` shows ``variable``, an unknown price shows ``unknown`` and is
never ``$0``. Every column has a raw value in :data:`SORT_ROLE` (numbers sort as numbers and an
unknown value always sorts last) and every row gives its :class:`ModelInfo` in
:data:`MODEL_ROLE`, so a details panel can read it through the proxy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from locallama_gui.core.cost import format_usd, per_million
from locallama_gui.core.models import ModelInfo, Source, Tier
from locallama_gui.core.profiles import Observed

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
MODEL_ROLE = Qt.ItemDataRole.UserRole + 2
TIER_ROLE = Qt.ItemDataRole.UserRole + 3

AnyIndex = QModelIndex | QPersistentModelIndex


class Col(IntEnum):
    NAME = 0
    SOURCE = 1
    TIER = 2
    INPUT = 3
    OUTPUT = 4
    CONTEXT = 5
    MAX_OUTPUT = 6
    MODALITIES = 7
    TOOLS = 8
    QUALITY = 9
    LATENCY = 10
    TOKENS_PER_S = 11
    SUCCESS = 12
    ADDED = 13


HEADERS: dict[Col, tuple[str, str]] = {
    Col.NAME: ("Model", "Display name (the id is in the tooltip and the details)"),
    Col.SOURCE: ("Source", "Where the model is served from"),
    Col.TIER: ("Tier", "Local, Free (OpenRouter free quota), Paid or Variable (router)"),
    Col.INPUT: ("In $/1M", "Price per million input (prompt) tokens"),
    Col.OUTPUT: ("Out $/1M", "Price per million output (completion) tokens"),
    Col.CONTEXT: ("Context", "Context window in tokens"),
    Col.MAX_OUTPUT: ("Max out", "Largest completion in tokens"),
    Col.MODALITIES: ("Modalities", "Input → output modalities"),
    Col.TOOLS: ("Tools", "Supports tool (function) calling"),
    Col.QUALITY: ("Quality", "Quality prior for chat tasks, 0 to 1 (source in the tooltip)"),
    Col.LATENCY: ("Latency", "Observed mean latency (when this app has run the model)"),
    Col.TOKENS_PER_S: ("Tok/s", "Observed output tokens per second"),
    Col.SUCCESS: ("Success", "Observed success rate"),
    Col.ADDED: ("Added", "Date the model was added to its catalogue"),
}

NUMERIC_COLUMNS = frozenset(
    {
        Col.INPUT,
        Col.OUTPUT,
        Col.CONTEXT,
        Col.MAX_OUTPUT,
        Col.QUALITY,
        Col.LATENCY,
        Col.TOKENS_PER_S,
        Col.SUCCESS,
    }
)

SOURCE_LABELS = {
    Source.OPENROUTER: "OpenRouter",
    Source.OLLAMA: "Ollama",
    Source.LMSTUDIO: "LM Studio",
    Source.LLAMACPP: "llama.cpp",
    Source.VLLM: "vLLM",
    Source.OPENAI_COMPAT: "Other server",
}
TIER_LABELS = {
    Tier.LOCAL: "Local",
    Tier.FREE: "Free",
    Tier.PAID: "Paid",
    Tier.VARIABLE: "Variable",
    Tier.UNKNOWN: "Unknown",
}
CAPABILITIES = ("tools", "vision", "json", "reasoning")


# --------------------------------------------------------------------------- display helpers


def price_per_million(model: ModelInfo, key: str) -> tuple[str, Decimal | None, str]:
    """(display text, price per 1M tokens or None when unknown/variable, tooltip)."""
    if model.tier in (Tier.LOCAL, Tier.FREE):
        why = "runs on your machine" if model.tier is Tier.LOCAL else "OpenRouter free model"
        return "$0", Decimal(0), f"$0: {why}"
    if model.tier is Tier.VARIABLE:
        return "variable", None, "Router: the price depends on the model it picks"
    if model.tier is Tier.UNKNOWN:
        return "unknown", None, "Bills through prices that are not listed"
    price = model.pricing.get(key) if model.pricing is not None else None
    if model.pricing is None or not model.pricing.prices:
        return "unknown", None, "No pricing listed"
    if price is None:
        return "—", Decimal(0), "Not billed for this model"
    if price < 0:
        return "variable", None, "Variable price"
    pm = per_million(price)
    text = "$0" if pm == 0 else format_usd(pm, 4)
    return text, pm, f"{format_usd(pm, 6)} per million tokens"


def format_tokens(n: int | None) -> str:
    return "" if n is None else f"{n:,}"


def format_latency(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def modalities_text(model: ModelInfo) -> str:
    return f"{', '.join(model.input_modalities)} → {', '.join(model.output_modalities)}"


def created_date(model: ModelInfo) -> str:
    if model.created is None:
        return ""
    return datetime.fromtimestamp(model.created, UTC).strftime("%Y-%m-%d")


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class CatalogueRow:
    """One model with what the table shows beside it (quality prior, observed figures)."""

    model: ModelInfo
    quality: float | None = None
    quality_source: str | None = None
    observed: Observed | None = None
    quality_low: float | None = None  # the lower bound "good enough" is judged on
    evidence: str | None = None  # observed, benchmark, base benchmark, estimate, nothing


def quality_text(row: CatalogueRow) -> str:
    """``0.62 ±0.04`` (the spread down to the lower bound), ``0.62`` when it has none."""
    if row.quality is None:
        return ""
    if row.quality_low is None or row.quality - row.quality_low < 0.005:
        return f"{row.quality:.2f}"
    return f"{row.quality:.2f} ±{row.quality - row.quality_low:.2f}"


def quality_tip(row: CatalogueRow) -> str | None:
    if row.quality_source is None:
        return None
    lead = f"Rests on: {row.evidence}. " if row.evidence else ""
    low = (
        f" Judged good enough on its lower bound, {row.quality_low:.2f}."
        if row.quality_low is not None
        else ""
    )
    return f"{lead}{row.quality_source}.{low}"


@dataclass(frozen=True, slots=True)
class _Cells:
    text: tuple[str, ...]
    sort: tuple[Any, ...]
    tips: tuple[str | None, ...]
    haystack: str
    price_in: Decimal | None
    price_out: Decimal | None


def _cells(row: CatalogueRow) -> _Cells:
    m = row.model
    in_text, in_pm, in_tip = price_per_million(m, "prompt")
    out_text, out_pm, out_tip = price_per_million(m, "completion")
    obs = row.observed
    latency = obs.latency_ms if obs else None
    tps = obs.tokens_per_s if obs else None
    success = obs.success_rate if obs and obs.count else None
    source = SOURCE_LABELS.get(m.source, m.source.value)
    tier = TIER_LABELS.get(m.tier, m.tier.value)
    text = (
        m.name or m.id,
        source,
        tier,
        in_text,
        out_text,
        format_tokens(m.context_length),
        format_tokens(m.max_output_tokens),
        modalities_text(m),
        "✓" if m.supports_tools else "",
        quality_text(row),
        format_latency(latency),
        "" if tps is None else f"{tps:.1f}",
        "" if success is None else f"{success * 100:.0f}%",
        created_date(m),
    )
    sort = (
        (m.name or m.id).casefold(),
        source.casefold(),
        _TIER_ORDER.get(m.tier, 9),
        None if in_pm is None else float(in_pm),
        None if out_pm is None else float(out_pm),
        m.context_length,
        m.max_output_tokens,
        text[Col.MODALITIES],
        1 if m.supports_tools else 0,
        row.quality,
        latency,
        tps,
        success,
        m.created,
    )
    tips: tuple[str | None, ...] = (
        m.id,
        None,
        None,
        in_tip,
        out_tip,
        None,
        None,
        None,
        None,
        quality_tip(row),
        None if obs is None else f"{obs.count} runs observed",
        None,
        None,
        None,
    )
    haystack = f"{m.id}\n{m.name}\n{source}\n{m.source.value}\n{tier}".casefold()
    return _Cells(text, sort, tips, haystack, in_pm, out_pm)


def prepare_cells(rows: Sequence[CatalogueRow]) -> list[_Cells]:
    """What each row shows and sorts by; run it in a worker for big catalogues."""
    return [_cells(r) for r in rows]


def sorted_order(
    cells: Sequence[_Cells], rows: Sequence[CatalogueRow], column: int, order: Qt.SortOrder
) -> list[int]:
    """Row positions sorted by ``column``'s raw value; unknown values last either way, ties
    by model id."""
    known = [i for i, c in enumerate(cells) if c.sort[column] is not None]
    unknown = [i for i, c in enumerate(cells) if c.sort[column] is None]
    descending = order == Qt.SortOrder.DescendingOrder
    try:
        known.sort(key=lambda i: cells[i].sort[column], reverse=descending)
    except TypeError:  # mixed kinds in one column: compare as text
        known.sort(key=lambda i: str(cells[i].sort[column]), reverse=descending)
    unknown.sort(key=lambda i: rows[i].model.id)
    # ties by id, in the reading direction, whichever way the column runs
    return _ties_by_id(known, cells, rows, column) + unknown


def _ties_by_id(
    ordered: list[int], cells: Sequence[_Cells], rows: Sequence[CatalogueRow], column: int
) -> list[int]:
    out: list[int] = []
    k = 0
    while k < len(ordered):
        j = k + 1
        value = cells[ordered[k]].sort[column]
        while j < len(ordered) and cells[ordered[j]].sort[column] == value:
            j += 1
        group = ordered[k:j]
        if len(group) > 1:
            group.sort(key=lambda i: rows[i].model.id)
        out.extend(group)
        k = j
    return out


_TIER_ORDER = {Tier.LOCAL: 0, Tier.FREE: 1, Tier.PAID: 2, Tier.VARIABLE: 3, Tier.UNKNOWN: 4}


class CatalogueModel(QAbstractTableModel):
    """Every model of the catalogue, one per row."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[CatalogueRow] = []
        self._cells: list[_Cells] = []
        self.sort_spec: tuple[int, Qt.SortOrder] = (int(Col.NAME), Qt.SortOrder.AscendingOrder)

    # --- content ---------------------------------------------------------------------------

    def set_rows(self, rows: Iterable[CatalogueRow], cells: Sequence[_Cells] | None = None) -> None:
        """Show ``rows``; ``cells`` (from :func:`prepare_cells`, built in a worker) spares the
        GUI thread the formatting. The current sort order is kept."""
        rows = list(rows)
        cells = list(cells) if cells is not None else [_cells(r) for r in rows]
        order = sorted_order(cells, rows, *self.sort_spec)
        self.beginResetModel()
        self._rows = [rows[i] for i in order]
        self._cells = [cells[i] for i in order]
        self.endResetModel()

    def sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        """Sort by ``column`` in Python on the raw values (unknown values last either way).

        The rows move with a layout change, so selections and persistent indexes follow.
        """
        self.sort_spec = (column, order)
        new_order = sorted_order(self._cells, self._rows, column, order)
        if new_order == list(range(len(self._rows))):
            return
        self.layoutAboutToBeChanged.emit()
        position = {old: new for new, old in enumerate(new_order)}
        persistent = self.persistentIndexList()
        self._rows = [self._rows[i] for i in new_order]
        self._cells = [self._cells[i] for i in new_order]
        self.changePersistentIndexList(
            persistent,
            [self.index(position[ix.row()], ix.column()) for ix in persistent],
        )
        self.layoutChanged.emit()

    def set_models(
        self,
        models: Sequence[ModelInfo],
        quality: Mapping[str, tuple[float, str]] | None = None,
        observed: Mapping[str, Observed] | None = None,
    ) -> None:
        quality = quality or {}
        observed = observed or {}
        rows = []
        for m in models:
            q = quality.get(m.id)
            rows.append(
                CatalogueRow(
                    model=m,
                    quality=None if q is None else q[0],
                    quality_source=None if q is None else q[1],
                    observed=observed.get(m.id),
                )
            )
        self.set_rows(rows)

    def row_at(self, row: int) -> CatalogueRow:
        return self._rows[row]

    def model_at(self, row: int) -> ModelInfo:
        return self._rows[row].model

    def haystack(self, row: int) -> str:
        return self._cells[row].haystack

    def prices(self, row: int) -> tuple[Decimal | None, Decimal | None]:
        c = self._cells[row]
        return c.price_in, c.price_out

    def row_of(self, model_id: str) -> int | None:
        for i, r in enumerate(self._rows):
            if r.model.id == model_id:
                return i
        return None

    @property
    def models(self) -> tuple[ModelInfo, ...]:
        return tuple(r.model for r in self._rows)

    # --- Qt model API ---------------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Col)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Col):
            return None
        col = Col(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[col][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADERS[col][1]
        if role == Qt.ItemDataRole.TextAlignmentRole and col in NUMERIC_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        if not 0 <= r < len(self._rows):
            return None
        cells = self._cells[r]
        if role == Qt.ItemDataRole.DisplayRole:
            return cells.text[c]
        if role == SORT_ROLE:
            return cells.sort[c]
        if role == MODEL_ROLE:
            return self._rows[r].model
        if role == TIER_ROLE:
            return self._rows[r].model.tier.value
        if role == Qt.ItemDataRole.ToolTipRole:
            return cells.tips[c]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            col = Col(c)
            if col in NUMERIC_COLUMNS:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if col in (Col.TOOLS, Col.TIER):
                return int(Qt.AlignmentFlag.AlignCenter)
        return None


# --------------------------------------------------------------------------- proxy


def search_words(text: str) -> tuple[str, ...]:
    return tuple(text.casefold().split())


class CatalogueFilterProxy(QSortFilterProxyModel):
    """Filters on search words (all, any order), tier, source, min context, max price and
    capabilities, and sorts on :data:`SORT_ROLE` with unknown values always last."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._words: tuple[str, ...] = ()
        self._tiers: frozenset[Tier] | None = None
        self._sources: frozenset[Source] | None = None
        self._min_context: int | None = None
        self._max_price: Decimal | None = None
        self._caps: frozenset[str] = frozenset()

    # --- filter state ----------------------------------------------------------------------

    def _change(self, attr: str, value: Any) -> None:
        if getattr(self, attr) == value:
            return
        self.beginFilterChange()
        setattr(self, attr, value)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_search_text(self, text: str) -> None:
        self._change("_words", search_words(text))

    def set_tiers(self, tiers: Iterable[Tier] | None) -> None:
        self._change("_tiers", None if tiers is None else frozenset(tiers))

    def set_sources(self, sources: Iterable[Source] | None) -> None:
        self._change("_sources", None if sources is None else frozenset(sources))

    def set_min_context(self, tokens: int | None) -> None:
        self._change("_min_context", tokens or None)

    def set_max_price(self, usd_per_million: Decimal | None) -> None:
        """Both the input and the output price per 1M tokens at most this (unknown fails)."""
        self._change("_max_price", usd_per_million)

    def set_capabilities(self, caps: Iterable[str]) -> None:
        self._change("_caps", frozenset(caps))

    def clear_filters(self) -> None:
        self.beginFilterChange()
        self._words = ()
        self._tiers = None
        self._sources = None
        self._min_context = None
        self._max_price = None
        self._caps = frozenset()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    @property
    def is_filtered(self) -> bool:
        return bool(
            self._words
            or self._tiers is not None
            or self._sources is not None
            or self._min_context
            or self._max_price is not None
            or self._caps
        )

    # --- Qt hooks -----------------------------------------------------------------------------

    def _source(self) -> CatalogueModel:
        model = self.sourceModel()
        assert isinstance(model, CatalogueModel)
        return model

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        src = self._source()
        m = src.model_at(source_row)
        if self._tiers is not None and m.tier not in self._tiers:
            return False
        if self._sources is not None and m.source not in self._sources:
            return False
        if self._min_context is not None and (
            m.context_length is None or m.context_length < self._min_context
        ):
            return False
        if self._max_price is not None:
            p_in, p_out = src.prices(source_row)
            if p_in is None or p_out is None:
                return False
            if p_in > self._max_price or p_out > self._max_price:
                return False
        if self._caps and not self._caps <= m.capabilities():
            return False
        if self._words:
            hay = src.haystack(source_row)
            return all(w in hay for w in self._words)
        return True

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting happens in the source model, in Python on cached raw values: a C++ sort
        calling back into Python for every comparison froze the GUI for big catalogues. The
        proxy keeps the source order and only filters."""
        if column < 0:
            return
        self._source().sort_rows(column, order)

    def sortColumn(self) -> int:
        return self._source().sort_spec[0]

    def sortOrder(self) -> Qt.SortOrder:
        return self._source().sort_spec[1]

    def model_at(self, proxy_row: int) -> ModelInfo | None:
        idx = self.index(proxy_row, 0)
        if not idx.isValid():
            return None
        return idx.data(MODEL_ROLE)


__all__ = [
    "CAPABILITIES",
    "HEADERS",
    "MODEL_ROLE",
    "SORT_ROLE",
    "SOURCE_LABELS",
    "TIER_LABELS",
    "TIER_ROLE",
    "CatalogueFilterProxy",
    "CatalogueModel",
    "CatalogueRow",
    "Col",
    "created_date",
    "format_latency",
    "format_tokens",
    "modalities_text",
    "price_per_million",
    "search_words",
]
