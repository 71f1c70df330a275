"""The Gateway pane: the local OpenAI- and Anthropic-compatible gateway, switched on and off,
with set-up snippets for the usual clients and its live traffic.

The gateway itself belongs to the controller (:mod:`locallama_gui.gui.gateway_control`): it
runs whether or not this pane was ever opened, and this pane only switches it and watches it.
The traffic table reads a copy of the gateway's recent requests once a second, and only while
the pane is on show and the gateway is on; the spend totals (today, this month) are summed
from the ledger in a worker, at most every few seconds. The snippets never hold the token
itself: ``Copy token`` puts it on the clipboard.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from PySide6.QtCore import QEvent, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from locallama_gui.gui import theme
from locallama_gui.gui.gateway_control import FAILED, ON, STARTING, STOPPING, GatewayState
from locallama_gui.gui.models.cost_model import make_sort_proxy
from locallama_gui.gui.models.traffic_model import TrafficTableModel
from locallama_gui.gui.widgets.states import EmptyState

log = logging.getLogger(__name__)

#: Shown in the snippets where the token goes (the token itself never is).
TOKEN_PLACEHOLDER = "<token: Copy token>"
TRAFFIC_POLL_MS = 1000
#: The spend totals are summed at most this often.
TOTALS_EVERY_S = 5.0
PORT_SAVE_DELAY_MS = 600
NOTE_MS = 4000
LOOPBACK = "127.0.0.1"

SNIPPET_KINDS = (
    ("claude_desktop", "Claude Desktop"),
    ("claude_code", "Claude Code"),
    ("cline", "Cline"),
    ("openai", "OpenAI-compatible (Aider, Continue, SDK)"),
)


# --------------------------------------------------------------------------- snippets


def _mcp_stdio_config(*extra: str) -> str:
    """The MCP server entry that starts ``locallama mcp`` (stdio), as a JSON document."""
    lines = ['      "command": "locallama"', '      "args": ["mcp"]', *extra]
    return '{\n  "mcpServers": {\n    "locallama": {\n' + ",\n".join(lines) + "\n    }\n  }\n}"


def snippet(kind: str, url: str, token: str = TOKEN_PLACEHOLDER) -> str:
    """A ready-to-paste set-up for one client, for the gateway at ``url``."""
    base = url.rstrip("/")
    v1 = f"{base}/v1"
    if kind == "claude_desktop":
        return _mcp_stdio_config() + "\n"
    if kind == "claude_code":
        return (
            "# LocaLLama's tools over MCP\n"
            "claude mcp add locallama -- locallama mcp\n"
            "\n"
            "# Or send Claude Code's own requests through the gateway\n"
            f"ANTHROPIC_BASE_URL={base} ANTHROPIC_AUTH_TOKEN={token} claude\n"
        )
    if kind == "cline":
        return _mcp_stdio_config('      "disabled": false', '      "autoApprove": []') + "\n"
    if kind == "openai":
        return (
            "# Aider\n"
            f"OPENAI_API_BASE={v1} OPENAI_API_KEY={token} aider --model openai/locallama/auto\n"
            "\n"
            "# Continue (~/.continue/config.yaml)\n"
            "models:\n"
            "  - name: LocaLLama auto\n"
            "    provider: openai\n"
            "    model: locallama/auto\n"
            f"    apiBase: {v1}\n"
            f"    apiKey: {token}\n"
            "\n"
            "# The openai SDK (Python)\n"
            "from openai import OpenAI\n"
            "\n"
            f'client = OpenAI(base_url="{v1}", api_key="{token}")\n'
            "reply = client.chat.completions.create(\n"
            '    model="locallama/auto",  # or locallama/free, locallama/local, a model id\n'
            '    messages=[{"role": "user", "content": "Hello"}],\n'
            ")\n"
            "print(reply.choices[0].message.content)\n"
        )
    raise KeyError(kind)


def snippet_hint(kind: str, url: str) -> str:
    """Where the snippet goes, in a sentence or two."""
    v1 = f"{url.rstrip('/')}/v1"
    if kind == "claude_desktop":
        return (
            "Merge into claude_desktop_config.json (Settings → Developer → Edit Config). "
            "Claude Desktop starts `locallama mcp` itself: no token needed."
        )
    if kind == "claude_code":
        return "Run in a terminal: the first line adds LocaLLama's MCP tools to Claude Code."
    if kind == "cline":
        return (
            "Cline → MCP Servers → Configure MCP Servers (cline_mcp_settings.json). Or use the "
            f'gateway as Cline\'s "OpenAI Compatible" provider: Base URL {v1}, the token as '
            "API key, model locallama/auto."
        )
    if kind == "openai":
        return (
            f"Any OpenAI-compatible client: base URL {v1}, the token as API key, model "
            "locallama/auto."
        )
    raise KeyError(kind)


def totals_text(report: dict[str, Any]) -> str:
    """Today's and this month's spend and saving, from :func:`spend_report`."""
    from decimal import Decimal

    from locallama_gui.core.cost import format_usd

    def period(label: str, p: dict[str, Any]) -> str:
        n = int(p.get("requests", 0))
        text = (
            f"{label}: {format_usd(Decimal(p['total_usd']), 4)} over {n:,} "
            f"request{'s' if n != 1 else ''}, saved {format_usd(Decimal(p['saved_usd']), 4)}"
        )
        unknown = int(p.get("unknown_cost_requests", 0))
        if unknown:
            text += f" ({unknown} of unknown cost)"
        return text

    return f"{period('Today', report['today'])}  ·  {period('This month', report['month'])}"


def spend_report_html(report: dict[str, Any], limit: int = 15) -> str:
    """The spend report as HTML tables: today and this month, by model and by client, with
    the saving against the baseline and the caps."""
    from decimal import Decimal
    from html import escape

    from locallama_gui.core.cost import format_usd

    def usd(value: Any) -> str:
        return "unknown" if value is None else format_usd(Decimal(value), 4)

    def table(title: str, rows: list[dict[str, Any]], key: str) -> str:
        if not rows:
            return f"<p><b>{escape(title)}</b>: nothing yet</p>"
        body = "".join(
            f"<tr><td>{escape(str(r[key]))}</td><td align='right'>{int(r['requests']):,}</td>"
            f"<td align='right'>{usd(r.get('total_usd'))}</td>"
            f"<td align='right'>{usd(r.get('saved_usd'))}</td></tr>"
            for r in rows[:limit]
        )
        more = f"<p>… {len(rows) - limit} more</p>" if len(rows) > limit else ""
        head = (
            f"<tr><th align='left'>{key}</th><th align='right'>requests</th>"
            "<th align='right'>cost</th><th align='right'>saved</th></tr>"
        )
        return (
            f"<p><b>{escape(title)}</b></p><table cellspacing='0' cellpadding='3' width='100%'>"
            f"{head}{body}</table>{more}"
        )

    parts = [f"<p>{escape(totals_text(report))}</p>"]
    caps = report.get("caps") or {}
    capped = [
        f"{label} {usd(caps.get(k))} ({usd(caps.get(left))} left)"
        for label, k, left in (
            ("daily cap", "daily_cap_usd", "daily_left_usd"),
            ("monthly cap", "monthly_cap_usd", "monthly_left_usd"),
        )
        if caps.get(k) is not None
    ]
    parts.append(
        "<p>Caps: " + (", ".join(capped) if capped else "none (set them in Settings)") + "</p>"
    )
    parts.append(f"<p>Saved is measured against {escape(str(report.get('baseline_model')))}.</p>")
    for period, label in (("today", "Today"), ("month", "This month")):
        p = report[period]
        parts.append(table(f"{label}, by model", p.get("by_model", []), "model"))
        parts.append(table(f"{label}, by client", p.get("by_client", []), "client"))
    return "".join(parts)


# --------------------------------------------------------------------------- the pane


class GatewayPane(QWidget):
    """Switch, status, port, token, set-up snippets and the live traffic of the gateway."""

    #: Emitted on the GUI thread after each traffic refresh (rows now shown).
    traffic_updated = Signal(int)
    #: Emitted when the spend totals were read.
    totals_updated = Signal(str)
    #: Emitted when the token went to the clipboard.
    token_copied = Signal()

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.control = controller.gateway
        self._totals_job: Any = None
        self._totals_at = 0.0
        self._totals_seen = -1  # traffic rows when the totals were last read
        self._build()
        self.control.changed.connect(self._on_state)
        controller.settings_changed.connect(self._on_settings_changed)
        controller.services_ready.connect(lambda _s: self._sync_port())
        self._poll = QTimer(self)
        self._poll.setInterval(TRAFFIC_POLL_MS)
        self._poll.timeout.connect(self.refresh_traffic)
        self._port_timer = QTimer(self)
        self._port_timer.setSingleShot(True)
        self._port_timer.setInterval(PORT_SAVE_DELAY_MS)
        self._port_timer.timeout.connect(self._save_port)
        self._note_timer = QTimer(self)
        self._note_timer.setSingleShot(True)
        self._note_timer.setInterval(NOTE_MS)
        self._note_timer.timeout.connect(self._clear_note)
        self._sync_port()
        self._on_state(self.control.state)

    # --- construction -------------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 10, 12, 10)
        outer.setSpacing(8)

        title = QLabel("Local gateway")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        title.setFont(font)
        intro = QLabel(
            "An OpenAI- and Anthropic-compatible endpoint on this machine: your tools send "
            "their requests here, and each one goes to a local, free or paid model."
        )
        intro.setWordWrap(True)
        intro.setObjectName("gatewayIntro")
        self._intro = intro
        outer.addWidget(title)
        outer.addWidget(intro)

        # The switch and its status.
        row = QHBoxLayout()
        row.setSpacing(10)
        self.toggle_button = QPushButton("Turn on")
        self.toggle_button.setObjectName("gatewayToggle")
        self.toggle_button.setCheckable(True)
        self.toggle_button.setMinimumWidth(110)
        self.toggle_button.clicked.connect(self._toggle_clicked)
        self.dot = QLabel("●")
        self.dot.setObjectName("gatewayDot")
        self.status_label = QLabel("Off")
        self.status_label.setObjectName("gatewayStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row.addWidget(self.toggle_button)
        row.addWidget(self.dot)
        row.addWidget(self.status_label, 1)

        # Port and token, on the same row.
        port_label = QLabel("Port:")
        self.port_spin = QSpinBox()
        self.port_spin.setObjectName("gatewayPort")
        self.port_spin.setRange(1, 65535)
        self.port_spin.setGroupSeparatorShown(False)
        self.port_spin.setMinimumWidth(90)
        self.port_spin.setToolTip("The port the gateway listens on, on 127.0.0.1")
        self.port_spin.valueChanged.connect(self._port_edited)
        port_label.setBuddy(self.port_spin)
        self.copy_token_button = QPushButton("Copy token")
        self.copy_token_button.setToolTip(
            "Put the gateway's token on the clipboard: every request needs it as "
            "'Authorization: Bearer <token>' (or 'x-api-key')"
        )
        self.copy_token_button.clicked.connect(self.copy_token)
        row.addSpacing(12)
        row.addWidget(port_label)
        row.addWidget(self.port_spin)
        row.addWidget(self.copy_token_button)
        outer.addLayout(row)
        self.note_label = QLabel("")
        self.note_label.setObjectName("gatewayNote")
        self.note_label.setWordWrap(True)
        self.note_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.note_label.setVisible(False)
        outer.addWidget(self.note_label)

        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        self.splitter = split

        # Set-up snippets.
        setup = QGroupBox("Set up a client")
        sv = QVBoxLayout(setup)
        pick = QHBoxLayout()
        self.snippet_combo = QComboBox()
        self.snippet_combo.setObjectName("snippetKind")
        for key, label in SNIPPET_KINDS:
            self.snippet_combo.addItem(label, key)
        self.snippet_combo.currentIndexChanged.connect(lambda _i: self._update_snippet())
        self.copy_snippet_button = QPushButton("Copy snippet")
        self.copy_snippet_button.setToolTip("The snippet as shown (paste the token yourself)")
        self.copy_snippet_button.clicked.connect(self.copy_snippet)
        pick.addWidget(QLabel("Client:"))
        pick.addWidget(self.snippet_combo)
        pick.addWidget(self.copy_snippet_button)
        pick.addStretch(1)
        sv.addLayout(pick)
        self.snippet_hint = QLabel("")
        self.snippet_hint.setObjectName("snippetHint")
        self.snippet_hint.setWordWrap(True)
        self.snippet_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        sv.addWidget(self.snippet_hint)
        self.snippet_box = QPlainTextEdit()
        self.snippet_box.setObjectName("snippet")
        self.snippet_box.setReadOnly(True)
        self.snippet_box.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.snippet_box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        lines = self.snippet_box.fontMetrics().lineSpacing()
        self.snippet_box.setMinimumHeight(6 * lines + 12)
        sv.addWidget(self.snippet_box, 1)
        split.addWidget(setup)

        # Traffic.
        traffic = QGroupBox("Traffic")
        tv = QVBoxLayout(traffic)
        self.totals_label = QLabel("Spend (every client): –")
        self.totals_label.setObjectName("gatewayTotals")
        self.totals_label.setWordWrap(True)
        self.totals_label.setToolTip(
            "From the spend ledger: every request of every client (gateway, window, CLI, MCP)"
        )
        self.report_button = QPushButton("Spend report…")
        self.report_button.setToolTip("Today and this month by model and by client (Ctrl+R)")
        self.report_button.setShortcut("Ctrl+R")
        self.report_button.setEnabled(False)
        self.report_button.clicked.connect(self.show_report)
        totals_row = QHBoxLayout()
        totals_row.addWidget(self.totals_label, 1)
        totals_row.addWidget(self.report_button)
        tv.addLayout(totals_row)
        self._report: dict[str, Any] | None = None
        self.report_dialog: QDialog | None = None
        self.report_browser: QTextBrowser | None = None
        self.model = TrafficTableModel(self)
        self.proxy = make_sort_proxy(self.model, self)
        self.table = QTableView()
        self.table.setObjectName("trafficTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)  # newest first
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        widths = (72, 110, 140, 230, 56, 64, 82, 80, 80)
        for col, width in enumerate(widths):
            header.resizeSection(col, width)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.empty = EmptyState("No traffic yet", "")
        self.empty.setObjectName("trafficEmpty")
        self.traffic_stack = QStackedWidget()
        self.traffic_stack.addWidget(self.empty)
        self.traffic_stack.addWidget(self.table)
        self.traffic_stack.setMinimumHeight(150)
        tv.addWidget(self.traffic_stack, 1)
        split.addWidget(traffic)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([12 * lines + 90, 400])
        outer.addWidget(split, 1)
        self._restyle()

    # --- state --------------------------------------------------------------------------------

    @property
    def state(self) -> GatewayState:
        return self.control.state

    def status_text(self) -> str:
        return self.status_label.text()

    def _on_state(self, state: GatewayState) -> None:
        wanted_on = state.status in (ON, STARTING)
        with QSignalBlocker(self.toggle_button):
            self.toggle_button.setChecked(wanted_on)
        self.toggle_button.setText("Turn off" if wanted_on else "Turn on")
        self.toggle_button.setToolTip(
            "Stop the gateway (it stays off when the app starts)"
            if wanted_on
            else "Start the gateway (and again whenever the app starts)"
        )
        self.status_label.setText(state.text())
        self.port_spin.setEnabled(state.status not in (ON, STARTING, STOPPING))
        self.port_spin.setToolTip(
            "Turn the gateway off to change its port"
            if not self.port_spin.isEnabled()
            else "The port the gateway listens on, on 127.0.0.1"
        )
        self._restyle()
        self._update_snippet()
        self._update_empty()
        self._update_polling()
        if state.on:
            self.refresh_traffic()

    def _restyle(self) -> None:
        dark = theme.is_dark()
        status = self.control.state.status
        colour = {
            ON: theme.ok_colour(dark),
            FAILED: theme.error_colour(dark),
            STARTING: "#d29922" if dark else "#9a6700",
            STOPPING: "#d29922" if dark else "#9a6700",
        }.get(status, theme.muted_colour(dark))
        sheet = f"color: {colour};"
        if self.dot.styleSheet() != sheet:
            self.dot.setStyleSheet(sheet)
        status_sheet = f"color: {theme.error_colour(dark)};" if status == FAILED else ""
        if self.status_label.styleSheet() != status_sheet:
            self.status_label.setStyleSheet(status_sheet)
        muted = f"color: {theme.muted_colour(dark)};"
        for label in (self._intro, self.note_label, self.snippet_hint):
            if label.styleSheet() != muted:
                label.setStyleSheet(muted)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._restyle()
        super().changeEvent(event)

    def _toggle_clicked(self, checked: bool) -> None:
        if self._port_timer.isActive():  # a port typed just now is the one to start on
            self._port_timer.stop()
            self._save_port()
        self.control.set_enabled(checked)

    def _sync_port(self) -> None:
        services = self.controller.services
        if services is None or self._port_timer.isActive():
            return
        port = int(services.settings.gateway.port)
        if self.port_spin.value() != port:
            with QSignalBlocker(self.port_spin):
                self.port_spin.setValue(port)
            self._update_snippet()

    def _on_settings_changed(self, _settings: Any) -> None:
        self._sync_port()

    def _port_edited(self, _value: int) -> None:
        self._update_snippet()
        self._port_timer.start()

    def _save_port(self) -> None:
        self.control.save(port=self.port_spin.value())

    # --- token and snippets -------------------------------------------------------------------

    def url(self) -> str:
        """The gateway's address: where it listens, or will with the port shown."""
        return self.control.state.url or f"http://{LOOPBACK}:{self.port_spin.value()}"

    def snippet_kind(self) -> str:
        return str(self.snippet_combo.currentData())

    def set_snippet_kind(self, kind: str) -> None:
        i = self.snippet_combo.findData(kind)
        if i < 0:
            raise KeyError(kind)
        self.snippet_combo.setCurrentIndex(i)

    def snippet_text(self) -> str:
        return self.snippet_box.toPlainText()

    def _update_snippet(self) -> None:
        kind, url = self.snippet_kind(), self.url()
        text = snippet(kind, url)
        if self.snippet_box.toPlainText() != text:
            self.snippet_box.setPlainText(text)
        self.snippet_hint.setText(snippet_hint(kind, url))

    def copy_snippet(self) -> None:
        QGuiApplication.clipboard().setText(self.snippet_text())
        self._note("Snippet copied. Paste the token where it says " + TOKEN_PLACEHOLDER + ".")

    def copy_token(self) -> None:
        """The token to the clipboard (read from the keyring in a worker the first time)."""
        self.copy_token_button.setEnabled(False)

        def done(token: str) -> None:
            self.copy_token_button.setEnabled(True)
            QGuiApplication.clipboard().setText(token)
            self._note("Token copied to the clipboard.")
            self.token_copied.emit()

        def failed(text: str) -> None:
            self.copy_token_button.setEnabled(True)
            self._note(f"The token could not be read: {text}", sticky=True)

        self.control.with_token(done, failed)

    def _note(self, text: str, *, sticky: bool = False) -> None:
        self.note_label.setText(text)
        self.note_label.setVisible(bool(text))
        if sticky:
            self._note_timer.stop()
        else:
            self._note_timer.start()

    def _clear_note(self) -> None:
        self.note_label.setText("")
        self.note_label.setVisible(False)

    def note_text(self) -> str:
        return self.note_label.text()

    # --- traffic ------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._update_polling()
        if self.control.state.on:
            self.refresh_traffic()
        self.refresh_totals()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._update_polling()

    @property
    def polling(self) -> bool:
        return self._poll.isActive()

    def _update_polling(self) -> None:
        if self.isVisible() and self.control.state.on:
            if not self._poll.isActive():
                self._poll.start()
        elif self._poll.isActive():
            self._poll.stop()

    def refresh_traffic(self) -> int:
        """Read the gateway's recent requests into the table; returns how many are new."""
        if not self.control.state.on:
            return 0
        new = self.model.follow(self.control.traffic())
        if new:
            self._update_empty()
        rows = self.model.rowCount()
        if rows != self._totals_seen:
            self.refresh_totals()
        self.traffic_updated.emit(rows)
        return new

    def _update_empty(self) -> None:
        rows = self.model.rowCount()
        if rows:
            self.traffic_stack.setCurrentWidget(self.table)
            return
        state = self.control.state
        if state.on:
            self.empty.set_text(
                "No traffic yet",
                "Requests through the gateway show up here as they finish: the client, the "
                "model asked for and the one that served, tokens, latency, cost and saving.",
            )
        elif state.status == STARTING:
            self.empty.set_text("Starting the gateway…", "")
        else:
            self.empty.set_text(
                "The gateway is off",
                "Turn it on to let your tools send requests to LocaLLama; they show up here.",
            )
        self.traffic_stack.setCurrentWidget(self.empty)

    def refresh_totals(self, *, force: bool = False) -> None:
        """Sum today's and this month's spend in a worker (at most every few seconds)."""
        services = self.controller.services
        if services is None:
            return
        if self._totals_job is not None and not self._totals_job.done():
            return
        now = time.monotonic()
        if not force and self._totals_at and now - self._totals_at < TOTALS_EVERY_S:
            return
        from locallama_gui.services.spend import spend_report

        self._totals_at = now
        self._totals_seen = self.model.rowCount()
        self._totals_job = self.controller.runner.run_blocking(
            "sum the spend",
            spend_report,
            services,
            on_done=self._show_totals,
            on_error=self._totals_failed,
        )

    def show_report(self) -> None:
        """The spend report of the last reading, in a dialog (non-modal)."""
        if self._report is None:
            return
        if self.report_dialog is None:
            dialog = QDialog(self)
            dialog.setWindowTitle("Spend report")
            dialog.resize(640, 520)
            layout = QVBoxLayout(dialog)
            self.report_browser = QTextBrowser(dialog)
            layout.addWidget(self.report_browser)
            buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
            buttons.rejected.connect(dialog.close)
            layout.addWidget(buttons)
            self.report_dialog = dialog
        self.report_browser.setHtml(spend_report_html(self._report))
        self.report_dialog.show()
        self.report_dialog.raise_()

    def _show_totals(self, report: dict[str, Any]) -> None:
        self._report = report
        self.report_button.setEnabled(True)
        if self.report_dialog is not None and self.report_dialog.isVisible():
            self.report_browser.setHtml(spend_report_html(report))
        text = totals_text(report)
        self.totals_label.setText(text)
        self.totals_updated.emit(text)

    def _totals_failed(self, exc: BaseException) -> None:
        log.info("the spend totals could not be read: %s", exc)
        self.totals_label.setText(f"Spend totals unavailable: {exc}")


__all__ = [
    "SNIPPET_KINDS",
    "TOKEN_PLACEHOLDER",
    "GatewayPane",
    "snippet",
    "snippet_hint",
    "spend_report_html",
    "totals_text",
]
