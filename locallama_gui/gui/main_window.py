"""The main window: five panes behind a navigation list, a status bar, and its saved layout.

Window geometry, the last pane and the catalogue's column layout persist in an INI file in the
config dir (``window.ini``), so ``LOCALLAMA_HOME`` keeps tests and portable installs apart.
The palette follows the system unless ``appearance.theme`` forces light or dark.

The panes are built lazily, so the window paints quickly: each starts as an empty placeholder
and is built the first time it is shown or asked for (``window.panes[key]`` builds it). After
the window's first paint, the pane on show and the catalogue are built in the next turns of
the event loop; ``first_painted`` tells the app when to start the rest of its work.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSettings, QSize, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QStackedWidget,
    QWidget,
)

from locallama_gui import __version__
from locallama_gui.store import paths

if TYPE_CHECKING:
    from PySide6.QtGui import QCloseEvent, QPaintEvent

    from locallama_gui.core.settings import Settings
    from locallama_gui.gui.panes.catalogue import CataloguePane
    from locallama_gui.gui.panes.settings import SettingsPane

log = logging.getLogger(__name__)

APP_TITLE = "LocaLLama Router"
WINDOW_INI = "window.ini"
DEFAULT_SIZE = QSize(1280, 800)
QUOTA_POLL_MS = 60_000

#: (key, title, module, class) in navigation order; Ctrl+1..5 follow it.
PANES = (
    ("catalogue", "Catalogue", "catalogue", "CataloguePane"),
    ("playground", "Playground", "playground", "PlaygroundPane"),
    ("cost", "Cost", "cost", "CostPane"),
    ("settings", "Settings", "settings", "SettingsPane"),
    ("gateway", "Gateway", "gateway", "GatewayPane"),
)
PANE_HINTS = {
    "catalogue": "Every model from every source",
    "playground": "Route a task and see why",
    "cost": "Estimate and compare costs",
    "settings": "Endpoints, routing defaults, appearance",
    "gateway": "The local gateway for your tools, and its traffic",
}
SOURCE_KEYS = ("openrouter", "ollama", "lmstudio", "other")
SOURCE_TITLES = {
    "openrouter": "OpenRouter",
    "ollama": "Ollama",
    "lmstudio": "LM Studio",
    "other": "Other servers",
}


def window_settings() -> QSettings:
    return QSettings(str(paths.config_dir() / WINDOW_INI), QSettings.Format.IniFormat)


def _load_pane(module: str, cls_name: str, title: str, controller: Any) -> QWidget:
    """The pane, or a clear placeholder when this build does not include it."""
    full = f"locallama_gui.gui.panes.{module}"
    try:
        mod = importlib.import_module(full)
    except ModuleNotFoundError as e:
        if e.name != full:
            raise
        from locallama_gui.gui.widgets.states import EmptyState

        return EmptyState(
            f"{title} is not available", f"This build does not include the {title} pane."
        )
    return getattr(mod, cls_name)(controller)


class Panes(Mapping[str, QWidget]):
    """The window's panes by key; looking one up builds it if it was not built yet."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window

    def __getitem__(self, key: str) -> QWidget:
        return self._window.pane(key)

    def __iter__(self) -> Iterator[str]:
        return iter([k for k, *_ in PANES])

    def __len__(self) -> int:
        return len(PANES)

    def __contains__(self, key: object) -> bool:
        return any(key == k for k, *_ in PANES)

    def built(self) -> list[str]:
        """The keys of the panes built so far (none is built by looking at this)."""
        return [k for k, *_ in PANES if self._window.is_built(k)]


