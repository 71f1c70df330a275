"""New samples reach routing at once by default, or in the background within a bound (the
gateway's mode): the old index goes on serving meanwhile, and no read waits for a rebuild."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from locallama_gui.core.samples import PerformanceSample
from locallama_gui.core.settings import Settings
from locallama_gui.services.facade import Services
from locallama_gui.store.db import Store


def sample(model_id: str) -> PerformanceSample:
    return PerformanceSample(
        model_id=model_id,
        source="openrouter",
        category="chat",
        ts=datetime.now(UTC),
        success=True,
        latency_ms=321.0,
    )


def test_a_plain_invalidation_rebuilds_at_the_next_read(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        services = Services(settings=Settings(), store=store)
        first = services.index
        assert "openai/gpt-4o" not in services.profiles
        store.add_samples([sample("openai/gpt-4o")])
        services.invalidate_profiles()
        assert services.index is not first
        assert services.profiles["openai/gpt-4o"].overall.latency_ms == 321.0


def test_a_deferred_invalidation_serves_the_old_index_then_swaps_in_the_new(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        services = Services(settings=Settings(), store=store)
        first = services.index
        assert services.index_ready
        store.add_samples([sample("openai/gpt-4o")])
        services.invalidate_profiles(within_s=0.2)
        services.invalidate_profiles(within_s=0.2)  # a burst is one rebuild
        assert services.index is first  # not due yet: no rebuild, no waiting
        assert "openai/gpt-4o" not in services.profiles
        deadline = time.monotonic() + 10
        while services.index is first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert services.index is not first
        assert services.profiles["openai/gpt-4o"].overall.count == 1


def test_without_an_index_a_deferred_invalidation_is_immediate(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        services = Services(settings=Settings(), store=store)
        assert not services.index_ready
        store.add_samples([sample("openai/gpt-4o")])
        services.invalidate_profiles(within_s=60)
        assert services.profiles["openai/gpt-4o"].overall.count == 1


def test_writes_behind_are_made_in_order_and_before_the_store_closes(tmp_path):
    from decimal import Decimal

    path = tmp_path / "s.sqlite"
    store = Store(path)
    services = Services(settings=Settings(), store=store)
    for k in range(20):
        services.write_behind(
            store.record_spend,
            ts=datetime.now(UTC),
            model_id=f"m{k}",
            tier="paid",
            cost_usd=Decimal("0.01"),
            client="test",
        )
    assert services.flush_writes()
    written = sorted(store.spend_entries(), key=lambda e: e.ts)
    assert [e.model_id for e in written] == [f"m{k}" for k in range(20)]
    services.write_behind(store.add_samples, [sample("openai/gpt-4o")])
    services.close()  # waits for the writer, then closes the store
    with Store(path) as again:
        assert len(again.samples(model_id="openai/gpt-4o")) == 1


@pytest.mark.expected_warning_logs
def test_writes_behind_are_made_in_batches_in_order(tmp_path, monkeypatch):
    """A burst of writes wakes the writer once, not once per write; each write is still made,
    in order, on the writer thread, and one that fails costs only itself."""
    import threading

    services = Services(settings=Settings(), store=None)
    drains = []
    real = Services._drain_writes

    def counted(self):
        drains.append(threading.current_thread().name)
        real(self)

    monkeypatch.setattr(Services, "_drain_writes", counted)
    made: list[tuple[int, str]] = []

    def write(k: int) -> None:
        if k == 7:
            raise RuntimeError("this one fails")
        made.append((k, threading.current_thread().name))

    for k in range(200):
        services.write_behind(write, k)
    assert services.flush_writes()
    assert [k for k, _ in made] == [k for k in range(200) if k != 7]
    assert all(name.startswith("locallama-writer") for _, name in made)
    assert 1 <= len(drains) <= 3
    services.write_behind(write, 500)
    services.close()  # the last batch is made before close returns, without its wait
    assert made[-1][0] == 500


def test_a_flush_waits_for_a_write_whose_batch_another_thread_is_still_queueing():
    """Thread A hands over a write and is slow to queue its batch; B's write joins that batch
    and B's flush must still wait until both are made."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    services = Services(settings=Settings(), store=None)

    class SlowToQueue(ThreadPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            if threading.current_thread().name == "slow":
                time.sleep(0.3)
            return super().submit(fn, *args, **kwargs)

    services._writer = SlowToQueue(1, thread_name_prefix="locallama-writer")
    made: list[str] = []
    slow = threading.Thread(target=lambda: services.write_behind(made.append, "a"), name="slow")
    slow.start()
    time.sleep(0.05)
    services.write_behind(made.append, "b")
    assert services.flush_writes()
    assert made == ["a", "b"]
    slow.join()
    services.close()


def test_a_new_catalogue_rebuilds_the_profiles_under_its_own_ids(tmp_path):
    """Samples of a vLLM model stored under its bare id profile it; once a refresh brings an
    OpenRouter model of that id, they profile the qualified local model, not OpenRouter's."""
    from dataclasses import replace as dc_replace

    from locallama_gui.core.catalogue import merge_sources
    from locallama_gui.core.models import LocalDetails, ModelInfo, Source, Tier
    from locallama_gui.services.catalogue import LoadedCatalogue

    same = "org/model"
    local = ModelInfo(
        id=same,
        name="local",
        source=Source.VLLM,
        tier=Tier.LOCAL,
        local=LocalDetails(server_url="http://127.0.0.1:8000"),
    )
    remote = ModelInfo(id=same, name="remote", source=Source.OPENROUTER, tier=Tier.PAID)
    store = Store(tmp_path / "s.sqlite")
    now = datetime.now(UTC)
    store.add_samples(
        dc_replace(sample(same), source=Source.VLLM.value, ts=now, success=False) for _ in range(8)
    )
    services = Services(
        settings=Settings(),
        store=store,
        catalogue=LoadedCatalogue(models=(local,), skipped=(), origin="store", label="a"),
    )
    assert services.profiles[same].overall.success_rate == 0
    merged = tuple(merge_sources([remote, local]))
    services.set_catalogue(LoadedCatalogue(models=merged, skipped=(), origin="store", label="b"))
    profiles = services.profiles
    assert profiles["vllm:" + same].overall.success_rate == 0
    assert same not in profiles
    services.close()
