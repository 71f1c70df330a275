"""Spend guardrails and the spend report, for every face that can send a paid request.

* :func:`paid_call_refusal` says whether a paid call may go out now: the daily and monthly
  caps of the settings (``[spend]``, or per-run overrides) are checked before the call, with
  the call's own estimated cost when it is known, so a cap is never crossed knowingly.
* The optional ``refuse_paid_fallback`` rule refuses a paid model that sits behind a $0 model
  in a fallback chain, instead of falling back to it silently.
* :func:`spend_report` sums the ledger exactly (``Decimal``): today and this month (UTC), by
  model and by client, and the saving against the baseline model. Unknown costs are counted,
  never summed as $0.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from locallama_gui.core.cost import estimate_cost, format_usd
from locallama_gui.core.models import Usage, decimal_str
from locallama_gui.core.samples import SpendEntry
from locallama_gui.store.db import StoreError

if TYPE_CHECKING:
    from locallama_gui.services.facade import Services


@dataclass(frozen=True, slots=True)
class SpendLimits:
    """The caps in force for one run (settings, with per-run overrides)."""

    daily_cap_usd: Decimal | None = None
    monthly_cap_usd: Decimal | None = None
    refuse_paid_fallback: bool = False

    @classmethod
    def from_settings(cls, services: Services, **overrides: Any) -> SpendLimits:
        s = services.settings.spend
        values: dict[str, Any] = {
            "daily_cap_usd": s.daily_cap_usd,
            "monthly_cap_usd": s.monthly_cap_usd,
            "refuse_paid_fallback": s.refuse_paid_fallback,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


@dataclass(frozen=True, slots=True)
class SpentSoFar:
    today: Decimal
    month: Decimal
    unknown_today: int
    unknown_month: int


def spent_so_far(services: Services, now: datetime | None = None) -> SpentSoFar:
    """Known spend today and this month (UTC). Raises ``StoreError`` when unreadable."""
    now = now or services.clock()
    if services.store is None:
        return SpentSoFar(Decimal(0), Decimal(0), 0, 0)
    month = services.store.spend_total(since=month_start(now))
    today = services.store.spend_total(since=day_start(now))
    return SpentSoFar(today.total, month.total, today.unknown_count, month.unknown_count)


def paid_call_refusal(
    services: Services,
    limits: SpendLimits,
    *,
    estimate_usd: Decimal | None = None,
    now: datetime | None = None,
) -> str | None:
    """Why a paid call must not go out now, or None when it may."""
    if limits.daily_cap_usd is None and limits.monthly_cap_usd is None:
        return None
    try:
        spent = spent_so_far(services, now)
    except StoreError as e:
        # Without the ledger the caps cannot be checked: refusing is the safe side.
        return f"the spend ledger is unreadable, so the spend cap cannot be checked ({e})"
    extra = estimate_usd if estimate_usd is not None and estimate_usd > 0 else Decimal(0)
    checks = (
        ("daily", limits.daily_cap_usd, spent.today, "today"),
        ("monthly", limits.monthly_cap_usd, spent.month, "this month"),
    )
    for name, cap, used, when in checks:
        if cap is None:
            continue
        if used >= cap or used + extra > cap:
            with_call = f" and this call would add about {format_usd(extra, 6)}" if extra else ""
            return (
                f"the {name} spend cap of {format_usd(cap, 2)} is reached "
                f"({format_usd(used, 4)} spent {when}{with_call}); raise it in Settings or "
                f"with --{name}-cap, or use a free or local model"
            )
    return None


def baseline_cost(
    services: Services, usage: Usage | None, at: datetime | None = None
) -> tuple[str | None, Decimal | None]:
    """The baseline model and what it would have cost for ``usage`` (None when unknown)."""
    model_id = services.settings.spend.baseline_model
    if usage is None:
        return model_id, None
    j = services.index.by_id.get(model_id)
    if j is None:
        return model_id, None
    est = estimate_cost(services.index.models[j], usage, at)
    return model_id, est.total_usd


# --- the report ----------------------------------------------------------------------------


class _Sum:
    __slots__ = ("baseline", "baseline_known", "requests", "saved", "total", "unknown")

    def __init__(self) -> None:
        self.total = Decimal(0)
        self.unknown = 0
        self.requests = 0
        self.baseline = Decimal(0)
        self.baseline_known = 0
        self.saved = Decimal(0)

    def add(self, e: SpendEntry) -> None:
        self.requests += 1
        if e.cost_usd is None:
            self.unknown += 1
        else:
            self.total += e.cost_usd
            if e.baseline_cost_usd is not None:
                self.baseline += e.baseline_cost_usd
                self.baseline_known += 1
                self.saved += e.baseline_cost_usd - e.cost_usd

    def view(self) -> dict[str, Any]:
        return {
            "total_usd": decimal_str(self.total),
            "requests": self.requests,
            "unknown_cost_requests": self.unknown,
            "baseline_usd": decimal_str(self.baseline),
            "saved_usd": decimal_str(self.saved),
            "compared_requests": self.baseline_known,
        }


def _grouped(entries: Iterable[SpendEntry], key: str) -> list[dict[str, Any]]:
    groups: dict[str, tuple[str | None, _Sum]] = {}
    for e in entries:
        name = getattr(e, key) or "unknown"
        tier, acc = groups.setdefault(name, (e.tier if key == "model_id" else None, _Sum()))
        acc.add(e)
    rows = []
    for name, (tier, acc) in groups.items():
        row: dict[str, Any] = {"model" if key == "model_id" else "client": name}
        if tier is not None:
            row["tier"] = tier
        row.update(acc.view())
        rows.append(row)
    rows.sort(key=lambda r: (-Decimal(r["total_usd"]), -r["requests"], str(next(iter(r.values())))))
    return rows


def _period(entries: list[SpendEntry], since: datetime) -> dict[str, Any]:
    inside = [e for e in entries if e.ts >= since]
    acc = _Sum()
    for e in inside:
        acc.add(e)
    out = {"since": since.isoformat(), **acc.view()}
    out["by_model"] = _grouped(inside, "model_id")
    out["by_client"] = _grouped(inside, "client")
    return out


def spend_report(services: Services, now: datetime | None = None) -> dict[str, Any]:
    """Today and this month (UTC), by model and by client, with the saving against the
    baseline and the caps in force. Raises ``StoreError`` when the ledger is unreadable."""
    now = now or services.clock()
    limits = SpendLimits.from_settings(services)
    entries: list[SpendEntry] = []
    if services.store is not None:
        entries = services.store.spend_entries(since=month_start(now))
    with decimal.localcontext(prec=200):
        today = _period(entries, day_start(now))
        month = _period(entries, month_start(now))

    def left(cap: Decimal | None, used: str) -> str | None:
        return None if cap is None else decimal_str(max(Decimal(0), cap - Decimal(used)))

    return {
        "now": now.isoformat(),
        "baseline_model": services.settings.spend.baseline_model,
        "today": today,
        "month": month,
        "caps": {
            "daily_cap_usd": None
            if limits.daily_cap_usd is None
            else decimal_str(limits.daily_cap_usd),
            "monthly_cap_usd": None
            if limits.monthly_cap_usd is None
            else decimal_str(limits.monthly_cap_usd),
            "daily_left_usd": left(limits.daily_cap_usd, today["total_usd"]),
            "monthly_left_usd": left(limits.monthly_cap_usd, month["total_usd"]),
            "refuse_paid_fallback": limits.refuse_paid_fallback,
        },
        "recorded": services.store is not None,
    }


__all__ = [
    "SpendLimits",
    "SpentSoFar",
    "baseline_cost",
    "day_start",
    "month_start",
    "paid_call_refusal",
    "spend_report",
    "spent_so_far",
]
