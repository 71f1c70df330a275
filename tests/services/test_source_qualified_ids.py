"""A local model whose id is an OpenRouter model's id (a vLLM server naming its model as
OpenRouter does) is a model of its own: in the catalogue, routing, running and storage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from locallama_gui.core.models import Source, Tier
from locallama_gui.core.routing import Policy, Task
from locallama_gui.core.samples import PerformanceSample
from locallama_gui.services.catalogue import load_catalogue
from locallama_gui.services.live import Endpoint, LiveServices
from locallama_gui.services.refresh import RefreshService
from locallama_gui.services.runner import OK, Runner
from tests.fakes.providers import OpenAICompatFake

pytestmark = pytest.mark.asyncio

SAME = "openai/gpt-4o-mini"  # in the OpenRouter fake's catalogue, and served by the vLLM fake


class VllmNamedLikeOpenRouter(OpenAICompatFake):
    def model_id(self) -> str:
        return SAME


@pytest.fixture
def vllm_same():
    with VllmNamedLikeOpenRouter(flavour="vllm") as fake:
        yield fake


@pytest.fixture
def both(services, openrouter_fake, vllm_same, http_client, fast_policy, fake_api_key):
    """Live services over the OpenRouter fake and the vLLM fake that names its model alike."""
    endpoints = [
        Endpoint(Source.OPENROUTER, openrouter_fake.base_url),
        Endpoint(Source.OPENAI_COMPAT, vllm_same.url + "/v1"),
    ]
    return LiveServices(
        services, endpoints=endpoints, api_key=fake_api_key, policy=fast_policy, client=http_client
    )


async def test_a_local_model_with_an_openrouter_id_does_not_shadow_it(
    services, store, openrouter_fake, vllm_same, both
):
    async with both as live:
        await RefreshService(live).refresh()
        by_id = {m.id: m for m in services.models}
        local_id = f"{Source.VLLM.value}:{SAME}"
        assert by_id[SAME].source is Source.OPENROUTER and by_id[SAME].tier is Tier.PAID
        local = by_id[local_id]
        assert local.tier is Tier.LOCAL and local.served_id == SAME

        # routing: each by its own id
        decision = services.route(Task(prompt="hi"), Policy(local_only=True))
        assert decision.chain_ids == (local_id,)
        assert services.find_model(SAME) is by_id[SAME]

        # running the local one asks the server for its own name, and bills nothing
        run = await Runner(live).run([local_id], "Say hello")
        assert run.ok and run.model_id == local_id and run.tier == "local"
        assert [(a.model_id, a.outcome) for a in run.attempts] == [(local_id, OK)]
        (req,) = vllm_same.requests_to("/v1/chat/completions")
        assert req.json["model"] == SAME
        assert not openrouter_fake.requests_to("/chat/completions")
        (spend,) = store.spend_entries()
        assert spend.model_id == local_id and spend.cost_usd == 0 and spend.tier == "local"

        # running OpenRouter's goes to OpenRouter, billed at its price
        run = await Runner(live).run([SAME], "Say hello")
        assert run.ok and run.model_id == SAME and run.tier == "paid"
        assert len(vllm_same.requests_to("/v1/chat/completions")) == 1

        # stored apart: each model's samples are its own
        (local_sample,) = store.samples(model_id=local_id)
        (remote_sample,) = store.samples(model_id=SAME)
        assert local_sample.source == Source.VLLM.value
        assert remote_sample.source == Source.OPENROUTER.value

    # the next start reads both back apart from the stored catalogues
    reloaded = {m.id: m for m in load_catalogue(store).models}
    assert reloaded[SAME].source is Source.OPENROUTER
    assert reloaded[local_id].served_id == SAME


async def test_samples_stored_under_the_servers_name_count_for_the_local_model(
    services, store, clock, both
):
    """A sample recorded before the ids were qualified (the local model's bare id, its own
    source) profiles the local model, not OpenRouter's."""
    async with both as live:
        await RefreshService(live).refresh()
    store.add_samples(
        PerformanceSample(
            model_id=SAME,
            source=Source.VLLM.value,
            category="chat",
            ts=clock.now - timedelta(minutes=k + 1),
            success=False,
            latency_ms=900.0,
        )
        for k in range(6)
    )
    services.invalidate_profiles()
    profiles = services.profiles
    local_id = f"{Source.VLLM.value}:{SAME}"
    assert profiles[local_id].overall.success_rate == 0
    assert SAME not in profiles
