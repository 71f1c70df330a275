"""What the smokes on a real X display share (``xcb_smoke.py``, ``tray_smoke.py``): the
throw-away environment, the Qt warnings that fail a run, and waiting on the event loop.

Call :func:`prepare` before anything imports Qt's widgets: it sets the environment and runs
the platform library check first, as the app itself does.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable

#: Qt warnings (and worse) seen so far: any one fails the smoke.
problems: list[str] = []


def prepare(name: str) -> None:
    """A private ``LOCALLAMA_HOME`` and runtime dir, a fixed gateway token, the xcb platform;
    then the platform libraries check (exits with its message when one is missing)."""
    os.environ["LOCALLAMA_HOME"] = tempfile.mkdtemp(prefix=f"locallama-{name}-")
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="locallama-xdg-"))
    os.chmod(os.environ["XDG_RUNTIME_DIR"], 0o700)
    os.environ["LOCALLAMA_GATEWAY_TOKEN"] = f"llr-{name}-smoke-not-a-real-token"
    os.environ["QT_QPA_PLATFORM"] = "xcb"

    from locallama_gui.gui.platform_check import check_or_exit

    check_or_exit()


def on_qt_message(kind: object, _context: object, message: str) -> None:
    """A Qt message handler (``qInstallMessageHandler``) that records warnings and errors."""
    from PySide6.QtCore import QtMsgType

    if kind != QtMsgType.QtDebugMsg and kind != QtMsgType.QtInfoMsg:
        problems.append(f"Qt {kind.name}: {message}")  # type: ignore[attr-defined]


async def wait_for(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Until ``predicate()`` holds, letting the loop run; TimeoutError naming ``what``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(0.05)
