"""The Gateway pane, the gateway the controller owns, and its line in the tray.

The gateway really serves (uvicorn on a loopback port chosen by the system, port 0); requests
come from plain threads with httpx, as another program's would. The token comes from
``LOCALLAMA_GATEWAY_TOKEN``, so no keyring is touched.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from locallama_gui.core.settings import (
    AppearanceSettings,
    EndpointSettings,
    GatewaySettings,
    Settings,
)
from locallama_gui.gui import theme
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.gateway_control import FAILED, OFF, ON, GatewayState
from locallama_gui.gui.main_window import PANES, MainWindow
from locallama_gui.gui.models.traffic_model import TrafficTableModel
from locallama_gui.gui.panes.gateway import (
    SNIPPET_KINDS,
    TOKEN_PLACEHOLDER,
    GatewayPane,
    snippet,
    totals_text,
)
from locallama_gui.gui.tray import TrayController
from locallama_gui.services.catalogue import load_snapshot
from locallama_gui.services.facade import Services
from locallama_gui.store.settings_file import load_settings, save_settings
from tests.fakes import OllamaFake
from tests.gui.test_main_window import _WINDOWS, shut_down
from tests.gui.test_responsiveness import GapMeter

TOKEN = "llr-gui-test-token-0123456789abcdef"
UA = {"User-Agent": "gui-test-client/1.0"}
AUTH = {"Authorization": f"Bearer {TOKEN}", **UA}
HELLO = [{"role": "user", "content": "Say hello"}]
#: What a generous bound for the GUI thread's longest stall under gateway load is.
MAX_GAP_UNDER_LOAD_MS = 500.0


@pytest.fixture(scope="module")
def snapshot():
    return load_snapshot()


@pytest.fixture
def make_controller(qtbot, qloop, snapshot, monkeypatch):
    """Controllers over the settings file and store of this test's LOCALLAMA_HOME; their
    gateways bind port 0 and leave MCP out (another face, tested on its own)."""
    monkeypatch.setenv("LOCALLAMA_GATEWAY_TOKEN", TOKEN)
    made: list[AppController] = []

    def make(settings: Settings | None = None, *, port: int | None = 0) -> AppController:
        if settings is not None:
            save_settings(settings)
        c = AppController(services_factory=lambda: Services.open(catalogue=snapshot))
        c.gateway.port_override = port
        c.gateway.mount_mcp = False
        made.append(c)
        c.start()
        qtbot.waitUntil(lambda: c.services is not None, timeout=10_000)
        return c

    yield make
    for c in made:
        shut_down(qtbot, qloop, c)


@pytest.fixture
def controller(make_controller):
    return make_controller()


def open_pane(qtbot, controller) -> tuple[MainWindow, GatewayPane]:
    w = MainWindow(controller)
    _WINDOWS.setdefault(id(controller), []).append(w)
    w.resize(1100, 760)
    w.show()
    qtbot.waitExposed(w)
    w.show_pane("gateway")
    qtbot.waitUntil(lambda: w.is_built("gateway"), timeout=5000)
    pane = w.panes["gateway"]
    assert isinstance(pane, GatewayPane)
    qtbot.waitUntil(pane.isVisible, timeout=5000)
    return w, pane


def switch_on(qtbot, pane: GatewayPane) -> GatewayState:
    qtbot.mouseClick(pane.toggle_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.state.status in (ON, FAILED), timeout=15_000)
    return pane.state


def in_thread(qtbot, fn: Callable[[], Any], timeout: int = 15_000) -> Any:
    """``fn()`` on a plain thread, as another program would call; Qt keeps running."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as e:  # handed back to the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    qtbot.waitUntil(lambda: not t.is_alive(), timeout=timeout)
    if "error" in out:
        raise out["error"]
    return out["value"]


