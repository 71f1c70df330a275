"""The MCP server: ``locallama mcp`` (stdio) and ``/mcp`` on the gateway (streamable HTTP).

Every tool returns the document of :mod:`locallama_gui.services.operations` (the JSON of the
matching ``locallama ... --json``) or of the runner and benchmark services; nothing is computed
here. Blocking work (SQLite, routing over the catalogue) runs in worker threads, so one slow
call never holds up the session's other requests. Every answer, error and progress message is
redacted (:func:`_served`, :func:`_tool_error`): the live API key never reaches a client,
whatever upstream echoed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources import ResourceSecurity
from mcp_types import ToolAnnotations
from pydantic import Field

from locallama_gui import __version__
from locallama_gui.core.benchmarks import builtin_suite, select_tasks
from locallama_gui.core.redaction import redact, redact_data, redact_known
from locallama_gui.core.routing import CAPABILITIES, CATEGORIES
from locallama_gui.services import operations
from locallama_gui.services.benchmark import (
    DEFAULT_MAX_USD,
    BenchmarkOptions,
    BenchmarkProgress,
    BenchmarkRunner,
)
from locallama_gui.services.facade import Services, UnknownModel
from locallama_gui.services.live import Endpoint, LiveServices, configured_endpoints
from locallama_gui.services.refresh import RefreshService
from locallama_gui.services.runner import Runner, RunPolicy
from locallama_gui.services.spend import SpendLimits
from locallama_gui.store.db import StoreError

log = logging.getLogger(__name__)

CLIENT_NAME = "mcp"
CANCEL_WAIT_S = 10.0
T = TypeVar("T")

INSTRUCTIONS = """\
LocaLLama Router knows every model you can reach (local Ollama / LM Studio / llama.cpp / vLLM
servers, OpenRouter's free models, paid OpenRouter models), what each costs, how well each did
on real runs, and how much of the free quota is left today. Use it to offload work that does
not need you: call run_task with a self-contained prompt (a summary, a draft, a test, a
conversion) and it is routed to the cheapest model good enough for it, free or local first,
falling back along a chain when one is rate-limited or down. Use route_task or estimate_cost
first when you only want to know where a task would go and what it would cost. Amounts are
USD strings, exact; a null amount means unknown, never free."""

Category = Literal[
    "chat", "code", "reasoning", "math", "extraction", "writing", "long-context", "vision"
]
Capability = Literal["tools", "json", "vision", "reasoning"]
PriorityName = Literal["cost", "balanced", "quality", "speed"]
FreeName = Literal["prefer", "only", "avoid", "off"]
BenchCategory = Literal[
    "chat", "code", "reasoning", "math", "extraction", "writing", "long-context"
]
SourceName = Literal["openrouter", "ollama", "lmstudio", "llamacpp", "vllm", "openai_compat"]


class McpContext:
    """What the tools share: the services, the endpoints and one live client per loop."""

    def __init__(
        self,
        services: Services,
        endpoints: Sequence[Endpoint],
        api_key_provider: Callable[[], str | None],
        limits: SpendLimits | None = None,
    ) -> None:
        self.services = services
        self.endpoints = tuple(endpoints)
        self.api_key_provider = api_key_provider
        self.limits = limits
        self._live: LiveServices | None = None
        self._live_loop: asyncio.AbstractEventLoop | None = None

    def api_key(self) -> str | None:
        try:
            return self.api_key_provider()
        except Exception as e:  # a locked keyring: run without OpenRouter, say so in status
            log.warning("the OpenRouter key could not be read: %s", e)
            return None

    async def live(self) -> LiveServices:
        loop = asyncio.get_running_loop()
        if self._live is None or self._live_loop is not loop:
            key = await asyncio.to_thread(self.api_key)
            self._live = LiveServices(self.services, endpoints=self.endpoints, api_key=key)
            self._live_loop = loop
        return self._live

    async def aclose(self) -> None:
        if self._live is not None:
            with contextlib.suppress(Exception):
                await self._live.aclose()
        self._live = None


def _body(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _served(doc: T) -> T:
    """What a tool answers, with the live API key masked in every string (an answer's text
    only changes when it holds the key)."""
    return redact_data(doc)


def _tool_error(text: str) -> ToolError:
    return ToolError(redact(text))


async def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A services call off the loop; bad input and unreadable data become tool errors."""
    try:
        return _served(await asyncio.to_thread(fn, *args, **kwargs))
    except UnknownModel as e:
        raise _tool_error(str(e).strip("'\"")) from None
    except (ValueError, LookupError) as e:
        raise _tool_error(str(e)) from None
    except StoreError as e:
        raise _tool_error(f"the local database could not be read: {e}") from None


async def _insulated(work: Awaitable[T]) -> T:
    """Await ``work`` in a task of its own, so a cancelled call cancels it once, the asyncio
    way. The SDK cancels a call with an anyio scope, which cancels every later await in it
    too, and that would interrupt the clean-up (closing the upstream request) halfway."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.cancel()
        with anyio.CancelScope(shield=True):
            await asyncio.wait({task}, timeout=CANCEL_WAIT_S)
        raise


def _stored_key() -> str | None:
    """The OpenRouter key from the environment or the system keyring (None when it cannot be
    read: local models still work, and get_status says the key is missing)."""
    from locallama_gui.secrets import KeyStore, KeyStoreError

    try:
        return KeyStore().get_sync()
    except KeyStoreError as e:
        log.warning("the OpenRouter key could not be read: %s", e.user_message)
        return None


def build_server(
    *,
    services: Services,
    openrouter_url: str | None = None,
    ollama_url: str | None = None,
    lmstudio_url: str | None = None,
    server_urls: Sequence[str] | None = None,
    api_key_provider: Callable[[], str | None] | None = None,
    limits: SpendLimits | None = None,
) -> MCPServer:
    """The server with its tools and resources over ``services``."""
    if api_key_provider is None:
        api_key_provider = _stored_key
    endpoints = configured_endpoints(
        services.settings,
        openrouter_url=openrouter_url,
        ollama_url=ollama_url,
        lmstudio_url=lmstudio_url,
        server_urls=server_urls,
    )
    ctx = McpContext(services, endpoints, api_key_provider, limits)

    @contextlib.asynccontextmanager
    async def lifespan(server: MCPServer) -> Any:
        try:
            yield ctx
        finally:
            await ctx.aclose()

    mcp = MCPServer(
        "locallama",
        title="LocaLLama Router",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
        log_level="WARNING",
    )
    read_only = ToolAnnotations(readOnlyHint=True, openWorldHint=False)

    # --- routing and cost ---------------------------------------------------------------

    @mcp.tool(
        title="Route a task",
        annotations=read_only,
        description="Decide which model a task should go to, without running it: the chosen "
        "model, the fallback chain, why, the estimated cost in USD and the free requests left "
        "today. Give the task text (best: it is sized with the model's tokenizer) or its "
        "prompt_tokens.",
    )
    async def route_task(
        task: Annotated[str | None, Field(description="the task or prompt text")] = None,
        prompt_tokens: Annotated[
            int | None, Field(ge=0, description="the prompt's size, instead of its text")
        ] = None,
        output_tokens: Annotated[
            int | None, Field(ge=0, description="the expected answer length (default 512)")
        ] = None,
        category: Annotated[Category | None, Field(description="the kind of task")] = None,
        capabilities: Annotated[
            list[Capability] | None,
            Field(description="what the model must support (tools, json, vision, reasoning)"),
        ] = None,
        priority: Annotated[
            PriorityName | None, Field(description="what matters most (default from settings)")
        ] = None,
        free_preference: Annotated[
            FreeName | None,
            Field(description="prefer free models, only free ones, avoid them, or no preference"),
        ] = None,
        budget_usd: Annotated[
            str | None, Field(description="the most this one task may cost, in USD")
        ] = None,
        local_only: Annotated[bool | None, Field(description="only local models")] = None,
        allow_paid: Annotated[bool | None, Field(description="false: never a paid model")] = None,
        images: Annotated[
            int | None, Field(ge=0, description="images sent with the task (billed per image)")
        ] = None,
    ) -> dict[str, Any]:
        body = _body(
            prompt=task,
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            category=category,
            capabilities=capabilities,
            priority=priority,
            free_preference=free_preference,
            budget_usd=budget_usd,
            local_only=local_only,
            allow_paid=allow_paid,
            images=images,
        )
        key = await asyncio.to_thread(ctx.api_key)
        return await _call(
            operations.route_document_from, services, body, key_present=key is not None
        )

    @mcp.tool(
        title="Estimate a cost",
        annotations=read_only,
        description="The exact cost in USD of one request to a model, from its list prices "
        "(special pricing such as long-context rates included). A free or local model costs "
        'exactly "0", with its free-tier limits. Give prompt_tokens or the prompt text.',
    )
    async def estimate_cost(
        model: Annotated[str, Field(description="a model id, e.g. openai/gpt-4o-mini")],
        prompt_tokens: Annotated[int | None, Field(ge=0)] = None,
        completion_tokens: Annotated[int, Field(ge=0)] = 0,
        reasoning_tokens: Annotated[
            int, Field(ge=0, description="of the completion tokens, how many are reasoning")
        ] = 0,
        cached_tokens: Annotated[
            int, Field(ge=0, description="of the prompt tokens, how many are read from cache")
        ] = 0,
        text: Annotated[
            str | None, Field(description="the prompt text, counted with the model's tokenizer")
        ] = None,
        requests_per_day: Annotated[
            int | None, Field(ge=1, description="also project the cost per day and month")
        ] = None,
        images: Annotated[int, Field(ge=0, description="images, billed per image")] = 0,
    ) -> dict[str, Any]:
        body = _body(
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            reasoning_tokens=reasoning_tokens,
            cached_tokens=cached_tokens,
            text=text,
            requests_per_day=requests_per_day,
            images=images,
        )
        return await _call(operations.cost_document_from, services, body)

    # --- the catalogue ------------------------------------------------------------------

    model_filters = (
        "Each model comes with its context length, capabilities, prices, the quality routing "
        "predicts for the category with its lower bound and what it rests on (observed runs, "
        "benchmarks, the base model's, an estimate from the model's facts, or nothing), and "
        "what real runs and benchmarks observed (success rate, latency, graded quality). "
        "free_quota says how many free requests are left today."
    )

    @mcp.tool(
        title="List the free models",
        annotations=read_only,
        description="OpenRouter's free models (no cost, shared daily and per-minute limits). "
        + model_filters,
    )
    async def list_free_models(
        search: Annotated[str | None, Field(description="text in the id or name")] = None,
        min_context: Annotated[int | None, Field(ge=0)] = None,
        category: Annotated[
            Category | None, Field(description="the category the quality is for (chat)")
        ] = None,
    ) -> dict[str, Any]:
        return await _call(
            operations.models_document,
            services,
            free_only=True,
            search=search,
            min_context=min_context,
            category=category,
        )

    @mcp.tool(
        title="List models",
        annotations=read_only,
        description="Every model in the catalogue, filtered like `locallama models`. "
        + model_filters,
    )
    async def list_models(
        tier: Annotated[
            list[Literal["local", "free", "paid", "variable"]] | None,
            Field(description="only these tiers"),
        ] = None,
        source: Annotated[
            list[SourceName] | None,
            Field(description="only these sources"),
        ] = None,
        search: Annotated[str | None, Field(description="text in the id or name")] = None,
        min_context: Annotated[int | None, Field(ge=0)] = None,
        category: Annotated[Category | None, Field(description="the quality's category")] = None,
    ) -> dict[str, Any]:
        return await _call(
            operations.models_document,
            services,
            tiers=tier,
            sources=source,
            search=search,
            min_context=min_context,
            category=category,
        )

    @mcp.tool(
        title="Refresh the models",
        annotations=ToolAnnotations(readOnlyHint=False, idempotentHint=True, openWorldHint=True),
        description="Fetch the models of every source now (OpenRouter and the local servers) "
        "and store them; returns each source's state and what changed (added, removed, "
        "repriced models).",
    )
    async def refresh_models() -> dict[str, Any]:
        live = await ctx.live()
        result = await _insulated(RefreshService(live).refresh())
        return _served(result.to_dict())

    # --- running ------------------------------------------------------------------------

    @mcp.tool(
        title="Run a task on the best cheap model",
        annotations=ToolAnnotations(readOnlyHint=False, openWorldHint=True),
        description="Offload a self-contained task: it is routed (free and local models first "
        "when they are good enough) and run along the fallback chain. Returns the answer, the "
        "model that served, the tokens, the real cost in USD and what the baseline model "
        "would have cost. Spend caps in the settings are enforced before any paid call.",
    )
    async def run_task(
        task: Annotated[str, Field(description="the complete prompt; it is sent as is")],
        category: Annotated[Category | None, Field(description="the kind of task")] = None,
        capabilities: Annotated[list[Capability] | None, Field()] = None,
        priority: Annotated[PriorityName | None, Field()] = None,
        free_preference: Annotated[FreeName | None, Field()] = None,
        budget_usd: Annotated[
            str | None, Field(description="the most this task may cost, in USD")
        ] = None,
        local_only: Annotated[bool | None, Field()] = None,
        allow_paid: Annotated[bool | None, Field(description="false: never a paid model")] = None,
        max_tokens: Annotated[
            int | None, Field(ge=1, description="the completion limit sent to the model")
        ] = None,
        output_tokens: Annotated[
            int | None, Field(ge=0, description="the expected answer length, for routing")
        ] = None,
    ) -> dict[str, Any]:
        if not task.strip():
            raise ToolError("the task is empty; give the complete prompt")
        body = _body(
            prompt=task,
            output_tokens=output_tokens,
            category=category,
            capabilities=capabilities,
            priority=priority,
            free_preference=free_preference,
            budget_usd=budget_usd,
            local_only=local_only,
            allow_paid=allow_paid,
        )
        live = await ctx.live()

        def decide() -> Any:
            t = operations.task_from(services, body)
            policy = operations.policy_from(services, body)
            return t, services.route(t, policy, record=True, key_present=live.api_key is not None)

        t, decision = await _call(decide)
        if not decision.chain_ids:
            why = "; ".join(decision.why[:3])
            hint = "" if live.api_key else " (no OpenRouter key is set, so OpenRouter is out)"
            raise _tool_error(f"no model can take this task{hint}: {why}")
        runner = Runner(
            live,
            policy=RunPolicy(max_tokens=max_tokens),
            limits=ctx.limits or SpendLimits.from_settings(services),
            client=CLIENT_NAME,
        )
        result = await _insulated(runner.run(decision, t.prompt or "", category=t.category))
        out = result.to_dict()
        out["chain"] = list(decision.chain_ids)
        out["why"] = list(decision.why)
        return _served(out)

    @mcp.tool(
        title="Benchmark models",
        annotations=ToolAnnotations(readOnlyHint=False, openWorldHint=True),
        description="Run the built-in graded tasks on the chosen models and store the results "
        "routing learns from. Free models stay within the free quota (free_reserve requests "
        "are left for other work); paid models are run only within max_usd (default 0.50). "
        "Reports progress after each task; cancelling stops it and keeps what was done.",
    )
    async def benchmark_models(
        models: Annotated[list[str], Field(min_length=1, description="model ids")],
        context: Context,
        categories: Annotated[
            list[BenchCategory] | None,
            Field(description="only the tasks of these categories"),
        ] = None,
        max_usd: Annotated[
            str | None, Field(description="spending cap for paid models, in USD")
        ] = None,
        free_reserve: Annotated[
            int, Field(ge=0, description="free requests of the day to leave unused")
        ] = 0,
    ) -> dict[str, Any]:
        try:
            cap = operations.parse_usd(max_usd, "max_usd")
        except ValueError as e:
            raise ToolError(str(e)) from None
        tasks = select_tasks(builtin_suite(), categories or None, None)
        if not tasks:
            raise ToolError("no built-in task is in these categories")
        live = await ctx.live()
        runner = BenchmarkRunner(
            live,
            options=BenchmarkOptions(
                max_usd=DEFAULT_MAX_USD if cap is None else cap,
                free_reserve=free_reserve,
            ),
        )
        updates: asyncio.Queue[BenchmarkProgress | None] = asyncio.Queue()

        async def pump() -> None:
            while (p := await updates.get()) is not None:
                quality = "" if p.quality is None else f", quality {p.quality:.2f}"
                message = redact(f"{p.model_id} / {p.task_id}: {p.outcome}{quality}")
                with contextlib.suppress(Exception):  # a client gone away: keep running
                    await context.report_progress(p.done, p.total, message)

        pumping = asyncio.create_task(pump())
        try:
            report = await _insulated(runner.run(models, tasks, progress=updates.put_nowait))
        except UnknownModel as e:
            raise _tool_error(str(e).strip("'\"")) from None
        except ValueError as e:
            raise _tool_error(str(e)) from None
        finally:
            updates.put_nowait(None)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(pumping, 2.0)
        return _served(report.to_dict())

    @mcp.tool(
        title="Status",
        annotations=read_only,
        description="Which sources are up or down, whether an OpenRouter key is present, the "
        "free requests used and left today, and the spend today and this month with the caps.",
    )
    async def get_status() -> dict[str, Any]:
        live = await ctx.live()
        return _served(await _insulated(operations.probe_status_document(services, live)))

    # --- resources ----------------------------------------------------------------------

    def dumps(doc: Any) -> str:
        return redact_known(json.dumps(doc, indent=1, ensure_ascii=False))

    @mcp.resource(
        "locallama://models",
        name="models",
        title="Every model",
        description="The catalogue with prices, quality and observed figures (list_models).",
        mime_type="application/json",
    )
    async def models_resource() -> str:
        return dumps(await _call(operations.models_document, services))

    @mcp.resource(
        "locallama://free-models",
        name="free-models",
        title="The free models",
        description="OpenRouter's free models and the free requests left today.",
        mime_type="application/json",
    )
    async def free_models_resource() -> str:
        return dumps(await _call(operations.models_document, services, free_only=True))

    @mcp.resource(
        "locallama://models/{+model_id}",
        name="model",
        title="One model",
        description="One model by id (ids contain a slash: locallama://models/openai/gpt-4o).",
        mime_type="application/json",
        security=ResourceSecurity(exempt_params={"model_id"}),
    )
    async def model_resource(model_id: str) -> str:
        def one() -> dict[str, Any]:
            return operations.model_document(services, services.find_model(model_id))

        return dumps(await _call(one))

    @mcp.resource(
        "locallama://quota",
        name="quota",
        title="The free quota",
        description="Free requests used and left this minute and this UTC day.",
        mime_type="application/json",
    )
    async def quota_resource() -> str:
        return dumps(await _call(operations.quota_document, services))

    return mcp


def run_stdio(server: MCPServer) -> None:
    """Serve on stdin/stdout until the client closes them."""
    server.run("stdio")


def streamable_http_app(server: MCPServer, path: str = "/mcp") -> Any:
    """The streamable HTTP app, answering at ``path`` (the gateway routes that path to it,
    behind its token)."""
    return server.streamable_http_app(streamable_http_path=path)


__all__ = [
    "CAPABILITIES",
    "CATEGORIES",
    "INSTRUCTIONS",
    "McpContext",
    "build_server",
    "run_stdio",
    "streamable_http_app",
]
