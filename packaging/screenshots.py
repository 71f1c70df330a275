"""Render the README screenshots: every pane, light and dark, offscreen.

    python packaging/screenshots.py [OUT_DIR]     (default: resources/screenshots)

Uses a throw-away LOCALLAMA_HOME, the bundled catalogue snapshot and no network, so the
pictures are the same on every machine.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["LOCALLAMA_HOME"] = tempfile.mkdtemp(prefix="locallama-shots-")
os.environ["LOCALLAMA_GATEWAY_TOKEN"] = "llr-screenshots-not-a-real-token"

import qasync
from PySide6.QtWidgets import QApplication

from locallama_gui.core.settings import settings_from_dict
from locallama_gui.store.settings_file import save_settings

ROOT = Path(__file__).resolve().parents[1]
SIZE = (1280, 800)
PROMPT = (
    "Refactor this function to stream results instead of building a list, "
    "and add unit tests:\n\ndef load(path):\n    return [parse(line) for line in open(path)]"
)


async def _wait(predicate, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("the app did not get ready in time")
        await asyncio.sleep(0.05)


async def shoot(theme: str, out: Path) -> list[Path]:
    from locallama_gui.gui.controller import AppController
    from locallama_gui.gui.main_window import MainWindow

    save_settings(
        settings_from_dict({"appearance": {"theme": theme}, "refresh": {"interval_minutes": 0}})
    )
    controller = AppController()
    window = MainWindow(controller)
    window.resize(*SIZE)
    window.show()
    controller.start()
    await _wait(lambda: controller.ready)
    await asyncio.sleep(1.0)
    saved = []

    async def grab(name: str) -> None:
        await asyncio.sleep(0.6)
        path = out / f"{name}-{theme}.png"
        window.grab().save(str(path))
        saved.append(path)

    window.show_pane("catalogue")
    pane = window.catalogue_pane
    pane.search_edit.setText("claude")
    await asyncio.sleep(0.6)
    if pane.proxy.rowCount():
        pane.table.selectRow(0)
    await grab("catalogue")

    window.show_pane("playground")
    single = window.panes["playground"].single
    single.prompt_edit.setPlainText(PROMPT)
    single.category.setCurrentText("code")
    single.route()
    await asyncio.sleep(1.5)
    await grab("playground")

    window.show_pane("cost")
    await asyncio.sleep(1.0)
    await grab("cost")

    window.show_pane("settings")
    await grab("settings")

    window.show_pane("gateway")
    gateway = controller.gateway
    gateway.port_override = 11435  # the address the set-up snippets show
    gateway.set_enabled(True)
    await _wait(lambda: gateway.state.status in ("on", "failed"))
    await grab("gateway")
    gateway.set_enabled(False)
    await _wait(lambda: not gateway.running)

    window.close()
    controller.runner.cancel_all()
    await controller.aclose()
    controller.shutdown()
    return saved


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "resources" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([argv[0]])
    app.setQuitOnLastWindowClosed(False)  # each theme closes its window; the loop goes on
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        for theme in ("light", "dark"):
            for path in loop.run_until_complete(shoot(theme, out)):
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
