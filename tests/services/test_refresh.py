"""Catalogue refresh through real sockets: snapshots and diff stored, failing sources keep
their last good data, one refresh in flight, progress, cancellation, periodic refresh."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from locallama_gui.core.models import Source
from locallama_gui.core.settings import RefreshSettings
from locallama_gui.services.live import Endpoint, LiveServices
from locallama_gui.services.refresh import RefreshService
from tests.fakes import server as fk

pytestmark = pytest.mark.asyncio

OLDER_CAPTURE = "openrouter/models-2025-12-18.json"


async def wait_for(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_refresh_stores_every_source_and_replaces_the_catalogue(live, services, store):
    result = await RefreshService(live).refresh()

    assert [(s.kind, s.up, s.model_count) for s in result.sources] == [
        ("openrouter", True, 414),
        ("ollama", True, 14),
    ]
    assert all(s.error is None for s in result.sources)
    assert set(result.saved_sources) == {"openrouter", "ollama"}
    stored_or = store.latest_catalogue("openrouter")
    stored_ol = store.latest_catalogue("ollama")
    assert stored_or is not None and len(stored_or[0]) == 414
    assert stored_ol is not None and len(stored_ol[0]) == 14
    assert stored_or[1] == result.fetched_at
    # the services now route over the merged catalogue
    assert services.catalogue is result.catalogue
    ids = {m.id for m in services.models}
    assert "gemma4:e4b" in ids and "openai/gpt-4o" in ids
    assert len(services.models) == 414 + 14
    # diff against the bundled snapshot the services started with: the local models are new
    assert "gemma4:e4b" in result.diff.added
    history = store.catalogue_history("ollama")
    assert history[0].diff is not None and "gemma4:e4b" in history[0].diff["added"]


async def test_refresh_diff_shows_added_removed_repriced_and_ended_free(
    live, openrouter_fake, store
):
    service = RefreshService(live)
    openrouter_fake.models_file = OLDER_CAPTURE
    first = await service.refresh()
    assert first.sources[0].model_count == 349
    openrouter_fake.models_file = "openrouter/models-2026-08-14.json"
    second = await service.refresh()

    d = second.diff
    assert d.added and d.removed and d.repriced and d.free_ended
    assert not (set(d.added) & set(d.removed))
    stored = store.catalogue_history("openrouter")[0].diff
    assert stored is not None
    assert stored["added"] == list(d.added)
    assert stored["free_ended"] == list(d.free_ended)
    assert len(store.catalogue_history("openrouter")) == 2


async def test_a_failing_source_keeps_its_last_good_data(live, ollama_fake, services, store):
    service = RefreshService(live)
    await service.refresh()
    ollama_fake.fail_next("/api/tags", fk.SERVER_ERROR, times=5)

    result = await service.refresh()

    ollama = result.sources[1]
    assert not ollama.up
    assert "unavailable" in ollama.error.lower() or "500" in ollama.error
    assert ollama.kept_previous == 14
    assert result.sources[0].up
    assert "gemma4:e4b" in {m.id for m in services.models}
    assert result.saved_sources == ("openrouter",)
    assert len(store.catalogue_history("ollama")) == 1  # not overwritten, not wiped
    assert len(store.latest_catalogue("ollama")[0]) == 14
    assert "gemma4:e4b" not in result.diff.removed


async def test_a_dead_server_reports_an_actionable_error(services, http_client, fast_policy):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    endpoints = [Endpoint(Source.OLLAMA, dead)]
    async with LiveServices(
        services, endpoints=endpoints, policy=fast_policy, client=http_client
    ) as live:
        result = await RefreshService(live).refresh()
    (status,) = result.sources
    assert not status.up and status.kind == "ollama"
    assert "Is it running" in status.error
    assert not result.any_up
    # the OpenRouter side is not configured: no snapshot is mixed in, nothing is stored
    assert result.saved_sources == ()


async def test_concurrent_refreshes_share_one_request_per_endpoint(
    live, openrouter_fake, ollama_fake
):
    service = RefreshService(live)
    openrouter_fake.fail_next("/models", fk.SLOW_FIRST_BYTE, delay_s=0.2)
    progress_a: list[tuple[int, int]] = []
    progress_b: list[tuple[int, int]] = []
    first = asyncio.create_task(service.refresh(lambda d, t: progress_a.append((d, t))))
    await asyncio.sleep(0)
    assert service.in_flight
    second = asyncio.create_task(service.refresh(lambda d, t: progress_b.append((d, t))))
    a, b = await asyncio.gather(first, second)

    assert a is b
    assert len(openrouter_fake.requests_to("/models")) == 1
    assert len(ollama_fake.requests_to("/api/tags")) == 1
    assert progress_a[-1] == (2, 2) and progress_b[-1] == (2, 2)
    assert not service.in_flight
    # a later call starts a new refresh
    await service.refresh()
    assert len(openrouter_fake.requests_to("/models")) == 2


async def test_cancelling_the_only_caller_cancels_the_refresh(live, openrouter_fake, services):
    before = services.catalogue
    service = RefreshService(live)
    openrouter_fake.fail_next("/models", fk.HANG, hang_s=5)
    task = asyncio.create_task(service.refresh())
    await wait_for(lambda: openrouter_fake.requests_to("/models"))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not service.in_flight
    assert services.catalogue is before


async def test_cancel_stops_the_refresh_for_every_caller(live, openrouter_fake, services):
    service = RefreshService(live)
    openrouter_fake.fail_next("/models", fk.HANG, hang_s=5)
    calls = [asyncio.create_task(service.refresh()) for _ in range(2)]
    await wait_for(lambda: openrouter_fake.requests_to("/models"))
    assert service.cancel()
    for call in calls:
        with pytest.raises(asyncio.CancelledError):
            await call
    assert not service.cancel()


async def test_periodic_refresh_follows_the_settings_and_can_be_cancelled(
    live, services, openrouter_fake
):
    services.settings = dataclasses.replace(
        services.settings, refresh=RefreshSettings(interval_minutes=2)
    )
    waits: list[float] = []
    results = []
    blocked = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) >= 3:
            blocked.set()
            await asyncio.Event().wait()  # until cancelled

    loop_task = asyncio.create_task(
        RefreshService(live).run_periodic(on_result=results.append, sleep=fake_sleep)
    )
    await asyncio.wait_for(blocked.wait(), 10)
    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop_task
    assert waits == [120, 120, 120]
    assert len(results) == 2
    assert len(openrouter_fake.requests_to("/models")) == 2


async def test_periodic_refresh_is_off_at_zero(live, services, openrouter_fake):
    services.settings = dataclasses.replace(
        services.settings, refresh=RefreshSettings(interval_minutes=0)
    )
    await asyncio.wait_for(RefreshService(live).run_periodic(), 5)
    assert openrouter_fake.requests_to("/models") == []


async def test_periodic_refresh_reports_errors_and_goes_on(live, services):
    services.settings = dataclasses.replace(
        services.settings, refresh=RefreshSettings(interval_minutes=1)
    )
    service = RefreshService(live)
    errors: list[BaseException] = []
    rounds = 0

    async def failing_refresh(progress=None):
        nonlocal rounds
        rounds += 1
        if rounds >= 3:
            await asyncio.Event().wait()
        raise RuntimeError("disk full")

    service.refresh = failing_refresh  # type: ignore[method-assign]

    async def no_sleep(seconds: float) -> None:
        await asyncio.sleep(0)

    task = asyncio.create_task(service.run_periodic(on_error=errors.append, sleep=no_sleep))
    await wait_for(lambda: rounds >= 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [str(e) for e in errors] == ["disk full", "disk full"]
