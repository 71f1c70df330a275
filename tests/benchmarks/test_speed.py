"""The project's own speed figures, as a pytest-benchmark harness.

In the normal test run (``--benchmark-disable`` in ``pyproject.toml``) each benchmark runs once
as a smoke test and nothing is timed. To measure, and to see a regression against the last
saved run:

    pytest tests/benchmarks --benchmark-enable --benchmark-autosave --benchmark-compare

The runs are saved as JSON under ``.benchmarks/``. Users have ``locallama bench`` for the same
figures (and the gateway's); these never assert a time.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from locallama_gui.core.cost import estimate_cost
from locallama_gui.core.models import Usage
from locallama_gui.core.quality import PriorFit
from locallama_gui.core.routing import CatalogueIndex, Policy, RoutingContext, route
from locallama_gui.core.simulation import Scenario, generate_tasks, simulate
from locallama_gui.services.bench import synthetic_local_models
from locallama_gui.services.catalogue import load_snapshot

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def models():
    return [*load_snapshot().models, *synthetic_local_models(20)]


@pytest.fixture(scope="module")
def index(models):
    index = CatalogueIndex(models)
    for t in generate_tasks(Scenario(tasks=200, seed=7, start=NOW)):  # warm, as the app is
        route(t.task, Policy(), RoutingContext(index=index, now=NOW))
    return index


def test_route_decision(benchmark, index):
    ctx = RoutingContext(index=index, now=NOW)
    tasks = [st.task for st in generate_tasks(Scenario(tasks=500, seed=7, start=NOW))]
    policy = Policy()
    state = {"k": 0}

    def one():
        state["k"] += 1
        d = route(tasks[state["k"] % len(tasks)], policy, ctx)
        return d.chain_ids, d.estimated_cost_usd

    chain, _ = benchmark(one)
    assert chain


def test_simulate_10k_tasks(benchmark, index):
    tasks = generate_tasks(Scenario(tasks=10_000, tasks_per_day=2000, seed=11, start=NOW))
    result = benchmark.pedantic(simulate, args=(tasks, Policy(), index), rounds=1, iterations=1)
    assert result.tasks == 10_000


def test_cost_of_every_model(benchmark, models):
    usage = Usage(prompt_tokens=1200, completion_tokens=400)

    def all_costs():
        return [estimate_cost(m, usage, NOW) for m in models]

    assert len(benchmark(all_costs)) == len(models)


def test_prior_refit(benchmark, models):
    fit = benchmark.pedantic(lambda: PriorFit(models).report, rounds=3, iterations=1)
    assert fit.models >= 100
