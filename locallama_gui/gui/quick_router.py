"""The quick router: a small always-on-top popup from the tray (or ``locallama-gui --quick``).

Type or paste a task and press Enter: the decision shows at once (model, tier badge, estimated
cost, the first reason). From there the model id can be copied, the task run along the chain
(streaming into the popup, with the same executor the playground uses) or opened in the
playground with the same inputs. Esc closes it (and stops a run in progress).

Routing runs in a worker and running on the event loop: the GUI thread never waits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from locallama_gui.core.routing import Priority, RouteDecision, Task
from locallama_gui.gui import theme
from locallama_gui.gui.bridge import Job
from locallama_gui.gui.panes.playground_single import (
    NO_SOURCE_TIP,
    DecisionCard,
    SingleTaskView,
    default_executor_factory,
    route_for_view,
)
from locallama_gui.gui.widgets.streaming import StreamedRun, append_streamed
from locallama_gui.sources.errors import redact

log = logging.getLogger(__name__)

TITLE = "Quick route"
PLACEHOLDER = "Type or paste a task, then press Enter (Shift+Enter for a new line)"
HINT = "Enter routes · Esc closes"
WIDTH = 560


def quick_task(text: str, services: Any) -> Task:
    """The task the quick router routes: the text, everything else from the settings."""
    priority = services.default_priority() if services is not None else Priority.BALANCED
    return Task(prompt=text, priority=priority)


def one_line_why(decision: RouteDecision) -> str:
    """Why this model, in one line (the model, tier and cost are shown beside it)."""
    lines = [" ".join(line.split()) for line in decision.why]
    for line in lines:
        if line.startswith("Chose ") and "): " in line:
            reason = line.split("): ", 1)[1]
            return reason[:1].upper() + reason[1:]
        if line.startswith(("BELOW THRESHOLD", "No model passed")):
            return line
    return lines[0] if lines else ""


class QuickRouter(QWidget):
    """The popup. ``popup()`` shows and focuses it; ``route``/``run`` are the Enter/Run keys."""

    routed = Signal(object)  # RouteDecision
    run_finished = Signal(object)  # RunResult
    open_in_playground = Signal(object)  # Task: the same inputs, for the playground
    copied = Signal(str)  # the model id put on the clipboard

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.WindowStaysOnTopHint)
        self.controller = controller
        self.setObjectName("quickRouter")
        self.setWindowTitle(f"{TITLE} · LocaLLama Router")
        self.executor_factory: Callable[[Any], Any] = default_executor_factory
        self.decision: RouteDecision | None = None
        self.task: Task | None = None
        self._tier = None
        self._route_job: Job | None = None
        self._run = StreamedRun(controller.runner)
        self._key_job: Job | None = None
        self._executor_key: tuple | None = None
        self._executor_obj: Any = None
        self._status_is_error = False
        self.why_text = ""  # the one-line reason shown (before eliding)
        self._build()
        self._restyle()

    # --- construction -------------------------------------------------------------------------

    def _build(self) -> None:
        self.setMinimumWidth(WIDTH)
        self.setMaximumWidth(WIDTH * 2)
        v = QVBoxLayout(self)
        v.setContentsMargins(12, 12, 12, 12)
        v.setSpacing(8)

        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setObjectName("quickPrompt")
        self.prompt_edit.setPlaceholderText(PLACEHOLDER)
        self.prompt_edit.setTabChangesFocus(True)
        lines = self.prompt_edit.fontMetrics().lineSpacing()
        self.prompt_edit.setFixedHeight(lines * 3 + 16)
        self.prompt_edit.installEventFilter(self)
        v.addWidget(self.prompt_edit)

        self.status_label = QLabel(HINT)
        self.status_label.setObjectName("quickStatus")
        self.status_label.setWordWrap(True)
        v.addWidget(self.status_label)

        self.card = QFrame()
        self.card.setObjectName("quickCard")
        self.card.setFrameShape(QFrame.Shape.StyledPanel)
        cv = QVBoxLayout(self.card)
        cv.setContentsMargins(10, 8, 10, 8)
        cv.setSpacing(4)
        top = QHBoxLayout()
        self.model_label = QLabel()
        self.model_label.setObjectName("quickModel")
        font = self.model_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.model_label.setFont(font)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.tier_label = QLabel()
        self.tier_label.setObjectName("quickTier")
        self.cost_label = QLabel()
        self.cost_label.setObjectName("quickCost")
        cf = self.cost_label.font()
        cf.setBold(True)
        self.cost_label.setFont(cf)
        top.addWidget(self.model_label, 1)
        top.addWidget(self.tier_label)
        top.addSpacing(6)
        top.addWidget(self.cost_label)
        cv.addLayout(top)
        self.why_label = QLabel()
        self.why_label.setObjectName("quickWhy")
        self.why_label.setTextFormat(Qt.TextFormat.PlainText)
        self.why_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        cv.addWidget(self.why_label)
        self.card.setVisible(False)
        v.addWidget(self.card)

        buttons = QHBoxLayout()
        self.copy_button = QPushButton("Copy id")
        self.copy_button.setToolTip("Copy the chosen model's id to the clipboard")
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Route a task first")
        self.stop_button = QPushButton("Stop")
        self.playground_button = QPushButton("Open in playground")
        self.playground_button.setToolTip(
            "Open the playground with this task: the candidates, the rejected models, the chain"
        )
        for b in (self.copy_button, self.run_button, self.stop_button, self.playground_button):
            b.setAutoDefault(False)
            b.setEnabled(False)
        self.stop_button.setVisible(False)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.playground_button)
        v.addLayout(buttons)

        self.run_status = QLabel()
        self.run_status.setObjectName("quickRunStatus")
        self.run_status.setWordWrap(True)
        self.run_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_status.setVisible(False)
        v.addWidget(self.run_status)
        self.output = QPlainTextEdit()
        self.output.setObjectName("quickOutput")
        self.output.setReadOnly(True)
        self.output.setMinimumHeight(lines * 6 + 16)
        self.output.setVisible(False)
        v.addWidget(self.output, 1)

        self.copy_button.clicked.connect(self.copy_model_id)
        self.run_button.clicked.connect(self.run)
        self.stop_button.clicked.connect(self.stop)
        self.playground_button.clicked.connect(self.open_playground)
        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        esc.setContext(Qt.ShortcutContext.WindowShortcut)
        esc.activated.connect(self.close)
        self.resize(WIDTH, self.sizeHint().height())

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # Enter routes; Shift+Enter is a new line in the task.
        if obj is self.prompt_edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            ):
                self.route()
                return True
            if event.key() == Qt.Key.Key_Escape:
                self.close()
                return True
        return super().eventFilter(obj, event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._restyle()
        super().changeEvent(event)

    def _restyle(self) -> None:
        dark = theme.is_dark(self.palette())
        _fg, bg, border = theme.tone_colours("info", dark)
        sheet = (
            f"QFrame#quickCard {{ border: 1px solid {border}; border-radius: 6px; "
            f"background: {bg}; }}"
        )
        if self.card.styleSheet() != sheet:
            self.card.setStyleSheet(sheet)
        muted = f"color: {theme.muted_colour(dark)};"
        if self.status_label.styleSheet() != muted and not self._status_is_error:
            self.status_label.setStyleSheet(muted)
        self.why_label.setStyleSheet("")
        if self._tier is not None:
            badge = theme.tier_badge(self._tier, dark)
            self.tier_label.setStyleSheet(
                f"color: {badge.fg.name()}; background: {badge.bg.name()}; "
                "border-radius: 4px; padding: 1px 6px; font-weight: bold;"
            )

    def _set_status(self, text: str, error: bool = False) -> None:
        self._status_is_error = error
        colour = theme.error_colour() if error else theme.muted_colour()
        self.status_label.setStyleSheet(f"color: {colour};")
        self.status_label.setText(text)

    # --- showing ------------------------------------------------------------------------------

    def popup(self, text: str | None = None) -> None:
        """Show the popup near the top of the screen, focused and ready to type."""
        if text is not None:
            self.prompt_edit.setPlainText(text)
        if not self.isVisible():
            self._place()
        self.show()
        self.raise_()
        self.activateWindow()
        self.prompt_edit.setFocus(Qt.FocusReason.ActiveWindowFocusReason)
        self.prompt_edit.selectAll()

    def _place(self) -> None:
        screen = QGuiApplication.screenAt(self.cursor().pos()) or QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        self.adjustSize()
        x = area.x() + (area.width() - self.width()) // 2
        y = area.y() + area.height() // 5
        self.move(max(area.x(), x), max(area.y(), y))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)

    # --- routing ------------------------------------------------------------------------------

    def route(self) -> Job | None:
        services = self.controller.services
        text = self.prompt_edit.toPlainText().strip()
        if services is None:
            self._set_status("The catalogue is still loading: try again in a moment.", True)
            return None
        if not text:
            self._set_status("Type or paste a task first.", True)
            return None
        try:
            task = quick_task(text, services)
            policy = services.default_policy()
        except ValueError as e:
            self._set_status(str(e), True)
            return None
        if self._route_job is not None and not self._route_job.done():
            self._route_job.cancel()
        self.task = task
        self._set_status("Routing…")
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

    def _route_failed(self, exc: BaseException) -> None:
        self._route_job = None
        self._set_status(redact(f"Routing failed: {exc}"), True)

    def _show_decision(self, decision: RouteDecision) -> None:
        self._route_job = None
        self.decision = decision
        chosen = decision.chosen
        self.card.setVisible(True)
        if chosen is None:
            self._tier = None
            self.model_label.setText("Nothing can run this task")
            self.tier_label.setVisible(False)
            self.cost_label.setText("")
        else:
            self._tier = chosen.tier
            self.model_label.setText(chosen.id)
            self.model_label.setToolTip(chosen.model.name)
            self.tier_label.setText(theme.tier_label(chosen.tier))
            self.tier_label.setVisible(True)
            self.cost_label.setText(DecisionCard.cost_text(decision))
        why = one_line_why(decision)
        self.why_text = why
        self.why_label.setText(
            self.why_label.fontMetrics().elidedText(why, Qt.TextElideMode.ElideRight, WIDTH - 40)
        )
        self.why_label.setToolTip("\n".join(decision.why))
        self.copy_button.setEnabled(chosen is not None)
        self.playground_button.setEnabled(True)
        self._set_status(HINT)
        self._restyle()
        self._check_run()
        hist = getattr(self.controller, "history_changed", None)
        if hist is not None:
            hist.emit()
        self.adjustSize()
        self.routed.emit(decision)

    # --- actions ------------------------------------------------------------------------------

    def copy_model_id(self) -> str | None:
        decision = self.decision
        if decision is None or decision.chosen is None:
            return None
        model_id = decision.chosen.id
        QGuiApplication.clipboard().setText(model_id)
        self._set_status(f"Copied {model_id}")
        self.copied.emit(model_id)
        return model_id

    def open_playground(self) -> None:
        if self.task is None:
            return
        self.open_in_playground.emit(self.task)
        self.close()

    # --- running ------------------------------------------------------------------------------

    def _executor(self) -> Any:
        key = (self.executor_factory, id(self.controller.services))
        if self._executor_key != key:
            self._executor_key = key
            self._executor_obj = self.executor_factory(self.controller)
        return self._executor_obj

    def _check_run(self) -> None:
        """Ask (off the GUI thread) whether a key is there, then offer Run."""
        ex = self._executor()
        refresh = getattr(ex, "refresh_key", None)
        if refresh is None:
            self._update_run_button()
            return
        if self._key_job is not None and not self._key_job.done():
            self._key_job.cancel()
        self._key_job = self.controller.runner.run_async(
            "check the API key",
            refresh(),
            on_done=lambda _present: self._update_run_button(),
            on_error=lambda _exc: self._update_run_button(),
        )

    def _update_run_button(self) -> None:
        running = self._run.running
        self.stop_button.setEnabled(running)
        self.stop_button.setVisible(running)
        decision = self.decision
        if running:
            self.run_button.setEnabled(False)
            return
        ex = self._executor()
        if decision is None or not decision.chain:
            self.run_button.setEnabled(False)
            self.run_button.setToolTip("Route a task first")
        elif ex is None or not (getattr(ex, "can_run", None) is None or ex.can_run(decision)):
            self.run_button.setEnabled(False)
            self.run_button.setToolTip(NO_SOURCE_TIP)
        else:
            self.run_button.setEnabled(True)
            self.run_button.setToolTip("Run the task along the chain and stream the answer")

    @property
    def running(self) -> bool:
        return self._run.running

    def run(self) -> Job | None:
        decision = self.decision
        ex = self._executor()
        if decision is None or ex is None or self._run.running or self.task is None:
            return None
        prompt = self.task.prompt or ""
        self.output.clear()
        self.output.setVisible(True)
        self.run_status.setVisible(True)
        self.run_status.setText("Starting…")
        job = self._run.start(
            ex,
            decision,
            prompt,
            on_delta=lambda text: self._on_delta(text),  # looked up per call (tests wrap it)
            on_attempt=self._on_attempt,
            on_done=self._run_done,
            on_failed=self._run_failed,
        )
        self._update_run_button()
        self.adjustSize()
        return job

    def stop(self) -> None:
        if self._run.stop():
            self.run_status.setText("Stopping…")

    def _on_attempt(self, model_id: str) -> None:
        self.output.clear()  # a model that failed half way leaves no partial text
        self.run_status.setText(f"Asking {model_id}…")

    def _on_delta(self, text: str) -> None:
        append_streamed(self.output, text)

    def _run_done(self, result: Any) -> None:
        self._update_run_button()
        self.run_status.setText(SingleTaskView.describe_run(result))
        chat = getattr(result, "result", None)
        if chat is not None and not self.output.toPlainText():
            self.output.setPlainText(chat.text)
        hist = getattr(self.controller, "history_changed", None)
        if hist is not None:
            hist.emit()
        self.run_finished.emit(result)

    def _run_failed(self, exc: BaseException) -> None:
        self._update_run_button()
        self.run_status.setText(redact(f"The run failed: {exc}"))


__all__ = ["QuickRouter", "one_line_why", "quick_task"]
