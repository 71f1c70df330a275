"""Streamed chats hand their connection back to the pool as soon as the consumer stops, with
no help from the garbage collector: many streams in a row through a small pool all succeed
even on a loop without asyncgen hooks (a read up to ``[DONE]`` or a consumer that stops at the
first delta leaves nothing half-closed)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, contextmanager

import httpx
import pytest
import pytest_asyncio

from locallama_gui.sources import (
    ChatResult,
    LMStudioClient,
    OllamaClient,
    OpenAICompatClient,
    OpenRouterClient,
    ResponseTooLarge,
    SourceError,
)
from locallama_gui.sources.http import HttpPolicy
from tests.fakes import REPLY_DELTAS, REPLY_TEXT
from tests.fakes import server as fk

pytestmark = pytest.mark.asyncio

MSG = [{"role": "user", "content": "hi"}]
STREAMS = 150
POOL = 5

StreamFactory = Callable[[], AsyncIterator[object]]


@contextmanager
def no_asyncgen_hooks() -> Iterator[None]:
    """Run without the hooks ``run_forever`` installs, as a loop that lacks them would: an
    async generator left suspended is then finalised synchronously at garbage collection."""
    old = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(firstiter=None, finalizer=None)
    try:
        yield
    finally:
        sys.set_asyncgen_hooks(*old)


@pytest_asyncio.fixture
async def small_pool() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        trust_env=False, limits=httpx.Limits(max_connections=POOL)
    ) as client:
        yield client


@pytest.fixture
def pool_policy(fast_policy: HttpPolicy) -> HttpPolicy:
    """A connection pool that ran dry fails within a second (PoolTimeout), not after minutes."""
    return dataclasses.replace(fast_policy, connect_timeout=1.0)


@pytest.fixture(params=["openrouter", "ollama", "lmstudio", "llamacpp"])
def open_stream(
    request,
    small_pool,
    pool_policy,
    openrouter_fake,
    ollama_fake,
    lmstudio_fake,
    llamacpp_fake,
    fake_api_key,
) -> StreamFactory:
    """A function opening one streamed chat with the client under test."""
    kind = request.param
    if kind == "openrouter":
        router = OpenRouterClient(openrouter_fake.base_url, small_pool, pool_policy)
        return lambda: router.chat_stream(fake_api_key, "x/y", MSG)
    if kind == "ollama":
        ollama = OllamaClient(ollama_fake.url, small_pool, pool_policy)
        return lambda: ollama.chat_stream("gemma4:e4b", MSG)
    if kind == "lmstudio":
        lmstudio = LMStudioClient(lmstudio_fake.url, small_pool, pool_policy)
        return lambda: lmstudio.chat_stream("qwen/qwen3.6-35b-a3b", MSG)
    compat = OpenAICompatClient(llamacpp_fake.url, small_pool, pool_policy)
    return lambda: compat.chat_stream("m", MSG)


async def _read_whole(open_stream: StreamFactory, k: int) -> list[object]:
    try:
        return [item async for item in open_stream()]
    except SourceError as e:  # a pool run dry: PoolTimeout
        pytest.fail(f"stream {k + 1} of {STREAMS} failed: {e!r}", pytrace=False)


async def _read_first(open_stream: StreamFactory, k: int) -> object:
    try:
        async with aclosing(open_stream()) as items:
            async for item in items:
                return item
    except SourceError as e:
        pytest.fail(f"stream {k + 1} of {STREAMS} failed: {e!r}", pytrace=False)
    return None


async def test_many_streams_read_to_the_end_through_a_small_pool(open_stream):
    with no_asyncgen_hooks():
        for k in range(STREAMS):
            *deltas, result = await _read_whole(open_stream, k)
            assert deltas == list(REPLY_DELTAS)
            assert isinstance(result, ChatResult)
            assert result.text == REPLY_TEXT


async def test_many_streams_abandoned_after_the_first_delta(open_stream):
    with no_asyncgen_hooks():
        for k in range(STREAMS):
            assert await _read_first(open_stream, k) == REPLY_DELTAS[0]
    # and the pool still serves a whole stream afterwards
    *_, result = [item async for item in open_stream()]
    assert result.text == REPLY_TEXT


async def test_bodies_abandoned_over_the_size_limit_free_their_connections(
    ollama_fake, small_pool, pool_policy
):
    policy = dataclasses.replace(pool_policy, max_response_bytes=64 * 1024, max_retries=0)
    client = OllamaClient(ollama_fake.url, small_pool, policy)
    n = 3 * POOL
    ollama_fake.fail_next("/api/version", fk.OVERSIZED, times=n, size=1024 * 1024)
    with no_asyncgen_hooks():
        for k in range(n):
            try:
                await client.version()
            except ResponseTooLarge:
                continue
            except SourceError as e:
                pytest.fail(f"request {k + 1} of {n} failed: {e!r}", pytrace=False)
            pytest.fail(f"request {k + 1} of {n} read an oversized body", pytrace=False)
    assert await client.version() == "0.12.3"
