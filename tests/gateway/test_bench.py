"""The gateway's ``locallama bench`` figures: they exist, are finite, and every request sent
really went through the gateway. No timing is asserted (the figures are printed, not tested)."""

from __future__ import annotations

import math

import httpx

from locallama_gui.core.catalogue import parse_openai_models
from locallama_gui.core.models import Source
from locallama_gui.gateway import bench

TIMED = (
    "gateway_direct_p50_ms",
    "gateway_direct_p99_ms",
    "gateway_via_p50_ms",
    "gateway_via_p99_ms",
    "gateway_added_p50_ms",
    "gateway_requests_per_s",
    "gateway_stream_ttfb_direct_p50_ms",
    "gateway_stream_ttfb_via_p50_ms",
    "gateway_stream_ttfb_added_ms",
    "gateway_streams_per_s",
)


def check_figures(figures: dict) -> None:
    for key in TIMED:
        assert isinstance(figures[key], float) and math.isfinite(figures[key]), key
        assert figures[key] > 0, key
    # a p99 difference has no sign to count on; it is a number all the same
    assert math.isfinite(figures["gateway_added_p99_ms"])
    assert figures["gateway_requests_sent"] > 0
    assert figures["gateway_requests_served"] == figures["gateway_requests_sent"]
    assert figures["gateway_requests_failed"] == 0
    assert figures["gateway_http_parser"] in ("h11", "httptools")


def test_the_quick_bench_measures_the_gateway_from_other_processes():
    messages: list[str] = []
    figures = bench.run_gateway_bench(quick=True, progress=messages.append)
    check_figures(figures)
    assert figures["gateway_bench_client"] == "separate processes"
    assert any("requests per second" in m for m in messages)  # the child's progress came back


def test_without_child_processes_it_measures_on_threads(monkeypatch):
    tiny = {"warmup": 2, "sequential": 5, "ttfb": 3, "rate": 10, "streams": 4}
    monkeypatch.setattr(bench, "_can_spawn", lambda: False)
    monkeypatch.setattr(bench, "_counts", lambda quick: tiny)
    monkeypatch.setattr(bench, "STREAMS_OPEN", 4)
    figures = bench.run_gateway_bench(quick=True)
    check_figures(figures)
    assert figures["gateway_bench_client"] == "threads of this process"
    assert figures["gateway_requests_sent"] == 2 + 5 + 0 + 3 + 10 + bench.IN_FLIGHT + 4 + 4


def test_the_upstream_speaks_like_llama_server():
    with bench.BenchUpstream() as upstream, httpx.Client(trust_env=False) as client:
        models = client.get(upstream.url + "/v1/models").json()
        parsed = parse_openai_models(models, server_url=upstream.url)
        (model,) = parsed.models
        assert model.id == bench.UPSTREAM_MODEL and model.source is Source.LLAMACPP
        body = {"model": bench.UPSTREAM_MODEL, "messages": [{"role": "user", "content": "hi"}]}
        completion = client.post(upstream.url + "/v1/chat/completions", json=body).json()
        assert completion["choices"][0]["message"]["content"] == "Hello! How can I help?"
        assert completion["usage"]["completion_tokens"] == 7
        with client.stream(
            "POST", upstream.url + "/v1/chat/completions", json={**body, "stream": True}
        ) as response:
            events = [line for line in response.iter_lines() if line.startswith("data: ")]
        assert events[-1] == "data: [DONE]" and len(events) == 1 + 7 + 2 + 1
        assert client.get(upstream.url + "/nothing").status_code == 404
        assert upstream.chat_requests == 2
