"""Benchmark tasks and graders: every check type with right and wrong answers, answer
extraction, JSON Schema checks (jsonschema, offline), long-context documents, the built-in
suite and the JSONL task format."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locallama_gui.core import benchmarks
from locallama_gui.core.benchmarks import (
    BENCH_CATEGORIES,
    CONSTRAINT_TYPES,
    BenchTask,
    TaskFormatError,
    build_retrieval_prompt,
    builtin_suite,
    check_constraint,
    code_job,
    extract_code,
    final_answer,
    first_json,
    grade,
    grade_code,
    last_number,
    parse_task_lines,
    probe_task,
    schema_problems,
    strip_reasoning,
    validate_json,
)

SUITE = {t.id: t for t in builtin_suite()}

# A right answer for every built-in task that is not graded by running code.
RIGHT = {
    "chat-three-bullets": "- Keep a regular bedtime\n- Avoid screens late\n- Keep the room cool",
    "chat-lowercase": "a cat is a small soft animal with long whiskers, bright eyes and quiet "
    "paws. it likes to nap in warm places and play with string.",
    "chat-avoid-words": "The air around our planet scatters short wavelengths far more than long "
    "ones, so when we look up, the scattered shorter waves reach our eyes from every direction "
    "and the whole dome above us takes on that familiar colour during the day.",
    "writing-four-line-poem": "The tide rolls in slow\nSalt on the wind tonight\nGulls cry "
    "over foam\nThe sea keeps its secrets",
    "writing-product-blurb": "Meet the steel bottle that goes everywhere you do. It is insulated "
    "to keep drinks cold for a day and hot for hours, and its leak-proof lid means no more "
    "soggy bags. Light, tough and easy to clean, it fits cup holders and backpacks alike. "
    "Fill it, close it and go!",
    "writing-email": "Dear Sam,\n\nI hope your week is going well. I would like to move our "
    "budget review to Friday, since the final figures from finance arrive on Thursday "
    "afternoon. Friday at ten works for me. Let me know if that time suits you.\n\nBest, Alex",
    "math-arithmetic": "17 * 23 = 391, plus 19 is 410.\nAnswer: 410",
    "math-percent": "80 * 0.85 = 68; 68 * 1.1 = 74.8\nAnswer: $74.80",
    "math-inclusion-exclusion": "33 + 19 - 6 = 46\nAnswer: 46",
    "math-sum-squares": "n(n+1)(2n+1)/6 = 385\nAnswer: 385",
    "math-gcd": "Euclid gives 21.\nAnswer: 21",
    "reasoning-order": "Dave > Alice > Bob > Carol.\nAnswer: Carol",
    "reasoning-syllogism": "Transitivity holds.\nAnswer: yes",
    "reasoning-weekday": "100 = 14*7 + 2, two days after Wednesday.\nAnswer: Friday",
    "reasoning-bat-ball": "ball = 0.05 dollars\nAnswer: 5",
    "extract-contact": '{"name": "Ada Lovelace", "email": "ada@engines.example.org", '
    '"age": 36, "company": "Analytical Engines Ltd"}',
    "extract-order": '```json\n{"order_id": "A-1042", "items": [{"sku": "SKU-RED-9", "qty": 3, '
    '"unit_price": 4.5}, {"sku": "SKU-BLU-2", "qty": 1, "unit_price": 12.0}], '
    '"total": 25.5}\n```',
    "extract-event": 'Here you go: {"title": "Quarterly Planning", "date": "2027-03-14", '
    '"attendees": ["Priya", "Tom", "Ines"], "online": false}',
    "longctx-needle-24k": "Answer: 7314",
    "longctx-needle-48k": "The code is 2968.\nAnswer: 2968",
}


def exact(answer, **extra) -> BenchTask:
    return BenchTask(
        id="t", category="math", kind="exact", prompt="q", spec={"answer": answer, **extra}
    )


# --------------------------------------------------------------------------- the suite


def test_the_suite_covers_every_text_category_with_unique_ids():
    tasks = builtin_suite()
    assert 20 <= len(tasks) <= 30
    assert len({t.id for t in tasks}) == len(tasks)
    for category in BENCH_CATEGORIES:
        assert sum(1 for t in tasks if t.category == category) >= 2, category
    assert {t.kind for t in tasks} == {"code", "exact", "json", "constraints", "retrieval"}
    assert builtin_suite()[-1].prompt == tasks[-1].prompt  # deterministic


@pytest.mark.parametrize("task_id", sorted(RIGHT))
def test_every_builtin_task_passes_its_right_answer(task_id):
    result = grade(SUITE[task_id], RIGHT[task_id])
    assert result.quality == 1.0, result.details
    assert result.total == SUITE[task_id].check_count


@pytest.mark.parametrize("task_id", sorted(RIGHT))
def test_every_builtin_task_fails_a_wrong_answer(task_id):
    result = grade(SUITE[task_id], "I AM NOT SURE; SEMICOLONS; Answer: 999999")
    assert result.quality < 1.0


def test_code_tasks_are_not_graded_on_prose():
    with pytest.raises(ValueError, match="running their tests"):
        grade(SUITE["code-roman"], "def roman_to_int(s): return 1")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_grades_are_a_share_of_checks_for_any_text(text):
    for task in SUITE.values():
        if task.kind == "code":
            continue
        g = grade(task, text)
        assert 0 <= g.passed <= g.total == task.check_count
        assert 0.0 <= g.quality <= 1.0


def test_probe_tasks_exist_for_every_category():
    for category in BENCH_CATEGORIES:
        assert probe_task(category).category == category
    assert probe_task("long-context").prompt_tokens >= 20_000


# --------------------------------------------------------------------------- exact answers


def test_numbers_are_read_from_the_final_answer():
    assert final_answer("Working: 12 + 30 = 42\n**Answer:** 42") == "42"
    assert final_answer("so \\boxed{17} it is") == "17"
    assert final_answer("first line\nlast line 9") == "last line 9"
    assert last_number("It costs $1,234.50 today") == 1234.5
    assert last_number("between -3 and 3/4") == 0.75
    assert last_number("no digits") is None


def test_exact_number_right_and_wrong():
    assert grade(exact(410), "17*23 is 391\nAnswer: 410").quality == 1.0
    # the last number of the reasoning is not the answer when an Answer line exists
    assert grade(exact(410), "maybe 410?\nAnswer: 411").quality == 0.0
    assert grade(exact(74.8), "Answer: 74.80 dollars").quality == 1.0
    assert grade(exact(5), "Answer: five").quality == 0.0
    assert grade(exact(0.1, tolerance=0.01), "Answer: 0.105").quality == 1.0


def test_reasoning_blocks_are_ignored():
    text = "<think>Answer: 3</think>The result:\nAnswer: 4"
    assert strip_reasoning(text) == "The result:\nAnswer: 4"
    assert grade(exact(4), text).quality == 1.0


def test_exact_text_with_choices_must_name_exactly_one():
    task = exact("Carol", choices=["Alice", "Bob", "Carol"])
    assert grade(task, "Answer: Carol").quality == 1.0
    assert grade(task, "Answer: carol.").quality == 1.0
    assert grade(task, "Answer: Bob").quality == 0.0
    assert grade(task, "Answer: Carol or Bob").quality == 0.0  # hedging is not an answer


def test_exact_text_accepts_aliases():
    task = exact("New York City", aliases=["NYC"])
    assert grade(task, "Answer: NYC").quality == 1.0
    assert grade(task, "Answer: It is new york city!").quality == 1.0
    assert grade(task, "Answer: Boston").quality == 0.0


# --------------------------------------------------------------------------- JSON


SCHEMA = {
    "type": "object",
    "required": ["name", "age", "tags"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 20, "pattern": "^[A-Z]"},
        "age": {"type": "integer", "minimum": 0, "maximum": 130},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 1, "maxItems": 2},
        "note": {"type": ["string", "null"]},
        "kind": {"const": "person"},
    },
}


def test_a_valid_value_has_no_problems():
    assert validate_json({"name": "Ada", "age": 36, "tags": ["a"], "note": None}, SCHEMA) == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ([], "$: [] is not of type 'object'"),
        ({"name": "Ada", "tags": ["a"]}, "$: 'age' is a required property"),
        ({"name": "Ada", "age": 3.5, "tags": ["a"]}, "$.age: 3.5 is not of type 'integer'"),
        ({"name": "Ada", "age": True, "tags": ["a"]}, "$.age: True is not of type 'integer'"),
        ({"name": "Ada", "age": -1, "tags": ["a"]}, "$.age: -1 is less than the minimum of 0"),
        ({"name": "Ada", "age": 200, "tags": ["a"]}, "$.age: 200 is greater than the maximum"),
        ({"name": "ada", "age": 1, "tags": ["a"]}, "$.name: 'ada' does not match '^[A-Z]'"),
        ({"name": "A", "age": 1, "tags": ["a"]}, "$.name: 'A' is too short"),
        (
            {"name": "A" * 21, "age": 1, "tags": ["a"]},
            "$.name: 'AAAAAAAAAAAAAAAAAAAAA' is too long",
        ),
        ({"name": "Ada", "age": 1, "tags": ["c"]}, "$.tags[0]: 'c' is not one of ['a', 'b']"),
        ({"name": "Ada", "age": 1, "tags": []}, "$.tags: [] should be non-empty"),
        ({"name": "Ada", "age": 1, "tags": ["a", "b", "a"]}, "$.tags: ['a', 'b', 'a'] is too long"),
        (
            {"name": "Ada", "age": 1, "tags": ["a"], "extra": 1},
            "$: Additional properties are not allowed ('extra' was unexpected)",
        ),
        ({"name": "Ada", "age": 1, "tags": ["a"], "note": 5}, "$.note: 5 is not of type 'string'"),
        (
            {"name": "Ada", "age": 1, "tags": ["a"], "kind": "robot"},
            "$.kind: 'person' was expected",
        ),
    ],
)
def test_schema_violations_are_named(value, fragment):
    problems = validate_json(value, SCHEMA)
    assert any(p.startswith(fragment) for p in problems), problems


def test_integral_floats_are_integers_and_booleans_are_not_numbers():
    assert validate_json({"name": "Ada", "age": 36.0, "tags": ["a"]}, SCHEMA) == []
    assert validate_json(True, {"type": "number"}) == ["$: True is not of type 'number'"]
    assert validate_json(1, {"const": True}) != []
    assert validate_json(1.0, {"enum": [1]}) == []


def test_errors_are_sorted_by_path_and_every_one_is_reported():
    value = {"tags": ["c", "a", "d"], "age": "x"}
    problems = validate_json(value, SCHEMA)
    assert [p.split(": ")[0] for p in problems] == [
        "$",
        "$.age",
        "$.tags",
        "$.tags[0]",
        "$.tags[2]",
    ], problems
    assert problems[0] == "$: 'name' is a required property"
    many = validate_json(list(range(500)), {"maxItems": 2})
    assert len(many) == 1 and many[0].endswith("is too long") and len(many[0]) < 300, many


def test_the_path_prefix_is_kept():
    assert validate_json({"a": "x"}, {"properties": {"a": {"type": "integer"}}}, "$.out") == [
        "$.out.a: 'x' is not of type 'integer'"
    ]


def test_standard_keywords_beyond_the_old_subset_work():
    schema = {
        "$defs": {
            "sku": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]+$"},
            "line": {
                "type": "object",
                "properties": {"sku": {"$ref": "#/$defs/sku"}, "qty": {"type": "integer"}},
                "required": ["sku", "qty"],
                "additionalProperties": False,
            },
        },
        "type": "object",
        "properties": {
            "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}},
            "paid": {"oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["partly"]}]},
            "kind": {"type": "string"},
            "total": {"type": "number", "exclusiveMinimum": 0},
        },
        "if": {"properties": {"kind": {"const": "refund"}}, "required": ["kind"]},
        "then": {"required": ["reason"]},
        "dependentRequired": {"total": ["lines"]},
    }
    assert schema_problems(schema) == []
    good = {"lines": [{"sku": "AB-1", "qty": 2}], "paid": "partly", "total": 3}
    assert validate_json(good, schema) == []
    bad = {"lines": [{"sku": "ab", "qty": 2, "x": 1}], "paid": 1, "kind": "refund", "total": 0}
    assert validate_json(bad, schema) == [
        "$: 'reason' is a required property",
        "$.lines[0]: Additional properties are not allowed ('x' was unexpected)",
        "$.lines[0].sku: 'ab' does not match '^[A-Z]{2}-[0-9]+$'",
        "$.paid: 1 is not valid under any of the given schemas",
        "$.total: 0 is less than or equal to the minimum of 0",
    ]
    assert validate_json({"total": 1}, schema) == ["$: 'lines' is a dependency of 'total'"]


def test_format_is_an_annotation_not_a_check():
    assert schema_problems({"type": "string", "format": "email"}) == []
    assert validate_json("not an email", {"type": "string", "format": "email"}) == []


def test_the_schema_key_selects_the_draft():
    tuple_items = {"type": "array", "items": [{"type": "integer"}, {"type": "string"}]}
    # 2020-12 (the default) spells tuples prefixItems: an items list is a broken schema
    assert any(p.startswith("$.items: ") for p in schema_problems(tuple_items))
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", **tuple_items}
    assert schema_problems(draft7) == []
    assert validate_json([1, 2], draft7) == ["$[1]: 2 is not of type 'string'"]
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 5}
    assert validate_json(5, {**draft4, "exclusiveMaximum": True}) != []
    assert validate_json(5, draft4) == []
    unknown = schema_problems({"$schema": "https://example.com/my-draft", "type": "object"})
    assert len(unknown) == 1 and unknown[0].startswith("$['$schema']: unknown JSON Schema draft")


def test_schema_problems_in_the_schema_itself():
    assert schema_problems(SCHEMA) == []
    assert schema_problems(True) == []
    problems = schema_problems({"type": "thing", "oneOf": [], "pattern": "("})
    assert problems == [
        "$.oneOf: [] should be non-empty",
        "$.pattern: '(' is not a valid regular expression",
        "$.type: 'thing' is not one of "
        "['array', 'boolean', 'integer', 'null', 'number', 'object', 'string']",
    ]
    nested = schema_problems({"properties": {"x": {"type": "strin"}, "y": {"minLength": -1}}})
    assert [p.split(": ")[0] for p in nested] == ["$.properties.x.type", "$.properties.y.minLength"]
    assert schema_problems({"required": "a"}) == ["$.required: 'a' is not of type 'array'"]
    assert schema_problems("object") == ["$: a schema must be an object (or true or false)"]
    assert schema_problems({"$ref": "#/$defs/nope"}) == [
        "$['$ref']: '#/$defs/nope' points to nothing in this schema"
    ]
    assert schema_problems({"$ref": "#"}) == [
        "$: the schema refers to itself without end (a '$ref' loop)"
    ]
    recursive = {"type": "object", "properties": {"child": {"$ref": "#"}}}
    assert schema_problems(recursive) == []
    assert validate_json({"child": {"child": {"child": 1}}}, recursive) == [
        "$.child.child.child: 1 is not of type 'object'"
    ]
    # the drafts' metaschemas are bundled with jsonschema: referring to one needs no network
    assert schema_problems({"$ref": "https://json-schema.org/draft/2020-12/schema"}) == []


def test_a_broken_schema_fails_the_check_instead_of_raising():
    problems = validate_json({"a": 1}, {"type": "thing"})
    assert len(problems) == 1 and problems[0].startswith("$: the schema itself is invalid ($.type")


@pytest.fixture
def no_network(monkeypatch):
    """Fails the test on any attempt to reach the network, even one the code under test
    catches (referencing turns a failed retrieval into an ordinary Unresolvable)."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse)
    yield
    assert attempts == []


