"""Catalogue parsing, merging and diffing.

Turns the JSON that model servers answer (OpenRouter ``/models``, Ollama ``/api/tags`` and
``/api/ps``, LM Studio ``/api/v0/models`` and ``/api/v1/models``, OpenAI-compatible
``/v1/models`` from llama.cpp, vLLM and others) into :class:`ModelInfo` values. One bad entry
never spoils a whole payload: it is skipped with a reason. Only a payload of the wrong shape
raises :class:`CatalogueFormatError`.

Also holds the JSON-safe "facts" form of a model (used by the store and the bundled
snapshot) and the diff between two catalogues.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, NamedTuple

from locallama_gui.core.models import (
    Benchmarks,
    LocalDetails,
    ModelInfo,
    ParseResult,
    PriceOverride,
    Pricing,
    Skipped,
    Source,
    Tier,
)
from locallama_gui.core.tokens import tokenizer_for

__all__ = [
    "SNAPSHOT_FORMAT",
    "Catalogue",
    "CatalogueDiff",
    "CatalogueFormatError",
    "Repriced",
    "classify_tier",
    "diff_catalogues",
    "merge_sources",
    "model_from_facts",
    "model_to_facts",
    "parse_lmstudio_models",
    "parse_models_payload",
    "parse_ollama_tags",
    "parse_openai_models",
    "parse_openrouter_models",
    "parse_parameter_size",
    "parse_snapshot",
    "qualified_id",
    "snapshot_payload",
]

#: Version of the bundled snapshot / facts layout understood by :func:`parse_snapshot`.
SNAPSHOT_FORMAT = 1

_TEXT = "text"
_EMBEDDINGS = ("embeddings",)
_OVERRIDE_CONDITIONS = ("min_prompt_tokens", "utc_start", "utc_end")
_DECIMAL_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INT_RE = re.compile(r"[+-]?\d+")
#: Longest decimal string read as a price, and the power-of-ten range of a non-zero price.
MAX_DECIMAL_CHARS = 80
DECIMAL_EXPONENTS = (-40, 12)
#: Integers beyond a signed 64-bit range are malformed (token counts, sizes, timestamps).
MAX_ABS_INT = 2**63 - 1


class CatalogueFormatError(ValueError):
    """The payload as a whole is not a catalogue response this module understands."""


class _BadEntry(Exception):
    """One entry cannot be used; the message is the reason recorded in ``Skipped``."""


# --------------------------------------------------------------------------- helpers


def _parse_decimal(text: str, what: str) -> Decimal:
    """A decimal string within the range a price can have, or :class:`_BadEntry`.

    Prices are bounded (at most ``MAX_DECIMAL_CHARS`` characters, exponents within
    ``DECIMAL_EXPONENTS``): "1e400" or "1e-999999" is a malformed price, and turning it into
    digits would take unbounded memory.
    """
    stripped = text.strip()
    if len(stripped) > MAX_DECIMAL_CHARS or not _DECIMAL_RE.fullmatch(stripped):
        raise _BadEntry(f"{what} is not a decimal: {text[:40]!r}")
    try:
        value = Decimal(stripped)
    except InvalidOperation as exc:  # pragma: no cover - the regex already filters
        raise _BadEntry(f"{what} is not a decimal: {text[:40]!r}") from exc
    low, high = DECIMAL_EXPONENTS
    if value.is_zero():
        return value if low <= value.as_tuple().exponent <= high else Decimal(0)  # type: ignore[operator]
    if not low <= value.adjusted() <= high:
        raise _BadEntry(f"{what} is out of range: {text[:40]!r}")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _opt_int(value: object, what: str) -> int | None:
    if value is None:
        return None
    if _is_int(value) or (isinstance(value, float) and value.is_integer()):
        number = int(value)  # type: ignore[call-overload]
        if abs(number) > MAX_ABS_INT:
            raise _BadEntry(f"{what} is out of range: {_short(value)}")
        return number
    raise _BadEntry(f"{what} is not an integer: {_short(value)}")


def _short(value: object) -> str:
    """``repr(value)`` cut to 60 characters (a huge number says how many digits it has)."""
    if _is_int(value) and abs(value) > MAX_ABS_INT:  # type: ignore[arg-type]
        return f"an integer of {len(str(value).lstrip('-'))} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _lenient_int(value: object) -> int | None:
    """An integer, an integral float or a numeric string; anything else is None."""
    number: int | None = None
    if _is_int(value):
        number = value  # type: ignore[assignment]
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and len(value) <= 40 and _INT_RE.fullmatch(value.strip()):
        number = int(value.strip())
    if number is None or abs(number) > MAX_ABS_INT:
        return None
    return number


def _opt_str(value: object, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    raise _BadEntry(f"{what} is not a string: {value!r}"[:120])


def _lenient_str(value: object) -> str | None:
    """A non-empty string, else None (for optional descriptive fields)."""
    if isinstance(value, str) and value.strip():
        return value
    return None


def _opt_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _str_tuple(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _BadEntry(f"{what} is not a list of strings")
    return tuple(value)


def _number(value: object) -> float | None:
    if _is_int(value) or isinstance(value, float):
        try:
            f = float(value)  # type: ignore[arg-type]
        except OverflowError:  # an integer beyond a float's range
            return None
        return f if math.isfinite(f) else None
    return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _freeze(prices: dict[str, Decimal]) -> Mapping[str, Decimal]:
    return MappingProxyType(dict(prices))


# --------------------------------------------------------------------------- tiers


def classify_tier(
    pricing: Pricing | None,
    output_modalities: Iterable[str],
    model_id: str,
    source: Source,
) -> Tier:
    """How a model is billed.

    Local sources are LOCAL. For OpenRouter: a negative price (routers, ``"-1"``) is
    VARIABLE; a ``:free`` id is FREE; every listed price zero (overrides ignored) with
    text-only output is FREE (``openrouter/free``); every price zero but some non-text
    output (image, audio, ...) is UNKNOWN, since such models bill through other keys; an
    unknown or empty pricing is UNKNOWN; anything else is PAID.
    """
    if source.is_local:
        return Tier.LOCAL
    if pricing is None or not pricing.prices:
        return Tier.UNKNOWN
    if pricing.is_variable:
        return Tier.VARIABLE
    if model_id.endswith(":free"):
        return Tier.FREE
    if pricing.all_zero:
        outputs = set(output_modalities)
        if outputs == {_TEXT}:
            return Tier.FREE
        return Tier.UNKNOWN
    return Tier.PAID


# --------------------------------------------------------------------------- OpenRouter


def _parse_price_keys(raw: Mapping[str, Any], what: str) -> dict[str, Decimal]:
    prices: dict[str, Decimal] = {}
    for key, value in raw.items():
        if key == "discount" or key in _OVERRIDE_CONDITIONS or not isinstance(value, str):
            continue
        prices[key] = _parse_decimal(value, f"{what}.{key}")
    return prices


def _parse_hhmm(value: object, what: str) -> int | None:
    if value is None:
        return None
    hhmm = _lenient_int(value)
    if hhmm is None or not (0 <= hhmm <= 2400) or hhmm % 100 >= 60:
        raise _BadEntry(f"{what} is not an HHMM time: {value!r}"[:120])
    return hhmm


def _parse_override(raw: object, n: int) -> PriceOverride:
    what = f"pricing.overrides[{n}]"
    if not isinstance(raw, dict):
        raise _BadEntry(f"{what} is not an object")
    min_prompt: int | None = None
    if raw.get("min_prompt_tokens") is not None:
        min_prompt = _lenient_int(raw["min_prompt_tokens"])
        if min_prompt is None or min_prompt < 0:
            raise _BadEntry(f"{what}.min_prompt_tokens is not a token count")
    start = _parse_hhmm(raw.get("utc_start"), f"{what}.utc_start")
    end = _parse_hhmm(raw.get("utc_end"), f"{what}.utc_end")
    if (start is None) != (end is None):
        raise _BadEntry(f"{what} has only one of utc_start/utc_end")
    return PriceOverride(
        prices=_freeze(_parse_price_keys(raw, what)),
        min_prompt_tokens=min_prompt,
        utc_start=start,
        utc_end=end,
    )


def _parse_discount(value: object) -> Decimal | None:
    if value is None:
        return None
    if _is_int(value):
        return _parse_decimal(str(_opt_int(value, "pricing.discount")), "pricing.discount")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _BadEntry("pricing.discount is not finite")
        return _parse_decimal(repr(value), "pricing.discount")
    if isinstance(value, str):
        return _parse_decimal(value, "pricing.discount")
    raise _BadEntry(f"pricing.discount is not a number: {value!r}"[:120])


def _parse_pricing(raw: object) -> Pricing:
    if raw is None:
        raise _BadEntry("no pricing")
    if not isinstance(raw, dict):
        raise _BadEntry("pricing is not an object")
    for required in ("prompt", "completion"):
        if not isinstance(raw.get(required), str):
            raise _BadEntry(f"pricing.{required} is missing or not a string")
    prices = _parse_price_keys(raw, "pricing")
    overrides_raw = raw.get("overrides")
    overrides: tuple[PriceOverride, ...] = ()
    if overrides_raw is not None:
        if not isinstance(overrides_raw, list):
            raise _BadEntry("pricing.overrides is not a list")
        overrides = tuple(_parse_override(o, n) for n, o in enumerate(overrides_raw))
    return Pricing(
        prices=_freeze(prices),
        overrides=overrides,
        discount=_parse_discount(raw.get("discount")),
    )


def _modalities_from_arrow(modality: object) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    if not isinstance(modality, str) or "->" not in modality:
        return None
    left, _, right = modality.partition("->")
    ins = tuple(p for p in left.split("+") if p)
    outs = tuple(p for p in right.split("+") if p)
    return (ins or (_TEXT,), outs or (_TEXT,))


def _parse_benchmarks(raw: object) -> Benchmarks | None:
    if not isinstance(raw, dict):
        return None
    aa = _dict(raw.get("artificial_analysis"))
    best: int | None = None
    arena = raw.get("design_arena")
    if isinstance(arena, list):
        for row in arena:
            elo = _number(_dict(row).get("elo"))
            if elo is not None:
                rounded = round(elo)
                best = rounded if best is None else max(best, rounded)
    bench = Benchmarks(
        intelligence_index=_number(aa.get("intelligence_index")),
        coding_index=_number(aa.get("coding_index")),
        agentic_index=_number(aa.get("agentic_index")),
        design_arena_best_elo=best,
    )
    return None if bench == Benchmarks() else bench


def _openrouter_entry(raw: dict[str, Any]) -> ModelInfo:
    model_id = raw["id"]
    name = _opt_str(raw.get("name"), "name")
    pricing = _parse_pricing(raw.get("pricing"))

    arch = raw.get("architecture")
    if arch is not None and not isinstance(arch, dict):
        raise _BadEntry("architecture is not an object")
    arch = arch or {}
    arrow = _modalities_from_arrow(arch.get("modality"))
    if arch.get("input_modalities") is not None:
        inputs = _str_tuple(arch["input_modalities"], "architecture.input_modalities")
    else:
        inputs = arrow[0] if arrow else (_TEXT,)
    if arch.get("output_modalities") is not None:
        outputs = _str_tuple(arch["output_modalities"], "architecture.output_modalities")
    else:
        outputs = arrow[1] if arrow else (_TEXT,)

    params_raw = raw.get("supported_parameters")
    params = () if params_raw is None else _str_tuple(params_raw, "supported_parameters")

    top = raw.get("top_provider")
    if top is not None and not isinstance(top, dict):
        raise _BadEntry("top_provider is not an object")
    top = top or {}
    context = _opt_int(raw.get("context_length"), "context_length")
    if context is None:
        context = _opt_int(top.get("context_length"), "top_provider.context_length")
    max_out = _opt_int(top.get("max_completion_tokens"), "top_provider.max_completion_tokens")

    reasoning_obj = raw.get("reasoning")
    supports_reasoning = (
        "reasoning" in params or "include_reasoning" in params or isinstance(reasoning_obj, dict)
    )
    return ModelInfo(
        id=model_id,
        name=name if name else model_id,
        source=Source.OPENROUTER,
        tier=classify_tier(pricing, outputs, model_id, Source.OPENROUTER),
        pricing=pricing,
        context_length=context,
        max_output_tokens=max_out,
        input_modalities=inputs,
        output_modalities=outputs,
        supported_parameters=params,
        created=_opt_int(raw.get("created"), "created"),
        canonical_slug=_lenient_str(raw.get("canonical_slug")),
        hugging_face_id=_lenient_str(raw.get("hugging_face_id")),
        tokenizer=tokenizer_for(model_id, _lenient_str(arch.get("tokenizer"))),
        benchmarks=_parse_benchmarks(raw.get("benchmarks")),
        knowledge_cutoff=_lenient_str(raw.get("knowledge_cutoff")),
        expiration_date=_lenient_str(raw.get("expiration_date")),
        is_moderated=_opt_bool(top.get("is_moderated")),
        supports_reasoning=supports_reasoning,
    )


def _entry_list(payload: object, key: str, what: str) -> list[Any]:
    """The list of entries of a payload: ``{key: [...]}`` or a bare list."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        entries = payload.get(key)
        if isinstance(entries, list):
            return entries
        raise CatalogueFormatError(f"{what}: expected an object with a {key!r} list")
    raise CatalogueFormatError(
        f"{what}: expected a JSON object or array, got {type(payload).__name__}"
    )


