"""``locallama-gui`` (and ``python -m locallama_gui``): the main window on a qasync loop.

Start-up is ordered for a quick first paint: only Qt, the controller and a light main window
are loaded before the window shows, and Qt's own event loop paints it. Then the asyncio loop
(qasync) takes over, and the window's shortcuts and icon, the services (store, catalogue, HTTP
clients, keyring, in a worker) and the panes follow, each in its own turn of the loop; the
tray and the quick router come once the catalogue table shows its rows. A quit asked for
before the loop runs (the window closed at once, ``--startup-probe``) quits there, without
starting any of it.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

os.environ.setdefault("QT_API", "pyside6")  # qasync must pick PySide6

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from locallama_gui import __version__
from locallama_gui.gui.controller import AppController

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon

APP_NAME = "LocaLLama Router"
ORG_NAME = "LocaLLama"
#: How long start-up waits for the window's first paint before loading the rest anyway.
FIRST_PAINT_WAIT_MS = 2000
#: The tray and the quick router wait for the catalogue table's rows, at most this long...
SHELL_WAIT_MS = 3000
#: ... and come this long after the rows (or the services' failure), once the table painted.
SHELL_AFTER_ROWS_MS = 50
log = logging.getLogger("locallama_gui")


def setup_logging() -> logging.Handler | None:
    """A rotating log file in the user's log dir (never the API key: see ``redact``)."""
    import logging.handlers

    from locallama_gui.store.paths import log_dir

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
        from locallama_gui.core.redaction import redact

        return redact(super().format(record))


class StartupLog(logging.Handler):
    """Holds the log records of start-up until the log file opens, just after the window's
    first paint (the file handler and the redaction are loaded then, not before it), and then
    writes them to the file in order, as if it had been open from the start."""

    LIMIT = 1000

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self.handler: logging.Handler | None = None
        self._open = False
        root = logging.getLogger()
        self._root_level = root.level
        root.addHandler(self)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        atexit.register(self.open_log_file)  # an early exit still writes what was held

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < self.LIMIT:
            self.records.append(record)

    def open_log_file(self) -> logging.Handler | None:
        """``setup_logging()``, then the held records to it; idempotent."""
        if self._open:
            return self.handler
        self._open = True
        root = logging.getLogger()
        root.removeHandler(self)
        atexit.unregister(self.open_log_file)
        root.setLevel(self._root_level)
        self.handler = setup_logging()
        records, self.records = self.records, []
        for record in records:
            if self.handler is not None:
                if record.levelno >= self.handler.level:
                    self.handler.handle(record)
            elif logging.lastResort is not None and record.levelno >= logging.lastResort.level:
                logging.lastResort.handle(record)  # no log file: what would have gone to stderr
        return self.handler


def format_exception(exc: BaseException) -> str:
    import traceback

    from locallama_gui.core.redaction import redact

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return redact(text)


class ExceptionDialogHook:
    """Unhandled exceptions are logged and shown in a dialog; the app keeps running."""

    def __init__(self) -> None:
        self.shown: list[str] = []  # what was shown, redacted (tests read it)
        self.dialogs: list[Any] = []  # open QMessageBoxes, kept alive until closed

    def __call__(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        from locallama_gui.core.redaction import redact

        exc.__traceback__ = tb
        details = format_exception(exc)
        log.error("unhandled exception:\n%s", details)
        summary = redact(f"{exc_type.__name__}: {exc}")
        self.shown.append(summary)
        if QApplication.instance() is None or len(self.dialogs) >= 3:
            return  # never stack up a wall of dialogs
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(QMessageBox.Icon.Critical, APP_NAME, "Something went wrong.")
        box.setInformativeText(
            f"{summary}\n\nThe app keeps running; the details are in the log file."
        )
        box.setDetailedText(details)
        self.dialogs.append(box)
        box.finished.connect(lambda _result, b=box: self._closed(b))
        box.open()

    def _closed(self, box: Any) -> None:
        if box in self.dialogs:
            self.dialogs.remove(box)
        box.deleteLater()


def app_icon() -> QIcon:
    """The app's icon (SVG: reading it loads Qt's SVG icon engine, which is why the window
    gets it just after its first paint)."""
    from PySide6.QtGui import QIcon

    from locallama_gui import assets

    try:
        return QIcon(str(assets.resource_path("icon.svg")))
    except assets.MissingResource:
        return QIcon()


def set_app_icon() -> None:
    """The application's (and so every window's) icon, once."""
    app = QApplication.instance()
    if isinstance(app, QApplication) and app.windowIcon().isNull():
        app.setWindowIcon(app_icon())


def build_arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="locallama-gui", description=APP_NAME)
    p.add_argument("--version", action="version", version=f"locallama-gui {__version__}")
    p.add_argument(
        "--selftest", action="store_true", help="check the app offscreen, print a summary, exit"
    )
    # packaging/startup_bench.py: print the first paint's time (``paint``), or also the
    # catalogue table's once it shows rows (``table``), then quit (gui/startup_probe.py).
    p.add_argument(
        "--startup-probe",
        nargs="?",
        const="paint",
        choices=("paint", "table"),
        help=argparse.SUPPRESS,
    )
    # The tray and the single instance.
    p.add_argument(
        "--tray", action="store_true", help="start in the system tray only (when there is one)"
    )
    p.add_argument("--quick", action="store_true", help="open the quick router")
    return p


