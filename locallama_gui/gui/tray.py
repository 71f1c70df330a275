"""The system tray: a quick router, the last decisions and today's free requests, a click away.

The tray menu is rebuilt every time it opens, from data read in a worker (the last routes from
the store and the free quota) and refreshed in the background, so opening it never waits on
SQLite. The icon is built even where there is no system tray (offscreen tests, some desktops);
the app relies on it only when ``available``, and otherwise keeps the window as the way in.

:class:`Shell` ties the window, the tray and the quick router together for ``gui.app``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from locallama_gui.gui.bridge import Job
from locallama_gui.gui.gateway_control import FAILED, ON, STARTING, STOPPING

log = logging.getLogger(__name__)

RECENT_LIMIT = 5
TRAY_TITLE = "LocaLLama Router"


@dataclass(frozen=True, slots=True)
class RecentDecision:
    """One routed task as the tray lists it."""

    model_id: str | None
    category: str | None
    ts: datetime | None

    def text(self, now: datetime | None = None) -> str:
        model = self.model_id or "nothing could run it"
        parts = [model]
        if self.category:
            parts.append(self.category)
        if self.ts is not None:
            parts.append(_ago(self.ts, now or datetime.now(UTC)))
        return "  ·  ".join(parts)


@dataclass(frozen=True, slots=True)
class TrayData:
    """What the menu shows, read off the GUI thread."""

    recent: tuple[RecentDecision, ...] = ()
    free_left: int | None = None
    free_cap: int | None = None
    blocked_until: datetime | None = None


def _ago(ts: datetime, now: datetime) -> str:
    seconds = max(0, int((now - ts).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return ts.astimezone(UTC).strftime("%Y-%m-%d")


def read_tray_data(services: Any, limit: int = RECENT_LIMIT) -> TrayData:
    """The last decisions and the free quota (blocking: run it in a worker)."""
    recent: list[RecentDecision] = []
    store = getattr(services, "store", None)
    if store is not None:
        try:
            for r in store.recent_routes(limit=limit):
                task = r.task if isinstance(r.task, dict) else {}
                category = task.get("category")
                recent.append(
                    RecentDecision(
                        r.chosen_id, category if isinstance(category, str) else None, r.ts
                    )
                )
        except Exception as e:  # the tray must open whatever the store says
            log.warning("recent routes unreadable: %s", e)
    status = services.quota_status()
    return TrayData(
        recent=tuple(recent),
        free_left=status.remaining_day,
        free_cap=status.per_day,
        blocked_until=status.day_blocked_until,
    )


class TrayController(QObject):
    """The tray icon and its menu: Quick route…, recent decisions, free requests left today,
    Refresh catalogue, the gateway's state and switch, Open window, Quit."""

    quick_route_requested = Signal()
    open_window_requested = Signal()
    quit_requested = Signal()
    menu_rebuilt = Signal()
    copied = Signal(str)  # a recent decision's model id, put on the clipboard

    def __init__(
        self, controller: Any, parent: QObject | None = None, *, icon: QIcon | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        if icon is None:
            from locallama_gui.gui.app import app_icon

            icon = app_icon()
        self.tray = QSystemTrayIcon(self)
        self.tray.setIcon(icon)
        self.tray.setToolTip(TRAY_TITLE)
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.tray.setContextMenu(self.menu)
        self.tray.activated.connect(self._activated)
        self.data = TrayData()
        self._data_job: Job | None = None
        self._hidden_notice_shown = False
        controller.services_ready.connect(lambda _s: self.update_data())
        controller.settings_changed.connect(lambda _s: self.update_data())
        controller.history_changed.connect(self.update_data)
        for name in ("refresh_started", "refresh_finished", "refresh_failed"):
            signal = getattr(controller, name, None)
            if signal is not None:
                signal.connect(lambda *_a: self._populate())
        gateway = self.gateway
        if gateway is not None:
            gateway.changed.connect(lambda _state: self._populate())
        self._populate()
        if getattr(controller, "services", None) is not None:
            self.update_data()

    # --- the icon -----------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether the desktop has a system tray (never offscreen)."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    @property
    def in_use(self) -> bool:
        """The icon is shown in a real tray: closing the window may hide to it."""
        return self.available and self.tray.isVisible()

    def show(self) -> bool:
        """Show the icon when there is a tray; False (and nothing shown) otherwise."""
        if not self.available:
            return False
        self.tray.show()
        return True

    def hide(self) -> None:
        self.tray.hide()

    def notify(self, text: str) -> None:
        if self.in_use and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(TRAY_TITLE, text, self.tray.icon(), 5000)

    def notify_hidden(self) -> None:
        """Once a session: say that closing the window left the app in the tray."""
        if self._hidden_notice_shown:
            return
        self._hidden_notice_shown = True
        self.notify("Still running in the tray. Quit from the tray menu.")

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.quick_route_requested.emit()
        elif reason == QSystemTrayIcon.ActivationReason.DoubleClick:
            self.open_window_requested.emit()

    # --- the menu -----------------------------------------------------------------------------

    def rebuild_menu(self) -> None:
        """Rebuild from the data at hand now, and fetch fresh data for the next look."""
        self._populate()
        self.update_data()

    def action(self, text: str) -> QAction | None:
        """The menu's action whose text starts with ``text`` (tests, accessibility)."""
        return next((a for a in self.menu.actions() if a.text().startswith(text)), None)

    def entries(self) -> list[str]:
        """The menu as text, separators as ``---`` and section titles in brackets."""
        out = []
        for a in self.menu.actions():
            if a.isSeparator():
                out.append(f"[{a.text()}]" if a.text() else "---")
            else:
                out.append(a.text())
        return out

    @property
    def recent_actions(self) -> list[QAction]:
        return [a for a in self.menu.actions() if a.property("recentModel")]

    def _populate(self) -> None:
        m = self.menu
        m.clear()
        ready = getattr(self.controller, "services", None) is not None
        quick = m.addAction("Quick route…")
        quick.setToolTip("Route a task from a small window on top of the others")
        quick.triggered.connect(self.quick_route_requested)

        m.addSection("Recent decisions")
        if self.data.recent:
            now = datetime.now(UTC)
            for d in self.data.recent[:RECENT_LIMIT]:
                a = m.addAction(d.text(now))
                if d.model_id:
                    a.setProperty("recentModel", d.model_id)
                    a.setToolTip(f"Copy {d.model_id}")
                    a.triggered.connect(lambda _c=False, mid=d.model_id: self.copy_model_id(mid))
                else:
                    a.setEnabled(False)
        else:
            none = m.addAction("No decisions yet")
            none.setEnabled(False)

        m.addSeparator()
        quota = m.addAction(self.quota_text())
        quota.setEnabled(False)
        refreshing = bool(getattr(self.controller, "refreshing", False))
        refresh = m.addAction("Refreshing the catalogue…" if refreshing else "Refresh catalogue")
        refresh.setEnabled(ready and not refreshing)
        refresh.triggered.connect(self.refresh_catalogue)
        gateway = self.gateway
        if gateway is not None:
            m.addSeparator()
            state = m.addAction(self.gateway_text())
            state.setEnabled(False)
            wanted = gateway.state.status in (ON, STARTING)
            switch = m.addAction("Turn gateway off" if wanted else "Turn gateway on")
            switch.setEnabled(ready)
            switch.triggered.connect(self.toggle_gateway)
        open_window = m.addAction("Open LocaLLama Router")
        open_window.triggered.connect(self.open_window_requested)
        m.addSeparator()
        quit_action = m.addAction("Quit")
        quit_action.triggered.connect(self.quit_requested)
        tip = f"{TRAY_TITLE}\n{self.quota_text()}"
        if gateway is not None:
            tip += f"\n{self.gateway_text()}"
        self.tray.setToolTip(tip)
        self.menu_rebuilt.emit()

    def quota_text(self) -> str:
        d = self.data
        if d.blocked_until is not None:
            until = d.blocked_until.astimezone(UTC).strftime("%H:%M UTC")
            return f"Free requests: limit reached until {until}"
        if d.free_left is None or d.free_cap is None:
            return "Free requests left today: –"
        return f"Free requests left today: {d.free_left} of {d.free_cap}"

    @property
    def gateway(self) -> Any:
        """The controller's :class:`~locallama_gui.gui.gateway_control.GatewayControl`."""
        return getattr(self.controller, "gateway", None)

    def gateway_text(self) -> str:
        gateway = self.gateway
        if gateway is None:
            return "Gateway: off"
        gateway.check_alive()
        status = gateway.state.status
        if status == ON:
            n = gateway.requests_today
            return f"Gateway: on — {n:,} request{'s' if n != 1 else ''} today"
        if status == STARTING:
            return "Gateway: starting…"
        if status == STOPPING:
            return "Gateway: stopping…"
        if status == FAILED:
            return "Gateway: off (it could not start)"
        return "Gateway: off"

    def toggle_gateway(self) -> None:
        gateway = self.gateway
        if gateway is not None:
            gateway.toggle()
            self._populate()

    def refresh_catalogue(self) -> None:
        self.controller.refresh()
        self._populate()

    def copy_model_id(self, model_id: str) -> None:
        QGuiApplication.clipboard().setText(model_id)
        self.copied.emit(model_id)
        self.notify(f"Copied {model_id}")

    # --- data ---------------------------------------------------------------------------------

    def update_data(self) -> Job | None:
        """Read the last decisions and the quota in a worker; the menu follows when it lands."""
        services = getattr(self.controller, "services", None)
        if services is None:
            return None
        if self._data_job is not None and not self._data_job.done():
            return self._data_job
        self._data_job = self.controller.runner.run_blocking(
            "read the recent decisions",
            read_tray_data,
            services,
            on_done=self._data_read,
            on_error=lambda e: log.warning("tray data unreadable: %s", e),
        )
        return self._data_job

    def _data_read(self, data: TrayData) -> None:
        self._data_job = None
        if data != self.data:
            self.data = data
            self._populate()


# --------------------------------------------------------------------------- the shell


class Shell(QObject):
    """The window, the tray and the quick router of one running app, wired together."""

    def __init__(self, controller: Any, window: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from locallama_gui.gui.quick_router import QuickRouter

        self.controller = controller
        self.window = window
        self.tray = TrayController(controller, self)
        self.router = QuickRouter(controller)
        self.router.setWindowIcon(self.tray.tray.icon())
        self.tray.quick_route_requested.connect(self.quick_route)
        self.tray.open_window_requested.connect(self.show_window)
        self.tray.quit_requested.connect(window.quit)
        window.set_tray(self.tray)
        window.attach_quick_router(self.router)

    def start(self, *, tray_only: bool = False, quick: bool = False) -> None:
        """Show the tray icon (when there is a tray) and the window, unless ``tray_only`` and
        the tray exists: without a tray the window stays the way in."""
        has_tray = self.tray.show()
        app = QApplication.instance()
        if has_tray and isinstance(app, QApplication):
            app.setQuitOnLastWindowClosed(False)
        if not (tray_only and has_tray):
            self.window.show()
        if quick:
            self.quick_route()

    def quick_route(self) -> None:
        self.router.popup()

    def show_window(self) -> None:
        self.window.bring_to_front()

    def handle_args(self, argv: list[str]) -> str:
        """What another launch asked for: ``quick``, ``tray`` (nothing to do) or ``window``."""
        if "--quick" in argv:
            log.info("another launch asked for the quick router")
            self.quick_route()
            return "quick"
        if "--tray" in argv and self.tray.in_use:
            log.info("another launch asked for the tray, which is there")
            return "tray"
        log.info("another launch asked for the window")
        self.show_window()
        return "window"

    def close(self) -> None:
        self.router.close()
        self.tray.hide()


__all__ = ["RecentDecision", "Shell", "TrayController", "TrayData", "read_tray_data"]