def _parse_entries(
    entries: list[Any],
    build: Callable[[dict[str, Any]], ModelInfo],
    id_key: str | Callable[[dict[str, Any]], object] = "id",
) -> ParseResult:
    models: list[ModelInfo] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for index, raw in enumerate(entries):
        if not isinstance(raw, dict):
            skipped.append(Skipped(f"entry is not an object ({type(raw).__name__})", index=index))
            continue
        model_id = id_key(raw) if callable(id_key) else raw.get(id_key)
        if not isinstance(model_id, str) or not model_id.strip():
            skipped.append(Skipped("missing id", index=index))
            continue
        if model_id in seen:
            skipped.append(Skipped("duplicate id", id=model_id, index=index))
            continue
        try:
            model = build(raw)
        except _BadEntry as exc:
            skipped.append(Skipped(str(exc), id=model_id, index=index))
            continue
        seen.add(model_id)
        models.append(model)
    return ParseResult(models=tuple(models), skipped=tuple(skipped))


def parse_openrouter_models(payload: object) -> ParseResult:
    """Parse OpenRouter ``GET /models`` (``{"data": [...]}``, any schema year, or a bare list)."""
    entries = _entry_list(payload, "data", "OpenRouter models")
    return _parse_entries(entries, _openrouter_entry)


