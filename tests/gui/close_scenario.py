"""The app (``gui/app.main``, as ``locallama-gui`` runs it) closed while a run is in progress:
the child process of ``test_close_during_run.py``.

    python -m tests.gui.close_scenario RUN HOW

``RUN``: ``batch`` (a large batch simulation in a worker), ``benchmark`` (graded requests to
a loopback Ollama whose answers hang, on the event loop) or ``single`` (the playground's Run,
streaming from that Ollama). ``HOW``: ``close`` (the window's close button) or ``tray-quit``
(Quit in the tray menu). Once the run is under way the window is closed; the script prints
``closing <time>`` then, after ``main`` returned, one JSON line with what it saw. Everything
else the app writes to stderr is for the test to judge. A hang dumps the stacks and exits 1.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QT_API"] = "pyside6"

HANG_S = 60
POLL_MS = 20


def main(run: str, how: str) -> int:
    warnings.simplefilter("default")  # "coroutine ... was never awaited" and the like show
    faulthandler.enable()
    faulthandler.dump_traceback_later(HANG_S, exit=True)

    import keyring

    from tests.secrets.memory_keyring import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())

    from PySide6.QtCore import QTimer

    from locallama_gui.core.models import Source
    from locallama_gui.core.settings import Settings
    from locallama_gui.gui import app, controller
    from locallama_gui.services.catalogue import LoadedCatalogue, load_snapshot
    from locallama_gui.services.facade import Services
    from locallama_gui.services.live import Endpoint, LiveServices
    from locallama_gui.store import paths
    from locallama_gui.store.db import Store
    from tests.services.test_benchmark import (
        BAD,
        GOOD,
        ScriptedOllama,
        answer_good_or_bad,
        local_model,
    )

    jobs: list[object] = []  # the run's job, to see what became of it
    fake = ScriptedOllama(answer_good_or_bad)
    fake.__enter__()
    seen: dict[str, object] = {"run": run, "how": how}

    def served(model_id: str, params: float) -> object:
        m = local_model(model_id, params)
        return dataclasses.replace(m, local=dataclasses.replace(m.local, server_url=fake.url))

    def open_services() -> Services:
        snapshot = load_snapshot()
        catalogue = LoadedCatalogue(
            models=(*snapshot.models, served(GOOD, 7.0), served(BAD, 70.6)),
            skipped=(),
            origin="file",
            label="test catalogue",
        )
        store = Store(paths.database_path())
        return Services(settings=Settings(), store=store, catalogue=catalogue)

    def live(services: Services, key: str | None) -> LiveServices:
        lv = LiveServices(services, endpoints=[Endpoint(Source.OLLAMA, fake.url)], api_key=key)
        _ = lv.http
        return lv

    controller._open_services = open_services
    controller._default_live = live

    def start_run(window: object) -> object:
        pane = window.pane("playground")  # type: ignore[attr-defined]
        if run in ("batch", "batch-prepare"):
            pane.tabs.setCurrentWidget(pane.batch)
            # 2 million tasks take most of a minute to generate: closed while they are
            pane.batch.task_count.setValue(2_000_000 if run == "batch-prepare" else 40_000)
            pane.batch.compare.setChecked(True)
            jobs.append(pane.batch.start())
            if run == "batch-prepare":
                return lambda: True
            return lambda: pane.batch.progress.value() > 0
        if run == "benchmark":
            view = pane.benchmark
            pane.tabs.setCurrentWidget(view)
            tasks = [
                {
                    "id": f"hold-{k}",
                    "category": "math",
                    "kind": "exact",
                    "prompt": f"What is {k} + 1?{' HOLD' if k >= 2 else ''} End with 'Answer: N'.",
                    "answer": k + 1,
                    "max_tokens": 64,
                }
                for k in range(4)
            ]
            path = paths.data_dir() / "hold.jsonl"
            path.write_text("\n".join(json.dumps(t) for t in tasks) + "\n", encoding="utf-8")
            view.import_tasks(str(path))
            state = {"started": False}

            def imported() -> bool:
                if not state["started"]:
                    if "hold.jsonl" not in view.tasks.groups():
                        return False
                    view.tasks.set_group_checked(view.tasks.groups()[0], False)
                    view.models.set_checked([GOOD, BAD], replace=True)
                    jobs.append(view.start())
                    state["started"] = True
                return fake.stream_held.is_set()  # two answered, the third hangs

            return imported
        if run == "single":
            single = pane.single
            pane.tabs.setCurrentWidget(single)
            single.prompt_edit.setPlainText("What is 2 + 2? HOLD")
            single.local_only.setChecked(True)
            state = {"ran": False}

            def running() -> bool:
                if single.decision is None:
                    if single._route_job is None:
                        single.route()
                    return False
                if not state["ran"]:
                    jobs.append(single.run())
                    state["ran"] = jobs[-1] is not None
                return bool(fake.requests)

            return running
        raise SystemExit(f"unknown run {run!r}")

    original = app._Launch.after_first_paint

    def after_first_paint(launch: app._Launch) -> None:
        original(launch)
        window = launch.window
        phase = {"ready": None}

        def close() -> None:
            seen["closed_at"] = time.time()
            print(f"closing {seen['closed_at']:.6f}", flush=True)
            if how == "tray-quit":
                quit_action = next(
                    a for a in launch.shell.tray.menu.actions() if a.text() == "Quit"
                )
                quit_action.trigger()
            else:
                window.close()

        def poll() -> None:
            if not launch.controller.ready or launch.shell is None:
                return
            if phase["ready"] is None:
                launch.shell.tray.rebuild_menu()
                phase["ready"] = start_run(window)
                return
            if phase["ready"]():  # type: ignore[operator]
                timer.stop()
                seen["started"] = True
                QTimer.singleShot(200, close)  # well inside the run

        from PySide6.QtWidgets import QApplication

        QApplication.instance().aboutToQuit.connect(
            lambda: seen.setdefault("about_to_quit_at", time.time())
        )
        timer = QTimer(window)
        timer.setInterval(POLL_MS)
        timer.timeout.connect(poll)
        timer.start()

    app._Launch.after_first_paint = after_first_paint  # type: ignore[method-assign]
    rc = app.main(["locallama-gui"])
    seen["returned_at"] = time.time()
    seen["rc"] = rc
    job = jobs[-1] if jobs else None
    task = getattr(job, "task", None)
    seen["job"] = None if task is None else ("cancelled" if task.cancelled() else "done")
    if task is not None and task.done() and not task.cancelled():
        seen["job_error"] = repr(task.exception())
    fake._release.set()
    fake.__exit__(None, None, None)
    print(json.dumps(seen), flush=True)
    faulthandler.cancel_dump_traceback_later()
    return rc


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main(sys.argv[1], sys.argv[2]))
