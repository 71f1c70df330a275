"""Long-lived data leaves the cyclic garbage collector's walks, and is still freed."""

from __future__ import annotations

import gc
import weakref

from locallama_gui.gui import memory


class _Thing:
    pass


def test_settle_freezes_what_exists_and_dropped_objects_are_still_freed():
    gc.unfreeze()
    try:
        thing = _Thing()
        ref = weakref.ref(thing)
        memory.settle()
        assert gc.get_freeze_count() > 0
        del thing  # no reference cycle: reference counting frees it, frozen or not
        assert ref() is None
    finally:
        gc.unfreeze()
