"""The main window: panes and shortcuts, status bar, saved layout, theme, exception dialog."""

from __future__ import annotations

import asyncio
import sys

import pytest
from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from locallama_gui.core.settings import AppearanceSettings, Settings
from locallama_gui.gui import theme
from locallama_gui.gui.app import ExceptionDialogHook
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.main_window import PANES, MainWindow
from locallama_gui.services.catalogue import load_snapshot
from locallama_gui.services.facade import Services
from locallama_gui.services.live import SourceStatus
from locallama_gui.store import paths

_WINDOWS: dict[int, list[MainWindow]] = {}


def shut_down(qtbot, loop, controller) -> None:
    """Close the controller's windows (their panes' timers die with them), stop the
    controller, and let the loop finish its cancelled tasks (none left dangling)."""
    for w in _WINDOWS.pop(id(controller), []):
        w.close()
        w.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    controller.shutdown()
    qtbot.waitUntil(lambda: all(t.done() for t in asyncio.all_tasks(loop)), timeout=5000)


@pytest.fixture
def snapshot():
    return load_snapshot()


@pytest.fixture
def controller(qtbot, qloop, snapshot):
    c = AppController(services_factory=lambda: Services(catalogue=snapshot))
    yield c
    shut_down(qtbot, qloop, c)


@pytest.fixture
def restore_theme():
    yield
    theme.apply_theme("system")


def open_window(qtbot, controller) -> MainWindow:
    w = MainWindow(controller)
    _WINDOWS.setdefault(id(controller), []).append(w)
    w.show()
    qtbot.waitExposed(w)
    if controller.services is None:
        controller.start()
    qtbot.waitUntil(lambda: w.catalogue_pane.model.rowCount() > 0, timeout=10_000)
    return w


