"""Streamed answers shown as they arrive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QPlainTextEdit


def append_streamed(view: QPlainTextEdit, text: str) -> None:
    """Add a piece of a streamed answer at the end of ``view`` and keep it in sight."""
    cursor = view.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    cursor.insertText(text)
    view.setTextCursor(cursor)


class StreamedRun:
    """One run at a time of a routed task: started in the task runner, stoppable, and
    forgotten when it ends. The views keep what they show; this keeps the bookkeeping."""

    def __init__(self, runner: Any) -> None:
        self._runner = runner
        self.job: Any = None
        self._cancel: Any = None

    @property
    def running(self) -> bool:
        return self.job is not None

    def start(
        self,
        executor: Any,
        decision: Any,
        prompt: str,
        *,
        on_delta: Callable[[str], None],
        on_attempt: Callable[[str], None],
        on_done: Callable[[Any], None],
        on_failed: Callable[[BaseException], None],
    ) -> Any:
        import asyncio

        cancel = asyncio.Event()

        def done(result: Any) -> None:
            self._forget()
            on_done(result)

        def failed(exc: BaseException) -> None:
            self._forget()
            on_failed(exc)

        coro = executor.run(
            decision, prompt, on_delta=on_delta, on_attempt=on_attempt, cancel=cancel
        )
        self._cancel = cancel
        self.job = self._runner.run_async("run the task", coro, on_done=done, on_error=failed)
        return self.job

    def stop(self) -> bool:
        """Ask the run to stop; False when nothing runs."""
        if self._cancel is None or self.job is None:
            return False
        self._cancel.set()
        return True

    def _forget(self) -> None:
        self.job = None
        self._cancel = None
