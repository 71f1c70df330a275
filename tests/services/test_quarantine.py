"""Quarantine bookkeeping without the network (the runner tests cover it end to end)."""

from __future__ import annotations

import dataclasses

import pytest

from locallama_gui.services.quarantine import Quarantine, QuarantinePolicy
from locallama_gui.services.runner import RunPolicy


def test_quarantine_without_a_store_counts_in_memory(clock):
    q = Quarantine(None, QuarantinePolicy(threshold=2), clock=clock)
    assert q.record_failure("m", "boom") is None
    entry = q.record_failure("m", "boom")
    assert entry is not None and q.active("m") == entry
    assert [e.model_id for e in q.listing()] == ["m"]
    assert q.record_success("m")
    assert q.active("m") is None and q.listing() == []


def test_run_policy_refuses_negative_waits():
    with pytest.raises(ValueError):
        RunPolicy(max_wait_s=-1)
    assert dataclasses.replace(RunPolicy(), max_wait_s=5).max_wait_s == 5


def test_store_backed_quarantine_counts_consecutive_failures_only(store, clock):
    from locallama_gui.core.samples import PerformanceSample

    q = Quarantine(store, clock=clock)

    def sample(ok: bool) -> None:
        store.add_samples(
            [
                PerformanceSample(
                    model_id="m", source="openrouter", category="chat", ts=clock.now, success=ok
                )
            ]
        )
        clock.advance(seconds=1)

    for ok in (False, False, True, False, False):
        sample(ok)
    assert q.record_failure("m", "boom") is None  # a success broke the run of failures
    sample(False)
    entry = q.record_failure("m", "boom")
    assert entry is not None and entry.failures == 3
    assert store.get_quarantine("m") == entry
    assert q.clear() == 1 and store.quarantined() == []


def test_old_failures_fall_out_of_the_window(store, clock):
    from locallama_gui.core.samples import PerformanceSample

    q = Quarantine(store, QuarantinePolicy(window=dataclasses.replace(QuarantinePolicy()).window))
    for _ in range(2):
        store.add_samples(
            [
                PerformanceSample(
                    model_id="m", source="x", category="chat", ts=clock.now, success=False
                )
            ]
        )
    clock.advance(minutes=30)
    store.add_samples(
        [PerformanceSample(model_id="m", source="x", category="chat", ts=clock.now, success=False)]
    )
    assert q.record_failure("m", "boom", clock.now) is None


def test_durations_double_up_to_the_longest():
    p = QuarantinePolicy()
    assert [p.duration(n).total_seconds() / 60 for n in (1, 2, 3)] == [15, 30, 60]
    assert p.duration(50) == p.longest
    with pytest.raises(ValueError):
        QuarantinePolicy(threshold=0)


def test_active_reads_the_store_once_per_window_and_sees_its_own_changes_at_once(
    store, clock, monkeypatch
):
    import time

    from locallama_gui.services import quarantine as qmod

    q = Quarantine(store, clock=clock)
    other = Quarantine(store, clock=clock)  # another process (the CLI's quarantine --clear)
    reads = []
    real = store.quarantined
    monkeypatch.setattr(store, "quarantined", lambda now: reads.append(now) or real(now))
    assert not q.cache_fresh()
    for _ in range(50):
        assert q.active("m") is None
        assert q.host_active("http://127.0.0.1:11434") is None
    assert len(reads) == 1 and q.cache_fresh()
    # its own change shows at once
    until = clock.now + QuarantinePolicy().base
    q.record_host_outage("http://127.0.0.1:11434", "did not answer", until)
    assert q.host_active("http://127.0.0.1:11434") is not None
    # another's change shows once the window has passed
    other.host_answered("http://127.0.0.1:11434")
    assert q.host_active("http://127.0.0.1:11434") is not None  # within the window
    later = time.monotonic() + Quarantine.CACHE_S + 0.1
    monkeypatch.setattr(qmod.time, "monotonic", lambda: later)
    assert q.host_active("http://127.0.0.1:11434") is None
