"""Light and dark palettes, and the colours the app draws with in either.

``"system"`` follows the platform (its own style and palette); ``"light"`` and ``"dark"`` force
a Fusion palette so the choice looks the same everywhere. Colours used by widgets (tier badges,
banners, validation errors) come from here so both palettes stay readable.

Fusion draws the outline of check boxes and radio buttons a shade darker than the *window*
colour, whatever else the palette says (Base fills the box; Button, Mid, Dark, Shadow and
Light play no part). On a dark window that outline disappears: an unchecked box is a dark
square on a dark background. The forced themes therefore use :class:`IndicatorStyle`, Fusion
with the indicator outline drawn in :func:`indicator_outline`, a tone between the palette's
text and base colours, which stands out in both palettes (and is dimmer, but still visible,
for a disabled widget).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QProxyStyle,
    QStyle,
    QStyleFactory,
    QStyleOption,
    QWidget,
)

from locallama_gui.core.models import Tier

THEMES = ("system", "light", "dark")

_system_style: str | None = None
_system_palette: QPalette | None = None
_current: str = "system"


def _remember_system(app: QApplication) -> None:
    global _system_style, _system_palette
    if _system_palette is None:
        _system_style = app.style().name()
        _system_palette = QPalette(app.palette())


_R = QPalette.ColorRole

#: The forced themes, role by role: the same roles in both, so neither can miss one.
LIGHT_COLOURS = {
    _R.Window: "#f3f4f6",
    _R.WindowText: "#1f2328",
    _R.Base: "#ffffff",
    _R.AlternateBase: "#f6f8fa",
    _R.ToolTipBase: "#ffffe8",
    _R.ToolTipText: "#1f2328",
    _R.PlaceholderText: "#6e7781",
    _R.Text: "#1f2328",
    _R.Button: "#eaeef2",
    _R.ButtonText: "#1f2328",
    _R.BrightText: "#cf222e",
    _R.Link: "#0969da",
    _R.Highlight: "#0969da",
    _R.HighlightedText: "#ffffff",
    _R.Light: "#ffffff",
    _R.Midlight: "#e6e9ed",
    _R.Mid: "#d0d7de",
    _R.Dark: "#8c959f",
    _R.Shadow: "#424a53",
}
LIGHT_DISABLED = "#8c959f"

DARK_COLOURS = {
    _R.Window: "#1e2227",
    _R.WindowText: "#e6edf3",
    _R.Base: "#16191d",
    _R.AlternateBase: "#1c2025",
    _R.ToolTipBase: "#2d333b",
    _R.ToolTipText: "#e6edf3",
    _R.PlaceholderText: "#7d8590",
    _R.Text: "#e6edf3",
    _R.Button: "#2d333b",
    _R.ButtonText: "#e6edf3",
    _R.BrightText: "#ff7b72",
    _R.Link: "#58a6ff",
    _R.Highlight: "#1f6feb",
    _R.HighlightedText: "#ffffff",
    _R.Light: "#3d444d",
    _R.Midlight: "#30363d",
    _R.Mid: "#30363d",
    _R.Dark: "#0d1117",
    _R.Shadow: "#010409",
}
DARK_DISABLED = "#6e7681"


def _palette(colours: dict[QPalette.ColorRole, str], disabled: str) -> QPalette:
    p = QPalette()
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    for role in (_R.Text, _R.ButtonText, _R.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled))
    return p


def light_palette() -> QPalette:
    return _palette(LIGHT_COLOURS, LIGHT_DISABLED)


def dark_palette() -> QPalette:
    return _palette(DARK_COLOURS, DARK_DISABLED)


#: Fusion's indicator outline is the window colour darkened by this factor (per element).
_FUSION_OUTLINE_DARKER = {
    QStyle.PrimitiveElement.PE_IndicatorCheckBox: 140,
    QStyle.PrimitiveElement.PE_IndicatorRadioButton: 150,
}


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def indicator_outline(
    palette: QPalette, group: QPalette.ColorGroup = QPalette.ColorGroup.Active
) -> QColor:
    """The outline of a check box or radio button: between the base and the text colour of
    ``group`` (nearer the text for a disabled widget, whose text colour is already dim)."""
    t = 0.75 if group == QPalette.ColorGroup.Disabled else 0.6
    return _mix(
        palette.color(group, QPalette.ColorRole.Base),
        palette.color(group, QPalette.ColorRole.Text),
        t,
    )


class IndicatorStyle(QProxyStyle):
    """Fusion whose check box and radio button outlines are :func:`indicator_outline`.

    Fusion derives the outline from the window colour; the indicator is drawn with a copy of
    the palette whose window colour Fusion will darken into the wanted outline. Check boxes
    in item views and checkable group boxes are drawn through the same primitive.
    """

    def __init__(self) -> None:
        super().__init__(QStyleFactory.create("Fusion"))

    def drawPrimitive(
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        factor = _FUSION_OUTLINE_DARKER.get(element)
        if factor is None:
            super().drawPrimitive(element, option, painter, widget)
            return
        saved = QPalette(option.palette)
        palette = QPalette(saved)
        for group in (
            QPalette.ColorGroup.Active,
            QPalette.ColorGroup.Inactive,
            QPalette.ColorGroup.Disabled,
        ):
            outline = indicator_outline(saved, group)
            palette.setColor(group, QPalette.ColorRole.Window, outline.lighter(factor))
        option.palette = palette
        try:
            super().drawPrimitive(element, option, painter, widget)
        finally:
            option.palette = saved


def apply_theme(theme: str, app: QApplication | None = None) -> str:
    """Apply ``theme`` ("system", "light" or "dark") to the app; returns what was applied."""
    global _current
    app = app or QApplication.instance()  # type: ignore[assignment]
    if app is None:
        return _current
    _remember_system(app)
    if theme == "light":
        app.setStyle(IndicatorStyle())
        app.setPalette(light_palette())
    elif theme == "dark":
        app.setStyle(IndicatorStyle())
        app.setPalette(dark_palette())
    else:
        theme = "system"
        if _system_style:
            style = QStyleFactory.create(_system_style)
            if style is not None:
                app.setStyle(style)
        if _system_palette is not None:
            app.setPalette(_system_palette)
    _current = theme
    return theme


def current_theme() -> str:
    return _current


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether the palette in force is a dark one (text lighter than the window)."""
    if palette is None:
        palette = QGuiApplication.palette()
    return (
        palette.color(QPalette.ColorRole.WindowText).lightness()
        > palette.color(QPalette.ColorRole.Window).lightness()
    )


