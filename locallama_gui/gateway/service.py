"""What the gateway does with a request, apart from HTTP: plan it, run it, report it.

A request names a concrete model (sent as asked) or a virtual one: ``locallama/auto``,
``locallama/free`` (never a paid model) or ``locallama/local`` (nothing leaves the machine).
A virtual model is routed per request: the task is read from the messages, its needs (tools,
JSON output, images) from the request, and an optional ``locallama`` object in the body sets
category, priority, budget and free preference. The run goes along the fallback chain with the
same runner, spend guardrails and records as ``locallama run``; until something has reached
the client a failure moves on to the next model, after that the stream ends with an error.

Everything here runs on the gateway's own event loop; the services guard their shared state.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from locallama_gui.core.models import Source, Tier, decimal_str
from locallama_gui.core.routing import (
    CATEGORIES,
    FreePreference,
    Policy,
    Priority,
    RouteDecision,
    Task,
)
from locallama_gui.services.facade import Services, UnknownModel
from locallama_gui.services.live import Endpoint, LiveServices, configured_endpoints
from locallama_gui.services.runner import RATE_LIMITED, SKIPPED, Runner, RunPolicy, RunResult
from locallama_gui.services.spend import SpendLimits
from locallama_gui.sources import HttpPolicy

log = logging.getLogger(__name__)

#: New samples reach routing at most this long after a request (not per request: see
#: ``Services.invalidate_profiles``).
PROFILE_REFRESH_S = 2.0

AUTO = "locallama/auto"
FREE = "locallama/free"
LOCAL = "locallama/local"
VIRTUAL_MODELS: Mapping[str, str] = {
    AUTO: "Routed per request: local and free models first whenever they are good enough.",
    FREE: "Routed per request among $0 models only (local and OpenRouter free).",
    LOCAL: "Routed per request among local models only: nothing leaves this machine.",
}
#: Fields of the ``locallama`` object in a request body.
OPTION_FIELDS = ("category", "priority", "budget_usd", "free_preference", "local_only")
#: Traffic rows kept in memory for the window.
TRAFFIC_KEPT = 500
DEFAULT_OUTPUT_TOKENS = 512

_UA_TOKEN = re.compile(r"[^A-Za-z0-9._/+-]")


class GatewayError(Exception):
    """A request the gateway answers with an error (OpenAI's error shape)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "code": self.code,
                "param": self.param,
            }
        }


def client_name(user_agent: str | None) -> str:
    """A short client name from a User-Agent: ``OpenAI/Python 1.40.0`` -> ``OpenAI/Python``,
    ``claude-cli/1.0.3 (external, cli)`` -> ``claude-cli``."""
    text = (user_agent or "").strip()
    if not text:
        return "unknown"
    first = text.split()[0]
    name, _, version = first.rpartition("/")
    if name and version[:1].isdigit():
        first = name
    first = _UA_TOKEN.sub("", first)[:40]
    return first or "unknown"


