"""Route playground, single task: describe a task, see where it goes and why, and run it.

The decision shows as a card (model, tier, estimated cost, the reasons) with its fallback
chain, the candidate table (each factor's contribution to the score) and the rejected models
with their reasons. Routing runs in a worker; running streams the answer on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QEvent, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from locallama_gui.core.cost import format_usd
from locallama_gui.core.models import Source, Tier
from locallama_gui.core.routing import (
    CAPABILITIES,
    CATEGORIES,
    FreePreference,
    Policy,
    Priority,
    RouteDecision,
    Task,
)
from locallama_gui.core.tokens import estimate_complexity, estimate_tokens
from locallama_gui.gui import theme
from locallama_gui.gui.bridge import Job
from locallama_gui.gui.models.cost_model import make_sort_proxy
from locallama_gui.gui.models.sim_model import (
    FACTOR_HEADERS,
    CandidateTableModel,
    RejectedTableModel,
)
from locallama_gui.gui.widgets.layout import inputs_and_results
from locallama_gui.gui.widgets.prompt_edit import PromptEdit, held_note, too_large_to_show
from locallama_gui.gui.widgets.states import Banner
from locallama_gui.gui.widgets.streaming import StreamedRun, append_streamed

log = logging.getLogger(__name__)

FREE_PREF_TEXT = {
    FreePreference.PREFER: "Prefer $0 models",
    FreePreference.ONLY: "Only $0 models",
    FreePreference.AVOID: "Avoid free models",
    FreePreference.OFF: "No preference",
}
PROMPT_PLACEHOLDER = "The prompt to route (Ctrl+Enter routes it)"
PASTED = "the pasted text"
#: Prompts longer than this say "Counting…" while their tokens are counted.
LONG_PROMPT_CHARS = 50_000
NO_SOURCE_TIP = (
    "No source is connected for this chain: add an OpenRouter API key in Settings, or start "
    "a local server (Ollama, LM Studio) and refresh the catalogue."
)


def analyse_prompt(text: str) -> tuple[int, str, float]:
    """(tokens, how they were counted, estimated complexity): blocking, run in a worker."""
    est = estimate_tokens(text)
    return est.tokens, est.method, estimate_complexity(text)


def route_for_view(services: Any, task: Task, policy: Policy) -> RouteDecision:
    """Route and build what the view shows (candidates, rejections, reasons) in the worker."""
    decision = services.route(task, policy, record=True)
    _ = decision.chain, decision.candidates, decision.rejected, decision.why, decision.estimate
    return decision


def _key_store(controller: Any) -> Any:
    """The app's key store when the controller has one, else a private one."""
    store = getattr(controller, "key_store", None)
    if store is not None:
        return store
    from locallama_gui.secrets import KeyStore

    return KeyStore()


class LiveExecutor:
    """Runs a decision along its chain with the services' runner, one HTTP client per run.

    The API key is read from the key store off the GUI thread (``refresh_key`` before the
    Run button is offered, ``run`` again at the start of each run).
    """

    def __init__(self, services: Any, key_store: Any) -> None:
        self.services = services
        self.key_store = key_store
        self.key_present = False

    async def _read_key(self) -> str | None:
        from locallama_gui.secrets import KeyStoreError

        try:
            key = await self.key_store.get()
        except KeyStoreError as e:
            log.info("no API key for running: %s", e)
            key = None
        self.key_present = bool(key)
        return key

    async def refresh_key(self) -> bool:
        await self._read_key()
        return self.key_present

    def can_run(self, decision: RouteDecision) -> bool:
        endpoints = self.services.settings.endpoints
        for model in (c.model for c in decision.chain):
            if model.source is Source.OPENROUTER:
                if self.key_present and endpoints.openrouter_enabled:
                    return True
            elif (
                (model.source is Source.OLLAMA and endpoints.ollama_enabled)
                or (model.source is Source.LMSTUDIO and endpoints.lmstudio_enabled)
                or (model.source.is_local and model.local is not None and model.local.server_url)
            ):
                return True
        return False

    async def run(
        self,
        decision: RouteDecision,
        prompt: str,
        *,
        on_delta: Callable[[str], None],
        on_attempt: Callable[[str], None],
        cancel: asyncio.Event,
    ) -> Any:
        from locallama_gui.services.live import LiveServices
        from locallama_gui.services.runner import Runner

        api_key = await self._read_key()
        async with LiveServices(self.services, api_key=api_key) as live:
            return await Runner(live, client="gui").run(
                decision, prompt, on_delta=on_delta, on_attempt=on_attempt, cancel=cancel
            )


