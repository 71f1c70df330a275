"""The route playground, driven through its widgets with the bundled snapshot."""

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt

from locallama_gui.core.cost import format_usd
from locallama_gui.core.models import Source, Usage
from locallama_gui.core.routing import FreePreference, Priority, Reason, Task
from locallama_gui.core.simulation import Scenario, generate_tasks
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.models.sim_model import FACTOR_HEADERS
from locallama_gui.gui.panes.playground import PlaygroundPane
from locallama_gui.gui.panes.playground_single import NO_SOURCE_TIP
from locallama_gui.services.runner import OK, Attempt, RunResult
from locallama_gui.sources import ChatResult

PROMPT = "Refactor this function and explain the trade-offs step by step:\ndef f(x): return x*2"
BASELINE = "openai/gpt-4o"


@pytest.fixture
def controller(qtbot, qloop):
    c = AppController()
    yield c
    c.shutdown()


@pytest.fixture
def pane(qtbot, controller):
    p = PlaygroundPane(controller)
    qtbot.addWidget(p)
    p.resize(1280, 800)
    p.show()
    qtbot.waitExposed(p)
    controller.start()
    qtbot.waitUntil(lambda: controller.services is not None, timeout=15000)
    return p


def _cell(view, row: int, header: str) -> str:
    source = view.model().sourceModel()
    return view.model().index(row, source.column_index(header)).data()


def test_designed_state_before_services(qtbot, qloop):
    c = AppController()
    p = PlaygroundPane(c)
    qtbot.addWidget(p)
    assert not p.ready
    assert p.single.route() is None  # nothing to route with yet: no crash, no job
    c.start()
    qtbot.waitUntil(lambda: p.ready, timeout=15000)
    assert p.batch.baseline_id == BASELINE
    c.shutdown()