def token_matches(expected: str, given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of ``Authorization: Bearer …`` (or Anthropic's ``x-api-key``)."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() or None
    key = headers.get("x-api-key")
    return key.strip() if key else None


# --- reading a request ---------------------------------------------------------------------


def message_text(messages: Sequence[Any]) -> str:
    """The text of every message, for routing (token estimate, complexity)."""
    parts: list[str] = []
    for m in messages:
        if not isinstance(m, Mapping):
            continue
        content = m.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    parts.append(part["text"])
        for call in m.get("tool_calls") or ():
            if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
                args = call["function"].get("arguments")
                if isinstance(args, str):
                    parts.append(args)
    return "\n\n".join(parts)


def image_count(messages: Sequence[Any]) -> int:
    """Images in the messages (``image_url``/``input_image`` parts, Anthropic's ``image``):
    billed per image by models that price them."""
    n = 0
    for m in messages:
        content = m.get("content") if isinstance(m, Mapping) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type") in (
                    "image_url",
                    "input_image",
                    "image",
                ):
                    n += 1
    return n


def has_images(messages: Sequence[Any]) -> bool:
    return image_count(messages) > 0


def needs_of(body: Mapping[str, Any]) -> frozenset[str]:
    needs: set[str] = set()
    if body.get("tools") or body.get("functions"):
        needs.add("tools")
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema"):
        needs.add("json")
    if has_images(body.get("messages") or ()):
        needs.add("vision")
    if body.get("reasoning") or body.get("reasoning_effort"):
        needs.add("reasoning")
    return frozenset(needs)


def _output_tokens(body: Mapping[str, Any]) -> int:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return DEFAULT_OUTPUT_TOKENS


def _options(body: Mapping[str, Any]) -> dict[str, Any]:
    raw = body.get("locallama")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise GatewayError(400, "'locallama' must be an object", param="locallama")
    unknown = sorted(set(raw) - set(OPTION_FIELDS))
    if unknown:
        raise GatewayError(
            400,
            f"unknown locallama option {unknown[0]!r} (known: {', '.join(OPTION_FIELDS)})",
            param=f"locallama.{unknown[0]}",
        )
    return dict(raw)


@dataclass(frozen=True, slots=True)
class Plan:
    """A request made ready to run: the chain (or decision), and the upstream body."""

    asked: str
    upstream: dict[str, Any]
    messages: list[dict[str, Any]]
    decision: RouteDecision | None
    chain: tuple[str, ...]
    category: str
    stream: bool

    def served_tier(self, services: Services, model_id: str | None) -> str | None:
        if model_id is None:
            return None
        j = services.index.by_id.get(model_id)
        return None if j is None else services.index.models[j].tier.value


@dataclass(frozen=True, slots=True)
class TrafficEvent:
    """One request through the gateway, as the window's traffic table shows it."""

    ts: datetime
    client: str
    path: str
    asked: str
    served: str | None
    tier: str | None
    status: int
    streamed: bool
    latency_ms: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: Decimal | None = None
    baseline_cost_usd: Decimal | None = None
    error: str | None = None

    @property
    def saved_usd(self) -> Decimal | None:
        if self.cost_usd is None or self.baseline_cost_usd is None:
            return None
        return self.baseline_cost_usd - self.cost_usd

    def to_dict(self) -> dict[str, Any]:
        def money(v: Decimal | None) -> str | None:
            return None if v is None else decimal_str(v)

        return {
            "ts": self.ts.isoformat(),
            "client": self.client,
            "path": self.path,
            "asked": self.asked,
            "served": self.served,
            "tier": self.tier,
            "status": self.status,
            "streamed": self.streamed,
            "latency_ms": round(self.latency_ms, 1),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": money(self.cost_usd),
            "baseline_cost_usd": money(self.baseline_cost_usd),
            "saved_usd": money(self.saved_usd),
            "error": self.error,
        }


class Gateway:
    """The gateway's state on its event loop: the live services, the token, the traffic."""

    def __init__(
        self,
        services: Services,
        *,
        token: str,
        endpoints: Sequence[Endpoint] | None = None,
        api_key: str | None = None,
        api_key_provider: Callable[[], str | None] | None = None,
        http_policy: HttpPolicy | None = None,
        run_policy: RunPolicy | None = None,
        limits: SpendLimits | None = None,
        http_client: Any = None,
    ) -> None:
        if not token:
            raise ValueError("the gateway needs a token")
        self.services = services
        self.token = token
        self.endpoints = tuple(
            endpoints if endpoints is not None else configured_endpoints(services.settings)
        )
        self._api_key = api_key
        self._api_key_provider = api_key_provider
        self.http_policy = http_policy
        self.run_policy = run_policy or RunPolicy()
        self.limits = limits
        self._http_client = http_client
        self.live: LiveServices | None = None
        self.traffic: deque[TrafficEvent] = deque(maxlen=TRAFFIC_KEPT)
        self._listeners: list[Callable[[TrafficEvent], None]] = []
        self._day: str | None = None
        self.requests_today = 0
        self.active = 0
        self.started_at: datetime | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Build the live services on this loop (the key is read off the loop)."""
        key = self._api_key
        if key is None and self._api_key_provider is not None:
            try:
                key = await asyncio.to_thread(self._api_key_provider)
            except Exception as e:  # a locked keyring: local models still work
                log.warning("the OpenRouter key could not be read: %s", e)
                key = None
        self.live = LiveServices(
            self.services,
            endpoints=self.endpoints,
            api_key=key,
            policy=self.http_policy,
            client=self._http_client,
        )
        self.started_at = self.services.clock()

    async def aclose(self) -> None:
        if self.live is not None:
            await self.live.aclose()
            self.live = None

    def require_live(self) -> LiveServices:
        if self.live is None:
            raise GatewayError(503, "the gateway is starting; try again", kind="server_error")
        return self.live

    @property
    def key_present(self) -> bool:
        return bool(self.live is not None and self.live.api_key)

    # --- traffic ----------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[TrafficEvent], None]) -> None:
        """``listener`` gets every finished request, on the gateway's thread."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[TrafficEvent], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def report(self, event: TrafficEvent) -> None:
        day = event.ts.strftime("%Y-%m-%d")
        if day != self._day:
            self._day = day
            self.requests_today = 0
        self.requests_today += 1
        self.traffic.append(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener's bug must not fail the request
                log.exception("a traffic listener failed")

    # --- models -----------------------------------------------------------------------------

    def model_list(self) -> dict[str, Any]:
        """``GET /v1/models``: the virtual models, then every routable model."""
        created = int((self.started_at or self.services.clock()).timestamp())
        data: list[dict[str, Any]] = [
            {
                "id": vid,
                "object": "model",
                "created": created,
                "owned_by": "locallama",
                "description": text,
            }
            for vid, text in VIRTUAL_MODELS.items()
        ]
        for m in self.services.index.models:
            if m.tier is Tier.UNKNOWN:
                continue
            data.append(
                {
                    "id": m.id,
                    "object": "model",
                    "created": m.created or created,
                    "owned_by": m.source.value
                    if m.source is not Source.OPENROUTER
                    else m.id.split("/", 1)[0],
                    "tier": m.tier.value,
                    "source": m.source.value,
                    "context_length": m.context_length,
                }
            )
        return {"object": "list", "data": data}

    # --- planning ---------------------------------------------------------------------------

    def plan(self, body: Any) -> Plan:
        """Check and route one chat request (CPU and a store write: run it off the loop)."""
        if not isinstance(body, Mapping):
            raise GatewayError(400, "the request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model.strip():
            raise GatewayError(400, "'model' is required (e.g. locallama/auto)", param="model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise GatewayError(400, "'messages' must be a non-empty list", param="messages")
        if not all(isinstance(m, Mapping) for m in messages):
            raise GatewayError(400, "every message must be an object", param="messages")
        stream = body.get("stream") is True
        options = _options(body)
        upstream = {k: v for k, v in body.items() if k not in ("locallama", "model", "messages")}
        upstream["stream"] = stream
        msgs = [dict(m) for m in messages]
        if model not in VIRTUAL_MODELS:
            if options:
                raise GatewayError(
                    400,
                    "the locallama options route a virtual model (locallama/auto, /free, "
                    "/local); a concrete model id is sent as asked",
                    param="locallama",
                )
            try:
                found = self.services.find_model(model)
            except UnknownModel as e:
                raise GatewayError(404, str(e), code="model_not_found", param="model") from None
            return Plan(model, upstream, msgs, None, (found.id,), self._category({}, body), stream)
        task, policy = self._task_policy(model, body, options)
        live = self.require_live()
        decision = self.services.route(
            task, policy, record=True, key_present=live.api_key is not None
        )
        if not decision.chain_ids:
            why = "; ".join(decision.why[:3]) or "no model passes the filters"
            raise GatewayError(
                400 if self.key_present or model != FREE else 503,
                f"no model can take this request: {why}",
                code="no_route",
            )
        return Plan(model, upstream, msgs, decision, decision.chain_ids, task.category, stream)

    @staticmethod
    def _category(options: Mapping[str, Any], body: Mapping[str, Any]) -> str:
        category = options.get("category")
        if category is not None:
            if category not in CATEGORIES:
                raise GatewayError(
                    400,
                    f"unknown category {category!r} (use {', '.join(CATEGORIES)})",
                    param="locallama.category",
                )
            return str(category)
        if has_images(body.get("messages") or ()):
            return "vision"
        if "```" in message_text(body.get("messages") or ()):
            return "code"
        return "chat"

    def _task_policy(
        self, model: str, body: Mapping[str, Any], options: Mapping[str, Any]
    ) -> tuple[Task, Policy]:
        category = self._category(options, body)
        try:
            priority = (
                Priority(options["priority"])
                if "priority" in options
                else self.services.default_priority()
            )
        except ValueError:
            raise GatewayError(
                400,
                f"unknown priority {options['priority']!r} (use "
                f"{', '.join(p.value for p in Priority)})",
                param="locallama.priority",
            ) from None
        task = Task(
            prompt=message_text(body["messages"]),
            output_tokens=_output_tokens(body),
            category=category,
            capabilities=needs_of(body),
            priority=priority,
            images=image_count(body["messages"]),
        )
        overrides: dict[str, Any] = {}
        if "free_preference" in options:
            try:
                overrides["free_preference"] = FreePreference(options["free_preference"])
            except ValueError:
                raise GatewayError(
                    400,
                    f"unknown free_preference {options['free_preference']!r} (use "
                    f"{', '.join(p.value for p in FreePreference)})",
                    param="locallama.free_preference",
                ) from None
        if "budget_usd" in options:
            try:
                budget = Decimal(str(options["budget_usd"]))
            except ArithmeticError:
                budget = Decimal(-1)
            if not budget.is_finite() or budget < 0:
                raise GatewayError(
                    400, "budget_usd must be a non-negative amount", param="locallama.budget_usd"
                )
            overrides["budget_usd"] = budget
        if options.get("local_only") is True or model == LOCAL:
            overrides["local_only"] = True
        if model == FREE:
            overrides["free_preference"] = FreePreference.ONLY
            overrides["allow_paid"] = False
        return task, self.services.default_policy(**overrides)

    # --- running ----------------------------------------------------------------------------

    def runner(self) -> Runner:
        return Runner(
            self.require_live(),
            policy=self.run_policy,
            limits=self.limits,
            profile_refresh_s=PROFILE_REFRESH_S,
            write_behind=True,
        )

    async def run(
        self,
        plan: Plan,
        client: str,
        *,
        on_chunk: Any = None,
        on_attempt: Callable[[str], None] | None = None,
    ) -> RunResult:
        target: RouteDecision | Sequence[str] = plan.decision or plan.chain
        body = dict(plan.upstream)
        return await self.runner().run(
            target,
            plan.messages,
            request=body,
            on_chunk=on_chunk,
            on_attempt=on_attempt,
            category=plan.category,
            client=client,
        )

    def event(
        self,
        *,
        plan: Plan | None,
        asked: str,
        client: str,
        path: str,
        started: float,
        status: int,
        run: RunResult | None = None,
        error: str | None = None,
        streamed: bool = False,
    ) -> TrafficEvent:
        served = tier = None
        prompt = completion = None
        cost = baseline = None
        if run is not None:
            served = (run.result.model_used if run.result else None) or run.model_id
            tier = run.tier
            if run.result is not None and run.result.usage is not None:
                prompt = run.result.usage.prompt_tokens
                completion = run.result.usage.completion_tokens
            cost = run.cost_usd
            baseline = run.baseline_cost_usd
            error = error or run.error
        return TrafficEvent(
            ts=self.services.clock(),
            client=client,
            path=path,
            asked=asked,
            served=served,
            tier=tier,
            status=status,
            streamed=streamed,
            latency_ms=(time.perf_counter() - started) * 1000,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=cost,
            baseline_cost_usd=baseline,
            error=error,
        )


def failure(run: RunResult) -> GatewayError:
    """The HTTP error for a run that failed before anything reached the client."""
    message = run.error or "the request failed"
    sent = [a for a in run.attempts if a.outcome != SKIPPED]
    skips = " ".join(a.error or "" for a in run.attempts if a.outcome == SKIPPED)
    if not sent:
        if "spend cap" in skips or "paid fallback refused" in skips:
            return GatewayError(402, message, kind="insufficient_quota", code="spend_cap")
        if "limit reached" in skips:
            return GatewayError(429, message, kind="rate_limit_error", code="free_quota")
        return GatewayError(503, message, kind="server_error", code="no_model_available")
    if all(a.outcome == RATE_LIMITED for a in sent):
        return GatewayError(429, message, kind="rate_limit_error", code="rate_limited")
    last = sent[-1]
    if last.error_kind and "Timeout" in last.error_kind:
        return GatewayError(504, message, kind="server_error", code="upstream_timeout")
    return GatewayError(502, message, kind="server_error", code="upstream_error")


def response_headers(plan: Plan, run: RunResult, services: Services) -> dict[str, str]:
    """What served and what it cost, for every successful response."""
    served = (run.result.model_used if run.result else None) or run.model_id or ""
    headers = {
        "x-locallama-model": served,
        "x-locallama-routed-model": run.model_id or "",
        "x-locallama-tier": run.tier or plan.served_tier(services, run.model_id) or "unknown",
        "x-locallama-asked": plan.asked,
    }
    if run.ok:
        cost = run.cost_usd
        headers["x-locallama-cost-usd"] = "unknown" if cost is None else decimal_str(cost)
        if run.baseline_cost_usd is not None:
            headers["x-locallama-baseline-cost-usd"] = decimal_str(run.baseline_cost_usd)
    return headers


def with_model(chunk: Mapping[str, Any], model_id: str | None) -> dict[str, Any]:
    """``chunk`` with ``model`` naming the model that served (the upstream's own name)."""
    out = dict(chunk)
    if not out.get("model") and model_id:
        out["model"] = model_id
    return out


def meaningful(chunk: Mapping[str, Any]) -> bool:
    """Whether a chunk carries anything (a role-only first chunk does not: holding it back
    keeps the fallback open until the model really answers)."""
    if chunk.get("usage"):
        return True
    for choice in chunk.get("choices") or ():
        if not isinstance(choice, Mapping):
            continue
        if choice.get("finish_reason"):
            return True
        delta = choice.get("delta") if isinstance(choice.get("delta"), Mapping) else {}
        for key in ("content", "tool_calls", "function_call", "refusal", "reasoning"):
            if delta.get(key):
                return True
        if delta.get("reasoning_content"):
            return True
    return False


__all__ = [
    "AUTO",
    "FREE",
    "LOCAL",
    "VIRTUAL_MODELS",
    "Gateway",
    "GatewayError",
    "Plan",
    "TrafficEvent",
    "bearer",
    "client_name",
    "failure",
    "meaningful",
    "needs_of",
    "response_headers",
    "token_matches",
    "with_model",
]
