"""Ollama: version, installed and loaded models, model details and NDJSON chat."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import httpx

from locallama_gui.core.catalogue import parse_ollama_tags
from locallama_gui.core.models import ParseResult, Source, Usage

from .errors import BadResponse, SourceError, error_from_response
from .http import HttpClient, HttpPolicy, decode_json, is_json_content_type
from .openai_format import openai_chat_raw, with_usage
from .results import COST_COMPUTED, ChatResult, ShowInfo, parse_off_loop

OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434"

Message = Mapping[str, Any]


def ollama_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The server URL from ``OLLAMA_HOST`` (``host``, ``host:port`` or a URL), else default."""
    env = os.environ if environ is None else environ
    value = (env.get("OLLAMA_HOST") or "").strip()
    if not value:
        return OLLAMA_DEFAULT_URL
    if "://" not in value:
        value = "http://" + value
    parsed = httpx.URL(value)
    host = parsed.host or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    port = parsed.port or 11434
    host_part = f"[{host}]" if ":" in host else host
    return f"{parsed.scheme}://{host_part}:{port}"


@dataclass(frozen=True, slots=True)
class RunningModel:
    """One entry of ``GET /api/ps``."""

    name: str
    size: int | None = None
    size_vram: int | None = None
    context_length: int | None = None
    expires_at: str | None = None

    @property
    def partly_on_cpu(self) -> bool | None:
        if self.size is None or self.size_vram is None:
            return None
        return self.size_vram < self.size


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_parameters(text: Any) -> Mapping[str, tuple[str, ...]]:
    """Ollama's ``parameters`` text (``num_ctx 8192``; ``stop`` may repeat) as a mapping."""
    if not isinstance(text, str):
        return MappingProxyType({})
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        name, _, value = line.partition(" ")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        out.setdefault(name, []).append(value)
    return MappingProxyType({k: tuple(v) for k, v in out.items()})


def show_info_from(model: str, payload: Any, url: str) -> ShowInfo:
    if not isinstance(payload, Mapping):
        raise BadResponse("model details are not a JSON object", code="shape", url=url)
    info = payload.get("model_info") if isinstance(payload.get("model_info"), Mapping) else {}
    arch = _str(info.get("general.architecture"))
    context = _int(info.get(f"{arch}.context_length")) if arch else None
    if context is None:
        # Some builds omit general.architecture: take the single *.context_length key.
        found = [v for k, v in info.items() if k.endswith(".context_length")]
        if len(found) == 1:
            context = _int(found[0])
    details = payload.get("details") if isinstance(payload.get("details"), Mapping) else {}
    caps = payload.get("capabilities")
    return ShowInfo(
        model=model,
        architecture=arch,
        context_length=context,
        capabilities=tuple(c for c in caps if isinstance(c, str)) if isinstance(caps, list) else (),
        parameters=parse_parameters(payload.get("parameters")),
        family=_str(details.get("family")),
        parameter_size=_str(details.get("parameter_size")),
        quantization=_str(details.get("quantization_level")),
        parameter_count=_int(info.get("general.parameter_count")),
    )


def _ns_ms(value: Any) -> float | None:
    number = _int(value)
    return None if number is None or number < 0 else number / 1e6


