"""Reusable state widgets: empty, loading and error placeholders, and a dismissable banner.

A pane never shows a blank area: while data loads it shows :class:`LoadingState`, when a filter
matches nothing :class:`EmptyState`, when something failed :class:`ErrorState`, and above its
content a :class:`Banner` for an offline snapshot, a refresh result or a failure.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from locallama_gui.gui import theme


def _set_sheet(widget: QWidget, sheet: str) -> None:
    """Set a style sheet only when it changes (a palette change must not loop)."""
    if widget.styleSheet() != sheet:
        widget.setStyleSheet(sheet)


class StateView(QWidget):
    """A centred title, an explanation and an optional action button."""

    action_triggered = Signal()

    def __init__(
        self,
        title: str = "",
        detail: str = "",
        action: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._title = QLabel(title)
        self._title.setObjectName("stateTitle")
        self._title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._title.setWordWrap(True)
        font = self._title.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self._title.setFont(font)
        self._detail = QLabel(detail)
        self._detail.setObjectName("stateDetail")
        self._detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._detail.setWordWrap(True)
        self._detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._detail.setMaximumWidth(560)
        # Parented at once: a parentless button made visible would flash up as a window of its
        # own (and take the activation from the app's window).
        self._button = QPushButton(action or "", self)
        self._button.setVisible(bool(action))
        self._button.clicked.connect(self.action_triggered)
        self._extra = QVBoxLayout()
        self._extra.setAlignment(Qt.AlignmentFlag.AlignCenter)

        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(self._title)
        layout.addSpacing(6)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self._detail, 100)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addLayout(self._extra)
        layout.addSpacing(10)
        layout.addWidget(self._button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)
        self._restyle()

    @property
    def title(self) -> str:
        return self._title.text()

    @property
    def detail(self) -> str:
        return self._detail.text()

    @property
    def button(self) -> QPushButton:
        return self._button

    def set_text(self, title: str, detail: str = "") -> None:
        self._title.setText(title)
        self._detail.setText(detail)

    def set_action(self, text: str | None) -> None:
        self._button.setText(text or "")
        self._button.setVisible(bool(text))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._restyle()
        super().changeEvent(event)

    def _restyle(self) -> None:
        _set_sheet(self._detail, f"color: {theme.muted_colour(theme.is_dark())};")


class EmptyState(StateView):
    """Nothing to show (yet): an empty catalogue, or a filter that matches nothing."""


class LoadingState(StateView):
    """Work in progress, with an indeterminate (or counted) progress bar."""

    def __init__(
        self, title: str = "Loading…", detail: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(title, detail, None, parent)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(240)
        self._extra.addSpacing(8)
        self._extra.addWidget(self.progress, 0, Qt.AlignmentFlag.AlignHCenter)


class ErrorState(StateView):
    """Something failed: what, and what to do (usually a Retry button)."""

    def _restyle(self) -> None:
        super()._restyle()
        _set_sheet(self._title, f"color: {theme.error_colour(theme.is_dark())};")


class Banner(QFrame):
    """A one-line message above a pane's content: info, warning, error or success.

    It has an optional action button and a close button; ``dismissed`` is emitted on close.
    Its colours follow the palette: a light/dark switch recolours a banner on show, hidden or
    not. (The coloured style sheet sits on an inner frame: a widget with a style sheet of its
    own gets a fixed palette and no longer hears of palette changes.)
    """

    action_triggered = Signal()
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._tone = "info"
        self._body = QFrame()
        self._body.setObjectName("bannerBody")
        self._body.setFrameShape(QFrame.Shape.StyledPanel)
        self._label = QLabel()
        self._label.setWordWrap(True)
        self._label.setTextFormat(Qt.TextFormat.PlainText)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._action = QPushButton()
        self._action.setVisible(False)
        self._action.clicked.connect(self.action_triggered)
        self._close = QToolButton()
        self._close.setText("✕")
        self._close.setToolTip("Dismiss")
        self._close.setAutoRaise(True)
        self._close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self._body)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self._label, 1)
        layout.addWidget(self._action)
        layout.addWidget(self._close)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._body)
        self._restyle()
        self.setVisible(False)

    @property
    def text(self) -> str:
        return self._label.text()

    @property
    def tone(self) -> str:
        return self._tone

    @property
    def action_button(self) -> QPushButton:
        return self._action

    def show_message(
        self,
        text: str,
        tone: str = "info",
        action: str | None = None,
        closable: bool = True,
    ) -> None:
        from locallama_gui.core.redaction import redact

        self._tone = tone
        self._label.setText(redact(text))  # errors quote servers: never the API key
        self._action.setText(action or "")
        self._action.setVisible(bool(action))
        self._close.setVisible(closable)
        self._restyle()
        self.setVisible(True)

    def dismiss(self) -> None:
        was = self.isVisible()
        self.setVisible(False)
        if was:
            self.dismissed.emit()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            self._restyle()
        super().changeEvent(event)

    def _restyle(self) -> None:
        fg, bg, border = theme.tone_colours(self._tone, theme.is_dark(self.palette()))
        _set_sheet(
            self._body,
            f"QFrame#bannerBody {{ background: {bg}; border: 1px solid {border}; "
            f"border-radius: 4px; }} QFrame#bannerBody QLabel {{ color: {fg}; }}",
        )