# --------------------------------------------------------------------------- local servers

_PARAM_RE = re.compile(
    r"(?:(?P<experts>\d+)\s*[x×]\s*)?(?P<num>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>[KMBT])?(?![A-Z0-9.])",
    re.IGNORECASE,
)
_UNIT_SCALE = {
    "K": Decimal("0.000001"),
    "M": Decimal("0.001"),
    "B": Decimal(1),
    "T": Decimal(1000),
}


def parse_parameter_size(text: object) -> float | None:
    """Billions of parameters from ``"8.2B"``, ``"475.29M"``, ``"8x7B"``, ``"30B-A3B"``.

    A bare integer of at least a million is taken as a raw parameter count. Anything
    unparseable (``""``, ``"unknown"``) is None.
    """
    if _is_int(text):
        if not 0 < text <= MAX_ABS_INT:  # type: ignore[operator]
            return None
        return float(Decimal(text) / Decimal(10**9))  # type: ignore[arg-type]
    if not isinstance(text, str) or len(text) > 40:
        return None
    match = _PARAM_RE.match(text.strip())
    if match is None:
        return None
    num = Decimal(match["num"])
    if match["experts"]:
        num *= int(match["experts"])
    unit = match["unit"]
    if unit is None:
        if num < 1_000_000 or match.end() != len(text.strip()):
            return None
        billions = num / Decimal(10**9)
    else:
        billions = num * _UNIT_SCALE[unit.upper()]
    return float(billions) if billions > 0 else None


def _is_embedding_name(*names: object) -> bool:
    return any(isinstance(n, str) and ("bert" in n.lower() or "embed" in n.lower()) for n in names)


def _ps_entries(ps_payload: object) -> list[dict[str, Any]] | None:
    """The rows of an ``/api/ps`` answer, or None when there is none or it is malformed."""
    if isinstance(ps_payload, dict):
        ps_payload = ps_payload.get("models")
    if not isinstance(ps_payload, list):
        return None
    return [row for row in ps_payload if isinstance(row, dict)]


