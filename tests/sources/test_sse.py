"""Server-Sent Events framing: the line splitter (``http.LineSplitter``, under
``StreamLines.lines``) and the event parser (``openai_format.sse_data``) on the shapes real
servers send and the ones the spec allows.

The project parses SSE itself rather than with httpx-sse; the measured reasons are next to
``sse_data``. Several cases here are where httpx-sse 0.4 behaves differently (a last event
without its blank line, ``retry:``/``id:``-only blocks, a byte-order mark, a huge line)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locallama_gui.core.models import Usage
from locallama_gui.sources import (
    BadResponse,
    ChatResult,
    OpenAICompatClient,
    OpenRouterClient,
    ProviderDown,
    ResponseTooLarge,
)
from locallama_gui.sources.http import HttpClient, HttpPolicy, LineSplitter
from locallama_gui.sources.openai_format import sse_data

MSG = [{"role": "user", "content": "Say hello"}]
#: The real OpenRouter completion in shared/data (see its SOURCES.md).
CAPTURE = Path("openrouter") / "chat-completion-2025-05-21.json"


class _Reads(httpx.AsyncByteStream):
    def __init__(self, reads: list[bytes]) -> None:
        self._reads = reads

    async def __aiter__(self):
        for read in self._reads:
            yield read


def _reads(body: bytes, size: int | None) -> list[bytes]:
    if size is None:
        return [body]
    return [body[i : i + size] for i in range(0, len(body), size)]


def _transport(body: bytes, size: int | None = None, content_type: str = "text/event-stream"):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": content_type}, stream=_Reads(_reads(body, size))
        )

    return httpx.MockTransport(handler)


def _compat_stream(body: bytes, size: int | None = None, policy: HttpPolicy | None = None):
    async def go():
        async with httpx.AsyncClient(transport=_transport(body, size)) as http:
            client = OpenAICompatClient("http://127.0.0.1:8080", http, policy or HttpPolicy())
            return [item async for item in client.chat_stream("m", MSG)]

    return asyncio.run(go())


def _chunk(content: str | None = None, finish: str | None = None, **extra) -> dict:
    delta = {} if content is None else {"content": content}
    return {
        "id": "c1",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def _data(obj: dict) -> str:
    return "data: " + json.dumps(obj, separators=(",", ":"))


HELLO = _data(_chunk("Hel"))
LO = _data(_chunk("lo"))
STOP = _data(_chunk(finish="stop", usage={"prompt_tokens": 3, "completion_tokens": 2}))


def _text(items) -> str:
    *deltas, result = items
    assert isinstance(result, ChatResult)
    assert "".join(deltas) == result.text
    return result.text


# --------------------------------------------------------------------------- a real capture


def _openrouter_body(capture: dict, newline: str) -> bytes:
    """The captured completion as OpenRouter streams it: a chunk per word, keep-alive
    comments between them, usage in the last chunk, then ``[DONE]``."""
    choice = capture["choices"][0]
    words = re.findall(r"\S+\s*", choice["message"]["content"])
    head = {k: capture[k] for k in ("id", "provider", "model", "created")}
    events = [": OPENROUTER PROCESSING"]
    for i, word in enumerate(words):
        delta = {"role": "assistant", "content": word}
        chunk = {
            **head,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}],
        }
        events.append(_data(chunk))
        if i % 2:
            events.append(": OPENROUTER PROCESSING")
    last = {
        **head,
        "object": "chat.completion.chunk",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": ""},
                "finish_reason": choice["finish_reason"],
                "native_finish_reason": choice["native_finish_reason"],
            }
        ],
        "usage": capture["usage"],
    }
    events += [_data(last), "data: [DONE]"]
    return "".join(e + newline * 2 for e in events).encode()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("size", [None, 1, 7, 64])
def test_a_captured_completion_streamed_openrouter_style(data_dir, fake_api_key, newline, size):
    capture = json.loads((data_dir / CAPTURE).read_text(encoding="utf-8"))
    body = _openrouter_body(capture, newline)

    async def go():
        async with httpx.AsyncClient(transport=_transport(body, size)) as http:
            client = OpenRouterClient("https://openrouter.ai/api/v1", http, HttpPolicy())
            stream = client.chat_stream(fake_api_key, capture["model"], MSG)
            return [item async for item in stream]

    items = asyncio.run(go())
    result = items[-1]
    assert _text(items) == capture["choices"][0]["message"]["content"]
    assert result.request_id == capture["id"]
    assert result.provider == capture["provider"]
    assert result.model_used == capture["model"]
    assert result.finish_reason == "stop"
    assert result.usage == Usage(prompt_tokens=20, completion_tokens=9)


# --------------------------------------------------------------------------- edge cases

CASES = {
    "lf": f"{HELLO}\n\n{LO}\n\n{STOP}\n\ndata: [DONE]\n\n",
    "crlf": f"{HELLO}\r\n\r\n{LO}\r\n\r\n{STOP}\r\n\r\ndata: [DONE]\r\n\r\n",
    "lone cr": f"{HELLO}\r\r{LO}\r\r{STOP}\r\rdata: [DONE]\r\r",
    "mixed endings": f"{HELLO}\r\n\n{LO}\r\r\n{STOP}\n\rdata: [DONE]\r\n\r\n",
    "data: without a space": f"{HELLO.replace('data: ', 'data:')}\n\n{LO}\n\n{STOP}\n\n",
    "multi-line data": (
        'data: {"id":"c1","model":"m",\ndata: "choices":[{"delta":{"content":"Hel"}}]}\n\n'
        f"{LO}\n\n{STOP}\n\n"
    ),
    "event and id fields": (
        f"event: message\nid: 1\n{HELLO}\n\nevent: message\nid: 2\n{LO}\n\n{STOP}\n\n"
    ),
    "comments": (
        f": OPENROUTER PROCESSING\n\n{HELLO}\n\n: keep-alive\n{LO}\n: inside\n\n{STOP}\n\n"
    ),
    "retry, id and event alone": (
        f"retry: 3000\n\n{HELLO}\n\nid: 7\n\nevent: ping\n\n{LO}\n\nretry: x\n\n{STOP}\n\n"
    ),
    "no blank line after [DONE]": f"{HELLO}\n\n{LO}\n\n{STOP}\n\ndata: [DONE]",
    "no line ending after [DONE]'s line": f"{HELLO}\n\n{LO}\n\n{STOP}\n\ndata: [DONE]\n",
    "no blank line after the last chunk": f"{HELLO}\n\n{LO}\n\n{STOP}",
    "byte-order mark": f"\ufeff{HELLO}\n\n{LO}\n\n{STOP}\n\ndata: [DONE]\n\n",
}


@pytest.mark.parametrize("size", [None, 1, 3, 16])
@pytest.mark.parametrize("case", list(CASES))
def test_sse_edge_cases(case, size):
    items = _compat_stream(CASES[case].encode(), size)
    assert _text(items) == "Hello"
    assert items[-1].usage == Usage(prompt_tokens=3, completion_tokens=2)


def test_multi_line_data_is_joined_with_a_newline():
    async def go(text: str) -> list[str]:
        async def lines():
            for line in text.split("\n"):
                yield line

        return [payload async for payload in sse_data(lines())]

    assert asyncio.run(go("data: a\ndata:b\ndata:  c\n\ndata\n\n")) == ["a\nb\n c", ""]


def test_an_error_as_the_last_event_without_its_blank_line_is_still_raised():
    error = {"error": {"code": 502, "message": "Provider disconnected unexpectedly"}}
    body = f"{HELLO}\n\n{_data(error)}".encode()
    with pytest.raises(ProviderDown, match="Provider disconnected"):
        _compat_stream(body)


def test_a_stream_cut_before_the_finish_is_truncated_whatever_the_line_endings():
    with pytest.raises(BadResponse) as info:
        _compat_stream(f"{HELLO}\r\r{LO}\r".encode(), 2)
    assert info.value.code == "truncated"


# --------------------------------------------------------------------------- the line splitter


def _split_all(reads: list[bytes]) -> list[bytes]:
    splitter = LineSplitter()
    out = [line for read in reads for line in splitter.feed(read)]
    return out + splitter.end()


def _reference_lines(body: bytes) -> list[bytes]:
    body = body.removeprefix(b"\xef\xbb\xbf")
    lines = re.split(rb"\r\n|\r|\n", body)
    if lines[-1] == b"":
        lines.pop()  # the last line ending ends a line, it does not start one
    return lines


@settings(max_examples=200, deadline=None)
@given(
    body=st.lists(
        st.sampled_from([b"\r", b"\n", b"\r\n", b"a", b"data: x", b":", b"\xef\xbb\xbf", b"\xc3"]),
        max_size=30,
    ).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=8),
)
def test_the_lines_do_not_depend_on_how_the_body_is_read(body, cuts):
    points = sorted({c % (len(body) + 1) for c in cuts})
    reads = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
    assert _split_all(reads) == _reference_lines(body)


def test_a_crlf_cut_between_reads_is_one_line_ending():
    assert _split_all([b"data: a\r", b"\n\r", b"\ndata: b\r"]) == [b"data: a", b"", b"data: b"]


def test_only_an_opening_byte_order_mark_is_dropped():
    bom = b"\xef\xbb\xbf"
    assert _split_all([bom[:1], bom[1:] + b"a\n" + bom + b"b"]) == [b"a", bom + b"b"]


def test_an_unterminated_line_is_kept_until_the_end():
    splitter = LineSplitter()
    assert [splitter.feed(b"x" * 10) for _ in range(3)] == [[], [], []]
    assert splitter.end() == [b"x" * 30]
    assert splitter.end() == []


# --------------------------------------------------------------------------- huge lines


def _lines_of(body_reads: list[bytes], policy: HttpPolicy) -> list[int]:
    async def go():
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(
                lambda request: httpx.Response(
                    200,
                    headers={"content-type": "text/event-stream"},
                    stream=_Reads(body_reads),
                )
            )
        ) as http:
            client = HttpClient("http://127.0.0.1:8080", http, policy)
            async with client.stream("POST", "/v1/chat/completions", json_body={}) as s:
                return [len(line) async for line in s.lines()]

    return asyncio.run(go())


def test_a_huge_line_costs_time_in_proportion_to_its_size():
    # 16 MiB in 8 KiB reads: growing and rescanning one buffer took seconds, pieces take ms
    reads = [b"data: "] + [bytes(8192) for _ in range(2048)] + [b"\n\n"]
    started = time.perf_counter()
    assert _lines_of(reads, HttpPolicy()) == [6 + 16 * 1024 * 1024, 0]
    assert time.perf_counter() - started < 3.0


def test_a_line_past_the_response_limit_stops_the_stream():
    body = ("data: " + "x" * 300_000).encode()  # no line ending: never parsed as an event
    with pytest.raises(ResponseTooLarge):
        _compat_stream(body, 4096, HttpPolicy(max_response_bytes=256 * 1024))
