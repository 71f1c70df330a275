"""The Settings pane: endpoints with Test buttons, routing defaults, refresh and appearance.

Every field is validated with the settings schema itself (``settings_from_dict``), so the
message next to a field is the same one the CLI and the settings file give, naming the dotted
key. Apply saves in a worker and the change is in effect at once (no restart): the controller
emits ``settings_changed`` and every pane follows it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from locallama_gui.core.settings import (
    MAX_REFRESH_MINUTES,
    Settings,
    SettingsError,
    settings_from_dict,
)
from locallama_gui.gui import theme
from locallama_gui.services import probe

log = logging.getLogger(__name__)

FREE_PREFERENCE_CHOICES = (
    ("Prefer free models when they are good enough", "prefer"),
    ("Only free and local models", "only"),
    ("Avoid free models", "avoid"),
    ("No preference", "off"),
)
PRIORITY_CHOICES = (
    ("Balanced", "balanced"),
    ("Lowest cost", "cost"),
    ("Fastest", "speed"),
    ("Best quality", "quality"),
)
CREDITS_CHOICES = (
    ("Unknown: assume 50 free requests a day", None),
    ("Yes: 1,000 free requests a day", True),
    ("No: 50 free requests a day", False),
)
THEME_CHOICES = (
    ("Follow the system", "system"),
    ("Light", "light"),
    ("Dark", "dark"),
)
ENDPOINTS = (
    ("openrouter", "OpenRouter", "openrouter_url", "openrouter_enabled"),
    ("ollama", "Ollama", "ollama_url", "ollama_enabled"),
    ("lmstudio", "LM Studio", "lmstudio_url", "lmstudio_enabled"),
)


@dataclass
class _Field:
    widget: QWidget
    error: QLabel


class SettingsPane(QWidget):
    """Edit, validate and apply the settings; changes take effect without a restart."""

    applied = Signal(object)  # the Settings that were applied

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._settings: Settings = Settings()
        self._loading = False
        self._dirty = False
        self._pending: Settings | None = None
        self.fields: dict[str, _Field] = {}
        self.test_buttons: dict[str, QPushButton] = {}
        self.test_results: dict[str, QLabel] = {}
        self._test_jobs: dict[str, Any] = {}

        content = QWidget()
        body = QVBoxLayout(content)
        body.setContentsMargins(12, 12, 12, 12)
        body.setSpacing(12)
        body.addWidget(self._build_endpoints())
        body.addWidget(self._build_api_key())
        body.addWidget(self._build_routing())
        body.addWidget(self._build_spend())
        row = QHBoxLayout()
        row.addWidget(self._build_refresh(), 1)
        row.addWidget(self._build_appearance(), 1)
        body.addLayout(row)
        body.addStretch(1)
        content.setMaximumWidth(900)

        holder = QWidget()
        hl = QHBoxLayout(holder)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.addWidget(content, 1)
        hl.addStretch(0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(holder)

        self.status_label = QLabel()
        self.status_label.setObjectName("settingsStatus")
        self.status_label.setWordWrap(True)
        self.defaults_button = QPushButton("Restore defaults")
        self.defaults_button.setToolTip("Fill the form with the default settings (Apply to keep)")
        self.defaults_button.clicked.connect(self.restore_defaults)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Discard the changes not yet applied")
        self.revert_button.clicked.connect(self.revert)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setDefault(True)
        self.apply_button.setToolTip("Check, save and use these settings now")
        self.apply_button.clicked.connect(self.apply)
        bar = QHBoxLayout()
        bar.setContentsMargins(12, 6, 12, 10)
        bar.addWidget(self.status_label, 1)
        bar.addWidget(self.defaults_button)
        bar.addWidget(self.revert_button)
        bar.addWidget(self.apply_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout.addWidget(line)
        layout.addLayout(bar)

        controller.settings_changed.connect(self._on_settings_changed)
        controller.services_ready.connect(lambda _s: self._update_buttons())
        services = getattr(controller, "services", None)
        self.load(services.settings if services is not None else Settings())
        if services is None:
            self._set_status("Loading your settings…")
        self._update_buttons()

    # --- construction -----------------------------------------------------------------------

    def _error_label(self) -> QLabel:
        label = QLabel()
        label.setObjectName("fieldError")
        label.setWordWrap(True)
        label.setVisible(False)
        label.setStyleSheet(f"color: {theme.error_colour()};")
        return label

    def _add_field(self, key: str, widget: QWidget) -> QWidget:
        """Register ``widget`` for the dotted ``key``; returns it stacked over its error."""
        error = self._error_label()
        self.fields[key] = _Field(widget, error)
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(2)
        v.addWidget(widget)
        v.addWidget(error)
        return box

    def _build_endpoints(self) -> QGroupBox:
        group = QGroupBox("Model sources")
        grid = QGridLayout(group)
        grid.setColumnStretch(1, 1)
        grid.setHorizontalSpacing(8)
        note = QLabel(
            "Where each source listens. Plain http is only used for this machine and your "
            "local network; OpenRouter needs https."
        )
        note.setWordWrap(True)
        note.setStyleSheet(f"color: {theme.muted_colour()};")
        grid.addWidget(note, 0, 0, 1, 3)
        r = 1
        for kind, label, url_key, enabled_key in ENDPOINTS:
            check = QCheckBox(label)
            check.setToolTip(f"Use {label} models")
            check.toggled.connect(self._changed)
            self.fields[f"endpoints.{enabled_key}"] = _Field(check, self._error_label())
            edit = QLineEdit()
            edit.setObjectName(f"{kind}Url")
            edit.setPlaceholderText("http(s)://host:port")
            edit.textChanged.connect(self._changed)
            edit.textEdited.connect(lambda _t, k=f"endpoints.{url_key}": self._clear_error(k))
            check.toggled.connect(edit.setEnabled)
            button = QPushButton("Test")
            button.setToolTip(f"Check that {label} answers at this address")
            button.clicked.connect(lambda _c=False, k=kind: self.test(k))
            result = QLabel()
            result.setVisible(False)
            result.setWordWrap(True)
            result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.test_buttons[kind] = button
            self.test_results[kind] = result
            grid.addWidget(check, r, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(self._add_field(f"endpoints.{url_key}", edit), r, 1)
            grid.addWidget(button, r, 2, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(result, r + 1, 1, 1, 2)
            r += 2
        check = QCheckBox("Other servers")
        check.setToolTip("llama.cpp, vLLM and any other OpenAI-compatible server")
        check.toggled.connect(self._changed)
        self.fields["endpoints.extra_servers_enabled"] = _Field(check, self._error_label())
        self.extra_urls = QPlainTextEdit()
        self.extra_urls.setObjectName("extraServerUrls")
        self.extra_urls.setPlaceholderText("One URL per line, e.g. http://127.0.0.1:8080")
        self.extra_urls.setTabChangesFocus(True)
        lines = self.extra_urls.fontMetrics().lineSpacing()
        self.extra_urls.setFixedHeight(lines * 4 + 12)
        self.extra_urls.textChanged.connect(self._changed)
        check.toggled.connect(self.extra_urls.setEnabled)
        button = QPushButton("Test")
        button.setToolTip("Check each of these servers")
        button.clicked.connect(lambda _c=False: self.test("openai_compat"))
        result = QLabel()
        result.setVisible(False)
        result.setWordWrap(True)
        result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_buttons["openai_compat"] = button
        self.test_results["openai_compat"] = result
        grid.addWidget(check, r, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self._add_field("endpoints.extra_server_urls", self.extra_urls), r, 1)
        grid.addWidget(button, r, 2, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(result, r + 1, 1, 1, 2)
        return group

    def _build_api_key(self) -> QGroupBox:
        """The place for the API key. The key itself is kept by the system key store."""
        group = QGroupBox("OpenRouter API key")
        group.setObjectName("apiKeyGroup")
        self.api_key_group = group
        self._api_key_layout = QVBoxLayout(group)
        text = QLabel(
            "The API key is never stored in these settings: it belongs in the system key "
            "store. Entering and testing it from this window comes in a later version; until "
            "then the app reads the OPENROUTER_API_KEY environment variable."
        )
        text.setWordWrap(True)
        self.api_key_status = QLabel()
        self.api_key_status.setObjectName("apiKeyStatus")
        present = bool(os.environ.get("OPENROUTER_API_KEY", "").strip())
        self.api_key_status.setText(
            "Status: a key is set in OPENROUTER_API_KEY."
            if present
            else "Status: no key set. Free and local models work without one."
        )
        self._api_key_layout.addWidget(text)
        self._api_key_layout.addWidget(self.api_key_status)
        return group

    def set_api_key_widget(self, widget: QWidget) -> None:
        """Replace the placeholder content of the API key box with a real key editor."""
        while self._api_key_layout.count():
            item = self._api_key_layout.takeAt(0)
            w = item.widget()
            if w is not None:
                w.setParent(None)
                w.deleteLater()
        self._api_key_layout.addWidget(widget)

    def _build_routing(self) -> QGroupBox:
        group = QGroupBox("Routing defaults")
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)

        self.free_pref = QComboBox()
        for label, value in FREE_PREFERENCE_CHOICES:
            self.free_pref.addItem(label, value)
        self.free_pref.currentIndexChanged.connect(self._changed)
        form.addRow("Free models:", self._add_field("routing.free_preference", self.free_pref))

        self.priority = QComboBox()
        for label, value in PRIORITY_CHOICES:
            self.priority.addItem(label, value)
        self.priority.currentIndexChanged.connect(self._changed)
        form.addRow("Priority:", self._add_field("routing.priority", self.priority))

        self.allow_paid = QCheckBox("Allow paid models (as a fallback when free ones won't do)")
        self.allow_paid.toggled.connect(self._changed)
        form.addRow("", self._add_field("routing.allow_paid", self.allow_paid))

        self.local_only = QCheckBox("Local only (privacy mode): no prompt ever leaves this machine")
        self.local_only.toggled.connect(self._changed)
        form.addRow("", self._add_field("routing.local_only", self.local_only))

        self.budget = QLineEdit()
        self.budget.setPlaceholderText("no limit")
        self.budget.setToolTip("Largest cost of one task in USD, e.g. 0.05")
        self.budget.textChanged.connect(self._changed)
        self.budget.textEdited.connect(lambda _t: self._clear_error("routing.budget_usd"))
        form.addRow("Budget per task (USD):", self._add_field("routing.budget_usd", self.budget))

        self.quality_floor = QLineEdit()
        self.quality_floor.setPlaceholderText("automatic (from the task's complexity)")
        self.quality_floor.setToolTip(
            "Minimum predicted quality, 0 to 1; empty lets the task's complexity decide"
        )
        self.quality_floor.textChanged.connect(self._changed)
        self.quality_floor.textEdited.connect(lambda _t: self._clear_error("routing.quality_floor"))
        form.addRow(
            "Quality threshold:", self._add_field("routing.quality_floor", self.quality_floor)
        )

        self.fallback_depth = QSpinBox()
        self.fallback_depth.setRange(1, 10)
        self.fallback_depth.setToolTip("How many models to try, in order, before giving up")
        self.fallback_depth.valueChanged.connect(self._changed)
        form.addRow(
            "Fallback depth:", self._add_field("routing.fallback_depth", self.fallback_depth)
        )

        self.credits = QComboBox()
        for label, value in CREDITS_CHOICES:
            self.credits.addItem(label, value)
        self.credits.setToolTip(
            "OpenRouter allows 1,000 free requests a day once 10 credits were ever bought"
        )
        self.credits.currentIndexChanged.connect(self._changed)
        form.addRow(
            "Bought 10+ credits:", self._add_field("routing.credits_purchased", self.credits)
        )
        return group

    def _build_spend(self) -> QGroupBox:
        group = QGroupBox("Spend guardrails")
        group.setToolTip(
            "Checked before every paid call: in the window, the gateway, the MCP server and "
            "locallama run"
        )
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)

        def money_edit(key: str, tip: str) -> QLineEdit:
            edit = QLineEdit()
            edit.setPlaceholderText("no cap")
            edit.setToolTip(tip)
            edit.textChanged.connect(self._changed)
            edit.textEdited.connect(lambda _t: self._clear_error(key))
            return edit

        self.daily_cap = money_edit(
            "spend.daily_cap_usd", "Most spent on paid models per UTC day, in USD, e.g. 2"
        )
        form.addRow("Daily cap (USD):", self._add_field("spend.daily_cap_usd", self.daily_cap))
        self.monthly_cap = money_edit(
            "spend.monthly_cap_usd", "Most spent on paid models per calendar month (UTC), in USD"
        )
        form.addRow(
            "Monthly cap (USD):", self._add_field("spend.monthly_cap_usd", self.monthly_cap)
        )
        self.refuse_paid_fallback = QCheckBox(
            "Refuse a paid fallback after a free or local model failed (never pay silently)"
        )
        self.refuse_paid_fallback.toggled.connect(self._changed)
        form.addRow("", self._add_field("spend.refuse_paid_fallback", self.refuse_paid_fallback))
        self.baseline_model = QLineEdit()
        self.baseline_model.setToolTip(
            "The paid model savings are measured against: what a request would have cost there"
        )
        self.baseline_model.textChanged.connect(self._changed)
        self.baseline_model.textEdited.connect(lambda _t: self._clear_error("spend.baseline_model"))
        form.addRow(
            "Savings baseline:", self._add_field("spend.baseline_model", self.baseline_model)
        )
        return group

    def _build_refresh(self) -> QGroupBox:
        group = QGroupBox("Catalogue refresh")
        form = QFormLayout(group)
        self.refresh_interval = QSpinBox()
        self.refresh_interval.setRange(0, MAX_REFRESH_MINUTES)
        self.refresh_interval.setSuffix(" min")
        self.refresh_interval.setSpecialValueText("Off")
        self.refresh_interval.setSingleStep(15)
        self.refresh_interval.setToolTip("Refresh every source this often; Off = only by hand")
        self.refresh_interval.valueChanged.connect(self._changed)
        form.addRow("Every:", self._add_field("refresh.interval_minutes", self.refresh_interval))
        return group

    def _build_appearance(self) -> QGroupBox:
        group = QGroupBox("Appearance")
        form = QFormLayout(group)
        self.theme_combo = QComboBox()
        for label, value in THEME_CHOICES:
            self.theme_combo.addItem(label, value)
        self.theme_combo.currentIndexChanged.connect(self._changed)
        form.addRow("Theme:", self._add_field("appearance.theme", self.theme_combo))
        self.close_to_tray = QCheckBox("Closing the window keeps the app in the system tray")
        self.close_to_tray.setToolTip(
            "Only where the desktop has a system tray; Quit (Ctrl+Q) always quits"
        )
        self.close_to_tray.toggled.connect(self._changed)
        form.addRow("", self._add_field("appearance.close_to_tray", self.close_to_tray))
        return group

    # --- form <-> settings ------------------------------------------------------------------

    def _url_edit(self, key: str) -> QLineEdit:
        w = self.fields[f"endpoints.{key}"].widget
        assert isinstance(w, QLineEdit)
        return w

    def _check(self, key: str) -> QCheckBox:
        w = self.fields[key].widget
        assert isinstance(w, QCheckBox)
        return w

    def load(self, settings: Settings) -> None:
        """Fill the form from ``settings`` (clears errors and the unsaved flag)."""
        self._loading = True
        try:
            e, r = settings.endpoints, settings.routing
            for _kind, _label, url_key, enabled_key in ENDPOINTS:
                self._url_edit(url_key).setText(getattr(e, url_key))
                check = self._check(f"endpoints.{enabled_key}")
                check.setChecked(getattr(e, enabled_key))
                self._url_edit(url_key).setEnabled(check.isChecked())
            self._check("endpoints.extra_servers_enabled").setChecked(e.extra_servers_enabled)
            self.extra_urls.setPlainText("\n".join(e.extra_server_urls))
            self.extra_urls.setEnabled(e.extra_servers_enabled)
            _select(self.free_pref, r.free_preference)
            _select(self.priority, r.priority)
            self.allow_paid.setChecked(r.allow_paid)
            self.local_only.setChecked(r.local_only)
            self.budget.setText("" if r.budget_usd is None else str(r.budget_usd))
            self.quality_floor.setText("" if r.quality_floor is None else f"{r.quality_floor:g}")
            self.fallback_depth.setValue(r.fallback_depth)
            _select(self.credits, r.credits_purchased)
            sp = settings.spend
            self.daily_cap.setText("" if sp.daily_cap_usd is None else str(sp.daily_cap_usd))
            self.monthly_cap.setText("" if sp.monthly_cap_usd is None else str(sp.monthly_cap_usd))
            self.refuse_paid_fallback.setChecked(sp.refuse_paid_fallback)
            self.baseline_model.setText(sp.baseline_model)
            self.refresh_interval.setValue(settings.refresh.interval_minutes)
            _select(self.theme_combo, settings.appearance.theme)
            self.close_to_tray.setChecked(settings.appearance.close_to_tray)
        finally:
            self._loading = False
        self._settings = settings
        self._dirty = False
        self.clear_errors()
        self._update_buttons()

    def form_values(self) -> dict[str, dict[str, Any]]:
        """The form as a settings mapping (raw text left for the schema to judge)."""
        endpoints: dict[str, Any] = {}
        for _kind, _label, url_key, enabled_key in ENDPOINTS:
            endpoints[url_key] = self._url_edit(url_key).text().strip()
            endpoints[enabled_key] = self._check(f"endpoints.{enabled_key}").isChecked()
        endpoints["extra_server_urls"] = [
            line.strip() for line in self.extra_urls.toPlainText().splitlines() if line.strip()
        ]
        endpoints["extra_servers_enabled"] = self._check(
            "endpoints.extra_servers_enabled"
        ).isChecked()
        budget = self.budget.text().strip()
        floor_text = self.quality_floor.text().strip()
        floor: Any = None
        if floor_text:
            try:
                floor = float(floor_text)
            except ValueError:
                floor = floor_text  # the schema names the problem
        return {
            "endpoints": endpoints,
            "routing": {
                "free_preference": self.free_pref.currentData(),
                "priority": self.priority.currentData(),
                "allow_paid": self.allow_paid.isChecked(),
                "local_only": self.local_only.isChecked(),
                "budget_usd": budget or None,
                "quality_floor": floor,
                "fallback_depth": self.fallback_depth.value(),
                "credits_purchased": self.credits.currentData(),
            },
            "spend": {
                "daily_cap_usd": self.daily_cap.text().strip() or None,
                "monthly_cap_usd": self.monthly_cap.text().strip() or None,
                "refuse_paid_fallback": self.refuse_paid_fallback.isChecked(),
                "baseline_model": self.baseline_model.text().strip(),
            },
            "refresh": {"interval_minutes": self.refresh_interval.value()},
            "appearance": {
                "theme": self.theme_combo.currentData(),
                "close_to_tray": self.close_to_tray.isChecked(),
            },
        }

    def validate(self) -> tuple[Settings | None, dict[str, str]]:
        """Check every field; ``(settings, {})`` or ``(None, {dotted key: message})``."""
        values = self.form_values()
        errors: dict[str, str] = {}
        for section, body in values.items():
            for key, value in body.items():
                try:
                    settings_from_dict({section: {key: value}})
                except SettingsError as exc:
                    field_key = (exc.key or f"{section}.{key}").split("[", 1)[0]
                    errors.setdefault(field_key, str(exc))
        if errors:
            return None, errors
        try:
            return settings_from_dict(values), {}
        except SettingsError as exc:  # a rule across fields
            return None, {(exc.key or "settings").split("[", 1)[0]: str(exc)}

    # --- errors -------------------------------------------------------------------------------

    def error_text(self, key: str) -> str:
        f = self.fields.get(key)
        return "" if f is None or not f.error.isVisibleTo(self) else f.error.text()

    def clear_errors(self) -> None:
        for key in self.fields:
            self._clear_error(key)

    def _clear_error(self, key: str) -> None:
        f = self.fields.get(key)
        if f is None:
            return
        f.error.clear()
        f.error.setVisible(False)
        f.widget.setProperty("invalid", False)
        f.widget.setStyleSheet("")

    def _show_errors(self, errors: dict[str, str]) -> None:
        self.clear_errors()
        first: QWidget | None = None
        for key, message in errors.items():
            f = self.fields.get(key)
            if f is None:
                continue
            f.error.setText(message)
            f.error.setVisible(True)
            f.widget.setProperty("invalid", True)
            if isinstance(f.widget, QLineEdit | QPlainTextEdit):
                f.widget.setStyleSheet(f"border: 1px solid {theme.error_colour()};")
            first = first or f.widget
        n = len(errors)
        self._set_status(
            f"{n} setting{'s' if n != 1 else ''} need{'s' if n == 1 else ''} fixing before "
            "they can be applied.",
            "error",
        )
        if first is not None:
            first.setFocus(Qt.FocusReason.OtherFocusReason)

    # --- actions ------------------------------------------------------------------------------

    def apply(self) -> bool:
        """Validate and apply; False (with messages next to the fields) when invalid."""
        settings, errors = self.validate()
        if settings is None:
            self._show_errors(errors)
            return False
        self.clear_errors()
        services = getattr(self._controller, "services", None)
        if services is None:
            self._set_status("Settings can be applied once the app has finished starting.", "error")
            return False
        # The section this form does not edit (the Gateway pane's switch and port) keeps its
        # current values.
        settings = replace(settings, gateway=services.settings.gateway)
        self._pending = settings
        self._set_status("Saving…")
        self.apply_button.setEnabled(False)
        self._controller.apply_settings(settings, on_error=self._on_apply_failed)
        return True

    def revert(self) -> None:
        self.load(self._settings)
        self._set_status("Changes discarded.")

    def restore_defaults(self) -> None:
        current = self._settings
        self.load(Settings())
        self._settings = current
        self._dirty = True
        self._update_buttons()
        self._set_status("Defaults filled in: Apply to use them, Revert to go back.")

    def test(self, kind: str) -> None:
        """Probe an endpoint in the background; the result appears under its field."""
        result = self.test_results[kind]
        if kind == "openai_compat":
            urls = [
                line.strip() for line in self.extra_urls.toPlainText().splitlines() if line.strip()
            ]
            key = "endpoints.extra_server_urls"
        else:
            url_key = next(u for k, _l, u, _e in ENDPOINTS if k == kind)
            urls = [self._url_edit(url_key).text().strip()]
            key = f"endpoints.{url_key}"
        if not urls:
            self._result(result, False, "No server listed.")
            return
        section, name = key.split(".")
        try:
            settings_from_dict({section: {name: urls if kind == "openai_compat" else urls[0]}})
        except SettingsError as exc:
            self._show_field_error(key, str(exc))
            self._result(result, False, "Fix the address first.")
            return
        self._clear_error(key)
        previous = self._test_jobs.pop(kind, None)
        if previous is not None and not previous.done():
            previous.cancel()
        self.test_buttons[kind].setEnabled(False)
        self._result(result, None, "Testing…")

        async def run() -> list[tuple[str, bool, str]]:
            out = []
            for url in urls:
                ok, message = await probe.test_endpoint(kind, url)
                out.append((url, ok, message))
            return out

        def done(outcomes: list[tuple[str, bool, str]]) -> None:
            self.test_buttons[kind].setEnabled(True)
            ok = all(o for _u, o, _m in outcomes)
            if len(outcomes) == 1:
                self._result(result, ok, outcomes[0][2])
            else:
                lines = [f"{'✓' if o else '✗'} {u}: {m}" for u, o, m in outcomes]
                self._result(result, ok, "\n".join(lines), mark=False)

        def failed(exc: BaseException) -> None:
            self.test_buttons[kind].setEnabled(True)
            self._result(result, False, f"The test could not run: {exc}")

        self._test_jobs[kind] = self._controller.runner.run_async(
            f"test the {kind} endpoint", run(), on_done=done, on_error=failed
        )

    # --- internals ----------------------------------------------------------------------------

    def _show_field_error(self, key: str, message: str) -> None:
        f = self.fields[key]
        f.error.setText(message)
        f.error.setVisible(True)

    def _result(self, label: QLabel, ok: bool | None, message: str, mark: bool = True) -> None:
        label.setVisible(True)
        if ok is None:
            label.setStyleSheet(f"color: {theme.muted_colour()};")
            label.setText(message)
            return
        colour = theme.ok_colour() if ok else theme.error_colour()
        label.setStyleSheet(f"color: {colour};")
        label.setText((("✓ " if ok else "✗ ") if mark else "") + message)

    def _changed(self, *_args: object) -> None:
        if self._loading:
            return
        self._dirty = True
        self._update_buttons()
        self._set_status("Unsaved changes.")

    def _update_buttons(self) -> None:
        ready = getattr(self._controller, "services", None) is not None
        self.apply_button.setEnabled(ready and self._dirty)
        self.revert_button.setEnabled(self._dirty)
        if ready and self.status_label.text() == "Loading your settings…":
            self._set_status("")

    def _set_status(self, text: str, tone: str = "info") -> None:
        colour = theme.error_colour() if tone == "error" else theme.muted_colour()
        self.status_label.setStyleSheet(f"color: {colour};")
        self.status_label.setText(text)

    def _on_settings_changed(self, settings: Settings) -> None:
        applied = self._pending is not None and settings == self._pending
        if applied:
            self._pending = None
            self.load(settings)
            self._set_status("Saved. The new settings are in effect.")
            self.applied.emit(settings)
        elif not self._dirty:
            self.load(settings)
        else:
            self._settings = settings  # keep the user's edits; Revert goes to the new values
        self._update_buttons()

    def _on_apply_failed(self, exc: BaseException) -> None:
        self._pending = None
        log.error("saving settings failed", exc_info=exc)
        self._set_status(f"The settings could not be saved: {exc}", "error")
        self._update_buttons()


def _select(combo: QComboBox, value: object) -> None:
    for i in range(combo.count()):
        if combo.itemData(i) == value and (combo.itemData(i) is None) == (value is None):
            combo.setCurrentIndex(i)
            return


__all__ = ["SettingsPane"]
