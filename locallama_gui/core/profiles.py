"""Performance profiles: what models actually did, reduced to the figures routing blends in.

Samples (latency, time to first token, tokens/s, success, quality, per task category) are
weighted by age with an exponential half-life, so old results weigh less. Routing shrinks
observed figures toward its priors when the effective sample count is small.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from locallama_gui.core.quota import as_utc

DEFAULT_HALF_LIFE_DAYS = 14.0
ALL = "*"  # the category key of the figures over every category


class SampleLike(Protocol):
    model_id: str
    category: str | None
    ts: datetime
    latency_ms: float | None
    ttft_ms: float | None
    tokens_per_s: float | None
    success: bool
    quality: float | None


@dataclass(frozen=True, slots=True)
class Observed:
    """Age-weighted figures for one model in one category (or over all: ``ALL``)."""

    weight: float  # effective number of samples after age decay
    count: int  # raw number of samples
    success_rate: float
    quality: float | None  # mean quality score in [0, 1] of graded samples
    quality_weight: float  # effective number of graded samples
    latency_ms: float | None
    ttft_ms: float | None
    tokens_per_s: float | None
    last_ts: datetime | None


@dataclass(frozen=True, slots=True)
class ModelProfile:
    model_id: str
    by_category: Mapping[str, Observed]

    @property
    def overall(self) -> Observed | None:
        return self.by_category.get(ALL)

    def for_category(self, category: str | None) -> Observed | None:
        if category and category in self.by_category:
            return self.by_category[category]
        return None


class _Acc:
    __slots__ = (
        "count",
        "last",
        "lat",
        "lat_w",
        "q",
        "q_w",
        "succ",
        "tps",
        "tps_w",
        "ttft",
        "ttft_w",
        "w",
    )

    def __init__(self) -> None:
        self.w = self.succ = self.q = self.q_w = 0.0
        self.lat = self.lat_w = self.ttft = self.ttft_w = self.tps = self.tps_w = 0.0
        self.count = 0
        self.last: datetime | None = None

    def add(self, s: SampleLike, weight: float, ts: datetime) -> None:
        self.count += 1
        self.w += weight
        if self.last is None or ts > self.last:
            self.last = ts
        if s.success:
            self.succ += weight
            if s.latency_ms is not None and s.latency_ms >= 0:
                self.lat += weight * s.latency_ms
                self.lat_w += weight
            if s.ttft_ms is not None and s.ttft_ms >= 0:
                self.ttft += weight * s.ttft_ms
                self.ttft_w += weight
            if s.tokens_per_s is not None and s.tokens_per_s > 0:
                self.tps += weight * s.tokens_per_s
                self.tps_w += weight
        if s.quality is not None:
            q = min(1.0, max(0.0, float(s.quality)))
            self.q += weight * q
            self.q_w += weight

    def result(self) -> Observed:
        return Observed(
            weight=self.w,
            count=self.count,
            success_rate=self.succ / self.w if self.w else 0.0,
            quality=self.q / self.q_w if self.q_w else None,
            quality_weight=self.q_w,
            latency_ms=self.lat / self.lat_w if self.lat_w else None,
            ttft_ms=self.ttft / self.ttft_w if self.ttft_w else None,
            tokens_per_s=self.tps / self.tps_w if self.tps_w else None,
            last_ts=self.last,
        )


def age_weight(ts: datetime, now: datetime, half_life_days: float) -> float:
    age_days = max(0.0, (now - ts).total_seconds() / 86400.0)
    return 0.5 ** (age_days / half_life_days) if half_life_days > 0 else 1.0


def build_profiles(
    samples: Iterable[SampleLike],
    now: datetime,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
) -> dict[str, ModelProfile]:
    """Reduce samples to one profile per model, per category and over all categories."""
    now = as_utc(now)
    accs: dict[str, dict[str, _Acc]] = {}
    for s in samples:
        ts = as_utc(s.ts)
        w = age_weight(ts, now, half_life_days)
        per_model = accs.setdefault(s.model_id, {})
        keys = (ALL, s.category) if s.category and s.category != ALL else (ALL,)
        for key in keys:
            acc = per_model.get(key)
            if acc is None:
                acc = per_model[key] = _Acc()
            acc.add(s, w, ts)
    return {
        model_id: ModelProfile(model_id, {k: a.result() for k, a in cats.items()})
        for model_id, cats in accs.items()
    }


def stale_models(
    profiles: Mapping[str, ModelProfile], now: datetime, max_age_days: float = 30.0
) -> list[str]:
    """Models whose newest sample is older than ``max_age_days`` ("re-run stale")."""
    now = as_utc(now)
    out = []
    for model_id, prof in profiles.items():
        overall = prof.overall
        if overall is None or overall.last_ts is None:
            continue
        if (now - overall.last_ts).total_seconds() > max_age_days * 86400:
            out.append(model_id)
    return sorted(out)
