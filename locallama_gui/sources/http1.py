"""A lean HTTP/1.1 transport for httpx, for plain-``http://`` requests to the local servers.

The gateway's own request path is a request to a llama.cpp/vLLM/Ollama/LM Studio server on
this machine, so what the HTTP client costs per request is the gateway's added latency. httpx's
transport goes through httpcore's connection pool and h11, pure-Python layers that took about
half of the gateway's CPU per request (``locallama bench``, profiled with py-spy). Here one
connection is an :class:`asyncio.Protocol` that feeds `httptools
<https://github.com/MagicStack/httptools>`_ (llhttp, the parser of Node.js, already the
gateway's server-side parser through uvicorn) and hands the body to httpx as it arrives:

* httpx still builds the request (headers, ``Host``, ``Content-Length``, JSON) and the
  response object, so callers see nothing different;
* errors are httpx's own exceptions (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``,
  ``WriteTimeout``, ``PoolTimeout``, ``ReadError``, ``RemoteProtocolError``), which is what
  :class:`~locallama_gui.sources.http.HttpClient` maps to its typed errors;
* connections are kept alive per origin and event loop, up to ``httpx.Limits``; one that the
  server closed, or that idled past the keep-alive expiry, is never handed out;
* a response closed before its end closes its connection, so the server sees the request
  cancelled (a client that went away mid-stream);
* reading stops while more than :data:`HIGH_WATER` bytes wait unread (back-pressure).

``https://`` requests, ``HEAD`` (whose response length the parser cannot know), ``CONNECT`` and
protocol upgrades go to the fallback transport, httpcore's (see :mod:`.asyncio_net`), as they
do when httptools is not installed.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httpx

from locallama_gui.sources.asyncio_net import WakingProtocol

try:  # a dependency of the gateway; without it every request takes the fallback
    import httptools
except ImportError:  # pragma: no cover - httptools is a declared dependency
    httptools = None

__all__ = ["HIGH_WATER", "LeanTransport", "available"]

#: Stop reading from the socket while this many body bytes wait unread.
HIGH_WATER = 1 << 20
_FALLBACK_METHODS = frozenset({"HEAD", "CONNECT"})


def available() -> bool:
    return httptools is not None


class _Conn(WakingProtocol):
    """One HTTP/1.1 connection, one exchange at a time (no pipelining)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.busy = False  # an exchange is in progress
        self.broken = False  # never reuse: closed, hung up, extra bytes, a parse error
        self.idle_since = 0.0
        self.paused_reading = False
        self.error: BaseException | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.informational = False
        self.complete = False
        self.eof = False
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.delimited = False  # a Content-Length or chunked body (else: read to EOF)

    # --- asyncio callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.busy or self.complete:  # nothing was asked: the connection is unusable
            self.broken = True
            self._close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols"))
        except httptools.HttpParserError as e:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP response: {e}"))
        self._wake()

    def eof_received(self) -> bool:
        self._ended()
        return False  # close the transport: HTTP/1.1 has no use for a half-open socket

    def connection_lost(self, exc: Exception | None) -> None:
        self.broken = True
        if exc is not None and self.error is None and not self.complete:
            self.error = httpx.ReadError(str(exc) or type(exc).__name__)
        self._ended()
        self._wake_drain()

    # --- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if not self.busy or self.complete:
            self.broken = True

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # 100 Continue and the like: the real response follows
            self.headers = []
            self.reason = b""
            self.informational = True
            return
        self.status = status
        self.headers_done = True
        for name, value in self.headers:
            low = name.lower()
            if low == b"content-length" or (
                low == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                self.delimited = True
                break
        else:
            self.delimited = status in (204, 304)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.paused_reading and self.transport:
            self.transport.pause_reading()
            self.paused_reading = True

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        self.complete = True
        if not self.parser.should_keep_alive():
            self.broken = True

    # --- helpers -----------------------------------------------------------------------------

    def _ended(self) -> None:
        self.eof = True
        self.broken = True
        if self.busy and self.headers_done and not self.complete and not self.delimited:
            self.complete = True  # a body delimited by the end of the connection
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self.broken = True
        self._close()

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        self.broken = True
        if self.transport is not None:
            self.transport.abort()

    @property
    def usable(self) -> bool:
        return (
            not self.broken
            and not self.eof
            and self.transport is not None
            and (not self.transport.is_closing())
        )

    async def wait(self, timeout: float | None) -> None:
        """Until the protocol has news (data, the end, an error), at most ``timeout`` s."""
        self.waiter = self.loop.create_future()
        if await _timed_out(self.loop, self.waiter, timeout):
            self.waiter = None
            raise httpx.ReadTimeout(f"timed out after {timeout:g} s waiting for the server")

    async def write(self, data: bytes, timeout: float | None) -> None:
        if self.transport is None or self.transport.is_closing() or self.eof:
            raise httpx.WriteError("the connection is closed")
        self.transport.write(data)
        if self.paused_writing:
            self.drain = self.loop.create_future()
            if await _timed_out(self.loop, self.drain, timeout):
                raise httpx.WriteTimeout(f"timed out after {timeout:g} s writing to the server")
            if self.transport.is_closing():
                raise httpx.WriteError("the connection was closed while writing")

    def begin(self) -> None:
        self.busy = True
        self._reset()

    def take(self) -> bytes | None:
        """The next body chunk, or None when none is waiting."""
        if not self.chunks:
            return None
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused_reading and self.buffered <= HIGH_WATER // 2 and self.transport:
            self.paused_reading = False
            if not self.transport.is_closing():
                self.transport.resume_reading()
        return chunk


_TIMED_OUT: Any = object()


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_result(_TIMED_OUT)


async def _timed_out(
    loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any], timeout: float | None
) -> bool:
    """Await ``fut``, at most ``timeout`` s (None: no limit); True when the time ran out.
    A timer handle, not :func:`asyncio.timeout`: this is awaited per body chunk."""
    handle = loop.call_later(timeout, _expire, fut) if timeout is not None else None
    try:
        await fut
    finally:
        if handle is not None:
            handle.cancel()
    return fut.result() is _TIMED_OUT