#: The launches read without building the parser (building it looks up the translations of
#: its help texts: a few ms before the window): no arguments, or only these flags, each once.
#: ``parse_args`` gives what the parser would (tests/gui/test_startup.py checks it).
SIMPLE_FLAGS = {
    "--selftest": ("selftest", True),
    "--startup-probe": ("startup_probe", "paint"),
    "--startup-probe=paint": ("startup_probe", "paint"),
    "--startup-probe=table": ("startup_probe", "table"),
    "--tray": ("tray", True),
    "--quick": ("quick", True),
}


def parse_args(args: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """The app's options and the arguments left for Qt."""
    simple: dict[str, object] = {
        "selftest": False,
        "startup_probe": None,
        "tray": False,
        "quick": False,
    }
    seen: set[str] = set()
    for arg in args:
        dest, value = SIMPLE_FLAGS.get(arg, ("", None))
        if not dest or dest in seen:
            return build_arg_parser().parse_known_args(list(args))
        seen.add(dest)
        simple[dest] = value
    return argparse.Namespace(**simple), []


class _Launch:
    """The start-up work that waits for the window's first paint: the window's icon and the
    services (in a worker), then the tray and the quick router (the
    :class:`~locallama_gui.gui.tray.Shell`) once the catalogue table shows its rows (what the
    user is waiting for; building the shell meanwhile would only slow the catalogue down),
    or when the services fail, or after :data:`SHELL_WAIT_MS` at the latest. With
    ``--quick`` the shell comes at once.

    Another launch's arguments that arrive before the shell exists are kept and handed to it.
    """

    def __init__(
        self, controller: Any, window: Any, guard: Any, *, tray_only: bool, quick: bool
    ) -> None:
        self.controller = controller
        self.window = window
        self.tray_only = tray_only
        self.quick = quick
        self.shell: Any = None
        self._started = False
        self._pending: list[list[str]] = []
        guard.message_received.connect(self._message)

    def start_services(self) -> None:
        if not self._started:
            self._started = True
            self.controller.start()

    def start_shell(self) -> None:
        """The tray and the quick router; shows the window unless tray-only (with a tray)."""
        if self.shell is not None:
            return
        from locallama_gui.gui.tray import Shell

        self.shell = Shell(self.controller, self.window)
        self.shell.start(tray_only=self.tray_only, quick=self.quick)
        pending, self._pending = self._pending, []
        for argv in pending:
            self.shell.handle_args(argv)

    def after_first_paint(self) -> None:
        set_app_icon()
        self.start_services()
        if self.quick:
            QTimer.singleShot(0, self.start_shell)
            return
        QTimer.singleShot(SHELL_WAIT_MS, self.start_shell)
        self.controller.services_failed.connect(self._shell_soon)
        if self.window.is_built("catalogue"):
            self._watch_catalogue("catalogue", self.window.panes["catalogue"])
        else:
            self.window.pane_built.connect(self._watch_catalogue)

    def _watch_catalogue(self, key: str, pane: Any) -> None:
        model = getattr(pane, "model", None)
        if key != "catalogue" or model is None:
            return

        def reset() -> None:
            if model.rowCount() > 0:
                self._shell_soon()

        model.modelReset.connect(reset)
        reset()

    def _shell_soon(self, *_args: Any) -> None:
        """The shell in a moment: the table (or the error) paints first."""
        if self.shell is None:
            QTimer.singleShot(SHELL_AFTER_ROWS_MS, self.start_shell)

    def _message(self, argv: list[str]) -> None:
        if self.shell is not None:
            self.shell.handle_args(argv)
        else:
            self._pending.append(argv)

    def close(self) -> None:
        if self.shell is not None:
            self.shell.close()


def show_and_wait_for_paint(window: Any, timeout_ms: int = FIRST_PAINT_WAIT_MS) -> bool:
    """Show ``window`` and run Qt's event loop until it has painted (or ``timeout_ms``).

    This comes before the asyncio loop exists: nothing in it may start a job. True when the
    window painted."""
    wait = QEventLoop()
    window.first_painted.connect(wait.quit)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(wait.quit)
    window.show()
    if not window.painted:
        timer.start(timeout_ms)
        wait.exec()
        timer.stop()
    window.first_painted.disconnect(wait.quit)
    return bool(window.painted)


def _tray_available() -> bool:
    from PySide6.QtWidgets import QSystemTrayIcon

    return QSystemTrayIcon.isSystemTrayAvailable()


def skip_httpx_cli() -> None:
    """httpx imports its command-line client (``httpx._main``) when it is imported, and that
    loads ``rich``, ``click`` and ``pygments`` wherever they are installed: tens of ms of
    imports for a CLI the app never runs. Marking it absent makes httpx fall back to its stub,
    as in the bundle (which leaves those packages out)."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args, qt_args = parse_args(argv[1:])
    skip_httpx_cli()
    if args.selftest:
        from locallama_gui.gui.selftest import run_selftest

        return run_selftest(qt_args)
    startup_log = StartupLog()  # the log file itself opens once the window has painted
    app = QApplication.instance() or QApplication([argv[0], *qt_args])
    app.setApplicationName(APP_NAME)
    app.setDesktopFileName("locallama-router")  # packaging/linux/locallama-router.desktop
    app.setOrganizationName(ORG_NAME)
    app.setApplicationVersion(__version__)
    hook = ExceptionDialogHook()
    sys.excepthook = hook

    # One instance: a second launch hands its arguments to the running app and exits.
    from locallama_gui.gui.single_instance import SingleInstance

    guard = SingleInstance()
    if not guard.start(argv[1:]):
        startup_log.open_log_file()
        return 0

    from locallama_gui.gui.main_window import MainWindow

    controller = AppController()
    window = MainWindow(controller)
    probe = None
    if args.startup_probe:
        from locallama_gui.gui import startup_probe

        probe = startup_probe.install(window, args.startup_probe)
    launch = _Launch(controller, window, guard, tray_only=args.tray, quick=args.quick)
    tray_only = args.tray and _tray_available()
    if not tray_only:
        # The window paints on Qt's own loop, before asyncio and qasync are even imported.
        show_and_wait_for_paint(window)
        if (probe is not None and probe.quit_requested) or not window.isVisible():
            # A quit asked for meanwhile (the probe's, the window closed at once) found no
            # app loop to stop. Nothing after the first paint has started yet (no data is
            # open, no job, thread, client or gateway): quit here, as a quit from the loop
            # would, instead of starting it all only to stop it again.
            if window.isVisible():
                window.close()  # quitting closes the windows: the layout is saved
            startup_log.open_log_file()
            controller.shutdown()
            launch.close()
            guard.close()
            return 0
    startup_log.open_log_file()

    import asyncio

    import qasync

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    # qasync's run_forever does not install asyncio's async-generator hooks: without them a
    # stream read up to [DONE] (httpx) is finalized at garbage collection, off the loop.
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook, finalizer=loop._asyncgen_finalizer_hook
    )
    if tray_only:
        # Only the tray icon shows: nothing waits for a paint.
        set_app_icon()
        QTimer.singleShot(0, launch.start_services)  # once the loop runs: open data in a worker
        launch.start_shell()
        # The catalogue follows the refreshes made from the tray before the window is opened.
        QTimer.singleShot(0, window, lambda: window.build_panes(["catalogue"]))
    else:
        QTimer.singleShot(0, launch.after_first_paint)

    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)
    with loop:
        loop.run_until_complete(closing.wait())
        # cancel what runs and let it unwind, then the connections; the store last
        loop.run_until_complete(controller.quit())
        controller.shutdown()
    launch.close()
    guard.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
