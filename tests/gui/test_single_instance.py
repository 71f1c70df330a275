"""One instance: a second launch hands its arguments over and exits, between real processes.

Run as a script (``python -m tests.gui.test_single_instance ARGS``) this module is a tiny app
that uses the guard and reports on stdout: ``primary`` when it became the first instance (then
``received [...]`` for each hand-over; ``--exit`` ends it), ``handed-over`` when it gave its
arguments to a running one.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 20.0


def _probe_main(argv: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QTimer

    from locallama_gui.gui.single_instance import SingleInstance

    app = QCoreApplication([sys.argv[0]])
    guard = SingleInstance()
    if not guard.start(argv):
        print("handed-over", flush=True)
        return 0
    print("primary", flush=True)

    def received(args: list[str]) -> None:
        print("received " + json.dumps(args), flush=True)
        if "--exit" in args:
            QTimer.singleShot(0, app.quit)

    guard.message_received.connect(received)
    QTimer.singleShot(int(WAIT_S * 3 * 1000), app.quit)  # never outlive the test
    app.exec()
    guard.close()
    return 0


# --------------------------------------------------------------------------- helpers


class Proc:
    """A child process whose stdout lines are read in a thread (bounded waits, no hangs)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.p = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, wanted: str, timeout: float = WAIT_S) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if line.startswith(wanted):
                return line
        raise AssertionError(f"no {wanted!r} within {timeout} s; saw {self.seen}; {self.err()}")

    def wait(self, timeout: float = WAIT_S) -> int:
        return self.p.wait(timeout=timeout)

    def err(self) -> str:
        if self.p.poll() is None or self.p.stderr is None:
            return ""
        return self.p.stderr.read()[-2000:]

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=WAIT_S)
        for stream in (self.p.stdout, self.p.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def procs():
    started: list[Proc] = []
    yield started
    for p in started:
        p.kill()


@pytest.fixture
def env(_isolated_home) -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        LOCALLAMA_HOME=str(_isolated_home),
        QT_QPA_PLATFORM="offscreen",
        QT_API="pyside6",
        PYTHONPATH=str(ROOT),
    )
    e.pop("OPENROUTER_API_KEY", None)
    return e


def _probe(procs: list[Proc], env: dict[str, str], *args: str) -> Proc:
    p = Proc(["-m", "tests.gui.test_single_instance", *args], env)
    procs.append(p)
    return p


# --------------------------------------------------------------------------- tests


def test_server_name_is_per_user_and_per_home(tmp_path):
    from locallama_gui.gui.single_instance import server_name

    a = server_name(tmp_path / "a", "alice")
    assert a == server_name(tmp_path / "a", "alice")
    assert a != server_name(tmp_path / "b", "alice")
    assert a != server_name(tmp_path / "a", "bob")
    assert a.startswith("locallama-router-") and len(a) < 60


def test_messages_are_json_argv_and_anything_else_is_refused():
    from locallama_gui.gui.single_instance import decode_message, encode_message

    assert decode_message(encode_message(["--quick", "ü"]).strip()) == ["--quick", "ü"]
    assert decode_message(b"not json") is None
    assert decode_message(b'{"argv": [1]}') is None
    assert decode_message(b"[]") is None


def test_a_second_launch_hands_its_arguments_over_and_exits(procs, env):
    first = _probe(procs, env)
    first.expect("primary")
    second = _probe(procs, env, "--quick", "a task")
    assert second.wait() == 0
    second.expect("handed-over")
    line = first.expect("received ")
    assert json.loads(line.removeprefix("received ")) == ["--quick", "a task"]
    third = _probe(procs, env)  # no arguments: "show the window"
    assert third.wait() == 0
    assert json.loads(first.expect("received ").removeprefix("received ")) == []

    # Another LOCALLAMA_HOME is another app: it does not hand over to this one.
    other = _probe(procs, {**env, "LOCALLAMA_HOME": env["LOCALLAMA_HOME"] + "-other"})
    other.expect("primary")
    _probe(procs, {**env, "LOCALLAMA_HOME": env["LOCALLAMA_HOME"] + "-other"}, "--exit")
    assert other.wait() == 0

    stop = _probe(procs, env, "--exit")
    assert stop.wait() == 0
    assert first.wait() == 0


def test_a_stale_socket_left_by_a_crash_is_removed(procs, env):
    first = _probe(procs, env)
    first.expect("primary")
    first.p.send_signal(signal.SIGKILL)  # no clean-up: the socket file stays behind
    first.wait()
    if sys.platform != "win32":
        from locallama_gui.gui.single_instance import server_name

        socket_file = Path(tempfile.gettempdir()) / server_name(env["LOCALLAMA_HOME"])
        assert socket_file.exists()
    second = _probe(procs, env)
    second.expect("primary")  # nobody answered: it took over
    assert _probe(procs, env, "--exit").wait() == 0
    assert second.wait() == 0


def _log_text(home: Path) -> str:
    path = home / "logs" / "locallama-gui.log"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _wait_for_log(home: Path, text: str, proc: Proc) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if text in _log_text(home):
            return
        if proc.p.poll() is not None:
            raise AssertionError(f"the app exited: {proc.err()}")
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never logged:\n{_log_text(home)[-3000:]}")


def test_the_real_app_takes_quick_from_a_second_launch(procs, env, _isolated_home):
    config = _isolated_home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.toml").write_text(  # no network from this test
        "[endpoints]\nopenrouter_enabled = false\nollama_enabled = false\n"
        "lmstudio_enabled = false\nextra_servers_enabled = false\n\n"
        "[refresh]\ninterval_minutes = 0\n",
        encoding="utf-8",
    )
    app = Proc(["-m", "locallama_gui", "--tray"], env)
    procs.append(app)
    _wait_for_log(_isolated_home, "single instance: listening", app)

    second = Proc(["-m", "locallama_gui", "--quick"], env)
    procs.append(second)
    assert second.wait() == 0
    _wait_for_log(_isolated_home, "another launch asked for the quick router", app)
    assert "single instance: handed ['--quick'] to the running app" in _log_text(_isolated_home)
    assert app.p.poll() is None  # the first one runs on

    app.p.send_signal(signal.SIGTERM)
    app.wait()
    # it died without closing its server: the next launch takes over
    third = _probe(procs, env)
    third.expect("primary")
    assert _probe(procs, env, "--exit").wait() == 0


if __name__ == "__main__":
    sys.exit(_probe_main(sys.argv[1:]))
