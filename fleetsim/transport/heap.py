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

Even so, the one young collection left walked 20,000 or more objects (40-46 ms at 2,000
busy stations): since the count is net, the young list holds every object made and still
alive since the last collection. So a running engine freezes what it made each second
(:class:`SecondFreezer`, O(1): the list is moved, not walked) and no young collection
comes at all. That is sound only if the engine makes no cyclic garbage: frozen cycles
wait until the run ends. Censuses (``gc.DEBUG_SAVEALL``, the heap unfrozen) of the busy
profile, five of the shipped scenarios and a CSMS that refuses, drops, garbles and
ignores found six kinds made over and over, all gone now: hdrh's histogram/encoder
cycle, its counts-array and encode-buffer types (:mod:`fleetsim.metrics.histogram`), a
dropped connection's protocol, and a refused connect's or upgrade's exception
(:mod:`fleetsim.transport.connection`). Against kinds nobody has found yet, in every
:data:`SAMPLE_EVERY`-th second what was made in its first :data:`SAMPLE_WINDOW_S` is
collected young before it is frozen. A whole second's objects took 9-21 ms at 2,000 busy
stations, the one pause every hold had; a tenth of one took 1.6 ms. Every kind above was
made and dropped within one callback, so a window finds it as a whole second did, if the
engine makes it often (two samples in a row); a cycle that lives longer than the window
is missed, as one living past its second was. Garbage found then is freed; if two
samples in a row find some, the engine makes cycles steadily, stops freezing (the young
threshold holds again) and counts the fault ``gc_freeze_stopped``. Garbage made once,
such as a schema compiled at an action's first use, stays frozen until the run ends.
(Not the process's growth: a CSMS that lets calls time out grows the stations' queues,
and that is no reason to stop. Not ``gc.get_freeze_count()``: it walks the frozen list,
17-23 ms.)
"""

from __future__ import annotations

import gc

__all__ = ["SAMPLE_EVERY", "SAMPLE_WINDOW_S", "YOUNG_THRESHOLD", "SecondFreezer", "release_heap",
           "settle_heap"]

YOUNG_THRESHOLD = 20_000
SAMPLE_EVERY = 30  # seconds: in one of so many, the objects made in its first ...
SAMPLE_WINDOW_S = 0.1  # ... seconds are collected young before they are frozen
_saved: list[tuple[int, int, int]] = []  # the thresholds before the run, to restore


def settle_heap(*, collect: bool = False) -> None:
    """Freeze what is alive now; ``collect`` first (a full collection: set-up only, when
    the engine's young-generation threshold is set too)."""
    if collect:
        gc.collect()
        if not _saved:
            _saved.append(gc.get_threshold())
            _t0, t1, t2 = _saved[0]
            gc.set_threshold(YOUNG_THRESHOLD, t1, t2)
    gc.freeze()


class SecondFreezer:
    """An engine's freeze of what it made, each second, and every :data:`SAMPLE_EVERY`-th
    second a sample of it, until two samples in a row have found cyclic garbage."""

    __slots__ = ("_cycles", "on")

    def __init__(self) -> None:
        self.on = True
        self._cycles = False  # the last sample found cyclic garbage

    def second(self, n: int) -> bool:
        """Freeze what was made since the last call (``n``: the second's number); True
        if this second is sampled: call :meth:`sample` :data:`SAMPLE_WINDOW_S` later."""
        if not self.on:
            return False
        gc.freeze()
        return n % SAMPLE_EVERY == 0

    def sample(self) -> bool:
        """Collect young what was made since :meth:`second`, then freeze it; True once:
        this sample and the one before found cyclic garbage, so the freezing stops now."""
        if not self.on:
            return False
        found = gc.collect(0)
        gc.freeze()
        self.on = not (found and self._cycles)
        self._cycles = bool(found)
        return not self.on


def release_heap() -> None:
    """The run is over: its frozen objects may be collected again, at the usual pace."""
    gc.unfreeze()
    if _saved:
        gc.set_threshold(*_saved.pop())
