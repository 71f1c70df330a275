"""Gateway speed figures for ``locallama bench``: printed, never asserted in tests.

The gateway is served by :class:`GatewayHost` as ``locallama gateway`` serves it, over services
whose catalogue was refreshed from :class:`BenchUpstream` (a tiny llama.cpp-flavoured server
that answers at once, so what is measured is the gateway, not a model) and whose store is a
throw-away database in a temp dir. Requests name the upstream's model (a concrete id: no
routing decision) and carry the bearer token; clients are ``httpx`` with keep-alive.

The upstream and the client run in processes of their own, as llama-server and a coding tool
do, so neither takes the gateway's GIL (in a frozen app, which cannot start them, they run on
threads of this process: ``gateway_bench_client`` says which, and the figures are then worse).

* ``gateway_direct_p50_ms`` / ``_p99_ms``: sequential non-streamed requests straight to the
  upstream; ``gateway_via_p50_ms`` / ``_p99_ms``: the same through the gateway (interleaved
  with the direct ones); ``gateway_added_p50_ms`` / ``_p99_ms``: via minus direct, percentile
  by percentile.
* ``gateway_requests_per_s``: non-streamed requests through the gateway with
  :data:`IN_FLIGHT` in flight from one async client (what an evaluation harness, or an agent
  running subagents in parallel, does with ``AsyncOpenAI``).
* ``gateway_stream_ttfb_*_ms``: time to the first body byte of a streamed answer, direct and
  via (the gateway holds a role-only first chunk back until the model says something).
* ``gateway_streams_per_s``: whole streamed answers per second with :data:`STREAMS_OPEN`
  streams open at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the child processes import only what they use
    import httpx

    from locallama_gui.gateway.host import GatewayHost
    from locallama_gui.gateway.service import TrafficEvent

#: The model the bench upstream serves (a llama.cpp GGUF file name, as llama-server lists it).
UPSTREAM_MODEL = "locallama-bench-1b-q4_k_m.gguf"
#: Non-streamed requests in flight for ``gateway_requests_per_s``.
IN_FLIGHT = 16
#: Streams open at once for ``gateway_streams_per_s``.
STREAMS_OPEN = 50
CLIENT_TIMEOUT_S = 30.0
#: The longest a bench child process may take (a full run takes well under a minute).
CHILD_TIMEOUT_S = 900.0

_CREATED = 1_767_225_600
_DELTAS = ("Hello", "!", " How", " can", " I", " help", "?")
_PROMPT_TOKENS = 12
_USAGE = {
    "completion_tokens": len(_DELTAS),
    "prompt_tokens": _PROMPT_TOKENS,
    "total_tokens": _PROMPT_TOKENS + len(_DELTAS),
}
_TIMINGS = {
    "prompt_n": _PROMPT_TOKENS,
    "prompt_ms": 9.1,
    "prompt_per_token_ms": 0.76,
    "prompt_per_second": 1318.7,
    "predicted_n": len(_DELTAS),
    "predicted_ms": 61.3,
    "predicted_per_token_ms": 8.76,
    "predicted_per_second": 114.2,
}


# --- the upstream ------------------------------------------------------------------------------


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _response(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nServer: llama.cpp\r\n"
        f"Content-Type: {content_type}; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _models_body() -> bytes:
    row = {
        "id": UPSTREAM_MODEL,
        "object": "model",
        "created": _CREATED,
        "owned_by": "llamacpp",
        "aliases": [UPSTREAM_MODEL],
        "meta": {
            "vocab_type": 2,
            "n_vocab": 128256,
            "n_ctx": 8192,
            "n_ctx_train": 131072,
            "n_embd": 2048,
            "n_params": 1235814432,
            "size": 807690240,
            "ftype": 15,
        },
    }
    models = [{"name": UPSTREAM_MODEL, "model": UPSTREAM_MODEL, "type": "model"}]
    return _dumps({"models": models, "object": "list", "data": [row]})


def _completion_body() -> bytes:
    return _dumps(
        {
            "choices": [
                {
                    "finish_reason": "stop",
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(_DELTAS)},
                }
            ],
            "created": _CREATED,
            "model": UPSTREAM_MODEL,
            "system_fingerprint": "b6000-locallama-bench",
            "object": "chat.completion",
            "usage": _USAGE,
            "id": "chatcmpl-locallama-bench",
            "timings": _TIMINGS,
        }
    )


def _stream_bytes() -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> dict[str, Any]:
        return {
            "choices": [{"finish_reason": finish, "index": 0, "delta": delta}],
            "created": _CREATED,
            "id": "chatcmpl-locallama-bench",
            "model": UPSTREAM_MODEL,
            "system_fingerprint": "b6000-locallama-bench",
            "object": "chat.completion.chunk",
            **extra,
        }

    events = [chunk({"role": "assistant", "content": None}, None)]
    events += [chunk({"content": piece}, None) for piece in _DELTAS]
    events.append(chunk({}, "stop", timings=_TIMINGS))
    usage = chunk({}, None, usage=_USAGE)
    usage["choices"] = []
    events.append(usage)
    head = (
        "HTTP/1.1 200 OK\r\nServer: llama.cpp\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode("latin-1")
    parts = [head]
    for data in [*(b"data: " + _dumps(e) + b"\n\n" for e in events), b"data: [DONE]\n\n"]:
        parts.append(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


class _UpstreamProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, ``Content-Length`` bodies only: what ``httpx`` sends."""

    def __init__(self, upstream: BenchUpstream) -> None:
        self.upstream = upstream
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.upstream._transports.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.upstream._transports.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None
        buf = self.buffer
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > 65536:
                    transport.close()
                return
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            length, close = 0, False
            try:
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    elif name == "connection":
                        close = value.strip().lower() == "close"
                    elif name == "transfer-encoding":
                        raise ValueError("chunked request bodies are not read")
                if len(parts) != 3 or length < 0:
                    raise ValueError("bad request line")
            except ValueError:
                transport.write(_response("400 Bad Request", b'{"error":"bad request"}'))
                transport.close()
                return
            total = end + 4 + length
            if len(buf) < total:
                return
            body = bytes(buf[end + 4 : total])
            del buf[:total]
            transport.write(self.upstream.answer(parts[0], parts[1].split("?", 1)[0], body))
            if close:
                transport.close()
                return


