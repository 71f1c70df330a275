"""JSON for big documents that must not hold up other threads.

``json.loads`` and ``json.dumps`` are single C calls: on a multi-megabyte catalogue they keep
the interpreter lock for tens of milliseconds, and a GUI thread waiting for it stalls. These
helpers do the same work element by element (each element still decoded or encoded by the C
implementation), so the lock changes hands between elements. The results are identical to
``json.loads`` / ``json.dumps``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

_decoder = json.JSONDecoder()
_WS = " \t\n\r"


class _Walk:
    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip(self) -> None:
        text, pos, n = self.text, self.pos, len(self.text)
        while pos < n and text[pos] in _WS:
            pos += 1
        self.pos = pos

    def peek(self) -> str:
        self.skip()
        if self.pos >= len(self.text):
            raise json.JSONDecodeError("Expecting value", self.text, self.pos)
        return self.text[self.pos]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise json.JSONDecodeError(f"Expecting {char!r}", self.text, self.pos)
        self.pos += 1

    def value(self) -> Any:
        self.skip()
        obj, end = _decoder.raw_decode(self.text, self.pos)
        self.pos = end
        return obj


def _array(walk: _Walk, depth: int) -> list[Any]:
    walk.expect("[")
    out: list[Any] = []
    if walk.peek() == "]":
        walk.pos += 1
        return out
    while True:
        out.append(_node(walk, depth))
        sep = walk.peek()
        walk.pos += 1
        if sep == "]":
            return out
        if sep != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", walk.text, walk.pos - 1)


def _object(walk: _Walk, depth: int) -> dict[str, Any]:
    walk.expect("{")
    out: dict[str, Any] = {}
    if walk.peek() == "}":
        walk.pos += 1
        return out
    while True:
        if walk.peek() != '"':
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", walk.text, walk.pos
            )
        key = walk.value()
        walk.expect(":")
        out[key] = _node(walk, depth)
        sep = walk.peek()
        walk.pos += 1
        if sep == "}":
            return out
        if sep != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", walk.text, walk.pos - 1)


def _node(walk: _Walk, depth: int) -> Any:
    """Walk containers in Python down to ``depth``; below it, one C decode per value."""
    if depth > 0:
        c = walk.peek()
        if c == "[":
            return _array(walk, depth - 1)
        if c == "{":
            return _object(walk, depth - 1)
    return walk.value()


def loads(text: str | bytes, depth: int = 2) -> Any:
    """``json.loads``, decoding the elements of the top ``depth`` levels one at a time.

    Depth 2 covers both a bare array of models and ``{"data": [models]}``.
    """
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8-sig")
    elif text.startswith("\ufeff"):
        text = text[1:]
    walk = _Walk(text)
    result = _node(walk, depth)
    walk.skip()
    if walk.pos != len(text):
        raise json.JSONDecodeError("Extra data", text, walk.pos)
    return result


def dumps_list(items: Iterable[Any], **kwargs: Any) -> str:
    """``json.dumps(list(items), **kwargs)`` (compact separators only), item by item."""
    sep = kwargs.get("separators", (", ", ": "))[0]
    return "[" + sep.join(json.dumps(item, **kwargs) for item in items) + "]"
