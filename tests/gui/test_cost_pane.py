"""The cost estimator pane, driven through its widgets with the bundled snapshot."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from locallama_gui.core.cost import format_usd, project
from locallama_gui.core.models import Tier, Usage, decimal_str
from locallama_gui.core.routing import Task
from locallama_gui.core.tokens import estimate_tokens
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.models.cost_model import CostInputs, money_text
from locallama_gui.gui.panes.cost import CostPane

FREE = "cohere/north-mini-code:free"
PAID = "openai/gpt-4o-mini"
BASE = "openai/gpt-4o"
VARIABLE = "openrouter/auto"


@pytest.fixture
def controller(qtbot, qloop):
    c = AppController()
    yield c
    c.shutdown()


@pytest.fixture
def pane(qtbot, controller):
    p = CostPane(controller)
    qtbot.addWidget(p)
    p.resize(1280, 800)
    controller.start()
    qtbot.waitUntil(lambda: controller.services is not None, timeout=15000)
    return p


def settle(qtbot, pane: CostPane, ids: list[str], inputs: CostInputs | None = None) -> None:
    def done() -> bool:
        if pane.busy or [r.model_id for r in pane.rows] != ids:
            return False
        return inputs is None or pane.shown_inputs == inputs

    qtbot.waitUntil(done, timeout=10000)


def cell(pane: CostPane, model_id: str, header: str) -> str:
    """What the table shows for ``model_id`` in column ``header`` (through the proxy)."""
    model = pane.table.model()
    col = pane.table_model.column_index(header)
    for row in range(model.rowCount()):
        if model.index(row, 0).data() == model_id:
            return model.index(row, col).data()
    raise KeyError(model_id)


def test_state_before_the_catalogue_is_open(qtbot, qloop):
    c = AppController()
    p = CostPane(c)
    qtbot.addWidget(p)
    assert p._stack.currentWidget() is p._loading
    p.add_model(PAID)  # queued until the catalogue is open
    assert p.model_ids == []
    c.start()
    qtbot.waitUntil(lambda: c.services is not None, timeout=15000)
    assert p._stack.currentIndex() == 2
    assert PAID in p.model_ids
    c.shutdown()


def test_three_models_free_paid_variable(qtbot, pane, controller):
    services = controller.services
    pane.set_token_counts(1200, 300)
    pane.requests.setValue(250)
    pane.set_models([FREE, PAID, VARIABLE])
    pane.baseline_combo.setCurrentIndex(0)  # no baseline
    expected_inputs = CostInputs(1200, 300, 250)
    settle(qtbot, pane, [FREE, PAID, VARIABLE], expected_inputs)

    free = pane.row_for(FREE)
    assert free.tier is Tier.FREE
    assert free.per_request == Decimal(0) and free.per_month == Decimal(0)
    assert cell(pane, FREE, "Per request") == "$0.00"
    assert cell(pane, FREE, "Per month") == "$0.00"
    assert cell(pane, FREE, "Limits").startswith("free: 20/min, 50/day")
    assert cell(pane, FREE, "Limits").endswith("over cap")
    assert "250 requests a day is over the daily cap" in free.limits_detail

    var = pane.row_for(VARIABLE)
    assert var.per_request is None and var.per_day is None and var.per_month is None
    for header in ("Per request", "Per day", "Per month"):
        assert cell(pane, VARIABLE, header) == "unknown"
    assert var.unknown_reason

    paid = pane.row_for(PAID)
    est = services.estimate(PAID, Usage(prompt_tokens=1200, completion_tokens=300))
    assert est.total_usd is not None and est.total_usd > 0
    assert paid.per_request == est.total_usd
    assert paid.per_day == est.total_usd * 250  # exact Decimal arithmetic
    assert paid.per_month == est.total_usd * 250 * 30
    assert cell(pane, PAID, "Per day") == money_text(est.total_usd * 250)
    assert cell(pane, PAID, "Per month") == money_text(est.total_usd * 250 * 30)
    assert cell(pane, PAID, "Limits") == "per token"

    # sorting by month puts $0 first and unknown last (raw values in the sort role)
    pane.table.sortByColumn(pane.table_model.column_index("Per month"), Qt.SortOrder.AscendingOrder)
    order = [pane.table.model().index(r, 0).data() for r in range(3)]
    assert order == [FREE, PAID, VARIABLE]
    pane.table.sortByColumn(
        pane.table_model.column_index("Per month"), Qt.SortOrder.DescendingOrder
    )
    order = [pane.table.model().index(r, 0).data() for r in range(3)]
    assert order == [VARIABLE, PAID, FREE]

    # the chart shows the same figures
    bars = {b.label: b for b in pane.chart.bars()}
    assert bars[VARIABLE].value is None and bars[VARIABLE].text == "unknown"
    assert bars[FREE].value == 0.0
    assert "250 requests/day" in pane.chart.title()


def test_prompt_tokens_are_counted_with_their_method(qtbot, pane):
    text = "Summarise the following meeting notes into five bullet points. " * 20
    with qtbot.waitSignal(pane.tokens_counted, timeout=10000) as sig:
        pane.set_prompt_text(text)
    expected = estimate_tokens(text)
    assert sig.args == [expected.tokens, expected.method]
    assert f"{expected.tokens:,} prompt tokens" in pane.token_label.text()
    assert expected.method in pane.token_label.text()
    pane.set_models([PAID])
    settle(qtbot, pane, [PAID])
    assert pane.shown_inputs.prompt_tokens == expected.tokens


def test_baseline_savings(qtbot, pane):
    pane.set_token_counts(2000, 800)
    pane.requests.setValue(40)
    pane.set_models([PAID, BASE, FREE])
    pane.set_baseline(BASE)
    settle(qtbot, pane, [PAID, BASE, FREE], CostInputs(2000, 800, 40))
    qtbot.waitUntil(lambda: pane.row_for(BASE).is_baseline, timeout=5000)
    base = pane.row_for(BASE)
    mini = pane.row_for(PAID)
    free = pane.row_for(FREE)
    assert base.per_month is not None and mini.per_month is not None
    assert mini.savings_month == base.per_month - mini.per_month
    assert free.savings_month == base.per_month
    assert cell(pane, BASE, "Vs baseline / month") == "baseline"
    assert cell(pane, PAID, "Vs baseline / month") == f"saves {money_text(mini.savings_month)}"
    assert f"Against {BASE}" in pane.summary.text()
    assert f"{FREE} saves {format_usd(base.per_month, 2)}/month" in pane.summary.text()


def test_presets(qtbot, pane, controller):
    services = controller.services
    pane.preset_free()
    free_ids = sorted(m.id for m in services.models if m.tier is Tier.FREE and m.text_output)
    assert pane.model_ids == free_ids
    settle(qtbot, pane, free_ids)
    assert all(r.per_request == 0 for r in pane.rows)

    pane.set_token_counts(500, 200)
    pane.preset_cheapest(3)
    usage = Usage(prompt_tokens=500, completion_tokens=200)
    priced = sorted(
        (services.estimate(m.id, usage).total_usd, m.id)
        for m in services.models
        if m.tier is Tier.PAID and m.text_output
    )
    cheapest = [mid for _, mid in priced[:3]]
    qtbot.waitUntil(lambda: pane.model_ids == cheapest, timeout=10000)

    before = pane.model_ids
    pane.preset_local()  # the bundled snapshot has no local models
    assert pane.model_ids == before
    assert pane.banner.isVisibleTo(pane) and "No local models" in pane.banner.text

    decision = services.route(Task(prompt="Write a haiku about rivers"), record=True)
    pane.preset_used()
    qtbot.waitUntil(lambda: pane.model_ids == [decision.chosen.id], timeout=10000)


def test_csv_export_and_copy_as_text(qtbot, pane, tmp_path):
    pane.set_token_counts(1000, 1000)
    pane.requests.setValue(10)
    pane.set_models([FREE, PAID, VARIABLE])
    pane.set_baseline(PAID)
    settle(qtbot, pane, [FREE, PAID, VARIABLE], CostInputs(1000, 1000, 10))
    qtbot.waitUntil(lambda: pane.row_for(PAID).is_baseline, timeout=5000)
    path = tmp_path / "costs.csv"
    with qtbot.waitSignal(pane.exported, timeout=10000):
        pane.export_csv(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    by_id = {r["model"]: r for r in rows}
    assert set(by_id) == {FREE, PAID, VARIABLE}
    paid = pane.row_for(PAID)
    assert by_id[PAID]["cost_per_request_usd"] == decimal_str(paid.per_request)
    assert by_id[PAID]["cost_per_day_usd"] == decimal_str(paid.per_request * 10)
    assert by_id[PAID]["cost_per_month_usd (30 days)"] == decimal_str(paid.per_request * 300)
    assert by_id[FREE]["cost_per_month_usd (30 days)"] == "0"
    assert by_id[FREE]["savings_per_month_vs_baseline_usd"] == decimal_str(paid.per_month)
    assert by_id[FREE]["limits"].startswith("free: 20/min, 50/day")
    # unknown stays unknown: empty, never 0
    assert by_id[VARIABLE]["cost_per_request_usd"] == ""
    assert by_id[VARIABLE]["cost_per_month_usd (30 days)"] == ""
    assert by_id[VARIABLE]["note"]
    assert {r["baseline"] for r in rows} == {PAID}

    text = pane.copy_as_text()
    assert QGuiApplication.clipboard().text() == text
    assert "10 requests/day" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.split()}
    assert "unknown" in lines[VARIABLE]
    assert format_usd(paid.per_month) in lines[PAID]
    assert "free: 20/min, 50/day" in lines[FREE]


def test_projection_matches_the_core(qtbot, pane, controller):
    """Per day and per month are exactly ``project`` of the per-request cost."""
    pane.set_token_counts(777, 333)
    pane.requests.setValue(1234)
    pane.set_models([BASE])
    settle(qtbot, pane, [BASE], CostInputs(777, 333, 1234))
    est = controller.services.estimate(BASE, Usage(prompt_tokens=777, completion_tokens=333))
    proj = project(est.total_usd, 1234, 30)
    row = pane.row_for(BASE)
    assert (row.per_request, row.per_day, row.per_month) == (
        proj.per_request,
        proj.per_day,
        proj.per_month,
    )


def test_images_are_billed_per_image(qtbot, pane, controller):
    """A model that prices images bills each one; a per-image price is part of the cost."""
    eyes = "google/gemini-3.7-flash"
    pane.set_token_counts(1000, 100)
    pane.requests.setValue(10)
    pane.images.setValue(3)
    pane.set_models([eyes])
    settle(qtbot, pane, [eyes], CostInputs(1000, 100, 10, images=3))
    with_images = controller.services.estimate(
        eyes, Usage(prompt_tokens=1000, completion_tokens=100, images=3)
    )
    without = controller.services.estimate(eyes, Usage(prompt_tokens=1000, completion_tokens=100))
    assert with_images.total_usd > without.total_usd
    assert pane.row_for(eyes).per_request == with_images.total_usd
