"""Endpoint checks for the Settings pane's Test buttons: is a server there, and what is it?

Each check sends one small GET with short timeouts and never raises: it returns ``(ok,
message)`` with a message a person can act on. No API key is sent.
"""

from __future__ import annotations

import time

import httpx

from locallama_gui.sources.errors import redact
from locallama_gui.sources.http import USER_AGENT, check_url

#: kind -> paths tried in order; the first that answers 2xx proves the server is there.
PROBE_PATHS: dict[str, tuple[str, ...]] = {
    "openrouter": ("/models/count",),
    "ollama": ("/api/version", "/api/tags"),
    "lmstudio": ("/api/v0/models", "/v1/models"),
    "llamacpp": ("/health", "/v1/models"),
    "vllm": ("/v1/models", "/health"),
    "openai_compat": ("/v1/models", "/health", "/models"),
}
KIND_LABELS = {
    "openrouter": "OpenRouter",
    "ollama": "Ollama",
    "lmstudio": "LM Studio",
    "llamacpp": "llama.cpp",
    "vllm": "vLLM",
    "openai_compat": "The server",
}

CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 5.0


def _describe(kind: str, path: str, response: httpx.Response) -> str:
    label = KIND_LABELS.get(kind, "The server")
    try:
        body = response.json()
    except ValueError:
        body = None
    if kind == "ollama" and isinstance(body, dict) and isinstance(body.get("version"), str):
        return f"Ollama {body['version']} is running"
    if kind == "openrouter" and isinstance(body, dict):
        data = body.get("data")
        if isinstance(data, dict) and isinstance(data.get("count"), int):
            return f"OpenRouter answered: {data['count']} models listed"
    if isinstance(body, dict):
        models = body.get("data", body.get("models"))
        if isinstance(models, list):
            n = len(models)
            return f"{label} answered: {n} model{'s' if n != 1 else ''} available"
        if body.get("status") == "ok":
            return f"{label} is running and healthy"
    return f"{label} answered at {path}"


async def test_endpoint(
    kind: str,
    url: str,
    *,
    client: httpx.AsyncClient | None = None,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    read_timeout: float = READ_TIMEOUT_S,
) -> tuple[bool, str]:
    """Check that a ``kind`` server answers at ``url``; ``(ok, message)``, never raises."""
    paths = PROBE_PATHS.get(kind, PROBE_PATHS["openai_compat"])
    base = url.strip().rstrip("/")
    try:
        check_url(base)
    except ValueError as e:
        return False, f"Not a usable URL: {redact(str(e))}"
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    owns = client is None
    http = client or httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT}
    )
    started = time.monotonic()
    last = "no answer"
    try:
        for path in paths:
            try:
                response = await http.get(base + path, timeout=timeout)
            except httpx.ConnectError:
                return False, f"Nothing is listening at {base} (connection refused)"
            except httpx.TimeoutException:
                return False, f"No answer from {base} within {connect_timeout + read_timeout:g} s"
            except httpx.HTTPError as e:
                return False, redact(f"Could not reach {base}: {e}")
            if 200 <= response.status_code < 300:
                ms = (time.monotonic() - started) * 1000
                return True, f"{_describe(kind, path, response)} ({ms:.0f} ms)"
            if response.status_code in (401, 403):
                return False, (
                    f"{base} answered {response.status_code}: it wants an API key or token"
                )
            if response.status_code == 503:
                return False, f"{base} is up but not ready yet (503, e.g. a model is loading)"
            last = f"HTTP {response.status_code} at {path}"
        return (
            False,
            f"{base} answered, but not like a {KIND_LABELS.get(kind, 'model')} server ({last})",
        )
    finally:
        if owns:
            await http.aclose()


test_endpoint.__test__ = False  # type: ignore[attr-defined]  # not a pytest test

__all__ = ["KIND_LABELS", "PROBE_PATHS", "test_endpoint"]
