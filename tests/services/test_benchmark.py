"""The benchmark runner against the loopback fakes: graded samples in the store, profiles and
routing moving the right way, the free quota (spacing and the daily stop), the spending cap,
and cancelling mid-run."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from locallama_gui.core.benchmarks import BenchTask
from locallama_gui.core.cost import estimate_cost
from locallama_gui.core.models import LocalDetails, ModelInfo, Source, Tier, Usage
from locallama_gui.core.settings import Settings
from locallama_gui.core.tokens import estimate_tokens
from locallama_gui.services.benchmark import (
    CANCELLED,
    FREE_KEY,
    OK,
    SKIPPED,
    BenchmarkOptions,
    BenchmarkRunner,
    stale_model_ids,
)
from locallama_gui.services.catalogue import LoadedCatalogue
from locallama_gui.services.facade import Services
from locallama_gui.services.live import Endpoint, LiveServices
from locallama_gui.services.refresh import RefreshService
from tests.fakes import PROMPT_TOKENS, STREAM_COST, OllamaFake, OpenRouterFake
from tests.fakes.providers import _sse
from tests.fakes.server import RecordedRequest

pytestmark = pytest.mark.asyncio

GOOD = "wizardlm2:7b"  # small: a low prior
BAD = "Nevoria-R1:latest"  # 70B: a high prior, so routing prefers it before any evidence
FREE = "liquid/lfm-2.5-2.6b:free"
PAID = "openai/gpt-4o-mini"
CHAT = "/chat/completions"

Answer = Callable[[str, str], str]


def _prompt(req: RecordedRequest) -> tuple[str, str]:
    body = req.json or {}
    return body.get("model", ""), body["messages"][-1]["content"]


class ScriptedOllama(OllamaFake):
    """Answers each chat with ``answer(model, prompt)``; a prompt with HOLD pauses the stream
    after its first chunk (until released)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        super().__init__()

    def stream_chunks(self, req: RecordedRequest) -> list[bytes]:
        model, prompt = _prompt(req)
        if "HOLD" in prompt:
            self.hold_stream_after(1)
        text = self.answer(model, prompt)
        half = len(text) // 2
        chunks = [
            self._line(
                {
                    "model": model,
                    "created_at": "2026-04-20T18:00:00.000000Z",
                    "message": {"role": "assistant", "content": piece},
                    "done": False,
                }
            )
            for piece in (text[:half], text[half:])
        ]
        chunks.append(self._line(self._final(model)))
        return chunks


class ScriptedOpenRouter(OpenRouterFake):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        super().__init__()

    def stream_chunks(self, req: RecordedRequest) -> list[bytes]:
        model, prompt = _prompt(req)
        text = self.answer(model, prompt)
        chunks = [
            _sse(self._chunk(req, {"role": "assistant", "content": text}, None)),
            _sse(self._chunk(req, {"content": ""}, "stop")),
        ]
        final = self._chunk(req, {}, None)
        final["choices"] = []
        final["usage"] = self.usage()
        chunks.append(_sse(final))
        chunks.append(b"data: [DONE]\n\n")
        return chunks


def math_task(k: int, a: int, b: int, *, hold: bool = False) -> BenchTask:
    tag = " HOLD" if hold else ""
    return BenchTask(
        id=f"add-{k}",
        category="math",
        kind="exact",
        prompt=f"What is {a} + {b}?{tag} End with 'Answer: N'.",
        spec={"answer": a + b},
        max_tokens=64,
        complexity=0.3,
    )


def right_sum(prompt: str) -> str:
    a, b = map(int, re.findall(r"(\d+) \+ (\d+)", prompt)[0])
    return f"Adding them gives {a + b}.\nAnswer: {a + b}"


def answer_good_or_bad(model: str, prompt: str) -> str:
    if "def add" in prompt or "add(a, b)" in prompt:
        body = "return a + b" if model == GOOD else "return a - b"
        return f"Here it is:\n```python\ndef add(a, b):\n    {body}\n```"
    if model == GOOD:
        return right_sum(prompt)
    return "I think it is\nAnswer: 0"


def local_model(model_id: str, params: float) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        source=Source.OLLAMA,
        tier=Tier.LOCAL,
        context_length=32768,
        local=LocalDetails(parameter_count_b=params, parameter_size=f"{params}B", loaded=True),
    )


@pytest.fixture
def scripted_ollama():
    with ScriptedOllama(answer_good_or_bad) as fake:
        yield fake
        fake._release.set()


