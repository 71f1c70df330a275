"""The route playground: a single task routed and run, or a batch simulated.

Four sub-tabs: "Single task" (:mod:`.playground_single`), "Batch simulation"
(:mod:`.playground_batch`), "Benchmark" (:mod:`.playground_benchmark`: graded tasks on chosen
models) and "Replay" (:mod:`.playground_replay`: the policy replayed on recorded outcomes).
Before the catalogue is open the pane says so.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from locallama_gui.gui.panes.playground_batch import BatchView
from locallama_gui.gui.panes.playground_benchmark import BenchmarkView
from locallama_gui.gui.panes.playground_replay import ReplayView
from locallama_gui.gui.panes.playground_single import SingleTaskView
from locallama_gui.gui.widgets.prompt_edit import load_tokenizer_soon
from locallama_gui.gui.widgets.states import ErrorState, LoadingState


class PlaygroundPane(QWidget):
    """Route a task and see why; simulate a batch under one or two policies."""

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._stack = QStackedWidget()
        self._loading = LoadingState(
            "Loading the catalogue…",
            "Tasks can be routed as soon as the model catalogue is open.",
        )
        self._error = ErrorState("The catalogue could not be opened", "")
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.single = SingleTaskView(controller)
        self.batch = BatchView(controller)
        self.tabs.addTab(self.single, "Single task")
        self.tabs.addTab(self.batch, "Batch simulation")
        self.benchmark = BenchmarkView(controller)
        self.replay = ReplayView(controller)
        self.tabs.addTab(self.benchmark, "Benchmark")
        self.tabs.addTab(self.replay, "Replay")
        self._stack.addWidget(self._loading)
        self._stack.addWidget(self._error)
        self._stack.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)
        controller.services_ready.connect(self._on_services_ready)
        controller.catalogue_changed.connect(self._on_catalogue_changed)
        controller.settings_changed.connect(self._on_settings_changed)
        failed = getattr(controller, "services_failed", None)
        if failed is not None:
            failed.connect(self._on_services_failed)
        if controller.services is not None:
            self._on_services_ready(controller.services)
            self._on_settings_changed(controller.services.settings)

    @property
    def ready(self) -> bool:
        return self._stack.currentWidget() is self.tabs

    def pin_model(self, model_id: str) -> None:
        """Pin ``model_id`` for the next route (it leads the chain if it passes the filters)."""
        self.single.pin_model(model_id)
        self.tabs.setCurrentWidget(self.single)

    def open_task(self, task: Any) -> None:
        """Show the single-task view filled with ``task`` (a routing ``Task``) and route it."""
        self.tabs.setCurrentWidget(self.single)
        self.single.open_task(task)

    def _on_services_ready(self, services: Any) -> None:
        self._stack.setCurrentWidget(self.tabs)
        self.batch.set_catalogue(services)
        self.benchmark.set_catalogue(services)
        self.single.refresh_sources()
        load_tokenizer_soon(self.controller.runner)  # before the first prompt is counted

    def _on_services_failed(self, text: str) -> None:
        self._error.set_text("The catalogue could not be opened", text)
        self._stack.setCurrentWidget(self._error)

    def _on_catalogue_changed(self, _catalogue: object) -> None:
        services = self.controller.services
        if services is None:
            return
        self.batch.set_catalogue(services)
        self.benchmark.set_catalogue(services)
        self.single.invalidate("The catalogue changed.")

    def _on_settings_changed(self, settings: Any) -> None:
        self.single.apply_settings(settings)
        self.batch.apply_settings(settings)
        if self.controller.services is not None:
            self.single.refresh_sources()


__all__ = ["PlaygroundPane"]