class OllamaClient:
    """An Ollama server (default ``http://127.0.0.1:11434``)."""

    source = Source.OLLAMA

    def __init__(
        self,
        base_url: str = OLLAMA_DEFAULT_URL,
        client: httpx.AsyncClient | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        if client is None:
            raise TypeError("OllamaClient needs a shared httpx.AsyncClient")
        self.http = HttpClient(base_url, client, policy)

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def __repr__(self) -> str:
        return f"OllamaClient({self.base_url!r})"

    async def version(self) -> str:
        payload = await self.http.get_json("/api/version")
        version = payload.get("version") if isinstance(payload, Mapping) else None
        if not isinstance(version, str):
            raise BadResponse("no version in /api/version", code="shape", url=self.base_url)
        return version

    async def ps_payload(self) -> Any:
        return await self.http.get_json("/api/ps")

    async def ps(self) -> tuple[RunningModel, ...]:
        """Models loaded in memory (``GET /api/ps``)."""
        payload = await self.ps_payload()
        rows = payload.get("models") if isinstance(payload, Mapping) else None
        if not isinstance(rows, list):
            raise BadResponse("no models list in /api/ps", code="shape", url=self.base_url)
        out = []
        for row in rows:
            if isinstance(row, Mapping) and _str(row.get("name") or row.get("model")):
                out.append(
                    RunningModel(
                        name=str(row.get("name") or row.get("model")),
                        size=_int(row.get("size")),
                        size_vram=_int(row.get("size_vram")),
                        context_length=_int(row.get("context_length")),
                        expires_at=_str(row.get("expires_at")),
                    )
                )
        return tuple(out)

    async def tags(self) -> ParseResult:
        """Installed models (``/api/tags``), marked loaded from ``/api/ps`` when it answers."""
        tags_task = asyncio.ensure_future(self.http.get_json("/api/tags"))
        ps_task = asyncio.ensure_future(self.ps_payload())
        try:
            payload = await tags_task
        except BaseException:
            ps_task.cancel()
            await asyncio.gather(ps_task, return_exceptions=True)
            raise
        try:
            ps_payload = await ps_task
        except SourceError:
            ps_payload = None
        return await parse_off_loop(
            parse_ollama_tags,
            payload,
            self.http.url("/api/tags"),
            server_url=self.base_url,
            ps_payload=ps_payload,
        )

    async def show(self, model: str) -> ShowInfo:
        """``POST /api/show``: the model's maximum context, capabilities and parameters."""
        raw = await self.http.post_json("/api/show", {"model": model, "name": model})
        return show_info_from(model, raw.data, raw.url)

    # ------------------------------------------------------------------ chat

    def _body(
        self,
        model: str,
        messages: Sequence[Message],
        stream: bool,
        options: Mapping[str, Any] | None,
        extra: Mapping[str, Any],
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [dict(m) for m in messages],
            "stream": stream,
        }
        if options:
            body["options"] = dict(options)
        body.update(extra)
        return body

    def _result(
        self,
        final: Mapping[str, Any],
        text: str,
        thinking: str,
        *,
        model: str,
        measured_latency_ms: float,
        measured_ttft_ms: float | None,
        measured_gen_s: float | None,
        streamed: bool,
    ) -> ChatResult:
        prompt = _int(final.get("prompt_eval_count"))
        completion = _int(final.get("eval_count"))
        usage = None
        if prompt is not None or completion is not None:
            usage = Usage(
                prompt_tokens=max(0, prompt or 0), completion_tokens=max(0, completion or 0)
            )
        latency = _ns_ms(final.get("total_duration"))
        prompt_ms = _ns_ms(final.get("prompt_eval_duration"))
        load_ms = _ns_ms(final.get("load_duration"))
        ttft = None
        if prompt_ms is not None:
            ttft = prompt_ms + (load_ms or 0.0)
        eval_ns = _int(final.get("eval_duration"))
        tps = None
        if completion and eval_ns and eval_ns > 0:
            tps = completion / eval_ns * 1e9
        elif completion and measured_gen_s and measured_gen_s > 0:
            tps = completion / measured_gen_s
        return ChatResult(
            text=text,
            model_used=_str(final.get("model")) or model,
            source=Source.OLLAMA,
            provider="ollama",
            usage=usage,
            cost_usd=Decimal("0"),
            cost_source=COST_COMPUTED,
            latency_ms=latency if latency is not None else measured_latency_ms,
            ttft_ms=ttft if ttft is not None else measured_ttft_ms,
            tokens_per_s=tps,
            finish_reason=_str(final.get("done_reason")) or ("stop" if final.get("done") else None),
            requested_model=model,
            reasoning=thinking or None,
            streamed=streamed,
        )

    def _error(self, obj: Mapping[str, Any], url: str) -> SourceError:
        return error_from_response(500, None, obj, now=self.http.policy.clock(), url=url)

    async def chat(
        self,
        model: str,
        messages: Sequence[Message],
        options: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> ChatResult:
        """A non-streaming ``POST /api/chat``."""
        body = self._body(model, messages, False, options, extra)
        raw = await self.http.post_json(
            "/api/chat", body, timeout_s=self.http.policy.generation_timeout
        )
        data = raw.data
        if not isinstance(data, Mapping):
            raise BadResponse("chat answer is not a JSON object", code="shape", url=raw.url)
        if data.get("error") is not None:
            raise self._error(data, raw.url)
        message = data.get("message") if isinstance(data.get("message"), Mapping) else {}
        return self._result(
            data,
            str(message.get("content") or ""),
            str(message.get("thinking") or ""),
            model=model,
            measured_latency_ms=raw.elapsed_ms,
            measured_ttft_ms=None,
            measured_gen_s=None,
            streamed=False,
        )

    async def chat_stream(
        self,
        model: str,
        messages: Sequence[Message],
        options: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> AsyncIterator[str | ChatResult]:
        """Stream ``POST /api/chat`` (NDJSON): text deltas, then one :class:`ChatResult`."""
        body = self._body(model, messages, True, options, extra)
        url = self.http.url("/api/chat")
        policy = self.http.policy
        async with self.http.stream("POST", "/api/chat", json_body=body) as s:
            if is_json_content_type(s.content_type):
                data = decode_json(await s.read_all(), url=url)
                if not isinstance(data, Mapping):
                    raise BadResponse("chat answer is not a JSON object", code="shape", url=url)
                if data.get("error") is not None:
                    raise self._error(data, url)
                lines_source: Any = _single(json.dumps(data))
            elif s.content_type and s.content_type not in ("application/x-ndjson", "text/plain"):
                raise BadResponse(
                    f"expected NDJSON, got content type {s.content_type!r}",
                    code="content_type",
                    url=url,
                )
            else:
                lines_source = s.lines()
            parts: list[str] = []
            thinking: list[str] = []
            first: float | None = None
            final: Mapping[str, Any] | None = None
            async with aclosing(lines_source) as lines:
                async for line in lines:
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError:
                        raise BadResponse(
                            "stream line is not valid JSON", code="not_json", url=url
                        ) from None
                    if not isinstance(obj, Mapping):
                        continue
                    if obj.get("error") is not None:
                        raise self._error(obj, url)
                    message = obj.get("message") if isinstance(obj.get("message"), Mapping) else {}
                    thought = message.get("thinking")
                    if isinstance(thought, str) and thought:
                        thinking.append(thought)
                    content = message.get("content")
                    if isinstance(content, str) and content:
                        if first is None:
                            first = policy.monotonic()
                        parts.append(content)
                        yield content
                    if obj.get("done") is True:
                        final = obj
                        break
            ended = policy.monotonic()
            if final is None:
                raise BadResponse(
                    "the stream ended before the completion finished",
                    code="truncated",
                    retryable=True,
                    url=url,
                )
            yield self._result(
                final,
                "".join(parts),
                "".join(thinking),
                model=model,
                measured_latency_ms=(ended - s.started) * 1000,
                measured_ttft_ms=None if first is None else (first - s.started) * 1000,
                measured_gen_s=None if first is None else ended - first,
                streamed=True,
            )

    async def chat_raw(
        self, body: Mapping[str, Any]
    ) -> AsyncIterator[Mapping[str, Any] | ChatResult]:
        """Pass an OpenAI chat request through Ollama's OpenAI API (``/v1/chat/completions``:
        tools, response formats, images as OpenAI sends them), then a ChatResult ($0)."""
        stream = openai_chat_raw(
            self.http, "/v1/chat/completions", with_usage(body), source=Source.OLLAMA
        )
        async with aclosing(stream) as items:
            async for item in items:
                if isinstance(item, ChatResult):
                    item = dataclasses.replace(item, cost_usd=Decimal(0), cost_source=COST_COMPUTED)
                yield item


async def _single(line: str) -> AsyncIterator[str]:
    yield line
