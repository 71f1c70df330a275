"""A malformed task or outcomes file in the playground (Batch simulation, Benchmark, Replay):
an error banner names the file and the line, says what is wrong and what to do; no
traceback, no exception dialog, and what was loaded before stays."""

from __future__ import annotations

import json
import sys

import pytest

from locallama_gui.gui.controller import AppController
from locallama_gui.gui.panes.playground import PlaygroundPane
from locallama_gui.gui.panes.playground_benchmark import BUILTIN_GROUP

GOOD = '{"prompt": "Summarise the report", "category": "writing"}'


@pytest.fixture
def controller(qtbot, qloop):
    c = AppController()
    c.start()
    qtbot.waitUntil(lambda: c.services is not None, timeout=15_000)
    yield c
    c.shutdown()


@pytest.fixture
def pane(qtbot, controller, monkeypatch):
    hooked: list[object] = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: hooked.append(exc))
    p = PlaygroundPane(controller)
    qtbot.addWidget(p)
    p.resize(1280, 820)
    p.show()
    qtbot.waitExposed(p)
    yield p
    assert not hooked, hooked  # nothing reached the exception dialog


def _write(tmp_path, name: str, lines: list[str]) -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("line7", "expected"),
    [
        (
            '{"prompt": "seven", "category": "code",}',
            "The task file has a problem: tasks.jsonl line 7: not valid JSON (Expecting "
            "property name enclosed in double quotes at column 40); JSON allows no comma "
            "before a closing } or ]: remove it",
        ),
        (
            '["seven"]',
            "The task file has a problem: tasks.jsonl line 7: expected a JSON object, got a "
            "list; write one JSON object per line",
        ),
        (
            '{"prompt": "seven", "complexity": "hard"}',
            "The task file has a problem: tasks.jsonl line 7: complexity must be a number from "
            "0 to 1, got 'hard'; 0 is trivial, 1 the hardest",
        ),
        (
            '{"promt": "seven"}',
            "The task file has a problem: tasks.jsonl line 7: unknown field 'promt'; did you "
            "mean 'prompt'?",
        ),
    ],
    ids=["not-json", "not-an-object", "odd-value", "misspelt-field"],
)
def test_batch_import_names_the_bad_line(qtbot, pane, tmp_path, line7, expected):
    batch = pane.batch
    pane.tabs.setCurrentWidget(batch)
    ok = _write(tmp_path, "ok.jsonl", [GOOD, GOOD])
    batch.import_tasks(ok)
    qtbot.waitUntil(lambda: batch.import_mode.isChecked(), timeout=10_000)
    # blank lines and comments are fine; line 7 is not
    bad = _write(tmp_path, "tasks.jsonl", [GOOD, "", "# two more", GOOD, GOOD, "", line7])
    batch.import_tasks(bad)
    qtbot.waitUntil(lambda: batch.banner.isVisible(), timeout=10_000)
    assert batch.banner.tone == "error"
    assert batch.banner.text.startswith(expected), batch.banner.text
    assert "Traceback" not in batch.banner.text and "\n" not in batch.banner.text
    assert batch.import_label.text() == ""
    assert batch._imported_name == "ok.jsonl"  # the tasks imported before are kept


def test_batch_import_of_a_file_that_is_not_utf8(qtbot, pane, tmp_path):
    batch = pane.batch
    pane.tabs.setCurrentWidget(batch)
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(GOOD.encode() + b'\n{"prompt": "caf\xe9"}\n')
    batch.import_tasks(str(path))
    qtbot.waitUntil(lambda: batch.banner.isVisible(), timeout=10_000)
    assert batch.banner.text == (
        "The task file has a problem: tasks.jsonl line 2: not UTF-8 text (byte 0xe9); "
        "save the file as UTF-8"
    )


def test_benchmark_import_names_every_bad_line(qtbot, pane, tmp_path):
    view = pane.benchmark
    pane.tabs.setCurrentWidget(view)
    good = json.dumps(
        {"id": "t1", "category": "math", "kind": "exact", "prompt": "1+1?", "answer": 2}
    )
    path = _write(tmp_path, "bench.jsonl", [good, "", "{'id': 't2'}", "[1]"])
    view.import_tasks(path)
    qtbot.waitUntil(lambda: view.banner.isVisible(), timeout=10_000)
    text = view.banner.text
    lines = text.splitlines()
    assert lines[0] == "The task file has problems:"
    assert lines[1].startswith("• bench.jsonl line 3: not valid JSON")
    assert lines[1].endswith("JSON puts names and text in double quotes, not single ones")
    assert lines[2].startswith("• bench.jsonl line 4: expected a JSON object, got a list")
    assert view.tasks.groups() == [BUILTIN_GROUP]


def test_replay_names_the_bad_line_of_an_outcomes_file(qtbot, pane, tmp_path):
    view = pane.replay
    pane.tabs.setCurrentWidget(view)
    good = '{"prompt": "2+2?", "models": {"a": 1, "b": 0}}'
    path = _write(tmp_path, "outcomes.jsonl", [good, good, '{"prompt": "x", "models": {"a": 3}}'])
    view.add_files([path])
    qtbot.waitUntil(lambda: view.banner.isVisible(), timeout=10_000)
    assert view.banner.tone == "error"
    assert view.banner.text.startswith(
        "The outcomes file has a problem: outcomes.jsonl line 3: model a: score 3 is outside "
        "[0, 1]; a score is a number from 0 to 1"
    ), view.banner.text
