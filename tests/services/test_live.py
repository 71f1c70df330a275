"""LiveServices: endpoints from the settings with overrides, clients per model, sources."""

from __future__ import annotations

import socket

import pytest

from locallama_gui.core.models import LocalDetails, ModelInfo, Source, Tier
from locallama_gui.services.live import Endpoint, LiveServices, configured_endpoints
from locallama_gui.sources import OllamaClient, OpenAICompatClient, OpenRouterClient


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_configured_endpoints_apply_overrides(services):
    default = configured_endpoints(services.settings)
    assert [e.kind for e in default][:3] == [Source.OPENROUTER, Source.OLLAMA, Source.LMSTUDIO]
    assert len(default) == 6
    over = configured_endpoints(
        services.settings,
        ollama_url="http://127.0.0.1:9/",
        server_urls=["http://127.0.0.1:7000/v1", "http://127.0.0.1:7000"],
    )
    assert Endpoint(Source.OLLAMA, "http://127.0.0.1:9/") in over
    compat = [e for e in over if e.kind is Source.OPENAI_COMPAT]
    assert compat == [Endpoint(Source.OPENAI_COMPAT, "http://127.0.0.1:7000/v1")]


@pytest.mark.asyncio
async def test_client_for_model_follows_the_model_server(services, http_client, ollama_fake):
    endpoints = [
        Endpoint(Source.OPENROUTER, "https://openrouter.ai/api/v1"),
        Endpoint(Source.OLLAMA, ollama_fake.url + "/"),
    ]
    async with LiveServices(services, endpoints=endpoints, client=http_client) as live:
        here = ModelInfo(
            "llama3", "llama3", Source.OLLAMA, Tier.LOCAL, local=LocalDetails(ollama_fake.url)
        )
        elsewhere = ModelInfo(
            "m", "m", Source.LLAMACPP, Tier.LOCAL, local=LocalDetails("http://127.0.0.1:8081")
        )
        paid = ModelInfo("openai/gpt-4o", "x", Source.OPENROUTER, Tier.PAID)
        assert live.client_for_model(here) is live.client(endpoints[1])
        assert isinstance(live.client_for_model(here), OllamaClient)
        other = live.client_for_model(elsewhere)
        assert isinstance(other, OpenAICompatClient) and other.source is Source.LLAMACPP
        assert other.base_url == "http://127.0.0.1:8081"
        assert isinstance(live.client_for_model(paid), OpenRouterClient)


@pytest.mark.asyncio
async def test_fetch_all_reports_every_server(
    services, http_client, fast_policy, ollama_fake, lmstudio_fake, llamacpp_fake, vllm_fake
):
    dead = dead_url()
    endpoints = [
        Endpoint(Source.OLLAMA, ollama_fake.url),
        Endpoint(Source.LMSTUDIO, lmstudio_fake.url),
        Endpoint(Source.OPENAI_COMPAT, llamacpp_fake.url),
        Endpoint(Source.OPENAI_COMPAT, vllm_fake.url + "/v1"),
        Endpoint(Source.OPENAI_COMPAT, dead),
        Endpoint(Source.OPENROUTER, "http://example.com/api/v1"),
    ]
    async with LiveServices(
        services, endpoints=endpoints, policy=fast_policy, client=http_client
    ) as live:
        statuses = await live.fetch_all()
    kinds = [(s.kind, s.up, s.model_count) for s in statuses]
    assert kinds == [
        ("ollama", True, 14),
        ("lmstudio", True, 4),
        ("llamacpp", True, 1),
        ("vllm", True, 1),
        ("openai_compat", False, 0),
        ("openrouter", False, 0),
    ]
    assert "Is it running" in statuses[4].error
    assert "https" in statuses[5].error  # plain http to a public host is refused
    view = statuses[2].to_dict()
    assert set(view) == {"kind", "url", "up", "error", "models"}
    assert view["models"][0]["id"] == "qwen2.5-coder-7b-instruct-q4_k_m.gguf"


def test_clients_asked_for_from_several_threads_at_once_are_built_once(services, monkeypatch):
    """The runner asks for clients from worker threads: built twice, the shared HTTP client
    built first would never be closed (its connections outlived the gateway's loop)."""
    import threading
    import time

    from locallama_gui.services import live as live_module

    slow_transport = live_module.direct_transport
    slow_client = live_module.client_for

    def transport(*args, **kwargs):
        time.sleep(0.02)  # widen the window between "not built yet" and "built"
        return slow_transport(*args, **kwargs)

    def client(*args, **kwargs):
        time.sleep(0.02)
        return slow_client(*args, **kwargs)

    monkeypatch.setattr(live_module, "direct_transport", transport)
    monkeypatch.setattr(live_module, "client_for", client)
    ep = Endpoint(Source.OLLAMA, "http://127.0.0.1:9")
    live = LiveServices(services, endpoints=[ep])
    barrier = threading.Barrier(8)
    got: list[tuple[object, object]] = []

    def ask() -> None:
        barrier.wait()
        got.append((live.client(ep), live.http))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c, _ in got}) == 1
    assert len({id(h) for _, h in got}) == 1