@pytest.mark.parametrize(
    "ref", ["https://example.com/address.json", "http://127.0.0.1:9/x.json#/a", "file:///x"]
)
def test_remote_references_are_never_fetched(no_network, ref):
    schema = {"type": "object", "properties": {"address": {"$ref": ref}}}
    problems = schema_problems(schema)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"$.properties.address['$ref']: {ref!r} is a remote reference")
    assert "never fetched" in problems[0] and "$defs" in problems[0]
    result = validate_json({"address": {"street": "x"}}, schema)
    assert len(result) == 1 and "the schema itself is invalid" in result[0], result
    # the same through the compiled validator, had the read-time check missed it
    dynamic = {"$dynamicRef": ref}
    assert any("cannot resolve the reference" in p for p in validate_json(1, dynamic))


def test_a_task_file_with_a_remote_ref_names_the_line(no_network):
    obj = {
        "id": "a",
        "category": "extraction",
        "kind": "json",
        "prompt": "p",
        "schema": {"$ref": "https://example.com/s.json"},
    }
    with pytest.raises(TaskFormatError) as err:
        parse_task_lines(json.dumps(obj) + "\n", source="t.jsonl")
    assert any(
        e.startswith("t.jsonl line 1: schema $['$ref']: ") and "remote reference" in e
        for e in err.value.errors
    ), err.value.errors


