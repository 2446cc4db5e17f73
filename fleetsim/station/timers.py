"""A station's timers: one heap per station, in the engine's wall seconds.

The engine asks a station only for its next wake-up (:meth:`StationTimers.next_timer`)
and runs what is due (:meth:`StationTimers.run_due`); one heap per station keeps the
engine's own scheduling to one entry per station. A *named* timer replaces the previous
timer of that name: arming it again bumps the name's generation, and an entry of an
older generation does nothing when it comes due (cancelling is the same bump), so no
entry is ever searched for and removed.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

__all__ = ["StationTimers"]


class StationTimers:
    """Mixed into the station core: ``at``, named timers, and the periodic next tick."""

    __slots__ = ("_gen", "_seq", "_timers", "now")
    now: float  # engine time of the call being handled

    def _init_timers(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._gen: dict[str, int] = {}

    def at(self, t: float, fn: Callable[..., None], *args: Any, name: str | None = None) -> None:
        """Run ``fn(t, *args)`` at engine time ``t``; a ``name`` replaces the previous timer."""
        if name is not None:
            gen = self._gen[name] = self._gen.get(name, 0) + 1
            heapq.heappush(self._timers, (t, next(self._seq), self._named, (name, gen, fn, args)))
        else:
            heapq.heappush(self._timers, (t, next(self._seq), fn, args))

    def _named(self, t: float, name: str, gen: int, fn: Callable[..., None],
               args: tuple[Any, ...]) -> None:
        if self._gen.get(name) == gen:
            fn(t, *args)

    def _cancel(self, name: str) -> None:
        self._gen[name] = self._gen.get(name, 0) + 1

    cancel_timer = _cancel

    def run_due(self, now: float) -> None:
        """Run every timer due at ``now``, in time order."""
        self.now = now
        timers = self._timers
        while timers and timers[0][0] <= now:
            t, _, fn, args = heapq.heappop(timers)
            fn(t, *args)

    def clear_timers(self) -> None:
        self._timers.clear()

    def next_timer(self) -> float:
        return self._timers[0][0] if self._timers else float("inf")

    def next_tick(self, t: float, every: float) -> float:
        """The next tick of a periodic timer that ticked at ``t``: ``t + every``, or after a
        stall (a starved loop ran it late) ``every`` from now, never a burst of missed
        ticks (heartbeats, meter samples)."""
        nxt = t + every
        return nxt if nxt > self.now else self.now + every
