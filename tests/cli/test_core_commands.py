"""``locallama models``, ``cost``, ``route``, ``simulate`` and ``bench`` through ``main()``."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from locallama_gui.cli import main

OR_2026 = "openrouter/models-2026-08-14.json"
OR_2025 = "openrouter/models-2025-12-18.json"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


# --- models ------------------------------------------------------------------------------


def test_models_json_shape_from_the_bundled_snapshot(capsys):
    data = run_json(capsys, "models")
    assert len(data["models"]) == 414
    first = data["models"][0]
    for key in ("id", "name", "source", "tier", "context_length", "pricing"):
        assert key in first
    assert data["skipped"] == []
    auto = next(m for m in data["models"] if m["id"] == "openrouter/auto")
    assert auto["tier"] == "variable"
    assert auto["pricing"]["prompt"] == "-1"


def test_models_prices_are_plain_decimal_strings(capsys, data_dir):
    data = run_json(
        capsys, "models", "--from-file", str(data_dir / OR_2026), "--search", "qwen3.8 27b"
    )
    model = next(m for m in data["models"] if m["id"] == "qwen/qwen3.8-27b")
    assert model["pricing"]["prompt"] == "0.00000045"  # never 4.5E-7
    assert Decimal(model["pricing"]["completion"]) == Decimal("0.0000032")


@pytest.mark.parametrize(("capture", "free"), [(OR_2026, 18), (OR_2025, 36)])
def test_models_free_filter_on_real_captures(capsys, data_dir, capture, free):
    data = run_json(capsys, "models", "--from-file", str(data_dir / capture), "--free")
    assert all(m["tier"] == "free" for m in data["models"])
    # :free ids, plus the zero-priced openrouter/free router in 2026
    assert len(data["models"]) == free


def test_models_filters_combine(capsys, data_dir):
    data = run_json(
        capsys,
        "models",
        "--from-file",
        str(data_dir / OR_2026),
        "--min-context",
        "1000000",
        "--tier",
        "paid",
    )
    assert data["models"]
    assert all(m["context_length"] >= 1_000_000 and m["tier"] == "paid" for m in data["models"])


def test_models_reads_local_server_captures(capsys, data_dir):
    data = run_json(
        capsys, "models", "--from-file", str(data_dir / "lmstudio/api-v0-models-2026-08.json")
    )
    assert {m["source"] for m in data["models"]} == {"lmstudio"}
    assert all(m["tier"] == "local" and m["pricing"] == {} for m in data["models"])


def test_models_skips_bad_entries_and_says_why(capsys, tmp_path, data_dir):
    payload = json.loads((data_dir / OR_2026).read_text())
    payload["data"] = [*payload["data"][:3], {"name": "no id"}, "junk"]
    path = tmp_path / "models.json"
    path.write_text(json.dumps(payload))
    data = run_json(capsys, "models", "--from-file", str(path))
    assert len(data["models"]) == 3
    assert len(data["skipped"]) == 2
    assert all("reason" in s and ("id" in s or "index" in s) for s in data["skipped"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"something": 1}', ""),
        ("", "not valid JSON"),
    ],
)
def test_bad_files_give_one_line_and_exit_1(capsys, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, out, err = run(capsys, "models", "--from-file", str(path))
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("locallama: error:")
    assert "Traceback" not in err
    assert message in err


def test_missing_file_is_an_error_not_a_traceback(capsys, tmp_path):
    code, _, err = run(capsys, "route", "--prompt-tokens", "10", "--from-file", str(tmp_path / "x"))
    assert code == 1 and "no such file" in err


def test_bad_arguments_exit_2_with_one_line(capsys):
    code, _, err = run(capsys, "route", "--prompt-tokens", "-5")
    assert code == 2
    assert err.count("\n") == 1


# --- cost --------------------------------------------------------------------------------


def test_cost_json_exact_decimal(capsys, data_dir):
    data = run_json(
        capsys,
        "cost",
        "--from-file",
        str(data_dir / OR_2026),
        "--model",
        "qwen/qwen3.8-27b",
        "--prompt-tokens",
        "1000",
        "--completion-tokens",
        "500",
    )
    # 1000 x 0.00000045 + 500 x 0.0000032
    assert data["total_usd"] == "0.00205"
    assert data["tier"] == "paid" and data["is_free"] is False
    assert data["breakdown"] == {"prompt": "0.00045", "completion": "0.0016"}


def test_cost_of_a_free_model_is_zero_with_limits(capsys):
    data = run_json(
        capsys,
        "cost",
        "--model",
        "z-ai/glm-5.2:free",
        "--prompt-tokens",
        "5000",
        "--completion-tokens",
        "100",
    )
    assert data["total_usd"] == "0" and data["is_free"] is True
    assert data["free_limits"]["per_minute"] == 20


def test_cost_of_a_router_is_unknown_never_zero(capsys):
    data = run_json(capsys, "cost", "--model", "openrouter/auto", "--prompt-tokens", "10")
    assert data["total_usd"] is None
    assert data["tier"] == "variable"
    assert data["unknown_reason"]


def test_cost_time_of_day_window(capsys, data_dir):
    args = (
        "cost",
        "--from-file",
        str(data_dir / OR_2026),
        "--model",
        "deepseek/deepseek-v4-pro-0813",
        "--prompt-tokens",
        "1000000",
    )
    cheap = run_json(capsys, *args, "--at", "2026-09-01T05:00Z")  # 400-600 window
    dear = run_json(capsys, *args, "--at", "2026-09-01T02:00Z")  # 100-400 window
    assert Decimal(cheap["total_usd"]) == Decimal("0.66")
    assert Decimal(dear["total_usd"]) == Decimal("1.32")


def test_cost_counts_a_text_file(capsys, tmp_path):
    path = tmp_path / "prompt.txt"
    path.write_text("hello world " * 100)
    data = run_json(capsys, "cost", "--model", "openai/gpt-5.6-sol", "--text", str(path))
    assert data["usage"]["prompt_tokens"] > 100
    assert "o200k" in data["usage"]["token_method"]


def test_cost_unknown_model_suggests(capsys):
    code, _, err = run(capsys, "cost", "--model", "anthropic/claude-opus-6", "--prompt-tokens", "1")
    assert code == 1
    assert "did you mean" in err and "anthropic/claude-opus-5" in err


def test_cost_projection(capsys):
    data = run_json(
        capsys,
        "cost",
        "--model",
        "anthropic/claude-opus-5",
        "--prompt-tokens",
        "1000",
        "--completion-tokens",
        "1000",
        "--requests-per-day",
        "10",
    )
    per_request = Decimal(data["total_usd"])
    assert Decimal(data["projection"]["per_day_usd"]) == per_request * 10
    assert Decimal(data["projection"]["per_month_usd"]) == per_request * 300


# --- route -------------------------------------------------------------------------------


def test_route_json_contract(capsys):
    data = run_json(capsys, "route", "--prompt", "Summarise this paragraph about owls.")
    assert set(data["chosen"]) >= {"id", "tier"}
    assert isinstance(data["fallbacks"], list)
    assert data["candidates"] and data["rejected"] is not None
    assert all({"id", "reason"} <= set(r) for r in data["rejected"])
    assert data["estimated_cost_usd"] is not None
    assert data["chosen"]["id"] not in {r["id"] for r in data["rejected"]}


def test_route_prefers_free_and_ends_chain_with_paid(capsys):
    data = run_json(capsys, "route", "--prompt-tokens", "500", "--complexity", "0.3")
    assert data["chosen"]["tier"] in ("free", "local")
    assert data["estimated_cost_usd"] == "0"
    assert data["chain"][-1]["tier"] == "paid"


def test_route_free_only_never_paid(capsys):
    data = run_json(
        capsys, "route", "--prompt-tokens", "500", "--free", "only", "--complexity", "0.95"
    )
    assert all(c["tier"] in ("free", "local") for c in data["chain"])


def test_route_budget_rejects_routers_and_expensive_models(capsys):
    data = run_json(
        capsys,
        "route",
        "--prompt-tokens",
        "100000",
        "--free",
        "off",
        "--priority",
        "quality",
        "--budget",
        "0.01",
    )
    reasons = {r["reason"] for r in data["rejected"]}
    assert "over_budget" in reasons
    assert "variable_price_with_budget" in reasons
    assert Decimal(data["estimated_cost_usd"]) <= Decimal("0.01")


def test_route_with_context_filter(capsys):
    data = run_json(capsys, "route", "--prompt-tokens", "900000", "--output-tokens", "1000")
    assert data["chosen"]["context_length"] >= 901000
    assert any(r["reason"] == "context_too_small" for r in data["rejected"])


def test_route_human_output_explains(capsys):
    code, out, _ = run(capsys, "route", "--prompt", "hi", "-q")
    assert code == 0
    assert out.startswith("→ ")
    assert "Why:" in out and "Chain:" in out


def test_route_records_history_in_the_store(capsys):
    from locallama_gui.store.db import Store

    run_json(capsys, "route", "--prompt-tokens", "100")
    with Store() as store:
        routes = store.recent_routes(5)
    assert len(routes) == 1


# --- simulate ----------------------------------------------------------------------------


def test_simulate_json_aggregates(capsys):
    data = run_json(
        capsys,
        "simulate",
        "--tasks",
        "300",
        "--tasks-per-day",
        "100",
        "--seed",
        "3",
        "--baseline",
        "anthropic/claude-opus-5",
    )
    assert data["tasks"] == 300
    assert sum(data["tier_counts"].values()) + data["unroutable"] == 300
    assert Decimal(data["savings_usd"]) == Decimal(data["baseline_cost_usd"]) - Decimal(
        data["total_cost_usd"]
    )
    # 100 tasks a day and 50 free requests a day: the quota is spent (nearly) every day, on
    # the tasks whose paid alternative is dearest, which costs less than spending it first
    # come, first served
    assert data["tier_counts"]["free"] >= 140
    fcfs = data["first_come_first_served"]
    assert Decimal(fcfs["saving_usd"]) > 0
    assert Decimal(fcfs["total_cost_usd"]) - Decimal(data["total_cost_usd"]) == Decimal(
        fcfs["saving_usd"]
    )


def test_simulate_is_deterministic(capsys):
    a = run_json(capsys, "simulate", "--tasks", "200", "--seed", "9", "--start", "2026-01-01")
    b = run_json(capsys, "simulate", "--tasks", "200", "--seed", "9", "--start", "2026-01-01")
    assert a == b


def test_simulate_tasks_file(capsys, tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(
        '{"prompt": "write a haiku", "category": "writing"}\n'
        '{"prompt_tokens": 2000, "output_tokens": 300, "complexity": 0.9, "category": "code"}\n'
    )
    data = run_json(capsys, "simulate", "--tasks-file", str(path), "--rows")
    assert data["tasks"] == 2
    assert [r["category"] for r in data["rows"]] == ["writing", "code"]


def test_simulate_bad_tasks_file_names_the_line(capsys, tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text('{"prompt": "ok"}\n{"complexity": "high"}\n')
    code, _, err = run(capsys, "simulate", "--tasks-file", str(path))
    assert code == 2 and "line 2" in err


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            ['{"prompt": "ok"}'] * 6 + ['{"prompt": "seven", "category": "code",}'],
            "tasks.jsonl line 7: not valid JSON (Expecting property name enclosed in double "
            "quotes at column 40); JSON allows no comma before a closing } or ]: remove it",
        ),
        (
            ['{"prompt": "ok"}', "", "# a comment", '["prompt", "four"]'],
            "tasks.jsonl line 4: expected a JSON object, got a list; write one JSON object",
        ),
        (
            ['{"prompt": "ok"}', '{"promt": "typo"}'],
            "tasks.jsonl line 2: unknown field 'promt'; did you mean 'prompt'?",
        ),
        (
            ['{"prompt": "ok"}', '{"prompt": "x", "priority": "asap"}'],
            "tasks.jsonl line 2: priority must be one of cost, balanced, speed, quality",
        ),
    ],
    ids=["not-json", "not-an-object", "misspelt-field", "odd-value"],
)
def test_a_malformed_tasks_file_gives_one_line_naming_the_line_and_exit_2(
    capsys, tmp_path, monkeypatch, lines, expected
):
    (tmp_path / "tasks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "simulate", "--tasks-file", "tasks.jsonl")
    assert code == 2
    assert out == ""
    assert err.startswith(f"locallama: error: {expected}"), err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_simulate_unknown_baseline(capsys):
    code, _, err = run(capsys, "simulate", "--tasks", "5", "--baseline", "nope/nope")
    assert code == 1 and "not in the catalogue" in err


# --- bench -------------------------------------------------------------------------------


@pytest.fixture
def small_scaling(monkeypatch):
    """The scaling figures over 1x and 2x the catalogue and 100 and 1,000 tasks (3x and
    10,000 only in a full run), so that ``bench --quick`` stays a smoke check."""
    from locallama_gui.services import bench

    monkeypatch.setattr(bench, "CATALOGUE_SCALES", (1, 2, 3))
    monkeypatch.setattr(bench, "CATALOGUE_SCALES_QUICK", (1, 2))
    monkeypatch.setattr(bench, "TASK_SIZES", (100, 1000, 10_000))
    monkeypatch.setattr(bench, "TASK_SIZES_QUICK", (100, 1000))
    monkeypatch.setattr(bench, "SCALE_DECISIONS_QUICK", 40)
    monkeypatch.setattr(bench, "SCALE_MIN_DECISIONS", 20)
    monkeypatch.setattr(bench, "SCALE_WARM_TASKS", 60)


def test_bench_quick_prints_the_figures(capsys, small_scaling):
    data = run_json(capsys, "bench", "--quick")
    for key in ("route_p50_us", "route_p99_us", "cost_all_models_ms", "simulate_tasks_per_s"):
        assert data[key] > 0
    assert data["models"] == 434
    # how the figures grow: every size --quick runs, and none of the full run's largest
    for n in (1, 2):
        assert data[f"scale_models_{n}x"] == n * 434
        assert data[f"scale_distinct_models_{n}x"] == n * data["scale_distinct_models_1x"]
        for what in ("index_build_ms", "warm_ms", "route_p50_us", "route_p99_us", "memory_mib"):
            assert data[f"scale_{what}_{n}x"] > 0
        assert data[f"scale_route_decisions_{n}x"] >= 20
    assert not any(key.endswith("_3x") for key in data)
    for what in ("index_build", "warm", "route_p50", "route_p99", "memory"):
        assert f"scale_{what}_growth_2x" in data
    for label in ("100", "1k"):
        assert data[f"scale_sim_seconds_{label}"] > 0
        assert data[f"scale_sim_tasks_per_s_{label}"] > 0
        assert f"scale_generate_seconds_{label}" in data
        assert f"scale_sim_peak_rss_mib_{label}" in data
    assert "scale_sim_seconds_10k" not in data
    for what in ("generate", "sim_seconds", "sim_peak_rss"):
        assert f"scale_{what}_growth_10x" in data
    assert isinstance(data["scale_notes"], list)
    assert all(isinstance(note, str) for note in data["scale_notes"])


def test_bench_no_scaling_skips_the_scale_figures_and_notes_print_one_a_line(capsys, monkeypatch):
    from locallama_gui.gateway import bench as gateway_bench
    from locallama_gui.services import bench

    asked = {}

    def fake_run_bench(quick=False, progress=None, scaling=True):
        asked.update(quick=quick, scaling=scaling)
        out = {"route_p50_us": 60.0}
        if scaling:
            out["scale_notes"] = ["route p50: 20x at 10x the catalogue", "warm: 15x"]
        return out

    monkeypatch.setattr(bench, "run_bench", fake_run_bench)
    monkeypatch.setattr(gateway_bench, "run_gateway_bench", lambda quick, progress: {})
    data = run_json(capsys, "bench", "--quick", "--no-scaling")
    assert asked == {"quick": True, "scaling": False}
    assert not any(key.startswith("scale_") for key in data)
    code, out, _ = run(capsys, "bench")
    assert code == 0 and asked == {"quick": False, "scaling": True}
    assert out.splitlines() == [
        f"{'route_p50_us':<34} 60.0",
        "scale_notes",
        "  - route p50: 20x at 10x the catalogue",
        "  - warm: 15x",
    ]


def test_simulate_refuses_an_absurd_task_count(capsys):
    code, _, err = run(capsys, "simulate", "--tasks", "100000000000")
    assert code == 2 and "at most 1,000,000 tasks" in err


def test_simulate_routes_imported_tasks_in_time_order(capsys, tmp_path):
    """The free quota only moves forward: tasks listed out of time order must not reset it."""
    lines = []
    for k in range(120):
        day = "2026-08-14" if k % 2 == 0 else "2026-08-15"
        lines.append(
            json.dumps(
                {
                    "prompt_tokens": 100,
                    "output_tokens": 50,
                    "complexity": 0.2,
                    "at": f"{day}T10:{k // 2:02d}:00+00:00",
                }
            )
        )
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("\n".join(lines))
    in_order = tmp_path / "in_order.jsonl"
    in_order.write_text("\n".join(sorted(lines, key=lambda line: json.loads(line)["at"])))
    a = run_json(capsys, "simulate", "--tasks-file", str(shuffled), "--free", "only", "--rows")
    b = run_json(capsys, "simulate", "--tasks-file", str(in_order), "--free", "only", "--rows")
    assert a["tier_counts"] == b["tier_counts"]
    # 60 tasks a day and 50 free requests a day: the cap is reached on both days
    assert len(a["free_day_exhausted_at"]) == 2


def test_cost_and_route_bill_images(capsys):
    code = main(
        ["cost", "--model", "google/gemini-3.7-flash", "--prompt-tokens", "1000", "--images", "4"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "4 images" in out and "image" in out.split("images", 1)[1]
    data = run_json(
        capsys,
        "cost",
        "--model",
        "google/gemini-3.7-flash",
        "--prompt-tokens",
        "1000",
        "--images",
        "4",
    )
    assert Decimal(data["breakdown"]["image"]) == 4 * Decimal("0.000000375")
    routed = run_json(capsys, "route", "--prompt", "What is in these photos?", "--images", "2")
    assert "vision" in routed["task"]["capabilities"]


def test_simulate_recorded_tasks_compares_with_first_come_first_served(capsys):
    """--recorded replays the route history (what run, the gateway and the MCP server record)
    at its times, with the quota-aware saving against first come, first served."""
    from datetime import UTC, datetime, timedelta

    from locallama_gui.store import paths
    from locallama_gui.store.db import Store

    prompts = ["hi", "fix this python bug: x = [1, 2", "summarise the meeting notes"]
    tasks = [run_json(capsys, "route", "--prompt", p)["task"] for p in prompts]
    store = Store(paths.database_path())
    now = datetime.now(UTC)
    for k in range(240):  # 80 tasks a day for 3 days: more than the 50 free requests a day
        ts = now - timedelta(days=3) + timedelta(minutes=18 * k)
        store.add_route(ts=ts, task=tasks[k % 3], decision={}, chosen_id=None)
    store.add_route(ts=now - timedelta(hours=1), task={"category": 7}, decision={}, chosen_id=None)
    old = now - timedelta(days=40)
    store.add_route(ts=old, task=tasks[0], decision={}, chosen_id=None)
    store.close()

    data = run_json(capsys, "simulate", "--recorded", "--rows")
    # the three route commands above are in the history too, as the newest
    assert data["recorded"] == {"days": 30.0, "tasks": 243, "unreadable": 1}
    assert data["tasks"] == 243 and data["seed"] is None
    assert [r["category"] for r in data["rows"][:3]] == [t["category"] for t in tasks]
    fcfs = data["first_come_first_served"]
    assert Decimal(fcfs["total_cost_usd"]) - Decimal(data["total_cost_usd"]) == Decimal(
        fcfs["saving_usd"]
    )
    assert run_json(capsys, "simulate", "--recorded", "--days", "45")["tasks"] == 244
    code, out, _ = run(capsys, "simulate", "--recorded", "--days", "45")
    assert code == 0 and "1 unreadable records skipped" in out and "244 tasks routed" in out


def test_simulate_recorded_without_history_says_what_to_do(capsys):
    code, _, err = run(capsys, "simulate", "--recorded")
    assert code != 0
    assert "no tasks were routed in the last 30 days" in err and "locallama run" in err
    code, _, err = run(capsys, "simulate", "--recorded", "--tasks-file", "x.jsonl")
    assert code != 0 and "not both" in err


def test_cost_counts_a_local_models_text_with_its_servers_family(capsys, tmp_path, data_dir):
    """A local model carries no catalogue tokenizer label: its server's family says which
    vocabulary counts it (Qwen 2.5 here, which splits digits), not a rough estimate."""
    path = tmp_path / "prompt.txt"
    path.write_text("order 12345678, total 9876.54; " * 50)
    tags = str(data_dir / "ollama" / "tags-2026-04.json")
    model = "hf.co/bartowski/Qwen2.5-14B_Uncencored-GGUF:latest"
    data = run_json(capsys, "cost", "--model", model, "--text", str(path), "--from-file", tags)
    assert "qwen" in data["usage"]["token_method"].lower()
    assert data["total_usd"] == "0"
