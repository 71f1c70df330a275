"""The application object: owns the services, the task runner and the app-wide signals.

Panes never touch the store or the network themselves: they ask the controller (or the
runner with a service call) and listen to its signals.

Importing this module is cheap: the services, the store, the HTTP clients and the keyring are
imported when they are first used (``start`` opens them in a worker), so the window can paint
before any of them is loaded.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from locallama_gui.gui import memory
from locallama_gui.gui.bridge import Job, TaskRunner
from locallama_gui.gui.gateway_control import GatewayControl

if TYPE_CHECKING:
    from locallama_gui.core.settings import Settings
    from locallama_gui.secrets import KeyLocation, KeyStore
    from locallama_gui.services.catalogue import LoadedCatalogue
    from locallama_gui.services.facade import Services
    from locallama_gui.services.live import LiveServices, SourceStatus
    from locallama_gui.services.refresh import RefreshResult, RefreshService

log = logging.getLogger(__name__)

#: How long after a new catalogue the panes have built their tables and indexes.
SETTLE_DELAY_MS = 1500
#: How long quitting waits for cancelled jobs to unwind before closing the store under them.
QUIT_UNWIND_S = 3.0


class AppController(QObject):
    services_ready = Signal(object)  # Services
    services_failed = Signal(str)
    catalogue_changed = Signal(object)  # LoadedCatalogue
    settings_changed = Signal(object)  # Settings
    notice = Signal(str, str)  # level ("info", "warning", "error"), text
    history_changed = Signal()  # routes, samples or spend were recorded
    refresh_started = Signal()
    refresh_progress = Signal(int, int)  # sources done, sources in all
    refresh_finished = Signal(object)  # RefreshResult
    refresh_failed = Signal(str)
    sources_changed = Signal(object)  # tuple[SourceStatus, ...]
    key_changed = Signal(object)  # KeyLocation

    def __init__(
        self,
        runner: TaskRunner | None = None,
        services_factory: Callable[[], Services] | None = None,
        parent: QObject | None = None,
        *,
        key_store: KeyStore | None = None,
        live_factory: Callable[[Services, str | None], LiveServices] | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner or TaskRunner(self)
        self._key_store = key_store
        self._factory = services_factory or _open_services
        self._live_factory = live_factory or _default_live
        self._services: Services | None = None
        self._live: LiveServices | None = None
        self._refresher: RefreshService | None = None
        self._refresh_job: Job | None = None
        self._periodic_job: Job | None = None
        self._sources: tuple[SourceStatus, ...] = ()
        self._key: KeyLocation | None = None
        self._shut_down = False
        #: The local gateway: owned here, so it runs whether or not its pane was opened.
        self.gateway = GatewayControl(self)

    @property
    def key_store(self) -> KeyStore:
        """The API key store (the keyring is imported the first time this is asked for)."""
        if self._key_store is None:
            from locallama_gui.secrets import KeyStore

            self._key_store = KeyStore()
        return self._key_store

    @property
    def sources(self) -> tuple[SourceStatus, ...]:
        """What the last refresh found of each source."""
        return self._sources

    @property
    def key_location(self) -> KeyLocation | None:
        return self._key

    @property
    def services(self) -> Services | None:
        return self._services

    @property
    def ready(self) -> bool:
        return self._services is not None

    def start(self) -> None:
        """Open settings, store and catalogue in a worker; ``services_ready`` says when."""
        self.runner.run_blocking(
            "open the catalogue and history",
            self._factory,
            on_done=self._on_ready,
            on_error=self._on_failed,
        )

    def _on_ready(self, services: Services) -> None:
        if self._shut_down:
            services.close()
            return
        self._services = services
        self.services_ready.emit(services)
        self.settings_changed.emit(services.settings)
        self.catalogue_changed.emit(services.catalogue)
        for text in services.notices:
            self.notice.emit("info" if "Offline catalogue" in text else "warning", text)
        self.check_key()
        self._start_periodic_refresh()
        self.gateway.services_ready(services)
        self._settle_memory_soon()

    def _on_failed(self, exc: BaseException) -> None:
        log.error("could not start the services", exc_info=exc)
        self.services_failed.emit(f"LocaLLama could not open its data: {exc}")

    def set_catalogue(self, catalogue: LoadedCatalogue) -> None:
        if self._services is None:
            return
        self._services.set_catalogue(catalogue)
        self.catalogue_changed.emit(catalogue)

    # --- the API key ------------------------------------------------------------------------

    def check_key(self) -> None:
        """Where the key is (never the key): for the status bar and the settings pane."""

        def done(location: KeyLocation) -> None:
            self._key = location
            self.key_changed.emit(location)

        self.runner.run_async("check the API key", self.key_store.status(), on_done=done)

    def key_updated(self) -> None:
        """The key was set or deleted: live clients must pick up the new one."""
        self._drop_live()
        self.check_key()
        self.gateway.restart()  # a running gateway reads the key when it starts

    # --- live sources and refresh -------------------------------------------------------------

    async def live(self) -> LiveServices:
        """The live clients for the configured endpoints, built off the GUI thread."""
        import asyncio

        from locallama_gui.secrets import KeyStoreError
        from locallama_gui.services.refresh import RefreshService

        services = self._services
        if services is None:
            raise RuntimeError("the catalogue is not open yet")
        if self._live is None:
            try:
                key = await self.key_store.get()
            except KeyStoreError as e:
                self.notice.emit("warning", e.user_message)
                key = None
            live = await asyncio.to_thread(self._live_factory, services, key)
            if self._live is None:
                self._live = live
                self._refresher = RefreshService(live)
            else:  # another caller built one meanwhile
                await live.aclose()
        return self._live

    @property
    def refreshing(self) -> bool:
        return self._refresh_job is not None and not self._refresh_job.done()

    def refresh(self) -> None:
        """Refresh every enabled source now; a second call while one runs joins it."""
        if self._services is None or self.refreshing:
            return
        self.refresh_started.emit()
        self._refresh_job = self.runner.run_async(
            "refresh the catalogue",
            self._refresh(),
            on_done=self._refreshed,
            on_error=self._refresh_error,
        )

    async def _refresh(self) -> RefreshResult:
        await self.live()
        assert self._refresher is not None
        return await self._refresher.refresh(progress=self.refresh_progress.emit)

    def cancel_refresh(self) -> None:
        job = self._refresh_job
        if job is not None and not job.done():
            if self._refresher is not None:
                self._refresher.cancel()
            job.cancel()
            self._refresh_job = None
            self.refresh_failed.emit("Refresh cancelled. The catalogue was left as it was.")

    def _refreshed(self, result: RefreshResult) -> None:
        self._sources = result.sources
        self.sources_changed.emit(result.sources)
        self.catalogue_changed.emit(result.catalogue)
        self.refresh_finished.emit(result)
        self.history_changed.emit()
        self._settle_memory_soon()

    def _settle_memory_soon(self) -> None:
        """Once the panes have built what they derive from a new catalogue, move the
        long-lived data out of the cyclic garbage collector's walks (see ``gui/memory.py``)."""
        QTimer.singleShot(SETTLE_DELAY_MS, memory.settle)

    def _refresh_error(self, exc: BaseException) -> None:
        log.warning("refresh failed: %s", exc)
        self.refresh_failed.emit(f"Refresh failed: {exc}")

    def _start_periodic_refresh(self) -> None:
        if self._periodic_job is not None:
            self._periodic_job.cancel()
            self._periodic_job = None
        services = self._services
        if services is None or services.settings.refresh.interval_minutes <= 0:
            return

        async def periodic() -> None:
            await self.live()
            assert self._refresher is not None
            await self._refresher.run_periodic(
                on_result=self._refreshed,
                on_error=lambda e: log.warning("periodic refresh failed: %s", e),
            )

        self._periodic_job = self.runner.run_async("periodic refresh", periodic(), background=True)

    def _drop_live(self) -> None:
        live, self._live, self._refresher = self._live, None, None
        if live is not None:
            self.runner.run_async("close the old connections", live.aclose())

    # --- settings ----------------------------------------------------------------------------

    def apply_settings(
        self,
        settings: Settings,
        on_error: Callable[[BaseException], None] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        """Save (in a worker) and apply at once; panes follow ``settings_changed``."""
        services = self._services
        if services is None:
            return

        from locallama_gui.services.live import configured_endpoints

        def done(_: object) -> None:
            endpoints_changed = configured_endpoints(settings) != configured_endpoints(previous)
            if endpoints_changed:
                self._drop_live()
            self.settings_changed.emit(settings)
            if endpoints_changed or settings.refresh != previous.refresh:
                self._start_periodic_refresh()
            if on_done is not None:
                on_done()

        previous = services.settings

        self.runner.run_blocking(
            "save settings", services.update_settings, settings, on_done=done, on_error=on_error
        )

    async def quit(self, unwind_s: float = QUIT_UNWIND_S) -> None:
        """The app is quitting (the window closed, Quit in the tray): no new job starts, the
        running ones (a batch, a benchmark, a streamed answer) are cancelled and given up to
        ``unwind_s`` seconds to unwind (a benchmark stores what was answered before it
        stops), then the gateway and the connections close. ``shutdown`` (the store) comes
        after, once the loop has run this."""
        self.runner.refuse_new_jobs()
        self.runner.cancel_all()
        await self.runner.drain(unwind_s)
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the gateway and close the network connections (before the loop stops)."""
        await self.gateway.aclose()
        live, self._live = self._live, None
        if live is not None:
            with contextlib.suppress(Exception):
                await live.aclose()

    def shutdown(self) -> None:
        """Idempotent: stop the work, close the store."""
        if self._shut_down:
            return
        self._shut_down = True
        self.gateway.shutdown()  # before the store closes under it
        self.runner.shutdown()
        if self._services is not None:
            try:
                self._services.close()
            except Exception:  # closing must never stop the app from quitting
                log.exception("closing the store failed")


def _open_services() -> Services:
    """``Services.open`` (in a worker: importing the services is part of the work)."""
    from locallama_gui.services.facade import Services

    return Services.open()


def _default_live(services: Services, key: str | None) -> LiveServices:
    from locallama_gui.services.live import LiveServices

    live = LiveServices(services, api_key=key)
    _ = live.http  # build the client (TLS context and all) here, in the worker thread
    return live
