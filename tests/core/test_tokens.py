"""Token counting (exact for OpenAI tokenizers, calibrated estimates otherwise) and complexity."""

from __future__ import annotations

import math
import random
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locallama_gui.core import tokens
from locallama_gui.core.tokens import (
    SAMPLE_THRESHOLD_CHARS,
    TokenEstimate,
    estimate_complexity,
    estimate_messages_tokens,
    estimate_tokens,
)

with warnings.catch_warnings():
    # bpe_openai loads its vocabularies through a deprecated importlib.resources call
    warnings.simplefilter("ignore", DeprecationWarning)
    import bpe_openai

    O200K = bpe_openai.get_encoding("o200k_base")
    CL100K = bpe_openai.get_encoding("cl100k_base")

SAMPLE_TEXT = (
    "LocaLLama routes each task to a local model, a free model or a paid one.\n"
    "def add(a, b):\n    return a + b  # héllo 日本語 ✓\n"
    "Special-looking text <|endoftext|> is counted as ordinary text.\n"
)


def test_exact_count_for_gpt_matches_bpe_openai():
    est = estimate_tokens(SAMPLE_TEXT, "GPT")
    assert est == TokenEstimate(
        len(O200K.encode_ordinary(SAMPLE_TEXT)), "exact: o200k_base", exact=True
    )


def test_encoding_names_are_exact():
    assert estimate_tokens(SAMPLE_TEXT, "cl100k_base") == TokenEstimate(
        len(CL100K.encode_ordinary(SAMPLE_TEXT)), "exact: cl100k_base", exact=True
    )
    assert estimate_tokens(SAMPLE_TEXT, "o200k_base").tokens == len(
        O200K.encode_ordinary(SAMPLE_TEXT)
    )


def test_claude_is_a_labelled_estimate():
    est = estimate_tokens(SAMPLE_TEXT, "Claude")
    base = len(CL100K.encode_ordinary(SAMPLE_TEXT))
    assert est.exact is False
    assert est.method == "estimate: cl100k_base x 1.10 (Claude)"
    assert est.tokens == math.ceil(base * 1.1)


@pytest.mark.parametrize(
    ("tokenizer", "label"),
    [
        ("Gemini", "Gemini"),
        ("Llama3", "Llama3"),
        ("Llama2", "Llama2"),
        ("Qwen3", "Qwen"),
        ("qwen2", "Qwen"),
        ("Mistral", "Mistral"),
        ("DeepSeek", "DeepSeek"),
        ("Other", "other"),
        ("Router", "other"),
        (None, "other"),
        ("something-new", "other"),
    ],
)
def test_other_families_are_estimates(tokenizer, label):
    est = estimate_tokens(SAMPLE_TEXT, tokenizer)
    assert est.exact is False
    assert est.method.startswith("estimate: ")
    assert est.method.endswith(f"({label})")
    assert est.tokens >= len(CL100K.encode_ordinary(SAMPLE_TEXT)) * 0.9


def test_empty_text_is_zero():
    for tokenizer in ("GPT", "Claude", None):
        est = estimate_tokens("", tokenizer)
        assert est.tokens == 0
        assert est.exact is True


@given(st.text(max_size=300))
def test_gpt_count_equals_bpe_openai_on_any_text(text):
    assert estimate_tokens(text, "GPT").tokens == len(O200K.encode_ordinary(text))


@pytest.mark.parametrize(
    "words",
    [
        ["alpha", "beta", "  indent", "x=1;", "/path", "日本", "'s", "\n", "\n\n", "\n/", " "],
        ["alpha", " beta", "  gamma", ".", ",", "'s", " é", "42", "ñ", "’ll", " "],  # no newline
        ["alpha", "  \n ", " beta", "  ", ".", "\n\t", "x"],  # every newline before a space
    ],
)
def test_chunked_count_equals_whole_count(words):
    rng = random.Random(7)
    text = "".join(rng.choice(words) for _ in range(30_000))
    whole = len(O200K.encode_ordinary(text))
    counted, unsafe = tokens._count(tokens._encoding("o200k_base"), text, chunk_chars=997)
    assert unsafe == 0
    assert counted == whole


def test_chunks_without_a_safe_boundary_are_flagged():
    text = "x" * 1_200_000
    est = estimate_tokens(text, "GPT")
    assert est.exact is False
    assert est.method.startswith("estimate: o200k_base (")
    assert "inside words" in est.method


def test_long_text_beyond_the_encoder_limits_is_still_exact():
    # bpe_openai alone refuses 1M characters or 200k tokens in one call
    line = "word " * 40 + "\n"
    text = line * 6000  # ~1.2M characters, ~250k tokens
    est = estimate_tokens(text, "GPT")
    assert est.exact is True
    assert est.method == "exact: o200k_base"
    assert est.tokens == len(O200K.encode_ordinary(line)) * 6000


