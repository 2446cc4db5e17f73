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

The young generation is collected when allocations minus deallocations of tracked
objects pass a threshold (700 by default). A running engine replaces objects all the
time (a re-armed timer, a connection's next buffer list): that count hovers near the
threshold, every crossing collects, and what the young list holds then is every object
made since the last collection and still alive, 30,000-50,000 at 2,000 busy stations.
At 700 that was 140-170 young and 13-17 gen1 collections in 52 s, of up to 30-65 ms
each: a loop-lag p99 of 10-22 ms. At :data:`YOUNG_THRESHOLD` the count seldom gets
there (1-6 collections in 52 s), and the lag p99 read 4.4-8.3 ms, max 21-45 ms.
Garbage cycles wait for at most that many net allocations (a few MB).

Even so, the one young collection left walked 20,000 or more objects (40-46 ms at
2,000 busy stations): since the count is net, the young list holds every object made
and still alive since the last collection. So a running engine freezes what it made
each second (:func:`freeze_second`, O(1): the list is moved, not walked) and no young
collection comes at all. That is sound only if the engine makes no cyclic garbage:
frozen cycles wait until the run ends. A census of the busy and reconnect-storm
profiles (``gc.DEBUG_SAVEALL``, the heap unfrozen) found three kinds, now gone or
handled: hdrh's histogram/encoder cycle and its counts-array types
(:mod:`fleetsim.metrics.histogram`), a dropped connection's protocol
(:mod:`fleetsim.transport.connection`), and hdrh's encode-buffer types, one per
interval histogram encoded: the interval's figures are encoded right after a freeze
and collected young right after (a few hundred objects). Against cycles nobody has
found yet, the process may grow by :data:`FREEZE_GROWTH` of its memory when the fleet
settled (plus :data:`FREEZE_SLACK_MIB`); past that the engine stops freezing (the young
threshold holds again) and counts the fault ``gc_freeze_stopped``. (Memory, not
``gc.get_freeze_count()``: that walks the whole frozen list, 17-23 ms a second here.)
"""

from __future__ import annotations

import gc

import psutil

__all__ = ["FREEZE_GROWTH", "FREEZE_SLACK_MIB", "YOUNG_THRESHOLD", "freeze_second", "release_heap",
           "settle_heap"]

YOUNG_THRESHOLD = 20_000
FREEZE_GROWTH = 0.25  # of the process's memory when the fleet settled, plus the slack
FREEZE_SLACK_MIB = 64
_saved: list[tuple[int, int, int]] = []  # the thresholds before the run, to restore
_me = psutil.Process()


def settle_heap(*, collect: bool = False) -> int:
    """Freeze what is alive now; ``collect`` first (a full collection: set-up only, when
    the engine's young-generation threshold is set too). Returns the process's memory
    [bytes] now: the base of :func:`freeze_second`'s bound."""
    if collect:
        gc.collect()
        if not _saved:
            _saved.append(gc.get_threshold())
            _t0, t1, t2 = _saved[0]
            gc.set_threshold(YOUNG_THRESHOLD, t1, t2)
    gc.freeze()
    return int(_me.memory_info().rss)


def freeze_second(settled_rss: int) -> bool:
    """Freeze what was made since the last call (once a second), unless the process
    outgrew its memory when the fleet settled (``settled_rss``, from :func:`settle_heap`)
    by the bound: then False, and the caller stops freezing (cyclic garbage may be
    frozen with the rest)."""
    if _me.memory_info().rss > settled_rss * (1 + FREEZE_GROWTH) + FREEZE_SLACK_MIB * 2**20:
        return False
    gc.freeze()
    return True


def release_heap() -> None:
    """The run is over: its frozen objects may be collected again, at the usual pace."""
    gc.unfreeze()
    if _saved:
        gc.set_threshold(*_saved.pop())
