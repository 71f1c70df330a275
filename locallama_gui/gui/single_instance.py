"""One running app per user and data root: a second launch hands its arguments over and exits.

The first instance listens on a ``QLocalServer`` whose name is derived from the user and
``LOCALLAMA_HOME`` (so tests and portable installs never meet each other). A later launch
connects, sends its arguments as one JSON line, waits for ``ok`` and exits; the running app
then opens the quick router (``--quick``) or shows its window. A socket left behind by an app
that crashed answers nobody: it is removed and the new launch becomes the first instance.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

from locallama_gui.store.paths import home_root

log = logging.getLogger(__name__)

PREFIX = "locallama-router"
TIMEOUT_MS = 1500
MAX_MESSAGE_BYTES = 64 * 1024
ACK = b"ok\n"


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): fall back to the uid or nothing
        return str(getattr(os, "getuid", lambda: "")())


def server_name(home: str | Path | None = None, user: str | None = None) -> str:
    """The local server's name for this user and data root (``LOCALLAMA_HOME`` or default)."""
    root: Path | None = Path(home) if home is not None else home_root()
    where = str(root.expanduser().resolve()) if root is not None else ""
    who = user if user is not None else _user()
    digest = hashlib.sha256(f"{who}\0{where}".encode()).hexdigest()[:16]
    return f"{PREFIX}-{digest}"


def encode_message(argv: Sequence[str]) -> bytes:
    return json.dumps({"argv": [str(a) for a in argv]}).encode("utf-8") + b"\n"


def decode_message(data: bytes) -> list[str] | None:
    """The arguments in one message, or None when it is not one of ours."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    argv = obj.get("argv") if isinstance(obj, dict) else None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return None
    return argv


class SingleInstance(QObject):
    """The guard. ``start(argv)`` is True in the first instance (now listening) and False when
    a running instance took ``argv`` (exit then). ``message_received`` carries what later
    launches sent."""

    message_received = Signal(list)  # argv of another launch

    def __init__(
        self, name: str | None = None, parent: QObject | None = None, timeout_ms: int = TIMEOUT_MS
    ) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self.timeout_ms = timeout_ms
        self.server: QLocalServer | None = None
        self._buffers: dict[QLocalSocket, bytearray] = {}

    @property
    def listening(self) -> bool:
        return self.server is not None and self.server.isListening()

    def start(self, argv: Sequence[str]) -> bool:
        """Hand ``argv`` to a running instance (False), or become the first one (True)."""
        if self.hand_over(argv):
            return False
        if self.listen():
            return True
        # Someone started listening meanwhile, or a socket was left behind.
        if self.hand_over(argv):
            return False
        log.info("single instance: removing a stale socket %s", self.name)
        QLocalServer.removeServer(self.name)
        if not self.listen():
            log.warning(
                "single instance: cannot listen on %s; running without the guard", self.name
            )
        return True

    def hand_over(self, argv: Sequence[str]) -> bool:
        """Send ``argv`` to the running instance; True once it acknowledged them."""
        sock = QLocalSocket()
        sock.connectToServer(self.name)
        if not sock.waitForConnected(self.timeout_ms):
            return False
        try:
            sock.write(encode_message(argv))
            if not sock.waitForBytesWritten(self.timeout_ms):
                return False
            reply = bytearray()
            while b"\n" not in reply and sock.waitForReadyRead(self.timeout_ms):
                reply += bytes(sock.readAll().data())
            ok = bytes(reply).startswith(ACK)
            if ok:
                log.info("single instance: handed %s to the running app", list(argv))
            return ok
        finally:
            sock.disconnectFromServer()
            if sock.state() != QLocalSocket.LocalSocketState.UnconnectedState:
                sock.waitForDisconnected(self.timeout_ms)

    def listen(self) -> bool:
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            if server.serverError() != QAbstractSocket.SocketError.AddressInUseError:
                log.warning("single instance: %s", server.errorString())
            server.deleteLater()
            return False
        server.newConnection.connect(self._on_connection)
        self.server = server
        log.info("single instance: listening on %s", self.name)
        return True

    def close(self) -> None:
        if self.server is not None:
            self.server.close()  # removes the socket file
            self.server = None

    # --- the server side ----------------------------------------------------------------------

    def _on_connection(self) -> None:
        server = self.server
        while server is not None and server.hasPendingConnections():
            sock = server.nextPendingConnection()
            if sock is None:
                break
            self._buffers[sock] = bytearray()
            sock.readyRead.connect(lambda s=sock: self._on_ready_read(s))
            sock.disconnected.connect(lambda s=sock: self._drop(s))
            # A client that never finishes its message is dropped.
            QTimer.singleShot(self.timeout_ms * 4, sock, lambda s=sock: self._drop(s, abort=True))
            if sock.bytesAvailable():
                self._on_ready_read(sock)

    def _on_ready_read(self, sock: QLocalSocket) -> None:
        buf = self._buffers.get(sock)
        if buf is None:
            return
        buf += bytes(sock.readAll().data())
        if len(buf) > MAX_MESSAGE_BYTES:
            log.warning("single instance: message too long, ignored")
            self._drop(sock, abort=True)
            return
        if b"\n" not in buf:
            return
        line = bytes(buf).split(b"\n", 1)[0]
        argv = decode_message(line)
        if argv is None:
            log.warning("single instance: an unreadable message was ignored")
            sock.write(b"error\n")
        else:
            sock.write(ACK)
        sock.flush()
        self._buffers[sock] = bytearray()
        if argv is not None:
            self.message_received.emit(argv)

    def _drop(self, sock: QLocalSocket, abort: bool = False) -> None:
        if self._buffers.pop(sock, None) is None:
            return
        if abort:
            sock.abort()
        sock.deleteLater()


__all__ = ["SingleInstance", "decode_message", "encode_message", "server_name"]
