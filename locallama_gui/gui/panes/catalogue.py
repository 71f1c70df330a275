"""The Catalogue pane: every model from every source in one filterable, sortable table.

The table is a :class:`CatalogueModel` behind a :class:`CatalogueFilterProxy`; the details
panel reads the selected :class:`ModelInfo` through the proxy. Building the rows (routing index,
quality priors, observed profiles) runs in a worker; nothing here blocks the GUI thread.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC
from decimal import Decimal
from typing import Any

from PySide6.QtCore import (
    QByteArray,
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QGuiApplication, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from locallama_gui.core.catalogue import CatalogueDiff
from locallama_gui.core.cost import format_usd, per_million
from locallama_gui.core.models import (
    TOKEN_PRICE_KEYS,
    UNIT_PRICE_KEYS,
    FreeLimits,
    ModelInfo,
    PriceOverride,
    Source,
    Tier,
)
from locallama_gui.core.profiles import ALL, ModelProfile, Observed
from locallama_gui.gui import theme
from locallama_gui.gui.models.catalogue_model import (
    CAPABILITIES,
    MODEL_ROLE,
    SOURCE_LABELS,
    TIER_ROLE,
    CatalogueFilterProxy,
    CatalogueModel,
    CatalogueRow,
    Col,
    created_date,
    format_latency,
    format_tokens,
    prepare_cells,
)
from locallama_gui.gui.widgets.states import Banner, EmptyState, ErrorState, LoadingState

log = logging.getLogger(__name__)

SEARCH_DEBOUNCE_MS = 250
QUALITY_CATEGORY = "chat"

MIN_CONTEXT_CHOICES: tuple[tuple[str, int | None], ...] = (
    ("Any context", None),
    ("≥ 8K tokens", 8_000),
    ("≥ 32K tokens", 32_000),
    ("≥ 128K tokens", 128_000),
    ("≥ 200K tokens", 200_000),
    ("≥ 1M tokens", 1_000_000),
)
MAX_PRICE_CHOICES: tuple[tuple[str, Decimal | None], ...] = (
    ("Any price", None),
    ("$0 only", Decimal(0)),
    ("≤ $0.50 / 1M", Decimal("0.5")),
    ("≤ $1 / 1M", Decimal(1)),
    ("≤ $3 / 1M", Decimal(3)),
    ("≤ $10 / 1M", Decimal(10)),
)
TIER_CHOICES: tuple[tuple[str, frozenset[Tier] | None], ...] = (
    ("All tiers", None),
    ("$0: local + free", frozenset({Tier.LOCAL, Tier.FREE})),
    ("Local", frozenset({Tier.LOCAL})),
    ("Free", frozenset({Tier.FREE})),
    ("Paid", frozenset({Tier.PAID})),
    ("Variable", frozenset({Tier.VARIABLE})),
)
CAPABILITY_LABELS = {
    "tools": ("Tools", "Supports tool (function) calling"),
    "vision": ("Vision", "Accepts image input"),
    "json": ("JSON", "Structured output / response_format"),
    "reasoning": ("Reasoning", "Reasoning (thinking) model"),
}
DEFAULT_WIDTHS = {
    Col.NAME: 230,
    Col.SOURCE: 88,
    Col.TIER: 74,
    Col.INPUT: 74,
    Col.OUTPUT: 74,
    Col.CONTEXT: 80,
    Col.MAX_OUTPUT: 74,
    Col.MODALITIES: 130,
    Col.TOOLS: 48,
    Col.QUALITY: 60,
    Col.LATENCY: 66,
    Col.TOKENS_PER_S: 56,
    Col.SUCCESS: 62,
    Col.ADDED: 84,
}


# --------------------------------------------------------------------------- prepared rows


def prepare_rows(services: Any) -> tuple[list[CatalogueRow], list[Any]]:
    """Rows for the table (models with their quality prior and observed figures) and what
    each shows.

    Runs in a worker: building the routing index may read performance samples from the store,
    and formatting thousands of rows takes a while.
    """
    index = services.index
    qualities, priors = index.quality(QUALITY_CATEGORY)
    lows = index.quality_low(QUALITY_CATEGORY)
    evidence = index.evidence(QUALITY_CATEGORY)
    profiles = index.profiles
    rows = []
    for i, m in enumerate(index.models):
        prof = profiles.get(m.id)
        rows.append(
            CatalogueRow(
                model=m,
                quality=qualities[i],
                quality_source=priors[i].source,
                observed=prof.overall if prof is not None else None,
                quality_low=lows[i],
                evidence=evidence[i],
            )
        )
    return rows, prepare_cells(rows)


# --------------------------------------------------------------------------- refresh results


def diff_summary(diff: CatalogueDiff, models: Mapping[str, ModelInfo] | None = None) -> str:
    """One sentence naming what a refresh changed (new free models first)."""
    models = models or {}
    if diff.is_empty:
        return "Catalogue refreshed: nothing changed."

    def names(ids: Iterable[str], limit: int = 3) -> str:
        ids = list(ids)
        shown = ", ".join(ids[:limit])
        return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")

    parts: list[str] = []
    added_free = [i for i in diff.added if (m := models.get(i)) is not None and m.is_zero_cost]
    added_other = [i for i in diff.added if i not in set(added_free)]
    if added_free:
        parts.append(f"{len(added_free)} new free model{_s(added_free)} ({names(added_free)})")
    if added_other:
        parts.append(f"{len(added_other)} new model{_s(added_other)} ({names(added_other)})")
    if diff.removed:
        parts.append(f"{len(diff.removed)} removed ({names(diff.removed)})")
    if diff.repriced:
        shown = []
        for r in diff.repriced[:2]:
            shown.append(
                f"{r.id} {_pm(r.old_prompt)}→{_pm(r.new_prompt)} in, "
                f"{_pm(r.old_completion)}→{_pm(r.new_completion)} out"
            )
        more = len(diff.repriced) - len(shown)
        tail = f" and {more} more" if more > 0 else ""
        parts.append(
            f"{len(diff.repriced)} price change{_s(diff.repriced)} ({'; '.join(shown)}{tail})"
        )
    if diff.free_ended:
        parts.append(f"free variant ended for {names(diff.free_ended)}")
    return "Catalogue refreshed: " + "; ".join(parts) + "."


def _s(items: Any) -> str:
    return "" if len(items) == 1 else "s"


def _pm(price: Decimal | None) -> str:
    if price is None:
        return "?"
    if price < 0:
        return "variable"
    pm = per_million(price)
    return "$0" if pm == 0 else format_usd(pm, 4)


def unreadable_summary(result: Any) -> str:
    """ "OpenRouter: 60 entries could not be read; 40 kept their last good record." or ""."""
    parts = []
    for status in getattr(result, "sources", None) or ():
        count = getattr(status, "unreadable", 0)
        if getattr(status, "up", False) and count:
            kept = getattr(status, "kept_unreadable", 0)
            parts.append(
                f"{_source_name(getattr(status, 'kind', ''))}: {count} "
                f"entr{'y' if count == 1 else 'ies'} could not be read; {kept} kept their last "
                "good record."
            )
    return " ".join(parts)


def source_statuses(result: Any) -> list[tuple[str, bool, str]]:
    """``(source name, ok, detail)`` for each source a refresh result reports on.

    Accepts a mapping ``{source: status}`` or a sequence of status objects; a status is read
    through its ``ok``/``up``/``state`` and ``error``/``message``/``detail`` attributes.
    """
    raw = None
    if isinstance(result, list | tuple):
        raw = result
    for attr in ("sources", "statuses", "source_status", "status"):
        if raw is not None:
            break
        raw = getattr(result, attr, None)
    if raw is None:
        return []
    items: list[tuple[Any, Any]]
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, Iterable) and not isinstance(raw, str | bytes):
        items = [
            (getattr(s, "source", None) or getattr(s, "kind", None) or getattr(s, "name", None), s)
            for s in raw
        ]
    else:
        return []
    out = []
    for key, status in items:
        name = _source_name(key)
        ok = _status_ok(status)
        detail = ""
        for attr in ("error", "message", "detail", "user_message"):
            value = getattr(status, attr, None)
            if value:
                detail = str(value)
                break
        out.append((name, ok, detail))
    return out


def _source_name(key: Any) -> str:
    if isinstance(key, Source):
        return SOURCE_LABELS.get(key, key.value)
    try:
        return SOURCE_LABELS[Source(str(key))]
    except ValueError:
        return str(key)


def _status_ok(status: Any) -> bool:
    if isinstance(status, bool):
        return status
    for attr in ("ok", "up", "success"):
        value = getattr(status, attr, None)
        if isinstance(value, bool):
            return value
    state = getattr(status, "state", None)
    if state is not None:
        return str(getattr(state, "value", state)).lower() in ("ok", "up", "live", "healthy")
    return getattr(status, "error", None) is None


# --------------------------------------------------------------------------- details


def _h(text: object) -> str:
    return html.escape(str(text))


def _condition(o: PriceOverride) -> str:
    parts = []
    if o.min_prompt_tokens is not None:
        parts.append(f"prompt over {o.min_prompt_tokens:,} tokens")
    if o.utc_start is not None or o.utc_end is not None:
        start = (
            "00:00" if o.utc_start is None else f"{o.utc_start // 100:02d}:{o.utc_start % 100:02d}"
        )
        end = "24:00" if o.utc_end is None else f"{o.utc_end // 100:02d}:{o.utc_end % 100:02d}"
        parts.append(f"{start}–{end} UTC")
    return " and ".join(parts) or "always"


def _price_cell(key: str, value: Decimal) -> str:
    if value < 0:
        return "variable"
    if key in TOKEN_PRICE_KEYS:
        pm = per_million(value)
        return ("$0" if pm == 0 else format_usd(pm, 6)) + " / 1M tokens"
    unit = {"request": "request", "image": "image", "web_search": "search"}.get(key, "unit")
    return ("$0" if value == 0 else format_usd(value, 6)) + f" / {unit}"


_PRICE_NAMES = {
    "prompt": "Input",
    "completion": "Output",
    "internal_reasoning": "Reasoning",
    "input_cache_read": "Cache read",
    "input_cache_write": "Cache write",
    "input_cache_write_1h": "Cache write (1 h)",
    "image_token": "Image tokens",
    "image_output": "Image output",
    "audio": "Audio input",
    "audio_output": "Audio output",
    "input_audio_cache": "Audio cache",
    "request": "Per request",
    "image": "Per image",
    "web_search": "Web search",
}


def _price_order(key: str) -> tuple[int, str]:
    order = (*TOKEN_PRICE_KEYS, *UNIT_PRICE_KEYS)
    return (order.index(key) if key in order else len(order), key)


def _rows(pairs: Iterable[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><td class='k'>{_h(k)}</td><td>{v}</td></tr>" for k, v in pairs if v is not None
    )
    return f"<table cellspacing='0' cellpadding='2'>{body}</table>"


def details_html(row: CatalogueRow, muted: str = "#57606a") -> str:
    """The details panel's body for one model (HTML, everything escaped)."""
    m = row.model
    out: list[str] = [
        f"<style>td.k {{ color: {muted}; padding-right: 12px; white-space: nowrap; }} "
        f"h3 {{ margin-top: 12px; margin-bottom: 4px; }} p.m {{ color: {muted}; }}</style>"
    ]
    # pricing
    out.append("<h3>Pricing</h3>")
    if m.tier is Tier.LOCAL:
        out.append("<p><b>$0</b>: runs on your machine; no quota, no bill.</p>")
    elif m.tier is Tier.FREE:
        lim = FreeLimits()
        out.append(
            f"<p><b>$0</b>: an OpenRouter free model. Free requests share an account-wide limit "
            f"of {lim.per_minute} per minute and {lim.per_day} per UTC day "
            f"({lim.per_day_with_credits:,} per day once 10 credits were ever bought).</p>"
        )
    elif m.tier is Tier.VARIABLE:
        out.append(
            "<p><b>Variable</b>: a router; the price depends on the model it picks, so the cost "
            "of a request is unknown in advance.</p>"
        )
    elif m.tier is Tier.UNKNOWN:
        out.append("<p><b>Unknown</b>: this model bills through prices that are not listed.</p>")
    p = m.pricing
    if p is not None and p.prices and m.tier not in (Tier.LOCAL,):
        listed = sorted(p.prices.items(), key=lambda kv: _price_order(kv[0]))
        out.append(_rows((_PRICE_NAMES.get(k, k), _h(_price_cell(k, v))) for k, v in listed))
        if p.discount:
            out.append(f"<p class='m'>Listed prices include a discount of {_h(p.discount)}.</p>")
        if p.overrides:
            out.append("<h3>Price tiers and time windows</h3>")
            for o in p.overrides:
                cells = sorted(o.prices.items(), key=lambda kv: _price_order(kv[0]))
                prices = ", ".join(
                    f"{_PRICE_NAMES.get(k, k).lower()} {_price_cell(k, v)}" for k, v in cells
                )
                out.append(f"<p>When {_h(_condition(o))}: {_h(prices)}</p>")
    elif m.tier is Tier.PAID:
        out.append("<p>Price unknown: no pricing is listed.</p>")
    # limits
    out.append("<h3>Limits and modalities</h3>")
    out.append(
        _rows(
            [
                ("Context window", _h(format_tokens(m.context_length) or "unknown") + " tokens"),
                (
                    "Max output",
                    _h(format_tokens(m.max_output_tokens) + " tokens")
                    if m.max_output_tokens
                    else "not stated",
                ),
                ("Input", _h(", ".join(m.input_modalities))),
                ("Output", _h(", ".join(m.output_modalities))),
                ("Capabilities", _h(", ".join(sorted(m.capabilities())) or "none listed")),
                ("Tokenizer", _h(m.tokenizer) if m.tokenizer else None),
                ("Knowledge cutoff", _h(m.knowledge_cutoff) if m.knowledge_cutoff else None),
                ("Expires", _h(m.expiration_date) if m.expiration_date else None),
                ("Added", _h(created_date(m)) if m.created else None),
                ("Hugging Face", _h(m.hugging_face_id) if m.hugging_face_id else None),
            ]
        )
    )
    # quality
    out.append("<h3>Quality</h3>")
    if row.quality is not None:
        low = (
            f", at least <b>{row.quality_low:.2f}</b> with its uncertainty"
            if row.quality_low is not None
            else ""
        )
        rests = f"Rests on: <b>{_h(row.evidence)}</b>. " if row.evidence else ""
        out.append(
            f"<p>Quality for chat tasks: <b>{row.quality:.2f}</b>{low}.<br>{rests}"
            f"<span class='m'>{_h(row.quality_source or 'nothing known')}</span></p>"
        )
    b = m.benchmarks
    if b is not None:
        out.append(
            _rows(
                [
                    ("Intelligence index", _num(b.intelligence_index)),
                    ("Coding index", _num(b.coding_index)),
                    ("Agentic index", _num(b.agentic_index)),
                    (
                        "Design Arena Elo",
                        None if b.design_arena_best_elo is None else str(b.design_arena_best_elo),
                    ),
                ]
            )
        )
    else:
        out.append("<p class='m'>No benchmark figures published for this model.</p>")
    # local details
    loc = m.local
    if loc is not None:
        out.append("<h3>Local model</h3>")
        loaded = {True: "yes (in memory)", False: "no", None: "unknown"}[loc.loaded]
        out.append(
            _rows(
                [
                    ("Server", _h(loc.server_url) if loc.server_url else None),
                    ("Size on disk", _h(_bytes(loc.size_bytes)) if loc.size_bytes else None),
                    ("Parameters", _h(loc.parameter_size) if loc.parameter_size else None),
                    ("Quantisation", _h(loc.quantization) if loc.quantization else None),
                    ("Family", _h(loc.family) if loc.family else None),
                    ("Format", _h(loc.format) if loc.format else None),
                    ("Loaded", loaded),
                    (
                        "Loaded context",
                        _h(format_tokens(loc.loaded_context_length))
                        if loc.loaded_context_length
                        else None,
                    ),
                ]
            )
        )
    # supported parameters
    out.append("<h3>Supported parameters</h3>")
    if m.supported_parameters:
        out.append(f"<p>{_h(', '.join(m.supported_parameters))}</p>")
    else:
        out.append("<p class='m'>None listed.</p>")
    # performance
    out.append("<h3>Recent performance</h3>")
    out.append(_performance(row.observed))
    return "".join(out)


