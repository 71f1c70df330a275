"""The shared HTTP policy against real loopback sockets: retries, waits, limits, faults."""

from __future__ import annotations

import dataclasses
import socket

import httpx
import pytest

from locallama_gui.sources import OpenRouterClient
from locallama_gui.sources.errors import (
    AuthError,
    BadResponse,
    InsecureURLError,
    ProviderDown,
    RateLimited,
    ResponseTooLarge,
    SourceTimeout,
    Unreachable,
)
from locallama_gui.sources.http import HttpClient, HttpPolicy, check_url, is_private_host
from tests.fakes import server as fk

MODELS = "/models"
CHAT = "/chat/completions"
MSG = [{"role": "user", "content": "hi"}]


def client_for(fake, http_client, policy) -> OpenRouterClient:
    return OpenRouterClient(fake.base_url, http_client, policy)


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434",
        "http://127.8.9.10",
        "http://localhost:1234",
        "http://[::1]:8080",
        "http://10.1.2.3:8000",
        "http://172.16.0.5",
        "http://172.31.255.255",
        "http://192.168.1.20:11434",
        "https://openrouter.ai/api/v1",
        "https://example.com",
    ],
)
def test_allowed_urls(url):
    check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://openrouter.ai/api/v1",
        "http://8.8.8.8",
        "http://172.32.0.1",
        "http://192.169.0.1",
        "http://example.com:11434",
        "ftp://127.0.0.1",
        "not a url",
    ],
)
def test_refused_urls(url):
    with pytest.raises(InsecureURLError):
        check_url(url)


def test_client_refuses_plain_http_to_public_host(http_client):
    with pytest.raises(InsecureURLError) as info:
        OpenRouterClient("http://openrouter.ai/api/v1", http_client, HttpPolicy())
    assert "https" in info.value.user_message


def test_allow_http_hosts_is_an_explicit_opt_in():
    policy = HttpPolicy(allow_http_hosts=frozenset({"gpu-box.lan"}))
    check_url("http://gpu-box.lan:11434", policy)
    assert not is_private_host("gpu-box.lan")


# --------------------------------------------------------------------------- retries


@pytest.mark.asyncio
async def test_get_retries_503_honouring_retry_after(
    openrouter_fake, http_client, fast_policy, recording_sleep
):
    openrouter_fake.fail_next(MODELS, fk.UNAVAILABLE, retry_after="3")
    result = await client_for(openrouter_fake, http_client, fast_policy).list_models()
    assert len(result.models) == 414
    assert recording_sleep.delays == [3.0]
    assert len(openrouter_fake.requests_to(MODELS)) == 2


@pytest.mark.asyncio
async def test_retry_after_http_date(openrouter_fake, http_client, fast_policy, recording_sleep):
    policy = dataclasses.replace(fast_policy, clock=lambda: 1_767_225_600.0)
    openrouter_fake.fail_next(MODELS, fk.UNAVAILABLE, retry_after="Thu, 01 Jan 2026 00:00:04 GMT")
    await client_for(openrouter_fake, http_client, policy).list_models()
    assert recording_sleep.delays == [pytest.approx(4.0)]


@pytest.mark.asyncio
async def test_get_waits_until_x_ratelimit_reset(
    openrouter_fake, http_client, fast_policy, recording_sleep
):
    now = 1_767_225_600.0
    policy = dataclasses.replace(fast_policy, clock=lambda: now)
    openrouter_fake.fail_next(MODELS, fk.RATE_LIMIT_MINUTE, reset_ms=int((now + 6.5) * 1000))
    result = await client_for(openrouter_fake, http_client, policy).list_models()
    assert len(result.models) == 414
    assert recording_sleep.delays == [pytest.approx(6.5)]


@pytest.mark.asyncio
async def test_backoff_is_jittered_exponential(
    openrouter_fake, http_client, fast_policy, recording_sleep
):
    openrouter_fake.fail_next(MODELS, fk.SERVER_ERROR, times=2)
    await client_for(openrouter_fake, http_client, fast_policy).list_models()
    # base 0.5 s, attempt 0 -> ceiling 0.5, attempt 1 -> 1.0; rng 0.5 -> 3/4 of the ceiling
    assert recording_sleep.delays == [pytest.approx(0.375), pytest.approx(0.75)]
    assert len(openrouter_fake.requests_to(MODELS)) == 3