class MainWindow(QMainWindow):
    #: Emitted once, just after the window's first paint (in the next turn of the loop).
    first_painted = Signal()
    #: A pane was just built (key, pane), and wired to the window.
    pane_built = Signal(str, object)

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._closing_saved = False
        self._painted = False
        self._shortcuts_installed = False
        self._built: dict[str, QWidget] = {}
        self._services_failure: str | None = None
        self._saved_header: QByteArray | None = None
        self._saved_splitter: QByteArray | None = None
        self._key_widget: QWidget | None = None
        self._source_state: dict[str, tuple[str, str | None]] = {}
        self._quota_job: Any = None
        self._tray: Any = None  # the TrayController, when the app has one
        self._quitting = False
        self.quick_router: Any = None
        self.setWindowTitle(APP_TITLE)
        self.setMinimumSize(760, 520)

        self.panes = Panes(self)
        self.stack = QStackedWidget()
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(168)
        self.nav.setFrameShape(QFrame.Shape.NoFrame)
        self.nav.setSpacing(2)
        for i, (key, title, _module, _cls_name) in enumerate(PANES):
            placeholder = QWidget()  # the real pane is built when first shown or asked for
            placeholder.setObjectName(f"{key}Placeholder")
            self.stack.addWidget(placeholder)
            item = QListWidgetItem(title)
            item.setToolTip(f"{PANE_HINTS[key]} (Ctrl+{i + 1})")
            item.setSizeHint(QSize(150, 34))
            self.nav.addItem(item)
        self.nav.currentRowChanged.connect(self._on_nav)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        sep = QFrame()
        sep.setFrameShape(QFrame.Shape.VLine)
        sep.setFrameShadow(QFrame.Shadow.Sunken)
        layout.addWidget(sep)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._build_actions()
        self._build_status_bar()
        self._connect_controller()

        self._quota_timer = QTimer(self)
        self._quota_timer.setInterval(QUOTA_POLL_MS)
        self._quota_timer.timeout.connect(self.update_quota)
        self._quota_timer.start()

        self.restore_layout()
        services = getattr(controller, "services", None)
        if services is not None:
            self._on_services_ready(services)
            self._on_settings_changed(services.settings)
            self._on_catalogue_changed(services.catalogue)
        self._apply_nav_style()

    # --- construction -----------------------------------------------------------------------

    @property
    def catalogue_pane(self) -> CataloguePane:
        from locallama_gui.gui.panes.catalogue import CataloguePane

        pane = self.pane("catalogue")
        assert isinstance(pane, CataloguePane)
        return pane

    @property
    def settings_pane(self) -> SettingsPane:
        from locallama_gui.gui.panes.settings import SettingsPane

        pane = self.pane("settings")
        assert isinstance(pane, SettingsPane)
        return pane

    @property
    def key_widget(self) -> Any:
        """The API key editor in the Settings pane (building that pane if needed)."""
        self.pane("settings")
        if self._key_widget is None:
            raise AttributeError("key_widget: the controller has no key store")
        return self._key_widget

    def is_built(self, key: str) -> bool:
        return key in self._built

    def pane(self, key: str) -> QWidget:
        """The pane ``key``, built now if it was not built yet."""
        pane = self._built.get(key)
        if pane is None:
            pane = self._build_pane(key)
        return pane

    def _build_pane(self, key: str) -> QWidget:
        index = next(i for i, (k, *_r) in enumerate(PANES) if k == key)
        _key, title, module, cls_name = PANES[index]
        controller = self._controller
        pane: QWidget
        if key == "catalogue":
            from locallama_gui.gui.panes.catalogue import CataloguePane

            pane = CataloguePane(controller)
        elif key == "settings":
            from locallama_gui.gui.panes.settings import SettingsPane

            pane = SettingsPane(controller)
        else:
            pane = _load_pane(module, cls_name, title, controller)
        pane.setObjectName(f"{key}Pane")
        self._built[key] = pane
        placeholder = self.stack.widget(index)
        current = self.stack.currentIndex() == index
        self.stack.insertWidget(index, pane)
        self.stack.removeWidget(placeholder)
        placeholder.deleteLater()
        if current:
            self.stack.setCurrentIndex(index)
        self._pane_built(key, pane)
        self.pane_built.emit(key, pane)
        return pane

    def _pane_built(self, key: str, pane: QWidget) -> None:
        """Wire a pane just built, and bring it up to what happened before it existed."""
        if key == "catalogue":
            pane.estimate_requested.connect(self._estimate_with)  # type: ignore[attr-defined]
            pane.route_pinned_requested.connect(self._route_with)  # type: ignore[attr-defined]
            self._apply_catalogue_layout(pane)
        elif key == "settings":
            self._install_key_widget(pane)
        if self._services_failure is not None and self._controller.services is None:
            failed = getattr(pane, "_on_services_failed", None)
            if callable(failed):
                failed(self._services_failure)

    def build_panes(self, keys: list[str] | None = None) -> None:
        """Build the panes ``keys`` (all by default) now."""
        for key in keys if keys is not None else list(self.panes):
            self.pane(key)

    # --- the first paint ----------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self, self._after_first_paint)  # once this frame is shown

    def _after_first_paint(self) -> None:
        """Whoever waits for the first paint (the app's own start-up work) first; then, each
        in its own turn of the loop: the keyboard shortcuts and the sources' dots, the pane
        on show, and the catalogue (the usual way in). Nothing of it runs when the app quits
        before its loop does (see ``gui.app``)."""
        self.first_painted.emit()
        QTimer.singleShot(0, self, self._finish_chrome)

    def _finish_chrome(self) -> None:
        self.install_shortcuts()
        if not self._sources_rendered:
            self._render_sources()
        QTimer.singleShot(0, self, self._build_current_pane)

    @property
    def painted(self) -> bool:
        """Whether the window has painted at least once."""
        return self._painted

    def _build_current_pane(self) -> None:
        self.pane(self.current_pane())
        QTimer.singleShot(0, self, self._build_catalogue_pane)

    def _build_catalogue_pane(self) -> None:
        self.pane("catalogue")

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.refresh_action = QAction("&Refresh catalogue", self)
        self.refresh_action.triggered.connect(self.refresh_catalogue)
        file_menu.addAction(self.refresh_action)
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.quit)
        file_menu.addAction(self.quit_action)

        edit_menu = menu.addMenu("&Edit")
        self.find_action = QAction("&Find model…", self)
        self.find_action.triggered.connect(self.focus_search)
        edit_menu.addAction(self.find_action)

        view_menu = menu.addMenu("&View")
        self.pane_actions: list[QAction] = []
        for key, title, _m, _c in PANES:
            action = QAction(title, self)
            action.triggered.connect(lambda _c=False, k=key: self.show_pane(k))
            view_menu.addAction(action)
            self.pane_actions.append(action)

        help_menu = menu.addMenu("&Help")
        about = QAction("&About LocaLLama Router", self)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def install_shortcuts(self) -> None:
        """Ctrl+R, Ctrl+Q, Ctrl+F and Ctrl+1..5 (Qt's first shortcut costs a noticeable
        moment, so the window sets them just after its first paint); idempotent."""
        if self._shortcuts_installed:
            return
        self._shortcuts_installed = True
        from PySide6.QtGui import QKeySequence

        self.refresh_action.setShortcut(QKeySequence("Ctrl+R"))
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.find_action.setShortcut(QKeySequence("Ctrl+F"))
        for i, action in enumerate(self.pane_actions):
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setSizeGripEnabled(True)
        self.source_labels: dict[str, QLabel] = {}
        for key in SOURCE_KEYS:
            label = QLabel()
            label.setObjectName(f"status_{key}")
            # The text always starts with a <span>, so the label's automatic format renders it
            # as rich text (and the window paints without loading Qt's big ``Qt`` namespace).
            self.source_labels[key] = label
            bar.addPermanentWidget(label)
        self.quota_label = QLabel("Free today: –")
        self.quota_label.setObjectName("status_quota")
        self.quota_label.setToolTip("OpenRouter free-model requests used today (UTC) / daily cap")
        self.key_label = QLabel()
        self.key_label.setObjectName("status_key")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setFixedSize(70, 12)
        self.busy.setTextVisible(False)
        self.busy.setVisible(False)
        self.busy.setToolTip("Working in the background")
        bar.addPermanentWidget(self.quota_label)
        bar.addPermanentWidget(self.key_label)
        bar.addPermanentWidget(self.busy)
        for key in SOURCE_KEYS:
            self._source_state[key] = ("unknown", None)
        # The sources' coloured dots need the theme: drawn just after the first paint (or
        # with the first status the window hears of, whichever comes first).
        self._sources_rendered = False
        location = getattr(self._controller, "key_location", None)
        if location is not None and not callable(location):
            self._on_key_changed(location)
        else:
            self.update_key_state()

    def _connect_controller(self) -> None:
        c = self._controller
        c.services_ready.connect(self._on_services_ready)
        c.services_failed.connect(self._on_services_failed)
        c.catalogue_changed.connect(self._on_catalogue_changed)
        c.settings_changed.connect(self._on_settings_changed)
        c.notice.connect(self._on_notice)
        c.history_changed.connect(self.update_quota)
        c.runner.busy_changed.connect(self.busy.setVisible)
        c.runner.error.connect(self._on_runner_error)
        finished = getattr(c, "refresh_finished", None)
        if finished is not None and hasattr(finished, "connect"):
            finished.connect(self._on_refresh_finished)
        sources = getattr(c, "sources_changed", None)
        if sources is not None and hasattr(sources, "connect"):
            sources.connect(self._on_sources_changed)
        key_changed = getattr(c, "key_changed", None)
        if key_changed is not None and hasattr(key_changed, "connect"):
            key_changed.connect(self._on_key_changed)
        failed = getattr(c, "refresh_failed", None)
        if failed is not None and hasattr(failed, "connect"):
            failed.connect(self._on_refresh_failed)

    # --- panes --------------------------------------------------------------------------------

    def show_pane(self, key: str) -> None:
        keys = [k for k, *_ in PANES]
        self.nav.setCurrentRow(keys.index(key))

    def current_pane(self) -> str:
        return PANES[max(0, self.stack.currentIndex())][0]

    def _on_nav(self, row: int) -> None:
        if 0 <= row < self.stack.count():
            if self._painted:  # before that, the first paint builds the pane on show
                self.pane(PANES[row][0])
            self.stack.setCurrentIndex(row)

    def focus_search(self) -> None:
        self.show_pane("catalogue")
        self.catalogue_pane.focus_search()

    def refresh_catalogue(self) -> None:
        self.catalogue_pane.refresh_now()

    def _estimate_with(self, model_id: str) -> None:
        pane = self.pane("cost")
        add = getattr(pane, "add_model", None)
        if callable(add):
            add(model_id)
            self.show_pane("cost")
        else:
            self.statusBar().showMessage("The Cost pane is not available in this build.", 8000)

    def _route_with(self, model_id: str) -> None:
        pane = self.pane("playground")
        pin = getattr(pane, "pin_model", None)
        if callable(pin):
            pin(model_id)
            self.show_pane("playground")
        else:
            self.statusBar().showMessage("The Playground is not available in this build.", 8000)

    def _about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.about(
            self,
            APP_TITLE,
            f"<b>{APP_TITLE}</b> {__version__}<br>Which model to send a task to, and what it "
            "will cost: local, free or paid.",
        )

    # --- controller signals -------------------------------------------------------------------

    def _on_services_ready(self, _services: Any) -> None:
        self.update_quota()

    def _on_services_failed(self, message: str) -> None:
        from locallama_gui.core.redaction import redact

        message = redact(message)
        self._services_failure = message  # for the panes built later
        self.statusBar().showMessage(message, 0)
        for key in SOURCE_KEYS:
            self._source_state[key] = ("unknown", None)
        self._render_sources()

    def _on_catalogue_changed(self, catalogue: Any) -> None:
        if getattr(catalogue, "is_snapshot", False):
            when = catalogue.fetched_at.strftime("%Y-%m-%d") if catalogue.fetched_at else "?"
            self._source_state["openrouter"] = ("snapshot", f"snapshot {when}")
        elif catalogue is not None and getattr(catalogue, "fetched_at", None) is not None:
            state = self._source_state.get("openrouter", ("unknown", None))[0]
            if state not in ("live", "down"):
                from datetime import UTC

                when = catalogue.fetched_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
                self._source_state["openrouter"] = ("stored", f"stored {when} UTC")
        self._render_sources()

    def _on_settings_changed(self, settings: Settings) -> None:
        from locallama_gui.gui import theme

        wanted = settings.appearance.theme
        if wanted != theme.current_theme():
            theme.apply_theme(wanted)
            self._apply_nav_style()
        self._render_sources()
        self.update_quota()

    def _on_notice(self, level: str, text: str) -> None:
        log.log(logging.WARNING if level in ("warning", "error") else logging.INFO, "%s", text)
        if text.startswith("Offline catalogue"):
            return  # the catalogue pane's banner says it, with a Refresh button
        from locallama_gui.core.redaction import redact

        self.statusBar().showMessage(redact(text), 15_000)

    def _on_refresh_failed(self, message: str) -> None:
        from locallama_gui.core.redaction import redact

        self.statusBar().showMessage(redact(f"Refresh failed: {message}"), 10_000)

    def _on_runner_error(self, name: str, exc: BaseException) -> None:
        from locallama_gui.core.redaction import redact

        self.statusBar().showMessage(redact(f"Could not {name}: {exc}"), 15_000)

    def _on_refresh_finished(self, result: Any) -> None:
        from locallama_gui.gui.panes.catalogue import source_statuses

        self._apply_statuses(source_statuses(result))
        self.update_quota()

    def _on_sources_changed(self, statuses: Any) -> None:
        from locallama_gui.gui.panes.catalogue import source_statuses

        self._apply_statuses(source_statuses(tuple(statuses or ())))

    def _apply_statuses(self, statuses: list[tuple[str, bool, str]]) -> None:
        if not statuses:
            return
        from datetime import UTC, datetime

        now = datetime.now(UTC).astimezone().strftime("%H:%M")
        others: list[tuple[bool, str]] = []
        for name, ok, detail in statuses:
            key = _status_key(name)
            if key is None:
                continue
            if key == "other":
                others.append((ok, f"{name}: {detail}" if detail else name))
            elif key == "openrouter":
                self._source_state[key] = ("live", f"live {now}") if ok else ("down", detail)
            else:
                self._source_state[key] = ("up", None) if ok else ("down", detail)
        if others:
            up = sum(1 for ok, _d in others if ok)
            down = "; ".join(d for ok, d in others if not ok) or None
            if up == len(others):
                self._source_state["other"] = ("up", None)
            elif up == 0:
                self._source_state["other"] = ("down", down)
            else:
                self._source_state["other"] = ("partial", f"{up} of {len(others)} up\n{down}")
        self._render_sources()

    # --- status bar ---------------------------------------------------------------------------

    def _render_sources(self) -> None:
        from locallama_gui.gui import theme

        self._sources_rendered = True
        services = getattr(self._controller, "services", None)
        endpoints = services.settings.endpoints if services is not None else None
        enabled = {
            "openrouter": endpoints.openrouter_enabled if endpoints else True,
            "ollama": endpoints.ollama_enabled if endpoints else True,
            "lmstudio": endpoints.lmstudio_enabled if endpoints else True,
            "other": endpoints.extra_servers_enabled if endpoints else True,
        }
        dark = theme.is_dark()
        colours = {
            "live": theme.ok_colour(dark),
            "up": theme.ok_colour(dark),
            "stored": theme.ok_colour(dark),
            "snapshot": "#d29922" if dark else "#9a6700",
            "down": theme.error_colour(dark),
            "partial": "#d29922" if dark else "#9a6700",
            "unknown": theme.muted_colour(dark),
            "off": theme.muted_colour(dark),
        }
        for key in SOURCE_KEYS:
            state, detail = self._source_state.get(key, ("unknown", None))
            if not enabled[key]:
                state, detail = "off", None
            words = {
                "up": "up",
                "down": "down",
                "unknown": "not checked",
                "off": "off",
            }
            if key == "openrouter" and state in ("live", "snapshot", "stored"):
                text = detail or state
            elif state == "partial" and detail:
                text, _sep, rest = detail.partition("\n")
                detail = rest or None
            else:
                text = words.get(state, state)
            label = self.source_labels[key]
            label.setText(
                f"<span style='color:{colours.get(state, colours['unknown'])}'>●</span> "
                f"{SOURCE_TITLES[key]}: {text}"
            )
            tip = f"{SOURCE_TITLES[key]}: {text}"
            if state in ("down", "partial") and detail:
                from locallama_gui.core.redaction import redact

                tip += f"\n{redact(detail)}"
            if state == "off":
                tip += " (turned off in Settings)"
            label.setToolTip(tip)

    def source_text(self, key: str) -> str:
        """The plain text of one source's status (for tests and accessibility)."""
        if not self._sources_rendered:
            self._render_sources()
        label = self.source_labels[key]
        return label.toolTip().split("\n", 1)[0]

    def update_quota(self) -> None:
        services = getattr(self._controller, "services", None)
        if services is None:
            return
        if self._quota_job is not None and not self._quota_job.done():
            return
        self._quota_job = self._controller.runner.run_blocking(
            "read the free quota",
            services.quota_status,
            on_done=self._show_quota,
            on_error=lambda exc: self.quota_label.setText("Free today: unavailable"),
        )

    def _show_quota(self, status: Any) -> None:
        if status.day_blocked_until is not None:
            from datetime import UTC

            until = status.day_blocked_until.astimezone(UTC).strftime("%H:%M UTC")
            self.quota_label.setText(f"Free today: limit reached until {until}")
        else:
            self.quota_label.setText(f"Free today: {status.used_day}/{status.per_day}")
        self.quota_label.setToolTip(
            f"OpenRouter free-model requests today (UTC): {status.used_day} used of "
            f"{status.per_day}; {status.remaining_day} left. This minute: "
            f"{status.used_minute}/{status.per_minute}."
        )

    def _on_key_changed(self, location: Any) -> None:
        if location is None:
            self.update_key_state()
            return
        self.update_key_state(bool(getattr(location, "present", False)), None)
        label = getattr(location, "label", None)
        problem = getattr(location, "problem", None)
        tip = self.key_label.toolTip()
        if label:
            tip += f"\nKept in: {label}"
        if problem:
            from locallama_gui.core.redaction import redact

            tip += f"\n{redact(str(problem))}"
        self.key_label.setToolTip(tip)

    def update_key_state(self, present: bool | None = None, where: str | None = None) -> None:
        """Show whether an API key is set (the key itself is never shown)."""
        if present is None:
            present = bool(os.environ.get("OPENROUTER_API_KEY", "").strip())
            where = where or ("environment" if present else None)
        if present:
            self.key_label.setText(f"Key: set{f' ({where})' if where else ''}")
            self.key_label.setToolTip("An OpenRouter API key is available")
        else:
            self.key_label.setText("Key: not set")
            self.key_label.setToolTip(
                "No OpenRouter API key: free and local models still work; paid ones need a key"
            )

    # --- persistence --------------------------------------------------------------------------

    def restore_layout(self) -> None:
        s = window_settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes) and geometry:
            self.restoreGeometry(QByteArray(geometry))
        else:
            self.resize(DEFAULT_SIZE)
        state = s.value("window/state")
        if isinstance(state, QByteArray | bytes) and state:
            self.restoreState(QByteArray(state))
        pane = s.value("window/pane", "catalogue")
        keys = [k for k, *_ in PANES]
        self.nav.setCurrentRow(keys.index(pane) if pane in keys else 0)
        # The catalogue's layout is applied when the pane is built (see _pane_built).
        header = s.value("catalogue/header")
        self._saved_header = QByteArray(header) if isinstance(header, QByteArray | bytes) else None
        splitter = s.value("catalogue/splitter")
        self._saved_splitter = (
            QByteArray(splitter) if isinstance(splitter, QByteArray | bytes) else None
        )
        if self.is_built("catalogue"):
            self._apply_catalogue_layout(self.catalogue_pane)

    def _apply_catalogue_layout(self, pane: Any) -> None:
        if self._saved_header is not None:
            pane.restore_header_state(self._saved_header)
        if self._saved_splitter is not None:
            pane.restore_splitter_state(self._saved_splitter)

    def save_layout(self) -> None:
        s = window_settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/pane", self.current_pane())
        if self.is_built("catalogue"):
            s.setValue("catalogue/header", self.catalogue_pane.header_state())
            s.setValue("catalogue/splitter", self.catalogue_pane.splitter_state())
        else:  # never shown this time: keep what was saved
            if self._saved_header is not None:
                s.setValue("catalogue/header", self._saved_header)
            if self._saved_splitter is not None:
                s.setValue("catalogue/splitter", self._saved_splitter)
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        try:
            self.save_layout()
        except Exception:  # saving the layout must never stop the window from closing
            log.exception("could not save the window layout")
        if self.hides_to_tray():
            event.ignore()
            self.hide()
            self._tray.notify_hidden()
            return
        super().closeEvent(event)
        if self._tray is not None and not self._quitting:
            # The tray keeps the app alive (no quit on the last window): closing quits.
            app = QApplication.instance()
            if app is not None:
                app.quit()

    def quit(self) -> None:
        self._quitting = True
        self.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()

    # --- tray and quick router ----------------------------------------------------------------

    def _install_key_widget(self, settings_pane: QWidget) -> None:
        if getattr(self._controller, "key_store", None) is None:
            return
        from locallama_gui.gui.key_widget import KeyWidget

        self._key_widget = KeyWidget(self._controller)
        settings_pane.set_api_key_widget(self._key_widget)  # type: ignore[attr-defined]

    def set_tray(self, tray: Any) -> None:
        """The tray icon's controller: closing the window hides it there (a setting)."""
        self._tray = tray

    def hides_to_tray(self) -> bool:
        """Whether closing the window now hides it to the tray instead of quitting."""
        tray = self._tray
        if tray is None or self._quitting or not tray.in_use:
            return False
        services = getattr(self._controller, "services", None)
        return services is None or bool(services.settings.appearance.close_to_tray)

    def attach_quick_router(self, router: Any) -> None:
        """The quick router's "Open in playground" fills the playground and routes."""
        self.quick_router = router
        router.open_in_playground.connect(self.open_in_playground)

    def open_in_playground(self, task: Any) -> None:
        pane = self.pane("playground")
        open_task = getattr(pane, "open_task", None)
        self.bring_to_front()
        if callable(open_task):
            open_task(task)
            self.show_pane("playground")
        else:
            self.statusBar().showMessage("The Playground is not available in this build.", 8000)

    def bring_to_front(self) -> None:
        if self.isMinimized():
            self.showNormal()
        else:
            self.show()
        self.raise_()
        self.activateWindow()

    def _apply_nav_style(self) -> None:
        pal = self.palette()
        hl = pal.highlight().color().name()
        hl_text = pal.highlightedText().color().name()
        self.nav.setStyleSheet(
            "QListWidget#navigation { background: palette(window); padding-top: 8px; "
            "font-size: 11pt; }"
            "QListWidget#navigation::item { padding: 6px 14px; border-radius: 4px; "
            "margin: 0 6px; }"
            f"QListWidget#navigation::item:selected {{ background: {hl}; color: {hl_text}; }}"
        )


def _status_key(name: str) -> str | None:
    n = name.lower().replace(" ", "")
    if "openrouter" in n:
        return "openrouter"
    if "ollama" in n:
        return "ollama"
    if "lmstudio" in n:
        return "lmstudio"
    if n:
        return "other"
    return None


__all__ = ["PANES", "MainWindow", "Panes", "window_settings"]
