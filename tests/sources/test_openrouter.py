"""OpenRouterClient through the loopback fake: catalogue, key, chat, streaming, faults."""

from __future__ import annotations

import dataclasses
import json
import logging
import traceback
from decimal import Decimal

import pytest

from locallama_gui.core.catalogue import parse_openrouter_models
from locallama_gui.core.models import ModelInfo, Pricing, Source, Tier, Usage
from locallama_gui.sources import (
    AuthError,
    BadResponse,
    ChatResult,
    ModerationError,
    NotFoundError,
    OpenRouterClient,
    PaymentRequired,
    ProviderDown,
    RateLimited,
    SourceError,
    SourceTimeout,
    with_computed_cost,
)
from tests.fakes import COMPLETION_TOKENS, PROMPT_TOKENS, REPLY_DELTAS, REPLY_TEXT, STREAM_COST
from tests.fakes import server as fk

CHAT = "/chat/completions"
MSG = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def client(openrouter_fake, http_client, fast_policy) -> OpenRouterClient:
    return OpenRouterClient(openrouter_fake.base_url, http_client, fast_policy)


async def collect(stream):
    items = []
    async for item in stream:
        items.append(item)
    return items


# --------------------------------------------------------------------------- catalogue


@pytest.mark.asyncio
async def test_list_models_matches_the_capture(client, openrouter_fake, data_dir):
    result = await client.list_models()
    payload = json.loads((data_dir / "openrouter/models-2026-08-14.json").read_text())
    expected = parse_openrouter_models(payload)
    assert len(result.models) == 414
    assert result == expected
    ids = {m.id for m in result.models}
    assert "openrouter/free" in ids
    assert sum(m.id.endswith(":free") for m in result.models) == 17
    (req,) = openrouter_fake.requests_to("/models")
    assert req.query == {}
    assert "authorization" not in req.headers


@pytest.mark.asyncio
async def test_list_models_all_modalities(client, openrouter_fake):
    await client.list_models(all_modalities=True)
    (req,) = openrouter_fake.requests_to("/models")
    assert req.query == {"output_modalities": ["all"]}


@pytest.mark.asyncio
async def test_list_models_follows_pagination_links(client, openrouter_fake):
    first = {
        "data": [_model("a/one")],
        "total_count": 2,
        "links": {"next": "/api/v1/models?offset=1"},
    }
    second = {"data": [_model("b/two")], "total_count": 2, "links": {"next": None}}
    openrouter_fake.reply_next("/models", 200, first)
    openrouter_fake.reply_next("/models", 200, second)
    result = await client.list_models()
    assert [m.id for m in result.models] == ["a/one", "b/two"]


def _model(model_id: str) -> dict:
    return {
        "id": model_id,
        "name": model_id,
        "created": 1,
        "context_length": 1000,
        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
        "pricing": {"prompt": "0.000001", "completion": "0.000002"},
        "top_provider": {"context_length": 1000, "max_completion_tokens": None},
        "supported_parameters": [],
    }


@pytest.mark.asyncio
async def test_list_models_wrong_shape_is_bad_response(client, openrouter_fake):
    openrouter_fake.reply_next("/models", 200, {"models": "nope"})
    with pytest.raises(BadResponse) as info:
        await client.list_models()
    assert info.value.code == "shape"


# --------------------------------------------------------------------------- key


@pytest.mark.asyncio
async def test_key_status(client, openrouter_fake, fake_api_key):
    status = await client.key_status(fake_api_key)
    assert status.limit == Decimal("10.5")
    assert status.limit_remaining == Decimal("7.25")
    assert status.usage == Decimal("3.25")
    assert status.is_free_tier is True
    assert status.free_daily_cap == 50
    (req,) = openrouter_fake.requests_to("/key")
    assert req.headers["authorization"] == f"Bearer {fake_api_key}"


