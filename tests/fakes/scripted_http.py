"""A scripted HTTP/1.1 server on a raw asyncio stream, for the local-server transports."""

from __future__ import annotations

import asyncio

BIG = 5 * 1024 * 1024 + 17


def _response(payload: bytes, *extra: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
        + f"content-length: {len(payload)}\r\n".encode()
        + b"".join(extra)
        + b"\r\n"
        + payload
    )


class Server:
    """A scripted HTTP/1.1 server. Paths: ``/ok`` (echoes the body, chunked or not), ``/big``
    (5 MB), ``/chunked``, ``/eof`` (a body ended by closing), ``/trunc`` (closes mid-body),
    ``/close`` (``connection: close``), ``/hang`` and ``/slowbody`` (nothing, or part of a
    body, until the client hangs up), ``/continue`` (a 100 first), ``/garbage``, ``/extra``
    (bytes after the response). Counts connections and the ones the client closed."""

    def __init__(self) -> None:
        self.connections = 0
        self.hung_up = 0
        self.hung_up_event = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @staticmethod
    async def _body(reader: asyncio.StreamReader, head: bytes) -> bytes:
        length = 0
        chunked = False
        for line in head.split(b"\r\n"):
            low = line.lower()
            if low.startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            if low.startswith(b"transfer-encoding:") and b"chunked" in low:
                chunked = True
        if not chunked:
            return await reader.readexactly(length) if length else b""
        out = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                return out
            out += data[:-2]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    self.hung_up += 1
                    self.hung_up_event.set()
                    return
                method, path = head.split(b" ", 2)[:2]
                body = await self._body(reader, head)
                path_s = path.decode()
                if path_s in ("/hang", "/slowbody"):
                    if path_s == "/slowbody":
                        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")
                        await writer.drain()
                    if not await reader.read(1):  # the client hung up mid-body
                        self.hung_up += 1
                        self.hung_up_event.set()
                    return
                if path_s == "/chunked":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                        b"5\r\nhello\r\n1\r\n,\r\n6\r\n world\r\n0\r\n\r\n"
                    )
                elif path_s == "/eof":
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nto the end")
                    await writer.drain()
                    return
                elif path_s == "/trunc":
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b")
                    await writer.drain()
                    return
                elif path_s == "/continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    await writer.drain()
                    await asyncio.sleep(0.05)  # the 100 arrives on its own
                    writer.write(_response(b"after 100"))
                elif path_s == "/garbage":
                    writer.write(b"SPDY/9 what is this\r\n\r\n")
                    await writer.drain()
                    return
                elif path_s == "/extra":
                    writer.write(_response(b"first") + b"HTTP/1.1 200 OK\r\n\r\n")
                elif path_s == "/close":
                    writer.write(_response(b"echo:" + body, b"connection: close\r\n"))
                    await writer.drain()
                    return
                elif method == b"HEAD":
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
                else:
                    payload = b"x" * BIG if path_s == "/big" else b"echo:" + body
                    writer.write(_response(payload))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