def test_huge_text_is_sampled_and_says_so():
    text = "The quick brown fox jumps over the lazy dog.\n" * 250_000  # ~11 MB
    assert len(text) > SAMPLE_THRESHOLD_CHARS
    est = estimate_tokens(text, "GPT")
    assert est.exact is False
    assert "sampled" in est.method
    per_line = len(O200K.encode_ordinary("The quick brown fox jumps over the lazy dog.\n"))
    assert abs(est.tokens - per_line * 250_000) <= per_line * 250_000 * 0.01


def test_fallback_without_bpe_openai(monkeypatch):
    def broken(name):
        raise ImportError("no bpe_openai")

    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_load_encoding", broken)
    est = estimate_tokens("a" * 10, "GPT")
    assert est == TokenEstimate(3, "estimate: 4 chars per token (bpe_openai unavailable)", False)


def test_encodings_are_cached():
    first = tokens._encoding("o200k_base")
    assert first is not None
    assert tokens._encoding("o200k_base") is first


# --------------------------------------------------------------------------- messages


def test_messages_add_overhead():
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hello there", "name": "dev"},
        {"role": "assistant", "content": None},
        {"role": "user", "content": [{"type": "text", "text": "Describe"}, {"type": "image"}]},
    ]
    content = sum(
        len(O200K.encode_ordinary(t)) for t in ("You are terse.", "Hello there", "dev", "Describe")
    )
    est = estimate_messages_tokens(messages, "GPT")
    assert est.tokens == content + 4 * 4 + 3
    assert est.exact is False
    assert est.method == "exact: o200k_base + 4/message + 3 overhead"


def test_no_messages_is_priming_only():
    assert estimate_messages_tokens([]).tokens == 3


# --------------------------------------------------------------------------- complexity

HARD_PROMPT = (
    "Prove that the algorithm below runs in O(n log n) and analyse its worst-case complexity "
    "step by step. Then:\n"
    "1. Derive the recurrence.\n"
    "2. Optimise the inner loop and justify the trade-offs.\n"
    "3. What edge cases break correctness? Why?\n"
    "```python\n"
    "def merge_sort(xs):\n"
    "    if len(xs) <= 1:\n"
    "        return xs\n"
    "    mid = len(xs) // 2\n"
    "    return merge(merge_sort(xs[:mid]), merge_sort(xs[mid:]))\n"
    "```\n"
) * 20


def test_complexity_orders_prompts():
    hi = estimate_complexity("hi")
    chat = estimate_complexity("What is the capital of France?")
    hard = estimate_complexity(HARD_PROMPT)
    assert 0 <= hi < chat < hard <= 1
    assert hard > 0.8
    assert hi < 0.1


def test_complexity_of_empty_is_zero():
    assert estimate_complexity("") == 0.0
    assert estimate_complexity("   \n") == 0.0


def test_complexity_is_deterministic_and_cheap_on_huge_text():
    text = "x = 1;\n" * 1_500_000  # ~10 MB
    first = estimate_complexity(text)
    assert first == estimate_complexity(text)
    assert 0 <= first <= 1


@given(st.text(max_size=2000))
def test_complexity_in_unit_interval(text):
    value = estimate_complexity(text)
    assert isinstance(value, float)
    assert 0.0 <= value <= 1.0


@pytest.mark.parametrize(
    ("model_id", "encoding"),
    [
        ("openai/gpt-4", "cl100k_base"),
        ("openai/gpt-4-turbo", "cl100k_base"),
        ("openai/gpt-4-0314", "cl100k_base"),
        ("openai/gpt-3.5-turbo", "cl100k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("openai/gpt-4o-mini", "o200k_base"),
        ("openai/gpt-4.1", "o200k_base"),
        ("openai/gpt-5", "o200k_base"),
    ],
)
def test_gpt_4_and_3_5_count_with_their_own_encoding(model_id, encoding):
    import bpe_openai

    text = "Quarterly totals: 1234567, 89.5%, naïve café ✓ — def f(x): return x**2\n" * 20
    est = estimate_tokens(text, tokens.tokenizer_for(model_id, "GPT"))
    assert est.exact and est.method == f"exact: {encoding}"
    assert est.tokens == len(bpe_openai.get_encoding(encoding).encode(text))


def test_the_catalogue_gives_gpt_4_the_cl100k_tokenizer():
    from locallama_gui.services.catalogue import load_snapshot

    models = {m.id: m for m in load_snapshot().models}
    assert models["openai/gpt-4"].tokenizer == "cl100k_base"
    assert models["openai/gpt-4o"].tokenizer == "GPT"
