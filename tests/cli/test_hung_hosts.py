"""``refresh``, ``sources``, ``key status --check`` and ``run`` against a host that holds the
first byte (``tests/fakes/hung.py``) and one that refuses connections: each ends within its
deadline, says so in words that fit it, and exits as the README says; a chain of five models
on one hung host costs one timeout, not five."""

from __future__ import annotations

import json
import time

import pytest

from locallama_gui.cli import main
from tests.fakes import OllamaFake
from tests.fakes.fixtures import fake_api_key, ollama_fake  # noqa: F401
from tests.fakes.hung import HungServer, refusing_url

#: The deadline the fetching commands get here (their default is 15 s).
DEADLINE = "1.5"


@pytest.fixture
def hung():
    with HungServer() as server:
        yield server


@pytest.fixture
def with_key(monkeypatch, fake_api_key) -> str:  # noqa: F811
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_api_key)
    return fake_api_key


def run_cli(capsys, *argv: str) -> tuple[int, str, str, float]:
    started = time.monotonic()
    code = main(list(argv))
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    return code, out, err, elapsed


def no_locals() -> list[str]:
    dead = refusing_url()
    return ["--ollama-url", dead, "--lmstudio-url", dead, "--server-url", dead]


def last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


# --------------------------------------------------------------------------- refresh, sources


def test_refresh_with_openrouter_hung_stops_at_the_deadline_and_exits_4(
    capsys,
    hung,
    ollama_fake,  # noqa: F811
):
    dead = refusing_url()
    urls = ["--openrouter-url", hung.openrouter_url, "--ollama-url", ollama_fake.url]
    urls += ["--lmstudio-url", dead, "--server-url", dead]
    code, out, err, elapsed = run_cli(capsys, "refresh", "--deadline", DEADLINE, *urls)
    assert code == 4, err
    assert elapsed < 8  # the default read timeout alone is 30 s
    assert "locallama: stopped after 1.5 s: OpenRouter did not answer" in err
    row = next(line for line in out.splitlines() if line.startswith("openrouter"))
    assert "down" in row
    assert "did not answer within 1.5 s (stopped at the deadline)" in out
    assert "pick another model" not in out + err
    ollama = next(line for line in out.splitlines() if line.startswith("ollama"))
    assert "up" in ollama

    code, out, err, _ = run_cli(capsys, "refresh", "--json", "--deadline", DEADLINE, *urls)
    assert code == 4
    data = json.loads(out)
    assert data["deadline_s"] == 1.5
    assert data["stopped"] == "stopped after 1.5 s: OpenRouter did not answer"


def test_refresh_with_nothing_answering_exits_1_within_the_deadline(capsys, hung):
    urls = ["--openrouter-url", hung.openrouter_url, *no_locals()]
    code, _, err, elapsed = run_cli(capsys, "refresh", "--deadline", DEADLINE, *urls)
    assert code == 1
    assert elapsed < 8
    assert "stopped after 1.5 s: OpenRouter did not answer" in err
    assert last_line(err) == "locallama: error: no source answered; nothing was refreshed"


def test_sources_with_openrouter_hung_stop_at_the_deadline(
    capsys,
    hung,
    ollama_fake,  # noqa: F811
):
    dead = refusing_url()
    urls = ["--openrouter-url", hung.openrouter_url, "--ollama-url", ollama_fake.url]
    urls += ["--lmstudio-url", dead, "--server-url", dead]
    code, out, err, elapsed = run_cli(capsys, "sources", "--deadline", DEADLINE, *urls)
    assert code == 4
    assert elapsed < 8
    assert "openrouter" in out and "down: did not answer within 1.5 s" in out
    assert "locallama: stopped after 1.5 s: OpenRouter did not answer" in err
    code, out, _, _ = run_cli(capsys, "sources", "--json", "--deadline", DEADLINE, *urls)
    assert code == 4
    data = json.loads(out)
    assert data["stopped"] == "stopped after 1.5 s: OpenRouter did not answer"
    by_kind = {s["kind"]: s for s in data["sources"]}
    assert by_kind["ollama"]["up"] and not by_kind["openrouter"]["up"]


# --------------------------------------------------------------------------- key status --check


