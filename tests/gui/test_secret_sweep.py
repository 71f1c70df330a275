"""A session of use with a recognisable fake key, then a sweep of every file the app wrote:
the key is in no log, database row, settings file, window state or export."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from locallama_gui.core.settings import EndpointSettings, RefreshSettings
from locallama_gui.core.simulation import Scenario
from locallama_gui.gui.app import ExceptionDialogHook, setup_logging
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.main_window import MainWindow
from locallama_gui.gui.quick_router import QuickRouter
from locallama_gui.gui.tray import TrayController
from locallama_gui.secrets import SERVICE, USERNAME
from tests.fakes.providers import REPLY_TEXT, OpenRouterFake

MARK = "SWEEPTEST"
SWEEP_KEY = f"sk-or-v1-{MARK}0f3a9c27b1d84e6a5c0b9f1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c2"


@pytest.fixture
def app_log():
    """The app's rotating log file, as ``locallama-gui`` sets it up."""
    root = logging.getLogger()
    level = root.level
    handler = setup_logging()
    assert handler is not None
    yield handler
    root.removeHandler(handler)
    handler.close()
    root.setLevel(level)


@pytest.fixture
def fake():
    with OpenRouterFake(api_key=SWEEP_KEY) as f:
        yield f


def _files(home: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()
    }


@pytest.mark.expected_warning_logs
def test_the_key_leaves_no_trace_in_any_file(
    qtbot, qloop, app_log, fake, memory_keyring, _isolated_home
):
    home = _isolated_home
    controller = AppController()
    controller.start()
    qtbot.waitUntil(lambda: controller.services is not None, timeout=15_000)
    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.show()
    router = QuickRouter(controller)
    qtbot.addWidget(router)
    window.attach_quick_router(router)
    tray = TrayController(controller)
    tray.quick_route_requested.connect(router.popup)
    try:
        # Settings: OpenRouter is the fake; nothing else is asked.
        s = controller.services.settings
        endpoints = EndpointSettings(
            openrouter_url=fake.base_url,
            ollama_enabled=False,
            lmstudio_enabled=False,
            extra_servers_enabled=False,
        )
        with qtbot.waitSignal(controller.settings_changed, timeout=5000):
            controller.apply_settings(
                replace(s, endpoints=endpoints, refresh=RefreshSettings(interval_minutes=0))
            )

        # The key, entered in Settings.
        window.show_pane("settings")
        kw = window.key_widget
        kw.key_edit.setText(SWEEP_KEY)
        with qtbot.waitSignal(kw.saved, timeout=10_000):
            qtbot.mouseClick(kw.save_button, Qt.MouseButton.LeftButton)
        assert memory_keyring.passwords[(SERVICE, USERNAME)] == SWEEP_KEY
        fake.free_daily = {"limit": 50, "remaining": 50, "used": 0}  # saved in the settings
        with qtbot.waitSignal(kw.validated, timeout=15_000):
            qtbot.mouseClick(kw.validate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: controller.services.settings.routing.free_daily_cap_reported == 50,
            timeout=5000,
        )

        # Refresh the catalogue from the fake (stored in the database).
        with qtbot.waitSignal(controller.refresh_finished, timeout=30_000):
            window.refresh_action.trigger()

        # Quick route from the tray, run it (streamed from the fake), open it in the playground.
        tray.action("Quick route").trigger()
        router.prompt_edit.setPlainText("Explain what a key store is in one sentence")
        with qtbot.waitSignal(router.routed, timeout=15_000) as routed:
            qtbot.keyClick(router.prompt_edit, Qt.Key.Key_Return)
        model_id = routed.args[0].chosen.id
        qtbot.waitUntil(router.run_button.isEnabled, timeout=5000)
        with qtbot.waitSignal(router.run_finished, timeout=20_000):
            qtbot.mouseClick(router.run_button, Qt.MouseButton.LeftButton)
        assert router.output.toPlainText() == REPLY_TEXT
        assert fake.requests_to("/chat/completions")
        single = window.panes["playground"].single
        with qtbot.waitSignal(single.routed, timeout=15_000):
            qtbot.mouseClick(router.playground_button, Qt.MouseButton.LeftButton)

        # Estimate, and export the comparison.
        exports = home / "exports"
        exports.mkdir()
        cost = window.panes["cost"]
        window._estimate_with(model_id)
        qtbot.waitUntil(lambda: not cost.busy and model_id in cost.model_ids, timeout=10_000)
        qtbot.waitUntil(lambda: any(r.model_id == model_id for r in cost.rows), timeout=10_000)
        with qtbot.waitSignal(cost.exported, timeout=10_000):
            cost.export_csv(exports / "cost.csv")

        # Simulate a small batch, and export it.
        batch = window.panes["playground"].batch
        batch.set_scenario(Scenario(tasks=60, tasks_per_day=60, seed=5))
        with qtbot.waitSignal(batch.finished, timeout=20_000):
            qtbot.mouseClick(batch.run_button, Qt.MouseButton.LeftButton)
        with qtbot.waitSignal(batch.exported, timeout=10_000):
            batch.export_results(exports / "simulation.csv")

        # An unhandled error whose text carries the key, and a careless log record.
        hook = ExceptionDialogHook()
        try:
            raise RuntimeError(f"the provider echoed the header: Bearer {SWEEP_KEY}")
        except RuntimeError as e:
            hook(type(e), e, e.__traceback__)
        assert hook.shown and all(MARK not in text for text in hook.shown)
        for box in list(hook.dialogs):
            assert MARK not in box.informativeText() + box.detailedText()
            box.done(0)
        logging.getLogger("locallama_gui.sweep").warning("retrying with key=%s", SWEEP_KEY)
    finally:
        window.close()  # saves window.ini
        router.close()
        tray.hide()
        tray.menu.deleteLater()
        controller.shutdown()
        qtbot.waitUntil(lambda: all(t.done() for t in asyncio.all_tasks(qloop)), timeout=5000)
    app_log.flush()

    files = _files(home)
    names = set(files)
    for expected in (
        "logs/locallama-gui.log",
        "data/locallama.db",
        "config/settings.toml",
        "config/window.ini",
        "exports/cost.csv",
        "exports/simulation.csv",
    ):
        assert expected in names, f"{expected} was not written: {sorted(names)}"
    log_text = files["logs/locallama-gui.log"].decode("utf-8")
    assert "unhandled exception" in log_text and "retrying with key=" in log_text
    leaks = [
        name
        for name, data in files.items()
        if MARK.encode() in data or MARK.encode("utf-16-le") in data
    ]
    assert leaks == [], f"the key was written to {leaks}"
