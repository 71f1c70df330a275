"""The cost pane and the decision card mark costs priced from an estimated count with "≈"."""

from __future__ import annotations

import pytest

from locallama_gui.core.routing import Policy, Task
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.panes.cost import CostPane
from locallama_gui.gui.panes.playground_single import DecisionCard, route_for_view

PAID = "openai/gpt-4o-mini"


@pytest.fixture
def controller(qtbot, qloop):
    c = AppController()
    yield c
    c.shutdown()


@pytest.fixture
def pane(qtbot, controller):
    p = CostPane(controller)
    qtbot.addWidget(p)
    controller.start()
    qtbot.waitUntil(lambda: controller.services is not None, timeout=15000)
    return p


def settled(pane: CostPane, prompt_tokens: int) -> bool:
    return (
        not pane.busy
        and [r.model_id for r in pane.rows] == [PAID]
        and pane.shown_inputs.prompt_tokens == prompt_tokens
    )


def test_the_cost_pane_marks_costs_from_an_estimated_count(qtbot, pane):
    pane.set_models([PAID])
    with qtbot.waitSignal(pane.tokens_counted, timeout=10000) as sig:
        pane.set_prompt_text("Summarise the meeting notes in five bullet points. " * 40)
    tokens, method = sig.args
    assert method.startswith("estimate")  # no model's tokenizer here: the "other" estimate
    qtbot.waitUntil(lambda: settled(pane, tokens), timeout=10000)
    (bar,) = pane.chart.bars()
    assert bar.text.startswith("≈ $")
    assert pane.summary.text().startswith(f"≈ {tokens:,} prompt")

    pane.set_token_counts(1200, 300)  # typed in: exact
    qtbot.waitUntil(lambda: settled(pane, 1200), timeout=10000)
    (bar,) = pane.chart.bars()
    assert not bar.text.startswith("≈") and not pane.summary.text().startswith("≈")


def test_the_decision_card_chain_marks_estimated_costs(controller, qtbot):
    controller.start()
    qtbot.waitUntil(lambda: controller.services is not None, timeout=15000)
    services = controller.services
    paid = Policy(free_preference="avoid")
    estimated = route_for_view(services, Task(prompt="Explain recursion briefly."), paid)
    given = route_for_view(services, Task(prompt_tokens=20), paid)
    assert not estimated.resolved.tokens_exact and given.resolved.tokens_exact
    card = DecisionCard()
    qtbot.addWidget(card)
    card.show_decision(estimated)
    assert "paid, ≈ $" in card.chain_label.text()
    card.show_decision(given)
    assert "paid, $" in card.chain_label.text() and "≈" not in card.chain_label.text()