def test_compiled_validators_are_cached_per_schema(monkeypatch):
    calls = []
    compile_ = benchmarks._compile

    def counting(schema):
        calls.append(schema)
        return compile_(schema)

    monkeypatch.setattr(benchmarks, "_compile", counting)
    benchmarks._compiled.cache_clear()
    monkeypatch.setattr(benchmarks, "_FROZEN_CHECKED", {})
    task = BenchTask(
        id="c", category="extraction", kind="json", prompt="q", spec={"schema": SCHEMA}
    )
    for _ in range(20):
        grade(task, '{"name": "Ada", "age": 36, "tags": ["a"]}')
    assert validate_json({"name": "Ada", "age": 36, "tags": ["a"]}, dict(SCHEMA)) == []
    assert schema_problems(SCHEMA) == []
    assert len(calls) == 1
    benchmarks._compiled.cache_clear()


def test_importing_the_module_does_not_import_jsonschema():
    # the GUI imports core.benchmarks at start-up: jsonschema comes on the first schema check
    code = (
        "import sys, locallama_gui.core.benchmarks as b\n"
        "assert 'jsonschema' not in sys.modules and 'referencing' not in sys.modules\n"
        "b.builtin_suite()\n"
        "assert 'jsonschema' not in sys.modules\n"
        "assert b.schema_problems({'type': 'object'}) == []\n"
        "assert 'jsonschema' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_first_json_prefers_a_fenced_block_and_skips_junk():
    assert first_json('text {bad} then ```json\n{"a": 1}\n```') == (True, {"a": 1})
    assert first_json('noise [1, 2] after {"b": 2}') == (True, [1, 2])
    assert first_json("no json here") == (False, None)


def test_json_task_checks_schema_and_expected_values():
    task = BenchTask(
        id="j",
        category="extraction",
        kind="json",
        prompt="q",
        spec={"schema": SCHEMA, "expect": {"name": "Ada", "tags.0": "a"}},
    )
    right = grade(task, '{"name": "Ada", "age": 36, "tags": ["a"]}')
    assert (right.passed, right.total) == (4, 4)
    wrong_value = grade(task, '{"name": "Bob", "age": 36, "tags": ["a"]}')
    assert (wrong_value.passed, wrong_value.total) == (3, 4)
    wrong_schema = grade(task, '{"name": "Ada", "age": "36", "tags": ["a"]}')
    assert [c.passed for c in wrong_schema.details] == [True, False, True, True]
    none = grade(task, "Sorry, I cannot.")
    assert none.passed == 0 and none.total == 4


# --------------------------------------------------------------------------- constraints

CONSTRAINT_CASES = [
    # (constraint, passing text, failing text)
    ({"type": "word_count", "min": 3, "max": 5}, "one two three four", "one two"),
    ({"type": "line_count", "min": 2, "max": 2}, "a\n\nb", "a\nb\nc"),
    ({"type": "bullet_count", "min": 2, "max": 2}, "- a\n* b\nend", "- a\nb"),
    ({"type": "paragraph_count", "max": 1}, "one\nparagraph", "one\n\ntwo"),
    ({"type": "char_count", "max": 5}, "short", "too long"),
    ({"type": "include", "words": ["salt", "sea spray"]}, "Salt and sea spray.", "salty sea"),
    ({"type": "avoid", "words": ["rain"]}, "A rainbow appears.", "The rain falls."),
    ({"type": "lowercase"}, "all quiet here.", "Not quiet."),
    ({"type": "bullets_only"}, "- a\n1. b", "- a\nplus b"),
    ({"type": "starts_with", "text": "Dear Sam,"}, "dear sam, hi", "Hi Sam,"),
    ({"type": "ends_with", "text": "!"}, "Go now!", "Go now."),
    ({"type": "max_words_per_line", "max": 3}, "one two\nthree four five", "one two three four"),
    ({"type": "no_chars", "chars": ";"}, "fine, really", "fine; really"),
]


def test_every_constraint_type_is_covered():
    assert {c["type"] for c, _, _ in CONSTRAINT_CASES} == set(CONSTRAINT_TYPES)


@pytest.mark.parametrize(("constraint", "good", "bad"), CONSTRAINT_CASES)
def test_constraint_right_and_wrong(constraint, good, bad):
    assert check_constraint(constraint, good).passed
    result = check_constraint(constraint, bad)
    assert not result.passed


def test_constraints_grade_is_the_share_passed():
    task = BenchTask(
        id="c",
        category="chat",
        kind="constraints",
        prompt="q",
        spec={
            "constraints": [
                {"type": "lowercase"},
                {"type": "word_count", "max": 3},
                {"type": "include", "words": ["tea"]},
            ]
        },
    )
    g = grade(task, "I like tea")  # a capital I: one of three checks fails
    assert (g.passed, g.total) == (2, 3) and g.quality == pytest.approx(2 / 3)


# --------------------------------------------------------------------------- retrieval


def test_retrieval_documents_hide_the_needle_deep():
    needle = "The locker code for Ward 9 is 5150."
    prompt = build_retrieval_prompt(needle, "Locker code?", tokens=20_000, depth=0.8, seed=3)
    assert prompt == build_retrieval_prompt(
        needle, "Locker code?", tokens=20_000, depth=0.8, seed=3
    )
    assert prompt.count(needle) == 1
    at = prompt.index(needle) / len(prompt)
    assert 0.7 < at < 0.9
    assert 20_000 * 3.5 < len(prompt) < 20_000 * 4.5  # about 20k tokens at ~4 chars a token
    assert prompt.rstrip().endswith("'Answer: <value>'.")
    big = SUITE["longctx-needle-48k"].prompt
    assert 150_000 < len(big) < 240_000  # about 48k tokens


def test_retrieval_right_wrong_and_decoy():
    task = SUITE["longctx-needle-24k"]
    decoy = task.spec["decoys"][0]
    assert task.spec["answer"] in task.prompt and decoy in task.prompt
    assert grade(task, "Answer: 7314").quality == 1.0
    assert grade(task, "Answer: 1234").quality == 0.0
    assert grade(task, f"Either 7314 or {decoy}").quality == 0.0
    assert grade(task, "Answer: 73145").quality == 0.0  # whole tokens only


# --------------------------------------------------------------------------- code


def test_code_is_taken_from_the_block_that_defines_the_entry_point():
    text = (
        "First a helper:\n```python\nimport math\n```\nThen:\n```python\ndef area(r):\n"
        "    return math.pi * r * r\n```\nUsage:\n```\narea(2)\n```"
    )
    assert extract_code(text, "area").startswith("def area(r):")
    assert extract_code("```py\nx = 1\n```") == "x = 1\n"
    assert extract_code("def f():\n    return 1\n", "f") == "def f():\n    return 1"
    assert extract_code("Sorry, I can't do that.", "f") is None


def test_code_grade_counts_the_tests_that_passed():
    task = SUITE["code-roman"]
    job = code_job(task, "```python\ndef roman_to_int(s):\n    return 0\n```")
    assert job.code is not None and len(job.test_names) == 4 == task.check_count
    g = grade_code(job, ["test_basic", "test_large"], {"test_max": "AssertionError"}, "")
    assert (g.passed, g.total) == (2, 4)
    details = {c.name: c for c in g.details}
    assert details["test_max"].detail == "AssertionError"
    assert details["test_subtractive"].detail == "not run"
    none = grade_code(code_job(task, "I don't know"), [])
    assert none.passed == 0 and none.total == 4
    assert all(c.detail == "no code in the answer" for c in none.details)


# --------------------------------------------------------------------------- JSONL


def line(**obj) -> str:
    return json.dumps(obj)


def test_a_task_file_parses_every_kind():
    text = "\n".join(
        [
            "# my tasks",
            "",
            line(id="sum", category="math", kind="exact", prompt="2+2?", answer=4),
            line(
                id="pick",
                category="reasoning",
                kind="exact",
                prompt="Which?",
                answer="B",
                choices=["A", "B"],
                complexity=0.4,
            ),
            line(
                id="js",
                category="extraction",
                kind="json",
                prompt="p",
                schema={"type": "object", "required": ["a"]},
                expect={"a": 1},
            ),
            line(
                id="cons",
                category="writing",
                kind="constraints",
                prompt="p",
                constraints=[{"type": "word_count", "max": 10}],
                max_tokens=100,
                system="Be brief.",
            ),
            line(
                id="fn",
                category="code",
                kind="code",
                prompt="p",
                entry_point="f",
                tests="def test_f():\n    assert f() == 1\n",
            ),
            line(
                id="needle",
                category="long-context",
                kind="retrieval",
                needle="The key is 42.",
                question="What is the key?",
                answer="42",
                haystack_tokens=2000,
                depth=0.5,
            ),
        ]
    )
    tasks = parse_task_lines(text, source="mine.jsonl")
    assert [t.id for t in tasks] == ["sum", "pick", "js", "cons", "fn", "needle"]
    assert all(t.origin == "mine.jsonl" for t in tasks)
    assert tasks[3].messages()[0] == {"role": "system", "content": "Be brief."}
    assert tasks[3].max_tokens == 100
    assert "The key is 42." in tasks[5].prompt and len(tasks[5].prompt) > 6000
    assert grade(tasks[0], "Answer: 4").quality == 1.0
    assert grade(tasks[5], "Answer: 42").quality == 1.0


def obj_of(category: str, kind: str, **fields) -> dict:
    return {"id": "a", "category": category, "kind": kind, "prompt": "p", **fields}


TESTS_BAD = "def test_x(:"


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        (obj_of("math", "exact"), "'answer' is required"),
        ({**obj_of("math", "exact", answer=1), "id": "a b"}, "'id'"),
        (obj_of("art", "exact", answer=1), "category"),
        (obj_of("vision", "exact", answer=1), "vision"),
        (obj_of("math", "essay"), "'kind'"),
        ({"id": "a", "category": "math", "kind": "exact", "answer": 1}, "'prompt'"),
        (obj_of("math", "exact", answer=1, x=2), "unknown field(s) x"),
        (obj_of("extraction", "json", schema={"anyOf": []}), "schema $.anyOf: [] should be"),
        (obj_of("extraction", "json", schema=[]), "schema $: a schema must be an object"),
        (
            obj_of("chat", "constraints", constraints=[{"type": "rhymes"}]),
            "constraint 1: unknown constraint type",
        ),
        (
            obj_of("chat", "constraints", constraints=[{"type": "word_count", "min": 5, "max": 2}]),
            "'min' is larger than 'max'",
        ),
        (obj_of("code", "code", entry_point="f", tests="x = 1"), "no top-level test_"),
        (obj_of("code", "code", entry_point="f", tests=TESTS_BAD), "not valid Python"),
        (
            {
                "id": "a",
                "category": "long-context",
                "kind": "retrieval",
                "needle": "N is 1.",
                "question": "N?",
                "answer": "2",
            },
            "must appear in the 'needle'",
        ),
        (obj_of("math", "exact", answer=1, complexity=2), "'complexity'"),
    ],
)
def test_task_file_errors_name_the_line(obj, fragment):
    text = "# header\n" + json.dumps(obj) + "\n"
    with pytest.raises(TaskFormatError) as err:
        parse_task_lines(text, source="t.jsonl")
    assert any(e.startswith("t.jsonl line 2:") and fragment in e for e in err.value.errors), (
        err.value.errors
    )


