"""Drive the tray through a real tray host on a real X display (Xvfb, the xcb platform).

    xvfb-run -a -s "-screen 0 1280x800x24" python packaging/tray_smoke.py [SCREENSHOT.png]

Starts a real XEmbed system tray (``trayer``, from Debian's ``trayer`` package) on the display,
then the app with its tray icon only. Checks that Qt sees the system tray, that the icon is
embedded in the tray host's panel (its X window's top-level ancestor is trayer's), opens the
tray menu with a real right click on the icon (``xdotool``, through the X server), clicks
"Quick route…" in it, clicks into the quick router, types a task on the X keyboard, presses
Enter, and checks the routed model shows. Saves screenshots of the whole X screen (the menu
open: SCREENSHOT-menu.png; the routed task: SCREENSHOT.png), and exits 1 on a Qt warning, a
Python traceback or a step that does not finish. Uses a throw-away LOCALLAMA_HOME and the
bundled catalogue snapshot: no network. Needs ``trayer``, ``xdotool`` and ``xwininfo`` and
``xprop`` (``x11-utils``).
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import re
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

from smoke_common import on_qt_message, prepare, problems, wait_for

prepare("tray")
# Qt prefers a StatusNotifierItem tray over D-Bus when a session bus has one: without a session
# bus it takes the XEmbed tray this smoke starts and checks.
os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)

import qasync  # noqa: E402
from PySide6.QtCore import qInstallMessageHandler  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget  # noqa: E402

from locallama_gui.core.settings import settings_from_dict  # noqa: E402
from locallama_gui.store.settings_file import save_settings  # noqa: E402

PROMPT = "Summarise this log line in five words: disk sda1 is 91 percent full"
TRAY_HOST = [
    "trayer",
    *("--edge", "bottom", "--align", "right", "--widthtype", "request", "--height", "32"),
    *("--SetDockType", "true"),
]
TRAY_HOST_CLASS = "trayer"  # WM_CLASS of trayer's panel: ("panel", "trayer")
TOOLS = ("trayer", "xdotool", "xwininfo", "xprop")
HARD_TIMEOUT = 240  # seconds: past this the process dumps its stacks and exits 1


async def x11(*args: str, timeout: float = 15.0) -> str:
    """Run an X tool (xdotool, xwininfo, xprop) in a worker thread, so Qt keeps handling the
    events it causes; its stdout, or RuntimeError when it fails."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)

    done = await asyncio.to_thread(run)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


async def top_level_ancestor(wid: int) -> int:
    """The child of the root window that holds ``wid`` (itself when it is not reparented)."""
    for _ in range(32):
        info = await x11("xwininfo", "-children", "-id", str(wid))
        root = int(re.search(r"Root window id: (0x[0-9a-f]+)", info).group(1), 16)
        parent = int(re.search(r"Parent window id: (0x[0-9a-f]+)", info).group(1), 16)
        if parent in (root, 0):
            return wid
        wid = parent
    raise RuntimeError("the tray icon's window tree is deeper than 32")


async def wm_class(wid: int) -> str:
    return (await x11("xprop", "-id", str(wid), "WM_CLASS")).strip()


def icon_widget(tray: QSystemTrayIcon) -> QWidget | None:
    """The top-level widget Qt's XEmbed tray icon lives in (QSystemTrayIconSys)."""
    for w in QApplication.topLevelWidgets():
        if w.metaObject().className() == "QSystemTrayIconSys" and w.isVisible():
            return w
    return None


async def click(x: int, y: int, button: int) -> None:
    """A real pointer move and click, through the X server (XTEST)."""
    await x11("xdotool", "mousemove", "--sync", str(x), str(y))
    await asyncio.sleep(0.15)
    await x11("xdotool", "click", str(button))


