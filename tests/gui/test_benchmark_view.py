"""The playground's Benchmark view against a scripted loopback Ollama: two local models, one
answering right and one wrong; the matrix, the routing change, cancelling mid-run, and the
catalogue's details panel showing what was observed."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from locallama_gui.core.models import ModelInfo, Pricing, Source, Tier
from locallama_gui.core.settings import Settings
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.panes.catalogue import CataloguePane
from locallama_gui.gui.panes.playground import PlaygroundPane
from locallama_gui.gui.panes.playground_benchmark import (
    BUILTIN_GROUP,
    QUALITY_ROLE,
    parse_cap,
    preset_ids,
)
from locallama_gui.services.catalogue import LoadedCatalogue
from locallama_gui.services.facade import Services
from locallama_gui.services.live import Endpoint, LiveServices
from locallama_gui.store.db import Store
from tests.fakes.fixtures import fast_policy, recording_sleep  # noqa: F401
from tests.services.test_benchmark import (
    BAD,
    GOOD,
    ScriptedOllama,
    answer_good_or_bad,
    local_model,
)


def _task(k: int, a: int, b: int, hold: bool = False) -> dict:
    tag = " HOLD" if hold else ""
    return {
        "id": f"sum-{k}",
        "category": "math",
        "kind": "exact",
        "prompt": f"What is {a} + {b}?{tag} End with 'Answer: N'.",
        "answer": a + b,
        "max_tokens": 64,
        "complexity": 0.3,
    }


@pytest.fixture
def scripted_ollama():
    with ScriptedOllama(answer_good_or_bad) as fake:
        yield fake
        fake._release.set()


@pytest.fixture
def controller(qtbot, qloop, tmp_path, scripted_ollama, fast_policy):  # noqa: F811
    catalogue = LoadedCatalogue(
        models=(local_model(GOOD, 7.0), local_model(BAD, 70.6)),
        skipped=(),
        origin="file",
        label="test catalogue",
    )

    def services_factory() -> Services:
        return Services(
            settings=Settings(), store=Store(tmp_path / "bench.sqlite"), catalogue=catalogue
        )

    def live_factory(services: Services, key: str | None) -> LiveServices:
        live = LiveServices(
            services,
            endpoints=[Endpoint(Source.OLLAMA, scripted_ollama.url)],
            api_key=key,
            policy=fast_policy,
        )
        _ = live.http
        return live

    c = AppController(services_factory=services_factory, live_factory=live_factory)
    c.start()
    qtbot.waitUntil(lambda: c.services is not None, timeout=10_000)
    yield c
    closed: list[object] = []
    c.runner.run_async("close", c.aclose(), on_done=closed.append)
    qtbot.waitUntil(lambda: bool(closed), timeout=5_000)
    c.shutdown()


@pytest.fixture
def pane(qtbot, controller):
    p = PlaygroundPane(controller)
    qtbot.addWidget(p)
    p.resize(1280, 820)
    p.show()
    qtbot.waitExposed(p)
    p.tabs.setCurrentWidget(p.benchmark)
    return p


def _import(qtbot, view, tmp_path, name: str, tasks: list[dict]) -> None:
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(t) for t in tasks) + "\n", encoding="utf-8")
    view.import_tasks(str(path))
    qtbot.waitUntil(lambda: name in view.tasks.groups(), timeout=5_000)
    view.tasks.set_group_checked(BUILTIN_GROUP, False)


def _matrix(view) -> dict[str, dict[str, str]]:
    proxy = view.matrix.model()
    cols = [proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(proxy.columnCount())]
    out = {}
    for r in range(proxy.rowCount()):
        cells = {cols[c]: proxy.index(r, c).data() for c in range(proxy.columnCount())}
        out[cells["Model"]] = cells
    return out


def _observed_row(text: str, category: str) -> list[str]:
    """The cells after ``category`` in the details panel's per-category table."""
    lines = [ln.strip() for ln in text.split("Observed by task category", 1)[1].splitlines()]
    lines = [ln for ln in lines if ln]
    k = lines.index(category)
    return lines[k + 1 : k + 6]