def default_executor_factory(controller: Any) -> Any:
    """The executor Run uses, or None when there is no runner to run with."""
    services = controller.services
    if services is None:
        return None
    try:
        import locallama_gui.services.runner  # noqa: F401
    except ImportError:
        return None
    return LiveExecutor(services, _key_store(controller))


class DecisionCard(QFrame):
    """The chosen model, its tier, the estimated cost, the reasons and the fallback chain."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        # The coloured style sheet sits on an inner frame: a widget with a style sheet of its
        # own gets a fixed palette and no longer hears of palette changes, so a theme switched
        # while the app runs would leave a light card in a dark window.
        self._body = QFrame()
        self._body.setObjectName("decisionCard")
        self._body.setFrameShape(QFrame.Shape.StyledPanel)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._body)
        v = QVBoxLayout(self._body)
        v.setContentsMargins(12, 10, 12, 10)
        top = QHBoxLayout()
        self.model_label = QLabel("No decision yet")
        self.model_label.setObjectName("cardModel")
        font = self.model_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.model_label.setFont(font)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tier_label = QLabel()
        self.tier_label.setVisible(False)
        self.cost_label = QLabel()
        cf = self.cost_label.font()
        cf.setBold(True)
        self.cost_label.setFont(cf)
        top.addWidget(self.model_label, 1)
        top.addWidget(self.tier_label)
        top.addSpacing(8)
        top.addWidget(self.cost_label)
        v.addLayout(top)
        self.name_label = QLabel("Describe a task and press Route (Ctrl+Enter).")
        self.name_label.setWordWrap(True)
        v.addWidget(self.name_label)
        self.why_label = QLabel()
        self.why_label.setWordWrap(True)
        self.why_label.setTextFormat(Qt.TextFormat.RichText)
        self.why_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.why_label)
        self.chain_label = QLabel()
        self.chain_label.setWordWrap(True)
        self.chain_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.chain_label)
        self._tier: Tier | None = None
        self._below = False
        self.why_lines: tuple[str, ...] = ()
        self._restyle()

    def show_decision(self, decision: RouteDecision) -> None:
        chosen = decision.chosen
        self.why_lines = decision.why
        self._below = decision.below_threshold
        if chosen is None:
            self._tier = None
            self.model_label.setText("Nothing can run this task")
            self.name_label.setText("Every model was rejected: see the Rejected tab.")
            self.tier_label.setVisible(False)
            self.cost_label.setText("")
        else:
            m = chosen.model
            self._tier = m.tier
            self.model_label.setText(m.id)
            extra = (
                "  ·  BELOW THRESHOLD: nothing reaches the required quality" if self._below else ""
            )
            self.name_label.setText(f"{m.name}{extra}")
            self.tier_label.setText(f" {theme.tier_label(m.tier)} ")
            self.tier_label.setVisible(True)
            self.cost_label.setText(self.cost_text(decision))
        items = "".join(f"<li>{_html(line)}</li>" for line in decision.why)
        self.why_label.setText(f"<ul style='margin-left:-20px'>{items}</ul>")
        if decision.chain:
            approx = "" if decision.resolved.tokens_exact else "≈ "  # an estimated prompt count
            steps = " → ".join(
                f"{c.id} ({c.tier.value}, {approx if c.cost_usd else ''}{format_usd(c.cost_usd)})"
                for c in decision.chain
            )
            self.chain_label.setText(f"Chain: {steps}")
        else:
            self.chain_label.setText("")
        self._restyle()

    @staticmethod
    def cost_text(decision: RouteDecision) -> str:
        est = decision.estimate
        if est is None:
            return ""
        if est.total_usd is None:
            return "cost unknown"
        if est.tier is Tier.FREE:
            return f"{format_usd(est.total_usd)} (free)"
        if est.tier is Tier.LOCAL:
            return f"{format_usd(est.total_usd)} (local)"
        return f"≈ {format_usd(est.total_usd)}"

    def clear(self, text: str) -> None:
        self._tier = None
        self.why_lines = ()
        self.model_label.setText("No decision yet")
        self.name_label.setText(text)
        self.tier_label.setVisible(False)
        self.cost_label.setText("")
        self.why_label.setText("")
        self.chain_label.setText("")
        self._restyle()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._restyle()
        super().changeEvent(event)

    def _restyle(self) -> None:
        dark = theme.is_dark(self.palette())
        tone = "warning" if self._below else "info"
        _fg, bg, border = theme.tone_colours(tone, dark)
        sheet = (
            f"QFrame#decisionCard {{ border: 1px solid {border}; border-radius: 6px; "
            f"background: {bg}; }}"
        )
        if self._body.styleSheet() != sheet:
            self._body.setStyleSheet(sheet)
        if self._tier is not None:
            badge = theme.tier_badge(self._tier, dark)
            tsheet = (
                f"color: {badge.fg.name()}; background: {badge.bg.name()}; "
                f"border-radius: 4px; padding: 1px 6px; font-weight: bold;"
            )
            if self.tier_label.styleSheet() != tsheet:
                self.tier_label.setStyleSheet(tsheet)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SingleTaskView(QWidget):
    """One task: inputs on the left, the decision on the right."""

    routed = Signal(object)  # RouteDecision
    run_finished = Signal(object)  # RunResult (or what the executor returned)

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.executor_factory: Callable[[Any], Any] = default_executor_factory
        self.decision: RouteDecision | None = None
        self._pinned: str | None = None
        self._analysis: tuple[int, str, float] | None = None
        #: A prompt too large to show (a big paste): kept here, not in the editor.
        self._held_prompt: str | None = None
        self._route_job: Job | None = None
        self._analyse_job: Job | None = None
        self._run = StreamedRun(controller.runner)
        self._executor_key: tuple | None = None
        self._executor_obj: Any = None
        self._key_job: Job | None = None
        self._build()

    # --- construction -------------------------------------------------------------------------

    def _build(self) -> None:
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 6, 0)
        task_box = QGroupBox("Task")
        tv = QVBoxLayout(task_box)
        self.prompt_edit = PromptEdit()
        self.prompt_edit.setPlaceholderText(PROMPT_PLACEHOLDER)
        self.prompt_edit.setMinimumHeight(110)
        tv.addWidget(self.prompt_edit, 1)
        info_row = QHBoxLayout()
        self.prompt_info = QLabel("Empty prompt: type or paste one.")
        self.prompt_info.setWordWrap(True)
        self.clear_prompt_button = QPushButton("Clear")
        self.clear_prompt_button.setToolTip("Forget the prompt that is too large to show")
        self.clear_prompt_button.setVisible(False)
        info_row.addWidget(self.prompt_info, 1)
        info_row.addWidget(self.clear_prompt_button)
        tv.addLayout(info_row)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.output_tokens = QSpinBox()
        self.output_tokens.setRange(0, 1_000_000)
        self.output_tokens.setGroupSeparatorShown(True)
        self.output_tokens.setValue(512)
        form.addRow("Output tokens", self.output_tokens)
        cx = QHBoxLayout()
        self.auto_complexity = QCheckBox("Auto")
        self.auto_complexity.setChecked(True)
        self.complexity_slider = QSlider(Qt.Orientation.Horizontal)
        self.complexity_slider.setRange(0, 100)
        self.complexity_slider.setValue(50)
        self.complexity_slider.setEnabled(False)
        self.complexity_value = QLabel("0.50")
        self.complexity_value.setMinimumWidth(
            self.complexity_value.fontMetrics().horizontalAdvance("0.00 ")
        )
        cx.addWidget(self.auto_complexity)
        cx.addWidget(self.complexity_slider, 1)
        cx.addWidget(self.complexity_value)
        form.addRow("Complexity", cx)
        self.category = QComboBox()
        self.category.addItems(CATEGORIES)
        form.addRow("Category", self.category)
        self.priority = QComboBox()
        for p in Priority:
            self.priority.addItem(p.value.capitalize(), p.value)
        form.addRow("Priority", self.priority)
        self.free_pref = QComboBox()
        for fp in FreePreference:
            self.free_pref.addItem(FREE_PREF_TEXT[fp], fp.value)
        form.addRow("Free models", self.free_pref)
        caps = QGridLayout()
        caps.setContentsMargins(0, 0, 0, 0)
        self.capability_boxes: dict[str, QCheckBox] = {}
        for k, cap in enumerate(CAPABILITIES):
            box = QCheckBox(cap)
            self.capability_boxes[cap] = box
            caps.addWidget(box, k // 2, k % 2)
        form.addRow("Needs", caps)
        self.budget = QLineEdit()
        self.budget.setPlaceholderText("no limit (USD per task)")
        self.budget.setClearButtonEnabled(True)
        form.addRow("Budget", self.budget)
        flags = QHBoxLayout()
        self.allow_paid = QCheckBox("Allow paid")
        self.allow_paid.setChecked(True)
        self.local_only = QCheckBox("Local only")
        flags.addWidget(self.allow_paid)
        flags.addWidget(self.local_only)
        flags.addStretch(1)
        form.addRow("", flags)
        tv.addLayout(form)
        pin_row = QHBoxLayout()
        self.pin_label = QLabel()
        self.pin_label.setWordWrap(True)
        self.unpin_button = QPushButton("Unpin")
        pin_row.addWidget(self.pin_label, 1)
        pin_row.addWidget(self.unpin_button)
        self.pin_box = QWidget()
        self.pin_box.setLayout(pin_row)
        pin_row.setContentsMargins(0, 0, 0, 0)
        self.pin_box.setVisible(False)
        tv.addWidget(self.pin_box)
        lv.addWidget(task_box, 1)
        buttons = QHBoxLayout()
        self.route_button = QPushButton("Route")
        self.route_button.setToolTip("Route the task (Ctrl+Enter)")
        self.route_button.setDefault(True)
        self.run_button = QPushButton("Run")
        self.run_button.setEnabled(False)
        self.run_button.setToolTip("Route a task first")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        buttons.addWidget(self.route_button, 1)
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.stop_button)
        lv.addLayout(buttons)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(left)
        scroll.setMinimumWidth(320)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(6, 0, 0, 0)
        self.banner = Banner()
        rv.addWidget(self.banner)
        self.card = DecisionCard()
        rv.addWidget(self.card)
        self.tabs = QTabWidget()
        self.candidate_model = CandidateTableModel(self)
        self.candidate_proxy = make_sort_proxy(self.candidate_model, self)
        self.candidate_table = _table(self.candidate_proxy)
        self.candidate_table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        # model ids are long: a readable width the user can drag, the figures sized to fit
        self.candidate_table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.Interactive
        )
        self.candidate_table.horizontalHeader().resizeSection(1, MODEL_COLUMN_WIDTH)
        self.rejected_model = RejectedTableModel(self)
        self.rejected_proxy = make_sort_proxy(self.rejected_model, self)
        self.rejected_table = _table(self.rejected_proxy)
        self.rejected_table.horizontalHeader().setSectionResizeMode(
            2, QHeaderView.ResizeMode.Stretch
        )
        run_page = QWidget()
        rp = QVBoxLayout(run_page)
        self.run_status = QLabel("Run sends the task along the chain and streams the answer.")
        self.run_status.setWordWrap(True)
        self.run_output = QPlainTextEdit()
        self.run_output.setReadOnly(True)
        self.run_result = QLabel()
        self.run_result.setWordWrap(True)
        self.run_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        rp.addWidget(self.run_status)
        rp.addWidget(self.run_output, 1)
        rp.addWidget(self.run_result)
        self.tabs.addTab(self.candidate_table, "Candidates")
        self.tabs.addTab(self.rejected_table, "Rejected")
        self.tabs.addTab(run_page, "Run")
        rv.addWidget(self.tabs, 1)

        inputs_and_results(self, scroll, right, 340)

        self._analyse_timer = QTimer(self)
        self._analyse_timer.setSingleShot(True)
        self._analyse_timer.setInterval(250)
        self._analyse_timer.timeout.connect(self._analyse)
        self.prompt_edit.textChanged.connect(self._prompt_changed)
        self.prompt_edit.too_large.connect(lambda text: self._hold_prompt(PASTED, text))
        self.clear_prompt_button.clicked.connect(lambda: self.set_prompt_text(""))
        self.auto_complexity.toggled.connect(self._auto_toggled)
        self.complexity_slider.valueChanged.connect(
            lambda v: self.complexity_value.setText(f"{v / 100:.2f}")
        )
        self.route_button.clicked.connect(self.route)
        self.run_button.clicked.connect(self.run)
        self.stop_button.clicked.connect(self.stop)
        self.unpin_button.clicked.connect(lambda: self.pin_model(None))
        self.budget.textChanged.connect(self._check_budget)
        for seq in ("Ctrl+Return", "Ctrl+Enter"):
            sc = QShortcut(QKeySequence(seq), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(self.route)
        self.prompt_edit.installEventFilter(self)

    def eventFilter(self, obj: Any, event: QEvent) -> bool:
        # The editor would take Ctrl+Enter as a newline: route instead.
        if obj is self.prompt_edit and event.type() == QEvent.Type.KeyPress:
            key = event.key()  # type: ignore[attr-defined]
            mods = event.modifiers()  # type: ignore[attr-defined]
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
                mods & Qt.KeyboardModifier.ControlModifier
            ):
                self.route()
                return True
        return super().eventFilter(obj, event)

    # --- inputs -------------------------------------------------------------------------------

    def apply_settings(self, settings: Any) -> None:
        r = settings.routing
        _select_data(self.priority, r.priority)
        _select_data(self.free_pref, r.free_preference)
        self.allow_paid.setChecked(r.allow_paid)
        self.local_only.setChecked(r.local_only)
        self.budget.setText("" if r.budget_usd is None else str(r.budget_usd))

    def prompt_text(self) -> str:
        """The prompt: the editor's text, or the one kept out of it (too large to show)."""
        if self._held_prompt is not None:
            return self._held_prompt
        return self.prompt_edit.toPlainText()

    def set_prompt_text(self, text: str) -> None:
        """Put ``text`` in the editor, or keep it aside when it is too large to show."""
        if too_large_to_show(text):
            self._hold_prompt("the prompt", text)
            return
        self._release_prompt()
        self.prompt_edit.setPlainText(text)

    def _hold_prompt(self, name: str, text: str) -> None:
        self._held_prompt = text
        with QSignalBlocker(self.prompt_edit):
            self.prompt_edit.clear()
        self.prompt_edit.setPlaceholderText(
            held_note(name[:1].upper() + name[1:], len(text), "it is counted and routed whole")
        )
        self.prompt_edit.setReadOnly(True)
        self.clear_prompt_button.setVisible(True)
        self._prompt_changed()

    def _release_prompt(self) -> None:
        if self._held_prompt is None:
            return
        self._held_prompt = None
        self.prompt_edit.setPlaceholderText(PROMPT_PLACEHOLDER)
        self.prompt_edit.setReadOnly(False)
        self.clear_prompt_button.setVisible(False)
        self._prompt_changed()

    def _prompt_changed(self) -> None:
        self._analysis = None
        if self._analyse_job is not None:  # its answer is for a text that is gone
            self._analyse_job.cancel()
            self._analyse_job = None
        self._analyse_timer.start()

    def _analyse(self) -> None:
        text = self.prompt_text()
        if self._analyse_job is not None:
            self._analyse_job.cancel()
            self._analyse_job = None
        if not text:
            self.prompt_info.setText("Empty prompt: type or paste one.")
            self._analysis = (0, "no prompt", 0.0)
            return
        if len(text) > LONG_PROMPT_CHARS:  # a count that takes a moment says so
            self.prompt_info.setText(f"Counting the tokens of {len(text):,} characters…")
        self._analyse_job = self.controller.runner.run_blocking(
            "estimate the prompt", analyse_prompt, text, on_done=self._analysed
        )

    def _analysed(self, result: tuple[int, str, float]) -> None:
        self._analyse_job = None
        self._analysis = result
        tokens, method, cx = result
        self.prompt_info.setText(f"{tokens:,} tokens ({method}); estimated complexity {cx:.2f}.")
        if self.auto_complexity.isChecked():
            self.complexity_slider.blockSignals(True)
            self.complexity_slider.setValue(round(cx * 100))
            self.complexity_slider.blockSignals(False)
            self.complexity_value.setText(f"auto {cx:.2f}")

    def _auto_toggled(self, auto: bool) -> None:
        self.complexity_slider.setEnabled(not auto)
        v = self.complexity_slider.value() / 100
        if auto and self._analysis is not None:
            self.complexity_value.setText(f"auto {self._analysis[2]:.2f}")
        else:
            self.complexity_value.setText(f"{v:.2f}")

    def _check_budget(self) -> None:
        ok = self._budget_value() is not False
        self.budget.setStyleSheet("" if ok else f"color: {theme.error_colour()};")
        self.budget.setToolTip("" if ok else "A budget is an amount in USD, e.g. 0.01")

    def _budget_value(self) -> Decimal | bool | None:
        text = self.budget.text().strip().lstrip("$").replace(",", "")
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            return False
        if not value.is_finite() or value < 0:
            return False
        return value

    def set_complexity(self, value: float | None) -> None:
        """``None``: automatic (from the prompt); else a fixed complexity in [0, 1]."""
        self.auto_complexity.setChecked(value is None)
        if value is not None:
            self.complexity_slider.setValue(round(value * 100))

    def current_task(self) -> Task:
        caps = frozenset(c for c, box in self.capability_boxes.items() if box.isChecked())
        text = self.prompt_text()
        complexity = (
            None if self.auto_complexity.isChecked() else self.complexity_slider.value() / 100
        )
        return Task(
            prompt=text or None,
            output_tokens=self.output_tokens.value(),
            complexity=complexity,
            category=self.category.currentText(),
            capabilities=caps,
            priority=Priority(self.priority.currentData()),
        )

    def current_policy(self) -> Policy:
        services = self.controller.services
        budget = self._budget_value()
        if budget is False:
            raise ValueError("The budget is not an amount in USD (for example 0.01).")
        overrides: dict[str, Any] = {
            "free_preference": FreePreference(self.free_pref.currentData()),
            "allow_paid": self.allow_paid.isChecked(),
            "local_only": self.local_only.isChecked(),
            "budget_usd": budget,
            "pinned": self._pinned,
        }
        if services is None:
            return Policy(**overrides)
        return services.default_policy(**overrides)

    # --- pinning ----------------------------------------------------------------------------

    @property
    def pinned(self) -> str | None:
        return self._pinned

    def pin_model(self, model_id: str | None) -> None:
        self._pinned = model_id
        self.pin_box.setVisible(model_id is not None)
        if model_id is not None:
            self.pin_label.setText(
                f"Pinned: {model_id} (leads the chain when it passes the filters)"
            )

    def open_task(self, task: Task) -> Job | None:
        """Fill the inputs from ``task`` (the policy from the settings, nothing pinned) and
        route it: the quick router's "Open in playground"."""
        services = self.controller.services
        if services is not None:
            self.apply_settings(services.settings)
        self.set_prompt_text(task.prompt or "")
        self.output_tokens.setValue(task.output_tokens)
        self.set_complexity(task.complexity)
        self.category.setCurrentText(task.category)
        _select_data(self.priority, task.priority.value)
        for cap, box in self.capability_boxes.items():
            box.setChecked(cap in task.capabilities)
        self.pin_model(None)
        return self.route()

    # --- routing ------------------------------------------------------------------------------

    def route(self) -> Job | None:
        services = self.controller.services
        if services is None:
            return None
        try:
            task = self.current_task()
            policy = self.current_policy()
        except ValueError as e:
            self.banner.show_message(str(e), "error")
            return None
        self.banner.dismiss()
        if self._route_job is not None:
            self._route_job.cancel()
        self.route_button.setEnabled(False)
        self.route_button.setText("Routing…")
        self._route_job = self.controller.runner.run_blocking(
            "route the task",
            route_for_view,
            services,
            task,
            policy,
            on_done=self._show_decision,
            on_error=self._route_failed,
        )
        return self._route_job

    def _reset_route_button(self) -> None:
        self._route_job = None
        self.route_button.setEnabled(True)
        self.route_button.setText("Route")

    def _route_failed(self, exc: BaseException) -> None:
        self._reset_route_button()
        self.banner.show_message(f"Routing failed: {exc}", "error")

    def _show_decision(self, decision: RouteDecision) -> None:
        """The card at once; the tables (hundreds of candidates and rejections) in the next
        turns of the event loop, one each, so that no turn holds the window for long.
        ``routed`` is emitted once all of it is shown."""
        self._reset_route_button()
        self.decision = decision
        self.card.show_decision(decision)
        self._update_run_button()
        QTimer.singleShot(0, self, lambda: self._show_candidates(decision))

    def _show_candidates(self, decision: RouteDecision) -> None:
        if self.decision is not decision:
            return  # a newer decision came in meanwhile
        self.candidate_model.set_candidates(decision.candidates, decision.chain_ids)
        self._hide_idle_factors(decision)
        self.candidate_table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.tabs.setTabText(0, f"Candidates ({len(decision.candidates)})")
        if self.tabs.currentIndex() == 2 and not self._run.running:
            self.tabs.setCurrentIndex(0)
        QTimer.singleShot(0, self, lambda: self._show_rejections(decision))

    def _show_rejections(self, decision: RouteDecision) -> None:
        if self.decision is not decision:
            return
        self.rejected_model.set_rejections(decision.rejected)
        self.tabs.setTabText(1, f"Rejected ({len(decision.rejected)})")
        hist = getattr(self.controller, "history_changed", None)
        if hist is not None:
            hist.emit()
        self.routed.emit(decision)

    def _hide_idle_factors(self, decision: RouteDecision) -> None:
        """Factors that add nothing to any candidate (no observations, no local models)."""
        for name in ("reliability", "local"):
            col = self.candidate_model.column_index(FACTOR_HEADERS[name])
            idle = all(not c.factors.get(name) for c in decision.candidates)
            self.candidate_table.setColumnHidden(col, idle)

    def invalidate(self, reason: str) -> None:
        """The catalogue or settings changed: the shown decision may be stale."""
        if self.decision is not None:
            self.banner.show_message(f"{reason} Route again to update the decision.", "info")

    # --- running ----------------------------------------------------------------------------

    def _executor(self) -> Any:
        key = (self.executor_factory, id(self.controller.services))
        if self._executor_key != key:
            self._executor_key = key
            self._executor_obj = self.executor_factory(self.controller)
        return self._executor_obj

    def refresh_sources(self) -> Job | None:
        """Check (off the GUI thread) whether an API key is there, then re-offer Run."""
        ex = self._executor()
        refresh = getattr(ex, "refresh_key", None)
        if refresh is None:
            self._update_run_button()
            return None
        if self._key_job is not None:
            self._key_job.cancel()  # an older answer must not land after this one
        self._key_job = self.controller.runner.run_async(
            "check the API key",
            refresh(),
            on_done=lambda _present: self._update_run_button(),
            on_error=lambda _exc: self._update_run_button(),
        )
        return self._key_job

    def _update_run_button(self) -> None:
        running = self._run.running
        self.stop_button.setEnabled(running)
        if running:
            self.run_button.setEnabled(False)
            return
        if self.decision is None or not self.decision.chain:
            self.run_button.setEnabled(False)
            self.run_button.setToolTip("Route a task first")
            return
        ex = self._executor()
        if ex is None:
            self.run_button.setEnabled(False)
            self.run_button.setToolTip("No source is connected: running is not available.")
            return
        can = getattr(ex, "can_run", None)
        if can is not None and not can(self.decision):
            self.run_button.setEnabled(False)
            self.run_button.setToolTip(NO_SOURCE_TIP)
            return
        self.run_button.setEnabled(True)
        self.run_button.setToolTip("Run the task along the chain and stream the answer")

    def run(self) -> Job | None:
        decision = self.decision
        ex = self._executor()
        if decision is None or ex is None or self._run.running:
            return None
        prompt = self.prompt_text()
        if not prompt.strip():
            self.banner.show_message("Running needs a prompt.", "warning")
            return None
        self.tabs.setCurrentIndex(2)
        self.run_output.clear()
        self.run_result.setText("")
        self.run_status.setText("Starting…")
        job = self._run.start(
            ex,
            decision,
            prompt,
            on_delta=self._on_delta,
            on_attempt=self._on_attempt,
            on_done=self._run_done,
            on_failed=self._run_failed,
        )
        self._update_run_button()
        return job

    def stop(self) -> None:
        if self._run.stop():
            self.run_status.setText("Stopping…")

    def _on_attempt(self, model_id: str) -> None:
        self.run_output.clear()  # a model that failed half way leaves no partial text
        self.run_status.setText(f"Asking {model_id}…")

    def _on_delta(self, text: str) -> None:
        append_streamed(self.run_output, text)

    def _run_done(self, result: Any) -> None:
        self._update_run_button()
        self.run_status.setText(self.describe_run(result))
        attempts = getattr(result, "attempts", ())
        tried = [a for a in attempts if getattr(a, "outcome", "") != "ok"]
        if tried:
            self.run_result.setText(
                "Also tried: "
                + "; ".join(f"{a.model_id}: {a.outcome} ({a.error or ''})" for a in tried)
            )
        chat = getattr(result, "result", None)
        if chat is not None and not self.run_output.toPlainText():
            self.run_output.setPlainText(chat.text)
        hist = getattr(self.controller, "history_changed", None)
        if hist is not None:
            hist.emit()
        self.run_finished.emit(result)

    @staticmethod
    def describe_run(result: Any) -> str:
        if getattr(result, "cancelled", False):
            return "Stopped."
        chat = getattr(result, "result", None)
        if chat is None:
            return f"No answer: {getattr(result, 'error', None) or 'every model failed'}"
        served = chat.model_used or result.model_id
        parts = [f"Served by {served}"]
        if result.tier:
            parts[0] += f" ({result.tier})"
        usage = chat.usage
        if usage is not None:
            parts.append(f"{usage.prompt_tokens:,} in / {usage.completion_tokens:,} out tokens")
        if chat.latency_ms is not None:
            parts.append(f"{chat.latency_ms / 1000:.2f} s")
        if chat.ttft_ms is not None:
            parts.append(f"first token {chat.ttft_ms / 1000:.2f} s")
        cost = chat.cost_usd
        parts.append(
            f"cost {format_usd(cost, 10)}" + (f" ({chat.cost_source})" if cost is not None else "")
        )
        return " · ".join(parts)

    def _run_failed(self, exc: BaseException) -> None:
        self._update_run_button()
        self.run_status.setText(f"The run failed: {exc}")

    @property
    def running(self) -> bool:
        return self._run.running


MODEL_COLUMN_WIDTH = 250


def _table(model: Any) -> QTableView:
    t = QTableView()
    t.setModel(model)
    t.setSortingEnabled(True)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setAlternatingRowColors(True)
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setDefaultSectionSize(t.fontMetrics().height() + 8)
    t.setWordWrap(False)
    hh = t.horizontalHeader()
    hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    # Size the columns by the rows on show, not by all of them: a decision has hundreds of
    # candidates and rejections, and measuring every cell (through Python, several roles
    # each) on every layout pass stalled the window for most of a second.
    hh.setResizeContentsPrecision(0)
    hh.setStretchLastSection(False)
    return t


def _select_data(combo: QComboBox, value: str) -> None:
    k = combo.findData(value)
    if k >= 0:
        combo.setCurrentIndex(k)


__all__ = [
    "DecisionCard",
    "LiveExecutor",
    "SingleTaskView",
    "analyse_prompt",
    "default_executor_factory",
    "route_for_view",
]
