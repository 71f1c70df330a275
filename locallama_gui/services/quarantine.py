"""Quarantine: a model that keeps failing is skipped for a while.

``threshold`` consecutive failures (rate limits, key problems and cancellations are not
failures of the model and are not counted) within ``window`` put a model in quarantine for
``base``; each further quarantine without a success in between doubles it, up to ``longest``.
A success lifts it. The state is persisted in the store (``Store.set_quarantine``), which
routing reads through ``Services.context()``; the consecutive failures are read back from
the stored performance samples, so they add up across sessions and CLI runs. Without a
store the counts are kept in memory.

Hosts share it: a host that timed out without answering (``core.breaker``) is kept out for
``host_cooldown`` under the key ``host:<scheme://host:port>``, listed and lifted like a
model (``locallama quarantine --clear host:...``); a host that answers again is lifted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from locallama_gui.core.breaker import DEFAULT_COOLDOWN, host_key
from locallama_gui.core.samples import QuarantineEntry
from locallama_gui.store.db import Store, StoreError

log = logging.getLogger(__name__)

#: Quarantine keys of hosts (never a model id: model ids have no ``host:`` + URL).
HOST_PREFIX = "host:"


def host_entry_key(url_or_host: str) -> str:
    """The quarantine key of the host of ``url_or_host``."""
    return HOST_PREFIX + host_key(url_or_host)


@dataclass(frozen=True, slots=True)
class QuarantinePolicy:
    threshold: int = 3
    window: timedelta = timedelta(minutes=10)
    base: timedelta = timedelta(minutes=15)
    longest: timedelta = timedelta(hours=24)
    #: how long a host that did not answer stays out of other operations
    host_cooldown: timedelta = DEFAULT_COOLDOWN

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
        # the stored entries in force, read in one query and kept for CACHE_S (another
        # process's change shows within that; this one's own changes at once)
        self._cache: dict[str, QuarantineEntry] | None = None
        self._cache_until = 0.0
        self._cache_lock = threading.Lock()

    #: How long a read of the stored quarantine is reused (seconds).
    CACHE_S = 2.0

    def cache_fresh(self) -> bool:
        """Whether :meth:`active` answers from memory now (no SQLite read)."""
        return self.store is None or (
            self._cache is not None and time.monotonic() < self._cache_until
        )

    def _invalidate(self) -> None:
        with self._cache_lock:
            self._cache = None

    def _cached(self, now: datetime) -> dict[str, QuarantineEntry] | None:
        with self._cache_lock:
            if self._cache is not None and time.monotonic() < self._cache_until:
                return self._cache
        assert self.store is not None
        try:
            entries = self.store.quarantined(now)
        except StoreError as e:
            log.warning("quarantine state unreadable: %s", e)
            return None
        fresh = {e.model_id: e for e in entries}
        with self._cache_lock:
            self._cache = fresh
            self._cache_until = time.monotonic() + self.CACHE_S
        return fresh

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
        """The entry when ``model_id`` is quarantined at ``now``, else None (from the
        entries in force, read at most every :attr:`CACHE_S` seconds)."""
        when = self._now(now)
        if self.store is None:
            found = self._memory.get(model_id)
        else:
            cached = self._cached(when)
            found = cached.get(model_id) if cached is not None else self.entry(model_id)
        return found if found is not None and found.active(when) else None

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
            finally:
                self._invalidate()
        log.info("model %s quarantined until %s after %d failures", model_id, until, failures)
        return entry

    def record_success(self, model_id: str) -> bool:
        """A success lifts the model's quarantine and resets its count. True if one was lifted."""
        self._failures.pop(model_id, None)
        return self._lift(model_id, "quarantine not cleared")

    # --- hosts ----------------------------------------------------------------------------

    def host_active(self, url_or_host: str, now: datetime | None = None) -> QuarantineEntry | None:
        """The entry when the host of ``url_or_host`` is kept out at ``now``, else None."""
        return self.active(host_entry_key(url_or_host), now)

    def record_host_outage(
        self, url_or_host: str, reason: str, until: datetime
    ) -> QuarantineEntry | None:
        """Keep a host out until ``until`` (``reason``: what happened, for people)."""
        key = host_entry_key(url_or_host)
        entry = QuarantineEntry(key, until, 1, reason[:300])
        if self.store is None:
            self._memory[key] = entry
            return entry
        try:
            self.store.set_quarantine(key, until, 1, entry.reason)
        except StoreError as e:
            log.warning("host outage not saved: %s", e)
            return None
        finally:
            self._invalidate()
        log.info("host %s kept out until %s: %s", key, until, reason)
        return entry

    def host_answered(self, url_or_host: str) -> bool:
        """The host answered: lift its entry. True if one was lifted."""
        return self._lift(host_entry_key(url_or_host), "host quarantine not cleared")

    def _lift(self, key: str, failed: str) -> bool:
        """Remove ``key``'s entry (expired ones too: they keep its count); True if one was.
        Every success calls this, so the usual case (no entry) is a read, not a write."""
        if self.store is None:
            return self._memory.pop(key, None) is not None
        try:
            if self.store.get_quarantine(key) is None:
                return False
            self._invalidate()
            return self.store.clear_quarantine(key) > 0
        except StoreError as e:
            log.warning("%s: %s", failed, e)
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
        self._invalidate()
        return self.store.clear_quarantine(model_id)


__all__ = ["HOST_PREFIX", "Quarantine", "QuarantinePolicy", "host_entry_key"]