def test_four_panes_and_keyboard_shortcuts(qtbot, controller):
    w = open_window(qtbot, controller)
    assert [w.nav.item(i).text() for i in range(w.nav.count())] == [t for _k, t, *_ in PANES]
    assert w.current_pane() == "catalogue"
    w.activateWindow()
    for i, (key, *_rest) in enumerate(PANES):
        qtbot.keyClick(w, getattr(Qt.Key, f"Key_{i + 1}"), Qt.KeyboardModifier.ControlModifier)
        assert w.current_pane() == key
        assert w.stack.currentWidget() is w.panes[key]
    qtbot.keyClick(w, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert w.current_pane() == "catalogue"
    assert w.catalogue_pane.search_edit.hasFocus()


def test_the_other_panes_are_real_when_present(qtbot, controller):
    w = open_window(qtbot, controller)
    cost = w.panes["cost"]
    playground = w.panes["playground"]
    assert type(cost).__name__ == "CostPane"
    assert type(playground).__name__ == "PlaygroundPane"


def test_catalogue_actions_feed_cost_and_playground(qtbot, controller, monkeypatch):
    w = open_window(qtbot, controller)
    added: list[str] = []
    pinned: list[str] = []
    monkeypatch.setattr(w.panes["cost"], "add_model", added.append)
    monkeypatch.setattr(w.panes["playground"], "pin_model", pinned.append)
    pane = w.catalogue_pane
    assert pane.select_model("anthropic/claude-sonnet-4.5")
    qtbot.mouseClick(pane.details.estimate_button, Qt.MouseButton.LeftButton)
    assert added == ["anthropic/claude-sonnet-4.5"]
    assert w.current_pane() == "cost"
    w.show_pane("catalogue")
    qtbot.mouseClick(pane.details.route_button, Qt.MouseButton.LeftButton)
    assert pinned == ["anthropic/claude-sonnet-4.5"]
    assert w.current_pane() == "playground"


def test_status_bar_shows_sources_quota_and_key(qtbot, controller, monkeypatch):
    w = open_window(qtbot, controller)
    assert w.source_text("openrouter") == "OpenRouter: snapshot 2026-08-14"
    assert w.source_text("ollama") == "Ollama: not checked"
    qtbot.waitUntil(lambda: w.quota_label.text() == "Free today: 0/50", timeout=5000)
    assert w.key_label.text() == "Key: not set"

    controller.services.record_free_request()
    controller.services.record_free_request()
    controller.history_changed.emit()
    qtbot.waitUntil(lambda: w.quota_label.text() == "Free today: 2/50", timeout=5000)

    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-not-a-real-key")
    w.update_key_state()
    assert w.key_label.text() == "Key: set (environment)"
    assert "sk-or" not in w.key_label.text() + w.key_label.toolTip()


def test_status_bar_follows_each_source_after_a_refresh(qtbot, controller):
    w = open_window(qtbot, controller)
    controller.sources_changed.emit(
        (
            SourceStatus("openrouter", "https://openrouter.ai/api/v1", True),
            SourceStatus("ollama", "http://127.0.0.1:11434", False, "connection refused"),
            SourceStatus("lmstudio", "http://127.0.0.1:1234", True),
            SourceStatus("llamacpp", "http://127.0.0.1:8080", True),
            SourceStatus("openai_compat", "http://127.0.0.1:8000", False, "timed out"),
        )
    )
    assert w.source_text("openrouter").startswith("OpenRouter: live ")
    assert w.source_text("ollama") == "Ollama: down"
    assert "connection refused" in w.source_labels["ollama"].toolTip()
    assert w.source_text("lmstudio") == "LM Studio: up"
    assert w.source_text("other") == "Other servers: 1 of 2 up"
    assert "timed out" in w.source_labels["other"].toolTip()


def test_disabled_source_shows_off_and_credits_raise_the_cap(qtbot, controller):
    w = open_window(qtbot, controller)
    s = controller.services.settings
    new = Settings(
        endpoints=type(s.endpoints)(ollama_enabled=False),
        routing=type(s.routing)(credits_purchased=True),
    )
    controller.apply_settings(new)
    qtbot.waitUntil(lambda: w.source_text("ollama").startswith("Ollama: off"), timeout=5000)
    qtbot.waitUntil(lambda: w.quota_label.text() == "Free today: 0/1000", timeout=5000)


def test_layout_persists_across_windows(qtbot, qloop, snapshot):
    c1 = AppController(services_factory=lambda: Services(catalogue=snapshot))
    w1 = open_window(qtbot, c1)
    w1.show_pane("settings")
    w1.resize(QSize(780, 610))
    header = w1.catalogue_pane.table.horizontalHeader()
    header.resizeSection(0, 321)
    w1.close()
    shut_down(qtbot, qloop, c1)
    assert (paths.config_dir() / "window.ini").is_file()

    c2 = AppController(services_factory=lambda: Services(catalogue=snapshot))
    w2 = open_window(qtbot, c2)
    assert w2.current_pane() == "settings"
    assert w2.size() == QSize(780, 610)
    assert w2.catalogue_pane.table.horizontalHeader().sectionSize(0) == 321
    shut_down(qtbot, qloop, c2)


def test_theme_setting_forces_a_palette_without_restart(qtbot, controller, restore_theme):
    w = open_window(qtbot, controller)
    dark = Settings(appearance=AppearanceSettings(theme="dark"))
    controller.apply_settings(dark)
    qtbot.waitUntil(lambda: theme.current_theme() == "dark", timeout=5000)
    assert theme.is_dark(QApplication.palette())
    # the window follows through Qt's posted palette-change events
    qtbot.waitUntil(
        lambda: w.palette().color(w.palette().ColorRole.Window).lightness() < 100, timeout=5000
    )
    controller.apply_settings(Settings(appearance=AppearanceSettings(theme="light")))
    qtbot.waitUntil(lambda: theme.current_theme() == "light", timeout=5000)
    assert not theme.is_dark(QApplication.palette())


class _Emitter(QObject):
    fire = Signal()


def _raise_in_a_slot(monkeypatch) -> ExceptionDialogHook:
    hook = ExceptionDialogHook()
    monkeypatch.setattr(sys, "excepthook", hook)

    def broken_slot() -> None:
        raise RuntimeError("OpenRouter refused key sk-or-v1-abc123 for this request")

    emitter = _Emitter()
    emitter.fire.connect(broken_slot)
    emitter.fire.emit()
    return hook


@pytest.mark.expected_warning_logs
@pytest.mark.qt_no_exception_capture
def test_unhandled_exception_in_a_slot_is_redacted_and_the_app_keeps_running(
    qtbot, controller, monkeypatch, caplog
):
    w = open_window(qtbot, controller)
    hook = _raise_in_a_slot(monkeypatch)
    assert hook.shown == ["RuntimeError: OpenRouter refused key [REDACTED] for this request"]
    assert "sk-or-v1-abc123" not in caplog.text
    assert "[REDACTED]" in caplog.text
    # the app keeps running: the window still answers
    w.show_pane("settings")
    assert w.current_pane() == "settings"
    w.catalogue_pane.search_edit.setText("sonnet 4.5")
    qtbot.waitUntil(lambda: w.catalogue_pane.proxy.rowCount() == 2, timeout=2000)


@pytest.mark.expected_warning_logs
@pytest.mark.qt_no_exception_capture
def test_unhandled_exception_shows_a_redacted_dialog(qtbot, controller, monkeypatch):
    open_window(qtbot, controller)
    before = set(QApplication.topLevelWidgets())
    _raise_in_a_slot(monkeypatch)
    boxes = [
        b
        for b in QApplication.topLevelWidgets()
        if isinstance(b, QMessageBox) and b.isVisible() and b not in before
    ]
    assert len(boxes) == 1
    box = boxes[0]
    shown = box.text() + box.informativeText() + box.detailedText()
    assert "[REDACTED]" in box.informativeText()
    assert "sk-or-v1-abc123" not in shown
    box.close()
