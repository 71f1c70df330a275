"""Benchmark tasks graded by checks: the built-in suite, the graders and the user task format.

Every task is graded by checks, never by a judgement of prose: code by its hidden unit tests
(run by ``services/sandbox.py``), maths and reasoning by an exact answer, extraction by a JSON
schema plus expected values, instructions by checkable constraints, long-context retrieval by
the one fact hidden deep in a long generated document. A task's quality is the share of its
checks that passed (:attr:`GradeResult.quality`).

Pure: no clock, no I/O. Code tasks are graded in two steps: :func:`code_job` extracts the code
to run, the caller runs it, and :func:`grade_code` turns the test counts into a grade.

User tasks (JSONL)
==================

One JSON object per line; blank lines and lines starting with ``#`` are ignored. Errors name
the line: ``tasks.jsonl line 3: 'answer' is required for kind 'exact'``.

Fields every task has:

* ``id`` (string, required): letters, digits, ``.``, ``_``, ``-``; unique in the file.
* ``category`` (required): ``chat``, ``code``, ``reasoning``, ``math``, ``extraction``,
  ``writing`` or ``long-context`` (the routing categories; ``vision`` is not supported: the
  suite sends text only).
* ``kind`` (required): how it is graded, ``code``, ``exact``, ``json``, ``constraints`` or
  ``retrieval``.
* ``prompt`` (string): what the model is asked (required, except for a generated retrieval
  task).
* ``system`` (string, optional): a system message.
* ``max_tokens`` (integer, optional, default 1024): the completion limit sent.
* ``complexity`` (number 0..1, optional): how demanding the task is.

By kind:

* ``exact``: ``answer`` (number or string, required). Numbers: the last number of the final
  answer (the text after the last ``Answer:``, a ``\\boxed{}``, else the last line) must equal
  it within ``tolerance`` (default 1e-6 relative). Strings: the final answer must equal it or
  one of ``aliases`` (case, spaces and punctuation ignored), or contain it as whole words;
  with ``choices`` (strings), the final answer must name the right choice and no other.
* ``json``: ``schema`` (object, required), a standard JSON Schema: Draft 2020-12, or the
  earlier draft its ``$schema`` names (draft 3 to 2019-09), every keyword of the draft
  (``oneOf``, ``$defs`` and ``$ref``, ``additionalProperties``, ``if``/``then``...).
  ``format`` is an annotation, not checked. A ``$ref`` must point inside the schema: remote
  references are never fetched (the file is rejected). ``expect`` (object, optional): dotted
  paths (``items.0.sku``) and the values they must hold. Checks: a JSON value was found; it
  satisfies the schema; one check per expected value.
* ``constraints``: ``constraints`` (non-empty list, required), each an object with a ``type``:
  ``word_count`` / ``line_count`` / ``bullet_count`` / ``paragraph_count`` / ``char_count``
  (``min`` and/or ``max``), ``include`` / ``avoid`` (``words``: a list; whole words or
  phrases, case-insensitive), ``lowercase``, ``bullets_only`` (every non-empty line is a
  bullet), ``starts_with`` / ``ends_with`` (``text``), ``max_words_per_line`` (``max``),
  ``no_chars`` (``chars``: a string of forbidden characters). One check per constraint.
* ``code``: ``entry_point`` (function name, required) and ``tests`` (Python source with
  top-level ``def test_...():`` functions using ``assert``; required). The answer's code (the
  last fenced block that defines the entry point) runs with the tests in the sandbox; one
  check per test function. ``timeout_s`` (optional, 1..60) overrides the time limit.
* ``retrieval``: either ``prompt`` (with the document in it) and ``answer`` (string), or a
  generated document: ``needle`` (the sentence to hide), ``question``, ``answer``,
  ``haystack_tokens`` (1000..200000, default 20000), ``depth`` (0..1, default 0.8), ``seed``
  (integer). Optional ``decoys``: values that must not be given. One check: the answer is
  named and no decoy is.

Example lines::

    {"id": "sum", "category": "math", "kind": "exact", "prompt": "2+2? End with 'Answer: N'.", "answer": 4}
    {"id": "bul", "category": "chat", "kind": "constraints", "prompt": "3 bullets on tea",
     "constraints": [{"type": "bullet_count", "min": 3, "max": 3}]}
"""  # noqa: E501

from __future__ import annotations

import ast
import functools
import json
import math
import random
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from locallama_gui.core.routing import CATEGORIES, Task
from locallama_gui.core.taskfiles import FileFormatError, Where, jsonl_lines, parse_object

KINDS = ("code", "exact", "json", "constraints", "retrieval")
#: The categories a benchmark task may have (vision needs images; the suite sends text).
BENCH_CATEGORIES = tuple(c for c in CATEGORIES if c != "vision")
DEFAULT_MAX_TOKENS = 1024
CHARS_PER_TOKEN = 4.0  # for sizing generated documents; the runner counts real tokens
CONSTRAINT_TYPES = (
    "word_count",
    "line_count",
    "bullet_count",
    "paragraph_count",
    "char_count",
    "include",
    "avoid",
    "lowercase",
    "bullets_only",
    "starts_with",
    "ends_with",
    "max_words_per_line",
    "no_chars",
)
_RANGE_TYPES = frozenset(
    {"word_count", "line_count", "bullet_count", "paragraph_count", "char_count"}
)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


# --- values ------------------------------------------------------------------------------------


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True, slots=True, eq=False)
class BenchTask:
    """One benchmark task. ``spec`` holds what the grader of ``kind`` needs (read-only)."""

    id: str
    category: str
    kind: str
    prompt: str
    spec: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    max_tokens: int = DEFAULT_MAX_TOKENS
    complexity: float | None = None
    system: str | None = None
    origin: str = "built-in"

    def __post_init__(self) -> None:
        if not isinstance(self.spec, MappingProxyType):
            object.__setattr__(self, "spec", _freeze(dict(self.spec)))
        if self.category not in BENCH_CATEGORIES:
            raise ValueError(f"unknown benchmark category {self.category!r}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown task kind {self.kind!r}")

    @property
    def check_count(self) -> int:
        """How many checks grade this task (code: its test functions)."""
        k = self.kind
        if k == "code":
            return max(1, len(unit_test_names(self.spec["tests"])))
        if k == "json":
            return 2 + len(self.spec.get("expect", {}))
        if k == "constraints":
            return len(self.spec["constraints"])
        return 1

    def messages(self) -> list[dict[str, str]]:
        out = []
        if self.system:
            out.append({"role": "system", "content": self.system})
        out.append({"role": "user", "content": self.prompt})
        return out

    def routing_task(self) -> Task:
        """The routing view of this task (prompt, output budget, category, complexity)."""
        return Task(
            prompt=self.prompt,
            output_tokens=self.max_tokens,
            complexity=self.complexity,
            category=self.category,
        )

    def to_dict(self, *, include_prompt: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "category": self.category,
            "kind": self.kind,
            "checks": self.check_count,
            "max_tokens": self.max_tokens,
            "complexity": self.complexity,
            "origin": self.origin,
            "prompt_chars": len(self.prompt),
        }
        if include_prompt:
            out["prompt"] = self.prompt
            out["spec"] = _thaw(self.spec)
        return out


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class GradeResult:
    """Checks passed out of ``total``; ``details`` says which and why."""

    passed: int
    total: int
    details: tuple[CheckResult, ...] = ()

    def __post_init__(self) -> None:
        if self.total < 0 or not 0 <= self.passed <= self.total:
            raise ValueError(f"bad grade {self.passed}/{self.total}")

    @property
    def quality(self) -> float:
        """The share of checks passed, in [0, 1] (0 when there was nothing to check)."""
        return self.passed / self.total if self.total else 0.0

    @classmethod
    def of(cls, checks: Sequence[CheckResult]) -> GradeResult:
        return cls(sum(1 for c in checks if c.passed), len(checks), tuple(checks))

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "total": self.total,
            "quality": round(self.quality, 4),
            "checks": [c.to_dict() for c in self.details],
        }