def http(method: str, url: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(timeout=10.0) as client:
        return client.request(method, url, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- the pane


def test_gateway_is_the_fifth_pane_built_lazily_with_ctrl_5(qtbot, controller):
    assert PANES[4][:2] == ("gateway", "Gateway")
    w = MainWindow(controller)
    _WINDOWS.setdefault(id(controller), []).append(w)
    assert not w.is_built("gateway")
    assert controller.gateway.state.status == OFF  # the gateway needs no pane
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(lambda: w.refresh_action.shortcut().toString() != "", timeout=5000)
    assert not w.is_built("gateway")
    qtbot.keyClick(w, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert w.current_pane() == "gateway"
    qtbot.waitUntil(lambda: w.is_built("gateway"), timeout=5000)
    pane = w.panes["gateway"]
    assert isinstance(pane, GatewayPane)
    assert w.stack.currentWidget() is pane
    assert pane.toggle_button.text() == "Turn on" and not pane.toggle_button.isChecked()
    assert pane.status_text() == "Off"
    assert pane.port_spin.value() == 11435 and pane.port_spin.isEnabled()
    assert pane.traffic_stack.currentWidget() is pane.empty
    assert pane.empty.title == "The gateway is off"
    assert not pane.polling


def test_switching_on_serves_records_traffic_and_switching_off_stops(qtbot, controller):
    _w, pane = open_pane(qtbot, controller)
    state = switch_on(qtbot, pane)
    assert state.status == ON, state.error
    url = state.url
    assert url is not None and url.startswith("http://127.0.0.1:")
    assert pane.status_text() == f"Listening on {url}"
    assert pane.toggle_button.isChecked() and pane.toggle_button.text() == "Turn off"
    assert not pane.port_spin.isEnabled()  # the port changes while it is off
    assert pane.polling  # on show and on: the table follows the traffic
    assert pane.empty.title == "No traffic yet"
    # the switch is remembered
    qtbot.waitUntil(lambda: controller.services.settings.gateway.enabled, timeout=5000)
    qtbot.waitUntil(
        lambda: load_settings().settings.gateway.enabled is True, timeout=5000
    )  # on disk

    assert in_thread(qtbot, lambda: http("GET", url + "/health")).json() == {"status": "ok"}
    assert in_thread(qtbot, lambda: http("GET", url + "/v1/models", headers=UA)).status_code == 401
    models = in_thread(qtbot, lambda: http("GET", url + "/v1/models", headers=AUTH))
    assert models.status_code == 200
    assert models.json()["data"][0]["id"] == "locallama/auto"
    # a chat request is recorded, whatever its outcome (this one names no known model)
    body = {"model": "nobody/no-such-model", "messages": HELLO}
    r = in_thread(
        qtbot, lambda: http("POST", url + "/v1/chat/completions", headers=AUTH, json=body)
    )
    assert r.status_code == 404
    gateway = controller.gateway.gateway
    assert gateway is not None and gateway.requests_today == 1
    (event,) = list(gateway.traffic)
    assert event.client == "gui-test-client" and event.status == 404
    qtbot.waitUntil(lambda: pane.model.rowCount() == 1, timeout=5000)
    assert pane.traffic_stack.currentWidget() is pane.table
    row = [pane.proxy.index(0, c).data() for c in range(pane.proxy.columnCount())]
    assert row[1:5] == ["gui-test-client", "nobody/no-such-model", "error 404", "—"]
    assert "not in the catalogue" in pane.proxy.index(0, 3).data(Qt.ItemDataRole.ToolTipRole)

    # off: the port closes, the setting follows
    qtbot.mouseClick(pane.toggle_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.state.status == OFF, timeout=10_000)
    assert controller.gateway.host is None and controller.gateway.gateway is None
    assert pane.status_text() == "Off" and pane.toggle_button.text() == "Turn on"
    assert pane.port_spin.isEnabled() and not pane.polling
    with pytest.raises(httpx.ConnectError):
        in_thread(qtbot, lambda: http("GET", url + "/health"))
    qtbot.waitUntil(lambda: not controller.services.settings.gateway.enabled, timeout=5000)
    qtbot.waitUntil(
        lambda: load_settings().settings.gateway.enabled is False, timeout=5000
    )  # on disk


def test_the_gateway_starts_with_the_app_when_it_was_on(qtbot, make_controller):
    c = make_controller(Settings(gateway=GatewaySettings(enabled=True)))
    # no window, no pane: the controller starts it in the background
    qtbot.waitUntil(lambda: c.gateway.state.status in (ON, FAILED), timeout=15_000)
    assert c.gateway.state.on, c.gateway.state.error
    assert c.gateway.running
    url = c.gateway.url
    assert in_thread(qtbot, lambda: http("GET", url + "/health")).status_code == 200
    # the pane opened later shows it as it is
    _w, pane = open_pane(qtbot, c)
    assert pane.toggle_button.isChecked() and pane.status_text() == f"Listening on {url}"
    assert f"ANTHROPIC_BASE_URL={url} " in snippet("claude_code", pane.url())


def test_the_window_gateway_serves_mcp_at_its_mcp_path(qtbot, make_controller):
    c = make_controller()
    c.gateway.mount_mcp = True
    _w, pane = open_pane(qtbot, c)
    state = switch_on(qtbot, pane)
    assert state.status == ON, state.error
    assert pane.status_text() == f"Listening on {state.url}  ·  MCP at {state.url}/mcp"
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "gui-test", "version": "1"},
        },
    }
    headers = {**AUTH, "accept": "application/json, text/event-stream"}
    r = in_thread(qtbot, lambda: http("POST", state.url + "/mcp", headers=headers, json=init))
    assert r.status_code == 200, r.text
    assert "locallama" in r.text  # the server's name, in the initialize result
    assert in_thread(qtbot, lambda: http("POST", state.url + "/mcp", json=init)).status_code == 401


