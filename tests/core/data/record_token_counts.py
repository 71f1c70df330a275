"""Record the counts of tokenizers the project cannot depend on, for tests/core/test_tokens.py.

The test corpus (``token_corpus.json``, beside this script) holds the texts; this script adds,
under ``recorded``, each text's token count by:

* ``claude_v3``, ``claude_v4.7``: ctok (PyPI ``ctok`` 1.3, Python 3.12+), an offline
  reconstruction of Claude's counts (Claude 3 to 4.6, and Opus 4.7 on); content tokens only,
  without ctok's message frame. Anthropic ships no offline tokenizer.
* ``tekken``, ``mistral_v3``, ``mistral_v1``: Mistral's own tokenizers from
  ``mistral-common`` 1.13 (``tekken_240911.json``, ``mistral_instruct_tokenizer_240323.model.v3``,
  ``tokenizer.model.v1``), without BOS/EOS.

Run it in environments that have those packages (it records what it can and keeps the rest):

    python3.12 -m venv /tmp/ctok && /tmp/ctok/bin/pip install ctok==1.3.0
    /tmp/ctok/bin/python tests/core/data/record_token_counts.py
    python -m venv /tmp/mc && /tmp/mc/bin/pip install mistral-common==1.13.1 sentencepiece
    /tmp/mc/bin/python tests/core/data/record_token_counts.py
"""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = Path(__file__).with_name("token_corpus.json")


def counters() -> dict:
    out = {}
    try:
        from ctok import tokenize

        for version, name in (("3.0", "claude_v3"), ("4.7", "claude_v4.7")):
            out[name] = lambda t, v=version: sum(1 for x in tokenize(t, v) if x != "⟨pad⟩")
    except ImportError:
        pass
    try:
        import mistral_common
        from mistral_common.tokens.tokenizers.sentencepiece import SentencePieceTokenizer
        from mistral_common.tokens.tokenizers.tekken import Tekkenizer

        data = Path(mistral_common.__file__).parent / "data"
        tekken = Tekkenizer.from_file(str(data / "tekken_240911.json"))
        out["tekken"] = lambda t: len(tekken.encode(t, bos=False, eos=False))
        for name, file in (
            ("mistral_v3", "mistral_instruct_tokenizer_240323.model.v3"),
            ("mistral_v1", "tokenizer.model.v1"),
        ):
            sp = SentencePieceTokenizer(str(data / file))
            out[name] = lambda t, sp=sp: len(sp.encode(t, bos=False, eos=False))
    except ImportError:
        pass
    return out


def main() -> None:
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    recorded = corpus.setdefault("recorded", {})
    found = counters()
    for piece in corpus["pieces"]:
        counts = recorded.setdefault(piece["name"], {})
        for name, count in found.items():
            counts[name] = count(piece["text"])
    CORPUS.write_text(json.dumps(corpus, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"recorded {sorted(found)} for {len(corpus['pieces'])} texts")


if __name__ == "__main__":
    main()
