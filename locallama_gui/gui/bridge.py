"""The thin bridge between Qt and the services: blocking calls run in a thread pool,
coroutines on the qasync loop, and results come back on the GUI thread.

Nothing here blocks the GUI thread. Every job can be cancelled; a job's callbacks never run
after it was cancelled, so a pane that was closed or re-queried never sees stale results.

``asyncio`` is imported when the first job starts, not with this module: the app's window
paints before the event loop's modules are loaded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from shiboken6 import isValid

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)


class CancelToken:
    """Shared between the GUI and a worker: the worker polls ``cancelled``."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def __call__(self) -> bool:  # usable as a ``cancelled()`` callback
        return self._event.is_set()


class Job:
    """A running blocking call or coroutine."""

    def __init__(self, name: str, task: asyncio.Task, token: CancelToken) -> None:
        self.name = name
        self.task = task
        self.token = token

    def cancel(self) -> None:
        self.token.cancel()
        self.task.cancel()

    def done(self) -> bool:
        return self.task.done()


def _owner_gone(callback: Callable[..., Any]) -> bool:
    """Whether ``callback`` is a method of a Qt object deleted meanwhile (a pane or the tray
    closed while its job ran): it is not called then, as Qt drops a deleted receiver's slots."""
    owner = getattr(callback, "__self__", None)
    return isinstance(owner, QObject) and not isValid(owner)


class TaskRunner(QObject):
    """Runs work off the GUI thread and reports back on it.

    ``error`` is emitted for a failure that no ``on_error`` handled (the app shows it).
    ``busy_changed`` tells the status bar whether anything is running.
    """

    error = Signal(str, object)  # job name, exception
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, max_workers: int = 4) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="locallama-worker")
        self._jobs: set[Job] = set()
        self._background: set[Job] = set()  # long-lived watchers: not "busy"
        self._closed = False
        self._refusing = False  # quitting: no new job starts

    @property
    def executor(self) -> ThreadPoolExecutor:
        return self._executor

    @property
    def busy(self) -> bool:
        return bool(self._jobs - self._background)

    def _loop(self) -> asyncio.AbstractEventLoop:
        import asyncio

        return asyncio.get_event_loop()

    def run_blocking(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        pass_token: bool = False,
    ) -> Job:
        """Run ``fn(*args)`` (with ``cancelled=token`` when ``pass_token``) in the pool."""
        token = CancelToken()
        loop = self._loop()

        async def work() -> Any:
            if pass_token:
                return await loop.run_in_executor(
                    self._executor, lambda: fn(*args, cancelled=token)
                )
            return await loop.run_in_executor(self._executor, lambda: fn(*args))

        return self._start(name, work(), token, on_done, on_error)

    def run_async(
        self,
        name: str,
        coro: Awaitable[Any],
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        background: bool = False,
    ) -> Job:
        """Run a coroutine on the loop. A ``background`` job (a periodic refresh, a watcher)
        does not make the app look busy."""
        return self._start(name, coro, CancelToken(), on_done, on_error, background)

    def _start(
        self,
        name: str,
        coro: Awaitable[Any],
        token: CancelToken,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None,
        background: bool = False,
    ) -> Job:
        import asyncio

        if self._closed or self._refusing:
            # the app is closing: nothing new starts, and nothing is reported
            if asyncio.iscoroutine(coro):
                coro.close()
            token.cancel()
            done: asyncio.Future[Any] = self._loop().create_future()
            done.cancel()
            return Job(name, done, token)  # type: ignore[arg-type]
        task = asyncio.ensure_future(coro, loop=self._loop())
        job = Job(name, task, token)
        was_busy = self.busy
        self._jobs.add(job)
        if background:
            self._background.add(job)
        elif not was_busy:
            self.busy_changed.emit(True)

        def finished(t: asyncio.Task) -> None:
            was = self.busy
            self._jobs.discard(job)
            self._background.discard(job)
            if was and not self.busy:
                self.busy_changed.emit(False)
            if t.cancelled() or token.cancelled:
                return
            exc = t.exception()
            if exc is not None:
                if on_error is not None:
                    if not _owner_gone(on_error):
                        on_error(exc)
                else:
                    log.error("%s failed: %s", name, exc, exc_info=exc)
                    self.error.emit(name, exc)
                return
            if on_done is not None and not _owner_gone(on_done):
                on_done(t.result())

        task.add_done_callback(finished)
        return job

    def cancel_all(self) -> None:
        for job in list(self._jobs):
            job.cancel()

    def refuse_new_jobs(self) -> None:
        """Quitting: from now on a job asked for is not started (nor reported)."""
        self._refusing = True

    async def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the jobs (cancelled ones included) to finish
        unwinding, so that none is left pending when the loop closes. A blocking call that
        was cancelled is not waited for: its thread ends when the call returns. True when
        every job is done."""
        import asyncio

        pending = [j.task for j in self._jobs if not j.task.done()]
        if pending:
            _done, left = await asyncio.wait(pending, timeout=timeout)
            if left:
                log.info("%d job(s) still unwinding at quit: %s", len(left), self._names(left))
                return False
        return True

    def _names(self, tasks: set[Any]) -> str:
        return ", ".join(sorted(j.name for j in self._jobs if j.task in tasks))

    def shutdown(self) -> None:
        """Idempotent: cancel what runs, and stop the pool without waiting on stuck calls."""
        if self._closed:
            return
        self._closed = True
        self.cancel_all()
        self._executor.shutdown(wait=False, cancel_futures=True)
