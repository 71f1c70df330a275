"""GUI responsiveness benchmark: a 2 MB prompt pasted into the cost estimator and the
playground, and routed.

    python packaging/paste_bench.py [--chars 2000000] [--runs 3] [--one-line]

The main window is started offscreen (unless ``QT_QPA_PLATFORM`` is set) with an empty
``LOCALLAMA_HOME`` of its own, on a qasync loop as the app runs it, and left to settle. Then
a prompt of mixed prose, numbers and code (``--one-line``: one line, as minified JSON) is
pasted into the Cost pane's prompt box and the playground's task box through
``insertFromMimeData``, what Ctrl+V and a drop do. A 10 ms timer on the GUI thread records
the longest wait between two of its ticks from the end of the paste call until the token
count is shown, and a second more: ``max_stall_ms``. The paste call's own time is
``paste_ms``; from the paste to the count on screen is ``count_ms``. In the playground the
pasted prompt is then routed (the Route button) and ``route_stall_ms`` is the longest wait
until the decision's tables are shown, and half a second more.

Runs are repeated (``--runs``) and the medians are printed as JSON, with the worst run's
figures (the first paste also loads the token counter, unless the pane did it when it
opened) and every run. The
figures are for people (and the README), never asserted by a test: a shared machine under
load stalls for its own reasons.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SETTLE_S = 2.5  # the first catalogue table built, as in a running app
TICK_MS = 10


def mixed_prompt(chars: int) -> str:
    """Prose, numbers and code, one line each, ``chars`` characters in all (deterministic)."""
    words = ("the", "quick", "brown", "fox", "routes", "tasks", "to", "free", "local", "models")
    parts: list[str] = []
    size = k = 0
    while size < chars:
        k += 1
        if k % 3 == 0:
            s = f"def f{k}(x, y={k}):\n    return [i * {k / 7:.6f} for i in range(x)]  # {k}\n"
        elif k % 3 == 1:
            s = " ".join(words[(k + j) % len(words)] for j in range(14)) + f". Figure {k}.\n"
        else:
            s = ", ".join(str(k * j - 500_000) for j in range(10)) + "\n"
        parts.append(s)
        size += len(s)
    return "".join(parts)[:chars]


def one_line_prompt(chars: int) -> str:
    """Minified JSON: ``chars`` characters and no line break."""
    items = (json.dumps({"id": k, "name": f"item {k}", "v": k / 7}) for k in range(10**9))
    out: list[str] = []
    size = 0
    for item in items:
        out.append(item)
        size += len(item) + 1
        if size >= chars:
            break
    return ("[" + ",".join(out) + "]")[:chars]


class GapMeter:
    """The longest wait between ticks of a GUI-thread timer, from :meth:`start`."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.max_gap_ms = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.max_gap_ms = max(self.max_gap_ms, (now - self.last) * 1000)
        self.last = now

    def start(self) -> None:
        self.max_gap_ms = 0.0
        self.last = time.perf_counter()
        self.timer.start()

    def restart_from_now(self) -> None:
        """Forget the wait so far (the paste call itself is reported apart)."""
        self.max_gap_ms = 0.0
        self.last = time.perf_counter()

    def stop(self) -> float:
        self.timer.stop()
        return self.max_gap_ms


