"""The account-wide free quota: 20 a minute (sliding), 50 or 1000 a UTC day, 429 blocks."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locallama_gui.core.models import FreeLimits
from locallama_gui.core.quota import FreeQuota, QuotaStatus, as_utc, next_utc_midnight

T0 = datetime(2026, 3, 10, 15, 0, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def test_limits_default_and_with_credits():
    assert FreeQuota().limits.per_day == 50
    assert FreeQuota().limits.per_minute == 20
    assert FreeQuota(credits_purchased=True).limits.per_day == 1000
    q = FreeQuota()
    q.set_daily_cap(1000)
    assert q.status(T0).per_day == 1000


def test_twenty_a_minute_sliding_window():
    q = FreeQuota(credits_purchased=True)
    for k in range(20):
        assert q.available(T0 + k * S)
        q.record_request(T0 + k * S)
    st_ = q.status(T0 + 20 * S)
    assert st_.used_minute == 20 and st_.minute_exhausted and not st_.available
    assert st_.remaining_minute == 0
    assert q.next_available(T0 + 30 * S) == T0 + 60 * S
    # the first request leaves the window exactly one minute after it was sent
    assert not q.available(T0 + 59 * S)
    assert q.available(T0 + 60 * S)
    assert q.status(T0 + 60 * S).used_minute == 19
    # the day counter is not a window
    assert q.status(T0 + 120 * S).used_day == 20


def test_fifty_a_day_then_blocked_until_utc_midnight():
    q = FreeQuota()
    for k in range(50):
        q.record_request(T0 + k * timedelta(minutes=5))
    last = T0 + 49 * timedelta(minutes=5)
    st_ = q.status(last + timedelta(minutes=5))
    assert st_.day_exhausted and st_.remaining_day == 0 and not st_.available
    midnight = datetime(2026, 3, 11, tzinfo=UTC)
    assert q.next_available(last + timedelta(minutes=5)) == midnight
    assert not q.available(midnight - S)
    assert q.available(midnight)
    new_day = q.status(midnight)
    assert new_day.used_day == 0 and new_day.remaining_day == 50


def test_thousand_a_day_with_credits():
    q = FreeQuota(credits_purchased=True)
    t = T0 - timedelta(hours=14)
    for k in range(999):
        q.record_request(t + k * 3 * S)
    assert q.status(t + 3000 * S).remaining_day == 1
    q.record_request(t + 3000 * S)
    assert q.status(t + 3001 * S).day_exhausted


def test_utc_day_rollover_uses_utc_not_local_time():
    q = FreeQuota()
    west = timezone(timedelta(hours=-5))
    # 20:00 at UTC-5 on March 10 is 01:00 UTC on March 11
    q.record_request(datetime(2026, 3, 10, 18, 30, tzinfo=west))  # 23:30 UTC, 10th
    q.record_request(datetime(2026, 3, 10, 20, 0, tzinfo=west))  # 01:00 UTC, 11th
    assert q.status(datetime(2026, 3, 11, 1, 0, 1, tzinfo=UTC)).used_day == 1


def test_per_day_429_blocks_until_next_utc_midnight():
    q = FreeQuota()
    q.record_request(T0)
    q.record_limit("day", T0 + S)
    st_ = q.status(T0 + 2 * S)
    assert st_.day_exhausted and st_.day_blocked_until == datetime(2026, 3, 11, tzinfo=UTC)
    assert st_.used_day >= 50 and st_.remaining_day == 0
    assert q.next_available(T0 + 2 * S) == datetime(2026, 3, 11, tzinfo=UTC)
    assert not q.available(datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC))
    assert q.available(datetime(2026, 3, 11, tzinfo=UTC))
    assert q.status(datetime(2026, 3, 11, tzinfo=UTC)).day_blocked_until is None


def test_per_day_429_with_a_later_reset_keeps_the_later_time():
    q = FreeQuota()
    reset = datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
    q.record_limit("day", T0, reset)
    assert q.next_available(T0) == reset
    assert not q.available(datetime(2026, 3, 11, 0, 30, tzinfo=UTC))
    assert q.available(reset)
    # an earlier reset does not shorten the block below midnight
    q2 = FreeQuota()
    q2.record_limit("day", T0, T0 + timedelta(minutes=1))
    assert q2.next_available(T0) == datetime(2026, 3, 11, tzinfo=UTC)


def test_per_minute_429_blocks_until_reset_from_epoch_ms():
    q = FreeQuota()
    reset_ms = int((T0 + 42 * S).timestamp() * 1000)
    reset_at = datetime.fromtimestamp(reset_ms / 1000, tz=UTC)
    q.record_limit("minute", T0, reset_at)
    st_ = q.status(T0 + S)
    assert st_.minute_exhausted and not st_.day_exhausted
    assert st_.minute_blocked_until == T0 + 42 * S
    assert st_.remaining_minute == 0
    assert q.next_available(T0 + S) == T0 + 42 * S
    assert not q.available(T0 + 41 * S)
    assert q.available(T0 + 42 * S)


def test_per_minute_429_without_or_with_stale_reset_blocks_one_minute():
    q = FreeQuota()
    q.record_limit("minute", T0)
    assert q.next_available(T0) == T0 + timedelta(minutes=1)
    q2 = FreeQuota()
    q2.record_limit("minute", T0, T0 - 5 * S)
    assert q2.next_available(T0) == T0 + timedelta(minutes=1)


def test_unknown_scope_is_refused():
    with pytest.raises(ValueError, match="scope"):
        FreeQuota().record_limit("hour", T0)


def test_naive_datetimes_are_utc():
    q = FreeQuota()
    naive = datetime(2026, 3, 10, 23, 59, 30)
    q.record_request(naive)
    st_ = q.status(naive)
    assert st_.at == naive.replace(tzinfo=UTC)
    assert st_.used_day == 1
    assert q.status(datetime(2026, 3, 11, 0, 0, 0)).used_day == 0
    q.record_limit("minute", naive, datetime(2026, 3, 10, 23, 59, 50))
    assert q.next_available(naive) == datetime(2026, 3, 10, 23, 59, 50, tzinfo=UTC)
    assert as_utc(naive).tzinfo is UTC
    assert next_utc_midnight(naive) == datetime(2026, 3, 11, tzinfo=UTC)


@pytest.fixture
def new_york_local_time(monkeypatch):
    """The machine's local zone is not UTC: naive datetimes must still be read as UTC."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_naive_datetimes_are_utc_whatever_the_local_zone(new_york_local_time):
    naive = datetime(2026, 3, 10, 22, 0, 0)
    assert as_utc(naive) == datetime(2026, 3, 10, 22, 0, tzinfo=UTC)
    q = FreeQuota()
    q.record_request(naive)
    # 22:00 UTC is still March 10: the count holds until UTC midnight, not local midnight
    assert q.status(datetime(2026, 3, 10, 23, 30)).used_day == 1
    assert q.status(datetime(2026, 3, 11, 0, 0)).used_day == 0


