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

    return run_app(argv)


__all__ = ["main"]
