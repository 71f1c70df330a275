"""The app's local gateway: started, stopped and restarted off the GUI thread.

:class:`GatewayControl` belongs to the :class:`~locallama_gui.gui.controller.AppController`,
so the gateway lives whether or not the Gateway pane was ever opened (and in tray-only mode).
The pane and the tray only ask it to switch on or off and listen to ``changed``.

Everything that can block runs in the task runner's pool: reading (or making) the token in
the keyring, building the gateway, binding the port and waiting for uvicorn to listen
(:meth:`GatewayHost.start` blocks), and stopping it (:meth:`GatewayHost.stop` blocks). The
gateway serves on its own thread and event loop, so requests never touch the GUI thread.

The switch is a wish (``wanted``) reconciled with what runs: one start or stop job at a time,
and when it ends, the next step if the wish changed meanwhile. So clicking On, Off, On quickly
ends with one gateway running, never two and never a stray one.

Importing this module is cheap: the gateway, uvicorn, the keyring and the MCP server are
imported in the worker that starts the gateway.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from locallama_gui.gateway.host import GatewayHost
    from locallama_gui.gateway.service import Gateway, TrafficEvent
    from locallama_gui.gui.bridge import Job
    from locallama_gui.services.facade import Services

log = logging.getLogger(__name__)

OFF = "off"
STARTING = "starting"
ON = "on"
STOPPING = "stopping"
FAILED = "failed"
#: How long quitting waits for the gateway to stop (its thread is a daemon: never longer).
QUIT_STOP_TIMEOUT_S = 1.0
#: File the token is kept in where there is no keyring (the CLI's ``locallama`` uses it too).
TOKEN_FILE = "gateway-token"


@dataclass(frozen=True, slots=True)
class GatewayState:
    """What the gateway is doing, for the pane and the tray (never the token)."""

    status: str = OFF
    url: str | None = None
    error: str | None = None
    port: int | None = None
    mcp: bool = False

    @property
    def on(self) -> bool:
        return self.status == ON

    @property
    def busy(self) -> bool:
        return self.status in (STARTING, STOPPING)

    def text(self) -> str:
        """One status line: the address listened on, or why it is off."""
        if self.status == ON:
            mcp = f"  ·  MCP at {self.url}/mcp" if self.mcp else ""
            return f"Listening on {self.url}{mcp}"
        if self.status == STARTING:
            return "Starting…" if self.port is None else f"Starting on port {self.port}…"
        if self.status == STOPPING:
            return "Stopping…"
        if self.status == FAILED and self.error:
            return f"Off: {self.error}"
        return "Off"


def token_store() -> Any:
    """The gateway token's store (the keyring; a private file where there is none)."""
    from locallama_gui.secrets import GatewayTokenStore
    from locallama_gui.store.paths import data_dir

    return GatewayTokenStore(fallback_file=data_dir() / TOKEN_FILE)


def start_error_text(exc: BaseException, port: int) -> str:
    """What to tell the user when the gateway did not start."""
    from locallama_gui.secrets import KeyStoreError
    from locallama_gui.sources.errors import redact

    if isinstance(exc, KeyStoreError):
        return f"the gateway token could not be read: {exc.user_message}"
    text = str(exc) or type(exc).__name__
    if text.startswith("cannot listen on"):
        # The host's message speaks to the CLI (--port): say it for the window.
        why = text.split(";", 1)[0]
        return (
            f"{why}. Port {port} is probably taken by another program (or another "
            "gateway): pick another port and switch the gateway on again."
        )
    return redact(text)