def test_next_available_now_when_free():
    q = FreeQuota()
    assert q.next_available(T0) == T0
    q.record_request(T0)
    assert q.next_available(T0 + S) == T0 + S


def test_next_available_takes_the_later_of_minute_and_day():
    q = FreeQuota(FreeLimits(per_minute=2, per_day=2))
    q.record_request(datetime(2026, 3, 10, 23, 59, 30, tzinfo=UTC))
    q.record_request(datetime(2026, 3, 10, 23, 59, 40, tzinfo=UTC))
    at = datetime(2026, 3, 10, 23, 59, 45, tzinfo=UTC)
    st_ = q.status(at)
    assert st_.minute_exhausted and st_.day_exhausted
    # the minute frees at 00:00:30, the day at 00:00:00: the later wins
    assert q.next_available(at) == datetime(2026, 3, 11, 0, 0, 30, tzinfo=UTC)


def test_quota_status_properties():
    s = QuotaStatus(T0, 20, 50, used_minute=5, used_day=10)
    assert s.available and s.remaining_day == 40 and s.remaining_minute == 15
    assert not QuotaStatus(T0, 20, 50, 0, 60).available
    assert QuotaStatus(T0, 20, 50, 0, 60).remaining_day == 0


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 7200), min_size=1, max_size=120),
    start=st.integers(0, 86400 * 3),
)
def test_sent_only_when_available_never_exceeds_limits(gaps, start):
    """Whatever the arrival pattern, a sender that asks first never breaks either limit."""
    q = FreeQuota()
    t = T0 + timedelta(seconds=start)
    sent: list[datetime] = []
    for g in gaps:
        t += timedelta(seconds=g)
        if q.available(t):
            q.record_request(t)
            sent.append(t)
    for s in sent:
        in_minute = [x for x in sent if s - timedelta(minutes=1) < x <= s]
        assert len(in_minute) <= 20
        assert sum(1 for x in sent if x.date() == s.date()) <= 50
    # and it was refused only for a reason
    final = q.status(t)
    assert final.used_day == sum(1 for x in sent if x.date() == t.date())
