"""Route playground, offline replay: the routing policy replayed on recorded outcomes.

The GUI face of ``locallama evaluate``: pick outcome files (JSONL outcomes, a wide CSV, or
MT-Bench judgements with their questions file), the number of folds, the seed, the weak and
strong models (listed from the files once read) and, optionally, the category of prompts that
have none. The replay runs in a worker (:func:`~locallama_gui.services.evaluate.evaluate_files`)
and shows APGR, CPT(50%), CPT(80%) and AIQ for the router, a random router and the oracle,
each model's quality and cost, and the three quality curves over the share of prompts sent to
the strong model (more strong calls cost more).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from locallama_gui.core.cost import format_usd
from locallama_gui.core.evaluation import DEFAULT_FOLDS, common_models
from locallama_gui.gui.bridge import Job
from locallama_gui.gui.models.cost_model import (
    UNKNOWN_SORT,
    Column,
    RecordTableModel,
    make_sort_proxy,
)
from locallama_gui.gui.panes.playground_benchmark import JobList
from locallama_gui.gui.widgets.charts import LineChart, Series
from locallama_gui.gui.widgets.layout import inputs_and_results
from locallama_gui.gui.widgets.states import Banner
from locallama_gui.services.evaluate import (
    OutcomeFileFormatError,
    evaluate_files,
    load_outcomes,
    report_view,
)

log = logging.getLogger(__name__)

#: Points of each curve on the chart (shares 0%, 1%, ..., 100%).
CURVE_STEPS = 101
POLICIES = ("router", "random", "oracle")
AUTO = ""


# --------------------------------------------------------------------------- workers


def _problem_text(exc: BaseException, doing: str = "") -> str:
    """What the banner says of a failure (``doing``: what did not happen, as a sentence
    start); an outcomes file not in its format names its line."""
    if isinstance(exc, OutcomeFileFormatError):
        return f"The outcomes file has a problem: {exc}"
    return f"{doing}: {exc}" if doing else str(exc)


def read_models(paths: Sequence[str], categories: Sequence[str] = ()) -> tuple[list[str], int]:
    """The models scored on every prompt of ``paths``, and the number of prompts (blocking)."""
    records, _notes = load_outcomes(paths, categories)
    return common_models(records), len(records)


def run_replay(
    paths: Sequence[str],
    catalogue: Sequence[Any],
    *,
    categories: Sequence[str] = (),
    folds: int = DEFAULT_FOLDS,
    weak: str | None = None,
    strong: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Replay and return the report's JSON view (blocking: run in a worker)."""
    report = evaluate_files(
        paths,
        catalogue,
        categories=categories,
        folds=folds,
        weak=weak,
        strong=strong,
        seed=seed,
    )
    return report_view(report)


def parse_categories(text: str) -> list[str]:
    """``"math"`` or ``"math, code"`` (one per file): the ``--category`` values."""
    return [c.strip() for c in text.split(",") if c.strip()]


