"""Speed figures (``locallama bench``): printed, never asserted in tests.

* ``route_p50_us`` / ``route_p99_us``: one decision (chosen model, fallback chain, estimated
  cost) over the bundled catalogue plus 20 local models, for a seeded mix of tasks.
* ``route_full_p50_us``: the same with every candidate's score breakdown and every rejection
  built, as the playground and ``route --json`` show them.
* ``cost_all_models_ms``: one usage estimated on every model.
* ``simulate_tasks_per_s``: a 100,000-task simulation with the free quota in force.
* ``catalogue_parse_merge_ms`` / ``refresh_loopback_ms``: see :func:`live_bench`.
* ``scale_*``: how those figures grow with the work, see :func:`scaling_bench` (skipped with
  ``bench --no-scaling``). The catalogue at 10x and 100x is synthetic (:func:`scaled_catalogue`):
  every model cloned with its own id and slightly different prices.

  - over the catalogue at 1x, 10x and 100x (``--quick``: 1x, 10x): ``scale_models_<N>x``
    and ``scale_distinct_models_<N>x`` (an alias and its target counted once),
    ``scale_index_build_ms_<N>x``, ``scale_warm_ms_<N>x`` (the first 500 decisions: the
    quality fit and the per-category caches), ``scale_route_p50_us_<N>x`` /
    ``scale_route_p99_us_<N>x`` (2000 decisions, at least 300 where they are slow);
  - ``scale_memory_mib_<N>x``: tracemalloc peak of building the N-times catalogue, its index
    and a first decision per task category (``scale_memory_held_mib_<N>x``: what is still held
    after), in a pass of its own so tracing never slows a timed pass;
  - ``scale_generate_seconds_<n>``, ``scale_sim_seconds_<n>``, ``scale_sim_tasks_per_s_<n>``
    for 10k, 100k and 1M simulated tasks on the 1x catalogue (``--quick``: 10k, 100k), with
    ``scale_sim_tasks_rss_mib_<n>`` (the generated tasks) and ``scale_sim_peak_rss_mib_<n>``
    (the peak of generating and simulating, the index's bounded caches filling included):
    each size runs in a fresh interpreter of its own and these are its resident-set growth
    (Linux; null elsewhere). Not tracemalloc: it slows a simulation about tenfold;
  - ``scale_*_growth_<F>x``: a figure at F times the work divided by the figure at the
    smallest size, so linear growth is about F; ``scale_notes`` names every figure that grows
    more than ``LINEAR_SLACK`` times faster than the work.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar

from locallama_gui.core.cost import estimate_cost
from locallama_gui.core.models import (
    LocalDetails,
    ModelInfo,
    Pricing,
    Source,
    Tier,
    Usage,
)
from locallama_gui.core.quality import PriorFit
from locallama_gui.core.routing import CatalogueIndex, Policy, RoutingContext, Task, route
from locallama_gui.core.simulation import Scenario, SimTask, generate_tasks, simulate
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


def run_bench(
    quick: bool = False,
    progress: Callable[[str], None] | None = None,
    scaling: bool = True,
) -> dict:
    """Every figure of ``locallama bench`` but the gateway's; ``scaling=False`` leaves out
    the ``scale_*`` figures (:func:`scaling_bench`, the long part of a full run)."""
    say = progress or (lambda _msg: None)
    models = [*load_snapshot().models, *synthetic_local_models(20)]
    index = CatalogueIndex(models)
    policy = Policy()
    ctx = RoutingContext(index=index, now=BENCH_NOW)
    tasks = [st.task for st in generate_tasks(Scenario(tasks=500, seed=7, start=BENCH_NOW))]

    say("routing")
    for t in tasks:  # warm the per-category caches, as a running app has them
        route(t, policy, ctx)
    times = _time_decisions(tasks, policy, ctx, 1000 if quick else 5000)

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

    say("fitting the quality estimates")
    t0 = time.perf_counter()
    fit = PriorFit(index.models)  # uncached: the cost of a refit after a catalogue change
    report = fit.report
    fit_s = time.perf_counter() - t0

    n_sim = 10_000 if quick else 100_000
    say(f"simulating {n_sim:,} tasks")
    sim_tasks = generate_tasks(Scenario(tasks=n_sim, tasks_per_day=2000, seed=11, start=BENCH_NOW))
    t0 = time.perf_counter()
    result = simulate(sim_tasks, policy, index, baseline_id="openai/gpt-5.6-sol")
    sim_s = time.perf_counter() - t0

    scale = scaling_bench(quick, say) if scaling else {}
    live = live_bench(quick, say)

    return {
        "models": len(models),
        "route_p50_us": round(_percentile(times, 0.50) * 1e6, 1),
        "route_p99_us": round(_percentile(times, 0.99) * 1e6, 1),
        "route_full_p50_us": round(_percentile(full, 0.50) * 1e6, 1),
        "cost_all_models_ms": round(statistics.median(cost_runs) * 1e3, 2),
        "prior_fit_models": report.models,
        "prior_fit_bias": round(report.bias, 4),
        "prior_fit_mae": round(report.mae, 4),
        "prior_fit_rmse": round(report.rmse, 4),
        "prior_fit_ms": round(fit_s * 1e3, 1),
        "simulate_tasks": n_sim,
        "simulate_seconds": round(sim_s, 2),
        "simulate_tasks_per_s": round(n_sim / sim_s),
        "simulate_free_days_exhausted": len(result.free_day_exhausted_at),
        **live,
        **scale,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


# --- how the figures grow ---------------------------------------------------------------------

#: Catalogue sizes, as multiples of the bundled catalogue plus 20 local models.
CATALOGUE_SCALES: tuple[int, ...] = (1, 10, 100)
CATALOGUE_SCALES_QUICK: tuple[int, ...] = (1, 10)
#: Simulated tasks, on the 1x catalogue.
TASK_SIZES: tuple[int, ...] = (10_000, 100_000, 1_000_000)
TASK_SIZES_QUICK: tuple[int, ...] = (10_000, 100_000)
#: Timed decisions per catalogue size: at least ``SCALE_MIN_DECISIONS``, then fewer than
#: asked once ``SCALE_ROUTE_BUDGET_S`` has gone by (a slow decision over a huge catalogue).
SCALE_DECISIONS = 2000
SCALE_DECISIONS_QUICK = 500
SCALE_MIN_DECISIONS = 300
SCALE_ROUTE_BUDGET_S = 20.0
#: Decisions routed before timing, as ``run_bench`` warms (they are ``scale_warm_ms``).
SCALE_WARM_TASKS = 500
#: A figure growing more than this many times faster than the work is called worse than linear.
LINEAR_SLACK = 1.3

_MIB = 1024 * 1024
_BASELINE_ID = "openai/gpt-5.6-sol"


def clone_id(model_id: str, k: int) -> str:
    """The id of a model's ``k``-th synthetic copy (``k`` 0 is the model itself).

    The mark goes after the vendor (``vendor/s3~model:free``), not at the end: the vendor, a
    ``:free`` or ``:batch`` variant's base model and an alias's family
    (``~vendor/s3~family-latest`` redirects to ``vendor/s3~family-4.5``) stay what they are
    for the copy, so copy ``k`` is a catalogue of its own, routed as the original is."""
    if k == 0:
        return model_id
    head, sep, tail = model_id.partition("/")
    return f"{head}/s{k}~{tail}" if sep else f"s{k}~{model_id}"


def _scaled_prices(prices: Mapping[str, Decimal], factor: Decimal) -> Mapping[str, Decimal]:
    # zero stays zero (a free model stays free) and -1 stays -1 (a router stays variable)
    return MappingProxyType({key: v * factor if v > 0 else v for key, v in prices.items()})


def _scaled_pricing(pricing: Pricing | None, factor: Decimal) -> Pricing | None:
    if pricing is None:
        return None
    return dataclasses.replace(
        pricing,
        prices=_scaled_prices(pricing.prices, factor),
        overrides=tuple(
            dataclasses.replace(o, prices=_scaled_prices(o.prices, factor))
            for o in pricing.overrides
        ),
    )


def scaled_catalogue(models: Sequence[ModelInfo], times: int) -> list[ModelInfo]:
    """``models`` cloned ``times`` times: copy ``k`` has ids marked by :func:`clone_id` and
    every positive price (overrides too) multiplied by ``1 + k/1000``, kept ``Decimal``. Copy 0
    is a fresh copy of the original (same ids and prices), so every size is built alike."""
    out: list[ModelInfo] = []
    for k in range(times):
        factor = Decimal(1000 + k) / 1000
        for m in models:
            out.append(
                dataclasses.replace(
                    m,
                    id=clone_id(m.id, k),
                    name=m.name if k == 0 else f"{m.name} (copy {k})",
                    canonical_slug=(
                        clone_id(m.canonical_slug, k) if m.canonical_slug else m.canonical_slug
                    ),
                    pricing=_scaled_pricing(m.pricing, factor),
                )
            )
    return out


def _forget_fits() -> None:
    """Drop the quality fits kept per training set: each pass pays for its own fit, as a
    catalogue change does (the 1x catalogue's fit is otherwise left over from before)."""
    cache = getattr(PriorFit, "_cache", None)
    if isinstance(cache, dict):
        cache.clear()


def _time_decisions(
    tasks: Sequence[Task],
    policy: Policy,
    ctx: RoutingContext,
    decisions: int,
    budget_s: float | None = None,
) -> list[float]:
    """Seconds per decision (the chosen model, its chain and estimated cost), sorted; with
    ``budget_s``, stopping once that long has passed and at least the minimum were timed."""
    times: list[float] = []
    start = time.perf_counter()
    for k in range(decisions):
        t0 = time.perf_counter()
        d = route(tasks[k % len(tasks)], policy, ctx)
        _ = d.chain_ids, d.estimated_cost_usd
        times.append(time.perf_counter() - t0)
        if budget_s is not None and len(times) >= SCALE_MIN_DECISIONS and t0 - start > budget_s:
            break
    times.sort()
    return times


def _route_pass(
    models: Sequence[ModelInfo],
    warm: Sequence[Task],
    policy: Policy,
    decisions: int,
) -> tuple[dict[str, float], CatalogueIndex]:
    _forget_fits()
    gc.collect()
    t0 = time.perf_counter()
    index = CatalogueIndex(models)
    build_s = time.perf_counter() - t0
    ctx = RoutingContext(index=index, now=BENCH_NOW)
    t0 = time.perf_counter()
    for t in warm:
        route(t, policy, ctx)
    warm_s = time.perf_counter() - t0
    times = _time_decisions(warm, policy, ctx, decisions, budget_s=SCALE_ROUTE_BUDGET_S)
    return {
        "models": len(index),
        "distinct_models": len(set(index.underlying)),
        "index_build_ms": round(build_s * 1e3, 1),
        "warm_ms": round(warm_s * 1e3, 1),
        "route_decisions": len(times),
        "route_p50_us": round(_percentile(times, 0.50) * 1e6, 1),
        "route_p99_us": round(_percentile(times, 0.99) * 1e6, 1),
    }, index


def _catalogue_memory(
    base: Sequence[ModelInfo], times: int, probes: Iterable[Task], policy: Policy
) -> tuple[float, float]:
    """(peak, held) MiB traced while building the ``times``-fold catalogue, its index and a
    first decision per probe task: on top of ``base``, which is already loaded."""
    _forget_fits()
    gc.collect()
    already = tracemalloc.is_tracing()  # PYTHONTRACEMALLOC set: count from here, keep it on
    if already:
        tracemalloc.reset_peak()
    else:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    try:
        models = scaled_catalogue(base, times)
        index = CatalogueIndex(models)
        ctx = RoutingContext(index=index, now=BENCH_NOW)
        for t in probes:
            _ = route(t, policy, ctx).chain_ids
        held, peak = tracemalloc.get_traced_memory()
    finally:
        if not already:
            tracemalloc.stop()
    del models, index, ctx
    return (peak - before) / _MIB, (held - before) / _MIB


def _status_kib(field: str) -> int | None:
    """A ``kB`` figure of ``/proc/self/status`` (``VmRSS``, ``VmHWM``), None without it."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_peak_rss() -> bool:
    """Start the resident-set peak (``VmHWM``) afresh from the current size (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _simulation_figures(n: int, policy: Policy, index: CatalogueIndex, rss: bool) -> dict:
    rss0 = _status_kib("VmRSS") if rss and _reset_peak_rss() else None
    t0 = time.perf_counter()
    tasks: list[SimTask] = generate_tasks(
        Scenario(tasks=n, tasks_per_day=2000, seed=11, start=BENCH_NOW)
    )
    gen_s = time.perf_counter() - t0
    rss_tasks = _status_kib("VmRSS") if rss0 is not None else None
    t0 = time.perf_counter()
    simulate(tasks, policy, index, baseline_id=_BASELINE_ID)
    sim_s = time.perf_counter() - t0
    hwm = _status_kib("VmHWM") if rss0 is not None else None
    out: dict = {
        "generate_seconds": round(gen_s, 3),
        "sim_seconds": round(sim_s, 3),
        "sim_tasks_per_s": round(n / sim_s) if sim_s > 0 else None,
        "sim_tasks_rss_mib": None,
        "sim_peak_rss_mib": None,
    }
    if rss0 is not None and rss_tasks is not None and hwm is not None:
        out["sim_tasks_rss_mib"] = round(max(0, rss_tasks - rss0) / 1024, 1)
        out["sim_peak_rss_mib"] = round(max(0, hwm - rss0) / 1024, 1)
    return out


def _simulation_child(n: int, warm_tasks: int) -> dict:
    """One simulation size in the interpreter :func:`_simulation_in_fresh_process` starts: the
    1x catalogue indexed and warmed as the timed passes are, then generation and simulation."""
    index = CatalogueIndex(
        scaled_catalogue([*load_snapshot().models, *synthetic_local_models(20)], 1)
    )
    ctx = RoutingContext(index=index, now=BENCH_NOW)
    policy = Policy()
    for st in generate_tasks(Scenario(tasks=warm_tasks, seed=7, start=BENCH_NOW)):
        route(st.task, policy, ctx)
    gc.collect()
    return _simulation_figures(n, policy, index, rss=True)


def _simulation_in_fresh_process(n: int) -> dict | None:
    """The figures of an ``n``-task simulation run in a new interpreter, so that its
    resident-set growth is its own (no memory freed by earlier passes to reuse, nothing left
    behind); None from a frozen app, which cannot start one."""
    if getattr(sys, "frozen", False):
        return None
    code = (
        "import json; from locallama_gui.services.bench import _simulation_child; "
        f"print(json.dumps(_simulation_child({int(n)}, {int(SCALE_WARM_TASKS)})))"
    )
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # where locallama_gui is importable from
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise RuntimeError(f"the {n:,}-task scaling simulation failed: {tail}")
    return json.loads(lines[-1])


def _size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def _ratio(big: float | None, small: float | None) -> float | None:
    if big is None or small is None or small <= 0:
        return None
    return round(big / small, 2)


#: growth figure -> what it is, for the notes
_GROWTH_LABELS = {
    "index_build": "index build time",
    "warm": "first decisions (quality fit and caches)",
    "route_p50": "route p50",
    "route_p99": "route p99",
    "memory": "peak memory of catalogue, index and first decisions",
    "generate": "task generation time",
    "sim_seconds": "simulation time",
    "sim_peak_rss": "simulation peak memory",
}
_TASK_GROWTH = ("generate", "sim_seconds", "sim_peak_rss")


def scale_notes(figures: Mapping[str, object]) -> list[str]:
    """Where a ``scale_<what>_growth_<F>x`` figure is more than ``LINEAR_SLACK`` times ``F``:
    growth worse than linear in the catalogue (or task count), read off the figures."""
    notes = []
    for key, value in figures.items():
        if not key.startswith("scale_") or "_growth_" not in key or not key.endswith("x"):
            continue
        what, _, factor_text = key[len("scale_") :].rpartition("_growth_")
        try:
            factor = float(factor_text[:-1])
        except ValueError:
            continue
        if not isinstance(value, int | float) or value <= LINEAR_SLACK * factor:
            continue
        work = "the tasks" if what in _TASK_GROWTH else "the catalogue"
        notes.append(
            f"{_GROWTH_LABELS.get(what, what)}: {value:g}x at {factor:g}x {work} "
            f"(worse than linear: {value / factor:.1f}x the growth of the work)"
        )
    return notes


def scaling_bench(quick: bool = False, progress: Callable[[str], None] | None = None) -> dict:
    """The ``scale_*`` figures: routing over the catalogue at 1x, 10x and 100x (``quick``: 1x
    and 10x), peak memory of each, and simulations of 10k, 100k and 1M tasks (``quick``: 10k
    and 100k) on the 1x catalogue; with the growth ratios and the notes on them."""
    say = progress or (lambda _msg: None)
    scales = CATALOGUE_SCALES_QUICK if quick else CATALOGUE_SCALES
    sizes = TASK_SIZES_QUICK if quick else TASK_SIZES
    decisions = SCALE_DECISIONS_QUICK if quick else SCALE_DECISIONS
    base = [*load_snapshot().models, *synthetic_local_models(20)]
    policy = Policy()
    scenario = Scenario(tasks=SCALE_WARM_TASKS, seed=7, start=BENCH_NOW)
    warm = [st.task for st in generate_tasks(scenario)]
    probes = list({t.category: t for t in warm}.values())  # a first decision per category
    out: dict = {}

    routing: dict[int, dict[str, float]] = {}
    index_1x: CatalogueIndex | None = None
    for n in scales:
        say(f"scaling: routing over {n}x the catalogue")
        models = scaled_catalogue(base, n)
        routing[n], index = _route_pass(models, warm, policy, decisions)
        if n == scales[0]:
            index_1x = index
        del models, index
        for key, value in routing[n].items():
            out[f"scale_{key}_{n}x"] = value
    memory: dict[int, float] = {}
    for n in scales:
        say(f"scaling: memory of {n}x the catalogue")
        peak, held = _catalogue_memory(base, n, probes, policy)
        memory[n] = peak
        out[f"scale_memory_mib_{n}x"] = round(peak, 1)
        out[f"scale_memory_held_mib_{n}x"] = round(held, 1)
    first = scales[0]
    for n in scales[1:]:
        for what in ("index_build_ms", "warm_ms", "route_p50_us", "route_p99_us"):
            name = what.rsplit("_", 1)[0]
            out[f"scale_{name}_growth_{n // first}x"] = _ratio(
                routing[n][what], routing[first][what]
            )
        out[f"scale_memory_growth_{n // first}x"] = _ratio(memory[n], memory[first])

    assert index_1x is not None
    sims: dict[int, dict] = {}
    for n in sizes:
        say(f"scaling: simulating {n:,} tasks")
        figures = _simulation_in_fresh_process(n)
        if figures is None:
            figures = _simulation_figures(n, policy, index_1x, rss=False)
            gc.collect()
        sims[n] = figures
        label = _size_label(n)
        for key in (
            "generate_seconds",
            "sim_seconds",
            "sim_tasks_per_s",
            "sim_tasks_rss_mib",
            "sim_peak_rss_mib",
        ):
            out[f"scale_{key}_{label}"] = figures[key]
    smallest = sizes[0]
    for n in sizes[1:]:
        f = n // smallest
        small, big = sims[smallest], sims[n]
        out[f"scale_generate_growth_{f}x"] = _ratio(
            big["generate_seconds"], small["generate_seconds"]
        )
        out[f"scale_sim_seconds_growth_{f}x"] = _ratio(big["sim_seconds"], small["sim_seconds"])
        out[f"scale_sim_peak_rss_growth_{f}x"] = _ratio(
            big["sim_peak_rss_mib"], small["sim_peak_rss_mib"]
        )
    out["scale_notes"] = scale_notes(out)
    return out


# --- catalogue parse and live refresh ----------------------------------------------------------

#: The real 414-model ``/models`` capture beside a source checkout (``shared/data``).
CAPTURE_PATH = (
    Path(__file__)
    .resolve()
    .parents[3]
    .joinpath("shared", "data", "openrouter", "models-2026-08-14.json")
)


def _capture_bytes() -> tuple[bytes, str]:
    """The captured ``/models`` response, or one rebuilt from the bundled snapshot."""
    path = Path(os.environ.get("LOCALLAMA_BENCH_CAPTURE") or CAPTURE_PATH)
    if path.is_file():
        return path.read_bytes(), path.name
    rows = []
    for m in load_snapshot().models:
        prices = {} if m.pricing is None else m.pricing.prices
        rows.append(
            {
                "id": m.id,
                "canonical_slug": m.canonical_slug or m.id,
                "name": m.name,
                "created": m.created or 0,
                "context_length": m.context_length,
                "architecture": {
                    "input_modalities": list(m.input_modalities),
                    "output_modalities": list(m.output_modalities),
                    "tokenizer": m.tokenizer or "Other",
                },
                "pricing": {k: format(v, "f") for k, v in prices.items()},
                "top_provider": {
                    "context_length": m.context_length,
                    "max_completion_tokens": m.max_output_tokens,
                    "is_moderated": bool(m.is_moderated),
                },
                "per_request_limits": None,
                "supported_parameters": list(m.supported_parameters),
            }
        )
    return json.dumps({"data": rows}).encode(), "bundled snapshot (no capture found)"


def _ollama_tags(count: int) -> bytes:
    rows = []
    for m in synthetic_local_models(count):
        loc = m.local
        assert loc is not None
        rows.append(
            {
                "name": m.id,
                "model": m.id,
                "modified_at": "2026-04-20T14:04:30.1720209-04:00",
                "size": loc.size_bytes,
                "digest": "0" * 64,
                "details": {
                    "format": "gguf",
                    "family": loc.family,
                    "families": [loc.family],
                    "parameter_size": loc.parameter_size,
                    "quantization_level": loc.quantization,
                },
            }
        )
    return json.dumps({"models": rows}).encode()


class _LoopbackHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes: ClassVar[dict[str, bytes]] = {}

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        body = self.routes.get(self.path.split("?", 1)[0])
        status = 200 if body is not None else 404
        data = body if body is not None else b'{"error": "not found"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def live_bench(quick: bool = False, progress: Callable[[str], None] | None = None) -> dict:
    """``catalogue_parse_merge_ms``: decode and parse the 414-model ``/models`` capture and
    merge it with 20 local models (plus the diff against the bundled snapshot).
    ``refresh_loopback_ms``: a whole refresh (OpenRouter + Ollama served on loopback, both
    parsed, merged, diffed and stored in a fresh database)."""
    import asyncio
    import tempfile

    from locallama_gui.core.catalogue import Catalogue, diff_catalogues, parse_openrouter_models
    from locallama_gui.core.settings import Settings
    from locallama_gui.services.facade import Services
    from locallama_gui.services.live import Endpoint, LiveServices
    from locallama_gui.services.refresh import RefreshService
    from locallama_gui.store.db import Store

    say = progress or (lambda _msg: None)
    payload, origin = _capture_bytes()
    local = synthetic_local_models(20)
    previous = load_snapshot().models

    say("parsing and merging the catalogue")
    runs = []
    parsed = 0
    for _ in range(3 if quick else 10):
        t0 = time.perf_counter()
        result = parse_openrouter_models(json.loads(payload))
        merged = Catalogue(result.models, local)
        diff_catalogues(previous, merged.models)
        runs.append(time.perf_counter() - t0)
        parsed = len(result.models)

    say("refreshing from loopback servers")
    handler = type(
        "Handler",
        (_LoopbackHandler,),
        {
            "routes": {
                "/api/v1/models": payload,
                "/api/tags": _ollama_tags(20),
                "/api/ps": b'{"models": []}',
            }
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    root = f"http://127.0.0.1:{server.server_address[1]}"
    refresh_runs = []
    stored = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "bench.sqlite")
            services = Services(settings=Settings(), store=store)
            endpoints = [
                Endpoint(Source.OPENROUTER, root + "/api/v1"),
                Endpoint(Source.OLLAMA, root),
            ]

            async def refresh_all() -> None:
                nonlocal stored
                async with LiveServices(services, endpoints=endpoints) as live:
                    service = RefreshService(live)
                    for _ in range(3 if quick else 5):
                        t0 = time.perf_counter()
                        refreshed = await service.refresh()
                        refresh_runs.append(time.perf_counter() - t0)
                        stored = len(refreshed.catalogue.models)

            asyncio.run(refresh_all())
            store.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return {
        "catalogue_capture": origin,
        "catalogue_parsed_models": parsed,
        "catalogue_parse_merge_ms": round(statistics.median(runs) * 1e3, 2),
        "refresh_loopback_models": stored,
        "refresh_loopback_ms": round(statistics.median(refresh_runs) * 1e3, 1),
    }