def test_two_models_fill_the_matrix_routing_changes_and_the_catalogue(
    qtbot, controller, pane, tmp_path
):
    catalogue = CataloguePane(controller)
    qtbot.addWidget(catalogue)
    catalogue.resize(1100, 700)
    catalogue.show()
    qtbot.waitUntil(lambda: catalogue.model.rowCount() == 2, timeout=10_000)

    view = pane.benchmark
    assert view.models.models and {m.id for m in view.models.models} == {GOOD, BAD}
    _import(qtbot, view, tmp_path, "sums.jsonl", [_task(k, 10 + k, 20 + 3 * k) for k in range(3)])
    assert [t.id for t in view.tasks.checked_tasks()] == ["sum-0", "sum-1", "sum-2"]
    qtbot.mouseClick(view.models.local_button, Qt.MouseButton.LeftButton)
    assert set(view.models.checked_ids()) == {GOOD, BAD}
    assert "6 requests (6 local)" in view.plan_label.text()

    with qtbot.waitSignal(view.finished, timeout=30_000) as sig:
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
        assert not view.run_button.isEnabled() and view.cancel_button.isEnabled()
    report = sig.args[0]
    assert not report.cancelled
    assert view.progress.value() == view.progress.maximum() == 6
    assert view.run_button.isEnabled() and not view.cancel_button.isEnabled()

    # the matrix: one row per model, the math column as a percentage on a colour scale
    cells = _matrix(view)
    assert cells[GOOD]["math"] == "100%" and cells[BAD]["math"] == "0%"
    assert cells[GOOD]["Tier"] == "local" and cells[GOOD]["Cost / task"] == "$0.00"
    model = view.matrix_model
    col = model.column_index("math")
    rows = {model.row_at(r).model_id: r for r in range(model.rowCount())}
    assert model.index(rows[GOOD], col).data(QUALITY_ROLE) == 1.0
    assert model.index(rows[BAD], col).data(QUALITY_ROLE) == 0.0
    good_bg = QColor(model.index(rows[GOOD], col).data(Qt.ItemDataRole.BackgroundRole))
    bad_bg = QColor(model.index(rows[BAD], col).data(Qt.ItemDataRole.BackgroundRole))
    assert good_bg.green() > good_bg.red() and bad_bg.red() > bad_bg.green()
    # sorting by the math column puts the best model first
    view.matrix.sortByColumn(col, Qt.SortOrder.DescendingOrder)
    assert view.matrix.model().index(0, 0).data() == GOOD

    # routing: math went from the big model's prior to the model that answered right
    assert view.change_texts()[0] == f"math: {BAD} → {GOOD}"
    # charts: both models, coloured as local
    assert {(p.label, p.tier, p.y) for p in view.scatter.points()} == {
        (GOOD, "local", 1.0),
        (BAD, "local", 0.0),
    }
    assert {b.label for b in view.latency.bars()} == {GOOD, BAD}
    assert all(b.value is not None and b.value > 0 for b in view.latency.bars())
    assert "6 graded" in view.summary_label.text()

    # the catalogue's details panel shows what was observed per category
    assert catalogue.select_model(GOOD)
    qtbot.waitUntil(lambda: "Observed by task category" in catalogue.details.text(), timeout=5_000)
    # quality, success, latency, tokens/s, runs
    row = _observed_row(catalogue.details.text(), "math")
    assert row[0] == "100%" and row[1] == "100%" and row[4] == "3"
    assert row[2].endswith("ms") or row[2].endswith(" s")
    assert catalogue.select_model(BAD)
    qtbot.waitUntil(lambda: "Observed by task category" in catalogue.details.text(), timeout=5_000)
    row = _observed_row(catalogue.details.text(), "math")
    assert row[0] == "0%" and row[1] == "100%" and row[4] == "3"


