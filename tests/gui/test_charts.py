"""The charts: the bar chart's value axis (tick labels never crowd together, however narrow
the chart), and what every chart shares: export from the context menu, accessible name and
description, a focus frame, and the line chart's hover tooltip."""

from __future__ import annotations

import errno
import itertools
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QContextMenuEvent, QImage, QMouseEvent, QPalette
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QToolTip

from locallama_gui.gui import theme
from locallama_gui.gui.models.catalogue_model import format_latency
from locallama_gui.gui.widgets.charts import (
    PNG_FILTER,
    SVG_AVAILABLE,
    SVG_FILTER,
    TICK_GAP,
    Bar,
    BarChart,
    LineChart,
    Series,
    is_dark,
    nice_ticks,
    thin_ticks,
)
from locallama_gui.gui.widgets.scatter import Point, ScatterChart

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


# --- export, accessibility, focus and hover (every chart) ---------------------------------


def _line_chart(qtbot) -> LineChart:
    chart = LineChart("Cumulative cost")
    qtbot.addWidget(chart)
    chart.set_series(
        [
            Series("smart", tuple(k * 0.01 for k in range(51))),
            Series("always gpt", tuple(k * 0.03 for k in range(51)), dashed=True),
        ],
        x_max=50,
        x_label="tasks",
        format_y=lambda v: f"${v:.2f}",
    )
    chart.setFixedSize(460, 240)
    chart.show()
    qtbot.waitExposed(chart)
    return chart


def _scatter_chart(qtbot) -> ScatterChart:
    chart = ScatterChart("Quality vs. cost per task")
    qtbot.addWidget(chart)
    chart.set_points(
        [
            Point("llama-local", 0.0, 0.55, "local"),
            Point("gpt-x", 0.012, 0.91, "paid"),
            Point("mystery", None, 0.4, "variable"),
        ]
    )
    chart.setFixedSize(460, 280)
    chart.show()
    qtbot.waitExposed(chart)
    return chart


@pytest.fixture(params=["bar", "line", "scatter"])
def any_chart(request, qtbot):
    if request.param == "bar":
        return _chart(qtbot, 420)
    if request.param == "line":
        return _line_chart(qtbot)
    return _scatter_chart(qtbot)


def _action(chart, text: str):
    found = [a for a in chart.context_menu().actions() if a.text() == text]
    assert len(found) == 1, [a.text() for a in chart.context_menu().actions()]
    return found[0]


def _pixel_size(chart) -> tuple[int, int]:
    ratio = chart.devicePixelRatioF()
    return round(chart.width() * ratio), round(chart.height() * ratio)


def test_the_context_menu_offers_copy_and_save(any_chart):
    assert [a.text() for a in any_chart.context_menu().actions()] == [
        "Copy image",
        "Save image…",
    ]


def test_copy_image_puts_the_chart_on_the_clipboard(any_chart):
    clipboard = QApplication.clipboard()
    clipboard.clear()
    assert clipboard.pixmap().isNull()
    _action(any_chart, "Copy image").trigger()
    pixmap = clipboard.pixmap()
    assert not pixmap.isNull()
    assert (pixmap.width(), pixmap.height()) == _pixel_size(any_chart)


def _no_warnings(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: calls.append(a))
    return calls


def test_save_image_writes_a_png_of_the_widgets_size(any_chart, tmp_path, monkeypatch):
    target = tmp_path / "chart.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), PNG_FILTER))
    warnings = _no_warnings(monkeypatch)
    _action(any_chart, "Save image…").trigger()
    assert warnings == []
    image = QImage(str(target))
    assert not image.isNull()
    assert (image.width(), image.height()) == _pixel_size(any_chart)
    assert target.read_bytes().startswith(b"\x89PNG")


def test_a_name_without_a_suffix_gets_the_chosen_filters(qtbot, tmp_path, monkeypatch):
    chart = _chart(qtbot, 300)
    chosen = SVG_FILTER if SVG_AVAILABLE else PNG_FILTER
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "latency"), chosen)
    )
    saved = chart.save_image_dialog()
    assert saved == tmp_path / ("latency.svg" if SVG_AVAILABLE else "latency.png")
    assert saved.is_file()