# --- answer extraction ------------------------------------------------------------------------

_THINK_RE = re.compile(r"<(think|thinking|reasoning)>.*?(</\1>|$)", re.IGNORECASE | re.DOTALL)
_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_ANSWER_RE = re.compile(r"(?:final\s+answer|answer)\s*(?:is|=)?\s*[:：=]?\s*", re.IGNORECASE)
_BOXED_RE = re.compile(r"\\boxed\{([^{}]*)\}")
_NUMBER_RE = re.compile(r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?![\w])")


def strip_reasoning(text: str) -> str:
    """The answer without ``<think>...</think>`` blocks (reasoning models show their work)."""
    return _THINK_RE.sub("", text).strip()


def final_answer(text: str) -> str:
    """The final answer: ``\\boxed{...}``, else what follows the last ``Answer:``, else the
    last non-empty line. Markdown emphasis is removed."""
    body = strip_reasoning(text)
    boxed = _BOXED_RE.findall(body)
    if boxed:
        return boxed[-1].strip()
    marks = list(_ANSWER_RE.finditer(body))
    if marks:
        rest = body[marks[-1].end() :].strip()
        segment = rest.splitlines()[0] if rest else ""
        if segment.strip(" *_`"):
            return segment.replace("**", "").replace("`", "").strip()
    lines = [ln for ln in body.splitlines() if ln.strip(" *_`-")]
    return lines[-1].replace("**", "").replace("`", "").strip() if lines else ""


def parse_number(token: str) -> float | None:
    t = token.replace(",", "").replace("−", "-").strip()
    try:
        if "/" in t:
            num, den = t.split("/", 1)
            d = float(den)
            return float(num) / d if d else None
        return float(t)
    except ValueError:
        return None


def last_number(text: str) -> float | None:
    """The last number in ``text`` (``1,234.5``, ``-3``, ``3/4`` understood)."""
    found = _NUMBER_RE.findall(text)
    for token in reversed(found):
        value = parse_number(token)
        if value is not None:
            return value
    return None


def first_json(text: str) -> tuple[bool, Any]:
    """``(found, value)``: the first JSON object or array in ``text`` (a fenced ``json``
    block first). ``found`` is False when there is none."""
    body = strip_reasoning(text)
    decoder = json.JSONDecoder()
    candidates = [m.group(2) for m in _FENCE_RE.finditer(body)]
    candidates.append(body)
    for chunk in candidates:
        for k, ch in enumerate(chunk):
            if ch in "{[":
                try:
                    value, _ = decoder.raw_decode(chunk, k)
                except ValueError:
                    continue
                return True, value
    return False, None


def extract_code(text: str, entry_point: str | None = None) -> str | None:
    """The code of an answer: the last fenced block that defines ``entry_point`` (else the
    last Python block, else the last block); unfenced text when it parses as Python."""
    body = strip_reasoning(text)
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE_RE.finditer(body)]
    if blocks:
        if entry_point:
            pat = re.compile(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(entry_point)}\b", re.M)
            defining = [code for _, code in blocks if pat.search(code)]
            if defining:
                return defining[-1]
        python = [code for lang, code in blocks if lang in ("python", "py", "python3")]
        return (python or [code for _, code in blocks])[-1]
    try:
        ast.parse(body)
    except SyntaxError:
        return None
    return body if body.strip() else None


def unit_test_names(tests: str) -> list[str]:
    """The top-level ``test_*`` functions of a test source, in order (no duplicates)."""
    try:
        tree = ast.parse(tests)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            if node.name in names:
                names.remove(node.name)
            names.append(node.name)
    return names


def _norm_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def _has_phrase(haystack_norm: str, phrase: str) -> bool:
    p = _norm_text(phrase)
    return bool(p) and re.search(rf"(?<!\w){re.escape(p)}(?!\w)", haystack_norm) is not None


# --- JSON Schema ------------------------------------------------------------------------------
#
# A json task's schema is a standard JSON Schema (Draft 2020-12 unless its ``$schema`` names
# another draft), checked by the ``jsonschema`` library. It is imported on first use: the GUI
# imports this module at start-up and most sessions never grade a json task. A ``$ref``
# resolves inside the schema (and to the drafts' own metaschemas) only: nothing is fetched,
# although jsonschema's default registry would download an http reference.

DEFAULT_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SCHEMA_CACHE_SIZE = 256  # compiled validators kept (a task file rarely has more schemas)
_MESSAGE_CHARS = 240  # a message quotes the value: an answer's long list is cut short
# Keywords whose values are data, not subschemas: a "$ref" key inside them is not a reference.
_DATA_KEYWORDS = frozenset({"const", "default", "enum", "examples"})
_JSON_PATH_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")  # the names jsonschema writes as .name


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def _json_path(root: str, parts: Iterable[str | int]) -> str:
    """``$.properties.x``, ``$.items[0]``, ``$['$defs']``: as jsonschema writes error paths."""
    out = root
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _JSON_PATH_NAME.match(part):
            out += f".{part}"
        else:
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


def _path_order(parts: Iterable[str | int]) -> tuple[tuple[int, int, str], ...]:
    # indexes by number, names by text; never compares a number with a name
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in parts)


