"""Start-up benchmark: launch to the first painted window, app against a bare PySide6 window.

    python packaging/startup_bench.py [--runs 7] [--bundle] [--no-bare-bundle]

Each subject is started as a new process; it prints ``locallama-first-paint <time.time()>``
from its window's first paint event and quits (the app does so with ``--startup-probe``).
The figure is that time minus the time just before the process was spawned. Subjects:

- ``source_app``: ``python -m locallama_gui --startup-probe`` (the source install);
- ``source_bare``: a script that shows one bare ``QMainWindow`` of the same size;
- ``bundle_app``: the bundle from ``packaging/build.py`` (``--bundle``);
- ``bundle_bare``: the same bare script frozen the same way (built on first use into
  ``build/startup-bench/``; ``--no-bare-bundle`` skips it).

Runs are interleaved (one of each subject per round, after one discarded warm-up round);
the medians, every run and the app/bare ratios are printed as JSON. Every run gets its own
empty ``LOCALLAMA_HOME`` and, unless ``QT_QPA_PLATFORM`` is set, the offscreen platform.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "build" / "startup-bench"
PROBE_PREFIX = "locallama-first-paint"  # as locallama_gui.gui.selftest.PROBE_PREFIX
BARE_NAME = "bare-window"

BARE_WINDOW = f'''"""A bare PySide6 window that reports its first paint (the start-up baseline)."""

import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow


class Probe(QObject):
    done = False

    def eventFilter(self, watched, event):
        if not self.done and event.type() == QEvent.Type.Paint:
            self.done = True
            print("{PROBE_PREFIX} %.6f" % time.time(), flush=True)
            QTimer.singleShot(0, QApplication.quit)
        return False


def main():
    app = QApplication(sys.argv)
    window = QMainWindow()
    window.setWindowTitle("bare")
    window.resize(1280, 800)
    probe = Probe(window)
    window.installEventFilter(probe)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
'''


def measure(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, timeout_s: float = 120.0
) -> float:
    """Milliseconds from just before spawning ``cmd`` to its reported first paint."""
    run_env = dict(os.environ if env is None else env)
    run_env.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="locallama-bench-") as home:
        run_env["LOCALLAMA_HOME"] = home
        started = time.time()
        proc = subprocess.run(
            list(cmd),
            env=run_env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    for line in proc.stdout.splitlines():
        if line.startswith(PROBE_PREFIX + " "):
            return (float(line.split()[1]) - started) * 1000
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    raise RuntimeError(
        f"{cmd[0]} reported no first paint (exit {proc.returncode}): {' | '.join(tail)}"
    )


def bare_script() -> Path:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / "bare_window.py"
    if not path.exists() or path.read_text(encoding="utf-8") != BARE_WINDOW:
        path.write_text(BARE_WINDOW, encoding="utf-8")
    return path


def bare_bundle() -> Path:
    """The bare window frozen like the app (one folder, windowed, same exclusions)."""
    script = bare_script()
    dist = BENCH_DIR / "dist"
    exe = dist / BARE_NAME / (f"{BARE_NAME}.exe" if sys.platform == "win32" else BARE_NAME)
    if exe.is_file() and exe.stat().st_mtime >= script.stat().st_mtime:
        return exe
    excludes = ["PyQt5", "PyQt6", "PySide2", "tkinter"]
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--onedir",
        "--windowed",
        "--name",
        BARE_NAME,
        "--distpath",
        str(dist),
        "--workpath",
        str(BENCH_DIR / "work"),
        "--specpath",
        str(BENCH_DIR),
    ]
    for name in excludes:
        cmd += ["--exclude-module", name]
    subprocess.run([*cmd, str(script)], cwd=BENCH_DIR, check=True)
    if sys.platform == "darwin":
        exe = dist / f"{BARE_NAME}.app" / "Contents" / "MacOS" / BARE_NAME
    return exe


def app_bundle() -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from build import bundle_executable

    return bundle_executable()


def run_bench(subjects: Mapping[str, Sequence[str]], runs: int) -> dict[str, list[float]]:
    for cmd in subjects.values():  # warm-up: the file cache, Python's bytecode cache
        measure(cmd)
    times: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(runs):
        for name, cmd in subjects.items():
            times[name].append(measure(cmd))
    return times


def summarise(times: Mapping[str, list[float]], runs: int) -> dict[str, object]:
    medians = {name: round(statistics.median(ts), 1) for name, ts in times.items()}
    result: dict[str, object] = {
        "metric": "launch to first paint (ms), median",
        "runs": runs,
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "median_ms": medians,
        "runs_ms": {name: [round(t, 1) for t in ts] for name, ts in times.items()},
    }
    ratios = {}
    for kind in ("source", "bundle"):
        app, bare = medians.get(f"{kind}_app"), medians.get(f"{kind}_bare")
        if app is not None and bare:
            ratios[kind] = round(app / bare, 2)
    result["app_over_bare"] = ratios
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Launch-to-first-paint: app vs a bare window.")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--bundle", action="store_true", help="also the bundle in dist/")
    p.add_argument(
        "--no-bare-bundle", action="store_true", help="with --bundle: skip the frozen bare window"
    )
    args = p.parse_args(argv)

    subjects: dict[str, list[str]] = {
        "source_app": [sys.executable, "-m", "locallama_gui", "--startup-probe"],
        "source_bare": [sys.executable, str(bare_script())],
    }
    if args.bundle:
        exe = app_bundle()
        if not exe.is_file():
            print(f"no bundle at {exe}: run packaging/build.py first", file=sys.stderr)
            return 1
        subjects["bundle_app"] = [str(exe), "--startup-probe"]
        if not args.no_bare_bundle:
            subjects["bundle_bare"] = [str(bare_bundle())]
    times = run_bench(subjects, args.runs)
    print(json.dumps(summarise(times, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
