"""``cost`` and ``route`` mark a cost priced from an estimated token count with "≈"."""

from __future__ import annotations

import json
import re

from locallama_gui.cli import main

PROSE = "Plain English prose about routing tasks to language models, and what they cost.\n"


def run(capsys, *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_cost_from_an_estimated_count_is_approximate(capsys, tmp_path):
    path = tmp_path / "prompt.txt"
    path.write_text(PROSE * 50)
    out = run(capsys, "cost", "--model", "anthropic/claude-sonnet-4.6", "--text", str(path))
    assert "(estimate: o200k_base x" in out and "(Claude)" in out
    assert re.search(r"^  total +≈ \$", out, re.MULTILINE)
    assert re.search(r"^  prompt +≈ \$", out, re.MULTILINE)


def test_cost_from_an_exact_or_given_count_is_not(capsys, tmp_path):
    path = tmp_path / "prompt.txt"
    path.write_text(PROSE * 50)
    exact = run(capsys, "cost", "--model", "openai/gpt-5.6-sol", "--text", str(path))
    given = run(capsys, "cost", "--model", "anthropic/claude-sonnet-4.6", "--prompt-tokens", "900")
    for out in (exact, given):
        assert "≈" not in out and re.search(r"^  total +\$", out, re.MULTILINE)
    assert "(exact: o200k_base)" in exact


def test_route_marks_costs_from_an_estimated_prompt(capsys):
    estimated = run(capsys, "route", "--prompt", PROSE * 20, "--free", "avoid", "-q")
    given = run(capsys, "route", "--prompt-tokens", "400", "--free", "avoid", "-q")
    first = estimated.splitlines()[0]
    assert first.startswith("→ ") and "≈ $" in first
    chain = estimated[estimated.index("Chain:") :]
    assert "≈ $" in chain
    assert "≈" not in given


def test_route_json_says_whether_the_count_is_exact(capsys):
    out = run(capsys, "route", "--prompt", PROSE, "--json")
    assert json.loads(out)["task"]["prompt_tokens_exact"] is False
    out = run(capsys, "route", "--prompt-tokens", "100", "--json")
    assert json.loads(out)["task"]["prompt_tokens_exact"] is True
