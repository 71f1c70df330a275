"""Route-simulation: seeded scenarios, the free quota running out, exact savings, imports."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from locallama_gui.core.catalogue import parse_ollama_tags, parse_openrouter_models
from locallama_gui.core.cost import estimate_cost
from locallama_gui.core.models import ModelInfo, Tier, Usage
from locallama_gui.core.quota import FreeQuota
from locallama_gui.core.routing import CatalogueIndex, FreePreference, Policy, Priority
from locallama_gui.core.simulation import (
    Scenario,
    ScenarioError,
    SimTask,
    TaskFileError,
    generate_tasks,
    simulate,
    tasks_from_csv,
    tasks_from_jsonl,
)
from locallama_gui.core.taskfiles import FileFormatError

START = datetime(2026, 1, 5, tzinfo=UTC)
BASELINE = "openai/gpt-5.6-luna"


@pytest.fixture
def openrouter(data_dir: Path) -> list[ModelInfo]:
    return list(
        parse_openrouter_models(
            json.loads((data_dir / "openrouter" / "models-2026-08-14.json").read_text())
        ).models
    )


@pytest.fixture
def ollama(data_dir: Path) -> list[ModelInfo]:
    return list(
        parse_ollama_tags(
            json.loads((data_dir / "ollama" / "tags-2026-04.json").read_text()),
            ps_payload=json.loads((data_dir / "ollama" / "ps-2026-04.json").read_text()),
        ).models
    )


@pytest.fixture
def index(openrouter) -> CatalogueIndex:
    return CatalogueIndex(openrouter)


def test_generate_tasks_is_deterministic_per_seed():
    a = generate_tasks(Scenario(tasks=300, seed=11))
    b = generate_tasks(Scenario(tasks=300, seed=11))
    c = generate_tasks(Scenario(tasks=300, seed=12))
    assert a == b
    assert a != c
    assert len(a) == 300


def test_generate_tasks_spreads_over_days_in_order():
    tasks = generate_tasks(Scenario(tasks=450, tasks_per_day=200, seed=1, start=START))
    days = Counter((t.at - START).days for t in tasks)
    assert days == {0: 200, 1: 200, 2: 50}
    ats = [t.at for t in tasks]
    assert ats == sorted(ats)
    assert all(t.at.tzinfo is not None for t in tasks)
    vision = [t.task for t in tasks if t.task.category == "vision"]
    assert vision and all("vision" in t.capabilities for t in vision)
    assert all(0.0 <= t.task.complexity <= 1.0 for t in tasks)
    assert all(t.task.prompt_tokens >= 1 and t.task.output_tokens >= 1 for t in tasks)


def test_generate_tasks_follows_the_mix():
    tasks = generate_tasks(
        Scenario(tasks=400, seed=2, category_mix={"code": 1.0}, priority=Priority.SPEED)
    )
    assert {t.task.category for t in tasks} == {"code"}
    assert {t.task.priority for t in tasks} == {Priority.SPEED}
    easy = generate_tasks(Scenario(tasks=200, seed=2, complexity_mix=(1.0, 0.0, 0.0)))
    assert all(t.task.complexity <= 0.33 for t in easy)


@pytest.mark.parametrize(
    "bad",
    [
        Scenario(tasks=-1),
        Scenario(tasks_per_day=0),
        Scenario(category_mix={}),
        Scenario(category_mix={"code": -1.0}),
        Scenario(category_mix={"code": 0.0}),
        Scenario(complexity_mix=(0.0, 0.0, 0.0)),
        Scenario(complexity_mix=(1.0, -1.0, 1.0)),
    ],
)
def test_bad_scenarios(bad):
    with pytest.raises(ScenarioError):
        generate_tasks(bad)


def test_simulation_is_deterministic(index):
    tasks = generate_tasks(Scenario(tasks=250, seed=4))
    a = simulate(tasks, Policy(), index, baseline_id=BASELINE)
    b = simulate(tasks, Policy(), CatalogueIndex(reversed(index.models)), baseline_id=BASELINE)
    assert a.rows == b.rows
    assert a.to_dict(include_rows=True) == b.to_dict(include_rows=True)


def test_free_quota_runs_out_then_paid_takes_over(index):
    tasks = generate_tasks(Scenario(tasks=600, tasks_per_day=200, seed=3, start=START))
    res = simulate(tasks, Policy(), index, baseline_id=BASELINE)
    assert len(res.free_day_exhausted_at) == 3  # once per simulated day
    free_per_day = Counter(r.at.date() for r in res.rows if r.tier is Tier.FREE)
    assert free_per_day and all(n <= 50 for n in free_per_day.values())
    assert sum(free_per_day.values()) == 150  # the cap, exactly, every day
    for when in res.free_day_exhausted_at:
        after = [r for r in res.rows if r.at > when and r.at.date() == when.date()]
        assert after and all(r.tier is not Tier.FREE for r in after)
        assert any(r.tier is Tier.PAID for r in after)
        # the moment is the 50th free task of that day
        day_free = [r.at for r in res.rows if r.tier is Tier.FREE and r.at.date() == when.date()]
        assert day_free[-1] == when


def test_credits_raise_the_daily_free_cap(index):
    tasks = generate_tasks(Scenario(tasks=400, tasks_per_day=200, seed=3, start=START))
    res = simulate(tasks, Policy(), index, credits_purchased=True)
    default = simulate(tasks, Policy(), index)
    assert res.tier_counts.get("free", 0) > default.tier_counts.get("free", 0)
    assert res.free_day_exhausted_at == ()


def test_local_models_take_over_when_free_runs_out(openrouter, ollama):
    idx = CatalogueIndex([*openrouter, *ollama])
    tasks = generate_tasks(
        Scenario(tasks=200, tasks_per_day=200, seed=5, complexity_mix=(1.0, 0.0, 0.0))
    )
    res = simulate(tasks, Policy(), idx)
    assert res.tier_counts.get("free", 0) <= 50
    assert res.tier_counts.get("local", 0) > 0
    # easy tasks with $0 models preferred: most go to $0 models
    zero = res.tier_counts.get("free", 0) + res.tier_counts.get("local", 0)
    assert zero > res.tier_counts.get("paid", 0)


def test_savings_are_exact_against_the_named_baseline(index):
    tasks = generate_tasks(Scenario(tasks=300, seed=6))
    # a frontier baseline (a cheap one can cost less than routing that demands the quality
    # hard tasks need: savings may then be negative, and are reported so)
    dear = "anthropic/claude-sonnet-5"
    res = simulate(tasks, Policy(), index, baseline_id=dear)
    baseline = index.models[index.by_id[dear]]
    expected_baseline = sum(
        (
            estimate_cost(
                baseline,
                Usage(prompt_tokens=r.prompt_tokens, completion_tokens=r.output_tokens),
                r.at,
            ).total_usd
            for r in res.rows
        ),
        Decimal(0),
    )
    expected_total = sum((r.cost_usd for r in res.rows if r.cost_usd is not None), Decimal(0))
    assert isinstance(res.total_cost_usd, Decimal)
    assert res.total_cost_usd == expected_total
    assert res.baseline_cost_usd == expected_baseline
    assert res.savings_usd == expected_baseline - expected_total
    assert res.savings_usd > 0
    assert res.cumulative_cost()[-1] == res.total_cost_usd
    d = res.to_dict()
    assert Decimal(d["savings_usd"]) == res.savings_usd
    assert d["baseline"] == dear


def test_no_baseline_no_savings(index):
    res = simulate(generate_tasks(Scenario(tasks=20)), Policy(), index)
    assert res.baseline_cost_usd is None and res.savings_usd is None


def test_unknown_baseline_is_an_error(index):
    with pytest.raises(ScenarioError, match="not in the catalogue"):
        simulate(generate_tasks(Scenario(tasks=5)), Policy(), index, baseline_id="nobody/x")


def test_tier_counts_sum_to_tasks(index):
    tasks = generate_tasks(Scenario(tasks=300, seed=8))
    res = simulate(tasks, Policy(), index)
    assert res.tasks == 300
    assert res.unroutable == 0
    assert sum(res.tier_counts.values()) == 300
    assert sum(res.model_counts.values()) == 300
    assert sum(res.tier_share().values()) == pytest.approx(1.0)
    for tier in res.tier_counts:
        assert res.tier_counts[tier] == sum(1 for r in res.rows if r.tier and r.tier.value == tier)
    assert res.below_threshold == sum(r.below_threshold for r in res.rows)


def test_unroutable_tasks_are_counted(index):
    tasks = generate_tasks(Scenario(tasks=50, seed=8))
    res = simulate(tasks, Policy(deny=("*",)), index)
    assert res.unroutable == 50
    assert res.tier_counts == {}
    assert res.total_cost_usd == Decimal(0)
    assert all(r.model_id is None and r.cost_usd is None for r in res.rows)


def test_free_only_policy_never_costs_anything(index):
    tasks = generate_tasks(Scenario(tasks=200, seed=9))
    res = simulate(tasks, Policy(free_preference=FreePreference.ONLY), index)
    assert res.total_cost_usd == Decimal(0)
    assert set(res.tier_counts) <= {"free"}
    # once the day's free quota is gone, nothing is left to route to
    assert res.unroutable == 200 - res.tier_counts["free"]


def test_cancel_returns_partial_result(index):
    tasks = generate_tasks(Scenario(tasks=100, seed=1))
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    progress: list[tuple[int, int]] = []
    res = simulate(
        tasks,
        Policy(),
        index,
        progress=lambda done, total: progress.append((done, total)),
        cancelled=cancelled,
        progress_every=10,
    )
    assert res.cancelled
    assert res.tasks == 30
    assert progress == [(0, 100), (10, 100), (20, 100)]
    assert res.to_dict()["cancelled"] is True


def test_progress_is_reported_to_the_end(index):
    tasks = generate_tasks(Scenario(tasks=25, seed=1))
    seen: list[tuple[int, int]] = []
    res = simulate(
        tasks, Policy(), index, progress=lambda d, t: seen.append((d, t)), progress_every=10
    )
    assert not res.cancelled
    assert seen == [(0, 25), (10, 25), (20, 25), (25, 25)]


def test_a_shared_quota_carries_over(index):
    tasks = generate_tasks(Scenario(tasks=40, seed=2, start=START))
    quota = FreeQuota()
    for k in range(50):
        quota.record_request(START + timedelta(seconds=k))
    res = simulate(tasks, Policy(), index, quota=quota)
    assert res.tier_counts.get("free", 0) == 0


def test_to_dict_with_rows(index):
    res = simulate(generate_tasks(Scenario(tasks=10)), Policy(), index, baseline_id=BASELINE)
    d = res.to_dict(include_rows=True)
    json.dumps(d)
    assert len(d["rows"]) == 10
    assert d["tasks"] == 10
    assert Decimal(d["total_cost_usd"]) == res.total_cost_usd


# --- imported task lists -------------------------------------------------------------------


def test_tasks_from_jsonl():
    text = "\n".join(
        [
            json.dumps({"prompt": "Write a sorting function", "category": "code"}),
            "",
            json.dumps(
                {
                    "prompt_tokens": 1200,
                    "output_tokens": 300,
                    "complexity": 0.7,
                    "capabilities": ["tools", "json"],
                    "priority": "quality",
                    "at": "2026-02-01T10:00:00+01:00",
                }
            ),
            json.dumps({"prompt_tokens": 5}),
        ]
    )
    tasks = tasks_from_jsonl(text, START, tasks_per_day=4)
    assert len(tasks) == 3
    a, b, c = tasks
    assert a.task.prompt == "Write a sorting function" and a.task.category == "code"
    assert a.task.output_tokens == 512
    assert a.at == START
    assert b.task.prompt_tokens == 1200 and b.task.output_tokens == 300
    assert b.task.capabilities == frozenset({"tools", "json"})
    assert b.task.priority is Priority.QUALITY
    assert b.at == datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    assert c.at == START + timedelta(hours=12)  # spread: the third slot of four a day
    assert c.task.category == "chat"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"prompt": "ok"}\n{not json}', "line 2: not valid JSON"),
        ('{"prompt": "ok"}\n\n[1, 2]', "line 3: expected a JSON object"),
        ('{"category": "code"}', "line 1: needs a prompt or prompt_tokens"),
        ('{"prompt_tokens": "many"}', "line 1: prompt_tokens must be a whole number of tokens"),
        ('{"prompt_tokens": 1.5}', "line 1: prompt_tokens must be a whole number of tokens"),
        ('{"prompt_tokens": true}', "line 1: prompt_tokens must be a whole number of tokens"),
        ('{"prompt": "x", "complexity": "high"}', "line 1: complexity must be a number from 0"),
        ('{"promt": "x"}', "line 1: unknown field 'promt'; did you mean 'prompt'?"),
        ('{"prompt": "x", "category": "cod"}', "line 1: unknown category 'cod'; use one of chat"),
        ('{"prompt": "x"}\n"just text"', "line 2: expected a JSON object, got a string"),
        ("{'prompt': 'x'}", "line 1: not valid JSON"),
        ("# only a comment\n\n", "no tasks"),
        ('{"prompt": 5}', "line 1: prompt must be text"),
        ('{"prompt": "x", "complexity": 2}', "line 1: complexity must be between 0 and 1"),
        ('{"prompt": "x", "output_tokens": -4}', "line 1: output_tokens must not be negative"),
        ('{"prompt": "x", "capabilities": ["telepathy"]}', "line 1: unknown capability"),
        ('{"prompt": "x", "priority": "urgent"}', "line 1: priority must be one of cost"),
        ('{"prompt": "x", "at": "yesterday"}', "line 1: at must be an ISO date-time"),
        ('{"prompt": "x", "category": 3}', "line 1: category must be text"),
        ('{"prompt": "x", "capabilities": 5}', "line 1: capabilities must be a list"),
        ('{"prompt": "x", "capabilities": {"tools": 1}}', "line 1: capabilities must be a list"),
        ('{"prompt": "x", "capabilities": [1]}', "line 1: capabilities must be a list"),
    ],
)
def test_tasks_from_jsonl_errors_name_the_line(text, message):
    with pytest.raises(ScenarioError) as e:
        tasks_from_jsonl(text, START)
    assert str(e.value).startswith(message) or message in str(e.value)
    assert isinstance(e.value, TaskFileError) and isinstance(e.value, FileFormatError)
    assert "\n" not in str(e.value)


def test_a_task_file_error_names_the_file_and_line_and_says_what_to_do():
    text = '{"prompt": "ok"}\n\n# a comment\n{"prompt": "two"}\n{"prompt": x}\n'
    with pytest.raises(TaskFileError) as e:
        tasks_from_jsonl(text, START, source="tasks.jsonl")
    err = e.value
    assert (err.source, err.line) == ("tasks.jsonl", 5)
    assert err.problem.startswith("not valid JSON (")
    assert "one JSON object per line" in err.hint
    assert str(err) == f"tasks.jsonl line 5: {err.problem}; {err.hint}"
    # a pretty-printed object, a JSON array and single quotes each get their own advice
    for bad, advice in [
        ('{\n  "prompt": "x"\n}\n', "spread over several lines"),
        ('[{"prompt": "x"}, {"prompt": "y"}]\n', "a list of objects is not JSONL"),
        ("{'prompt': 'x'}\n", "double quotes"),
    ]:
        with pytest.raises(TaskFileError, match=advice) as e:
            tasks_from_jsonl(bad, START, source="t.jsonl")
        assert e.value.line == 1


def test_tasks_from_csv():
    text = (
        "prompt,prompt_tokens,output_tokens,complexity,category,capabilities,priority\n"
        '"Summarise this, please",,200,0.2,writing,,cost\n'
        ",4000,,0.9,code,tools;json,quality\n"
    )
    tasks = tasks_from_csv(text, START)
    assert len(tasks) == 2
    a, b = tasks
    assert a.task.prompt == "Summarise this, please" and a.task.prompt_tokens is None
    assert a.task.output_tokens == 200 and a.task.priority is Priority.COST
    assert b.task.prompt is None and b.task.prompt_tokens == 4000
    assert b.task.output_tokens == 512
    assert b.task.capabilities == frozenset({"tools", "json"})
    assert b.at > a.at


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no header row"),
        ("category,output_tokens\ncode,10\n", "needs a prompt or prompt_tokens column"),
        ("prompt,complexity\nhello,0.5\nbye,high\n", "row 3: complexity must be a number"),
        ("prompt,prompt_tokens\n,\n", "row 2: needs a prompt or prompt_tokens"),
        ("prompt,capabilities\nhi,tools;smell\n", "row 2: unknown capability"),
    ],
)
def test_tasks_from_csv_errors_name_the_row(text, message):
    with pytest.raises(ScenarioError, match=message):
        tasks_from_csv(text, START)


def test_imported_tasks_simulate(index):
    tasks = tasks_from_jsonl('{"prompt_tokens": 100, "complexity": 0.1}\n' * 5, START)
    assert all(isinstance(t, SimTask) for t in tasks)
    res = simulate(tasks, Policy(), index)
    assert res.tasks == 5 and res.unroutable == 0


# --- the simulation's fast paths decide and charge as the full decision does ------------------

_CHOICE_POLICIES = [
    Policy(),
    Policy(fallback_depth=0),
    Policy(free_preference=FreePreference.AVOID),
    Policy(free_preference=FreePreference.OFF),
    Policy(free_preference=FreePreference.ONLY),
    Policy(quota_aware=False),
    Policy(budget_usd=Decimal("0.002")),
    Policy(allow_paid=False),
    Policy(deny=("openai/*",)),
    Policy(quality_floor=0.97),  # nothing good enough: below the bar
    Policy(pinned="google/gemini-3.5-flash-lite"),
]


@pytest.mark.parametrize("policy", _CHOICE_POLICIES, ids=repr)
@pytest.mark.parametrize("priority", [Priority.BALANCED, Priority.COST, Priority.QUALITY])
def test_chosen_only_decides_as_the_full_decision(openrouter, ollama, policy, priority):
    """Task by task, with the free quota filling as the chosen models use it (scarce free
    requests demote free models part of the day), ``chosen_only`` picks the model the full
    decision puts first, with the same cost and threshold verdict; and so does ``choose``,
    the simulator's call."""
    from locallama_gui.core.routing import RoutingContext, choose, route

    index = CatalogueIndex([*openrouter, *ollama])
    tasks = generate_tasks(
        Scenario(tasks=700, tasks_per_day=350, seed=5, start=START, priority=priority)
    )
    quota = FreeQuota()
    demoted = 0
    for st in tasks:
        ctx = RoutingContext(index=index, now=st.at, quota=quota.status(st.at))
        full = route(st.task, policy, ctx)
        fast = route(st.task, policy, ctx, chosen_only=True)
        assert fast.chosen_model == full.chosen_model, st
        assert fast.below_threshold == full.below_threshold
        assert fast.estimated_cost_usd == full.estimated_cost_usd
        assert fast.chain_ids == full.chain_ids[:1]
        assert choose(st.task, policy, ctx) == (
            fast.resolved,
            fast.chosen_model,
            fast.below_threshold,
        )
        demoted += full.scarcity_note is not None
        if full.chosen_model is not None and full.chosen_model.tier is Tier.FREE:
            quota.record_request(st.at)
    if policy == Policy() and priority is Priority.BALANCED:
        assert demoted > 0  # the scarce-quota path was exercised