def _short(text: str) -> str:
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def _describe(error: Any, *, closest: bool = False) -> tuple[str, str]:
    """(path from ``$``, message) of a jsonschema error; ``closest``: for an ``anyOf`` or
    ``oneOf`` that failed, the alternative that came nearest (the metaschema's ``type`` is an
    ``anyOf``: "'strin' is not one of ['array', ...]" says more than "not valid under any")."""
    if closest and error.context:
        from jsonschema.exceptions import best_match

        error = best_match(error.context) or error
    message = error.message
    if error.validator == "format" and error.validator_value == "regex":
        message = f"{error.instance!r} is not a valid regular expression"
    elif len(message) > _MESSAGE_CHARS:  # shorten the quoted value, keep what is wrong with it
        quoted = repr(error.instance)
        message = message.replace(quoted, quoted[: _MESSAGE_CHARS // 4] + "…", 1)
    return error.json_path, _short(message)


def _schema_class(schema: Any) -> tuple[Any, list[tuple[str, str]]]:
    """The jsonschema validator class for ``schema``'s ``$schema`` (2020-12 without one)."""
    from jsonschema import validators

    if not isinstance(schema, Mapping) or "$schema" not in schema:
        return validators.Draft202012Validator, []
    dialect = schema["$schema"]
    cls = validators.validator_for(schema, default=None) if isinstance(dialect, str) else None
    if cls is None:
        where = _json_path("$", ["$schema"])
        return None, [
            (where, f"unknown JSON Schema draft {dialect!r} (use {DEFAULT_SCHEMA_DIALECT!r})")
        ]
    return cls, []


def _meta_problems(schema: Any, cls: Any) -> list[tuple[str, str]]:
    """Where ``schema`` breaks its draft's metaschema: every place, not only the first."""
    from jsonschema.exceptions import SchemaError

    try:
        cls.check_schema(schema)
    except SchemaError as first:
        meta = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
        errors = sorted(meta.iter_errors(schema), key=lambda e: _path_order(e.absolute_path))
        return list(dict.fromkeys(_describe(e, closest=True) for e in errors or [first]))
    return []


def _ref_problems(schema: Any, cls: Any) -> list[tuple[str, str]]:
    """Each ``$ref`` that resolves to nothing available offline (remote ones are never
    fetched), found when the task file is read rather than when an answer is graded."""
    from urllib.parse import urljoin, urlsplit

    import referencing.jsonschema
    from jsonschema_specifications import REGISTRY
    from referencing.exceptions import Unresolvable

    spec = referencing.jsonschema.specification_with(
        cls.ID_OF(cls.META_SCHEMA) or DEFAULT_SCHEMA_DIALECT,
        default=referencing.jsonschema.DRAFT202012,
    )
    root = spec.create_resource(schema)
    registry = REGISTRY.with_resource(root.id() or "", root).crawl()
    out: list[tuple[str, str]] = []

    def walk(node: Any, base: str, parts: list[str | int]) -> None:
        if isinstance(node, list):
            for k, item in enumerate(node):
                walk(item, base, [*parts, k])
            return
        if not isinstance(node, Mapping):
            return
        own_id = spec.id_of(node)
        if isinstance(own_id, str):
            base = urljoin(base, own_id)
        ref = node.get("$ref")
        if isinstance(ref, str):
            try:
                registry.resolver(base_uri=base).lookup(ref)
            except Unresolvable:
                target = urljoin(base, ref)
                if urlsplit(target).scheme:
                    why = (
                        "is a remote reference, never fetched: copy its definition into "
                        "'$defs' and refer to it as '#/$defs/NAME'"
                    )
                else:
                    why = "points to nothing in this schema"
                out.append((_json_path("$", [*parts, "$ref"]), f"{ref!r} {why}"))
        for key, value in node.items():
            if key not in _DATA_KEYWORDS:
                walk(value, base, [*parts, key])

    walk(schema, root.id() or "", [])
    return out


def _compile(schema: Any) -> tuple[Any, tuple[tuple[str, str], ...]]:
    """(validator, ()) for a sound schema, else (None, its problems)."""
    if not isinstance(schema, Mapping | bool):
        return None, (("$", "a schema must be an object (or true or false)"),)
    cls, problems = _schema_class(schema)
    if cls is None:
        return None, tuple(problems)
    problems = _meta_problems(schema, cls) or _ref_problems(schema, cls)
    if problems:
        return None, tuple(problems)
    import referencing
    from referencing.exceptions import Unresolvable

    # An empty registry of our own: the default one would download http references.
    validator = cls(schema, registry=referencing.Registry())
    try:  # one trial run finds a "$ref": "#" loop, which would fail every answer
        for _ in validator.iter_errors(None):
            pass
    except RecursionError:
        return None, (("$", "the schema refers to itself without end (a '$ref' loop)"),)
    except Unresolvable as e:
        return None, (("$", f"cannot resolve the reference {getattr(e, 'ref', '')!r}"),)
    return validator, ()


@functools.lru_cache(maxsize=_SCHEMA_CACHE_SIZE)
def _compiled(text: str) -> tuple[Any, tuple[tuple[str, str], ...]]:
    return _compile(json.loads(text))


# A task's frozen schema (see _freeze: nobody holds the dicts under it) -> (it, _checked of it).
# Holding the schema keeps its id from being reused; grading skips the JSON text of the key.
_FROZEN_CHECKED: dict[int, tuple[Any, tuple[Any, tuple[tuple[str, str], ...]]]] = {}


def _checked(schema: Any) -> tuple[Any, tuple[tuple[str, str], ...]]:
    """:func:`_compile` of ``schema`` (frozen or not), cached by its JSON text."""
    frozen = isinstance(schema, MappingProxyType)
    if frozen:
        hit = _FROZEN_CHECKED.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
    plain = _thaw(schema)
    try:
        text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):  # not JSON (a schema built in code): compile it uncached
        return _compile(plain)
    checked = _compiled(text)
    if frozen:
        if len(_FROZEN_CHECKED) >= _SCHEMA_CACHE_SIZE:
            _FROZEN_CHECKED.clear()
        _FROZEN_CHECKED[id(schema)] = (schema, checked)
    return checked


def schema_problems(schema: Any, path: str = "$") -> list[str]:
    """What is wrong with a schema itself: where it breaks its draft's metaschema, an unknown
    ``$schema``, a ``$ref`` to nothing (or to a remote document), a misspelt keyword (which
    JSON Schema would ignore: ``"requried"`` checks nothing); empty when it is sound."""
    found = [f"{path}{where[1:]}: {message}" for where, message in _checked(schema)[1]]
    if not found and isinstance(schema, Mapping):
        found = [f"{path}{where[1:]}: {message}" for where, message in _misspelt(_thaw(schema))]
    return found


#: Keywords of every draft that are not validators (annotations, identifiers, containers).
_ANNOTATIONS = frozenset(
    {
        "$schema", "$id", "$defs", "definitions", "$comment", "$anchor", "$dynamicAnchor",
        "$recursiveAnchor", "$vocabulary", "id", "title", "description", "default", "examples",
        "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding",
        "contentSchema", "format",
    }
)  # fmt: skip
#: Where a schema holds schemas: by name, one, or a list of them.
_SUB_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SUB_ONE = (
    "items", "additionalItems", "additionalProperties", "not", "if", "then", "else",
    "contains", "propertyNames", "unevaluatedItems", "unevaluatedProperties",
)  # fmt: skip
_SUB_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")


def _misspelt(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Keys of the schema (and its subschemas) that are no keyword of its draft but close to
    one: a typo that would silently check nothing."""
    import difflib

    from jsonschema.validators import Draft202012Validator, validator_for

    cls = validator_for(schema, default=Draft202012Validator)
    known = sorted(set(cls.VALIDATORS) | _ANNOTATIONS)
    out: list[tuple[str, str]] = []

    def walk(node: Any, where: str) -> None:
        if not isinstance(node, dict):
            return
        for key in node:
            if key not in known and isinstance(key, str):
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
                if close:
                    out.append((where, f"unknown keyword {key!r}: did you mean {close[0]!r}?"))
        for name in _SUB_MAPS:
            subs = node.get(name)
            if isinstance(subs, dict):
                for k, sub in subs.items():
                    walk(sub, f"{where}.{name}.{k}")
        for name in _SUB_ONE:
            walk(node.get(name), f"{where}.{name}")
        for name in _SUB_LISTS:
            subs = node.get(name)
            if isinstance(subs, list):
                for k, sub in enumerate(subs):
                    walk(sub, f"{where}.{name}[{k}]")

    walk(schema, "$")
    return out


def validate_json(value: Any, schema: Any, path: str = "$") -> list[str]:
    """Where ``value`` breaks the JSON Schema ``schema``, as ``$.path: message`` sorted by
    path; empty when valid. (``format`` is an annotation here, as the drafts default to.)"""
    validator, problems = _checked(schema)
    if validator is None:
        where, message = problems[0]
        return [f"{path}: the schema itself is invalid ({where}: {message})"]
    from referencing.exceptions import Unresolvable

    errors: list[Any] = []
    failure = None
    try:
        errors.extend(validator.iter_errors(value))
    except Unresolvable as e:  # a $ref the read-time check could not see (e.g. $dynamicRef)
        failure = f"cannot resolve the reference {getattr(e, 'ref', '')!r} (nothing is fetched)"
    except RecursionError:
        failure = "the schema refers to itself without end (a '$ref' loop)"
    errors.sort(key=lambda e: _path_order(e.absolute_path))
    out = list(dict.fromkeys(f"{path}{w[1:]}: {m}" for w, m in map(_describe, errors)))
    return out if failure is None else [*out, f"{path}: {failure}"]


_MISSING = object()


def _at_path(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _expected_equal(got: Any, want: Any) -> bool:
    if isinstance(want, str) and isinstance(got, str):
        return _norm_text(got) == _norm_text(want)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(
            _expected_equal(g, w) for g, w in zip(got, want, strict=True)
        )
    if isinstance(want, dict) and isinstance(got, dict):
        return set(got) == set(want) and all(_expected_equal(got[k], want[k]) for k in want)
    return _json_equal(got, want)


# --- graders ----------------------------------------------------------------------------------


def grade(task: BenchTask, output: str) -> GradeResult:
    """Grade a model's output for every kind but ``code`` (see :func:`grade_code`)."""
    kind = task.kind
    if kind == "exact":
        return grade_exact(task.spec, output)
    if kind == "json":
        return grade_json(task.spec, output)
    if kind == "constraints":
        return grade_constraints(task.spec["constraints"], output)
    if kind == "retrieval":
        return grade_retrieval(task.spec, output)
    raise ValueError("code tasks are graded by running their tests: use code_job/grade_code")


def grade_exact(spec: Mapping[str, Any], output: str) -> GradeResult:
    want = spec["answer"]
    answer = final_answer(output)
    if isinstance(want, int | float) and not isinstance(want, bool):
        got = last_number(answer)
        if got is None:
            got = last_number(strip_reasoning(output))
        tol = float(spec.get("tolerance", 1e-6))
        ok = got is not None and math.isclose(got, float(want), rel_tol=tol, abs_tol=tol)
        shown = "no number" if got is None else f"{got:g}"
        return GradeResult.of([CheckResult("answer", ok, f"expected {want:g}, got {shown}")])
    accepted = [str(want), *(str(a) for a in spec.get("aliases", ()))]
    norm = _norm_text(answer)
    choices = spec.get("choices")
    if choices:
        named = [c for c in choices if _has_phrase(norm, str(c))]
        right = [c for c in named if any(_norm_text(str(c)) == _norm_text(a) for a in accepted)]
        ok = len(named) == 1 and bool(right)
    else:
        ok = any(norm == _norm_text(a) or _has_phrase(norm, a) for a in accepted)
    return GradeResult.of([CheckResult("answer", ok, f"expected {want!r}, got {answer[:80]!r}")])


def grade_json(spec: Mapping[str, Any], output: str) -> GradeResult:
    found, value = first_json(output)
    expect = spec.get("expect", {})
    checks = [CheckResult("json found", found, "" if found else "no JSON object in the answer")]
    if not found:
        checks.append(CheckResult("schema", False, "nothing to validate"))
        checks += [CheckResult(f"expect {k}", False, "nothing to compare") for k in expect]
        return GradeResult.of(checks)
    problems = validate_json(value, spec["schema"])
    checks.append(CheckResult("schema", not problems, "; ".join(problems[:5])))
    for key, want in expect.items():
        got = _at_path(value, key)
        ok = got is not _MISSING and _expected_equal(got, _thaw(want))
        detail = "missing" if got is _MISSING else f"expected {_thaw(want)!r}, got {got!r}"
        checks.append(CheckResult(f"expect {key}", ok, "" if ok else detail))
    return GradeResult.of(checks)


_BULLET_RE = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+\S")
_WORD_RE = re.compile(r"\w+(?:['’-]\w+)*")


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text)


def _body_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]


