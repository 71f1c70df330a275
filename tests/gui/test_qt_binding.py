"""The Qt binding itself must not corrupt the interpreter (PySide6 6.12.0 did)."""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    number = Signal(int)
    flag = Signal(bool)


def test_signal_emit_keeps_the_reference_counts_of_true_and_false(qapp):
    """PySide6 6.12.0 dropped one reference to True on every emit of a Python signal, so a
    long-running app aborted with 'bool_dealloc'. The app emits thousands of signals."""
    emitter = _Emitter()
    received: list[object] = []
    emitter.flag.connect(received.append)
    gc.collect()
    before = sys.getrefcount(True), sys.getrefcount(False)
    for k in range(500):
        emitter.number.emit(k)
        emitter.flag.emit(k % 2 == 0)
    received.clear()
    gc.collect()
    after = sys.getrefcount(True), sys.getrefcount(False)
    assert after == before
