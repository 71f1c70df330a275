"""Translation between the Anthropic Messages API and the OpenAI chat-completions format.

The gateway serves ``POST /v1/messages`` (so Claude Code with ``ANTHROPIC_BASE_URL`` pointed
at it works) by turning the request into an OpenAI chat-completions body for the routed
upstream, and the upstream's completion, or its stream of chunks, back into an Anthropic
Message, or Anthropic's Server-Sent Events. Pure: dicts in, dicts out, no I/O.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from locallama_gui.core.redaction import redact_known

Event = tuple[str, dict[str, Any]]

#: OpenAI ``finish_reason`` -> Anthropic ``stop_reason``; anything else ends the turn.
_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}

#: Blocks the model produced that an OpenAI upstream cannot take back: dropped.
_DROPPED_BLOCKS = frozenset({"thinking", "redacted_thinking"})
_BLOCKS_BY_ROLE = {
    "user": frozenset({"text", "image", "document", "tool_result"}),
    "assistant": frozenset({"text", "tool_use"}),
}
_KNOWN_BLOCKS = frozenset().union(*_BLOCKS_BY_ROLE.values())


class AnthropicRequestError(ValueError):
    """A Messages request that cannot be translated; the message fits a 400
    ``invalid_request_error`` reply."""


# --- requests -------------------------------------------------------------------------------


def to_openai_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic Messages request body -> OpenAI chat-completions request body."""
    if not isinstance(body, Mapping):
        raise AnthropicRequestError("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise AnthropicRequestError("model: required, a non-empty string")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise AnthropicRequestError("max_tokens: required, a positive integer")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise AnthropicRequestError("messages: required, a list of messages")
    if not messages:
        raise AnthropicRequestError("messages: at least one message is required")

    out_messages: list[dict[str, Any]] = []
    system = _system_text(body.get("system"))
    if system:
        out_messages.append({"role": "system", "content": system})
    for i, message in enumerate(messages):
        out_messages.extend(_message(message, f"messages[{i}]"))

    out: dict[str, Any] = {"model": model, "messages": out_messages, "max_tokens": max_tokens}
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop_sequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise AnthropicRequestError("stop_sequences: must be a list of strings")
        if stop:
            out["stop"] = stop
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise AnthropicRequestError("stream: must be a boolean")
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = tools
        out.update(_tool_choice(body.get("tool_choice")))
    return out


def _system_text(system: Any) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    if not isinstance(system, list):
        raise AnthropicRequestError("system: must be a string or a list of text blocks")
    texts = []
    for j, block in enumerate(system):
        if not isinstance(block, Mapping) or block.get("type") != "text":
            raise AnthropicRequestError(f"system[{j}]: only text blocks are allowed")
        texts.append(_text_of(block, f"system[{j}]"))
    return "\n\n".join(texts)


def _message(message: Any, where: str) -> list[dict[str, Any]]:
    """One Anthropic message -> its OpenAI messages (a user message may become several)."""
    if not isinstance(message, Mapping):
        raise AnthropicRequestError(f"{where}: must be an object with a role and content")
    role = message.get("role")
    if role not in _BLOCKS_BY_ROLE:
        raise AnthropicRequestError(
            f"{where}.role: unknown role {role!r} (expected 'user' or 'assistant')"
        )
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise AnthropicRequestError(
            f"{where}.content: must be a string or a list of content blocks"
        )
    blocks = list(_blocks(content, role, f"{where}.content"))
    if role == "assistant":
        return [_assistant(blocks)]
    return _user(blocks)


def _blocks(content: list[Any], role: str, where: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    """The blocks of ``content`` that translate, each with its place, checked for ``role``."""
    for j, block in enumerate(content):
        here = f"{where}[{j}]"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if not isinstance(kind, str):
            raise AnthropicRequestError(f"{here}: content block has no type")
        if kind in _DROPPED_BLOCKS:
            continue
        if kind not in _KNOWN_BLOCKS:
            raise AnthropicRequestError(f"{here}: unknown block type {kind!r}")
        if kind not in _BLOCKS_BY_ROLE[role]:
            raise AnthropicRequestError(
                f"{here}: {kind!r} blocks are not allowed in {role} messages"
            )
        yield block, here


def _assistant(blocks: list[tuple[Mapping[str, Any], str]]) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block, here in blocks:
        if block["type"] == "text":
            texts.append(_text_of(block, here))
            continue
        call_id, name, arguments = block.get("id"), block.get("name"), block.get("input", {})
        if not isinstance(call_id, str) or not call_id:
            raise AnthropicRequestError(f"{here}.id: required, a string")
        if not isinstance(name, str) or not name:
            raise AnthropicRequestError(f"{here}.name: required, a string")
        if not isinstance(arguments, Mapping):
            raise AnthropicRequestError(f"{here}.input: must be an object")
        calls.append(
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        )
    text = "\n\n".join(t for t in texts if t)
    if not calls:
        return {"role": "assistant", "content": text}
    return {"role": "assistant", "content": text or None, "tool_calls": calls}


def _user(blocks: list[tuple[Mapping[str, Any], str]]) -> list[dict[str, Any]]:
    """Tool results first, one ``tool`` message each, then the rest as one user message."""
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block, here in blocks:
        if block["type"] == "tool_result":
            tool_messages.append(_tool_result(block, here, parts))
        else:
            parts.append(_part(block, here))
    if not parts and tool_messages:
        return tool_messages
    if all(part["type"] == "text" for part in parts):
        return [*tool_messages, {"role": "user", "content": "\n\n".join(p["text"] for p in parts)}]
    return [*tool_messages, {"role": "user", "content": parts}]


def _tool_result(
    block: Mapping[str, Any], where: str, parts: list[dict[str, Any]]
) -> dict[str, Any]:
    """The ``tool`` message of a ``tool_result``; images in it go to the user ``parts``, since
    OpenAI tool messages carry text only."""
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise AnthropicRequestError(f"{where}.tool_use_id: required, a string")
    content = block.get("content", "")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        texts = []
        for j, inner in enumerate(content):
            here = f"{where}.content[{j}]"
            kind = inner.get("type") if isinstance(inner, Mapping) else None
            if kind not in ("text", "image", "document"):
                raise AnthropicRequestError(
                    f"{here}: a tool result holds text, image or document blocks, not {kind!r}"
                )
            part = _part(inner, here)
            if part["type"] == "text":
                texts.append(part["text"])
            else:
                parts.append(part)
        text = "\n\n".join(texts)
    else:
        raise AnthropicRequestError(f"{where}.content: must be a string or a list of blocks")
    if block.get("is_error") is True:
        text = "Error: " + text
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def _part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A ``text``, ``image`` or ``document`` block -> an OpenAI content part."""
    kind = block["type"]
    if kind == "text":
        return {"type": "text", "text": _text_of(block, where)}
    source = block.get("source")
    if not isinstance(source, Mapping):
        raise AnthropicRequestError(f"{where}.source: required, an object")
    source_type = source.get("type")
    if kind == "document":
        if source_type != "text" or not isinstance(source.get("data"), str):
            raise AnthropicRequestError(
                f"{where}: document blocks with a {source_type!r} source are not supported "
                "(only text sources)"
            )
        return {"type": "text", "text": source["data"]}
    if source_type == "base64":
        media_type, data = source.get("media_type"), source.get("data")
        if not isinstance(media_type, str) or not isinstance(data, str):
            raise AnthropicRequestError(f"{where}.source: base64 needs media_type and data")
        url = f"data:{media_type};base64,{data}"
    elif source_type == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise AnthropicRequestError(f"{where}.source: unsupported image source {source_type!r}")
    return {"type": "image_url", "image_url": {"url": url}}


def _text_of(block: Mapping[str, Any], where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise AnthropicRequestError(f"{where}.text: required, a string")
    return text


def _tools(tools: Any) -> list[dict[str, Any]]:
    """Client tools as OpenAI functions; server tools (no ``input_schema``) are dropped."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise AnthropicRequestError("tools: must be a list")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise AnthropicRequestError(f"tools[{i}]: must be an object")
        if "input_schema" not in tool:
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise AnthropicRequestError(f"tools[{i}].name: required, a string")
        function: dict[str, Any] = {"name": name}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        function["parameters"] = tool["input_schema"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any) -> dict[str, Any]:
    """``tool_choice`` and ``parallel_tool_calls`` for an OpenAI body that has tools."""
    if choice is None:
        return {}
    if not isinstance(choice, Mapping):
        raise AnthropicRequestError("tool_choice: must be an object")
    kind = choice.get("type")
    out: dict[str, Any] = {}
    if kind in ("auto", "none"):
        out["tool_choice"] = kind
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or not name:
            raise AnthropicRequestError("tool_choice.name: required when type is 'tool'")
        out["tool_choice"] = {"type": "function", "function": {"name": name}}
    else:
        raise AnthropicRequestError(f"tool_choice.type: unknown type {kind!r}")
    if choice.get("disable_parallel_tool_use") is True:
        out["parallel_tool_calls"] = False
    return out


# --- responses ------------------------------------------------------------------------------


def to_anthropic_response(
    completion: Mapping[str, Any], *, model: str, thinking: bool = False
) -> dict[str, Any]:
    """OpenAI chat.completion (non-streaming) -> Anthropic Message object; ``model`` is the
    model that served. The upstream's reasoning becomes a ``thinking`` block only when
    ``thinking`` (the request enabled extended thinking), as with Anthropic."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], Mapping) else {}
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    reasoning = _reasoning(message) if thinking else ""
    if reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    if isinstance(message.get("content"), str) and message["content"]:
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or _tool_id(),
                "name": function.get("name") or "",
                "input": _arguments(function.get("arguments")),
            }
        )
    has_tools = any(block["type"] == "tool_use" for block in content)
    return {
        "id": "msg_" + str(completion.get("id") or uuid.uuid4().hex),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(choice.get("finish_reason"), has_tools=has_tools),
        "stop_sequence": None,
        "usage": _usage(completion.get("usage")),
    }


def _reasoning(delta: Mapping[str, Any]) -> str:
    """The reasoning text of an OpenAI message or delta (the two names upstreams use)."""
    text = delta.get("reasoning_content") or delta.get("reasoning")
    return text if isinstance(text, str) else ""


def _arguments(arguments: Any) -> dict[str, Any]:
    """Tool-call arguments as the object Anthropic's ``input`` must be."""
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if not arguments:
        return {}
    try:
        parsed = json.loads(arguments)
    except (TypeError, ValueError):
        parsed = None
    return parsed if isinstance(parsed, dict) else {"_raw": arguments}


def _stop_reason(finish_reason: Any, *, has_tools: bool) -> str:
    """Anthropic's stop reason; a turn that called tools but "stopped" (as some local
    upstreams report it) is a ``tool_use`` stop, or the client would not run the tools."""
    reason = _STOP_REASONS.get(finish_reason, "end_turn")
    return "tool_use" if has_tools and reason == "end_turn" else reason


def _tokens(usage: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """(uncached input, cache read, cache write, output) tokens of an OpenAI ``usage``."""

    def count(value: Any) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, Mapping) else {}
    prompt = count(usage.get("prompt_tokens"))
    read = min(count(details.get("cached_tokens")), prompt)
    written = min(count(details.get("cache_write_tokens")), prompt - read)
    return prompt - read - written, read, written, count(usage.get("completion_tokens"))


def _usage(usage: Any) -> dict[str, int]:
    fresh, read, written, output = _tokens(usage if isinstance(usage, Mapping) else {})
    return {
        "input_tokens": fresh,
        "output_tokens": output,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
    }


def _tool_id() -> str:
    return "toolu_" + uuid.uuid4().hex


# --- streaming ------------------------------------------------------------------------------


class AnthropicStream:
    """Turns an OpenAI chat.completion.chunk stream into Anthropic's stream events, in
    Anthropic's order: ``message_start``, ``ping``, then per content block
    ``content_block_start``/``_delta``s/``_stop``, then ``message_delta`` and
    ``message_stop``. Reasoning deltas become a ``thinking`` block only when ``thinking``
    (the request enabled extended thinking)."""

    def __init__(
        self,
        model: str,
        *,
        message_id: str | None = None,
        input_tokens: int = 0,
        thinking: bool = False,
    ) -> None:
        self._model = model
        self._thinking = thinking
        self._message_id = message_id
        self._input_tokens = input_tokens
        self._started = False
        self._finished = False
        self._blocks = 0  # content blocks started so far; the next block's index
        self._open: str | None = None  # "thinking", "text" or "tool_use"
        self._tool_key: tuple[Any, Any] | None = None  # (index, id) of the open tool call
        self._used_tools = False
        self._finish_reason: Any = None
        self._usage: Mapping[str, Any] | None = None

    def feed(self, chunk: Mapping[str, Any]) -> list[Event]:
        """The Anthropic events for one OpenAI ``chat.completion.chunk``."""
        if self._finished:
            return []
        events = self._start(chunk.get("id"))
        if isinstance(chunk.get("usage"), Mapping):
            self._usage = chunk["usage"]
        choices = chunk.get("choices") or []
        choice = choices[0] if choices and isinstance(choices[0], Mapping) else {}
        delta = choice.get("delta") or {}
        reasoning = _reasoning(delta) if self._thinking else ""
        if reasoning:
            events += self._delta("thinking", {"type": "thinking_delta", "thinking": reasoning})
        if isinstance(delta.get("content"), str) and delta["content"]:
            events += self._delta("text", {"type": "text_delta", "text": delta["content"]})
        for call in delta.get("tool_calls") or []:
            events += self._tool_call(call)
        if choice.get("finish_reason") is not None:
            self._finish_reason = choice["finish_reason"]
        return events

    def finish(self) -> list[Event]:
        """Close the open block and end the message; a second call adds nothing."""
        if self._finished:
            return []
        events = self._start(None) + self._close()
        self._finished = True
        usage: dict[str, int] = {"output_tokens": 0}
        if self._usage is not None:
            fresh, read, written, output = _tokens(self._usage)
            usage["output_tokens"] = output
            if "prompt_tokens" in self._usage:
                usage.update(
                    input_tokens=fresh,
                    cache_creation_input_tokens=written,
                    cache_read_input_tokens=read,
                )
        stop_reason = _stop_reason(self._finish_reason, has_tools=self._used_tools)
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": usage,
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def error_event(self, message: str, kind: str = "api_error") -> Event:
        """The event that reports a failure mid-stream; the stream ends with it, so a later
        ``finish`` adds nothing."""
        self._finished = True
        return "error", {"type": "error", "error": {"type": kind, "message": message}}

    def _start(self, chunk_id: Any) -> list[Event]:
        if self._started:
            return []
        self._started = True
        if self._message_id is None:
            self._message_id = "msg_" + str(chunk_id or uuid.uuid4().hex)
        message = {
            "id": self._message_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self._input_tokens,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }
        return [
            ("message_start", {"type": "message_start", "message": message}),
            ("ping", {"type": "ping"}),
        ]

    def _delta(self, kind: str, delta: dict[str, Any]) -> list[Event]:
        """A delta for a ``thinking`` or ``text`` block, opening one when another is open."""
        events: list[Event] = []
        if self._open != kind:
            block = {"type": kind, kind: ""}
            if kind == "thinking":
                block["signature"] = ""
            events += self._close() + self._open_block(kind, block)
        events.append(self._block_delta(delta))
        return events

    def _tool_call(self, call: Mapping[str, Any]) -> list[Event]:
        """A tool-call fragment: a new call (a new index, or a new id where upstreams reuse
        the index) closes the open block and starts a ``tool_use`` block."""
        events: list[Event] = []
        function = call.get("function") or {}
        index, call_id = call.get("index"), call.get("id")
        current = self._tool_key if self._open == "tool_use" else None
        if current is None or index != current[0] or (call_id and call_id != current[1]):
            self._tool_key = (index, call_id)
            self._used_tools = True
            block = {
                "type": "tool_use",
                "id": call_id or _tool_id(),
                "name": function.get("name") or "",
                "input": {},
            }
            events += self._close() + self._open_block("tool_use", block)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            events.append(
                self._block_delta({"type": "input_json_delta", "partial_json": arguments})
            )
        return events

    def _open_block(self, kind: str, block: dict[str, Any]) -> list[Event]:
        self._open = kind
        self._blocks += 1
        start = {"type": "content_block_start", "index": self._blocks - 1, "content_block": block}
        return [("content_block_start", start)]

    def _block_delta(self, delta: dict[str, Any]) -> Event:
        index = self._blocks - 1
        return "content_block_delta", {
            "type": "content_block_delta",
            "index": index,
            "delta": delta,
        }

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        self._open = None
        return [("content_block_stop", {"type": "content_block_stop", "index": self._blocks - 1})]


# --- wire helpers ---------------------------------------------------------------------------


def sse_encode(event: str, data: Mapping[str, Any]) -> bytes:
    """One Server-Sent Event: ``event: <name>``, then the data as compact one-line JSON (the
    live API key masked, as in every body the gateway sends)."""
    payload = redact_known(json.dumps(data, separators=(",", ":")))
    return f"event: {event}\ndata: {payload}\n\n".encode()


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    """Anthropic's error body for an HTTP ``status``."""
    kind = _ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def count_tokens_text(body: Mapping[str, Any]) -> str:
    """All the text of a request's system prompt, messages and tool definitions, for a local
    token estimate (``POST /v1/messages/count_tokens``); what it does not understand it skips."""
    texts = list(_texts(body.get("system")))
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, Mapping):
            texts.extend(_texts(message.get("content")))
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, Mapping):
            texts.extend(str(tool[key]) for key in ("name", "description") if tool.get(key))
            if "input_schema" in tool:
                texts.append(json.dumps(tool["input_schema"]))
    return "\n".join(t for t in texts if t)


def _texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
        return
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            yield str(block.get("text") or "")
        elif kind == "thinking":
            yield str(block.get("thinking") or "")
        elif kind == "tool_use":
            yield str(block.get("name") or "")
            yield json.dumps(block.get("input") or {})
        elif kind == "tool_result":
            yield from _texts(block.get("content"))
        elif kind == "document" and _is_text_source(block.get("source")):
            yield from _texts(block["source"].get("data"))


def _is_text_source(source: Any) -> bool:
    return isinstance(source, Mapping) and source.get("type") == "text"
