"""Serve the gateway with uvicorn on its own thread and event loop.

The window runs on a qasync loop; the gateway must never stall it, nor be stalled by it. So
:class:`GatewayHost` runs uvicorn in a daemon thread with a loop of its own: the two share only
the thread-safe services. ``start`` returns once the socket listens (or raises with the reason,
e.g. the port is taken); ``stop`` shuts it down gracefully, cancelling open streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from locallama_gui.gateway.app import create_app
from locallama_gui.gateway.service import Gateway

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 10.0
# Longer than the idle time of the clients' connection pools (httpx and so the openai and
# anthropic SDKs keep idle connections 5 s): a server that closes first races the client's
# next request on that connection, which then fails with nothing read.
KEEP_ALIVE_S = 65
STOP_TIMEOUT_S = 5.0


class GatewayStartError(RuntimeError):
    """The gateway could not start; the message says why and what to do."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool) -> None:
    if not is_loopback(host) and not allow_remote:
        raise GatewayStartError(
            f"{host} is reachable from other machines; binding to it needs --allow-remote "
            "(every request still needs the token)"
        )


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (they belong to the main thread)."""

    def install_signal_handlers(self) -> None:  # pragma: no cover - trivial
        return None

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (Linux and macOS), else the standard loop; either way a
    loop of the gateway's thread alone, never the window's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class GatewayHost:
    """One gateway served on a background thread."""

    def __init__(
        self,
        gateway: Gateway,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        allow_remote: bool = False,
        mounts: Sequence[tuple[str, ASGIApp]] | Callable[[], Sequence[tuple[str, ASGIApp]]] = (),
        log_level: str = "warning",
    ) -> None:
        check_bind(host, allow_remote)
        self.gateway = gateway
        self.host = host
        self.port = port
        self._mounts = mounts
        self._log_level = log_level
        self._thread: threading.Thread | None = None
        self._server: _Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._ready.is_set()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Bind and serve; returns when listening. Raises :class:`GatewayStartError`."""
        if self._thread is not None and self._thread.is_alive():
            return
        try:
            # IPPROTO_TCP named explicitly: asyncio turns Nagle's algorithm off only on sockets
            # whose proto says TCP, and accepted sockets inherit it from this one (with proto
            # 0, every response paid a 40 ms delayed-ACK stall)
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host.strip("[]"), self.port))
        except OSError as e:
            sock.close()
            raise GatewayStartError(
                f"cannot listen on {self.host}:{self.port}: {e.strerror or e}; another program "
                "(or another gateway) may use the port: pick another with --port or in Settings"
            ) from None
        self.port = sock.getsockname()[1]
        mounts = self._mounts() if callable(self._mounts) else self._mounts
        app = create_app(self.gateway, mounts=mounts)
        config = uvicorn.Config(
            app,
            log_level=self._log_level,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            loop="none",  # the loop is ours: see _new_loop
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        self._server = _Server(config)
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name="locallama-gateway", daemon=True
        )
        self._thread.start()
        deadline_ok = self._wait_started(timeout_s)
        if self._error is not None or not deadline_ok:
            self.stop()
            why = self._error or "it did not start in time"
            raise GatewayStartError(f"the gateway did not start: {why}")

    def _wait_started(self, timeout_s: float) -> bool:
        server = self._server
        assert server is not None
        waited = 0.0
        while waited < timeout_s:
            if server.started:
                self._ready.set()
                return True
            if self._thread is None or not self._thread.is_alive():
                return False
            self._ready.wait(0.01)
            waited += 0.01
        return False

    def _serve(self, sock: socket.socket) -> None:
        loop = _new_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            assert self._server is not None
            loop.run_until_complete(self._server.serve(sockets=[sock]))
        except BaseException as e:  # reported by start(); never a silent dead thread
            self._error = e
            log.error("the gateway stopped: %s", e)
        finally:
            # what is still pending (an MCP session's watcher, a client's stream) is cancelled
            # and let finish, as asyncio.run does, never destroyed while pending
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            sock.close()
            self._loop = None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout_s)
        self._thread = None
        self._server = None
        self._ready.clear()

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` on the gateway's loop (thread-safe)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    def __enter__(self) -> GatewayHost:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["LOOPBACK", "GatewayHost", "GatewayStartError", "check_bind", "is_loopback"]
