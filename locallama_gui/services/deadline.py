"""One overall deadline per operation.

``refresh``, ``sources`` and the key check ask servers for a few small documents: they end
within :data:`DEFAULT_FETCH_DEADLINE_S` whatever a server does (every request they send is
bounded by it: ``sources.http.operation_deadline``). A run walks its chain until a model
starts answering within :data:`DEFAULT_RUN_DEADLINE_S`; an answer that has started streaming
is not cut by it (its own generation timeout applies). When a deadline stops an operation,
the output says so: "stopped after 15 s: OpenRouter did not answer".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from locallama_gui.core.breaker import format_seconds

#: ``refresh``, ``sources`` and ``key status --check``.
DEFAULT_FETCH_DEADLINE_S = 15.0
#: A run's chain walk, until a model starts answering.
DEFAULT_RUN_DEADLINE_S = 120.0
#: Longest deadline a caller may ask for.
MAX_DEADLINE_S = 3600.0


@dataclass
class Deadline:
    """``seconds`` from ``started`` (monotonic); ``None`` seconds: no deadline."""

    seconds: float | None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    started: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError("a deadline must be positive")
        if self.started < 0:
            self.started = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None without a deadline."""
        if self.seconds is None:
            return None
        return max(0.0, self.seconds - self.elapsed())

    @property
    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    @property
    def text(self) -> str:
        """``"15 s"`` (or ``"no deadline"``)."""
        return "no deadline" if self.seconds is None else format_seconds(self.seconds)

    def stopped(self, what: str) -> str:
        """``"stopped after 15 s: OpenRouter did not answer"``."""
        return stopped_message(self.seconds or self.elapsed(), what)


def stopped_message(seconds: float, what: str) -> str:
    return f"stopped after {format_seconds(seconds)}: {what}"


__all__ = [
    "DEFAULT_FETCH_DEADLINE_S",
    "DEFAULT_RUN_DEADLINE_S",
    "MAX_DEADLINE_S",
    "Deadline",
    "stopped_message",
]
