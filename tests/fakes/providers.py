"""Fakes of OpenRouter, Ollama, LM Studio and OpenAI-compatible servers (llama.cpp, vLLM).

They replay the real captures in ``shared/data`` and answer chat requests with deterministic
content and usage: the reply is always :data:`REPLY_DELTAS` joined.
"""

from __future__ import annotations

import json
from typing import Any

from .server import FakeServer, RecordedRequest, _Handler

REPLY_DELTAS = ("Hello", "!", " How", " can", " I", " help", "?")
REPLY_TEXT = "".join(REPLY_DELTAS)
PROMPT_TOKENS = 12
COMPLETION_TOKENS = len(REPLY_DELTAS)
#: ``usage.cost`` the OpenRouter fake reports on streamed completions (a JSON number).
STREAM_COST = 0.0000213
FAKE_API_KEY = "sk-or-v1-fake0123456789abcdefRECOGNISABLE"
CREATED = 1_767_225_600


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _requested_model(req: RecordedRequest, default: str) -> str:
    try:
        body = req.json
    except ValueError:
        return default
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) and model else default


def _wants_stream(req: RecordedRequest) -> bool:
    try:
        body = req.json
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("stream") is True


class _OpenAIChatMixin(FakeServer):
    """OpenAI-format chat: SSE stream or one JSON completion."""

    provider_name: str | None = None
    include_cost = False

    def answer_model(self, req: RecordedRequest) -> str:
        return _requested_model(req, "fake-model")

    def _chunk(self, req: RecordedRequest, delta: dict[str, Any], finish: str | None) -> Any:
        chunk: dict[str, Any] = {
            "id": "gen-fake-0001",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": self.answer_model(req),
            "choices": [
                {
                    "index": 0,
                    "delta": delta,
                    "finish_reason": finish,
                    "native_finish_reason": finish,
                }
            ],
        }
        if self.provider_name:
            chunk["provider"] = self.provider_name
        return chunk

    def usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
        if self.include_cost:
            usage["cost"] = STREAM_COST
            usage["is_byok"] = False
        return usage

    def stream_chunks(self, req: RecordedRequest) -> list[bytes]:
        chunks = [b": OPENROUTER PROCESSING\n\n"] if self.provider_name else []
        for n, piece in enumerate(REPLY_DELTAS):
            delta = {"role": "assistant", "content": piece} if n == 0 else {"content": piece}
            chunks.append(_sse(self._chunk(req, delta, None)))
        chunks.append(_sse(self._chunk(req, {"content": ""}, "stop")))
        final = self._chunk(req, {}, None)
        final["choices"] = []
        final["usage"] = self.usage()
        final.update(self.final_chunk_extra())
        chunks.append(_sse(final))
        chunks.append(b"data: [DONE]\n\n")
        return chunks

    def final_chunk_extra(self) -> dict[str, Any]:
        return {}

    def stream_error_chunks(self, req: RecordedRequest) -> list[bytes]:
        chunk = self._chunk(req, {"content": ""}, "error")
        chunk["error"] = {"code": "server_error", "message": "Provider disconnected unexpectedly"}
        return [_sse(chunk), b"data: [DONE]\n\n"]

    def completion(self, req: RecordedRequest) -> dict[str, Any]:
        return {
            "id": "gen-fake-0001",
            "object": "chat.completion",
            "created": CREATED,
            "model": self.answer_model(req),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": REPLY_TEXT},
                    "finish_reason": "stop",
                }
            ],
            "usage": self.usage(),
        }

    def chat(self, h: _Handler, req: RecordedRequest) -> None:
        if _wants_stream(req):
            self.send_stream(h, self.stream_chunks(req))
        else:
            self.send_json(h, 200, self.completion(req))