def test_simulation_charges_what_the_decision_estimates(index):
    """Each row's cost is the chosen model's exact estimate at the task's moment, and the
    baseline is charged on the same usage, images included."""
    from locallama_gui.core.routing import RoutingContext, Task, route

    tasks = generate_tasks(Scenario(tasks=400, tasks_per_day=400, seed=2, start=START))
    vision = [
        SimTask(
            START + timedelta(hours=k),
            Task(prompt_tokens=900, output_tokens=200, category="vision", images=3),
        )
        for k in range(1, 4)
    ]
    # a baseline that bills images, so that leaving them out would show
    baseline = next(
        m.id
        for m in index.models
        if m.tier is Tier.PAID
        and m.pricing is not None
        and (m.pricing.prices.get("image") or 0) > 0
        and not m.pricing.overrides
    )
    result = simulate([*tasks, *vision], Policy(), index, baseline_id=baseline)
    quota = FreeQuota()
    expected_base = Decimal(0)
    ordered = sorted([*tasks, *vision], key=lambda st: st.at)
    for st, row in zip(ordered, result.rows, strict=True):
        d = route(
            st.task, Policy(), RoutingContext(index=index, now=st.at, quota=quota.status(st.at))
        )
        assert row.model_id == (d.chosen_model.id if d.chosen_model else None)
        assert row.cost_usd == d.estimated_cost_usd
        if d.chosen_model is not None and d.chosen_model.tier is Tier.FREE:
            quota.record_request(st.at)
        usage = Usage(
            prompt_tokens=d.resolved.prompt_tokens,
            completion_tokens=d.resolved.output_tokens,
            images=st.task.images,
        )
        expected_base += estimate_cost(index.models[index.by_id[baseline]], usage, st.at).total_usd
    assert result.baseline_cost_usd == expected_base
    charged = [
        row
        for st, row in zip(ordered, result.rows, strict=True)
        if st.task.images and row.model_id is not None
    ]
    assert len(charged) == 3