@dataclass(frozen=True, slots=True)
class Badge:
    text: str
    fg: QColor
    bg: QColor


_TIER_LABELS = {
    Tier.LOCAL: "Local",
    Tier.FREE: "Free",
    Tier.PAID: "Paid",
    Tier.VARIABLE: "Variable",
    Tier.UNKNOWN: "Unknown",
}
# (light fg, light bg, dark fg, dark bg)
_TIER_COLOURS = {
    Tier.LOCAL: ("#0a3069", "#ddf4ff", "#a5d6ff", "#0c2d6b"),
    Tier.FREE: ("#116329", "#dafbe1", "#7ee787", "#0f3d1f"),
    Tier.PAID: ("#57606a", "#eaeef2", "#c9d1d9", "#30363d"),
    Tier.VARIABLE: ("#7d4e00", "#fff8c5", "#e3b341", "#3d2e00"),
    Tier.UNKNOWN: ("#82071e", "#ffebe9", "#ffa198", "#490202"),
}


def tier_label(tier: Tier) -> str:
    return _TIER_LABELS.get(tier, str(tier))


def tier_badge(tier: Tier, dark: bool | None = None) -> Badge:
    dark = is_dark() if dark is None else dark
    lf, lb, df, db = _TIER_COLOURS.get(tier, _TIER_COLOURS[Tier.UNKNOWN])
    return Badge(
        _TIER_LABELS.get(tier, str(tier)), QColor(df if dark else lf), QColor(db if dark else lb)
    )


def tone_colours(tone: str, dark: bool | None = None) -> tuple[str, str, str]:
    """(text, background, border) colours for a banner of ``tone`` info/warning/error/success."""
    dark = is_dark() if dark is None else dark
    light_map = {
        "info": ("#0a3069", "#ddf4ff", "#54aeff"),
        "warning": ("#4d2d00", "#fff8c5", "#d4a72c"),
        "error": ("#82071e", "#ffebe9", "#ff8182"),
        "success": ("#116329", "#dafbe1", "#4ac26b"),
    }
    dark_map = {
        "info": ("#a5d6ff", "#0c2d6b", "#1f6feb"),
        "warning": ("#f2cc60", "#3d2e00", "#9e6a03"),
        "error": ("#ffa198", "#490202", "#da3633"),
        "success": ("#7ee787", "#0f3d1f", "#238636"),
    }
    table = dark_map if dark else light_map
    return table.get(tone, table["info"])


def error_colour(dark: bool | None = None) -> str:
    dark = is_dark() if dark is None else dark
    return "#ff7b72" if dark else "#cf222e"


def ok_colour(dark: bool | None = None) -> str:
    dark = is_dark() if dark is None else dark
    return "#3fb950" if dark else "#1a7f37"


def muted_colour(dark: bool | None = None) -> str:
    dark = is_dark() if dark is None else dark
    return "#8b949e" if dark else "#57606a"