@pytest_asyncio.fixture
async def local_live(store, clock, scripted_ollama, http_client, fast_policy):
    catalogue = LoadedCatalogue(
        models=(local_model(GOOD, 7.0), local_model(BAD, 70.6)),
        skipped=(),
        origin="file",
        label="test catalogue",
    )
    services = Services(settings=Settings(), store=store, clock=clock, catalogue=catalogue)
    endpoints = [Endpoint(Source.OLLAMA, scripted_ollama.url)]
    async with LiveServices(
        services, endpoints=endpoints, policy=fast_policy, client=http_client
    ) as live:
        yield live


# --------------------------------------------------------------------------- learning


async def test_right_and_wrong_answers_move_profiles_and_routing(local_live, store, clock):
    services = local_live.services
    tasks = [math_task(k, 10 + k, 20 + 3 * k) for k in range(4)]
    q_before = services.index.quality("math")[0]
    good_i, bad_i = services.index.by_id[GOOD], services.index.by_id[BAD]
    assert q_before[bad_i] > q_before[good_i]  # the big model's prior is higher
    progress = []

    report = await BenchmarkRunner(local_live).run([GOOD, BAD], tasks, progress=progress.append)

    # before the run routing chose the worse model; after, the better one
    assert report.routing_before["math"] == BAD
    assert report.routing_after["math"] == GOOD
    assert [(c.category, c.before, c.after) for c in report.changes] == [("math", BAD, GOOD)]
    assert services.route(report_probe("math")).chain_ids[0] == GOOD
    # the observed quality moved: up for the right answers, down for the wrong ones
    q_after = services.index.quality("math")[0]
    assert q_after[good_i] > q_before[good_i]
    assert q_after[bad_i] < q_before[bad_i]
    assert services.profiles[GOOD].for_category("math").quality == 1.0
    assert services.profiles[BAD].for_category("math").quality == 0.0
    assert report.matrix == {GOOD: {"math": 1.0}, BAD: {"math": 0.0}}
    # every request stored with its quality, timings and tokens
    samples = store.samples()
    assert len(samples) == 8 == report.samples_stored
    for s in samples:
        assert s.category == "math" and s.success and s.ts == clock.now
        assert s.quality == (1.0 if s.model_id == GOOD else 0.0)
        assert s.latency_ms is not None and s.ttft_ms is not None and s.tokens_per_s
        assert s.prompt_tokens == PROMPT_TOKENS and s.cost_usd == Decimal(0)
    assert [p.done for p in progress] == list(range(1, 9))
    assert all(p.total == 8 for p in progress)
    summary = {s.model_id: s for s in report.summaries}
    assert summary[GOOD].quality == 1.0 and summary[GOOD].graded == 4
    assert summary[BAD].cost_usd == Decimal(0)
    json.dumps(report.to_dict())  # a stable, serialisable document


