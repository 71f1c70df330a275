"""Closing the window (or Quit in the tray menu) while a run is in progress: the run is
cancelled, the process exits promptly and cleanly, and the store is left consistent.

Each case starts the app as ``locallama-gui`` runs it (``gui/app.main``, its qasync loop and
its shutdown) in a child process, ``tests/gui/close_scenario.py``, which starts the run and
closes the window once it is under way. What the child writes to stderr is the evidence:
a traceback, "Task was destroyed but it is pending", a RuntimeError about a deleted C++
object, a QThread destroyed while running or a coroutine never awaited all fail the test,
as does any other line.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: From the close to the process's end: the run's cancel, the connections, the store.
EXIT_WITHIN_S = 5.0
#: Lines a Qt platform may print on a bare machine (no runtime dir): not the app's.
HARMLESS = ("QStandardPaths:",)
TELLTALES = (
    "Traceback",
    "Task was destroyed",
    "RuntimeError",
    "Internal C++ object",
    "QThread: Destroyed",
    "was never awaited",
    "Exception ignored",
    "Event loop is closed",
)


def _run_and_close(run: str, how: str, home: Path) -> tuple[dict, str, float]:
    env = dict(os.environ, LOCALLAMA_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    env.pop("OPENROUTER_API_KEY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.gui.close_scenario", run, how],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    ended = time.time()
    lines = proc.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("{"), (proc.stdout, proc.stderr)
    seen = json.loads(lines[-1])
    seen["exit_status"] = proc.returncode
    return seen, proc.stderr, ended


@pytest.mark.parametrize(
    ("run", "how"),
    [
        ("batch-prepare", "close"),  # 2 million tasks being generated in a worker
        ("batch", "tray-quit"),  # two policies being simulated in a worker
        ("benchmark", "close"),  # requests in flight on the event loop, results stored
        ("benchmark", "tray-quit"),
        ("single", "close"),  # an answer streaming in
    ],
)
def test_closing_during_a_run_cancels_it_and_exits_cleanly(run, how, _isolated_home):
    seen, stderr, ended = _run_and_close(run, how, _isolated_home)
    print(f"{run}/{how}: exited {ended - seen['closed_at']:.2f} s after the close")

    for telltale in TELLTALES:
        assert telltale not in stderr, stderr
    other = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith(HARMLESS)]
    assert not other, stderr
    assert seen["exit_status"] == 0 and seen["rc"] == 0
    assert seen["started"], "the run never got under way"
    assert seen["job"] == "cancelled", seen
    assert ended - seen["closed_at"] < EXIT_WITHIN_S

    log = (_isolated_home / "logs" / "locallama-gui.log").read_text(encoding="utf-8")
    assert not [ln for ln in log.splitlines() if " WARNING " in ln or " ERROR " in ln], log
    assert "Traceback" not in log

    db = sqlite3.connect(_isolated_home / "data" / "locallama.db")  # paths.database_path()
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        samples = db.execute(
            "SELECT model_id, success FROM performance_samples ORDER BY model_id"
        ).fetchall()
    finally:
        db.close()
    if run == "benchmark":
        # two tasks answered on both models before the close; the hanging ones left nothing
        assert len(samples) == 4 and all(ok for _m, ok in samples), samples
