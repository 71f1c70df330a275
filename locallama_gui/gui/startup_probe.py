"""``--startup-probe``: the real app reports its start-up times, for
``packaging/startup_bench.py``.

Each mark is printed on its own line as ``<prefix> <time.time()>`` (flushed at once):

- ``locallama-first-paint``: the main window's first paint event;
- ``locallama-table-ready``: with ``--startup-probe=table``, the first paint of the catalogue
  table once it shows rows (the catalogue loaded, its rows prepared in a worker and set on the
  table's model, and the table page on show): the window is usable from then on.

With ``paint`` (the default) the app quits right after the first paint, with ``table`` right
after the table's. Either way it quits the ordinary way (``QApplication.quit``), so the
process's exit is what a user's quit costs. Nothing here is imported without the flag.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

#: The marks (as ``locallama_gui.gui.selftest.PROBE_PREFIX`` for the first paint).
FIRST_PAINT = "locallama-first-paint"
TABLE_READY = "locallama-table-ready"
MODES = ("paint", "table")


class StartupProbe(QObject):
    """Watches ``window`` (a :class:`~locallama_gui.gui.main_window.MainWindow`) and prints
    the marks of ``mode``; ``quit_requested`` is set once it asked the app to quit."""

    def __init__(self, window: Any, mode: str = "paint", stream: TextIO | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"startup probe mode {mode!r}: one of {', '.join(MODES)}")
        super().__init__(window)
        self.mode = mode
        self.marks: dict[str, float] = {}
        self.quit_requested = False
        self._stream = stream
        self._window = window
        self._pane: Any = None
        self._table: QWidget | None = None
        window.installEventFilter(self)
        if mode == "table":
            window.pane_built.connect(self._pane_built)
            if window.is_built("catalogue"):
                self._pane_built("catalogue", window.panes["catalogue"])

    @property
    def painted_at(self) -> float | None:
        return self.marks.get(FIRST_PAINT)

    def _mark(self, name: str) -> None:
        if name in self.marks:
            return
        self.marks[name] = time.time()
        print(f"{name} {self.marks[name]:.6f}", file=self._stream or sys.stdout, flush=True)

    def _quit(self) -> None:
        self.quit_requested = True
        # After this paint has finished; a quit asked for before the app's event loop runs is
        # seen by the app's start-up (``quit_requested``), which then does not start the rest.
        QTimer.singleShot(0, QApplication.quit)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            if watched is self._window and FIRST_PAINT not in self.marks:
                self._mark(FIRST_PAINT)
                if self.mode == "paint":
                    self._quit()
            elif watched is self._table and self._table_has_rows():
                self._mark(TABLE_READY)
                watched.removeEventFilter(self)
                self._quit()
        return False

    # --- the catalogue table ------------------------------------------------------------------

    def _pane_built(self, key: str, pane: Any) -> None:
        if key != "catalogue" or self._table is not None:
            return
        self._pane = pane
        self._table = pane.table.viewport()
        self._table.installEventFilter(self)
        # The rows arrive through the table's model; the page with the table is then shown.
        pane.proxy.modelReset.connect(self._rows_changed)
        pane.proxy.rowsInserted.connect(self._rows_changed)
        pane.stack.currentChanged.connect(self._rows_changed)
        self._rows_changed()

    def _table_has_rows(self) -> bool:
        pane = self._pane
        return (
            pane is not None
            and pane.proxy.rowCount() > 0
            and pane.table.isVisible()
            and pane.stack.currentIndex() == pane.PAGE_TABLE
        )

    def _rows_changed(self, *_args: Any) -> None:
        if self._table is not None and self._table_has_rows():
            self._table.update()  # its next paint shows the rows


def install(window: Any, mode: str = "paint") -> StartupProbe:
    """The probe for ``--startup-probe[=mode]`` on the app's main window."""
    return StartupProbe(window, mode)


__all__ = ["FIRST_PAINT", "MODES", "TABLE_READY", "StartupProbe", "install"]
