"""The task runner reports back on the GUI thread, never to a Qt object deleted meanwhile."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject
from shiboken6 import delete

from locallama_gui.gui.bridge import TaskRunner


class Receiver(QObject):
    def __init__(self, name: str, log: list) -> None:
        super().__init__()
        self.name, self.log = name, log

    def done(self, value: object) -> None:
        self.log.append((self.name, value))

    def failed(self, exc: BaseException) -> None:
        self.log.append((self.name, str(exc)))


def test_a_job_reports_to_its_receiver_unless_the_receiver_was_deleted(qtbot, qloop):
    runner = TaskRunner()
    release = threading.Event()
    got: list[object] = []
    alive, gone, gone_err = Receiver("alive", got), Receiver("gone", got), Receiver("err", got)
    calls: list[object] = []
    gone_done, gone_failed = gone.done, gone_err.failed  # bound before the objects go

    def boom() -> None:
        release.wait(5)
        raise ValueError("late")

    jobs = [
        runner.run_blocking("alive", lambda: release.wait(5) and 1, on_done=alive.done),
        runner.run_blocking("gone", lambda: release.wait(5) and 2, on_done=gone_done),
        runner.run_blocking("gone error", boom, on_error=gone_failed),
        runner.run_blocking("plain", lambda: release.wait(5) and 3, on_done=calls.append),
    ]
    errors: list[object] = []
    runner.error.connect(lambda name, exc: errors.append(name))
    delete(gone)
    delete(gone_err)
    release.set()
    qtbot.waitUntil(lambda: all(j.done() for j in jobs), timeout=5000)
    qtbot.wait(50)  # the done callbacks run on the loop after the jobs end
    assert got == [("alive", 1)] and calls == [3]
    assert errors == []  # a failure meant for a deleted receiver is not reported as unhandled
    runner.shutdown()