class BenchUpstream:
    """A llama.cpp-flavoured OpenAI-compatible server on loopback, on its own thread: answers
    ``GET /v1/models``, ``GET /health`` and ``POST /v1/chat/completions`` (one fixed completion,
    or SSE chunks when ``stream`` is true) at once."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.chat_requests = 0
        self._transports: set[asyncio.Transport] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._models = _response("200 OK", _models_body())
        self._health = _response("200 OK", b'{"status":"ok"}')
        self._completion = _response("200 OK", _completion_body())
        self._stream = _stream_bytes()
        self._not_found = _response("404 Not Found", b'{"error":"not found"}')
        self._bad_body = _response("400 Bad Request", b'{"error":"the body is not JSON"}')

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def answer(self, method: str, path: str, body: bytes) -> bytes:
        if method == "POST" and path == "/v1/chat/completions":
            try:
                request = json.loads(body)
            except ValueError:
                return self._bad_body
            self.chat_requests += 1
            if isinstance(request, dict) and request.get("stream") is True:
                return self._stream
            return self._completion
        if method == "GET" and path == "/v1/models":
            return self._models
        if method == "GET" and path == "/health":
            return self._health
        return self._not_found

    def start(self, timeout_s: float = 5.0) -> None:
        self._thread = threading.Thread(target=self._serve, name="bench-upstream", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            self.stop()
            raise RuntimeError(f"the bench upstream did not start: {self._error or 'timeout'}")

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                loop.create_server(lambda: _UpstreamProtocol(self), self.host, 0)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as e:  # reported by start()
            self._error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for transport in list(self._transports):
                transport.close()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    def stop(self, timeout_s: float = 5.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout_s)
        self._thread = None
        self._loop = None

    def __enter__(self) -> BenchUpstream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- measuring (in the client's process) -------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _body(stream: bool) -> bytes:
    return _dumps(
        {
            "model": UPSTREAM_MODEL,
            "messages": [{"role": "user", "content": "Say hello"}],
            "max_tokens": 16,
            "stream": stream,
        }
    )


def _check(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise RuntimeError(
            f"the bench request failed: HTTP {response.status_code} {response.text[:300]}"
        )


def _post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> float:
    t0 = time.perf_counter()
    response = client.post(url, content=body, headers=headers)
    elapsed = time.perf_counter() - t0
    _check(response)
    return elapsed


def _first_byte(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> float:
    """Seconds to the first byte of the body; the stream is then read to its end."""
    t0 = time.perf_counter()
    first = None
    with client.stream("POST", url, content=body, headers=headers) as response:
        if response.status_code != 200:
            response.read()
            _check(response)
        for data in response.iter_raw():
            if data and first is None:
                first = time.perf_counter() - t0
    if first is None:
        raise RuntimeError("the bench stream sent no body")
    return first


def _rate(
    url: str, body: bytes, headers: dict[str, str], total: int, in_flight: int, stream: bool
) -> float:
    """Requests per second with ``in_flight`` open at once from one async client, after one
    request on each connection (run on a loop of its own: a caller's loop is never in the way).
    Sends ``total + in_flight`` requests."""
    import httpx

    async def measure() -> float:
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        async with httpx.AsyncClient(
            timeout=CLIENT_TIMEOUT_S, limits=limits, trust_env=False
        ) as client:

            async def one() -> None:
                if not stream:
                    _check(await client.post(url, content=body, headers=headers))
                    return
                async with client.stream("POST", url, content=body, headers=headers) as response:
                    async for _ in response.aiter_raw():
                        pass
                    if response.status_code != 200:
                        raise RuntimeError(f"the bench stream failed: {response.status_code}")

            await asyncio.gather(*(one() for _ in range(in_flight)))  # open every connection
            left = total

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    await one()

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(in_flight)))
            return total / (time.perf_counter() - t0)

    out: list[float] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(asyncio.run(measure()))
        except BaseException as e:  # re-raised on the caller's thread
            errors.append(e)

    thread = threading.Thread(target=run, name="bench-client")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


def _counts(quick: bool) -> dict[str, int]:
    if quick:
        return {"warmup": 10, "sequential": 60, "ttfb": 15, "rate": 150, "streams": STREAMS_OPEN}
    return {"warmup": 100, "sequential": 1000, "ttfb": 200, "rate": 2000, "streams": 500}


def measure(
    job: dict[str, Any], progress: Callable[[str], None] | None = None
) -> dict[str, float | int]:
    """Every client-side figure: ``job`` names the URLs, the token and ``quick``."""
    import httpx

    n = _counts(bool(job["quick"]))
    say = progress or (lambda _msg: None)
    direct_url = job["upstream"] + "/v1/chat/completions"
    via_url = job["gateway"] + "/v1/chat/completions"
    plain = {"content-type": "application/json", "user-agent": "locallama-bench"}
    auth = {**plain, "authorization": f"Bearer {job['token']}"}
    body, stream_body = _body(False), _body(True)
    sent = 0
    direct: list[float] = []
    via: list[float] = []
    ttfb_direct: list[float] = []
    ttfb_via: list[float] = []

    say("gateway: added latency (non-streamed, one request at a time)")
    with (
        httpx.Client(timeout=CLIENT_TIMEOUT_S, trust_env=False) as to_upstream,
        httpx.Client(timeout=CLIENT_TIMEOUT_S, trust_env=False) as to_gateway,
    ):
        for k in range(n["warmup"] + n["sequential"]):
            d = _post(to_upstream, direct_url, body, plain)
            v = _post(to_gateway, via_url, body, auth)
            if k >= n["warmup"]:
                direct.append(d)
                via.append(v)
        sent += n["warmup"] + n["sequential"]

        say("gateway: time to the first byte of a stream")
        skip = n["warmup"] // 4
        for k in range(skip + n["ttfb"]):
            d = _first_byte(to_upstream, direct_url, stream_body, plain)
            v = _first_byte(to_gateway, via_url, stream_body, auth)
            if k >= skip:
                ttfb_direct.append(d)
                ttfb_via.append(v)
        sent += skip + n["ttfb"]

    say(f"gateway: requests per second ({IN_FLIGHT} in flight)")
    rate = _rate(via_url, body, auth, n["rate"], IN_FLIGHT, stream=False)
    sent += n["rate"] + IN_FLIGHT

    say(f"gateway: streams per second ({STREAMS_OPEN} open at once)")
    streams = _rate(via_url, stream_body, auth, n["streams"], STREAMS_OPEN, stream=True)
    sent += n["streams"] + STREAMS_OPEN

    d50, d99 = _percentile(direct, 0.50), _percentile(direct, 0.99)
    v50, v99 = _percentile(via, 0.50), _percentile(via, 0.99)
    t_d50, t_v50 = _percentile(ttfb_direct, 0.50), _percentile(ttfb_via, 0.50)
    return {
        "gateway_requests_sent": sent,
        "gateway_direct_p50_ms": _ms(d50),
        "gateway_direct_p99_ms": _ms(d99),
        "gateway_via_p50_ms": _ms(v50),
        "gateway_via_p99_ms": _ms(v99),
        "gateway_added_p50_ms": _ms(v50 - d50),
        "gateway_added_p99_ms": _ms(v99 - d99),
        "gateway_requests_per_s": round(rate, 1),
        "gateway_stream_ttfb_direct_p50_ms": _ms(t_d50),
        "gateway_stream_ttfb_via_p50_ms": _ms(t_v50),
        "gateway_stream_ttfb_added_ms": _ms(t_v50 - t_d50),
        "gateway_streams_per_s": round(streams, 1),
    }


# --- the processes ---------------------------------------------------------------------------


def _can_spawn() -> bool:
    """A frozen app's executable is the app, not Python: it cannot run this module."""
    return not getattr(sys, "frozen", False)


def _child(role: str, stderr: Any) -> subprocess.Popen[str]:
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", __name__, role],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        encoding="utf-8",
        env=env,
    )


