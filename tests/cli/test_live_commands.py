"""``locallama refresh``, ``key status``, ``run``, ``sources`` and ``quarantine`` against the
loopback fakes (each test has its own LOCALLAMA_HOME, so its own store and settings)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest

from locallama_gui.cli import main
from locallama_gui.store.db import Store
from tests.fakes import REPLY_TEXT
from tests.fakes.fixtures import (  # noqa: F401
    fake_api_key,
    llamacpp_fake,
    ollama_fake,
    openrouter_fake,
)

SOURCE_KEYS = {"kind", "url", "up", "error", "models"}


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def urls(openrouter_fake, ollama_fake, llamacpp_fake) -> list[str]:  # noqa: F811
    return [
        "--openrouter-url",
        openrouter_fake.base_url,
        "--ollama-url",
        ollama_fake.url,
        "--lmstudio-url",
        dead_url(),
        "--server-url",
        llamacpp_fake.url,
    ]


@pytest.fixture
def with_key(monkeypatch, fake_api_key) -> str:  # noqa: F811
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_api_key)
    return fake_api_key


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- refresh


def test_refresh_prints_each_source_and_stores_the_catalogue(capsys, urls, _isolated_home):
    code, out, err = run_cli(capsys, "refresh", *urls)
    assert code == 0, err
    lines: dict[str, str] = {}
    for line in out.splitlines():
        if line.strip():
            lines.setdefault(line.split()[0], line)  # the table row comes first
    assert "up" in lines["openrouter"] and "414" in lines["openrouter"]
    assert "up" in lines["ollama"] and "14" in lines["ollama"]
    assert "down" in lines["lmstudio"]
    assert "Is it running" in out  # the dead server's reason
    assert "Changes:" in out
    code, out, _ = run_cli(capsys, "models", "--json", "--source", "ollama")
    assert code == 0
    assert len(json.loads(out)["models"]) == 14


def test_refresh_json_has_status_and_diff(capsys, urls):
    code, out, _ = run_cli(capsys, "refresh", "--json", *urls)
    assert code == 0
    data = json.loads(out)
    by_kind = {s["kind"]: s for s in data["sources"]}
    assert by_kind["openrouter"]["model_count"] == 414
    assert by_kind["llamacpp"]["up"] is True
    assert by_kind["lmstudio"]["up"] is False and by_kind["lmstudio"]["error"]
    assert set(data["diff"]) == {"added", "removed", "repriced", "free_ended"}
    assert "gemma4:e4b" in data["diff"]["added"]


def test_openrouter_down_keeps_the_stored_catalogue_says_so_and_exits_4(
    capsys,
    urls,
    openrouter_fake,  # noqa: F811
):
    from tests.fakes import server as fk

    code, _, err = run_cli(capsys, "refresh", *urls)
    assert code == 0, err
    with Store() as store:
        _, stored_at, _ = store.latest_catalogue("openrouter")
    openrouter_fake.fail_next("/models", fk.BAD_GATEWAY, times=5)
    code, out, err = run_cli(capsys, "refresh", "--json", *urls)
    assert code == 4
    label = json.loads(out)["catalogue"]
    assert label.startswith(f"stored OpenRouter catalogue of {stored_at:%Y-%m-%d %H:%M} UTC")
    assert "did not answer" in label and "refreshed" not in label
    # the stored models are kept, not "removed"
    code, out, _ = run_cli(capsys, "models", "--json", "--source", "openrouter")
    assert code == 0 and len(json.loads(out)["models"]) > 400


def test_unreadable_entries_keep_their_last_good_record(
    capsys,
    urls,
    openrouter_fake,  # noqa: F811
    data_dir,
    tmp_path,
):
    """60 malformed entries (null, "abc" and "1e400" prices, a string context length, a
    missing id): counted as unreadable, kept as they were, never "removed" or "free ended"."""
    code, _, err = run_cli(capsys, "refresh", *urls)
    assert code == 0, err
    raw = json.loads((data_dir / "openrouter/models-2026-08-14.json").read_text())
    entries = raw["data"]
    free_ids = [e["id"] for e in entries if e["id"].endswith(":free")][:10]
    broken: dict[str, str] = {}
    others = [e for e in entries if e["id"] not in free_ids]
    for entry in entries:
        if entry["id"] in free_ids:
            entry["pricing"]["prompt"] = None
            broken[entry["id"]] = "null"
    for n, entry in enumerate(others):
        if 100 <= n < 110:
            entry["pricing"]["completion"] = "abc"
            broken[entry["id"]] = "abc"
        elif 110 <= n < 130:
            entry["pricing"]["prompt"] = "1e400"
            broken[entry["id"]] = "1e400"
        elif 130 <= n < 140:
            entry["context_length"] = "lots"
            broken[entry["id"]] = "context"
        elif 140 <= n < 150:
            broken[entry.pop("id")] = "no id"
    assert len(broken) == 60
    bad = tmp_path / "models-malformed.json"
    bad.write_text(json.dumps(raw))
    openrouter_fake.models_file = str(bad)

    code, out, err = run_cli(capsys, "refresh", "--json", *urls)
    assert code == 0, err
    data = json.loads(out)
    (openrouter,) = [s for s in data["sources"] if s["kind"] == "openrouter"]
    assert openrouter["unreadable"] == 60 and openrouter["kept_unreadable"] == 60
    assert len(openrouter["unreadable_entries"]) == 60
    assert data["diff"] == {"added": [], "removed": [], "repriced": [], "free_ended": []}
    code, out, _ = run_cli(capsys, "models", "--json", "--source", "openrouter")
    ids = {m["id"] for m in json.loads(out)["models"]}
    assert set(broken) <= ids and len(ids) == 414
    with Store() as store:
        stored, _, _ = store.latest_catalogue("openrouter")
    assert set(broken) <= {m.id for m in stored}

    code, out, err = run_cli(capsys, "refresh", *urls)
    assert code == 0, err
    assert "60 entries could not be read; 60 kept their last good record" in out
    assert "No changes since the previous catalogue." in out

    # a model that really left (more missing than unreadable id-less entries) is removed
    gone = [e["id"] for e in raw["data"] if "id" in e and e["id"] not in broken][:20]
    raw["data"] = [e for e in raw["data"] if e.get("id") not in gone]
    bad2 = tmp_path / "models-malformed-2.json"
    bad2.write_text(json.dumps(raw))
    openrouter_fake.models_file = str(bad2)
    code, out, err = run_cli(capsys, "refresh", "--json", *urls)
    data = json.loads(out)
    assert sorted(data["diff"]["removed"]) == sorted(
        gone + [k for k, v in broken.items() if v == "no id"]
    )
    assert not set(data["diff"]["removed"]) & {k for k, v in broken.items() if v != "no id"}


def test_refresh_with_every_source_down_is_an_error(capsys):
    dead = dead_url()
    code, _, err = run_cli(
        capsys,
        "refresh",
        "--openrouter-url",
        dead + "/api/v1",
        "--ollama-url",
        dead,
        "--lmstudio-url",
        dead,
        "--server-url",
        dead,
    )
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("locallama: error: no source answered")
    assert "Traceback" not in err


# --------------------------------------------------------------------------- sources


def test_sources_json_shape(capsys, urls):
    code, out, _ = run_cli(capsys, "sources", "--json", *urls)
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"sources", "deadline_s", "stopped"}
    assert data["deadline_s"] == 15 and data["stopped"] is None
    assert [s["kind"] for s in data["sources"]] == ["openrouter", "ollama", "lmstudio", "llamacpp"]
    for s in data["sources"]:
        assert set(s) == SOURCE_KEYS
        assert (s["error"] is None) == s["up"]
    down = data["sources"][2]
    assert down["models"] == [] and "Is it running" in down["error"]
    llama = data["sources"][3]
    assert llama["models"][0]["id"] == "qwen2.5-coder-7b-instruct-q4_k_m.gguf"
    # the model objects are those of `locallama models --json` (which adds quality and
    # observed figures)
    openrouter = {m["id"]: m for m in data["sources"][0]["models"]}
    run_cli(capsys, "refresh", *urls)
    code, out, _ = run_cli(capsys, "models", "--json", "--source", "openrouter")
    listed = {m["id"]: m for m in json.loads(out)["models"]}
    assert openrouter["openai/gpt-4o"].items() <= listed["openai/gpt-4o"].items()
    assert listed["openai/gpt-4o"]["quality"]["prior_source"]


def test_sources_text_lists_servers_and_quarantine(capsys, urls, _isolated_home):
    from locallama_gui.store.paths import database_path

    with Store(database_path()) as store:
        until = datetime.now(UTC) + timedelta(minutes=10)
        store.set_quarantine("openai/gpt-4o", until, 3, "ProviderDown: HTTP 502")
    code, out, _ = run_cli(capsys, "sources", *urls)
    assert code == 0
    assert "ollama" in out and "up, 14 models" in out
    assert "lmstudio" in out and "down:" in out
    assert "Quarantined" in out and "openai/gpt-4o" in out
    code, out, _ = run_cli(capsys, "quarantine", "--json")
    assert [q["model"] for q in json.loads(out)["quarantined"]] == ["openai/gpt-4o"]
    code, out, _ = run_cli(capsys, "quarantine", "--clear", "openai/gpt-4o")
    assert code == 0 and "Lifted 1" in out
    code, out, _ = run_cli(capsys, "quarantine")
    assert "No model is quarantined" in out


# --------------------------------------------------------------------------- key


def test_key_status_without_a_key_says_how_to_set_one(capsys, urls):
    code, out, err = run_cli(capsys, "key", "status", "--check", *urls)
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "OPENROUTER_API_KEY" in err


def test_key_status_with_a_key(capsys, urls, with_key):
    code, out, err = run_cli(capsys, "key", "status", "--check", *urls)
    assert code == 0, err
    assert "valid" in out and "$7.25 left" in out and "50/UTC day" in out
    assert with_key not in out + err
    code, out, _ = run_cli(capsys, "key", "status", "--check", "--json", *urls)
    data = json.loads(out)
    assert data["limit_remaining_usd"] == "7.25" and data["is_free_tier"] is True
    assert with_key not in out


def test_key_check_takes_the_free_cap_and_todays_count_from_openrouter(
    capsys,
    urls,
    with_key,
    openrouter_fake,  # noqa: F811
):
    # $5 of credits: off the free tier, and still 50 free requests a day; other tools on the
    # account already sent 30 of them today
    openrouter_fake.is_free_tier = False
    openrouter_fake.free_daily = {"limit": 50, "remaining": 20, "used": 30}
    code, out, err = run_cli(capsys, "key", "status", "--check", *urls)
    assert code == 0, err
    assert "50/UTC day (reported by OpenRouter (GET /key))" in out
    assert "30 used, 20 left" in out
    # saved: routing plans for 50 a day with 20 left, without asking again (free models
    # only: otherwise, depending on the hour, a scarce free request may give way to paid)
    code, out, _ = run_cli(capsys, "route", "--prompt", "hi", "--free", "only", "--json")
    why = " ".join(json.loads(out)["why"])
    assert code == 0 and "20 free requests left today" in why
    # the account's cap rises once 10 credits are bought: the next check says so
    openrouter_fake.free_daily = {"limit": 1000, "remaining": 970, "used": 30}
    code, out, _ = run_cli(capsys, "key", "status", "--check", "--json", *urls)
    data = json.loads(out)
    assert data["free_limits"]["per_day"] == 1000
    assert data["free_model_daily_requests"] == {"limit": 1000, "remaining": 970, "used": 30}
    # without the field: the rule, and it says so
    openrouter_fake.free_daily = None
    code, out, _ = run_cli(capsys, "key", "status", "--check", "--json", *urls)
    data = json.loads(out)
    assert data["free_model_daily_requests"] is None
    assert data["free_limits"]["per_day"] == 1000  # the last reported cap is kept


def test_rejected_key_is_one_line(capsys, urls, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-not-the-right-one")
    code, _, err = run_cli(capsys, "key", "status", "--check", *urls)
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "rejected" in err
    assert "sk-or-v1-not-the-right-one" not in err


# --------------------------------------------------------------------------- run


def test_run_streams_the_answer_then_model_tokens_and_cost(capsys, urls, with_key):
    code, out, err = run_cli(capsys, "run", "Say hello", "--refresh", *urls)
    assert code == 0, err
    answer, _, summary = out.partition("---\n")
    assert answer.strip() == REPLY_TEXT
    assert "model:" in summary
    assert "tokens: 12 prompt + 7 completion" in summary
    assert "cost:" in summary
    assert with_key not in out + err


def test_run_local_only_json(capsys, urls):
    run_cli(capsys, "refresh", *urls)
    code, out, err = run_cli(capsys, "run", "Say hello", "--local-only", "--json", *urls)
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] and data["text"] == REPLY_TEXT
    assert data["tier"] == "local" and data["cost_usd"] == "0"
    assert data["chain"][0] == data["model"]
    assert data["attempts"][-1]["outcome"] == "ok"


def test_run_falls_back_when_the_first_model_fails(
    capsys,
    urls,
    with_key,
    openrouter_fake,  # noqa: F811
):
    from tests.fakes import server as fk

    run_cli(capsys, "refresh", *urls)
    openrouter_fake.fail_next("/chat/completions", fk.BAD_GATEWAY)
    code, out, err = run_cli(capsys, "run", "Say hello", "--pin", "openai/gpt-4o", "--json", *urls)
    assert code == 0, err
    data = json.loads(out)
    assert data["attempts"][0]["model"] == "openai/gpt-4o"
    assert data["attempts"][0]["outcome"] == "failed"
    assert data["model"] != "openai/gpt-4o" and data["ok"]


def test_run_with_nothing_available_is_one_line_error(capsys):
    dead = dead_url()
    code, _, err = run_cli(
        capsys,
        "run",
        "Say hello",
        "--local-only",
        "--ollama-url",
        dead,
        "--lmstudio-url",
        dead,
        "--server-url",
        dead,
        "--openrouter-url",
        dead + "/api/v1",
    )
    assert code == 1
    assert err.count("locallama: error:") == 1
    assert "Traceback" not in err


def test_run_usage_errors_exit_2(capsys):
    try:
        code = main(["run", "hi", "--max-wait", "-1"])
    except SystemExit as e:
        code = e.code
    assert code == 2
    assert "--max-wait" in capsys.readouterr().err
    code, _, err = run_cli(capsys, "run", "   ")
    assert code == 1 and "give a prompt" in err