def test_a_taken_port_says_so_and_the_app_stays_usable(qtbot, make_controller):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        c = make_controller(Settings(gateway=GatewaySettings(port=port)), port=None)
        w, pane = open_pane(qtbot, c)
        assert pane.port_spin.value() == port
        state = switch_on(qtbot, pane)
        assert state.status == FAILED
        text = pane.status_text()
        assert text.startswith(f"Off: cannot listen on 127.0.0.1:{port}")
        assert f"Port {port} is probably taken" in text and "pick another port" in text
        assert not pane.toggle_button.isChecked() and pane.toggle_button.text() == "Turn on"
        assert pane.port_spin.isEnabled()
        assert c.gateway.host is None
        # a failed start leaves the switch (and its setting) off
        qtbot.wait(200)
        assert c.services.settings.gateway.enabled is False
        # the window still works: other panes, and another port
        w.show_pane("cost")
        qtbot.waitUntil(lambda: w.is_built("cost"), timeout=5000)
        w.show_pane("gateway")
        other = free_port()
        pane.port_spin.setValue(other)
        qtbot.waitUntil(lambda: c.services.settings.gateway.port == other, timeout=5000)
        qtbot.waitUntil(
            lambda: load_settings().settings.gateway.port == other, timeout=5000
        )  # on disk
        assert f"http://127.0.0.1:{other}/v1" in snippet("openai", pane.url())
        state = switch_on(qtbot, pane)
        assert state.status == ON and state.url == f"http://127.0.0.1:{other}"


def test_a_port_typed_just_before_switching_on_is_the_one_used(qtbot, make_controller):
    c = make_controller(port=None)
    _w, pane = open_pane(qtbot, c)
    port = free_port()
    pane.port_spin.setValue(port)  # the save waits for the typing to stop...
    state = switch_on(qtbot, pane)  # ...but a click right away still gets the new port
    assert state.status == ON, state.error
    assert state.url == f"http://127.0.0.1:{port}"
    qtbot.waitUntil(lambda: load_settings().settings.gateway.port == port, timeout=5000)


@pytest.mark.expected_warning_logs  # "the gateway stopped unexpectedly" is logged
def test_a_gateway_that_dies_is_shown_as_stopped(qtbot, controller):
    tray = TrayController(controller)
    try:
        _w, pane = open_pane(qtbot, controller)
        assert switch_on(qtbot, pane).on
        host = controller.gateway.host
        in_thread(qtbot, host.stop)  # as if its thread had died
        qtbot.waitUntil(lambda: pane.state.status == FAILED, timeout=5000)  # the 1 s poll
        assert "stopped unexpectedly" in pane.status_text()
        assert not pane.toggle_button.isChecked() and not pane.polling
        tray.rebuild_menu()
        assert tray.action("Gateway: off") is not None
        assert switch_on(qtbot, pane).on  # and it can be switched on again
    finally:
        tray.hide()
        tray.menu.deleteLater()


