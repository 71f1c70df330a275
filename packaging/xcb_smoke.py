"""Drive the app a little on a real X display (the xcb platform, not offscreen).

    xvfb-run -a -s "-screen 0 1280x800x24" python packaging/xcb_smoke.py [SCREENSHOT.png]

Opens the main window, checks that the platform plugin is xcb, visits every pane, routes a
task in the playground, saves a screenshot of the window, and exits 1 on a Qt warning, a
Python traceback or a step that does not finish. Uses a throw-away LOCALLAMA_HOME and the
bundled catalogue snapshot: no network.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from pathlib import Path

from smoke_common import on_qt_message, prepare, problems, wait_for

prepare("xcb")

import qasync  # noqa: E402
from PySide6.QtCore import qInstallMessageHandler  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from locallama_gui.core.settings import settings_from_dict  # noqa: E402
from locallama_gui.store.settings_file import save_settings  # noqa: E402

PROMPT = "Summarise this log line in five words: 'disk /dev/sda1 is 91% full'"


async def drive(app: QApplication, shot: Path) -> None:
    from locallama_gui.gui.controller import AppController
    from locallama_gui.gui.main_window import PANES, MainWindow

    save_settings(settings_from_dict({"refresh": {"interval_minutes": 0}}))
    controller = AppController()
    window = MainWindow(controller)
    window.resize(1280, 800)
    window.show()
    controller.start()
    await wait_for(lambda: controller.ready, "the services")
    if app.platformName() != "xcb":
        problems.append(f"the platform plugin is {app.platformName()!r}, not xcb")
    for key, *_ in PANES:
        window.show_pane(key)
        await wait_for(lambda k=key: window.current_pane() == k, f"pane {key}")
        await asyncio.sleep(0.2)
    window.show_pane("playground")
    single = window.panes["playground"].single
    decisions: list[object] = []
    single.routed.connect(decisions.append)
    single.prompt_edit.setPlainText(PROMPT)
    single.route()
    await wait_for(lambda: bool(decisions), "routing a task")
    await asyncio.sleep(0.5)
    if not window.grab().save(str(shot)):
        problems.append(f"the screenshot could not be saved to {shot}")
    window.close()
    controller.runner.cancel_all()
    await controller.aclose()
    controller.shutdown()
    print(f"xcb smoke: {len(PANES)} panes, routed to {decisions[0].chosen.id}; {shot}")


def main(argv: list[str]) -> int:
    shot = Path(argv[1]) if len(argv) > 1 else Path("xcb-smoke.png")
    qInstallMessageHandler(on_qt_message)
    app = QApplication([argv[0]])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    def on_exception(_loop: object, context: dict) -> None:
        problems.append(f"asyncio: {context.get('message')} {context.get('exception')!r}")

    loop.set_exception_handler(on_exception)
    try:
        with loop:
            loop.run_until_complete(drive(app, shot))
    except Exception:
        problems.append(traceback.format_exc())
    for line in problems:
        print(f"xcb smoke: FAIL: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