def test_key_check_on_a_hung_openrouter_says_what_to_do(capsys, hung, with_key):
    urls = ["--openrouter-url", hung.openrouter_url, *no_locals()]
    code, out, err, elapsed = run_cli(
        capsys, "key", "status", "--check", "--deadline", DEADLINE, *urls
    )
    assert code == 1
    assert elapsed < 8
    assert last_line(err) == (
        "locallama: error: OpenRouter did not answer within 1.5 s; try again later or check "
        f"--openrouter-url (now {hung.openrouter_url})"
    )
    assert "pick another model" not in err
    assert with_key not in out + err


# --------------------------------------------------------------------------- run


def test_run_with_five_models_on_a_hung_openrouter_costs_one_timeout(capsys, hung, with_key):
    urls = ["--openrouter-url", hung.openrouter_url, *no_locals()]
    code, _, err, elapsed = run_cli(
        capsys, "run", "Say hello", "--depth", "4", "--timeout", "1", *urls
    )
    assert code == 1
    host = f"http://127.0.0.1:{hung.port}"
    assert last_line(err) == (
        f"locallama: error: No model answered: host {host} did not answer (timed out after "
        "1 s); 4 other models on it skipped."
    )
    notes = [line for line in err.splitlines() if line.startswith("note: ") and host in line]
    assert len(notes) == 5
    assert sum(line.endswith("— skipped") for line in notes) == 4
    assert hung.requests == 1  # before: one 30 s wait per model of the chain
    assert elapsed < 4  # five timeouts would be 5 s

    # the next run skips the host at once (its cool-down, shared with the quarantine)
    code, _, err, elapsed = run_cli(
        capsys, "run", "Say hello", "--depth", "4", "--timeout", "1", *urls
    )
    assert code == 1 and hung.requests == 1
    assert "skipped until" in err and elapsed < 1
    code, out, _, _ = run_cli(capsys, "quarantine", "--json")
    (entry,) = json.loads(out)["quarantined"]
    assert entry["model"] == f"host:{host}"
    assert "did not answer (timed out after 1 s)" in entry["reason"]
    code, out, _, _ = run_cli(capsys, "quarantine", "--clear", f"host:{host}")
    assert code == 0 and "Lifted 1 quarantine." in out


def test_run_with_five_models_on_a_hung_ollama_costs_one_timeout(capsys):
    with OllamaFake() as live_ollama:
        port = live_ollama.port
        dead = refusing_url()
        code, _, err, _ = run_cli(
            capsys,
            "refresh",
            "--ollama-url",
            live_ollama.url,
            "--openrouter-url",
            dead + "/api/v1",
            "--lmstudio-url",
            dead,
            "--server-url",
            dead,
        )
        assert code == 4, err
    with HungServer(port=port) as hung:  # the same server, now stuck
        code, _, err, elapsed = run_cli(
            capsys,
            "run",
            "Say hello",
            "--local-only",
            "--depth",
            "4",
            "--timeout",
            "1",
            "--ollama-url",
            hung.url,
            "--openrouter-url",
            dead + "/api/v1",
            "--lmstudio-url",
            dead,
            "--server-url",
            dead,
        )
        assert code == 1
        assert last_line(err).startswith(
            f"locallama: error: No model answered: host {hung.url} did not answer (timed out "
            "after 1 s); 4 other models on it skipped."
        )
        assert hung.requests == 1
        assert elapsed < 4


def test_run_deadline_stops_the_chain_and_says_so(capsys, hung, with_key):
    urls = ["--openrouter-url", hung.openrouter_url, *no_locals()]
    code, out, _, elapsed = run_cli(
        capsys, "run", "Say hello", "--depth", "2", "--deadline", DEADLINE, "--json", *urls
    )
    assert code == 1
    assert elapsed < 6  # not the 30 s read timeout
    data = json.loads(out)
    first = data["chain"][0]
    assert data["error"] == f"stopped after 1.5 s: {first} did not answer"
    attempts = data["attempts"]
    assert attempts[0]["error_kind"] == "DeadlineTimeout"
    assert all(a["error"].startswith("not tried: the run stopped") for a in attempts[1:])


def test_deadline_and_timeout_are_checked(capsys):
    for bad in ("0", "-1", "soon", "7200"):
        code = main(["refresh", "--deadline", bad])
        _, err = capsys.readouterr()
        assert code == 2 and "--deadline" in err
    code = main(["run", "hi", "--timeout", "0"])
    _, err = capsys.readouterr()
    assert code == 2 and "--timeout" in err
