"""Quarantine: a model that keeps failing is skipped for a while.

``threshold`` consecutive failures (rate limits, key problems and cancellations are not
failures of the model and are not counted) within ``window`` put a model in quarantine for
``base``; each further quarantine without a success in between doubles it, up to ``longest``.
A success lifts it. The state is persisted in the store (``Store.set_quarantine``), which
routing reads through ``Services.context()``; the consecutive failures are read back from
the stored performance samples, so they add up across sessions and CLI runs. Without a
store the counts are kept in memory.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from locallama_gui.core.samples import QuarantineEntry
from locallama_gui.store.db import Store, StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QuarantinePolicy:
    threshold: int = 3
    window: timedelta = timedelta(minutes=10)
    base: timedelta = timedelta(minutes=15)
    longest: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError("threshold must be at least 1")
        if self.window <= timedelta(0) or self.base <= timedelta(0):
            raise ValueError("window and base must be positive")

    def duration(self, level: int) -> timedelta:
        """How long the ``level``-th quarantine in a row lasts (1 = the first)."""
        factor = 2 ** max(0, min(level - 1, 20))
        return min(self.longest, self.base * factor)


class Quarantine:
    """Counts a model's consecutive failures and quarantines it; persisted in ``store``."""

    def __init__(
        self,
        store: Store | None,
        policy: QuarantinePolicy | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.policy = policy or QuarantinePolicy()
        self._clock = clock
        self._failures: dict[str, deque[datetime]] = {}
        self._memory: dict[str, QuarantineEntry] = {}

    def _now(self, now: datetime | None) -> datetime:
        if now is not None:
            return now
        if self._clock is None:
            raise ValueError("pass now= or give the Quarantine a clock")
        return self._clock()

    # --- queries --------------------------------------------------------------------------

    def entry(self, model_id: str) -> QuarantineEntry | None:
        """The stored entry of ``model_id`` (active or not)."""
        if self.store is None:
            return self._memory.get(model_id)
        try:
            return self.store.get_quarantine(model_id)
        except StoreError as e:
            log.warning("quarantine state unreadable: %s", e)
            return None

    def active(self, model_id: str, now: datetime | None = None) -> QuarantineEntry | None:
        """The entry when ``model_id`` is quarantined at ``now``, else None."""
        found = self.entry(model_id)
        return found if found is not None and found.active(self._now(now)) else None

    def listing(self, now: datetime | None = None) -> list[QuarantineEntry]:
        """Every quarantine in force at ``now``, by model id."""
        when = self._now(now)
        if self.store is None:
            return sorted(
                (e for e in self._memory.values() if e.active(when)), key=lambda e: e.model_id
            )
        return self.store.quarantined(when)

    # --- updates --------------------------------------------------------------------------

    def _consecutive_failures(self, model_id: str, now: datetime) -> int:
        since = now - self.policy.window
        if self.store is not None:
            try:
                samples = self.store.samples(model_id=model_id, since=since)
            except StoreError as e:
                log.warning("performance samples unreadable: %s", e)
                samples = []
            count = 0
            for s in reversed(samples):
                if s.success:
                    break
                count += 1
            return count
        window = self._failures.setdefault(model_id, deque())
        while window and window[0] < since:
            window.popleft()
        return len(window)

    def record_failure(
        self, model_id: str, reason: str, now: datetime | None = None
    ) -> QuarantineEntry | None:
        """A failed request (its sample already stored). Returns the new quarantine, if any."""
        when = self._now(now)
        if self.store is None:
            self._failures.setdefault(model_id, deque()).append(when)
        failures = self._consecutive_failures(model_id, when)
        if failures < self.policy.threshold:
            return None
        previous = self.entry(model_id)
        if previous is not None and previous.active(when):
            return None
        # ``failures`` of the stored entry counts every failure since the last success, so
        # it also says how many quarantines in a row this is.
        total = failures if previous is None else previous.failures + failures
        level = max(1, total // self.policy.threshold)
        until = when + self.policy.duration(level)
        entry = QuarantineEntry(model_id, until, total, reason[:300])
        if self.store is None:
            self._memory[model_id] = entry
            self._failures.pop(model_id, None)
        else:
            try:
                self.store.set_quarantine(model_id, until, total, entry.reason)
            except StoreError as e:
                log.warning("quarantine not saved: %s", e)
                return None
        log.info("model %s quarantined until %s after %d failures", model_id, until, failures)
        return entry

    def record_success(self, model_id: str) -> bool:
        """A success lifts the model's quarantine and resets its count. True if one was lifted."""
        self._failures.pop(model_id, None)
        if self.store is None:
            return self._memory.pop(model_id, None) is not None
        try:
            return self.store.clear_quarantine(model_id) > 0
        except StoreError as e:
            log.warning("quarantine not cleared: %s", e)
            return False

    def clear(self, model_id: str | None = None) -> int:
        """Lift one model's quarantine (or every one) by hand; returns how many were lifted."""
        if self.store is None:
            if model_id is None:
                n = len(self._memory)
                self._memory.clear()
                self._failures.clear()
                return n
            self._failures.pop(model_id, None)
            return 1 if self._memory.pop(model_id, None) is not None else 0
        return self.store.clear_quarantine(model_id)


__all__ = ["Quarantine", "QuarantinePolicy"]