class GatewayControl(QObject):
    """Owns the app's :class:`GatewayHost` and switches it on and off in the background."""

    changed = Signal(object)  # GatewayState

    def __init__(self, controller: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.host: GatewayHost | None = None
        self.state = GatewayState()
        #: Tests bind port 0 (any free port); None: the settings' port.
        self.port_override: int | None = None
        #: Serve the MCP server at /mcp when ``locallama_gui.mcp.server`` is installed.
        self.mount_mcp = True
        self._wanted = False
        self._restart = False
        self._from_user = False  # the running start job was asked for by a click
        self._job: Job | None = None
        self._token: str | None = None
        self._token_job: Job | None = None
        self._token_waiters: list[Callable[[str], None]] = []
        self._token_failed: list[Callable[[str], None]] = []
        self._saving = False
        self._pending: dict[str, Any] = {}
        self._port_saved: int | None = None  # the last port saved (maybe not applied yet)
        self._closed = False
        self._lock = threading.Lock()
        #: Every host made and not yet stopped (quitting stops them, even one whose start
        #: has not been reported yet).
        self._hosts: set[GatewayHost] = set()
        controller.settings_changed.connect(self._on_settings_changed)

    # --- what runs ------------------------------------------------------------------------

    @property
    def gateway(self) -> Gateway | None:
        host = self.host
        return None if host is None else host.gateway

    @property
    def running(self) -> bool:
        host = self.host
        return host is not None and host.running

    @property
    def wanted(self) -> bool:
        return self._wanted

    @property
    def url(self) -> str | None:
        return self.state.url if self.state.on else None

    @property
    def requests_today(self) -> int:
        gateway = self.gateway
        return 0 if gateway is None else int(gateway.requests_today)

    def traffic(self) -> list[TrafficEvent]:
        """A copy of the recent traffic (the gateway's thread appends to it meanwhile)."""
        self.check_alive()
        gateway = self.gateway
        if gateway is None:
            return []
        for _ in range(3):
            try:
                return list(gateway.traffic)
            except RuntimeError:  # appended to while copied: try again
                continue
        return []

    def port(self) -> int:
        """The port the next start binds."""
        if self.port_override is not None:
            return self.port_override
        if self._port_saved is not None:
            return self._port_saved
        services = self._controller.services
        if services is None:
            from locallama_gui.core.settings import DEFAULT_GATEWAY_PORT

            return DEFAULT_GATEWAY_PORT
        return int(services.settings.gateway.port)

    def check_alive(self) -> bool:
        """False (and the state says so) when the gateway's thread died under it."""
        host = self.host
        if host is None or self._closed or (self._job is not None and not self._job.done()):
            return host is not None
        if self.state.on and not host.running:
            log.error("the gateway stopped unexpectedly")
            self.host = None
            self._wanted = False
            with self._lock:
                self._hosts.discard(host)
            self._set_state(
                GatewayState(
                    FAILED,
                    error="the gateway stopped unexpectedly (the log file says why); switch "
                    "it on again",
                    port=host.port,
                )
            )
            return False
        return True

    # --- the switch -------------------------------------------------------------------------

    def set_enabled(self, on: bool) -> None:
        """The user's switch: remembered in the settings, then started or stopped."""
        self.save(enabled=bool(on))
        self._from_user = True
        self._wanted = bool(on)
        self._reconcile()

    def toggle(self) -> None:
        self.set_enabled(not (self._wanted or self.state.on))

    def services_ready(self, services: Services) -> None:
        """Start the gateway when the settings say it was on last time."""
        self._flush_saves()
        if services.settings.gateway.enabled and not self._wanted:
            self._from_user = False
            self._wanted = True
        self._reconcile()

    def restart(self) -> None:
        """Stop and start again (new endpoints or API key); nothing when it is off."""
        if self._wanted and (self.host is not None or self._job is not None):
            self._restart = True
            self._reconcile()

    def _set_state(self, state: GatewayState) -> None:
        if state != self.state:
            self.state = state
            self.changed.emit(state)

    def _reconcile(self) -> None:
        if self._closed:
            return
        if self._job is not None and not self._job.done():
            return  # the next step is taken when this one ends
        self._job = None
        services = self._controller.services
        if self.host is not None and (not self._wanted or self._restart):
            self._restart = False
            self._stop_job()
        elif self.host is None and self._wanted:
            self._restart = False
            if services is not None:
                self._start_job(services)
        elif self.host is None and self.state.status not in (OFF, FAILED):
            self._set_state(GatewayState(OFF, port=self.port()))

    def _start_job(self, services: Services) -> None:
        port = self.port()
        self._set_state(GatewayState(STARTING, port=port))
        self._job = self._controller.runner.run_blocking(
            "start the gateway",
            self._start_blocking,
            services,
            port,
            on_done=self._started,
            on_error=lambda exc: self._start_failed(exc, port),
        )

    def _start_blocking(self, services: Services, port: int) -> tuple[GatewayHost, bool]:
        """In a worker: the token, the gateway, the port bound and uvicorn listening."""
        from locallama_gui.gateway.host import GatewayHost
        from locallama_gui.gateway.service import Gateway
        from locallama_gui.services.live import configured_endpoints

        token = token_store().ensure_sync()
        with self._lock:
            self._token = token
        gateway = Gateway(
            services,
            token=token,
            endpoints=configured_endpoints(services.settings),
            api_key_provider=self._api_key_provider(),
            # None: the runner reads the spend caps from the settings at every run, so a
            # cap changed in Settings applies at once.
            limits=None,
        )
        mounts = self._mcp_mounts(services) if self.mount_mcp else []
        host = GatewayHost(gateway, port=port, mounts=mounts)
        with self._lock:
            self._hosts.add(host)
        try:
            host.start()
        except BaseException:
            with self._lock:
                self._hosts.discard(host)
            raise
        with self._lock:
            closed = self._closed
        if closed:  # the app quit while this was starting: nobody else will stop it
            self._stop_host(host, QUIT_STOP_TIMEOUT_S)
        return host, bool(mounts)

    def _stop_host(self, host: GatewayHost, timeout_s: float | None = None) -> None:
        """Blocking: stop ``host`` and forget it."""
        try:
            if timeout_s is None:
                host.stop()
            else:
                host.stop(timeout_s)
        finally:
            with self._lock:
                self._hosts.discard(host)

    def _api_key_provider(self) -> Callable[[], str | None]:
        store = self._controller.key_store

        def read() -> str | None:  # on the gateway's worker thread
            from locallama_gui.secrets import KeyStoreError

            try:
                return store.get_sync()
            except KeyStoreError as e:  # local and free models still work without it
                log.info("the gateway runs without the OpenRouter key: %s", e.user_message)
                return None

        return read

    def _mcp_mounts(self, services: Services) -> list[tuple[str, Any]]:
        """The MCP server at /mcp, when this build has it."""
        try:
            from locallama_gui.mcp.server import build_server, streamable_http_app

            server = build_server(services=services, api_key_provider=self._api_key_provider())
            app = streamable_http_app(server)
        except ImportError as e:  # a build without the MCP server (or its SDK)
            log.info("MCP is not served at /mcp: %s", e)
            return []
        except Exception:  # the gateway serves without MCP rather than not at all
            log.exception("the MCP server could not be mounted at /mcp")
            return []
        return [("/mcp", app)]

    def _started(self, result: tuple[GatewayHost, bool]) -> None:
        host, mcp = result
        self._job = None
        self.host = host
        self._from_user = False
        if self._wanted and not self._restart:
            self._set_state(GatewayState(ON, url=host.url, port=host.port, mcp=mcp))
        self._reconcile()  # switched off (or asked to restart) meanwhile: stop it now

    def _start_failed(self, exc: BaseException, port: int) -> None:
        self._job = None
        text = start_error_text(exc, port)
        log.info("the gateway did not start: %s", text)
        if self._from_user:
            self.save(enabled=False)  # the switch is off again: so is the setting
        self._from_user = False
        self._wanted = False
        self._restart = False
        self._set_state(GatewayState(FAILED, error=text, port=port))

    def _stop_job(self) -> None:
        host, self.host = self.host, None
        assert host is not None
        self._set_state(GatewayState(STOPPING, port=host.port))
        self._job = self._controller.runner.run_blocking(
            "stop the gateway",
            self._stop_host,
            host,
            on_done=self._stopped,
            on_error=self._stop_failed,
        )

    def _stopped(self, _result: object = None) -> None:
        self._job = None
        self._set_state(GatewayState(OFF, port=self.port()))
        self._reconcile()

    def _stop_failed(self, exc: BaseException) -> None:
        log.error("the gateway did not stop cleanly: %s", exc)
        self._stopped()

    # --- the token ----------------------------------------------------------------------------

    def with_token(
        self, on_done: Callable[[str], None], on_error: Callable[[str], None] | None = None
    ) -> None:
        """Call ``on_done(token)`` on the GUI thread (the keyring is read in a worker)."""
        with self._lock:
            token = self._token
        if token is not None:
            on_done(token)
            return
        self._token_waiters.append(on_done)
        if on_error is not None:
            self._token_failed.append(on_error)
        if self._token_job is not None and not self._token_job.done():
            return

        def read() -> str:
            value = token_store().ensure_sync()
            with self._lock:
                self._token = value
            return value

        def done(value: str) -> None:
            waiters, self._token_waiters, self._token_failed = self._token_waiters, [], []
            for fn in waiters:
                fn(value)

        def failed(exc: BaseException) -> None:
            from locallama_gui.secrets import KeyStoreError

            text = exc.user_message if isinstance(exc, KeyStoreError) else str(exc)
            log.info("the gateway token could not be read: %s", text)
            failures, self._token_waiters, self._token_failed = self._token_failed, [], []
            for fn in failures:
                fn(text)

        self._token_job = self._controller.runner.run_blocking(
            "read the gateway token", read, on_done=done, on_error=failed
        )

    # --- settings -----------------------------------------------------------------------------

    def save(self, **changes: Any) -> None:
        """Save ``gateway`` settings (``enabled``, ``port``) in a worker, one save at a time
        (each starts from the last one's result, so none is lost)."""
        if "port" in changes:
            self._port_saved = int(changes["port"])
        self._pending.update(changes)
        self._flush_saves()

    def _flush_saves(self) -> None:
        services = self._controller.services
        if self._saving or not self._pending or services is None or self._closed:
            return
        changes, self._pending = self._pending, {}
        current = services.settings
        new = replace(current, gateway=replace(current.gateway, **changes))
        if new == current:
            return

        def done() -> None:
            self._saving = False
            self._flush_saves()

        def failed(exc: BaseException) -> None:
            self._saving = False
            log.error("the gateway settings could not be saved: %s", exc)
            self._controller.notice.emit("error", f"The gateway settings were not saved: {exc}")
            self._flush_saves()

        self._saving = True
        self._controller.apply_settings(new, on_error=failed, on_done=done)

    def _on_settings_changed(self, settings: Any) -> None:
        """New endpoints reach a running gateway by a restart."""
        gateway = self.gateway
        if gateway is None or self._closed:
            return
        from locallama_gui.services.live import configured_endpoints

        if tuple(configured_endpoints(settings)) != tuple(gateway.endpoints):
            log.info("the endpoints changed: restarting the gateway")
            self.restart()

    # --- quitting -----------------------------------------------------------------------------

    def _close(self) -> list[GatewayHost]:
        with self._lock:
            self._closed = True
            hosts = list(self._hosts)
        self.host = None
        return hosts

    async def aclose(self) -> None:
        """Stop the gateway without blocking the loop (quitting waits at most a moment)."""
        import asyncio

        for host in self._close():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    asyncio.to_thread(self._stop_host, host, QUIT_STOP_TIMEOUT_S),
                    3 * QUIT_STOP_TIMEOUT_S,
                )

    def shutdown(self) -> None:
        """Idempotent: stop the gateway, waiting a moment at most (its thread is a daemon)."""
        for host in self._close():
            stopper = threading.Thread(
                target=self._stop_host,
                args=(host, QUIT_STOP_TIMEOUT_S),
                name="locallama-gateway-stop",
                daemon=True,
            )
            stopper.start()
            stopper.join(3 * QUIT_STOP_TIMEOUT_S)


__all__ = [
    "FAILED",
    "OFF",
    "ON",
    "STARTING",
    "STOPPING",
    "GatewayControl",
    "GatewayState",
    "start_error_text",
    "token_store",
]
