"""Running a task along its fallback chain through real sockets: every fault, the typed error
behind it, the fallback taken, and what lands in the store (samples, spend, quota, quarantine)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio

from locallama_gui.core.cost import estimate_cost
from locallama_gui.core.models import Source, Usage
from locallama_gui.core.quota import next_utc_midnight
from locallama_gui.core.routing import FreePreference, Policy, Task
from locallama_gui.services.live import Endpoint, LiveServices
from locallama_gui.services.quarantine import QuarantinePolicy
from locallama_gui.services.refresh import RefreshService
from locallama_gui.services.runner import (
    CANCELLED,
    FAILED,
    OK,
    RATE_LIMITED,
    SKIPPED,
    Runner,
    RunPolicy,
)
from locallama_gui.sources import HttpPolicy
from tests.fakes import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    REPLY_DELTAS,
    REPLY_TEXT,
    STREAM_COST,
    OllamaFake,
)
from tests.fakes import server as fk

pytestmark = pytest.mark.asyncio

CHAT = "/chat/completions"
FREE_1 = "liquid/lfm-2.5-2.6b:free"
FREE_2 = "poolside/laguna-s-2.1:free"
PAID = "openai/gpt-4o-mini"
PAID_2 = "openai/gpt-4o"
ROUTER = "openrouter/auto"
LOCAL = "gemma4:e4b"
LOCAL_2 = "gemma4:latest"


async def wait_for(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@pytest_asyncio.fixture
async def ready(live):
    """The live services with the catalogue refreshed from the fakes."""
    await RefreshService(live).refresh()
    return live


def outcomes(run) -> list[tuple[str, str]]:
    return [(a.model_id, a.outcome) for a in run.attempts]


def sse_without_cost(model: str) -> bytes:
    def event(obj):
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    chunks = [
        event({"id": "gen-x", "model": model, "choices": [{"delta": {"content": p}}]})
        for p in REPLY_DELTAS
    ]
    chunks.append(
        event({"id": "gen-x", "model": model, "choices": [{"delta": {}, "finish_reason": "stop"}]})
    )
    usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS}
    chunks.append(event({"id": "gen-x", "model": model, "choices": [], "usage": usage}))
    chunks.append(b"data: [DONE]\n\n")
    return b"".join(chunks)


# --------------------------------------------------------------------------- success


async def test_a_routed_task_streams_and_records_sample_spend_and_quota(
    ready, services, store, clock
):
    policy = Policy(free_preference=FreePreference.ONLY, allow=("*:free",))
    decision = services.route(Task(prompt="Say hello", category="chat"), policy)
    assert decision.chain_ids
    deltas: list[str] = []

    run = await Runner(ready).run(decision, "Say hello", on_delta=deltas.append)

    assert run.ok and run.error is None
    assert deltas == list(REPLY_DELTAS)
    assert run.result.text == REPLY_TEXT
    chosen = decision.chain_ids[0]
    assert run.model_id == chosen and run.tier == "free"
    assert outcomes(run) == [(chosen, OK)]
    (sample,) = store.samples(model_id=chosen)
    assert sample.success and sample.category == "chat" and sample.ts == clock.now
    assert sample.ttft_ms is not None and sample.latency_ms is not None
    assert sample.prompt_tokens == PROMPT_TOKENS
    assert sample.completion_tokens == COMPLETION_TOKENS
    (spend,) = store.spend_entries()
    assert spend.model_id == chosen and spend.tier == "free"
    assert spend.cost_usd == Decimal(str(STREAM_COST))  # the provider's figure
    assert services.quota_status().used_day == 1
    assert [e.kind for e in store.quota_events()] == ["request"]


async def test_local_model_costs_zero_and_is_recorded(ready, store, ollama_fake):
    run = await Runner(ready).run([LOCAL], "Say hello")
    assert run.ok and run.tier == "local"
    assert run.result.cost_usd == Decimal(0)
    assert store.spend_entries()[0].cost_usd == Decimal(0)
    assert store.samples(model_id=LOCAL)[0].tokens_per_s == pytest.approx(7.0)
    assert ollama_fake.requests_to("/api/chat")[0].json["model"] == LOCAL


async def test_paid_cost_is_computed_from_prices_when_the_provider_gives_none(
    ready, services, store, openrouter_fake
):
    openrouter_fake.reply_next(CHAT, 200, sse_without_cost(PAID), content_type="text/event-stream")
    run = await Runner(ready).run([PAID], "Say hello")
    model = services.find_model(PAID)
    expected = estimate_cost(
        model, Usage(prompt_tokens=PROMPT_TOKENS, completion_tokens=COMPLETION_TOKENS)
    ).total_usd
    assert expected and expected > 0
    assert run.result.cost_usd == expected and run.result.cost_source == "computed"
    assert store.spend_entries()[0].cost_usd == expected


async def test_variable_price_router_without_cost_is_unknown_not_zero(
    ready, store, openrouter_fake
):
    openrouter_fake.reply_next(
        CHAT, 200, sse_without_cost(ROUTER), content_type="text/event-stream"
    )
    run = await Runner(ready).run([ROUTER], "Say hello")
    assert run.ok
    assert run.result.cost_usd is None
    assert store.spend_entries()[0].cost_usd is None
    assert store.spend_total().unknown_count == 1


# --------------------------------------------------------------------------- faults


async def test_free_per_day_429_marks_the_day_exhausted_and_skips_free_models(
    ready, services, store, clock, openrouter_fake
):
    openrouter_fake.fail_next(CHAT, fk.RATE_LIMIT_DAY)
    run = await Runner(ready).run([FREE_1, FREE_2, LOCAL], "Say hello")

    assert outcomes(run) == [(FREE_1, RATE_LIMITED), (FREE_2, SKIPPED), (LOCAL, OK)]
    assert run.attempts[0].error_kind == "RateLimited:free-per-day"
    assert "daily limit" in run.attempts[1].error
    status = services.quota_status()
    assert status.day_exhausted
    assert status.day_blocked_until == next_utc_midnight(clock.now)
    assert [e.kind for e in store.quota_events()] == ["limit_day"]
    assert len(openrouter_fake.requests_to(CHAT)) == 1
    # a rate limit is not the model's fault: no failed sample for it
    assert store.samples(model_id=FREE_1) == []
    # the next run skips free models without asking
    again = await Runner(ready).run([FREE_2, LOCAL], "Say hello")
    assert outcomes(again) == [(FREE_2, SKIPPED), (LOCAL, OK)]
    assert len(openrouter_fake.requests_to(CHAT)) == 1


async def test_free_per_minute_429_moves_on_by_default(ready, services, openrouter_fake):
    openrouter_fake.fail_next(CHAT, fk.RATE_LIMIT_MINUTE)
    run = await Runner(ready).run([FREE_1, FREE_2, PAID], "Say hello")
    assert outcomes(run) == [(FREE_1, RATE_LIMITED), (FREE_2, SKIPPED), (PAID, OK)]
    assert services.quota_status().minute_blocked_until is not None


async def test_free_per_minute_429_waits_when_the_reset_is_close(ready, openrouter_fake):
    openrouter_fake.fail_next(CHAT, fk.RATE_LIMIT_MINUTE, reset_ms=fk.epoch_ms(2.0))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    runner = Runner(ready, policy=RunPolicy(max_wait_s=30), sleep=sleep)
    run = await runner.run([FREE_1, PAID], "Say hello")
    assert outcomes(run) == [(FREE_1, RATE_LIMITED), (FREE_1, OK)]
    assert len(waits) == 1 and 0 < waits[0] <= 30
    assert run.attempts[1].waited_s == waits[0]


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (fk.BAD_GATEWAY, "ProviderDown"),
        (fk.SERVER_ERROR, "ProviderDown"),
        (fk.UNAVAILABLE, "ProviderDown"),
        (fk.STREAM_ERROR, "ProviderDown"),
        (fk.STREAM_DROP, "BadResponse"),
        (fk.FREE_VARIANT_ENDED, "NotFoundError"),
    ],
)
async def test_provider_failures_fall_back_to_the_next_model(
    ready, store, openrouter_fake, fault, kind
):
    openrouter_fake.fail_next(CHAT, fault)
    run = await Runner(ready).run([PAID, PAID_2], "Say hello")
    assert outcomes(run) == [(PAID, FAILED), (PAID_2, OK)]
    assert run.attempts[0].error_kind == kind
    assert run.result.text == REPLY_TEXT
    (failed,) = store.samples(model_id=PAID)
    assert not failed.success and failed.error_kind == kind
    assert store.samples(model_id=PAID_2)[0].success
    assert [e.model_id for e in store.spend_entries()] == [PAID_2]


async def test_timeout_falls_back(services, openrouter_fake, ollama_fake, http_client, live):
    await RefreshService(live).refresh()
    quick = HttpPolicy(connect_timeout=1, read_timeout=0.3, total_timeout=5, max_retries=0)
    async with LiveServices(
        services,
        endpoints=live.endpoints,
        api_key=live.api_key,
        policy=quick,
        client=http_client,
    ) as fast:
        openrouter_fake.fail_next(CHAT, fk.HANG, hang_s=3)
        run = await Runner(fast).run([PAID, LOCAL], "Say hello")
    assert outcomes(run) == [(PAID, FAILED), (LOCAL, OK)]
    assert run.attempts[0].error_kind == "SourceTimeout"


async def test_dead_local_server_moves_on_and_its_other_models_are_skipped(
    services, store, fast_policy, openrouter_fake, fake_api_key
):
    endpoints = [Endpoint(Source.OPENROUTER, openrouter_fake.base_url)]
    with OllamaFake() as other:
        endpoints.append(Endpoint(Source.OLLAMA, other.url))
        async with (
            httpx.AsyncClient(trust_env=False) as client,
            LiveServices(services, endpoints=endpoints, policy=fast_policy, client=client) as lv,
        ):
            await RefreshService(lv).refresh()
    # a fresh connection pool: nothing left open to the server that just stopped
    async with (
        httpx.AsyncClient(trust_env=False) as client,
        LiveServices(
            services, endpoints=endpoints, api_key=fake_api_key, policy=fast_policy, client=client
        ) as live,
    ):
        run = await Runner(live).run([LOCAL, LOCAL_2, PAID], "Say hello")
    assert outcomes(run) == [(LOCAL, FAILED), (LOCAL_2, SKIPPED), (PAID, OK)]
    assert run.attempts[0].error_kind == "Unreachable"
    assert run.attempts[0].error == f"host {other.url} refused the connection"
    assert run.attempts[1].error == f"host {other.url} refused the connection — skipped"


async def test_rejected_key_skips_openrouter_but_tries_local_models(
    services, store, http_client, fast_policy, openrouter_fake, ollama_fake, live
):
    await RefreshService(live).refresh()
    wrong = "sk-or-v1-wrong-key-0123456789"
    async with LiveServices(
        services, endpoints=live.endpoints, api_key=wrong, policy=fast_policy, client=http_client
    ) as bad:
        run = await Runner(bad).run([PAID, FREE_1, LOCAL], "Say hello")
    assert outcomes(run) == [(PAID, FAILED), (FREE_1, SKIPPED), (LOCAL, OK)]
    assert run.attempts[0].error_kind == "AuthError"
    assert "key was rejected" in run.attempts[1].error
    text = json.dumps(run.to_dict())
    assert wrong not in text
    assert store.samples(model_id=PAID) == []  # a key problem is not the model's failure


async def test_rejected_key_with_no_local_model_fails_with_a_clear_message(
    services, http_client, fast_policy, live
):
    await RefreshService(live).refresh()
    async with LiveServices(
        services,
        endpoints=live.endpoints,
        api_key="sk-or-v1-nope",
        policy=fast_policy,
        client=http_client,
    ) as bad:
        run = await Runner(bad).run([PAID, PAID_2], "Say hello")
    assert not run.ok
    assert "API key was rejected" in run.error
    assert "sk-or-v1-nope" not in run.error


async def test_no_key_skips_openrouter_models(services, http_client, fast_policy, live):
    await RefreshService(live).refresh()
    async with LiveServices(
        services, endpoints=live.endpoints, policy=fast_policy, client=http_client
    ) as nokey:
        run = await Runner(nokey).run([PAID, LOCAL], "Say hello")
    assert outcomes(run) == [(PAID, SKIPPED), (LOCAL, OK)]
    assert "OPENROUTER_API_KEY" in run.attempts[0].error


async def test_payment_required_on_a_paid_model_skips_the_other_paid_ones(ready, openrouter_fake):
    openrouter_fake.fail_next(CHAT, fk.PAYMENT_REQUIRED)
    run = await Runner(ready).run([PAID, PAID_2, FREE_1], "Say hello")
    assert outcomes(run) == [(PAID, FAILED), (PAID_2, SKIPPED), (FREE_1, OK)]
    assert run.attempts[0].error_kind == "PaymentRequired"


async def test_every_model_failing_gives_one_failure_with_the_last_error(
    ready, store, openrouter_fake
):
    openrouter_fake.fail_next(CHAT, fk.BAD_GATEWAY, times=2)
    run = await Runner(ready).run([PAID, PAID_2], "Say hello")
    assert not run.ok and run.result is None
    assert "All 2 models" in run.error and PAID_2 in run.error
    assert store.spend_entries() == []
    assert len(store.samples()) == 2


async def test_unknown_model_in_the_chain_is_skipped(ready):
    run = await Runner(ready).run(["no/such-model", LOCAL], "hi")
    assert outcomes(run) == [("no/such-model", SKIPPED), (LOCAL, OK)]


# --------------------------------------------------------------------------- streaming


async def test_deltas_arrive_before_the_completion(ready, openrouter_fake):
    release = openrouter_fake.hold_stream_after(4)
    deltas: list[str] = []
    task = asyncio.create_task(Runner(ready).run([PAID], "hi", on_delta=deltas.append))
    try:
        await wait_for(lambda: len(deltas) >= 2)
        assert openrouter_fake.stream_held.is_set()
        assert not task.done()
        assert "".join(deltas) != REPLY_TEXT
    finally:
        release.set()
    run = await task
    assert run.ok and "".join(deltas) == REPLY_TEXT


async def test_cancelling_the_task_stops_the_stream_and_records_it(ready, store, openrouter_fake):
    release = openrouter_fake.hold_stream_after(4)
    deltas: list[str] = []
    runner = Runner(ready)
    task = asyncio.create_task(runner.run([PAID, PAID_2], "hi", on_delta=deltas.append))
    try:
        await wait_for(lambda: deltas)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the server is still holding the stream: the client did not wait for it
        assert not openrouter_fake.stream_finished.is_set()
    finally:
        release.set()
    assert runner.last_run is not None and runner.last_run.cancelled
    assert outcomes(runner.last_run) == [(PAID, CANCELLED)]
    assert len(openrouter_fake.requests_to(CHAT)) == 1  # no fallback after a cancel
    assert store.spend_entries() == [] and store.samples(model_id=PAID) == []


async def test_cancel_event_returns_a_cancelled_result(ready, openrouter_fake):
    release = openrouter_fake.hold_stream_after(4)
    stop = asyncio.Event()
    deltas: list[str] = []
    task = asyncio.create_task(
        Runner(ready).run([PAID, PAID_2], "hi", on_delta=deltas.append, cancel=stop)
    )
    try:
        await wait_for(lambda: deltas)
        stop.set()
        run = await asyncio.wait_for(task, 5)
        assert not openrouter_fake.stream_finished.is_set()
    finally:
        release.set()
    assert run.cancelled and not run.ok and run.error == "cancelled"
    assert outcomes(run) == [(PAID, CANCELLED)]


# --------------------------------------------------------------------------- quarantine


async def test_repeated_failures_quarantine_a_model_until_a_success(
    ready, services, store, clock, openrouter_fake
):
    runner = Runner(ready)
    openrouter_fake.fail_next(CHAT, fk.SERVER_ERROR, times=3)
    for _ in range(3):
        run = await runner.run([PAID, LOCAL], "hi")
        assert outcomes(run)[0] == (PAID, FAILED)
    (entry,) = store.quarantined(clock.now)
    assert entry.model_id == PAID and entry.failures == 3
    assert entry.until == clock.now + QuarantinePolicy().base
    assert PAID in services.context().quarantined  # routing skips it
    run = await runner.run([PAID, LOCAL], "hi")
    assert outcomes(run) == [(PAID, SKIPPED), (LOCAL, OK)]
    assert "quarantined" in run.attempts[0].error
    assert len(openrouter_fake.requests_to(CHAT)) == 3

    clock.advance(minutes=16)
    run = await runner.run([PAID], "hi")
    assert run.ok
    assert store.get_quarantine(PAID) is None


async def test_a_repeat_quarantine_lasts_twice_as_long(ready, store, clock, openrouter_fake):
    runner = Runner(ready)
    openrouter_fake.fail_next(CHAT, fk.SERVER_ERROR, times=6)
    for _ in range(3):
        await runner.run([PAID], "hi")
    first = store.get_quarantine(PAID)
    clock.advance(minutes=16)
    for _ in range(3):
        await runner.run([PAID], "hi")
    second = store.get_quarantine(PAID)
    assert first is not None and second is not None
    assert second.until - clock.now == 2 * QuarantinePolicy().base
    assert second.failures == 6


async def test_rate_limits_never_quarantine(ready, store, clock, openrouter_fake):
    runner = Runner(ready)
    openrouter_fake.fail_next(CHAT, fk.RATE_LIMIT_MINUTE, times=4)
    runs = [await runner.run([FREE_1], "hi") for _ in range(4)]
    assert outcomes(runs[0]) == [(FREE_1, RATE_LIMITED)]
    # the minute window is known to be full now: no request is sent for a certain 429
    assert all(outcomes(r) == [(FREE_1, SKIPPED)] for r in runs[1:])
    assert len(openrouter_fake.requests_to(CHAT)) == 1
    assert store.quarantined(clock.now) == []
