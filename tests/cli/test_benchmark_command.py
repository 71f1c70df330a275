"""``locallama benchmark`` against the loopback fakes (each test has its own LOCALLAMA_HOME)."""

from __future__ import annotations

import json
import re

import pytest

from locallama_gui.cli import main
from locallama_gui.core.benchmarks import builtin_suite
from locallama_gui.store.db import Store
from tests.fakes import OllamaFake
from tests.fakes.fixtures import fake_api_key, openrouter_fake  # noqa: F401
from tests.fakes.server import RecordedRequest

MODEL = "wizardlm2:7b"


class SummingOllama(OllamaFake):
    """Answers 'What is A + B?' right, in two chunks."""

    def stream_chunks(self, req: RecordedRequest) -> list[bytes]:
        body = req.json or {}
        model = body.get("model", "")
        a, b = map(int, re.findall(r"(\d+) \+ (\d+)", body["messages"][-1]["content"])[0])
        text = f"The sum is {a + b}.\nAnswer: {a + b}"
        line = {
            "model": model,
            "created_at": "2026-04-20T18:00:00.000000Z",
            "message": {"role": "assistant", "content": text},
            "done": False,
        }
        return [self._line(line), self._line(self._final(model))]


@pytest.fixture
def summing_ollama():
    with SummingOllama() as fake:
        yield fake


@pytest.fixture
def urls(openrouter_fake, summing_ollama) -> list[str]:  # noqa: F811
    return ["--openrouter-url", openrouter_fake.base_url, "--ollama-url", summing_ollama.url]


@pytest.fixture
def task_file(tmp_path):
    lines = [
        "# two sums",
        json.dumps(
            {
                "id": "sum-a",
                "category": "math",
                "kind": "exact",
                "prompt": "What is 2 + 3?",
                "answer": 5,
            }
        ),
        "",
        json.dumps(
            {
                "id": "sum-b",
                "category": "math",
                "kind": "exact",
                "prompt": "What is 40 + 2?",
                "answer": 42,
                "max_tokens": 64,
            }
        ),
    ]
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_tasks_shows_the_builtin_suite(capsys):
    code, out, _ = run_cli(capsys, "benchmark", "--list-tasks", "--json")
    assert code == 0
    tasks = json.loads(out)["tasks"]
    assert [t["id"] for t in tasks] == [t.id for t in builtin_suite()]
    assert {t["category"] for t in tasks} >= {"code", "math", "long-context", "extraction"}
    code, out, _ = run_cli(capsys, "benchmark", "--list-tasks", "--category", "code")
    assert code == 0 and "code-palindrome" in out and "math-gcd" not in out


def test_list_tasks_of_a_user_file(capsys, task_file):
    code, out, _ = run_cli(capsys, "benchmark", "--list-tasks", "--json", "--tasks", str(task_file))
    assert code == 0
    assert [t["id"] for t in json.loads(out)["tasks"]] == ["sum-a", "sum-b"]
    code, out, _ = run_cli(
        capsys, "benchmark", "--list-tasks", "--json", "--tasks", str(task_file), "--builtin"
    )
    assert len(json.loads(out)["tasks"]) == len(builtin_suite()) + 2


def test_a_bad_task_file_names_the_line(capsys, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "category": "math", "kind": "exact", "prompt": "1+1?"}\nnot json\n')
    code, _, err = run_cli(capsys, "benchmark", "--list-tasks", "--tasks", str(bad))
    assert code == 2
    assert err.count("\n") == 1
    assert "line 1: 'answer' is required" in err
    assert "line 2: not valid JSON" in err
    assert "Traceback" not in err


def test_benchmark_runs_grades_and_stores(capsys, urls, task_file, _isolated_home):
    code, out, err = run_cli(
        capsys,
        "benchmark",
        "--model",
        MODEL,
        "--tasks",
        str(task_file),
        "--refresh",
        "--json",
        *urls,
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["matrix"] == {MODEL: {"math": 1.0}}
    assert [r["outcome"] for r in report["results"]] == ["ok", "ok"]
    assert report["results"][0]["grade"]["checks"][0]["passed"] is True
    assert "routing" in report and "changes" in report["routing"]
    with Store() as store:
        samples = store.samples(model_id=MODEL)
    assert [s.quality for s in samples] == [1.0, 1.0]
    assert all(s.category == "math" and s.success for s in samples)


def test_benchmark_prints_a_readable_report(capsys, urls, task_file):
    code, out, err = run_cli(
        capsys, "benchmark", "--model", MODEL, "--tasks", str(task_file), "--refresh", *urls
    )
    assert code == 0, err
    assert "Quality (share of checks passed):" in out
    assert re.search(rf"{re.escape(MODEL)}\s+100%\s+100%", out)
    assert "Routing" in out
    assert "[2/2]" in err  # progress on stderr


def test_benchmark_needs_models(capsys, task_file):
    code, _, err = run_cli(capsys, "benchmark", "--tasks", str(task_file))
    assert code == 1 and "--model" in err


def test_unknown_model_is_a_one_line_error(capsys, urls, task_file):
    code, _, err = run_cli(
        capsys, "benchmark", "--model", "nobody/nothing", "--tasks", str(task_file), *urls
    )
    assert code == 1 and "not in the catalogue" in err


def test_openrouter_models_need_a_key(capsys, urls, task_file):
    code, _, err = run_cli(
        capsys,
        "benchmark",
        "--model",
        "openai/gpt-4o-mini",
        "--tasks",
        str(task_file),
        *urls,
    )
    assert code == 1 and "OPENROUTER_API_KEY" in err


def test_stale_without_old_results_says_so(capsys, urls, task_file):
    code, _, err = run_cli(capsys, "benchmark", "--stale", "--tasks", str(task_file), *urls)
    assert code == 1 and "older than 30 days" in err
