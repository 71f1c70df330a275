"""A very large prompt in the cost estimator and the playground: it is kept out of the editor
(which would lay it out for seconds), counted off the GUI thread after a pause in typing, and
a count that was overtaken by newer text never lands. How long the window stalls is measured
by ``packaging/paste_bench.py``, not asserted here."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QMimeData, Qt

from locallama_gui.core.tokens import TokenEstimate, estimate_tokens
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.panes import cost as cost_module
from locallama_gui.gui.panes import playground_single
from locallama_gui.gui.panes.cost import CostPane
from locallama_gui.gui.panes.playground import PlaygroundPane
from locallama_gui.gui.widgets.prompt_edit import PromptEdit, too_large_to_show


def big_prompt(chars: int = 2_000_000) -> str:
    """Mixed prose, numbers and code, as people paste."""
    parts, size, k = [], 0, 0
    while size < chars:
        k += 1
        if k % 3 == 0:
            s = f"def f{k}(x, y={k}):\n    return [i * {k / 7:.5f} for i in range(x)]\n"
        elif k % 3 == 1:
            s = f"Route task {k} to a free model when it is good enough; figure {k * 7919}.\n"
        else:
            s = ", ".join(str(k * j - 500) for j in range(12)) + "\n"
        parts.append(s)
        size += len(s)
    return "".join(parts)[:chars]


def paste(edit, text: str) -> None:
    mime = QMimeData()
    mime.setText(text)
    edit.insertFromMimeData(mime)


class CountSpy:
    """Wraps a counting function: which threads it ran on, with what, and it can hold."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.threads: list[threading.Thread] = []
        self.texts: list[str] = []
        self.hold_first = threading.Event()
        self.hold_first.set()
        self.started = threading.Event()

    def __call__(self, text: str, *args):
        self.threads.append(threading.current_thread())
        self.texts.append(text)
        self.started.set()
        if len(self.texts) == 1:
            self.hold_first.wait(10)
        return self.fn(text, *args)


@pytest.fixture
def controller(qtbot, qloop):
    c = AppController()
    c.start()
    qtbot.waitUntil(lambda: c.services is not None, timeout=15_000)
    yield c
    c.shutdown()


def test_what_is_too_large_to_show():
    assert not too_large_to_show("short\n" * 1000)
    assert not too_large_to_show("x" * 100_000)  # one line, but a short one
    assert too_large_to_show("x" * 100_001)  # one line laid out whole at every resize
    assert too_large_to_show("line\n" * 100_000)  # 500,000 characters
    assert not too_large_to_show(("y" * 99_999 + "\n") * 4)


def test_a_paste_is_spliced_where_it_goes(qtbot):
    edit = PromptEdit()
    qtbot.addWidget(edit)
    edit.setPlainText("Summarise 🙂 this: <>")
    cursor = edit.textCursor()
    text = edit.toPlainText()
    # select "<>" (cursor positions count UTF-16 units: the emoji is two)
    start = len(text[: text.index("<")].encode("utf-16-le")) // 2
    cursor.setPosition(start)
    cursor.setPosition(start + 2, cursor.MoveMode.KeepAnchor)
    edit.setTextCursor(cursor)
    blob = "z" * 150_000
    with qtbot.waitSignal(edit.too_large) as sig:
        paste(edit, blob)
    assert sig.args[0] == "Summarise 🙂 this: " + blob
    assert edit.toPlainText() == "Summarise 🙂 this: <>"  # nothing laid out
    paste(edit, "small")
    assert edit.toPlainText() == "Summarise 🙂 this: small"


def test_cost_pane_counts_a_2mb_paste_off_the_gui_thread(qtbot, controller, monkeypatch):
    spy = CountSpy(estimate_tokens)
    monkeypatch.setattr(cost_module, "estimate_tokens", spy)
    pane = CostPane(controller)
    qtbot.addWidget(pane)
    pane.resize(1280, 800)
    pane.show()
    text = big_prompt()
    counted: list[tuple[int, str]] = []
    pane.tokens_counted.connect(lambda n, method: counted.append((n, method)))
    paste(pane.prompt_edit, text)
    assert pane.prompt_edit.toPlainText() == ""  # kept out of the editor
    assert pane.held_text == text
    assert "2,000,000 characters" in pane.prompt_edit.placeholderText()
    assert pane.token_label.text() == "Counting tokens…"
    qtbot.waitUntil(lambda: bool(counted), timeout=30_000)
    assert spy.texts == [text]
    assert spy.threads[0] is not threading.main_thread()
    assert counted == [(estimate_tokens(text).tokens, estimate_tokens(text).method)]
    assert f"{counted[0][0]:,} prompt tokens in the pasted text" in pane.token_label.text()
    assert pane.clear_file_button.isVisible()
    pane.clear_file_button.click()
    assert pane.held_text is None and pane.prompt_edit.isEnabled()


