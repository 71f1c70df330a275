"""OpenAI-compatible local servers (llama.cpp ``llama-server``, vLLM and others)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from decimal import Decimal
from typing import Any

import httpx

from locallama_gui.core.catalogue import parse_openai_models
from locallama_gui.core.models import ParseResult, Source

from .http import HttpClient, HttpPolicy
from .openai_format import (
    chat_body,
    openai_chat_raw,
    openai_chat_stream,
    result_from_completion,
    with_usage,
)
from .results import COST_COMPUTED, ChatResult, Health, HealthState, parse_off_loop

Message = Mapping[str, Any]


def strip_v1(base_url: str) -> str:
    """``http://host:8000/v1`` -> ``http://host:8000`` (paths are added per request)."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def local_cost(result: ChatResult) -> ChatResult:
    """A local model costs exactly $0 (unless the server itself reported a cost)."""
    if result.cost_usd is not None:
        return result
    from dataclasses import replace

    return replace(result, cost_usd=Decimal("0"), cost_source=COST_COMPUTED)


class OpenAICompatClient:
    """A server speaking the OpenAI API under ``/v1`` (llama.cpp, vLLM, ...).

    ``source`` names the server kind; with ``Source.OPENAI_COMPAT`` the model list's
    ``owned_by`` decides (``llamacpp``, ``vllm``, ...) and :meth:`models` updates ``source``.
    ``api_key`` is optional (llama.cpp and vLLM ``--api-key``).
    """

    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        policy: HttpPolicy | None = None,
        *,
        source: Source = Source.OPENAI_COMPAT,
        api_key: str | None = None,
    ) -> None:
        self.http = HttpClient(strip_v1(base_url), client, policy)
        self.source = source
        self._api_key = api_key

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, source={self.source.value!r})"

    async def models(self) -> ParseResult:
        """``GET /v1/models`` (llama.cpp ``meta.n_ctx_train``, vLLM ``max_model_len``)."""
        url = self.http.url("/v1/models")
        payload = await self.http.get_json("/v1/models", secret=self._api_key)
        result = await parse_off_loop(
            parse_openai_models, payload, url, server_url=self.base_url, source=self.source
        )
        if self.source is Source.OPENAI_COMPAT and result.models:
            # The list told which server this is (owned_by): label later results with it.
            self.source = result.models[0].source
        return result

    async def health(self) -> Health:
        """``GET /health``: 200 ok, 503 loading (llama.cpp), 404 unknown; not retried.

        Connection failures raise (``Unreachable``, ``SourceTimeout``).
        """
        raw = await self.http.request(
            "GET", "/health", raise_for_status=False, retry=False, expect_json=False
        )
        detail = None
        if isinstance(raw.data, Mapping):
            err = raw.data.get("error")
            if isinstance(err, Mapping):
                detail = str(err.get("message") or "") or None
            elif isinstance(raw.data.get("status"), str):
                detail = raw.data["status"]
        if 200 <= raw.status < 300:
            state = HealthState.OK
        elif raw.status == 503:
            state = HealthState.LOADING
        elif raw.status in (404, 405):
            state = HealthState.UNKNOWN
        else:
            state = HealthState.ERROR
        return Health(state=state, status=raw.status, detail=detail)

    def _chat_path(self) -> str:
        return "/v1/chat/completions"

    async def chat(
        self,
        model: str,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        **extra: Any,
    ) -> ChatResult:
        body = chat_body(
            model, [dict(m) for m in messages], max_tokens=max_tokens, stream=False, extra=extra
        )
        raw = await self.http.post_json(
            self._chat_path(),
            body,
            secret=self._api_key,
            timeout_s=self.http.policy.generation_timeout,
        )
        result = result_from_completion(
            raw.data,
            http=self.http,
            url=raw.url,
            source=self.source,
            requested_model=model,
            latency_ms=raw.elapsed_ms,
            secrets=(self._api_key,) if self._api_key else (),
        )
        return local_cost(result)

    async def chat_stream(
        self,
        model: str,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        **extra: Any,
    ) -> AsyncIterator[str | ChatResult]:
        """Stream (SSE): text deltas, then one final :class:`ChatResult`."""
        extra = {"stream_options": {"include_usage": True}, **extra}
        body = chat_body(
            model, [dict(m) for m in messages], max_tokens=max_tokens, stream=True, extra=extra
        )
        stream = openai_chat_stream(
            self.http,
            self._chat_path(),
            body,
            source=self.source,
            secret=self._api_key,
            requested_model=model,
        )
        async with aclosing(stream) as items:
            async for item in items:
                yield local_cost(item) if isinstance(item, ChatResult) else item

    async def chat_raw(
        self, body: Mapping[str, Any]
    ) -> AsyncIterator[Mapping[str, Any] | ChatResult]:
        """Pass an OpenAI chat request through: the chunks (or the whole completion) as the
        server sent them, then a :class:`ChatResult` ($0: a local server)."""
        stream = openai_chat_raw(
            self.http,
            self._chat_path(),
            with_usage(body),
            source=self.source,
            secret=self._api_key,
        )
        async with aclosing(stream) as items:
            async for item in items:
                yield local_cost(item) if isinstance(item, ChatResult) else item