def _in_range(n: int, c: Mapping[str, Any]) -> bool:
    lo, hi = c.get("min"), c.get("max")
    return (lo is None or n >= lo) and (hi is None or n <= hi)


def _range_text(c: Mapping[str, Any]) -> str:
    lo, hi = c.get("min"), c.get("max")
    if lo is not None and hi is not None:
        return f"{lo}" if lo == hi else f"{lo}-{hi}"
    return f">= {lo}" if lo is not None else f"<= {hi}"


def check_constraint(c: Mapping[str, Any], text: str) -> CheckResult:
    """One instruction constraint against an answer (reasoning blocks already removed)."""
    t = c["type"]
    body = text.strip()
    if t in _RANGE_TYPES:
        n = {
            "word_count": lambda: len(_words(body)),
            "line_count": lambda: len(_body_lines(body)),
            "bullet_count": lambda: sum(1 for ln in _body_lines(body) if _BULLET_RE.match(ln)),
            "paragraph_count": lambda: len(_paragraphs(body)),
            "char_count": lambda: len(body),
        }[t]()
        ok = _in_range(n, c)
        return CheckResult(f"{t} {_range_text(c)}", ok, f"got {n}")
    norm = _norm_text(body)
    if t == "include":
        missing = [w for w in c["words"] if not _has_phrase(norm, w)]
        return CheckResult(
            f"include {', '.join(c['words'])}", not missing, f"missing {missing}" if missing else ""
        )
    if t == "avoid":
        used = [w for w in c["words"] if _has_phrase(norm, w)]
        return CheckResult(
            f"avoid {', '.join(c['words'])}", not used, f"used {used}" if used else ""
        )
    if t == "lowercase":
        upper = [ch for ch in body if ch.isupper()]
        return CheckResult("all lowercase", not upper, f"{len(upper)} capitals" if upper else "")
    if t == "bullets_only":
        lines = _body_lines(body)
        other = [ln for ln in lines if not _BULLET_RE.match(ln)]
        ok = bool(lines) and not other
        return CheckResult("only bullet lines", ok, f"{len(other)} other lines" if other else "")
    if t == "starts_with":
        ok = body.casefold().startswith(c["text"].casefold())
        return CheckResult(f"starts with {c['text']!r}", ok, "" if ok else repr(body[:40]))
    if t == "ends_with":
        ok = body.casefold().endswith(c["text"].casefold())
        return CheckResult(f"ends with {c['text']!r}", ok, "" if ok else repr(body[-40:]))
    if t == "max_words_per_line":
        longest = max((len(_words(ln)) for ln in _body_lines(body)), default=0)
        return CheckResult(f"at most {c['max']} words a line", longest <= c["max"], f"{longest}")
    if t == "no_chars":
        used = sorted({ch for ch in body if ch in c["chars"]})
        return CheckResult(f"no {c['chars']!r}", not used, f"used {used}" if used else "")
    raise ValueError(f"unknown constraint type {t!r}")


def grade_constraints(constraints: Iterable[Mapping[str, Any]], output: str) -> GradeResult:
    text = strip_reasoning(output)
    return GradeResult.of([check_constraint(c, text) for c in constraints])


def grade_retrieval(spec: Mapping[str, Any], output: str) -> GradeResult:
    norm = _norm_text(strip_reasoning(output))
    answer = str(spec["answer"])
    found = _has_phrase(norm, answer)
    decoys = [str(d) for d in spec.get("decoys", ()) if _has_phrase(norm, str(d))]
    ok = found and not decoys
    detail = "" if ok else ("named decoys " + ", ".join(decoys) if decoys else "answer not named")
    return GradeResult.of([CheckResult("retrieved the fact", ok, detail)])


@dataclass(frozen=True, slots=True)
class CodeJob:
    """What to run for a code task: the extracted ``code`` (None: the answer had none)."""

    code: str | None
    tests: str
    test_names: tuple[str, ...]
    timeout_s: float | None = None


