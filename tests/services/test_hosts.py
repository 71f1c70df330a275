"""Hung and refusing hosts: the per-host breaker of a run (shared with the quarantine), the
overall deadlines of a run, a refresh and a key check, and cancelling a request held by a
host that never sends its first byte. Real sockets: ``tests/fakes/hung.py``."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

import pytest
import pytest_asyncio

from locallama_gui.core.benchmarks import BenchTask
from locallama_gui.core.models import Source
from locallama_gui.services.benchmark import BenchmarkOptions, BenchmarkRunner
from locallama_gui.services.hosts import HostWatch, outage_from_error
from locallama_gui.services.live import Endpoint, LiveServices, deadline_summary
from locallama_gui.services.quarantine import host_entry_key
from locallama_gui.services.refresh import RefreshService
from locallama_gui.services.runner import (
    CANCELLED,
    DEADLINE_KIND,
    FAILED,
    OK,
    SKIPPED,
    Runner,
    RunPolicy,
)
from locallama_gui.sources import HttpPolicy, SourceTimeout, Unreachable
from tests.fakes import REPLY_TEXT
from tests.fakes.hung import HungServer, refusing_url

pytestmark = pytest.mark.asyncio

FREE_1 = "liquid/lfm-2.5-2.6b:free"
FREE_2 = "poolside/laguna-s-2.1:free"
PAID = "openai/gpt-4o-mini"
PAID_2 = "openai/gpt-4o"
ROUTER = "openrouter/auto"
LOCAL = "gemma4:e4b"
FIVE_ON_OPENROUTER = [FREE_1, FREE_2, PAID, PAID_2, ROUTER]

#: Each wait on the hung host; the timing bounds below are generous multiples of it.
TIMEOUT_S = 1.0


def quick(**overrides) -> HttpPolicy:
    values = {
        "connect_timeout": TIMEOUT_S,
        "read_timeout": TIMEOUT_S,
        "total_timeout": 10.0,
        "max_retries": 0,
    }
    values.update(overrides)
    return HttpPolicy(**values)


@pytest.fixture
def hung():
    with HungServer() as server:
        yield server


@pytest_asyncio.fixture
async def catalogue(live):
    """The catalogue refreshed from the working fakes (OpenRouter and Ollama models)."""
    await RefreshService(live).refresh()
    return live


def on_hung_openrouter(services, hung, fake_api_key, client, ollama_fake=None, **policy):
    endpoints = [Endpoint(Source.OPENROUTER, hung.openrouter_url)]
    if ollama_fake is not None:
        endpoints.append(Endpoint(Source.OLLAMA, ollama_fake.base_url))
    return LiveServices(
        services,
        endpoints=endpoints,
        api_key=fake_api_key,
        policy=quick(**policy),
        client=client,
    )


def outcomes(run) -> list[tuple[str, str]]:
    return [(a.model_id, a.outcome) for a in run.attempts]


# --------------------------------------------------------------------------- classification


async def test_only_no_answer_at_all_is_an_outage(clock):
    url = "http://127.0.0.1:9/v1"
    now = clock()
    held = SourceTimeout("read timed out", phase="read", timeout_s=30.0, no_response=True)
    assert outage_from_error(held, url, now).describe() == (
        "host http://127.0.0.1:9 did not answer (timed out after 30 s)"
    )
    stalled = SourceTimeout("read timed out", phase="read", timeout_s=30.0)  # mid-answer
    assert outage_from_error(stalled, url, now) is None
    assert outage_from_error(SourceTimeout("504", phase="server"), url, now) is None
    refused = Unreachable("cannot connect: ConnectError: [Errno 111] refused", code="connect")
    assert outage_from_error(refused, url, now).kind == "refused"
    assert outage_from_error(Unreachable("request failed: odd"), url, now) is None


# --------------------------------------------------------------------------- the breaker in a run


async def test_five_models_on_a_hung_host_cost_one_timeout_not_five(
    services, store, catalogue, hung, fake_api_key, http_client
):
    async with on_hung_openrouter(services, hung, fake_api_key, http_client) as live:
        started = time.monotonic()
        run = await Runner(live).run(FIVE_ON_OPENROUTER, "Say hello")
        elapsed = time.monotonic() - started
    host = f"http://127.0.0.1:{hung.port}"
    assert outcomes(run) == [(FREE_1, FAILED)] + [(m, SKIPPED) for m in FIVE_ON_OPENROUTER[1:]]
    assert run.attempts[0].error_kind == "SourceTimeout"
    assert run.attempts[0].error == f"host {host} did not answer (timed out after 1 s)"
    for a in run.attempts[1:]:
        assert a.error == f"host {host} did not answer (timed out after 1 s) — skipped"
    assert run.error == (
        f"No model answered: host {host} did not answer (timed out after 1 s); "
        "4 other models on it skipped."
    )
    assert hung.requests == 1  # one request waited; the other four were never sent
    assert elapsed < 4 * TIMEOUT_S  # five timeouts would be 5 s
    # the one that was sent is a failure of that model; the skipped ones say nothing of theirs
    assert [s.model_id for s in store.samples() if not s.success] == [FREE_1]


async def test_a_hung_openrouter_moves_on_to_a_local_model_after_one_timeout(
    services, catalogue, hung, fake_api_key, http_client, ollama_fake
):
    async with on_hung_openrouter(services, hung, fake_api_key, http_client, ollama_fake) as live:
        run = await Runner(live).run([PAID, FREE_1, PAID_2, LOCAL], "Say hello")
    assert outcomes(run) == [(PAID, FAILED), (FREE_1, SKIPPED), (PAID_2, SKIPPED), (LOCAL, OK)]
    assert run.result.text == REPLY_TEXT
    assert hung.requests == 1


async def test_the_next_run_skips_the_hung_host_at_once_until_the_cool_down_ends(
    services, store, clock, catalogue, hung, fake_api_key, http_client
):
    async with on_hung_openrouter(services, hung, fake_api_key, http_client) as live:
        await Runner(live).run([PAID, PAID_2], "Say hello")
        assert hung.requests == 1
        entry = live.quarantine.host_active(hung.openrouter_url)
        assert entry is not None and entry.model_id == host_entry_key(hung.url)
        assert (entry.until - clock()).total_seconds() == pytest.approx(60)
        # listed with the quarantined models (``locallama quarantine`` shows and lifts it)
        assert [q.model_id for q in live.quarantine.listing()] == [host_entry_key(hung.url)]

        started = time.monotonic()
        again = await Runner(live).run([PAID, PAID_2], "Say hello")
        assert time.monotonic() - started < TIMEOUT_S  # nothing waited for
        assert outcomes(again) == [(PAID, SKIPPED), (PAID_2, SKIPPED)]
        assert again.attempts[0].error.startswith(f"host http://127.0.0.1:{hung.port} did not")
        assert "skipped until" in again.attempts[0].error
        assert hung.requests == 1

        clock.advance(seconds=61)  # the cool-down is over: it is tried again
        await Runner(live).run([PAID], "Say hello")
        assert hung.requests == 2


async def test_a_refused_connection_skips_the_host_for_this_run_only(
    services, catalogue, fake_api_key, http_client, ollama_fake
):
    dead = refusing_url()
    endpoints = [Endpoint(Source.OPENROUTER, dead + "/api/v1")]
    endpoints.append(Endpoint(Source.OLLAMA, ollama_fake.base_url))
    async with LiveServices(
        services, endpoints=endpoints, api_key=fake_api_key, policy=quick(), client=http_client
    ) as live:
        run = await Runner(live).run([PAID, PAID_2, LOCAL], "Say hello")
        assert outcomes(run) == [(PAID, FAILED), (PAID_2, SKIPPED), (LOCAL, OK)]
        assert run.attempts[1].error == f"host {dead} refused the connection — skipped"
        # cheap to try again: the next run does (no cool-down for a refusal)
        assert live.quarantine.host_active(dead) is None
        again = await Runner(live).run([PAID, LOCAL], "Say hello")
        assert outcomes(again) == [(PAID, FAILED), (LOCAL, OK)]


async def test_a_host_that_answers_a_refresh_is_lifted(services, store, clock, ollama_fake):
    watch = HostWatch(LiveServices(services).quarantine)
    held = SourceTimeout("read timed out", phase="read", timeout_s=30.0, no_response=True)
    watch.failed(ollama_fake.base_url, held, clock())
    assert store.get_quarantine(host_entry_key(ollama_fake.url)) is not None
    endpoints = [Endpoint(Source.OLLAMA, ollama_fake.base_url)]
    async with LiveServices(services, endpoints=endpoints) as live:
        (status,) = await live.fetch_all()
    assert status.up
    assert store.get_quarantine(host_entry_key(ollama_fake.url)) is None


# --------------------------------------------------------------------------- the run's deadline


async def test_the_run_deadline_stops_the_walk_and_says_so(
    services, catalogue, hung, fake_api_key, http_client
):
    async with on_hung_openrouter(services, hung, fake_api_key, http_client, read_timeout=30) as lv:
        started = time.monotonic()
        run = await Runner(lv, policy=RunPolicy(deadline_s=1.5)).run([PAID, PAID_2], "Say hello")
        elapsed = time.monotonic() - started
    assert elapsed < 5  # not the 30 s read timeout
    assert outcomes(run) == [(PAID, FAILED), (PAID_2, SKIPPED)]
    assert run.attempts[0].error_kind == DEADLINE_KIND
    assert run.attempts[0].error == "no answer within the run's 1.5 s deadline"
    assert run.attempts[1].error.startswith("not tried: the run stopped after 1.5 s")
    assert run.error == f"stopped after 1.5 s: {PAID} did not answer"


async def test_the_run_deadline_does_not_cut_an_answer_that_has_started(
    services, catalogue, openrouter_fake, fake_api_key, http_client
):
    endpoints = [Endpoint(Source.OPENROUTER, openrouter_fake.base_url)]
    async with LiveServices(
        services,
        endpoints=endpoints,
        api_key=fake_api_key,
        policy=quick(read_timeout=5),
        client=http_client,
    ) as live:
        release = openrouter_fake.hold_stream_after(2)
        timer = threading.Timer(1.5, release.set)  # held past the 0.5 s deadline
        timer.start()
        try:
            run = await Runner(live, policy=RunPolicy(deadline_s=0.5)).run([PAID], "Say hello")
        finally:
            timer.cancel()
            release.set()
    assert run.ok, run.error
    assert run.result.text == REPLY_TEXT


async def test_an_answer_that_stalls_is_not_a_dead_host_the_next_model_there_is_tried(
    services, catalogue, openrouter_fake, fake_api_key, http_client
):
    endpoints = [Endpoint(Source.OPENROUTER, openrouter_fake.base_url)]
    async with LiveServices(
        services,
        endpoints=endpoints,
        api_key=fake_api_key,
        policy=quick(read_timeout=0.5),
        client=http_client,
    ) as live:
        release = openrouter_fake.hold_stream_after(2)  # then nothing for up to 10 s
        try:
            run = await Runner(live).run([PAID, PAID_2], "Say hello")
        finally:
            release.set()
    assert outcomes(run) == [(PAID, FAILED), (PAID_2, OK)]
    assert run.attempts[0].error == "the answer stalled: nothing more came for 0.5 s"


# --------------------------------------------------------------------------- cancelling


async def test_cancelling_a_run_held_by_a_hung_host_closes_its_request_at_once(
    services, catalogue, hung, fake_api_key, http_client
):
    async with on_hung_openrouter(services, hung, fake_api_key, http_client, read_timeout=30) as lv:
        cancel = asyncio.Event()
        task = asyncio.create_task(Runner(lv).run([PAID, PAID_2], "Say hello", cancel=cancel))
        async with asyncio.timeout(5):
            while hung.requests < 1:
                await asyncio.sleep(0.01)
        started = time.monotonic()
        cancel.set()
        run = await asyncio.wait_for(task, 2)
        assert time.monotonic() - started < 1.0
        assert run.cancelled and outcomes(run) == [(PAID, CANCELLED)]
        async with asyncio.timeout(2):  # the held connection is closed, the client still open
            while hung.open_connections:
                await asyncio.sleep(0.01)


async def test_cancelling_a_refresh_twice_still_closes_the_held_request(
    services, hung, http_client
):
    endpoints = [Endpoint(Source.OPENROUTER, hung.openrouter_url)]
    async with LiveServices(services, endpoints=endpoints, client=http_client) as live:
        refresher = RefreshService(live)
        waiting = asyncio.create_task(refresher.refresh())
        async with asyncio.timeout(5):
            while hung.requests < 1:
                await asyncio.sleep(0.01)
        refresher.cancel()  # as the window's Cancel does: the refresh, then the job on it
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        async with asyncio.timeout(2):
            while hung.open_connections:
                await asyncio.sleep(0.01)


# --------------------------------------------------------------------------- fetch deadlines


async def test_refresh_ends_at_its_deadline_with_the_sources_that_answered(
    services, store, hung, ollama_fake, http_client
):
    endpoints = [
        Endpoint(Source.OPENROUTER, hung.openrouter_url),
        Endpoint(Source.OLLAMA, ollama_fake.base_url),
    ]
    # the policy's read timeout (30 s) is longer than the deadline: the deadline holds
    async with LiveServices(services, endpoints=endpoints, client=http_client) as live:
        started = time.monotonic()
        result = await RefreshService(live, deadline_s=1.5).refresh()
        elapsed = time.monotonic() - started
    assert elapsed < 6
    openrouter, ollama = result.sources
    assert ollama.up and ollama.model_count > 0
    assert not openrouter.up and openrouter.timed_out and openrouter.deadline_hit
    assert openrouter.error == "did not answer within 1.5 s (stopped at the deadline)"
    assert result.stopped == "stopped after 1.5 s: OpenRouter did not answer"
    assert result.to_dict()["stopped"] == result.stopped
    assert "pick another model" not in (openrouter.error or "")
    # shared with the next run: the host is kept out for the cool-down
    assert store.get_quarantine(host_entry_key(hung.url)) is not None


async def test_a_timeout_shorter_than_the_deadline_is_said_as_such(services, hung, http_client):
    endpoints = [Endpoint(Source.OPENROUTER, hung.openrouter_url)]
    async with LiveServices(
        services, endpoints=endpoints, policy=quick(), client=http_client
    ) as live:
        statuses = await live.fetch_all(deadline_s=10)
    (status,) = statuses
    assert status.error == "did not answer within 1 s"
    assert status.timed_out and not status.deadline_hit
    assert deadline_summary(statuses, 10) is None


async def test_a_key_check_on_a_hung_host_ends_at_its_deadline_in_its_own_words(
    services, hung, fake_api_key, http_client
):
    endpoints = [Endpoint(Source.OPENROUTER, hung.openrouter_url)]
    async with LiveServices(
        services, endpoints=endpoints, api_key=fake_api_key, client=http_client
    ) as live:
        started = time.monotonic()
        with pytest.raises(SourceTimeout) as info:
            await live.key_status(deadline_s=1.5)
        assert time.monotonic() - started < 5
    err = info.value
    assert err.timeout_s == 1.5 and err.deadline
    assert err.user_message == (
        "OpenRouter did not answer within 1.5 s; try again later or check the OpenRouter URL "
        f"({hung.openrouter_url})."
    )
    assert "pick another model" not in err.user_message


async def test_a_key_check_on_a_refusing_host_says_it_could_not_connect(
    services, fake_api_key, http_client
):
    dead = refusing_url() + "/api/v1"
    endpoints = [Endpoint(Source.OPENROUTER, dead)]
    async with LiveServices(
        services, endpoints=endpoints, api_key=fake_api_key, client=http_client
    ) as live:
        with pytest.raises(Unreachable) as info:
            await live.key_status()
    assert info.value.user_message.startswith(f"Could not connect to OpenRouter at {dead}")


# --------------------------------------------------------------------------- a benchmark


async def test_a_benchmark_sends_one_request_to_a_hung_host_not_one_per_task(
    services, catalogue, hung, fake_api_key, http_client
):
    tasks = [
        BenchTask(
            id=f"add-{k}",
            category="math",
            kind="exact",
            prompt=f"What is {k} + 1? End with 'Answer: N'.",
            spec={"answer": k + 1},
            max_tokens=64,
        )
        for k in range(3)
    ]
    async with on_hung_openrouter(services, hung, fake_api_key, http_client) as live:
        # paid models (no free-slot pacing), one request at a time (none in flight together)
        options = BenchmarkOptions(max_usd=Decimal("1"), concurrency={"openrouter": 1})
        report = await BenchmarkRunner(live, options=options).run([PAID, PAID_2], tasks)
    assert hung.requests == 1
    errors = [r.error or "" for r in report.results]
    assert len(errors) == 2 * len(tasks)
    assert sum("— skipped" in e for e in errors) == 2 * len(tasks) - 1
