"""``python -m locallama_gui`` starts the app."""

from __future__ import annotations

import sys

from locallama_gui.gui.launch import main

if __name__ == "__main__":
    sys.exit(main())
