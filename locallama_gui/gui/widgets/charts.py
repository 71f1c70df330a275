"""Small QPainter charts: a horizontal bar chart and a line chart, with axes and labels.

They follow the widget's palette, so they read in light and dark themes alike. Values are
floats for drawing only: the labels shown next to bars are given as text by the caller
(money is formatted from ``Decimal`` there, never here).

Every chart (these and :class:`~.scatter.ScatterChart`, through :class:`_ChartBase`) takes
keyboard focus and shows it with a dotted frame, names itself by its title to assistive
technology and describes its data in words (``accessibleDescription``), and has a context
menu (right-click, the Menu key or Shift+F10) to copy the chart as an image or save it as
PNG or SVG.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QEvent,
    QIODevice,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFontMetrics,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QToolTip,
    QWidget,
)

try:  # in PySide6-Essentials; without it, charts save as PNG only
    from PySide6.QtSvg import QSvgGenerator
except ImportError:  # pragma: no cover - depends on the Qt build
    QSvgGenerator = None  # type: ignore[assignment,misc]

#: Whether "Save image..." offers SVG.
SVG_AVAILABLE = QSvgGenerator is not None
PNG_FILTER = "PNG image (*.png)"
SVG_FILTER = "SVG image (*.svg)"
#: How many bars the accessible description of a bar chart names.
DESCRIBED_BARS = 5

#: Colours per tier, as (light theme, dark theme).
_TIER_COLOURS: dict[str, tuple[str, str]] = {
    "local": ("#0969da", "#58a6ff"),
    "free": ("#1a7f37", "#3fb950"),
    "paid": ("#bc4c00", "#f0883e"),
    "variable": ("#9a6700", "#d29922"),
    "unknown": ("#6e7781", "#8b949e"),
}
#: Series colours for line charts and untiered bars, as (light, dark).
_SERIES: tuple[tuple[str, str], ...] = (
    ("#1565c0", "#64b5f6"),
    ("#c62828", "#ef9a9a"),
    ("#2e7d32", "#81c784"),
    ("#6a1b9a", "#ce93d8"),
    ("#e65100", "#ffb74d"),
)


def is_dark(palette: QPalette) -> bool:
    """Text lighter than the window: a dark palette."""
    return (
        palette.color(QPalette.ColorRole.WindowText).lightness()
        > palette.color(QPalette.ColorRole.Window).lightness()
    )


def tier_colour(tier: str, palette: QPalette) -> QColor:
    light, dark = _TIER_COLOURS.get(tier, _TIER_COLOURS["unknown"])
    return QColor(dark if is_dark(palette) else light)


def series_colour(k: int, palette: QPalette) -> QColor:
    light, dark = _SERIES[k % len(_SERIES)]
    return QColor(dark if is_dark(palette) else light)


def nice_ticks(hi: float, count: int = 5) -> list[float]:
    """Round tick values from 0 up to at least ``hi`` (about ``count`` of them)."""
    if not math.isfinite(hi) or hi <= 0:
        return [0.0, 1.0]
    raw = hi / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    n = math.ceil(hi / step - 1e-9)
    return [k * step for k in range(n + 1)]


#: Least horizontal space between two tick labels, in pixels.
TICK_GAP = 8.0


def thin_ticks(lefts: Sequence[float], widths: Sequence[float], gap: float = TICK_GAP) -> list[int]:
    """Indices of the tick labels to draw: every k-th label from the first, with the
    smallest ``k`` at which no two drawn labels (left edges ``lefts``, in increasing order,
    and ``widths``) come closer than ``gap``. The first label is always kept."""
    n = len(lefts)
    for k in range(1, n + 1):
        kept = list(range(0, n, k))
        if all(lefts[b] >= lefts[a] + widths[a] + gap for a, b in itertools.pairwise(kept)):
            return kept
    return []


def _short_number(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1_000_000:
        return f"{v / 1_000_000:g}M"
    if a >= 1_000:
        return f"{v / 1_000:g}k"
    if a >= 1:
        return f"{v:g}"
    return f"{v:.6g}"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float | None  # None: unknown (no bar, the text says why)
    text: str  # shown at the end of the bar, e.g. "$1.20" or "unknown"
    tier: str | None = None  # colours the bar by tier when given
    tooltip: str = ""


def _file_stem(title: str) -> str:
    """A file name for a chart titled ``title``: "Cost per month (…)" -> "cost-per-month"."""
    stem = re.sub(r"[^a-z0-9]+", "-", title.split("(")[0].lower()).strip("-")
    return stem[:60].strip("-") or "chart"


def _with_suffix(path: str, chosen_filter: str) -> str:
    """``path`` with ".png" or ".svg" added when it has neither (from the chosen filter)."""
    if Path(path).suffix.lower() in (".png", ".svg"):
        return path
    return path + (".svg" if chosen_filter == SVG_FILTER and SVG_AVAILABLE else ".png")


class _ChartBase(QWidget):
    """What every chart shares: title, empty text, colours, focus, accessibility, export.

    Subclasses draw in :meth:`_paint` and return a short summary of their data from
    :meth:`_describe`, calling :meth:`_data_changed` whenever the data changes.
    """

    #: The folder the last image was saved to, offered again next time.
    _last_dir = ""

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = title
        self._empty_text = "Nothing to show yet."
        self._exporting = False  # no focus frame in copied or saved images
        self._menu: QMenu | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(140)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName(title)
        self.setAccessibleDescription(self._empty_text)  # subclasses describe their data

    def set_title(self, title: str) -> None:
        self._title = title
        self.setAccessibleName(title)
        self.update()

    def title(self) -> str:
        return self._title

    def set_empty_text(self, text: str) -> None:
        self._empty_text = text
        self._data_changed()

    # --- accessibility ------------------------------------------------------------------

    def _describe(self) -> str:
        """A short text summary of the data (the accessible description)."""
        return self._empty_text

    def _data_changed(self) -> None:
        self.setAccessibleDescription(self._describe())
        self.update()

    # --- painting -----------------------------------------------------------------------

    def _colours(self) -> tuple[QColor, QColor, QColor]:
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        grid = QColor(text)
        grid.setAlpha(45)
        muted = QColor(text)
        muted.setAlpha(160)
        return text, grid, muted

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        try:
            self._paint(p)
            if self.hasFocus() and not self._exporting:
                self._draw_focus(p)
        finally:
            p.end()

    def _paint(self, p: QPainter) -> None:
        raise NotImplementedError

    def _draw_focus(self, p: QPainter) -> None:
        """A dotted frame in the palette's highlight colour, just inside the edge (a shade
        lighter on a dark palette, where the highlight is too dim for a 1-pixel line)."""
        pal = self.palette()
        colour = pal.color(QPalette.ColorRole.Highlight)
        if is_dark(pal):
            colour = colour.lighter(140)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.setPen(QPen(colour, 1, Qt.PenStyle.DotLine))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(QRect(self.rect()).adjusted(1, 1, -2, -2))
        p.restore()

    def _draw_title(self, p: QPainter, rect: QRectF) -> float:
        if not self._title:
            return 0.0
        font = p.font()
        font.setBold(True)
        p.save()
        p.setFont(font)
        fm = QFontMetrics(font)
        p.setPen(self._colours()[0])
        p.drawText(
            rect.adjusted(0, 0, 0, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
            fm.elidedText(self._title, Qt.TextElideMode.ElideRight, int(rect.width())),
        )
        p.restore()
        return fm.height() + 6

    def _draw_empty(self, p: QPainter, rect: QRectF) -> None:
        p.setPen(self._colours()[2])
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._empty_text)

    # --- export -------------------------------------------------------------------------

    def image(self) -> QPixmap:
        """The chart as it is drawn now, without the focus frame."""
        self._exporting = True
        try:
            return self.grab()
        finally:
            self._exporting = False

    def png_bytes(self) -> bytes:
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        ok = self.image().save(buffer, "PNG")
        buffer.close()
        if not ok:
            raise OSError("the image could not be encoded as PNG")
        return bytes(data.data())

    def svg_bytes(self) -> bytes:
        if QSvgGenerator is None:
            raise OSError("SVG is not available in this Qt build")
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        gen = QSvgGenerator()
        gen.setOutputDevice(buffer)
        gen.setSize(self.size())
        gen.setViewBox(self.rect())
        gen.setResolution(self.logicalDpiX())  # text the size it has on screen
        gen.setTitle(self._title)
        gen.setDescription(self.accessibleDescription())
        painter = QPainter(gen)
        self._exporting = True
        try:
            self.render(painter, QPoint())
        finally:
            self._exporting = False
            painter.end()
        buffer.close()
        return bytes(data.data())

    def copy_image(self) -> None:
        """Put the chart on the clipboard as an image."""
        QApplication.clipboard().setPixmap(self.image())

    def save_image(self, path: str | os.PathLike[str]) -> Path:
        """Write the chart to ``path``: SVG for a ".svg" name, PNG otherwise. Raises
        ``OSError`` when the file cannot be written."""
        target = Path(path)
        svg = target.suffix.lower() == ".svg"
        data = self.svg_bytes() if svg else self.png_bytes()
        target.write_bytes(data)
        return target

    def save_image_dialog(self) -> Path | None:
        """Ask where to save the chart, save it there, and say so when that fails."""
        filters = [PNG_FILTER, SVG_FILTER] if SVG_AVAILABLE else [PNG_FILTER]
        suggested = os.path.join(_ChartBase._last_dir, _file_stem(self._title) + ".png")
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save chart image", suggested, ";;".join(filters)
        )
        if not path:
            return None
        path = _with_suffix(path, chosen)
        try:
            saved = self.save_image(path)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            QMessageBox.warning(
                self,
                "Could not save the chart",
                f"The chart image could not be saved to {path}:\n{reason}.",
            )
            return None
        _ChartBase._last_dir = str(saved.parent)
        return saved

    # --- context menu -------------------------------------------------------------------

    def context_menu(self) -> QMenu:
        """The chart's context menu: "Copy image" and "Save image…"."""
        if self._menu is None:
            menu = QMenu(self)
            menu.addAction("Copy image", self.copy_image)
            menu.addAction("Save image…", self.save_image_dialog)
            self._menu = menu
        return self._menu

    def _show_menu(self, global_pos: QPoint) -> None:
        menu = self.context_menu()
        if not menu.isVisible():  # a key and the platform may both ask for it
            QToolTip.hideText()
            menu.popup(global_pos)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if event.reason() == QContextMenuEvent.Reason.Mouse:
            self._show_menu(event.globalPos())
        else:
            self._show_menu(self.mapToGlobal(self.rect().center()))
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if (event.key() == Qt.Key.Key_Menu and mods == Qt.KeyboardModifier.NoModifier) or (
            event.key() == Qt.Key.Key_F10 and mods == Qt.KeyboardModifier.ShiftModifier
        ):
            self._show_menu(self.mapToGlobal(self.rect().center()))
            event.accept()
            return
        super().keyPressEvent(event)


