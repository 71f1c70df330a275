"""A hung server and a refusing one, for the breaker and deadline tests.

:class:`HungServer` accepts every connection, reads what the client sends and never sends a
byte back (it holds the first byte) until it is stopped: a server stuck loading a model, a
proxy that lost its upstream, a host behind a firewall that eats the answers. It closes every
connection it accepted when it stops, so no test leaves a socket behind.

:func:`refusing_url` is a loopback address where nothing listens: connecting is refused.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading


def refusing_url() -> str:
    """``http://127.0.0.1:PORT`` of a port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


class HungServer:
    """Accepts, reads, never answers. ``url`` is its root; ``openrouter_url`` the OpenRouter
    API base on it; ``accepted`` counts the connections it took."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.accepted = 0
        self.received = bytearray()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openrouter_url(self) -> str:
        return f"{self.url}/api/v1"

    @property
    def open_connections(self) -> int:
        """Connections the client still holds open (it closes them when it gives up)."""
        with self._lock:
            return len(self._conns)

    @property
    def requests(self) -> int:
        """How many HTTP requests arrived (request lines seen), answered or not."""
        with self._lock:
            data = bytes(self.received)
        return sum(data.count(m) for m in (b"GET /", b"POST /", b"HEAD /"))

    def start(self) -> HungServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._serve, name="hung-fake", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            with self._lock:
                watched = [self._listener, *self._conns]
            try:
                readable, _, _ = select.select(watched, [], [], 0.05)
            except (OSError, ValueError):
                continue
            for sock in readable:
                if sock is self._listener:
                    with contextlib.suppress(OSError):
                        conn, _ = self._listener.accept()
                        conn.setblocking(False)
                        with self._lock:
                            self._conns.append(conn)
                            self.accepted += 1
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                with self._lock:
                    if data:
                        self.received += data
                    else:  # the client gave up: forget the connection
                        self._conns.remove(sock)
                if not data:
                    with contextlib.suppress(OSError):
                        sock.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> HungServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["HungServer", "refusing_url"]
