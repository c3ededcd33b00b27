"""`gc_paused`: Python's cycle collector off for a stretch of work that makes millions of objects, none in a cycle."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: records, rows and counts are trees freed by reference counting, and the
    collector's passes over the millions of values they hold (and over growing totals) cost time for nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
