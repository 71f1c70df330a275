"""OpenRouter's account-wide free-model quota: 20 requests a minute, 50 or 1000 a UTC day.

The quota is fed by the requests the app makes and by the details of 429 responses
(``free-models-per-min`` / ``free-models-per-day`` with ``X-RateLimit-Reset``). Time always
comes in as an argument; nothing here reads the clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from locallama_gui.core.models import FreeLimits

MINUTE = timedelta(minutes=1)


def next_utc_midnight(now: datetime) -> datetime:
    now = as_utc(now)
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return day + timedelta(days=1)


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    tz = moment.tzinfo
    if tz is UTC:
        return moment
    if tz is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    """The free quota as seen at one moment: what routing reads."""

    at: datetime
    per_minute: int
    per_day: int
    used_minute: int
    used_day: int
    minute_blocked_until: datetime | None = None
    day_blocked_until: datetime | None = None

    @property
    def minute_exhausted(self) -> bool:
        return self.minute_blocked_until is not None or self.used_minute >= self.per_minute

    @property
    def day_exhausted(self) -> bool:
        return self.day_blocked_until is not None or self.used_day >= self.per_day

    @property
    def available(self) -> bool:
        return not (self.minute_exhausted or self.day_exhausted)

    @property
    def remaining_day(self) -> int:
        if self.day_blocked_until is not None:
            return 0
        return max(0, self.per_day - self.used_day)

    @property
    def remaining_minute(self) -> int:
        if self.minute_blocked_until is not None:
            return 0
        return max(0, self.per_minute - self.used_minute)


class FreeQuota:
    """Tracks free-model requests in a sliding minute window and a per-UTC-day counter."""

    __slots__ = ("_blocked_day", "_blocked_minute", "_day", "_day_count", "_window", "limits")

    def __init__(self, limits: FreeLimits | None = None, *, credits_purchased: bool = False):
        base = limits or FreeLimits()
        per_day = base.per_day_with_credits if credits_purchased else base.per_day
        self.limits = FreeLimits(
            per_minute=base.per_minute,
            per_day=per_day,
            per_day_with_credits=base.per_day_with_credits,
        )
        self._window: deque[datetime] = deque()
        self._day: date | None = None
        self._day_count = 0
        self._blocked_minute: datetime | None = None
        self._blocked_day: datetime | None = None

    def set_daily_cap(self, per_day: int) -> None:
        """The cap learnt from ``GET /key`` (``free_model_daily_requests.limit``)."""
        self.limits = FreeLimits(
            per_minute=self.limits.per_minute,
            per_day=per_day,
            per_day_with_credits=self.limits.per_day_with_credits,
        )

    def sync_used_day(self, used: int, now: datetime) -> None:
        """What OpenRouter counted today (every client of the account): the day's count is
        at least that, and local counting goes on from there."""
        now = as_utc(now)
        self._roll(now)
        self._day_count = max(self._day_count, used)

    def _roll(self, now: datetime) -> None:
        today = now.date()
        if self._day != today:
            self._day = today
            self._day_count = 0
        cutoff = now - MINUTE
        window = self._window
        while window and window[0] <= cutoff:
            window.popleft()
        if self._blocked_minute is not None and now >= self._blocked_minute:
            self._blocked_minute = None
        if self._blocked_day is not None and now >= self._blocked_day:
            self._blocked_day = None

    def record_request(self, now: datetime) -> None:
        """One free-model request was sent at ``now``."""
        now = as_utc(now)
        self._roll(now)
        self._window.append(now)
        self._day_count += 1

    def record_limit(self, scope: str, now: datetime, reset_at: datetime | None = None) -> None:
        """A 429 said a free limit was hit. ``scope`` is ``minute`` or ``day``.

        A per-day block lasts until the next UTC midnight (or ``reset_at`` if later); a per-minute
        block lasts until ``reset_at`` or one minute.
        """
        now = as_utc(now)
        self._roll(now)
        if scope == "day":
            until = next_utc_midnight(now)
            if reset_at is not None and as_utc(reset_at) > until:
                until = as_utc(reset_at)
            self._blocked_day = until
            self._day_count = max(self._day_count, self.limits.per_day)
        elif scope == "minute":
            until = as_utc(reset_at) if reset_at is not None else now + MINUTE
            if until <= now:
                until = now + MINUTE
            self._blocked_minute = until
        else:
            raise ValueError(f"unknown free-limit scope {scope!r} (expected 'minute' or 'day')")

    def status(self, now: datetime) -> QuotaStatus:
        now = as_utc(now)
        self._roll(now)
        return QuotaStatus(
            at=now,
            per_minute=self.limits.per_minute,
            per_day=self.limits.per_day,
            used_minute=len(self._window),
            used_day=self._day_count,
            minute_blocked_until=self._blocked_minute,
            day_blocked_until=self._blocked_day,
        )

    def available(self, now: datetime) -> bool:
        return self.status(now).available

    def next_available(self, now: datetime) -> datetime:
        """The earliest moment a free request may be sent again."""
        st = self.status(now)
        if st.available:
            return st.at
        candidates = []
        if st.day_exhausted:
            candidates.append(st.day_blocked_until or next_utc_midnight(st.at))
        if st.minute_exhausted:
            if st.minute_blocked_until is not None:
                candidates.append(st.minute_blocked_until)
            elif self._window:
                candidates.append(self._window[0] + MINUTE)
        return max(candidates) if candidates else st.at
