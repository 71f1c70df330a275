"""Stream framing is independent of how the bytes are split into network reads."""

from __future__ import annotations

import asyncio
import json

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from locallama_gui.sources import ChatResult, OllamaClient, OpenAICompatClient
from locallama_gui.sources.http import HttpPolicy

DELTAS = ["Hé", "llo", " wörld", " ✓", ""]


def _sse_body() -> bytes:
    parts = [b": keep-alive\n\n", b"event: message\n"]
    for piece in DELTAS:
        chunk = {"id": "c1", "model": "m", "choices": [{"delta": {"content": piece}}]}
        parts.append(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\r\n\r\n")
    done = {"id": "c1", "model": "m", "choices": [{"delta": {}, "finish_reason": "stop"}]}
    parts.append(b"data: " + json.dumps(done).encode() + b"\n\n")
    usage = {"id": "c1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
    parts.append(b"data: " + json.dumps(usage).encode() + b"\n\n")
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def _ndjson_body() -> bytes:
    lines = [
        json.dumps({"model": "m", "message": {"content": p}, "done": False}, ensure_ascii=False)
        for p in DELTAS
    ]
    lines.append(json.dumps({"model": "m", "message": {"content": ""}, "done": True}))
    return ("\n".join(lines) + "\n").encode()


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self):
        for chunk in self._chunks:
            yield chunk


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return [p for p in pieces if p]


def _run(client_factory, body: bytes, content_type: str, cuts: list[int]):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": content_type}, stream=_Chunks(_split(body, cuts))
        )

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            client = client_factory(http)
            return [item async for item in client.chat_stream("m", [])]

    return asyncio.run(go())


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_sse_split_anywhere(cuts):
    items = _run(
        lambda http: OpenAICompatClient("http://127.0.0.1:8080", http, HttpPolicy()),
        _sse_body(),
        "text/event-stream",
        cuts,
    )
    *deltas, result = items
    assert deltas == [d for d in DELTAS if d]
    assert isinstance(result, ChatResult)
    assert result.text == "".join(DELTAS)
    assert result.usage is not None and result.usage.completion_tokens == 4


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_ndjson_split_anywhere(cuts):
    items = _run(
        lambda http: OllamaClient("http://127.0.0.1:11434", http, HttpPolicy()),
        _ndjson_body(),
        "application/x-ndjson",
        cuts,
    )
    *deltas, result = items
    assert deltas == [d for d in DELTAS if d]
    assert result.text == "".join(DELTAS)
