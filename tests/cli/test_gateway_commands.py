"""``locallama serve`` (a real process on a real port), ``gateway token`` and ``spend``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from decimal import Decimal

import httpx
import pytest

from locallama_gui.cli import main
from locallama_gui.store.db import Store
from tests.fakes import REPLY_TEXT
from tests.fakes.fixtures import (  # noqa: F401
    fake_api_key,
    ollama_fake,
    openrouter_fake,
)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- gateway token ---------------------------------------------------------------------------


def test_the_token_is_made_once_and_kept(capsys, monkeypatch):
    monkeypatch.delenv("LOCALLAMA_GATEWAY_TOKEN", raising=False)
    code, first, _ = run_cli(capsys, "gateway", "token")
    assert code == 0 and first.strip().startswith("llr-") and len(first.strip()) > 30
    _, again, _ = run_cli(capsys, "gateway", "token")
    assert again == first
    _, new, _ = run_cli(capsys, "gateway", "token", "--new")
    assert new != first
    _, after, _ = run_cli(capsys, "gateway", "token")
    assert after == new


def test_the_environment_overrides_the_token(capsys, monkeypatch):
    monkeypatch.setenv("LOCALLAMA_GATEWAY_TOKEN", "env-token-0123456789")
    code, out, _ = run_cli(capsys, "gateway", "token")
    assert code == 0 and out.strip() == "env-token-0123456789"
    code, _, err = run_cli(capsys, "gateway", "token", "--new")
    assert code == 1 and "LOCALLAMA_GATEWAY_TOKEN" in err


# --- spend -----------------------------------------------------------------------------------


def test_spend_reports_today_and_month_by_model_and_client(capsys, _isolated_home):
    from datetime import UTC, datetime

    from locallama_gui.store.paths import database_path

    with Store(database_path()) as store:
        now = datetime.now(UTC)
        store.record_spend(
            ts=now,
            model_id="openai/gpt-4o-mini",
            tier="paid",
            cost_usd=Decimal("0.25"),
            client="Aider",
            baseline_model="anthropic/claude-sonnet-4.5",
            baseline_cost_usd=Decimal("1"),
        )
        store.record_spend(
            ts=now, model_id="gemma4:e4b", tier="local", cost_usd=Decimal(0), client="cli"
        )
    code, out, _ = run_cli(capsys, "spend", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["today"]["total_usd"] == "0.25" and report["today"]["requests"] == 2
    assert report["today"]["saved_usd"] == "0.75"
    assert {r["client"] for r in report["month"]["by_client"]} == {"Aider", "cli"}
    code, text, _ = run_cli(capsys, "spend")
    assert code == 0
    assert "Today: $0.25 over 2 requests; saved $0.75" in text
    assert "openai/gpt-4o-mini" in text and "Aider" in text


def test_serve_refuses_a_public_address_without_the_flag(capsys):
    code, _, err = run_cli(capsys, "serve", "--host", "0.0.0.0")
    assert code == 1 and "--allow-remote" in err


# --- serve -----------------------------------------------------------------------------------


@pytest.fixture
def served(openrouter_fake, ollama_fake, fake_api_key, _isolated_home):  # noqa: F811
    env = dict(os.environ)
    env.update(
        OPENROUTER_API_KEY=fake_api_key,
        LOCALLAMA_GATEWAY_TOKEN="serve-test-token-0123456789",
        PYTHONUNBUFFERED="1",
    )
    # the catalogue first, as a user would (refresh), then the gateway on a free port
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locallama_gui.cli",
            "refresh",
            "-q",
            "--openrouter-url",
            openrouter_fake.base_url,
            "--ollama-url",
            ollama_fake.url,
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locallama_gui.cli",
            "serve",
            "--port",
            "0",
            "--no-mcp",
            "--openrouter-url",
            openrouter_fake.base_url,
            "--ollama-url",
            ollama_fake.url,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line + proc.stderr.read()
        yield proc, match.group(1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_serve_answers_until_interrupted(served):
    proc, url = served
    headers = {"authorization": "Bearer serve-test-token-0123456789"}
    assert httpx.get(url + "/health").json() == {"status": "ok"}
    r = httpx.post(
        url + "/v1/chat/completions",
        json={"model": "locallama/local", "messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == REPLY_TEXT
    assert r.headers["x-locallama-tier"] == "local"
    assert httpx.get(url + "/v1/models").status_code == 401
    proc.send_signal(signal.SIGINT)
    assert proc.wait(15) == 0
    assert "Traceback" not in proc.stderr.read()
