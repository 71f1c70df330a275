"""Task and outcome files: every loader's errors name the file and the line, say what is
wrong and what to do, and are one typed error (``FileFormatError``)."""

from __future__ import annotations

import pytest

from locallama_gui.core.benchmarks import TaskFormatError, parse_task_lines
from locallama_gui.core.evaluation import OutcomeFormatError, parse_outcomes_jsonl
from locallama_gui.core.taskfiles import (
    FileFormatError,
    Where,
    decode_text,
    jsonl_lines,
    parse_object,
)

EXAMPLE = '{"prompt": "..."}'


def test_where_reads_like_a_person_would_say_it():
    assert str(Where("tasks.jsonl", 7)) == "tasks.jsonl line 7"
    assert str(Where("tasks.csv", 3, "row")) == "tasks.csv row 3"
    assert str(Where("tasks.jsonl")) == "tasks.jsonl"
    assert str(Where(line=2)) == "line 2"
    err = FileFormatError(Where("o.jsonl", 4).about("model a"), "score 2 is outside [0, 1]")
    assert str(err) == "o.jsonl line 4: model a: score 2 is outside [0, 1]"
    assert (err.source, err.line, err.hint) == ("o.jsonl", 4, "")


def test_blank_lines_and_comments_are_skipped():
    text = "\n# a comment\n  \n{}\n   # indented comment\n[1]\n"
    assert list(jsonl_lines(text)) == [(4, "{}"), (6, "[1]")]


@pytest.mark.parametrize(
    ("line", "problem", "hint"),
    [
        ('{"a": 1 2}', "not valid JSON (Expecting ',' delimiter", "one JSON object per line"),
        ("{", "not valid JSON", "spread over several lines"),
        ("{'a': 1}", "not valid JSON", "double quotes"),
        ('{"a": [1, 2, ], }', "not valid JSON (Expecting value", "no comma before a closing"),
        ('{"a": 1} {"b": 2}', "not valid JSON (Extra data", "more than one value"),
        ("[1, 2]", "expected a JSON object, got a list", "one JSON object per line"),
        ('[{"a": 1}]', "expected a JSON object, got a list", "a list of objects is not JSONL"),
        ('"text"', "expected a JSON object, got a string", EXAMPLE),
        ("3", "expected a JSON object, got a number", EXAMPLE),
        ("null", "expected a JSON object, got null", EXAMPLE),
        ("[" * 100_000, "not valid JSON", EXAMPLE),
    ],
)
def test_a_bad_line_says_what_is_wrong_and_what_to_do(line, problem, hint):
    with pytest.raises(FileFormatError) as e:
        parse_object(line, Where("t.jsonl", 7), EXAMPLE)
    assert e.value.line == 7
    assert e.value.problem.startswith(problem)
    assert hint in e.value.hint
    assert str(e.value).startswith(f"t.jsonl line 7: {problem}")
    assert "\n" not in str(e.value)


def test_text_that_is_not_utf8_names_its_line():
    assert decode_text('\ufeff{"a": "é"}'.encode(), "t.jsonl") == '{"a": "é"}'
    with pytest.raises(FileFormatError) as e:
        decode_text(b'{"a": 1}\n{"b": "\xe9t\xe9"}\n', "t.jsonl")
    assert str(e.value) == "t.jsonl line 2: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    with pytest.raises(FileFormatError, match="UTF-16"):
        decode_text("{}".encode("utf-16"), "t.jsonl")


def test_every_loader_raises_the_one_typed_error():
    with pytest.raises(OutcomeFormatError) as e:
        parse_outcomes_jsonl('{"prompt": "p", "models": {"a": 1}}\n\n[]\n', source="o.jsonl")
    assert isinstance(e.value, FileFormatError) and e.value.line == 3
    assert str(e.value).startswith("o.jsonl line 3: expected a JSON object, got a list")
    with pytest.raises(OutcomeFormatError) as e:
        parse_outcomes_jsonl('{"prompt": "p", "models": {"a": 7}}\n', source="o.jsonl")
    assert str(e.value).startswith("o.jsonl line 1: model a: score 7 is outside [0, 1]; ")
    with pytest.raises(TaskFormatError) as e:
        parse_task_lines("# tasks\n\n{nope}\n", source="b.jsonl")
    assert isinstance(e.value, FileFormatError) and e.value.line == 3
    assert str(e.value).startswith("b.jsonl line 3: not valid JSON")
