"""The OpenAI chat-completions wire format shared by OpenRouter, LM Studio, llama.cpp and vLLM:
non-streaming responses, Server-Sent Events streams, usage and in-band errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from locallama_gui.core.models import Source, Usage

from .errors import BadResponse, ProviderDown, SourceError, error_from_response
from .http import HttpClient, StreamLines, decode_json, is_json_content_type
from .results import COST_PROVIDER, COST_UNKNOWN, ChatResult, to_decimal


def _int(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 0
    return max(0, number)


def usage_from_openai(data: Any) -> Usage | None:
    """A consistent core ``Usage`` from an OpenAI/OpenRouter ``usage`` object."""
    if not isinstance(data, Mapping):
        return None
    prompt = _int(data.get("prompt_tokens"))
    completion = _int(data.get("completion_tokens"))
    prompt_details = data.get("prompt_tokens_details")
    completion_details = data.get("completion_tokens_details")
    cached = _int(prompt_details.get("cached_tokens")) if isinstance(prompt_details, Mapping) else 0
    written = (
        _int(prompt_details.get("cache_write_tokens")) if isinstance(prompt_details, Mapping) else 0
    )
    reasoning = (
        _int(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, Mapping)
        else 0
    )
    cached = min(cached, prompt)
    written = min(written, prompt - cached)
    reasoning = min(reasoning, completion)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        reasoning_tokens=reasoning,
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


def in_band_error(
    data: Mapping[str, Any], *, http: HttpClient, url: str, secrets: Iterable[str]
) -> SourceError | None:
    """The error carried by a 200 body or stream chunk (``error`` or finish_reason "error")."""
    if data.get("error") is not None:
        return error_from_response(
            200, None, data, now=http.policy.clock(), url=url, secrets=tuple(secrets)
        )
    choices = data.get("choices")
    if (
        isinstance(choices, list)
        and choices
        and isinstance(choices[0], Mapping)
        and choices[0].get("finish_reason") == "error"
    ):
        inner = choices[0].get("error")
        if isinstance(inner, Mapping):
            return error_from_response(
                200,
                None,
                {"error": inner},
                now=http.policy.clock(),
                url=url,
                secrets=tuple(secrets),
            )
        return ProviderDown("the generation ended with finish_reason 'error'", url=url)
    return None


def _first_choice(data: Mapping[str, Any]) -> Mapping[str, Any]:
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return choices[0]
    return {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class Timing:
    latency_ms: float | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None


def result_from_completion(
    data: Any,
    *,
    http: HttpClient,
    url: str,
    source: Source,
    requested_model: str | None,
    latency_ms: float | None,
    secrets: Iterable[str] = (),
    timing: Timing | None = None,
) -> ChatResult:
    """A :class:`ChatResult` from a non-streaming completion body (in-band errors raise)."""
    if not isinstance(data, Mapping):
        raise BadResponse("chat completion is not a JSON object", code="shape", url=url)
    error = in_band_error(data, http=http, url=url, secrets=secrets)
    if error is not None:
        raise error
    choice = _first_choice(data)
    if not choice:
        raise BadResponse("chat completion has no choices", code="shape", url=url)
    message = choice.get("message") if isinstance(choice.get("message"), Mapping) else {}
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    reasoning = message.get("reasoning") or message.get("reasoning_content")
    usage_data = data.get("usage")
    cost = to_decimal(usage_data.get("cost")) if isinstance(usage_data, Mapping) else None
    t = timing or Timing(latency_ms=latency_ms)
    return ChatResult(
        text=text,
        model_used=_str(data.get("model")),
        source=source,
        provider=_str(data.get("provider")),
        request_id=_str(data.get("id")),
        usage=usage_from_openai(usage_data),
        cost_usd=cost,
        cost_source=COST_PROVIDER if cost is not None else COST_UNKNOWN,
        latency_ms=t.latency_ms if t.latency_ms is not None else latency_ms,
        ttft_ms=t.ttft_ms,
        tokens_per_s=t.tokens_per_s,
        finish_reason=_str(choice.get("finish_reason")),
        native_finish_reason=_str(choice.get("native_finish_reason")),
        requested_model=requested_model,
        reasoning=reasoning if isinstance(reasoning, str) and reasoning else None,
        streamed=False,
    )


class StreamState:
    """What a stream has said so far: ids, text, usage, finish reason, extra stats."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.reasoning: list[str] = []
        self.request_id: str | None = None
        self.model: str | None = None
        self.provider: str | None = None
        self.usage: Mapping[str, Any] | None = None
        self.finish_reason: str | None = None
        self.native_finish_reason: str | None = None
        self.stats: Mapping[str, Any] | None = None
        self.first_token_at: float | None = None
        self.done = False

    def absorb(self, chunk: Mapping[str, Any]) -> str:
        """Take one chunk; return its text delta ("" when none)."""
        self.request_id = self.request_id or _str(chunk.get("id"))
        self.model = _str(chunk.get("model")) or self.model
        self.provider = _str(chunk.get("provider")) or self.provider
        if isinstance(chunk.get("usage"), Mapping):
            self.usage = chunk["usage"]
        if isinstance(chunk.get("stats"), Mapping):
            self.stats = chunk["stats"]
        choice = _first_choice(chunk)
        delta = choice.get("delta") if isinstance(choice.get("delta"), Mapping) else {}
        if not delta and isinstance(choice.get("message"), Mapping):
            delta = choice["message"]
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        if choice.get("native_finish_reason"):
            self.native_finish_reason = str(choice["native_finish_reason"])
        thought = delta.get("reasoning") or delta.get("reasoning_content")
        if isinstance(thought, str) and thought:
            self.reasoning.append(thought)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self.parts.append(content)
            return content
        return ""