def test_cancel_mid_run_keeps_what_was_answered_and_the_view_usable(
    qtbot, pane, tmp_path, scripted_ollama
):
    view = pane.benchmark
    tasks = [_task(1, 1, 1), _task(2, 2, 2, hold=True), _task(3, 3, 3)]
    _import(qtbot, view, tmp_path, "held.jsonl", tasks)
    view.models.set_checked([GOOD], replace=True)

    with qtbot.waitSignal(view.finished, timeout=30_000) as sig:
        view.start()
        qtbot.waitUntil(scripted_ollama.stream_held.is_set, timeout=10_000)
        assert view.progress.value() == 1
        pane.activateWindow()
        view.tasks.tree.setFocus()
        qtbot.keyClick(view.tasks.tree, Qt.Key.Key_Escape)
        assert view.status.text() == "Cancelling…"
    scripted_ollama._release.set()
    report = sig.args[0]
    assert report.cancelled
    assert [(r.task_id, r.outcome) for r in report.results] == [
        ("sum-1", "ok"),
        ("sum-2", "cancelled"),
        ("sum-3", "cancelled"),
    ]
    assert view.banner.isVisible() and view.banner.text.startswith("Cancelled")
    assert _matrix(view)[GOOD]["math"] == "100%"
    assert view.status.text().startswith("Cancelled: 1 of 3")
    assert view.run_button.isEnabled() and not view.cancel_button.isEnabled()

    # usable afterwards: run again without the held task
    view.tasks.set_group_checked("held.jsonl", True)
    leaf = next(
        view.tasks.tree.topLevelItem(1).child(0).child(k)
        for k in range(3)
        if view.tasks.tree.topLevelItem(1).child(0).child(k).text(0) == "sum-2"
    )
    leaf.setCheckState(0, Qt.CheckState.Unchecked)
    assert [t.id for t in view.tasks.checked_tasks()] == ["sum-1", "sum-3"]
    with qtbot.waitSignal(view.finished, timeout=30_000) as sig:
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    again = sig.args[0]
    assert not again.cancelled and [r.outcome for r in again.results] == ["ok", "ok"]
    assert not view.banner.isVisible() or "Cancelled" not in view.banner.text


def test_nothing_checked_and_a_bad_task_file_are_explained(qtbot, pane, tmp_path):
    view = pane.benchmark
    view.models.set_checked([], replace=True)
    assert view.start() is None
    assert "Check at least one model" in view.banner.text
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "category": "math", "kind": "exact"}\n', encoding="utf-8")
    view.import_tasks(str(bad))
    qtbot.waitUntil(lambda: "task file has problems" in view.banner.text, timeout=5_000)
    assert "bad.jsonl line 1" in view.banner.text
    assert view.tasks.groups() == [BUILTIN_GROUP]


def test_stale_rerun_with_fresh_results_says_so(qtbot, pane):
    view = pane.benchmark
    view.rerun_stale()
    qtbot.waitUntil(lambda: view.banner.isVisible(), timeout=5_000)
    assert "No model has results older than 30 days" in view.banner.text
    assert not view.running


def _paid(model_id: str, prompt: str, completion: str) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        source=Source.OPENROUTER,
        tier=Tier.PAID,
        pricing=Pricing(prices={"prompt": Decimal(prompt), "completion": Decimal(completion)}),
    )


def test_presets_and_the_spending_cap():
    models = [
        _paid("a/pricey", "0.00001", "0.00003"),
        _paid("b/cheap", "0.0000001", "0.0000002"),
        _paid("c/mid", "0.000001", "0.000002"),
        local_model(GOOD, 7.0),
        ModelInfo(id="f/x:free", name="x", source=Source.OPENROUTER, tier=Tier.FREE),
    ]
    assert preset_ids(models, "cheapest", 2) == ["b/cheap", "c/mid"]
    assert preset_ids(models, "local") == [GOOD]
    assert preset_ids(models, "free") == ["f/x:free"]
    assert parse_cap("$0.25") == Decimal("0.25")
    assert parse_cap("") == Decimal(0)
    with pytest.raises(ValueError):
        parse_cap("abc")


def test_scatter_puts_zero_cost_in_its_lane_and_paid_on_a_log_axis(qtbot):
    from locallama_gui.gui.widgets.scatter import Point, ScatterChart, log_ticks

    assert log_ticks(2e-5, 3e-3) == pytest.approx([1e-5, 1e-4, 1e-3, 1e-2])
    chart = ScatterChart("q vs cost")
    qtbot.addWidget(chart)
    chart.resize(600, 320)
    chart.set_points(
        [
            Point("local", 0.0, 0.5, "local"),
            Point("free", 0.0, 0.6, "free"),
            Point("cheap", 1e-5, 0.7, "paid"),
            Point("dear", 1e-3, 0.9, "paid"),
            Point("router", None, 0.8, "variable"),
        ]
    )
    chart.grab()  # paints
    at = {p.label: c for c, p in chart.drawn_points()}
    assert set(at) == {"local", "free", "cheap", "dear"}  # the unknown cost is not drawn
    assert max(at["local"].x(), at["free"].x()) < at["cheap"].x() < at["dear"].x()
    assert at["dear"].y() < at["cheap"].y() < at["local"].y()
    assert chart.point_at(at["dear"]).label == "dear"