def test_route_a_task_and_read_the_card(qtbot, pane, controller):
    single = pane.single
    single.prompt_edit.setPlainText(PROMPT)
    single.category.setCurrentText("code")
    single.set_complexity(0.4)
    single.budget.setText("0.002")
    single.prompt_edit.setFocus()
    with qtbot.waitSignal(single.routed, timeout=15000) as sig:
        qtbot.keyClick(single.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    shown = sig.args[0]
    assert single.prompt_edit.toPlainText() == PROMPT  # Ctrl+Enter routed, typed nothing

    services = controller.services
    task = Task(prompt=PROMPT, complexity=0.4, category="code", output_tokens=512)
    policy = services.default_policy(budget_usd=Decimal("0.002"))
    expected = services.route(task, policy, now=shown.context.now)
    assert shown.chosen.id == expected.chosen.id
    card = single.card
    assert card.model_label.text() == expected.chosen.id
    assert card.tier_label.text().strip().lower() == expected.chosen.tier.value
    est = expected.estimated_cost_usd
    assert format_usd(est) in card.cost_label.text()
    assert card.why_lines == expected.why
    for line in expected.why:
        assert line.split(":")[0] in card.why_label.text()
    for fb in expected.fallbacks:
        assert fb.id in card.chain_label.text()

    # candidates: one row each, with each factor's contribution
    cand = single.candidate_table
    assert cand.model().rowCount() == len(expected.candidates)
    first = expected.candidates[0]
    assert _cell(cand, 0, "Model") == first.id
    assert _cell(cand, 0, "Chain") == "chosen"
    for name in ("quality", "cost", "latency"):
        assert _cell(cand, 0, FACTOR_HEADERS[name]) == f"{first.factors[name]:+.3f}"
    assert single.tabs.tabText(0) == f"Candidates ({len(expected.candidates)})"

    # rejected: the budget rules models out, each with its reason
    rej = single.rejected_table
    assert rej.model().rowCount() == len(expected.rejected) > 0
    reasons = {_cell(rej, r, "Reason") for r in range(rej.model().rowCount())}
    assert Reason.OVER_BUDGET.value in reasons
    assert Reason.VARIABLE_PRICE_WITH_BUDGET.value in reasons
    texts = {_cell(rej, r, "Why") for r in range(rej.model().rowCount())}
    assert any(t.startswith("estimated cost over budget") for t in texts)

    # the route was recorded in the history
    assert services.store.recent_routes(limit=1)[0].chosen_id == expected.chosen.id


def test_pin_model_pins_the_next_route(qtbot, pane):
    single = pane.single
    pane.pin_model("openai/gpt-4o-mini")
    assert single.pinned == "openai/gpt-4o-mini"
    assert single.pin_box.isVisibleTo(single)
    single.prompt_edit.setPlainText("Say hello")
    with qtbot.waitSignal(single.routed, timeout=15000) as sig:
        qtbot.mouseClick(single.route_button, Qt.MouseButton.LeftButton)
    decision = sig.args[0]
    assert decision.chosen.id == "openai/gpt-4o-mini"
    assert single.card.model_label.text() == "openai/gpt-4o-mini"
    assert any("Pinned to openai/gpt-4o-mini" in line for line in single.card.why_lines)
    single.unpin_button.click()
    assert single.pinned is None


def test_run_is_disabled_without_a_source(qtbot, pane):
    single = pane.single
    single.prompt_edit.setPlainText("Say hello")
    with qtbot.waitSignal(single.routed, timeout=15000):
        single.route()
    # no OpenRouter key and no local model in the bundled snapshot
    assert not single.run_button.isEnabled()
    assert single.run_button.toolTip() == NO_SOURCE_TIP


def test_run_is_offered_once_a_key_is_there(qtbot, pane, monkeypatch):
    single = pane.single
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-" + "0" * 64)
    single.refresh_sources()
    qtbot.waitUntil(lambda: single._executor().key_present, timeout=10000)
    single.prompt_edit.setPlainText("Say hello")
    with qtbot.waitSignal(single.routed, timeout=15000):
        single.route()
    assert single.run_button.isEnabled()
    assert "stream the answer" in single.run_button.toolTip()


class FakeExecutor:
    """Streams a fixed answer through the Run wiring (the real one needs a network)."""

    def can_run(self, decision) -> bool:
        return True

    async def run(self, decision, prompt, *, on_delta, on_attempt, cancel):
        chosen = decision.chosen.id
        on_attempt(chosen)
        for piece in ("Hel", "lo ", "world"):
            await asyncio.sleep(0)
            on_delta(piece)
        chat = ChatResult(
            text="Hello world",
            model_used=chosen,
            source=Source.OPENROUTER,
            usage=Usage(prompt_tokens=12, completion_tokens=3),
            cost_usd=Decimal("0.0000123"),
            cost_source="provider",
            latency_ms=850.0,
            ttft_ms=120.0,
        )
        return RunResult(chat, chosen, (Attempt(chosen, OK),), tier="paid")


def test_run_streams_and_reports(qtbot, pane):
    single = pane.single
    single.executor_factory = lambda controller: FakeExecutor()
    single.prompt_edit.setPlainText("Say hello")
    with qtbot.waitSignal(single.routed, timeout=15000) as sig:
        single.route()
    chosen = sig.args[0].chosen.id
    assert single.run_button.isEnabled()
    with qtbot.waitSignal(single.run_finished, timeout=10000):
        qtbot.mouseClick(single.run_button, Qt.MouseButton.LeftButton)
    assert single.run_output.toPlainText() == "Hello world"
    status = single.run_status.text()
    assert f"Served by {chosen} (paid)" in status
    assert "12 in / 3 out tokens" in status
    assert "0.85 s" in status
    assert "cost $0.0000123" in status
    assert single.run_button.isEnabled() and not single.stop_button.isEnabled()


def _run_batch(qtbot, batch, timeout=20000):
    with qtbot.waitSignal(batch.finished, timeout=timeout) as sig:
        qtbot.mouseClick(batch.run_button, Qt.MouseButton.LeftButton)
    return sig.args[0]


def test_small_batch_matches_the_services(qtbot, pane, controller):
    batch = pane.batch
    pane.tabs.setCurrentWidget(batch)
    scenario = Scenario(tasks=400, tasks_per_day=150, seed=7, priority=Priority.BALANCED)
    batch.set_scenario(scenario)
    outcome = _run_batch(qtbot, batch)
    assert not outcome.cancelled
    result = outcome.runs[0].result

    services = controller.services
    expected = services.simulate(
        generate_tasks(batch.scenario()), services.default_policy(), baseline_id=BASELINE
    )
    assert result.tasks == expected.tasks == 400
    assert result.total_cost_usd == expected.total_cost_usd
    assert result.savings_usd == expected.savings_usd
    assert dict(result.tier_counts) == dict(expected.tier_counts)
    assert result.free_day_exhausted_at == expected.free_day_exhausted_at

    totals = batch.totals_model
    assert totals.value("Total cost", 0) == format_usd(expected.total_cost_usd, 4)
    assert totals.value("Savings", 0) == format_usd(expected.savings_usd, 4)
    assert totals.value("Tasks", 0) == "400"
    free = expected.tier_counts.get("free", 0)
    assert totals.value("Free", 0) == f"{free / 400:.0%} ({free:,})"
    assert batch.rows_model.rowCount() == 400
    assert batch.progress.value() == batch.progress.maximum()
    assert batch.export_button.isEnabled()

    # charts: the distribution per tier and the cumulative cost, baseline dashed
    bars = {b.label: b.value for b in batch.distribution.bars()}
    assert bars["free"] == float(free)
    series = batch.cumulative.series()
    assert series[0].values[-1] == pytest.approx(float(expected.total_cost_usd))
    assert series[-1].dashed and series[-1].values[-1] == pytest.approx(
        float(expected.baseline_cost_usd)
    )


def test_two_policies_side_by_side_and_export(qtbot, pane, controller, tmp_path):
    batch = pane.batch
    pane.tabs.setCurrentWidget(batch)
    batch.set_scenario(Scenario(tasks=300, tasks_per_day=300, seed=3))
    batch.compare.setChecked(True)
    batch.policy_b.set_free_preference(FreePreference.AVOID.value)
    outcome = _run_batch(qtbot, batch)
    assert len(outcome.runs) == 2

    services = controller.services
    tasks = generate_tasks(batch.scenario())
    exp_a = services.simulate(tasks, services.default_policy(), baseline_id=BASELINE)
    exp_b = services.simulate(
        tasks, services.default_policy(free_preference=FreePreference.AVOID), baseline_id=BASELINE
    )
    totals = batch.totals_model
    assert totals.columnCount() == 3
    headers = [totals.headerData(k, Qt.Orientation.Horizontal) for k in range(3)]
    assert headers[1].startswith("A: ") and headers[2].startswith("B: Avoid free models")
    assert totals.value("Total cost", 0) == format_usd(exp_a.total_cost_usd, 4)
    assert totals.value("Total cost", 1) == format_usd(exp_b.total_cost_usd, 4)
    assert exp_a.tier_counts != exp_b.tier_counts  # the policies really differ
    assert [s.name for s in batch.cumulative.series()][:2] == headers[1:]

    batch.rows_policy.setCurrentIndex(1)
    shown = [batch.rows_model.row_at(k).row.model_id for k in range(3)]
    assert shown == [r.model_id for r in exp_b.rows[:3]]

    path = tmp_path / "sim.csv"
    with qtbot.waitSignal(batch.exported, timeout=10000):
        batch.export_results(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert len(rows) == 600
    assert {r["policy"] for r in rows} == set(headers[1:])
    json_path = tmp_path / "sim.json"
    with qtbot.waitSignal(batch.exported, timeout=10000):
        batch.export_results(json_path)
    assert '"total_cost_usd"' in json_path.read_text(encoding="utf-8")


def test_quota_aware_against_first_come_first_served(qtbot, pane, controller):
    batch = pane.batch
    pane.tabs.setCurrentWidget(batch)
    batch.set_scenario(Scenario(tasks=400, tasks_per_day=200, seed=3))
    batch.compare.setChecked(True)
    batch.policy_b.set_free_preference(FreePreference.PREFER.value)
    batch.policy_b.quota_aware.setChecked(False)
    outcome = _run_batch(qtbot, batch)
    a, b = outcome.runs
    assert a.policy.quota_aware and not b.policy.quota_aware
    assert b.name.endswith("free first come, first served")
    assert a.result.total_cost_usd < b.result.total_cost_usd
    services = controller.services
    tasks = generate_tasks(batch.scenario())
    fcfs = services.simulate(
        tasks, services.default_policy(quota_aware=False), baseline_id=BASELINE
    )
    assert b.result.total_cost_usd == fcfs.total_cost_usd


def test_big_batch_cancels_with_escape(qtbot, pane):
    batch = pane.batch
    pane.tabs.setCurrentWidget(batch)
    batch.set_scenario(Scenario(tasks=60_000, tasks_per_day=2000, seed=1))
    batch.run_button.setFocus()
    batch.start()
    assert batch.running and batch.cancel_button.isEnabled()
    assert not batch.run_button.isEnabled()
    qtbot.waitUntil(
        lambda: batch.progress.maximum() > 0 and batch.progress.value() > 0, timeout=20000
    )
    with qtbot.waitSignal(batch.finished, timeout=20000) as sig:
        qtbot.keyClick(batch.run_button, Qt.Key.Key_Escape)
    outcome = sig.args[0]
    assert outcome.cancelled
    done = outcome.runs[0].result.tasks if outcome.runs else 0
    assert done < 60_000
    assert "Cancelled after" in batch.status.text()
    assert batch.totals_model.value("Tasks", 0).endswith("(cancelled)")
    assert batch.rows_model.rowCount() == done
    # usable again: a small run completes
    assert batch.run_button.isEnabled() and not batch.cancel_button.isEnabled()
    batch.set_scenario(Scenario(tasks=50, seed=2))
    again = _run_batch(qtbot, batch)
    assert not again.cancelled and again.runs[0].result.tasks == 50


def test_imported_tasks(qtbot, pane, tmp_path):
    batch = pane.batch
    path = tmp_path / "tasks.jsonl"
    path.write_text(
        '{"prompt": "Write a sorting function", "category": "code"}\n'
        '{"prompt_tokens": 9000, "output_tokens": 200, "category": "long-context"}\n'
        '{"prompt_tokens": 50, "complexity": 0.9, "category": "reasoning"}\n',
        encoding="utf-8",
    )
    batch.import_tasks(str(path))
    qtbot.waitUntil(lambda: batch.import_mode.isChecked(), timeout=10000)
    assert "3 tasks" in batch.import_label.text()
    outcome = _run_batch(qtbot, batch)
    cats = [r.category for r in outcome.runs[0].result.rows]
    assert cats == ["code", "long-context", "reasoning"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"category": "code"}\n', encoding="utf-8")
    batch.import_tasks(str(bad))
    qtbot.waitUntil(lambda: "needs a prompt or prompt_tokens" in batch.banner.text, timeout=10000)
    assert batch.import_label.text() == ""


def test_recorded_tasks_are_simulated_again(qtbot, pane, controller):
    """The batch view replays the route history at its times; without one it says how the
    history fills."""
    from datetime import UTC, datetime, timedelta

    batch = pane.batch
    pane.tabs.setCurrentWidget(batch)
    qtbot.mouseClick(batch.recorded_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "No tasks were routed in the last 30 days" in batch.banner.text)
    assert not batch.import_mode.isChecked()

    store = controller.services.store
    now = datetime.now(UTC)
    task = {"prompt_tokens": 900, "output_tokens": 300, "complexity": 0.4, "category": "code"}
    for k in range(12):
        store.add_route(ts=now - timedelta(hours=12 - k), task=task, decision={}, chosen_id=None)
    store.add_route(ts=now, task="not a task", decision={}, chosen_id=None)
    qtbot.mouseClick(batch.recorded_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: batch.import_mode.isChecked(), timeout=10000)
    assert "12 tasks" in batch.import_label.text() and "1 unreadable" in batch.import_label.text()
    outcome = _run_batch(qtbot, batch)
    rows = outcome.runs[0].result.rows
    assert len(rows) == 12 and {r.category for r in rows} == {"code"}
    assert [r.at for r in rows] == sorted(r.at for r in rows)