@pytest.mark.asyncio
async def test_key_status_paid_account_has_1000_free_per_day(client, openrouter_fake, fake_api_key):
    openrouter_fake.is_free_tier = False
    openrouter_fake.free_daily = {"limit": 1000, "remaining": 988, "used": 12}
    status = await client.key_status(fake_api_key)
    assert status.free_daily_cap == 1000
    assert (status.free_daily_remaining, status.free_daily_used) == (988, 12)
    assert status.free_limits.per_minute == 20


@pytest.mark.asyncio
async def test_the_free_cap_is_what_key_reports_not_is_free_tier(
    client, openrouter_fake, fake_api_key
):
    """$5 of credits bought: not on the free tier, and still 50 free requests a day."""
    openrouter_fake.is_free_tier = False
    openrouter_fake.free_daily = {"limit": 50, "remaining": 41}
    status = await client.key_status(fake_api_key)
    assert status.free_daily_cap == 50 and status.free_cap_reported
    assert (status.free_daily_remaining, status.free_daily_used) == (41, 9)
    # absent: the rule's lower cap, never 1000 from is_free_tier
    openrouter_fake.free_daily = None
    status = await client.key_status(fake_api_key)
    assert status.free_daily_cap == 50 and not status.free_cap_reported
    # odd values count as absent
    openrouter_fake.free_daily = {"limit": "lots", "remaining": -3}
    assert not (await client.key_status(fake_api_key)).free_cap_reported


@pytest.mark.asyncio
async def test_key_status_falls_back_to_auth_key(client, openrouter_fake, fake_api_key):
    openrouter_fake.key_path_missing = True
    status = await client.key_status(fake_api_key)
    assert status.limit == Decimal("10.5")
    assert len(openrouter_fake.requests_to("/key")) == 1
    assert len(openrouter_fake.requests_to("/auth/key")) == 1


@pytest.mark.asyncio
async def test_bad_key_is_auth_error(client):
    with pytest.raises(AuthError) as info:
        await client.key_status("sk-or-v1-wrongwrongwrong")
    assert info.value.status == 401
    assert "Settings" in info.value.user_message


@pytest.mark.asyncio
async def test_missing_key_is_auth_error_without_a_request(client, openrouter_fake):
    with pytest.raises(AuthError):
        await client.chat("", "openai/gpt-4o", MSG)
    assert openrouter_fake.requests == []


# --------------------------------------------------------------------------- chat


@pytest.mark.asyncio
async def test_chat_replays_the_capture(client, openrouter_fake, fake_api_key):
    result = await client.chat(fake_api_key, "openai/gpt-3.5-turbo", MSG, max_tokens=50)
    assert result.text == "Hello! How can I assist you today?"
    assert result.model_used == "openai/gpt-3.5-turbo"
    assert result.provider == "OpenAI"
    assert result.request_id == "gen-1747848595-82CvYY5V1U8dPOBIC1IT"
    assert result.usage == Usage(prompt_tokens=20, completion_tokens=9)
    assert result.finish_reason == "stop"
    # The 2025 response carries no usage.cost: unknown until computed from prices.
    assert result.cost_usd is None
    assert result.cost_source == "unknown"
    assert result.latency_ms is not None and result.latency_ms >= 0
    (req,) = openrouter_fake.requests_to(CHAT)
    body = req.json
    assert body["model"] == "openai/gpt-3.5-turbo"
    assert body["max_tokens"] == 50
    assert body["stream"] is False
    assert req.headers["http-referer"]
    assert req.headers["x-openrouter-title"] == "LocaLLama Router"
    assert req.headers["x-title"] == "LocaLLama Router"


@pytest.mark.asyncio
async def test_chat_sends_fallback_models_and_extras(client, openrouter_fake, fake_api_key):
    await client.chat(
        fake_api_key,
        "a/free:free",
        MSG,
        models_fallback=["b/free:free", "a/free:free", "c/paid"],
        provider={"sort": "price"},
    )
    body = openrouter_fake.requests_to(CHAT)[0].json
    assert body["models"] == ["a/free:free", "b/free:free", "c/paid"]
    assert body["provider"] == {"sort": "price"}