class OpenRouterFake(_OpenAIChatMixin):
    """``/api/v1``: models (the 414-model capture), key status and chat completions.

    Non-streaming chat answers with the real 2025 capture (``model`` openai/gpt-3.5-turbo, no
    ``cost``); streaming chat answers with :data:`REPLY_DELTAS` and a ``usage.cost``.
    """

    name = "openrouter"
    api_prefix = "/api/v1"
    provider_name = "FakeProvider"
    include_cost = True
    models_file = "openrouter/models-2026-08-14.json"
    chat_file = "openrouter/chat-completion-2025-05-21.json"

    def __init__(self, *args: Any, api_key: str = FAKE_API_KEY, **kwargs: Any) -> None:
        self.api_key = api_key
        self.is_free_tier = True
        self.free_daily: dict | None = None  # free_model_daily_requests on /key
        self.key_path_missing = False
        super().__init__(*args, **kwargs)

    def install_routes(self) -> None:
        p = self.api_prefix
        self.routes[("GET", p + "/models")] = self._models
        self.routes[("GET", p + "/key")] = self._key
        self.routes[("GET", p + "/auth/key")] = self._key
        self.routes[("POST", p + "/chat/completions")] = self._chat

    def answer_model(self, req: RecordedRequest) -> str:
        model = _requested_model(req, "openrouter/auto")
        return "upstage/solar-pro-3:free" if model == "openrouter/free" else model

    def _authorised(self, h: _Handler, req: RecordedRequest) -> bool:
        if req.headers.get("authorization") == f"Bearer {self.api_key}":
            return True
        self.send_error_body(h, 401, "No cookie auth credentials found")
        return False

    def _models(self, h: _Handler, req: RecordedRequest) -> None:
        self.send_bytes(h, 200, self.read_data(self.models_file), "application/json")

    def _key(self, h: _Handler, req: RecordedRequest) -> None:
        if self.key_path_missing and req.path.endswith("/key") and "/auth/" not in req.path:
            self.send_error_body(h, 404, "Not Found")
            return
        if not self._authorised(h, req):
            return
        data = {
            "label": "sk-or-v1-fak...DEF",
            "limit": 10.5,
            "limit_remaining": 7.25,
            "limit_reset": "monthly",
            "include_byok_in_limit": False,
            "usage": 3.25,
            "usage_daily": 0.5,
            "usage_weekly": 1.25,
            "usage_monthly": 3.25,
            "byok_usage": 0,
            "is_free_tier": self.is_free_tier,
            "is_management_key": False,
            "is_provisioning_key": False,
            "expires_at": None,
            "rate_limit": {"requests": -1, "interval": "10s", "note": "deprecated"},
        }
        if self.free_daily is not None:  # {limit, remaining, used}, as OpenRouter documents
            data["free_model_daily_requests"] = self.free_daily
        self.send_json(h, 200, {"data": data})

    def _chat(self, h: _Handler, req: RecordedRequest) -> None:
        if not self._authorised(h, req):
            return
        if _wants_stream(req):
            self.send_stream(h, self.stream_chunks(req))
        else:
            self.send_bytes(h, 200, self.read_data(self.chat_file), "application/json")


