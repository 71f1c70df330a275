"""A prompt box that stays responsive whatever is pasted into it.

A ``QPlainTextEdit`` lays out only the lines on show, so a long prompt of ordinary lines is
cheap; but one line is laid out whole, at every resize (a 2 MB minified JSON blob on one line
takes over a second each time), and inserting a few megabytes takes a visible moment. A text
that is too large to show (:func:`too_large_to_show`) is therefore not put into the box: a
paste or a drop of one is announced with :attr:`PromptEdit.too_large` (the whole text the box
would then hold, the paste spliced in where it went), and the pane keeps that text aside,
counted and routed as it is, with a note in the box in its place.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QMimeData, Signal
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from locallama_gui.core.tokens import estimate_tokens

#: Texts longer than this are kept out of the editor.
EDITOR_MAX_CHARS = 400_000
#: So are texts with a line longer than this (a line is laid out whole: ~30 ms per 100k).
LONG_LINE_CHARS = 100_000


def too_large_to_show(text: str) -> bool:
    """Whether ``text`` would make the editor stall (too long, or with a line too long)."""
    if len(text) > EDITOR_MAX_CHARS:
        return True
    if len(text) <= LONG_LINE_CHARS:
        return False
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        if end - start > LONG_LINE_CHARS:
            return True
        start = end + 1
    return False


_tokenizer_loading: list[Any] = []


def load_tokenizer_soon(runner: Any) -> None:
    """Load the token counter's vocabulary in a worker, once per app: a pane with a prompt
    box asks when it opens, so the first count (a paste) does not pay for it."""
    if not _tokenizer_loading:
        _tokenizer_loading.append(
            runner.run_blocking("load the tokenizer", _count_a_word, on_error=lambda _e: None)
        )


def _count_a_word() -> None:
    """Counting one word loads the vocabulary (about 0.1 s, holding the GIL, the first
    time)."""
    estimate_tokens("warm")


def held_note(name: str, chars: int, what: str) -> str:
    """The note shown in the box in place of a text kept out of it."""
    return f"{name}: {chars:,} characters, too large to show here; {what}."


class PromptEdit(QPlainTextEdit):
    """A plain-text prompt box that refuses to lay out a text too large to show: a paste
    or a drop of one emits :attr:`too_large` with the text the box would hold."""

    #: The whole text the box would hold after the paste (the paste spliced in).
    too_large = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)

    def insertFromMimeData(self, source: QMimeData) -> None:
        if source.hasText() and not self.isReadOnly():
            pasted = source.text()
            if len(pasted) > LONG_LINE_CHARS or len(pasted) + self._length() > EDITOR_MAX_CHARS:
                whole = self._spliced(pasted)
                if too_large_to_show(whole):
                    self.too_large.emit(whole)
                    return
        super().insertFromMimeData(source)

    def _length(self) -> int:
        return max(0, self.document().characterCount() - 1)

    def _spliced(self, pasted: str) -> str:
        """The text with ``pasted`` in place of the selection (or at the cursor)."""
        cursor = self.textCursor()
        # cursor positions count UTF-16 code units: slice the text in them
        current = self.toPlainText().encode("utf-16-le")
        a, b = 2 * cursor.selectionStart(), 2 * cursor.selectionEnd()
        return current[:a].decode("utf-16-le") + pasted + current[b:].decode("utf-16-le")


__all__ = [
    "EDITOR_MAX_CHARS",
    "LONG_LINE_CHARS",
    "PromptEdit",
    "held_note",
    "load_tokenizer_soon",
    "too_large_to_show",
]
