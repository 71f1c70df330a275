"""LM Studio: model list (REST v0, falling back to ``/v1/models``) and chat with stats."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any

import httpx

from locallama_gui.core.catalogue import parse_lmstudio_models
from locallama_gui.core.models import ParseResult, Source

from .errors import NotFoundError
from .http import HttpClient, HttpPolicy
from .openai_compat import local_cost, strip_v1
from .openai_format import (
    Timing,
    chat_body,
    openai_chat_raw,
    openai_chat_stream,
    result_from_completion,
    with_usage,
)
from .results import ChatResult, parse_off_loop

LMSTUDIO_DEFAULT_URL = "http://127.0.0.1:1234"

Message = Mapping[str, Any]


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def timing_from_stats(stats: Mapping[str, Any]) -> Timing:
    """LM Studio ``stats``: ``time_to_first_token`` and ``generation_time`` are seconds."""
    ttft = _seconds(stats.get("time_to_first_token"))
    if ttft is None:
        ttft = _seconds(stats.get("time_to_first_token_seconds"))
    gen = _seconds(stats.get("generation_time"))
    tps = _seconds(stats.get("tokens_per_second"))
    latency = (ttft + gen) * 1000 if ttft is not None and gen is not None else None
    return Timing(
        latency_ms=latency,
        ttft_ms=None if ttft is None else ttft * 1000,
        tokens_per_s=tps,
    )


class LMStudioClient:
    """An LM Studio server (default ``http://127.0.0.1:1234``)."""

    source = Source.LMSTUDIO

    def __init__(
        self,
        base_url: str = LMSTUDIO_DEFAULT_URL,
        client: httpx.AsyncClient | None = None,
        policy: HttpPolicy | None = None,
        *,
        api_token: str | None = None,
    ) -> None:
        if client is None:
            raise TypeError("LMStudioClient needs a shared httpx.AsyncClient")
        self.http = HttpClient(strip_v1(base_url), client, policy)
        self._token = api_token

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def __repr__(self) -> str:
        return f"LMStudioClient({self.base_url!r})"

    async def models(self) -> ParseResult:
        """``GET /api/v0/models`` (state, context, quantisation); ``/v1/models`` if absent."""
        path = "/api/v0/models"
        try:
            payload = await self.http.get_json(path, secret=self._token)
        except NotFoundError:
            path = "/v1/models"
            payload = await self.http.get_json(path, secret=self._token)
        return await parse_off_loop(
            parse_lmstudio_models, payload, self.http.url(path), server_url=self.base_url
        )

    async def chat(
        self,
        model: str,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        **extra: Any,
    ) -> ChatResult:
        """``POST /api/v0/chat/completions``; timings from its ``stats``."""
        body = chat_body(
            model, [dict(m) for m in messages], max_tokens=max_tokens, stream=False, extra=extra
        )
        raw = await self.http.post_json(
            "/api/v0/chat/completions",
            body,
            secret=self._token,
            timeout_s=self.http.policy.generation_timeout,
        )
        data = raw.data
        stats = data.get("stats") if isinstance(data, Mapping) else None
        timing = timing_from_stats(stats) if isinstance(stats, Mapping) else None
        result = result_from_completion(
            data,
            http=self.http,
            url=raw.url,
            source=Source.LMSTUDIO,
            requested_model=model,
            latency_ms=raw.elapsed_ms,
            secrets=(self._token,) if self._token else (),
            timing=timing,
        )
        return local_cost(result)

    async def chat_stream(
        self,
        model: str,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        **extra: Any,
    ) -> AsyncIterator[str | ChatResult]:
        """Stream ``POST /api/v0/chat/completions`` (SSE): deltas, then a ChatResult."""
        extra = {"stream_options": {"include_usage": True}, **extra}
        body = chat_body(
            model, [dict(m) for m in messages], max_tokens=max_tokens, stream=True, extra=extra
        )
        stream = openai_chat_stream(
            self.http,
            "/api/v0/chat/completions",
            body,
            source=Source.LMSTUDIO,
            secret=self._token,
            requested_model=model,
            stats_timing=timing_from_stats,
        )
        async with aclosing(stream) as items:
            async for item in items:
                yield local_cost(item) if isinstance(item, ChatResult) else item

    async def chat_raw(
        self, body: Mapping[str, Any]
    ) -> AsyncIterator[Mapping[str, Any] | ChatResult]:
        """Pass an OpenAI chat request through ``/v1/chat/completions`` (tools, response
        formats and the rest as LM Studio's OpenAI API takes them), then a ChatResult."""
        stream = openai_chat_raw(
            self.http,
            "/v1/chat/completions",
            with_usage(body),
            source=Source.LMSTUDIO,
            secret=self._token,
            stats_timing=timing_from_stats,
        )
        async with aclosing(stream) as items:
            async for item in items:
                yield local_cost(item) if isinstance(item, ChatResult) else item