def paid_model(model_id: str) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        source=Source.OPENROUTER,
        tier=Tier.PAID,
        pricing=Pricing(
            prices={"prompt": Decimal("0.0000005"), "completion": Decimal("0.0000015")}
        ),
    )


@pytest.mark.asyncio
async def test_with_computed_cost_prices_the_usage(client, fake_api_key):
    result = await client.chat(fake_api_key, "openai/gpt-3.5-turbo", MSG)
    priced = with_computed_cost(result, paid_model("openai/gpt-3.5-turbo"))
    assert priced.cost_source == "computed"
    assert priced.cost_usd == Decimal("20") * Decimal("0.0000005") + 9 * Decimal("0.0000015")
    variable = dataclasses.replace(paid_model("openrouter/auto"), tier=Tier.VARIABLE)
    unknown = with_computed_cost(result, variable)
    assert unknown.cost_usd is None and unknown.cost_source == "unknown"


def test_with_computed_cost_keeps_a_provider_cost():
    result = ChatResult(
        text="x",
        model_used="m",
        source=Source.OPENROUTER,
        usage=Usage(prompt_tokens=1),
        cost_usd=Decimal("0.5"),
        cost_source="provider",
    )
    assert with_computed_cost(result, paid_model("m")) is result


@pytest.mark.asyncio
async def test_chat_error_inside_a_200_body(client, openrouter_fake, fake_api_key):
    openrouter_fake.reply_next(CHAT, 200, {"error": {"code": 502, "message": "upstream died"}})
    with pytest.raises(ProviderDown):
        await client.chat(fake_api_key, "openai/gpt-4o", MSG)


@pytest.mark.parametrize(
    ("kind", "error", "code"),
    [
        (fk.UNAUTHORIZED, AuthError, None),
        (fk.PAYMENT_REQUIRED, PaymentRequired, None),
        (fk.MODERATION, ModerationError, None),
        (fk.NOT_FOUND, NotFoundError, "model_not_found"),
        (fk.FREE_VARIANT_ENDED, NotFoundError, "free_variant_ended"),
        (fk.PRIVACY_RESTRICTED, NotFoundError, "privacy_restricted"),
        (fk.SERVER_ERROR, ProviderDown, None),
        (fk.BAD_GATEWAY, ProviderDown, None),
        (fk.UNAVAILABLE, ProviderDown, None),
    ],
)
@pytest.mark.asyncio
async def test_chat_faults_map_to_typed_errors(
    client, openrouter_fake, fake_api_key, kind, error, code
):
    openrouter_fake.fail_next(CHAT, kind)
    with pytest.raises(error) as info:
        await client.chat(fake_api_key, "x/y:free", MSG)
    if code is not None:
        assert info.value.code == code
    assert len(openrouter_fake.requests_to(CHAT)) == 1


@pytest.mark.asyncio
async def test_chat_503_carries_retry_after(client, openrouter_fake, fake_api_key):
    openrouter_fake.fail_next(CHAT, fk.UNAVAILABLE, retry_after="2")
    with pytest.raises(ProviderDown) as info:
        await client.chat(fake_api_key, "x/y", MSG)
    assert info.value.retry_after_s == 2


@pytest.mark.asyncio
async def test_chat_free_per_minute(client, openrouter_fake, fake_api_key, fast_policy):
    now = 1_767_225_600.0
    client = OpenRouterClient(
        openrouter_fake.base_url,
        client.http.client,
        dataclasses.replace(fast_policy, clock=lambda: now),
    )
    openrouter_fake.fail_next(CHAT, fk.RATE_LIMIT_MINUTE, reset_ms=int((now + 20) * 1000))
    with pytest.raises(RateLimited) as info:
        await client.chat(fake_api_key, "x/y:free", MSG)
    err = info.value
    assert err.scope == "free-per-minute"
    assert err.retry_after_s == pytest.approx(20)
    assert err.reset_at is not None and err.reset_at.timestamp() == pytest.approx(now + 20)
    assert err.retryable


