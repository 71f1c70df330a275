"""The playground's Replay view on RouteLLM's recorded GSM8K outcomes (Mixtral vs GPT-4)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from locallama_gui.gui.controller import AppController
from locallama_gui.gui.panes.playground import PlaygroundPane
from locallama_gui.gui.panes.playground_replay import parse_categories, resample
from locallama_gui.services.evaluate import evaluate_files, report_view

GSM8K = "routing/gsm8k-mixtral-gpt4.csv"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"


@pytest.fixture
def controller(qtbot, qloop):
    c = AppController()
    c.start()
    qtbot.waitUntil(lambda: c.services is not None, timeout=15_000)
    yield c
    c.shutdown()


@pytest.fixture
def pane(qtbot, controller):
    pane = PlaygroundPane(controller)
    qtbot.addWidget(pane)
    pane.resize(1280, 820)
    pane.show()
    qtbot.waitExposed(pane)
    pane.tabs.setCurrentWidget(pane.replay)
    assert pane.tabs.tabText(pane.tabs.currentIndex()) == "Replay"
    return pane


@pytest.fixture
def view(pane):
    return pane.replay


def _cells(table) -> list[list[str]]:
    m = table.model()
    return [[m.index(r, c).data() for c in range(m.columnCount())] for r in range(m.rowCount())]


def test_replay_of_gsm8k_beats_random_and_draws_three_curves(
    qtbot, pane, view, controller, data_dir
):
    path = str(data_dir / GSM8K)
    assert not view.run_button.isEnabled()  # no file yet
    view.add_files([path])
    qtbot.waitUntil(lambda: view.model_choices() == [WEAK, STRONG], timeout=15_000)
    assert "1,319 prompts" in view.files_label.text()
    view.set_roles(weak=WEAK, strong=STRONG)
    view.folds.setValue(5)
    view.category.setText("math")

    with qtbot.waitSignal(view.finished, timeout=40_000) as sig:
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    shown = sig.args[0]

    # the same numbers as the service (and so as `locallama evaluate`)
    expected = report_view(
        evaluate_files(
            [path], controller.services.models, categories=["math"], weak=WEAK, strong=STRONG
        )
    )
    assert shown["apgr"] == expected["apgr"]
    assert shown["categories"] == {"math": 1319}
    router, random_, oracle = (shown, shown["random"], shown["oracle"])
    assert router["apgr"] > random_["apgr"] + 0.05
    assert oracle["apgr"] > router["apgr"]

    rows = _cells(view.metrics_table)
    assert [r[0] for r in rows] == ["Router", "Random", "Oracle"]
    assert rows[0][1] == f"{router['apgr']:.3f}" and rows[1][1] == f"{random_['apgr']:.3f}"
    assert rows[0][2] == f"{router['cpt50'] * 100:.1f}%"
    assert rows[2][4] == f"{oracle['aiq']:.4f}"
    models = {r[0]: r for r in _cells(view.models_table)}
    assert models[WEAK][1] == "weak" and models[STRONG][1] == "strong"
    assert "not in the catalogue" in view.banner.text or "catalogue:" in models[WEAK][4]

    # three curves over 0..100% of prompts sent to the strong model
    series = view.chart.series()
    assert [s.name.split()[0] for s in series] == ["router", "random", "oracle"]
    assert all(len(s.values) == 101 for s in series)
    weak_q = next(m["quality"] for m in shown["models"] if m["id"] == WEAK)
    strong_q = next(m["quality"] for m in shown["models"] if m["id"] == STRONG)
    for s in series:
        assert s.values[0] == pytest.approx(weak_q, abs=1e-6)
        assert s.values[-1] == pytest.approx(strong_q, abs=1e-6)
    # the router's curve lies above the random one on average (that is what APGR measures)
    router_curve, random_curve, oracle_curve = (s.values for s in series)
    assert sum(router_curve) > sum(random_curve)
    assert sum(oracle_curve) > sum(router_curve)
    assert "Replayed 1,319 prompts" in view.status.text()


def test_a_file_without_two_models_is_explained(qtbot, pane, view, tmp_path):
    bad = tmp_path / "one-model.csv"
    bad.write_text("prompt,model-a\nhello,1\nworld,0\n", encoding="utf-8")
    view.add_files([str(bad)])
    qtbot.waitUntil(lambda: view.model_choices() == ["model-a"], timeout=10_000)
    view.start()
    qtbot.waitUntil(lambda: "did not run" in view.status.text(), timeout=10_000)
    assert "at least two models" in view.banner.text
    assert view.run_button.isEnabled()


def test_helpers():
    assert parse_categories(" math, code ,") == ["math", "code"]
    curve = [
        {"strong_share": 0.0, "quality": 0.5},
        {"strong_share": 0.5, "quality": 0.7},
        {"strong_share": 1.0, "quality": 0.9},
    ]
    values = resample(curve, 5)
    assert values == pytest.approx((0.5, 0.6, 0.7, 0.8, 0.9))
    assert resample([], 5) == ()