class _Pool:
    """The connections of one event loop: idle ones by origin, and a count of all."""

    def __init__(self, limits: httpx.Limits) -> None:
        self.idle: dict[tuple[str, int], list[_Conn]] = {}
        self.open = 0
        self.max_open = limits.max_connections
        self.max_idle = limits.max_keepalive_connections
        self.expiry = limits.keepalive_expiry
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.shut = False

    def pop_idle(self, origin: tuple[str, int]) -> _Conn | None:
        conns = self.idle.get(origin)
        now = time.monotonic()
        while conns:
            conn = conns.pop()
            if conn.usable and (self.expiry is None or now - conn.idle_since < self.expiry):
                return conn
            conn._close()
            self.closed()
        return None

    def closed(self) -> None:
        self.open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                break

    def idle_count(self) -> int:
        return sum(len(v) for v in self.idle.values())

    def drop_oldest_idle(self) -> bool:
        oldest: tuple[float, tuple[str, int]] | None = None
        for origin, conns in self.idle.items():
            if conns and (oldest is None or conns[0].idle_since < oldest[0]):
                oldest = (conns[0].idle_since, origin)
        if oldest is None:
            return False
        conn = self.idle[oldest[1]].pop(0)
        conn._close()
        self.closed()
        return True

    def release(self, origin: tuple[str, int], conn: _Conn) -> None:
        conn.busy = False
        if (
            self.shut
            or not conn.usable
            or not conn.complete
            or conn.chunks
            or conn.error is not None
        ):
            conn._close()
            self.closed()
            return
        conn.idle_since = time.monotonic()
        self.idle.setdefault(origin, []).append(conn)
        if self.max_idle is not None and self.idle_count() > self.max_idle:
            self.drop_oldest_idle()
        elif self.waiters:  # a request waiting for a free slot may take this one
            self._wake_one()

    def close_all(self) -> None:
        """Close the idle connections; a busy one is closed when its response is."""
        self.shut = True
        for conns in self.idle.values():
            for conn in conns:
                conn._close()
                self.open -= 1
        self.idle.clear()


class _Body(httpx.AsyncByteStream):
    """A response body as it arrives; closing it before its end closes the connection."""

    def __init__(
        self, conn: _Conn, pool: _Pool, origin: tuple[str, int], timeout: float | None
    ) -> None:
        self._conn = conn
        self._pool = pool
        self._origin = origin
        self._timeout = timeout
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if self._done:
            raise httpx.StreamClosed()
        try:
            while True:
                chunk = conn.take()
                if chunk is not None:
                    yield chunk
                    continue
                if conn.complete:
                    break
                if conn.error is not None:
                    raise conn.error
                if conn.eof:
                    raise httpx.RemoteProtocolError(
                        "the server closed the connection before the response was complete"
                    )
                await conn.wait(self._timeout)
        except BaseException:
            self._finish(abort=True)
            raise
        self._finish()

    def _finish(self, abort: bool = False) -> None:
        if self._done:
            return
        self._done = True
        if abort:
            self._conn.abort()
        self._pool.release(self._origin, self._conn)

    async def aclose(self) -> None:
        self._finish()  # the pool closes a connection whose response is not over


