"""An upstream at the OpenRouter URL that echoes the API key back must never get it printed,
stored or logged: not whole, not without its ``sk-or-v1-`` prefix, not in pieces.

The fake echoes the request's ``Authorization`` header in the ``provider`` and ``id`` of every
chunk, and in the text of its errors (``/key``, ``/chat/completions``, ``/models``), in three
forms: the whole header, the key without its prefix, and a 20-character piece of its secret
part. The CLI commands then run against it, and their stdout, stderr and log records, and the
bytes of every file under ``LOCALLAMA_HOME`` (the SQLite database with its WAL, the settings),
are searched for the key, its secret part and every 8-character window of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from locallama_gui.cli import main
from locallama_gui.core.redaction import FRAGMENT_MIN, REDACTED
from locallama_gui.secrets import SERVICE, USERNAME
from tests.fakes import OpenRouterFake
from tests.fakes.server import RecordedRequest, _Handler

#: A key of the real shape: ``sk-or-v1-`` and 64 hex digits.
SECRET_PART = hashlib.sha256(b"locallama: a key an upstream echoes").hexdigest()
KEY = "sk-or-v1-" + SECRET_PART
PREFIX = "sk-or-v1-"
FORMS = ("whole", "without-prefix", "fragment")


def leaks(text: str) -> list[str]:
    """Every piece of the key found in ``text`` (hex compared case-blind)."""
    low = text.lower()
    found = [p for p in (KEY, SECRET_PART) if p in text]
    n = FRAGMENT_MIN
    found += [
        SECRET_PART[i : i + n]
        for i in range(len(SECRET_PART) - n + 1)
        if SECRET_PART[i : i + n] in low
    ]
    return found


class EchoingOpenRouter(OpenRouterFake):
    """OpenRouter, except that it repeats the ``Authorization`` header it was sent."""

    def __init__(self, form: str) -> None:
        super().__init__(api_key=KEY)
        self.form = form
        self.chat_failures = 0
        self.models_fail = False

    def echo(self, req: RecordedRequest | None) -> str:
        header = (req.headers.get("authorization") if req else None) or f"Bearer {self.api_key}"
        token = header.partition(" ")[2]
        if self.form == "whole":
            return header
        if self.form == "without-prefix":
            return token.removeprefix(PREFIX)
        return token[len(PREFIX) + 10 : len(PREFIX) + 30]  # 20 characters of the secret part

    def _chunk(self, req: RecordedRequest, delta: dict[str, Any], finish: str | None) -> Any:
        chunk = super()._chunk(req, delta, finish)
        chunk["provider"] = f"Echo ({self.echo(req)})"
        chunk["id"] = f"gen-{self.echo(req)}"
        return chunk

    def _key(self, h: _Handler, req: RecordedRequest) -> None:
        echo = self.echo(req)
        self.send_error_body(
            h, 400, f"Malformed header: Authorization: {echo}", metadata={"provider_name": echo}
        )

    def _chat(self, h: _Handler, req: RecordedRequest) -> None:
        if self.chat_failures > 0:
            self.chat_failures -= 1
            self.send_error_body(h, 502, f"The provider refused Authorization: {self.echo(req)}")
            return
        super()._chat(h, req)

    def _models(self, h: _Handler, req: RecordedRequest) -> None:
        if self.models_fail:
            self.send_error_body(h, 500, f"models failed for {self.echo(None)}")
            return
        super()._models(h, req)


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture(params=FORMS)
def echoing(request) -> Iterator[EchoingOpenRouter]:
    with EchoingOpenRouter(request.param) as fake:
        yield fake


@pytest.fixture(params=["env", "keyring"])
def key_source(request, monkeypatch, memory_keyring) -> str:
    """The key comes from OPENROUTER_API_KEY or from the (in-memory) system keyring."""
    if request.param == "env":
        monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    else:
        memory_keyring.set_password(SERVICE, USERNAME, KEY)
    return request.param


@pytest.fixture
def urls(echoing: EchoingOpenRouter) -> list[str]:
    dead = dead_url()
    return [
        "--openrouter-url",
        echoing.base_url,
        "--ollama-url",
        dead,
        "--lmstudio-url",
        dead,
        "--server-url",
        dead,
    ]


@pytest.fixture
def logs(caplog) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert not leaks(out), f"stdout holds the key: {leaks(out)}"
    assert not leaks(err), f"stderr holds the key: {leaks(err)}"
    return code, out, err


def stored_bytes(home: Path) -> str:
    """Every file the app wrote (the database, its WAL and journal, the settings)."""
    parts = [p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()]
    assert parts, "nothing was stored"
    return b"\n".join(parts).decode("latin-1")


def assert_nothing_leaked(home: Path, logs: pytest.LogCaptureFixture) -> None:
    assert not leaks(stored_bytes(home)), "the key was stored"
    assert not leaks(logs.text), "the key was logged"
    for record in logs.records:
        assert not leaks(record.getMessage())


# --------------------------------------------------------------------------- run


def test_run_never_shows_or_stores_an_echoed_key(
    capsys, urls, echoing, key_source, logs, _isolated_home
):
    code, _, err = run_cli(capsys, "refresh", *urls)
    assert code == 0, err
    route = ["--pin", "openai/gpt-4o", "--allow", "openai/*", *urls]
    # three failures in a row quarantine the model: its reason (with the echo) is stored
    for _ in range(3):
        echoing.chat_failures = 1
        code, out, err = run_cli(capsys, "run", "Say hello", "-v", *route)
        assert code == 0, err
        assert "via Echo (" in out and REDACTED in out  # the echo came, and was masked
        assert "The provider refused" in err and REDACTED in err

    echoing.chat_failures = 1
    code, out, _ = run_cli(capsys, "run", "Say hello", "--json", *route)
    assert code == 0
    data = json.loads(out)  # still valid JSON
    assert data["ok"] and data["text"] == "Hello! How can I help?"
    assert REDACTED in json.dumps(data["attempts"])
    assert_nothing_leaked(_isolated_home, logs)


def test_the_answer_is_left_alone_unless_it_holds_the_key(capsys, urls, echoing, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    run_cli(capsys, "refresh", *urls)
    code, out, _ = run_cli(capsys, "run", "Say hello", "--allow", "openai/*", *urls)
    assert code == 0
    assert out.startswith("Hello! How can I help?\n")


# --------------------------------------------------------------------------- key status --check


def test_key_check_never_shows_an_echoed_key(capsys, urls, key_source, logs, _isolated_home):
    code, out, err = run_cli(capsys, "key", "status", "--check", *urls)
    assert code == 1 and out == ""
    assert "Malformed header" in err and REDACTED in err
    code, _, err = run_cli(capsys, "key", "status", "--check", "--json", *urls)
    assert code == 1 and REDACTED in err
    assert not leaks(logs.text)


# --------------------------------------------------------------------------- refresh


def test_refresh_never_shows_or_stores_an_echoed_key(
    capsys, urls, echoing, key_source, logs, _isolated_home
):
    echoing.models_fail = True
    _, out, _ = run_cli(capsys, "refresh", *urls)
    assert "models failed for" in out and REDACTED in out
    _, out, _ = run_cli(capsys, "refresh", "--json", *urls)
    data = json.loads(out)
    openrouter = next(s for s in data["sources"] if s["kind"] == "openrouter")
    assert not openrouter["up"] and REDACTED in openrouter["error"]
    _, out, _ = run_cli(capsys, "sources", "--json", *urls)
    assert REDACTED in out
    assert_nothing_leaked(_isolated_home, logs)