def _ps_index(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for raw in rows:
        for key in ("name", "model"):
            name = raw.get(key)
            if isinstance(name, str) and name:
                index.setdefault(name, raw)
    return index


def _ollama_entry(
    raw: dict[str, Any],
    server_url: str | None,
    ps: Mapping[str, dict[str, Any]],
    ps_rows: list[dict[str, Any]] | None,
) -> ModelInfo:
    name = _ollama_name(raw)
    assert isinstance(name, str)
    details = raw.get("details")
    if details is not None and not isinstance(details, dict):
        raise _BadEntry("details is not an object")
    details = details or {}
    size = _opt_int(raw.get("size"), "size")
    family = _lenient_str(details.get("family"))
    families = details.get("families")
    families_t = (
        tuple(f for f in families if isinstance(f, str)) if isinstance(families, list) else ()
    )
    caps_raw = raw.get("capabilities")
    caps = _str_tuple(caps_raw, "capabilities") if caps_raw is not None else None

    if caps is not None and "embedding" in caps and "completion" not in caps:
        embedding = True
    else:
        embedding = _is_embedding_name(name, family, *families_t)
    if embedding:
        outputs: tuple[str, ...] = _EMBEDDINGS
    elif caps is not None and "image" in caps and "completion" not in caps:
        outputs = ("image",)
    else:
        outputs = (_TEXT,)
    vision = caps is not None and "vision" in caps
    inputs = (_TEXT, "image") if vision else (_TEXT,)
    params = ("tools",) if caps is not None and "tools" in caps else ()

    quant = _lenient_str(details.get("quantization_level"))
    if quant is not None and quant.lower() == "unknown":
        quant = None
    parameter_size = _lenient_str(details.get("parameter_size"))

    loaded_row = ps.get(name)
    if loaded_row is None and isinstance(raw.get("model"), str):
        loaded_row = ps.get(raw["model"])
    loaded_ctx = _lenient_int(loaded_row.get("context_length")) if loaded_row else None
    loaded = None if ps_rows is None else loaded_row is not None

    if embedding:
        model_type = "embeddings"
    elif vision:
        model_type = "vlm"
    else:
        model_type = "llm"
    return ModelInfo(
        id=name,
        name=name,
        source=Source.OLLAMA,
        tier=Tier.LOCAL,
        context_length=loaded_ctx,
        input_modalities=inputs,
        output_modalities=outputs,
        supported_parameters=params,
        local=LocalDetails(
            server_url=server_url,
            size_bytes=size,
            parameter_size=parameter_size,
            parameter_count_b=parse_parameter_size(parameter_size),
            quantization=quant,
            family=family,
            format=_lenient_str(details.get("format")),
            loaded=loaded,
            loaded_context_length=loaded_ctx,
            model_type=model_type,
        ),
        supports_reasoning=caps is not None and "thinking" in caps,
    )


def _ollama_name(raw: dict[str, Any]) -> object:
    name = raw.get("name")
    return name if isinstance(name, str) and name else raw.get("model")


def parse_ollama_tags(
    payload: object, server_url: str | None = None, ps_payload: object | None = None
) -> ParseResult:
    """Parse Ollama ``GET /api/tags``, marking what ``GET /api/ps`` says is loaded.

    Models that ``/api/ps`` lists but ``/api/tags`` does not (the two answers raced) are
    added too: a loaded model is installed. A missing or malformed ``ps_payload`` leaves
    ``loaded`` unknown (None). The context window is only known for loaded models (from
    ``/api/ps``); ``/api/show`` is needed for the rest.
    """
    entries = _entry_list(payload, "models", "Ollama tags")
    ps_rows = _ps_entries(ps_payload)
    ps = _ps_index(ps_rows or [])
    tag_names = {_ollama_name(e) for e in entries if isinstance(e, dict)}
    extra: list[dict[str, Any]] = []
    for raw in ps_rows or []:
        if _ollama_name(raw) not in tag_names:
            tag_names.add(_ollama_name(raw))
            extra.append(raw)
    return _parse_entries(
        [*entries, *extra], lambda raw: _ollama_entry(raw, server_url, ps, ps_rows), _ollama_name
    )


def _lmstudio_v0_entry(raw: dict[str, Any], server_url: str | None) -> ModelInfo:
    model_type = _opt_str(raw.get("type"), "type")
    caps_raw = raw.get("capabilities")
    caps = _str_tuple(caps_raw, "capabilities") if caps_raw is not None else ()
    embedding = model_type in ("embeddings", "embedding")
    state = _opt_str(raw.get("state"), "state")
    loaded_ctx = _opt_int(raw.get("loaded_context_length"), "loaded_context_length")
    return ModelInfo(
        id=raw["id"],
        name=raw["id"],
        source=Source.LMSTUDIO,
        tier=Tier.LOCAL,
        context_length=_opt_int(raw.get("max_context_length"), "max_context_length"),
        input_modalities=(_TEXT, "image") if model_type == "vlm" else (_TEXT,),
        output_modalities=_EMBEDDINGS if embedding else (_TEXT,),
        supported_parameters=("tools",) if "tool_use" in caps else (),
        local=LocalDetails(
            server_url=server_url,
            quantization=_lenient_str(raw.get("quantization")),
            family=_lenient_str(raw.get("arch")),
            format=_lenient_str(raw.get("compatibility_type")),
            loaded=None if state is None else state == "loaded",
            loaded_context_length=loaded_ctx,
            model_type=model_type,
        ),
    )


def _lmstudio_v1_entry(raw: dict[str, Any], server_url: str | None) -> ModelInfo:
    key = raw["key"]
    model_type = _opt_str(raw.get("type"), "type")
    display = _lenient_str(raw.get("display_name"))
    caps = _dict(raw.get("capabilities"))
    quant = raw.get("quantization")
    quant_name = _lenient_str(quant.get("name")) if isinstance(quant, dict) else _lenient_str(quant)
    instances = raw.get("loaded_instances")
    if instances is not None and not isinstance(instances, list):
        raise _BadEntry("loaded_instances is not a list")
    instances = instances or []
    loaded_ctx = None
    for inst in instances:
        loaded_ctx = _lenient_int(_dict(_dict(inst).get("config")).get("context_length"))
        if loaded_ctx is not None:
            break
    vision = caps.get("vision") is True
    params_string = _lenient_str(raw.get("params_string"))
    embedding = model_type in ("embedding", "embeddings")
    return ModelInfo(
        id=key,
        name=display or key,
        source=Source.LMSTUDIO,
        tier=Tier.LOCAL,
        context_length=_opt_int(raw.get("max_context_length"), "max_context_length"),
        input_modalities=(_TEXT, "image") if vision else (_TEXT,),
        output_modalities=_EMBEDDINGS if embedding else (_TEXT,),
        supported_parameters=("tools",) if caps.get("trained_for_tool_use") is True else (),
        local=LocalDetails(
            server_url=server_url,
            size_bytes=_opt_int(raw.get("size_bytes"), "size_bytes"),
            parameter_size=params_string,
            parameter_count_b=parse_parameter_size(params_string),
            quantization=quant_name,
            family=_lenient_str(raw.get("architecture")),
            format=_lenient_str(raw.get("format")),
            loaded=bool(instances),
            loaded_context_length=loaded_ctx,
            model_type=model_type,
        ),
        supports_reasoning=isinstance(caps.get("reasoning"), dict),
    )


def parse_lmstudio_models(payload: object, server_url: str | None = None) -> ParseResult:
    """Parse LM Studio ``/api/v1/models``, ``/api/v0/models`` or its OpenAI ``/v1/models``."""
    if isinstance(payload, dict) and isinstance(payload.get("models"), list):
        return _parse_entries(
            payload["models"], lambda raw: _lmstudio_v1_entry(raw, server_url), "key"
        )
    entries = _entry_list(payload, "data", "LM Studio models")
    if any(isinstance(e, dict) and _looks_lmstudio_v0(e) for e in entries):
        return _parse_entries(entries, lambda raw: _lmstudio_v0_entry(raw, server_url))
    return parse_openai_models(entries, server_url, Source.LMSTUDIO)


def _looks_lmstudio_v0(entry: dict[str, Any]) -> bool:
    return "state" in entry or "compatibility_type" in entry


_OWNED_BY_SOURCE = {
    "llamacpp": Source.LLAMACPP,
    "vllm": Source.VLLM,
    "library": Source.OLLAMA,
    "organization_owner": Source.LMSTUDIO,
}


def _detect_openai_source(entries: list[Any]) -> Source:
    for entry in entries:
        owner = _dict(entry).get("owned_by")
        if isinstance(owner, str) and owner.lower() in _OWNED_BY_SOURCE:
            return _OWNED_BY_SOURCE[owner.lower()]
    return Source.OPENAI_COMPAT


def _openai_entry(raw: dict[str, Any], server_url: str | None, source: Source) -> ModelInfo:
    meta = raw.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise _BadEntry("meta is not an object")
    meta = meta or {}
    context = None
    for value, what in (
        (meta.get("n_ctx_train"), "meta.n_ctx_train"),
        (raw.get("max_model_len"), "max_model_len"),
        (raw.get("context_length"), "context_length"),
        (raw.get("max_context_length"), "max_context_length"),
    ):
        context = _opt_int(value, what)
        if context is not None:
            break
    n_params = meta.get("n_params")
    status = raw.get("status")
    loaded: bool | None = None
    if isinstance(status, dict) and isinstance(status.get("value"), str):
        loaded = status["value"] == "loaded"
    elif source is Source.LLAMACPP and meta:
        loaded = True
    loaded_ctx = _opt_int(meta.get("n_ctx"), "meta.n_ctx")
    details = LocalDetails(
        server_url=server_url,
        size_bytes=_opt_int(meta.get("size"), "meta.size"),
        parameter_count_b=parse_parameter_size(n_params) if _is_int(n_params) else None,
        loaded=loaded,
        loaded_context_length=loaded_ctx,
    )
    model_id = raw["id"]
    return ModelInfo(
        id=model_id,
        name=model_id,
        source=source,
        tier=classify_tier(None, (_TEXT,), model_id, source),
        context_length=context,
        output_modalities=_EMBEDDINGS if _is_embedding_name(model_id) else (_TEXT,),
        local=details,
    )


def parse_openai_models(
    payload: object, server_url: str | None = None, source: Source = Source.OPENAI_COMPAT
) -> ParseResult:
    """Parse an OpenAI-compatible ``GET /v1/models`` (llama.cpp, vLLM, Ollama, LM Studio, ...).

    With ``source=OPENAI_COMPAT`` the server is recognised from ``owned_by``
    (``llamacpp``, ``vllm``, ``library`` for Ollama, ``organization_owner`` for LM Studio).
    """
    entries = _entry_list(payload, "data", "OpenAI models")
    if source is Source.OPENAI_COMPAT:
        source = _detect_openai_source(entries)
    if source is Source.OPENROUTER:
        raise CatalogueFormatError("OpenRouter payloads are parsed by parse_openrouter_models")
    return _parse_entries(entries, lambda raw: _openai_entry(raw, server_url, source))


def parse_models_payload(payload: object) -> ParseResult:
    """Parse a saved models response of any supported server, detecting which it is."""
    if isinstance(payload, dict) and "format" in payload and "fetched_at" in payload:
        return parse_snapshot(payload)[0]
    if isinstance(payload, dict) and isinstance(payload.get("models"), list):
        entries = [e for e in payload["models"] if isinstance(e, dict)]
        if not isinstance(payload.get("data"), list):
            if any("key" in e for e in entries) and not any("digest" in e for e in entries):
                return parse_lmstudio_models(payload)
            if any("expires_at" in e for e in entries) and not any(
                "modified_at" in e for e in entries
            ):
                return parse_ollama_tags(payload, ps_payload=payload)
            return parse_ollama_tags(payload)
    if isinstance(payload, dict | list):
        entries = _entry_list(payload, "data", "models payload")
        dicts = [e for e in entries if isinstance(e, dict)]
        if any("pricing" in e for e in dicts):
            return parse_openrouter_models(payload)
        if any(_looks_lmstudio_v0(e) for e in dicts):
            return parse_lmstudio_models(payload)
        return parse_openai_models(payload)
    raise CatalogueFormatError(
        f"models payload: expected a JSON object or array, got {type(payload).__name__}"
    )


# --------------------------------------------------------------------------- catalogue


def _words(text: str) -> list[str]:
    return text.casefold().split()


class Catalogue:
    """An ordered, read-only collection of models keyed by id.

    Built from one or more iterables of models in priority order: a model whose id is
    already present from another source is ignored; one from the same source replaces
    the earlier record (keeping its position).
    """

    __slots__ = ("_by_id",)

    def __init__(self, *groups: Iterable[ModelInfo]) -> None:
        by_id: dict[str, ModelInfo] = {}
        for group in groups:
            for model in group:
                current = by_id.get(model.id)
                if current is None or current.source is model.source:
                    by_id[model.id] = model
        self._by_id: Mapping[str, ModelInfo] = MappingProxyType(by_id)

    @classmethod
    def from_results(cls, *results: ParseResult) -> Catalogue:
        return cls(*(r.models for r in results))

    def get(self, model_id: str) -> ModelInfo | None:
        return self._by_id.get(model_id)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._by_id

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __repr__(self) -> str:
        return f"Catalogue({len(self)} models)"

    @property
    def models(self) -> tuple[ModelInfo, ...]:
        return tuple(self._by_id.values())

    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def by_source(self, source: Source) -> tuple[ModelInfo, ...]:
        return tuple(m for m in self if m.source is source)

    def search(self, text: str) -> tuple[ModelInfo, ...]:
        """Models whose id or name contains every word of ``text`` (any order, any case)."""
        words = _words(text)
        return tuple(m for m in self if _matches(m, words))

    def filter(
        self,
        tier: Tier | Iterable[Tier] | None = None,
        source: Source | Iterable[Source] | None = None,
        text: str | None = None,
        min_context: int | None = None,
    ) -> tuple[ModelInfo, ...]:
        """Models matching every given criterion.

        A model whose context length is unknown fails ``min_context``.
        """
        tiers = _as_set(tier, Tier)
        sources = _as_set(source, Source)
        words = _words(text) if text else []
        out = []
        for m in self:
            if tiers is not None and m.tier not in tiers:
                continue
            if sources is not None and m.source not in sources:
                continue
            if min_context is not None and (
                m.context_length is None or m.context_length < min_context
            ):
                continue
            if words and not _matches(m, words):
                continue
            out.append(m)
        return tuple(out)


def _matches(model: ModelInfo, words: list[str]) -> bool:
    haystack = f"{model.id}\n{model.name}".casefold()
    return all(w in haystack for w in words)


def _as_set(value: object, kind: type) -> frozenset[Any] | None:
    if value is None:
        return None
    if isinstance(value, kind):
        return frozenset((value,))
    return frozenset(value)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- diff


class Repriced(NamedTuple):
    """A model whose prompt or completion price changed between two catalogues."""

    id: str
    old_prompt: Decimal | None
    old_completion: Decimal | None
    new_prompt: Decimal | None
    new_completion: Decimal | None


@dataclass(frozen=True, slots=True)
class CatalogueDiff:
    """What changed from one catalogue to the next (ids sorted)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    repriced: tuple[Repriced, ...] = ()
    free_ended: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.repriced or self.free_ended)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form (prices as decimal strings, unknown prices as None)."""

        def dec(value: Decimal | None) -> str | None:
            return None if value is None else _dec_str(value)

        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "repriced": [
                {
                    "id": r.id,
                    "old_prompt": dec(r.old_prompt),
                    "old_completion": dec(r.old_completion),
                    "new_prompt": dec(r.new_prompt),
                    "new_completion": dec(r.new_completion),
                }
                for r in self.repriced
            ],
            "free_ended": list(self.free_ended),
        }


