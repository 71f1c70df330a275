"""Keep Python's cyclic garbage collector from pausing the GUI.

A catalogue of thousands of models is tens of thousands of long-lived objects. Each full
collection of the cyclic garbage collector walks all of them while holding the interpreter
lock, on whichever thread happens to trigger it: the window froze for 100 ms and more during
a refresh. Once such data is in place, :func:`settle` moves everything that exists now out of
the collector's reach (``gc.freeze``), so later collections only walk what is new. Freezing
does not keep anything alive: objects are still freed by reference counting as soon as they
are dropped (catalogue values hold no reference cycles).
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect the young garbage (cheap), then freeze what is left as long-lived."""
    gc.collect(1)
    gc.freeze()
