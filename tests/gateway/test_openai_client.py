"""The gateway driven by the real ``openai`` client, the loopback fakes upstream: routing,
passthrough, streaming, fallback, failures mid-stream, disconnects, auth and load."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import openai
import pytest

from locallama_gui.core.models import Tier
from tests.fakes import FAKE_API_KEY, REPLY_DELTAS, REPLY_TEXT
from tests.fakes import server as fk

from .conftest import TOKEN

CHAT = "/chat/completions"
OLLAMA_CHAT = "/v1/chat/completions"
PAID = "openai/gpt-4o-mini"
LOCAL = "gemma4:e4b"
HELLO = [{"role": "user", "content": "Say hello"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


#: What the OpenRouter fake answers to a non-streamed request (its captured completion).
CAPTURED_TEXT = "Hello! How can I assist you today?"
CAPTURED_MODEL = "openai/gpt-3.5-turbo"

_clients: list[openai.OpenAI] = []


def client(gateway, **kwargs) -> openai.OpenAI:
    c = openai.OpenAI(
        base_url=gateway.url + "/v1",
        api_key=kwargs.pop("api_key", TOKEN),
        max_retries=0,
        **kwargs,
    )
    _clients.append(c)
    return c


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _clients:
        _clients.pop().close()


def tier_of(services, model_id: str) -> Tier:
    return services.find_model(model_id).tier


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


# --- models -----------------------------------------------------------------------------------


def test_models_lists_the_virtual_models_then_every_routable_model(gateway, services):
    ids = [m.id for m in client(gateway).models.list()]
    assert ids[:3] == ["locallama/auto", "locallama/free", "locallama/local"]
    assert PAID in ids and LOCAL in ids
    assert len(ids) == 3 + sum(1 for m in services.models if m.tier is not Tier.UNKNOWN)
    one = client(gateway).models.retrieve(PAID)
    assert one.id == PAID


# --- routing and passthrough ------------------------------------------------------------------


def test_trivial_work_goes_to_a_good_enough_local_model_before_a_free_one(gateway, services):
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="locallama/auto", messages=HELLO
    )
    # free requests are scarce and local ones are not: "Say hello" stays on this machine
    assert raw.headers["x-locallama-tier"] == Tier.LOCAL.value
    assert raw.parse().choices[0].message.content == REPLY_TEXT


def test_auto_is_routed_and_the_response_names_the_model_that_served(gateway, services):
    hard = [
        {
            "role": "user",
            "content": "Prove step by step why the algorithm is correct, then explain and derive "
            "its complexity, compare it with two alternatives and implement it:\n"
            "```python\ndef f(xs):\n    return sorted(xs)\n```\n1. proof\n2. analysis\n"
            "3. comparison\n4. code?",
        }
    ]
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="locallama/auto", messages=hard
    )
    completion = raw.parse()
    # more than a local model estimated from its size is known to do: the chain starts with a
    # free OpenRouter model; the fake answers with its capture
    assert completion.choices[0].message.content == CAPTURED_TEXT
    served = raw.headers["x-locallama-model"]
    assert completion.model == served == CAPTURED_MODEL
    assert raw.headers["x-locallama-routed-model"].endswith(":free")
    assert raw.headers["x-locallama-tier"] == tier_of(services, served).value
    assert raw.headers["x-locallama-asked"] == "locallama/auto"
    # recorded as a run records it (written behind the answer): route history, spend ledger
    # with the client, sample
    assert services.flush_writes()
    (entry,) = services.store.spend_entries()
    assert entry.model_id == served and entry.client == "OpenAI/Python"
    assert entry.baseline_model == services.settings.spend.baseline_model
    assert entry.baseline_cost_usd is not None and entry.baseline_cost_usd > 0
    routed = raw.headers["x-locallama-routed-model"]
    assert services.store.recent_routes(5)[0].chosen_id == routed
    assert services.store.samples(model_id=routed)[0].success


def test_a_concrete_model_goes_as_asked_with_every_field_passed_through(gateway, upstream):
    completion = client(gateway).chat.completions.create(
        model=PAID,
        messages=HELLO,
        tools=TOOLS,
        tool_choice="auto",
        temperature=0.2,
        response_format={"type": "json_object"},
        seed=7,
        extra_body={"top_k": 3},
    )
    assert completion.model == CAPTURED_MODEL  # what the upstream says served it
    (req,) = upstream.openrouter.requests_to(CHAT)
    body = req.json
    assert body["model"] == PAID and body["messages"] == HELLO
    assert body["tools"] == TOOLS and body["tool_choice"] == "auto"
    assert body["temperature"] == 0.2 and body["seed"] == 7 and body["top_k"] == 3
    assert body["response_format"] == {"type": "json_object"}
    # the client's own auth never goes upstream: only the OpenRouter key does
    assert req.headers["authorization"] == f"Bearer {FAKE_API_KEY}"
    assert TOKEN not in json.dumps(req.headers) and TOKEN not in req.body.decode()


def test_the_locallama_object_routes_and_never_goes_upstream(gateway, upstream, services):
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="locallama/local",
        messages=HELLO,
        extra_body={"locallama": {"category": "code", "priority": "speed"}},
    )
    served = raw.headers["x-locallama-model"]
    assert raw.headers["x-locallama-tier"] == "local"
    assert tier_of(services, served) is Tier.LOCAL
    (req,) = upstream.ollama.requests_to(OLLAMA_CHAT)
    assert "locallama" not in req.json and req.json["model"] == served
    assert "authorization" not in req.headers  # nothing to send to a local server
    assert raw.parse().choices[0].message.content == REPLY_TEXT


def test_bad_requests_get_openai_errors_that_say_what_to_fix(gateway):
    c = client(gateway)
    with pytest.raises(openai.NotFoundError, match="did you mean"):
        c.chat.completions.create(model="openai/gpt-4o-minii", messages=HELLO)
    with pytest.raises(openai.BadRequestError, match="unknown locallama option 'speed'"):
        c.chat.completions.create(
            model="locallama/auto", messages=HELLO, extra_body={"locallama": {"speed": 1}}
        )
    with pytest.raises(openai.BadRequestError, match="messages"):
        c.chat.completions.create(model="locallama/auto", messages=[])
    r = httpx.post(
        gateway.url + "/v1/chat/completions",
        content=b'{"model": "locallama/auto", "messages": [',
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]


# --- streaming ---------------------------------------------------------------------------------


def test_streaming_passes_the_chunks_through_with_the_served_model(gateway, services):
    with client(gateway).chat.completions.with_streaming_response.create(
        model="locallama/auto", messages=HELLO, stream=True
    ) as response:
        served = response.headers["x-locallama-model"]
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY_TEXT
    assert {c.model for c in chunks} == {served}
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == len(REPLY_DELTAS)
    wait_until(lambda: len(services.store.spend_entries()) == 1)
    assert services.store.spend_entries()[0].model_id == served


def test_a_free_per_day_429_falls_back_past_every_free_model(gateway, upstream, services):
    upstream.openrouter.fail_next(CHAT, fk.RATE_LIMIT_DAY)
    with client(gateway).chat.completions.with_streaming_response.create(
        model="locallama/auto", messages=HELLO, tools=TOOLS, stream=True
    ) as response:
        served = response.headers["x-locallama-model"]
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text == REPLY_TEXT
    assert tier_of(services, served) is Tier.PAID
    assert response.headers["x-locallama-tier"] == "paid"
    sent = [r.json["model"] for r in upstream.openrouter.requests_to(CHAT)]
    assert len(sent) == 2 and sent[1] == served  # one free try, then straight to paid
    assert services.quota_status().day_exhausted


@pytest.mark.parametrize(
    ("fault", "options"),
    [(fk.SERVER_ERROR, {}), (fk.BAD_GATEWAY, {}), (fk.STREAM_DROP, {}), (fk.HTML, {})],
)
def test_5xx_timeouts_and_garbage_move_on_to_the_next_model(gateway, upstream, fault, options):
    upstream.openrouter.fail_next(CHAT, fault, **options)
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="locallama/auto", messages=HELLO, tools=TOOLS
    )
    assert raw.parse().choices[0].message.content == CAPTURED_TEXT
    first, second = (r.json["model"] for r in upstream.openrouter.requests_to(CHAT))
    assert first != second == raw.headers["x-locallama-routed-model"]


def test_an_upstream_host_that_holds_the_first_byte_costs_one_timeout(gateway, upstream, services):
    # the per-host breaker: the other models on that host are skipped, not waited for in turn
    upstream.openrouter.fail_next(CHAT, fk.HANG, hang_s=4)
    started = time.monotonic()
    try:
        raw = client(gateway).chat.completions.with_raw_response.create(
            model="locallama/auto", messages=HELLO, tools=TOOLS
        )
    except openai.APIStatusError as e:  # every model of the chain was on that host
        assert e.status_code == 504
        assert "did not answer (timed out after 2 s)" in e.message
        assert "other models on it skipped" in e.message
    else:  # the chain went on to another host
        assert tier_of(services, raw.headers["x-locallama-model"]) is Tier.LOCAL
    assert len(upstream.openrouter.requests_to(CHAT)) == 1
    assert time.monotonic() - started < 3 * 2.0  # one 2 s read timeout, not one per model


def test_a_failure_before_anything_was_sent_moves_on(gateway, upstream):
    # a comment line, then an error: nothing reached the client, so the next model answers
    upstream.openrouter.fail_next(CHAT, fk.STREAM_ERROR, after_chunks=1)
    stream = client(gateway).chat.completions.create(
        model="locallama/auto", messages=HELLO, tools=TOOLS, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == REPLY_TEXT
    assert len(upstream.openrouter.requests_to(CHAT)) == 2


def test_an_upstream_failure_mid_stream_ends_it_with_an_error_event(gateway, upstream):
    upstream.openrouter.fail_next(CHAT, fk.STREAM_ERROR, after_chunks=3)
    stream = client(gateway).chat.completions.create(
        model="locallama/auto", messages=HELLO, tools=TOOLS, stream=True
    )
    seen: list[str] = []
    with pytest.raises(openai.APIError, match="after part of its answer was sent"):
        for chunk in stream:
            if chunk.choices:
                seen.append(chunk.choices[0].delta.content or "")
    assert "".join(seen) == "".join(REPLY_DELTAS[:2])
    assert len(upstream.openrouter.requests_to(CHAT)) == 1  # no second answer after the first


def test_a_client_that_disconnects_mid_stream_cancels_the_upstream_request(gateway, upstream):
    release = upstream.openrouter.hold_stream_after(3)
    try:
        stream = client(gateway).chat.completions.create(model=PAID, messages=HELLO, stream=True)
        got = []
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                got.append(chunk.choices[0].delta.content)
            if len(got) == 2:
                break
        stream.close()
        assert upstream.openrouter.stream_abandoned.wait(5), "upstream still streaming"
    finally:
        release.set()
    events = gateway.gateway.traffic
    wait_until(lambda: any(e.status == 499 for e in events))
    assert not upstream.openrouter.stream_finished.is_set()


# --- security -------------------------------------------------------------------------------


def test_every_request_needs_the_token(gateway):
    with pytest.raises(openai.AuthenticationError, match="gateway token"):
        client(gateway, api_key="not-the-token").models.list()
    r = httpx.post(gateway.url + "/v1/chat/completions", json={"model": PAID, "messages": HELLO})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    for path in ("/api/free-models", "/openapi.json", "/api/spend"):
        assert httpx.get(gateway.url + path).status_code == 401
    assert httpx.get(gateway.url + "/health").json() == {"status": "ok"}


def test_the_openrouter_key_never_reaches_a_client(gateway):
    c = client(gateway)
    texts = [
        c.models.list().model_dump_json(),
        c.chat.completions.with_raw_response.create(model=PAID, messages=HELLO).text,
    ]
    with httpx.Client(headers={"authorization": f"Bearer {TOKEN}"}) as h:
        texts.extend(h.get(gateway.url + p).text for p in ("/api/status", "/api/traffic"))
    for text in texts:
        assert FAKE_API_KEY not in text and FAKE_API_KEY[10:30] not in text


# --- load -----------------------------------------------------------------------------------


def test_fifty_concurrent_streams_all_complete(gateway, services):
    async def one(c: openai.AsyncOpenAI, n: int) -> str:
        stream = await c.chat.completions.create(
            model=PAID if n % 2 else LOCAL,
            messages=[{"role": "user", "content": f"hello {n}"}],
            stream=True,
        )
        parts = [ch.choices[0].delta.content or "" async for ch in stream if ch.choices]
        return "".join(parts)

    async def main() -> list[str]:
        async with openai.AsyncOpenAI(
            base_url=gateway.url + "/v1", api_key=TOKEN, max_retries=0
        ) as c:
            return await asyncio.gather(*(one(c, n) for n in range(50)))

    assert asyncio.run(main()) == [REPLY_TEXT] * 50
    wait_until(lambda: len(services.store.spend_entries()) == 50)
    assert gateway.gateway.requests_today == 50
