"""Route playground, benchmark mode: run graded tasks on chosen models and see what changed.

Pick models (search, check; presets for the free, the local and the N cheapest paid models)
and tasks (the built-in suite by category, plus JSONL task files), set a spending cap for
paid models, and run. The run is :class:`~locallama_gui.services.benchmark.BenchmarkRunner`
on the app's live services, on the event loop with a progress bar; Cancel (or Esc) stops it
and keeps what was answered. Results: quality per model and category (a colour-scaled
matrix), quality against cost per task (free, local and paid apart), latency per model, and
which task categories now route to a different model. Stops (the free daily cap, the
spending cap) and notes show in a banner. "Re-run stale" benchmarks the models whose newest
results are old.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QKeySequence,
    QPalette,
    QRegularExpressionValidator,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from locallama_gui.core.benchmarks import (
    BENCH_CATEGORIES,
    BenchTask,
    TaskFormatError,
    builtin_suite,
    parse_task_lines,
)
from locallama_gui.core.cost import format_usd
from locallama_gui.core.models import FreeLimits, ModelInfo, Source, Tier
from locallama_gui.core.taskfiles import FileFormatError, decode_text
from locallama_gui.gui import theme
from locallama_gui.gui.bridge import Job
from locallama_gui.gui.models.catalogue_model import format_latency
from locallama_gui.gui.models.cost_model import (
    UNKNOWN_SORT,
    Column,
    RecordTableModel,
    make_sort_proxy,
    money_sort,
)
from locallama_gui.gui.widgets.charts import Bar, BarChart
from locallama_gui.gui.widgets.layout import inputs_and_results
from locallama_gui.gui.widgets.scatter import Point, ScatterChart
from locallama_gui.gui.widgets.states import Banner
from locallama_gui.services.benchmark import (
    DEFAULT_MAX_USD,
    BenchmarkOptions,
    BenchmarkProgress,
    BenchmarkReport,
    BenchmarkRunner,
    ModelSummary,
    stale_model_ids,
)

log = logging.getLogger(__name__)

DEFAULT_CHEAPEST = 3
FREE_PER_DAY = FreeLimits().per_day
MAX_TASK_FILE_BYTES = 16 * 1024 * 1024
BUILTIN_GROUP = "Built-in suite"
NO_KEY_TEXT = "OpenRouter models need an API key: add it in Settings, or pick only local models."
TIER_ROLE = int(Qt.ItemDataRole.UserRole) + 11
ID_ROLE = int(Qt.ItemDataRole.UserRole) + 12
HAYSTACK_ROLE = int(Qt.ItemDataRole.UserRole) + 13
QUALITY_ROLE = int(Qt.ItemDataRole.UserRole) + 14

RunnerFactory = Callable[[Any, BenchmarkOptions], BenchmarkRunner]


def _default_runner(live: Any, options: BenchmarkOptions) -> BenchmarkRunner:
    return BenchmarkRunner(live, options=options)


# --------------------------------------------------------------------------- pure helpers


def benchmarkable(models: Iterable[ModelInfo]) -> list[ModelInfo]:
    """Models the suite can run on (text out), sorted by id."""
    return sorted((m for m in models if m.text_output), key=lambda m: m.id.casefold())


def _price_key(m: ModelInfo) -> Decimal | None:
    p = m.pricing
    if p is None:
        return None
    prompt, completion = p.get("prompt"), p.get("completion")
    if prompt is None or completion is None or prompt < 0 or completion < 0:
        return None
    return prompt + completion


def preset_ids(models: Iterable[ModelInfo], preset: str, n: int = DEFAULT_CHEAPEST) -> list[str]:
    """The models of a preset: ``"free"`` (OpenRouter's free models), ``"local"``, or
    ``"cheapest"`` (the ``n`` paid models with the lowest input + output price)."""
    ms = benchmarkable(models)
    if preset == "free":
        return [m.id for m in ms if m.tier is Tier.FREE]
    if preset == "local":
        return [m.id for m in ms if m.tier is Tier.LOCAL]
    if preset == "cheapest":
        priced = [(k, m.id) for m in ms if m.tier is Tier.PAID and (k := _price_key(m)) is not None]
        priced.sort()
        return [mid for _, mid in priced[: max(0, n)]]
    raise ValueError(f"unknown preset {preset!r}")


def parse_cap(text: str) -> Decimal:
    """The spending cap typed by the user: dollars, empty for 0. Raises ``ValueError``."""
    text = text.strip().lstrip("$").strip()
    if not text:
        return Decimal(0)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount in dollars") from None
    if not value.is_finite() or value < 0:
        raise ValueError("the spending cap must be $0 or more")
    return value


def read_task_file(path: str) -> tuple[BenchTask, ...]:
    """A JSONL task file, parsed (blocking: run in a worker)."""
    p = Path(path)
    if p.stat().st_size > MAX_TASK_FILE_BYTES:
        raise ValueError(f"{p.name} is larger than {MAX_TASK_FILE_BYTES // 2**20} MiB")
    return parse_task_lines(decode_text(p.read_bytes(), p.name), source=p.name)


def cost_per_task(s: ModelSummary) -> Decimal | None:
    """Mean known cost of a graded task; None when no graded task has a known cost."""
    known = s.graded - s.unknown_costs
    if known <= 0:
        return None
    return s.cost_usd / known


def pct(q: float | None) -> str:
    return "–" if q is None else f"{q * 100:.0f}%"


def quality_colour(q: float, base: QColor, dark: bool) -> QColor:
    """A cell background for quality ``q`` in [0, 1]: red, amber, green, blended into the
    view's base colour so the text keeps its contrast in light and dark palettes."""
    q = min(1.0, max(0.0, q))
    hue = QColor.fromHsvF(q / 3.0, 0.85 if dark else 0.75, 0.85 if dark else 0.95)
    a = 0.42 if dark else 0.38
    return QColor.fromRgbF(
        base.redF() * (1 - a) + hue.redF() * a,
        base.greenF() * (1 - a) + hue.greenF() * a,
        base.blueF() * (1 - a) + hue.blueF() * a,
    )


def change_lines(report: BenchmarkReport) -> list[tuple[str, bool]]:
    """``(text, changed)`` per category of the run: the changes first, then the rest."""
    changed = {c.category for c in report.changes}
    out = [
        (f"{c.category}: {c.before or 'none'} → {c.after or 'none'}", True) for c in report.changes
    ]
    for cat in report.categories:
        if cat not in changed:
            out.append((f"{cat}: {report.routing_after.get(cat) or 'none'} (unchanged)", False))
    return out


# --------------------------------------------------------------------------- the matrix


@dataclass(frozen=True, slots=True)
class MatrixRow:
    model_id: str
    tier: str
    qualities: dict[str, float | None]
    summary: ModelSummary | None


class MatrixModel(RecordTableModel):
    """Models by categories: quality as a percentage on a colour scale, then overall
    quality, cost per task, latency and tokens/s. Raw values in the sort role."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(self._columns_for(()), parent)
        self._quality_cols: dict[int, Callable[[MatrixRow], float | None]] = {}
        self._palette: QPalette | None = None

    @staticmethod
    def _columns_for(categories: Sequence[str]) -> list[Column]:
        def qcol(cat: str) -> Column:
            return Column(
                cat,
                lambda r: pct(r.qualities.get(cat)),
                lambda r: -1.0 if r.qualities.get(cat) is None else r.qualities[cat],
                True,
                tooltip=lambda r: f"{r.model_id} on {cat}: {pct(r.qualities.get(cat))} of checks",
                header_tip=f"Share of the checks passed on the {cat} tasks",
            )

        def overall(r: MatrixRow) -> float | None:
            return None if r.summary is None else r.summary.quality

        def per_task(r: MatrixRow) -> Decimal | None:
            return None if r.summary is None else cost_per_task(r.summary)

        def latency(r: MatrixRow) -> float | None:
            return None if r.summary is None else r.summary.latency_ms

        def tps(r: MatrixRow) -> float | None:
            return None if r.summary is None else r.summary.tokens_per_s

        return [
            Column("Model", lambda r: r.model_id),
            Column("Tier", lambda r: r.tier),
            *(qcol(c) for c in categories),
            Column(
                "Overall",
                lambda r: pct(overall(r)),
                lambda r: -1.0 if overall(r) is None else overall(r),  # type: ignore[return-value]
                True,
                header_tip="Mean quality over every graded task",
            ),
            Column(
                "Cost / task",
                lambda r: format_usd(per_task(r), 6) if per_task(r) is not None else "–",
                lambda r: money_sort(per_task(r)),
                True,
                header_tip="Mean cost of a graded task (what the provider reported)",
            ),
            Column(
                "Latency",
                lambda r: format_latency(latency(r)) or "–",
                lambda r: UNKNOWN_SORT if latency(r) is None else latency(r),  # type: ignore[return-value]
                True,
            ),
            Column(
                "tok/s",
                lambda r: "–" if tps(r) is None else f"{tps(r):.1f}",
                lambda r: -1.0 if tps(r) is None else tps(r),  # type: ignore[return-value]
                True,
            ),
        ]

    def set_report(self, report: BenchmarkReport | None, palette: QPalette | None = None) -> None:
        self.beginResetModel()
        self._palette = palette
        if report is None:
            self._columns = self._columns_for(())
            self._rows = []
            self._quality_cols = {}
        else:
            cats = list(report.categories)
            self._columns = self._columns_for(cats)
            summaries = {s.model_id: s for s in report.summaries}
            self._rows = [
                MatrixRow(
                    m,
                    summaries[m].tier if m in summaries else "unknown",
                    dict(report.matrix.get(m, {})),
                    summaries.get(m),
                )
                for m in report.models
            ]
            self._quality_cols = {
                2 + k: (lambda r, c=c: r.qualities.get(c)) for k, c in enumerate(cats)
            }
            self._quality_cols[2 + len(cats)] = lambda r: (
                None if r.summary is None else r.summary.quality
            )
        self.endResetModel()

    def set_palette(self, palette: QPalette) -> None:
        self._palette = palette
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(self._columns) - 1)
            )

    def quality_at(self, row: int, column: int) -> float | None:
        fn = self._quality_cols.get(column)
        return None if fn is None else fn(self._rows[row])

    def data(
        self,
        index: QModelIndex | QPersistentModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        if role in (Qt.ItemDataRole.BackgroundRole, QUALITY_ROLE):
            q = self.quality_at(index.row(), index.column())
            if role == QUALITY_ROLE or q is None:
                return q
            pal = self._palette or QPalette()
            base = pal.color(QPalette.ColorRole.Base)
            return quality_colour(q, base, theme.is_dark(pal))
        return super().data(index, role)


# --------------------------------------------------------------------------- pickers


class ModelListModel(QAbstractListModel):
    """The catalogue's text models, each with a check box (the checked ids kept in a set,
    so a catalogue of thousands fills at once)."""

    checked_changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._models: list[ModelInfo] = []
        self._checked: set[str] = set()

    def set_models(self, models: Iterable[ModelInfo]) -> None:
        self.beginResetModel()
        self._models = benchmarkable(models)
        ids = {m.id for m in self._models}
        self._checked &= ids
        self.endResetModel()
        self.checked_changed.emit()

    @property
    def models(self) -> list[ModelInfo]:
        return list(self._models)

    def checked_ids(self) -> list[str]:
        return [m.id for m in self._models if m.id in self._checked]

    def set_checked(self, ids: Iterable[str], *, replace: bool = False) -> list[str]:
        wanted = set(ids)
        known = {m.id for m in self._models}
        if replace:
            self._checked = wanted & known
        else:
            self._checked |= wanted & known
        if self._models:
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(len(self._models) - 1, 0),
                [Qt.ItemDataRole.CheckStateRole],
            )
        self.checked_changed.emit()
        return sorted(wanted - known)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(self._models)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable

    def data(
        self,
        index: QModelIndex | QPersistentModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if not index.isValid() or index.row() >= len(self._models):
            return None
        m = self._models[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{m.id}  · {m.tier.value}"
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if m.id in self._checked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{m.name}\n{m.id} · {m.tier.value} · {m.source.value}"
        if role == ID_ROLE:
            return m.id
        if role == TIER_ROLE:
            return m.tier.value
        if role == HAYSTACK_ROLE:
            return f"{m.id} {m.name} {m.tier.value} {m.source.value}"
        return None

    def setData(
        self,
        index: QModelIndex | QPersistentModelIndex,
        value: Any,
        role: int = Qt.ItemDataRole.EditRole,
    ) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid():
            return False
        mid = self._models[index.row()].id
        checked = value in (Qt.CheckState.Checked, Qt.CheckState.Checked.value)
        if checked:
            self._checked.add(mid)
        else:
            self._checked.discard(mid)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        self.checked_changed.emit()
        return True


class ModelPicker(QGroupBox):
    """A searchable, checkable list of the catalogue's text models, with presets."""

    selection_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Models", parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search models…")
        self.search.setClearButtonEnabled(True)
        self.items = ModelListModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.items)
        self.proxy.setFilterRole(HAYSTACK_ROLE)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.list = QListView()
        self.list.setModel(self.proxy)
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.list.setMinimumHeight(150)
        self.free_button = QPushButton("Free")
        self.free_button.setToolTip("Check OpenRouter's free models (they share a daily cap)")
        self.local_button = QPushButton("Local")
        self.local_button.setToolTip("Check every local model")
        self.cheapest_button = QPushButton("Cheapest paid")
        self.cheapest_n = QSpinBox()
        self.cheapest_n.setRange(1, 20)
        self.cheapest_n.setValue(DEFAULT_CHEAPEST)
        self.cheapest_n.setToolTip("How many of the cheapest paid models to check")
        self.cheapest_button.setToolTip("Check the N paid models with the lowest price")
        self.clear_button = QPushButton("Clear")
        self.count_label = QLabel()
        presets = QHBoxLayout()
        presets.setSpacing(4)
        presets.addWidget(QLabel("Add:"))
        presets.addWidget(self.free_button)
        presets.addWidget(self.local_button)
        presets.addWidget(self.cheapest_button)
        presets.addWidget(self.cheapest_n)
        presets.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addLayout(presets)
        layout.addWidget(self.list, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        bottom.addWidget(self.clear_button)
        layout.addLayout(bottom)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.free_button.clicked.connect(lambda: self.apply_preset("free"))
        self.local_button.clicked.connect(lambda: self.apply_preset("local"))
        self.cheapest_button.clicked.connect(lambda: self.apply_preset("cheapest"))
        self.clear_button.clicked.connect(lambda: self.set_checked([], replace=True))
        self.items.checked_changed.connect(self._changed)
        self._changed()

    def set_models(self, models: Iterable[ModelInfo]) -> None:
        self.items.set_models(models)

    @property
    def models(self) -> list[ModelInfo]:
        return self.items.models

    def checked_ids(self) -> list[str]:
        return self.items.checked_ids()

    def checked_models(self) -> list[ModelInfo]:
        ids = set(self.checked_ids())
        return [m for m in self.items.models if m.id in ids]

    def set_checked(self, ids: Iterable[str], *, replace: bool = False) -> list[str]:
        """Check ``ids`` (and uncheck the rest when ``replace``); returns the ids not found."""
        return self.items.set_checked(ids, replace=replace)

    def apply_preset(self, preset: str) -> list[str]:
        ids = preset_ids(self.items.models, preset, self.cheapest_n.value())
        self.set_checked(ids)
        return ids

    def _changed(self) -> None:
        n = len(self.checked_ids())
        self.count_label.setText(f"{n} of {self.items.rowCount()} checked")
        self.selection_changed.emit()


class TaskPicker(QGroupBox):
    """The tasks by source and category, with checkboxes (a category checks its tasks)."""

    selection_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Tasks", parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Task", "Kind"])
        self.tree.setUniformRowHeights(True)
        self.tree.setMinimumHeight(160)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(False)
        self.import_button = QPushButton("Import JSONL…")
        self.import_button.setToolTip(
            "Add your own tasks: one JSON object per line (id, category, kind, prompt, …)"
        )
        self.count_label = QLabel()
        row = QHBoxLayout()
        row.addWidget(self.import_button)
        row.addStretch(1)
        row.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        self._tasks: dict[str, BenchTask] = {}
        self._groups: dict[str, QTreeWidgetItem] = {}
        self.tree.itemChanged.connect(lambda *_: self._changed())

    def add_group(self, name: str, tasks: Sequence[BenchTask], *, checked: bool = True) -> None:
        """A group of tasks (a file, or the built-in suite). Raises ``ValueError`` when a
        task id is already used by another group."""
        clash = sorted(t.id for t in tasks if t.id in self._tasks)
        if clash:
            raise ValueError(f"task id(s) already loaded: {', '.join(clash[:5])}")
        self.tree.blockSignals(True)
        try:
            state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
            root = QTreeWidgetItem([f"{name} ({len(tasks)})", ""])
            root.setData(0, Qt.ItemDataRole.UserRole, None)
            root.setFlags(
                root.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsAutoTristate
            )
            self.tree.addTopLevelItem(root)
            for cat in BENCH_CATEGORIES:
                mine = [t for t in tasks if t.category == cat]
                if not mine:
                    continue
                node = QTreeWidgetItem([f"{cat} ({len(mine)})", ""])
                node.setFlags(
                    node.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsAutoTristate
                )
                root.addChild(node)
                for t in mine:
                    leaf = QTreeWidgetItem([t.id, t.kind])
                    leaf.setFlags(leaf.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    leaf.setData(0, Qt.ItemDataRole.UserRole, t.id)
                    leaf.setCheckState(0, state)
                    leaf.setToolTip(0, t.prompt[:400] + ("…" if len(t.prompt) > 400 else ""))
                    node.addChild(leaf)
                    self._tasks[t.id] = t
            root.setExpanded(True)
            self._groups[name] = root
        finally:
            self.tree.blockSignals(False)
        self.tree.viewport().update()
        self._changed()

    def groups(self) -> list[str]:
        return list(self._groups)

    def set_group_checked(self, name: str, checked: bool) -> None:
        root = self._groups[name]
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        for k in range(root.childCount()):
            node = root.child(k)
            for j in range(node.childCount()):
                node.child(j).setCheckState(0, state)

    def set_category_checked(self, category: str, checked: bool) -> None:
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        for leaf in self._leaves():
            tid = leaf.data(0, Qt.ItemDataRole.UserRole)
            if self._tasks[tid].category == category:
                leaf.setCheckState(0, state)

    def _leaves(self) -> list[QTreeWidgetItem]:
        out = []
        for root in self._groups.values():
            for k in range(root.childCount()):
                node = root.child(k)
                out.extend(node.child(j) for j in range(node.childCount()))
        return out

    def checked_tasks(self) -> list[BenchTask]:
        return [
            self._tasks[leaf.data(0, Qt.ItemDataRole.UserRole)]
            for leaf in self._leaves()
            if leaf.checkState(0) == Qt.CheckState.Checked
        ]

    def _changed(self) -> None:
        n = len(self.checked_tasks())
        self.count_label.setText(f"{n} of {len(self._tasks)} checked")
        self.selection_changed.emit()


# --------------------------------------------------------------------------- the view


class JobList:
    """The jobs a view started; :meth:`abandon` (on the view's ``destroyed``) cancels them,
    so no callback reaches a deleted widget."""

    def __init__(self) -> None:
        self._jobs: list[Job] = []
        self._events: list[asyncio.Event] = []

    def add(self, job: Job, event: asyncio.Event | None = None) -> Job:
        self._jobs = [j for j in self._jobs if not j.done()]
        self._jobs.append(job)
        if event is not None:
            self._events = [event]
        return job

    def abandon(self, *_: object) -> None:
        for e in self._events:
            e.set()
        for j in self._jobs:
            j.cancel()
        self._jobs.clear()


class BenchmarkView(QWidget):
    """Pickers and the run on the left; the matrix, routing changes and charts on the right."""

    finished = Signal(object)  # BenchmarkReport
    progressed = Signal(object)  # BenchmarkProgress

    def __init__(
        self,
        controller: Any,
        parent: QWidget | None = None,
        *,
        runner_factory: RunnerFactory | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.runner_factory: RunnerFactory = runner_factory or _default_runner
        self.report: BenchmarkReport | None = None
        self._job: Job | None = None
        self._cancel: asyncio.Event | None = None
        self._stale_job: Job | None = None
        self._work = JobList()
        self.destroyed.connect(self._work.abandon)
        self._build()

    # --- construction ---------------------------------------------------------------------

    def _build(self) -> None:
        self.models = ModelPicker()
        self.tasks = TaskPicker()
        self.tasks.add_group(BUILTIN_GROUP, builtin_suite())

        run_box = QGroupBox("Run")
        form = QFormLayout(run_box)
        self.cap_edit = QLineEdit(f"{DEFAULT_MAX_USD:.2f}")
        self.cap_edit.setValidator(
            QRegularExpressionValidator(QRegularExpression(r"\$?\d{0,6}(\.\d{0,6})?"), self)
        )
        self.cap_edit.setToolTip(
            "Paid requests stop before this total (each is estimated at its full output "
            "first). $0: paid models are not run."
        )
        self.free_reserve = QSpinBox()
        self.free_reserve.setRange(0, 1000)
        self.free_reserve.setToolTip("Free-model requests of the day to leave unused")
        self.plan_label = QLabel()
        self.plan_label.setWordWrap(True)
        self.run_button = QPushButton("Run benchmark")
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the run (Esc); what was answered is kept")
        self.cancel_button.setEnabled(False)
        self.stale_button = QPushButton("Re-run stale")
        self.stale_button.setToolTip(
            "Benchmark the models whose newest results are older than 30 days"
        )
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.stale_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v / %m")
        self.status = QLabel("Pick models and tasks, then run.")
        self.status.setWordWrap(True)
        form.addRow("Spending cap ($)", self.cap_edit)
        form.addRow("Free reserve", self.free_reserve)
        form.addRow(self.plan_label)
        form.addRow(buttons)
        form.addRow(self.progress)
        form.addRow(self.status)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 4, 0)
        lv.addWidget(self.models, 3)
        lv.addWidget(self.tasks, 3)
        lv.addWidget(run_box, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(left)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(360)

        # results
        self.banner = Banner()
        self.summary_label = QLabel("No results yet.")
        self.summary_label.setWordWrap(True)
        self.matrix_model = MatrixModel(self)
        self.matrix_proxy = make_sort_proxy(self.matrix_model, self)
        self.matrix = QTableView()
        self.matrix.setModel(self.matrix_proxy)
        self.matrix.setSortingEnabled(True)
        self.matrix.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.matrix.setWordWrap(False)
        self.matrix.verticalHeader().setVisible(False)
        self.matrix.verticalHeader().setDefaultSectionSize(self.matrix.fontMetrics().height() + 10)
        self.matrix.horizontalHeader().setStretchLastSection(False)
        matrix_box = QGroupBox("Quality by category")
        mb = QVBoxLayout(matrix_box)
        mb.addWidget(self.matrix)

        self.changes = QListWidget()
        self.changes.setWordWrap(True)
        self.changes.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.changes.setToolTip("The model each category's typical task routes to now")
        self.changes_box = QGroupBox("Routing after this run")
        cb = QVBoxLayout(self.changes_box)
        cb.setContentsMargins(6, 4, 6, 6)
        cb.addWidget(self.changes)
        self.changes_box.setVisible(False)

        self.scatter = ScatterChart("Quality vs. cost per task")
        self.scatter.set_empty_text("Run a benchmark to compare quality and cost.")
        self.latency = BarChart("Mean latency")
        self.scatter.setMinimumWidth(320)
        self.latency.setMinimumWidth(260)
        self.latency.set_empty_text("Run a benchmark to compare latency.")
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.scatter)
        charts.addWidget(self.latency)
        charts.setSizes([520, 420])
        charts.setChildrenCollapsible(False)

        vsplit = QSplitter(Qt.Orientation.Vertical)
        vsplit.addWidget(matrix_box)
        vsplit.addWidget(charts)
        vsplit.setSizes([330, 330])
        vsplit.setChildrenCollapsible(False)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(4, 0, 0, 0)
        rv.addWidget(self.banner)
        rv.addWidget(self.summary_label)
        rv.addWidget(self.changes_box)
        rv.addWidget(vsplit, 1)

        inputs_and_results(self, scroll, right, 380)

        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.stale_button.clicked.connect(self.rerun_stale)
        self.tasks.import_button.clicked.connect(self.import_dialog)
        self.models.selection_changed.connect(self._update_plan)
        self.cap_edit.textChanged.connect(lambda _t: self._update_plan())
        self.tasks.selection_changed.connect(self._update_plan)
        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        esc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        esc.activated.connect(self.cancel)
        self._update_plan()

    # --- inputs ---------------------------------------------------------------------------

    def set_catalogue(self, services: Any) -> None:
        self.models.set_models(services.models)

    def _update_plan(self) -> None:
        ms = self.models.checked_models()
        n_tasks = len(self.tasks.checked_tasks())
        if not ms or not n_tasks:
            self.plan_label.setText("Check at least one model and one task.")
            return
        by_tier: dict[str, int] = {}
        for m in ms:
            by_tier[m.tier.value] = by_tier.get(m.tier.value, 0) + n_tasks
        parts = ", ".join(f"{n} {t}" for t, n in sorted(by_tier.items()))
        total = len(ms) * n_tasks
        text = f"{len(ms)} models × {n_tasks} tasks = {total} requests ({parts})."
        free = sum(n for t, n in by_tier.items() if t == Tier.FREE.value)
        if free > FREE_PER_DAY:
            text += (
                f" OpenRouter allows {FREE_PER_DAY} free requests a day (more once credits "
                "were bought): free requests stop at the cap."
            )
        try:
            cap = self.spending_cap()
        except ValueError:
            cap = None
        if by_tier.get(Tier.PAID.value) and cap == 0:
            text += " The spending cap is $0: paid models will not be run."
        self.plan_label.setText(text)

    def spending_cap(self) -> Decimal:
        return parse_cap(self.cap_edit.text())

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import benchmark tasks", "", "Task files (*.jsonl *.ndjson);;All files (*)"
        )
        if path:
            self.import_tasks(path)

    def import_tasks(self, path: str) -> Job:
        """Read and check a JSONL task file in a worker; its tasks are added, checked."""
        self.status.setText(f"Reading {Path(path).name}…")
        job = self.controller.runner.run_blocking(
            "read benchmark tasks",
            read_task_file,
            path,
            on_done=lambda tasks: self._imported(path, tasks),
            on_error=self._import_failed,
        )
        return self._work.add(job)

    def _imported(self, path: str, tasks: tuple[BenchTask, ...]) -> None:
        name = Path(path).name
        if name in self.tasks.groups():
            name = str(path)
        try:
            self.tasks.add_group(name, tasks)
        except ValueError as e:
            self._import_failed(e)
            return
        self.status.setText(f"{name}: {len(tasks)} tasks added.")

    def _import_failed(self, exc: BaseException) -> None:
        if isinstance(exc, TaskFormatError) and len(exc.errors) == 1:
            text = f"The task file has a problem: {exc.errors[0]}"
        elif isinstance(exc, TaskFormatError):  # one line each: where, what, what to do
            shown = "\n".join(f"• {e}" for e in exc.errors[:4])
            more = f"\n(and {len(exc.errors) - 4} more)" if len(exc.errors) > 4 else ""
            text = f"The task file has problems:\n{shown}{more}"
        elif isinstance(exc, FileFormatError):
            text = f"The task file has a problem: {exc}"
        elif isinstance(exc, OSError):
            text = f"Could not read the task file: {exc.strerror or exc}"
        else:
            text = f"Could not read the task file: {exc}"
        self.status.setText("")
        self.banner.show_message(text, "error")

    # --- running --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._job is not None

    def start(self) -> Job | None:
        """Run the checked tasks on the checked models (on the event loop)."""
        services = self.controller.services
        if services is None or self._job is not None:
            return None
        models = self.models.checked_models()
        tasks = self.tasks.checked_tasks()
        if not models:
            self.banner.show_message("Check at least one model to benchmark.", "warning")
            return None
        if not tasks:
            self.banner.show_message("Check at least one task to run.", "warning")
            return None
        try:
            cap = self.spending_cap()
        except ValueError as e:
            self.banner.show_message(f"Spending cap: {e}.", "error")
            return None
        options = BenchmarkOptions(max_usd=cap, free_reserve=self.free_reserve.value())
        self.banner.dismiss()
        cancel = asyncio.Event()
        self._cancel = cancel
        total = len(models) * len(tasks)
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.status.setText(f"Starting {total} requests…")
        self._set_running(True)
        ids = [m.id for m in models]
        needs_key = any(m.source is Source.OPENROUTER for m in models)
        self._job = self.controller.runner.run_async(
            "run the benchmark",
            self._run(ids, tasks, options, cancel, needs_key),
            on_done=self._done,
            on_error=self._failed,
        )
        self._work.add(self._job, cancel)
        return self._job

    async def _run(
        self,
        ids: list[str],
        tasks: list[BenchTask],
        options: BenchmarkOptions,
        cancel: asyncio.Event,
        needs_key: bool,
    ) -> BenchmarkReport:
        services = self.controller.services
        # warm the routing index (profiles from the store) off the GUI thread
        await asyncio.to_thread(lambda: services.index)
        live = await self.controller.live()
        if needs_key and live.api_key is None:
            raise ValueError(NO_KEY_TEXT)
        runner = self.runner_factory(live, options)
        return await runner.run(ids, tasks, progress=self._on_progress, cancel=cancel)

    def cancel(self) -> None:
        """Stop the run: requests in flight are closed, what was answered is shown."""
        if self._job is None or self._cancel is None:
            return
        self._cancel.set()
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling…")

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.stale_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.tasks.import_button.setEnabled(not running)

    def _on_progress(self, p: BenchmarkProgress) -> None:
        if self._job is None:
            return
        self.progress.setRange(0, max(1, p.total))
        self.progress.setValue(p.done)
        if not (self._cancel and self._cancel.is_set()):
            q = "" if p.quality is None else f", quality {pct(p.quality)}"
            self.status.setText(
                f"{p.done} of {p.total}: {p.model_id} · {p.task_id}: {p.outcome}{q}"
            )
        self.progressed.emit(p)

    def _done(self, report: BenchmarkReport) -> None:
        self._job = None
        self._cancel = None
        self._set_running(False)
        self.show_report(report)
        hist = getattr(self.controller, "history_changed", None)
        if hist is not None:
            hist.emit()
        self.finished.emit(report)

    def _failed(self, exc: BaseException) -> None:
        self._job = None
        self._cancel = None
        self._set_running(False)
        self.progress.setValue(0)
        self.status.setText("The benchmark did not run.")
        log.warning("benchmark failed: %s", exc)
        self.banner.show_message(f"The benchmark did not run: {exc}", "error")

    # --- stale models ---------------------------------------------------------------------

    def rerun_stale(self) -> Job | None:
        """Find the stale models in a worker, check them (only them), and run."""
        services = self.controller.services
        if services is None or self._job is not None:
            return None
        self.status.setText("Looking for models with old results…")
        self._stale_job = self.controller.runner.run_blocking(
            "find stale models",
            stale_model_ids,
            services,
            on_done=self._stale_found,
            on_error=lambda e: self.banner.show_message(
                f"Could not read the results: {e}", "error"
            ),
        )
        return self._work.add(self._stale_job)

    def _stale_found(self, ids: list[str]) -> None:
        self._stale_job = None
        if not ids:
            self.status.setText("")
            self.banner.show_message("No model has results older than 30 days.", "info")
            return
        self.models.set_checked(ids, replace=True)
        self.start()

    # --- results --------------------------------------------------------------------------

    def show_report(self, report: BenchmarkReport) -> None:
        self.report = report
        done = sum(1 for r in report.results if r.outcome != "cancelled")
        total = len(report.results)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        graded = sum(1 for r in report.results if r.outcome == "ok")
        failed = sum(1 for r in report.results if r.outcome == "failed")
        skipped = sum(1 for r in report.results if r.outcome == "skipped")
        seconds = (report.finished_at - report.started_at).total_seconds()
        head = "Cancelled" if report.cancelled else "Done"
        self.status.setText(f"{head}: {done} of {total} in {seconds:.0f} s.")
        self.summary_label.setText(
            f"{len(report.models)} models × {len(report.categories)} categories: {graded} graded, "
            f"{failed} failed, {skipped} skipped. Spent {format_usd(report.spent_usd, 6)}; "
            f"{report.samples_stored} results saved for routing."
        )
        lines = []
        tone = "info"
        if report.cancelled:
            lines.append(f"Cancelled: the results cover {done} of {total} requests.")
            tone = "warning"
        for s in report.stops:
            lines.append(s)
            tone = "warning"
        lines.extend(report.notes)
        errors = [r for r in report.results if r.outcome in ("failed", "skipped") and r.error]
        extra = [r for r in errors if not any(s.startswith(str(r.error)) for s in report.stops)]
        if extra:
            tone = "warning"
        for r in extra[:3]:
            lines.append(f"{r.model_id} / {r.task_id}: {r.outcome}: {r.error}")
        if len(extra) > 3:
            lines.append(f"… and {len(extra) - 3} more failed or skipped.")
        if lines:
            self.banner.show_message("\n".join(lines), tone)
        else:
            self.banner.dismiss()
        self.matrix_model.set_report(report, self.palette())
        self.matrix.resizeColumnsToContents()
        self.matrix.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.matrix.setColumnWidth(0, min(max(self.matrix.columnWidth(0), 120), 300))
        self._show_changes(report)
        self._show_charts(report)

    def _show_changes(self, report: BenchmarkReport) -> None:
        self.changes.clear()
        muted = QColor(theme.muted_colour(theme.is_dark(self.changes.palette())))
        lines = change_lines(report)
        if not report.changes:
            item = QListWidgetItem("No category changed its choice.")
            item.setForeground(muted)
            self.changes.addItem(item)
        for text, changed in lines:
            item = QListWidgetItem(text)
            if changed:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            else:
                item.setForeground(muted)
            before = report.routing_before.get(text.split(":", 1)[0])
            item.setToolTip(f"Before this run: {before or 'none'}")
            self.changes.addItem(item)
        rows = min(self.changes.count(), 5)
        row_h = self.changes.sizeHintForRow(0) if self.changes.count() else 0
        frame = 2 * self.changes.frameWidth() + 4
        self.changes.setFixedHeight(max(row_h, 1) * max(rows, 1) + frame)
        self.changes_box.setVisible(True)

    def change_texts(self) -> list[str]:
        return [self.changes.item(k).text() for k in range(self.changes.count())]

    def _show_charts(self, report: BenchmarkReport) -> None:
        points = []
        for s in report.summaries:
            if s.quality is None:
                continue
            per = cost_per_task(s)
            short = s.model_id.split("/")[-1]
            tip = (
                f"{s.model_id} ({s.tier})\nquality {pct(s.quality)} over {s.graded} tasks\n"
                f"cost per task {format_usd(per, 6) if per is not None else 'unknown'}"
            )
            points.append(Point(short, None if per is None else float(per), s.quality, s.tier, tip))
        self.scatter.set_points(
            points,
            y_max=1.0,
            x_label="cost per task (log scale)",
            y_label="quality",
            format_x=lambda v: format_usd(Decimal(repr(v)), 8),
        )
        if not points:
            self.scatter.set_empty_text("No task was graded: nothing to compare.")
        bars = []
        for s in report.summaries:
            text = format_latency(s.latency_ms) or "no answer"
            tps = "–" if s.tokens_per_s is None else f"{s.tokens_per_s:.1f}"
            tip = (
                f"{s.model_id} ({s.tier})\nlatency {format_latency(s.latency_ms) or '–'}, "
                f"first token {format_latency(s.ttft_ms) or '–'}, {tps} tokens/s"
            )
            bars.append(Bar(s.model_id.split("/")[-1], s.latency_ms, text, s.tier, tip))
        self.latency.set_bars(bars, format_tick=lambda v: format_latency(v) or "0", axis_label="")

    def changeEvent(self, event: Any) -> None:
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.PaletteChange:
            self.matrix_model.set_palette(self.palette())
            if self.report is not None:
                self._show_changes(self.report)
        super().changeEvent(event)


__all__ = [
    "BUILTIN_GROUP",
    "BenchmarkView",
    "JobList",
    "MatrixModel",
    "ModelListModel",
    "ModelPicker",
    "TaskPicker",
    "benchmarkable",
    "change_lines",
    "cost_per_task",
    "parse_cap",
    "preset_ids",
    "quality_colour",
    "read_task_file",
]
