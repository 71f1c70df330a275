"""The API key editor of the Settings pane: enter, replace, reveal while held, delete, validate.

Every keyring call goes through the controller's runner (the key store runs it in a thread with
a timeout), so a locked Secret Service shows a clear message and never freezes the window.
Where the key is kept is said in words. Where there is no system keyring the key can be used
for this session only, when the user asks for it. A key from ``OPENROUTER_API_KEY`` is shown
read-only.

Validate asks OpenRouter (``GET /key``): the key's label (OpenRouter masks it), usage, limit
and whether it is on the free tier, which sets ``routing.credits_purchased`` so the daily free
cap (50 or 1000) is the one routing and the status bar use.

The key itself is never put in a label, a tooltip, a log record or an error message; the field
is cleared once the key is stored.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from locallama_gui.core.cost import format_usd
from locallama_gui.gui import theme
from locallama_gui.gui.bridge import Job
from locallama_gui.secrets import (
    ENV_VAR,
    InsecureKeyring,
    InvalidKey,
    KeyFromEnvironment,
    KeyLocation,
    KeyStoreError,
    KeyStoreTimeout,
    NoSystemKeyring,
    redact,
    validate_key,
)
from locallama_gui.sources.errors import SourceError, SourceTimeout, Unreachable

log = logging.getLogger(__name__)

INTRO = (
    "Paid OpenRouter models need a key; free and local models work without one. The key is "
    "kept by the system key store, never in the settings file, the logs or exports."
)
HIDDEN_LABEL = "(hidden: it would show the key)"


class NoKeyToValidate(Exception):
    """Validate was asked for with no key at all."""


def key_status_lines(status: Any, label_is_safe: bool) -> list[tuple[str, str]]:
    """(name, value) rows describing an OpenRouter ``KeyStatus``; never the key itself."""
    label = status.label if label_is_safe and status.label else None
    rows = [("Label", label or (HIDDEN_LABEL if status.label else "none"))]
    usage = format_usd(status.usage, 4)
    parts = []
    for name, value in (
        ("today", status.usage_daily),
        ("this week", status.usage_weekly),
        ("this month", status.usage_monthly),
    ):
        if value is not None:
            parts.append(f"{name} {format_usd(value, 4)}")
    rows.append(("Usage", f"{usage} ({', '.join(parts)})" if parts else usage))
    if status.limit is None:
        rows.append(("Limit", "none on this key"))
    else:
        limit = format_usd(status.limit, 4)
        if status.limit_remaining is not None:
            limit += f", {format_usd(status.limit_remaining, 4)} left"
        if status.limit_reset:
            limit += f", resets {status.limit_reset}"
        rows.append(("Limit", limit))
    if getattr(status, "free_cap_reported", False):
        left = status.free_daily_remaining
        rows.append(
            (
                "Free models",
                f"{status.free_daily_cap:,} requests a day"
                + (f", {left:,} left today" if left is not None else "")
                + " (as OpenRouter counts them, for every app on the account)",
            )
        )
    else:
        bought = {None: "unknown", True: "no", False: "yes"}[status.is_free_tier]
        rows.append(
            (
                "Free models",
                f"OpenRouter did not say; by the 50/1000 rule (credits bought: {bought}; "
                "1000 a day needs 10 credits bought, set in Routing)",
            )
        )
    if status.expires_at:
        rows.append(("Expires", str(status.expires_at)))
    return rows


class KeyWidget(QWidget):
    """Enter, replace, reveal (while held), delete and validate the OpenRouter API key."""

    saved = Signal(object)  # KeyLocation
    deleted = Signal(bool)  # whether a key was removed
    validated = Signal(object)  # sources.results.KeyStatus
    message_changed = Signal(str, str)  # tone, text

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("apiKeyWidget")
        self.controller = controller
        self.store = controller.key_store
        self.location: KeyLocation | None = getattr(controller, "key_location", None)
        self.confirm_box: QMessageBox | None = None
        self._job: Job | None = None
        self._validate_job: Job | None = None
        self.message_tone = "info"
        self._build()
        controller.key_changed.connect(self.set_location)
        if self.location is not None:
            self.set_location(self.location)
        else:
            self._render_location()

    # --- construction -------------------------------------------------------------------------

    def _build(self) -> None:
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(8)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        intro.setObjectName("apiKeyIntro")
        self._muted = [intro]
        v.addWidget(intro)

        self.location_label = QLabel()
        self.location_label.setObjectName("apiKeyLocation")
        self.location_label.setWordWrap(True)
        v.addWidget(self.location_label)

        row = QHBoxLayout()
        row.setSpacing(6)
        self.key_edit = QLineEdit()
        self.key_edit.setObjectName("apiKeyEdit")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setClearButtonEnabled(True)
        self.key_edit.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
        self.key_edit.setPlaceholderText("sk-or-v1-… (paste your OpenRouter key)")
        self.key_edit.returnPressed.connect(lambda: self.save())
        self.key_edit.textChanged.connect(lambda _t: self._update_buttons())
        self.reveal_button = QToolButton()
        self.reveal_button.setObjectName("apiKeyReveal")
        self.reveal_button.setText("Hold to show")
        self.reveal_button.setToolTip("Shows what you typed while the button is held down")
        self.reveal_button.pressed.connect(lambda: self._reveal(True))
        self.reveal_button.released.connect(lambda: self._reveal(False))
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Store the key in the system keyring")
        self.save_button.setAutoDefault(False)
        self.save_button.clicked.connect(lambda: self.save())
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Remove the stored key")
        self.delete_button.setAutoDefault(False)
        self.delete_button.clicked.connect(self.request_delete)
        row.addWidget(self.key_edit, 1)
        row.addWidget(self.reveal_button)
        row.addWidget(self.save_button)
        row.addWidget(self.delete_button)
        v.addLayout(row)

        msg_row = QHBoxLayout()
        self.message_label = QLabel()
        self.message_label.setObjectName("apiKeyMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setVisible(False)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.session_button = QPushButton("Use for this session only")
        self.session_button.setObjectName("apiKeySessionOnly")
        self.session_button.setToolTip(
            "Keep the key in memory until the app quits; nothing is saved"
        )
        self.session_button.setAutoDefault(False)
        self.session_button.setVisible(False)
        self.session_button.clicked.connect(lambda: self.save(session_only=True))
        msg_row.addWidget(self.message_label, 1)
        msg_row.addWidget(self.session_button, 0, Qt.AlignmentFlag.AlignTop)
        v.addLayout(msg_row)

        check = QHBoxLayout()
        self.validate_button = QPushButton("Validate")
        self.validate_button.setObjectName("apiKeyValidate")
        self.validate_button.setToolTip(
            "Ask OpenRouter about the key in use: its label, usage, limit and free tier"
        )
        self.validate_button.setAutoDefault(False)
        self.validate_button.clicked.connect(lambda: self.validate())
        check.addWidget(
            self.validate_button, 0, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        )
        self.result_box = QWidget()
        self.result_grid = QGridLayout(self.result_box)
        self.result_grid.setContentsMargins(8, 0, 0, 0)
        self.result_grid.setHorizontalSpacing(10)
        self.result_grid.setVerticalSpacing(2)
        self.result_box.setVisible(False)
        check.addWidget(self.result_box, 1)
        check.addStretch(0)
        v.addLayout(check)
        self.result_rows: list[tuple[str, str]] = []
        self._restyle()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._restyle()
        super().changeEvent(event)

    def _restyle(self) -> None:
        dark = theme.is_dark(self.palette())
        muted = f"color: {theme.muted_colour(dark)};"
        for w in self._muted:
            if w.styleSheet() != muted:
                w.setStyleSheet(muted)
        if self.message_label.text():
            self.message_label.setStyleSheet(f"color: {self._tone_colour(self.message_tone)};")

    def _tone_colour(self, tone: str) -> str:
        dark = theme.is_dark(self.palette())
        return {
            "error": theme.error_colour(dark),
            "warning": theme.tone_colours("warning", dark)[0],
            "success": theme.ok_colour(dark),
        }.get(tone, theme.muted_colour(dark))

    # --- location -----------------------------------------------------------------------------

    @property
    def from_environment(self) -> bool:
        return self.location is not None and self.location.where == "env"

    def set_location(self, location: KeyLocation | None) -> None:
        self.location = location
        self._render_location()

    def _render_location(self) -> None:
        loc = self.location
        if loc is None:
            text = "Where: checking…"
        else:
            text = f"Where: {loc.label}."
            if loc.problem:
                text += f"\n{redact(loc.problem)}"
        self.location_label.setText(text)
        colour = theme.error_colour() if loc is not None and loc.problem else None
        self.location_label.setStyleSheet(f"color: {colour};" if colour else "")
        if self.from_environment:
            self.key_edit.clear()
            self.key_edit.setPlaceholderText(f"Set by {ENV_VAR} (read-only here)")
            self.key_edit.setToolTip(f"Unset {ENV_VAR} to manage the key here")
        elif loc is not None and loc.present:
            self.key_edit.setPlaceholderText("A key is stored: paste a new one to replace it")
            self.key_edit.setToolTip("")
        else:
            self.key_edit.setPlaceholderText("sk-or-v1-… (paste your OpenRouter key)")
            self.key_edit.setToolTip("")
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self._job is not None and not self._job.done()
        env = self.from_environment
        has_text = bool(self.key_edit.text().strip())
        self.key_edit.setEnabled(not env and not busy)
        self.reveal_button.setEnabled(has_text and not env)
        self.save_button.setEnabled(has_text and not env and not busy)
        present = self.location is not None and self.location.present
        self.delete_button.setEnabled(present and not env and not busy)
        self.session_button.setEnabled(has_text and not busy)
        validating = self._validate_job is not None and not self._validate_job.done()
        self.validate_button.setEnabled(not validating)
        self.validate_button.setText("Validating…" if validating else "Validate")

    def _reveal(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.key_edit.setEchoMode(mode)

    @property
    def revealed(self) -> bool:
        return self.key_edit.echoMode() == QLineEdit.EchoMode.Normal

    # --- messages -----------------------------------------------------------------------------

    def show_message(self, text: str, tone: str = "info") -> None:
        """A line under the field; ``tone`` is info, success, warning or error."""
        text = redact(text, (self.key_edit.text().strip(),))
        self.message_tone = tone
        self.message_label.setStyleSheet(f"color: {self._tone_colour(tone)};")
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))
        self.message_changed.emit(tone, text)

    @property
    def message(self) -> str:
        return self.message_label.text() if self.message_label.isVisibleTo(self) else ""

    # --- save ---------------------------------------------------------------------------------

    def save(self, session_only: bool = False) -> Job | None:
        """Store the typed key (keyring, or memory when ``session_only``) in the background."""
        if self._job is not None and not self._job.done():
            return None
        try:
            key = validate_key(self.key_edit.text())
        except InvalidKey as e:
            self.show_message(e.user_message, "error")
            return None
        self.session_button.setVisible(session_only and self.session_button.isVisible())
        self.show_message(
            "Keeping the key for this session…" if session_only else "Saving to the keyring…"
        )
        self._job = self.controller.runner.run_async(
            "store the API key",
            self.store.set(key, session_only=session_only),
            on_done=self._saved,
            on_error=self._save_failed,
        )
        del key
        self._update_buttons()
        return self._job

    def _saved(self, location: KeyLocation) -> None:
        self._job = None
        self.key_edit.clear()
        self._reveal(False)
        self.session_button.setVisible(False)
        self.show_message(f"Saved. {location.label}.", "success")
        self.set_location(location)
        self.controller.key_updated()
        self.saved.emit(location)

    def _save_failed(self, exc: BaseException) -> None:
        self._job = None
        offer_session = isinstance(exc, NoSystemKeyring | KeyStoreTimeout | InsecureKeyring)
        if isinstance(exc, KeyStoreError):
            text = exc.user_message
        else:
            log.error("storing the API key failed: %s", redact(type(exc).__name__))
            text = f"The key could not be stored: {type(exc).__name__}: {exc}"
        tone = "warning" if isinstance(exc, NoSystemKeyring | InsecureKeyring) else "error"
        self.show_message(text, tone)
        self.session_button.setVisible(offer_session)
        self._update_buttons()

    # --- delete -------------------------------------------------------------------------------

    def request_delete(self) -> QMessageBox:
        """Ask first (without blocking the event loop); Delete removes the key."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete the API key",
            "Delete the OpenRouter API key?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        where = self.location.label if self.location is not None else "The stored key"
        box.setInformativeText(f"{where}. Paid models stop working until a key is entered again.")
        box.finished.connect(lambda _r: self._delete_answered(box, box.clickedButton() is delete))
        self.confirm_box = box
        box.open()
        return box

    def _delete_answered(self, box: QMessageBox, confirmed: bool) -> None:
        if self.confirm_box is box:
            self.confirm_box = None
        box.deleteLater()
        if confirmed:
            self.delete_key()

    def delete_key(self) -> Job | None:
        if self._job is not None and not self._job.done():
            return None
        self.show_message("Deleting…")
        self._job = self.controller.runner.run_async(
            "delete the API key",
            self.store.delete(),
            on_done=self._deleted,
            on_error=self._delete_failed,
        )
        self._update_buttons()
        return self._job

    def _deleted(self, removed: bool) -> None:
        self._job = None
        self.show_message(
            "The API key was deleted." if removed else "There was no stored key to delete.",
            "success" if removed else "info",
        )
        self.result_box.setVisible(False)
        self.controller.key_updated()
        self.deleted.emit(removed)
        self._update_buttons()

    def _delete_failed(self, exc: BaseException) -> None:
        self._job = None
        text = exc.user_message if isinstance(exc, KeyStoreError) else f"Delete failed: {exc}"
        tone = "warning" if isinstance(exc, KeyFromEnvironment) else "error"
        self.show_message(text, tone)
        self._update_buttons()

    # --- validate -----------------------------------------------------------------------------

    def validate(self) -> Job | None:
        """Ask OpenRouter about the key in use; the free tier sets the daily free cap."""
        if getattr(self.controller, "services", None) is None:
            self.show_message("The app is still starting: validate in a moment.", "info")
            return None
        if self._validate_job is not None and not self._validate_job.done():
            return self._validate_job

        async def check() -> tuple[Any, bool]:
            live = await self.controller.live()
            key = live.api_key
            if not key:
                raise NoKeyToValidate()
            status = await live.key_status()
            return status, not (status.label and key in status.label)

        self.show_message("Asking OpenRouter about the key…")
        self._validate_job = self.controller.runner.run_async(
            "validate the API key", check(), on_done=self._validated, on_error=self._invalid
        )
        self._update_buttons()
        return self._validate_job

    def _validated(self, result: tuple[Any, bool]) -> None:
        self._validate_job = None
        status, label_is_safe = result
        self._show_rows(key_status_lines(status, label_is_safe))
        text = "The key is valid."
        services = self.controller.services
        if getattr(status, "free_cap_reported", False) and services is not None:
            # the key check saved the cap (in its worker): the panes only need to hear of it
            self.controller.settings_changed.emit(services.settings)
            text += f" Free models: {status.free_daily_cap:,} requests a day, as OpenRouter says."
        self.show_message(text, "success")
        self._update_buttons()
        self.validated.emit(status)

    def _invalid(self, exc: BaseException) -> None:
        self._validate_job = None
        self.result_box.setVisible(False)
        if isinstance(exc, NoKeyToValidate):
            text = "There is no key to validate: paste one and Save it first."
            tone = "info"
        elif isinstance(exc, SourceTimeout | Unreachable):
            # OpenRouter did not answer: nothing is known of the key (say so, not "rejected")
            text, tone = exc.user_message, "warning"
        elif isinstance(exc, SourceError):
            from locallama_gui.services.live import describe_error

            text, tone = f"OpenRouter did not accept the key: {describe_error(exc)}", "error"
        elif isinstance(exc, KeyStoreError):
            text, tone = exc.user_message, "error"
        else:
            text, tone = f"The key could not be checked: {type(exc).__name__}: {exc}", "error"
        self.show_message(text, tone)
        self._update_buttons()

    def _show_rows(self, rows: list[tuple[str, str]]) -> None:
        self.result_rows = rows
        while self.result_grid.count():
            item = self.result_grid.takeAt(0)
            w = item.widget()
            if w is not None:
                if w in self._muted:
                    self._muted.remove(w)
                w.deleteLater()
        for r, (name, value) in enumerate(rows):
            n = QLabel(f"{name}:")
            self._muted.append(n)
            val = QLabel(value)
            val.setObjectName(f"apiKey{name.replace(' ', '')}")
            val.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            val.setWordWrap(True)
            self.result_grid.addWidget(n, r, 0, Qt.AlignmentFlag.AlignRight)
            self.result_grid.addWidget(val, r, 1)
        self.result_grid.setColumnStretch(1, 1)
        self.result_box.setVisible(True)
        self._restyle()

    def result_value(self, name: str) -> str | None:
        return next((v for n, v in self.result_rows if n == name), None)


__all__ = ["KeyWidget", "key_status_lines"]
