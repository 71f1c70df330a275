"""Async HTTP clients for the model sources, sharing one HTTP policy.

Each client takes a base URL, a shared ``httpx.AsyncClient`` and an :class:`HttpPolicy`, and
returns core values (``ParseResult``/``ModelInfo``) or the small values in :mod:`.results`.
Failures are the typed errors of :mod:`.errors`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from locallama_gui.core.models import Source

if TYPE_CHECKING:
    import httpx

    from .errors import (
        AuthError,
        BadRequest,
        BadResponse,
        InsecureURLError,
        ModerationError,
        NotFoundError,
        PaymentRequired,
        ProviderDown,
        RateLimited,
        ResponseTooLarge,
        SourceError,
        SourceTimeout,
        TimeoutError_,
        Unreachable,
        error_from_response,
        redact,
    )
    from .http import (
        HttpClient,
        HttpPolicy,
        check_url,
        is_private_host,
        operation_deadline,
        operation_remaining,
    )
    from .lmstudio import LMSTUDIO_DEFAULT_URL, LMStudioClient
    from .ollama import OLLAMA_DEFAULT_URL, OllamaClient, RunningModel, ollama_url_from_env
    from .openai_compat import OpenAICompatClient
    from .openrouter import OPENROUTER_BASE_URL, OpenRouterClient
    from .results import (
        COST_COMPUTED,
        COST_PROVIDER,
        COST_UNKNOWN,
        ChatResult,
        Health,
        HealthState,
        KeyStatus,
        ShowInfo,
        with_computed_cost,
    )

    LocalClient = OllamaClient | LMStudioClient | OpenAICompatClient

#: Where each public name lives. The submodules (and httpx with them) are imported the first
#: time one of their names is used, so ``import locallama_gui.sources.errors`` stays cheap.
_LAZY = {
    **dict.fromkeys(
        (
            "AuthError",
            "BadRequest",
            "BadResponse",
            "InsecureURLError",
            "ModerationError",
            "NotFoundError",
            "PaymentRequired",
            "ProviderDown",
            "RateLimited",
            "ResponseTooLarge",
            "SourceError",
            "SourceTimeout",
            "TimeoutError_",
            "Unreachable",
            "error_from_response",
            "redact",
        ),
        "errors",
    ),
    **dict.fromkeys(
        (
            "HttpClient",
            "HttpPolicy",
            "check_url",
            "is_private_host",
            "operation_deadline",
            "operation_remaining",
        ),
        "http",
    ),
    **dict.fromkeys(("LMSTUDIO_DEFAULT_URL", "LMStudioClient"), "lmstudio"),
    **dict.fromkeys(
        ("OLLAMA_DEFAULT_URL", "OllamaClient", "RunningModel", "ollama_url_from_env"), "ollama"
    ),
    "OpenAICompatClient": "openai_compat",
    **dict.fromkeys(("OPENROUTER_BASE_URL", "OpenRouterClient"), "openrouter"),
    **dict.fromkeys(
        (
            "COST_COMPUTED",
            "COST_PROVIDER",
            "COST_UNKNOWN",
            "ChatResult",
            "Health",
            "HealthState",
            "KeyStatus",
            "ShowInfo",
            "with_computed_cost",
        ),
        "results",
    ),
}


def __getattr__(name: str) -> Any:
    if name == "LocalClient":
        from .lmstudio import LMStudioClient
        from .ollama import OllamaClient
        from .openai_compat import OpenAICompatClient

        value: Any = OllamaClient | LMStudioClient | OpenAICompatClient
    elif name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "COST_COMPUTED",
    "COST_PROVIDER",
    "COST_UNKNOWN",
    "DEFAULT_LOCAL_PROBES",
    "LMSTUDIO_DEFAULT_URL",
    "OLLAMA_DEFAULT_URL",
    "OPENROUTER_BASE_URL",
    "AuthError",
    "BadRequest",
    "BadResponse",
    "ChatResult",
    "Health",
    "HealthState",
    "HttpClient",
    "HttpPolicy",
    "InsecureURLError",
    "KeyStatus",
    "LMStudioClient",
    "LocalClient",
    "LocalProbe",
    "ModerationError",
    "NotFoundError",
    "OllamaClient",
    "OpenAICompatClient",
    "OpenRouterClient",
    "PaymentRequired",
    "ProviderDown",
    "RateLimited",
    "ResponseTooLarge",
    "RunningModel",
    "ShowInfo",
    "SourceError",
    "SourceTimeout",
    "TimeoutError_",
    "Unreachable",
    "check_url",
    "client_for",
    "error_from_response",
    "is_private_host",
    "ollama_url_from_env",
    "operation_deadline",
    "operation_remaining",
    "redact",
    "with_computed_cost",
]


@dataclass(frozen=True, slots=True)
class LocalProbe:
    """Where a local server usually listens and which path proves it is there."""

    source: Source
    base_url: str
    path: str


DEFAULT_LOCAL_PROBES: tuple[LocalProbe, ...] = (
    LocalProbe(Source.OLLAMA, "http://127.0.0.1:11434", "/api/version"),
    LocalProbe(Source.LMSTUDIO, "http://127.0.0.1:1234", "/api/v0/models"),
    LocalProbe(Source.LLAMACPP, "http://127.0.0.1:8080", "/health"),
    LocalProbe(Source.LLAMACPP, "http://127.0.0.1:9931", "/health"),
    LocalProbe(Source.VLLM, "http://127.0.0.1:8000", "/v1/models"),
)


def client_for(
    source: Source,
    base_url: str,
    client: httpx.AsyncClient,
    policy: HttpPolicy | None = None,
    *,
    api_key: str | None = None,
) -> LocalClient:
    """The client class for a local ``source`` (OpenRouter has its own constructor)."""
    from .lmstudio import LMStudioClient
    from .ollama import OllamaClient
    from .openai_compat import OpenAICompatClient

    if source is Source.OLLAMA:
        return OllamaClient(base_url, client, policy)
    if source is Source.LMSTUDIO:
        return LMStudioClient(base_url, client, policy, api_token=api_key)
    if source is Source.OPENROUTER:
        raise ValueError("use OpenRouterClient for OpenRouter")
    return OpenAICompatClient(base_url, client, policy, source=source, api_key=api_key)
