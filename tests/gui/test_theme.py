"""The forced light and dark themes: check boxes and radio buttons stand out from the window
(checked or not, enabled or not), and banners recolour when the theme changes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QRadioButton,
    QStyle,
    QStyleOptionButton,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from locallama_gui.gui import theme
from locallama_gui.gui.widgets.states import Banner


@pytest.fixture
def restore_theme(qapp):
    yield
    theme.apply_theme("system")


def _luminance(c: QColor) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 = the same, 21 = black on white)."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _best_contrast(img: QImage, rect: QRect, against: QColor) -> float:
    return max(
        contrast(img.pixelColor(x, y), against)
        for x in range(rect.left(), rect.right() + 1)
        for y in range(rect.top(), rect.bottom() + 1)
    )


def _indicator_contrast(qtbot, button: QAbstractButton) -> float:
    """How much the drawn indicator of ``button`` stands out from the window behind it."""
    host = QWidget()
    qtbot.addWidget(host)
    QVBoxLayout(host).addWidget(button)
    host.show()
    qtbot.waitExposed(host)
    opt = QStyleOptionButton()
    button.initStyleOption(opt)
    element = (
        QStyle.SubElement.SE_CheckBoxIndicator
        if isinstance(button, QCheckBox)
        else QStyle.SubElement.SE_RadioButtonIndicator
    )
    rect = button.style().subElementRect(element, opt, button)
    img = button.grab().toImage()
    return _best_contrast(img, rect, button.palette().color(QPalette.ColorRole.Window))


# The outline of an enabled indicator meets the 3:1 asked of user-interface components;
# a disabled one is dimmer on purpose but still there.
ENABLED_CONTRAST = 3.0
DISABLED_CONTRAST = 1.5


@pytest.mark.parametrize("name", ["light", "dark"])
@pytest.mark.parametrize("kind", [QCheckBox, QRadioButton])
@pytest.mark.parametrize("enabled", [True, False])
def test_unchecked_indicators_stand_out_from_the_window(qtbot, restore_theme, name, kind, enabled):
    theme.apply_theme(name)
    button = kind("an option")
    button.setEnabled(enabled)
    least = ENABLED_CONTRAST if enabled else DISABLED_CONTRAST
    assert _indicator_contrast(qtbot, button) >= least


@pytest.mark.parametrize("name", ["light", "dark"])
def test_checked_indicators_stand_out_too(qtbot, restore_theme, name):
    theme.apply_theme(name)
    box, radio = QCheckBox("on"), QRadioButton("on")
    box.setChecked(True)
    radio.setChecked(True)
    assert _indicator_contrast(qtbot, box) >= ENABLED_CONTRAST
    assert _indicator_contrast(qtbot, radio) >= ENABLED_CONTRAST


@pytest.mark.parametrize("name", ["light", "dark"])
def test_item_view_check_boxes_stand_out_from_the_view(qapp, restore_theme, name):
    """The check boxes of list and table items (the benchmark's model picker) are drawn on
    the view's base colour."""
    theme.apply_theme(name)
    palette = QApplication.palette()
    base = palette.color(QPalette.ColorRole.Base)
    img = QImage(24, 24, QImage.Format.Format_RGB32)
    img.fill(base)
    opt = QStyleOptionViewItem()
    opt.rect = QRect(4, 4, 16, 16)
    opt.palette = palette
    opt.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Off
    painter = QPainter(img)
    QApplication.style().drawPrimitive(
        QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck, opt, painter, None
    )
    painter.end()
    assert _best_contrast(img, img.rect(), base) >= ENABLED_CONTRAST


def test_the_system_theme_keeps_the_platform_style(qapp, restore_theme):
    theme.apply_theme("dark")
    assert isinstance(QApplication.style(), theme.IndicatorStyle)
    theme.apply_theme("system")
    assert not isinstance(QApplication.style(), theme.IndicatorStyle)


# --------------------------------------------------------------------------- banners


def _background(banner: Banner) -> QColor:
    img = banner.grab().toImage()
    return img.pixelColor(4, img.height() // 2)


def test_a_banner_recolours_when_the_theme_changes(qtbot, restore_theme):
    theme.apply_theme("light")
    host = QWidget()
    qtbot.addWidget(host)
    layout = QVBoxLayout(host)
    warning, error = Banner(), Banner()
    layout.addWidget(warning)
    layout.addWidget(error)
    warning.show_message("Showing the bundled snapshot.", "warning")
    error.show_message("Refresh failed.", "error", "Try again")
    host.show()
    qtbot.waitExposed(host)
    assert _background(warning) == QColor(theme.tone_colours("warning", dark=False)[1])

    theme.apply_theme("dark")
    qtbot.waitUntil(
        lambda: _background(warning) == QColor(theme.tone_colours("warning", dark=True)[1])
    )
    assert _background(error) == QColor(theme.tone_colours("error", dark=True)[1])
    assert warning.text == "Showing the bundled snapshot." and warning.tone == "warning"
    assert error.action_button.isVisible() and error.action_button.text() == "Try again"

    theme.apply_theme("light")
    qtbot.waitUntil(
        lambda: _background(error) == QColor(theme.tone_colours("error", dark=False)[1])
    )


def test_a_hidden_banner_is_in_the_new_colours_when_it_shows(qtbot, restore_theme):
    theme.apply_theme("light")
    host = QWidget()
    qtbot.addWidget(host)
    banner = Banner()
    QVBoxLayout(host).addWidget(banner)
    banner.show_message("Catalogue refreshed.", "success")
    host.show()
    qtbot.waitExposed(host)
    banner.setVisible(False)
    theme.apply_theme("dark")
    banner.setVisible(True)
    qtbot.waitUntil(
        lambda: _background(banner) == QColor(theme.tone_colours("success", dark=True)[1])
    )


def test_the_decision_card_recolours_when_the_theme_changes(qtbot, restore_theme):
    from locallama_gui.gui.panes.playground_single import DecisionCard

    theme.apply_theme("light")
    host = QWidget()
    qtbot.addWidget(host)
    card = DecisionCard()
    QVBoxLayout(host).addWidget(card)
    host.resize(600, 200)
    host.show()
    qtbot.waitExposed(host)

    def background() -> QColor:
        img = card.grab().toImage()
        return img.pixelColor(img.width() // 2, img.height() - 4)

    assert background() == QColor(theme.tone_colours("info", dark=False)[1])
    theme.apply_theme("dark")  # switched while the app runs: the card follows
    qtbot.waitUntil(lambda: background() == QColor(theme.tone_colours("info", dark=True)[1]))
