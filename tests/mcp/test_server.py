"""The MCP server driven by the MCP SDK's own client: over stdio (``locallama mcp`` as a real
process, as Claude Desktop starts it) and over streamable HTTP at the gateway's ``/mcp``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from locallama_gui.cli import main
from locallama_gui.core.benchmarks import BENCH_CATEGORIES
from locallama_gui.core.routing import CAPABILITIES, CATEGORIES
from locallama_gui.mcp import server as mcp_server
from tests.fakes import REPLY_TEXT
from tests.fakes.fixtures import (  # noqa: F401
    fake_api_key,
    ollama_fake,
    openrouter_fake,
)

TOOLS = {
    "route_task",
    "estimate_cost",
    "list_free_models",
    "list_models",
    "refresh_models",
    "run_task",
    "benchmark_models",
    "get_status",
}


def test_the_schemas_name_what_the_core_knows():
    assert set(mcp_server.Category.__args__) == set(CATEGORIES)
    assert set(mcp_server.BenchCategory.__args__) == set(BENCH_CATEGORIES)
    assert set(mcp_server.Capability.__args__) == set(CAPABILITIES)


@pytest.fixture
def urls(openrouter_fake, ollama_fake, fake_api_key, monkeypatch):  # noqa: F811
    """A catalogue refreshed from the fakes, as a user would have it, and the URL flags."""
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_api_key)
    flags = ["--openrouter-url", openrouter_fake.base_url, "--ollama-url", ollama_fake.url]
    assert main(["refresh", "-q", *flags]) == 0
    return flags


@asynccontextmanager
async def stdio_session(flags: list[str]) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "locallama_gui.cli", "mcp", *flags],
        env=dict(os.environ),
    )
    with open(os.environ.get("MCP_TEST_ERRLOG", os.devnull), "w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content


def cli_json(capsys, *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    main([*argv, "--json"])
    return json.loads(capsys.readouterr().out)


@pytest.mark.asyncio
async def test_every_tool_over_stdio(urls, capsys, ollama_fake):  # noqa: F811
    async with stdio_session(urls) as s:
        listed = (await s.list_tools()).tools
        assert {t.name for t in listed} == TOOLS
        for t in listed:
            assert len(t.description) > 80, t.name  # written for a model to use well
            assert t.input_schema["type"] == "object"
        route_schema = next(t for t in listed if t.name == "route_task").input_schema
        assert set(route_schema["properties"]["category"]["anyOf"][0]["enum"]) == set(CATEGORIES)

        # the catalogue: the same documents as the CLI's --json
        free = data(await s.call_tool("list_free_models", {}))
        assert free["models"] and {m["tier"] for m in free["models"]} == {"free"}
        assert free["free_quota"]["remaining_day"] == free["free_quota"]["per_day"]
        first = free["models"][0]
        assert first["quality"]["prior_source"] and "observed" in first
        local = data(await s.call_tool("list_models", {"tier": ["local"]}))
        assert local["models"] and {m["source"] for m in local["models"]} == {"ollama"}
        assert local["models"] == cli_json(capsys, "models", "--tier", "local")["models"]

        # cost: exact, and a free model's total is exactly "0" with its limits
        paid = data(
            await s.call_tool(
                "estimate_cost",
                {"model": "openai/gpt-4o", "prompt_tokens": 1234, "completion_tokens": 567},
            )
        )
        as_cli = cli_json(
            capsys,
            "cost",
            "--model",
            "openai/gpt-4o",
            "--prompt-tokens",
            "1234",
            "--completion-tokens",
            "567",
        )
        # the same document, priced at the moment each was asked
        assert paid.pop("at") and as_cli.pop("at")
        assert paid == as_cli
        prices = paid["effective_prices"]
        expected = Decimal(prices["prompt"]) * 1234 + Decimal(prices["completion"]) * 567
        assert Decimal(paid["total_usd"]) == expected
        gratis = data(
            await s.call_tool(
                "estimate_cost", {"model": first["id"], "prompt_tokens": 10, "completion_tokens": 5}
            )
        )
        assert gratis["total_usd"] == "0" and gratis["free_limits"]["per_day"] > 0

        # routing: the decision, its chain, why and the quota left
        decision = data(
            await s.call_tool(
                "route_task", {"task": "Translate 'good morning' into French", "local_only": True}
            )
        )
        assert decision["chosen"]["tier"] == "local" and decision["why"]
        assert "remaining_day" in decision["free_quota"]

        # the offload tool: answered, with its cost and the baseline's
        asked = len(ollama_fake.requests)
        run = data(await s.call_tool("run_task", {"task": "Say hello", "local_only": True}))
        assert run["ok"] and run["text"] == REPLY_TEXT and run["tier"] == "local"
        assert run["cost_usd"] == "0" and run["baseline_model"]
        assert Decimal(run["baseline_cost_usd"]) > 0
        assert len(ollama_fake.requests) > asked
        spend = cli_json(capsys, "spend")
        assert {c["client"] for c in spend["today"]["by_client"]} == {"mcp"}

        refreshed = data(await s.call_tool("refresh_models", {}))
        assert {src["kind"] for src in refreshed["sources"]} >= {"openrouter", "ollama"}

        status = data(await s.call_tool("get_status", {}))
        assert status["openrouter_key_present"] is True
        up = {src["kind"]: src["up"] for src in status["sources"]}
        assert up["openrouter"] and up["ollama"]
        down = [src for src in status["sources"] if not src["up"]]  # the default local ports
        assert down and all("running" in src["error"] for src in down)
        assert status["spend"]["today_usd"] == "0"

        # the benchmark reports progress after each task
        progress: list[tuple[float, float | None, str | None]] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append((done, total, message))

        local_id = local["models"][0]["id"]
        report = data(
            await s.call_tool(
                "benchmark_models",
                {"models": [local_id], "categories": ["extraction"]},
                progress_callback=on_progress,
            )
        )
        assert len(report["results"]) == 3
        assert [p[0] for p in progress] == [1, 2, 3] and {p[1] for p in progress} == {3}
        assert all(local_id in (p[2] or "") for p in progress)


@pytest.mark.asyncio
async def test_mistakes_come_back_as_tool_errors_that_say_what_to_fix(urls):
    async with stdio_session(urls) as s:
        typo = await s.call_tool("estimate_cost", {"model": "openai/gpt-4oo", "prompt_tokens": 5})
        assert typo.is_error and "did you mean" in typo.content[0].text
        nothing = await s.call_tool("route_task", {})
        assert nothing.is_error and "prompt_tokens" in nothing.content[0].text
        money = await s.call_tool("route_task", {"task": "x", "budget_usd": "lots"})
        assert money.is_error and "USD" in money.content[0].text
        unknown = await s.call_tool("benchmark_models", {"models": ["no/such-model"]})
        assert unknown.is_error and "not in the catalogue" in unknown.content[0].text
        # the session is still good after errors
        assert data(await s.call_tool("list_free_models", {}))["models"]


@pytest.mark.asyncio
async def test_resources_over_stdio(urls):
    async with stdio_session(urls) as s:
        uris = {str(r.uri) for r in (await s.list_resources()).resources}
        assert {"locallama://models", "locallama://free-models", "locallama://quota"} <= uris
        templates = (await s.list_resource_templates()).resource_templates
        assert any("locallama://models/" in t.uri_template for t in templates)
        one = await s.read_resource("locallama://models/openai/gpt-4o")
        model = json.loads(one.contents[0].text)
        assert model["id"] == "openai/gpt-4o" and model["pricing"]["prompt"]
        quota = json.loads((await s.read_resource("locallama://quota")).contents[0].text)
        assert quota["used_day"] == 0 and quota["per_day"] >= 50
        free = json.loads((await s.read_resource("locallama://free-models")).contents[0].text)
        assert {m["tier"] for m in free["models"]} == {"free"}


# --- over HTTP, on the gateway ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_same_tools_at_the_gateways_mcp_path(urls):
    from mcp.client.streamable_http import streamable_http_client

    env = dict(
        os.environ, LOCALLAMA_GATEWAY_TOKEN="mcp-http-token-0123456789", PYTHONUNBUFFERED="1"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "locallama_gui.cli", "serve", "--port", "0", *urls],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "listening on" in line, line
        url = line.split("listening on", 1)[1].strip()
        assert httpx.post(url + "/mcp", json={}).status_code == 401  # behind the token
        headers = {"authorization": "Bearer mcp-http-token-0123456789"}
        async with (
            httpx.AsyncClient(headers=headers, timeout=30) as http,
            streamable_http_client(url + "/mcp", http_client=http) as (read, write, *_),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            assert {t.name for t in (await s.list_tools()).tools} == TOOLS
            route = data(await s.call_tool("route_task", {"prompt_tokens": 100}))
            assert route["chosen"] is not None
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()


@pytest.mark.asyncio
async def test_cancelling_a_benchmark_stops_it_and_the_session_goes_on(urls, ollama_fake):  # noqa: F811
    import anyio

    release = ollama_fake.hold_stream_after(1)
    try:
        async with stdio_session(urls) as s:
            local = data(await s.call_tool("list_models", {"tier": ["local"]}))["models"][0]
            with anyio.move_on_after(30) as scope:
                async with anyio.create_task_group() as tg:

                    async def bench() -> None:
                        await s.call_tool(
                            "benchmark_models", {"models": [local["id"]], "categories": ["chat"]}
                        )

                    tg.start_soon(bench)
                    held = await anyio.to_thread.run_sync(ollama_fake.stream_held.wait, 20)
                    assert held, "the benchmark never reached the model"
                    tg.cancel_scope.cancel()  # the client sends notifications/cancelled
            assert not scope.cancelled_caught
            # the server closed the upstream request, and answers the next call
            abandoned = await anyio.to_thread.run_sync(ollama_fake.stream_abandoned.wait, 20)
            assert abandoned
            assert data(await s.call_tool("list_free_models", {}))["models"]
    finally:
        release.set()
