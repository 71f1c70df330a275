"""The start-up path: what waits for the first paint, what a quit before the loop skips, the
tray's wait for the catalogue, and the arguments read without argparse."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Signal

from locallama_gui.gui import app
from locallama_gui.gui.main_window import MainWindow
from tests.gui.test_main_window import _WINDOWS, controller, snapshot  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "args",
    [
        list(combo)
        for n in range(4)
        for combo in itertools.permutations(
            ["--tray", "--quick", "--selftest", "--startup-probe"], n
        )
    ]
    + [["--startup-probe=paint"], ["--startup-probe=table", "--tray"]],
)
def test_simple_launches_read_as_the_parser_reads_them(args, monkeypatch):
    expected = app.build_arg_parser().parse_known_args(args)

    def no_parser():
        raise AssertionError("a simple launch built the parser")

    monkeypatch.setattr(app, "build_arg_parser", no_parser)
    assert app.parse_args(args) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["--tray", "--tray"],
        ["-platform", "offscreen"],
        ["--startup-probe", "table"],
        ["--style=fusion", "--quick"],
        ["somefile"],
    ],
)
def test_other_launches_go_through_the_parser(args):
    assert app.parse_args(args) == app.build_arg_parser().parse_known_args(args)


def test_the_window_tells_of_its_first_paint_before_its_own_work(qtbot, controller):  # noqa: F811
    window = MainWindow(controller)
    _WINDOWS.setdefault(id(controller), []).append(window)
    seen: list[tuple[bool, list[str]]] = []
    window.first_painted.connect(
        lambda: seen.append((window._shortcuts_installed, window.panes.built()))
    )
    window.show()
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert seen == [(False, [])]  # nothing of the window's own work came before it
    qtbot.waitUntil(lambda: window.is_built("catalogue"), timeout=5000)
    assert window._shortcuts_installed
    assert window.refresh_action.shortcut().toString() == "Ctrl+R"


class _Guard(QObject):
    message_received = Signal(list)


def test_the_tray_waits_for_the_catalogue_rows(qtbot, controller, monkeypatch):  # noqa: F811
    built: list[object] = []

    class Shell:
        def __init__(self, controller, window):
            built.append(window)

        def start(self, *, tray_only, quick):
            pass

        def handle_args(self, argv):
            built.append(argv)

        def close(self):
            pass

    import locallama_gui.gui.tray as tray

    monkeypatch.setattr(tray, "Shell", Shell)
    monkeypatch.setattr(app, "SHELL_WAIT_MS", 60_000)
    window = MainWindow(controller)
    _WINDOWS.setdefault(id(controller), []).append(window)
    guard = _Guard()
    launch = app._Launch(controller, window, guard, tray_only=False, quick=False)
    window.show()
    qtbot.waitUntil(lambda: window.painted, timeout=5000)
    launch.after_first_paint()
    guard.message_received.emit(["--quick"])  # another launch, before the shell exists
    assert launch.shell is None
    qtbot.waitUntil(lambda: window.catalogue_pane.model.rowCount() > 0, timeout=15_000)
    qtbot.waitUntil(lambda: launch.shell is not None, timeout=5000)
    assert built == [window, ["--quick"]]  # built once, then given what was kept for it


def _launch(args: list[str], home: Path) -> dict:
    """``locallama_gui.gui.launch.main`` in a new process; what it left behind, as JSON."""
    driver = textwrap.dedent(
        """
        import json, sys
        from locallama_gui.gui.launch import main
        rc = main(["locallama-gui", *sys.argv[1:]])
        print(json.dumps({
            "rc": rc,
            "modules": sorted(m for m in ("asyncio", "qasync", "httpx", "keyring",
                "sqlite3", "locallama_gui.services.facade", "locallama_gui.gui.tray",
                "locallama_gui.gui.panes.catalogue") if m in sys.modules),
        }))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENROUTER_API_KEY"}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        LOCALLAMA_HOME=str(home),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    proc = subprocess.run(
        [sys.executable, "-c", driver, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert not proc.stderr.strip(), proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_quit_before_the_loop_starts_nothing_and_keeps_the_layout(tmp_path):
    seen = _launch(["--startup-probe"], tmp_path)
    assert seen == {"rc": 0, "modules": []}  # no loop, no data, no clients, no panes
    assert list(tmp_path.rglob("window.ini"))  # the layout was saved, as on any quit
    logs = list(tmp_path.rglob("locallama-gui.log"))
    assert logs and "single instance: listening" in logs[0].read_text(encoding="utf-8")
    assert not list(tmp_path.rglob("*.sqlite3")) and not list(tmp_path.rglob("*.db"))


def test_a_quit_once_the_table_shows_closes_everything_it_opened(tmp_path):
    seen = _launch(["--startup-probe=table"], tmp_path)
    assert seen["rc"] == 0
    assert {"asyncio", "qasync", "locallama_gui.gui.panes.catalogue"} <= set(seen["modules"])
