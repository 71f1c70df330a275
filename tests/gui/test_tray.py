"""The tray: its menu (rebuilt on open), each entry's action, and the window's tray behaviour."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from PySide6.QtCore import QEvent, QPoint
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from locallama_gui.core.routing import Task
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.main_window import MainWindow
from locallama_gui.gui.tray import Shell, TrayController


@pytest.fixture
def controller(qtbot, qloop):
    c = AppController()
    c.start()
    qtbot.waitUntil(lambda: c.services is not None, timeout=15_000)
    yield c
    c.shutdown()
    qtbot.waitUntil(lambda: all(t.done() for t in asyncio.all_tasks(qloop)), timeout=5000)


@pytest.fixture
def tray(qtbot, controller):
    t = TrayController(controller)
    qtbot.waitUntil(lambda: t.data.free_cap is not None, timeout=5000)
    yield t
    t.hide()
    t.menu.deleteLater()


@pytest.fixture
def window(qtbot, controller):
    w = MainWindow(controller)
    qtbot.addWidget(w)
    yield w
    w._tray = None  # the test's tray dies first: closing must not ask the app to quit


def _route(services, prompt: str) -> str:
    decision = services.route(Task(prompt=prompt), record=True)
    return decision.chosen.id


def test_menu_entries_before_any_decision(tray):
    assert tray.entries() == [
        "Quick route…",
        "[Recent decisions]",
        "No decisions yet",
        "---",
        "Free requests left today: 50 of 50",
        "Refresh catalogue",
        "---",
        "Gateway: off",
        "Turn gateway on",
        "Open LocaLLama Router",
        "---",
        "Quit",
    ]
    assert not tray.action("No decisions yet").isEnabled()
    assert not tray.action("Free requests left today").isEnabled()
    assert tray.action("Refresh catalogue").isEnabled()
    assert not tray.action("Gateway: off").isEnabled()  # a line of text
    assert tray.action("Turn gateway on").isEnabled()
    assert "50 of 50" in tray.tray.toolTip()
    assert "Gateway: off" in tray.tray.toolTip()


def test_icon_is_the_app_icon_and_offscreen_there_is_no_tray(tray):
    assert not tray.tray.icon().isNull()
    assert tray.tray.contextMenu() is tray.menu
    assert not QSystemTrayIcon.isSystemTrayAvailable()  # offscreen
    assert tray.show() is False
    assert not tray.in_use


def test_menu_is_rebuilt_on_open_with_the_last_decisions_and_quota(qtbot, tray, controller):
    services = controller.services
    first = _route(services, "Translate 'good morning' into Spanish")
    second = _route(services, "Write a haiku about the sea")
    services.record_free_request()
    services.record_free_request()
    services.record_free_request()
    # Nothing told the tray: opening the menu reads afresh and rebuilds it.
    assert tray.recent_actions == []
    tray.menu.popup(QPoint(0, 0))
    qtbot.waitUntil(lambda: len(tray.recent_actions) == 2, timeout=5000)
    tray.menu.hide()
    models = [a.property("recentModel") for a in tray.recent_actions]
    assert models == [second, first]  # newest first
    assert all(
        a.text().startswith(m) and "just now" in a.text()
        for a, m in zip(tray.recent_actions, models, strict=True)
    )
    assert tray.action("Free requests left today").text() == "Free requests left today: 47 of 50"

    tray.recent_actions[1].trigger()
    assert QGuiApplication.clipboard().text() == first


def test_history_changes_reach_the_menu_without_opening_it(qtbot, tray, controller):
    model = _route(controller.services, "Summarise this paragraph in one line")
    controller.history_changed.emit()
    qtbot.waitUntil(lambda: len(tray.recent_actions) == 1, timeout=5000)
    assert tray.recent_actions[0].property("recentModel") == model


def test_entries_emit_their_actions(qtbot, tray, controller, monkeypatch):
    refreshed: list[bool] = []
    monkeypatch.setattr(controller, "refresh", lambda: refreshed.append(True))
    with qtbot.waitSignal(tray.quick_route_requested, timeout=1000):
        tray.action("Quick route").trigger()
    with qtbot.waitSignal(tray.open_window_requested, timeout=1000):
        tray.action("Open LocaLLama Router").trigger()
    with qtbot.waitSignal(tray.quit_requested, timeout=1000):
        tray.action("Quit").trigger()
    tray.action("Refresh catalogue").trigger()
    assert refreshed == [True]


def test_click_on_the_icon_opens_the_quick_router_double_click_the_window(qtbot, tray):
    with qtbot.waitSignal(tray.quick_route_requested, timeout=1000):
        tray.tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    with qtbot.waitSignal(tray.open_window_requested, timeout=1000):
        tray.tray.activated.emit(QSystemTrayIcon.ActivationReason.DoubleClick)


def test_refresh_entry_follows_a_running_refresh(qtbot, tray, controller, monkeypatch):
    monkeypatch.setattr(type(controller), "refreshing", property(lambda self: True))
    controller.refresh_started.emit()
    item = tray.action("Refreshing the catalogue")
    assert item is not None and not item.isEnabled()


def test_shell_without_a_tray_keeps_the_window_the_way_in(qtbot, controller, window):
    shell = Shell(controller, window)
    shell.start(tray_only=True)  # offscreen there is no tray: the window shows anyway
    qtbot.waitExposed(window)
    assert window.isVisible()
    assert QApplication.instance().quitOnLastWindowClosed()
    assert not window.hides_to_tray()
    with qtbot.waitSignal(shell.router.routed, timeout=15_000):
        shell.router.prompt_edit.setPlainText("hello")
        shell.tray.quick_route_requested.emit()
        assert shell.router.isVisible()
        shell.router.route()
    assert shell.handle_args(["--quick"]) == "quick"
    window.hide()
    assert shell.handle_args([]) == "window"
    assert window.isVisible()
    shell.close()
    assert not shell.router.isVisible()


def test_closing_the_window_hides_to_the_tray_when_the_setting_says_so(
    qtbot, controller, window, monkeypatch
):
    quits: list[bool] = []
    monkeypatch.setattr(QApplication, "quit", lambda *a: quits.append(True))
    monkeypatch.setattr(TrayController, "in_use", property(lambda self: True))
    shell = Shell(controller, window)
    window.show()
    qtbot.waitExposed(window)

    assert controller.services.settings.appearance.close_to_tray is True
    window.close()
    assert not window.isVisible() and quits == []  # hidden, still running
    shell.tray.open_window_requested.emit()
    assert window.isVisible()

    settings = controller.services.settings
    off = replace(settings, appearance=replace(settings.appearance, close_to_tray=False))
    with qtbot.waitSignal(controller.settings_changed, timeout=5000):
        controller.apply_settings(off)
    assert not window.hides_to_tray()
    window.close()
    assert not window.isVisible()
    assert quits == [True]  # with a tray, the last window no longer quits by itself


def test_quit_entry_quits_even_when_closing_hides(qtbot, controller, window, monkeypatch):
    quits: list[bool] = []
    monkeypatch.setattr(QApplication, "quit", lambda *a: quits.append(True))
    monkeypatch.setattr(TrayController, "in_use", property(lambda self: True))
    shell = Shell(controller, window)
    window.show()
    shell.tray.action("Quit").trigger()
    assert not window.isVisible()
    assert quits and quits[-1] is True
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