def _num(value: float | None) -> str | None:
    return None if value is None else f"{value:.1f}"


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{n} B"
        size /= 1000
    return f"{n} B"


def _performance(obs: Observed | None) -> str:
    if obs is None or obs.count == 0:
        return "<p class='m'>No runs recorded yet: run a task with this model to see figures.</p>"
    last = obs.last_ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if obs.last_ts else None
    return _rows(
        [
            ("Runs", str(obs.count)),
            ("Success rate", f"{obs.success_rate * 100:.0f}%"),
            ("Latency", _h(format_latency(obs.latency_ms)) or None),
            ("Time to first token", _h(format_latency(obs.ttft_ms)) or None),
            ("Tokens / s", None if obs.tokens_per_s is None else f"{obs.tokens_per_s:.1f}"),
            ("Quality (graded)", None if obs.quality is None else f"{obs.quality:.2f}"),
            ("Last run", _h(last) if last else None),
        ]
    )


def category_performance_html(profile: ModelProfile | None) -> str:
    """Observed figures per task category (benchmark runs and real tasks), as HTML."""
    if profile is None:
        return ""
    cats = [(c, o) for c, o in profile.by_category.items() if c != ALL and o.count]
    if not cats:
        return ""
    cats.sort(key=lambda co: co[0])
    head = "".join(
        f"<th align='{a}' style='padding-right: 10px;'>{_h(t)}</th>"
        for t, a in (
            ("Category", "left"),
            ("Quality", "right"),
            ("Success", "right"),
            ("Latency", "right"),
            ("Tok/s", "right"),
            ("Runs", "right"),
        )
    )
    body = []
    for cat, o in cats:
        cells = (
            _h(cat),
            "–" if o.quality is None else f"{o.quality * 100:.0f}%",
            f"{o.success_rate * 100:.0f}%",
            _h(format_latency(o.latency_ms)) or "–",
            "–" if o.tokens_per_s is None else f"{o.tokens_per_s:.1f}",
            str(o.count),
        )
        tds = "".join(
            f"<td align='{'left' if k == 0 else 'right'}' style='padding-right: 10px;'>{c}</td>"
            for k, c in enumerate(cells)
        )
        body.append(f"<tr>{tds}</tr>")
    return (
        "<h3>Observed by task category</h3>"
        "<p class='m'>Graded benchmark runs and real tasks, recent ones weighing most.</p>"
        f"<table cellspacing='0' cellpadding='2'><tr>{head}</tr>{''.join(body)}</table>"
    )