class LeanTransport(httpx.AsyncBaseTransport):
    """httpx transport: plain-``http://`` requests on :class:`_Conn`, others on ``fallback``."""

    def __init__(self, fallback: httpx.AsyncBaseTransport, limits: httpx.Limits) -> None:
        self._fallback = fallback
        self._limits = limits
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = (
            weakref.WeakKeyDictionary()
        )

    def _pool(self, loop: asyncio.AbstractEventLoop) -> _Pool:
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = _Pool(self._limits)
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if (
            httptools is None
            or url.scheme != "http"
            or request.method in _FALLBACK_METHODS
            or request.headers.get("upgrade") is not None
        ):
            return await self._fallback.handle_async_request(request)
        timeouts = request.extensions.get("timeout") or {}
        loop = asyncio.get_running_loop()
        pool = self._pool(loop)
        origin = (url.host, url.port or 80)
        conn = await self._acquire(pool, loop, origin, timeouts)
        try:
            await self._send(conn, request, timeouts.get("write"))
            read = timeouts.get("read")
            while not conn.headers_done:
                if conn.error is not None:
                    raise conn.error
                if conn.eof:
                    raise httpx.RemoteProtocolError(
                        "the server closed the connection without sending a response"
                    )
                await conn.wait(read)
        except BaseException:
            conn.abort()
            pool.release(origin, conn)
            raise
        return httpx.Response(
            conn.status,
            headers=conn.headers,
            stream=_Body(conn, pool, origin, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": conn.reason},
        )

    async def _acquire(
        self,
        pool: _Pool,
        loop: asyncio.AbstractEventLoop,
        origin: tuple[str, int],
        timeouts: dict[str, float | None],
    ) -> _Conn:
        conn = pool.pop_idle(origin)
        if conn is not None:
            conn.begin()
            return conn
        if pool.max_open is not None:
            deadline = None if timeouts.get("pool") is None else loop.time() + timeouts["pool"]
            while pool.open >= pool.max_open:
                if pool.drop_oldest_idle():
                    continue
                fut = loop.create_future()
                pool.waiters.append(fut)
                left = None if deadline is None else max(0.0, deadline - loop.time())
                if await _timed_out(loop, fut, left):
                    raise httpx.PoolTimeout("no connection to the server came free in time")
                conn = pool.pop_idle(origin)
                if conn is not None:
                    conn.begin()
                    return conn
        pool.open += 1
        try:
            conn = await self._connect(loop, origin, timeouts.get("connect"))
        except BaseException:
            pool.closed()
            raise
        conn.begin()
        return conn

    @staticmethod
    async def _connect(
        loop: asyncio.AbstractEventLoop, origin: tuple[str, int], timeout: float | None
    ) -> _Conn:
        host, port = origin
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(lambda: _Conn(loop), host, port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as e:
            raise httpx.ConnectError(str(e) or type(e).__name__) from e
        return conn

    @staticmethod
    async def _send(conn: _Conn, request: httpx.Request, timeout: float | None) -> None:
        url = request.url
        target = url.raw_path or b"/"
        parts = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
        chunked = False
        for name, value in request.headers.raw:
            parts += (name, b": ", value, b"\r\n")
            if name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        parts.append(b"\r\n")
        try:
            body: bytes | None = request.content
        except httpx.RequestNotRead:
            body = None
        if body is not None:
            parts.append(body)
            await conn.write(b"".join(parts), timeout)
            return
        await conn.write(b"".join(parts), timeout)
        stream = request.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        async for chunk in stream:
            if not chunk:
                continue
            if chunked:
                await conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk), timeout)
            else:
                await conn.write(chunk, timeout)
        if chunked:
            await conn.write(b"0\r\n\r\n", timeout)

    async def aclose(self) -> None:
        running = asyncio.get_running_loop()
        for loop, pool in list(self._pools.items()):
            if loop is running:
                pool.close_all()
            elif not loop.is_closed():  # a transport belongs to its loop's thread
                loop.call_soon_threadsafe(pool.close_all)
        self._pools.clear()
        await self._fallback.aclose()
