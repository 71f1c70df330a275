"""Fuzzing the parsers: any mutation of a real input is a typed rejection, never a crash.

Every entry point that reads outside data (catalogue responses of each source, the snapshot
and store facts, raw response bodies) is fed real captured entries with fields replaced by
hostile values: absurd prices ("1e400", "1e-999999", 90-digit strings), integers of
thousands of digits, wrong types, deep nesting. The only acceptable outcomes are a result
(with the bad entries skipped and their reasons) or the module's typed error. The models
that are read must then price, format and serialise without an exception either.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from decimal import Context, Decimal, localcontext
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locallama_gui.core import catalogue as cat
from locallama_gui.core import jsonstream
from locallama_gui.core.cost import estimate_cost, format_per_million, format_usd, per_million
from locallama_gui.core.models import Usage
from locallama_gui.sources.errors import BadResponse
from locallama_gui.sources.http import decode_json
from tests.conftest import DATA

HUGE_INT = int("9" * 4000)  # within the interpreter's limit, far beyond any real count
HOSTILE: list[Any] = [
    None,
    "",
    "abc",
    "1e400",
    "-1e400",
    "1e-999999",
    "0e-999999",
    "1e999999999",
    "9" * 90,
    "0." + "0" * 70 + "1",
    "NaN",
    "Infinity",
    "-0",
    "  0.000002  ",
    "0x10",
    True,
    -1,
    0,
    HUGE_INT,
    -HUGE_INT,
    1e308,
    float("inf"),
    [],
    {},
    [[[[["deep"]]]]],
    {"prompt": "1e400", "completion": "1e-400"},
    "x" * 5000,
]

hostile = st.sampled_from(HOSTILE) | st.text(max_size=30) | st.integers() | st.floats()


@pytest.fixture(scope="module")
def raw_entries() -> dict[str, list[dict[str, Any]]]:
    def load(rel: str) -> Any:
        return json.loads((DATA / rel).read_text())

    openrouter = load("openrouter/models-2026-08-14.json")["data"]
    old = load("openrouter/models-2025-12-18.json")["data"]
    picked = [m for m in openrouter if m.get("pricing", {}).get("overrides")][:3]
    picked += [m for m in openrouter if m["id"].endswith(":free")][:2] + openrouter[:5] + old[:3]
    return {
        "openrouter": picked,
        "ollama": load("ollama/tags-2026-04.json")["models"][:4],
        "lmstudio": load("lmstudio/api-v0-models-2026-08.json")["data"][:4],
    }


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key or index path inside ``node`` (containers and leaves)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _set(node: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@st.composite
def mutated(draw, entries: list[dict[str, Any]]) -> list[Any]:
    out = copy.deepcopy(entries)
    for _ in range(draw(st.integers(1, 6))):
        n = draw(st.integers(0, len(out) - 1))
        paths = _paths(out[n]) if isinstance(out[n], dict) else []
        # a copy: the hostile containers are shared, and a later mutation may land inside
        # one (set into itself, it made a cycle)
        if not paths or draw(st.integers(0, 9)) == 0:
            out[n] = copy.deepcopy(draw(hostile))
            continue
        path = draw(st.sampled_from(paths))
        _set(out[n], path, copy.deepcopy(draw(hostile)))
    return out


def _use(models) -> None:
    """What the app does next with parsed models: price, format, serialise, rebuild."""
    usage = Usage(prompt_tokens=1234, completion_tokens=567, images=2, requests=3)
    for m in models:
        est = estimate_cost(m, usage)
        format_usd(est.total_usd)
        for price in m.pricing.prices.values() if m.pricing else ():
            if price >= 0:
                format_per_million(price)
                per_million(price)
        facts = cat.model_to_facts(m)
        json.dumps(facts)
        assert cat.model_from_facts(json.loads(json.dumps(facts))) == m
    cat.diff_catalogues(models, models[::-1]).as_dict()


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=st.data())
def test_openrouter_models_fuzz(raw_entries, data):
    payload = {"data": data.draw(mutated(raw_entries["openrouter"]))}
    result = cat.parse_openrouter_models(payload)
    assert len(result.models) + len(result.skipped) == len(payload["data"])
    for skipped in result.skipped:
        assert skipped.reason and len(skipped.reason) < 400
    _use(result.models)


@FUZZ
@given(data=st.data())
def test_local_sources_fuzz(raw_entries, data):
    tags = {"models": data.draw(mutated(raw_entries["ollama"]))}
    lm = {"data": data.draw(mutated(raw_entries["lmstudio"]))}
    for result in (
        cat.parse_ollama_tags(tags, server_url="http://127.0.0.1:11434"),
        cat.parse_lmstudio_models(lm, server_url="http://127.0.0.1:1234"),
        cat.parse_openai_models(lm, server_url="http://127.0.0.1:8080"),
        cat.parse_models_payload(lm),
    ):
        _use(result.models)


@FUZZ
@given(data=st.data())
def test_snapshot_facts_fuzz(raw_entries, data):
    models = cat.parse_openrouter_models({"data": raw_entries["openrouter"]}).models
    payload = cat.snapshot_payload(models, "2026-08-14T00:00:00+00:00")
    payload["models"] = data.draw(mutated(payload["models"]))
    try:
        result, _ = cat.parse_snapshot(payload)
    except cat.CatalogueFormatError:
        return
    _use(result.models)
    for facts in payload["models"]:
        with contextlib.suppress(cat.CatalogueFormatError):
            cat.model_from_facts(facts)


@FUZZ
@given(data=st.data())
def test_wire_bodies_fuzz(raw_entries, data):
    """Raw bodies, whole-document decoders: JSON or the typed not-JSON error."""
    doc = json.dumps({"data": data.draw(mutated(raw_entries["openrouter"]))})
    cut = data.draw(st.integers(0, len(doc)))
    body = data.draw(
        st.sampled_from(
            [doc, doc[:cut], doc.replace("0.", "9" * 4500 + ".", 1), '{"n": ' + "7" * 5000 + "}"]
        )
    ).encode()
    for large in (False, True):
        try:
            decoded = decode_json(body, large=large)
        except BadResponse:
            continue
        if isinstance(decoded, dict) and isinstance(decoded.get("data"), list):
            _use(cat.parse_openrouter_models(decoded).models)


def test_absurd_numbers_are_skipped_entries_with_reasons(raw_entries):
    base = raw_entries["openrouter"][5]
    cases = {
        "1e400": ("pricing", "prompt", "1e400"),
        "1e-999999": ("pricing", "completion", "1e-999999"),
        "90 digits": ("pricing", "prompt", "9" * 90),
        "huge context": ("context_length", None, HUGE_INT),
        "huge discount": ("pricing", "discount", HUGE_INT),
    }
    entries = []
    for n, (field, sub, value) in enumerate(cases.values()):
        entry = copy.deepcopy(base)
        entry["id"] = f"fuzz/case-{n}"
        if sub is None:
            entry[field] = value
        else:
            entry[field][sub] = value
        entries.append(entry)
    result = cat.parse_openrouter_models({"data": entries})
    assert not result.models
    reasons = {s.id: s.reason for s in result.skipped}
    assert len(reasons) == len(cases)
    assert all("out of range" in r or "not a decimal" in r for r in reasons.values()), reasons
    assert "4000 digits" in reasons["fuzz/case-3"]


def test_integer_over_the_interpreter_limit_costs_one_entry(raw_entries):
    entries = copy.deepcopy(raw_entries["openrouter"][5:8])
    body = json.dumps({"data": entries})
    # the first entry's context length becomes a 5,000-digit integer (json.loads raises on it)
    body = re.sub(r'"context_length": \d+', '"context_length": ' + "1" * 5000, body, count=1)
    with pytest.raises(ValueError, match="4300 digits"):
        json.loads(body)
    for large in (False, True):
        decoded = decode_json(body.encode(), large=large)
        result = cat.parse_openrouter_models(decoded)
        assert len(result.models) == 2
        assert result.skipped[0].id == entries[0]["id"]
        assert "5000 digits" in result.skipped[0].reason


def test_exact_cost_of_an_extreme_but_readable_price_is_exact_or_unknown():
    from locallama_gui.core.models import ModelInfo, Pricing, Source, Tier

    price = Decimal("1.234567890123456789012345678901234567890123456789012345678901234567e12")
    model = ModelInfo(
        id="x/extreme",
        name="extreme",
        source=Source.OPENROUTER,
        tier=Tier.PAID,
        pricing=Pricing(prices={"prompt": price, "completion": Decimal("1E-40")}),
    )
    est = estimate_cost(model, Usage(prompt_tokens=10**15, completion_tokens=3, requests=10**12))
    with localcontext(Context(prec=400)):
        assert est.total_usd == price * 10**27 + Decimal("3E-40") * 10**12
    weird = ModelInfo(
        id="x/weird",
        name="weird",
        source=Source.OPENROUTER,
        tier=Tier.PAID,
        pricing=Pricing(prices={"prompt": Decimal("1E+999990"), "completion": Decimal("1E-999")}),
    )
    est = estimate_cost(weird, Usage(prompt_tokens=10**9, completion_tokens=1))
    assert est.total_usd is None and "out of range" in (est.unknown_reason or "")
    assert format_per_million(Decimal("1E+999990")).endswith("/M")
    assert format_usd(Decimal("1E+999990")).startswith("$1.000000E+")


def test_oversized_int_reads_as_a_rejected_value_everywhere():
    decoded = jsonstream.loads(('{"a": [' + "8" * 4500 + "]}").encode())
    value = decoded["a"][0]
    assert isinstance(value, jsonstream.OversizedInt)
    assert repr(value) == "<an integer of 4500 digits>"
    assert cat.parse_parameter_size(value) is None
