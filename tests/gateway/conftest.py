"""A gateway served on a real loopback port, over services whose catalogue was refreshed from
the fakes, with the fakes upstream."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from locallama_gui.core.models import Source
from locallama_gui.core.settings import Settings
from locallama_gui.gateway.host import GatewayHost
from locallama_gui.gateway.service import Gateway
from locallama_gui.services.facade import Services
from locallama_gui.services.live import Endpoint, LiveServices
from locallama_gui.services.refresh import RefreshService
from locallama_gui.sources import HttpPolicy
from locallama_gui.store.db import Store
from tests.fakes import FAKE_API_KEY, OllamaFake, OpenRouterFake

TOKEN = "llr-test-token-0123456789abcdef"


def fast_http() -> HttpPolicy:
    async def no_sleep(seconds: float) -> None:
        return None

    return HttpPolicy(
        connect_timeout=2.0,
        read_timeout=2.0,
        total_timeout=15.0,
        generation_timeout=15.0,
        max_retries=0,
        sleep=no_sleep,
    )


class Upstream:
    def __init__(self, openrouter: OpenRouterFake, ollama: OllamaFake) -> None:
        self.openrouter = openrouter
        self.ollama = ollama

    @property
    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint(Source.OPENROUTER, self.openrouter.base_url),
            Endpoint(Source.OLLAMA, self.ollama.base_url),
        ]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with OpenRouterFake() as openrouter, OllamaFake() as ollama:
        yield Upstream(openrouter, ollama)


@pytest.fixture
def services(tmp_path, upstream) -> Iterator[Services]:
    store = Store(tmp_path / "locallama.sqlite")
    services = Services(settings=Settings(), store=store, clock=lambda: datetime.now(UTC))

    async def refresh() -> None:
        async with LiveServices(
            services, endpoints=upstream.endpoints, api_key=FAKE_API_KEY, policy=fast_http()
        ) as live:
            await RefreshService(live).refresh()

    asyncio.run(refresh())
    yield services
    store.close()


def make_host(services: Services, upstream: Upstream, **gateway_kwargs) -> GatewayHost:
    gateway = Gateway(
        services,
        token=TOKEN,
        endpoints=upstream.endpoints,
        api_key=gateway_kwargs.pop("api_key", FAKE_API_KEY),
        http_policy=fast_http(),
        **gateway_kwargs,
    )
    return GatewayHost(gateway)


@pytest.fixture
def gateway(services, upstream) -> Iterator[GatewayHost]:
    upstream.openrouter.reset()
    upstream.ollama.reset()
    host = make_host(services, upstream)
    host.start()
    yield host
    host.stop()
    upstream.openrouter.reset()
    upstream.ollama.reset()
