"""A QPainter scatter chart: quality against cost per task, one dot per model, coloured by tier.

Costs span orders of magnitude (a cheap model and a premium one differ 100-fold), so the x
axis is logarithmic for positive costs; models that cost nothing (local and free) sit in a
separate "$0" lane at the left, past a break in the axis. A point whose cost is unknown is
not drawn; the chart says how many were left out. Colours follow the palette (light and
dark) through the tier colours of :mod:`.charts`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QToolTip, QWidget

from locallama_gui.gui.widgets.charts import _ChartBase, tier_colour

#: Tier order of the legend.
LEGEND_TIERS = ("local", "free", "paid", "variable", "unknown")
DOT_RADIUS = 5.0
HIT_RADIUS = 9.0


@dataclass(frozen=True, slots=True)
class Point:
    label: str
    x: float | None  # cost; 0 is the "$0" lane; None: unknown (not drawn)
    y: float  # in [0, y_max]
    tier: str = "unknown"
    tooltip: str = ""


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten from just below ``lo`` to just above ``hi`` (both > 0)."""
    if lo <= 0 or hi <= 0 or not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    a = math.floor(math.log10(lo) + 1e-9)
    b = math.ceil(math.log10(hi) - 1e-9)
    if a == b:
        b += 1
    return [10.0**k for k in range(a, b + 1)]


def _default_x(v: float) -> str:
    return f"{v:g}"