def code_job(task: BenchTask, output: str) -> CodeJob:
    spec = task.spec
    timeout = spec.get("timeout_s")
    return CodeJob(
        code=extract_code(output, spec.get("entry_point")),
        tests=spec["tests"],
        test_names=tuple(unit_test_names(spec["tests"])),
        timeout_s=float(timeout) if timeout is not None else None,
    )


def grade_code(
    job: CodeJob,
    passed_names: Iterable[str],
    failures: Mapping[str, str] | None = None,
    note: str = "",
) -> GradeResult:
    """One check per test function; a test passes only when it is named in ``passed_names``."""
    ok = set(passed_names)
    failures = failures or {}
    names = job.test_names or ("tests",)
    checks = []
    for name in names:
        if job.code is None:
            checks.append(CheckResult(name, False, "no code in the answer"))
        elif name in ok:
            checks.append(CheckResult(name, True))
        else:
            checks.append(CheckResult(name, False, failures.get(name) or note or "not run"))
    return GradeResult.of(checks)


# --- long-context documents -------------------------------------------------------------------

_PLACES = (
    "Arden", "Bexley", "Calder", "Dunmore", "Elstow", "Farrow", "Glenby", "Harlow", "Ivesey",
    "Juniper Cove", "Kestrel Point", "Lowmoor", "Marlow", "Northfleet", "Oakhurst", "Pellham",
)  # fmt: skip
_GOODS = (
    "copper wire", "oak barrels", "wool bales", "salt crates", "glass panes", "iron nails",
    "linen rolls", "tin cups", "clay pipes", "rope coils", "wax candles", "brass hinges",
)  # fmt: skip
_VERBS = ("shipped", "stored", "inspected", "counted", "repaired", "sold", "received", "sorted")
_TIMES = ("in early spring", "before the harvest", "during the autumn fair", "in midwinter",
          "after the spring tide", "on the first market day", "late in the season")  # fmt: skip
_PEOPLE = (
    "the harbour master", "the quartermaster", "a clerk named Odile", "the night warden",
    "the old cooper", "two apprentices", "the ledger keeper", "the miller's son",
)  # fmt: skip


def haystack(tokens: int, seed: int) -> list[str]:
    """Deterministic filler sentences (about ``tokens`` tokens) of dull warehouse records."""
    rng = random.Random(seed)
    out: list[str] = []
    size = 0
    target = int(tokens * CHARS_PER_TOKEN)
    while size < target:
        s = (
            f"In {rng.choice(_PLACES)}, {rng.choice(_PEOPLE)} {rng.choice(_VERBS)} "
            f"{rng.randint(2, 980)} {rng.choice(_GOODS)} {rng.choice(_TIMES)}, and the "
            f"entry was marked with ledger number {rng.randint(100, 9999)}."
        )
        out.append(s)
        size += len(s) + 1
    return out


def build_retrieval_prompt(
    needle: str,
    question: str,
    *,
    tokens: int,
    depth: float,
    seed: int,
    decoy_sentences: Sequence[str] = (),
) -> str:
    """A long document with ``needle`` placed at ``depth`` (0 = start, 1 = end), decoys spread
    before it, then the question."""
    sentences = haystack(tokens, seed)
    rng = random.Random(seed + 1)
    at = min(len(sentences), max(0, round(depth * len(sentences))))
    for d in decoy_sentences:
        sentences.insert(rng.randint(0, max(0, at - 1)), d)
        at += 1
    sentences.insert(at, needle)
    paragraphs = [" ".join(sentences[k : k + 8]) for k in range(0, len(sentences), 8)]
    document = "\n\n".join(paragraphs)
    return (
        "Read the warehouse records below. Exactly one of them answers the question at the "
        "end; other records may look similar.\n\n<records>\n"
        f"{document}\n</records>\n\nQuestion: {question}\n"
        "Reply with the answer only, on a line of the form 'Answer: <value>'."
    )


# --- the built-in suite -----------------------------------------------------------------------

_ANSWER_LINE = "End your reply with a line of the form 'Answer: <value>'."


def _code(tid: str, prompt: str, entry: str, tests: str, complexity: float) -> BenchTask:
    return BenchTask(
        id=tid,
        category="code",
        kind="code",
        prompt=prompt + "\nReply with the complete Python function in one ```python fenced block, "
        "standard library only, no example usage.",
        spec={"entry_point": entry, "tests": tests},
        max_tokens=1024,
        complexity=complexity,
    )


def _exact(
    tid: str, category: str, prompt: str, answer: Any, complexity: float, **extra: Any
) -> BenchTask:
    return BenchTask(
        id=tid,
        category=category,
        kind="exact",
        prompt=f"{prompt}\n{_ANSWER_LINE}",
        spec={"answer": answer, **extra},
        max_tokens=768,
        complexity=complexity,
    )


def _constraints(
    tid: str, category: str, prompt: str, constraints: list[dict[str, Any]], complexity: float
) -> BenchTask:
    return BenchTask(
        id=tid,
        category=category,
        kind="constraints",
        prompt=prompt,
        spec={"constraints": constraints},
        max_tokens=512,
        complexity=complexity,
    )


def _json_task(
    tid: str, prompt: str, schema: dict[str, Any], expect: dict[str, Any], complexity: float
) -> BenchTask:
    return BenchTask(
        id=tid,
        category="extraction",
        kind="json",
        prompt=prompt + "\nReply with the JSON object only.",
        spec={"schema": schema, "expect": expect},
        max_tokens=512,
        complexity=complexity,
    )


def _retrieval(tid: str, tokens: int, depth: float, seed: int, code: str) -> BenchTask:
    wing = ("north tower", "west gate", "east cellar", "south yard")
    decoy_codes = [str(int(code) + 1111 * (k + 1))[-4:] for k in range(3)]
    decoys = [
        f"The vault code for the {wing[k + 1]} was changed to {decoy_codes[k]} that week."
        for k in range(3)
    ]
    needle = f"The vault code for the {wing[0]} was changed to {code} that week."
    prompt = build_retrieval_prompt(
        needle,
        f"What is the vault code for the {wing[0]}?",
        tokens=tokens,
        depth=depth,
        seed=seed,
        decoy_sentences=decoys,
    )
    return BenchTask(
        id=tid,
        category="long-context",
        kind="retrieval",
        prompt=prompt,
        spec={"answer": code, "decoys": decoy_codes, "depth": depth, "haystack_tokens": tokens},
        max_tokens=64,
        complexity=0.4,
    )


_T_PALINDROME = """
def test_simple():
    assert is_palindrome("racecar") is True

def test_mixed_case_and_punctuation():
    assert is_palindrome("A man, a plan, a canal: Panama!") is True

def test_not_palindrome():
    assert is_palindrome("benchmark") is False

def test_empty():
    assert is_palindrome("") is True
"""

_T_INTERVALS = """
def test_overlapping():
    assert merge_intervals([[1, 3], [2, 6], [8, 10], [15, 18]]) == [[1, 6], [8, 10], [15, 18]]

def test_touching():
    assert merge_intervals([[1, 4], [4, 5]]) == [[1, 5]]

def test_unsorted():
    assert merge_intervals([[5, 7], [1, 2], [2, 3]]) == [[1, 3], [5, 7]]

def test_empty():
    assert merge_intervals([]) == []

def test_nested():
    assert merge_intervals([[1, 10], [2, 3], [4, 5]]) == [[1, 10]]
"""

