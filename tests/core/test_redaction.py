"""Redaction knows the live key: whole, without its prefix, in pieces, in any case of its hex,
escaped; and it leaves everything else alone (ordinary words, ids, numbers, answers)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
import string
import time
import uuid
from urllib.parse import quote

import pytest

from locallama_gui.core import redaction
from locallama_gui.core.redaction import (
    FRAGMENT_MIN,
    REDACTED,
    RedactingStream,
    clear_registered_secrets,
    install_log_redaction,
    redact,
    redact_data,
    redact_known,
    register_secret,
    registered_secrets,
)

SECRET_PART = hashlib.sha256(b"locallama: the live key of these tests").hexdigest()
KEY = "sk-or-v1-" + SECRET_PART


def holds_key(text: str) -> bool:
    """Whether any piece of FRAGMENT_MIN or more characters of the key is in ``text``."""
    low = text.lower()
    n = FRAGMENT_MIN
    return any(SECRET_PART[i : i + n] in low for i in range(len(SECRET_PART) - n + 1))


@pytest.fixture
def live_key() -> str:
    register_secret(KEY)
    return KEY


# --------------------------------------------------------------------------- the registry


def test_a_registered_key_is_masked_by_default_and_forgotten_on_clear():
    text = f"provider: {SECRET_PART}"
    assert redact(text) == text  # a bare hex string matches no pattern
    register_secret(KEY)
    assert registered_secrets() == (KEY,)
    assert redact(text) == f"provider: {REDACTED}"
    register_secret(KEY)  # again: still one entry
    assert registered_secrets() == (KEY,)
    clear_registered_secrets()
    assert redact(text) == text


def test_too_short_values_are_not_registered():
    register_secret("short")
    register_secret(None)
    register_secret(12345)
    assert registered_secrets() == ()


@pytest.mark.parametrize(
    "echo",
    [
        KEY,
        f"Bearer {KEY}",
        SECRET_PART,  # without the sk-or-v1- prefix
        SECRET_PART[10:30],  # a 20-character piece
        SECRET_PART[:FRAGMENT_MIN],  # the shortest piece masked
        SECRET_PART[-FRAGMENT_MIN:],
        SECRET_PART.upper(),  # hex in another case
        SECRET_PART[5:40].upper(),
        KEY.upper(),
        quote(KEY, safe=""),
        json.dumps(KEY)[1:-1],
    ],
    ids=[
        "whole",
        "bearer",
        "without-prefix",
        "20-chars",
        "first-8",
        "last-8",
        "upper",
        "upper-piece",
        "upper-whole",
        "url-encoded",
        "json-escaped",
    ],
)
def test_the_key_and_its_parts_are_masked(live_key, echo):
    text = f'{{"provider": "Echo ({echo})", "note": "x{echo}y"}}'
    for out in (redact(text), redact_known(text)):
        assert not holds_key(out), out
        assert REDACTED in out
        assert out.startswith('{"provider": "Echo (')


def test_pieces_between_other_text_are_masked_and_the_rest_kept(live_key):
    piece = SECRET_PART[20:41]
    assert redact(f"error: header {piece} is bad") == f"error: header {REDACTED} is bad"
    # two pieces, apart
    a, b = SECRET_PART[:12], SECRET_PART[40:60]
    assert redact(f"{a} and {b}") == f"{REDACTED} and {REDACTED}"


def test_shorter_pieces_and_ordinary_text_are_left_alone(live_key):
    rnd = random.Random(7)
    ordinary = [
        SECRET_PART[: FRAGMENT_MIN - 1],  # too short to mean anything (28 bits)
        "deadbeef cafebabe facade decade added faded",
        "1767225600000 2026-08-14T13:30:00Z 0123456789",
        "gen-fake-0001 chatcmpl-abc123 req_01HZX3",
        str(uuid.UUID(int=rnd.getrandbits(128))),
        hashlib.sha1(b"other").hexdigest(),
        hashlib.sha256(b"another key").hexdigest(),
        "sk-or-v1-... (create a key at openrouter.ai/settings/keys)",
        "Hello! How can I help? Authorization: Bearer {api_key}",
    ]
    for text in ordinary:
        assert redact_known(text) == text, text


def test_random_hex_is_practically_never_masked(live_key):
    rnd = random.Random(11)
    text = " ".join(f"{rnd.getrandbits(128):032x}" for _ in range(3000))
    assert redact_known(text) == text


def test_explicit_secrets_still_work_without_the_registry():
    assert redact("token=abcd1234xyz!", ("abcd1234xyz!",)) == f"token={REDACTED}"
    other = "llr-" + "Q" * 8 + "abcdefghijklmnopqrstuvwxyz"
    assert REDACTED in redact(f"it was {other[6:30]}", (other,))  # a token-like secret's piece
    assert redact("nothing here", (None, "")) == "nothing here"


def test_patterns_are_still_masked_but_not_by_redact_known():
    text = "Authorization: Bearer abc.def and sk-or-v1-0123456789abcdef"
    assert redact(text) == f"Authorization: Bearer {REDACTED} and {REDACTED}"
    assert redact_known(text) == text


def test_masking_keeps_json_valid(live_key):
    doc = {
        "provider": f"Echo (Bearer {KEY})",
        "error": {"message": f"bad header \u00e9{SECRET_PART[3:30]}\n{SECRET_PART.upper()}"},
        "text": 'caf\u00e9 \\u00e9 "quoted" \\\\',
        "list": [SECRET_PART[8:28], 42, None, True],
    }
    for ensure_ascii in (True, False):
        raw = json.dumps(doc, ensure_ascii=ensure_ascii)
        out = redact_known(raw)
        back = json.loads(out)  # still a JSON document
        assert not holds_key(json.dumps(back)), out
        assert back["text"] == doc["text"] and back["list"][1:] == [42, None, True]


def test_a_unicode_escape_next_to_a_piece_is_not_broken(live_key):
    raw = json.dumps({"a": "\u00e9" + SECRET_PART[0:20]})  # ..."\u00e9<hex>"
    out = redact_known(raw)
    assert json.loads(out) == {"a": "\u00e9" + REDACTED}
    # a key whose hex would run on from the escape's own digits ("\u00e9" + "abc...")
    part = "e9" + hashlib.sha256(b"escape").hexdigest()[:62]
    register_secret("sk-or-v1-" + part)
    raw = json.dumps({"a": "\u00e9" + part[2:]})
    assert "e9" + part[2:10] in raw  # the escape's digits and the text make a window
    assert json.loads(redact_known(raw)) == {"a": "\u00e9" + REDACTED}


def test_redact_data_masks_every_string_and_keeps_what_is_clean(live_key):
    clean = {"model": "openai/gpt-4o", "n": 3, "tags": ["a", "b"]}
    assert redact_data(clean) is clean
    doc = {"ok": True, "attempts": [{"error": f"x {SECRET_PART}"}], "t": ("a", KEY), "m": clean}
    out = redact_data(doc)
    assert out["attempts"][0]["error"] == f"x {REDACTED}"
    assert out["t"] == ("a", REDACTED)
    assert out["m"] is clean and out["ok"] is True


# --------------------------------------------------------------------------- the stream sink


def test_a_stream_masks_a_key_written_in_pieces(live_key):
    sink = io.StringIO()
    stream = RedactingStream(sink)
    for piece in ["Hello, the key is sk-or", "-v1-", SECRET_PART[:5], SECRET_PART[5:30]]:
        stream.write(piece)
        stream.flush()  # what a streaming printer does after every delta
    stream.write(SECRET_PART[30:] + " and more\n")
    stream.finish()
    assert sink.getvalue() == f"Hello, the key is {REDACTED} and more\n"


def test_a_stream_passes_text_on_at_flush_and_keeps_back_only_a_word(live_key):
    sink = io.StringIO()
    stream = RedactingStream(sink)
    stream.write("streamed words so")
    stream.flush()
    assert sink.getvalue() == "streamed words "  # "so" may go on
    stream.write(" far\n")
    stream.flush()
    assert sink.getvalue() == "streamed words so far\n"
    assert stream.encoding == sink.encoding  # everything else is the wrapped stream's


def test_a_line_buffered_stream_writes_at_each_line_end(live_key):
    sink = io.StringIO()
    stream = RedactingStream(sink, line_buffered=True)
    stream.write(f"note: {SECRET_PART}\n")
    assert sink.getvalue() == f"note: {REDACTED}\n"


# --------------------------------------------------------------------------- the log sink


def test_log_records_are_redacted_whatever_shows_them(caplog, live_key):
    install_log_redaction()
    log = logging.getLogger("locallama_gui.test_redaction")
    with caplog.at_level(logging.INFO):
        log.info("upstream said %s", f"provider={SECRET_PART[4:30]}")
        try:
            raise ValueError(f"bad header {KEY}")
        except ValueError:
            log.info("it failed", exc_info=True)
    assert not holds_key(caplog.text)
    assert caplog.records[0].getMessage() == f"upstream said provider={REDACTED}"
    assert REDACTED in caplog.text


def test_log_records_without_secrets_are_untouched(caplog, live_key):
    install_log_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("locallama_gui.test_redaction").info("%d models from %s", 3, "x")
    record = caplog.records[0]
    assert record.args == (3, "x") and record.getMessage() == "3 models from x"


# --------------------------------------------------------------------------- speed


def test_redaction_is_fast_on_a_large_text(live_key):
    rnd = random.Random(3)
    words = " ".join(
        "".join(rnd.choice(string.ascii_lowercase) for _ in range(rnd.randint(2, 10)))
        for _ in range(20_000)
    )[:100_000]
    hexy = " ".join(f"{rnd.getrandbits(128):032x}" for _ in range(3100))[:100_000]
    for text in (words, hexy):
        redact(text)  # the masks are compiled once
        started = time.perf_counter()
        for _ in range(5):
            redact(text)
        per_call = (time.perf_counter() - started) / 5
        assert per_call < 0.05, f"{per_call * 1000:.1f} ms for 100 KB"  # about 2 ms here


def test_the_masks_are_cached_per_set_of_secrets(live_key):
    redaction._masks.cache_clear()
    redact("a")
    redact("b")
    assert redaction._masks.cache_info().misses == 1
