"""The desktop app's entry point (``locallama-gui``, ``python -m locallama_gui``): on Linux,
check the system libraries Qt needs before anything imports Qt, then start the app."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    # A frozen bundle carries the libraries it was built with, where a dlopen by name would
    # not look: the check is for installs from source or a wheel.
    if not getattr(sys, "frozen", False):
        from locallama_gui.gui.platform_check import check_or_exit

        check_or_exit()
    from locallama_gui.gui.app import main as run_app

    status = run_app(argv)
    # The process ends now: what holds data was closed above (the store, the settings, the
    # window's layout; the log closes at exit). Move what is left out of the garbage
    # collector's reach, so that the interpreter's teardown does not walk every live object
    # again in each of its collections (tens of ms); objects are still freed by reference
    # counting, as they are after ``gui.memory.settle``.
    from locallama_gui.gui import memory

    memory.settle()
    return status


__all__ = ["main"]
