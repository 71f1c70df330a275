"""The gateway's ASGI app (Starlette): OpenAI's ``/v1``, Anthropic's ``/v1/messages`` and the
``/api`` endpoints, every one behind the bearer token except ``GET /health``.

Starlette rather than FastAPI: the MCP SDK already brings Starlette and uvicorn (no new
dependency), a passthrough gateway takes arbitrary bodies that pydantic models would only copy,
and the OpenAPI document is short enough to write down (:mod:`.openapi`).

Every body, event and header the gateway sends is redacted as it is encoded (:func:`_json`,
:func:`_sse`, :func:`_headers`): the live OpenRouter key never reaches a client, even when an
upstream echoed it in a chunk (a chunk is passed through otherwise unchanged). A key an
answer streams in pieces of fewer than 8 characters per chunk is not caught here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from locallama_gui.core.redaction import redact, redact_known
from locallama_gui.gateway.openapi import openapi_document
from locallama_gui.gateway.service import (
    VIRTUAL_MODELS,
    Gateway,
    GatewayError,
    Plan,
    bearer,
    client_name,
    failure,
    meaningful,
    response_headers,
    token_matches,
    with_model,
)
from locallama_gui.services.runner import RunResult

log = logging.getLogger(__name__)

#: Largest request body taken (images inline as base64 can be big).
MAX_BODY_BYTES = 32 * 1024 * 1024
#: bodies up to this size are planned on the loop when no routing is needed (plan_request)
INLINE_PLAN_BYTES = 64 * 1024
#: Chunks buffered per stream between the upstream and a slow client.
STREAM_QUEUE = 256
PUBLIC_PATHS = frozenset({"/health"})


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    body = redact_known(json.dumps(data, ensure_ascii=False, separators=(",", ":"))).encode()
    return Response(body, status, headers=_headers(headers), media_type="application/json")


def _headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Response headers with secrets masked (model names come from the upstream)."""
    return {k: redact(v) for k, v in (headers or {}).items()}


def _error(err: GatewayError, *, anthropic_format: bool = False) -> Response:
    if anthropic_format:
        from locallama_gui.gateway import anthropic

        return _json(anthropic.anthropic_error(err.status, err.message), err.status, err.headers)
    return _json(err.body(), err.status, err.headers)