def test_snippets_hold_a_placeholder_and_copy_token_puts_the_token_on_the_clipboard(
    qtbot, controller
):
    _w, pane = open_pane(qtbot, controller)
    url = pane.url()
    assert url == "http://127.0.0.1:11435"  # where it will listen, while it is off
    texts = {}
    for kind, label in SNIPPET_KINDS:
        pane.set_snippet_kind(kind)
        assert pane.snippet_combo.currentText() == label
        texts[kind] = pane.snippet_text()
        assert TOKEN not in texts[kind] and TOKEN not in pane.snippet_hint.text()
    desktop = json.loads(texts["claude_desktop"])
    assert desktop["mcpServers"]["locallama"] == {"command": "locallama", "args": ["mcp"]}
    cline = json.loads(texts["cline"])
    assert cline["mcpServers"]["locallama"]["args"] == ["mcp"]
    assert "claude mcp add locallama -- locallama mcp" in texts["claude_code"]
    assert (
        f"ANTHROPIC_BASE_URL={url} ANTHROPIC_AUTH_TOKEN={TOKEN_PLACEHOLDER}" in texts["claude_code"]
    )
    openai_text = texts["openai"]
    assert (
        f"OPENAI_API_BASE={url}/v1 OPENAI_API_KEY={TOKEN_PLACEHOLDER} aider --model "
        "openai/locallama/auto" in openai_text
    )
    assert f"apiBase: {url}/v1" in openai_text  # Continue
    assert f'OpenAI(base_url="{url}/v1", api_key="{TOKEN_PLACEHOLDER}")' in openai_text
    assert pane.snippet_box.isReadOnly()

    pane.copy_snippet()
    assert QGuiApplication.clipboard().text() == openai_text
    QGuiApplication.clipboard().setText("")
    with qtbot.waitSignal(pane.token_copied, timeout=5000):
        qtbot.mouseClick(pane.copy_token_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == TOKEN
    assert pane.note_text() == "Token copied to the clipboard."
    assert TOKEN not in pane.note_text() + pane.status_text()
    QGuiApplication.clipboard().setText("")


def test_traffic_is_polled_only_while_the_pane_shows_and_the_gateway_is_on(qtbot, controller):
    w, pane = open_pane(qtbot, controller)
    assert not pane.polling
    assert switch_on(qtbot, pane).on
    assert pane.polling
    w.show_pane("catalogue")
    qtbot.waitUntil(lambda: not pane.polling, timeout=2000)
    # the gateway keeps serving without the pane
    url = controller.gateway.url
    assert in_thread(qtbot, lambda: http("GET", url + "/health")).status_code == 200
    w.show_pane("gateway")
    qtbot.waitUntil(lambda: pane.polling, timeout=2000)
    controller.gateway.set_enabled(False)
    qtbot.waitUntil(lambda: pane.state.status == OFF, timeout=10_000)
    assert not pane.polling


def test_a_chat_through_a_local_fake_shows_served_model_tokens_and_totals(qtbot, make_controller):
    with OllamaFake() as ollama:
        endpoints = EndpointSettings(
            ollama_url=ollama.base_url,
            openrouter_enabled=False,
            lmstudio_enabled=False,
            extra_servers_enabled=False,
        )
        c = make_controller(Settings(endpoints=endpoints))
        finished: list[object] = []
        c.refresh_finished.connect(finished.append)
        c.refresh()
        qtbot.waitUntil(lambda: bool(finished), timeout=15_000)
        _w, pane = open_pane(qtbot, c)
        qtbot.waitUntil(lambda: pane.totals_label.text().startswith("Today:"), timeout=5000)
        assert "over 0 requests" in pane.totals_label.text()
        state = switch_on(qtbot, pane)
        assert state.on, state.error
        body = {"model": "locallama/local", "messages": HELLO}
        r = in_thread(
            qtbot,
            lambda: http("POST", state.url + "/v1/chat/completions", headers=AUTH, json=body),
        )
        assert r.status_code == 200, r.text
        served = r.headers["x-locallama-model"]
        qtbot.waitUntil(lambda: pane.model.rowCount() == 1, timeout=5000)
        cells = [pane.proxy.index(0, k).data() for k in range(pane.proxy.columnCount())]
        assert cells[1:5] == ["gui-test-client", "locallama/local", served, "Local"]
        assert cells[5] != "—" and int(cells[5].replace(",", "")) > 0  # tokens
        assert cells[7] == "$0"  # a local model costs nothing
        # the totals follow (from the ledger, in a worker, at most every few seconds)
        pane.refresh_totals(force=True)
        qtbot.waitUntil(lambda: "over 1 request," in pane.totals_label.text(), timeout=5000)
        report = c.services.store.spend_entries(since=datetime(2000, 1, 1, tzinfo=UTC))
        assert [e.client for e in report] == ["gui-test-client"]
        # the report by model and by client, from the button
        assert pane.report_button.isEnabled()
        qtbot.mouseClick(pane.report_button, Qt.MouseButton.LeftButton)
        assert pane.report_dialog is not None and pane.report_dialog.isVisible()
        text = pane.report_browser.toPlainText()
        assert "Today, by model" in text and served in text
        assert "This month, by client" in text and "gui-test-client" in text
        assert "Caps: none (set them in Settings)" in text
        pane.report_dialog.close()


def test_new_endpoints_restart_a_running_gateway(qtbot, controller):
    c = controller
    c.gateway.set_enabled(True)
    qtbot.waitUntil(lambda: c.gateway.state.on, timeout=15_000)
    first = c.gateway.gateway
    sources = {e.kind.value for e in first.endpoints}
    assert "ollama" in sources
    settings = c.services.settings
    c.apply_settings(replace(settings, endpoints=replace(settings.endpoints, ollama_enabled=False)))
    qtbot.waitUntil(lambda: c.gateway.state.on and c.gateway.gateway is not first, timeout=15_000)
    assert "ollama" not in {e.kind.value for e in c.gateway.gateway.endpoints}
    assert c.services.settings.gateway.enabled is True


def test_the_settings_pane_keeps_the_gateway_settings(qtbot, controller):
    c = controller
    c.gateway.set_enabled(True)
    qtbot.waitUntil(lambda: c.services.settings.gateway.enabled, timeout=5000)
    w = MainWindow(c)
    _WINDOWS.setdefault(id(c), []).append(w)
    settings_pane = w.settings_pane
    # (not the refresh interval: a new one starts a refresh, over the network)
    settings_pane.close_to_tray.setChecked(False)
    assert settings_pane.apply()
    qtbot.waitUntil(lambda: not c.services.settings.appearance.close_to_tray, timeout=5000)
    assert c.services.settings.gateway.enabled is True
    qtbot.waitUntil(
        lambda: load_settings().settings.gateway.enabled is True, timeout=5000
    )  # on disk


def test_quitting_stops_the_gateway_at_once(qtbot, make_controller):
    import asyncio

    # the app's way: aclose() on the loop (the stop runs in a thread), then shutdown()
    for way in ("aclose", "shutdown"):
        c = make_controller()
        c.gateway.set_enabled(True)
        qtbot.waitUntil(lambda c=c: c.gateway.state.on, timeout=15_000)
        host = c.gateway.host
        port = host.port
        started = time.perf_counter()
        if way == "aclose":
            task = asyncio.ensure_future(c.aclose())
            qtbot.waitUntil(task.done, timeout=5000)
            task.result()
        c.shutdown()
        took = time.perf_counter() - started
        print(f"the gateway stopped in {took * 1000:.0f} ms on quit ({way})")
        assert took < 3.0
        assert not host.running and c.gateway.host is None
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # the port is free again


def test_tray_shows_the_gateway_state_and_switches_it(qtbot, controller):
    tray = TrayController(controller)
    try:
        assert "Gateway: off" in tray.entries()
        assert "Gateway: off" in tray.tray.toolTip()
        switch = tray.action("Turn gateway on")
        assert switch is not None and switch.isEnabled()
        switch.trigger()
        qtbot.waitUntil(lambda: tray.action("Gateway: on") is not None, timeout=15_000)
        assert tray.action("Gateway: on").text() == "Gateway: on — 0 requests today"
        assert not tray.action("Gateway: on").isEnabled()  # a line of text, not a button
        assert tray.action("Turn gateway off") is not None
        url = controller.gateway.url
        body = {"model": "nobody/no-such-model", "messages": HELLO}
        in_thread(
            qtbot, lambda: http("POST", url + "/v1/chat/completions", headers=AUTH, json=body)
        )
        tray.rebuild_menu()  # what opening the menu does
        assert tray.action("Gateway: on").text() == "Gateway: on — 1 request today"
        assert "Gateway: on — 1 request today" in tray.tray.toolTip()
        tray.action("Turn gateway off").trigger()
        qtbot.waitUntil(lambda: tray.action("Gateway: off") is not None, timeout=10_000)
        assert tray.action("Turn gateway on") is not None
        qtbot.waitUntil(lambda: not controller.services.settings.gateway.enabled, timeout=5000)
    finally:
        tray.hide()
        tray.menu.deleteLater()


def test_runs_from_the_window_are_recorded_as_the_gui_client(qtbot, controller, monkeypatch):
    import asyncio

    from locallama_gui.core.routing import Task
    from locallama_gui.gui.panes.playground_single import LiveExecutor

    seen: list[dict[str, Any]] = []

    class Runner:
        def __init__(self, live: Any, **kwargs: Any) -> None:
            seen.append(kwargs)

        async def run(self, *args: Any, **kwargs: Any) -> str:
            return "ran"

    monkeypatch.setattr("locallama_gui.services.runner.Runner", Runner)
    executor = LiveExecutor(controller.services, controller.key_store)
    decision = controller.services.route(Task(prompt="Say hello"))
    done: list[object] = []
    coro = executor.run(
        decision, "Say hello", on_delta=print, on_attempt=print, cancel=asyncio.Event()
    )
    controller.runner.run_async("run", coro, on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    assert done == ["ran"] and seen == [{"client": "gui"}]


# --------------------------------------------------------------------------- responsiveness


def test_the_event_loop_keeps_ticking_while_50_requests_hit_the_gateway(qtbot, controller):
    _w, pane = open_pane(qtbot, controller)
    state = switch_on(qtbot, pane)
    assert state.on, state.error
    url = state.url
    qtbot.wait(2500)  # the window's catalogue table built and settled, as in a running app
    n = 50
    # The clients are made before the measurement (an httpx client builds a TLS context, a
    # CPU-heavy moment per client), and their threads are started off the GUI thread: what
    # is measured is the app under load, not the test's own set-up.
    clients = [httpx.Client(timeout=30.0, headers=AUTH) for _ in range(n)]
    barrier = threading.Barrier(n)
    statuses: list[int] = []
    lock = threading.Lock()
    body = {"model": "nobody/no-such-model", "messages": HELLO}

    def client(h: httpx.Client) -> None:
        barrier.wait()
        codes = [
            h.get(url + "/v1/models").status_code,
            h.post(url + "/v1/chat/completions", json=body).status_code,
        ]
        with lock:
            statuses.extend(codes)

    threads = [threading.Thread(target=client, args=(h,), daemon=True) for h in clients]

    def launch() -> None:
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    launcher = threading.Thread(target=launch, daemon=True)
    meter = GapMeter()
    meter.start()
    started = time.perf_counter()
    launcher.start()
    qtbot.waitUntil(lambda: not launcher.is_alive(), timeout=60_000)
    took = time.perf_counter() - started
    qtbot.waitUntil(lambda: pane.model.rowCount() == n, timeout=5000)  # the table caught up
    qtbot.wait(300)
    meter.stop()
    for h in clients:
        h.close()
    print(
        f"{n} concurrent clients ({2 * n} requests) in {took * 1000:.0f} ms; "
        f"max GUI-thread gap {meter.max_gap_ms:.0f} ms over {meter.ticks} ticks"
    )
    assert sorted(set(statuses)) == [200, 404] and len(statuses) == 2 * n
    assert controller.gateway.requests_today == n
    assert meter.ticks > 20
    assert meter.max_gap_ms < MAX_GAP_UNDER_LOAD_MS, (
        f"the GUI thread stalled for {meter.max_gap_ms:.0f} ms under gateway load"
    )


# --------------------------------------------------------------------------- pieces


@dataclass(frozen=True)
class _Event:
    n: int
    ts: datetime = datetime(2026, 8, 14, 12, 0, tzinfo=UTC)
    client: str = "c"
    path: str = "/v1/chat/completions"
    asked: str = "locallama/auto"
    served: str | None = "m"
    tier: str | None = "free"
    status: int = 200
    streamed: bool = False
    latency_ms: float = 12.0
    prompt_tokens: int | None = 10
    completion_tokens: int | None = 5
    cost_usd: Decimal | None = Decimal(0)
    baseline_cost_usd: Decimal | None = Decimal("0.001")
    error: str | None = None

    @property
    def saved_usd(self) -> Decimal | None:
        if self.cost_usd is None or self.baseline_cost_usd is None:
            return None
        return self.baseline_cost_usd - self.cost_usd


def test_the_traffic_model_appends_and_drops_rows_without_resetting(qtbot):
    model = TrafficTableModel()
    events = [_Event(k) for k in range(5)]
    resets: list[int] = []
    inserted: list[tuple[int, int]] = []
    removed: list[tuple[int, int]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.rowsInserted.connect(lambda _p, a, b: inserted.append((a, b)))
    model.rowsRemoved.connect(lambda _p, a, b: removed.append((a, b)))
    assert model.follow(events[:3]) == 3 and len(resets) == 1  # first fill
    assert model.follow(events[:3]) == 0
    assert model.follow(events[:5]) == 2 and inserted == [(3, 4)]
    assert model.follow(events[2:]) == 0 and removed == [(0, 1)]  # the deque's maxlen
    assert [r.n for r in model.rows()] == [2, 3, 4] and len(resets) == 1
    other = [_Event(9)]
    assert model.follow(other) == 1 and len(resets) == 2  # another gateway's traffic
    assert model.follow([]) == 0 and model.rowCount() == 0
    model.follow([_Event(1), replace(_Event(2), status=502, served=None, error="upstream")])
    cells = [model.index(0, c).data() for c in range(model.columnCount())]
    assert cells[1:] == ["c", "locallama/auto", "m", "Free", "15", "12", "$0", "$0.001"]
    failed = [model.index(1, c).data() for c in range(model.columnCount())]
    assert failed[3] == "error 502" and failed[7] == "—" and failed[8] == "—"
    assert model.index(1, 0).data(Qt.ItemDataRole.ForegroundRole) is not None


def test_totals_text_reads_the_spend_report():
    period = {"total_usd": "0.0125", "requests": 3, "saved_usd": "0.5", "unknown_cost_requests": 1}
    month = {**period, "requests": 1, "unknown_cost_requests": 0}
    text = totals_text({"today": period, "month": month})
    assert text == (
        "Today: $0.0125 over 3 requests, saved $0.50 (1 of unknown cost)  ·  "
        "This month: $0.0125 over 1 request, saved $0.50"
    )


@pytest.mark.parametrize("palette", ["light", "dark"])
def test_screenshot_of_the_pane(qtbot, make_controller, palette, tmp_path):
    """The pane in both palettes (saved to /tmp for a look; nothing shows the token)."""
    controller = make_controller(Settings(appearance=AppearanceSettings(theme=palette)))
    try:
        w, pane = open_pane(qtbot, controller)
        assert theme.is_dark() is (palette == "dark")
        assert switch_on(qtbot, pane).on
        body = {"model": "nobody/no-such-model", "messages": HELLO}
        url = controller.gateway.url
        in_thread(
            qtbot, lambda: http("POST", url + "/v1/chat/completions", headers=AUTH, json=body)
        )
        qtbot.waitUntil(lambda: pane.model.rowCount() == 1, timeout=5000)
        pane.set_snippet_kind("openai")
        QApplication.processEvents()
        image = w.grab()
        assert not image.isNull()
        image.save(str(tmp_path / f"gateway_{palette}.png"))
        image.save(f"/tmp/gateway_pane_{palette}.png")
        assert pane.status_label.width() > pane.status_label.fontMetrics().horizontalAdvance(
            pane.status_text()
        ), "the status line is cut off"
    finally:
        theme.apply_theme("system")