class DetailsPanel(QFrame):
    """What the catalogue knows about the selected model, and what to do with it."""

    estimate_clicked = Signal(str)
    route_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailsPanel")
        self.setMinimumWidth(300)
        self._row: CatalogueRow | None = None
        self._profile: ModelProfile | None = None
        self.title = QLabel()
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.id_label = QLabel()
        self.id_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.id_label.setWordWrap(True)
        self.badge = QLabel()
        self.badge.setObjectName("tierBadge")
        self.body = QTextBrowser()
        self.body.setOpenExternalLinks(False)
        self.body.setFrameShape(QFrame.Shape.NoFrame)
        self.estimate_button = QPushButton("Estimate cost…")
        self.estimate_button.setToolTip("Open the Cost pane with this model")
        self.route_button = QPushButton("Route with it pinned…")
        self.route_button.setToolTip("Open the Playground with this model pinned")
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy id")
        self.copy_button.setToolTip("Copy the model id to the clipboard")
        self.estimate_button.clicked.connect(self._estimate)
        self.route_button.clicked.connect(self._route)
        self.copy_button.clicked.connect(self._copy)
        self.placeholder = EmptyState(
            "No model selected", "Select a model in the table to see its pricing and details."
        )

        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignTop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.estimate_button)
        buttons.addWidget(self.route_button)
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        content = QWidget()
        inner = QVBoxLayout(content)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addLayout(header)
        inner.addWidget(self.id_label)
        inner.addWidget(self.body, 1)
        inner.addLayout(buttons)
        self._stack = QStackedWidget()
        self._stack.addWidget(self.placeholder)
        self._stack.addWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self._stack)

    @property
    def model_id(self) -> str | None:
        return None if self._row is None else self._row.model.id

    def text(self) -> str:
        """Everything the panel shows, as plain text (for tests and copying)."""
        if self._row is None:
            return self.placeholder.title
        return "\n".join(
            [self.title.text(), self.id_label.text(), self.badge.text(), self.body.toPlainText()]
        )

    def show_row(self, row: CatalogueRow | None) -> None:
        self._row = row
        if row is None:
            self._stack.setCurrentIndex(0)
            return
        m = row.model
        self.title.setText(m.name or m.id)
        source = SOURCE_LABELS.get(m.source, m.source.value)
        self.id_label.setText(f"{m.id} · {source}")
        badge = theme.tier_badge(m.tier)
        self.badge.setText(f" {badge.text} ")
        self.badge.setStyleSheet(
            f"QLabel#tierBadge {{ color: {badge.fg.name()}; background: {badge.bg.name()}; "
            "border-radius: 4px; padding: 2px 6px; font-weight: 600; }"
        )
        profile = self._profile
        if profile is not None and profile.model_id != m.id:
            profile = self._profile = None
        self.body.setHtml(
            details_html(row, theme.muted_colour()) + category_performance_html(profile)
        )
        self._stack.setCurrentIndex(1)

    def refresh_style(self) -> None:
        self.show_row(self._row)

    def set_profile(self, model_id: str, profile: ModelProfile | None) -> None:
        """The observed figures of ``model_id`` (read in a worker); ignored when another
        model is shown by then."""
        if model_id != self.model_id:
            return
        self._profile = profile
        self.show_row(self._row)

    def _estimate(self) -> None:
        if self._row is not None:
            self.estimate_clicked.emit(self._row.model.id)

    def _route(self) -> None:
        if self._row is not None:
            self.route_clicked.emit(self._row.model.id)

    def _copy(self) -> None:
        if self._row is not None:
            QGuiApplication.clipboard().setText(self._row.model.id)