class OllamaFake(FakeServer):
    """Ollama: version, tags + ps captures, show, and NDJSON chat with nanosecond timings."""

    name = "ollama"
    stream_content_type = "application/x-ndjson"
    version = "0.12.3"
    tags_file = "ollama/tags-2026-04.json"
    ps_file = "ollama/ps-2026-04.json"
    #: ``model_info["<arch>.context_length"]`` answered by ``/api/show``.
    show_context_length = 131072

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.omit_timings = False
        super().__init__(*args, **kwargs)

    def install_routes(self) -> None:
        self.routes[("GET", "/api/version")] = lambda h, r: self.send_json(
            h, 200, {"version": self.version}
        )
        self.routes[("GET", "/api/tags")] = lambda h, r: self.send_bytes(
            h, 200, self.read_data(self.tags_file), "application/json; charset=utf-8"
        )
        self.routes[("GET", "/api/ps")] = lambda h, r: self.send_bytes(
            h, 200, self.read_data(self.ps_file), "application/json; charset=utf-8"
        )
        self.routes[("POST", "/api/show")] = self._show
        self.routes[("POST", "/api/chat")] = self._chat
        self.routes[("POST", "/v1/chat/completions")] = self._v1_chat

    def error_body(self, status: int, message: str, metadata: Any = None, availability: Any = None):
        return {"error": message}

    def _installed(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name in (self.tags_file, self.ps_file):
            for row in json.loads(self.read_data(name))["models"]:
                out[row["name"]] = row
        return out

    def _show(self, h: _Handler, req: RecordedRequest) -> None:
        body = req.json or {}
        model = body.get("model") or body.get("name")
        row = self._installed().get(model)
        if row is None:
            self.send_error_body(h, 404, f"model '{model}' not found")
            return
        details = row["details"]
        arch = details.get("family") or "llama"
        payload = {
            "license": "",
            "modelfile": f"FROM {model}\n",
            "parameters": 'num_ctx 8192\nstop "<|im_start|>"\nstop "<|im_end|>"\ntemperature 0.7',
            "template": "{{ .Prompt }}",
            "details": details,
            "model_info": {
                "general.architecture": arch,
                "general.parameter_count": 8_030_261_248,
                f"{arch}.context_length": self.show_context_length,
                f"{arch}.embedding_length": 4096,
            },
            "capabilities": ["completion", "tools"],
            "modified_at": row.get("modified_at", "2026-04-20T14:04:30.1720209-04:00"),
        }
        self.send_json(h, 200, payload)

    def _line(self, obj: Any) -> bytes:
        return json.dumps(obj).encode() + b"\n"

    def _final(self, model: str, content: str = "") -> dict[str, Any]:
        final: dict[str, Any] = {
            "model": model,
            "created_at": "2026-04-20T18:00:00.000000Z",
            "message": {"role": "assistant", "content": content},
            "done": True,
            "done_reason": "stop",
        }
        if not self.omit_timings:
            final.update(
                total_duration=1_500_000_000,
                load_duration=100_000_000,
                prompt_eval_count=PROMPT_TOKENS,
                prompt_eval_duration=200_000_000,
                eval_count=COMPLETION_TOKENS,
                eval_duration=1_000_000_000,
            )
        return final

    def stream_chunks(self, req: RecordedRequest) -> list[bytes]:
        model = _requested_model(req, "llama3")
        chunks = [
            self._line(
                {
                    "model": model,
                    "created_at": "2026-04-20T18:00:00.000000Z",
                    "message": {"role": "assistant", "content": piece},
                    "done": False,
                }
            )
            for piece in REPLY_DELTAS
        ]
        chunks.append(self._line(self._final(model)))
        return chunks

    def stream_error_chunks(self, req: RecordedRequest) -> list[bytes]:
        return [self._line({"error": "an error was encountered while running the model"})]

    def _chat(self, h: _Handler, req: RecordedRequest) -> None:
        body = req.json or {}
        model = _requested_model(req, "llama3")
        if model not in self._installed():
            self.send_error_body(h, 404, f"model '{model}' not found, try pulling it first")
            return
        if body.get("stream", True):
            self.send_stream(h, self.stream_chunks(req))
        else:
            self.send_json(h, 200, self._final(model, REPLY_TEXT))

    def _v1_chat(self, h: _Handler, req: RecordedRequest) -> None:
        """Ollama's OpenAI-compatible chat (SSE or one completion)."""
        model = _requested_model(req, "llama3")
        if model not in self._installed():
            self.send_json(
                h,
                404,
                {"error": {"message": f"model '{model}' not found", "type": "api_error"}},
            )
            return
        chat = _OllamaOpenAIChat()
        if _wants_stream(req):
            self.send_stream(h, chat.stream_chunks(req), content_type="text/event-stream")
        else:
            self.send_json(h, 200, chat.completion(req))


class _OllamaOpenAIChat(_OpenAIChatMixin):
    """The OpenAI-format answers of Ollama's ``/v1`` (built, never started)."""

    def install_routes(self) -> None:
        pass

    def answer_model(self, req: RecordedRequest) -> str:
        return _requested_model(req, "llama3")


class LMStudioFake(_OpenAIChatMixin):
    """LM Studio: ``/api/v0/models`` (capture), ``/v1/models`` and chat with ``stats``."""

    name = "lmstudio"
    models_file = "lmstudio/api-v0-models-2026-08.json"

    def install_routes(self) -> None:
        self.routes[("GET", "/api/v0/models")] = lambda h, r: self.send_bytes(
            h, 200, self.read_data(self.models_file), "application/json"
        )
        self.routes[("GET", "/v1/models")] = self._v1_models
        self.routes[("POST", "/api/v0/chat/completions")] = self.chat
        self.routes[("POST", "/v1/chat/completions")] = self.chat

    def _v1_models(self, h: _Handler, req: RecordedRequest) -> None:
        rows = json.loads(self.read_data(self.models_file))["data"]
        data = [{"id": r["id"], "object": "model", "owned_by": r["publisher"]} for r in rows]
        self.send_json(h, 200, {"object": "list", "data": data})

    def stats(self) -> dict[str, Any]:
        return {
            "tokens_per_second": 42.5,
            "time_to_first_token": 0.25,
            "generation_time": 0.75,
            "stop_reason": "eosFound",
        }

    def completion(self, req: RecordedRequest) -> dict[str, Any]:
        out = super().completion(req)
        if req.path.startswith("/api/v0/"):
            out["stats"] = self.stats()
            out["model_info"] = {
                "arch": "qwen3_5_moe",
                "quant": "4bit",
                "format": "mlx",
                "context_length": 262144,
            }
            out["runtime"] = {"name": "mlx-llm", "version": "0.30.0", "supported_formats": ["mlx"]}
        return out

    def final_chunk_extra(self) -> dict[str, Any]:
        return {"stats": self.stats()}


class OpenAICompatFake(_OpenAIChatMixin):
    """llama.cpp (``flavour="llamacpp"``) or vLLM (``flavour="vllm"``): health, models, chat."""

    def __init__(self, *args: Any, flavour: str = "llamacpp", **kwargs: Any) -> None:
        if flavour not in ("llamacpp", "vllm"):
            raise ValueError("flavour must be 'llamacpp' or 'vllm'")
        self.flavour = flavour
        self.name = flavour
        self.loading = False
        super().__init__(*args, **kwargs)

    def install_routes(self) -> None:
        self.routes[("GET", "/health")] = self._health
        self.routes[("GET", "/v1/models")] = self._models
        self.routes[("POST", "/v1/chat/completions")] = self.chat

    def _health(self, h: _Handler, req: RecordedRequest) -> None:
        if self.loading:
            body = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
            self.send_json(h, 503, body)
        elif self.flavour == "vllm":
            self.send_bytes(h, 200, b"", "application/json")
        else:
            self.send_json(h, 200, {"status": "ok"})

    def model_id(self) -> str:
        if self.flavour == "vllm":
            return "Qwen/Qwen2.5-7B-Instruct"
        return "qwen2.5-coder-7b-instruct-q4_k_m.gguf"

    def answer_model(self, req: RecordedRequest) -> str:
        return self.model_id()

    def _models(self, h: _Handler, req: RecordedRequest) -> None:
        mid = self.model_id()
        if self.flavour == "vllm":
            row = {
                "id": mid,
                "object": "model",
                "created": CREATED,
                "owned_by": "vllm",
                "root": mid,
                "parent": None,
                "max_model_len": 32768,
                "permission": [],
            }
            self.send_json(h, 200, {"object": "list", "data": [row]})
            return
        row = {
            "id": mid,
            "object": "model",
            "created": CREATED,
            "owned_by": "llamacpp",
            "aliases": [mid],
            "meta": {
                "vocab_type": 2,
                "n_vocab": 152064,
                "n_ctx": 8192,
                "n_ctx_train": 32768,
                "n_embd": 3584,
                "n_params": 7615616512,
                "size": 4677120000,
                "ftype": 15,
            },
        }
        models = [{"name": mid, "model": mid, "type": "model", "capabilities": ["completion"]}]
        self.send_json(h, 200, {"models": models, "object": "list", "data": [row]})
