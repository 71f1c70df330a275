"""Loopback fakes of the model servers, replaying the real captures with injectable faults."""

from __future__ import annotations

from .providers import (
    COMPLETION_TOKENS,
    FAKE_API_KEY,
    PROMPT_TOKENS,
    REPLY_DELTAS,
    REPLY_TEXT,
    STREAM_COST,
    LMStudioFake,
    OllamaFake,
    OpenAICompatFake,
    OpenRouterFake,
)
from .server import DATA_DIR, FAULT_KINDS, FakeServer, RecordedRequest

__all__ = [
    "COMPLETION_TOKENS",
    "DATA_DIR",
    "FAKE_API_KEY",
    "FAULT_KINDS",
    "PROMPT_TOKENS",
    "REPLY_DELTAS",
    "REPLY_TEXT",
    "STREAM_COST",
    "FakeServer",
    "LMStudioFake",
    "OllamaFake",
    "OpenAICompatFake",
    "OpenRouterFake",
    "RecordedRequest",
]
