"""Streamed answers shown as they arrive."""

from __future__ import annotations

from PySide6.QtWidgets import QPlainTextEdit


def append_streamed(view: QPlainTextEdit, text: str) -> None:
    """Add a piece of a streamed answer at the end of ``view`` and keep it in sight."""
    cursor = view.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    cursor.insertText(text)
    view.setTextCursor(cursor)
