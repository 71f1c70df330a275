"""Speed figures (``locallama bench``): printed, never asserted in tests.

* ``route_p50_us`` / ``route_p99_us``: one decision (chosen model, fallback chain, estimated
  cost) over the bundled catalogue plus 20 local models, for a seeded mix of tasks.
* ``route_full_p50_us``: the same with every candidate's score breakdown and every rejection
  built, as the playground and ``route --json`` show them.
* ``cost_all_models_ms``: one usage estimated on every model.
* ``simulate_tasks_per_s``: a 100,000-task simulation with the free quota in force.
* ``catalogue_parse_merge_ms`` / ``refresh_loopback_ms``: see :func:`live_bench`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from locallama_gui.core.cost import estimate_cost
from locallama_gui.core.models import LocalDetails, ModelInfo, Source, Tier, Usage
from locallama_gui.core.quality import PriorFit
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
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


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