@pytest.mark.skipif(not SVG_AVAILABLE, reason="QtSvg is not in this Qt build")
def test_save_image_writes_an_svg(any_chart, tmp_path, monkeypatch):
    target = tmp_path / "chart.svg"
    offered: list[str] = []

    def dialog(parent, caption, suggested, filters):
        offered.append(filters)
        return str(target), SVG_FILTER

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    warnings = _no_warnings(monkeypatch)
    _action(any_chart, "Save image…").trigger()
    assert warnings == []
    assert offered and SVG_FILTER in offered[0] and PNG_FILTER in offered[0]
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<?xml") or "<svg" in text
    assert "<svg" in text
    assert any_chart.title() in text  # the chart's own drawing, title included


def test_a_failed_save_warns_with_the_path_and_the_reason(any_chart, tmp_path, monkeypatch):
    target = tmp_path / "missing-dir" / "x.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), PNG_FILTER))
    warnings = _no_warnings(monkeypatch)
    _action(any_chart, "Save image…").trigger()  # does not raise
    assert len(warnings) == 1
    parent, title, text = warnings[0][:3]
    assert parent is any_chart
    assert "save" in title.lower()
    assert str(target) in text
    assert os.strerror(errno.ENOENT) in text
    assert "Traceback" not in text
    assert not target.exists()


def test_a_cancelled_save_dialog_writes_nothing(any_chart, tmp_path, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    warnings = _no_warnings(monkeypatch)
    assert any_chart.save_image_dialog() is None
    assert warnings == []
    assert list(tmp_path.iterdir()) == [tmp_path / "locallama-home"]


def _menu_opens(qtbot, chart, send) -> None:
    menu = chart.context_menu()
    assert not menu.isVisible()
    send()
    qtbot.waitUntil(menu.isVisible)
    menu.close()
    qtbot.waitUntil(lambda: not menu.isVisible())


def test_right_click_the_menu_key_and_shift_f10_open_the_menu(qtbot, any_chart):
    any_chart.setFocus()
    at = QPoint(30, 40)
    _menu_opens(
        qtbot,
        any_chart,
        lambda: QApplication.sendEvent(
            any_chart,
            QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, any_chart.mapToGlobal(at)),
        ),
    )
    _menu_opens(qtbot, any_chart, lambda: qtbot.keyClick(any_chart, Qt.Key.Key_Menu))
    _menu_opens(
        qtbot,
        any_chart,
        lambda: qtbot.keyClick(any_chart, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier),
    )


