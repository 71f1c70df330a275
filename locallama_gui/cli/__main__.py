"""``python -m locallama_gui.cli`` is the ``locallama`` command (``python -m locallama_gui``
starts the window)."""

from __future__ import annotations

import sys

from locallama_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
