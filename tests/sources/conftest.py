"""Fixtures of the source-client tests: the loopback fakes (see tests/fakes/fixtures.py)."""

from __future__ import annotations

from tests.fakes.fixtures import (  # noqa: F401
    fake_api_key,
    fast_policy,
    http_client,
    llamacpp_fake,
    lmstudio_fake,
    ollama_fake,
    openrouter_fake,
    recording_sleep,
    vllm_fake,
)