async def test_routing_probes_and_the_profile_rebuild_run_off_the_loop(local_live, monkeypatch):
    """Routing and rebuilding the profiles and the index (CPU and SQLite work) run in worker
    threads, never on the loop's thread (in the app, the GUI thread)."""
    from locallama_gui.services import benchmark as benchmark_module
    from locallama_gui.services import facade

    services = local_live.services
    loop_thread = threading.get_ident()
    seen: dict[str, list[int]] = {"route": [], "index": [], "invalidate": []}

    def spy(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            seen[name].append(threading.get_ident())
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(benchmark_module, "route", spy("route", benchmark_module.route))
    monkeypatch.setattr(facade, "CatalogueIndex", spy("index", facade.CatalogueIndex))
    monkeypatch.setattr(
        services, "invalidate_profiles", spy("invalidate", services.invalidate_profiles)
    )
    tasks = [math_task(k, 10 + k, 20 + 3 * k) for k in range(2)]

    report = await BenchmarkRunner(local_live).run([GOOD, BAD], tasks)

    assert report.routing_before["math"] == BAD and report.routing_after["math"] == GOOD
    assert len(seen["route"]) == 2  # the probe before the run and the one after
    assert loop_thread not in seen["route"]
    # every build of the index (and the profiles under it): before, between jobs, after
    assert len(seen["index"]) >= 2
    assert loop_thread not in seen["index"]
    # the invalidation that makes the run's samples count before the second probe
    assert seen["invalidate"][-1] != loop_thread


def report_probe(category: str):
    from locallama_gui.core.benchmarks import probe_task

    return probe_task(category)


async def test_code_answers_are_graded_by_their_tests_in_the_sandbox(local_live, store):
    task = BenchTask(
        id="code-add",
        category="code",
        kind="code",
        prompt="Write def add(a, b) returning the sum.",
        spec={
            "entry_point": "add",
            "tests": "def test_one():\n    assert add(1, 2) == 3\n\n"
            "def test_two():\n    assert add(2, 2) == 4\n\n"
            "def test_zero():\n    assert add(5, 0) == 5\n",
        },
        max_tokens=128,
    )
    report = await BenchmarkRunner(local_live).run([GOOD, BAD], [task])
    by_model = {r.model_id: r for r in report.results}
    assert by_model[GOOD].grade.passed == 3 and by_model[GOOD].quality == 1.0
    # a - b passes only add(5, 0)
    assert by_model[BAD].grade.passed == 1 and by_model[BAD].grade.total == 3
    assert {s.model_id: s.quality for s in store.samples(category="code")} == {
        GOOD: 1.0,
        BAD: pytest.approx(1 / 3),
    }


async def test_a_task_that_does_not_fit_the_context_window_is_skipped(local_live, store):
    big = BenchTask(
        id="huge",
        category="long-context",
        kind="retrieval",
        prompt="word " * 60_000 + "What is the code?",
        spec={"answer": "1"},
        max_tokens=16,
    )
    report = await BenchmarkRunner(local_live).run([GOOD], [big])
    (r,) = report.results
    assert r.outcome == SKIPPED and "context window" in r.error
    assert store.samples() == []


async def test_stale_models_are_listed_for_a_rerun(local_live, store, clock):
    services = local_live.services
    await BenchmarkRunner(local_live).run([GOOD, BAD], [math_task(1, 1, 2)])
    assert stale_model_ids(services) == []
    clock.advance(days=31)
    services.invalidate_profiles()
    assert stale_model_ids(services) == [BAD, GOOD]
    await BenchmarkRunner(local_live).run([GOOD], [math_task(2, 2, 2)])
    assert stale_model_ids(services) == [BAD]


# --------------------------------------------------------------------------- cancel


async def test_cancel_mid_run_leaves_consistent_samples(local_live, store, scripted_ollama):
    tasks = [math_task(1, 1, 1), math_task(2, 2, 2, hold=True), math_task(3, 3, 3)]
    runner = BenchmarkRunner(local_live)
    job = asyncio.create_task(runner.run([GOOD], tasks))
    held = await asyncio.to_thread(scripted_ollama.stream_held.wait, 5)
    assert held  # the second request is streaming, paused half way
    runner.cancel()
    report = await asyncio.wait_for(job, 5)
    scripted_ollama._release.set()

    assert report.cancelled
    assert [(r.task_id, r.outcome) for r in report.results] == [
        ("add-1", OK),
        ("add-2", CANCELLED),
        ("add-3", CANCELLED),
    ]
    (sample,) = store.samples()  # only the answered request; nothing half-written
    assert sample.quality == 1.0 and sample.success
    assert [r.stored for r in report.results] == [True, False, False]
    assert len(store.spend_entries()) == 1
    assert len(scripted_ollama.requests_to("/api/chat")) == 2  # the third was never sent


# --------------------------------------------------------------------------- OpenRouter


@pytest.fixture
def scripted_openrouter():
    with ScriptedOpenRouter(lambda model, prompt: right_sum(prompt)) as fake:
        yield fake


class AdvancingSleep:
    """An injected sleep that moves the test clock instead of waiting."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.advance(seconds=seconds)


@pytest_asyncio.fixture
async def or_live(services, scripted_openrouter, http_client, fast_policy, fake_api_key):
    endpoints = [Endpoint(Source.OPENROUTER, scripted_openrouter.base_url)]
    async with LiveServices(
        services, endpoints=endpoints, api_key=fake_api_key, policy=fast_policy, client=http_client
    ) as live:
        await RefreshService(live).refresh()
        yield live


async def test_free_requests_are_spaced_never_over_20_a_minute(
    or_live, services, store, clock, scripted_openrouter
):
    sleep = AdvancingSleep(clock)
    tasks = [math_task(k, k, k) for k in range(25)]
    opts = BenchmarkOptions(concurrency={FREE_KEY: 4})
    report = await BenchmarkRunner(or_live, options=opts, sleep=sleep).run([FREE], tasks)

    assert all(r.outcome == OK and r.quality == 1.0 for r in report.results)
    times = sorted(e.ts for e in store.quota_events() if e.kind == "request")
    assert len(times) == 25 == len(scripted_openrouter.requests_to(CHAT))
    for k, t in enumerate(times):
        in_window = [u for u in times[k:] if u - t < timedelta(minutes=1)]
        assert len(in_window) <= 20
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= timedelta(seconds=3)
    assert sleep.delays  # it waited, on the injected clock


async def test_free_requests_stop_before_the_daily_cap(
    or_live, services, store, clock, scripted_openrouter
):
    for _ in range(47):
        services.record_free_request(clock.now)
    clock.advance(minutes=2)  # the minute window is clear; the day is nearly used up
    sleep = AdvancingSleep(clock)
    tasks = [math_task(k, k, 1) for k in range(6)]
    report = await BenchmarkRunner(or_live, sleep=sleep).run([FREE], tasks)

    assert len(scripted_openrouter.requests_to(CHAT)) == 3  # 47 + 3 = the cap of 50
    assert services.quota_status().used_day == 50
    assert [r.outcome for r in report.results] == [OK] * 3 + [SKIPPED] * 3
    (stop,) = report.stops
    assert "daily cap" in stop and "50 of today's 50" in stop and "3 free task(s)" in stop
    assert len(store.samples()) == 3


async def test_a_free_per_day_429_stops_the_free_tasks(or_live, services, scripted_openrouter):
    from tests.fakes import server as fk

    scripted_openrouter.fail_next(CHAT, fk.RATE_LIMIT_DAY)
    tasks = [math_task(k, k, 1) for k in range(3)]
    opts = BenchmarkOptions(concurrency={FREE_KEY: 1})
    report = await BenchmarkRunner(or_live, options=opts, sleep=AdvancingSleep(services.clock)).run(
        [FREE], tasks
    )
    assert [r.outcome for r in report.results] == [SKIPPED] * 3
    assert len(scripted_openrouter.requests_to(CHAT)) == 1
    assert "daily limit" in report.stops[0]


async def test_paid_requests_stop_at_the_spending_cap(or_live, services, store):
    tasks = [math_task(k, k, 2) for k in range(5)]
    model = services.find_model(PAID)
    prompt_tokens = estimate_tokens(tasks[0].prompt, model.tokenizer).tokens
    estimate = estimate_cost(
        model, Usage(prompt_tokens=prompt_tokens, completion_tokens=tasks[0].max_tokens)
    ).total_usd
    cost = Decimal(str(STREAM_COST))
    cap = estimate + cost + cost / 2  # room for two requests, not three
    opts = BenchmarkOptions(max_usd=cap, concurrency={"openrouter": 1})
    report = await BenchmarkRunner(or_live, options=opts).run([PAID], tasks)

    assert [r.outcome for r in report.results] == [OK, OK, SKIPPED, SKIPPED, SKIPPED]
    assert report.spent_usd == 2 * cost <= cap
    assert store.spend_total().total == 2 * cost
    assert [s.cost_usd for s in store.samples()] == [cost, cost]
    (stop,) = report.stops
    assert "spending cap" in stop and "3 paid task(s)" in stop


async def test_paid_models_need_a_cap(or_live, store, scripted_openrouter):
    report = await BenchmarkRunner(or_live).run([PAID], [math_task(1, 1, 1)])
    assert report.results[0].outcome == SKIPPED
    assert "spending cap" in report.stops[0]
    assert scripted_openrouter.requests_to(CHAT) == []


async def test_unknown_model_is_refused(or_live):
    from locallama_gui.services.facade import UnknownModel

    with pytest.raises(UnknownModel):
        await BenchmarkRunner(or_live).run(["nobody/nothing"], [math_task(1, 1, 1)])


async def test_a_free_per_minute_429_waits_for_the_reset_and_retries(
    or_live, services, clock, scripted_openrouter
):
    from tests.fakes import server as fk

    reset = clock.now + timedelta(seconds=20)
    scripted_openrouter.fail_next(
        CHAT, fk.RATE_LIMIT_MINUTE, reset_ms=int(reset.timestamp() * 1000)
    )
    sleep = AdvancingSleep(clock)
    report = await BenchmarkRunner(or_live, sleep=sleep).run([FREE], [math_task(1, 2, 3)])
    (result,) = report.results
    assert result.outcome == OK and result.quality == 1.0
    assert len(scripted_openrouter.requests_to(CHAT)) == 2
    assert sum(sleep.delays) >= 19  # waited for the reset on the injected clock