def qualified_id(source: Source, model_id: str) -> str:
    """A local model's id kept apart from another source's same id: ``vllm:org/model``."""
    return f"{source.value}:{model_id}"


def merge_sources(models: Iterable[ModelInfo]) -> list[ModelInfo]:
    """One catalogue from the models of several sources, each model once, ids unique.

    The first model of a source with a given id is kept. When another source lists the same
    id (a vLLM or LM Studio server names its model as OpenRouter does, two local servers
    serve one model), OpenRouter's keeps the bare id and each local one is qualified by its
    source (:func:`qualified_id`), its server's name kept in ``upstream_id``: neither shadows
    the other in routing, running or the samples stored by id.
    """
    firsts: dict[tuple[Source, str], ModelInfo] = {}
    for m in models:
        firsts.setdefault((m.source, m.id), m)
    sources_of: dict[str, set[Source]] = {}
    for source, model_id in firsts:
        sources_of.setdefault(model_id, set()).add(source)
    out: list[ModelInfo] = []
    taken = {model_id for model_id, srcs in sources_of.items() if len(srcs) == 1}
    for (source, model_id), m in firsts.items():
        if len(sources_of[model_id]) > 1 and source is not Source.OPENROUTER:
            qualified = qualified_id(source, model_id)
            if qualified in taken:  # that name is some model's own id already: keep this out
                continue
            taken.add(qualified)
            m = replace(m, id=qualified, upstream_id=m.upstream_id or model_id)
        out.append(m)
    return out


