"""The HTTP policy under an operation's deadline, against a host that never sends its first
byte and one that refuses connections: typed errors that say how long they waited, whether
anything came back, and whether the deadline cut the wait short."""

from __future__ import annotations

import asyncio
import time

import pytest

from locallama_gui.sources import (
    HttpClient,
    HttpPolicy,
    SourceTimeout,
    Unreachable,
    operation_deadline,
    operation_remaining,
)
from tests.fakes.hung import HungServer, refusing_url

pytestmark = pytest.mark.asyncio


@pytest.fixture
def hung():
    with HungServer() as server:
        yield server


def policy(**overrides) -> HttpPolicy:
    values = {"connect_timeout": 1.0, "read_timeout": 30.0, "total_timeout": 60.0}
    values.update(overrides)
    return HttpPolicy(**values)


async def test_no_deadline_means_none_in_force():
    assert operation_remaining() is None
    with operation_deadline(None):
        assert operation_remaining() is None
    with operation_deadline(5):
        assert 4 < operation_remaining() <= 5
        with operation_deadline(60):  # nested: the earlier end holds
            assert operation_remaining() <= 5
    assert operation_remaining() is None


async def test_tasks_started_inside_inherit_the_deadline():
    with operation_deadline(5):
        left = await asyncio.create_task(asyncio.sleep(0, operation_remaining()))
    assert left is not None and left <= 5


async def test_a_held_first_byte_ends_at_the_deadline_and_says_so(hung, http_client):
    client = HttpClient(hung.url, http_client, policy())
    started = time.monotonic()
    with operation_deadline(1.0), pytest.raises(SourceTimeout) as info:
        await client.get_json("/api/tags")
    assert time.monotonic() - started < 4  # not the 30 s read timeout
    err = info.value
    assert err.phase == "read" and err.no_response and err.deadline
    assert err.timeout_s is not None and err.timeout_s <= 1.0
    assert hung.requests == 1  # a retry would wait past the deadline: none was sent


async def test_the_policys_own_timeout_is_not_marked_as_the_deadline(hung, http_client):
    client = HttpClient(hung.url, http_client, policy(read_timeout=0.5, max_retries=0))
    with operation_deadline(30), pytest.raises(SourceTimeout) as info:
        await client.get_json("/api/tags")
    err = info.value
    assert err.no_response and not err.deadline and err.timeout_s == 0.5


async def test_a_held_stream_says_no_first_byte(hung, http_client):
    client = HttpClient(hung.url, http_client, policy(read_timeout=0.5))
    with pytest.raises(SourceTimeout) as info:
        async with client.stream("POST", "/api/chat", json_body={}):
            pass
    assert info.value.phase == "read" and info.value.no_response
    assert info.value.timeout_s == 0.5


async def test_a_stream_that_stalls_after_its_first_bytes_is_not_a_dead_host(
    openrouter_fake, http_client, fake_api_key
):
    client = HttpClient(openrouter_fake.base_url, http_client, policy(read_timeout=0.5))
    release = openrouter_fake.hold_stream_after(2)
    try:
        with pytest.raises(SourceTimeout) as info:
            async with client.stream(
                "POST",
                "/chat/completions",
                json_body={"model": "openai/gpt-4o", "stream": True},
                secret=fake_api_key,
            ) as s:
                async for _ in s.lines():
                    pass
    finally:
        release.set()
    assert info.value.phase == "read" and not info.value.no_response


async def test_a_refused_connection_is_a_connect_failure(http_client):
    client = HttpClient(refusing_url(), http_client, policy(max_retries=0))
    with pytest.raises(Unreachable) as info:
        await client.get_json("/api/tags")
    assert info.value.code == "connect"


async def test_past_the_deadline_nothing_is_sent(hung, http_client):
    client = HttpClient(hung.url, http_client, policy())
    with operation_deadline(0.0), pytest.raises(SourceTimeout) as info:
        await client.get_json("/api/tags")
    assert info.value.phase == "deadline"
    assert hung.requests == 0