def resample(curve: Sequence[dict[str, Any]], steps: int = CURVE_STEPS) -> tuple[float, ...]:
    """Quality at evenly spaced strong-call shares (0 .. 1), linearly interpolated between
    the curve's points; flat beyond its ends."""
    pts = sorted(
        (float(p["strong_share"]), float(p["quality"]))
        for p in curve
        if p.get("strong_share") is not None and p.get("quality") is not None
    )
    if not pts:
        return ()
    out = []
    j = 0
    for k in range(steps):
        x = k / (steps - 1)
        while j + 1 < len(pts) and pts[j + 1][0] <= x:
            j += 1
        x0, y0 = pts[j]
        if x <= x0 or j + 1 >= len(pts):
            out.append(y0)
            continue
        x1, y1 = pts[j + 1]
        out.append(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    return tuple(out)


def fit_height(table: QTableView, max_rows: int) -> None:
    """Size a short table to its rows (up to ``max_rows``; more scroll)."""
    rows = min(max(table.model().rowCount(), 1), max_rows)
    header = table.horizontalHeader().sizeHint().height()
    scroll = table.horizontalScrollBar().sizeHint().height()
    height = header + rows * table.verticalHeader().defaultSectionSize()
    table.setFixedHeight(height + 2 * table.frameWidth() + scroll + 2)


def _num(x: float | None, places: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{places}f}"


def _pct(x: float | None) -> str:
    return "never" if x is None else f"{x * 100:.1f}%"


def _usd(text: str | None) -> str:
    return format_usd(None if text is None else Decimal(text), 4)


def _sort(x: float | None) -> float:
    return UNKNOWN_SORT if x is None else float(x)


METRIC_COLUMNS: tuple[Column, ...] = (
    Column("Policy", lambda r: r[0]),
    Column(
        "APGR",
        lambda r: _num(r[1]["apgr"]),
        lambda r: _sort(r[1]["apgr"]),
        True,
        header_tip="Average performance gap recovered over the share of strong calls "
        "(random ≈ 0.5, higher is better)",
    ),
    Column(
        "CPT(50%)",
        lambda r: _pct(r[1]["cpt50"]),
        lambda r: _sort(r[1]["cpt50"]),
        True,
        header_tip="Share of strong calls needed to recover 50% of the gap (lower is better)",
    ),
    Column(
        "CPT(80%)",
        lambda r: _pct(r[1]["cpt80"]),
        lambda r: _sort(r[1]["cpt80"]),
        True,
        header_tip="Share of strong calls needed to recover 80% of the gap (lower is better)",
    ),
    Column(
        "AIQ",
        lambda r: _num(r[1]["aiq"], 4),
        lambda r: _sort(r[1]["aiq"]),
        True,
        header_tip="Area under the cost-quality hull over the single models' cost range",
    ),
)

MODEL_COLUMNS: tuple[Column, ...] = (
    Column("Model", lambda m: m["id"]),
    Column("Role", lambda m: m["role"]),
    Column("Quality", lambda m: _num(m["quality"]), lambda m: _sort(m["quality"]), True),
    Column(
        "Cost (all prompts)",
        lambda m: _usd(m["cost_usd"]),
        lambda m: UNKNOWN_SORT if m["cost_usd"] is None else float(m["cost_usd"]),
        True,
    ),
    Column("Price", lambda m: m["price"]),
)


# --------------------------------------------------------------------------- the view


class ReplayView(QWidget):
    """Files and options on the left; metrics, models and curves on the right."""

    finished = Signal(object)  # the report's JSON view (dict)

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.view: dict[str, Any] | None = None
        self._job: Job | None = None
        self._models_job: Job | None = None
        self._work = JobList()
        self.destroyed.connect(self._work.abandon)
        self._build()

    def _build(self) -> None:
        files_box = QGroupBox("Outcome files")
        self.files = QListWidget()
        self.files.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.files.setMinimumHeight(90)
        self.add_button = QPushButton("Add files…")
        self.add_button.setToolTip(
            "JSONL outcomes, a wide CSV (prompt, category, a score column per model), or "
            "MT-Bench judgements together with their questions file"
        )
        self.remove_button = QPushButton("Remove")
        self.clear_button = QPushButton("Clear")
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        row.addWidget(self.clear_button)
        self.files_label = QLabel("No file yet.")
        self.files_label.setWordWrap(True)
        fb = QVBoxLayout(files_box)
        fb.addWidget(self.files, 1)
        fb.addLayout(row)
        fb.addWidget(self.files_label)

        opts = QGroupBox("Replay")
        form = QFormLayout(opts)
        self.weak = QComboBox()
        self.strong = QComboBox()
        for combo, auto in ((self.weak, "Automatic (cheapest)"), (self.strong, "Automatic (best)")):
            combo.addItem(auto, AUTO)
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(16)
        self.folds = QSpinBox()
        self.folds.setRange(2, 20)
        self.folds.setValue(DEFAULT_FOLDS)
        self.folds.setToolTip("k-fold cross-validation: each fold is routed by the others")
        self.seed = QSpinBox()
        self.seed.setRange(0, 1_000_000)
        self.seed.setToolTip("Seed of the folds and of the random router")
        self.category = QLineEdit()
        self.category.setPlaceholderText("optional, e.g. math")
        self.category.setToolTip(
            "The category of prompts that have none: one for all files, or one per file "
            "separated by commas"
        )
        self.run_button = QPushButton("Replay")
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop waiting for the replay (Esc)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        self.status = QLabel("Add outcome files, then replay.")
        self.status.setWordWrap(True)
        form.addRow("Weak model", self.weak)
        form.addRow("Strong model", self.strong)
        form.addRow("Folds", self.folds)
        form.addRow("Seed", self.seed)
        form.addRow("Category", self.category)
        form.addRow(buttons)
        form.addRow(self.status)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 4, 0)
        lv.addWidget(files_box, 1)
        lv.addWidget(opts, 0)
        lv.addStretch(0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(left)
        scroll.setMinimumWidth(320)

        self.banner = Banner()
        self.summary_label = QLabel("No replay yet.")
        self.summary_label.setWordWrap(True)
        self.metrics_model = RecordTableModel(METRIC_COLUMNS, self)
        self.metrics_table = self._table(self.metrics_model)
        self.metrics_table.setSortingEnabled(False)
        self.metrics_table.horizontalHeader().setStretchLastSection(False)
        self.models_model = RecordTableModel(MODEL_COLUMNS, self)
        self.models_table = self._table(self.models_model)
        tables = QWidget()
        tl = QVBoxLayout(tables)
        tl.setContentsMargins(0, 0, 0, 0)
        metrics_box = QGroupBox("Router against random and oracle")
        QVBoxLayout(metrics_box).addWidget(self.metrics_table)
        models_box = QGroupBox("Models")
        QVBoxLayout(models_box).addWidget(self.models_table)
        tl.addWidget(metrics_box)
        tl.addWidget(models_box)
        tl.addStretch(1)
        self.chart = LineChart("Quality by share of prompts sent to the strong model")
        self.chart.set_empty_text("Replay outcome files to see the router's curve.")
        self.chart.setMinimumHeight(220)
        vsplit = QSplitter(Qt.Orientation.Vertical)
        vsplit.addWidget(tables)
        vsplit.addWidget(self.chart)
        vsplit.setSizes([300, 380])
        vsplit.setChildrenCollapsible(False)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(4, 0, 0, 0)
        rv.addWidget(self.banner)
        rv.addWidget(self.summary_label)
        rv.addWidget(vsplit, 1)

        inputs_and_results(self, scroll, right, 340)

        self.add_button.clicked.connect(self.add_dialog)
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button.clicked.connect(lambda: self.set_files([]))
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        esc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        esc.activated.connect(self.cancel)
        self._update_buttons()

    def _table(self, model: RecordTableModel) -> QTableView:
        table = QTableView()
        table.setModel(make_sort_proxy(model, table))
        table.setSortingEnabled(True)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setWordWrap(False)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
        table.horizontalHeader().setStretchLastSection(True)
        table.resizeColumnsToContents()  # the headers read whole before the first replay
        return table

    # --- files ----------------------------------------------------------------------------

    def paths(self) -> list[str]:
        return [self.files.item(k).text() for k in range(self.files.count())]

    def add_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Add outcome files",
            "",
            "Outcomes (*.jsonl *.ndjson *.json *.csv *.tsv);;All files (*)",
        )
        if paths:
            self.add_files(paths)

    def add_files(self, paths: Sequence[str]) -> Job | None:
        current = self.paths()
        return self.set_files(current + [p for p in paths if p not in current])

    def remove_selected(self) -> Job | None:
        chosen = {i.text() for i in self.files.selectedItems()}
        return self.set_files([p for p in self.paths() if p not in chosen])

    def set_files(self, paths: Sequence[str]) -> Job | None:
        """Set the files and list their models (read in a worker)."""
        self.files.clear()
        self.files.addItems(list(paths))
        if self._models_job is not None:
            self._models_job.cancel()
            self._models_job = None
        self._set_models([])
        self._update_buttons()
        if not paths:
            self.files_label.setText("No file yet.")
            return None
        self.files_label.setText("Reading the files…")
        self._models_job = self.controller.runner.run_blocking(
            "read outcome files",
            read_models,
            list(paths),
            parse_categories(self.category.text()),
            on_done=self._models_read,
            on_error=self._models_failed,
        )
        return self._work.add(self._models_job)

    def _models_read(self, result: tuple[list[str], int]) -> None:
        self._models_job = None
        models, prompts = result
        self._set_models(models)
        self.files_label.setText(
            f"{prompts:,} prompts; {len(models)} models scored on every prompt."
        )
        self._update_buttons()

    def _models_failed(self, exc: BaseException) -> None:
        self._models_job = None
        self.files_label.setText("")
        self.banner.show_message(_problem_text(exc), "error")
        self._update_buttons()

    def _set_models(self, models: Sequence[str]) -> None:
        for combo in (self.weak, self.strong):
            keep = combo.currentData()
            with QSignalBlocker(combo):
                while combo.count() > 1:
                    combo.removeItem(1)
                for m in models:
                    combo.addItem(m, m)
                k = combo.findData(keep)
                combo.setCurrentIndex(max(0, k))

    def model_choices(self) -> list[str]:
        return [self.weak.itemData(k) for k in range(1, self.weak.count())]

    def set_roles(self, weak: str | None = None, strong: str | None = None) -> None:
        for combo, value in ((self.weak, weak), (self.strong, strong)):
            k = combo.findData(value or AUTO)
            combo.setCurrentIndex(max(0, k))

    # --- running --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._job is not None

    def _update_buttons(self) -> None:
        running = self._job is not None
        self.run_button.setEnabled(not running and self.files.count() > 0)
        self.cancel_button.setEnabled(running)
        for w in (self.add_button, self.remove_button, self.clear_button):
            w.setEnabled(not running)

    def start(self) -> Job | None:
        services = self.controller.services
        paths = self.paths()
        if self._job is not None:
            return None
        if not paths:
            self.banner.show_message("Add at least one outcomes file.", "warning")
            return None
        catalogue = services.models if services is not None else ()
        weak = self.weak.currentData() or None
        strong = self.strong.currentData() or None
        if weak is not None and weak == strong:
            self.banner.show_message("The weak and strong models must differ.", "error")
            return None
        self.banner.dismiss()
        self.status.setText(f"Replaying with {self.folds.value()}-fold cross-validation…")
        work = functools.partial(
            run_replay,
            paths,
            catalogue,
            categories=parse_categories(self.category.text()),
            folds=self.folds.value(),
            weak=weak,
            strong=strong,
            seed=self.seed.value(),
        )
        self._job = self.controller.runner.run_blocking(
            "replay outcomes", work, on_done=self._done, on_error=self._failed
        )
        self._work.add(self._job)
        self._update_buttons()
        return self._job

    def cancel(self) -> None:
        if self._job is None:
            return
        self._job.cancel()
        self._job = None
        self.status.setText("Cancelled: the shown results (if any) are from the last replay.")
        self._update_buttons()

    def _done(self, view: dict[str, Any]) -> None:
        self._job = None
        self._update_buttons()
        self.show_view(view)
        self.finished.emit(view)

    def _failed(self, exc: BaseException) -> None:
        self._job = None
        self._update_buttons()
        self.status.setText("The replay did not run.")
        self.banner.show_message(_problem_text(exc, "The replay did not run"), "error")

    # --- results --------------------------------------------------------------------------

    def metrics(self) -> dict[str, dict[str, Any]]:
        """router/random/oracle -> their metrics (after a replay)."""
        v = self.view or {}
        return {"router": v, "random": v.get("random", {}), "oracle": v.get("oracle", {})}

    def show_view(self, view: dict[str, Any]) -> None:
        self.view = view
        self.status.setText(
            f"Replayed {view['prompts']:,} prompts, {view['folds']}-fold cross-validation "
            f"(seed {view['seed']})."
        )
        cats = view.get("categories") or {}
        cat_text = ""
        if any(cats):
            cat_text = (
                " Categories: " + ", ".join(f"{c or '(none)'} {n:,}" for c, n in cats.items()) + "."
            )
        self.summary_label.setText(
            f"Weak: {view['weak']}. Strong: {view['strong']}.{cat_text} APGR: the share of "
            "the quality gap recovered, averaged over the share of strong calls; CPT: strong "
            "calls needed to recover 50% / 80% of it; AIQ: area under the cost-quality hull."
        )
        self.metrics_model.set_rows(
            [("Router", view), ("Random", view["random"]), ("Oracle", view["oracle"])]
        )
        self.metrics_table.resizeColumnsToContents()
        for c in range(1, self.metrics_model.columnCount()):
            width = max(self.metrics_table.columnWidth(c), 90)
            self.metrics_table.setColumnWidth(c, width)
        fit_height(self.metrics_table, 3)
        self.models_model.set_rows(view["models"])
        self.models_table.resizeColumnsToContents()
        fit_height(self.models_table, 6)
        notes = list(view.get("notes") or [])
        if notes:
            self.banner.show_message("\n".join(notes), "info")
        else:
            self.banner.dismiss()
        series = []
        for name, key in (("router", None), ("random", "random"), ("oracle", "oracle")):
            metrics = view if key is None else view[key]
            values = resample(metrics["curve"])
            apgr = metrics.get("apgr")
            label = f"{name} (APGR {_num(apgr)})"
            series.append(Series(label, values, dashed=name != "router"))
        costs = {m["role"]: m["cost_usd"] for m in view["models"]}
        cost_text = ""
        if costs.get("weak") is not None and costs.get("strong") is not None:
            cost_text = f": cost {_usd(costs['weak'])} at 0% to {_usd(costs['strong'])} at 100%"
        self.chart.set_series(
            series,
            x_max=100,
            x_label=f"prompts sent to {view['strong']}{cost_text}",
            format_y=lambda v: f"{v:.2f}",
            format_x=lambda v: f"{v:g}%",
        )


__all__ = [
    "ReplayView",
    "parse_categories",
    "read_models",
    "resample",
    "run_replay",
]
