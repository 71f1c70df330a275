"""The per-host breaker's pure parts: host keys, outages, their words and cool-downs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from locallama_gui.core.breaker import (
    REFUSED,
    TIMED_OUT,
    UNREACHABLE,
    HostBreaker,
    HostOutage,
    carried_skip_reason,
    format_seconds,
    host_key,
)

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://openrouter.ai/api/v1", "https://openrouter.ai:443"),
        ("https://OpenRouter.AI:443/api/v1/", "https://openrouter.ai:443"),
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("http://localhost/v1", "http://localhost:80"),
        ("http://[::1]:8080/v1", "http://[::1]:8080"),
    ],
)
def test_host_key_is_scheme_host_and_port(url, key):
    assert host_key(url) == key


def test_same_host_different_paths_share_a_key_other_ports_do_not():
    assert host_key("http://gpu:8000/v1") == host_key("http://gpu:8000/health")
    assert host_key("http://gpu:8000") != host_key("http://gpu:8001")
    assert host_key("http://gpu:8000") != host_key("https://gpu:8000")


@pytest.mark.parametrize(
    ("s", "text"), [(30, "30 s"), (0.5, "0.5 s"), (14.996, "15 s"), (2, "2 s")]
)
def test_format_seconds(s, text):
    assert format_seconds(s) == text


def test_outage_words():
    host = "http://127.0.0.1:11434"
    timed = HostOutage(host, TIMED_OUT, NOW, 30.0)
    assert timed.describe() == f"host {host} did not answer (timed out after 30 s)"
    assert timed.skip_reason == f"host {host} did not answer (timed out after 30 s) — skipped"
    assert HostOutage(host, REFUSED, NOW).describe() == f"host {host} refused the connection"
    assert HostOutage(host, UNREACHABLE, NOW).describe() == f"host {host} could not be reached"
    until = NOW + timedelta(minutes=1)
    assert carried_skip_reason(timed.describe(), until).endswith("— skipped until 12:01:00 UTC")
    with pytest.raises(ValueError):
        HostOutage(host, "slow", NOW)


def test_only_a_real_timeout_carries_over_to_other_operations():
    host = "http://h:1"
    minute = timedelta(minutes=1)
    assert HostOutage(host, TIMED_OUT, NOW, 30.0).cooldown_until(minute) == NOW + minute
    assert HostOutage(host, REFUSED, NOW).cooldown_until(minute) is None  # cheap to retry
    short = HostOutage(host, TIMED_OUT, NOW, 0.2)  # a deadline cut the wait short
    assert short.cooldown_until(minute, min_evidence_s=1.0) is None
    assert HostOutage(host, TIMED_OUT, NOW, 30.0).cooldown_until(timedelta(0)) is None


def test_breaker_keeps_the_first_outage_of_each_host():
    breaker = HostBreaker()
    first = HostOutage("http://h:1", TIMED_OUT, NOW, 30.0)
    assert breaker.trip(first) is first
    assert breaker.trip(HostOutage("http://h:1", REFUSED, NOW)) is first
    assert breaker.outage("http://h:1/v1/chat/completions") is first
    assert breaker.outage("http://h:2") is None
    assert len(breaker) == 1 and breaker.outages == (first,)
