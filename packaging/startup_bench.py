"""Start-up benchmark: the app against a bare PySide6 window, side by side in one run.

    python packaging/startup_bench.py [--runs 7] [--bundle] [--no-bare-bundle] [--no-table]

Each subject is started as a new process, which prints ``locallama-first-paint <time.time()>``
from its window's first paint event and quits (the app does so with ``--startup-probe``;
with ``--startup-probe=table`` it also prints ``locallama-table-ready <time>`` once its
catalogue table paints with rows, and quits then). For every run the benchmark takes:

- **first paint**: that time minus the time just before the process was spawned;
- **process**: from just before the spawn to the process's exit (the whole process: start-up,
  first paint, quitting, the interpreter's and Qt's teardown);
- **peak RSS**: the process's peak resident memory (``ru_maxrss`` from ``wait4``; not on
  Windows);
- **table ready** (the app's ``table`` runs only): to the catalogue table's first paint with
  rows, the moment the window is usable rather than merely painted.

Subjects:

- ``source_app``: ``python -m locallama_gui --startup-probe`` (the source install);
- ``source_app_table``: the same with ``--startup-probe=table`` (``--no-table`` skips it);
- ``source_bare``: a script that shows one bare ``QMainWindow`` of the same size;
- ``bundle_app`` and ``bundle_app_table``: the bundle from ``packaging/build.py`` (``--bundle``);
- ``bundle_bare``: the same bare script frozen the same way (built on first use into
  ``build/startup-bench/``; ``--no-bare-bundle`` skips it).

Runs are interleaved (one of each subject per round, after one discarded warm-up round); the
medians, every run, and the app/bare ratios of first paint, process and peak RSS (with the
targets they are held to) are printed as JSON. Every run gets its own empty
``LOCALLAMA_HOME`` (a first launch: the bundled catalogue snapshot, a new store) and, unless
``QT_QPA_PLATFORM`` is set, the offscreen platform. ``PYTHONDONTWRITEBYTECODE`` is dropped
from the children's environment, so the warm-up round leaves the bytecode caches an installed
app has.
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
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "build" / "startup-bench"
PROBE_PREFIX = "locallama-first-paint"  # as locallama_gui.gui.startup_probe.FIRST_PAINT
TABLE_PREFIX = "locallama-table-ready"  # as locallama_gui.gui.startup_probe.TABLE_READY
#: The app over the bare window, at most (first paint, whole process, peak RSS).
TARGETS = {"first_paint": 1.5, "process": 2.5, "peak_rss": 1.6}
METRICS = (
    ("first_paint", "first_paint_ms"),
    ("process", "process_ms"),
    ("peak_rss", "peak_rss_mib"),
)
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


@dataclass(frozen=True, slots=True)
class Sample:
    """One run of one subject."""

    first_paint_ms: float
    process_ms: float
    peak_rss_mib: float | None  # None where the platform does not say (Windows)
    table_ms: float | None = None  # the app's ``table`` runs only


def _peak_rss_mib(maxrss: int) -> float:
    """``ru_maxrss`` in MiB: kilobytes on Linux, bytes on macOS."""
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def _wait(proc: subprocess.Popen[bytes], timeout_s: float) -> float | None:
    """Wait for ``proc`` (killed after ``timeout_s``); its peak RSS in MiB where known."""
    killer = threading.Timer(timeout_s, proc.kill)
    killer.daemon = True
    killer.start()
    try:
        if hasattr(os, "wait4"):
            _pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return _peak_rss_mib(usage.ru_maxrss)
        proc.wait()
        return None
    finally:
        killer.cancel()


def run_once(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, timeout_s: float = 120.0
) -> Sample:
    """Start ``cmd`` once and take its figures (see the module's docstring)."""
    run_env = dict(os.environ if env is None else env)
    run_env.setdefault("QT_QPA_PLATFORM", "offscreen")
    run_env.pop("PYTHONDONTWRITEBYTECODE", None)
    with (
        tempfile.TemporaryDirectory(prefix="locallama-bench-") as home,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        run_env["LOCALLAMA_HOME"] = home
        started = time.time()
        proc = subprocess.Popen(
            list(cmd), env=run_env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )
        rss = _wait(proc, timeout_s)
        ended = time.time()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    marks: dict[str, float] = {}
    for line in stdout.splitlines():
        name, _sep, value = line.partition(" ")
        if name in (PROBE_PREFIX, TABLE_PREFIX) and name not in marks:
            marks[name] = (float(value) - started) * 1000
    if PROBE_PREFIX not in marks:
        tail = (stderr or stdout).strip().splitlines()[-3:]
        raise RuntimeError(
            f"{cmd[0]} reported no first paint (exit {proc.returncode}): {' | '.join(tail)}"
        )
    if "--startup-probe=table" in cmd and TABLE_PREFIX not in marks:
        tail = (stderr or stdout).strip().splitlines()[-3:]
        raise RuntimeError(
            f"{cmd[0]} reported no usable table (exit {proc.returncode}): {' | '.join(tail)}"
        )
    return Sample(
        first_paint_ms=marks[PROBE_PREFIX],
        process_ms=(ended - started) * 1000,
        peak_rss_mib=rss,
        table_ms=marks.get(TABLE_PREFIX),
    )


def measure(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, timeout_s: float = 120.0
) -> float:
    """Milliseconds from just before spawning ``cmd`` to its reported first paint."""
    return run_once(cmd, env=env, timeout_s=timeout_s).first_paint_ms


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


def run_bench(subjects: Mapping[str, Sequence[str]], runs: int) -> dict[str, list[Sample]]:
    for cmd in subjects.values():  # warm-up: the file cache, Python's bytecode cache
        run_once(cmd)
    samples: dict[str, list[Sample]] = {name: [] for name in subjects}
    for _ in range(runs):
        for name, cmd in subjects.items():
            samples[name].append(run_once(cmd))
    return samples


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 1) if known else None


def summarise(samples: Mapping[str, Sequence[Sample]], runs: int) -> dict[str, object]:
    """Medians of every figure per subject, the app/bare ratios against the targets, and
    every run."""
    fields = ("first_paint_ms", "process_ms", "peak_rss_mib", "table_ms")
    medians: dict[str, dict[str, float]] = {}
    for field in fields:
        per_subject = {
            name: m
            for name, ss in samples.items()
            if (m := _median([getattr(x, field) for x in ss])) is not None
        }
        if per_subject:
            medians[field] = per_subject
    ratios: dict[str, dict[str, float]] = {}
    meets: dict[str, dict[str, bool]] = {}
    for kind in ("source", "bundle"):
        for metric, field in METRICS:
            app = medians.get(field, {}).get(f"{kind}_app")
            bare = medians.get(field, {}).get(f"{kind}_bare")
            if app is not None and bare:
                ratio = round(app / bare, 2)
                ratios.setdefault(kind, {})[metric] = ratio
                meets.setdefault(kind, {})[metric] = ratio <= TARGETS[metric]
    return {
        "what": {
            "first_paint_ms": "launch to the window's first paint",
            "process_ms": "launch to the process's exit, quitting right after the first "
            "paint (the table runs: after the table's)",
            "peak_rss_mib": "peak resident memory of the process",
            "table_ms": "launch to the catalogue table's first paint with rows (app only)",
        },
        "runs": runs,
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "median": medians,
        "app_over_bare": ratios,
        "targets": dict(TARGETS),
        "meets_targets": meets,
        "runs_detail": {
            name: {
                field: [None if (v := getattr(x, field)) is None else round(v, 1) for x in ss]
                for field in fields
                if any(getattr(x, field) is not None for x in ss)
            }
            for name, ss in samples.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Start-up (first paint, whole process, peak RSS, usable table): the app "
        "against a bare window."
    )
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--bundle", action="store_true", help="also the bundle in dist/")
    p.add_argument(
        "--no-bare-bundle", action="store_true", help="with --bundle: skip the frozen bare window"
    )
    p.add_argument(
        "--no-table", action="store_true", help="skip the runs to a usable catalogue table"
    )
    args = p.parse_args(argv)

    app = [sys.executable, "-m", "locallama_gui"]
    subjects: dict[str, list[str]] = {
        "source_app": [*app, "--startup-probe"],
        "source_bare": [sys.executable, str(bare_script())],
    }
    if not args.no_table:
        subjects["source_app_table"] = [*app, "--startup-probe=table"]
    if args.bundle:
        exe = app_bundle()
        if not exe.is_file():
            print(f"no bundle at {exe}: run packaging/build.py first", file=sys.stderr)
            return 1
        subjects["bundle_app"] = [str(exe), "--startup-probe"]
        if not args.no_bare_bundle:
            subjects["bundle_bare"] = [str(bare_bundle())]
        if not args.no_table:
            subjects["bundle_app_table"] = [str(exe), "--startup-probe=table"]
    samples = run_bench(subjects, args.runs)
    print(json.dumps(summarise(samples, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