def _index(models: Iterable[ModelInfo]) -> dict[str, ModelInfo]:
    out: dict[str, ModelInfo] = {}
    for m in models:
        out.setdefault(m.id, m)
    return out


def _was_free(model: ModelInfo) -> bool:
    return model.tier is Tier.FREE or model.id.endswith(":free")


def diff_catalogues(old: Iterable[ModelInfo], new: Iterable[ModelInfo]) -> CatalogueDiff:
    """Added and removed ids, prompt/completion repricings, and free offers that ended.

    ``free_ended`` lists models that were free (a ``:free`` id or the FREE tier) and are
    now gone or no longer FREE.
    """
    before = _index(old)
    after = _index(new)
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    repriced: list[Repriced] = []
    free_ended: list[str] = []
    for model_id in sorted(before):
        was = before[model_id]
        now = after.get(model_id)
        if _was_free(was) and (now is None or now.tier is not Tier.FREE):
            free_ended.append(model_id)
        if now is None or was.pricing is None or now.pricing is None:
            continue
        old_p, old_c = was.pricing.get("prompt"), was.pricing.get("completion")
        new_p, new_c = now.pricing.get("prompt"), now.pricing.get("completion")
        if old_p != new_p or old_c != new_c:
            repriced.append(Repriced(model_id, old_p, old_c, new_p, new_c))
    return CatalogueDiff(
        added=tuple(added),
        removed=tuple(removed),
        repriced=tuple(repriced),
        free_ended=tuple(free_ended),
    )


