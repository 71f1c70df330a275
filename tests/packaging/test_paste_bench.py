"""``packaging/paste_bench.py`` runs and reports its figures (never judged here: a shared
machine stalls for its own reasons)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.packaging.conftest import PACKAGING, load_script


def test_the_prompts_are_the_size_asked_for():
    bench = load_script("paste_bench")
    mixed = bench.mixed_prompt(50_000)
    assert len(mixed) == 50_000 and mixed.count("\n") > 500
    one = bench.one_line_prompt(50_000)
    assert len(one) == 50_000 and "\n" not in one
    assert bench.mixed_prompt(1000) == bench.mixed_prompt(1000)  # deterministic


def test_the_bench_pastes_counts_routes_and_reports(_isolated_home):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, str(PACKAGING / "paste_bench.py"), "--chars", "500000", "--runs", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["prompt_chars"] == 500_000 and result["runs"] == 1
    for pane in ("cost", "playground"):
        figures = result[pane]
        assert figures["tokens"] > 50_000  # the count of the whole text landed
        for key in ("paste_ms", "count_ms", "max_stall_ms"):
            assert figures[key] >= 0 and figures["worst"][key] >= figures[key]
        assert len(figures["every_run"]) == 1
    assert result["playground"]["route_stall_ms"] > 0
