"""``locallama-gui`` (and ``python -m locallama_gui``): the main window on a qasync loop."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import os
import sys
import traceback
from collections.abc import Sequence
from types import TracebackType

os.environ.setdefault("QT_API", "pyside6")  # qasync must pick PySide6

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from locallama_gui import __version__, assets
from locallama_gui.gui.controller import AppController
from locallama_gui.sources.errors import redact
from locallama_gui.store.paths import log_dir

APP_NAME = "LocaLLama Router"
ORG_NAME = "LocaLLama"
log = logging.getLogger("locallama_gui")


def setup_logging() -> logging.Handler | None:
    """A rotating log file in the user's log dir (never the API key: see ``redact``)."""
    try:
        path = log_dir() / "locallama-gui.log"
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        return None
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    return handler


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def format_exception(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return redact(text)


class ExceptionDialogHook:
    """Unhandled exceptions are logged and shown in a dialog; the app keeps running."""

    def __init__(self) -> None:
        self.shown: list[str] = []  # what was shown, redacted (tests read it)
        self.dialogs: list[QMessageBox] = []  # open dialogs, kept alive until closed

    def __call__(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        exc.__traceback__ = tb
        details = format_exception(exc)
        log.error("unhandled exception:\n%s", details)
        summary = redact(f"{exc_type.__name__}: {exc}")
        self.shown.append(summary)
        if QApplication.instance() is None or len(self.dialogs) >= 3:
            return  # never stack up a wall of dialogs
        box = QMessageBox(QMessageBox.Icon.Critical, APP_NAME, "Something went wrong.")
        box.setInformativeText(
            f"{summary}\n\nThe app keeps running; the details are in the log file."
        )
        box.setDetailedText(details)
        self.dialogs.append(box)
        box.finished.connect(lambda _result, b=box: self._closed(b))
        box.open()

    def _closed(self, box: QMessageBox) -> None:
        if box in self.dialogs:
            self.dialogs.remove(box)
        box.deleteLater()


def app_icon() -> QIcon:
    try:
        return QIcon(str(assets.resource_path("icon.svg")))
    except assets.MissingResource:
        return QIcon()


def build_arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="locallama-gui", description=APP_NAME)
    p.add_argument("--version", action="version", version=f"locallama-gui {__version__}")
    p.add_argument(
        "--selftest", action="store_true", help="check the app offscreen, print a summary, exit"
    )
    p.add_argument("--startup-probe", action="store_true", help=argparse.SUPPRESS)
    # The tray and the single instance.
    p.add_argument(
        "--tray", action="store_true", help="start in the system tray only (when there is one)"
    )
    p.add_argument("--quick", action="store_true", help="open the quick router")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args, qt_args = build_arg_parser().parse_known_args(argv[1:])
    if args.selftest:
        from locallama_gui.gui.selftest import run_selftest

        return run_selftest(qt_args)
    setup_logging()
    app = QApplication.instance() or QApplication([argv[0], *qt_args])
    app.setApplicationName(APP_NAME)
    app.setDesktopFileName("locallama-router")  # packaging/linux/locallama-router.desktop
    app.setOrganizationName(ORG_NAME)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    hook = ExceptionDialogHook()
    sys.excepthook = hook

    # One instance: a second launch hands its arguments to the running app and exits.
    from locallama_gui.gui.single_instance import SingleInstance

    guard = SingleInstance()
    if not guard.start(argv[1:]):
        return 0

    from locallama_gui.gui.main_window import MainWindow

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    # qasync's run_forever does not install asyncio's async-generator hooks: without them a
    # stream read up to [DONE] (httpx) is finalized at garbage collection, off the loop.
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook, finalizer=loop._asyncgen_finalizer_hook
    )
    controller = AppController()
    window = MainWindow(controller)
    if args.startup_probe:  # packaging/startup_bench.py: print the first paint's time, quit
        from locallama_gui.gui.selftest import install_startup_probe

        install_startup_probe(window)
    from locallama_gui.gui.tray import Shell

    shell = Shell(controller, window)
    guard.message_received.connect(shell.handle_args)
    shell.start(tray_only=args.tray, quick=args.quick)  # shows the window unless tray-only
    QTimer.singleShot(0, controller.start)  # once the loop runs: open data in a worker

    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)
    with loop:
        loop.run_until_complete(closing.wait())
        controller.runner.cancel_all()
        loop.run_until_complete(controller.aclose())
        controller.shutdown()
    shell.close()
    guard.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
