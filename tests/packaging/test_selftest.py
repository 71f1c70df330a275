"""``locallama-gui --selftest`` and ``--startup-probe``, run as the real command (offscreen)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtWidgets import QWidget

from locallama_gui.gui import selftest, startup_probe
from locallama_gui.gui.selftest import Check, FirstPaintProbe, exit_code, render

CHECKS = (
    "icon",
    "snapshot",
    "tokens",
    "gateway",
    "window",
    "catalogue",
    "route",
    "price",
    "keyring",
)


def run_app(args: list[str], home, code: str | None = None) -> subprocess.CompletedProcess:
    """The app as a new process: ``python -m locallama_gui ARGS``, or ``code`` (a driver that
    breaks something first, then calls main) with the same arguments."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENROUTER_API_KEY",)}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        QT_API="pyside6",
        LOCALLAMA_HOME=str(home),
        # never the developer's real keyring (it may be locked and prompt)
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    cmd = [sys.executable, "-m", "locallama_gui", *args]
    if code is not None:
        cmd = [sys.executable, "-c", code, *args]
    return subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL
    )


def summary_lines(stdout: str) -> dict[str, str]:
    """{check: "PASS"/"FAIL"} from the summary table."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("PASS", "FAIL"):
            out[parts[1]] = parts[0]
    return out


def test_selftest_passes_and_prints_one_screen(_isolated_home):
    proc = run_app(["--selftest"], _isolated_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) <= 24 and all(len(line) <= 120 for line in lines)
    assert lines[0].startswith("LocaLLama Router") and "(source;" in lines[0]
    results = summary_lines(proc.stdout)
    assert set(CHECKS) <= set(results) and set(results.values()) == {"PASS"}
    assert "keyring.backends.null.Keyring (no system keyring)" in proc.stdout
    assert "catalogue, playground, cost, settings, gateway opened and closed" in proc.stdout
    assert lines[-1].startswith("self-test passed")
    assert proc.stderr.strip() == ""  # no Qt warnings, no stray tracebacks


def test_selftest_fails_naming_the_missing_snapshot(_isolated_home):
    driver = textwrap.dedent(
        """
        import sys
        from locallama_gui import assets
        real = assets.resource_path
        def resource_path(name):
            if name == "openrouter-snapshot.json":
                raise assets.MissingResource(f"resource {name!r} is missing from this install")
            return real(name)
        assets.resource_path = resource_path
        from locallama_gui.gui.app import main
        sys.exit(main(["locallama-gui", *sys.argv[1:]]))
        """
    )
    proc = run_app(["--selftest"], _isolated_home, driver)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    results = summary_lines(proc.stdout)
    assert results["snapshot"] == "FAIL" and results["catalogue"] == "FAIL"
    assert results["icon"] == "PASS" and results["keyring"] == "PASS"
    assert "'openrouter-snapshot.json' is missing" in proc.stdout
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("self-test FAILED: ") and "snapshot" in last and "catalogue" in last


def test_selftest_fails_when_a_pane_or_keyring_metadata_is_missing(_isolated_home):
    # What a bundle without the pane modules or keyring's metadata looks like.
    driver = textwrap.dedent(
        """
        import sys
        from importlib import metadata
        from locallama_gui.gui import main_window
        from locallama_gui.gui.widgets.states import EmptyState
        real_load = main_window._load_pane
        def load_pane(module, cls_name, title, controller):
            if module == "cost":
                return EmptyState(f"{title} is not available", "not in this build")
            return real_load(module, cls_name, title, controller)
        main_window._load_pane = load_pane
        real_eps = metadata.entry_points
        def entry_points(**kw):
            return [] if kw.get("group") == "keyring.backends" else real_eps(**kw)
        metadata.entry_points = entry_points
        from locallama_gui.gui.app import main
        sys.exit(main(["locallama-gui", *sys.argv[1:]]))
        """
    )
    proc = run_app(["--selftest"], _isolated_home, driver)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    results = summary_lines(proc.stdout)
    assert results["panes"] == "FAIL" and results["keyring"] == "FAIL"
    assert results["route"] == "PASS"
    assert "Cost is missing from this build" in proc.stdout
    assert "keyring's package metadata is missing" in proc.stdout


def test_startup_probe_reports_the_first_paint_and_quits(_isolated_home, bench_script):
    proc = run_app(["--startup-probe"], _isolated_home)
    assert proc.returncode == 0, proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith(selftest.PROBE_PREFIX)]
    assert float(line.split()[1]) > 0
    assert not any(ln.startswith(startup_probe.TABLE_READY) for ln in proc.stdout.splitlines())
    assert bench_script.PROBE_PREFIX == selftest.PROBE_PREFIX == startup_probe.FIRST_PAINT
    assert bench_script.TABLE_PREFIX == startup_probe.TABLE_READY


def test_startup_probe_table_reports_the_usable_table_after_the_paint(_isolated_home):
    proc = run_app(["--startup-probe=table"], _isolated_home)
    assert proc.returncode == 0, proc.stderr
    marks = dict(ln.split() for ln in proc.stdout.splitlines() if ln.startswith("locallama-"))
    assert float(marks[startup_probe.TABLE_READY]) > float(marks[startup_probe.FIRST_PAINT])


def test_bench_measures_a_bare_window(bench_script):
    ms = bench_script.measure([sys.executable, str(bench_script.bare_script())])
    assert ms > 0
    sample = bench_script.run_once([sys.executable, str(bench_script.bare_script())])
    assert sample.process_ms >= sample.first_paint_ms > 0
    assert sample.table_ms is None
    if hasattr(os, "wait4"):
        assert sample.peak_rss_mib is not None and sample.peak_rss_mib > 10
    with pytest.raises(RuntimeError, match="reported no first paint"):
        bench_script.measure([sys.executable, "-c", "print('no window')"])
    with pytest.raises(RuntimeError, match="reported no usable table"):
        bench_script.run_once(
            [sys.executable, str(bench_script.bare_script()), "--startup-probe=table"]
        )


def test_bench_summary_gives_medians_ratios_and_targets(bench_script):
    def s(paint, process, rss, table=None):
        return bench_script.Sample(paint, process, rss, table)

    samples = {
        "source_app": [s(300, 600, 90), s(100, 200, 70), s(200, 400, 80)],
        "source_bare": [s(100, 150, 50), s(50, 100, 40), s(150, 200, 60)],
        "source_app_table": [s(210, 900, 110, 700), s(190, 800, 100, 600), s(200, 1000, 120, 800)],
        "bundle_app": [s(90, 100, None)],
    }
    result = bench_script.summarise(samples, 3)
    median = result["median"]
    assert median["first_paint_ms"] == {
        "source_app": 200.0,
        "source_bare": 100.0,
        "source_app_table": 200.0,
        "bundle_app": 90.0,
    }
    assert median["process_ms"]["source_app"] == 400.0
    assert median["peak_rss_mib"] == {
        "source_app": 80.0,
        "source_bare": 50.0,
        "source_app_table": 110.0,
    }
    assert median["table_ms"] == {"source_app_table": 700.0}
    # no bundle_bare: no bundle ratio
    assert result["app_over_bare"] == {
        "source": {"first_paint": 2.0, "process": 2.67, "peak_rss": 1.6}
    }
    assert result["meets_targets"] == {
        "source": {"first_paint": False, "process": False, "peak_rss": True}
    }
    assert result["runs_detail"]["bundle_app"] == {
        "first_paint_ms": [90.0],
        "process_ms": [100.0],
    }


def test_first_paint_probe_fires_once(qtbot):
    seen: list[float] = []
    widget = QWidget()
    qtbot.addWidget(widget)
    probe = FirstPaintProbe(widget, on_paint=seen.append)
    widget.resize(200, 100)
    widget.show()
    qtbot.waitUntil(lambda: probe.painted_at is not None)
    widget.update()
    qtbot.wait(20)
    assert seen == [probe.painted_at]


def test_summary_names_what_failed_and_sets_the_exit_code():
    ok = [Check("icon", True, "renders"), Check("route", True, "a/b (free)")]
    assert exit_code(ok) == 0
    assert render(ok, "T").splitlines() == [
        "T",
        "  PASS  icon   renders",
        "  PASS  route  a/b (free)",
        "self-test passed: 2 of 2 checks",
    ]
    bad = [*ok, Check("keyring", False, "x" * 300)]
    text = render(bad, "T")
    assert exit_code(bad) == 1
    assert text.splitlines()[-1] == "self-test FAILED: keyring (1 of 3)"
    assert all(len(line) <= 120 for line in text.splitlines())
    assert exit_code([]) == 1 and "no check ran" in render([], "T")