class TokenAuth:
    """Every request but ``/health`` needs ``Authorization: Bearer <token>`` (or Anthropic's
    ``x-api-key``); the header is checked here and never goes further upstream."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not token_matches(self.gateway.token, bearer(headers)):
            path = scope.get("path", "")
            err = GatewayError(
                401,
                "missing or wrong gateway token: send 'Authorization: Bearer <token>' "
                "(locallama gateway token prints it)",
                kind="authentication_error",
                code="invalid_token",
                headers={"www-authenticate": 'Bearer realm="locallama"'},
            )
            response = _error(err, anthropic_format=path.startswith("/v1/messages"))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def read_json(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise GatewayError(413, f"the request body is over {MAX_BODY_BYTES // 2**20} MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise GatewayError(413, f"the request body is over {MAX_BODY_BYTES // 2**20} MiB")
        chunks.append(chunk)
    raw = b"".join(chunks)
    request.state.body_size = size
    if not raw.strip():
        raise GatewayError(400, "the request body is empty; send a JSON object")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise GatewayError(400, f"the request body is not valid JSON ({e})") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise GatewayError(400, f"the request body cannot be read ({e})") from None


async def plan_request(gateway: Gateway, request: Request, body: Any) -> Plan:
    """Plan on the loop when that is cheaper than a thread hop (a concrete model: no routing,
    no store write; a small body; the routing index built), else in a worker thread."""
    size = getattr(request.state, "body_size", None)
    if (
        size is not None
        and size <= INLINE_PLAN_BYTES
        and isinstance(body, Mapping)
        and isinstance(body.get("model"), str)
        and body["model"] not in VIRTUAL_MODELS
        and gateway.services.index_ready
    ):
        return gateway.plan(body)
    return await asyncio.to_thread(gateway.plan, body)


def _sse(data: Mapping[str, Any]) -> bytes:
    return b"data: " + redact_known(json.dumps(data, separators=(",", ":"))).encode() + b"\n\n"


class StreamSession:
    """One streamed run: chunks flow from the runner's task to the response through a queue.

    Chunks that carry nothing (a role-only first chunk) are held back per attempt, so a model
    that fails before it says anything is replaced without the client seeing it. Closing the
    session (the client went away) cancels the run, which closes the upstream request.
    """

    def __init__(self, gateway: Gateway, plan: Plan, client: str) -> None:
        self.gateway = gateway
        self.plan = plan
        self.client = client
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(STREAM_QUEUE)
        self.pending: list[Mapping[str, Any]] = []
        self.model: str | None = None
        self.committed = False
        self.run_result: RunResult | None = None
        self.task = asyncio.create_task(self._run())

    def _attempt(self, model_id: str) -> None:
        self.pending.clear()
        self.model = model_id

    async def _chunk(self, chunk: Mapping[str, Any]) -> bool:
        if not self.committed and not meaningful(chunk):
            self.pending.append(chunk)
            return False
        batch, self.pending = [*self.pending, chunk], []
        for item in batch:
            await self.queue.put(("chunk", with_model(item, self.model)))
        self.committed = True
        return True

    async def _run(self) -> None:
        run: RunResult | None = None
        error: BaseException | None = None
        try:
            run = await self.gateway.run(
                self.plan, self.client, on_chunk=self._chunk, on_attempt=self._attempt
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:  # reported to the client as an error event, never lost
            log.exception("a gateway stream failed")
            error = e
        self.run_result = run
        await self.queue.put(("end", run if error is None else error))

    async def first(self) -> tuple[str, Any]:
        return await self.queue.get()

    def close(self) -> None:
        if not self.task.done():
            self.task.cancel()


async def _chat(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    started = time.perf_counter()
    client = client_name(request.headers.get("user-agent"))
    asked = "?"
    try:
        body = await read_json(request)
        if isinstance(body, Mapping) and isinstance(body.get("model"), str):
            asked = body["model"]
        plan = await plan_request(gateway, request, body)
    except GatewayError as err:
        gateway.report(
            gateway.event(
                plan=None,
                asked=asked,
                client=client,
                path=request.url.path,
                started=started,
                status=err.status,
                error=err.message,
            )
        )
        return _error(err)
    if plan.stream:
        return await _chat_stream(request, gateway, plan, client, started)
    completion: dict[str, Any] = {}

    async def keep(data: Mapping[str, Any]) -> bool:
        completion.clear()
        completion.update(data)
        return False

    run = await gateway.run(plan, client, on_chunk=keep)
    if not run.ok:
        err = failure(run)
        gateway.report(
            gateway.event(
                plan=plan,
                asked=plan.asked,
                client=client,
                path=request.url.path,
                started=started,
                status=err.status,
                run=run,
            )
        )
        return _error(err)
    headers = response_headers(plan, run, gateway.services)
    out = with_model(completion, headers["x-locallama-model"])
    gateway.report(
        gateway.event(
            plan=plan,
            asked=plan.asked,
            client=client,
            path=request.url.path,
            started=started,
            status=200,
            run=run,
        )
    )
    return _json(out, 200, headers)


async def _chat_stream(
    request: Request, gateway: Gateway, plan: Plan, client: str, started: float
) -> Response:
    session = StreamSession(gateway, plan, client)
    try:
        kind, value = await session.first()
    except asyncio.CancelledError:
        session.close()
        raise
    if kind == "end":
        if isinstance(value, BaseException):
            err = GatewayError(
                500, f"the gateway failed: {type(value).__name__}: {value}", kind="server_error"
            )
            run = None
        else:
            run = value
            err = failure(run) if not run.ok else GatewayError(502, "the model sent nothing")
        gateway.report(
            gateway.event(
                plan=plan,
                asked=plan.asked,
                client=client,
                path=request.url.path,
                started=started,
                status=err.status,
                run=run,
                streamed=True,
            )
        )
        return _error(err)
    first_chunk = value
    served = first_chunk.get("model") or session.model
    headers = {
        "x-locallama-model": str(served or ""),
        "x-locallama-routed-model": session.model or "",
        "x-locallama-tier": plan.served_tier(gateway.services, session.model) or "unknown",
        "x-locallama-asked": plan.asked,
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
    }

    async def body() -> AsyncIterator[bytes]:
        status = 200
        run: RunResult | None = None
        error: str | None = None
        try:
            yield _sse(first_chunk)
            while True:
                kind, value = await session.queue.get()
                if kind == "chunk":
                    yield _sse(value)
                    continue
                if isinstance(value, BaseException):
                    error = f"the gateway failed: {type(value).__name__}"
                    status = 500
                    yield _sse({"error": {"message": error, "type": "server_error"}})
                else:
                    run = value
                    if run.ok:
                        tail = response_headers(plan, run, gateway.services)
                        yield b": locallama " + redact_known(json.dumps(tail)).encode() + b"\n\n"
                    else:
                        err = failure(run)
                        status = err.status
                        error = run.error
                        yield _sse(err.body())
                yield b"data: [DONE]\n\n"
                break
        except (asyncio.CancelledError, GeneratorExit):
            status = 499  # the client went away: the run is cancelled with the stream
            error = "the client disconnected"
            raise
        finally:
            session.close()
            gateway.report(
                gateway.event(
                    plan=plan,
                    asked=plan.asked,
                    client=client,
                    path=request.url.path,
                    started=started,
                    status=status,
                    run=run or session.run_result,
                    error=error,
                    streamed=True,
                )
            )

    return StreamingResponse(body(), 200, headers=_headers(headers), media_type="text/event-stream")


# --- Anthropic Messages --------------------------------------------------------------------


async def _messages(request: Request) -> Response:
    from locallama_gui.gateway import anthropic

    gateway: Gateway = request.app.state.gateway
    started = time.perf_counter()
    client = client_name(request.headers.get("user-agent"))
    asked = "?"
    try:
        body = await read_json(request)
        if not isinstance(body, Mapping):
            raise GatewayError(400, "the request body must be a JSON object")
        asked = str(body.get("model") or "?")
        try:
            openai_body = anthropic.to_openai_request(body)
        except anthropic.AnthropicRequestError as e:
            raise GatewayError(400, str(e)) from None
        openai_body["model"] = _anthropic_model(gateway, asked)
        plan = await plan_request(gateway, request, openai_body)
    except GatewayError as err:
        gateway.report(
            gateway.event(
                plan=None,
                asked=asked,
                client=client,
                path=request.url.path,
                started=started,
                status=err.status,
                error=err.message,
            )
        )
        return _error(err, anthropic_format=True)
    if not plan.stream:
        completion: dict[str, Any] = {}

        async def keep(data: Mapping[str, Any]) -> bool:
            completion.clear()
            completion.update(data)
            return False

        run = await gateway.run(plan, client, on_chunk=keep)
        status = 200 if run.ok else failure(run).status
        gateway.report(
            gateway.event(
                plan=plan,
                asked=asked,
                client=client,
                path=request.url.path,
                started=started,
                status=status,
                run=run,
            )
        )
        if not run.ok:
            return _error(failure(run), anthropic_format=True)
        headers = response_headers(plan, run, gateway.services)
        message = anthropic.to_anthropic_response(completion, model=headers["x-locallama-model"])
        return _json(message, 200, headers)
    session = StreamSession(gateway, plan, client)
    try:
        kind, value = await session.first()
    except asyncio.CancelledError:
        session.close()
        raise
    if kind == "end":
        run = value if isinstance(value, RunResult) else None
        err = (
            failure(run)
            if run is not None and not run.ok
            else GatewayError(502, "the model sent nothing", kind="api_error")
        )
        gateway.report(
            gateway.event(
                plan=plan,
                asked=asked,
                client=client,
                path=request.url.path,
                started=started,
                status=err.status,
                run=run,
                streamed=True,
            )
        )
        return _error(err, anthropic_format=True)
    first_chunk = value
    translator = anthropic.AnthropicStream(str(first_chunk.get("model") or session.model or asked))

    async def body() -> AsyncIterator[bytes]:
        status = 200
        run: RunResult | None = None
        error: str | None = None
        try:
            for event, data in translator.feed(first_chunk):
                yield anthropic.sse_encode(event, data)
            while True:
                kind, value = await session.queue.get()
                if kind == "chunk":
                    for event, data in translator.feed(value):
                        yield anthropic.sse_encode(event, data)
                    continue
                if isinstance(value, RunResult) and value.ok:
                    run = value
                    for event, data in translator.finish():
                        yield anthropic.sse_encode(event, data)
                else:
                    run = value if isinstance(value, RunResult) else None
                    error = run.error if run is not None else "the gateway failed"
                    status = failure(run).status if run is not None else 500
                    event, data = translator.error_event(error or "the request failed")
                    yield anthropic.sse_encode(event, data)
                break
        except (asyncio.CancelledError, GeneratorExit):
            status, error = 499, "the client disconnected"
            raise
        finally:
            session.close()
            gateway.report(
                gateway.event(
                    plan=plan,
                    asked=asked,
                    client=client,
                    path=request.url.path,
                    started=started,
                    status=status,
                    run=run or session.run_result,
                    error=error,
                    streamed=True,
                )
            )

    headers = {
        "x-locallama-model": str(first_chunk.get("model") or session.model or ""),
        "x-locallama-tier": plan.served_tier(gateway.services, session.model) or "unknown",
        "cache-control": "no-cache",
    }
    return StreamingResponse(body(), 200, headers=_headers(headers), media_type="text/event-stream")


def _anthropic_model(gateway: Gateway, asked: str) -> str:
    """A Claude model name routes as ``locallama/auto`` unless it is a catalogue id (Claude
    Code sends names like ``claude-sonnet-4-5``); ``locallama/...`` and catalogue ids stay."""
    if asked.startswith("locallama/") or asked in gateway.services.index.by_id:
        return asked
    prefixed = f"anthropic/{asked}"
    if prefixed in gateway.services.index.by_id:
        return prefixed
    return "locallama/auto"


async def _count_tokens(request: Request) -> Response:
    from locallama_gui.core.tokens import estimate_tokens, model_tokenizer
    from locallama_gui.gateway import anthropic

    gateway: Gateway = request.app.state.gateway
    try:
        body = await read_json(request)
        if not isinstance(body, Mapping):
            raise GatewayError(400, "the request body must be a JSON object")
    except GatewayError as err:
        return _error(err, anthropic_format=True)
    text = anthropic.count_tokens_text(body)
    model_id = _anthropic_model(gateway, str(body.get("model") or ""))
    j = gateway.services.index.by_id.get(model_id)
    tokenizer = model_tokenizer(gateway.services.index.models[j]) if j is not None else "Claude"
    estimate = await asyncio.to_thread(estimate_tokens, text, tokenizer)
    return _json({"input_tokens": estimate.tokens})


# --- the rest ------------------------------------------------------------------------------


async def _health(request: Request) -> Response:
    return _json({"status": "ok"})


async def _models(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    return _json(await asyncio.to_thread(gateway.model_list))


async def _model(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    model_id = request.path_params["model_id"]
    listing = await asyncio.to_thread(gateway.model_list)
    for row in listing["data"]:
        if row["id"] == model_id:
            return _json(row)
    return _error(GatewayError(404, f"model {model_id!r} is not known", code="model_not_found"))


async def _openapi(request: Request) -> Response:
    return _json(openapi_document())


async def _api_call(request: Request, fn: Callable[..., Any], *, body: bool) -> Response:
    gateway: Gateway = request.app.state.gateway
    try:
        payload = await read_json(request) if body else dict(request.query_params)
        if not isinstance(payload, Mapping):
            raise GatewayError(400, "the request body must be a JSON object")
        result = await fn(gateway, payload)
    except GatewayError as err:
        return _error(err)
    except (ValueError, LookupError) as e:
        return _error(GatewayError(400, str(e).strip("'\"")))
    return _json(result)


def _api(name: str, *, body: bool) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        from locallama_gui.gateway import api

        return await _api_call(request, getattr(api, name), body=body)

    return handler


def create_app(gateway: Gateway, *, mounts: Sequence[tuple[str, ASGIApp]] = ()) -> Starlette:
    """The ASGI app. ``mounts`` adds apps at a path (the MCP server at ``/mcp``); they are
    behind the token too. Starting it (lifespan) starts the gateway's live services."""
    routes: list[BaseRoute] = [
        Route("/health", _health, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
        Route("/v1/models", _models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", _model, methods=["GET"]),
        Route("/v1/chat/completions", _chat, methods=["POST"]),
        Route("/v1/messages", _messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", _count_tokens, methods=["POST"]),
        Route("/api/free-models", _api("free_models", body=False), methods=["GET"]),
        Route("/api/models", _api("models", body=False), methods=["GET"]),
        Route("/api/refresh", _api("refresh", body=False), methods=["POST"]),
        Route("/api/cost", _api("cost", body=True), methods=["POST"]),
        Route("/api/route", _api("route", body=True), methods=["POST"]),
        Route("/api/spend", _api("spend", body=False), methods=["GET"]),
        Route("/api/status", _api("status", body=False), methods=["GET"]),
        Route("/api/traffic", _api("traffic", body=False), methods=["GET"]),
    ]
    lifespans = []
    for path, sub in mounts:
        # the app sees the full path and answers at ``path`` itself (streamable HTTP has one
        # URL); a Mount would strip it and redirect "/mcp" to "/mcp/"
        routes.append(Route(path, endpoint=sub))
        lifespan = getattr(sub, "router", None)
        if lifespan is not None and getattr(lifespan, "lifespan_context", None) is not None:
            lifespans.append(lifespan.lifespan_context)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        async with contextlib.AsyncExitStack() as stack:
            for ctx in lifespans:
                await stack.enter_async_context(ctx(app))
            try:
                yield
            finally:
                await gateway.aclose()

    async def unexpected(request: Request, exc: Exception) -> Response:
        # The last line of defence: logged with its traceback, answered in the API's shape.
        log.error("the gateway failed on %s %s", request.method, request.url.path, exc_info=exc)
        err = GatewayError(
            500,
            f"the gateway failed: {type(exc).__name__} (details are in the app's log)",
            kind="server_error",
        )
        return _error(err, anthropic_format=request.url.path.startswith("/v1/messages"))

    app = Starlette(
        routes=routes,
        middleware=[Middleware(TokenAuth, gateway=gateway)],
        exception_handlers={Exception: unexpected},
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    return app


__all__ = ["MAX_BODY_BYTES", "StreamSession", "TokenAuth", "create_app", "read_json"]
