"""Per-host breaker: a host that did not answer is skipped for the rest of an operation.

A hung server (it holds the first byte, or never accepts the connection) costs a whole
timeout on every request sent to it. Once one request to a host (scheme, host and port) timed
out without any answer, or the connection was refused, the other models on that host are
skipped for the rest of the operation (a run's chain walk, a gateway request, a benchmark)
with a reason that says so. A host that timed out also stays out of the next operations for a
short cool-down (the services keep that with the quarantine); a refused connection is cheap
to try again and is not carried over.

Pure: times come in as arguments. The services decide which errors are outages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

#: Nothing came back within the wait (no connection, or no first byte).
TIMED_OUT = "timed_out"
#: The connection was refused (nothing listens there).
REFUSED = "refused"
#: No connection could be made for another reason (unknown host, no route).
UNREACHABLE = "unreachable"
OUTAGE_KINDS = (TIMED_OUT, REFUSED, UNREACHABLE)

#: How long a host that timed out stays out of other operations.
DEFAULT_COOLDOWN = timedelta(seconds=60)
#: A timeout shorter than this (cut short by an operation's deadline) is not evidence enough
#: to keep the host out of other operations; it still counts within its own operation.
MIN_COOLDOWN_EVIDENCE_S = 1.0

_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_key(url: str) -> str:
    """``scheme://host:port`` of ``url``, lower-case, with the default port filled in:
    ``https://OpenRouter.ai/api/v1`` -> ``https://openrouter.ai:443``."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or _DEFAULT_PORTS.get(scheme)
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


def format_seconds(seconds: float) -> str:
    """``30`` -> ``"30 s"``, ``0.5`` -> ``"0.5 s"``, ``14.996`` -> ``"15 s"``."""
    if seconds >= 9.5:
        return f"{round(seconds):d} s"
    return f"{round(seconds, 1):g} s"


@dataclass(frozen=True, slots=True)
class HostOutage:
    """A host that did not answer: what happened, when, and after how long a wait."""

    host: str  # host_key()
    kind: str  # one of OUTAGE_KINDS
    at: datetime
    timeout_s: float | None = None  # the wait that ran out (TIMED_OUT)

    def __post_init__(self) -> None:
        if self.kind not in OUTAGE_KINDS:
            raise ValueError(f"unknown outage kind {self.kind!r}")

    def describe(self) -> str:
        """``host http://127.0.0.1:11434 did not answer (timed out after 30 s)``."""
        if self.kind == TIMED_OUT:
            after = (
                f" (timed out after {format_seconds(self.timeout_s)})"
                if self.timeout_s is not None
                else " (timed out)"
            )
            return f"host {self.host} did not answer{after}"
        if self.kind == REFUSED:
            return f"host {self.host} refused the connection"
        return f"host {self.host} could not be reached"

    @property
    def skip_reason(self) -> str:
        """Why a model on this host is skipped for the rest of the operation."""
        return f"{self.describe()} — skipped"

    def cooldown_until(
        self, cooldown: timedelta = DEFAULT_COOLDOWN, *, min_evidence_s: float = 0.0
    ) -> datetime | None:
        """Until when other operations skip the host too (None: they do not). Only a
        timeout carries over, and only one that waited at least ``min_evidence_s``."""
        if self.kind != TIMED_OUT or cooldown <= timedelta(0):
            return None
        if self.timeout_s is not None and self.timeout_s < min_evidence_s:
            return None
        return self.at + cooldown


def carried_skip_reason(reason: str, until: datetime) -> str:
    """Why a model is skipped because an earlier operation found its host down: ``reason``
    is what that operation recorded (``HostOutage.describe()``)."""
    return f"{reason} — skipped until {until:%H:%M:%S} UTC"


class HostBreaker:
    """The hosts found down during one operation (not thread-safe: the services guard it).

    The first outage of a host is kept: later requests to it are not sent, so there is no
    later outage to record, and the first says what happened.
    """

    def __init__(self) -> None:
        self._down: dict[str, HostOutage] = {}

    def trip(self, outage: HostOutage) -> HostOutage:
        """Open the breaker for ``outage.host``; returns the outage in force."""
        return self._down.setdefault(outage.host, outage)

    def outage(self, url_or_host: str) -> HostOutage | None:
        """The outage of the host of ``url_or_host``, if its breaker is open."""
        return self._down.get(host_key(url_or_host))

    @property
    def outages(self) -> tuple[HostOutage, ...]:
        return tuple(self._down.values())

    def __len__(self) -> int:
        return len(self._down)


__all__ = [
    "DEFAULT_COOLDOWN",
    "MIN_COOLDOWN_EVIDENCE_S",
    "OUTAGE_KINDS",
    "REFUSED",
    "TIMED_OUT",
    "UNREACHABLE",
    "HostBreaker",
    "HostOutage",
    "carried_skip_reason",
    "format_seconds",
    "host_key",
]
