"""``locallama evaluate``: replaying the routing policy on recorded outcomes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from locallama_gui.cli import main

GSM8K = "routing/gsm8k-mixtral-gpt4.csv"
JUDGEMENTS = "routing/mt-bench-judgements.jsonl"
QUESTIONS = "routing/mt-bench-questions.jsonl"
OR_2026 = "openrouter/models-2026-08-14.json"
METRIC_KEYS = {"apgr", "cpt50", "cpt80", "aiq"}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, "evaluate", *argv, "--json", "-q")
    assert code == 0, err
    return json.loads(out)


def test_gsm8k_json_report(capsys, data_dir: Path):
    data = run_json(capsys, "--outcomes", str(data_dir / GSM8K), "--category", "math")
    assert set(data) >= METRIC_KEYS
    assert set(data["random"]) >= METRIC_KEYS and set(data["oracle"]) >= METRIC_KEYS
    assert (data["prompts"], data["folds"]) == (1319, 5)
    assert data["weak"] == "mistralai/Mixtral-8x7B-Instruct-v0.1"
    assert data["strong"] == "gpt-4-1106-preview"
    assert data["apgr"] > 0.55
    assert 0.45 < data["random"]["apgr"] < 0.55
    assert data["oracle"]["apgr"] > 1.0
    assert data["random"]["aiq"] < data["aiq"] < data["oracle"]["aiq"]
    assert data["categories"] == {"math": 1319}
    curve = data["curve"]
    assert {"threshold", "strong_share", "quality", "cost_usd"} <= set(curve[0])
    assert curve[0]["strong_share"] == 0.0 and curve[-1]["strong_share"] == 1.0
    costs = [Decimal(p["cost_usd"]) for p in curve]
    assert costs[0] < costs[-1]
    # neither model is in the catalogue: the default price pair, and the notes say so
    prices = {m["id"]: m["price"] for m in data["models"]}
    assert all(p.startswith("default") for p in prices.values())
    assert any("not in the catalogue" in n for n in data["notes"])


def test_mt_bench_judgements_with_questions(capsys, data_dir: Path):
    data = run_json(capsys, "--outcomes", str(data_dir / JUDGEMENTS), str(data_dir / QUESTIONS))
    assert data["prompts"] == 80
    assert len(data["categories"]) == 8
    assert data["apgr"] > 0.6
    assert data["apgr"] > data["random"]["apgr"]


def test_same_seed_same_report_other_seed_other_folds(capsys, data_dir: Path):
    args = ("--outcomes", str(data_dir / JUDGEMENTS), str(data_dir / QUESTIONS))
    a = run_json(capsys, *args, "--seed", "3", "--folds", "4")
    b = run_json(capsys, *args, "--seed", "3", "--folds", "4")
    c = run_json(capsys, *args, "--seed", "4", "--folds", "4")
    assert a == b
    assert a["folds"] == 4
    assert a["curve"] != c["curve"]


def test_human_readable_output(capsys, data_dir: Path):
    code, out, err = run(
        capsys, "evaluate", "--outcomes", str(data_dir / GSM8K), "--folds", "3", "-q"
    )
    assert code == 0, err
    assert "APGR" in out and "CPT(50%)" in out and "AIQ" in out
    for line in ("router", "random", "oracle"):
        assert any(row.startswith(line) for row in out.splitlines())
    assert "1319 prompts, 3-fold" in out


def _catalogue_outcomes(tmp_path: Path) -> Path:
    lines = []
    for i in range(30):
        hard = i % 3 == 0
        lines.append(
            json.dumps(
                {
                    "prompt": ("Prove it step by step " * 5 if hard else "hi") + f" {i}",
                    "category": "math" if hard else "chat",
                    "models": {"openai/gpt-4o-mini": 0 if hard else 1, "openai/gpt-4o": 1},
                }
            )
        )
    path = tmp_path / "outcomes.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_costs_come_from_the_catalogue_when_the_models_are_in_it(
    capsys, data_dir: Path, tmp_path: Path
):
    path = _catalogue_outcomes(tmp_path)
    data = run_json(capsys, "--outcomes", str(path), "--from-file", str(data_dir / OR_2026))
    prices = {m["id"]: m["price"] for m in data["models"]}
    assert prices == {
        "openai/gpt-4o-mini": "catalogue: openai/gpt-4o-mini",
        "openai/gpt-4o": "catalogue: openai/gpt-4o",
    }
    assert (data["weak"], data["strong"]) == ("openai/gpt-4o-mini", "openai/gpt-4o")
    costs = {m["id"]: Decimal(m["cost_usd"]) for m in data["models"]}
    assert costs["openai/gpt-4o-mini"] < costs["openai/gpt-4o"]
    assert data["apgr"] > 0.6  # the categories say which prompts need the strong model


def test_weak_and_strong_can_be_named(capsys, tmp_path: Path):
    path = tmp_path / "three.csv"
    rows = ["prompt,small,mid,big"]
    rows += [f"q{i},{i % 2},{int(i % 3 != 0)},1" for i in range(30)]
    path.write_text("\n".join(rows) + "\n")
    data = run_json(capsys, "--outcomes", str(path), "--weak", "mid", "--strong", "big")
    assert (data["weak"], data["strong"]) == ("mid", "big")
    assert data["aiq_models"] == ["small", "mid", "big"]


@pytest.mark.parametrize(
    ("content", "name", "message", "status"),
    [
        ('{"prompt": "x", "models": {"a": 1, "b": 0}}\n{oops\n', "bad.jsonl", "line 2", 2),
        ('{"prompt": "x", "models": {"a": 1, "b": 0}}\n[1]\n', "bad.jsonl", "line 2", 2),
        ("question,a,b\nx,1,0\n", "bad.csv", "prompt", 2),
        ('{"question_id": 1, "model": "a", "turn": 1, "score": 9}\n', "j.jsonl", "questions", 1),
        (
            '{"prompt": "x", "models": {"a": 1}}\n{"prompt": "y", "models": {"a": 0}}\n',
            "one.jsonl",
            "two models",
            1,
        ),
    ],
)
def test_bad_files_give_one_line_and_exit_1_or_2(
    capsys, tmp_path: Path, content, name, message, status
):
    """A file not in its format is a mistake in what was given (2); a file that reads but
    cannot be evaluated is an error (1)."""
    path = tmp_path / name
    path.write_text(content)
    code, out, err = run(capsys, "evaluate", "--outcomes", str(path), "-q")
    assert code == status
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("locallama: error:")
    assert message in err


def test_missing_file_and_unknown_model(capsys, tmp_path: Path, data_dir: Path):
    code, _, err = run(capsys, "evaluate", "--outcomes", str(tmp_path / "nope.csv"), "-q")
    assert code == 1 and "no such file" in err
    code, _, err = run(
        capsys, "evaluate", "--outcomes", str(data_dir / GSM8K), "--weak", "nobody", "-q"
    )
    assert code == 1 and "nobody" in err and err.count("\n") == 1


def test_category_count_must_match_the_files(capsys, data_dir: Path):
    code, _, err = run(
        capsys,
        "evaluate",
        "--outcomes",
        str(data_dir / GSM8K),
        "--category",
        "math",
        "--category",
        "chat",
        "-q",
    )
    assert code == 1 and "--category" in err


def test_folds_below_two_is_a_usage_error(capsys, data_dir: Path):
    code, _, err = run(capsys, "evaluate", "--outcomes", str(data_dir / GSM8K), "--folds", "1")
    assert code == 2 and "folds" in err