def test_other_keys_do_not_open_the_menu(qtbot, any_chart):
    qtbot.keyClick(any_chart, Qt.Key.Key_F10)
    qtbot.keyClick(any_chart, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    assert not any_chart.context_menu().isVisible()


def _has_colour_on_top_edge(image: QImage, colour: QColor) -> bool:
    """Whether the row just inside the top edge has a pixel of ``colour`` (give or take
    rounding to 8 bits)."""

    def close(c: QColor) -> bool:
        return all(
            abs(a - b) <= 2
            for a, b in zip(c.getRgb()[:3], colour.toRgb().getRgb()[:3], strict=True)
        )

    return any(close(image.pixelColor(x, 1)) for x in range(image.width()))


@pytest.mark.parametrize("palette", ["light", "dark"])
def test_a_focused_chart_draws_a_focus_frame_but_not_in_exported_images(qtbot, any_chart, palette):
    pal = theme.light_palette() if palette == "light" else theme.dark_palette()
    any_chart.setPalette(pal)
    assert any_chart.focusPolicy() == Qt.FocusPolicy.StrongFocus
    frame = pal.color(QPalette.ColorRole.Highlight)
    if is_dark(pal):
        frame = frame.lighter(140)
    any_chart.clearFocus()
    qtbot.waitUntil(lambda: not any_chart.hasFocus())
    assert not _has_colour_on_top_edge(any_chart.grab().toImage(), frame)
    any_chart.activateWindow()
    any_chart.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(any_chart.hasFocus)
    assert _has_colour_on_top_edge(any_chart.grab().toImage(), frame)
    assert not _has_colour_on_top_edge(any_chart.image().toImage(), frame)


def test_charts_are_named_by_their_title(qtbot, any_chart):
    assert any_chart.accessibleName() == any_chart.title() != ""
    any_chart.set_title("Cost per month (10 requests/day)")
    assert any_chart.accessibleName() == "Cost per month (10 requests/day)"


def test_a_bar_charts_description_names_its_largest_values(qtbot):
    chart = _chart(qtbot, 420)
    assert chart.accessibleDescription() == (
        "3 bars: gemma4:e4b 5.7 s, qwen3-coder-next:latest 1.2 s, openai/gpt-4o-mini 812 ms."
    )
    many = [Bar(f"m{k}", float(k), f"${k}.00") for k in range(8)] + [Bar("x", None, "unknown")]
    chart.set_bars(many)
    assert chart.accessibleDescription() == (
        "9 bars: m7 $7.00, m6 $6.00, m5 $5.00, m4 $4.00, m3 $3.00, and 3 more; 1 unknown."
    )
    chart.set_bars([])
    assert chart.accessibleDescription() == "Nothing to show yet."


def test_a_line_charts_description_names_its_series_and_last_values(qtbot):
    chart = _line_chart(qtbot)
    assert chart.accessibleDescription() == (
        "2 lines over 0 to 50 tasks; at the end: smart $0.50, always gpt $1.50."
    )
    chart.set_series([Series("only", (1.0, 2.0, 4.0))], x_max=10, x_label="tasks")
    assert chart.accessibleDescription() == "1 line over 0 to 10 tasks; at the end: only $4.00."


def test_a_scatter_charts_description_counts_models_and_the_ones_left_out(qtbot):
    chart = _scatter_chart(qtbot)
    description = chart.accessibleDescription()
    assert description.startswith("3 models; 1 without a known cost not shown.")
    assert "gpt-x 91%" in description
    chart.set_points([Point("a", 0.0, 0.5, "local"), Point("b", 0.1, 0.7, "paid")])
    assert chart.accessibleDescription() == "2 models. Highest quality: b 70%."


def _hover(chart, pos: QPointF) -> None:
    event = QMouseEvent(
        QEvent.Type.MouseMove,
        pos,
        QPointF(chart.mapToGlobal(pos.toPoint())),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(chart, event)


def test_hovering_a_line_chart_shows_the_values_at_the_nearest_step(qtbot, monkeypatch):
    chart = _line_chart(qtbot)
    shown: list[str] = []
    hidden: list[bool] = []
    monkeypatch.setattr(QToolTip, "showText", lambda pos, text, *a: shown.append(text))
    monkeypatch.setattr(QToolTip, "hideText", lambda: hidden.append(True))
    plot = chart.plot_rect()
    step = plot.width() / 50
    # a little right of step 20, nearer to it than to step 21
    _hover(chart, QPointF(plot.left() + 20 * step + step * 0.4, plot.center().y()))
    assert shown[-1] == "20 tasks\nsmart: $0.20\nalways gpt: $0.60"
    # a little left of step 21
    _hover(chart, QPointF(plot.left() + 21 * step - step * 0.4, plot.center().y()))
    assert shown[-1].splitlines()[0] == "21 tasks"
    _hover(chart, QPointF(plot.right(), plot.top()))
    assert shown[-1] == "50 tasks\nsmart: $0.50\nalways gpt: $1.50"
    # outside the plot: no tooltip
    count = len(shown)
    _hover(chart, QPointF(2, 2))
    assert len(shown) == count and hidden


def test_line_chart_hover_reads_shorter_series_at_their_own_nearest_step(qtbot):
    chart = _line_chart(qtbot)
    chart.set_series(
        [Series("fine", tuple(float(k) for k in range(101))), Series("coarse", (0.0, 10.0, 20.0))],
        x_max=100,
        x_label="tasks",
    )
    plot = chart.plot_rect()
    text = chart.hover_text(QPointF(plot.left() + plot.width() * 0.3, plot.center().y()))
    assert text == "30 tasks\nfine: $30.00\ncoarse: $10.00"  # format_y is kept