_T_ROMAN = """
def test_basic():
    assert roman_to_int("III") == 3

def test_subtractive():
    assert roman_to_int("IV") == 4 and roman_to_int("IX") == 9

def test_large():
    assert roman_to_int("MCMXCIV") == 1994

def test_max():
    assert roman_to_int("MMMCMXCIX") == 3999
"""

_T_TOPWORDS = """
def test_counts():
    assert top_words("the cat and the hat and the bat", 2) == [("the", 3), ("and", 2)]

def test_case_and_punctuation():
    assert top_words("Red, red! RED? blue.", 2) == [("red", 3), ("blue", 1)]

def test_ties_alphabetical():
    assert top_words("b a c b a c", 3) == [("a", 2), ("b", 2), ("c", 2)]

def test_k_larger_than_vocabulary():
    assert top_words("one two", 5) == [("one", 1), ("two", 1)]
"""

_T_FLATTEN = """
def test_flat():
    assert flatten([1, 2, 3]) == [1, 2, 3]

def test_nested():
    assert flatten([1, [2, [3, [4]], 5]]) == [1, 2, 3, 4, 5]

def test_empty_lists():
    assert flatten([[], [[]], 1]) == [1]

def test_tuples_are_items():
    assert flatten([(1, 2), [3]]) == [(1, 2), 3]
"""