# --------------------------------------------------------------------------- facts

_MODEL_SCALARS = (
    "context_length",
    "max_output_tokens",
    "created",
    "canonical_slug",
    "hugging_face_id",
    "tokenizer",
    "knowledge_cutoff",
    "expiration_date",
    "is_moderated",
    "upstream_id",
)
_MODEL_TUPLES = ("input_modalities", "output_modalities", "supported_parameters")
_LOCAL_FIELDS = (
    "server_url",
    "size_bytes",
    "parameter_size",
    "parameter_count_b",
    "quantization",
    "family",
    "format",
    "loaded",
    "loaded_context_length",
    "model_type",
)
_BENCH_FIELDS = ("intelligence_index", "coding_index", "agentic_index", "design_arena_best_elo")


def _dec_str(value: Decimal) -> str:
    """Plain digits; a value outside the price range (never parsed, only computed) keeps its
    exponent, so a huge exponent cannot expand into millions of digits."""
    if value.is_finite() and -200 <= value.as_tuple().exponent <= 200:  # type: ignore[operator]
        return format(value, "f")
    return str(value)


def _prices_to_facts(prices: Mapping[str, Decimal]) -> dict[str, str]:
    return {k: _dec_str(v) for k, v in sorted(prices.items())}


def model_to_facts(m: ModelInfo) -> dict[str, Any]:
    """A JSON-safe dict of a model's facts; ``model_from_facts`` rebuilds it exactly.

    Prices are decimal strings; fields that are None are left out.
    """
    facts: dict[str, Any] = {
        "id": m.id,
        "name": m.name,
        "source": m.source.value,
        "tier": m.tier.value,
    }
    if m.pricing is not None:
        pricing: dict[str, Any] = {"prices": _prices_to_facts(m.pricing.prices)}
        if m.pricing.overrides:
            overrides = []
            for o in m.pricing.overrides:
                row: dict[str, Any] = {"prices": _prices_to_facts(o.prices)}
                for cond in _OVERRIDE_CONDITIONS:
                    if getattr(o, cond) is not None:
                        row[cond] = getattr(o, cond)
                overrides.append(row)
            pricing["overrides"] = overrides
        if m.pricing.discount is not None:
            pricing["discount"] = _dec_str(m.pricing.discount)
        facts["pricing"] = pricing
    for name in _MODEL_SCALARS:
        value = getattr(m, name)
        if value is not None:
            facts[name] = value
    for name in _MODEL_TUPLES:
        facts[name] = list(getattr(m, name))
    if m.benchmarks is not None:
        facts["benchmarks"] = {
            f: getattr(m.benchmarks, f)
            for f in _BENCH_FIELDS
            if getattr(m.benchmarks, f) is not None
        }
    if m.local is not None:
        facts["local"] = {
            f: getattr(m.local, f) for f in _LOCAL_FIELDS if getattr(m.local, f) is not None
        }
    if m.supports_reasoning:
        facts["supports_reasoning"] = True
    return facts


def _facts_prices(raw: object, what: str) -> Mapping[str, Decimal]:
    if not isinstance(raw, dict):
        raise _BadEntry(f"{what} is not an object")
    out: dict[str, Decimal] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise _BadEntry(f"{what}.{key} is not a decimal string")
        out[key] = _parse_decimal(value, f"{what}.{key}")
    return _freeze(out)


