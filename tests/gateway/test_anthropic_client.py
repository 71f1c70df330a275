"""``POST /v1/messages`` driven by the official ``anthropic`` client (what Claude Code uses
with ANTHROPIC_BASE_URL), routed and run like any other request."""

from __future__ import annotations

import pytest

from tests.fakes import REPLY_TEXT

from .conftest import TOKEN

anthropic = pytest.importorskip("anthropic")

OLLAMA_CHAT = "/v1/chat/completions"
CHAT = "/chat/completions"
HELLO = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def claude(gateway):
    with anthropic.Anthropic(base_url=gateway.url, api_key=TOKEN, max_retries=0) as c:
        yield c


def test_a_message_is_routed_and_answered_in_anthropic_format(claude, gateway, services):
    raw = claude.messages.with_raw_response.create(
        model="locallama/local", max_tokens=64, messages=HELLO
    )
    message = raw.parse()
    assert message.content[0].type == "text" and message.content[0].text == REPLY_TEXT
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0
    served = raw.headers["x-locallama-model"]
    assert message.model == served and raw.headers["x-locallama-tier"] == "local"
    assert services.flush_writes()  # the records are written behind the answer
    (entry,) = services.store.spend_entries()
    assert entry.client == "Anthropic/Python" and entry.model_id == served


def test_a_streamed_message_arrives_as_anthropic_events(claude, upstream):
    with claude.messages.stream(
        model="locallama/local", max_tokens=64, system="Be brief.", messages=HELLO
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == REPLY_TEXT
    assert final.content[0].text == REPLY_TEXT and final.stop_reason == "end_turn"
    (req,) = upstream.ollama.requests_to(OLLAMA_CHAT)
    body = req.json
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["stream"] is True and body["max_tokens"] == 64


def test_claude_model_names_route_and_tools_are_translated(claude, upstream):
    tool = {
        "name": "get_weather",
        "description": "Weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    with claude.messages.stream(
        model="claude-sonnet-4-5-20250929",
        max_tokens=64,
        messages=HELLO,
        tools=[tool],
        tool_choice={"type": "auto"},
    ) as stream:
        assert "".join(stream.text_stream) == REPLY_TEXT
    (req,) = upstream.openrouter.requests_to(CHAT)
    body = req.json
    assert body["model"] != "claude-sonnet-4-5-20250929"  # routed as locallama/auto
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather in a city",
                "parameters": tool["input_schema"],
            },
        }
    ]
    assert body["tool_choice"] == "auto"
    assert TOKEN not in req.body.decode() and "x-api-key" not in req.headers


def test_errors_come_back_as_anthropic_errors(claude, gateway):
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key="wrong", max_retries=0) as bad,
        pytest.raises(anthropic.AuthenticationError),
    ):
        bad.messages.create(model="locallama/local", max_tokens=8, messages=HELLO)
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        claude.messages.create(model="locallama/local", max_tokens=0, messages=HELLO)


def test_tokens_are_counted_locally(claude):
    counted = claude.messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "Hello there " * 50}]
    )
    assert 90 <= counted.input_tokens <= 160
