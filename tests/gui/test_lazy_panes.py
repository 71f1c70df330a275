"""Panes are built when first needed, so the window paints fast; asking for one builds it."""

from __future__ import annotations

from locallama_gui.gui.main_window import MainWindow
from tests.gui.test_main_window import _WINDOWS, controller, snapshot  # noqa: F401


def test_panes_are_built_on_first_use_and_look_up_builds_them(qtbot, controller):  # noqa: F811
    window = MainWindow(controller)
    _WINDOWS.setdefault(id(controller), []).append(window)
    # nothing but the window itself exists before it is shown
    assert window.panes.built() == []
    assert not window.is_built("cost")
    cost = window.panes["cost"]  # looking a pane up builds it
    assert window.is_built("cost")
    assert window.panes["cost"] is cost  # and only once
    assert not window.is_built("playground")
    window.show()
    qtbot.waitExposed(window)
    window.show_pane("playground")  # showing a pane builds it
    qtbot.waitUntil(lambda: window.is_built("playground"), timeout=5000)
    assert set(window.panes.built()) >= {"cost", "playground"}