# Parsed here, not with httpx-sse 0.4.3, by measurement (20,000 OpenRouter-style chunks with
# ": OPENROUTER PROCESSING" comments, tests/sources/test_sse.py has the cases): this does
# 1.0M events/s to 0.58M for its SSEDecoder (a private module), 280k-730k to 210k-450k end to
# end, and httpx-sse drops a last event left without its blank line (a final error or [DONE])
# and yields empty events for retry:/id:/event:-only blocks, which would fail here as not JSON.
# Its EventSource also reads the response itself, around our byte limit, deadline and typed
# errors (a 40 MiB line: 120 MiB held, nothing stops it), and refuses text/plain streams.
async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The ``data`` payloads of a Server-Sent Events stream (comments and fields skipped).

    Closing it does not close ``lines``: whoever opened ``lines`` closes it (``aclosing``)."""
    pending: list[str] = []
    async for line in lines:
        if not line:
            if pending:
                yield "\n".join(pending)
                pending = []
            continue
        if line.startswith(":"):
            continue  # keep-alive comment, e.g. ": OPENROUTER PROCESSING"
        name, _, value = line.partition(":")
        if name != "data":
            continue  # event:, id:, retry: and other fields carry nothing used here
        pending.append(value[1:] if value.startswith(" ") else value)
    if pending:
        yield "\n".join(pending)  # a last event without its blank line still counts


def _timing(state: StreamState, started: float, ended: float, usage: Usage | None) -> Timing:
    latency = (ended - started) * 1000
    ttft = None if state.first_token_at is None else (state.first_token_at - started) * 1000
    tps = None
    if usage is not None and usage.completion_tokens and state.first_token_at is not None:
        gen_s = ended - state.first_token_at
        if gen_s > 0:
            tps = usage.completion_tokens / gen_s
    return Timing(latency_ms=latency, ttft_ms=ttft, tokens_per_s=tps)


async def openai_chat_stream(
    http: HttpClient,
    path: str,
    body: dict[str, Any],
    *,
    source: Source,
    secret: str | None = None,
    headers: Mapping[str, str] | None = None,
    requested_model: str | None = None,
    stats_timing: Any = None,
) -> AsyncIterator[str | ChatResult]:
    """POST a streaming chat request; yield text deltas, then one final :class:`ChatResult`.

    ``stats_timing`` (optional) turns a server ``stats`` object into a :class:`Timing` that
    replaces the measured one where it has values.
    """
    items = _chat_items(
        http,
        path,
        body,
        source=source,
        secret=secret,
        headers=headers,
        requested_model=requested_model,
        stats_timing=stats_timing,
        raw=False,
    )
    async with aclosing(items) as stream:
        async for item in stream:
            yield item  # type: ignore[misc]


async def openai_chat_raw(
    http: HttpClient,
    path: str,
    body: dict[str, Any],
    *,
    source: Source,
    secret: str | None = None,
    headers: Mapping[str, str] | None = None,
    stats_timing: Any = None,
) -> AsyncIterator[Mapping[str, Any] | ChatResult]:
    """Pass a chat request through as it is: with ``body["stream"]`` true, yield every chunk
    as the server sent it; else yield the whole completion once. Then one :class:`ChatResult`
    (usage, cost, timings) for the books. In-band errors raise before their chunk is yielded.
    """
    requested = body.get("model") if isinstance(body.get("model"), str) else None
    if body.get("stream") is True:
        items = _chat_items(
            http,
            path,
            body,
            source=source,
            secret=secret,
            headers=headers,
            requested_model=requested,
            stats_timing=stats_timing,
            raw=True,
        )
        async with aclosing(items) as stream:
            async for item in stream:
                yield item  # type: ignore[misc]
        return
    secrets = (secret,) if secret else ()
    raw = await http.post_json(
        path, body, headers=headers, secret=secret, timeout_s=http.policy.generation_timeout
    )
    result = result_from_completion(
        raw.data,
        http=http,
        url=raw.url,
        source=source,
        requested_model=requested,
        latency_ms=raw.elapsed_ms,
        secrets=secrets,
    )
    yield raw.data
    yield result


def with_usage(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with ``stream_options.include_usage`` on when it streams (the books need the
    usage; OpenAI clients ignore a usage chunk they did not ask for)."""
    out = dict(body)
    if out.get("stream") is True:
        options = out.get("stream_options")
        options = dict(options) if isinstance(options, Mapping) else {}
        options.setdefault("include_usage", True)
        out["stream_options"] = options
    return out


