"""The bar chart's value axis: tick labels never crowd together, however narrow the chart."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locallama_gui.gui.models.catalogue_model import format_latency
from locallama_gui.gui.widgets.charts import TICK_GAP, Bar, BarChart, nice_ticks, thin_ticks

BARS = [
    Bar("qwen3-coder-next:latest", 1234.0, "1.2 s", "local"),
    Bar("gemma4:e4b", 5678.0, "5.7 s", "free"),
    Bar("openai/gpt-4o-mini", 812.0, "812 ms", "paid"),
]


def _chart(qtbot, width: int) -> BarChart:
    chart = BarChart("Latency")
    qtbot.addWidget(chart)
    chart.set_bars(BARS, format_tick=lambda v: format_latency(v) or "0")
    chart.setFixedSize(width, 180)
    chart.show()
    qtbot.waitExposed(chart)
    return chart


@pytest.mark.parametrize("width", [160, 200, 240, 280, 300, 340])
def test_narrow_charts_thin_out_their_tick_labels(qtbot, width):
    chart = _chart(qtbot, width)
    drawn = chart.tick_labels()
    assert drawn and drawn[0][1] == "0 ms"  # the origin is always labelled
    for (_, _, a), (_, _, b) in itertools.pairwise(drawn):
        assert a.right() + TICK_GAP <= b.left(), "tick labels overlap or touch"
    chart.grab()  # and it paints


def test_a_wide_chart_labels_every_tick(qtbot):
    chart = _chart(qtbot, 700)
    assert [t for t, _, _ in chart.tick_labels()] == nice_ticks(5678.0)
    assert [label for _, label, _ in chart.tick_labels()] == ["0 ms", "2.0 s", "4.0 s", "6.0 s"]


def test_a_narrow_chart_keeps_fewer_ticks_than_a_wide_one(qtbot):
    narrow = _chart(qtbot, 180).tick_labels()
    wide = _chart(qtbot, 700).tick_labels()
    assert 1 <= len(narrow) < len(wide)
    # the ticks kept are evenly spaced: every k-th round value
    values = [t for t, _, _ in narrow]
    steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
    assert len(steps) <= 1


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=60.0), st.floats(min_value=1.0, max_value=80.0)
        ),
        min_size=1,
        max_size=12,
    )
)
def test_thin_ticks_keeps_an_even_non_overlapping_subset(pairs):
    lefts, widths, x = [], [], 0.0
    for step, width in pairs:
        x += step
        lefts.append(x)
        widths.append(width)
    kept = thin_ticks(lefts, widths)
    assert kept[0] == 0
    assert len({b - a for a, b in itertools.pairwise(kept)}) <= 1
    for a, b in itertools.pairwise(kept):
        assert lefts[b] >= lefts[a] + widths[a] + TICK_GAP
    # nothing thinner than needed: when every label fits, every label is kept
    if all(
        lefts[b] >= lefts[a] + widths[a] + TICK_GAP
        for a, b in itertools.pairwise(range(len(lefts)))
    ):
        assert kept == list(range(len(lefts)))
