"""Speed figures (``locallama bench``): printed, never asserted in tests.

* ``route_p50_us`` / ``route_p99_us``: one decision (chosen model, fallback chain, estimated
  cost) over the bundled catalogue plus 20 local models, for a seeded mix of tasks.
* ``route_full_p50_us``: the same with every candidate's score breakdown and every rejection
  built, as the playground and ``route --json`` show them.
* ``cost_all_models_ms``: one usage estimated on every model.
* ``simulate_tasks_per_s``: a 100,000-task simulation with the free quota in force.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from locallama_gui.core.cost import estimate_cost
from locallama_gui.core.models import LocalDetails, ModelInfo, Source, Tier, Usage
from locallama_gui.core.routing import CatalogueIndex, Policy, RoutingContext, route
from locallama_gui.core.simulation import Scenario, generate_tasks, simulate
from locallama_gui.services.catalogue import load_snapshot

BENCH_NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def synthetic_local_models(count: int = 20) -> list[ModelInfo]:
    """Local models of the sizes people run, as Ollama would list them."""
    sizes = (0.5, 1.5, 3, 4, 7, 8, 12, 14, 24, 27, 32, 70)
    families = ("llama3.2", "qwen3", "gemma4", "mistral", "phi4", "deepseek-r1", "qwen3-coder")
    out = []
    for k in range(count):
        size = sizes[k % len(sizes)]
        family = families[k % len(families)]
        out.append(
            ModelInfo(
                id=f"{family}:{size:g}b-bench{k}",
                name=f"{family} {size:g}B",
                source=Source.OLLAMA,
                tier=Tier.LOCAL,
                context_length=(8192, 32768, 131072)[k % 3],
                supported_parameters=("tools",) if k % 2 else (),
                local=LocalDetails(
                    server_url="http://127.0.0.1:11434",
                    size_bytes=int(size * 0.6e9),
                    parameter_size=f"{size:g}B",
                    parameter_count_b=size,
                    quantization="Q4_K_M",
                    family=family,
                    loaded=k % 4 == 0,
                ),
            )
        )
    return out


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def run_bench(quick: bool = False, progress: Callable[[str], None] | None = None) -> dict:
    say = progress or (lambda _msg: None)
    models = [*load_snapshot().models, *synthetic_local_models(20)]
    index = CatalogueIndex(models)
    policy = Policy()
    ctx = RoutingContext(index=index, now=BENCH_NOW)
    tasks = [st.task for st in generate_tasks(Scenario(tasks=500, seed=7, start=BENCH_NOW))]

    say("routing")
    for t in tasks:  # warm the per-category caches, as a running app has them
        route(t, policy, ctx)
    decisions = 1000 if quick else 5000
    times = []
    for k in range(decisions):
        t = tasks[k % len(tasks)]
        t0 = time.perf_counter()
        d = route(t, policy, ctx)
        _ = d.chain_ids, d.estimated_cost_usd
        times.append(time.perf_counter() - t0)
    times.sort()

    say("full decisions")
    full = []
    for k in range(100 if quick else 300):
        t = tasks[k % len(tasks)]
        t0 = time.perf_counter()
        d = route(t, policy, ctx)
        _ = d.chain, d.candidates, d.rejected, d.why
        full.append(time.perf_counter() - t0)
    full.sort()

    say("costing every model")
    usage = Usage(prompt_tokens=1200, completion_tokens=400)
    cost_runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for m in models:
            estimate_cost(m, usage, BENCH_NOW)
        cost_runs.append(time.perf_counter() - t0)

    n_sim = 10_000 if quick else 100_000
    say(f"simulating {n_sim:,} tasks")
    sim_tasks = generate_tasks(Scenario(tasks=n_sim, tasks_per_day=2000, seed=11, start=BENCH_NOW))
    t0 = time.perf_counter()
    result = simulate(sim_tasks, policy, index, baseline_id="openai/gpt-5.6-sol")
    sim_s = time.perf_counter() - t0

    return {
        "models": len(models),
        "route_p50_us": round(_percentile(times, 0.50) * 1e6, 1),
        "route_p99_us": round(_percentile(times, 0.99) * 1e6, 1),
        "route_full_p50_us": round(_percentile(full, 0.50) * 1e6, 1),
        "cost_all_models_ms": round(statistics.median(cost_runs) * 1e3, 2),
        "simulate_tasks": n_sim,
        "simulate_seconds": round(sim_s, 2),
        "simulate_tasks_per_s": round(n_sim / sim_s),
        "simulate_free_days_exhausted": len(result.free_day_exhausted_at),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
