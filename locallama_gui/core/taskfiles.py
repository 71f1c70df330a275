"""Reading the task and outcome files people write by hand: JSONL (one JSON object a line) and
CSV, with errors that name the file and the line, say what is wrong and what to do.

A problem is a :class:`FileFormatError` (a ``ValueError``), whose text reads
``tasks.jsonl line 7: not valid JSON (Expecting ',' delimiter at column 31); write one JSON
object per line, such as {"prompt": "..."}``. Its parts are kept (``source``, ``line``,
``problem``, ``hint``) so a window can show them and a command line can exit with its
usage status. The loaders of :mod:`~locallama_gui.core.simulation`,
:mod:`~locallama_gui.core.evaluation` and :mod:`~locallama_gui.core.benchmarks` raise
subclasses of it, alongside their own error types.

In every JSONL file blank lines and lines starting with ``#`` are skipped (comments), and a
UTF-8 byte order mark is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "FileFormatError",
    "Where",
    "decode_text",
    "json_kind",
    "jsonl_lines",
    "parse_object",
]


@dataclass(frozen=True, slots=True)
class Where:
    """A place in a file: ``tasks.jsonl line 7`` (``unit`` is ``"row"`` for a CSV row), and
    optionally what in that line (``detail``: ``model gpt-4o``)."""

    source: str = ""
    line: int | None = None
    unit: str = "line"
    detail: str = ""

    def __str__(self) -> str:
        at = f"{self.unit} {self.line}" if self.line is not None else ""
        return " ".join(p for p in (self.source, at) if p) or "the file"

    def about(self, detail: str) -> Where:
        """The same place, about ``detail`` (a field, a model of the line)."""
        return replace(self, detail=detail)


class FileFormatError(ValueError):
    """A file, or one line of it, that cannot be used: where, what is wrong, what to do."""

    def __init__(self, where: Where, problem: str, hint: str = "") -> None:
        self.where = where
        self.problem = f"{where.detail}: {problem}" if where.detail else problem
        self.hint = hint
        super().__init__(self.message)

    @property
    def source(self) -> str:
        return self.where.source

    @property
    def line(self) -> int | None:
        return self.where.line

    @property
    def message(self) -> str:
        text = f"{self.where}: {self.problem}"
        return f"{text}; {self.hint}" if self.hint else text

    def __str__(self) -> str:
        return self.message


def decode_text(data: bytes, source: str, error: type[FileFormatError] = FileFormatError) -> str:
    """``data`` as UTF-8 text (a byte order mark is dropped), or ``error`` naming the line of
    the first byte that is not UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise error(
            Where(source),
            "the file is UTF-16 text",
            "save it as UTF-8 (in Notepad: Save as, Encoding UTF-8)",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise error(
            Where(source, line),
            f"not UTF-8 text (byte 0x{data[e.start]:02x})",
            "save the file as UTF-8",
        ) from None


def jsonl_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line that holds data: blank lines and ``#`` comments
    are left out."""
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield n, line


def json_kind(value: Any) -> str:
    """What a JSON value is, as a person would say it."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return "an object" if isinstance(value, dict) else type(value).__name__


def parse_object(
    line: str,
    where: Where,
    example: str,
    error: type[FileFormatError] = FileFormatError,
) -> dict[str, Any]:
    """The JSON object on ``line``, or ``error`` saying what is wrong with it and how a line
    should look (``example``)."""
    one_per_line = f"write one JSON object per line, such as {example}"
    try:
        value = json.loads(line)
    except json.JSONDecodeError as e:
        stripped = line.strip().rstrip(",")
        if stripped in ("{", "[", "}", "]"):
            hint = "an object spread over several lines is not JSONL: put each on one line"
        elif line[e.pos : e.pos + 1] in ("}", "]") and line[: e.pos].rstrip().endswith(","):
            hint = "JSON allows no comma before a closing } or ]: remove it"
        elif e.msg.startswith("Expecting property name") and "'" in line:
            hint = "JSON puts names and text in double quotes, not single ones"
        elif e.msg == "Extra data":
            hint = "this line holds more than one value: " + one_per_line
        else:
            hint = one_per_line
        raise error(where, f"not valid JSON ({e.msg} at column {e.colno})", hint) from None
    except RecursionError:
        raise error(where, "not valid JSON (nested too deeply)", one_per_line) from None
    if not isinstance(value, dict):
        hint = one_per_line
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            hint = "a list of objects is not JSONL: " + hint
        raise error(where, f"expected a JSON object, got {json_kind(value)}", hint)
    return value
