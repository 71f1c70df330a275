"""Fixtures of the service tests: the loopback fakes (tests/fakes/fixtures.py), a store, a
settable clock, and Services / LiveServices wired to the fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from locallama_gui.core.models import Source
from locallama_gui.core.settings import Settings
from locallama_gui.services.facade import Services
from locallama_gui.services.live import Endpoint, LiveServices
from locallama_gui.store.db import Store
from tests.fakes.fixtures import (  # noqa: F401
    fake_api_key,
    fast_policy,
    http_client,
    llamacpp_fake,
    lmstudio_fake,
    ollama_fake,
    openrouter_fake,
    recording_sleep,
    vllm_fake,
)


class Clock:
    """A clock the test moves by hand (starts at the real time: the fakes' rate-limit
    resets are real times)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(tmp_path / "locallama.sqlite")
    yield s
    s.close()


@pytest.fixture
def services(store, clock) -> Services:
    return Services(settings=Settings(), store=store, clock=clock)


@pytest_asyncio.fixture
async def live(
    services,
    openrouter_fake,  # noqa: F811
    ollama_fake,  # noqa: F811
    http_client,  # noqa: F811
    fast_policy,  # noqa: F811
    fake_api_key,  # noqa: F811
) -> AsyncIterator[LiveServices]:
    endpoints = [
        Endpoint(Source.OPENROUTER, openrouter_fake.base_url),
        Endpoint(Source.OLLAMA, ollama_fake.base_url),
    ]
    async with LiveServices(
        services, endpoints=endpoints, api_key=fake_api_key, policy=fast_policy, client=http_client
    ) as live:
        yield live