def builtin_suite() -> tuple[BenchTask, ...]:
    """The built-in tasks: a few per category, each graded by checks (see the module doc)."""
    contact_schema = {
        "type": "object",
        "required": ["name", "email", "age", "company"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "email": {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+\.[a-z]+$"},
            "age": {"type": "integer", "minimum": 0, "maximum": 130},
            "company": {"type": "string"},
        },
    }
    order_schema = {
        "type": "object",
        "required": ["order_id", "items", "total"],
        "properties": {
            "order_id": {"type": "string"},
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["sku", "qty", "unit_price"],
                    "properties": {
                        "sku": {"type": "string"},
                        "qty": {"type": "integer", "minimum": 1},
                        "unit_price": {"type": "number", "minimum": 0},
                    },
                },
            },
            "total": {"type": "number"},
        },
    }
    event_schema = {
        "type": "object",
        "required": ["title", "date", "attendees", "online"],
        "properties": {
            "title": {"type": "string"},
            "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
            "attendees": {"type": "array", "items": {"type": "string"}},
            "online": {"type": "boolean"},
        },
    }
    return (
        # chat: instructions with checkable constraints
        _constraints(
            "chat-three-bullets",
            "chat",
            "Give exactly three tips for sleeping better, as a bullet list with one tip per "
            "line, each line starting with '- '. Write nothing else.",
            [
                {"type": "bullet_count", "min": 3, "max": 3},
                {"type": "bullets_only"},
                {"type": "word_count", "max": 80},
            ],
            0.2,
        ),
        _constraints(
            "chat-lowercase",
            "chat",
            "In all lowercase letters (no capital letters at all), describe a cat to a child "
            "in 20 to 60 words. Use the word 'whiskers'.",
            [
                {"type": "lowercase"},
                {"type": "word_count", "min": 20, "max": 60},
                {"type": "include", "words": ["whiskers"]},
            ],
            0.25,
        ),
        _constraints(
            "chat-avoid-words",
            "chat",
            "Explain in one paragraph of 30 to 90 words why the sky looks blue, without using "
            "the words 'light', 'sun' or 'blue' anywhere in your reply.",
            [
                {"type": "avoid", "words": ["light", "sun", "blue"]},
                {"type": "word_count", "min": 30, "max": 90},
                {"type": "paragraph_count", "max": 1},
            ],
            0.4,
        ),
        # writing
        _constraints(
            "writing-four-line-poem",
            "writing",
            "Write a poem about the sea in exactly four lines, at most eight words per line, "
            "and use the word 'salt'. No title.",
            [
                {"type": "line_count", "min": 4, "max": 4},
                {"type": "max_words_per_line", "max": 8},
                {"type": "include", "words": ["salt"]},
            ],
            0.3,
        ),
        _constraints(
            "writing-product-blurb",
            "writing",
            "Write a product description for a steel water bottle in 40 to 80 words. Mention "
            "that it is 'insulated' and 'leak-proof', do not use the word 'best', and end the "
            "description with an exclamation mark.",
            [
                {"type": "word_count", "min": 40, "max": 80},
                {"type": "include", "words": ["insulated", "leak-proof"]},
                {"type": "avoid", "words": ["best"]},
                {"type": "ends_with", "text": "!"},
            ],
            0.35,
        ),
        _constraints(
            "writing-email",
            "writing",
            "Write a short email to Sam moving our budget review to Friday. Start with "
            "'Dear Sam,' and keep it between 40 and 120 words. Mention 'Friday' and 'budget'. "
            "Do not use semicolons.",
            [
                {"type": "starts_with", "text": "Dear Sam,"},
                {"type": "word_count", "min": 40, "max": 120},
                {"type": "include", "words": ["Friday", "budget"]},
                {"type": "no_chars", "chars": ";"},
            ],
            0.3,
        ),
        # code: hidden unit tests
        _code(
            "code-palindrome",
            "Write a Python function is_palindrome(text: str) -> bool that tells whether a "
            "string reads the same backwards, ignoring case and every character that is not a "
            "letter or digit.",
            "is_palindrome",
            _T_PALINDROME,
            0.3,
        ),
        _code(
            "code-merge-intervals",
            "Write a Python function merge_intervals(intervals: list[list[int]]) -> "
            "list[list[int]] that merges overlapping or touching closed intervals and returns "
            "them sorted by start. The input may be unsorted.",
            "merge_intervals",
            _T_INTERVALS,
            0.5,
        ),
        _code(
            "code-roman",
            "Write a Python function roman_to_int(s: str) -> int that converts a valid Roman "
            "numeral (1 to 3999) to an integer.",
            "roman_to_int",
            _T_ROMAN,
            0.4,
        ),
        _code(
            "code-top-words",
            "Write a Python function top_words(text: str, k: int) -> list[tuple[str, int]] "
            "returning the k most frequent words with their counts. Words are runs of letters, "
            "compared in lowercase. Order by count descending, then alphabetically.",
            "top_words",
            _T_TOPWORDS,
            0.55,
        ),
        _code(
            "code-flatten",
            "Write a Python function flatten(items: list) -> list that flattens arbitrarily "
            "nested lists (only lists are flattened; tuples and other values are kept as "
            "items).",
            "flatten",
            _T_FLATTEN,
            0.4,
        ),
        # math: exact numbers
        _exact("math-arithmetic", "math", "What is 17 * 23 + 19?", 410, 0.2),
        _exact(
            "math-percent",
            "math",
            "A price of $80 is reduced by 15%, and the reduced price is then increased by 10%. "
            "What is the final price in dollars?",
            74.8,
            0.4,
        ),
        _exact(
            "math-inclusion-exclusion",
            "math",
            "How many positive integers below 100 are divisible by 3 or by 5?",
            46,
            0.5,
        ),
        _exact(
            "math-sum-squares",
            "math",
            "What is the sum of the squares of the integers from 1 to 10?",
            385,
            0.35,
        ),
        _exact("math-gcd", "math", "What is the greatest common divisor of 462 and 1071?", 21, 0.4),
        # reasoning: exact answers
        _exact(
            "reasoning-order",
            "reasoning",
            "Alice is older than Bob. Carol is younger than Bob. Dave is older than Alice. "
            "Who is the youngest of Alice, Bob, Carol and Dave?",
            "Carol",
            0.35,
            choices=["Alice", "Bob", "Carol", "Dave"],
        ),
        _exact(
            "reasoning-syllogism",
            "reasoning",
            "All bloops are razzies and all razzies are lazzies. Are all bloops definitely "
            "lazzies? Answer yes or no.",
            "yes",
            0.3,
            choices=["yes", "no"],
        ),
        _exact(
            "reasoning-weekday",
            "reasoning",
            "Today is Wednesday. What day of the week will it be 100 days from today?",
            "Friday",
            0.45,
            choices=["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
        ),
        _exact(
            "reasoning-bat-ball",
            "reasoning",
            "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. "
            "How many cents does the ball cost?",
            5,
            0.45,
        ),
        # extraction: JSON schema + expected values
        _json_task(
            "extract-contact",
            "Extract the contact as JSON with the keys name, email, age (integer) and company, "
            "and no other keys.\n\nText: 'Hi, I'm Ada Lovelace, 36, and I lead research at "
            "Analytical Engines Ltd. Write to me at ada@engines.example.org any time.'",
            contact_schema,
            {
                "name": "Ada Lovelace",
                "email": "ada@engines.example.org",
                "age": 36,
                "company": "Analytical Engines Ltd",
            },
            0.3,
        ),
        _json_task(
            "extract-order",
            'Extract the order as JSON: {"order_id": string, "items": [{"sku": string, '
            '"qty": integer, "unit_price": number}], "total": number}.\n\nText: \'Order '
            "#A-1042: 3 x SKU-RED-9 at $4.50 each, 1 x SKU-BLU-2 at $12.00. Total due $25.50.'",
            order_schema,
            {
                "order_id": "A-1042",
                "items.0.sku": "SKU-RED-9",
                "items.0.qty": 3,
                "items.1.unit_price": 12.0,
                "total": 25.5,
            },
            0.45,
        ),
        _json_task(
            "extract-event",
            "Extract the event as JSON with keys title, date (YYYY-MM-DD), attendees (list of "
            "first names in the order given) and online (boolean).\n\nText: 'Reminder: the "
            "Quarterly Planning session is on 14 March 2027, in person at the Leeds office. "
            "Priya, Tom and Ines will attend.'",
            event_schema,
            {
                "title": "Quarterly Planning",
                "date": "2027-03-14",
                "attendees": ["Priya", "Tom", "Ines"],
                "online": False,
            },
            0.4,
        ),
        # long-context retrieval
        _retrieval("longctx-needle-24k", tokens=24_000, depth=0.75, seed=7, code="7314"),
        _retrieval("longctx-needle-48k", tokens=48_000, depth=0.9, seed=11, code="2968"),
    )


def select_tasks(
    tasks: Iterable[BenchTask],
    categories: Iterable[str] | None = None,
    ids: Iterable[str] | None = None,
) -> tuple[BenchTask, ...]:
    cats = set(categories or ())
    wanted = set(ids or ())
    return tuple(
        t for t in tasks if (not cats or t.category in cats) and (not wanted or t.id in wanted)
    )


# --- routing probes ---------------------------------------------------------------------------

#: One fixed task per category, routed before and after a run to show what changed.
_PROBES: Mapping[str, tuple[int, int, float]] = {
    # category: (prompt tokens, output tokens, complexity)
    "chat": (200, 300, 0.3),
    "code": (600, 800, 0.5),
    "reasoning": (300, 600, 0.5),
    "math": (200, 500, 0.45),
    "extraction": (800, 300, 0.35),
    "writing": (300, 600, 0.35),
    "long-context": (30_000, 200, 0.4),
}


def probe_task(category: str) -> Task:
    prompt_tokens, output_tokens, complexity = _PROBES.get(category, (300, 500, 0.4))
    return Task(
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        complexity=complexity,
        category=category,
    )


# --- user task files --------------------------------------------------------------------------


class TaskFormatError(FileFormatError):
    """A task file with problems; ``errors`` lists them, each naming its line (``where`` is
    the first one's place)."""

    def __init__(self, errors: Sequence[str], where: Where | None = None) -> None:
        self.errors = tuple(errors)
        shown = "; ".join(self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(where or Where(), shown + more)

    @property
    def message(self) -> str:
        return self.problem


#: How a task line looks, for the hints of the errors.
TASK_LINE_EXAMPLE = (
    '{"id": "sum-1", "category": "math", "kind": "exact", "prompt": "What is 2+3?", "answer": 5}'
)


_COMMON = {"id", "category", "kind", "prompt", "system", "max_tokens", "complexity"}
_BY_KIND: Mapping[str, set[str]] = {
    "exact": {"answer", "tolerance", "aliases", "choices"},
    "json": {"schema", "expect"},
    "constraints": {"constraints"},
    "code": {"entry_point", "tests", "timeout_s", "language"},
    "retrieval": {"answer", "decoys", "needle", "question", "haystack_tokens", "depth", "seed"},
}


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check_constraint_spec(c: Any, where: str) -> list[str]:
    if not isinstance(c, Mapping):
        return [f"{where}: a constraint must be an object"]
    t = c.get("type")
    if t not in CONSTRAINT_TYPES:
        return [f"{where}: unknown constraint type {t!r} (use {', '.join(CONSTRAINT_TYPES)})"]
    errs = []
    if t in _RANGE_TYPES:
        lo, hi = c.get("min"), c.get("max")
        if lo is None and hi is None:
            errs.append(f"{where}: {t} needs 'min' and/or 'max'")
        for name, v in (("min", lo), ("max", hi)):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                errs.append(f"{where}: '{name}' must be a whole number >= 0")
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            errs.append(f"{where}: 'min' is larger than 'max'")
    elif t in ("include", "avoid"):
        words = c.get("words")
        if not (isinstance(words, list) and words and all(isinstance(w, str) for w in words)):
            errs.append(f"{where}: {t} needs 'words', a non-empty list of strings")
    elif t in ("starts_with", "ends_with"):
        if not isinstance(c.get("text"), str) or not c["text"]:
            errs.append(f"{where}: {t} needs 'text'")
    elif t == "max_words_per_line":
        if not isinstance(c.get("max"), int) or c["max"] < 1:
            errs.append(f"{where}: max_words_per_line needs 'max' >= 1")
    elif t == "no_chars" and (not isinstance(c.get("chars"), str) or not c["chars"]):
        errs.append(f"{where}: no_chars needs 'chars', a non-empty string")
    return errs


def _task_from_obj(obj: Any, where: str, origin: str) -> tuple[BenchTask | None, list[str]]:
    if not isinstance(obj, dict):
        return None, [f"{where}: expected a JSON object"]
    errs: list[str] = []
    tid = obj.get("id")
    if not isinstance(tid, str) or not _ID_RE.match(tid):
        errs.append(f"{where}: 'id' must be a string of letters, digits, '.', '_' or '-'")
    category = obj.get("category")
    if category == "vision":
        errs.append(f"{where}: vision tasks are not supported (the suite sends text only)")
    elif category not in BENCH_CATEGORIES:
        errs.append(f"{where}: 'category' must be one of {', '.join(BENCH_CATEGORIES)}")
    kind = obj.get("kind")
    if kind not in KINDS:
        errs.append(f"{where}: 'kind' must be one of {', '.join(KINDS)}")
        return None, errs
    unknown = sorted(set(obj) - _COMMON - _BY_KIND[kind])
    if unknown:
        errs.append(f"{where}: unknown field(s) {', '.join(unknown)} for kind {kind!r}")
    prompt = obj.get("prompt")
    generated = kind == "retrieval" and "needle" in obj
    if generated:
        if prompt is not None:
            errs.append(f"{where}: a generated retrieval task has 'needle', not 'prompt'")
    elif not isinstance(prompt, str) or not prompt.strip():
        errs.append(f"{where}: 'prompt' (a non-empty string) is required")
    if "system" in obj and not isinstance(obj["system"], str):
        errs.append(f"{where}: 'system' must be a string")
    max_tokens = obj.get("max_tokens", DEFAULT_MAX_TOKENS)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        errs.append(f"{where}: 'max_tokens' must be a whole number >= 1")
    complexity = obj.get("complexity")
    if complexity is not None and not (_number(complexity) and 0 <= complexity <= 1):
        errs.append(f"{where}: 'complexity' must be a number from 0 to 1")
    spec: dict[str, Any] = {k: obj[k] for k in _BY_KIND[kind] if k in obj}
    need = f"for kind {kind!r}"
    if kind == "exact":
        ans = obj.get("answer")
        if ans is None or not (_number(ans) or (isinstance(ans, str) and ans.strip())):
            errs.append(f"{where}: 'answer' is required {need} (a number or a string)")
        if "tolerance" in obj and not (_number(obj["tolerance"]) and obj["tolerance"] >= 0):
            errs.append(f"{where}: 'tolerance' must be a number >= 0")
        for name in ("aliases", "choices"):
            v = obj.get(name)
            if v is not None and not (
                isinstance(v, list) and all(isinstance(x, str) and x for x in v)
            ):
                errs.append(f"{where}: '{name}' must be a list of strings")
        choices = obj.get("choices")
        if isinstance(choices, list) and isinstance(ans, str) and ans not in choices:
            errs.append(f"{where}: 'answer' must be one of 'choices'")
    elif kind == "json":
        schema = obj.get("schema")
        if schema is None:
            errs.append(f"{where}: 'schema' is required {need}")
        else:
            errs += [f"{where}: schema {p}" for p in schema_problems(schema)]
        if "expect" in obj and not isinstance(obj["expect"], dict):
            errs.append(f"{where}: 'expect' must be an object of path: value")
    elif kind == "constraints":
        cs = obj.get("constraints")
        if not isinstance(cs, list) or not cs:
            errs.append(f"{where}: 'constraints' is required {need} (a non-empty list)")
        else:
            for k, c in enumerate(cs):
                errs += _check_constraint_spec(c, f"{where}: constraint {k + 1}")
    elif kind == "code":
        if obj.get("language", "python") != "python":
            errs.append(f"{where}: only Python code tasks are supported")
        entry = obj.get("entry_point")
        if not isinstance(entry, str) or not entry.isidentifier():
            errs.append(f"{where}: 'entry_point' (a function name) is required {need}")
        tests = obj.get("tests")
        if not isinstance(tests, str) or not tests.strip():
            errs.append(f"{where}: 'tests' (Python source) is required {need}")
        else:
            try:
                ast.parse(tests)
            except SyntaxError as e:
                errs.append(f"{where}: 'tests' is not valid Python (line {e.lineno}: {e.msg})")
            else:
                if not unit_test_names(tests):
                    errs.append(f"{where}: 'tests' defines no top-level test_... function")
        t = obj.get("timeout_s")
        if t is not None and not (_number(t) and 1 <= t <= 60):
            errs.append(f"{where}: 'timeout_s' must be from 1 to 60 seconds")
    elif kind == "retrieval":
        ans = obj.get("answer")
        if not isinstance(ans, str) or not ans.strip():
            errs.append(f"{where}: 'answer' (a string) is required {need}")
        decoys = obj.get("decoys")
        if decoys is not None and not (
            isinstance(decoys, list) and all(isinstance(d, str) for d in decoys)
        ):
            errs.append(f"{where}: 'decoys' must be a list of strings")
        if generated:
            for name in ("needle", "question"):
                if not isinstance(obj.get(name), str) or not obj[name].strip():
                    errs.append(f"{where}: '{name}' (a string) is required to generate a document")
            ht = obj.get("haystack_tokens", 20_000)
            if not isinstance(ht, int) or isinstance(ht, bool) or not 1000 <= ht <= 200_000:
                errs.append(f"{where}: 'haystack_tokens' must be from 1000 to 200000")
            depth = obj.get("depth", 0.8)
            if not (_number(depth) and 0 <= depth <= 1):
                errs.append(f"{where}: 'depth' must be a number from 0 to 1")
            if not isinstance(obj.get("seed", 0), int):
                errs.append(f"{where}: 'seed' must be a whole number")
            needle = obj.get("needle")
            if isinstance(ans, str) and isinstance(needle, str) and ans not in needle:
                errs.append(f"{where}: the 'answer' must appear in the 'needle'")
        for name in ("needle", "question", "haystack_tokens", "depth", "seed"):
            if not generated and name in obj:
                errs.append(f"{where}: '{name}' needs 'needle' (a generated document)")
                break
    if errs:
        return None, errs
    if generated:
        prompt = build_retrieval_prompt(
            obj["needle"],
            obj["question"],
            tokens=obj.get("haystack_tokens", 20_000),
            depth=float(obj.get("depth", 0.8)),
            seed=obj.get("seed", 0),
        )
    task = BenchTask(
        id=tid,
        category=category,
        kind=kind,
        prompt=prompt,
        spec=spec,
        max_tokens=max_tokens,
        complexity=None if complexity is None else float(complexity),
        system=obj.get("system"),
        origin=origin,
    )
    return task, []


def parse_task_lines(text: str, source: str = "tasks") -> tuple[BenchTask, ...]:
    """Parse a JSONL task file (format in the module doc). Raises :class:`TaskFormatError`
    listing every problem, each as ``<source> line N: ...``."""
    tasks: list[BenchTask] = []
    errors: list[str] = []
    first: Where | None = None
    seen: dict[str, int] = {}
    for n, line in jsonl_lines(text):
        place = Where(source, n)
        where = str(place)
        if not errors:
            first = place
        try:
            obj = parse_object(line, place, TASK_LINE_EXAMPLE)
        except FileFormatError as e:
            errors.append(str(e))
            continue
        task, errs = _task_from_obj(obj, where, origin=source)
        errors += errs
        if task is not None:
            if task.id in seen:
                errors.append(
                    f"{where}: id {task.id!r} is already used on line {seen[task.id]}; "
                    "give each task its own id"
                )
                continue
            seen[task.id] = n
            tasks.append(task)
    if errors:
        raise TaskFormatError(errors, first)
    if not tasks:
        raise TaskFormatError(
            [f"{source}: no tasks; write one JSON object per line, such as {TASK_LINE_EXAMPLE}"],
            Where(source),
        )
    return tuple(tasks)


__all__ = [
    "BENCH_CATEGORIES",
    "CONSTRAINT_TYPES",
    "KINDS",
    "BenchTask",
    "CheckResult",
    "CodeJob",
    "GradeResult",
    "TaskFormatError",
    "build_retrieval_prompt",
    "builtin_suite",
    "check_constraint",
    "code_job",
    "extract_code",
    "final_answer",
    "first_json",
    "grade",
    "grade_code",
    "grade_constraints",
    "grade_exact",
    "grade_json",
    "grade_retrieval",
    "haystack",
    "last_number",
    "parse_task_lines",
    "probe_task",
    "schema_problems",
    "select_tasks",
    "strip_reasoning",
    "unit_test_names",
    "validate_json",
]