class ScatterChart(_ChartBase):
    """Dots with labels, a y axis from 0 to ``y_max`` and a log x axis with a $0 lane."""

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self._points: list[Point] = []
        self._y_max = 1.0
        self._x_label = ""
        self._y_label = ""
        self._zero_label = "$0"
        self._format_x: Callable[[float], str] = _default_x
        self._format_y: Callable[[float], str] = lambda v: f"{v:.0%}"
        self._drawn: list[tuple[QPointF, Point]] = []
        self.setMouseTracking(True)
        self.setMinimumHeight(200)

    def set_points(
        self,
        points: Sequence[Point],
        *,
        y_max: float = 1.0,
        x_label: str = "",
        y_label: str = "",
        zero_label: str = "$0",
        format_x: Callable[[float], str] | None = None,
        format_y: Callable[[float], str] | None = None,
    ) -> None:
        self._points = list(points)
        self._y_max = y_max if y_max > 0 else 1.0
        self._x_label = x_label
        self._y_label = y_label
        self._zero_label = zero_label
        if format_x is not None:
            self._format_x = format_x
        if format_y is not None:
            self._format_y = format_y
        self._drawn = []
        self._data_changed()

    def points(self) -> list[Point]:
        return list(self._points)

    def _describe(self) -> str:
        """E.g. "4 models; 1 without a known cost not shown. Highest quality: gpt 92%."."""
        if not self._points:
            return self._empty_text
        n = len(self._points)
        text = f"{n} model{'s' if n != 1 else ''}"
        missing = sum(1 for pt in self._points if pt.x is None)
        if missing:
            text += f"; {missing} without a known cost not shown"
        shown = [pt for pt in self._points if pt.x is not None]
        if shown:
            best = max(shown, key=lambda pt: pt.y)
            text += f". Highest quality: {best.label} {self._format_y(best.y)}"
        return text + "."

    def drawn_points(self) -> list[tuple[QPointF, Point]]:
        """Where each drawn point landed at the last paint (for tooltips and tests)."""
        return list(self._drawn)

    def sizeHint(self) -> QSize:
        return QSize(460, 280)

    # --- geometry -------------------------------------------------------------------------

    def _x_range(self) -> tuple[bool, float, float]:
        """(has $0 lane, lowest positive, highest positive) of the known costs."""
        xs = [p.x for p in self._points if p.x is not None]
        pos = [x for x in xs if x > 0]
        zero = any(x == 0 for x in xs)
        if not pos:
            return zero, 0.0, 0.0
        return zero, min(pos), max(pos)

    def _plot_rect(self, fm: QFontMetrics, full: QRectF, title_h: float) -> QRectF:
        y_label_w = max(fm.horizontalAdvance(self._format_y(t)) for t in self._y_ticks()) + 10
        extra_left = fm.height() + 4 if self._y_label else 0
        legend_h = fm.height() + 6
        axis_h = fm.height() * (2 if self._x_label else 1) + 10
        return QRectF(
            full.left() + y_label_w + extra_left,
            full.top() + title_h + legend_h,
            max(10.0, full.width() - y_label_w - extra_left - 8),
            max(10.0, full.height() - title_h - legend_h - axis_h),
        )

    def _y_ticks(self) -> list[float]:
        step = self._y_max / 4
        return [step * k for k in range(5)]

    def _mapper(self, plot: QRectF) -> tuple[Callable[[float], float], float, list[float]]:
        """(x of a cost, right edge of the $0 lane (or plot.left()), log ticks)."""
        zero, lo, hi = self._x_range()
        zeros = sum(1 for p in self._points if p.x == 0)
        lane_w = min(56.0 + 14.0 * max(0, zeros - 2), 110.0, plot.width() * 0.2) if zero else 0.0
        ticks = log_ticks(lo, hi) if hi > 0 else []
        left = plot.left() + lane_w + (10.0 if zero else 0.0)
        width = max(10.0, plot.right() - left)
        if ticks:
            a, b = math.log10(ticks[0]), math.log10(ticks[-1])
        else:
            a, b = 0.0, 1.0

        def x_of(v: float) -> float:
            if v <= 0:
                return plot.left() + lane_w / 2
            if b <= a:
                return left + width / 2
            return left + width * (math.log10(v) - a) / (b - a)

        return x_of, plot.left() + lane_w, ticks

    # --- painting -------------------------------------------------------------------------

    def _paint(self, p: QPainter) -> None:
        text_c, grid_c, muted_c = self._colours()
        full = QRectF(self.rect()).adjusted(8, 6, -8, -6)
        title_h = self._draw_title(p, full)
        self._drawn = []
        known = [pt for pt in self._points if pt.x is not None]
        if not known:
            self._draw_empty(p, full.adjusted(0, title_h, 0, 0))
            return
        fm = self.fontMetrics()
        pal = self.palette()
        plot = self._plot_rect(fm, full, title_h)
        x_of, lane_right, xticks = self._mapper(plot)
        self._draw_legend(p, fm, full, title_h, text_c, pal)

        def y_of(v: float) -> float:
            return plot.bottom() - plot.height() * (min(max(v, 0.0), self._y_max) / self._y_max)

        # y grid and labels
        for t in self._y_ticks():
            y = y_of(t)
            p.setPen(QPen(grid_c, 1))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(muted_c)
            label = self._format_y(t)
            p.drawText(
                QRectF(plot.left() - 200 - 6, y - fm.height() / 2, 200, fm.height()),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
        if self._y_label:
            p.save()
            p.translate(full.left() + fm.ascent(), plot.center().y())
            p.rotate(-90)
            p.setPen(muted_c)
            w = fm.horizontalAdvance(self._y_label)
            p.drawText(QPointF(-w / 2, 0), self._y_label)
            p.restore()
        # x ticks (log) and the $0 lane
        base_y = plot.bottom() + fm.ascent() + 4
        if lane_right > plot.left():
            cx = (plot.left() + lane_right) / 2
            shade = QColor(grid_c)
            shade.setAlpha(25)
            p.fillRect(
                QRectF(plot.left(), plot.top(), lane_right - plot.left(), plot.height()), shade
            )
            p.setPen(muted_c)
            w = fm.horizontalAdvance(self._zero_label)
            p.drawText(QPointF(cx - w / 2, base_y), self._zero_label)
            # the axis break: two short slanted strokes
            p.setPen(QPen(text_c, 1))
            bx = lane_right + 5
            for dx in (-2.0, 2.0):
                p.drawLine(
                    QPointF(bx + dx - 3, plot.bottom() + 4), QPointF(bx + dx + 3, plot.bottom() - 4)
                )
        last_right = lane_right + 4
        for t in xticks:
            x = x_of(t)
            p.setPen(QPen(grid_c, 1))
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            label = self._format_x(t)
            w = fm.horizontalAdvance(label)
            lx = min(max(x - w / 2, last_right + 4), full.right() - w)
            if lx + w <= full.right() + 0.5 and lx >= last_right:
                p.setPen(muted_c)
                p.drawText(QPointF(lx, base_y), label)
                last_right = lx + w
        if self._x_label:
            p.setPen(muted_c)
            p.drawText(
                QRectF(plot.left(), plot.bottom() + fm.height() + 6, plot.width(), fm.height()),
                Qt.AlignmentFlag.AlignCenter,
                self._x_label,
            )
        p.setPen(QPen(text_c, 1))
        p.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
        p.drawLine(QPointF(plot.left(), plot.top()), QPointF(plot.left(), plot.bottom()))
        # points, then labels that do not collide
        placed: list[QRectF] = []
        centres: list[tuple[QPointF, Point]] = []
        # the $0 lane: spread its points across the lane, lowest quality first
        in_lane = sorted((pt for pt in known if pt.x == 0), key=lambda q: q.y)
        lane_x = {
            id(pt): plot.left() + (lane_right - plot.left()) * (k + 1) / (len(in_lane) + 1)
            for k, pt in enumerate(in_lane)
        }
        for pt in known:
            assert pt.x is not None
            c = QPointF(lane_x.get(id(pt), x_of(pt.x)), y_of(pt.y))
            # spread points that land on the same spot (same cost and quality)
            for prev, _ in centres:
                if abs(prev.x() - c.x()) < 2 and abs(prev.y() - c.y()) < 2:
                    c = QPointF(c.x() + DOT_RADIUS * 1.6, c.y())
            centres.append((c, pt))
        for c, pt in centres:
            colour = tier_colour(pt.tier, pal)
            edge = QColor(pal.color(QPalette.ColorRole.Base))
            p.setPen(QPen(edge, 1.5))
            p.setBrush(colour)
            p.drawEllipse(c, DOT_RADIUS, DOT_RADIUS)
            placed.append(
                QRectF(c.x() - DOT_RADIUS, c.y() - DOT_RADIUS, 2 * DOT_RADIUS, 2 * DOT_RADIUS)
            )
        p.setBrush(Qt.BrushStyle.NoBrush)
        for c, pt in centres:
            text = fm.elidedText(pt.label, Qt.TextElideMode.ElideMiddle, 170)
            w = fm.horizontalAdvance(text) + 2
            h = fm.height()
            options = (
                QRectF(c.x() + DOT_RADIUS + 3, c.y() - h / 2, w, h),
                QRectF(c.x() - DOT_RADIUS - 3 - w, c.y() - h / 2, w, h),
                QRectF(c.x() - w / 2, c.y() - DOT_RADIUS - 2 - h, w, h),
                QRectF(c.x() - w / 2, c.y() + DOT_RADIUS + 2, w, h),
            )
            for r in options:
                inside = (
                    r.left() >= full.left()
                    and r.right() <= full.right()
                    and r.top() >= plot.top() - 2
                    and r.bottom() <= plot.bottom() + 2
                )
                if inside and not any(r.intersects(o) for o in placed):
                    p.setPen(text_c)
                    p.drawText(r, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
                    placed.append(r)
                    break
        missing = len(self._points) - len(known)
        if missing:
            p.setPen(muted_c)
            note = f"{missing} without a known cost not shown"
            p.drawText(
                QRectF(plot.left() + 4, plot.top() + 2, plot.width() - 8, fm.height()),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                note,
            )
        self._drawn = centres

    def _draw_legend(
        self,
        p: QPainter,
        fm: QFontMetrics,
        full: QRectF,
        title_h: float,
        text_c: QColor,
        pal: QPalette,
    ) -> None:
        tiers = [t for t in LEGEND_TIERS if any(pt.tier == t for pt in self._points)]
        x = full.left()
        cy = full.top() + title_h + fm.height() / 2
        for t in tiers:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(tier_colour(t, pal))
            p.drawEllipse(QPointF(x + DOT_RADIUS, cy), DOT_RADIUS, DOT_RADIUS)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(text_c)
            p.drawText(QPointF(x + 2 * DOT_RADIUS + 4, cy + fm.ascent() / 2 - 1), t)
            x += 2 * DOT_RADIUS + 4 + fm.horizontalAdvance(t) + 14

    def point_at(self, pos: QPointF) -> Point | None:
        best: tuple[float, Point] | None = None
        for c, pt in self._drawn:
            d = math.hypot(c.x() - pos.x(), c.y() - pos.y())
            if d <= HIT_RADIUS and (best is None or d < best[0]):
                best = (d, pt)
        return None if best is None else best[1]

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.ToolTip:
            pt = self.point_at(QPointF(e.pos()))  # type: ignore[attr-defined]
            if pt is not None:
                QToolTip.showText(e.globalPos(), pt.tooltip or pt.label, self)  # type: ignore[attr-defined]
            else:
                QToolTip.hideText()
            return True
        return super().event(e)


__all__ = ["Point", "ScatterChart", "log_ticks"]
