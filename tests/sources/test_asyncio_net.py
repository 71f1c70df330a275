"""The asyncio network backend behind the local-server transport, through httpx itself."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from locallama_gui.services.live import POOL_LIMITS
from locallama_gui.sources.asyncio_net import AsyncioStream, httpcore_transport
from tests.fakes.scripted_http import BIG, Server

pytestmark = pytest.mark.asyncio


def client(**kw) -> httpx.AsyncClient:
    import ssl

    return httpx.AsyncClient(
        transport=httpcore_transport(ssl.create_default_context(), POOL_LIMITS),
        trust_env=False,
        **kw,
    )


async def test_requests_reuse_one_connection_and_bodies_arrive_whole():
    srv = Server()
    async with srv as url, client() as http:
        for n in range(20):
            r = await http.post(url + "/ok", content=f"n={n}".encode())
            assert r.status_code == 200 and r.text == f"echo:n={n}"
        big = await http.get(url + "/big")
        assert len(big.content) == BIG
        results = await asyncio.gather(*(http.post(url + "/ok", content=b"p") for _ in range(16)))
        assert all(r.text == "echo:p" for r in results)
        async with http.stream("GET", url + "/big") as r:
            got = 0
            async for chunk in r.aiter_raw():
                got += len(chunk)
        assert got == BIG
    assert 1 <= srv.connections <= 17  # kept alive: one connection, plus the concurrent ones


async def test_a_connection_the_server_closed_is_noticed_without_a_failed_request():
    srv = Server()
    async with srv as url, client() as http:
        assert (await http.get(url + "/close")).text == "echo:"
        await asyncio.sleep(0.05)  # the hang-up arrives: the idle connection is "readable"
        assert (await http.get(url + "/ok")).text == "echo:"
    assert srv.connections == 2


async def test_timeouts_and_refused_connections_are_httpx_errors():
    srv = Server()
    async with srv as url, client(timeout=httpx.Timeout(5.0, read=0.2)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(url + "/hang")
        assert (await http.get(url + "/ok")).status_code == 200  # the pool is still usable
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(dead + "/ok")


async def test_idle_readability_needs_no_system_call():
    srv = Server()
    async with srv as url, client() as http:
        await http.get(url + "/ok")
        pool = http._transport._pool  # type: ignore[attr-defined]
        (conn,) = pool.connections
        stream = conn._connection._network_stream
        assert isinstance(stream, AsyncioStream)
        assert stream.get_extra_info("is_readable") is False
        assert stream.get_extra_info("server_addr")[0] == "127.0.0.1"
        assert stream.get_extra_info("socket") is not None
