"""Keep Python's cyclic garbage collector from stalling the engine's loop.

A full (generation 2) collection walks every container object the collector
tracks, and it runs whenever the objects that survived young collections grow by a
quarter of that population. With the whole fleet set up — stations, connectors,
timers, connections — that walk took 1–1.5 s at 2,000–10,000 stations (issue 18),
every few seconds to a minute, and the loop stood still meanwhile.

Objects made to last the run are set up once and never become cyclic garbage,
so after set-up they are moved to the permanent generation (:func:`gc.freeze`) and
the collector walks only what was made since. Frozen objects freed by reference
counting are still freed; only cycles among them wait until the run ends
(:func:`release_heap`), and a station's set-up objects are made once.
"""

from __future__ import annotations

import gc

__all__ = ["release_heap", "settle_heap"]


def settle_heap(*, collect: bool = False) -> None:
    """Freeze what is alive now; ``collect`` first (a full collection: set-up only)."""
    if collect:
        gc.collect()
    gc.freeze()


def release_heap() -> None:
    """The run is over: its frozen objects may be collected again."""
    gc.unfreeze()