def _stop(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(OSError):
        if proc.stdin is not None:
            proc.stdin.close()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()


def _failed(what: str, stderr: Any) -> RuntimeError:
    stderr.seek(0)
    err = stderr.read().decode("utf-8", "replace")[-2000:].strip()
    return RuntimeError(f"the bench {what} process failed" + (f": {err}" if err else ""))


@contextlib.contextmanager
def _upstream(separate: bool) -> Iterator[str]:
    """The upstream's URL, served by a process of its own (or a thread of this one)."""
    if not separate:
        with BenchUpstream() as up:
            yield up.url
        return
    with tempfile.TemporaryFile() as stderr:
        proc = _child("upstream", stderr)
        # a child that hangs before it says its port is killed, which ends the read
        watchdog = threading.Timer(CLIENT_TIMEOUT_S, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            try:
                port = int(json.loads(proc.stdout.readline())["port"])
            except (ValueError, KeyError, TypeError):
                proc.kill()
                proc.wait(5)
                raise _failed("upstream", stderr) from None
            finally:
                watchdog.cancel()
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(proc)


def _client(
    job: dict[str, Any], separate: bool, progress: Callable[[str], None] | None
) -> dict[str, float | int]:
    """The client's figures, measured in a process of its own (or on this thread). The child
    writes one JSON object a line: progress messages, then the figures."""
    if not separate:
        return measure(job, progress)
    result: dict[str, float | int] | None = None
    with tempfile.TemporaryFile() as stderr:
        proc = _child("client", stderr)
        watchdog = threading.Timer(CHILD_TIMEOUT_S, proc.kill)
        watchdog.start()
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(job))
            proc.stdin.close()
            for line in proc.stdout:
                with contextlib.suppress(ValueError):
                    message = json.loads(line)
                    if "progress" in message and progress is not None:
                        progress(str(message["progress"]))
                    elif "figures" in message:
                        result = message["figures"]
            proc.wait(CLIENT_TIMEOUT_S)
        finally:
            watchdog.cancel()
            _stop(proc)
        if proc.returncode != 0 or result is None:
            raise _failed("client", stderr)
    return result


def _main(argv: list[str]) -> int:
    role = argv[0] if argv else ""
    if role == "upstream":  # serve until the parent closes stdin
        with BenchUpstream() as up:
            print(json.dumps({"port": up.port}), flush=True)
            sys.stdin.read()
        return 0
    if role == "client":  # one job on stdin; progress, then its figures, on stdout

        def say(message: str) -> None:
            print(json.dumps({"progress": message}), flush=True)

        job = json.loads(sys.stdin.read())
        figures = measure(job, say if job.get("progress") else None)
        print(json.dumps({"figures": figures}), flush=True)
        return 0
    print("usage: python -m locallama_gui.gateway.bench upstream|client", file=sys.stderr)
    return 2


# --- the gateway (in this process) -------------------------------------------------------------


class _Counter:
    """Requests the gateway reported, by status (its listener runs on the gateway's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ok = 0
        self.failed = 0

    def __call__(self, event: TrafficEvent) -> None:
        with self._lock:
            if event.status == 200:
                self.ok += 1
            else:
                self.failed += 1

    def wait_for(self, count: int, timeout_s: float = 5.0) -> None:
        """A stream is reported after its last byte was sent: wait for the stragglers."""
        deadline = time.monotonic() + timeout_s
        while self.ok + self.failed < count and time.monotonic() < deadline:
            time.sleep(0.005)


@contextlib.contextmanager
def _bench_gateway(upstream_url: str, token: str) -> Iterator[GatewayHost]:
    """A started gateway over services refreshed from the upstream, a store in a temp dir."""
    from locallama_gui.core.models import Source
    from locallama_gui.core.settings import Settings
    from locallama_gui.gateway.host import GatewayHost
    from locallama_gui.gateway.service import Gateway
    from locallama_gui.services.facade import Services
    from locallama_gui.services.live import Endpoint, LiveServices
    from locallama_gui.services.refresh import RefreshService
    from locallama_gui.store.db import Store

    with tempfile.TemporaryDirectory(prefix="locallama-gateway-bench-") as tmp:
        store = Store(Path(tmp) / "bench.sqlite")
        try:
            services = Services(settings=Settings(), store=store)
            endpoints = [Endpoint(Source.OPENAI_COMPAT, upstream_url + "/v1")]

            async def refresh() -> None:
                async with LiveServices(services, endpoints=endpoints) as live:
                    await RefreshService(live).refresh()

            asyncio.run(refresh())
            services.find_model(UPSTREAM_MODEL)  # raises if the catalogue did not learn it
            host = GatewayHost(Gateway(services, token=token, endpoints=endpoints))
            host.start()
            try:
                yield host
            finally:
                host.stop()
        finally:
            store.close()


def run_gateway_bench(
    quick: bool = False, progress: Callable[[str], None] | None = None
) -> dict[str, float | int | str]:
    """The gateway's figures (see the module's docstring); ``quick`` sends fewer requests;
    ``progress`` is told what is being measured."""
    separate = _can_spawn()
    token = "llr-bench-" + os.urandom(12).hex()
    counter = _Counter()
    if progress is not None:
        progress("gateway: starting the upstream and the gateway")
    with _upstream(separate) as upstream_url, _bench_gateway(upstream_url, token) as host:
        host.gateway.subscribe(counter)
        job = {
            "upstream": upstream_url,
            "gateway": host.url,
            "token": token,
            "quick": quick,
            "progress": progress is not None,
        }
        figures = _client(job, separate, progress)
        counter.wait_for(int(figures["gateway_requests_sent"]))
        host.gateway.unsubscribe(counter)
    return {
        "gateway_bench_client": "separate processes" if separate else "threads of this process",
        "gateway_http_parser": "httptools" if importlib.util.find_spec("httptools") else "h11",
        **figures,
        "gateway_requests_served": counter.ok,
        "gateway_requests_failed": counter.failed,
    }


__all__ = [
    "IN_FLIGHT",
    "STREAMS_OPEN",
    "UPSTREAM_MODEL",
    "BenchUpstream",
    "measure",
    "run_gateway_bench",
]


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