@pytest.mark.asyncio
async def test_chat_free_per_day(client, openrouter_fake, fake_api_key):
    openrouter_fake.fail_next(CHAT, fk.RATE_LIMIT_DAY)
    with pytest.raises(RateLimited) as info:
        await client.chat(fake_api_key, "x/y:free", MSG)
    err = info.value
    assert err.scope == "free-per-day"
    assert not err.retryable
    assert err.reset_at is not None
    assert (err.reset_at.hour, err.reset_at.minute, err.reset_at.second) == (0, 0, 0)


@pytest.mark.asyncio
async def test_chat_read_timeout(client, openrouter_fake, fake_api_key, fast_policy):
    policy = dataclasses.replace(fast_policy, read_timeout=0.3)
    client = OpenRouterClient(openrouter_fake.base_url, client.http.client, policy)
    openrouter_fake.fail_next(CHAT, fk.HANG, hang_s=5)
    with pytest.raises(SourceTimeout):
        await client.chat(fake_api_key, "x/y", MSG)


# --------------------------------------------------------------------------- streaming


@pytest.mark.asyncio
async def test_stream_yields_deltas_then_result(client, openrouter_fake, fake_api_key):
    items = await collect(client.chat_stream(fake_api_key, "openrouter/free", MSG))
    *deltas, result = items
    assert deltas == list(REPLY_DELTAS)
    assert isinstance(result, ChatResult)
    assert result.text == REPLY_TEXT
    assert result.model_used == "upstage/solar-pro-3:free"
    assert result.requested_model == "openrouter/free"
    assert result.provider == "FakeProvider"
    assert result.usage == Usage(prompt_tokens=PROMPT_TOKENS, completion_tokens=COMPLETION_TOKENS)
    assert result.cost_usd == Decimal(str(STREAM_COST))
    assert result.cost_source == "provider"
    assert result.finish_reason == "stop"
    assert result.streamed
    assert result.ttft_ms is not None and result.latency_ms >= result.ttft_ms
    body = openrouter_fake.requests_to(CHAT)[0].json
    assert body["stream"] is True


@pytest.mark.asyncio
async def test_stream_delivers_deltas_before_the_server_finishes(
    client, openrouter_fake, fake_api_key
):
    # The comment line and two content chunks go out; then the server waits for us.
    release = openrouter_fake.hold_stream_after(3)
    stream = client.chat_stream(fake_api_key, "x/y", MSG)
    seen = []
    try:
        async for item in stream:
            if isinstance(item, str):
                seen.append(item)
                if len(seen) == 2:
                    assert openrouter_fake.stream_held.is_set()
                    assert not openrouter_fake.stream_finished.is_set()
                    release.set()
            else:
                final = item
    finally:
        release.set()
    assert seen == list(REPLY_DELTAS)
    assert final.text == REPLY_TEXT
    # the fake's thread sets the flag just after its last write: the client may be faster
    assert openrouter_fake.stream_finished.wait(5)


@pytest.mark.asyncio
async def test_stream_error_chunk_midway(client, openrouter_fake, fake_api_key):
    openrouter_fake.fail_next(CHAT, fk.STREAM_ERROR, after_chunks=3)
    seen = []
    with pytest.raises(ProviderDown) as info:
        async for item in client.chat_stream(fake_api_key, "x/y", MSG):
            seen.append(item)
    assert seen == ["Hello", "!"]
    assert "Provider disconnected" in str(info.value)


@pytest.mark.asyncio
async def test_stream_dropped_midway(client, openrouter_fake, fake_api_key):
    openrouter_fake.fail_next(CHAT, fk.STREAM_DROP, after_chunks=3)
    seen = []
    with pytest.raises(BadResponse) as info:
        async for item in client.chat_stream(fake_api_key, "x/y", MSG):
            seen.append(item)
    assert seen == ["Hello", "!"]
    assert info.value.code == "truncated"


