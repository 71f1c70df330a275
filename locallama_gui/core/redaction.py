"""Keep API keys out of every text the app shows, logs or stores."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"

_OPENROUTER_KEY = re.compile(r"sk-or-[A-Za-z0-9_\-.]+")  # a key, not the bare prefix in help
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")


def redact(text: object, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every given secret, ``sk-or-...`` key and bearer credential masked."""
    out = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, REDACTED)
    out = _OPENROUTER_KEY.sub(REDACTED, out)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, out)
