"""The lean HTTP/1.1 transport (httptools) behind the local servers, through httpx itself."""

from __future__ import annotations

import asyncio
import socket
import ssl

import httpx
import pytest

from locallama_gui.services.live import POOL_LIMITS
from locallama_gui.sources import http1
from locallama_gui.sources.asyncio_net import direct_transport
from locallama_gui.sources.http1 import LeanTransport
from tests.fakes.scripted_http import BIG, Server

pytestmark = pytest.mark.asyncio


def client(limits: httpx.Limits = POOL_LIMITS, **kw) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=direct_transport(ssl.create_default_context(), limits),
        trust_env=False,
        **kw,
    )


async def test_the_local_servers_transport_is_the_lean_one():
    assert http1.available()
    assert isinstance(direct_transport(ssl.create_default_context(), POOL_LIMITS), LeanTransport)


async def test_requests_reuse_one_connection_and_bodies_arrive_whole():
    srv = Server()
    async with srv as url, client() as http:
        for n in range(20):
            r = await http.post(url + "/ok", content=f"n={n}".encode())
            assert r.status_code == 200 and r.text == f"echo:n={n}"
            assert r.http_version == "HTTP/1.1" and r.reason_phrase == "OK"
        big = await http.get(url + "/big")
        assert len(big.content) == BIG
        results = await asyncio.gather(*(http.post(url + "/ok", content=b"p") for _ in range(16)))
        assert all(r.text == "echo:p" for r in results)
        async with http.stream("GET", url + "/big") as r:
            got = 0
            async for chunk in r.aiter_raw():
                got += len(chunk)
        assert got == BIG
        r = await http.post(url + "/ok", json={"a": [1, 2]})
        assert r.text == 'echo:{"a":[1,2]}'
    assert 1 <= srv.connections <= 17  # kept alive: one connection, plus the concurrent ones


async def test_chunked_end_of_stream_and_informational_responses_are_read_whole():
    srv = Server()
    async with srv as url, client() as http:
        assert (await http.get(url + "/chunked")).text == "hello, world"
        assert (await http.get(url + "/continue")).text == "after 100"
        assert (await http.get(url + "/eof")).text == "to the end"
        assert (await http.get(url + "/ok")).text == "echo:"  # a new connection after /eof


async def test_a_streamed_request_body_is_sent_chunked():
    async def parts():
        for piece in (b"one ", b"", b"two ", b"three"):
            yield piece

    srv = Server()
    async with srv as url, client() as http:
        r = await http.post(url + "/ok", content=parts())
        assert r.text == "echo:one two three"
        assert (await http.post(url + "/ok", content=b"again")).text == "echo:again"
    assert srv.connections == 1


async def test_broken_responses_are_httpx_protocol_errors_and_cost_only_their_connection():
    srv = Server()
    async with srv as url, client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(url + "/trunc")
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(url + "/garbage")
        assert (await http.get(url + "/extra")).text == "first"
        # bytes nobody asked for: that connection is never handed out again
        assert (await http.get(url + "/ok")).text == "echo:"
    assert srv.connections == 4


async def test_a_connection_the_server_closed_is_never_reused():
    srv = Server()
    async with srv as url, client() as http:
        assert (await http.get(url + "/close")).text == "echo:"
        assert (await http.get(url + "/ok")).text == "echo:"
        pool = next(iter(http._transport._pools.values()))  # type: ignore[attr-defined]
        assert pool.open == 1
    assert srv.connections == 2


async def test_timeouts_and_refused_connections_are_httpx_errors():
    srv = Server()
    async with srv as url, client(timeout=httpx.Timeout(5.0, read=0.2)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(url + "/hang")
        with pytest.raises(httpx.ReadTimeout):
            await http.get(url + "/slowbody")
        assert (await http.get(url + "/ok")).status_code == 200  # the pool is still usable
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(dead + "/ok")


async def test_closing_a_response_before_its_end_hangs_up_on_the_server():
    srv = Server()
    async with srv as url, client() as http:
        async with http.stream("GET", url + "/slowbody") as r:
            async for chunk in r.aiter_raw():
                assert chunk == b"0123456789"
                break
        await asyncio.wait_for(srv.hung_up_event.wait(), 5)
        assert srv.hung_up == 1
        assert (await http.get(url + "/ok")).text == "echo:"
    assert srv.connections == 2


async def test_cancelling_a_request_hangs_up_and_frees_its_slot():
    srv = Server()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with srv as url, client(limits) as http:
        task = asyncio.create_task(http.get(url + "/hang"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(srv.hung_up_event.wait(), 5)
        assert (await http.get(url + "/ok")).text == "echo:"


async def test_the_connection_limit_queues_requests_and_times_out_the_pool_wait():
    srv = Server()
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    async with srv as url, client(limits) as http:
        results = await asyncio.gather(*(http.post(url + "/ok", content=b"q") for _ in range(12)))
        assert [r.text for r in results] == ["echo:q"] * 12
        assert srv.connections <= 2
        hung = [asyncio.create_task(http.get(url + "/hang")) for _ in range(2)]
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout):
            await http.get(url + "/ok", timeout=httpx.Timeout(5.0, pool=0.2))
        for task in hung:
            task.cancel()
        await asyncio.gather(*hung, return_exceptions=True)
        assert (await http.get(url + "/ok")).text == "echo:"


async def test_an_idle_connection_past_its_keep_alive_expiry_is_not_reused():
    srv = Server()
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=10, keepalive_expiry=0.05)
    async with srv as url, client(limits) as http:
        await http.get(url + "/ok")
        await http.get(url + "/ok")
        assert srv.connections == 1
        await asyncio.sleep(0.15)
        await http.get(url + "/ok")
    assert srv.connections == 2


async def test_reading_pauses_while_a_big_body_waits_unread():
    srv = Server()
    async with srv as url, client() as http:
        async with http.stream("GET", url + "/big") as r:
            await asyncio.sleep(0.3)  # the server sends all it can; nobody reads
            conn = r.stream._stream._conn  # type: ignore[attr-defined]
            assert conn.paused_reading
            assert conn.buffered <= http1.HIGH_WATER + 256 * 1024
            body = b"".join([chunk async for chunk in r.aiter_raw()])
        assert body == b"x" * BIG


async def test_closing_the_transport_closes_idle_connections():
    srv = Server()
    async with srv as url:
        http = client()
        await http.get(url + "/ok")
        await http.aclose()
        await asyncio.wait_for(srv.hung_up_event.wait(), 5)
    assert srv.hung_up == 1


async def test_head_https_and_upgrades_go_to_the_fallback_transport():
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.scheme}")
        return httpx.Response(200, text="fallback")

    transport = LeanTransport(httpx.MockTransport(handler), POOL_LIMITS)
    srv = Server()
    async with srv as url, httpx.AsyncClient(transport=transport) as http:
        assert (await http.head(url + "/ok")).text == "fallback"
        assert (await http.get("https://example.invalid/x")).text == "fallback"
        assert (await http.get(url + "/ok", headers={"upgrade": "websocket"})).text == "fallback"
        assert (await http.get(url + "/ok")).text == "echo:"
    assert seen == ["HEAD http", "GET https", "GET http"]
    assert srv.connections == 1