def test_task_file_collects_every_error_and_duplicate_ids():
    good = line(id="a", category="math", kind="exact", prompt="p", answer=1)
    text = "\n".join([good, "{not json", good, "[1, 2]"])
    with pytest.raises(TaskFormatError) as err:
        parse_task_lines(text, source="f")
    errors = err.value.errors
    assert errors[0].startswith("f line 2: not valid JSON")
    assert errors[1] == "f line 3: id 'a' is already used on line 1; give each task its own id"
    assert errors[2].startswith("f line 4: expected a JSON object, got a list; write one JSON")
    assert "f line 2" in str(err.value)
    assert (err.value.source, err.value.line) == ("f", 2)


def test_an_empty_task_file_is_an_error():
    with pytest.raises(TaskFormatError, match="no tasks"):
        parse_task_lines("# nothing\n\n", source="f")


def test_a_misspelt_keyword_is_a_schema_problem_not_silently_ignored():
    """JSON Schema ignores unknown keywords, so "requried" would check nothing: it is named,
    wherever it sits, with the keyword meant; other unknown keys stay allowed."""
    from locallama_gui.core.benchmarks import schema_problems

    schema = {
        "type": "object",
        "requried": ["name"],
        "properties": {"name": {"type": "string", "minLenght": 2}},
        "anyOf": [{"maximun": 3}],
        "x-internal-note": "kept",
    }
    problems = schema_problems(schema)
    assert "$: unknown keyword 'requried': did you mean 'required'?" in problems
    assert "$.properties.name: unknown keyword 'minLenght': did you mean 'minLength'?" in problems
    assert "$.anyOf[0]: unknown keyword 'maximun': did you mean 'maximum'?" in problems
    assert not any("x-internal-note" in p for p in problems)
    assert schema_problems({"type": "object", "required": ["a"], "x-note": 1}) == []
