"""Route playground, batch simulation: many tasks through one or two policies.

The tasks come from a seeded scenario (count, tasks per day, category and complexity mix) or
an imported JSONL/CSV file. The run happens in a worker with a progress bar; Cancel (or Esc)
stops it and shows what was simulated so far. Results: totals per policy side by side, the
route distribution, the cumulative cost against always using the baseline model, and the
per-task table. Everything exports to CSV (per task) or JSON (totals).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from locallama_gui.core.cost import estimate_cost, format_usd
from locallama_gui.core.models import Tier, Usage
from locallama_gui.core.routing import CATEGORIES, FreePreference, Policy, Priority
from locallama_gui.core.simulation import (
    DEFAULT_CATEGORY_MIX,
    DEFAULT_COMPLEXITY_MIX,
    Scenario,
    SimTask,
    SimulationResult,
    TaskFileError,
    generate_tasks,
    tasks_from_csv,
    tasks_from_jsonl,
)
from locallama_gui.core.taskfiles import decode_text
from locallama_gui.gui.bridge import Job
from locallama_gui.gui.models.cost_model import make_sort_proxy
from locallama_gui.gui.models.sim_model import SimRowsModel, TotalsModel, sim_rows_csv
from locallama_gui.gui.panes.playground_single import FREE_PREF_TEXT
from locallama_gui.gui.widgets.charts import Bar, BarChart, LineChart, Series, downsample
from locallama_gui.gui.widgets.layout import inputs_and_results
from locallama_gui.gui.widgets.states import Banner
from locallama_gui.store.db import StoreError

log = logging.getLogger(__name__)

PREFERRED_BASELINES = ("openai/gpt-4o", "anthropic/claude-sonnet-4", "openai/gpt-4.1")
MAX_IMPORT_BYTES = 128 * 1024 * 1024
CHART_POINTS = 300


@dataclass(frozen=True, slots=True)
class BatchSpec:
    tasks: tuple[SimTask, ...] | None  # imported; None: generate from the scenario
    scenario: Scenario
    policies: tuple[tuple[str, Policy], ...]
    baseline_id: str | None


@dataclass(frozen=True, slots=True)
class PolicyRun:
    name: str
    policy: Policy
    result: SimulationResult
    cumulative: tuple[float, ...]  # downsampled, for the chart only


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    runs: tuple[PolicyRun, ...]
    total_tasks: int
    baseline_id: str | None
    baseline_cumulative: tuple[float, ...]  # always the baseline, over the first run's tasks
    cancelled: bool

    def named(self) -> list[tuple[str, SimulationResult]]:
        return [(r.name, r.result) for r in self.runs]


class ProgressRelay(QObject):
    """Carries progress from the worker thread to the GUI thread (a queued signal)."""

    progressed = Signal(int, int)


def run_batch(
    services: Any,
    spec: BatchSpec,
    progress: Callable[[int, int], None],
    stop: threading.Event,
    *,
    cancelled: Callable[[], bool],
) -> BatchOutcome:
    """Generate (or take) the tasks and simulate each policy: blocking, run in a worker.

    ``stop`` asks for a partial result; ``cancelled`` (the job's token) means nobody waits.
    """

    def halted() -> bool:
        return stop.is_set() or cancelled()

    if spec.tasks is not None:
        tasks = list(spec.tasks)
    else:  # 2 million tasks take a while to make: a cancel cuts it short
        tasks = generate_tasks(spec.scenario, cancelled=halted)
    n = len(tasks) if spec.tasks is not None or not halted() else spec.scenario.tasks
    total = n * max(1, len(spec.policies))
    runs: list[PolicyRun] = []
    if halted():
        return BatchOutcome((), total, spec.baseline_id, (), True)
    for k, (name, policy) in enumerate(spec.policies):
        offset = k * n

        def report(done: int, _n: int, offset: int = offset) -> None:
            progress(offset + done, total)

        result = services.simulate(
            tasks, policy, baseline_id=spec.baseline_id, progress=report, cancelled=halted
        )
        if cancelled():  # the app is closing (or the pane moved on): nobody reads the rest
            return BatchOutcome((), total, spec.baseline_id, (), True)
        cum = downsample([float(v) for v in result.cumulative_cost()], CHART_POINTS)
        runs.append(PolicyRun(name, policy, result, cum))
        if result.cancelled:
            break
    base_cum: tuple[float, ...] = ()
    if spec.baseline_id is not None and runs:
        model = services.find_model(spec.baseline_id)
        acc = Decimal(0)
        values = []
        for r in runs[0].result.rows:
            c = estimate_cost(
                model, Usage(prompt_tokens=r.prompt_tokens, completion_tokens=r.output_tokens), r.at
            ).total_usd
            if c is None:
                values = []
                break
            acc += c
            values.append(float(acc))
        base_cum = downsample(values, CHART_POINTS)
    was_cancelled = any(r.result.cancelled for r in runs) or len(runs) < len(spec.policies)
    return BatchOutcome(tuple(runs), total, spec.baseline_id, base_cum, was_cancelled)


def read_task_file(path: str, start: datetime, tasks_per_day: int) -> list[SimTask]:
    """The tasks of a JSONL or CSV file (blocking: run in a worker). A file not in its
    format raises :class:`~locallama_gui.core.simulation.TaskFileError` naming the line."""
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_IMPORT_BYTES:
        raise ValueError(f"{p.name} is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    text = decode_text(p.read_bytes(), p.name, TaskFileError)
    if p.suffix.lower() == ".csv":
        return tasks_from_csv(text, start, tasks_per_day, source=p.name)
    return tasks_from_jsonl(text, start, tasks_per_day, source=p.name)


def _write_text(path: str, text: str) -> str:
    Path(path).write_text(text, encoding="utf-8", newline="")
    return path


class PolicyBox(QGroupBox):
    """The policy knobs a batch varies: free preference, paid allowed, local only."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        form = QFormLayout(self)
        self.free_pref = QComboBox()
        for fp in FreePreference:
            self.free_pref.addItem(FREE_PREF_TEXT[fp], fp.value)
        self.allow_paid = QCheckBox("Allow paid")
        self.allow_paid.setChecked(True)
        self.local_only = QCheckBox("Local only")
        self.quota_aware = QCheckBox("Save free requests for dear tasks")
        self.quota_aware.setChecked(True)
        self.quota_aware.setToolTip(
            "Local models that are good enough come before free ones, and as the day's free "
            "quota runs down a free request goes only to a task whose paid alternative costs "
            "more than it is worth. Off: free requests are spent first come, first served."
        )
        row = QHBoxLayout()
        row.addWidget(self.allow_paid)
        row.addWidget(self.local_only)
        row.addStretch(1)
        form.addRow("Free models", self.free_pref)
        form.addRow("", row)
        form.addRow("", self.quota_aware)

    def set_free_preference(self, value: str) -> None:
        k = self.free_pref.findData(value)
        if k >= 0:
            self.free_pref.setCurrentIndex(k)

    def policy(self, services: Any) -> Policy:
        overrides = {
            "free_preference": FreePreference(self.free_pref.currentData()),
            "allow_paid": self.allow_paid.isChecked(),
            "local_only": self.local_only.isChecked(),
            "quota_aware": self.quota_aware.isChecked(),
        }
        if services is None:
            return Policy(**overrides)  # type: ignore[arg-type]
        return services.default_policy(**overrides)

    def describe(self) -> str:
        parts = [self.free_pref.currentText()]
        if not self.allow_paid.isChecked():
            parts.append("no paid")
        if self.local_only.isChecked():
            parts.append("local only")
        if not self.quota_aware.isChecked():
            parts.append("free first come, first served")
        return ", ".join(parts)


class BatchView(QWidget):
    """Scenario and policies on the left; totals, charts and the per-task table on the right."""

    finished = Signal(object)  # BatchOutcome
    exported = Signal(str)

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.outcome: BatchOutcome | None = None
        self._job: Job | None = None
        self._stop: threading.Event | None = None
        self._imported: tuple[SimTask, ...] | None = None
        self._imported_name = ""
        self._relay = ProgressRelay(self)
        self._relay.progressed.connect(self._progressed, Qt.ConnectionType.QueuedConnection)
        self._build()

    # --- construction -------------------------------------------------------------------------

    def _build(self) -> None:
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 6, 0)

        src = QGroupBox("Tasks")
        sv = QVBoxLayout(src)
        self.generate_mode = QRadioButton("Generate a scenario")
        self.import_mode = QRadioButton("Imported tasks")
        self.generate_mode.setChecked(True)
        self.import_mode.setEnabled(False)
        group = QButtonGroup(self)
        group.addButton(self.generate_mode)
        group.addButton(self.import_mode)
        modes = QHBoxLayout()
        modes.addWidget(self.generate_mode)
        modes.addWidget(self.import_mode)
        modes.addStretch(1)
        sv.addLayout(modes)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.task_count = QSpinBox()
        self.task_count.setRange(1, 2_000_000)
        self.task_count.setGroupSeparatorShown(True)
        self.task_count.setValue(1000)
        self.per_day = QSpinBox()
        self.per_day.setRange(1, 1_000_000)
        self.per_day.setGroupSeparatorShown(True)
        self.per_day.setValue(200)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2_000_000_000)
        self.priority = QComboBox()
        for p in Priority:
            self.priority.addItem(p.value.capitalize(), p.value)
        k = self.priority.findData(Priority.BALANCED.value)
        self.priority.setCurrentIndex(k)
        form.addRow("Tasks", self.task_count)
        form.addRow("Tasks per day", self.per_day)
        form.addRow("Seed", self.seed)
        form.addRow("Priority", self.priority)
        sv.addLayout(form)
        mix_label = QLabel("Category mix (weights)")
        sv.addWidget(mix_label)
        mix = QGridLayout()
        mix.setHorizontalSpacing(6)
        self.category_mix: dict[str, QSpinBox] = {}
        for k, cat in enumerate(CATEGORIES):
            spin = QSpinBox()
            spin.setRange(0, 1000)
            spin.setValue(round(DEFAULT_CATEGORY_MIX.get(cat, 0.0) * 100))
            spin.setSuffix(" %")
            self.category_mix[cat] = spin
            lab = QLabel(cat)
            mix.addWidget(lab, k // 2, (k % 2) * 2)
            mix.addWidget(spin, k // 2, (k % 2) * 2 + 1)
        sv.addLayout(mix)
        sv.addWidget(QLabel("Complexity mix: low / medium / high"))
        cx = QHBoxLayout()
        self.complexity_mix: list[QSpinBox] = []
        for w in DEFAULT_COMPLEXITY_MIX:
            spin = QSpinBox()
            spin.setRange(0, 1000)
            spin.setValue(round(w * 100))
            spin.setSuffix(" %")
            self.complexity_mix.append(spin)
            cx.addWidget(spin)
        sv.addLayout(cx)
        imp = QHBoxLayout()
        self.import_button = QPushButton("Import JSONL/CSV…")
        self.recorded_button = QPushButton("Recorded tasks")
        self.recorded_button.setToolTip(
            "The tasks routed in the last 30 days (runs, the gateway, the MCP server), at "
            "their recorded times"
        )
        self.import_label = QLabel("")
        self.import_label.setWordWrap(True)
        imp.addWidget(self.import_button)
        imp.addWidget(self.recorded_button)
        imp.addWidget(self.import_label, 1)
        sv.addLayout(imp)
        lv.addWidget(src)

        self.policy_a = PolicyBox("Policy A")
        lv.addWidget(self.policy_a)
        self.compare = QCheckBox("Compare with policy B")
        lv.addWidget(self.compare)
        self.policy_b = PolicyBox("Policy B")
        self.policy_b.set_free_preference(FreePreference.OFF.value)
        self.policy_b.setEnabled(False)
        lv.addWidget(self.policy_b)
        base = QFormLayout()
        self.baseline = QComboBox()
        self.baseline.setEditable(True)
        self.baseline.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.baseline.setMinimumContentsLength(14)
        self.baseline.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.baseline.setToolTip("Savings are against sending every task to this paid model")
        base.addRow("Always-paid baseline", self.baseline)
        lv.addLayout(base)
        lv.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(left)
        scroll.setMinimumWidth(340)

        run_row = QHBoxLayout()
        self.run_button = QPushButton("Run simulation")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the run and keep what was simulated (Esc)")
        self.cancel_button.setEnabled(False)
        run_row.addWidget(self.run_button, 1)
        run_row.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status = QLabel("Set up a scenario and run it.")
        self.status.setWordWrap(True)
        left_all = QWidget()
        la = QVBoxLayout(left_all)
        la.setContentsMargins(0, 0, 0, 0)
        la.addWidget(scroll, 1)
        la.addLayout(run_row)
        la.addWidget(self.progress)
        la.addWidget(self.status)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(6, 0, 0, 0)
        self.banner = Banner()
        rv.addWidget(self.banner)
        self.totals_model = TotalsModel(self)
        self.totals_table = QTableView()
        self.totals_table.setModel(self.totals_model)
        self.totals_table.verticalHeader().setVisible(False)
        self.totals_table.setWordWrap(False)
        self.totals_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.totals_table.verticalHeader().setDefaultSectionSize(
            self.totals_table.fontMetrics().height() + 8
        )
        self.totals_table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        th = self.totals_table.horizontalHeader()
        th.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        th.setStretchLastSection(True)
        self.distribution = BarChart("Route distribution")
        self.distribution.set_empty_text("Run a simulation to see where tasks go.")
        self.cumulative = LineChart("Cumulative cost")
        self.cumulative.set_empty_text("Run a simulation to see the cost build up.")
        charts = QSplitter(Qt.Orientation.Vertical)
        charts.addWidget(self.distribution)
        charts.addWidget(self.cumulative)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.totals_table)
        top.addWidget(charts)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 1)
        top.setSizes([480, 420])
        rows_box = QWidget()
        rb = QVBoxLayout(rows_box)
        rb.setContentsMargins(0, 0, 0, 0)
        rows_head = QHBoxLayout()
        rows_head.addWidget(QLabel("Per task:"))
        self.rows_policy = QComboBox()
        self.rows_policy.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        rows_head.addWidget(self.rows_policy)
        rows_head.addStretch(1)
        self.export_button = QPushButton("Export results…")
        self.export_button.setEnabled(False)
        rows_head.addWidget(self.export_button)
        rb.addLayout(rows_head)
        self.rows_model = SimRowsModel(self)
        # a run's rows are set whole, up to millions: the model sorts them itself
        self.rows_proxy = make_sort_proxy(self.rows_model, self, sort_in_model=True)
        self.rows_table = QTableView()
        self.rows_table.setModel(self.rows_proxy)
        self.rows_table.setSortingEnabled(True)
        self.rows_table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.rows_table.setAlternatingRowColors(True)
        self.rows_table.verticalHeader().setVisible(False)
        self.rows_table.verticalHeader().setDefaultSectionSize(
            self.rows_table.fontMetrics().height() + 8
        )
        self.rows_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.rows_table.setWordWrap(False)
        rh = self.rows_table.horizontalHeader()
        rh.setResizeContentsPrecision(200)  # columns sized on 200 rows, not Qt's 1,000
        rh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        rh.setStretchLastSection(True)
        rb.addWidget(self.rows_table, 1)
        vsplit = QSplitter(Qt.Orientation.Vertical)
        vsplit.addWidget(top)
        vsplit.addWidget(rows_box)
        vsplit.setStretchFactor(0, 3)
        vsplit.setStretchFactor(1, 2)
        vsplit.setSizes([400, 300])
        rv.addWidget(vsplit, 1)

        inputs_and_results(self, left_all, right, 370)

        self.compare.toggled.connect(self.policy_b.setEnabled)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.import_button.clicked.connect(self.import_dialog)
        self.recorded_button.clicked.connect(lambda: self.load_recorded())
        self.generate_mode.toggled.connect(self._mode_changed)
        self.rows_policy.currentIndexChanged.connect(self._show_rows)
        self.export_button.clicked.connect(self.export_dialog)
        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        esc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        esc.activated.connect(self.cancel)
        self._mode_changed(True)

    # --- inputs -------------------------------------------------------------------------------

    def apply_settings(self, settings: Any) -> None:
        self.policy_a.set_free_preference(settings.routing.free_preference)
        self.policy_a.allow_paid.setChecked(settings.routing.allow_paid)
        self.policy_a.local_only.setChecked(settings.routing.local_only)

    def set_catalogue(self, services: Any) -> None:
        paid = sorted(m.id for m in services.models if m.tier is Tier.PAID and m.text_output)
        current = self.baseline.currentText()
        with QSignalBlocker(self.baseline):
            self.baseline.clear()
            self.baseline.addItems(paid)
            completer = QCompleter(paid, self.baseline)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            self.baseline.setCompleter(completer)
            choice = current if current in paid else None
            if choice is None:
                choice = next((b for b in PREFERRED_BASELINES if b in paid), None)
            if choice is None and paid:
                choice = paid[0]
            if choice:
                self.baseline.setCurrentText(choice)

    def _mode_changed(self, generate: bool) -> None:
        for w in (self.task_count, self.seed, self.priority, *self.category_mix.values()):
            w.setEnabled(generate)
        for w in self.complexity_mix:
            w.setEnabled(generate)

    def scenario(self) -> Scenario:
        return Scenario(
            tasks=self.task_count.value(),
            tasks_per_day=self.per_day.value(),
            seed=self.seed.value(),
            category_mix={c: s.value() / 100 for c, s in self.category_mix.items()},
            complexity_mix=tuple(s.value() / 100 for s in self.complexity_mix),  # type: ignore[arg-type]
            priority=Priority(self.priority.currentData()),
        )

    def set_scenario(self, scenario: Scenario) -> None:
        self.generate_mode.setChecked(True)
        self.task_count.setValue(scenario.tasks)
        self.per_day.setValue(scenario.tasks_per_day)
        self.seed.setValue(scenario.seed)
        k = self.priority.findData(scenario.priority.value)
        self.priority.setCurrentIndex(k)
        for c, s in self.category_mix.items():
            s.setValue(round(scenario.category_mix.get(c, 0.0) * 100))
        for s, w in zip(self.complexity_mix, scenario.complexity_mix, strict=True):
            s.setValue(round(w * 100))

    def policies(self) -> tuple[tuple[str, Policy], ...]:
        services = self.controller.services
        out = [(f"A: {self.policy_a.describe()}", self.policy_a.policy(services))]
        if self.compare.isChecked():
            out.append((f"B: {self.policy_b.describe()}", self.policy_b.policy(services)))
        return tuple(out)

    @property
    def baseline_id(self) -> str | None:
        text = self.baseline.currentText().strip()
        return text or None

    # --- import -------------------------------------------------------------------------------

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import tasks", "", "Task lists (*.jsonl *.json *.csv);;All files (*)"
        )
        if path:
            self.import_tasks(path)

    def import_tasks(self, path: str) -> Job:
        self.import_label.setText(f"Reading {Path(path).name}…")
        start = Scenario().start
        return self.controller.runner.run_blocking(
            "import tasks",
            read_task_file,
            path,
            start,
            self.per_day.value(),
            on_done=lambda tasks: self._imported_ok(path, tasks),
            on_error=self._import_failed,
        )

    def load_recorded(self, days: float = 30.0) -> Job | None:
        """Simulate again what was really routed: the route history of the last ``days``."""
        services = self.controller.services
        if services is None:
            return None
        self.import_label.setText("Reading the route history…")
        return self.controller.runner.run_blocking(
            "read recorded tasks",
            services.recorded_tasks,
            days,
            on_done=lambda found: self._recorded_ok(days, *found),
            on_error=self._import_failed,
        )

    def _recorded_ok(self, days: float, tasks: list[SimTask], unreadable: int) -> None:
        if not tasks:
            self.import_label.setText("")
            self.banner.show_message(
                f"No tasks were routed in the last {days:g} days. Run tasks, or use the "
                "gateway or the MCP server, and they are recorded here.",
                "info",
            )
            return
        skipped = f" ({unreadable} unreadable skipped)" if unreadable else ""
        self._imported = tuple(tasks)
        self._imported_name = "recorded tasks"
        self.import_label.setText(f"Recorded ({days:g} days): {len(tasks):,} tasks{skipped}")
        self.import_mode.setEnabled(True)
        self.import_mode.setChecked(True)

    def _imported_ok(self, path: str, tasks: list[SimTask]) -> None:
        self._imported = tuple(tasks)
        self._imported_name = Path(path).name
        self.import_label.setText(f"{self._imported_name}: {len(tasks):,} tasks")
        self.import_mode.setEnabled(True)
        self.import_mode.setChecked(True)

    def _import_failed(self, exc: BaseException) -> None:
        self.import_label.setText("")
        if isinstance(exc, TaskFileError):
            text = f"The task file has a problem: {exc}"
        elif isinstance(exc, OSError):
            text = f"Could not read the task file: {exc.strerror or exc}"
        elif isinstance(exc, StoreError):
            text = f"The route history could not be read: {exc}"
        else:
            text = f"Could not import the tasks: {exc}"
        self.banner.show_message(text, "error")

    # --- running ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._job is not None

    def start(self) -> Job | None:
        services = self.controller.services
        if services is None or self._job is not None:
            return None
        baseline = self.baseline_id
        if baseline is not None and baseline not in {m.id for m in services.models}:
            self.banner.show_message(f"Baseline {baseline} is not in the catalogue.", "error")
            return None
        tasks = self._imported if self.import_mode.isChecked() else None
        scenario = self.scenario()
        if tasks is None:
            try:
                scenario.validate()
            except ValueError as e:
                self.banner.show_message(str(e), "error")
                return None
        spec = BatchSpec(tasks, scenario, self.policies(), baseline)
        self.banner.dismiss()
        stop = threading.Event()
        self._stop = stop
        relay = self._relay
        self.progress.setRange(0, 0)
        n = len(tasks) if tasks is not None else scenario.tasks
        self.status.setText(
            f"Preparing {n:,} tasks…" if tasks is None else f"Simulating {n:,} tasks…"
        )
        self._set_running(True)
        self._job = self.controller.runner.run_blocking(
            "simulate routing",
            run_batch,
            services,
            spec,
            relay.progressed.emit,
            stop,
            on_done=self._done,
            on_error=self._failed,
            pass_token=True,
        )
        return self._job

    def cancel(self) -> None:
        """Stop a running batch; what was simulated so far is shown."""
        if self._job is None or self._stop is None:
            return
        self._stop.set()
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling…")

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.import_button.setEnabled(not running)
        self.recorded_button.setEnabled(not running)
        if running:
            self.export_button.setEnabled(False)

    def _progressed(self, done: int, total: int) -> None:
        if self._job is None:
            return
        if self.progress.maximum() != total:
            self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        if not (self._stop and self._stop.is_set()):
            self.status.setText(f"Simulating: {done:,} of {total:,}…")

    def _done(self, outcome: BatchOutcome) -> None:
        self._job = None
        self._stop = None
        self._set_running(False)
        self.show_outcome(outcome)
        self.finished.emit(outcome)

    def _failed(self, exc: BaseException) -> None:
        self._job = None
        self._stop = None
        self._set_running(False)
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status.setText("The simulation failed.")
        self.banner.show_message(f"The simulation failed: {exc}", "error")

    # --- results ------------------------------------------------------------------------------

    def show_outcome(self, outcome: BatchOutcome) -> None:
        self.outcome = outcome
        done = sum(r.result.tasks for r in outcome.runs)
        self.progress.setRange(0, max(1, outcome.total_tasks))
        self.progress.setValue(done if outcome.cancelled else outcome.total_tasks)
        if outcome.cancelled:
            self.status.setText(
                f"Cancelled after {done:,} of {outcome.total_tasks:,} tasks: partial results."
            )
            self.banner.show_message(
                f"Cancelled: the results below cover {done:,} of {outcome.total_tasks:,} tasks.",
                "warning",
            )
        else:
            first = outcome.runs[0].result if outcome.runs else None
            headline = ""
            if first is not None:
                headline = f" Total {format_usd(first.total_cost_usd, 4)}"
                if first.savings_usd is not None:
                    headline += (
                        f", saving {format_usd(first.savings_usd, 4)} against {first.baseline_id}"
                    )
                headline += "."
            runs = len(outcome.runs)
            n = outcome.runs[0].result.tasks if outcome.runs else 0
            what = f"{n:,} tasks" + (f" × {runs} policies" if runs > 1 else "")
            self.status.setText(f"Done: {what}.{headline}")
        named = outcome.named()
        self.totals_model.set_results(named)
        self.totals_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )
        with QSignalBlocker(self.rows_policy):
            self.rows_policy.clear()
            self.rows_policy.addItems([n for n, _ in named])
        self._show_rows()
        self._update_charts(outcome)
        self.export_button.setEnabled(bool(outcome.runs))

    def _show_rows(self) -> None:
        k = max(0, self.rows_policy.currentIndex())
        if self.outcome is None or not self.outcome.runs:
            self.rows_model.set_result(None)
            return
        self.rows_model.set_result(self.outcome.runs[min(k, len(self.outcome.runs) - 1)].result)
        self.rows_table.resizeColumnsToContents()

    def _update_charts(self, outcome: BatchOutcome) -> None:
        bars: list[Bar] = []
        multi = len(outcome.runs) > 1
        for tier in ("local", "free", "paid", "variable", "unknown"):
            if not any(r.result.tier_counts.get(tier) for r in outcome.runs):
                continue
            for k, run in enumerate(outcome.runs):
                res = run.result
                count = res.tier_counts.get(tier, 0)
                share = count / res.tasks if res.tasks else 0.0
                label = f"{tier} ({'AB'[k]})" if multi else tier
                bars.append(
                    Bar(
                        label, float(count), f"{count:,} ({share:.0%})", tier, f"{run.name}: {tier}"
                    )
                )
        unroutable = [r for r in outcome.runs if r.result.unroutable]
        for k, run in enumerate(unroutable):
            label = f"none ({'AB'[k]})" if multi else "none"
            bars.append(
                Bar(label, float(run.result.unroutable), f"{run.result.unroutable:,}", "unknown")
            )
        self.distribution.set_bars(bars)
        series = [Series(r.name, r.cumulative) for r in outcome.runs]
        if outcome.baseline_cumulative:
            series.append(
                Series(f"always {outcome.baseline_id}", outcome.baseline_cumulative, dashed=True)
            )
        n = max((r.result.tasks for r in outcome.runs), default=1)
        self.cumulative.set_series(
            series,
            x_max=n,
            x_label="tasks",
            format_y=lambda v: f"${v:,.4g}",
        )

    # --- export -------------------------------------------------------------------------------

    def results_json(self) -> str:
        if self.outcome is None:
            return "{}"
        data = {
            "cancelled": self.outcome.cancelled,
            "policies": [
                {"name": r.name, **r.result.to_dict(include_rows=False)} for r in self.outcome.runs
            ],
        }
        return json.dumps(data, indent=2)

    def results_csv(self) -> str:
        return "" if self.outcome is None else sim_rows_csv(self.outcome.named())

    def export_results(self, path: str | Path) -> Job | None:
        """CSV (every task of every policy) or, for a ``.json`` path, the totals."""
        if self.outcome is None:
            return None
        p = str(path)
        text = self.results_json() if p.lower().endswith(".json") else self.results_csv()
        return self.controller.runner.run_blocking(
            "export the simulation",
            _write_text,
            p,
            text,
            on_done=self._exported,
            on_error=lambda e: self.banner.show_message(f"Could not save: {e}", "error"),
        )

    def export_dialog(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export the simulation",
            f"simulation-{stamp}.csv",
            "Per-task CSV (*.csv);;Totals JSON (*.json)",
        )
        if path:
            self.export_results(path)

    def _exported(self, path: str) -> None:
        self.banner.show_message(f"Saved {path}.", "success")
        self.exported.emit(path)


def policy_names(outcome: BatchOutcome) -> Sequence[str]:
    return [r.name for r in outcome.runs]


__all__ = [
    "BatchOutcome",
    "BatchSpec",
    "BatchView",
    "PolicyBox",
    "PolicyRun",
    "ProgressRelay",
    "read_task_file",
    "run_batch",
]