@pytest.mark.asyncio
async def test_retries_are_bounded(openrouter_fake, http_client, fast_policy, recording_sleep):
    openrouter_fake.fail_next(MODELS, fk.BAD_GATEWAY, times=10)
    with pytest.raises(ProviderDown) as info:
        await client_for(openrouter_fake, http_client, fast_policy).list_models()
    assert info.value.status == 502
    assert len(openrouter_fake.requests_to(MODELS)) == 1 + fast_policy.max_retries
    assert len(recording_sleep.delays) == fast_policy.max_retries


@pytest.mark.asyncio
async def test_per_day_limit_is_not_retried(
    openrouter_fake, http_client, fast_policy, recording_sleep
):
    openrouter_fake.fail_next(MODELS, fk.RATE_LIMIT_DAY)
    with pytest.raises(RateLimited) as info:
        await client_for(openrouter_fake, http_client, fast_policy).list_models()
    assert info.value.scope == "free-per-day"
    assert recording_sleep.delays == []
    assert len(openrouter_fake.requests_to(MODELS)) == 1


@pytest.mark.asyncio
async def test_wait_longer_than_allowed_is_raised_not_slept(
    openrouter_fake, http_client, fast_policy, recording_sleep
):
    openrouter_fake.fail_next(MODELS, fk.UNAVAILABLE, retry_after="3600")
    with pytest.raises(ProviderDown) as info:
        await client_for(openrouter_fake, http_client, fast_policy).list_models()
    assert info.value.retry_after_s == 3600
    assert recording_sleep.delays == []


@pytest.mark.asyncio
async def test_post_is_never_retried(
    openrouter_fake, http_client, fast_policy, recording_sleep, fake_api_key
):
    openrouter_fake.fail_next(CHAT, fk.UNAVAILABLE, retry_after="1")
    client = client_for(openrouter_fake, http_client, fast_policy)
    with pytest.raises(ProviderDown):
        await client.chat(fake_api_key, "openai/gpt-4o", MSG)
    assert len(openrouter_fake.requests_to(CHAT)) == 1
    assert recording_sleep.delays == []


@pytest.mark.asyncio
async def test_non_retryable_get_error_is_raised_at_once(
    openrouter_fake, http_client, fast_policy, recording_sleep
):
    openrouter_fake.fail_next(MODELS, fk.UNAUTHORIZED)
    with pytest.raises(AuthError):
        await client_for(openrouter_fake, http_client, fast_policy).list_models()
    assert recording_sleep.delays == []


# --------------------------------------------------------------------------- body faults


@pytest.mark.asyncio
async def test_truncated_body(openrouter_fake, http_client, fast_policy):
    policy = dataclasses.replace(fast_policy, max_retries=0)
    openrouter_fake.fail_next(MODELS, fk.TRUNCATED)
    with pytest.raises(BadResponse) as info:
        await client_for(openrouter_fake, http_client, policy).list_models()
    assert info.value.code == "truncated"
    assert not isinstance(info.value, ResponseTooLarge)


@pytest.mark.asyncio
async def test_truncated_get_is_retried(openrouter_fake, http_client, fast_policy):
    openrouter_fake.fail_next(MODELS, fk.TRUNCATED)
    result = await client_for(openrouter_fake, http_client, fast_policy).list_models()
    assert len(result.models) == 414


@pytest.mark.asyncio
async def test_wrong_content_type(openrouter_fake, http_client, fast_policy):
    openrouter_fake.fail_next(MODELS, fk.HTML)
    with pytest.raises(BadResponse) as info:
        await client_for(openrouter_fake, http_client, fast_policy).list_models()
    assert info.value.code == "content_type"
    assert "text/html" in str(info.value)


@pytest.mark.asyncio
async def test_invalid_json(openrouter_fake, http_client, fast_policy):
    openrouter_fake.fail_next(MODELS, fk.BAD_JSON)
    with pytest.raises(BadResponse) as info:
        await client_for(openrouter_fake, http_client, fast_policy).list_models()
    assert info.value.code == "not_json"


@pytest.mark.asyncio
async def test_html_error_page_maps_by_status(openrouter_fake, http_client, fast_policy):
    policy = dataclasses.replace(fast_policy, max_retries=0)
    openrouter_fake.fail_next(MODELS, fk.HTML, status=502)
    with pytest.raises(ProviderDown):
        await client_for(openrouter_fake, http_client, policy).list_models()


