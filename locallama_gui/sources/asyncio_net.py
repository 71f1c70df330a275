"""An httpcore network backend on plain asyncio protocols, for the local servers.

httpcore's default backend goes through anyio: every read and write opens a cancel scope, and
every time the connection pool hands out a request it asks each pooled connection whether its
socket is readable (a ``poll`` system call behind anyio's attribute lookup). With sixteen
requests in flight to one llama.cpp server that is sixteen polls per request, twice, and it
was the largest single cost of the gateway's request path.

Here a connection is an :class:`asyncio.Protocol` with its own receive buffer: "readable"
(the only answer httpcore wants of an idle connection: did the server hang up?) is whether
the buffer holds data or the end of the stream arrived, with no system call; reads and writes
are awaited futures under one :func:`asyncio.timeout`. Errors are httpcore's own exceptions,
so httpx reports them exactly as it reports the default backend's (``ConnectError``,
``ReadTimeout``, ...).

Used for the direct (never proxied) local-server transport where :mod:`.http1` does not
serve a request (``https://``, ``HEAD``); OpenRouter keeps httpx's default backend.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

__all__ = [
    "AsyncioBackend",
    "AsyncioStream",
    "WakingProtocol",
    "direct_transport",
    "httpcore_transport",
]

#: Stop reading from the socket while this many bytes wait unread (back-pressure).
HIGH_WATER = 1 << 20


class WakingProtocol(asyncio.Protocol):
    """What both local-server protocols share (this backend's and :mod:`.http1`'s): one
    waiter woken on news from the socket, and a drain future for write flow control."""

    __slots__ = ("drain", "paused_writing", "waiter")

    def __init__(self) -> None:
        self.waiter: asyncio.Future[None] | None = None
        self.drain: asyncio.Future[None] | None = None
        self.paused_writing = False

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        self._wake_drain()

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_drain(self) -> None:
        drain, self.drain = self.drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)


class _Protocol(WakingProtocol):
    __slots__ = ("buffer", "closed", "eof", "error", "paused_reading", "transport")

    def __init__(self) -> None:
        super().__init__()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.closed = False
        self.error: BaseException | None = None
        self.paused_reading = False

    # --- asyncio callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self.paused_reading = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport: HTTP/1.1 has no use for a half-open socket

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = self.closed = True
        self.error = exc
        self._wake()
        self._wake_drain()


class AsyncioStream(AsyncNetworkStream):
    """One connection: ``read``/``write`` with httpcore's timeouts and exceptions."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        p = self._protocol
        if not p.buffer and not p.eof:
            p.waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await p.waiter
            except TimeoutError:
                raise httpcore.ReadTimeout("timed out reading from the server") from None
        if p.buffer:
            data = bytes(p.buffer[:max_bytes])
            del p.buffer[:max_bytes]
            if p.paused_reading and len(p.buffer) <= HIGH_WATER // 2 and not p.closed:
                p.paused_reading = False
                self._transport.resume_reading()
            return data
        if p.error is not None:
            raise httpcore.ReadError(str(p.error) or type(p.error).__name__)
        return b""  # the server closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        p = self._protocol
        if p.closed or self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        if p.paused_writing:
            p.drain = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await p.drain
            except TimeoutError:
                raise httpcore.WriteTimeout("timed out writing to the server") from None
            if p.closed:
                raise httpcore.WriteError("the connection was closed while writing")

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self._transport.abort()
            raise httpcore.ConnectTimeout("timed out during the TLS handshake") from None
        except (OSError, ssl.SSLError) as e:
            self._transport.abort()
            raise httpcore.ConnectError(str(e)) from e
        if transport is None:  # pragma: no cover - only when the loop is closing
            raise httpcore.ConnectError("the TLS handshake did not complete")
        self._protocol.transport = transport  # type: ignore[assignment]
        return AsyncioStream(transport, self._protocol)  # type: ignore[arg-type]

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            p = self._protocol
            return bool(p.buffer) or p.eof
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend(AsyncNetworkBackend):
    """``httpcore.AsyncConnectionPool(network_backend=AsyncioBackend())``."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol, host, port, local_addr=local
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as e:
            raise httpcore.ConnectError(str(e)) from e
        _apply(transport, socket_options)
        return AsyncioStream(transport, protocol)  # type: ignore[arg-type]

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_unix_connection(_Protocol, path)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"timed out connecting to {path}") from None
        except OSError as e:
            raise httpcore.ConnectError(str(e)) from e
        _apply(transport, socket_options)
        return AsyncioStream(transport, protocol)  # type: ignore[arg-type]

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _apply(transport: asyncio.BaseTransport, options: Any) -> None:
    sock: socket.socket | None = transport.get_extra_info("socket")
    if sock is None:
        return
    for option in options or ():
        sock.setsockopt(*option)


def direct_transport(verify: ssl.SSLContext, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """The local servers' transport: plain-http requests on :mod:`.http1` (httptools), the
    rest (``https://``, ``HEAD``) on :func:`httpcore_transport`."""
    from locallama_gui.sources.http1 import LeanTransport, available

    fallback = httpcore_transport(verify, limits)
    return LeanTransport(fallback, limits) if available() else fallback


def httpcore_transport(verify: ssl.SSLContext, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's transport (its request conversion and error mapping) over this backend.

    httpx does not take a network backend, so its connection pool is replaced by one that is
    configured the same way (HTTP/1.1, the same limits and TLS context). Should a later httpx
    keep its pool elsewhere, this returns the plain transport: slower, never broken.
    """
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
    if not isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        return transport  # pragma: no cover - a future httpx
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=verify,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=False,
        network_backend=AsyncioBackend(),
    )
    return transport