def test_cost_pane_counts_once_after_typing_and_drops_an_overtaken_count(
    qtbot, controller, monkeypatch
):
    spy = CountSpy(estimate_tokens)
    spy.hold_first.clear()  # the first count takes its time
    monkeypatch.setattr(cost_module, "estimate_tokens", spy)
    pane = CostPane(controller)
    qtbot.addWidget(pane)
    pane.show()
    counted: list[int] = []
    pane.tokens_counted.connect(lambda n, _m: counted.append(n))
    pane.prompt_edit.setFocus()
    qtbot.keyClicks(pane.prompt_edit, "first draft")  # eleven keystrokes, one count
    qtbot.waitUntil(spy.started.is_set, timeout=5_000)
    assert spy.texts == ["first draft"]
    pane.prompt_edit.setPlainText("the second text, much longer than the first draft")
    qtbot.waitUntil(lambda: len(spy.texts) == 2, timeout=5_000)
    spy.hold_first.set()  # the first count ends now, after the second was asked for
    qtbot.waitUntil(lambda: bool(counted), timeout=5_000)
    qtbot.wait(300)  # room for the overtaken count to land, if it could
    second = estimate_tokens("the second text, much longer than the first draft").tokens
    assert counted == [second]  # the overtaken count never landed
    assert pane.token_label.text().startswith(f"{second:,} prompt tokens")


def test_playground_holds_a_2mb_paste_counts_it_off_the_gui_thread_and_routes_it(
    qtbot, controller, monkeypatch
):
    spy = CountSpy(playground_single.analyse_prompt)
    monkeypatch.setattr(playground_single, "analyse_prompt", spy)
    pane = PlaygroundPane(controller)
    qtbot.addWidget(pane)
    pane.resize(1280, 800)
    pane.show()
    single = pane.single
    text = big_prompt()
    paste(single.prompt_edit, text)
    assert single.prompt_edit.toPlainText() == ""
    assert single.prompt_text() == text
    assert single.clear_prompt_button.isVisible()
    qtbot.waitUntil(lambda: "estimated complexity" in single.prompt_info.text(), timeout=30_000)
    assert spy.texts == [text] and spy.threads[0] is not threading.main_thread()
    tokens = estimate_tokens(text).tokens
    assert single.prompt_info.text().startswith(f"{tokens:,} tokens")

    with qtbot.waitSignal(single.routed, timeout=30_000) as sig:
        qtbot.keyClick(single.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    decision = sig.args[0]
    assert decision.resolved.prompt_tokens == tokens  # the whole text was routed
    assert single.candidate_model.rowCount() == len(decision.candidates)
    assert single.rejected_model.rowCount() == len(decision.rejected)

    single.clear_prompt_button.click()
    assert single.prompt_text() == "" and not single.prompt_edit.isReadOnly()
    qtbot.waitUntil(lambda: single.prompt_info.text().startswith("Empty prompt"), timeout=5_000)


def test_playground_drops_an_overtaken_count(qtbot, controller, monkeypatch):
    def analyse(text: str) -> tuple[int, str, float]:
        return TokenEstimate(len(text), "test", True).tokens, "test", 0.5

    spy = CountSpy(analyse)
    spy.hold_first.clear()
    monkeypatch.setattr(playground_single, "analyse_prompt", spy)
    pane = PlaygroundPane(controller)
    qtbot.addWidget(pane)
    single = pane.single
    single.prompt_edit.setPlainText("old")
    qtbot.waitUntil(spy.started.is_set, timeout=5_000)
    single.prompt_edit.setPlainText("the new prompt")
    qtbot.waitUntil(lambda: len(spy.texts) == 2, timeout=5_000)
    spy.hold_first.set()
    qtbot.waitUntil(lambda: single.prompt_info.text().startswith("14 tokens"), timeout=5_000)
    qtbot.wait(200)
    assert single.prompt_info.text().startswith("14 tokens")  # "3 tokens" never showed up
