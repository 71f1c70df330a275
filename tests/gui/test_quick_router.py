"""The quick router end to end: type, Enter, the decision, copy, run (streamed from the
loopback OpenRouter fake) and open in the playground; Esc closes."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from locallama_gui.core.models import Source
from locallama_gui.core.settings import EndpointSettings
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.main_window import MainWindow
from locallama_gui.gui.panes.playground_single import DecisionCard, LiveExecutor
from locallama_gui.gui.quick_router import QuickRouter, one_line_why, quick_task
from locallama_gui.secrets import SERVICE, USERNAME
from tests.fakes.fixtures import fake_api_key, openrouter_fake  # noqa: F401
from tests.fakes.providers import REPLY_TEXT

PROMPT = "Translate 'where is the station' into German"


@pytest.fixture
def controller(qtbot, qloop, openrouter_fake, fake_api_key, memory_keyring):  # noqa: F811
    memory_keyring.set_password(SERVICE, USERNAME, fake_api_key)
    c = AppController()
    c.start()
    qtbot.waitUntil(lambda: c.services is not None, timeout=15_000)
    settings = c.services.settings
    endpoints = EndpointSettings(
        openrouter_url=openrouter_fake.base_url,
        ollama_enabled=False,
        lmstudio_enabled=False,
        extra_servers_enabled=False,
    )
    with qtbot.waitSignal(c.settings_changed, timeout=5000):
        c.apply_settings(replace(settings, endpoints=endpoints))
    yield c
    c.shutdown()
    qtbot.waitUntil(lambda: all(t.done() for t in asyncio.all_tasks(qloop)), timeout=5000)


@pytest.fixture
def router(qtbot, controller):
    r = QuickRouter(controller)
    qtbot.addWidget(r)
    r.popup()
    qtbot.waitExposed(r)
    return r


def _type_and_enter(qtbot, router, text: str = PROMPT):
    router.prompt_edit.clear()
    qtbot.keyClicks(router.prompt_edit, text)
    with qtbot.waitSignal(router.routed, timeout=15_000) as sig:
        qtbot.keyClick(router.prompt_edit, Qt.Key.Key_Return)
    return sig.args[0]


def test_is_a_small_always_on_top_tool_window(router):
    flags = router.windowFlags()
    assert flags & Qt.WindowType.WindowStaysOnTopHint
    assert (flags & Qt.WindowType.Tool) == Qt.WindowType.Tool
    assert router.prompt_edit.hasFocus()
    assert not router.card.isVisible()
    assert not any(
        b.isEnabled() for b in (router.copy_button, router.run_button, router.playground_button)
    )


def test_enter_routes_and_shows_the_decision(qtbot, router, controller):
    shown = _type_and_enter(qtbot, router)
    assert router.prompt_edit.toPlainText() == PROMPT  # Enter routed, typed no newline

    services = controller.services
    expected = services.route(quick_task(PROMPT, services), now=shown.context.now)
    chosen = expected.chosen
    assert shown.chosen.id == chosen.id
    assert router.card.isVisible()
    assert router.model_label.text() == chosen.id
    assert router.tier_label.text().lower() == chosen.tier.value
    assert router.cost_label.text() == DecisionCard.cost_text(expected)
    assert router.why_text == one_line_why(expected)
    assert router.why_text and "\n" not in router.why_text
    assert router.why_label.toolTip().split("\n") == list(expected.why)
    # recorded in the history, like any other route
    assert services.store.recent_routes(limit=1)[0].chosen_id == chosen.id


def test_shift_enter_is_a_new_line_and_empty_text_is_refused(qtbot, router):
    qtbot.keyClicks(router.prompt_edit, "first")
    qtbot.keyClick(router.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(router.prompt_edit, "second")
    assert router.prompt_edit.toPlainText() == "first\nsecond"
    assert router.decision is None

    router.prompt_edit.clear()
    assert router.route() is None
    assert router.status_label.text() == "Type or paste a task first."


def test_copy_the_model_id(qtbot, router):
    decision = _type_and_enter(qtbot, router)
    QGuiApplication.clipboard().clear()
    with qtbot.waitSignal(router.copied, timeout=1000):
        qtbot.mouseClick(router.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == decision.chosen.id
    assert router.status_label.text() == f"Copied {decision.chosen.id}"


def test_run_streams_from_the_fake_into_the_popup(
    qtbot,
    router,
    controller,
    openrouter_fake,  # noqa: F811
    fake_api_key,  # noqa: F811
):
    decision = _type_and_enter(qtbot, router)
    assert decision.chosen.model.source is Source.OPENROUTER
    assert isinstance(router._executor(), LiveExecutor)  # the playground's executor
    qtbot.waitUntil(router.run_button.isEnabled, timeout=5000)  # the key was found
    deltas: list[str] = []
    original = router._on_delta
    router._on_delta = lambda text: (deltas.append(text), original(text))  # type: ignore[method-assign]
    with qtbot.waitSignal(router.run_finished, timeout=20_000) as sig:
        qtbot.mouseClick(router.run_button, Qt.MouseButton.LeftButton)
    result = sig.args[0]
    assert router.output.isVisible()
    assert router.output.toPlainText() == REPLY_TEXT
    assert len(deltas) > 1 and "".join(deltas) == REPLY_TEXT  # streamed, piece by piece
    assert router.run_status.text().startswith(f"Served by {result.model_id}")
    chats = openrouter_fake.requests_to("/chat/completions")
    assert chats, "the run went to the fake"
    body = chats[-1].json
    assert body["model"] == decision.chosen.id
    assert body["stream"] is True
    assert body["messages"][-1]["content"] == PROMPT
    assert chats[-1].headers["authorization"] == f"Bearer {fake_api_key}"
    assert router.run_button.isEnabled() and not router.stop_button.isEnabled()


def test_open_in_playground_with_the_same_inputs(qtbot, router, controller):
    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.attach_quick_router(router)
    decision = _type_and_enter(qtbot, router)
    single = window.panes["playground"].single
    with qtbot.waitSignal(single.routed, timeout=15_000) as sig:
        qtbot.mouseClick(router.playground_button, Qt.MouseButton.LeftButton)
    assert not router.isVisible()
    assert window.isVisible()
    assert window.current_pane() == "playground"
    assert single.prompt_edit.toPlainText() == PROMPT
    assert single.current_task() == router.task
    assert sig.args[0].chosen.id == decision.chosen.id
    assert single.card.model_label.text() == decision.chosen.id


def test_escape_closes_and_stops_a_run(qtbot, router):
    _type_and_enter(qtbot, router)
    qtbot.keyClick(router.prompt_edit, Qt.Key.Key_Escape)
    assert not router.isVisible()
    router.popup("Another task")
    assert router.isVisible()
    assert router.prompt_edit.toPlainText() == "Another task"


def test_without_a_catalogue_it_says_so(qtbot, qloop):
    c = AppController()
    r = QuickRouter(c)
    qtbot.addWidget(r)
    r.popup("hello")
    assert r.route() is None
    assert "still loading" in r.status_label.text()
    c.shutdown()
