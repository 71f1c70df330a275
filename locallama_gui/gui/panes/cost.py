"""The cost estimator pane: what a workload costs on several models, side by side.

Inputs: a prompt (pasted or opened; its token count shown with how it was counted) or typed
token counts, expected output tokens and requests per day. Models: picked one by one or by
preset (all free, all local, cheapest N, the ones you use). Output: a sortable table (per
request, per day, per month), a bar chart, savings against a baseline, CSV export and copy as
text. Every count and estimate runs through the task runner, never on the GUI thread.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSignalBlocker, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from locallama_gui.core.cost import format_usd
from locallama_gui.core.models import Tier, Usage
from locallama_gui.core.tokens import estimate_tokens
from locallama_gui.gui.bridge import Job
from locallama_gui.gui.models.cost_model import (
    DAYS_PER_MONTH,
    CostInputs,
    CostRow,
    CostTableModel,
    compute_cost_rows,
    cost_rows_csv,
    make_sort_proxy,
    text_table,
)
from locallama_gui.gui.widgets.charts import Bar, BarChart
from locallama_gui.gui.widgets.layout import inputs_and_results
from locallama_gui.gui.widgets.prompt_edit import (
    PromptEdit,
    held_note,
    load_tokenizer_soon,
    too_large_to_show,
)
from locallama_gui.gui.widgets.states import Banner, ErrorState, LoadingState

log = logging.getLogger(__name__)

MAX_PROMPT_FILE_BYTES = 64 * 1024 * 1024
USED_MODELS_LIMIT = 8
PROMPT_PLACEHOLDER = "Paste a prompt here, or open a file…"
PASTED = "the pasted text"
NO_BASELINE = "(no baseline)"


def cheapest_paid(services: Any, usage: Usage, n: int) -> list[str]:
    """The ``n`` paid models with the lowest known cost for ``usage`` (blocking)."""
    priced: list[tuple[Decimal, str]] = []
    for m in services.models:
        if m.tier is not Tier.PAID or not m.text_output:
            continue
        total = services.estimate(m.id, usage).total_usd
        if total is not None:
            priced.append((total, m.id))
    priced.sort()
    return [mid for _, mid in priced[:n]]


def used_models(services: Any, limit: int = USED_MODELS_LIMIT) -> list[str]:
    """Models the user routed to or ran, most used first (blocking: reads the store)."""
    store = services.store
    if store is None:
        return []
    counts: Counter[str] = Counter()
    for rec in store.recent_routes(limit=500):
        if rec.chosen_id:
            counts[rec.chosen_id] += 1
    for entry in store.spend_entries(limit=500):
        counts[entry.model_id] += 1
    known = services.index.by_id
    return [mid for mid, _ in counts.most_common() if mid in known][:limit]


def usd_tick(value: float) -> str:
    """An axis label in dollars: ``$15,000``, ``$2.5``, ``$0.0003`` (never ``$1.5e+04``)."""
    if value == 0:
        return "$0"
    if abs(value) >= 1000:
        return f"${value:,.0f}"
    if abs(value) >= 0.001:
        return f"${value:,.4g}"
    return f"${value:.8f}".rstrip("0")


def _read_prompt_file(path: str) -> str:
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_PROMPT_FILE_BYTES:
        raise ValueError(
            f"{p.name} is {size // (1024 * 1024)} MiB; the limit is "
            f"{MAX_PROMPT_FILE_BYTES // (1024 * 1024)} MiB"
        )
    return p.read_bytes().decode("utf-8", errors="replace")


def _write_text(path: str, text: str) -> str:
    Path(path).write_text(text, encoding="utf-8", newline="")
    return path


class CostPane(QWidget):
    """Compare what a workload costs on several models."""

    #: Emitted on the GUI thread each time the table was recomputed.
    updated = Signal()
    #: Emitted when a token count finished (tokens, method).
    tokens_counted = Signal(int, str)
    #: Emitted when an export finished (path) or failed (error text).
    exported = Signal(str)
    export_failed = Signal(str)

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._model_ids: list[str] = []
        self._pending_ids: list[str] = []
        self._rows: list[CostRow] = []
        self._inputs = CostInputs(0, 512, 100)
        self._calc_job: Job | None = None
        self._count_job: Job | None = None
        self._text_tokens: tuple[int, str] | None = None
        #: A prompt too large to show (a big file, a big paste): kept here, not in the editor.
        self._file_text: str | None = None
        self._file_name = ""  # what it is: a file's name, or "the pasted text"
        self._known_ids: set[str] = set()
        self._tiers: dict[str, Tier] = {}
        self._shown_baseline: str | None = None
        self._build()
        controller.services_ready.connect(self._on_services_ready)
        controller.catalogue_changed.connect(self._on_catalogue_changed)
        controller.settings_changed.connect(lambda _s: self._schedule())
        failed = getattr(controller, "services_failed", None)
        if failed is not None:
            failed.connect(self._on_services_failed)
        if controller.services is not None:
            self._on_services_ready(controller.services)

    # --- construction -------------------------------------------------------------------------

    def _build(self) -> None:
        self._stack = QStackedWidget()
        self._loading = LoadingState(
            "Loading the catalogue…",
            "Costs can be compared as soon as the model catalogue is open.",
        )
        self._error = ErrorState("The catalogue could not be opened", "")
        content = QWidget()
        self._stack.addWidget(self._loading)
        self._stack.addWidget(self._error)
        self._stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._stack)

        # left: inputs
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 6, 0)

        work = QGroupBox("Workload")
        wv = QVBoxLayout(work)
        self.text_mode = QRadioButton("Count a prompt")
        self.typed_mode = QRadioButton("Type token counts")
        self.text_mode.setChecked(True)
        self._mode_group = QButtonGroup(self)
        self._mode_group.addButton(self.text_mode)
        self._mode_group.addButton(self.typed_mode)
        modes = QHBoxLayout()
        modes.addWidget(self.text_mode)
        modes.addWidget(self.typed_mode)
        modes.addStretch(1)
        wv.addLayout(modes)
        self.prompt_edit = PromptEdit()
        self.prompt_edit.setPlaceholderText(PROMPT_PLACEHOLDER)
        self.prompt_edit.setMinimumHeight(90)
        wv.addWidget(self.prompt_edit, 1)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open file…")
        self.open_button.setToolTip("Count the tokens of a text file")
        self.clear_file_button = QPushButton("Clear")
        self.clear_file_button.setToolTip("Forget the prompt that is too large to show")
        self.clear_file_button.setVisible(False)
        row.addWidget(self.open_button)
        row.addWidget(self.clear_file_button)
        row.addStretch(1)
        wv.addLayout(row)
        self.token_label = QLabel("No prompt yet: 0 tokens.")
        self.token_label.setWordWrap(True)
        self.token_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        wv.addWidget(self.token_label)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.prompt_tokens = QSpinBox()
        self.prompt_tokens.setRange(0, 10_000_000)
        self.prompt_tokens.setGroupSeparatorShown(True)
        self.prompt_tokens.setValue(1000)
        self.prompt_tokens.setEnabled(False)
        self.output_tokens = QSpinBox()
        self.output_tokens.setRange(0, 10_000_000)
        self.output_tokens.setGroupSeparatorShown(True)
        self.output_tokens.setValue(512)
        self.images = QSpinBox()
        self.images.setRange(0, 1000)
        self.images.setToolTip("Images sent with each request: billed per image where priced")
        self.requests = QSpinBox()
        self.requests.setRange(0, 100_000_000)
        self.requests.setGroupSeparatorShown(True)
        self.requests.setValue(100)
        form.addRow("Prompt tokens", self.prompt_tokens)
        form.addRow("Output tokens", self.output_tokens)
        form.addRow("Images", self.images)
        form.addRow("Requests per day", self.requests)
        wv.addLayout(form)
        note = QLabel(f"A month is {DAYS_PER_MONTH} days.")
        note.setEnabled(False)
        wv.addWidget(note)
        lv.addWidget(work, 3)

        models = QGroupBox("Models")
        mv = QVBoxLayout(models)
        pick = QHBoxLayout()
        self.model_combo = QComboBox()
        self.model_combo.setEditable(True)
        self.model_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model_combo.lineEdit().setPlaceholderText("model id, e.g. openai/gpt-4o")
        self.model_combo.setMinimumContentsLength(16)
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self._id_list = QStringListModel(self)
        completer = QCompleter(self._id_list, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.model_combo.setCompleter(completer)
        self.add_button = QPushButton("Add")
        pick.addWidget(self.model_combo, 1)
        pick.addWidget(self.add_button)
        mv.addLayout(pick)
        presets = QHBoxLayout()
        self.free_preset = QPushButton("All free")
        self.local_preset = QPushButton("All local")
        presets.addWidget(self.free_preset)
        presets.addWidget(self.local_preset)
        mv.addLayout(presets)
        presets2 = QHBoxLayout()
        self.cheapest_preset = QPushButton("Cheapest")
        self.cheapest_n = QSpinBox()
        self.cheapest_n.setRange(1, 50)
        self.cheapest_n.setValue(5)
        self.cheapest_n.setToolTip("How many of the cheapest paid models")
        self.used_preset = QPushButton("The ones you use")
        presets2.addWidget(self.cheapest_preset)
        presets2.addWidget(self.cheapest_n)
        presets2.addWidget(self.used_preset, 1)
        mv.addLayout(presets2)
        edit = QHBoxLayout()
        self.remove_button = QPushButton("Remove selected")
        self.clear_button = QPushButton("Clear all")
        edit.addWidget(self.remove_button)
        edit.addWidget(self.clear_button)
        mv.addLayout(edit)
        base = QFormLayout()
        self.baseline_combo = QComboBox()
        self.baseline_combo.addItem(NO_BASELINE)
        self.baseline_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.baseline_combo.setMinimumContentsLength(14)
        base.addRow("Baseline", self.baseline_combo)
        mv.addLayout(base)
        lv.addWidget(models)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(left)
        scroll.setMinimumWidth(330)

        # right: results
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(6, 0, 0, 0)
        self.banner = Banner()
        rv.addWidget(self.banner)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        rv.addWidget(self.summary)
        self.table_model = CostTableModel(self)
        self.proxy = make_sort_proxy(self.table_model, self)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(
            self.table_model.column_index("Per month"), Qt.SortOrder.AscendingOrder
        )
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self.table.setWordWrap(False)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # readable widths the user can drag for the model id and the limits; figures fit
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        hh.resizeSection(0, 210)
        limits = self.table_model.column_index("Limits")
        hh.setSectionResizeMode(limits, QHeaderView.ResizeMode.Interactive)
        hh.resizeSection(limits, 170)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        hh.setStretchLastSection(False)
        self.chart = BarChart("Cost per month")
        self.chart.set_empty_text("Add models to compare their costs.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.chart)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        rv.addWidget(split, 1)
        actions = QHBoxLayout()
        actions.addStretch(1)
        self.copy_button = QPushButton("Copy as text")
        self.export_button = QPushButton("Export CSV…")
        actions.addWidget(self.copy_button)
        actions.addWidget(self.export_button)
        rv.addLayout(actions)

        inputs_and_results(content, scroll, right, 360)

        # behaviour
        self._calc_timer = QTimer(self)
        self._calc_timer.setSingleShot(True)
        self._calc_timer.setInterval(120)
        self._calc_timer.timeout.connect(self._recompute)
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(300)
        self._count_timer.timeout.connect(self._count_tokens)
        self.text_mode.toggled.connect(self._mode_changed)
        self.prompt_edit.textChanged.connect(self._text_changed)
        self.prompt_edit.too_large.connect(lambda text: self._hold_text(PASTED, text))
        self.open_button.clicked.connect(self.open_prompt_file)
        self.clear_file_button.clicked.connect(self._clear_file)
        for spin in (self.prompt_tokens, self.output_tokens, self.images, self.requests):
            spin.valueChanged.connect(self._schedule)
        self.add_button.clicked.connect(self._add_from_combo)
        self.model_combo.lineEdit().returnPressed.connect(self._add_from_combo)
        self.free_preset.clicked.connect(self.preset_free)
        self.local_preset.clicked.connect(self.preset_local)
        self.cheapest_preset.clicked.connect(lambda: self.preset_cheapest(self.cheapest_n.value()))
        self.used_preset.clicked.connect(self.preset_used)
        self.remove_button.clicked.connect(self._remove_selected)
        self.clear_button.clicked.connect(self.clear_models)
        self.baseline_combo.currentIndexChanged.connect(self._schedule)
        self.copy_button.clicked.connect(self.copy_as_text)
        self.export_button.clicked.connect(self.export_csv_dialog)
        self._update_summary()

    # --- services ---------------------------------------------------------------------------

    @property
    def services(self) -> Any:
        return self.controller.services

    def _on_services_ready(self, services: Any) -> None:
        self._stack.setCurrentIndex(2)
        self._on_catalogue_changed(services.catalogue)
        load_tokenizer_soon(self.controller.runner)

    def _on_services_failed(self, text: str) -> None:
        self._error.set_text("The catalogue could not be opened", text)
        self._stack.setCurrentIndex(1)

    def _on_catalogue_changed(self, _catalogue: object) -> None:
        services = self.services
        if services is None:
            return
        self._tiers = {m.id: m.tier for m in services.models}
        ids = sorted(self._tiers)
        self._known_ids = set(ids)
        self._id_list.setStringList(ids)
        with QSignalBlocker(self.model_combo):
            text = self.model_combo.currentText()
            self.model_combo.clear()
            self.model_combo.addItems(ids)
            self.model_combo.setCurrentText(text)
        known = set(ids)
        pending, self._pending_ids = self._pending_ids, []
        for mid in pending:
            if mid not in self._model_ids:
                self._model_ids.append(mid)
        dropped = [m for m in self._model_ids if m not in known]
        if dropped:
            self._model_ids = [m for m in self._model_ids if m in known]
            self.banner.show_message(
                f"No longer in the catalogue: {', '.join(dropped)}.", "warning"
            )
        if not self._model_ids:
            self._model_ids = self._default_models(services)
        self._refresh_baselines()
        self._schedule()

    def _default_models(self, services: Any) -> list[str]:
        """A first comparison: a free model, a couple of well-known paid ones."""
        out = []
        for mid in ("openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-sonnet-4"):
            if mid in self._known_ids:
                out.append(mid)
        free = [m.id for m in services.models if m.tier is Tier.FREE and m.text_output]
        if free:
            out.insert(0, sorted(free)[0])
        return out

    # --- the compared set ------------------------------------------------------------------

    @property
    def model_ids(self) -> list[str]:
        return list(self._model_ids)

    def add_model(self, model_id: str) -> None:
        """Add ``model_id`` to the compared set (queued until the catalogue is open)."""
        services = self.services
        if services is None:
            if model_id not in self._pending_ids:
                self._pending_ids.append(model_id)
            return
        if model_id not in self._known_ids:
            self.banner.show_message(f"{model_id} is not in the catalogue.", "warning")
            return
        if model_id not in self._model_ids:
            self._model_ids.append(model_id)
            self._refresh_baselines()
            self._schedule()

    def set_models(self, model_ids: Sequence[str], *, replace: bool = True) -> None:
        ids = list(dict.fromkeys(model_ids))
        if not replace:
            ids = list(dict.fromkeys([*self._model_ids, *ids]))
        self._model_ids = ids
        self._refresh_baselines()
        self._schedule()

    def remove_model(self, model_id: str) -> None:
        if model_id in self._model_ids:
            self._model_ids.remove(model_id)
            self._refresh_baselines()
            self._schedule()

    def clear_models(self) -> None:
        self.set_models([])

    def _add_from_combo(self) -> None:
        text = self.model_combo.currentText().strip()
        if text:
            self.add_model(text)

    def _remove_selected(self) -> None:
        rows = {self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()}
        for r in sorted(rows, reverse=True):
            self.remove_model(self.table_model.row_at(r).model_id)

    def _refresh_baselines(self) -> None:
        current = self.baseline_id
        with QSignalBlocker(self.baseline_combo):
            self.baseline_combo.clear()
            self.baseline_combo.addItem(NO_BASELINE)
            self.baseline_combo.addItems(self._model_ids)
            if current in self._model_ids:
                self.baseline_combo.setCurrentText(current)
            else:
                self.baseline_combo.setCurrentIndex(
                    1 + self._model_ids.index(self._guess_baseline())
                    if self._guess_baseline()
                    else 0
                )

    def _guess_baseline(self) -> str | None:
        """The first paid model compared: what the user would pay without routing."""
        # the catalogue's own list: building the routing index here would stall the GUI
        for mid in self._model_ids:
            if self._tiers.get(mid) is Tier.PAID:
                return mid
        return None

    @property
    def baseline_id(self) -> str | None:
        text = self.baseline_combo.currentText()
        return None if not text or text == NO_BASELINE else text

    def set_baseline(self, model_id: str | None) -> None:
        if model_id is None:
            self.baseline_combo.setCurrentIndex(0)
            return
        self.add_model(model_id)
        self.baseline_combo.setCurrentText(model_id)
        self._schedule()

    # --- presets ------------------------------------------------------------------------------

    def preset_free(self) -> None:
        services = self.services
        if services is None:
            return
        ids = sorted(m.id for m in services.models if m.tier is Tier.FREE and m.text_output)
        self._apply_preset(ids, "No free models in the catalogue.")

    def preset_local(self) -> None:
        services = self.services
        if services is None:
            return
        ids = sorted(m.id for m in services.models if m.tier is Tier.LOCAL)
        self._apply_preset(
            ids,
            "No local models found: start Ollama or LM Studio and refresh the catalogue.",
        )

    def preset_cheapest(self, n: int = 5) -> Job | None:
        services = self.services
        if services is None:
            return None
        usage = Usage(
            prompt_tokens=self._prompt_token_count(),
            completion_tokens=self.output_tokens.value(),
            images=self.images.value(),
        )
        return self.controller.runner.run_blocking(
            "find the cheapest models",
            cheapest_paid,
            services,
            usage,
            n,
            on_done=lambda ids: self._apply_preset(ids, "No paid model has a known price."),
            on_error=self._show_error,
        )

    def preset_used(self) -> Job | None:
        services = self.services
        if services is None:
            return None
        return self.controller.runner.run_blocking(
            "read the models you use",
            used_models,
            services,
            on_done=lambda ids: self._apply_preset(
                ids, "No history yet: models you route to or run will appear here."
            ),
            on_error=self._show_error,
        )

    def _apply_preset(self, ids: Sequence[str], empty_text: str) -> None:
        if not ids:
            self.banner.show_message(empty_text, "info")
            return
        self.banner.dismiss()
        self.set_models(ids)

    # --- the prompt -------------------------------------------------------------------------

    def _mode_changed(self, text_mode: bool) -> None:
        self.prompt_edit.setEnabled(text_mode and self._file_text is None)
        self.open_button.setEnabled(text_mode)
        self.prompt_tokens.setEnabled(not text_mode)
        if text_mode:
            self._count_timer.start()
        else:
            self.token_label.setText("Token counts typed in.")
        self._schedule()

    def set_prompt_text(self, text: str) -> None:
        self.text_mode.setChecked(True)
        if too_large_to_show(text):
            self._hold_text("the prompt", text)
            return
        self._clear_file()
        self.prompt_edit.setPlainText(text)

    def set_token_counts(self, prompt_tokens: int, output_tokens: int | None = None) -> None:
        self.typed_mode.setChecked(True)
        self.prompt_tokens.setValue(prompt_tokens)
        if output_tokens is not None:
            self.output_tokens.setValue(output_tokens)

    def _text_changed(self) -> None:
        self._text_tokens = None
        self.token_label.setText("Counting tokens…")
        self._count_timer.start()

    def _current_text(self) -> str:
        return self._file_text if self._file_text is not None else self.prompt_edit.toPlainText()

    def _count_tokens(self) -> None:
        if not self.text_mode.isChecked():
            return
        if self._count_job is not None:
            self._count_job.cancel()
        text = self._current_text()
        self._count_job = self.controller.runner.run_blocking(
            "count tokens", estimate_tokens, text, on_done=self._counted, on_error=self._show_error
        )

    def _counted(self, est: Any) -> None:
        self._count_job = None
        self._text_tokens = (est.tokens, est.method)
        with QSignalBlocker(self.prompt_tokens):
            self.prompt_tokens.setValue(min(est.tokens, self.prompt_tokens.maximum()))
        src = f" in {self._file_name}" if self._file_text is not None else ""
        self.token_label.setText(f"{est.tokens:,} prompt tokens{src} ({est.method}).")
        self.tokens_counted.emit(est.tokens, est.method)
        self._schedule()

    def _prompt_token_count(self) -> int:
        if self.text_mode.isChecked():
            return self._text_tokens[0] if self._text_tokens else 0
        return self.prompt_tokens.value()

    def open_prompt_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a prompt",
            "",
            "Text files (*.txt *.md *.json *.jsonl *.py *.csv);;All files (*)",
        )
        if path:
            self.load_prompt_file(path)

    def load_prompt_file(self, path: str) -> Job:
        self.token_label.setText(f"Reading {Path(path).name}…")
        return self.controller.runner.run_blocking(
            "read the prompt file",
            _read_prompt_file,
            path,
            on_done=lambda text: self._file_loaded(path, text),
            on_error=self._show_error,
        )

    def _file_loaded(self, path: str, text: str) -> None:
        self.text_mode.setChecked(True)
        if not too_large_to_show(text):
            self._clear_file()
            self.prompt_edit.setPlainText(text)
            return
        self._hold_text(Path(path).name, text)

    def _hold_text(self, name: str, text: str) -> None:
        """Keep ``text`` (too large to show) out of the editor, and count it."""
        self.text_mode.setChecked(True)
        self._file_text = text
        self._file_name = name
        with QSignalBlocker(self.prompt_edit):
            self.prompt_edit.clear()
        self.prompt_edit.setPlaceholderText(
            held_note(name[:1].upper() + name[1:], len(text), "its tokens are counted")
        )
        self.prompt_edit.setEnabled(False)
        self.clear_file_button.setVisible(True)
        self._text_changed()

    @property
    def held_text(self) -> str | None:
        """The prompt kept out of the editor (too large to show), if any."""
        return self._file_text

    def _clear_file(self) -> None:
        if self._file_text is None:
            return
        self._file_text = None
        self._file_name = ""
        self.prompt_edit.setPlaceholderText(PROMPT_PLACEHOLDER)
        self.prompt_edit.setEnabled(self.text_mode.isChecked())
        self.clear_file_button.setVisible(False)
        self._text_changed()

    # --- computing ---------------------------------------------------------------------------

    def current_inputs(self) -> CostInputs:
        return CostInputs(
            prompt_tokens=self._prompt_token_count(),
            output_tokens=self.output_tokens.value(),
            requests_per_day=self.requests.value(),
            images=self.images.value(),
        )

    def _schedule(self) -> None:
        if self.services is not None:
            self._calc_timer.start()

    @property
    def busy(self) -> bool:
        return (
            self._calc_timer.isActive()
            or self._count_timer.isActive()
            or (self._calc_job is not None and not self._calc_job.done())
            or (self._count_job is not None and not self._count_job.done())
        )

    def recompute_now(self) -> Job | None:
        self._calc_timer.stop()
        return self._recompute()

    def _recompute(self) -> Job | None:
        services = self.services
        if services is None:
            return None
        if self.text_mode.isChecked() and self._text_tokens is None and self._current_text():
            return None  # the count comes first; it schedules this again
        if self._calc_job is not None:
            self._calc_job.cancel()
        inputs = self.current_inputs()
        baseline = self.baseline_id
        ids = list(self._model_ids)
        self._calc_job = self.controller.runner.run_blocking(
            "estimate costs",
            compute_cost_rows,
            services,
            ids,
            inputs,
            baseline,
            on_done=lambda rows: self._show_rows(rows, inputs, baseline),
            on_error=self._show_error,
        )
        return self._calc_job

    @property
    def shown_inputs(self) -> CostInputs:
        """The inputs the table was computed for."""
        return self._inputs

    def _show_rows(self, rows: list[CostRow], inputs: CostInputs, baseline: str | None) -> None:
        self._calc_job = None
        self._rows = rows
        self._inputs = inputs
        self._shown_baseline = baseline
        self.table_model.set_rows(rows)
        self._update_chart()
        self._update_summary()
        self.updated.emit()

    def _show_error(self, exc: BaseException) -> None:
        log.warning("cost pane: %s", exc)
        self.banner.show_message(str(exc), "error")

    @property
    def rows(self) -> list[CostRow]:
        return list(self._rows)

    def row_for(self, model_id: str) -> CostRow:
        for r in self._rows:
            if r.model_id == model_id:
                return r
        raise KeyError(model_id)

    def _update_chart(self) -> None:
        rows = sorted(
            self._rows,
            key=lambda r: (r.per_month is None, r.per_month if r.per_month is not None else 0),
        )
        bars = []
        for r in rows:
            if r.per_month is None:
                text = "unknown"
            elif r.tier is Tier.FREE:
                text = f"{format_usd(r.per_month)} (free)"
            elif r.tier is Tier.LOCAL:
                text = f"{format_usd(r.per_month)} (local)"
            else:  # "≈": priced from a token count that is an estimate
                approx = (
                    self.text_mode.isChecked() and "estimate" in (self._text_tokens or (0, ""))[1]
                )
                text = ("≈ " if approx else "") + format_usd(r.per_month, 2)
            if r.is_baseline:
                text += " · baseline"
            bars.append(
                Bar(
                    label=r.model_id,
                    value=None if r.per_month is None else float(r.per_month),
                    text=text,
                    tier=r.tier.value,
                    tooltip=f"{r.name}\n{r.limits}\n{format_usd(r.per_request)} per request",
                )
            )
        i = self._inputs
        self.chart.set_title(
            f"Cost per month ({i.requests_per_day:,} requests/day × {i.days} days)"
        )
        self.chart.set_bars(bars, format_tick=usd_tick)

    def _update_summary(self) -> None:
        rows = self._rows
        if not rows:
            self.summary.setText(
                "Pick models on the left (or a preset) to compare what this workload costs."
            )
            return
        i = self._inputs
        approx = self.text_mode.isChecked() and "estimate" in (self._text_tokens or (0, ""))[1]
        parts = [
            f"{'≈ ' if approx else ''}{i.prompt_tokens:,} prompt + {i.output_tokens:,} output "
            "tokens per request, "
            f"{i.requests_per_day:,} requests/day."
        ]
        base = next((r for r in rows if r.is_baseline), None)
        known = [r for r in rows if r.per_month is not None and not r.is_baseline]
        if base is not None:
            if base.per_month is None:
                parts.append(f"Baseline {base.model_id} has an unknown price: no savings figure.")
            elif known:
                best = min(known, key=lambda r: r.per_month)  # type: ignore[arg-type, return-value]
                saving = best.savings_month
                if saving is not None and saving > 0:
                    pct = f" ({saving / base.per_month:.0%})" if base.per_month else ""
                    parts.append(
                        f"Against {base.model_id} ({format_usd(base.per_month, 2)}/month), "
                        f"{best.model_id} saves {format_usd(saving, 2)}/month{pct}."
                    )
                else:
                    parts.append(f"{base.model_id} is already the cheapest option compared.")
        unknown = [r.model_id for r in rows if r.per_request is None]
        if unknown:
            parts.append(f"Unknown cost (variable price): {', '.join(unknown)}.")
        self.summary.setText(" ".join(parts))

    # --- export ------------------------------------------------------------------------------

    def csv_text(self) -> str:
        return cost_rows_csv(self._rows, self._inputs, self._shown_baseline)

    def as_text(self) -> str:
        i = self._inputs
        head = (
            f"Cost comparison: {i.prompt_tokens:,} prompt + {i.output_tokens:,} output tokens "
            f"per request, {i.requests_per_day:,} requests/day, {i.days}-day month\n\n"
        )
        return head + text_table(self.table_model.as_text_rows())

    def copy_as_text(self) -> str:
        text = self.as_text()
        QGuiApplication.clipboard().setText(text)
        return text

    def export_csv(self, path: str | Path) -> Job:
        """Write the comparison as CSV to ``path`` (in a worker); ``exported`` says when."""
        text = self.csv_text()
        return self.controller.runner.run_blocking(
            "export the cost comparison",
            _write_text,
            str(path),
            text,
            on_done=self._export_done,
            on_error=self._export_error,
        )

    def export_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the comparison", "cost-comparison.csv", "CSV files (*.csv)"
        )
        if path:
            self.export_csv(path)

    def _export_done(self, path: str) -> None:
        self.banner.show_message(f"Saved {path}.", "success")
        self.exported.emit(path)

    def _export_error(self, exc: BaseException) -> None:
        self.banner.show_message(f"Could not save the CSV: {exc}", "error")
        self.export_failed.emit(str(exc))


__all__ = ["CostPane", "cheapest_paid", "usd_tick", "used_models"]