class BarChart(_ChartBase):
    """Horizontal bars with a value axis at the bottom; unknown values show their text only."""

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self._bars: list[Bar] = []
        self._format_tick: Callable[[float], str] = _short_number
        self._axis_label = ""
        self.setMouseTracking(True)

    def set_bars(
        self,
        bars: Sequence[Bar],
        *,
        format_tick: Callable[[float], str] | None = None,
        axis_label: str = "",
    ) -> None:
        self._bars = list(bars)
        if format_tick is not None:
            self._format_tick = format_tick
        self._axis_label = axis_label
        self.updateGeometry()
        self._data_changed()

    def bars(self) -> list[Bar]:
        return list(self._bars)

    def _describe(self) -> str:
        """E.g. "3 bars: gemma4:e4b 5.7 s, qwen3 1.2 s, gpt-4o-mini 812 ms." (the largest
        values first, at most :data:`DESCRIBED_BARS`; unknown ones counted)."""
        if not self._bars:
            return self._empty_text
        n = len(self._bars)
        known = sorted(
            (b for b in self._bars if b.value is not None),
            key=lambda b: b.value or 0.0,
            reverse=True,
        )
        parts = [f"{b.label} {b.text}" for b in known[:DESCRIBED_BARS]]
        text = f"{n} bar{'s' if n != 1 else ''}"
        if self._axis_label:
            text += f" ({self._axis_label})"
        if parts:
            text += ": " + ", ".join(parts)
            if len(known) > DESCRIBED_BARS:
                text += f", and {len(known) - DESCRIBED_BARS} more"
        unknown = n - len(known)
        if unknown:
            text += f"; {unknown} unknown"
        return text + "."

    def sizeHint(self) -> QSize:
        fm = self.fontMetrics()
        return QSize(420, max(160, 60 + len(self._bars) * (fm.height() + 8)))

    def _layout(self) -> tuple[QRectF, float, float, float]:
        """(plot rect, label width, text width, row height)."""
        fm = self.fontMetrics()
        r = QRectF(self.rect()).adjusted(8, 6, -8, -6)
        title_h = (fm.height() + 6) if self._title else 0
        axis_h = fm.height() * (2 if self._axis_label else 1) + 8
        widest = max((fm.horizontalAdvance(b.label) for b in self._bars), default=0)
        label_w = min(r.width() * 0.38, math.ceil(widest) + 12)
        text_w = max((fm.horizontalAdvance(b.text) for b in self._bars), default=0) + 8
        plot = QRectF(
            r.left() + label_w,
            r.top() + title_h,
            max(10.0, r.width() - label_w - text_w),
            max(10.0, r.height() - title_h - axis_h),
        )
        row_h = plot.height() / max(1, len(self._bars))
        return plot, label_w, text_w, row_h

    def _ticks(self) -> list[float]:
        known = [b.value for b in self._bars if b.value is not None]
        return nice_ticks(max(known, default=0.0))

    def tick_labels(self) -> list[tuple[float, str, QRectF]]:
        """The value-axis ticks drawn at the current width, each with its label and the
        label's rectangle: the round ticks, thinned out (every second, third, ...) so that
        the labels, measured with the widget's font, never crowd together."""
        if not self._bars:
            return []
        fm = self.fontMetrics()
        plot = self._layout()[0]
        ticks = self._ticks()
        top = ticks[-1] if ticks[-1] > 0 else 1.0
        labels = [self._format_tick(t) for t in ticks]
        widths = [float(fm.horizontalAdvance(label)) for label in labels]
        lefts = []
        for t, w in zip(ticks, widths, strict=True):
            x = plot.left() + plot.width() * (t / top)
            lefts.append(min(x - w / 2, plot.right() - w / 2))
        y = plot.bottom() + 3
        return [
            (ticks[k], labels[k], QRectF(lefts[k], y, widths[k], fm.height()))
            for k in thin_ticks(lefts, widths)
        ]

    def _paint(self, p: QPainter) -> None:
        text_c, grid_c, muted_c = self._colours()
        full = QRectF(self.rect()).adjusted(8, 6, -8, -6)
        self._draw_title(p, full)
        if not self._bars:
            self._draw_empty(p, full)
            return
        fm = self.fontMetrics()
        plot, label_w, _, row_h = self._layout()
        ticks = self._ticks()
        top = ticks[-1] if ticks[-1] > 0 else 1.0

        def x_of(v: float) -> float:
            return plot.left() + plot.width() * (v / top)

        # grid and tick labels (as many as fit the width)
        for t, label, rect in self.tick_labels():
            x = x_of(t)
            p.setPen(QPen(grid_c, 1))
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            p.setPen(muted_c)
            p.drawText(QPointF(rect.left(), rect.top() + fm.ascent()), label)
        if self._axis_label:
            p.drawText(
                QRectF(plot.left(), plot.bottom() + fm.height() + 4, plot.width(), fm.height()),
                Qt.AlignmentFlag.AlignCenter,
                self._axis_label,
            )
        p.setPen(QPen(text_c, 1))
        p.drawLine(QPointF(plot.left(), plot.top()), QPointF(plot.left(), plot.bottom()))

        bar_h = max(4.0, min(row_h * 0.65, fm.height() + 6))
        pal = self.palette()
        for k, b in enumerate(self._bars):
            cy = plot.top() + row_h * (k + 0.5)
            p.setPen(text_c)
            label = fm.elidedText(b.label, Qt.TextElideMode.ElideMiddle, math.ceil(label_w - 6))
            p.drawText(
                QRectF(full.left(), cy - fm.height() / 2, label_w - 8, fm.height()),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
            end = plot.left()
            if b.value is not None:
                colour = tier_colour(b.tier, pal) if b.tier else series_colour(0, pal)
                w = max(1.5 if b.value > 0 else 0.0, x_of(b.value) - plot.left())
                p.fillRect(QRectF(plot.left(), cy - bar_h / 2, w, bar_h), colour)
                end = plot.left() + w
            p.setPen(muted_c if b.value is None else text_c)
            p.drawText(QPointF(end + 4, cy + fm.ascent() / 2 - 1), b.text)

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.ToolTip and self._bars:
            plot, _, _, row_h = self._layout()
            y = e.pos().y()  # type: ignore[attr-defined]
            k = int((y - plot.top()) // row_h) if row_h > 0 else -1
            if 0 <= k < len(self._bars):
                b = self._bars[k]
                QToolTip.showText(e.globalPos(), b.tooltip or f"{b.label}: {b.text}", self)  # type: ignore[attr-defined]
            else:
                QToolTip.hideText()
            return True
        return super().event(e)


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: tuple[float, ...]  # y per x step (x runs 0..len-1, scaled to x_max)
    dashed: bool = False


class LineChart(_ChartBase):
    """Lines over a shared x range with axes, ticks and a legend."""

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self._series: list[Series] = []
        self._x_max = 1.0
        self._x_label = ""
        self._format_y: Callable[[float], str] = _short_number
        self._format_x: Callable[[float], str] = _short_number
        self.setMouseTracking(True)

    def set_series(
        self,
        series: Sequence[Series],
        *,
        x_max: float,
        x_label: str = "",
        format_y: Callable[[float], str] | None = None,
        format_x: Callable[[float], str] | None = None,
    ) -> None:
        self._series = [s for s in series if s.values]
        self._x_max = max(1.0, float(x_max))
        self._x_label = x_label
        if format_y is not None:
            self._format_y = format_y
        if format_x is not None:
            self._format_x = format_x
        self._data_changed()

    def series(self) -> list[Series]:
        return list(self._series)

    def _describe(self) -> str:
        """E.g. "2 lines over 0 to 100 tasks; at the end: smart $0.42, always gpt $1.90."."""
        if not self._series:
            return self._empty_text
        n = len(self._series)
        span = f"0 to {self._format_x(self._x_max)}"
        if self._x_label:
            span += f" {self._x_label}"
        ends = ", ".join(f"{s.name} {self._format_y(s.values[-1])}" for s in self._series)
        return f"{n} line{'s' if n != 1 else ''} over {span}; at the end: {ends}."

    # --- geometry -------------------------------------------------------------------------

    def _plot_layout(
        self, fm: QFontMetrics
    ) -> tuple[QRectF, float, QRectF, list[float], float, list[tuple[int, float, str]]]:
        """(inner rect, title height, plot rect, y ticks, top y tick, legend layout)."""
        full = QRectF(self.rect()).adjusted(8, 6, -10, -6)
        bold = self.font()
        bold.setBold(True)
        title_h = QFontMetrics(bold).height() + 6.0 if self._title else 0.0
        hi = max((max(s.values) for s in self._series), default=0.0)
        yticks = nice_ticks(hi, 4)
        ytop = yticks[-1] if yticks[-1] > 0 else 1.0
        y_label_w = max(fm.horizontalAdvance(self._format_y(t)) for t in yticks) + 8
        legend = self._legend_layout(fm, full.width())
        rows = 1 + max((row for row, _, _ in legend), default=0)
        legend_h = rows * (fm.height() + 4) + 4
        axis_h = fm.height() * (2 if self._x_label else 1) + 8
        plot = QRectF(
            full.left() + y_label_w,
            full.top() + title_h + legend_h,
            max(10.0, full.width() - y_label_w),
            max(10.0, full.height() - title_h - legend_h - axis_h),
        )
        return full, title_h, plot, yticks, ytop, legend

    def plot_rect(self) -> QRectF:
        """Where the lines are drawn at the current size (empty without data)."""
        if not self._series:
            return QRectF()
        return self._plot_layout(self.fontMetrics())[2]

    # --- hover --------------------------------------------------------------------------

    def values_at(self, x: float) -> tuple[float, list[tuple[Series, float]]] | None:
        """The x value of the step nearest to widget x-coordinate ``x`` and each series'
        value there (``None`` without data). Series of different lengths each span the
        whole x range, so each is read at its own nearest step."""
        plot = self.plot_rect()
        if not self._series or plot.width() <= 0:
            return None
        f = min(max((x - plot.left()) / plot.width(), 0.0), 1.0)
        longest = max(len(s.values) for s in self._series)
        steps = max(1, longest - 1)
        x_value = self._x_max * round(f * steps) / steps
        # no more digits than one step resolves ("42 tasks", not "42.1053 tasks")
        step = self._x_max / steps
        digits = 0 if step >= 1 else 1 - math.floor(math.log10(step))
        x_value = round(x_value, digits)
        out = [(s, s.values[round(f * (len(s.values) - 1))]) for s in self._series]
        return x_value, out

    def hover_text(self, pos: QPointF) -> str:
        """The tooltip at ``pos``: the nearest x step, then each series' value there;
        empty outside the plot."""
        plot = self.plot_rect()
        if not plot.adjusted(-4, -4, 4, 4).contains(pos):
            return ""
        found = self.values_at(pos.x())
        if found is None:
            return ""
        x_value, values = found
        head = self._format_x(x_value)
        if self._x_label:
            head += f" {self._x_label}"
        return "\n".join([head, *(f"{s.name}: {self._format_y(v)}" for s, v in values)])

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        text = self.hover_text(pos)
        if text:
            area = self.plot_rect().adjusted(-4, -4, 4, 4).toAlignedRect()
            QToolTip.showText(event.globalPosition().toPoint(), text, self, area)
        else:
            QToolTip.hideText()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        QToolTip.hideText()
        super().leaveEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(420, 220)

    def _legend_layout(self, fm: QFontMetrics, width: float) -> list[tuple[int, float, str]]:
        """(row, x, elided name) per series: entries flow onto more rows when needed."""
        out: list[tuple[int, float, str]] = []
        row, x = 0, 0.0
        for s in self._series:
            name = fm.elidedText(s.name, Qt.TextElideMode.ElideRight, int(max(60.0, width - 30)))
            w = 22 + fm.horizontalAdvance(name) + 16
            if x > 0 and x + w > width:
                row, x = row + 1, 0.0
            out.append((row, x, name))
            x += w
        return out

    def _paint(self, p: QPainter) -> None:
        text_c, grid_c, muted_c = self._colours()
        full = QRectF(self.rect()).adjusted(8, 6, -10, -6)
        title_h = self._draw_title(p, full)
        if not self._series:
            self._draw_empty(p, full.adjusted(0, title_h, 0, 0))
            return
        fm = self.fontMetrics()
        full, title_h, plot, yticks, ytop, legend = self._plot_layout(fm)
        y_label_w = plot.left() - full.left()
        pal = self.palette()
        # legend
        for k, (row, x, name) in enumerate(legend):
            s = self._series[k]
            colour = series_colour(k, pal)
            pen = QPen(colour, 2, Qt.PenStyle.DashLine if s.dashed else Qt.PenStyle.SolidLine)
            p.setPen(pen)
            ly = full.top() + title_h + row * (fm.height() + 4) + fm.height() / 2
            p.drawLine(QPointF(full.left() + x, ly), QPointF(full.left() + x + 18, ly))
            p.setPen(text_c)
            p.drawText(QPointF(full.left() + x + 22, ly + fm.ascent() / 2 - 1), name)
        # grid, y ticks
        for t in yticks:
            y = plot.bottom() - plot.height() * (t / ytop)
            p.setPen(QPen(grid_c, 1))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(muted_c)
            label = self._format_y(t)
            p.drawText(
                QRectF(full.left(), y - fm.height() / 2, y_label_w - 6, fm.height()),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
        # x ticks
        xticks = nice_ticks(self._x_max, 5)
        xtop = max(self._x_max, 1.0)
        for t in xticks:
            if t > xtop * 1.0001:
                break
            xx = plot.left() + plot.width() * (t / xtop)
            p.setPen(QPen(grid_c, 1))
            p.drawLine(QPointF(xx, plot.bottom()), QPointF(xx, plot.bottom() + 3))
            p.setPen(muted_c)
            label = self._format_x(t)
            w = fm.horizontalAdvance(label)
            lx = min(max(xx - w / 2, plot.left() - y_label_w + 2), full.right() - w)
            p.drawText(QPointF(lx, plot.bottom() + fm.ascent() + 4), label)
        if self._x_label:
            p.drawText(
                QRectF(plot.left(), plot.bottom() + fm.height() + 5, plot.width(), fm.height()),
                Qt.AlignmentFlag.AlignCenter,
                self._x_label,
            )
        p.setPen(QPen(text_c, 1))
        p.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
        p.drawLine(QPointF(plot.left(), plot.top()), QPointF(plot.left(), plot.bottom()))
        # lines
        for k, s in enumerate(self._series):
            n = len(s.values)
            path = QPainterPath()
            for j, v in enumerate(s.values):
                px = plot.left() + plot.width() * (j / max(1, n - 1))
                py = plot.bottom() - plot.height() * (v / ytop)
                if j == 0:
                    path.moveTo(px, py)
                else:
                    path.lineTo(px, py)
            pen = QPen(series_colour(k, pal), 2)
            if s.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)


def downsample(values: Sequence[float], points: int = 400) -> tuple[float, ...]:
    """At most ``points`` evenly spaced values, first and last kept (for long series)."""
    n = len(values)
    if n <= points:
        return tuple(values)
    step = (n - 1) / (points - 1)
    return tuple(values[round(k * step)] for k in range(points))


__all__ = [
    "Bar",
    "BarChart",
    "LineChart",
    "Series",
    "downsample",
    "is_dark",
    "nice_ticks",
    "series_colour",
    "tier_colour",
]
