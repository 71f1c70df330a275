"""Pytest fixtures: the fake servers (started on an ephemeral loopback port, stopped after
the test), a shared httpx client, and a fast HTTP policy whose sleeps are recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from locallama_gui.sources.http import HttpPolicy

from .providers import FAKE_API_KEY, LMStudioFake, OllamaFake, OpenAICompatFake, OpenRouterFake


class RecordingSleep:
    """An async ``sleep`` that returns at once and records the requested delays."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def openrouter_fake() -> Iterator[OpenRouterFake]:
    with OpenRouterFake() as fake:
        yield fake


@pytest.fixture
def ollama_fake() -> Iterator[OllamaFake]:
    with OllamaFake() as fake:
        yield fake


@pytest.fixture
def lmstudio_fake() -> Iterator[LMStudioFake]:
    with LMStudioFake() as fake:
        yield fake


@pytest.fixture
def llamacpp_fake() -> Iterator[OpenAICompatFake]:
    with OpenAICompatFake(flavour="llamacpp") as fake:
        yield fake


@pytest.fixture
def vllm_fake() -> Iterator[OpenAICompatFake]:
    with OpenAICompatFake(flavour="vllm") as fake:
        yield fake


@pytest.fixture
def fake_api_key() -> str:
    return FAKE_API_KEY


@pytest.fixture
def recording_sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def fast_policy(recording_sleep: RecordingSleep) -> HttpPolicy:
    """Short timeouts, 2 retries, deterministic jitter, sleeps recorded (never slept)."""
    return HttpPolicy(
        connect_timeout=2.0,
        read_timeout=2.0,
        total_timeout=15.0,
        generation_timeout=15.0,
        max_retries=2,
        backoff_base_s=0.5,
        backoff_max_s=4.0,
        rng=lambda: 0.5,
        sleep=recording_sleep,
    )


@pytest_asyncio.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """A shared AsyncClient that ignores proxy settings from the environment."""
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client