def test_recorded_tasks_keep_their_images(index):
    """The route history records a task's images and a replay charges them."""
    from locallama_gui.core.routing import RoutingContext, Task, route
    from locallama_gui.core.simulation import tasks_from_history

    task = Task(prompt_tokens=900, output_tokens=200, category="vision", images=3)
    recorded = route(task, Policy(), RoutingContext(index=index, now=START)).to_dict()["task"]
    assert recorded["images"] == 3
    (replayed,), skipped = tasks_from_history([(START, recorded)])
    assert skipped == 0 and replayed.task.images == 3 and replayed.at == START
    bad = [(START, {**recorded, "images": -1}), (START, {**recorded, "images": "x"})]
    assert tasks_from_history(bad) == ([], 2)
    old = {k: v for k, v in recorded.items() if k != "images"}  # recorded before images were
    assert tasks_from_history([(START, old)])[0][0].task.images == 0
    (from_file,) = tasks_from_jsonl('{"prompt_tokens": 900, "images": 2}', START)
    assert from_file.task.images == 2


@pytest.mark.parametrize("baseline", ["openai/gpt-4o", "google/gemini-2.5-pro"])
def test_savings_leave_out_unknown_costs_to_the_digit(openrouter, baseline):
    """With tasks whose routed cost is unknown (a variable-price router pinned), the baseline
    and the savings are the per-task sums, digit and exponent alike."""
    from locallama_gui.core.routing import Task

    index = CatalogueIndex(openrouter)
    base = next(m for m in openrouter if m.id == baseline)
    tasks = [
        SimTask(START + timedelta(minutes=k), Task(prompt_tokens=500 + 300 * k, complexity=0.4))
        for k in range(20)
    ]
    res = simulate(tasks, Policy(pinned="openrouter/auto"), index, baseline_id=baseline)
    assert res.unknown_cost_tasks == 20
    want = Decimal(0)
    for st in tasks:
        usage = Usage(prompt_tokens=st.task.prompt_tokens, completion_tokens=st.task.output_tokens)
        want += estimate_cost(base, usage, st.at).total_usd
    assert str(res.baseline_cost_usd) == str(want)
    assert str(res.savings_usd) == str(Decimal(0) - res.total_cost_usd)  # nothing comparable