class TierBadgeDelegate(QStyledItemDelegate):
    """Paints the tier column as a small coloured pill."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        tier_value = index.data(TIER_ROLE)
        try:
            tier = Tier(tier_value)
        except ValueError:
            tier = Tier.UNKNOWN
        badge = theme.tier_badge(tier)
        fm = opt.fontMetrics
        w = fm.horizontalAdvance(text) + 14
        h = fm.height() + 4
        r: QRect = opt.rect
        pill = QRect(r.x() + (r.width() - w) // 2, r.y() + (r.height() - h) // 2, w, h)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(badge.bg).darker(115)))
        painter.setBrush(badge.bg)
        painter.drawRoundedRect(pill, 4, 4)
        painter.setPen(badge.fg)
        painter.drawText(pill, int(Qt.AlignmentFlag.AlignCenter), text)
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width() + 16, size.height() + 4)


# --------------------------------------------------------------------------- the pane


class CataloguePane(QWidget):
    """Every model in one table, with filters, a details panel and refresh."""

    estimate_requested = Signal(str)
    route_pinned_requested = Signal(str)

    PAGE_LOADING, PAGE_TABLE, PAGE_ERROR = 0, 1, 2

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._prepare_job: Any = None
        self._profile_job: Any = None
        self._catalogue: Any = None
        self._refreshing = False

        self.model = CatalogueModel(self)
        self.proxy = CatalogueFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self._build_filters()
        self._build_table()
        self._build_banners()
        self._build_layout()
        self._connect_controller()

        services = getattr(controller, "services", None)
        if services is not None:
            self._on_catalogue_changed(services.catalogue)
        else:
            self.stack.setCurrentIndex(self.PAGE_LOADING)

    # --- construction -----------------------------------------------------------------------

    def _build_filters(self) -> None:
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("catalogueSearch")
        self.search_edit.setPlaceholderText("Search models: several words, any order  (Ctrl+F)")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(220)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self._apply_search)
        self.search_edit.textChanged.connect(lambda _t: self._search_timer.start())
        self.search_edit.returnPressed.connect(self._apply_search)

        self.source_combo = QComboBox()
        self.source_combo.setToolTip("Show models from one source")
        self.source_combo.addItem("All sources", None)
        for source in Source:
            self.source_combo.addItem(SOURCE_LABELS[source], source)
        self.tier_combo = QComboBox()
        self.tier_combo.setToolTip("Show one pricing tier")
        for label, tiers in TIER_CHOICES:
            self.tier_combo.addItem(label, tiers)
        self.min_context_combo = QComboBox()
        self.min_context_combo.setToolTip("Hide models with a smaller context window")
        for label, tokens in MIN_CONTEXT_CHOICES:
            self.min_context_combo.addItem(label, tokens)
        self.max_price_combo = QComboBox()
        self.max_price_combo.setToolTip(
            "Input and output price per million tokens at most this; variable and unknown "
            "prices are hidden"
        )
        for label, price in MAX_PRICE_CHOICES:
            self.max_price_combo.addItem(label, price)
        self.cap_buttons: dict[str, QToolButton] = {}
        for cap in CAPABILITIES:
            label, tip = CAPABILITY_LABELS[cap]
            button = QToolButton()
            button.setText(label)
            button.setToolTip(f"Only models with: {tip}")
            button.setCheckable(True)
            button.toggled.connect(self._apply_filters)
            self.cap_buttons[cap] = button
        self.clear_button = QToolButton()
        self.clear_button.setText("Clear filters")
        self.clear_button.clicked.connect(self.clear_filters)
        for combo in (
            self.source_combo,
            self.tier_combo,
            self.min_context_combo,
            self.max_price_combo,
        ):
            combo.currentIndexChanged.connect(self._apply_filters)

        self.refresh_button = QPushButton("Refresh now")
        self.refresh_button.setToolTip("Fetch every source's models now (Ctrl+R)")
        self.refresh_button.clicked.connect(self.refresh_now)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(150)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_refresh)
        if not callable(getattr(self._controller, "refresh", None)):
            self.refresh_button.setEnabled(False)
            self.refresh_button.setToolTip("Refreshing is not available in this build")

    def _build_table(self) -> None:
        self.table = QTableView()
        self.table.setObjectName("catalogueTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 10)
        self.table.setItemDelegateForColumn(Col.TIER, TierBadgeDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in DEFAULT_WIDTHS.items():
            header.resizeSection(col, width)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        self.table.sortByColumn(Col.NAME, Qt.SortOrder.AscendingOrder)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.table.doubleClicked.connect(lambda _i: self.details.estimate_button.click())

        self.details = DetailsPanel()
        self.details.estimate_clicked.connect(self.estimate_requested)
        self.details.route_clicked.connect(self.route_pinned_requested)

        self.empty_state = EmptyState(
            "No model matches", "Try fewer words or loosen a filter.", "Clear filters"
        )
        self.empty_state.action_triggered.connect(self.clear_filters)
        self.table_stack = QStackedWidget()
        self.table_stack.addWidget(self.table)
        self.table_stack.addWidget(self.empty_state)

        for signal in (
            self.proxy.modelReset,
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
            self.proxy.layoutChanged,
        ):
            signal.connect(self._update_counts)

    def _build_banners(self) -> None:
        self.snapshot_banner = Banner()
        self.snapshot_banner.setObjectName("banner")
        self.snapshot_banner.action_triggered.connect(self.refresh_now)
        self.refresh_banner = Banner()
        self.refresh_banner.setObjectName("banner")
        self.refresh_banner.action_triggered.connect(self.refresh_now)

    def _build_layout(self) -> None:
        filters = QHBoxLayout()
        filters.setSpacing(6)
        filters.addWidget(self.search_edit, 3)
        filters.addWidget(self.source_combo)
        filters.addWidget(self.tier_combo)
        filters.addWidget(self.min_context_combo)
        filters.addWidget(self.max_price_combo)
        caps = QHBoxLayout()
        caps.setSpacing(4)
        caps.addWidget(QLabel("Needs:"))
        for button in self.cap_buttons.values():
            caps.addWidget(button)
        caps.addWidget(self.clear_button)
        caps.addStretch(1)
        self.count_label = QLabel()
        self.count_label.setObjectName("catalogueCount")
        caps.addWidget(self.count_label)
        caps.addSpacing(12)
        caps.addWidget(self.progress)
        caps.addWidget(self.cancel_button)
        caps.addWidget(self.refresh_button)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table_stack)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([760, 340])

        table_page = QWidget()
        tp = QVBoxLayout(table_page)
        tp.setContentsMargins(0, 0, 0, 0)
        tp.addWidget(self.splitter)

        self.loading_state = LoadingState(
            "Opening the catalogue…", "Reading the stored catalogue and your history."
        )
        self.error_state = ErrorState("The catalogue could not be opened", "", "Try again")
        self.error_state.action_triggered.connect(self._retry_start)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.loading_state)
        self.stack.addWidget(table_page)
        self.stack.addWidget(self.error_state)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(filters)
        layout.addLayout(caps)
        layout.addWidget(self.snapshot_banner)
        layout.addWidget(self.refresh_banner)
        layout.addWidget(self.stack, 1)

    def _connect_controller(self) -> None:
        c = self._controller
        c.catalogue_changed.connect(self._on_catalogue_changed)
        c.services_failed.connect(self._on_services_failed)
        if hasattr(c, "history_changed"):
            c.history_changed.connect(self._reload)
        for name, slot in (
            ("refresh_started", self._on_refresh_started),
            ("refresh_progress", self._on_refresh_progress),
            ("refresh_finished", self._on_refresh_finished),
            ("refresh_failed", self._on_refresh_failed),
        ):
            signal = getattr(c, name, None)
            if signal is not None and hasattr(signal, "connect"):
                signal.connect(slot)

    # --- public API ---------------------------------------------------------------------------

    def focus_search(self) -> None:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def clear_filters(self) -> None:
        widgets = (
            self.search_edit,
            self.source_combo,
            self.tier_combo,
            self.min_context_combo,
            self.max_price_combo,
            *self.cap_buttons.values(),
        )
        for w in widgets:
            w.blockSignals(True)
        try:
            self.search_edit.clear()
            for combo in (
                self.source_combo,
                self.tier_combo,
                self.min_context_combo,
                self.max_price_combo,
            ):
                combo.setCurrentIndex(0)
            for button in self.cap_buttons.values():
                button.setChecked(False)
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._search_timer.stop()
        self.proxy.clear_filters()

    def select_model(self, model_id: str) -> bool:
        row = self.model.row_of(model_id)
        if row is None:
            return False
        proxy_index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not proxy_index.isValid():
            return False
        self.table.selectRow(proxy_index.row())
        self.table.scrollTo(proxy_index)
        return True

    def selected_model(self) -> ModelInfo | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return rows[0].data(MODEL_ROLE)

    def header_state(self) -> QByteArray:
        return self.table.horizontalHeader().saveState()

    def restore_header_state(self, state: QByteArray | bytes | None) -> bool:
        if not state:
            return False
        return self.table.horizontalHeader().restoreState(QByteArray(state))

    def splitter_state(self) -> QByteArray:
        return self.splitter.saveState()

    def restore_splitter_state(self, state: QByteArray | bytes | None) -> bool:
        if not state:
            return False
        return self.splitter.restoreState(QByteArray(state))

    def refresh_now(self) -> None:
        refresh = getattr(self._controller, "refresh", None)
        if not callable(refresh):
            self.refresh_banner.show_message(
                "Refreshing is not available in this build.", "warning"
            )
            return
        if self._refreshing:
            return
        refresh()

    def cancel_refresh(self) -> None:
        self._end_refresh()
        self.refresh_banner.show_message("Refresh cancelled: the catalogue is unchanged.", "info")
        cancel = getattr(self._controller, "cancel_refresh", None)
        if callable(cancel):
            cancel()

    # --- data ---------------------------------------------------------------------------------

    def _on_catalogue_changed(self, catalogue: Any) -> None:
        self._catalogue = catalogue
        self._update_snapshot_banner()
        self._reload()

    def _reload(self) -> None:
        services = getattr(self._controller, "services", None)
        if services is None:
            return
        if self._prepare_job is not None and not self._prepare_job.done():
            self._prepare_job.cancel()
        if self.model.rowCount() == 0:
            self.stack.setCurrentIndex(self.PAGE_LOADING)
        self._prepare_job = self._controller.runner.run_blocking(
            "prepare the catalogue table",
            prepare_rows,
            services,
            on_done=self._on_rows,
            on_error=self._on_rows_failed,
        )

    def _on_rows(self, prepared: tuple[list[CatalogueRow], list[Any]]) -> None:
        rows, cells = prepared
        selected = self.details.model_id
        self.model.set_rows(rows, cells)
        self.stack.setCurrentIndex(self.PAGE_TABLE)
        self._update_counts()
        if selected is None or not self.select_model(selected):
            self.details.show_row(None)

    def _on_rows_failed(self, exc: BaseException) -> None:
        log.error("could not prepare the catalogue table", exc_info=exc)
        self.error_state.set_text("The catalogue could not be shown", str(exc))
        self.stack.setCurrentIndex(self.PAGE_ERROR)

    def _on_services_failed(self, message: str) -> None:
        self.error_state.set_text("The catalogue could not be opened", message)
        self.stack.setCurrentIndex(self.PAGE_ERROR)

    def _retry_start(self) -> None:
        start = getattr(self._controller, "start", None)
        if callable(start) and getattr(self._controller, "services", None) is None:
            self.stack.setCurrentIndex(self.PAGE_LOADING)
            start()
        else:
            self._reload()

    def _update_snapshot_banner(self) -> None:
        cat = self._catalogue
        if cat is None:
            self.snapshot_banner.setVisible(False)
            return
        if getattr(cat, "is_snapshot", False) or getattr(cat, "notice", None):
            text = cat.notice or f"Offline catalogue: {cat.label}."
            can_refresh = callable(getattr(self._controller, "refresh", None))
            self.snapshot_banner.show_message(
                text,
                "warning" if cat.is_snapshot else "info",
                "Refresh now" if can_refresh else None,
            )
        else:
            self.snapshot_banner.setVisible(False)

    # --- filters ------------------------------------------------------------------------------

    def _apply_search(self) -> None:
        self._search_timer.stop()
        self.proxy.set_search_text(self.search_edit.text())

    def _apply_filters(self) -> None:
        source = self.source_combo.currentData()
        self.proxy.set_sources(None if source is None else {source})
        self.proxy.set_tiers(self.tier_combo.currentData())
        self.proxy.set_min_context(self.min_context_combo.currentData())
        self.proxy.set_max_price(self.max_price_combo.currentData())
        self.proxy.set_capabilities(c for c, b in self.cap_buttons.items() if b.isChecked())

    def _update_counts(self) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        zero = sum(1 for m in self.model.models if m.is_zero_cost)
        if total == 0:
            self.count_label.setText("No models")
            self.empty_state.set_text(
                "The catalogue is empty",
                "No source listed any model. Check the endpoints in Settings, then refresh.",
            )
            self.empty_state.set_action(None)
            self.table_stack.setCurrentIndex(1)
            return
        if shown == total:
            self.count_label.setText(f"{total} models · {zero} at $0")
        else:
            self.count_label.setText(f"Showing {shown} of {total} models")
        if shown == 0:
            self.empty_state.set_text(
                "No model matches",
                "Nothing in the catalogue matches these words and filters. "
                "Try fewer words or loosen a filter.",
            )
            self.empty_state.set_action("Clear filters")
            self.table_stack.setCurrentIndex(1)
        else:
            self.table_stack.setCurrentIndex(0)

    # --- selection ----------------------------------------------------------------------------

    def _on_selection(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        src = self.proxy.mapToSource(rows[0])
        row = self.model.row_at(src.row())
        self.details.show_row(row)
        self._load_profile(row.model.id)

    def _load_profile(self, model_id: str) -> None:
        """Read the model's per-category figures in a worker, for the details panel."""
        services = getattr(self._controller, "services", None)
        if services is None:
            return
        if self._profile_job is not None and not self._profile_job.done():
            self._profile_job.cancel()
        self._profile_job = self._controller.runner.run_blocking(
            "read the model's results",
            lambda: services.profiles.get(model_id),
            on_done=lambda profile: self.details.set_profile(model_id, profile),
            on_error=lambda exc: log.warning("could not read the model's results: %s", exc),
        )

    def _header_menu(self, pos: QPoint) -> None:
        header = self.table.horizontalHeader()
        menu = QMenu(self)
        for col in Col:
            action = QAction(self.model.headerData(col, Qt.Orientation.Horizontal), menu)
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(col))
            action.setEnabled(col != Col.NAME)
            action.toggled.connect(lambda on, c=col: header.setSectionHidden(c, not on))
            menu.addAction(action)
        menu.addSeparator()
        reset = menu.addAction("Reset columns")
        reset.triggered.connect(self.reset_columns)
        menu.popup(header.mapToGlobal(pos))

    def reset_columns(self) -> None:
        header = self.table.horizontalHeader()
        for col in Col:
            header.setSectionHidden(col, False)
            header.moveSection(header.visualIndex(col), col)
            header.resizeSection(col, DEFAULT_WIDTHS[col])

    # --- refresh ------------------------------------------------------------------------------

    def _on_refresh_started(self) -> None:
        self._refreshing = True
        self.refresh_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.setFormat("Refreshing…")
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.refresh_banner.setVisible(False)

    def _on_refresh_progress(self, done: int, total: int) -> None:
        if not self._refreshing:
            self._on_refresh_started()
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"{done} of {total} sources")
            self.progress.setTextVisible(True)

    def _end_refresh(self) -> None:
        self._refreshing = False
        self.refresh_button.setEnabled(callable(getattr(self._controller, "refresh", None)))
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    def _on_refresh_finished(self, result: Any) -> None:
        self._end_refresh()
        diff = getattr(result, "diff", None)
        models: dict[str, ModelInfo] = {}
        catalogue = getattr(result, "catalogue", None)
        for m in getattr(catalogue, "models", None) or self.model.models:
            models.setdefault(m.id, m)
        text = diff_summary(diff, models) if diff is not None else "Catalogue refreshed."
        failed = [(name, detail) for name, ok, detail in source_statuses(result) if not ok]
        tone = "success" if diff is not None and not diff.is_empty else "info"
        if failed:
            tone = "warning"
            down = "; ".join(f"{n}: {d}" if d else n for n, d in failed)
            text += f" Not reached: {down}."
        unreadable = unreadable_summary(result)
        if unreadable:
            tone = "warning"
            text += f" {unreadable}"
        self.refresh_banner.show_message(text, tone)

    def _on_refresh_failed(self, message: str) -> None:
        self._end_refresh()
        when = ""
        cat = self._catalogue
        if cat is not None and getattr(cat, "label", None):
            when = f" Still showing the {cat.label}."
        text = message.strip().rstrip(".")
        if "cancelled" in text.lower():
            self.refresh_banner.show_message(f"{text}.", "info")
            return
        if not text.lower().startswith("refresh"):
            text = f"Refresh failed: {text}"
        self.refresh_banner.show_message(f"{text}.{when}", "error", "Try again")

    def changeEvent(self, event: Any) -> None:
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.PaletteChange:
            self.details.refresh_style()
        super().changeEvent(event)


__all__ = [
    "CataloguePane",
    "DetailsPanel",
    "TierBadgeDelegate",
    "details_html",
    "diff_summary",
    "prepare_rows",
    "source_statuses",
]
