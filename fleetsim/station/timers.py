"""A station's timers: one heap per station, in the engine's wall seconds.

The engine asks a station only for its next wake-up (:meth:`StationTimers.next_timer`)
and runs what is due (:meth:`StationTimers.run_due`); one heap per station keeps the
engine's own scheduling to one entry per station. A *named* timer replaces the previous
timer of that name: arming it again bumps the name's generation, and an entry of an
older generation does nothing when it comes due (cancelling is the same bump), so no
entry is searched for on each arming.

Such stale entries wait in the heap until their time. A timer re-armed far ahead at
every meter sample (the car's "full" time) left one per sample: 150 per station after
15 s of the busy profile, and full collections walking them all took 80–140 ms
(issue 18). So the heap is compacted once stale entries outnumber the live ones: it
holds at most twice the timers pending, however long the run.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

__all__ = ["StationTimers"]


class StationTimers:
    """Mixed into the station core: ``at``, named timers, and the periodic next tick."""

    __slots__ = ("_gen", "_seq", "_stale", "_timers", "now")
    now: float  # engine time of the call being handled

    def _init_timers(self) -> None:
        self.now = 0.0
        # (t, seq, fn, args), and for a named timer (t, seq, fn, args, name, generation)
        self._timers: list[tuple[Any, ...]] = []
        self._seq = itertools.count()
        # name -> generation of its latest arming: positive while its entry is pending,
        # negated once it ran or was cancelled
        self._gen: dict[str, int] = {}
        self._stale = 0  # heap entries of replaced or cancelled named timers

    def at(self, t: float, fn: Callable[..., None], *args: Any, name: str | None = None) -> None:
        """Run ``fn(t, *args)`` at engine time ``t``; a ``name`` replaces the previous timer."""
        if name is not None:
            gen = self._retire(name) + 1
            self._gen[name] = gen
            # one flat entry: a wrapper (a bound method and a tuple more per arming) made
            # the young generation the collector walks 2x larger (issue 18)
            heapq.heappush(self._timers, (t, next(self._seq), fn, args, name, gen))
            if self._stale > 8 and 2 * self._stale > len(self._timers):
                self._compact()
        else:
            heapq.heappush(self._timers, (t, next(self._seq), fn, args))

    def pending(self, name: str) -> bool:
        """Whether the timer ``name`` is armed and has not run or been cancelled."""
        return self._gen.get(name, 0) > 0

    def _retire(self, name: str) -> int:
        """The name's pending entry, if any, goes stale; returns its generation."""
        gen = self._gen.get(name, 0)
        if gen > 0:
            self._stale += 1
        return abs(gen)

    def _compact(self) -> None:
        """Drop the stale entries (rare: once they outnumber the live ones)."""
        gens = self._gen
        self._timers = [e for e in self._timers if len(e) == 4 or gens.get(e[4]) == e[5]]
        heapq.heapify(self._timers)
        self._stale = 0

    def _cancel(self, name: str) -> None:
        self._gen[name] = -(self._retire(name) + 1)

    cancel_timer = _cancel

    def run_due(self, now: float) -> None:
        """Run every timer due at ``now``, in time order."""
        self.now = now
        timers = self._timers
        gens = self._gen
        while timers and timers[0][0] <= now:
            e = heapq.heappop(timers)
            if len(e) == 6:  # named: only its latest arming runs
                if gens.get(e[4]) != e[5]:
                    self._stale -= 1
                    continue
                gens[e[4]] = -e[5]
            e[2](e[0], *e[3])

    def clear_timers(self) -> None:
        self._timers.clear()
        self._gen = {k: -abs(g) for k, g in self._gen.items()}
        self._stale = 0

    def next_timer(self) -> float:
        return self._timers[0][0] if self._timers else float("inf")

    def next_tick(self, t: float, every: float) -> float:
        """The next tick of a periodic timer that ticked at ``t``: ``t + every``, or after a
        stall (a starved loop ran it late) ``every`` from now, never a burst of missed
        ticks (heartbeats, meter samples)."""
        nxt = t + every
        return nxt if nxt > self.now else self.now + every
