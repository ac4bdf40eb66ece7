"""Keep the cyclic garbage collector off the hot path: one way, used by ``core.sync.service``.

A roster, its review and its plan are hundreds of thousands of small objects that live until the
next read or plan. Building them with collection on cost a third of plan time (every burst of
allocations starts a collection, every full one walks the whole roster again), and once built,
each full collection walks them all again: ~0.6 s at 20,000 families, landing on whatever key
the admin presses next. So a block that builds a long-lived value (:func:`long_lived`) runs with
collection off, and when the last such block ends, everything alive is moved to the permanent
generation (``gc.freeze``), which no later collection walks.

Nothing is kept alive by this: reference counting frees a roster, a review or a plan as usual when
the next one replaces it (their records hold no cycles). A block that leaves reference cycles
behind says so (``long_lived(makes_garbage=True)``: a fetch, whose closed connections are
cycles): they are collected before the freeze, or a daemon syncing for months would keep every
fetch's sockets. That collection walks only what is not frozen yet: what the blocks built since
the last freeze (~0.1 s for a 20,000-family roster), never the older roster or plan. What it
costs: a cycle that was alive when a block ended and becomes garbage later stays in memory until
the process ends; a few MB over a long wizard session.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False
_garbage = False


@contextmanager
def long_lived(makes_garbage: bool = False) -> Iterator[None]:
    """Collection off for the block (nested and concurrent blocks too); when the last one ends,
    what is alive is frozen out of later collections, and collection is on again if it was.

    ``makes_garbage``: the block leaves reference cycles behind; they are collected before the
    freeze. Also a decorator (of plain functions: an ``async def`` uses it as ``with``).
    Collection that was off before the first block stays off after it.
    """
    global _depth, _was_enabled, _garbage
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            _garbage = _garbage or makes_garbage
            if _depth == 0:
                if _garbage:
                    gc.collect()
                    _garbage = False
                gc.freeze()
                if _was_enabled:
                    gc.enable()
