"""Local servers through their fakes: Ollama, LM Studio, llama.cpp and vLLM."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest

from locallama_gui.core.catalogue import parse_lmstudio_models, parse_ollama_tags
from locallama_gui.core.models import Source, Tier, Usage
from locallama_gui.sources import (
    DEFAULT_LOCAL_PROBES,
    BadResponse,
    ChatResult,
    HealthState,
    LMStudioClient,
    NotFoundError,
    OllamaClient,
    OpenAICompatClient,
    ProviderDown,
    ResponseTooLarge,
    SourceTimeout,
    client_for,
    ollama_url_from_env,
)
from tests.fakes import COMPLETION_TOKENS, PROMPT_TOKENS, REPLY_DELTAS, REPLY_TEXT
from tests.fakes import server as fk

MSG = [{"role": "user", "content": "hi"}]


async def collect(stream):
    return [item async for item in stream]


# --------------------------------------------------------------------------- Ollama


@pytest.fixture
def ollama(ollama_fake, http_client, fast_policy) -> OllamaClient:
    return OllamaClient(ollama_fake.url, http_client, fast_policy)


@pytest.mark.asyncio
async def test_ollama_version(ollama):
    assert await ollama.version() == "0.12.3"


@pytest.mark.asyncio
async def test_ollama_tags_match_the_captures(ollama, ollama_fake, data_dir):
    result = await ollama.tags()
    tags = json.loads((data_dir / "ollama/tags-2026-04.json").read_text())
    ps = json.loads((data_dir / "ollama/ps-2026-04.json").read_text())
    assert result == parse_ollama_tags(tags, server_url=ollama.base_url, ps_payload=ps)
    assert all(m.source is Source.OLLAMA and m.tier is Tier.LOCAL for m in result.models)
    loaded = {m.id for m in result.models if m.local and m.local.loaded}
    assert "qwen3-coder-next:latest" in loaded
    assert len(ollama_fake.requests_to("/api/ps")) == 1


@pytest.mark.asyncio
async def test_ollama_tags_survive_a_failing_ps(ollama, ollama_fake, data_dir, fast_policy):
    ollama_fake.fail_next("/api/ps", fk.SERVER_ERROR, times=5)
    result = await ollama.tags()
    tags = json.loads((data_dir / "ollama/tags-2026-04.json").read_text())
    assert result == parse_ollama_tags(tags, server_url=ollama.base_url)


@pytest.mark.asyncio
async def test_ollama_ps(ollama):
    running = await ollama.ps()
    assert [r.name for r in running] == [
        "nomic-embed-text-v2-moe:latest",
        "qwen3-coder-next:latest",
    ]
    assert running[1].partly_on_cpu is True
    assert running[0].partly_on_cpu is False
    assert running[1].context_length == 65536


@pytest.mark.asyncio
async def test_ollama_show(ollama, ollama_fake):
    info = await ollama.show("gemma4:e4b")
    assert info.architecture == "gemma4"
    assert info.context_length == 131072
    assert info.num_ctx == 8192
    assert info.capabilities == ("completion", "tools")
    assert info.parameters["stop"] == ("<|im_start|>", "<|im_end|>")
    assert info.parameter_size == "8.0B"
    assert ollama_fake.requests_to("/api/show")[0].json["model"] == "gemma4:e4b"


@pytest.mark.asyncio
async def test_ollama_show_unknown_model(ollama):
    with pytest.raises(NotFoundError) as info:
        await ollama.show("nope:latest")
    assert info.value.code == "model_not_found"


@pytest.mark.asyncio
async def test_ollama_stream_with_nanosecond_timings(ollama, ollama_fake):
    items = await collect(ollama.chat_stream("gemma4:e4b", MSG))
    *deltas, result = items
    assert deltas == list(REPLY_DELTAS)
    assert isinstance(result, ChatResult)
    assert result.text == REPLY_TEXT
    assert result.source is Source.OLLAMA
    assert result.usage == Usage(prompt_tokens=PROMPT_TOKENS, completion_tokens=COMPLETION_TOKENS)
    assert result.latency_ms == pytest.approx(1500.0)  # total_duration 1.5e9 ns
    assert result.ttft_ms == pytest.approx(300.0)  # load 0.1 s + prompt eval 0.2 s
    assert result.tokens_per_s == pytest.approx(7.0)  # 7 tokens / 1e9 ns
    assert result.cost_usd == Decimal("0")
    assert result.finish_reason == "stop"
    assert ollama_fake.requests_to("/api/chat")[0].json["stream"] is True


@pytest.mark.asyncio
async def test_ollama_stream_without_timing_fields(ollama, ollama_fake):
    ollama_fake.omit_timings = True
    *_, result = await collect(ollama.chat_stream("gemma4:e4b", MSG))
    assert result.usage is None
    assert result.tokens_per_s is None
    assert result.latency_ms is not None and result.latency_ms >= 0  # measured instead
    assert result.ttft_ms is not None


@pytest.mark.asyncio
async def test_ollama_non_streaming_chat(ollama):
    result = await ollama.chat("gemma4:e4b", MSG)
    assert result.text == REPLY_TEXT
    assert result.tokens_per_s == pytest.approx(7.0)
    assert not result.streamed


@pytest.mark.asyncio
async def test_ollama_stream_error_midway(ollama, ollama_fake):
    ollama_fake.fail_next("/api/chat", fk.STREAM_ERROR, after_chunks=2)
    seen = []
    with pytest.raises(ProviderDown) as info:
        async for item in ollama.chat_stream("gemma4:e4b", MSG):
            seen.append(item)
    assert seen == ["Hello", "!"]
    assert "error was encountered" in str(info.value)


@pytest.mark.asyncio
async def test_ollama_stream_dropped(ollama, ollama_fake):
    ollama_fake.fail_next("/api/chat", fk.STREAM_DROP, after_chunks=2)
    with pytest.raises(BadResponse) as info:
        await collect(ollama.chat_stream("gemma4:e4b", MSG))
    assert info.value.code == "truncated"


@pytest.mark.asyncio
async def test_ollama_stream_deltas_arrive_before_the_end(ollama, ollama_fake):
    release = ollama_fake.hold_stream_after(1)
    first = None
    try:
        async for item in ollama.chat_stream("gemma4:e4b", MSG):
            if first is None:
                first = item
                assert ollama_fake.stream_held.is_set()
                assert not ollama_fake.stream_finished.is_set()
                release.set()
    finally:
        release.set()
    assert first == "Hello"


@pytest.mark.asyncio
async def test_ollama_unknown_model_chat(ollama):
    with pytest.raises(NotFoundError):
        await collect(ollama.chat_stream("missing:latest", MSG))


@pytest.mark.asyncio
async def test_ollama_stream_too_large(ollama_fake, http_client, fast_policy):
    policy = dataclasses.replace(fast_policy, max_response_bytes=64 * 1024)
    client = OllamaClient(ollama_fake.url, http_client, policy)
    ollama_fake.fail_next("/api/chat", fk.OVERSIZED, size=16 * 1024 * 1024)
    with pytest.raises(ResponseTooLarge):
        await collect(client.chat_stream("gemma4:e4b", MSG))


@pytest.mark.asyncio
async def test_ollama_read_timeout(ollama_fake, http_client, fast_policy):
    policy = dataclasses.replace(fast_policy, read_timeout=0.3, max_retries=0)
    client = OllamaClient(ollama_fake.url, http_client, policy)
    ollama_fake.fail_next("/api/version", fk.HANG, hang_s=5)
    with pytest.raises(SourceTimeout):
        await client.version()


def test_ollama_url_from_env():
    assert ollama_url_from_env({}) == "http://127.0.0.1:11434"
    assert ollama_url_from_env({"OLLAMA_HOST": "0.0.0.0"}) == "http://127.0.0.1:11434"
    assert ollama_url_from_env({"OLLAMA_HOST": "192.168.1.5:9999"}) == "http://192.168.1.5:9999"
    assert ollama_url_from_env({"OLLAMA_HOST": "https://ollama.example.com"}) == (
        "https://ollama.example.com:11434"
    )


# --------------------------------------------------------------------------- LM Studio


@pytest.fixture
def lmstudio(lmstudio_fake, http_client, fast_policy) -> LMStudioClient:
    return LMStudioClient(lmstudio_fake.url, http_client, fast_policy)


@pytest.mark.asyncio
async def test_lmstudio_models_match_the_capture(lmstudio, lmstudio_fake, data_dir):
    result = await lmstudio.models()
    payload = json.loads((data_dir / "lmstudio/api-v0-models-2026-08.json").read_text())
    assert result == parse_lmstudio_models(payload, server_url=lmstudio.base_url)
    assert len(result.models) == 4
    assert lmstudio_fake.requests_to("/v1/models") == []


@pytest.mark.asyncio
async def test_lmstudio_falls_back_to_v1_models(lmstudio, lmstudio_fake):
    lmstudio_fake.fail_next("/api/v0/models", fk.NOT_FOUND)
    result = await lmstudio.models()
    assert {m.id for m in result.models} >= {"qwen/qwen3.6-35b-a3b", "google/gemma-4-e4b"}
    assert len(lmstudio_fake.requests_to("/v1/models")) == 1


@pytest.mark.asyncio
async def test_lmstudio_chat_reads_stats(lmstudio, lmstudio_fake):
    result = await lmstudio.chat("qwen/qwen3.6-35b-a3b", MSG, max_tokens=20)
    assert result.text == REPLY_TEXT
    assert result.source is Source.LMSTUDIO
    assert result.tokens_per_s == pytest.approx(42.5)
    assert result.ttft_ms == pytest.approx(250.0)
    assert result.latency_ms == pytest.approx(1000.0)
    assert result.cost_usd == Decimal("0")
    assert lmstudio_fake.requests_to("/api/v0/chat/completions")[0].json["max_tokens"] == 20


@pytest.mark.asyncio
async def test_lmstudio_stream(lmstudio):
    *deltas, result = await collect(lmstudio.chat_stream("qwen/qwen3.6-35b-a3b", MSG))
    assert deltas == list(REPLY_DELTAS)
    assert result.text == REPLY_TEXT
    assert result.tokens_per_s == pytest.approx(42.5)
    assert result.ttft_ms == pytest.approx(250.0)


@pytest.mark.asyncio
async def test_lmstudio_stream_dropped(lmstudio, lmstudio_fake):
    lmstudio_fake.fail_next("/api/v0/chat/completions", fk.STREAM_DROP)
    with pytest.raises(BadResponse):
        await collect(lmstudio.chat_stream("qwen/qwen3.6-35b-a3b", MSG))


# --------------------------------------------------------------------------- llama.cpp / vLLM


@pytest.mark.asyncio
async def test_llamacpp_models_and_health(llamacpp_fake, http_client, fast_policy):
    client = OpenAICompatClient(llamacpp_fake.url + "/v1", http_client, fast_policy)
    assert client.base_url == llamacpp_fake.url
    health = await client.health()
    assert health.state is HealthState.OK and health.ok
    result = await client.models()
    (model,) = result.models
    assert model.source is Source.LLAMACPP
    assert model.context_length == 32768  # meta.n_ctx_train
    assert client.source is Source.LLAMACPP


@pytest.mark.asyncio
async def test_llamacpp_loading_is_a_state_not_an_error(
    llamacpp_fake, http_client, fast_policy, recording_sleep
):
    llamacpp_fake.loading = True
    client = OpenAICompatClient(llamacpp_fake.url, http_client, fast_policy)
    health = await client.health()
    assert health.state is HealthState.LOADING
    assert health.detail == "Loading model"
    assert recording_sleep.delays == []
    assert len(llamacpp_fake.requests_to("/health")) == 1


@pytest.mark.asyncio
async def test_health_without_endpoint_is_unknown(lmstudio_fake, http_client, fast_policy):
    client = OpenAICompatClient(lmstudio_fake.url, http_client, fast_policy)
    assert (await client.health()).state is HealthState.UNKNOWN


@pytest.mark.asyncio
async def test_vllm_models_health_and_chat(vllm_fake, http_client, fast_policy):
    client = OpenAICompatClient(vllm_fake.url, http_client, fast_policy, source=Source.VLLM)
    assert (await client.health()).ok  # vLLM answers 200 with an empty body
    (model,) = (await client.models()).models
    assert model.context_length == 32768  # max_model_len
    assert model.source is Source.VLLM
    result = await client.chat(model.id, MSG)
    assert result.text == REPLY_TEXT
    assert result.model_used == "Qwen/Qwen2.5-7B-Instruct"
    assert result.source is Source.VLLM


@pytest.mark.asyncio
async def test_openai_compat_stream_and_error(llamacpp_fake, http_client, fast_policy):
    client = OpenAICompatClient(llamacpp_fake.url, http_client, fast_policy, api_key="local-key")
    *deltas, result = await collect(client.chat_stream("m", MSG))
    assert deltas == list(REPLY_DELTAS)
    assert result.usage.completion_tokens == COMPLETION_TOKENS
    assert result.tokens_per_s is not None and result.tokens_per_s > 0
    request = llamacpp_fake.requests_to("/v1/chat/completions")[0]
    assert request.headers["authorization"] == "Bearer local-key"
    llamacpp_fake.fail_next("/v1/chat/completions", fk.STREAM_ERROR)
    with pytest.raises(ProviderDown):
        await collect(client.chat_stream("m", MSG))


@pytest.mark.asyncio
async def test_openai_compat_models_wrong_content_type(llamacpp_fake, http_client, fast_policy):
    client = OpenAICompatClient(llamacpp_fake.url, http_client, fast_policy)
    llamacpp_fake.fail_next("/v1/models", fk.HTML)
    with pytest.raises(BadResponse):
        await client.models()


def test_default_local_probes():
    where = {(p.source, p.base_url, p.path) for p in DEFAULT_LOCAL_PROBES}
    assert where == {
        (Source.OLLAMA, "http://127.0.0.1:11434", "/api/version"),
        (Source.LMSTUDIO, "http://127.0.0.1:1234", "/api/v0/models"),
        (Source.LLAMACPP, "http://127.0.0.1:8080", "/health"),
        (Source.LLAMACPP, "http://127.0.0.1:9931", "/health"),
        (Source.VLLM, "http://127.0.0.1:8000", "/v1/models"),
    }


@pytest.mark.asyncio
async def test_client_for_builds_the_right_client(http_client):
    assert isinstance(
        client_for(Source.OLLAMA, "http://127.0.0.1:11434", http_client), OllamaClient
    )
    assert isinstance(
        client_for(Source.LMSTUDIO, "http://127.0.0.1:1234", http_client), LMStudioClient
    )
    vllm = client_for(Source.VLLM, "http://127.0.0.1:8000", http_client)
    assert isinstance(vllm, OpenAICompatClient) and vllm.source is Source.VLLM
    with pytest.raises(ValueError):
        client_for(Source.OPENROUTER, "https://openrouter.ai/api/v1", http_client)