def _facts_pricing(raw: object) -> Pricing:
    if not isinstance(raw, dict):
        raise _BadEntry("pricing is not an object")
    overrides = []
    overrides_raw = raw.get("overrides", [])
    if not isinstance(overrides_raw, list):
        raise _BadEntry("pricing.overrides is not a list")
    for n, row in enumerate(overrides_raw):
        what = f"pricing.overrides[{n}]"
        if not isinstance(row, dict):
            raise _BadEntry(f"{what} is not an object")
        overrides.append(
            PriceOverride(
                prices=_facts_prices(row.get("prices", {}), f"{what}.prices"),
                min_prompt_tokens=_opt_int(row.get("min_prompt_tokens"), f"{what}.min_prompt"),
                utc_start=_opt_int(row.get("utc_start"), f"{what}.utc_start"),
                utc_end=_opt_int(row.get("utc_end"), f"{what}.utc_end"),
            )
        )
    discount = raw.get("discount")
    return Pricing(
        prices=_facts_prices(raw.get("prices", {}), "pricing.prices"),
        overrides=tuple(overrides),
        discount=None if discount is None else _parse_decimal(str(discount), "pricing.discount"),
    )


def _facts_typed(raw: dict[str, Any], name: str, kinds: tuple[type, ...]) -> Any:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) and bool not in kinds:
        raise _BadEntry(f"{name} has the wrong type")
    if float in kinds and _is_int(value):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float: out of range, one entry lost
            raise _BadEntry(f"{name} is out of range") from None
    if not isinstance(value, kinds):
        raise _BadEntry(f"{name} has the wrong type")
    return value


_SCALAR_KINDS: dict[str, tuple[type, ...]] = {
    "context_length": (int,),
    "max_output_tokens": (int,),
    "created": (int,),
    "canonical_slug": (str,),
    "hugging_face_id": (str,),
    "tokenizer": (str,),
    "knowledge_cutoff": (str,),
    "expiration_date": (str,),
    "is_moderated": (bool,),
    "upstream_id": (str,),
}
_LOCAL_KINDS: dict[str, tuple[type, ...]] = {
    "server_url": (str,),
    "size_bytes": (int,),
    "parameter_size": (str,),
    "parameter_count_b": (float,),
    "quantization": (str,),
    "family": (str,),
    "format": (str,),
    "loaded": (bool,),
    "loaded_context_length": (int,),
    "model_type": (str,),
}
_BENCH_KINDS: dict[str, tuple[type, ...]] = {
    "intelligence_index": (float,),
    "coding_index": (float,),
    "agentic_index": (float,),
    "design_arena_best_elo": (int,),
}


def _model_from_facts(d: object) -> ModelInfo:
    if not isinstance(d, dict):
        raise _BadEntry("facts are not an object")
    model_id, name = d.get("id"), d.get("name")
    if not isinstance(model_id, str) or not model_id:
        raise _BadEntry("missing id")
    if not isinstance(name, str):
        raise _BadEntry("missing name")
    try:
        source = Source(d.get("source"))
        tier = Tier(d.get("tier"))
    except ValueError as exc:
        raise _BadEntry(f"unknown source or tier: {exc}") from exc
    kwargs: dict[str, Any] = {
        k: _facts_typed(d, k, kinds) for k, kinds in _SCALAR_KINDS.items() if k in d
    }
    for k in _MODEL_TUPLES:
        if k in d:
            kwargs[k] = _str_tuple(d[k], k)
    if d.get("pricing") is not None:
        kwargs["pricing"] = _facts_pricing(d["pricing"])
    if d.get("benchmarks") is not None:
        bench = d["benchmarks"]
        if not isinstance(bench, dict):
            raise _BadEntry("benchmarks is not an object")
        kwargs["benchmarks"] = Benchmarks(
            **{k: _facts_typed(bench, k, kinds) for k, kinds in _BENCH_KINDS.items()}
        )
    if d.get("local") is not None:
        local = d["local"]
        if not isinstance(local, dict):
            raise _BadEntry("local is not an object")
        kwargs["local"] = LocalDetails(
            **{k: _facts_typed(local, k, kinds) for k, kinds in _LOCAL_KINDS.items()}
        )
    reasoning = d.get("supports_reasoning", False)
    if not isinstance(reasoning, bool):
        raise _BadEntry("supports_reasoning is not a boolean")
    if source is Source.OPENROUTER:  # facts stored before the id-based rule keep working
        kwargs["tokenizer"] = tokenizer_for(model_id, kwargs.get("tokenizer"))
    return ModelInfo(
        id=model_id, name=name, source=source, tier=tier, supports_reasoning=reasoning, **kwargs
    )


def model_from_facts(d: dict[str, Any]) -> ModelInfo:
    """Rebuild a model from :func:`model_to_facts` output.

    Raises :class:`CatalogueFormatError` when the dict is not valid facts.
    """
    try:
        return _model_from_facts(d)
    except _BadEntry as exc:
        raise CatalogueFormatError(f"invalid model facts: {exc}") from exc


def snapshot_payload(models: Iterable[ModelInfo], fetched_at: str | None) -> dict[str, Any]:
    """The bundled-snapshot document: facts only, models sorted by id."""
    ordered = sorted(_index(models).values(), key=lambda m: m.id)
    return {
        "format": SNAPSHOT_FORMAT,
        "source": Source.OPENROUTER.value,
        "fetched_at": fetched_at,
        "models": [model_to_facts(m) for m in ordered],
    }


def parse_snapshot(payload: object) -> tuple[ParseResult, str | None]:
    """Load a snapshot written by :func:`snapshot_payload`: its models and ``fetched_at``."""
    if not isinstance(payload, dict) or not isinstance(payload.get("models"), list):
        raise CatalogueFormatError("snapshot: expected an object with a 'models' list")
    fmt = payload.get("format")
    if fmt != SNAPSHOT_FORMAT:
        raise CatalogueFormatError(f"snapshot: unsupported format {fmt!r}")
    fetched_at = payload.get("fetched_at")
    if fetched_at is not None and not isinstance(fetched_at, str):
        raise CatalogueFormatError("snapshot: fetched_at is not a string")
    result = _parse_entries(payload["models"], _model_from_facts)
    return result, fetched_at
