"""The window against a hung server: Stop and Cancel end the work at once (the asyncio task
and its HTTP request, whose connection is closed), and the window stays usable."""

from __future__ import annotations

import dataclasses
import time

import pytest
from PySide6.QtCore import Qt

from locallama_gui.core.settings import EndpointSettings
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.panes.playground import PlaygroundPane
from tests.fakes.hung import HungServer

#: Generous: a cancel that works takes milliseconds; the issue was minutes.
CANCEL_WITHIN_S = 2.0


@pytest.fixture
def hung():
    with HungServer() as server:
        yield server


@pytest.fixture
def controller(qtbot, qloop, hung, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-" + "0" * 64)
    c = AppController()
    c.start()
    qtbot.waitUntil(lambda: c.services is not None, timeout=15000)
    endpoints = EndpointSettings(
        openrouter_url=hung.openrouter_url,
        ollama_enabled=False,
        lmstudio_enabled=False,
        extra_servers_enabled=False,
    )
    with qtbot.waitSignal(c.settings_changed, timeout=10000):
        c.apply_settings(dataclasses.replace(c.services.settings, endpoints=endpoints))
    yield c
    c.shutdown()


@pytest.fixture
def pane(qtbot, controller):
    p = PlaygroundPane(controller)
    qtbot.addWidget(p)
    p.resize(1280, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_stop_ends_a_run_on_a_hung_host_at_once_and_the_pane_stays_usable(qtbot, pane, hung):
    single = pane.single
    single.refresh_sources()
    qtbot.waitUntil(lambda: single._executor().key_present, timeout=10000)
    single.prompt_edit.setPlainText("Say hello")
    with qtbot.waitSignal(single.routed, timeout=15000):
        single.route()
    assert single.run_button.isEnabled()
    qtbot.mouseClick(single.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: hung.requests >= 1, timeout=10000)  # held: no first byte
    assert single.running and single.stop_button.isEnabled()

    started = time.monotonic()
    with qtbot.waitSignal(single.run_finished, timeout=int(CANCEL_WITHIN_S * 1000)) as sig:
        qtbot.mouseClick(single.stop_button, Qt.MouseButton.LeftButton)
    assert time.monotonic() - started < CANCEL_WITHIN_S
    result = sig.args[0]
    assert result.cancelled
    assert single.run_status.text() == "Stopped."
    qtbot.waitUntil(lambda: hung.open_connections == 0, timeout=int(CANCEL_WITHIN_S * 1000))
    assert single.run_button.isEnabled() and not single.stop_button.isEnabled()

    # still usable: another route answers
    single.prompt_edit.setPlainText("Write a haiku about tea")
    with qtbot.waitSignal(single.routed, timeout=15000):
        single.route()


def test_cancel_ends_a_refresh_on_a_hung_host_at_once(qtbot, controller, hung):
    before = controller.services.catalogue
    messages: list[str] = []
    controller.refresh_failed.connect(messages.append)
    controller.refresh()
    qtbot.waitUntil(lambda: hung.requests >= 1, timeout=10000)
    assert controller.refreshing
    started = time.monotonic()
    controller.cancel_refresh()
    assert not controller.refreshing
    qtbot.waitUntil(lambda: hung.open_connections == 0, timeout=int(CANCEL_WITHIN_S * 1000))
    assert time.monotonic() - started < CANCEL_WITHIN_S
    assert messages == ["Refresh cancelled. The catalogue was left as it was."]
    assert controller.services.catalogue is before
    assert not controller.runner.busy
