"""Run benchmark tasks on models, grade every answer, and feed the results to routing.

:class:`BenchmarkRunner` sends every task (``core/benchmarks.py``) to every model through the
same :class:`~locallama_gui.services.runner.Runner` that runs real tasks (so the spend ledger,
the free quota and the quarantine see benchmark requests like any other), grades the answer
(code in the sandbox), and stores one performance sample per request with its quality, time
to first token, latency, tokens/s, tokens and real cost. Afterwards it invalidates the
profiles, so routing reads the new observations at once.

* Concurrency is per source (``openrouter`` for paid models, ``openrouter:free`` for free
  ones, ``ollama``, ``lmstudio``, ...): an ``asyncio.Semaphore`` each.
* Free models: requests are spaced at least 60/20 = 3 s apart (never more than 20 in a
  minute, counting what the app sent before), and the run stops sending free requests before
  the UTC day's cap (minus ``free_reserve``), saying so. A free per-minute 429 waits for its
  reset and retries once; a per-day 429 stops the free tasks.
* Paid models: each request's cost is estimated first (prompt tokens plus the full
  ``max_tokens`` output: an upper bound); when the spent plus in-flight plus that estimate
  would pass ``max_usd``, paid requests stop and the report says so. A model whose price is
  not known in advance is not run on paid tasks (it cannot be held to the cap).
* A task whose prompt does not fit a model's context window is skipped for that model.
* :meth:`BenchmarkRunner.cancel` (or the ``cancel`` event) stops at once: requests in flight
  are closed, sandboxes killed; every request that was answered keeps its sample (ungraded
  when grading was cut short), and nothing half-written is stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from locallama_gui.core.benchmarks import (
    BenchTask,
    GradeResult,
    code_job,
    grade,
    grade_code,
    probe_task,
)
from locallama_gui.core.cost import estimate_cost, format_usd
from locallama_gui.core.models import ModelInfo, Source, Tier, Usage, decimal_str
from locallama_gui.core.profiles import stale_models
from locallama_gui.core.quota import next_utc_midnight
from locallama_gui.core.routing import CATEGORIES, Policy, RoutingContext, route
from locallama_gui.core.samples import PerformanceSample
from locallama_gui.core.tokens import estimate_tokens, model_tokenizer
from locallama_gui.services.facade import Services
from locallama_gui.services.hosts import HostWatch
from locallama_gui.services.live import LiveServices
from locallama_gui.services.quarantine import Quarantine
from locallama_gui.services.runner import RATE_LIMITED, Runner, RunPolicy, RunResult
from locallama_gui.services.runner import SKIPPED as RUN_SKIPPED
from locallama_gui.services.sandbox import Sandbox
from locallama_gui.store.db import StoreError

log = logging.getLogger(__name__)

OK = "ok"  # answered and graded
FAILED = "failed"  # the request failed (the sample says so)
SKIPPED = "skipped"  # not sent: quota, spending cap, context window, no key...
CANCELLED = "cancelled"
OUTCOMES = (OK, FAILED, SKIPPED, CANCELLED)

FREE_KEY = "openrouter:free"
DEFAULT_CONCURRENCY: Mapping[str, int] = {"openrouter": 4, FREE_KEY: 2}
MINUTE = timedelta(minutes=1)
#: Shortest wait while pacing free requests (a floor, so a loop always moves on).
MIN_WAIT_S = 0.25
#: Added to the 3 s between free requests, so timing jitter never fits a 21st in a minute.
FREE_MARGIN = timedelta(milliseconds=100)
STALE_DAYS = 30.0


#: The default cap on paid models over one benchmark run (the CLI, the window, MCP).
DEFAULT_MAX_USD = Decimal("0.50")


@dataclass(frozen=True, slots=True)
class BenchmarkOptions:
    """How a run behaves. ``max_usd``: the spending cap for paid models over the whole run
    (0: paid models are not run). ``free_reserve``: free requests of the UTC day to leave
    unused. ``concurrency``: requests at once per source key (default 1 for a key not
    named). ``probe_policy``: the policy of the before/after routing probes."""

    max_usd: Decimal = Decimal(0)
    free_reserve: int = 0
    free_per_minute: int | None = None  # default: the quota's (20)
    concurrency: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CONCURRENCY))
    probe_policy: Policy | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_usd, Decimal) or self.max_usd < 0:
            raise ValueError("max_usd must be a Decimal >= 0")
        if self.free_reserve < 0:
            raise ValueError("free_reserve must not be negative")
        if self.free_per_minute is not None and self.free_per_minute < 1:
            raise ValueError("free_per_minute must be at least 1")
        if any(n < 1 for n in self.concurrency.values()):
            raise ValueError("concurrency must be at least 1")


@dataclass(frozen=True, slots=True)
class BenchResult:
    """One model on one task."""

    model_id: str
    task_id: str
    category: str
    kind: str
    outcome: str  # one of OUTCOMES
    grade: GradeResult | None = None
    error: str | None = None
    tier: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: Decimal | None = None
    cost_source: str | None = None
    stored: bool = False  # a performance sample of this request is in the store

    @property
    def quality(self) -> float | None:
        return None if self.grade is None else self.grade.quality

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "task": self.task_id,
            "category": self.category,
            "kind": self.kind,
            "outcome": self.outcome,
            "quality": None if self.quality is None else round(self.quality, 4),
            "grade": None if self.grade is None else self.grade.to_dict(),
            "error": self.error,
            "tier": self.tier,
            "latency_ms": _round(self.latency_ms, 1),
            "ttft_ms": _round(self.ttft_ms, 1),
            "tokens_per_s": _round(self.tokens_per_s, 2),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": None if self.cost_usd is None else decimal_str(self.cost_usd),
            "cost_source": self.cost_source,
            "stored": self.stored,
        }


@dataclass(frozen=True, slots=True)
class ModelSummary:
    model_id: str
    tier: str
    graded: int
    failed: int
    skipped: int
    quality: float | None  # mean over graded tasks
    cost_usd: Decimal  # known costs summed
    unknown_costs: int
    latency_ms: float | None
    ttft_ms: float | None
    tokens_per_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "tier": self.tier,
            "graded": self.graded,
            "failed": self.failed,
            "skipped": self.skipped,
            "quality": _round(self.quality, 4),
            "cost_usd": decimal_str(self.cost_usd),
            "unknown_costs": self.unknown_costs,
            "latency_ms": _round(self.latency_ms, 1),
            "ttft_ms": _round(self.ttft_ms, 1),
            "tokens_per_s": _round(self.tokens_per_s, 2),
        }


@dataclass(frozen=True, slots=True)
class RoutingChange:
    category: str
    before: str | None
    after: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True)
class BenchmarkProgress:
    """Reported after each model x task: ``done`` of ``total``."""

    done: int
    total: int
    model_id: str
    task_id: str
    outcome: str
    quality: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class BenchmarkReport:
    models: tuple[str, ...]
    categories: tuple[str, ...]
    results: tuple[BenchResult, ...]
    summaries: tuple[ModelSummary, ...]
    matrix: Mapping[str, Mapping[str, float | None]]  # model -> category -> mean quality
    routing_quality: Mapping[str, Mapping[str, float]]  # what routing now predicts
    routing_before: Mapping[str, str | None]
    routing_after: Mapping[str, str | None]
    changes: tuple[RoutingChange, ...]
    stops: tuple[str, ...]  # why requests were stopped (free quota, spending cap)
    notes: tuple[str, ...]
    cancelled: bool
    spent_usd: Decimal
    started_at: datetime
    finished_at: datetime

    @property
    def samples_stored(self) -> int:
        return sum(1 for r in self.results if r.stored)

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": list(self.models),
            "categories": list(self.categories),
            "cancelled": self.cancelled,
            "stops": list(self.stops),
            "notes": list(self.notes),
            "spent_usd": decimal_str(self.spent_usd),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "matrix": {
                m: {c: _round(q, 4) for c, q in row.items()} for m, row in self.matrix.items()
            },
            "routing_quality": {
                m: {c: round(q, 4) for c, q in row.items()}
                for m, row in self.routing_quality.items()
            },
            "summaries": [s.to_dict() for s in self.summaries],
            "routing": {
                "before": dict(self.routing_before),
                "after": dict(self.routing_after),
                "changes": [c.to_dict() for c in self.changes],
            },
            "results": [r.to_dict() for r in self.results],
        }


def _round(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)


def _mean(values: Iterable[float | None]) -> float | None:
    vs = [v for v in values if v is not None]
    return sum(vs) / len(vs) if vs else None


def _build_index(services: Services) -> None:
    """Build the routing index (and the profiles under it) unless it is current."""
    services.index  # noqa: B018 (built on first read)


class _CapturingRunner(Runner):
    """A Runner whose performance samples are held back until the answer is graded, and
    which reports when it counts a free request (``on_free_recorded``, called under
    ``guard`` together with the count). The index it reads first is built in a worker
    thread (the job before may have invalidated the profiles)."""

    def __init__(
        self,
        *args: Any,
        guard: threading.Lock,
        on_free_recorded: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.captured: list[PerformanceSample] = []
        self._guard = guard
        self._on_free_recorded = on_free_recorded

    async def run(self, *args: Any, **kwargs: Any) -> RunResult:
        await asyncio.to_thread(_build_index, self.services)
        return await super().run(*args, **kwargs)

    def _add_sample(self, sample: PerformanceSample, *, behind: bool = True) -> bool:
        self.captured.append(sample)
        return True

    def _persist(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if fn == self.services.record_free_request:
            with self._guard:
                out = Runner._persist(fn, *args, **kwargs)
                self._on_free_recorded()
            return out
        return Runner._persist(fn, *args, **kwargs)


@dataclass
class _State:
    options: BenchmarkOptions
    cancel: asyncio.Event
    hosts: HostWatch | None = None  # the hosts found down, for the whole benchmark
    semaphores: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    free_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    free_pending: int = 0  # free requests sent and not yet counted by the quota
    free_guard: threading.Lock = field(default_factory=threading.Lock)
    free_last: datetime | None = None
    free_stop: str | None = None
    paid_stop: str | None = None
    spent: Decimal = Decimal(0)
    reserved: Decimal = Decimal(0)
    stops: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    done: int = 0
    total: int = 0
    tokens: dict[tuple[str, str | None], int] = field(default_factory=dict)

    def stop(self, message: str) -> None:
        if message not in self.stops:
            self.stops.append(message)

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)


def source_key(model: ModelInfo) -> str:
    """The concurrency key of a model: its source, with free OpenRouter models apart."""
    if model.source is Source.OPENROUTER and model.tier is Tier.FREE:
        return FREE_KEY
    return model.source.value


def is_metered_free(model: ModelInfo) -> bool:
    return model.source is Source.OPENROUTER and model.tier is Tier.FREE


class BenchmarkRunner:
    """Runs models x tasks over a :class:`LiveServices`; see the module doc."""

    def __init__(
        self,
        live: LiveServices,
        *,
        options: BenchmarkOptions | None = None,
        sandbox: Sandbox | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.live = live
        self.services: Services = live.services
        self.options = options or BenchmarkOptions()
        self.sandbox = sandbox or Sandbox()
        self._sleep = sleep
        self._quarantine = Quarantine(self.services.store, clock=self.services.clock)
        self._cancel: asyncio.Event | None = None

    def cancel(self) -> None:
        """Stop the run in progress (requests in flight are closed)."""
        if self._cancel is not None:
            self._cancel.set()

    # --- the run --------------------------------------------------------------------------

    async def run(
        self,
        model_ids: Sequence[str],
        tasks: Sequence[BenchTask],
        *,
        progress: Callable[[BenchmarkProgress], None] | None = None,
        cancel: asyncio.Event | None = None,
    ) -> BenchmarkReport:
        """Every task on every model. Raises ``UnknownModel`` for an id not in the catalogue
        and ``ValueError`` for no models or no tasks."""
        if not model_ids:
            raise ValueError("no models to benchmark")
        if not tasks:
            raise ValueError("no tasks to run")
        models = await asyncio.to_thread(self._find_models, model_ids)
        self._cancel = cancel or asyncio.Event()
        state = _State(options=self.options, cancel=self._cancel, hosts=HostWatch(self._quarantine))
        started = self.services.clock()
        categories = tuple(c for c in CATEGORIES if any(t.category == c for t in tasks))
        # routing reads (and may first build) the index: CPU and SQLite work, off the loop
        before = await asyncio.to_thread(self._probe_routes, categories)
        jobs = [(m, t) for t in tasks for m in models]
        state.total = len(jobs)
        # token counts of long prompts and the free quota's first read: off the loop too
        await asyncio.to_thread(self._warm, jobs, state)
        results: list[BenchResult | None] = [None] * len(jobs)

        async def one(k: int, model: ModelInfo, task: BenchTask) -> None:
            try:
                res = await self._job(model, task, state)
            except (StoreError, OSError, RuntimeError, ValueError) as e:
                log.warning("benchmark job %s on %s failed: %s", task.id, model.id, e)
                res = self._result(model, task, FAILED, error=f"{type(e).__name__}: {e}")
            results[k] = res
            state.done += 1
            if progress is not None:
                progress(
                    BenchmarkProgress(
                        state.done,
                        state.total,
                        model.id,
                        task.id,
                        res.outcome,
                        res.quality,
                        res.error,
                    )
                )

        try:
            await asyncio.gather(*(one(k, m, t) for k, (m, t) in enumerate(jobs)))
        except BaseException:
            # what was stored so far must still reach the profiles (no rebuild here: the
            # next reader rebuilds them, wherever it runs)
            self.services.invalidate_profiles()
            raise
        final = [
            r if r is not None else self._result(m, t, CANCELLED, error="cancelled")
            for r, (m, t) in zip(results, jobs, strict=True)
        ]
        return await asyncio.to_thread(
            self._finish, models, categories, final, state, before, started
        )

    # --- one model x task -----------------------------------------------------------------

    async def _job(self, model: ModelInfo, task: BenchTask, state: _State) -> BenchResult:
        key = source_key(model)
        sem = state.semaphores.get(key)
        if sem is None:
            sem = state.semaphores[key] = asyncio.Semaphore(state.options.concurrency.get(key, 1))
        async with sem:
            for attempt in range(2):
                if state.cancel.is_set():
                    return self._result(model, task, CANCELLED, error="cancelled")
                why = self._does_not_fit(model, task, state)
                if why is not None:
                    return self._result(model, task, SKIPPED, error=why)
                reserved = Decimal(0)
                free = is_metered_free(model)
                held = False
                uncounted = False
                if free:
                    why = await self._free_slot(state)
                    if why is not None:
                        return self._result(model, task, SKIPPED, error=why)
                    held = uncounted = True
                    with state.free_guard:
                        state.free_pending += 1
                elif model.tier is Tier.PAID:
                    estimate, why = self._reserve_paid(model, task, state)
                    if why is not None:
                        return self._result(model, task, SKIPPED, error=why)
                    reserved = estimate

                def counted() -> None:
                    """The quota counted this job's request (called under the guard)."""
                    nonlocal uncounted
                    if uncounted:
                        uncounted = False
                        state.free_pending -= 1

                def dispatched(_model_id: str | None = None) -> None:
                    """The request goes out now: the next free slot counts from here."""
                    nonlocal held
                    if held:
                        held = False
                        state.free_last = self.services.clock()
                        state.free_lock.release()

                try:
                    res, retry = await self._execute(
                        model, task, state, reserved, dispatched, counted
                    )
                finally:
                    dispatched()
                    with state.free_guard:
                        counted()  # never counted (a 429, a skip): no longer in flight
                    state.reserved -= reserved
                if not (retry and attempt == 0):
                    return res
            return res

    def _warm(self, jobs: list[tuple[ModelInfo, BenchTask]], state: _State) -> None:
        _ = self.services.quota
        for model, task in jobs:
            self._prompt_tokens(model, task, state)

    def _prompt_tokens(self, model: ModelInfo, task: BenchTask, state: _State) -> int:
        key = (task.id, model_tokenizer(model))
        n = state.tokens.get(key)
        if n is None:
            text = task.prompt if not task.system else task.system + "\n" + task.prompt
            n = state.tokens[key] = estimate_tokens(text, key[1]).tokens
        return n

    def _does_not_fit(self, model: ModelInfo, task: BenchTask, state: _State) -> str | None:
        window = model.context_length
        if window is None and model.local is not None:
            window = model.local.loaded_context_length
        if window is None:
            return None
        need = self._prompt_tokens(model, task, state) + task.max_tokens
        if need > window:
            return (
                f"does not fit: about {need:,} tokens (prompt and output) for a context window "
                f"of {window:,}"
            )
        return None

    async def _free_slot(self, state: _State) -> str | None:
        """Wait for the next free request slot, or a reason when free requests must stop.

        On success the free lock stays held until the request is dispatched (see
        :meth:`_job`), so the next slot is measured from the real send time.
        """
        await state.free_lock.acquire()
        try:
            why = await self._free_slot_locked(state)
        except BaseException:
            state.free_lock.release()
            raise
        if why is not None:
            state.free_lock.release()
        return why

    async def _free_slot_locked(self, state: _State) -> str | None:
        quota = self.services.quota
        while True:
            if state.cancel.is_set():
                return "cancelled"
            if state.free_stop is not None:
                return state.free_stop
            now = self.services.clock()
            with state.free_guard:  # the quota and what is in flight, read together
                st = self.services.quota_status(now)
                pending = state.free_pending
            per_minute = min(st.per_minute, state.options.free_per_minute or st.per_minute)
            cap = max(0, st.per_day - state.options.free_reserve)
            used = st.used_day + pending
            if st.day_blocked_until is not None or used >= cap:
                reserve = state.options.free_reserve
                kept = f" ({reserve} kept in reserve)" if reserve else ""
                reset = next_utc_midnight(now)
                if st.day_blocked_until is not None:
                    reset = max(reset, st.day_blocked_until)
                    first = "OpenRouter says the free-model daily limit is reached"
                else:
                    first = (
                        f"{min(used, st.per_day)} of today's {st.per_day} free-model "
                        f"requests are used{kept}; the next would pass the daily cap"
                    )
                state.free_stop = (
                    f"Stopped free-model requests: {first}. The cap resets at "
                    f"{reset:%Y-%m-%d %H:%M} UTC."
                )
                state.stop(state.free_stop)
                return state.free_stop
            waits = [0.0]
            if st.minute_blocked_until is not None:
                waits.append((st.minute_blocked_until - now).total_seconds())
            if st.used_minute + pending >= per_minute:
                # the window is full (requests in flight count): wait for its oldest to age
                waits.append(max(MIN_WAIT_S, (quota.next_available(now) - now).total_seconds()))
            if state.free_last is not None:
                gap = MINUTE / per_minute + FREE_MARGIN - (now - state.free_last)
                waits.append(gap.total_seconds())
            wait = max(waits)
            if wait <= 0:
                return None
            await self._wait(max(wait, MIN_WAIT_S), state)

    async def _wait(self, seconds: float, state: _State) -> None:
        """Sleep (the injected sleep), cut short by a cancel."""
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        stopper = asyncio.ensure_future(state.cancel.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()

    def _reserve_paid(
        self, model: ModelInfo, task: BenchTask, state: _State
    ) -> tuple[Decimal, str | None]:
        if state.paid_stop is not None:
            return Decimal(0), state.paid_stop
        cap = state.options.max_usd
        if cap <= 0:
            state.paid_stop = (
                "Paid models were not run: no spending cap was given (set max_usd / --max-usd)."
            )
            state.stop(state.paid_stop)
            return Decimal(0), state.paid_stop
        usage = Usage(
            prompt_tokens=self._prompt_tokens(model, task, state),
            completion_tokens=task.max_tokens,
        )
        estimate = estimate_cost(model, usage, self.services.clock()).total_usd
        if estimate is None:
            why = f"{model.id} has no known price, so it cannot be held to the spending cap"
            state.note(why)
            return Decimal(0), why
        if state.spent + state.reserved + estimate > cap:
            state.paid_stop = (
                f"Stopped paid requests at the spending cap of {format_usd(cap, 4)}: "
                f"{format_usd(state.spent, 6)} spent, and the next request ({task.id} on "
                f"{model.id}) could cost up to {format_usd(estimate, 6)}."
            )
            state.stop(state.paid_stop)
            return Decimal(0), state.paid_stop
        state.reserved += estimate
        return estimate, None

    async def _execute(
        self,
        model: ModelInfo,
        task: BenchTask,
        state: _State,
        reserved: Decimal,
        on_attempt: Callable[[str], None],
        on_free_recorded: Callable[[], None],
    ) -> tuple[BenchResult, bool]:
        """Send, grade, store. Returns the result and whether a retry is worth it."""
        runner = _CapturingRunner(
            self.live,
            policy=RunPolicy(max_tokens=task.max_tokens),
            quarantine=self._quarantine,
            hosts=state.hosts,
            sleep=self._sleep,
            guard=state.free_guard,
            on_free_recorded=on_free_recorded,
        )
        stored: bool | None = None

        async def store(quality: float | None) -> bool:
            nonlocal stored
            if stored is None:
                stored = False  # once only, even if the write below is interrupted
                samples = list(runner.captured)
                if quality is not None and samples and samples[-1].success:
                    samples[-1] = dataclasses.replace(samples[-1], quality=quality)
                # SQLite in a worker thread: the loop may be the GUI's
                stored = await asyncio.to_thread(self._store_samples, samples, state)
            return stored

        try:
            run = await runner.run(
                [model.id],
                task.messages(),
                category=task.category,
                cancel=state.cancel,
                on_attempt=on_attempt,
            )
            if run.cancelled:
                await store(None)
                return self._result(model, task, CANCELLED, error="cancelled"), False
            if not run.ok:
                res, retry = self._failed(model, task, run, state)
                return dataclasses.replace(res, stored=await store(None)), retry
            result = run.result
            assert result is not None
            cost = result.cost_usd
            if model.tier is Tier.PAID:
                state.spent += cost if cost is not None else reserved
                if cost is None:
                    state.note(
                        f"{model.id}: a cost was not reported; the estimate counts against the cap"
                    )
            graded = await self._grade(task, result.text, state)
            if graded is None:
                res = self._from_run(model, task, CANCELLED, run, None, "cancelled")
                return dataclasses.replace(res, stored=await store(None)), False
            res = self._from_run(model, task, OK, run, graded, None)
            return dataclasses.replace(res, stored=await store(graded.quality)), False
        finally:
            await store(None)  # whatever was answered keeps its sample, graded or not

    async def _grade(self, task: BenchTask, text: str, state: _State) -> GradeResult | None:
        if task.kind != "code":
            return grade(task, text)
        job = code_job(task, text)
        if job.code is None:
            return grade_code(job, ())
        run = await self.sandbox.run(
            job.code, job.tests, timeout_s=job.timeout_s, cancel=state.cancel
        )
        if run.cancelled:
            return None
        note = run.error or ""
        if run.memory_exceeded and "memory" not in note.lower():
            note = (note + "; " if note else "") + "memory limit hit"
        return grade_code(job, run.passed, run.failed, note)

    def _failed(
        self, model: ModelInfo, task: BenchTask, run: RunResult, state: _State
    ) -> tuple[BenchResult, bool]:
        last = run.attempts[-1] if run.attempts else None
        if last is not None and last.outcome == RATE_LIMITED:
            if last.error_kind == "RateLimited:free-per-day":
                now = self.services.clock()
                state.free_stop = (
                    "Stopped free-model requests: OpenRouter says the free-model daily limit is "
                    f"reached (it resets at {next_utc_midnight(now):%Y-%m-%d %H:%M} UTC)."
                )
                state.stop(state.free_stop)
                return self._result(model, task, SKIPPED, error=state.free_stop), False
            return self._result(model, task, SKIPPED, error=last.error), True
        if last is not None and last.outcome == RUN_SKIPPED:
            return self._result(model, task, SKIPPED, error=last.error), False
        return self._from_run(model, task, FAILED, run, None, run.error), False

    def _store_samples(self, samples: list[PerformanceSample], state: _State) -> bool:
        store = self.services.store
        if not samples or store is None:
            return False
        try:
            store.add_samples(samples)
        except StoreError as e:
            state.note(f"results not saved: {e}")
            log.warning("benchmark samples not saved: %s", e)
            return False
        return True

    # --- results and report ---------------------------------------------------------------

    @staticmethod
    def _result(
        model: ModelInfo, task: BenchTask, outcome: str, *, error: str | None = None
    ) -> BenchResult:
        return BenchResult(
            model.id, task.id, task.category, task.kind, outcome, None, error, model.tier.value
        )

    @staticmethod
    def _from_run(
        model: ModelInfo,
        task: BenchTask,
        outcome: str,
        run: RunResult,
        graded: GradeResult | None,
        error: str | None,
    ) -> BenchResult:
        r = run.result
        usage = None if r is None else r.usage
        latency = None if r is None else r.latency_ms
        if latency is None and run.attempts:
            latency = run.attempts[-1].latency_ms
        return BenchResult(
            model_id=model.id,
            task_id=task.id,
            category=task.category,
            kind=task.kind,
            outcome=outcome,
            grade=graded,
            error=error,
            tier=run.tier or model.tier.value,
            latency_ms=latency,
            ttft_ms=None if r is None else r.ttft_ms,
            tokens_per_s=None if r is None else r.tokens_per_s,
            prompt_tokens=None if usage is None else usage.prompt_tokens,
            completion_tokens=None if usage is None else usage.completion_tokens,
            cost_usd=None if r is None else r.cost_usd,
            cost_source=None if r is None else r.cost_source,
        )

    def _find_models(self, model_ids: Sequence[str]) -> list[ModelInfo]:
        """The catalogue entries of ``model_ids`` (reading the index may build it)."""
        return [self.services.find_model(mid) for mid in dict.fromkeys(model_ids)]

    def _finish(
        self,
        models: Sequence[ModelInfo],
        categories: Sequence[str],
        results: Sequence[BenchResult],
        state: _State,
        before: Mapping[str, str | None],
        started: datetime,
    ) -> BenchmarkReport:
        """Rebuild the profiles and the index from the samples now stored, probe the routes
        again and build the report: CPU and SQLite work, run in a worker thread (the loop
        may be the GUI's)."""
        self.services.invalidate_profiles()
        after = self._probe_routes(categories)
        return self._report(models, categories, results, state, before, after, started)

    def _probe_routes(self, categories: Sequence[str]) -> dict[str, str | None]:
        """The model routing would choose for each category's probe task (quota aside, so
        only what was learnt moves it)."""
        services = self.services
        context = RoutingContext(
            index=services.index,
            now=services.clock(),
            key_present=self.live.api_key is not None,
        )
        policy = self.options.probe_policy or services.default_policy()
        out: dict[str, str | None] = {}
        for c in categories:
            decision = route(probe_task(c), policy, context)
            out[c] = decision.chain_ids[0] if decision.chain_ids else None
        return out

    def _report(
        self,
        models: Sequence[ModelInfo],
        categories: Sequence[str],
        results: Sequence[BenchResult],
        state: _State,
        before: Mapping[str, str | None],
        after: Mapping[str, str | None],
        started: datetime,
    ) -> BenchmarkReport:
        matrix: dict[str, dict[str, float | None]] = {}
        summaries = []
        index = self.services.index
        routing_quality: dict[str, dict[str, float]] = {}
        for m in models:
            mine = [r for r in results if r.model_id == m.id]
            matrix[m.id] = {
                c: _mean(r.quality for r in mine if r.category == c and r.outcome == OK)
                for c in categories
            }
            j = index.by_id.get(m.id)
            if j is not None:
                routing_quality[m.id] = {c: index.quality(c)[0][j] for c in categories}
            ok = [r for r in mine if r.outcome == OK]
            answered = [r for r in mine if r.latency_ms is not None and r.outcome != FAILED]
            known = [r.cost_usd for r in ok if r.cost_usd is not None]
            summaries.append(
                ModelSummary(
                    model_id=m.id,
                    tier=m.tier.value,
                    graded=len(ok),
                    failed=sum(1 for r in mine if r.outcome == FAILED),
                    skipped=sum(1 for r in mine if r.outcome == SKIPPED),
                    quality=_mean(r.quality for r in ok),
                    cost_usd=sum(known, Decimal(0)),
                    unknown_costs=sum(1 for r in ok if r.cost_usd is None),
                    latency_ms=_mean(r.latency_ms for r in answered),
                    ttft_ms=_mean(r.ttft_ms for r in answered),
                    tokens_per_s=_mean(r.tokens_per_s for r in answered),
                )
            )
        changes = tuple(
            RoutingChange(c, before.get(c), after.get(c))
            for c in categories
            if before.get(c) != after.get(c)
        )
        skipped = [r for r in results if r.outcome == SKIPPED]
        stops = list(state.stops)
        if state.free_stop is not None:
            n = sum(1 for r in skipped if r.error == state.free_stop)
            if n:
                stops = [
                    s + f" {n} free task(s) not run." if s == state.free_stop else s for s in stops
                ]
        if state.paid_stop is not None:
            n = sum(1 for r in skipped if r.error == state.paid_stop)
            if n:
                stops = [
                    s + f" {n} paid task(s) not run." if s == state.paid_stop else s for s in stops
                ]
        return BenchmarkReport(
            models=tuple(m.id for m in models),
            categories=tuple(categories),
            results=tuple(results),
            summaries=tuple(summaries),
            matrix=matrix,
            routing_quality=routing_quality,
            routing_before=dict(before),
            routing_after=dict(after),
            changes=changes,
            stops=tuple(stops),
            notes=tuple(state.notes),
            cancelled=state.cancel.is_set(),
            spent_usd=state.spent,
            started_at=started,
            finished_at=self.services.clock(),
        )


def stale_model_ids(
    services: Services, *, max_age_days: float = STALE_DAYS, now: datetime | None = None
) -> list[str]:
    """Models in the catalogue whose newest observation is older than ``max_age_days``: the
    "re-run stale" list."""
    now = now or services.clock()
    ids = stale_models(services.profiles, now, max_age_days)
    return [i for i in ids if i in services.index.by_id]


__all__ = [
    "CANCELLED",
    "DEFAULT_CONCURRENCY",
    "FAILED",
    "FREE_KEY",
    "OK",
    "OUTCOMES",
    "SKIPPED",
    "BenchResult",
    "BenchmarkOptions",
    "BenchmarkProgress",
    "BenchmarkReport",
    "BenchmarkRunner",
    "ModelSummary",
    "RoutingChange",
    "is_metered_free",
    "source_key",
    "stale_model_ids",
]
