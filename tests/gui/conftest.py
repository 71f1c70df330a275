"""GUI test plumbing: a qasync loop on the shared QApplication, driven by qtbot.waitUntil."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import qasync


@pytest.fixture(scope="session")
def _session_qloop(qapp):
    """One qasync loop for the whole session (Qt objects of a closed loop can outlive it)."""
    loop = qasync.QEventLoop(qapp)
    executor = ThreadPoolExecutor(2, thread_name_prefix="test-loop")
    loop.set_default_executor(executor)
    yield loop
    executor.shutdown(wait=True)
    with contextlib.suppress(RuntimeError):
        loop.close()


@pytest.fixture
def qloop(qapp, _session_qloop):
    """The qasync loop, marked running while the test lets Qt process events
    (qtbot.wait / waitUntil), with the asyncgen hooks ``run_forever`` would install (an async
    generator left open is closed on the loop, as in the running app, not by the garbage
    collector). The mark and the hooks are removed afterwards, so tests after this one
    (pytest-asyncio's own loops) start clean."""
    loop = _session_qloop
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(loop)
    loop._QEventLoop__is_running = True
    old_hooks = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook, finalizer=loop._asyncgen_finalizer_hook
    )
    try:
        yield loop
    finally:
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in tasks:
            task.cancel()
        for _ in range(50):  # let cancelled tasks unwind
            if all(t.done() for t in tasks):
                break
            qapp.processEvents()
        sys.set_asyncgen_hooks(*old_hooks)
        loop._QEventLoop__is_running = False
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(None)
