"""Run a task: walk a routing decision's fallback chain until a model answers.

* A free-per-day 429 marks the free quota exhausted until the next UTC midnight and skips
  every remaining free model; a free-per-minute 429 waits for the reset when that is at most
  ``RunPolicy.max_wait_s`` (default 0: never wait), else moves on past the free models.
* 5xx, timeouts, truncated streams, unknown models and unreachable local servers move on.
* Per-host breaker (:mod:`.hosts`): once a request to a host (scheme, host and port) timed
  out without any answer or its connection was refused, the other models on that host are
  skipped for the rest of the run ("host X did not answer (timed out after 30 s) — skipped");
  a timeout also keeps the host out of the next runs for a short cool-down (the quarantine's
  ``host:`` entries). A hung host costs one timeout per run, not one per model.
* One deadline (``RunPolicy.deadline_s``, default 120 s) bounds the walk until a model starts
  answering; an answer already streaming is not cut by it. When it passes, the run stops and
  says so ("stopped after 120 s: X did not answer").
* A rejected OpenRouter key skips every OpenRouter model (local ones are still tried); a
  402 on a paid model skips the remaining paid OpenRouter models.
* Every request sent is recorded: a performance sample (latency, time to first token,
  tokens/s, success) except for rate limits, key or credit problems and cancellations, which
  say nothing about the model; every success adds a spend-ledger entry with the real cost
  (the provider's, else computed from the catalogue prices; unknown stays unknown, never $0);
  every free-model request counts against the free quota.
* Streamed text reaches ``on_delta`` as it arrives; ``on_attempt`` announces each model
  tried, so a display can drop the partial text of a model that failed half way.
* Cancelling the task (or setting ``cancel``) closes the HTTP stream at once; the attempt is
  recorded as cancelled.
* Spend guardrails (:mod:`.spend`): before a paid model is called, the daily and monthly caps
  are checked (with the call's estimated cost); with ``refuse_paid_fallback`` a paid model
  behind a $0 one is refused instead of taken silently. Both show as skipped attempts.
* Passthrough (the gateway): with ``request`` set, the client's own OpenAI request fields
  (tools, tool_choice, response_format, temperature...) go upstream unchanged, only ``model``
  replaced, and every raw chunk (or the whole completion) reaches ``on_chunk``. Once
  ``on_chunk`` returns True (something reached the client) a failure ends the run instead of
  moving on: the client cannot take a second answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from locallama_gui.core.breaker import HostOutage, format_seconds
from locallama_gui.core.models import ModelInfo, Source, Tier, decimal_str
from locallama_gui.core.quota import next_utc_midnight
from locallama_gui.core.routing import RouteDecision
from locallama_gui.core.samples import PerformanceSample
from locallama_gui.services.deadline import DEFAULT_RUN_DEADLINE_S, Deadline
from locallama_gui.services.hosts import HostWatch
from locallama_gui.services.live import LiveServices, describe_error
from locallama_gui.services.quarantine import Quarantine
from locallama_gui.services.spend import SpendLimits, baseline_cost, paid_call_refusal
from locallama_gui.sources import (
    COST_PROVIDER,
    COST_UNKNOWN,
    AuthError,
    BadResponse,
    ChatResult,
    InsecureURLError,
    OllamaClient,
    OpenRouterClient,
    PaymentRequired,
    RateLimited,
    SourceError,
    SourceTimeout,
    Unreachable,
    with_computed_cost,
)
from locallama_gui.store.db import StoreError

log = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
RATE_LIMITED = "rate_limited"
SKIPPED = "skipped"
CANCELLED = "cancelled"
OUTCOMES = (OK, FAILED, RATE_LIMITED, SKIPPED, CANCELLED)

Message = Mapping[str, Any]
#: Receives each raw upstream chunk (a streamed request) or the whole completion; returns
#: True once something has reached the client (from then on there is no fallback).
ChunkSink = Callable[[Mapping[str, Any]], Awaitable[bool]]

#: Tiers that cost nothing per request (no spend cap applies to them).
ZERO_COST_TIERS = (Tier.LOCAL, Tier.FREE)
#: ``Attempt.error_kind`` of the attempt the run's deadline stopped.
DEADLINE_KIND = "DeadlineTimeout"


@dataclass(frozen=True, slots=True)
class RunPolicy:
    """How a run treats waits. ``max_wait_s``: longest free-per-minute reset worth waiting
    for (0: move on at once). ``max_tokens``: the completion limit sent with each request.
    ``deadline_s``: how long the chain may take until a model starts answering (None: no
    bound but each request's own timeouts)."""

    max_wait_s: float = 0.0
    max_tokens: int | None = None
    deadline_s: float | None = DEFAULT_RUN_DEADLINE_S

    def __post_init__(self) -> None:
        if self.max_wait_s < 0:
            raise ValueError("max_wait_s must not be negative")
        if self.deadline_s is not None and self.deadline_s <= 0:
            raise ValueError("deadline_s must be positive")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One model tried (or skipped) during a run."""

    model_id: str
    outcome: str  # one of OUTCOMES
    error: str | None = None  # for people; redacted
    error_kind: str | None = None  # e.g. "ProviderDown", "RateLimited:free-per-day"
    source: str | None = None
    latency_ms: float | None = None
    waited_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "outcome": self.outcome,
            "error": self.error,
            "error_kind": self.error_kind,
            "source": self.source,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "waited_s": self.waited_s,
        }


@dataclass(frozen=True, slots=True)
class RunResult:
    """The answer (or why there is none) and every attempt, in order."""

    result: ChatResult | None
    model_id: str | None  # the chain entry that answered
    attempts: tuple[Attempt, ...]
    error: str | None = None
    cancelled: bool = False
    tier: str | None = None  # tier of the model billed (the one that answered)
    baseline_model: str | None = None
    baseline_cost_usd: Decimal | None = None
    #: True when part of the answer reached the client before the run failed.
    committed: bool = False

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def cost_usd(self) -> Decimal | None:
        return None if self.result is None else self.result.cost_usd

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        out: dict[str, Any] = {
            "ok": self.ok,
            "cancelled": self.cancelled,
            "error": self.error,
            "model": self.model_id,
            "model_used": None if r is None else r.model_used,
            "tier": self.tier,
            "text": None if r is None else r.text,
            "usage": None,
            "cost_usd": None,
            "cost_source": None if r is None else r.cost_source,
            "latency_ms": None if r is None or r.latency_ms is None else round(r.latency_ms, 1),
            "ttft_ms": None if r is None or r.ttft_ms is None else round(r.ttft_ms, 1),
            "tokens_per_s": None
            if r is None or r.tokens_per_s is None
            else round(r.tokens_per_s, 2),
            "attempts": [a.to_dict() for a in self.attempts],
            "baseline_model": self.baseline_model,
            "baseline_cost_usd": None
            if self.baseline_cost_usd is None
            else decimal_str(self.baseline_cost_usd),
        }
        if r is not None:
            if r.usage is not None:
                out["usage"] = {
                    "prompt_tokens": r.usage.prompt_tokens,
                    "completion_tokens": r.usage.completion_tokens,
                    "reasoning_tokens": r.usage.reasoning_tokens,
                    "cached_tokens": r.usage.cache_read_tokens,
                }
            if r.cost_usd is not None:
                out["cost_usd"] = decimal_str(r.cost_usd)
        return out


@dataclass
class _State:
    hosts: HostWatch
    deadline: Deadline
    attempts: list[Attempt] = field(default_factory=list)
    free_day_blocked: bool = False
    free_minute_blocked: bool = False
    auth_failed: str | None = None
    paid_blocked: str | None = None
    outages: list[HostOutage] = field(default_factory=list)  # hosts this run found down
    outage_failures: int = 0  # attempts that failed because their host did not answer
    host_skips: int = 0  # models skipped because their host was down
    stopped: str | None = None  # the deadline stopped the run: what to say
    samples_written: bool = False
    last_error: str | None = None
    committed: bool = False  # something reached the client: no more fallback
    zero_cost_before: bool = False  # a $0 model came earlier in the chain
    estimates: dict[str, Decimal | None] = field(default_factory=dict)
    baseline: tuple[str | None, Decimal | None] = (None, None)


def as_messages(messages_or_prompt: str | Sequence[Message]) -> list[dict[str, Any]]:
    if isinstance(messages_or_prompt, str):
        return [{"role": "user", "content": messages_or_prompt}]
    return [dict(m) for m in messages_or_prompt]


class Runner:
    """Executes routing decisions over the clients of a :class:`LiveServices`."""

    def __init__(
        self,
        live: LiveServices,
        *,
        policy: RunPolicy | None = None,
        quarantine: Quarantine | None = None,
        hosts: HostWatch | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        limits: SpendLimits | None = None,
        client: str | None = None,
        profile_refresh_s: float = 0.0,
        write_behind: bool = False,
    ) -> None:
        self.live = live
        #: answer first, write the records (sample, ledger, quota event) behind, in order, on
        #: the services' writer thread (the gateway: see Services.write_behind)
        self.write_behind = write_behind
        #: how long new samples may wait before routing sees them (see
        #: ``Services.invalidate_profiles``); 0: at the next decision
        self.profile_refresh_s = profile_refresh_s
        self.services = live.services
        self.policy = policy or RunPolicy()
        #: The spend caps in force (None: the settings' own, read at each run).
        self.limits = limits
        #: Who the runs are for, as the spend ledger records it ("cli", "gui", "mcp"...).
        self.client = client
        self.quarantine = quarantine or live.quarantine
        #: The hosts found down, shared by every run of this runner (a benchmark's); None:
        #: each run starts with its own (and the quarantine's cool-downs).
        self.hosts = hosts
        self._sleep = sleep
        #: The outcome of the latest run, also when its task was cancelled.
        self.last_run: RunResult | None = None

    # --- entry point ----------------------------------------------------------------------

    async def run(
        self,
        decision: RouteDecision | Sequence[str],
        messages: str | Sequence[Message],
        *,
        on_delta: Callable[[str], None] | None = None,
        on_attempt: Callable[[str], None] | None = None,
        cancel: asyncio.Event | None = None,
        category: str | None = None,
        request: Mapping[str, Any] | None = None,
        on_chunk: ChunkSink | None = None,
        client: str | None = None,
    ) -> RunResult:
        """Walk the chain of ``decision`` (or a list of model ids) with ``messages`` (or a
        prompt). Returns the answer or the failure; cancelling the task re-raises
        ``CancelledError`` after recording (see :attr:`last_run`).

        ``request``: an OpenAI chat request to pass through (its ``stream`` says whether
        ``on_chunk`` gets chunks or one completion); ``client`` names the sender for the
        spend ledger (default: the runner's)."""
        state = _State(
            hosts=self.hosts if self.hosts is not None else HostWatch(self.quarantine),
            deadline=Deadline(self.policy.deadline_s),
        )
        if isinstance(decision, RouteDecision):
            chain = decision.chain_ids
            index = decision.context.index
            category = category or decision.resolved.task.category
            state.estimates = {c.id: c.cost_usd for c in decision.chain}
        else:
            chain = tuple(decision)
            index = self.services.index
        category = category or "chat"
        msgs = as_messages(messages)
        call = _Call(
            request=dict(request) if request is not None else None,
            on_chunk=on_chunk,
            client=client or self.client,
            limits=self.limits or SpendLimits.from_settings(self.services),
        )
        current = asyncio.current_task()
        stop = {"requested": False, "finished": False}
        watcher: asyncio.Task[None] | None = None
        if cancel is not None and current is not None:

            async def watch() -> None:
                await cancel.wait()
                if not stop["finished"]:
                    stop["requested"] = True
                    current.cancel()

            watcher = asyncio.create_task(watch())
        try:
            result = await self._walk(
                chain, index, msgs, category, state, on_delta, on_attempt, call
            )
            stop["finished"] = True
        except asyncio.CancelledError:
            stop["finished"] = True
            cancelled = self._finish(state, cancelled=True)
            if stop["requested"] and current is not None and current.uncancel() == 0:
                return cancelled
            raise
        finally:
            if watcher is not None:
                watcher.cancel()
        return result

    def _finish(
        self,
        state: _State,
        *,
        cancelled: bool = False,
        result: ChatResult | None = None,
        model_id: str | None = None,
        tier: str | None = None,
    ) -> RunResult:
        if state.samples_written:
            self.services.invalidate_profiles(within_s=self.profile_refresh_s)
        error = None
        if cancelled:
            error = "cancelled"
        elif result is None:
            error = self._failure_text(state)
        run = RunResult(
            result=result,
            model_id=model_id,
            attempts=tuple(state.attempts),
            error=error,
            cancelled=cancelled,
            tier=tier,
            baseline_model=state.baseline[0],
            baseline_cost_usd=state.baseline[1],
            committed=state.committed,
        )
        self.last_run = run
        return run

    @staticmethod
    def _failure_text(state: _State) -> str:
        if not state.attempts:
            return "No model can take this task (the fallback chain is empty)."
        sent = [a for a in state.attempts if a.outcome != SKIPPED]
        if state.committed and sent:
            last = sent[-1]
            return f"{last.model_id} failed after part of its answer was sent: {last.error}"
        if state.stopped is not None:
            return state.stopped
        failed = [a for a in sent if a.outcome == FAILED]
        if state.outages and len(failed) == len(sent) == state.outage_failures:
            down = "; ".join(o.describe() for o in state.outages)
            n = state.host_skips
            on = "on it" if len(state.outages) == 1 else "on them"
            skipped = f"; {n} other model{'s' if n != 1 else ''} {on} skipped" if n else ""
            return f"No model answered: {down}{skipped}."
        if state.auth_failed and not any(a.outcome == FAILED for a in sent):
            return state.auth_failed
        if not sent:
            reasons = sorted({a.error or "skipped" for a in state.attempts})
            return "No model could be tried: " + "; ".join(reasons)
        last = sent[-1]
        n = len(state.attempts)
        return f"All {n} models of the chain failed; last, {last.model_id}: {last.error}"

    # --- the chain ------------------------------------------------------------------------

    async def _walk(
        self,
        chain: Sequence[str],
        index: Any,
        messages: list[dict[str, Any]],
        category: str,
        state: _State,
        on_delta: Callable[[str], None] | None,
        on_attempt: Callable[[str], None] | None,
        call: _Call,
    ) -> RunResult:
        for model_id in chain:
            if state.stopped is None and state.deadline.expired:
                state.stopped = state.deadline.stopped("no model of the chain answered in time")
            if state.stopped is not None:
                state.attempts.append(
                    Attempt(model_id, SKIPPED, f"not tried: the run {state.stopped}", "Deadline")
                )
                continue
            model = self._lookup(model_id, index)
            if model is None:
                state.attempts.append(
                    Attempt(model_id, SKIPPED, "not in the catalogue (refresh it)", "unknown")
                )
                continue
            # bookkeeping reads the store: never on the event loop's thread, unless every
            # answer it needs is in memory ($0 models: quota, and a fresh quarantine read)
            if model.tier in ZERO_COST_TIERS and self.quarantine.cache_fresh():
                skip = self._skip_reason(model, state, call)
            else:
                skip = await asyncio.to_thread(self._skip_reason, model, state, call)
            if model.tier in ZERO_COST_TIERS:
                state.zero_cost_before = True
            if skip is not None:
                state.attempts.append(Attempt(model.id, SKIPPED, skip, None, model.source.value))
                continue
            answer = await self._try_model(
                model, index, messages, category, state, on_delta, on_attempt, call
            )
            if answer is not None:
                result, billed = answer
                return self._finish(state, result=result, model_id=model.id, tier=billed.tier.value)
            if state.committed:
                break  # part of an answer reached the client: it cannot take another
        return self._finish(state)

    @staticmethod
    def _lookup(model_id: str, index: Any) -> ModelInfo | None:
        j = index.by_id.get(model_id)
        return None if j is None else index.models[j]

    def _skip_reason(self, model: ModelInfo, state: _State, call: _Call) -> str | None:
        now = self.services.clock()
        if model.source is Source.OPENROUTER:
            if self.live.openrouter_endpoint is None:
                return "OpenRouter is disabled in the settings"
            if not self.live.api_key:
                return (
                    "no OpenRouter API key (add it in Settings or with 'locallama key set', or "
                    "set OPENROUTER_API_KEY)"
                )
            if state.auth_failed:
                return "the OpenRouter API key was rejected"
            if state.paid_blocked and model.tier is not Tier.FREE:
                return "OpenRouter needs credits for paid models"
        if model.tier is Tier.FREE:
            status = self.services.quota_status(now)
            if state.free_day_blocked or status.day_exhausted:
                midnight = next_utc_midnight(now)
                return f"free-model daily limit reached (until {midnight:%Y-%m-%d %H:%M} UTC)"
            # a full minute window means a certain 429: skip, unless the policy would wait
            if state.free_minute_blocked or (
                status.minute_exhausted and self.policy.max_wait_s <= 0
            ):
                return "free-model per-minute limit reached"
        entry = self.quarantine.active(model.id, now)
        if entry is not None:
            return f"quarantined until {entry.until:%H:%M} UTC ({entry.reason})"
        url = self._base_url(model)
        if url is not None:
            down = state.hosts.skip_reason(url, now)
            if down is not None:
                state.host_skips += 1
                return down
        if model.tier not in ZERO_COST_TIERS:
            if call.limits.refuse_paid_fallback and state.zero_cost_before:
                return (
                    "paid fallback refused (spend.refuse_paid_fallback): a free or local "
                    "model came first in the chain"
                )
            refusal = paid_call_refusal(
                self.services, call.limits, estimate_usd=state.estimates.get(model.id), now=now
            )
            if refusal is not None:
                return refusal
        return None

    def _base_url(self, model: ModelInfo) -> str | None:
        """The URL of the server that serves ``model`` (None: none, or a bad URL)."""
        try:
            client = self.live.client_for_model(model)
        except SourceError:
            return None
        return None if client is None else client.base_url

    # --- one model ------------------------------------------------------------------------

    async def _try_model(
        self,
        model: ModelInfo,
        index: Any,
        messages: list[dict[str, Any]],
        category: str,
        state: _State,
        on_delta: Callable[[str], None] | None,
        on_attempt: Callable[[str], None] | None,
        call: _Call,
    ) -> tuple[ChatResult, ModelInfo] | None:
        waited = 0.0
        while True:
            now = self.services.clock()
            started = time.monotonic()
            if on_attempt is not None:
                on_attempt(model.id)
            budget: asyncio.Timeout | None = None
            try:
                client = self.live.client_for_model(model)
                if client is None:
                    raise Unreachable(
                        f"no server configured for {model.source.value}",
                        user_message=f"No {model.source.value} server is configured.",
                    )
                # the run's deadline holds until the model starts answering
                async with asyncio.timeout(state.deadline.remaining()) as budget:
                    answering = _Answering(budget)
                    if call.request is not None:
                        result = await self._passthrough(
                            client, model, messages, call, state, answering
                        )
                    else:
                        result = await self._call(client, model, messages, on_delta, answering)
            except TimeoutError:
                if budget is None or not budget.expired():
                    raise
                self._deadline_passed(model, state, started, waited)
                return None
            except asyncio.CancelledError:
                state.attempts.append(
                    Attempt(
                        model.id,
                        CANCELLED,
                        "cancelled",
                        "Cancelled",
                        model.source.value,
                        (time.monotonic() - started) * 1000,
                        waited,
                    )
                )
                raise
            except SourceError as err:
                elapsed = (time.monotonic() - started) * 1000
                retry_wait = await asyncio.to_thread(
                    self._handle_error, model, err, now, elapsed, waited, category, state
                )
                if retry_wait is None:
                    return None
                left = state.deadline.remaining()
                if left is not None and retry_wait >= left:  # no waiting past the deadline
                    state.free_minute_blocked = True
                    return None
                await self._sleep(retry_wait)
                waited += retry_wait
                continue
            if self.write_behind:  # nothing blocking is left: no thread hop
                return self._succeeded(
                    model, index, result, now, started, waited, category, state, call
                )
            return await asyncio.to_thread(
                self._succeeded, model, index, result, now, started, waited, category, state, call
            )

    def _deadline_passed(
        self, model: ModelInfo, state: _State, started: float, waited: float
    ) -> None:
        """The run's deadline passed while ``model`` had not started answering."""
        state.stopped = state.deadline.stopped(f"{model.id} did not answer")
        state.attempts.append(
            Attempt(
                model.id,
                FAILED,
                f"no answer within the run's {state.deadline.text} deadline",
                DEADLINE_KIND,
                model.source.value,
                (time.monotonic() - started) * 1000,
                waited,
            )
        )
        state.last_error = state.stopped

    async def _call(
        self,
        client: Any,
        model: ModelInfo,
        messages: list[dict[str, Any]],
        on_delta: Callable[[str], None] | None,
        answering: _Answering | None = None,
    ) -> ChatResult:
        max_tokens = self.policy.max_tokens
        if isinstance(client, OpenRouterClient):
            stream = client.chat_stream(
                self.live.api_key or "", model.served_id, messages, max_tokens=max_tokens
            )
        elif isinstance(client, OllamaClient):
            options = {"num_predict": max_tokens} if max_tokens else None
            stream = client.chat_stream(model.served_id, messages, options)
        else:
            stream = client.chat_stream(model.served_id, messages, max_tokens=max_tokens)
        final: ChatResult | None = None
        async with aclosing(stream) as items:
            async for item in items:
                if answering is not None:
                    answering()
                if isinstance(item, ChatResult):
                    final = item
                elif item and on_delta is not None:
                    on_delta(item)
        if final is None:
            raise BadResponse("the stream ended without a result", code="truncated")
        return final

    async def _passthrough(
        self,
        client: Any,
        model: ModelInfo,
        messages: list[dict[str, Any]],
        call: _Call,
        state: _State,
        answering: _Answering | None = None,
    ) -> ChatResult:
        """Send the client's own request to ``model``; raw chunks go to ``call.on_chunk``."""
        assert call.request is not None
        body = dict(call.request)
        body["model"] = model.served_id
        body["messages"] = messages
        max_tokens = self.policy.max_tokens
        if max_tokens and "max_tokens" not in body and "max_completion_tokens" not in body:
            body["max_tokens"] = max_tokens
        if isinstance(client, OpenRouterClient):
            stream = client.chat_raw(self.live.api_key or "", body)
        else:
            stream = client.chat_raw(body)
        final: ChatResult | None = None
        async with aclosing(stream) as items:
            async for item in items:
                if answering is not None:
                    answering()
                if isinstance(item, ChatResult):
                    final = item
                elif call.on_chunk is not None and await call.on_chunk(item):
                    state.committed = True
        if final is None:
            raise BadResponse("the stream ended without a result", code="truncated")
        return final

    def _handle_error(
        self,
        model: ModelInfo,
        err: SourceError,
        now: datetime,
        elapsed_ms: float,
        waited: float,
        category: str,
        state: _State,
    ) -> float | None:
        """Record a failed request; returns the seconds to wait before retrying, or None."""
        text = describe_error(err)
        kind = type(err).__name__
        is_free = model.tier is Tier.FREE
        outcome = FAILED
        model_failure = True
        retry: float | None = None
        if isinstance(err, RateLimited):
            outcome = RATE_LIMITED
            model_failure = False
            kind = f"RateLimited:{err.scope}"
            if err.scope == "free-per-day":
                self._persist(self.services.record_free_limit, "day", now, err.reset_at)
                state.free_day_blocked = True
            elif err.scope == "free-per-minute":
                self._persist(self.services.record_free_limit, "minute", now, err.reset_at)
                wait = self._reset_wait(err, now)
                max_wait = self.policy.max_wait_s
                if wait is not None and waited == 0 and max_wait > 0 and wait <= max_wait:
                    retry = wait
                else:
                    state.free_minute_blocked = True
        elif isinstance(err, AuthError):
            model_failure = False
            if model.source is Source.OPENROUTER:
                state.auth_failed = (
                    f"The OpenRouter API key was rejected: {err.user_message} Local models "
                    "are still tried."
                )
        elif isinstance(err, PaymentRequired):
            model_failure = False
            if model.source is Source.OPENROUTER and not is_free:
                state.paid_blocked = text
        elif isinstance(err, InsecureURLError):
            model_failure = False
        url = self._base_url(model)
        outage = None if url is None else state.hosts.failed(url, err, now)
        if outage is not None:
            text = outage.describe()
            state.outage_failures += 1
            if outage not in state.outages:
                state.outages.append(outage)
        elif isinstance(err, SourceTimeout) and err.phase == "read" and err.timeout_s:
            # the host answered, then went quiet (not "try another model": that is done here)
            text = f"the answer stalled: nothing more came for {format_seconds(err.timeout_s)}"
        if is_free and not isinstance(err, RateLimited) and model.source is Source.OPENROUTER:
            self._persist(self.services.record_free_request, now)
        if model_failure:
            sample = PerformanceSample(
                model_id=model.id,
                source=model.source.value,
                category=category,
                ts=now,
                success=False,
                latency_ms=elapsed_ms,
                error_kind=kind,
            )
            if self._add_sample(sample, behind=False):
                state.samples_written = True
                entry = self.quarantine.record_failure(model.id, f"{kind}: {err.message}", now)
                if entry is not None:
                    log.info("%s quarantined until %s", model.id, entry.until)
        state.attempts.append(
            Attempt(
                model.id,
                outcome,
                text,
                kind,
                model.source.value,
                elapsed_ms,
                waited,
            )
        )
        state.last_error = text
        return retry

    def _reset_wait(self, err: RateLimited, now: datetime) -> float | None:
        if err.reset_at is not None:
            return max(0.0, (err.reset_at - now).total_seconds())
        return err.retry_after_s

    def _succeeded(
        self,
        model: ModelInfo,
        index: Any,
        result: ChatResult,
        now: datetime,
        started: float,
        waited: float,
        category: str,
        state: _State,
        call: _Call,
    ) -> tuple[ChatResult, ModelInfo]:
        elapsed = (time.monotonic() - started) * 1000
        billed = model
        if model.source is not Source.OPENROUTER:
            # a local server answers as the model it was asked for, by its own name: that
            # name may be an OpenRouter model's id, which never bills this run
            result = dataclasses.replace(result, model_used=model.id)
        elif result.model_used and result.model_used != model.id:
            billed = self._lookup(result.model_used, index) or model
        if model.source is Source.OPENROUTER:
            result = with_computed_cost(result, billed, now)
        if (
            billed.tier is Tier.PAID
            and result.cost_usd == 0
            and result.cost_source != COST_PROVIDER
        ):
            # Nothing is billed at $0 on a paid model: a zero here means the usage was missing.
            result = _unknown_cost(result)
        usage = result.usage
        sample = PerformanceSample(
            model_id=model.id,
            source=model.source.value,
            category=category,
            ts=now,
            success=True,
            latency_ms=result.latency_ms if result.latency_ms is not None else elapsed,
            ttft_ms=result.ttft_ms,
            tokens_per_s=result.tokens_per_s,
            prompt_tokens=None if usage is None else usage.prompt_tokens,
            completion_tokens=None if usage is None else usage.completion_tokens,
            cost_usd=result.cost_usd,
        )
        if self._add_sample(sample):
            state.samples_written = True
        state.baseline = baseline_cost(self.services, usage, now)
        store = self.services.store
        if store is not None:
            self._write(
                store.record_spend,
                client=call.client,
                baseline_model=state.baseline[0],
                baseline_cost_usd=state.baseline[1],
                ts=now,
                model_id=result.model_used or model.id,
                tier=billed.tier.value,
                cost_usd=result.cost_usd,
                prompt_tokens=0 if usage is None else usage.prompt_tokens,
                completion_tokens=0 if usage is None else usage.completion_tokens,
                request_id=result.request_id,
                note=None if billed is model else f"requested {model.id}",
            )
        if model.tier is Tier.FREE or billed.tier is Tier.FREE:
            # the quota counts it at once; its record is written now or behind
            self._persist(self.services.record_free_request, now, defer=self.write_behind)
        self._write(self.quarantine.record_success, model.id)
        state.attempts.append(
            Attempt(model.id, OK, None, None, model.source.value, elapsed, waited)
        )
        return result, billed

    # --- persistence ----------------------------------------------------------------------

    def _add_sample(self, sample: PerformanceSample, *, behind: bool = True) -> bool:
        """Store ``sample`` (behind the answer when the runner writes behind and ``behind``:
        a failure's sample is written at once, since quarantine counts the stored ones)."""
        store = self.services.store
        if store is None:
            return False
        if not behind:
            if self.write_behind:  # what was handed over first (a success) is stored first
                self.services.flush_writes()
            return self._persist(store.add_samples, [sample]) is not None
        return self._write(store.add_samples, [sample])

    def _write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """A record written now (True when it was) or, with :attr:`write_behind`, handed to
        the services' writer thread (True: it will be, or its failure is logged there)."""
        if self.write_behind:
            self.services.write_behind(fn, *args, **kwargs)
            return True
        return self._persist(fn, *args, **kwargs) is not None

    @staticmethod
    def _persist(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            out = fn(*args, **kwargs)
        except StoreError as e:
            log.warning("run history not saved: %s", e)
            return None
        return True if out is None else out


class _Answering:
    """Called with each item of an answer: the first lifts the run's deadline (an answer
    that has started streaming is not cut by it)."""

    __slots__ = ("_budget", "_done")

    def __init__(self, budget: asyncio.Timeout) -> None:
        self._budget = budget
        self._done = False

    def __call__(self) -> None:
        if not self._done:
            self._done = True
            self._budget.reschedule(None)


@dataclass(frozen=True, slots=True)
class _Call:
    """What one run sends and to whom it reports (fixed for the whole chain)."""

    request: dict[str, Any] | None
    on_chunk: ChunkSink | None
    client: str | None
    limits: SpendLimits


def _unknown_cost(result: ChatResult) -> ChatResult:
    return dataclasses.replace(result, cost_usd=None, cost_source=COST_UNKNOWN)


__all__ = [
    "CANCELLED",
    "DEADLINE_KIND",
    "FAILED",
    "OK",
    "OUTCOMES",
    "RATE_LIMITED",
    "SKIPPED",
    "Attempt",
    "ChunkSink",
    "RunPolicy",
    "RunResult",
    "Runner",
    "as_messages",
]