async def drive(app: QApplication, shot: Path) -> str:
    from locallama_gui.gui.controller import AppController
    from locallama_gui.gui.main_window import MainWindow
    from locallama_gui.gui.tray import Shell

    if app.platformName() != "xcb":
        problems.append(f"the platform plugin is {app.platformName()!r}, not xcb")
    await wait_for(QSystemTrayIcon.isSystemTrayAvailable, "Qt seeing the system tray", 15)

    save_settings(settings_from_dict({"refresh": {"interval_minutes": 0}}))
    controller = AppController()
    window = MainWindow(controller)
    controller.start()
    await wait_for(lambda: controller.ready, "the services", 60)
    shell = Shell(controller, window)
    shell.start(tray_only=True)
    tray = shell.tray
    try:
        if window.isVisible():
            problems.append("the window showed although the app started in the tray")
        await wait_for(lambda: tray.in_use, "the tray icon showing")

        # Embedded: the icon's X window now sits inside the tray host's panel.
        await wait_for(lambda: icon_widget(tray.tray) is not None, "the tray icon's window")
        icon_wid = int(icon_widget(tray.tray).winId())
        holder = icon_wid
        for _ in range(100):
            holder = await top_level_ancestor(icon_wid)
            if holder != icon_wid and not tray.tray.geometry().isEmpty():
                break
            await asyncio.sleep(0.1)
        host_class = await wm_class(holder)
        if holder == icon_wid or f'"{TRAY_HOST_CLASS}"' not in host_class:
            raise RuntimeError(
                f"the tray icon (window {icon_wid:#x}) is not embedded in {TRAY_HOST_CLASS}: "
                f"its top-level window is {holder:#x}, {host_class}"
            )
        geometry = tray.tray.geometry()
        if geometry.isEmpty():
            raise RuntimeError("the tray icon has an empty geometry")
        await wait_for(lambda: tray._data_job is None, "the tray's data")

        # The menu, by a real right click on the icon.
        menu = tray.menu
        reasons: list[QSystemTrayIcon.ActivationReason] = []
        tray.tray.activated.connect(reasons.append)
        centre = geometry.center()
        await click(centre.x(), centre.y(), 3)
        await wait_for(menu.isVisible, "the tray menu opening on a right click")
        await wait_for(lambda: tray._data_job is None, "the tray's data (menu open)")
        await asyncio.sleep(0.3)
        if QSystemTrayIcon.ActivationReason.Context not in reasons:
            problems.append(f"the right click reached the icon as {reasons}, not Context")
        menu_shot = shot.with_name(f"{shot.stem}-menu{shot.suffix}")
        if not QGuiApplication.primaryScreen().grabWindow(0).save(str(menu_shot)):
            problems.append(f"the screenshot could not be saved to {menu_shot}")
        entries = tray.entries()
        quick = tray.action("Quick route")
        if quick is None:
            raise RuntimeError(f"no Quick route in the tray menu: {entries}")
        item = menu.actionGeometry(quick)
        target = menu.mapToGlobal(item.center())
        await click(target.x(), target.y(), 1)
        router = shell.router
        await wait_for(router.isVisible, "the quick router opening from the menu")
        await wait_for(lambda: not menu.isVisible(), "the tray menu closing")

        # A task typed on the X keyboard, and Enter.
        await asyncio.sleep(0.3)
        edit = router.prompt_edit
        spot = edit.mapToGlobal(edit.rect().center())
        await click(spot.x(), spot.y(), 1)
        await wait_for(edit.hasFocus, "the quick router's task box taking the focus", 10)
        decisions: list[object] = []
        router.routed.connect(decisions.append)
        await x11("xdotool", "type", "--delay", "15", PROMPT, timeout=60)
        await wait_for(lambda: edit.toPlainText() == PROMPT, "the typed task arriving", 15)
        await x11("xdotool", "key", "Return")
        await wait_for(lambda: bool(decisions), "routing the task", 30)
        decision = decisions[0]
        chosen = decision.chosen
        if chosen is None:
            raise RuntimeError(f"nothing could run the task: {decision.why}")
        await wait_for(
            lambda: router.card.isVisible() and router.model_label.text() == chosen.id,
            "the routed model showing in the quick router",
            10,
        )
        await asyncio.sleep(0.5)

        # The whole X screen: the tray panel with the icon, and the quick router's answer.
        screen = QGuiApplication.primaryScreen()
        picture = screen.grabWindow(0)
        if picture.isNull() or not picture.save(str(shot)):
            problems.append(f"the screenshot could not be saved to {shot}")
        pixels = picture.toImage().copy(geometry.translated(-screen.geometry().topLeft()))
        colours = {
            pixels.pixel(x, y) for x in range(pixels.width()) for y in range(pixels.height())
        }
        if len(colours) < 3:
            problems.append(f"the tray icon's place on the screen is blank ({geometry})")
        return (
            f"tray smoke: icon {icon_wid:#x} embedded in {host_class.split('=', 1)[-1].strip()} "
            f"at {geometry.x()},{geometry.y()} {geometry.width()}x{geometry.height()}; "
            f"menu of {len(entries)} entries by a right click; routed to {chosen.id}; {shot}"
        )
    finally:
        shell.close()  # (not window.close(): with a tray, closing the window quits the app)
        controller.runner.cancel_all()
        await controller.aclose()
        controller.shutdown()


def start_tray_host(log_path: Path) -> subprocess.Popen:
    with log_path.open("w") as log:
        return subprocess.Popen(TRAY_HOST, stdout=log, stderr=subprocess.STDOUT)


def stop_tray_host(host: subprocess.Popen) -> None:
    host.terminate()
    try:
        host.wait(5)
    except subprocess.TimeoutExpired:
        host.kill()
        host.wait(5)


def main(argv: list[str]) -> int:
    shot = Path(argv[1]) if len(argv) > 1 else Path("tray-smoke.png")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing or not os.environ.get("DISPLAY"):
        print(f"tray smoke: FAIL: no DISPLAY or missing {', '.join(missing)}", file=sys.stderr)
        return 1
    faulthandler.dump_traceback_later(HARD_TIMEOUT, exit=True)
    host_log = Path(os.environ["LOCALLAMA_HOME"]) / "tray-host.log"
    host = start_tray_host(host_log)
    summary = ""
    try:
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
                summary = loop.run_until_complete(asyncio.wait_for(drive(app, shot), 180))
        except Exception:
            problems.append(traceback.format_exc())
        if host.poll() is not None:
            problems.append(f"the tray host exited early ({host.returncode})")
    finally:
        stop_tray_host(host)
        faulthandler.cancel_dump_traceback_later()
    if problems and host_log.exists() and host_log.read_text().strip():
        print(f"tray smoke: the tray host said:\n{host_log.read_text()}", file=sys.stderr)
    for line in problems:
        print(f"tray smoke: FAIL: {line}", file=sys.stderr)
    if not problems:
        print(summary)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