def completion_as_chunk(data: Mapping[str, Any]) -> dict[str, Any]:
    """A whole completion as the one chunk of a stream (a server that ignored ``stream``)."""
    choices = []
    for choice in data.get("choices") or ():
        if isinstance(choice, Mapping):
            message = choice.get("message") if isinstance(choice.get("message"), Mapping) else {}
            choices.append(
                {
                    "index": choice.get("index", 0),
                    "delta": dict(message),
                    "finish_reason": choice.get("finish_reason"),
                }
            )
    chunk = {k: v for k, v in data.items() if k != "choices"}
    chunk["object"] = "chat.completion.chunk"
    chunk["choices"] = choices
    return chunk


async def _chat_items(
    http: HttpClient,
    path: str,
    body: dict[str, Any],
    *,
    source: Source,
    secret: str | None,
    headers: Mapping[str, str] | None,
    requested_model: str | None,
    stats_timing: Any,
    raw: bool,
) -> AsyncIterator[str | Mapping[str, Any] | ChatResult]:
    """The one SSE loop: text deltas (or, ``raw``, the chunks themselves), then the result."""
    secrets = (secret,) if secret else ()
    url = http.url(path)
    policy = http.policy
    async with http.stream("POST", path, json_body=body, headers=headers, secret=secret) as s:
        mime = s.content_type
        if is_json_content_type(mime):
            # The server ignored "stream": a whole completion (or an in-band error) came back.
            data = decode_json(await s.read_all(), url=url)
            ended = policy.monotonic()
            result = result_from_completion(
                data,
                http=http,
                url=url,
                source=source,
                requested_model=requested_model,
                latency_ms=(ended - s.started) * 1000,
                secrets=secrets,
            )
            if raw:
                yield completion_as_chunk(data)
            elif result.text:
                yield result.text
            yield result
            return
        if mime and mime not in ("text/event-stream", "text/plain", "application/x-ndjson"):
            raise BadResponse(
                f"expected an event stream, got content type {mime!r}",
                code="content_type",
                url=url,
            )
        state = StreamState()
        async with aclosing(s.lines()) as lines, aclosing(sse_data(lines)) as events:
            async for payload in events:
                if payload.strip() == "[DONE]":
                    state.done = True
                    break
                try:
                    chunk = json.loads(payload)
                except json.JSONDecodeError:
                    raise BadResponse(
                        "stream chunk is not valid JSON", code="not_json", url=url
                    ) from None
                if not isinstance(chunk, Mapping):
                    continue
                error = in_band_error(chunk, http=http, url=url, secrets=secrets)
                if error is not None:
                    raise error
                delta = state.absorb(chunk)
                if delta and state.first_token_at is None:
                    state.first_token_at = policy.monotonic()
                if raw:
                    if state.first_token_at is None and _has_tool_call(chunk):
                        state.first_token_at = policy.monotonic()
                    yield chunk
                elif delta:
                    yield delta
        ended = policy.monotonic()
        _check_complete(state, url)
        yield _stream_result(
            state, s, ended, source=source, requested_model=requested_model, stats=stats_timing
        )


def _has_tool_call(chunk: Mapping[str, Any]) -> bool:
    delta = _first_choice(chunk).get("delta")
    return isinstance(delta, Mapping) and bool(delta.get("tool_calls"))


def _check_complete(state: StreamState, url: str) -> None:
    if not state.done and state.finish_reason is None:
        raise BadResponse(
            "the stream ended before the completion finished",
            code="truncated",
            retryable=True,
            url=url,
        )


def _stream_result(
    state: StreamState,
    s: StreamLines,
    ended: float,
    *,
    source: Source,
    requested_model: str | None,
    stats: Any,
) -> ChatResult:
    usage = usage_from_openai(state.usage)
    cost = to_decimal(state.usage.get("cost")) if state.usage else None
    timing = _timing(state, s.started, ended, usage)
    if stats is not None and state.stats is not None:
        server = stats(state.stats)
        timing = Timing(
            latency_ms=timing.latency_ms,
            ttft_ms=server.ttft_ms if server.ttft_ms is not None else timing.ttft_ms,
            tokens_per_s=(
                server.tokens_per_s if server.tokens_per_s is not None else timing.tokens_per_s
            ),
        )
    return ChatResult(
        text="".join(state.parts),
        model_used=state.model,
        source=source,
        provider=state.provider,
        request_id=state.request_id,
        usage=usage,
        cost_usd=cost,
        cost_source=COST_PROVIDER if cost is not None else COST_UNKNOWN,
        latency_ms=timing.latency_ms,
        ttft_ms=timing.ttft_ms,
        tokens_per_s=timing.tokens_per_s,
        finish_reason=state.finish_reason,
        native_finish_reason=state.native_finish_reason,
        requested_model=requested_model,
        reasoning="".join(state.reasoning) or None,
        streamed=True,
    )


def chat_body(
    model: str,
    messages: list[dict[str, Any]] | tuple[dict[str, Any], ...],
    *,
    max_tokens: int | None,
    stream: bool,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": list(messages), "stream": stream}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    body.update(extra)
    return body
