"""The gateway's request logic without HTTP: client names, auth, reading needs from a
request, virtual-model planning, error statuses, and the OpenAPI document."""

from __future__ import annotations

import pytest

from locallama_gui.gateway.app import create_app
from locallama_gui.gateway.host import GatewayHost, GatewayStartError, is_loopback
from locallama_gui.gateway.openapi import openapi_document
from locallama_gui.gateway.service import (
    Gateway,
    GatewayError,
    bearer,
    client_name,
    failure,
    image_count,
    meaningful,
    needs_of,
    token_matches,
)
from locallama_gui.services.runner import FAILED, RATE_LIMITED, SKIPPED, Attempt, RunResult

from .conftest import TOKEN


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        ("OpenAI/Python 1.40.0", "OpenAI/Python"),
        ("claude-cli/1.0.3 (external, cli)", "claude-cli"),
        ("Aider/0.86", "Aider"),
        ("python-httpx/0.28.1", "python-httpx"),
        ("", "unknown"),
        (None, "unknown"),
        ("<script>alert(1)</script>", "scriptalert1/script"),
    ],
)
def test_client_names_come_from_the_user_agent(agent, name):
    assert client_name(agent) == name


def test_the_token_is_read_from_bearer_or_x_api_key_and_compared_exactly():
    assert bearer({"authorization": "Bearer abc"}) == "abc"
    assert bearer({"authorization": "bearer  abc "}) == "abc"
    assert bearer({"x-api-key": "xyz"}) == "xyz"
    assert bearer({"authorization": "Basic abc"}) is None
    assert token_matches("secret-token", "secret-token")
    assert not token_matches("secret-token", "secret-tokeN")
    assert not token_matches("secret-token", None)


def test_needs_are_read_from_the_request():
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    body = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, image]}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x"}},
    }
    assert needs_of(body) == {"tools", "vision", "json"}
    assert needs_of({"messages": [{"role": "user", "content": "hi"}]}) == frozenset()
    two = [{"role": "user", "content": [image, {"type": "text", "text": "and"}, image]}]
    assert image_count(body["messages"]) == 1 and image_count(two) == 2
    assert image_count([{"role": "user", "content": "no images"}]) == 0


def test_a_role_only_chunk_is_held_back_and_content_is_not():
    role = {"choices": [{"delta": {"role": "assistant", "content": ""}}]}
    assert not meaningful(role)
    assert meaningful({"choices": [{"delta": {"content": "Hi"}}]})
    assert meaningful({"choices": [{"delta": {"tool_calls": [{"index": 0}]}}]})
    assert meaningful({"choices": [{"delta": {}, "finish_reason": "stop"}]})
    assert meaningful({"choices": [], "usage": {"prompt_tokens": 1}})


def test_virtual_models_are_planned_by_routing(services):
    gateway = Gateway(services, token=TOKEN, api_key="sk-or-v1-x" + "0" * 20)
    gateway.live = type("Live", (), {"api_key": "k"})()  # planning needs only the key
    plan = gateway.plan(
        {
            "model": "locallama/local",
            "messages": [{"role": "user", "content": "```py\nprint(1)\n```"}],
            "temperature": 0.1,
            "locallama": {"priority": "speed"},
        }
    )
    assert plan.category == "code"  # a code fence says so
    assert plan.decision is not None and plan.chain
    assert all(services.find_model(m).tier.value == "local" for m in plan.chain)
    assert plan.upstream == {"temperature": 0.1, "stream": False}
    with pytest.raises(GatewayError, match="unknown priority") as e:
        gateway.plan(
            {
                "model": "locallama/auto",
                "messages": [{"role": "user", "content": "x"}],
                "locallama": {"priority": "fastest"},
            }
        )
    assert e.value.status == 400
    with pytest.raises(GatewayError, match="concrete model id is sent as asked"):
        gateway.plan(
            {
                "model": "openai/gpt-4o-mini",
                "messages": [{"role": "user", "content": "x"}],
                "locallama": {"priority": "speed"},
            }
        )


def _run(*attempts: Attempt) -> RunResult:
    return RunResult(result=None, model_id=None, attempts=attempts, error="it failed")


def test_failures_map_to_the_status_a_client_can_act_on():
    cap = Attempt("p", SKIPPED, "the daily spend cap of $1.00 is reached")
    assert failure(_run(cap)).status == 402
    limited = Attempt("f", RATE_LIMITED, "limit", "RateLimited:free-per-day")
    assert failure(_run(limited)).status == 429
    free = Attempt("f", SKIPPED, "free-model daily limit reached (until …)")
    assert failure(_run(free)).status == 429
    down = Attempt("p", FAILED, "down", "ProviderDown")
    assert failure(_run(limited, down)).status == 502
    slow = Attempt("p", FAILED, "slow", "SourceTimeout")
    assert failure(_run(slow)).status == 504
    assert failure(_run()).status == 503


def test_the_openapi_document_describes_every_route_and_nothing_else(services):
    app = create_app(Gateway(services, token=TOKEN))
    routes = {r.path.replace("{model_id:path}", "{model_id}") for r in app.routes}
    doc = openapi_document()
    assert set(doc["paths"]) == routes
    assert doc["openapi"].startswith("3.1")
    for path, item in doc["paths"].items():
        for op in item.values():
            assert op["responses"] and op["summary"]
            assert op["security"] == ([] if path == "/health" else [{"bearer": []}])


def test_a_public_address_needs_the_explicit_flag(services):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    gateway = Gateway(services, token=TOKEN)
    with pytest.raises(GatewayStartError, match="--allow-remote"):
        GatewayHost(gateway, host="0.0.0.0")
    GatewayHost(gateway, host="0.0.0.0", allow_remote=True)  # allowed when asked for


def test_a_taken_port_is_a_clear_error(services):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        host = GatewayHost(Gateway(services, token=TOKEN), port=port)
        with pytest.raises(GatewayStartError, match="pick another with --port"):
            host.start()
