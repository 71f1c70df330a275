"""Streamed answers shown as they arrive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QPlainTextEdit

from locallama_gui.core.redaction import redact_known

#: How much of the line already shown is redacted again with each piece (a key arrives in
#: pieces: the end of the line and the new piece are masked together).
STREAM_TAIL_CHARS = 160


def append_streamed(view: QPlainTextEdit, text: str) -> None:
    """Add a piece of a streamed answer at the end of ``view`` and keep it in sight.

    The answer is shown as it is, unless it holds the live API key (whole or in pieces, also
    across pieces): that is masked (see :func:`~locallama_gui.core.redaction.redact_known`)."""
    cursor = view.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    tail = view.document().lastBlock().text()[-STREAM_TAIL_CHARS:]
    joined = tail + text
    masked = redact_known(joined)
    if masked == joined:
        cursor.insertText(text)
    else:  # replace the end of the line too: the key may have begun in an earlier piece
        units = len(tail.encode("utf-16-le")) // 2  # Qt counts UTF-16 code units
        cursor.movePosition(cursor.MoveOperation.Left, cursor.MoveMode.KeepAnchor, units)
        cursor.insertText(masked)
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