@pytest.mark.asyncio
async def test_oversized_declared_length_is_refused_before_reading(
    openrouter_fake, http_client, fast_policy
):
    policy = dataclasses.replace(fast_policy, max_response_bytes=64 * 1024)
    size = 64 * 1024 * 1024
    openrouter_fake.fail_next(MODELS, fk.OVERSIZED, size=size, declare_length=True)
    with pytest.raises(ResponseTooLarge) as info:
        await client_for(openrouter_fake, http_client, policy).list_models()
    assert info.value.limit == 64 * 1024
    assert not info.value.retryable
    assert openrouter_fake.bytes_sent.get("/api/v1/models", 0) < size


@pytest.mark.asyncio
async def test_oversized_chunked_body_stops_reading_past_the_limit(
    openrouter_fake, http_client, fast_policy
):
    policy = dataclasses.replace(fast_policy, max_response_bytes=128 * 1024)
    size = 64 * 1024 * 1024
    openrouter_fake.fail_next(MODELS, fk.OVERSIZED, size=size, declare_length=False)
    with pytest.raises(ResponseTooLarge):
        await client_for(openrouter_fake, http_client, policy).list_models()
    assert openrouter_fake.bytes_sent.get("/api/v1/models", 0) < size
    assert len(openrouter_fake.requests_to(MODELS)) == 1


@pytest.mark.asyncio
async def test_connection_closed_without_response(openrouter_fake, http_client, fast_policy):
    policy = dataclasses.replace(fast_policy, max_retries=0)
    openrouter_fake.fail_next(MODELS, fk.CONNECTION_DROP)
    with pytest.raises(BadResponse) as info:
        await client_for(openrouter_fake, http_client, policy).list_models()
    assert info.value.retryable


# --------------------------------------------------------------------------- time


@pytest.mark.asyncio
async def test_slow_first_byte_within_timeout_succeeds(openrouter_fake, http_client, fast_policy):
    openrouter_fake.fail_next(MODELS, fk.SLOW_FIRST_BYTE, delay_s=0.2)
    result = await client_for(openrouter_fake, http_client, fast_policy).list_models()
    assert len(result.models) == 414


@pytest.mark.asyncio
async def test_read_timeout(openrouter_fake, http_client, fast_policy):
    policy = dataclasses.replace(fast_policy, read_timeout=0.3, max_retries=0)
    openrouter_fake.fail_next(MODELS, fk.HANG, hang_s=5)
    with pytest.raises(SourceTimeout) as info:
        await client_for(openrouter_fake, http_client, policy).list_models()
    assert info.value.phase == "read"
    assert info.value.retryable


@pytest.mark.asyncio
async def test_total_deadline_bounds_the_whole_call(openrouter_fake, http_client, fast_policy):
    policy = dataclasses.replace(fast_policy, read_timeout=5.0, total_timeout=0.4)
    openrouter_fake.fail_next(MODELS, fk.SLOW_FIRST_BYTE, delay_s=3)
    with pytest.raises(SourceTimeout) as info:
        await client_for(openrouter_fake, http_client, policy).list_models()
    assert info.value.phase == "deadline"


@pytest.mark.asyncio
async def test_connection_refused_is_unreachable(http_client, fast_policy):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = dataclasses.replace(fast_policy, max_retries=0)
    client = HttpClient(f"http://127.0.0.1:{port}", http_client, policy)
    with pytest.raises(Unreachable) as info:
        await client.get_json("/api/version")
    assert info.value.retryable
    assert "running" in info.value.user_message


@pytest.mark.asyncio
async def test_unreachable_get_is_retried_then_raised(http_client, fast_policy, recording_sleep):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HttpClient(f"http://127.0.0.1:{port}", http_client, fast_policy)
    with pytest.raises(Unreachable):
        await client.get_json("/api/version")
    assert len(recording_sleep.delays) == fast_policy.max_retries


def test_policy_validation():
    with pytest.raises(ValueError):
        HttpPolicy(read_timeout=0)
    with pytest.raises(ValueError):
        HttpPolicy(max_retries=-1)
    assert HttpPolicy().max_response_bytes == 32 * 1024 * 1024
    assert isinstance(HttpPolicy().httpx_timeout(), httpx.Timeout)