@pytest.mark.asyncio
async def test_stream_error_status_before_streaming(client, openrouter_fake, fake_api_key):
    openrouter_fake.fail_next(CHAT, fk.RATE_LIMIT_MINUTE)
    with pytest.raises(RateLimited):
        await collect(client.chat_stream(fake_api_key, "x/y:free", MSG))


@pytest.mark.asyncio
async def test_stream_wrong_content_type(client, openrouter_fake, fake_api_key):
    openrouter_fake.fail_next(CHAT, fk.HTML)
    with pytest.raises(BadResponse) as info:
        await collect(client.chat_stream(fake_api_key, "x/y", MSG))
    assert info.value.code == "content_type"


@pytest.mark.asyncio
async def test_stream_ignored_by_server_still_works(client, openrouter_fake, fake_api_key):
    openrouter_fake.reply_next(
        CHAT,
        200,
        {
            "id": "gen-1",
            "model": "a/b",
            "choices": [{"message": {"content": "whole"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "cost": 0.001},
        },
    )
    items = await collect(client.chat_stream(fake_api_key, "a/b", MSG))
    assert items[0] == "whole"
    assert items[-1].cost_usd == Decimal("0.001")


# --------------------------------------------------------------------------- secrecy


LEAK_FAULTS = (
    fk.UNAUTHORIZED,
    fk.PAYMENT_REQUIRED,
    fk.MODERATION,
    fk.NOT_FOUND,
    fk.RATE_LIMIT_MINUTE,
    fk.RATE_LIMIT_DAY,
    fk.BAD_GATEWAY,
    fk.TRUNCATED,
    fk.HTML,
    fk.BAD_JSON,
    fk.STREAM_ERROR,
    fk.STREAM_DROP,
)


def _texts(err: BaseException) -> list[str]:
    out = [str(err), repr(err), "".join(traceback.format_exception(err))]
    if isinstance(err, SourceError):
        out += [err.user_message, err.url or ""]
    return out


@pytest.mark.asyncio
async def test_the_key_never_appears_in_errors_or_logs(
    client, openrouter_fake, fake_api_key, caplog, fast_policy
):
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    for kind in LEAK_FAULTS:
        openrouter_fake.fail_next(CHAT, kind)
        try:
            await collect(client.chat_stream(fake_api_key, "x/y", MSG))
        except SourceError as exc:
            errors.append(exc)
        openrouter_fake.fail_next(CHAT, kind)
        try:
            await client.chat(fake_api_key, "x/y", MSG)
        except SourceError as exc:
            errors.append(exc)
    # Server messages that echo the key back.
    openrouter_fake.reply_next(
        "/key", 401, {"error": {"code": 401, "message": f"Key {fake_api_key} is disabled"}}
    )
    try:
        await client.key_status(fake_api_key)
    except SourceError as exc:
        errors.append(exc)
    slow = OpenRouterClient(
        openrouter_fake.base_url,
        client.http.client,
        dataclasses.replace(fast_policy, read_timeout=0.3),
    )
    openrouter_fake.fail_next(CHAT, fk.HANG, hang_s=3)
    try:
        await slow.chat(fake_api_key, "x/y", MSG)
    except SourceError as exc:
        errors.append(exc)
    # A key that cannot be sent as a header must not be echoed either.
    bad_key = fake_api_key + "\n"
    try:
        await client.chat(bad_key, "x/y", MSG)
    except SourceError as exc:
        errors.append(exc)

    assert len(errors) >= 2 * len(LEAK_FAULTS)
    secret_bits = (fake_api_key, "RECOGNISABLE", "sk-or-v1-fake0123")
    for err in errors:
        for text in _texts(err):
            for bit in secret_bits:
                assert bit not in text, (type(err).__name__, text)
    assert caplog.records, "expected debug records from the HTTP layer"
    for record in caplog.records:
        message = record.getMessage()
        for bit in secret_bits:
            assert bit not in message
    for bit in secret_bits:
        assert bit not in repr(client)
        assert bit not in caplog.text
