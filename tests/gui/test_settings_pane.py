"""The Settings pane through its real widgets: validation, applying, endpoint tests."""

from __future__ import annotations

import asyncio
import socket

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit

from locallama_gui.core.settings import Settings
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.panes.settings import SettingsPane
from locallama_gui.services import probe
from locallama_gui.services.catalogue import LoadedCatalogue
from locallama_gui.services.facade import Services
from locallama_gui.store.paths import settings_path
from locallama_gui.store.settings_file import load_settings
from tests.fakes import OllamaFake


def empty_catalogue() -> LoadedCatalogue:
    return LoadedCatalogue(models=(), skipped=(), origin="file", label="test")


def shut_down(qtbot, loop, controller) -> None:
    """Stop the controller and let the loop finish its cancelled tasks (none left dangling)."""
    controller.shutdown()
    qtbot.waitUntil(lambda: all(t.done() for t in asyncio.all_tasks(loop)), timeout=5000)


@pytest.fixture
def controller(qtbot, qloop):
    c = AppController(services_factory=lambda: Services(catalogue=empty_catalogue()))
    c.start()
    qtbot.waitUntil(lambda: c.services is not None, timeout=5000)
    yield c
    shut_down(qtbot, qloop, c)


@pytest.fixture
def pane(qtbot, controller):
    p = SettingsPane(controller)
    qtbot.addWidget(p)
    p.resize(900, 700)
    p.show()
    return p


def test_form_shows_the_current_settings(pane):
    assert pane.fields["endpoints.ollama_url"].widget.text() == "http://127.0.0.1:11434"
    assert pane.priority.currentData() == "balanced"
    assert pane.fallback_depth.value() == 4
    assert pane.refresh_interval.value() == 60
    assert not pane.apply_button.isEnabled()  # nothing to apply yet


def test_invalid_values_are_shown_next_to_their_fields(pane, controller, qtbot):
    before = controller.services.settings
    pane.budget.setText("lots")
    pane.quality_floor.setText("1.5")
    url = pane.fields["endpoints.ollama_url"].widget
    url.setText("ftp://127.0.0.1:11434")
    pane.extra_urls.setPlainText("http://127.0.0.1:8080\nnot a url")
    assert pane.apply_button.isEnabled()
    qtbot.mouseClick(pane.apply_button, Qt.MouseButton.LeftButton)

    assert pane.error_text("routing.budget_usd").startswith("routing.budget_usd: must be a non")
    assert pane.error_text("routing.quality_floor") == (
        "routing.quality_floor: must be a number from 0 to 1, got 1.5"
    )
    assert pane.error_text("endpoints.ollama_url").startswith(
        "endpoints.ollama_url: must be an http(s) URL"
    )
    assert pane.error_text("endpoints.extra_server_urls").startswith(
        "endpoints.extra_server_urls[1]:"
    )
    assert pane.error_text("routing.priority") == ""
    assert "4 settings need fixing" in pane.status_label.text()
    assert controller.services.settings is before  # nothing was applied
    assert not settings_path().exists()

    # editing a field clears its message
    qtbot.keyClicks(pane.budget, "x")
    assert pane.error_text("routing.budget_usd") == ""


def test_changes_apply_without_restart(pane, controller, qtbot):
    seen: list[Settings] = []
    controller.settings_changed.connect(seen.append)
    pane.priority.setCurrentIndex(pane.priority.findData("cost"))
    pane.budget.setText("0.05")
    pane.local_only.setChecked(True)
    pane.fallback_depth.setValue(2)
    pane.refresh_interval.setValue(0)
    pane.fields["endpoints.lmstudio_url"].widget.setText("http://127.0.0.1:4321/")
    with qtbot.waitSignal(pane.applied, timeout=5000):
        qtbot.mouseClick(pane.apply_button, Qt.MouseButton.LeftButton)

    live = controller.services.settings
    assert live.routing.priority == "cost"
    assert str(live.routing.budget_usd) == "0.05"
    assert live.routing.local_only is True
    assert live.routing.fallback_depth == 2
    assert live.refresh.interval_minutes == 0
    assert live.endpoints.lmstudio_url == "http://127.0.0.1:4321"
    assert controller.services.default_policy().local_only is True  # routing follows at once
    assert seen and seen[-1] == live

    on_disk = load_settings()
    assert on_disk.error is None
    assert on_disk.settings == live
    assert 'priority = "cost"' in settings_path().read_text(encoding="utf-8")
    assert pane.status_label.text() == "Saved. The new settings are in effect."
    assert not pane.apply_button.isEnabled()


