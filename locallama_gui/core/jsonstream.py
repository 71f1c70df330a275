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


class OversizedInt(str):
    """A JSON integer too long for ``int`` (over 4,300 digits), kept as its digits.

    ``json.loads`` raises a bare ``ValueError`` on one; :func:`safe_loads` decodes it as this
    string subclass instead, which every typed reader then rejects as "not an integer", so a
    single absurd number costs one entry, not the whole document.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<an integer of {len(self.lstrip('-'))} digits>"


def _parse_int(text: str) -> int | OversizedInt:
    return int(text) if len(text) <= 4000 else OversizedInt(text)


_decoder = json.JSONDecoder()
_safe_decoder = json.JSONDecoder(parse_int=_parse_int)


def is_int_limit_error(error: BaseException) -> bool:
    """Whether ``error`` is the interpreter's integer-length limit, not a JSON syntax error."""
    return isinstance(error, ValueError) and not isinstance(error, json.JSONDecodeError)


def safe_loads(text: str) -> Any:
    """``json.loads``, with integers over 4,000 digits as :class:`OversizedInt`."""
    return _safe_decoder.decode(text)


_WS = " \t\n\r"


class _Walk:
    __slots__ = ("decoder", "pos", "text")

    def __init__(self, text: str, decoder: json.JSONDecoder = _decoder) -> None:
        self.text = text
        self.pos = 0
        self.decoder = decoder

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
        obj, end = self.decoder.raw_decode(self.text, self.pos)
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
    try:
        return _walk_all(_Walk(text), depth)
    except ValueError as e:
        if not is_int_limit_error(e):
            raise
    # an integer over the interpreter's digit limit: decode again, keeping it as digits
    return _walk_all(_Walk(text, _safe_decoder), depth)


def _walk_all(walk: _Walk, depth: int) -> Any:
    result = _node(walk, depth)
    walk.skip()
    if walk.pos != len(walk.text):
        raise json.JSONDecodeError("Extra data", walk.text, walk.pos)
    return result


def dumps_list(items: Iterable[Any], **kwargs: Any) -> str:
    """``json.dumps(list(items), **kwargs)`` (compact separators only), item by item."""
    sep = kwargs.get("separators", (", ", ": "))[0]
    return "[" + sep.join(json.dumps(item, **kwargs) for item in items) + "]"
