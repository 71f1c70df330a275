"""Records of what happened: performance samples, spend, routes, quarantine, quota events.

Pure values; the store persists them. Every timestamp is a timezone-aware
``datetime`` (naive ones are refused: their zone would be a guess).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

QUOTA_EVENT_KINDS = ("request", "limit_minute", "limit_day")


def _require_aware(name: str, value: datetime | None) -> None:
    if value is None:
        return
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (use UTC), got naive {value!r}")


def _require_money(name: str, value: Decimal | None) -> None:
    if value is not None and (not isinstance(value, Decimal) or not value.is_finite()):
        raise TypeError(f"{name} must be a finite Decimal or None (unknown), got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformanceSample:
    """One observed request to a model."""

    model_id: str
    source: str
    category: str
    ts: datetime
    success: bool
    latency_ms: float | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    quality: float | None = None  # judged quality in [0, 1], when known
    error_kind: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: Decimal | None = None  # None = unknown, never "free"

    def __post_init__(self) -> None:
        if not self.model_id:
            raise ValueError("model_id must not be empty")
        _require_aware("ts", self.ts)
        _require_money("cost_usd", self.cost_usd)
        if self.quality is not None and not 0.0 <= self.quality <= 1.0:
            raise ValueError(f"quality must be in [0, 1], got {self.quality!r}")


@dataclass(frozen=True, slots=True)
class SpendSummary:
    """Known spend summed exactly; entries with an unknown cost are counted, not summed."""

    total: Decimal
    unknown_count: int
    count: int

    @property
    def known_count(self) -> int:
        return self.count - self.unknown_count

    @property
    def is_complete(self) -> bool:
        """True when every entry had a known cost."""
        return self.unknown_count == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SpendEntry:
    id: int
    ts: datetime
    model_id: str
    tier: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal | None
    request_id: str | None = None
    note: str | None = None
    #: Who sent it: "cli", "gui", "mcp", or the gateway client's name from its User-Agent.
    client: str | None = None
    #: What the baseline model would have cost for the same tokens (None: unknown).
    baseline_model: str | None = None
    baseline_cost_usd: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteRecord:
    id: int
    ts: datetime
    task: Mapping[str, Any] = field(default_factory=dict)
    decision: Mapping[str, Any] = field(default_factory=dict)
    chosen_id: str | None = None


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    model_id: str
    until: datetime
    failures: int
    reason: str

    def active(self, now: datetime) -> bool:
        return now < self.until


@dataclass(frozen=True, slots=True)
class FreeQuotaEvent:
    """A free-model request, or a 429 that named the minute or day limit."""

    ts: datetime
    kind: str  # one of QUOTA_EVENT_KINDS
    reset_ts: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware("ts", self.ts)
        _require_aware("reset_ts", self.reset_ts)
        if self.kind not in QUOTA_EVENT_KINDS:
            raise ValueError(f"kind must be one of {QUOTA_EVENT_KINDS}, got {self.kind!r}")
