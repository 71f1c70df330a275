"""OpenRouter: the model catalogue, key status and chat completions (plain and streamed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any

import httpx

from locallama_gui.core.catalogue import parse_openrouter_models
from locallama_gui.core.models import ParseResult, Source
from locallama_gui.core.redaction import redact_optional, register_secret

from .errors import AuthError, BadResponse, NotFoundError
from .http import HttpClient, HttpPolicy
from .openai_format import (
    chat_body,
    openai_chat_raw,
    openai_chat_stream,
    result_from_completion,
    with_usage,
)
from .results import ChatResult, KeyStatus, parse_off_loop, to_decimal

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
APP_TITLE = "LocaLLama Router"
APP_URL = "https://github.com/locallama-router/locallama-router"
#: Pages followed at most when ``/models`` answers with ``links.next`` (it does not unless asked).
MAX_MODEL_PAGES = 20

Message = Mapping[str, Any]


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def key_status_from(payload: Any, url: str) -> KeyStatus:
    data = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(data, Mapping):
        raise BadResponse("key status has no 'data' object", code="shape", url=url)
    return KeyStatus(
        # OpenRouter's own masked label ("sk-or-v1-0a1...f9e") is shown; the live key is not
        label=redact_optional(_str(data.get("label")), patterns=False),
        usage=to_decimal(data.get("usage")),
        limit=to_decimal(data.get("limit")),
        limit_remaining=to_decimal(data.get("limit_remaining")),
        limit_reset=_str(data.get("limit_reset")),
        is_free_tier=_bool(data.get("is_free_tier")),
        usage_daily=to_decimal(data.get("usage_daily")),
        usage_weekly=to_decimal(data.get("usage_weekly")),
        usage_monthly=to_decimal(data.get("usage_monthly")),
        is_management_key=_bool(data.get("is_management_key")),
        expires_at=_str(data.get("expires_at")),
        **_free_daily(data.get("free_model_daily_requests")),
    )


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    n = int(value)
    return n if 0 <= n <= 10_000_000 else None


def _free_daily(raw: Any) -> dict[str, int | None]:
    """``free_model_daily_requests{limit, remaining, used}``; odd values count as absent."""
    if not isinstance(raw, Mapping):
        return {}
    limit, remaining, used = _count(raw.get("limit")), _count(raw.get("remaining")), None
    used = _count(raw.get("used"))
    if limit is None:
        return {}
    if used is None and remaining is not None:
        used = max(0, limit - remaining)
    if remaining is None and used is not None:
        remaining = max(0, limit - used)
    return {"free_daily_limit": limit, "free_daily_remaining": remaining, "free_daily_used": used}


class OpenRouterClient:
    """OpenRouter's API. The key is passed per call and never stored on the client."""

    source = Source.OPENROUTER

    def __init__(
        self,
        base_url: str = OPENROUTER_BASE_URL,
        client: httpx.AsyncClient | None = None,
        policy: HttpPolicy | None = None,
        *,
        app_url: str = APP_URL,
        app_title: str = APP_TITLE,
    ) -> None:
        if client is None:
            raise TypeError("OpenRouterClient needs a shared httpx.AsyncClient")
        self.http = HttpClient(base_url, client, policy)
        self.attribution = {
            "HTTP-Referer": app_url,
            "X-OpenRouter-Title": app_title,
            "X-Title": app_title,
        }

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def __repr__(self) -> str:
        return f"OpenRouterClient({self.base_url!r})"

    # ------------------------------------------------------------------ catalogue

    async def list_models(self, all_modalities: bool = False) -> ParseResult:
        """``GET /models`` (no key). ``all_modalities`` adds ``output_modalities=all``."""
        params = {"output_modalities": "all"} if all_modalities else None
        url = self.http.url("/models")
        payload = await self.http.get_json("/models", params=params)
        payload = await self._follow_pages(payload, url)
        return await parse_off_loop(parse_openrouter_models, payload, url)

    async def _follow_pages(self, payload: Any, url: str) -> Any:
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            return payload
        merged = list(payload["data"])
        page = payload
        base_host = httpx.URL(self.base_url).host
        for _ in range(MAX_MODEL_PAGES):
            links = page.get("links") if isinstance(page, dict) else None
            nxt = links.get("next") if isinstance(links, dict) else None
            if not isinstance(nxt, str) or not nxt:
                break
            target = httpx.URL(self.base_url + "/").join(nxt)
            if target.host != base_host:
                raise BadResponse("pagination link points to another host", code="shape", url=url)
            page = await self.http.get_json(str(target))
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise BadResponse("pagination page has no data list", code="shape", url=url)
            if not page["data"]:
                break
            merged.extend(page["data"])
        if len(merged) == len(payload["data"]):
            return payload
        return {**payload, "data": merged, "links": {"next": None}}

    # ------------------------------------------------------------------ key

    async def key_status(self, api_key: str) -> KeyStatus:
        """``GET /key``, falling back to the older ``/auth/key`` on 404."""
        self._require_key(api_key)
        try:
            payload = await self.http.get_json("/key", secret=api_key)
            url = self.http.url("/key")
        except NotFoundError:
            payload = await self.http.get_json("/auth/key", secret=api_key)
            url = self.http.url("/auth/key")
        return key_status_from(payload, url)

    @staticmethod
    def _require_key(api_key: str | None) -> None:
        if not api_key or not isinstance(api_key, str):
            raise AuthError(
                "no OpenRouter API key",
                user_message="Add your OpenRouter API key (in Settings, or with 'locallama key "
                "set') to use OpenRouter models.",
            )
        register_secret(api_key)  # whatever echoes it from here on is masked

    # ------------------------------------------------------------------ chat

    def _body(
        self,
        model: str,
        messages: Sequence[Message],
        max_tokens: int | None,
        models_fallback: Sequence[str] | None,
        stream: bool,
        extra: Mapping[str, Any],
    ) -> dict[str, Any]:
        body = chat_body(
            model, [dict(m) for m in messages], max_tokens=max_tokens, stream=stream, extra={}
        )
        if models_fallback:
            chain = [model]
            chain.extend(m for m in models_fallback if m not in chain)
            body["models"] = chain
        # Needed for usage.cost on 2025 servers; ignored (always on) since 2026.
        body["usage"] = {"include": True}
        if stream:
            body["stream_options"] = {"include_usage": True}
        body.update(extra)
        return body

    async def chat(
        self,
        api_key: str,
        model: str,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        models_fallback: Sequence[str] | None = None,
        **extra: Any,
    ) -> ChatResult:
        """A non-streaming completion. Never retried (POST)."""
        self._require_key(api_key)
        body = self._body(model, messages, max_tokens, models_fallback, False, extra)
        raw = await self.http.post_json(
            "/chat/completions",
            body,
            headers=self.attribution,
            secret=api_key,
            timeout_s=self.http.policy.generation_timeout,
        )
        return result_from_completion(
            raw.data,
            http=self.http,
            url=raw.url,
            source=Source.OPENROUTER,
            requested_model=model,
            latency_ms=raw.elapsed_ms,
            secrets=(api_key,),
        )

    async def chat_stream(
        self,
        api_key: str,
        model: str,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        models_fallback: Sequence[str] | None = None,
        **extra: Any,
    ) -> AsyncIterator[str | ChatResult]:
        """Stream a completion: text deltas (``str``), then one final :class:`ChatResult`."""
        self._require_key(api_key)
        body = self._body(model, messages, max_tokens, models_fallback, True, extra)
        stream = openai_chat_stream(
            self.http,
            "/chat/completions",
            body,
            source=Source.OPENROUTER,
            secret=api_key,
            headers=self.attribution,
            requested_model=model,
        )
        async with aclosing(stream) as items:
            async for item in items:
                yield item

    async def chat_raw(
        self, api_key: str, body: Mapping[str, Any]
    ) -> AsyncIterator[Mapping[str, Any] | ChatResult]:
        """Pass an OpenAI chat request through as it is (only the key is added): the chunks
        or the whole completion as OpenRouter sent them, then a :class:`ChatResult`."""
        self._require_key(api_key)
        out = with_usage(body)
        out.setdefault("usage", {"include": True})  # usage.cost on 2025 servers
        stream = openai_chat_raw(
            self.http,
            "/chat/completions",
            out,
            source=Source.OPENROUTER,
            secret=api_key,
            headers=self.attribution,
        )
        async with aclosing(stream) as items:
            async for item in items:
                yield item
