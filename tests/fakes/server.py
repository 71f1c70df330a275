"""A loopback HTTP server base for the provider fakes: routes, recorded requests, faults.

Each fake runs a ``ThreadingHTTPServer`` on 127.0.0.1 (port 0 = ephemeral) in a background
thread. Faults are queued per path with :meth:`FakeServer.fail_next` and consumed by the next
matching requests. Every wait inside a handler is bounded (and cut short when the server
stops), so no request loop can run forever.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: ``shared/data`` beside the checkout (read in place, never copied).
DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"

MAX_REQUEST_BODY = 4 * 1024 * 1024
#: Longest any handler waits (hang, slow first byte, held stream) unless told otherwise.
MAX_WAIT_S = 10.0

# Fault kinds accepted by ``fail_next``.
RATE_LIMIT_MINUTE = "rate_limit_minute"
RATE_LIMIT_DAY = "rate_limit_day"
UNAUTHORIZED = "unauthorized"
PAYMENT_REQUIRED = "payment_required"
MODERATION = "moderation"
NOT_FOUND = "not_found"
FREE_VARIANT_ENDED = "free_variant_ended"
PRIVACY_RESTRICTED = "privacy_restricted"
SERVER_ERROR = "server_error"  # 500
BAD_GATEWAY = "bad_gateway"  # 502
UNAVAILABLE = "unavailable"  # 503 (Retry-After: 1 unless told otherwise)
SLOW_FIRST_BYTE = "slow_first_byte"  # delay, then the normal answer
HANG = "hang"  # no answer for ``hang_s`` (longer than the client's read timeout)
TRUNCATED = "truncated"  # Content-Length larger than what is sent, then close
OVERSIZED = "oversized"  # a body of ``size`` bytes (declared or chunked)
HTML = "html"  # 200 text/html
BAD_JSON = "bad_json"  # 200 application/json that is not JSON
STREAM_ERROR = "stream_error"  # a few deltas, then an in-band error chunk
STREAM_DROP = "stream_drop"  # a few deltas, then the connection closes mid-body
CONNECTION_DROP = "connection_drop"  # close without any response
REPLY = "reply"  # a scripted reply: status, body (obj or bytes), headers, content_type

FAULT_KINDS = (
    RATE_LIMIT_MINUTE,
    RATE_LIMIT_DAY,
    UNAUTHORIZED,
    PAYMENT_REQUIRED,
    MODERATION,
    NOT_FOUND,
    FREE_VARIANT_ENDED,
    PRIVACY_RESTRICTED,
    SERVER_ERROR,
    BAD_GATEWAY,
    UNAVAILABLE,
    SLOW_FIRST_BYTE,
    HANG,
    TRUNCATED,
    OVERSIZED,
    HTML,
    BAD_JSON,
    STREAM_ERROR,
    STREAM_DROP,
    CONNECTION_DROP,
    REPLY,
)

FREE_PER_MIN_MESSAGE = "Rate limit exceeded: free-models-per-min. "
FREE_PER_DAY_MESSAGE = (
    "Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model "
    "requests per day"
)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _Fault:
    path: str
    kind: str
    remaining: int
    options: dict[str, Any] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default listen backlog (5) resets bursts of connections
    allow_reuse_address = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, BrokenPipeError | ConnectionResetError | TimeoutError):
            return
        self.fake.errors.append(repr(exc))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # idle keep-alive connections end after this
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _handle(self) -> None:
        try:
            self.server.fake._dispatch(self)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_DELETE = _handle


Route = Callable[["_Handler", RecordedRequest], None]


class FakeServer:
    """Base of the fakes. Subclasses fill :attr:`routes` and the stream/error shapes."""

    name = "fake"
    api_prefix = ""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, data_dir: Path | None = None):
        self.host = host
        self.port = port
        self.data_dir = data_dir or DATA_DIR
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self.bytes_sent: dict[str, int] = {}
        self.stream_finished = threading.Event()
        self.stream_held = threading.Event()
        #: Set when the client closed the connection while a stream was held.
        self.stream_abandoned = threading.Event()
        self._release = threading.Event()
        self._hold_after: int | None = None
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.routes: dict[tuple[str, str], Route] = {}
        self.install_routes()

    # ------------------------------------------------------------------ lifecycle

    def install_routes(self) -> None:
        """Subclasses register ``self.routes[(method, path)] = handler``."""

    def start(self) -> FakeServer:
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-fake",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What a client takes as its base URL (root plus the API prefix)."""
        return self.url + self.api_prefix

    # ------------------------------------------------------------------ control API

    def fail_next(self, path: str, kind: str, *, times: int = 1, **options: Any) -> None:
        """The next ``times`` requests to ``path`` (``"*"``: any path) get fault ``kind``.

        ``path`` is the full request path (``/api/v1/models``) or relative to the API prefix
        (``/models``). Options: ``retry_after`` (header value or None), ``reset_ms`` (epoch
        ms for X-RateLimit-Reset), ``delay_s``, ``hang_s``, ``size``, ``declare_length``,
        ``after_chunks``, and for ``reply``: ``status``, ``body``, ``headers``,
        ``content_type``.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(_Fault(self._full_path(path), kind, times, dict(options)))

    def reply_next(
        self,
        path: str,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        times: int = 1,
    ) -> None:
        """Script the next reply(ies) to ``path``."""
        self.fail_next(
            path,
            REPLY,
            times=times,
            status=status,
            body=body,
            headers=headers or {},
            content_type=content_type,
        )

    def hold_stream_after(self, chunks: int) -> threading.Event:
        """Pause the next stream after ``chunks`` chunks until the returned event is set.

        :attr:`stream_held` is set while it waits; the wait is bounded by ``MAX_WAIT_S``.
        """
        self._hold_after = chunks
        self._release.clear()
        self.stream_held.clear()
        return self._release

    def requests_to(self, path: str) -> list[RecordedRequest]:
        full = self._full_path(path)
        with self._lock:
            return [r for r in self.requests if r.path == full]

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()
        self.stream_finished.clear()
        self.stream_held.clear()
        self.stream_abandoned.clear()
        self._hold_after = None

    def pending_faults(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def _full_path(self, path: str) -> str:
        if path == "*" or not self.api_prefix or path.startswith(self.api_prefix + "/"):
            return path
        return self.api_prefix + "/" + path.lstrip("/")

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, h: _Handler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(min(length, MAX_REQUEST_BODY)) if length > 0 else b""
        req = RecordedRequest(
            method=h.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(req)
            fault = self._take_fault(req.path)
        if fault is not None and self._apply_fault(h, req, fault):
            return
        route = self.routes.get((req.method, req.path))
        if route is None:
            if any(p == req.path for _, p in self.routes):
                self.send_error_body(h, 405, "Method not allowed")
            else:
                self.send_error_body(h, 404, f"Not found: {req.path}")
            return
        route(h, req)

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.path in (path, "*"):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _wait(self, seconds: float) -> None:
        self._stop.wait(min(max(seconds, 0.0), MAX_WAIT_S))

    def _apply_fault(self, h: _Handler, req: RecordedRequest, f: _Fault) -> bool:
        """Serve fault ``f``; False means "now answer normally" (slow first byte)."""
        o = f.options
        kind = f.kind
        if kind == SLOW_FIRST_BYTE:
            self._wait(float(o.get("delay_s", 0.3)))
            return False
        if kind == HANG:
            self._wait(float(o.get("hang_s", 5.0)))
            h.close_connection = True
            return True
        if kind == CONNECTION_DROP:
            h.close_connection = True
            return True
        if kind == REPLY:
            body = o.get("body")
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_bytes(h, o["status"], data, o["content_type"], o.get("headers"))
            return True
        if kind in (RATE_LIMIT_MINUTE, RATE_LIMIT_DAY):
            self._rate_limit(h, kind, o)
            return True
        if kind in _STATUS_FAULTS:
            status, message = _STATUS_FAULTS[kind]
            headers = {}
            if kind == UNAVAILABLE or o.get("retry_after") is not None:
                retry_after = o.get("retry_after", "1")
                if retry_after is not None:
                    headers["Retry-After"] = str(retry_after)
            self.send_error_body(
                h,
                status,
                o.get("message", message),
                metadata=_FAULT_METADATA.get(kind),
                availability=_FAULT_AVAILABILITY.get(kind),
                headers=headers,
            )
            return True
        if kind == TRUNCATED:
            data = b'{"data": [{"id": "openai/gpt-4o", "name": "Open'
            self.send_bytes(
                h, 200, data, "application/json", content_length=len(data) + 4096, close=True
            )
            return True
        if kind == OVERSIZED:
            self._oversized(h, req, int(o.get("size", 64 * 1024 * 1024)), o)
            return True
        if kind == HTML:
            page = b"<!DOCTYPE html><html><body><h1>Welcome</h1>captive portal</body></html>"
            self.send_bytes(h, int(o.get("status", 200)), page, "text/html; charset=utf-8")
            return True
        if kind == BAD_JSON:
            self.send_bytes(h, 200, b'{"data": [oops', "application/json")
            return True
        if kind in (STREAM_ERROR, STREAM_DROP):
            chunks = list(self.stream_chunks(req))
            keep = int(o.get("after_chunks", 3))
            if kind == STREAM_ERROR:
                self.send_stream(h, [*chunks[:keep], *self.stream_error_chunks(req)])
            else:
                self.send_stream(h, chunks[:keep], finish=False)
            return True
        raise AssertionError(kind)

    def _rate_limit(self, h: _Handler, kind: str, o: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        if kind == RATE_LIMIT_MINUTE:
            message, limit = FREE_PER_MIN_MESSAGE, "20"
            default_reset = now + timedelta(seconds=30)
        else:
            message, limit = FREE_PER_DAY_MESSAGE, "50"
            tomorrow = (now + timedelta(days=1)).date()
            default_reset = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)
        reset_ms = int(o.get("reset_ms", int(default_reset.timestamp() * 1000)))
        rl_headers = {
            "X-RateLimit-Limit": limit,
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset_ms),
        }
        headers = dict(rl_headers) if o.get("real_headers", True) else {}
        if o.get("retry_after") is not None:
            headers["Retry-After"] = str(o["retry_after"])
        body = {
            "error": {
                "message": message,
                "code": 429,
                "metadata": {"headers": rl_headers},
            }
        }
        if o.get("error_type", True):
            body["error"]["metadata"]["error_type"] = "rate_limit_exceeded"
        self.send_bytes(h, 429, json.dumps(body).encode(), "application/json", headers)

    def _oversized(self, h: _Handler, req: RecordedRequest, size: int, o: dict[str, Any]) -> None:
        declare = bool(o.get("declare_length", False))
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        if declare:
            h.send_header("Content-Length", str(size))
        else:
            h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        piece = b'{"pad": "' + b"x" * (64 * 1024 - 12) + b'"},\n'
        sent = 0
        try:
            while sent < size and not self._stop.is_set():
                part = piece[: size - sent]
                if declare:
                    h.wfile.write(part)
                else:
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                sent += len(part)
                self.bytes_sent[req.path] = sent
            if not declare:
                h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            return

    # ------------------------------------------------------------------ writing

    def error_body(
        self,
        status: int,
        message: str,
        metadata: dict[str, Any] | None = None,
        availability: dict[str, Any] | None = None,
    ) -> Any:
        """The JSON error body of this server (OpenRouter shape by default)."""
        err: dict[str, Any] = {"code": status, "message": message}
        if metadata:
            err["metadata"] = metadata
        if availability:
            err["availability"] = availability
        return {"error": err}

    def send_error_body(
        self,
        h: _Handler,
        status: int,
        message: str,
        *,
        metadata: dict[str, Any] | None = None,
        availability: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        body = self.error_body(status, message, metadata, availability)
        self.send_bytes(h, status, json.dumps(body).encode(), "application/json", headers)

    def send_json(
        self, h: _Handler, status: int, obj: Any, headers: dict[str, str] | None = None
    ) -> None:
        self.send_bytes(h, status, json.dumps(obj).encode(), "application/json", headers)

    def send_bytes(
        self,
        h: _Handler,
        status: int,
        data: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        content_length: int | None = None,
        close: bool = False,
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header(
            "Content-Length", str(len(data) if content_length is None else content_length)
        )
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        if close:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()

    stream_content_type = "text/event-stream"

    def stream_chunks(self, req: RecordedRequest) -> list[bytes]:
        """The normal stream of a chat request (override)."""
        return []

    def stream_error_chunks(self, req: RecordedRequest) -> list[bytes]:
        """What a stream sends when it fails half way (override)."""
        return []

    def send_stream(
        self,
        h: _Handler,
        chunks: Iterable[bytes],
        *,
        finish: bool = True,
        content_type: str | None = None,
    ) -> None:
        """Chunked transfer; ``finish=False`` closes the connection without the last chunk."""
        h.send_response(200)
        h.send_header("Content-Type", content_type or self.stream_content_type)
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        if not finish:
            h.send_header("Connection", "close")
        h.end_headers()
        hold = self._hold_after
        for n, chunk in enumerate(_nonempty(chunks), start=1):
            holding = hold is not None and n == hold
            if holding:
                # Set before the chunk goes out, so a client that sees it sees the hold.
                self._hold_after = None
                self.stream_held.set()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            h.wfile.flush()
            if holding:
                if self._wait_release_or_hangup(h):
                    self.stream_abandoned.set()
                    self.stream_held.clear()
                    h.close_connection = True
                    return
                self.stream_held.clear()
        if finish:
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
            self.stream_finished.set()
        else:
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)

    def _wait_release_or_hangup(self, h: _Handler) -> bool:
        """Wait for the release of a held stream; True when the client hung up first."""
        deadline = time.monotonic() + MAX_WAIT_S
        while time.monotonic() < deadline and not self._release.is_set():
            readable, _, _ = select.select([h.connection], [], [], 0.02)
            if readable:
                try:
                    peek = h.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    return True
                if not peek:
                    return True
        return False

    def read_data(self, relative: str) -> bytes:
        return _read_cached(self.data_dir / relative)


def _nonempty(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if chunk:
            yield chunk


_CACHE: dict[Path, bytes] = {}
_CACHE_LOCK = threading.Lock()


def _read_cached(path: Path) -> bytes:
    with _CACHE_LOCK:
        if path not in _CACHE:
            _CACHE[path] = path.read_bytes()
        return _CACHE[path]


_STATUS_FAULTS: dict[str, tuple[int, str]] = {
    UNAUTHORIZED: (401, "User not found."),
    PAYMENT_REQUIRED: (
        402,
        "Insufficient credits. This account never purchased credits or has a negative "
        "balance. Make sure your key is on the correct account or org, and if so, purchase "
        "more at https://openrouter.ai/settings/credits",
    ),
    MODERATION: (
        403,
        'openai/gpt-4o requires moderation on OpenAI. Your input was flagged for "harassment". '
        "No credits were charged.",
    ),
    NOT_FOUND: (404, "No endpoints found for nonexistent/model."),
    FREE_VARIANT_ENDED: (
        404,
        "The free variant of this model is no longer available. Use the paid variant instead.",
    ),
    PRIVACY_RESTRICTED: (
        404,
        "No endpoints found matching your data policy (Free model publication). Configure: "
        "https://openrouter.ai/settings/privacy",
    ),
    SERVER_ERROR: (500, "Internal Server Error"),
    BAD_GATEWAY: (502, "Provider returned error"),
    UNAVAILABLE: (503, "No instances available"),
}

_FAULT_METADATA: dict[str, dict[str, Any]] = {
    MODERATION: {
        "reasons": ["harassment"],
        "flagged_input": "...",
        "provider_name": "OpenAI",
        "model_slug": "openai/gpt-4o",
    },
    BAD_GATEWAY: {"provider_name": "FakeProvider", "raw": "upstream connect error"},
}

_FAULT_AVAILABILITY: dict[str, dict[str, Any]] = {
    FREE_VARIANT_ENDED: {"code": "free_variant_ended", "retryable": False},
    PRIVACY_RESTRICTED: {"code": "privacy_restricted", "retryable": False},
}


def epoch_ms(seconds_from_now: float = 0.0) -> int:
    return int((time.time() + seconds_from_now) * 1000)