async def _until(check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    import asyncio

    end = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > end:
            raise TimeoutError("the benchmark waited too long")
        await asyncio.sleep(0.005)


async def _paste_once(edit: Any, text: str, counted: Callable[[], bool]) -> dict[str, float]:
    import asyncio

    from PySide6.QtCore import QMimeData

    meter = GapMeter()
    meter.start()
    await asyncio.sleep(0.2)
    mime = QMimeData()
    mime.setText(text)
    t0 = time.perf_counter()
    edit.insertFromMimeData(mime)
    t1 = time.perf_counter()
    meter.restart_from_now()
    await _until(counted)
    t2 = time.perf_counter()
    await asyncio.sleep(1.0)
    return {
        "paste_ms": round((t1 - t0) * 1000, 1),
        "count_ms": round((t2 - t0) * 1000, 1),
        "max_stall_ms": round(meter.stop(), 1),
    }


async def _bench(window: Any, controller: Any, text: str, runs: int) -> dict[str, list[dict]]:
    import asyncio

    await _until(lambda: controller.ready)
    await asyncio.sleep(SETTLE_S)
    out: dict[str, list[dict]] = {"cost": [], "playground": []}

    window.show_pane("cost")
    cost = window.panes["cost"]
    for model_id in ("openai/gpt-4o", "openai/gpt-4o-mini", "cohere/north-mini-code:free"):
        cost.add_model(model_id)
    await asyncio.sleep(1.0)
    for _ in range(runs):
        cost.set_prompt_text("")
        await _until(lambda: not cost.busy)
        await asyncio.sleep(0.5)
        counts: list[int] = []
        cost.tokens_counted.connect(lambda n, _m, counts=counts: counts.append(n))
        run = await _paste_once(cost.prompt_edit, text, lambda counts=counts: bool(counts))
        run["tokens"] = counts[0]
        out["cost"].append(run)

    window.show_pane("playground")
    single = window.panes["playground"].single
    await asyncio.sleep(1.0)
    for _ in range(runs):
        single.set_prompt_text("")
        await asyncio.sleep(0.8)

        def analysed() -> bool:
            return single._analysis is not None and single._analysis[0] > 0

        run = await _paste_once(single.prompt_edit, text, analysed)
        run["tokens"] = single._analysis[0]
        routed: list[object] = []
        single.routed.connect(routed.append)
        meter = GapMeter()
        meter.start()
        single.route_button.click()
        await _until(lambda routed=routed: bool(routed))
        await asyncio.sleep(0.5)
        run["route_stall_ms"] = round(meter.stop(), 1)
        single.routed.disconnect(routed.append)
        out["playground"].append(run)
    return out


def measure(chars: int = 2_000_000, runs: int = 3, one_line: bool = False) -> dict[str, Any]:
    """Run the benchmark in this process (it makes the QApplication) and return its figures."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["QT_API"] = "pyside6"
    home = tempfile.mkdtemp(prefix="locallama-paste-bench-")
    os.environ["LOCALLAMA_HOME"] = home
    sys.path.insert(0, str(ROOT))
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())  # never the user's keyring
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["paste-bench"])
    app.setQuitOnLastWindowClosed(False)  # the loop ends when the benchmark does
    import asyncio

    import qasync

    from locallama_gui.gui.controller import AppController
    from locallama_gui.gui.main_window import MainWindow

    text = one_line_prompt(chars) if one_line else mixed_prompt(chars)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    controller = AppController()
    window = MainWindow(controller)
    window.resize(1280, 800)
    window.show()

    async def main() -> dict[str, list[dict]]:
        controller.start()
        try:
            return await _bench(window, controller, text, runs)
        finally:
            window.close()
            await controller.quit()
            controller.shutdown()

    with loop:
        results = loop.run_until_complete(main())
    summary: dict[str, Any] = {
        "prompt_chars": len(text),
        "prompt_lines": text.count("\n") + 1,
        "runs": runs,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "qpa": os.environ.get("QT_QPA_PLATFORM"),
    }
    for pane, rows in results.items():
        keys = [k for k in rows[0] if k != "tokens"]
        summary[pane] = {k: statistics.median(r[k] for r in rows) for k in keys}
        summary[pane]["worst"] = {k: max(r[k] for r in rows) for k in keys}
        summary[pane]["tokens"] = rows[0]["tokens"]
        summary[pane]["every_run"] = rows
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chars", type=int, default=2_000_000, help="prompt size (characters)")
    p.add_argument("--runs", type=int, default=3, help="pastes per pane (medians printed)")
    p.add_argument("--one-line", action="store_true", help="one long line (minified JSON)")
    args = p.parse_args(argv)
    print(json.dumps(measure(args.chars, args.runs, args.one_line), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
