"""Spend guardrails before paid calls (caps, the refuse-paid-fallback rule) and the spend
report (exact sums by period, model and client, and the saving against the baseline)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest
import pytest_asyncio

from locallama_gui.core.routing import Task
from locallama_gui.services.refresh import RefreshService
from locallama_gui.services.runner import FAILED, OK, SKIPPED, Runner
from locallama_gui.services.spend import (
    SpendLimits,
    baseline_cost,
    paid_call_refusal,
    spend_report,
)
from tests.fakes import server as fk

CHAT = "/chat/completions"
FREE_1 = "liquid/lfm-2.5-2.6b:free"
PAID = "openai/gpt-4o-mini"
LOCAL = "gemma4:e4b"


@pytest_asyncio.fixture
async def ready(live):
    await RefreshService(live).refresh()
    return live


def with_spend(services, **values) -> None:
    s = services.settings
    services.update_settings(
        dataclasses.replace(s, spend=dataclasses.replace(s.spend, **values)), save=False
    )


def outcomes(run) -> list[tuple[str, str]]:
    return [(a.model_id, a.outcome) for a in run.attempts]


def spend(store, clock, cost: str, *, model=PAID, tier="paid", client="cli", base=None, **kw):
    store.record_spend(
        ts=kw.pop("ts", clock.now),
        model_id=model,
        tier=tier,
        cost_usd=None if cost is None else Decimal(cost),
        client=client,
        baseline_model="anthropic/claude-sonnet-4.5" if base is not None else None,
        baseline_cost_usd=None if base is None else Decimal(base),
    )


# --- caps -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_reached_daily_cap_refuses_the_paid_call_before_it_is_sent(
    ready, services, store, clock, openrouter_fake
):
    with_spend(services, daily_cap_usd=Decimal("0.01"))
    spend(store, clock, "0.01")
    run = await Runner(ready).run([PAID, LOCAL], "Say hello")
    assert outcomes(run) == [(PAID, SKIPPED), (LOCAL, OK)]
    assert "daily spend cap of $0.01 is reached" in run.attempts[0].error
    assert openrouter_fake.requests_to(CHAT) == []


@pytest.mark.asyncio
async def test_a_call_whose_estimate_would_cross_the_cap_is_refused(
    ready, services, openrouter_fake
):
    decision = services.route(Task(prompt="Say hello"), services.default_policy(pinned=PAID))
    estimate = {c.id: c.cost_usd for c in decision.chain}[PAID]
    assert estimate and estimate > 0
    limits = SpendLimits(monthly_cap_usd=estimate / 2)
    run = await Runner(ready, limits=limits).run(decision, "Say hello")
    paid = [a for a in run.attempts if a.model_id == PAID]
    assert paid and paid[0].outcome == SKIPPED
    assert "monthly spend cap" in paid[0].error and "this call would add" in paid[0].error
    assert openrouter_fake.requests_to(CHAT) == [] or all(
        r.json["model"] != PAID for r in openrouter_fake.requests_to(CHAT)
    )


def test_caps_count_this_month_and_today_apart(services, store, clock):
    limits = SpendLimits(daily_cap_usd=Decimal("1"), monthly_cap_usd=Decimal("2"))
    month_start = clock.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if clock.now - month_start < timedelta(days=1):
        pytest.skip("needs a day of this month before today")
    spend(store, clock, "1.5", ts=month_start)
    assert paid_call_refusal(services, limits) is None  # 0 today, 1.5 of 2 this month
    spend(store, clock, "0.5")
    why = paid_call_refusal(services, limits)
    assert why is not None and "monthly spend cap of $2.00" in why
    assert paid_call_refusal(services, SpendLimits()) is None  # no cap, no refusal


@pytest.mark.asyncio
async def test_caps_never_stop_free_or_local_models(ready, services, store, clock):
    with_spend(services, daily_cap_usd=Decimal("0"))
    run = await Runner(ready).run([LOCAL], "Say hello")
    assert run.ok and run.tier == "local"


@pytest.mark.asyncio
async def test_refuse_paid_fallback_stops_at_the_paid_tail(ready, services, openrouter_fake):
    with_spend(services, refuse_paid_fallback=True)
    openrouter_fake.fail_next(CHAT, fk.SERVER_ERROR, times=3)
    run = await Runner(ready).run([FREE_1, PAID], "Say hello")
    assert outcomes(run) == [(FREE_1, FAILED), (PAID, SKIPPED)]
    assert "paid fallback refused" in run.attempts[1].error
    assert len(openrouter_fake.requests_to(CHAT)) == 1
    # a chain that starts paid is the user's own choice: allowed
    openrouter_fake.reset()
    first_paid = await Runner(ready).run([PAID], "Say hello")
    assert first_paid.ok


# --- the ledger and the report ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_run_records_its_client_and_what_the_baseline_would_have_cost(
    ready, services, store
):
    run = await Runner(ready, client="cli").run([LOCAL], "Say hello")
    (entry,) = store.spend_entries()
    assert entry.client == "cli"
    model_id, expected = baseline_cost(services, run.result.usage)
    assert entry.baseline_model == model_id == services.settings.spend.baseline_model
    assert entry.baseline_cost_usd == expected == run.baseline_cost_usd
    assert expected is not None and expected > 0


def test_the_report_sums_exactly_by_period_model_and_client(services, store, clock):
    month_start = clock.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if clock.now - month_start < timedelta(hours=1):
        pytest.skip("needs an hour of this month before now")
    spend(store, clock, "0.1", client="cli", base="0.3")
    spend(store, clock, "0.2", client="Aider", base="0.3")
    spend(store, clock, "0", model=LOCAL, tier="local", client="Aider", base="0.05")
    spend(store, clock, None, client="Aider")  # unknown: counted, never summed
    spend(store, clock, "1", client="cli", ts=month_start)  # this month, not today

    report = spend_report(services)
    today, month = report["today"], report["month"]
    assert today["total_usd"] == "0.3" and today["requests"] == 4
    assert today["unknown_cost_requests"] == 1
    assert today["saved_usd"] == "0.35"  # (0.3-0.1) + (0.3-0.2) + (0.05-0)
    assert month["total_usd"] == "1.3" and month["requests"] == 5
    by_client = {r["client"]: r for r in month["by_client"]}
    assert by_client["cli"]["total_usd"] == "1.1" and by_client["cli"]["requests"] == 2
    assert by_client["Aider"]["total_usd"] == "0.2" and by_client["Aider"]["requests"] == 3
    by_model = {r["model"]: r for r in month["by_model"]}
    assert by_model[PAID]["total_usd"] == "1.3" and by_model[LOCAL]["tier"] == "local"
    assert month["by_model"][0]["model"] == PAID  # dearest first
    assert report["caps"]["daily_cap_usd"] is None


def test_the_report_says_what_is_left_under_the_caps(services, store, clock):
    with_spend(services, daily_cap_usd=Decimal("0.5"), monthly_cap_usd=Decimal("5"))
    spend(store, clock, "0.2")
    caps = spend_report(services)["caps"]
    assert caps["daily_left_usd"] == "0.3" and caps["monthly_left_usd"] == "4.8"
