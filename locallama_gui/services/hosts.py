"""The per-host breaker of one operation, shared with the quarantine.

An operation (a run's chain walk, a gateway request, a benchmark, a refresh) makes one
:class:`HostWatch`. When a request to a host times out without any answer, or the connection
is refused, the watch opens that host's breaker (``core.breaker``): the operation skips every
other model on the host, saying why. A timeout is also recorded in the quarantine
(``Quarantine.record_host_outage``) for its cool-down, so the next operations skip the host at
once instead of waiting for it again; a host that answers a refresh, a source check or a key
check is lifted. Thread-safe: the runner asks from worker threads.
"""

from __future__ import annotations

import threading
from datetime import datetime

from locallama_gui.core.breaker import (
    MIN_COOLDOWN_EVIDENCE_S,
    REFUSED,
    TIMED_OUT,
    UNREACHABLE,
    HostBreaker,
    HostOutage,
    carried_skip_reason,
    host_key,
)
from locallama_gui.services.quarantine import Quarantine
from locallama_gui.sources import SourceTimeout, Unreachable

#: Words of a refused connection in the errors of httpx / the OS.
_REFUSED_WORDS = ("refused", "all connection attempts failed", "errno 111", "errno 61")


def outage_from_error(err: BaseException, url: str, now: datetime) -> HostOutage | None:
    """The host outage ``err`` shows, or None when the host answered (or may have).

    A timeout counts only when nothing came back (no connection, or no first byte): a host
    that sent part of an answer is alive. A connection that could not be made at all counts.
    """
    if isinstance(err, SourceTimeout):
        if err.phase in ("connect", "read") and err.no_response:
            return HostOutage(host_key(url), TIMED_OUT, now, err.timeout_s)
        return None
    if isinstance(err, Unreachable) and err.code == "connect":
        text = err.message.lower()
        kind = REFUSED if any(w in text for w in _REFUSED_WORDS) else UNREACHABLE
        return HostOutage(host_key(url), kind, now)
    return None


class HostWatch:
    """The hosts one operation found down, and the ones the quarantine keeps out.

    ``quarantine``: where timeouts are recorded for the cool-down and where earlier
    operations' outages are read (None: this operation only). ``min_evidence_s``: a timeout
    shorter than this (an operation's deadline cut it short) is not carried over.
    """

    def __init__(
        self,
        quarantine: Quarantine | None = None,
        *,
        min_evidence_s: float = MIN_COOLDOWN_EVIDENCE_S,
    ) -> None:
        self.quarantine = quarantine
        self.min_evidence_s = min_evidence_s
        self._breaker = HostBreaker()
        self._carried: dict[str, str | None] = {}  # host -> skip reason from the quarantine
        self._lock = threading.Lock()

    @property
    def outages(self) -> tuple[HostOutage, ...]:
        """What this operation found (in order)."""
        with self._lock:
            return self._breaker.outages

    def outage(self, url: str) -> HostOutage | None:
        with self._lock:
            return self._breaker.outage(url)

    def skip_reason(self, url: str, now: datetime) -> str | None:
        """Why a model served from ``url`` is not tried now, or None to try it."""
        host = host_key(url)
        with self._lock:
            found = self._breaker.outage(host)
            if found is not None:
                return found.skip_reason
            if host in self._carried:
                return self._carried[host]
        reason = None
        if self.quarantine is not None:  # read once per host and operation
            entry = self.quarantine.host_active(host, now)
            if entry is not None:
                reason = carried_skip_reason(entry.reason, entry.until)
        with self._lock:
            self._carried.setdefault(host, reason)
            return self._carried[host]

    def failed(self, url: str, err: BaseException, now: datetime) -> HostOutage | None:
        """A request to ``url`` failed with ``err``: the outage it opened (None: the host
        answered, or may have). A timeout is recorded in the quarantine for its cool-down."""
        outage = outage_from_error(err, url, now)
        if outage is None:
            return None
        with self._lock:
            first = self._breaker.outage(outage.host) is None
            outage = self._breaker.trip(outage)
        if first and self.quarantine is not None:
            until = outage.cooldown_until(
                self.quarantine.policy.host_cooldown, min_evidence_s=self.min_evidence_s
            )
            if until is not None:
                self.quarantine.record_host_outage(outage.host, outage.describe(), until)
        return outage

    def answered(self, url: str) -> None:
        """The host of ``url`` answered: lift what the quarantine kept of it."""
        host = host_key(url)
        with self._lock:
            self._carried[host] = None
        if self.quarantine is not None:
            self.quarantine.host_answered(host)


__all__ = ["HostWatch", "outage_from_error"]