def test_revert_and_defaults(pane, controller):
    pane.priority.setCurrentIndex(pane.priority.findData("speed"))
    pane.revert()
    assert pane.priority.currentData() == "balanced"
    pane.fallback_depth.setValue(7)
    pane.restore_defaults()
    assert pane.fallback_depth.value() == 4
    assert pane.apply_button.isEnabled()


def test_api_key_box_is_a_labelled_placeholder(pane):
    box = pane.api_key_group
    assert box.title() == "OpenRouter API key"
    assert box.findChildren(QLineEdit) == [] and box.findChildren(QPlainTextEdit) == []
    assert "later version" in " ".join(w.text() for w in box.findChildren(type(pane.status_label)))


def test_endpoint_test_button_reaches_a_real_server(pane, qtbot, data_dir):
    with OllamaFake(data_dir=data_dir) as server:
        pane.fields["endpoints.ollama_url"].widget.setText(server.url)
        qtbot.mouseClick(pane.test_buttons["ollama"], Qt.MouseButton.LeftButton)
        label = pane.test_results["ollama"]
        qtbot.waitUntil(lambda: label.text().startswith("✓"), timeout=10_000)
    assert "Ollama 0.12.3 is running" in label.text()
    assert pane.test_buttons["ollama"].isEnabled()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_endpoint_test_reports_a_server_that_is_down(pane, qtbot):
    pane.extra_urls.setPlainText(f"http://127.0.0.1:{_closed_port()}")
    qtbot.mouseClick(pane.test_buttons["openai_compat"], Qt.MouseButton.LeftButton)
    label = pane.test_results["openai_compat"]
    qtbot.waitUntil(lambda: label.text().startswith("✗"), timeout=10_000)
    assert "Nothing is listening" in label.text()


def test_endpoint_test_refuses_an_invalid_address(pane):
    pane.fields["endpoints.lmstudio_url"].widget.setText("lmstudio")
    pane.test("lmstudio")
    assert pane.error_text("endpoints.lmstudio_url").startswith("endpoints.lmstudio_url:")
    assert pane.test_results["lmstudio"].text() == "✗ Fix the address first."


def test_probe_refuses_plain_http_to_a_public_host(qtbot, qloop):
    fut = asyncio.ensure_future(probe.test_endpoint("openrouter", "http://example.com/api/v1"))
    qtbot.waitUntil(fut.done, timeout=5000)
    ok, message = fut.result()
    assert not ok and "refused" in message  # never sent: plain http to a public host


def test_spend_guardrails_are_set_checked_and_enforced_from_the_form(pane, controller, qtbot):
    from decimal import Decimal

    from locallama_gui.services.spend import SpendLimits

    pane.daily_cap.setText("-1")
    pane.monthly_cap.setText("plenty")
    qtbot.mouseClick(pane.apply_button, Qt.MouseButton.LeftButton)
    assert pane.error_text("spend.daily_cap_usd").startswith("spend.daily_cap_usd:")
    assert pane.error_text("spend.monthly_cap_usd").startswith("spend.monthly_cap_usd:")
    assert controller.services.settings.spend.daily_cap_usd is None

    pane.daily_cap.setText("2.50")
    pane.monthly_cap.setText("")
    pane.refuse_paid_fallback.setChecked(True)
    pane.baseline_model.setText("openai/gpt-4o")
    with qtbot.waitSignal(pane.applied, timeout=5000):
        qtbot.mouseClick(pane.apply_button, Qt.MouseButton.LeftButton)
    spend = controller.services.settings.spend
    assert spend.daily_cap_usd == Decimal("2.50") and spend.monthly_cap_usd is None
    assert spend.refuse_paid_fallback and spend.baseline_model == "openai/gpt-4o"
    limits = SpendLimits.from_settings(controller.services)  # what every paid call checks
    assert limits.daily_cap_usd == Decimal("2.50") and limits.refuse_paid_fallback
    assert load_settings().settings.spend == spend
    pane.load(controller.services.settings)
    assert pane.daily_cap.text() == "2.50" and pane.monthly_cap.text() == ""
